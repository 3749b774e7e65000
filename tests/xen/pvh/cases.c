/* SPDX-License-Identifier: MIT */
/*
 * Guest side of the Xen end-to-end cases.  The dom0 side is either the
 * small test server tests/xen/xen_ioserv.c or hcvsockd.  Each case prints
 * "HCVS-G END case=NAME result=PASS|FAIL" last; the harness asserts on the
 * lines before it (counts, CRCs) as well.
 */
#include "pvh.h"

/* The test device (xen_testdev.h), not the hcvsock ABI, at this port. */
static uint16_t ios_base;

/* Probe until the server answers; all-ones means "nobody there yet". */
static int
ios_probe(uint32_t timeout_ms)
{
	uint32_t start = ticks(), v, ones = 0;

	for (;;) {
		v = hcvg_inl(ios_base + IOS_MAGIC);
		if (v == IOS_MAGIC_VAL)
			break;
		if (v != 0xffffffffu) {
			say("probe: unexpected 0x%08x", v);
			return -1;
		}
		ones++;
		if ((ticks() - start) * 10 >= timeout_ms) {
			say("probe: no backend after %u ms", timeout_ms);
			return -1;
		}
		sleep_ms(20);
	}
	say("probe ok all_ones=%u", ones);
	return (int)ones;
}

struct echo_res {
	uint32_t	n, errors, crc;
};

static void
ios_echo(uint32_t seed, uint32_t n, struct echo_res *r)
{
	uint32_t i, x = seed;

	r->n = n;
	r->errors = 0;
	r->crc = 0;
	for (i = 0; i < n; i++) {
		uint32_t got;

		x = x * 1103515245u + 12345u;
		hcvg_outl(ios_base + IOS_DATA, x);
		got = hcvg_inl(ios_base + IOS_DATA);
		if (got != xtd_xform(x))
			r->errors++;
		r->crc = xtd_crc32_update(r->crc, &got, sizeof(got));
		if (i == 50)
			say("echo running apic=%u", apic_id());
	}
}

static int
case_echo(void)
{
	struct echo_res r;
	uint32_t n = cmdline_u32("n", 200);
	uint16_t w;
	uint8_t b;

	if (ios_probe(cmdline_u32("probe_ms", 30000)) < 0)
		return -1;
	ios_echo(cmdline_u32("seed", 1), n, &r);
	/* Narrow accesses: the server sees sizes 1 and 2 and answers them. */
	hcvg_outl(ios_base + IOS_DATA, 0x01020304u);
	w = hcvg_inw(ios_base + IOS_DATA);
	b = hcvg_inb(ios_base + IOS_DATA);
	if (w != (uint16_t)xtd_xform(0x01020304u) ||
	    b != (uint8_t)xtd_xform(0x01020304u))
		r.errors++;
	say("echo vcpu=0 n=%u errors=%u crc=%08x", r.n, r.errors, r.crc);
	return r.errors == 0 ? 0 : -1;
}

static bool
count_reached(void *arg)
{
	const uint32_t *want = arg;

	return *irq_counter(VEC_MSI) >= *want;
}

static int
case_msi(void)
{
	uint32_t i, n = cmdline_u32("n", 5), want;

	if (ios_probe(30000) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		want = *irq_counter(VEC_MSI) + 1;
		hcvg_outl(ios_base + IOS_MSI, (apic_id() << 8) | VEC_MSI);
		if (!wait_until(count_reached, &want, 5000)) {
			say("msi %u not delivered", i);
			break;
		}
	}
	say("msi apic=%u got=%u want=%u", apic_id(), *irq_counter(VEC_MSI), n);
	return *irq_counter(VEC_MSI) == n ? 0 : -1;
}

static bool
evt_reached(void *arg)
{
	const uint32_t *want = arg;

	return *xen_evtchn_count() >= *want;
}

static int
case_evtchn(void)
{
	uint32_t i, n = cmdline_u32("n", 5), port, want;

	if (ios_probe(30000) < 0)
		return -1;
	if (xen_evtchn_setup(0, &port) != 0)
		return -1;
	say("evtchn port=%u", port);
	for (i = 0; i < n; i++) {
		want = *xen_evtchn_count() + 1;
		hcvg_outl(ios_base + IOS_EVTCHN, port);
		if (!wait_until(evt_reached, &want, 5000)) {
			say("evtchn %u not delivered", i);
			break;
		}
	}
	say("evtchn port=%u got=%u want=%u", port, *xen_evtchn_count(), n);
	return *xen_evtchn_count() == n ? 0 : -1;
}

