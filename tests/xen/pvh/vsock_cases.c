/* SPDX-License-Identifier: MIT */
/*
 * hcvsock cases of the PVH test guest: the freestanding guest driver
 * (guest/) talking to hcvsockd in dom0 over the real Xen IOREQ path.
 * Parameters come from the command line: port= (register window base),
 * irq=none|msi|evtchn, sync=0|1 (doorbell), ekick=1 (with irq=evtchn:
 * ring by EVTCHNOP_send, and fail unless that was negotiated and used;
 * with ekick_expect=0, fail if it was),
 * vport= (vsock port), sink= (perf: a sink's vsock port), bytes=, seed=.  Transfers use the same seeded stream as tests/xen/echo_peer.c;
 * every line with byte counts carries the CRC-32 the harness compares.
 */
#include "pvh.h"

#ifdef HCVS_HAVE_GUEST_DRIVER
#include "hcvsock_guest.h"
#include "hcvsock_guest_x86.h"
#include "hcvsock_guest_xen.h"

#define NCONNS		4
/*
 * Ring geometry: 8 + 8 slots of 4 KiB unless the command line says
 * tx_slots=, rx_slots=, slot_size= (hv-perf-ring: the Linux module's
 * default TX ring, 32 slots of 16 KiB payload).  The mailbox has room
 * for the largest geometry accepted.
 */
#define TX_SLOTS	8
#define RX_SLOTS	8
#define SLOT_SIZE	4096
#define MAX_SLOTS	32
#define MAX_SLOT_SIZE	(HCVS_SLOT_HDR + 16384)

static uint8_t mbox[HCVS_MBOX_HDR_SIZE + 2 * MAX_SLOTS * MAX_SLOT_SIZE]
    __attribute__((aligned(4096)));
static struct hcvg_conn conns[NCONNS];
static struct hcvg dev;
static struct hcvg_platform plat;
static struct hcvg_x86 x86;
static bool use_irq;
static uint32_t kick_port;	/* irq=evtchn: the notification port */

/* The driver's evtchn_send: the header's hypercall through our page. */
static int
pvh_evtchn_send(void *ctx, uint32_t port)
{
	(void)ctx;
	return hcvg_xen_evtchn_send(xen_hypercall_page(), port) == 0 ? 0 : -1;
}