static volatile uint32_t ap_done;
static struct echo_res ap_res;

static void
ap_echo(void)
{
	irq_init_ap();
	ios_echo(cmdline_u32("seed", 1) + 1000, cmdline_u32("n", 200), &ap_res);
	say("echo vcpu=1 apic=%u n=%u errors=%u crc=%08x", apic_id(), ap_res.n,
	    ap_res.errors, ap_res.crc);
	__atomic_store_n(&ap_done, 1, __ATOMIC_RELEASE);
}

static bool
ap_finished(void *arg)
{
	(void)arg;
	return __atomic_load_n(&ap_done, __ATOMIC_ACQUIRE) != 0;
}

static int
case_smp(void)
{
	struct echo_res r;

	if (ios_probe(30000) < 0)
		return -1;
	if (xen_vcpu_up(1, ap_echo) != 0)
		return -1;
	ios_echo(cmdline_u32("seed", 1), cmdline_u32("n", 200), &r);
	say("echo vcpu=0 n=%u errors=%u crc=%08x", r.n, r.errors, r.crc);
	if (!wait_until(ap_finished, NULL, 60000)) {
		say("vcpu 1 did not finish");
		return -1;
	}
	return r.errors == 0 && ap_res.errors == 0 ? 0 : -1;
}

/*
 * Echo until the server goes away (SIGTERM in dom0): the guest must not
 * hang, and must then see the window unclaimed (all-ones).
 */
static int
case_gone(void)
{
	uint32_t i, x = 77, good = 0, magic;

	if (ios_probe(30000) < 0)
		return -1;
	for (i = 0; i < 100000000u; i++) {
		x = x * 1103515245u + 12345u;
		hcvg_outl(ios_base + IOS_DATA, x);
		if (hcvg_inl(ios_base + IOS_DATA) != xtd_xform(x))
			break;
		good++;
		if (good == 50)
			say("echo running");
	}
	magic = hcvg_inl(ios_base + IOS_MAGIC);
	say("gone after good=%u magic=0x%08x", good, magic);
	return good >= 50 && magic == 0xffffffffu ? 0 : -1;
}

/*
 * The emulated machine, not hcvsock: Linux's early PIT calibration reads
 * port 0x42 (nothing there in a PVH domain: all-ones) a hundred thousand
 * times with rdtsc in between.  Do the same, "n" reads, and report.
 */
static int
case_pio_loop(void)
{
	uint32_t n = cmdline_u32("n", 100000), port = cmdline_u32("pio", 0x42);
	uint32_t i, other = 0, lo, hi;

	for (i = 0; i < n; i++) {
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		if (hcvg_inb((uint16_t)port) != 0xff)
			other++;
		if ((i & 0xffff) == 0)
			say("pio-loop i=%u tsc=%u", i, lo);
	}
	say("pio-loop done n=%u port=0x%x not_all_ones=%u", n, port, other);
	return 0;
}

static const struct pvh_case ioserv_cases[] = {
	{ "pio-loop", case_pio_loop },
	{ "ioserv-echo", case_echo },
	{ "ioserv-msi", case_msi },
	{ "ioserv-evtchn", case_evtchn },
	{ "ioserv-smp", case_smp },
	{ "ioserv-gone", case_gone },
};

int	hcvs_vsock_cases(const char *name);
int	pvh_test_main(void);

int
pvh_test_main(void)
{
	const char *name = cmdline_str("case", "none");
	char cname[32];
	size_t i;
	int rc;

	for (i = 0; name[i] != '\0' && i < sizeof(cname) - 1; i++)
		cname[i] = name[i];
	cname[i] = '\0';
	ios_base = (uint16_t)cmdline_u32("port", 0x5000);
	say("START case=%s apic=%u", cname, apic_id());
	if (!pvh_case_run(ioserv_cases, PVH_NCASES(ioserv_cases), cname, &rc))
		rc = hcvs_vsock_cases(cname);
	if (memcmp(cname, "ioserv-", 7) == 0 && !str_eq(cname, "ioserv-gone"))
		hcvg_outl(ios_base + IOS_MAGIC, 1);	/* tell the test server to go */
	say("END case=%s result=%s", cname, rc == 0 ? "PASS" : "FAIL");
	return rc;
}