static inline uint64_t
rdtsc64(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* How often, and how long by TSC, the guest waited (perf's breakdown). */
static uint32_t waits;
static uint64_t waited_cyc;

/* With interrupts the driver's waits sleep until one arrives (or a tick). */
static void
guest_wait(void *ctx)
{
	uint64_t t0 = rdtsc64();

	(void)ctx;
	if (use_irq)
		irq_wait();
	else
		cpu_relax();
	waits++;
	waited_cyc += rdtsc64() - t0;
}

static uint32_t
stream_fill(uint32_t *state, uint8_t *buf, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++) {
		*state = *state * 1103515245u + 12345u;
		buf[i] = (uint8_t)(*state >> 16);
	}
	return len;
}

static void
count_irq(unsigned vec)
{
	(void)vec;
}

/* Probe until a backend answers or probe_ms passes; set the device up. */
static int
dev_up_with(uint32_t sync, uint32_t ekick)
{
	struct hcvg_cfg cfg;
	char irq[16];
	const char *v = cmdline_str("irq", "none");
	uint32_t version = 0, start = ticks(), tries = 0;
	uint32_t probe_ms;
	size_t k;
	int rc;

	/* cmdline_str's buffer is reused by the next lookup: keep a copy. */
	for (k = 0; v[k] != '\0' && k < sizeof(irq) - 1; k++)
		irq[k] = v[k];
	irq[k] = '\0';
	probe_ms = cmdline_u32("probe_ms", 20000);
	/* mmio=ADDR: the same window as MMIO (paging is off: physical). */
	x86.base = cmdline_u32("mmio", 0);
	if (x86.base != 0) {
		hcvg_x86_platform(&plat, &x86, 1);
	} else {
		x86.base = cmdline_u32("port", 0x5a0);
		hcvg_x86_platform(&plat, &x86, 0);
	}
	plat.wait = guest_wait;
	for (;;) {
		rc = hcvg_probe(&plat, &version);
		if (rc == 0)
			break;
		if (rc != -HCVG_ENODEV || (ticks() - start) * 10 >= probe_ms) {
			say("probe failed rc=%d after %u tries", rc, tries);
			return -1;
		}
		tries++;
		sleep_ms(50);
	}
	say("probe ok version=0x%08x no_backend_reads=%u", version, tries);

	memset(&cfg, 0, sizeof(cfg));
	cfg.plat = &plat;
	cfg.tx_slots = cmdline_u32("tx_slots", TX_SLOTS);
	cfg.rx_slots = cmdline_u32("rx_slots", RX_SLOTS);
	cfg.slot_size = cmdline_u32("slot_size", SLOT_SIZE);
	if (cfg.tx_slots > MAX_SLOTS || cfg.rx_slots > MAX_SLOTS ||
	    cfg.slot_size > MAX_SLOT_SIZE) {
		say("ring geometry %u/%u/%u too large for the mailbox",
		    cfg.tx_slots, cfg.rx_slots, cfg.slot_size);
		return -1;
	}
	cfg.mem = mbox;
	cfg.mem_size = hcvg_mem_needed(cfg.tx_slots, cfg.rx_slots,
	    cfg.slot_size);
	cfg.conns = conns;
	cfg.nconns = NCONNS;
	cfg.sync_doorbell = (int)sync;
	cfg.wait_limit = cmdline_u32("wait_limit", 400000);
	if (str_eq(irq, "msi")) {
		irq_set_handler(VEC_MSI, count_irq);
		cfg.irq_mode = HCVS_IRQ_MSI;
		cfg.irq_args[0] = HCVS_MSI_ADDR_BASE | (apic_id() << 12);
		cfg.irq_args[1] = 0;
		cfg.irq_args[2] = VEC_MSI;
		use_irq = true;
	} else if (str_eq(irq, "evtchn")) {
		uint32_t port, remote;

		rc = hcvg_backend_domain(&plat, &remote);
		say("backend domain rc=%d dom=%u", rc, remote);
		if (rc != 0 || xen_evtchn_setup(remote, &port) != 0)
			return -1;
		cfg.irq_mode = HCVS_IRQ_EVTCHN;
		cfg.irq_args[0] = port;
		cfg.evtchn_kick = (int)ekick;
		kick_port = port;
		if (cfg.evtchn_kick)
			plat.evtchn_send = pvh_evtchn_send;
		use_irq = true;
	}
	rc = hcvg_init(&dev, &cfg);
	if (rc != 0) {
		say("init failed rc=%d", rc);
		return -1;
	}
	say("device up cid=%u irq=%s sync=%u window=%s:0x%x ekick=%u ring=%u/%u/%u",
	    (uint32_t)hcvg_cid(&dev), irq, (uint32_t)cfg.sync_doorbell,
	    plat.reg_read == hcvg_x86_mmio_read ? "mmio" : "pio",
	    (uint32_t)x86.base,
	    (plat.reg_read(plat.ctx, HCVS_REG_GUEST_FEATURES) &
	    HCVS_F_EVTCHN_KICK) ? 1u : 0u, cfg.tx_slots, cfg.rx_slots,
	    cfg.slot_size);
	return 0;
}

static int
dev_up(void)
{
	return dev_up_with(cmdline_u32("sync", 0), cmdline_u32("ekick", 0));
}

/* The driver up and one connection to vport: its id, or -1. */
static int
dev_connect(uint32_t vport)
{
	int id;

	if (dev_up() != 0)
		return -1;
	id = hcvg_connect(&dev, vport, 0);
	return id < 0 ? -1 : id;
}

struct xfer {
	uint32_t	sent, got, tx_crc, rx_crc;
	uint32_t	tx_full;	/* sends refused for want of slot or credit */
	uint32_t	idle;		/* turns that moved nothing (then waited) */
	int		err;
};

/*
 * Send `total` bytes of the stream on connection id and read the echo,
 * interleaved so that neither direction's buffers fill up.  Gives up after
 * stall_ms without progress.
 */
static uint32_t
mb32(uint32_t off)
{
	return *(volatile uint32_t *)(mbox + off);
}

/* A transfer that stopped moving: what the driver and the mailbox say. */
static void
stall_report(int id)
{
	const struct hcvg_conn *c = &conns[id];

	say("stall conn=%d state=%u rx_len=%u fwd_cnt=%u fwd_sent=%u host_wait=%u credit_req=%u peer_buf=%u peer_fwd=%u tx_cnt=%u",
	    id, c->c_state, c->c_rx_len, c->c_fwd_cnt, c->c_fwd_sent,
	    c->c_host_wait, c->c_credit_req, c->c_peer_buf, c->c_peer_fwd,
	    c->c_tx_cnt);
	say("stall mailbox tx_prod=%u tx_cons=%u rx_prod=%u rx_cons=%u guest_flags=0x%x host_flags=0x%x error=%u kick_due=%d unrung=%d kicks=%u",
	    mb32(HCVS_MB_TX_PROD), mb32(HCVS_MB_TX_CONS), mb32(HCVS_MB_RX_PROD),
	    mb32(HCVS_MB_RX_CONS), mb32(HCVS_MB_GUEST_FLAGS),
	    mb32(HCVS_MB_HOST_FLAGS), mb32(HCVS_MB_ERROR), dev.g_kick_due,
	    dev.g_unrung, hcvg_stats(&dev)->gs_kicks);
}

static void
xfer_echo(int id, uint32_t total, uint32_t seed, uint32_t stall_ms,
    struct xfer *x)
{
	static uint8_t out[2048], in[4096];
	uint32_t st = seed, pend = 0, off = 0, last = ticks();
	long n;

	memset(x, 0, sizeof(*x));
	while (x->got < total) {
		bool progress = false;

		if (pend == 0 && x->sent + off < total) {
			pend = total - x->sent < sizeof(out) ? total - x->sent :
			    sizeof(out);
			stream_fill(&st, out, pend);
			x->tx_crc = xtd_crc32_update(x->tx_crc, out, pend);
			off = 0;
		}
		if (pend > 0) {
			n = hcvg_send(&dev, id, out + off, pend, 1);
			if (n > 0) {
				off += (uint32_t)n;
				pend -= (uint32_t)n;
				x->sent += (uint32_t)n;
				progress = true;
				if (pend == 0)
					off = 0;
			} else if (n == -HCVG_EAGAIN) {
				x->tx_full++;
			} else {
				x->err = (int)n;
				return;
			}
		}
		n = hcvg_recv(&dev, id, in, sizeof(in), 1);
		if (n > 0) {
			x->rx_crc = xtd_crc32_update(x->rx_crc, in, (uint32_t)n);
			x->got += (uint32_t)n;
			progress = true;
		} else if (n == 0) {
			x->err = -HCVG_ECONNRESET;
			return;
		} else if (n != -HCVG_EAGAIN) {
			x->err = (int)n;
			return;
		}
		if (progress) {
			last = ticks();
			continue;
		}
		x->idle++;
		if (hcvg_poll(&dev) < 0) {
			x->err = -HCVG_EIO;
			return;
		}
		if ((ticks() - last) * 10 >= stall_ms) {
			x->err = -HCVG_ETIMEDOUT;
			stall_report(id);
			return;
		}
		guest_wait(NULL);
	}
}

static int
report(const char *what, uint32_t vport, uint32_t total, const struct xfer *x)
{
	bool ok = x->err == 0 && x->sent == total && x->got == total &&
	    x->tx_crc == x->rx_crc;

	say("xfer %s vport=%u sent=%u tx_crc=%08x got=%u rx_crc=%08x err=%d %s",
	    what, vport, x->sent, x->tx_crc, x->got, x->rx_crc, x->err,
	    ok ? "MATCH" : "MISMATCH");
	return ok ? 0 : -1;
}

/* Guest-initiated: connect to dom0's echo peer, checksummed both ways. */
static int
g2h_once(const char *what, uint32_t vport, uint32_t total, uint32_t seed)
{
	struct xfer x;
	int id;

	id = hcvg_connect(&dev, vport, 0);
	if (id < 0) {
		say("connect vport=%u rc=%d", vport, id);
		return -1;
	}
	xfer_echo(id, total, seed, 20000, &x);
	(void)hcvg_close(&dev, id);
	return report(what, vport, total, &x);
}

static int
case_g2h(void)
{
	uint32_t vport = cmdline_u32("vport", 1234);
	uint32_t total = cmdline_u32("bytes", 65536);
	uint32_t seed = cmdline_u32("seed", 1);
	uint32_t i, conns = cmdline_u32("conns", 1);
	int rc = 0;

	if (dev_up() != 0)
		return -1;
	for (i = 0; i < conns; i++)
		rc |= g2h_once("g2h", vport, total, seed + i);
	say("stats tx_pkts=%u rx_pkts=%u kicks=%u rst_rx=%u bad_rx=%u irqs_msi=%u irqs_evtchn=%u",
	    hcvg_stats(&dev)->gs_tx_pkts, hcvg_stats(&dev)->gs_rx_pkts,
	    hcvg_stats(&dev)->gs_kicks, hcvg_stats(&dev)->gs_rst_rx,
	    hcvg_stats(&dev)->gs_bad_rx, *irq_counter(VEC_MSI),
	    *xen_evtchn_count());
	if (use_irq && *irq_counter(VEC_MSI) + *xen_evtchn_count() == 0) {
		say("no interrupt was delivered");
		rc = -1;
	}
	hcvg_fini(&dev);
	return rc;
}

/* Host-initiated: listen, accept one connection, echo it to EOF. */
static int
case_h2g(void)
{
	static uint8_t buf[4096];
	uint32_t vport = cmdline_u32("vport", 2345), got = 0, crc = 0;
	uint32_t start;
	int id, rc;
	long n;

	if (dev_up() != 0)
		return -1;
	rc = hcvg_listen(&dev, vport);
	if (rc != 0) {
		say("listen rc=%d", rc);
		return -1;
	}
	say("listening vport=%u", vport);
	start = ticks();
	do {
		id = hcvg_accept(&dev, vport, 1);
		if (id == -HCVG_EAGAIN)
			guest_wait(NULL);
	} while (id == -HCVG_EAGAIN && (ticks() - start) * 10 < 30000);
	if (id < 0) {
		say("accept rc=%d", id);
		return -1;
	}
	start = ticks();
	for (;;) {
		n = hcvg_recv(&dev, id, buf, sizeof(buf), 1);
		if (n == -HCVG_EAGAIN) {
			if ((ticks() - start) * 10 >= 20000)
				break;
			guest_wait(NULL);
			continue;
		}
		if (n <= 0)
			break;
		start = ticks();
		crc = xtd_crc32_update(crc, buf, (uint32_t)n);
		got += (uint32_t)n;
		if (hcvg_send(&dev, id, buf, (uint32_t)n, 0) != n) {
			say("echo send failed");
			n = -1;
			break;
		}
	}
	say("h2g vport=%u echoed=%u crc=%08x end=%d", vport, got, crc, (int)n);
	(void)hcvg_close(&dev, id);
	hcvg_fini(&dev);
	return n == 0 && got > 0 ? 0 : -1;
}

/* Second vCPU: raw register reads while vCPU 0 moves data. */
static volatile uint32_t ap_state;
static uint32_t ap_reads, ap_bad;

static void
ap_reader(void)
{
	uint32_t i;

	irq_init_ap();
	for (i = 0; i < 300; i++) {
		uint32_t m = hcvg_inl((uint16_t)(x86.base + HCVS_REG_MAGIC));

		ap_reads++;
		if (m != HCVS_MAGIC)
			ap_bad++;
	}
	say("vcpu1 apic=%u magic_reads=%u bad=%u", apic_id(), ap_reads, ap_bad);
	__atomic_store_n(&ap_state, 1, __ATOMIC_RELEASE);
}

static bool
ap_finished(void *arg)
{
	(void)arg;
	return __atomic_load_n(&ap_state, __ATOMIC_ACQUIRE) != 0;
}

static int
case_smp(void)
{
	int rc;

	if (dev_up() != 0)
		return -1;
	if (xen_vcpu_up(1, ap_reader) != 0)
		return -1;
	rc = g2h_once("smp", cmdline_u32("vport", 1234),
	    cmdline_u32("bytes", 32768), cmdline_u32("seed", 1));
	if (!wait_until(ap_finished, NULL, 60000)) {
		say("vcpu 1 did not finish");
		return -1;
	}
	hcvg_fini(&dev);
	return rc == 0 && ap_bad == 0 && ap_reads == 300 ? 0 : -1;
}

/*
 * The daemon goes away mid-transfer (SIGTERM): the guest must come out
 * of its transfer through the orderly-stop notice (EPOCH moved: a
 * transport reset, its connection reset) well before its own stall
 * timeout.  What a register read returns afterwards is not promised (the
 * window may still answer until it is withdrawn): it is only reported.
 */
static int
case_gone(void)
{
	struct xfer x;
	uint32_t magic, t0, resets;
	int id;

	id = dev_connect(cmdline_u32("vport", 1234));
	if (id < 0)
		return -1;
	say("transfer started ticks=%u", ticks());
	xfer_echo(id, cmdline_u32("bytes", 64u << 20), 1, 60000, &x);
	t0 = ticks();
	resets = hcvg_stats(&dev)->gs_resets;
	magic = hcvg_inl((uint16_t)(x86.base + HCVS_REG_MAGIC));
	say("transfer stopped sent=%u got=%u err=%d resets=%u magic=0x%08x ticks=%u",
	    x.sent, x.got, x.err, resets, magic, t0);
	return x.err == -HCVG_ECONNRESET && resets >= 1 ? 0 : -1;
}

/*
 * The daemon is SIGKILLed mid-transfer and restarted: the vCPU blocks in
 * Xen meanwhile, resumes when the new daemon re-attaches, sees its
 * connection reset, and a new connection carries a checksummed transfer.
 */
static int
case_restart(void)
{
	struct xfer x;
	uint32_t vport = cmdline_u32("vport", 1234);
	int id;

	id = dev_connect(vport);
	if (id < 0)
		return -1;
	say("transfer started");
	xfer_echo(id, cmdline_u32("bytes", 64u << 20), 1, 60000, &x);
	say("first transfer ended sent=%u got=%u err=%d state=%u resets=%u",
	    x.sent, x.got, x.err, (uint32_t)hcvg_state(&dev, id),
	    hcvg_stats(&dev)->gs_resets);
	(void)hcvg_close(&dev, id);
	if (x.err == 0 || hcvg_stats(&dev)->gs_resets == 0) {
		say("the connection was not reset");
		return -1;
	}
	return g2h_once("after-restart", vport, cmdline_u32("bytes2", 65536), 99);
}

/*
 * A guest the toolstack may save or reboot: a checked transfer, then it
 * answers control/shutdown.  "suspend": suspended; restored into a new
 * domain, the device there is a new one (reset state): set it up again
 * and transfer.  "reboot": the domain reboots (and this case runs again).
 */
static int
case_ctl(void)
{
	uint32_t vport = cmdline_u32("vport", 1234), t0 = ticks();
	char req[32];
	int rc;

	if (dev_up() != 0 ||
	    g2h_once("before", vport, cmdline_u32("bytes", 65536), 7) != 0)
		return -1;
	say("waiting for the toolstack");
	for (;;) {
		rc = xen_control_request(req, sizeof(req));
		if (rc < 0) {
			say("xenstore: control/shutdown unreadable");
			return -1;
		}
		if (rc == 1)
			break;
		if ((ticks() - t0) * 10 >= cmdline_u32("ctl_ms", 120000)) {
			say("no toolstack request");
			return -1;
		}
		sleep_ms(100);
	}
	say("toolstack asks: %s", req);
	if (str_eq(req, "reboot")) {
		(void)xen_reboot();
		return -1;
	}
	if (!str_eq(req, "suspend"))
		return -1;
	rc = xen_suspend();
	say("resumed rc=%d%s", rc, rc == 0 ? " in a new domain" : "");
	if (rc != 0)
		return -1;
	/* A new domain: the old device, mailbox and ports are gone. */
	if (dev_up() != 0)
		return -1;
	return g2h_once("after-restore", vport, cmdline_u32("bytes2", 65536),
	    99);
}

/*
 * Guest-side costs, by TSC, of the three doorbells in one boot: (a)
 * DOORBELL_SYNC, (b) DOORBELL, (c) EVTCHNOP_send (EVTCHN_KICK).  Every
 * mode notifies by event channel, so only the doorbell differs.  Per
 * mode: N bare doorbells on an empty ring, N 64 B echo round trips, an
 * echoed stream and, with sink=VPORT, the same bytes guest to host only
 * to a sink; the harness turns the raw figures into ratios.
 */
/*
 * Powers of two: a 64-bit division by them is a shift (no libgcc here).
 * A whole run's cycles exceed 32 bits under emulation: divide, then
 * narrow.
 */
#define PERF_KICKS	256u
#define PERF_ECHOES	64u

/* Counters at the start of a measured transfer. */
struct perf_snap {
	struct hcvg_stats	st;
	uint32_t		ticks, upcalls, waits;
	uint64_t		waited, t0;
};

static void
perf_begin(struct perf_snap *s)
{
	s->st = *hcvg_stats(&dev);
	s->ticks = *irq_counter(VEC_TIMER);
	s->upcalls = *xen_evtchn_count();
	s->waits = waits;
	s->waited = waited_cyc;
	s->t0 = rdtsc64();
}

/*
 * The transfer's cycles / 1024, and where they went: doorbells and
 * packets each way, upcalls and timer ticks, the waits and the cycles
 * spent in them, sends refused (ring or credit full) and turns that
 * moved nothing.
 */
static uint32_t
perf_end(const char *what, const char *name, const struct perf_snap *s,
    const struct xfer *x)
{
	uint32_t kcyc = (uint32_t)((rdtsc64() - s->t0) >> 10);
	const struct hcvg_stats *st = hcvg_stats(&dev);

	say("perf-%s mode=%s kcyc=%u kicks=%u evtchn_kicks=%u tx_pkts=%u rx_pkts=%u upcalls=%u timer_irqs=%u waits=%u wait_kcyc=%u tx_full=%u idle=%u",
	    what, name, kcyc, st->gs_kicks - s->st.gs_kicks,
	    st->gs_evtchn_kicks - s->st.gs_evtchn_kicks,
	    st->gs_tx_pkts - s->st.gs_tx_pkts,
	    st->gs_rx_pkts - s->st.gs_rx_pkts,
	    *xen_evtchn_count() - s->upcalls, *irq_counter(VEC_TIMER) - s->ticks,
	    waits - s->waits, (uint32_t)((waited_cyc - s->waited) >> 10),
	    x->tx_full, x->idle);
	return kcyc;
}

/*
 * Guest to host only, to a sink: blocking sends of 16 KiB (the driver
 * cuts them into slot-sized packets and rings once per call or full
 * ring), then close, which returns when the host has taken everything
 * before the SHUTDOWN and answered it.
 */
static void
xfer_g2h(int id, uint32_t total, uint32_t seed, struct xfer *x)
{
	static uint8_t out[16384];
	uint32_t st = seed, len, off;
	long n;

	memset(x, 0, sizeof(*x));
	while (x->sent < total) {
		len = total - x->sent < sizeof(out) ? total - x->sent :
		    sizeof(out);
		stream_fill(&st, out, len);
		x->tx_crc = xtd_crc32_update(x->tx_crc, out, len);
		for (off = 0; off < len; off += (uint32_t)n) {
			n = hcvg_send(&dev, id, out + off, len - off, 0);
			if (n <= 0) {
				x->err = n < 0 ? (int)n : -HCVG_EIO;
				return;
			}
			x->sent += (uint32_t)n;
		}
	}
}

static int
perf_mode(const char *name, uint32_t sync, uint32_t ekick, uint32_t vport,
    uint32_t sink, uint32_t stream)
{
	static uint8_t b[64], in[64];
	uint32_t i, got, st = 7, kick_cyc, echo_cyc, stream_kcyc, g2h_kcyc = 0;
	uint32_t ticks0, upcalls0;
	uint64_t t0, send_cyc = 0, wait_cyc = 0, wake_cyc = 0;
	struct perf_snap snap;
	struct xfer x;
	int id;
	long n;

	if (dev_up_with(sync, ekick) != 0)
		return -1;
	if (ekick && !(plat.reg_read(plat.ctx, HCVS_REG_GUEST_FEATURES) &
	    HCVS_F_EVTCHN_KICK)) {
		say("perf %s: EVTCHN_KICK not negotiated", name);
		return -1;
	}
	t0 = rdtsc64();
	for (i = 0; i < PERF_KICKS; i++) {
		if (ekick)
			(void)hcvg_xen_evtchn_send(xen_hypercall_page(),
			    kick_port);
		else
			hcvg_outl((uint16_t)(x86.base + (sync ?
			    HCVS_REG_DOORBELL_SYNC : HCVS_REG_DOORBELL)),
			    HCVS_DOORBELL_KICK);
	}
	kick_cyc = (uint32_t)((rdtsc64() - t0) / PERF_KICKS);

	id = hcvg_connect(&dev, vport, 0);
	if (id < 0) {
		say("perf %s: connect rc=%d", name, id);
		return -1;
	}
	stream_fill(&st, b, sizeof(b));
	ticks0 = *irq_counter(VEC_TIMER);
	upcalls0 = *xen_evtchn_count();
	t0 = rdtsc64();
	for (i = 0; i < PERF_ECHOES; i++) {
		uint64_t ts = rdtsc64(), tsent, tdone, tup;

		if (hcvg_send(&dev, id, b, sizeof(b), 0) != (long)sizeof(b))
			return -1;
		tsent = rdtsc64();
		for (got = 0; got < sizeof(b); got += (uint32_t)n) {
			n = hcvg_recv(&dev, id, in, sizeof(in) - got, 0);
			if (n <= 0) {
				say("perf %s: echo recv rc=%d", name, (int)n);
				return -1;
			}
		}
		tdone = rdtsc64();
		tup = xen_evtchn_last_tsc();
		if (tup < tsent || tup > tdone)
			tup = tsent;
		send_cyc += tsent - ts;
		wait_cyc += tup - tsent;
		wake_cyc += tdone - tup;
	}
	echo_cyc = (uint32_t)((rdtsc64() - t0) / PERF_ECHOES);
	/*
	 * Where an echo's time goes: the send, send to the last upcall, that
	 * upcall to recv's return; and how often the timer woke the vCPU.
	 */
	say("perf-echo mode=%s send_cyc=%u upcall_cyc=%u after_upcall_cyc=%u timer_irqs=%u upcalls=%u",
	    name, (uint32_t)(send_cyc / PERF_ECHOES),
	    (uint32_t)(wait_cyc / PERF_ECHOES),
	    (uint32_t)(wake_cyc / PERF_ECHOES),
	    *irq_counter(VEC_TIMER) - ticks0, *xen_evtchn_count() - upcalls0);
	(void)hcvg_close(&dev, id);

	id = hcvg_connect(&dev, vport, 0);
	if (id < 0)
		return -1;
	perf_begin(&snap);
	xfer_echo(id, stream, 11, 20000, &x);
	stream_kcyc = perf_end("stream", name, &snap, &x);
	(void)hcvg_close(&dev, id);
	if (report(name, vport, stream, &x) != 0)
		return -1;

	if (sink != 0) {
		id = hcvg_connect(&dev, sink, 0);
		if (id < 0) {
			say("perf %s: connect vport=%u rc=%d", name, sink, id);
			return -1;
		}
		perf_begin(&snap);
		xfer_g2h(id, stream, 13, &x);
		(void)hcvg_close(&dev, id);
		g2h_kcyc = perf_end("g2h", name, &snap, &x);
		say("xfer g2h-%s vport=%u sent=%u tx_crc=%08x err=%d", name,
		    sink, x.sent, x.tx_crc, x.err);
		if (x.err != 0 || x.sent != stream)
			return -1;
	}
	say("perf mode=%s doorbell_cyc=%u echo64_cyc=%u stream_bytes=%u stream_kcyc=%u g2h_kcyc=%u tsc_khz=%u kicks=%u evtchn_kicks=%u",
	    name, kick_cyc, echo_cyc, stream, stream_kcyc, g2h_kcyc, tsc_khz(),
	    hcvg_stats(&dev)->gs_kicks, hcvg_stats(&dev)->gs_evtchn_kicks);
	hcvg_fini(&dev);
	return 0;
}

/*
 * rounds= passes over the three modes, interleaved: dom0 shares the
 * emulated CPUs with the rest of the machine, so the harness keeps each
 * mode's best round.
 */
static int
case_perf(void)
{
	uint32_t vport = cmdline_u32("vport", 1234);
	uint32_t sink = cmdline_u32("sink", 0);
	uint32_t stream = cmdline_u32("bytes", 262144);
	uint32_t r, rounds = cmdline_u32("rounds", 1);

	for (r = 0; r < rounds; r++)
		if (perf_mode("sync", 1, 0, vport, sink, stream) != 0 ||
		    perf_mode("async", 0, 0, vport, sink, stream) != 0 ||
		    perf_mode("evtchn", 0, 1, vport, sink, stream) != 0)
			return -1;
	return 0;
}

/* Keep a connection open and idle until the domain is destroyed. */
static int
case_hold(void)
{
	static uint8_t b[64];
	uint32_t st = 5;
	int id;

	id = dev_connect(cmdline_u32("vport", 1234));
	if (id < 0)
		return -1;
	stream_fill(&st, b, sizeof(b));
	if (hcvg_send(&dev, id, b, sizeof(b), 0) != (long)sizeof(b))
		return -1;
	say("holding connection open");
	for (;;) {
		(void)hcvg_poll(&dev);
		sleep_ms(100);
	}
}

/* ---- Protocol MSG: MigTD's calls --------------------------------------- */

static uint8_t msg_slots[4 * HCVS_MSG_SLOT_SIZE] __attribute__((aligned(4096)));
static uint8_t msg_buf[65536] __attribute__((aligned(4096)));
static struct hcvg_msg msg;

/*
 * Take the orchestrator's session (WaitForRequest), send every size from
 * 1 B to 64 KiB of the seeded stream and read each echo back, CRC-32 both
 * ways, then ReportStatus with the CRC as its data.
 */
static int
case_msg(void)
{
	struct hcvg_msg_cfg c;
	uint32_t size, k, off, len, op, st = cmdline_u32("seed", 1), sent = 0,
	    got = 0, tx_crc = 0, rx_crc = 0, version = 0;
	static uint8_t out[65536];
	uint64_t mid;
	int rc;

	x86.base = cmdline_u32("port", 0x5a0);
	hcvg_x86_platform(&plat, &x86, 0);
	plat.wait = guest_wait;
	for (k = 0; hcvg_probe(&plat, &version) != 0; k++) {
		if (k > 400) {
			say("probe failed");
			return -1;
		}
		sleep_ms(50);
	}
	memset(&c, 0, sizeof(c));
	c.plat = &plat;
	c.slots = msg_slots;
	c.nslots = 4;
	c.sync = (int)cmdline_u32("sync", 0);
	c.wait_limit = cmdline_u32("wait_limit", 40000000);
	rc = hcvg_msg_init(&msg, &c);
	if (rc != 0) {
		say("msg init failed rc=%d", rc);
		return -1;
	}
	say("msg up version=0x%08x sync=%u", version, (uint32_t)c.sync);
	rc = hcvg_msg_run(&msg, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, msg_buf, 4096,
	    0, 0, &op, &len);
	if (rc != 0 || len < 8) {
		say("wait for request rc=%d len=%u", rc, len);
		return -1;
	}
	memcpy(&mid, msg_buf + HCVS_MSG_BUF_HDR, 8);
	say("msg session mid=%u op=%u len=%u", (uint32_t)mid, op, len);
	for (size = 1; size != 0; size = size >= 65536 ? 0 :
	    (size * 2 > 65536 ? 65536 : size * 2 + 1)) {
		stream_fill(&st, out, size);
		tx_crc = xtd_crc32_update(tx_crc, out, size);
		for (off = 0; off < size; off += k) {
			k = size - off < HCVS_MSG_MAX_PAYLOAD ? size - off :
			    HCVS_MSG_MAX_PAYLOAD;
			memcpy(msg_buf + HCVS_MSG_BUF_HDR, out + off, k);
			memcpy(msg_buf + 8, &k, 4);
			rc = hcvg_msg_run(&msg, HCVS_MSG_FN_SEND, mid, msg_buf,
			    HCVS_MSG_BUF_HDR + k, 0, 0, NULL, NULL);
			if (rc != 0) {
				say("send rc=%d", rc);
				return -1;
			}
		}
		sent += size;
		for (off = 0; off < size; off += len) {
			k = size - off < HCVS_MSG_MAX_PAYLOAD ? size - off :
			    HCVS_MSG_MAX_PAYLOAD;
			rc = hcvg_msg_run(&msg, HCVS_MSG_FN_RECEIVE, mid,
			    msg_buf, HCVS_MSG_BUF_HDR + k, 0, 20000, NULL, &len);
			if (rc != 0) {
				say("receive rc=%d", rc);
				return -1;
			}
			rx_crc = xtd_crc32_update(rx_crc, msg_buf +
			    HCVS_MSG_BUF_HDR, len);
		}
		got += size;
	}
	memcpy(msg_buf + HCVS_MSG_BUF_HDR, &tx_crc, 4);
	k = 4;
	memcpy(msg_buf + 8, &k, 4);
	rc = hcvg_msg_run(&msg, HCVS_MSG_FN_REPORT_STATUS, mid, msg_buf, 4096,
	    0, 0, NULL, NULL);
	say("xfer msg mid=%u sent=%u tx_crc=%08x got=%u rx_crc=%08x report=%d %s",
	    (uint32_t)mid, sent, tx_crc, got, rx_crc, rc,
	    rc == 0 && sent == got && tx_crc == rx_crc ? "MATCH" : "MISMATCH");
	return rc == 0 && tx_crc == rx_crc ? 0 : -1;
}

static const struct pvh_case vsock_cases[] = {
	{ "msg", case_msg },
	{ "g2h", case_g2h },
	{ "h2g", case_h2g },
	{ "smp", case_smp },
	{ "gone", case_gone },
	{ "restart", case_restart },
	{ "hold", case_hold },
	{ "ctl", case_ctl },
	{ "perf", case_perf },
};

static int
run_case(const char *name)
{
	int rc;

	if (pvh_case_run(vsock_cases, PVH_NCASES(vsock_cases), name, &rc))
		return rc;
	say("unknown case %s", name);
	return -1;
}

int	hcvs_vsock_cases(const char *name);

int
hcvs_vsock_cases(const char *name)
{
	int rc = run_case(name);
	const struct hcvg_stats *st = hcvg_stats(&dev);

	say("doorbells kicks=%u evtchn_kicks=%u", st->gs_kicks,
	    st->gs_evtchn_kicks);
	/*
	 * ekick=1 asks for the event-channel doorbell: it must have rung
	 * every time, unless ekick_expect=0 says the host withholds it.
	 */
	if (rc == 0 && cmdline_u32("ekick", 0) != 0) {
		if (cmdline_u32("ekick_expect", 1) == 0) {
			if (st->gs_evtchn_kicks != 0) {
				say("rang by event channel though not offered");
				rc = -1;
			}
		} else if (st->gs_evtchn_kicks == 0 ||
		    st->gs_evtchn_kicks != st->gs_kicks) {
			say("the event-channel doorbell was not used for every kick");
			rc = -1;
		}
	}
	return rc;
}

#else /* !HCVS_HAVE_GUEST_DRIVER */

int	hcvs_vsock_cases(const char *name);

int
hcvs_vsock_cases(const char *name)
{
	say("case %s needs the guest driver (guest/), not built in", name);
	return -1;
}

#endif
