/* SPDX-License-Identifier: MIT */
/*
 * The end-to-end KVM guest: the freestanding hcvsock driver (guest/) in a
 * native 64-bit user-mode guest, polling, driving checksummed echo
 * traffic through hcvsockd to host AF_UNIX sockets.  Parameters and
 * results live in the boot block (E2E_P_* / E2E_R_*); the exit value is 0
 * on success, else the E2E_STEP_* that failed.
 */
#include "kvmguest.h"
#include "e2e_params.h"
#include "hcvsock_guest.h"
#include "hcvsock_guest_x86.h"

static struct hcvg g;
static struct hcvg_platform plat;
static struct hcvg_x86 x86;

struct e2e_mem {
	uint8_t		*em_mbox;
	uint32_t	 em_mbox_size;
	struct hcvg_conn *em_conns;
	unsigned	 em_nconns;
	uint8_t		*em_tx;
	uint8_t		*em_rx;
};

static struct kvmguest_boot *boot;

static __attribute__((noreturn)) void
fail(uint32_t step, long err)
{
	boot->kb_results[E2E_R_STATUS] = (uint32_t)err;
	boot->kb_results[E2E_R_STEP] = step;
	kvmguest_put_hex("e2e: failed at step ", step);
	kvmguest_put_hex("e2e: error ", (uint64_t)err);
	kvmguest_exit(step);
}

/* The pattern of connection c: xorshift32 from a per-connection seed. */
static void
fill(uint8_t *p, uint32_t len, uint32_t seed)
{
	uint32_t x = seed != 0 ? seed : 0x9e3779b9u, i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void
send_all(int id, const uint8_t *p, uint32_t len)
{
	long n = hcvg_send(&g, id, p, len, 0);

	if (n != (long)len)
		fail(E2E_STEP_SEND, n);
	boot->kb_results[E2E_R_TX_BYTES] += len;
}

static void
recv_all(int id, uint8_t *p, uint32_t len)
{
	uint32_t got = 0;

	while (got < len) {
		long n = hcvg_recv(&g, id, p + got, len - got, 0);

		if (n <= 0)
			fail(E2E_STEP_RECV, n == 0 ? -1 : n);
		got += (uint32_t)n;
	}
	boot->kb_results[E2E_R_RX_BYTES] += len;
}

static uint32_t
next_size(uint32_t size, uint32_t max)
{
	/* 1, 2, 3, 5, 8, ... then the max itself: odd sizes cross slots. */
	uint32_t n = size < 4 ? size + 1 : size + size / 2 + 1;

	return size == max ? 0 : (n > max ? max : n);
}

/* Guest connects: one connection after another, every size each. */
static void
case_client_serial(const struct e2e_mem *m)
{
	uint32_t port = boot->kb_params[E2E_P_PORT];
	uint32_t nconn = boot->kb_params[E2E_P_NCONN];
	uint32_t max = boot->kb_params[E2E_P_MAX_SIZE];
	uint32_t c, size, sum = E2E_FNV_INIT;

	for (c = 0; c < nconn; c++) {
		int id = hcvg_connect(&g, port, 0);

		if (id < 0)
			fail(E2E_STEP_CONNECT, id);
		for (size = 1; size != 0; size = next_size(size, max)) {
			fill(m->em_tx, size, boot->kb_params[E2E_P_SEED] + c +
			    size);
			send_all(id, m->em_tx, size);
			recv_all(id, m->em_rx, size);
			if (memcmp(m->em_tx, m->em_rx, size) != 0)
				fail(E2E_STEP_COMPARE, (long)size);
			sum = e2e_fnv(sum, m->em_rx, size);
		}
		if (hcvg_close(&g, id) < 0)
			fail(E2E_STEP_CLOSE, id);
		boot->kb_results[E2E_R_CONNS]++;
	}
	boot->kb_results[E2E_R_SUM] = sum;
}

/* Guest connects: nconn connections open at once, traffic interleaved. */
static void
case_client_concurrent(const struct e2e_mem *m)
{
	uint32_t port = boot->kb_params[E2E_P_PORT];
	uint32_t nconn = boot->kb_params[E2E_P_NCONN];
	uint32_t msg = boot->kb_params[E2E_P_MAX_SIZE];
	uint32_t rounds = boot->kb_params[E2E_P_ROUNDS];
	uint32_t c, r, sum = 0;
	int ids[E2E_MAX_CONNS];
	unsigned spins;

	if (nconn > E2E_MAX_CONNS || nconn >= m->em_nconns)
		fail(E2E_STEP_PARAMS, (long)nconn);
	for (c = 0; c < nconn; c++) {
		ids[c] = hcvg_connect(&g, port, 1);
		if (ids[c] < 0)
			fail(E2E_STEP_CONNECT, ids[c]);
	}
	for (c = 0; c < nconn; c++) {
		for (spins = 0; hcvg_state(&g, ids[c]) == HCVG_S_CONNECTING;
		    spins++) {
			if (hcvg_poll(&g) < 0 || spins > 400000000u)
				fail(E2E_STEP_CONNECT, -(long)c);
			kvmguest_pause();
		}
		if (hcvg_state(&g, ids[c]) != HCVG_S_ESTABLISHED)
			fail(E2E_STEP_CONNECT, -1000 - (long)c);
	}
	boot->kb_results[E2E_R_CONNS] = nconn;
	for (r = 0; r < rounds; r++) {
		/* Everybody sends, then everybody reads: all in flight at once. */
		for (c = 0; c < nconn; c++) {
			fill(m->em_tx, msg, boot->kb_params[E2E_P_SEED] + c * 977 + r);
			send_all(ids[c], m->em_tx, msg);
		}
		for (c = 0; c < nconn; c++) {
			fill(m->em_tx, msg, boot->kb_params[E2E_P_SEED] + c * 977 + r);
			recv_all(ids[c], m->em_rx, msg);
			if (memcmp(m->em_tx, m->em_rx, msg) != 0)
				fail(E2E_STEP_COMPARE, (long)c);
			sum += e2e_fnv(E2E_FNV_INIT, m->em_rx, msg);
		}
	}
	for (c = 0; c < nconn; c++)
		if (hcvg_close(&g, ids[c]) < 0)
			fail(E2E_STEP_CLOSE, (long)c);
	boot->kb_results[E2E_R_SUM] = sum;
}

/* The host connects (CONNECT <port>): echo each stream until EOF. */
static void
case_server_echo(const struct e2e_mem *m)
{
	uint32_t port = boot->kb_params[E2E_P_PORT];
	uint32_t nconn = boot->kb_params[E2E_P_NCONN];
	uint32_t c, sum = 0;
	int rc;

	rc = hcvg_listen(&g, port);
	if (rc < 0)
		fail(E2E_STEP_LISTEN, rc);
	/* Tell the host we are listening. */
	boot->kb_results[E2E_R_READY] = 1;
	for (c = 0; c < nconn; c++) {
		uint32_t h = E2E_FNV_INIT;
		int id = hcvg_accept(&g, port, 0);

		if (id < 0)
			fail(E2E_STEP_ACCEPT, id);
		for (;;) {
			long n = hcvg_recv(&g, id, m->em_rx, 65536, 0);

			if (n < 0)
				fail(E2E_STEP_RECV, n);
			if (n == 0)
				break;
			boot->kb_results[E2E_R_RX_BYTES] += (uint32_t)n;
			h = e2e_fnv(h, m->em_rx, (uint32_t)n);
			send_all(id, m->em_rx, (uint32_t)n);
		}
		if (hcvg_close(&g, id) < 0)
			fail(E2E_STEP_CLOSE, id);
		sum += h;
		boot->kb_results[E2E_R_CONNS]++;
	}
	boot->kb_results[E2E_R_SUM] = sum;
}

/* CRC-32 (IEEE, reflected), continued from crc (0 to start). */
static uint32_t
crc32(uint32_t crc, const uint8_t *p, uint32_t len)
{
	uint32_t i, k;

	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* One echo that may end in a reset: 0, or how it ended (<= 0). */
static long
echo_once(int id, const struct e2e_mem *m, uint32_t size, uint32_t seed)
{
	uint32_t got = 0;
	long n;

	fill(m->em_tx, size, seed);
	n = hcvg_send(&g, id, m->em_tx, size, 0);
	if (n != (long)size)
		return n < 0 ? n : -1;
	while (got < size) {
		n = hcvg_recv(&g, id, m->em_rx + got, size - got, 0);
		if (n <= 0)
			return n;
		got += (uint32_t)n;
	}
	if (memcmp(m->em_tx, m->em_rx, size) != 0)
		fail(E2E_STEP_COMPARE, (long)size);
	return 1;
}

/*
 * The daemon goes away under traffic: the first connection ends with the
 * transport reset a re-attached daemon gives, a new one carries on.
 */
static void
case_client_restart(const struct e2e_mem *m)
{
	uint32_t port = boot->kb_params[E2E_P_PORT];
	uint32_t size = boot->kb_params[E2E_P_MAX_SIZE];
	uint32_t rounds = boot->kb_params[E2E_P_ROUNDS];
	uint32_t r, crc = 0;
	long end = 1;
	int id;

	if (size == 0 || size > 65536)
		fail(E2E_STEP_PARAMS, (long)size);
	id = hcvg_connect(&g, port, 0);
	if (id < 0)
		fail(E2E_STEP_CONNECT, id);
	for (r = 0; r < 100000000u && end == 1; r++) {
		end = echo_once(id, m, size, boot->kb_params[E2E_P_SEED] + r);
		if (end == 1) {
			boot->kb_results[E2E_R_ROUNDS1] = r + 1;
			boot->kb_results[E2E_R_READY] = 1;
		}
	}
	boot->kb_results[E2E_R_END1] = (uint32_t)end;
	boot->kb_results[E2E_R_RESETS] = hcvg_stats(&g)->gs_resets;
	(void)hcvg_close(&g, id);
	if (hcvg_stats(&g)->gs_resets == 0)
		fail(E2E_STEP_NO_RESET, end);
	kvmguest_put_hex("e2e: first connection ended by a transport reset "
	    "after echoes: ", boot->kb_results[E2E_R_ROUNDS1]);
	id = hcvg_connect(&g, port + 1, 0);
	if (id < 0)
		fail(E2E_STEP_CONNECT, id);
	for (r = 0; r < rounds; r++) {
		if (echo_once(id, m, size, boot->kb_params[E2E_P_SEED] + ~r) != 1)
			fail(E2E_STEP_RECV, (long)r);
		crc = crc32(crc, m->em_rx, size);
		boot->kb_results[E2E_R_TX_BYTES] += size;
		boot->kb_results[E2E_R_RX_BYTES] += size;
	}
	if (hcvg_close(&g, id) < 0)
		fail(E2E_STEP_CLOSE, id);
	boot->kb_results[E2E_R_CONNS] = 2;
	boot->kb_results[E2E_R_SUM] = crc;
	boot->kb_results[E2E_R_RESETS] = hcvg_stats(&g)->gs_resets;
}

/* ---- Protocol MSG ----------------------------------------------------------- */

static struct hcvg_msg msg;

/* Buffers: one 64 KiB data buffer per session, 4 KiB aligned. */
struct msg_mem {
	uint8_t		*mm_slots;
	uint8_t		*mm_buf[E2E_MSG_MAX];
	uint8_t		*mm_tx;
	uint8_t		*mm_rx;
};

static void
msg_setup(struct msg_mem *mm, uint8_t *scratch, uint32_t flags)
{
	struct hcvg_msg_cfg c;
	uintptr_t p = ((uintptr_t)scratch + 4095) & ~(uintptr_t)4095;
	int rc;

	mm->mm_slots = (uint8_t *)p;
	p += 4096;
	for (unsigned i = 0; i < E2E_MSG_MAX; i++, p += 65536)
		mm->mm_buf[i] = (uint8_t *)p;
	mm->mm_tx = (uint8_t *)p;
	mm->mm_rx = mm->mm_tx + 65536;
	if ((uint64_t)(mm->mm_rx + 65536 - scratch) > boot->kb_scratch_size)
		fail(E2E_STEP_PARAMS, -4);
	memset(&c, 0, sizeof(c));
	c.plat = &plat;
	c.slots = mm->mm_slots;
	c.nslots = E2E_MSG_SLOTS;
	c.sync = (flags & E2E_F_SYNC) != 0;
	if (flags & E2E_F_GSI) {
		c.irq_mode = HCVS_IRQ_GSI;
		c.irq_args[0] = boot->kb_params[E2E_P_GSI];
	}
	c.wait_limit = 400000000u;
	rc = hcvg_msg_init(&msg, &c);
	if (rc < 0)
		fail(E2E_STEP_MSG_INIT, rc);
}

static uint64_t
msg_take(uint8_t *buf)
{
	uint64_t mid;
	uint32_t op, len;
	int rc;

	rc = hcvg_msg_run(&msg, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, buf, 4096, 0,
	    0, &op, &len);
	if (rc < 0)
		fail(E2E_STEP_MSG_WAIT, rc);
	if (op != HCVS_MSG_OP_START_MIGRATION || len < 8)
		fail(E2E_STEP_MSG_WAIT, -(long)op);
	memcpy(&mid, buf + HCVS_MSG_BUF_HDR, 8);
	return mid;
}

static void
msg_send(uint64_t mid, uint8_t *buf, const uint8_t *p, uint32_t n)
{
	uint32_t off = 0, k;
	int rc;

	do {
		k = n - off < HCVS_MSG_MAX_PAYLOAD ? n - off :
		    HCVS_MSG_MAX_PAYLOAD;
		memcpy(buf + HCVS_MSG_BUF_HDR, p + off, k);
		memcpy(buf + 8, &k, 4);
		rc = hcvg_msg_run(&msg, HCVS_MSG_FN_SEND, mid, buf,
		    HCVS_MSG_BUF_HDR + k, 0, 0, NULL, NULL);
		if (rc < 0)
			fail(E2E_STEP_MSG_SEND, rc);
		off += k;
	} while (off < n);
	boot->kb_results[E2E_R_TX_BYTES] += n;
}

static void
msg_recv(uint64_t mid, uint8_t *buf, uint8_t *p, uint32_t n)
{
	uint32_t got = 0, len, want;
	int rc;

	while (got < n) {
		want = n - got < HCVS_MSG_MAX_PAYLOAD ? n - got :
		    HCVS_MSG_MAX_PAYLOAD;
		rc = hcvg_msg_run(&msg, HCVS_MSG_FN_RECEIVE, mid, buf,
		    HCVS_MSG_BUF_HDR + want, 0, 0, NULL, &len);
		if (rc < 0)
			fail(E2E_STEP_MSG_RECV, rc);
		memcpy(p + got, buf + HCVS_MSG_BUF_HDR, len);
		got += len;
	}
	boot->kb_results[E2E_R_RX_BYTES] += n;
}

static void
msg_report(uint64_t mid, uint8_t *buf, uint64_t status, uint32_t data)
{
	uint32_t four = 4;
	int rc;

	memcpy(buf + HCVS_MSG_BUF_HDR, &data, 4);
	memcpy(buf + 8, &four, 4);
	rc = hcvg_msg_run(&msg, HCVS_MSG_FN_REPORT_STATUS, mid, buf, 4096,
	    status, 0, NULL, NULL);
	if (rc < 0)
		fail(E2E_STEP_MSG_REPORT, rc);
}

/* N sessions: every size out and back on each, checksummed; reports. */
static void
case_msg_echo(struct msg_mem *mm)
{
	uint32_t n = boot->kb_params[E2E_P_NCONN];
	uint32_t max = boot->kb_params[E2E_P_MAX_SIZE];
	uint32_t size, s, sum[E2E_MSG_MAX];
	uint64_t mid[E2E_MSG_MAX];

	if (n == 0 || n > E2E_MSG_MAX || max > 65536)
		fail(E2E_STEP_PARAMS, (long)n);
	for (s = 0; s < n; s++) {
		mid[s] = msg_take(mm->mm_buf[s]);
		if (mid[s] < E2E_MSG_MID0 || mid[s] >= E2E_MSG_MID0 + n)
			fail(E2E_STEP_MSG_WAIT, -100);
		sum[s] = E2E_FNV_INIT;
	}
	for (size = 1; size != 0; size = next_size(size, max)) {
		for (s = 0; s < n; s++) {
			fill(mm->mm_tx, size, boot->kb_params[E2E_P_SEED] +
			    (uint32_t)mid[s] + size);
			msg_send(mid[s], mm->mm_buf[s], mm->mm_tx, size);
		}
		for (s = 0; s < n; s++) {
			fill(mm->mm_tx, size, boot->kb_params[E2E_P_SEED] +
			    (uint32_t)mid[s] + size);
			msg_recv(mid[s], mm->mm_buf[s], mm->mm_rx, size);
			if (memcmp(mm->mm_tx, mm->mm_rx, size) != 0)
				fail(E2E_STEP_COMPARE, (long)size);
			sum[s] = e2e_fnv(sum[s], mm->mm_rx, size);
		}
	}
	for (s = 0; s < n; s++) {
		/* The report carries the session's checksum. */
		msg_report(mid[s], mm->mm_buf[s], 0, sum[s]);
		boot->kb_results[E2E_R_SUM] ^= sum[s];
		boot->kb_results[E2E_R_CONNS]++;
	}
}

static void
case_msg_host_dies(struct msg_mem *mm)
{
	uint8_t *buf = mm->mm_buf[0];
	uint64_t mid = msg_take(buf);
	uint32_t three = 3;
	int rc;

	memcpy(buf + HCVS_MSG_BUF_HDR, "bye", 3);
	memcpy(buf + 8, &three, 4);
	if ((rc = hcvg_msg_run(&msg, HCVS_MSG_FN_SEND, mid, buf, 4096, 0, 0,
	    NULL, NULL)) < 0)
		fail(E2E_STEP_MSG_SEND, rc);
	rc = hcvg_msg_run(&msg, HCVS_MSG_FN_RECEIVE, mid, buf, 4096, 0, 0, NULL,
	    NULL);
	if (rc != -HCVG_ECANCELED)
		fail(E2E_STEP_MSG_RECV, rc);
	msg_report(mid, buf, 0x0501, 0);	/* failure, network error */
	boot->kb_results[E2E_R_CONNS] = 1;
}

static void
case_msg_unanswered(struct msg_mem *mm)
{
	volatile uint32_t *go = &boot->kb_params[E2E_P_ROUNDS];
	int rc;

	boot->kb_results[E2E_R_READY] = 1;
	while (*go == 0)
		kvmguest_pause();
	rc = hcvg_msg_run(&msg, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, mm->mm_buf[0],
	    4096, 0, 200, NULL, NULL);
	if (rc != -HCVG_ETIMEDOUT)
		fail(E2E_STEP_MSG_WAIT, rc);
	boot->kb_results[E2E_R_CONNS] = 1;
}

/* The MSG cases: protocol 2 instead of the rings, then exit. */
static void
msg_main(uint8_t *scratch, uint32_t flags)
{
	struct msg_mem mm;

	msg_setup(&mm, scratch, flags);
	switch (boot->kb_params[E2E_P_CASE]) {
	case E2E_CASE_MSG_ECHO:
		case_msg_echo(&mm);
		break;
	case E2E_CASE_MSG_HOST_DIES:
		case_msg_host_dies(&mm);
		break;
	default:
		case_msg_unanswered(&mm);
		break;
	}
	boot->kb_results[E2E_R_STATUS] = 0;
	kvmguest_puts("e2e: msg done\n");
	kvmguest_exit(0);
}

KVMGUEST_ENTRY void
_start(uint64_t vcpu, uint64_t bootp)
{
	struct hcvg_cfg cfg;
	struct e2e_mem m;
	uint8_t *scratch;
	uint32_t flags, version = 0;
	int rc;

	boot = (struct kvmguest_boot *)(uintptr_t)bootp;
	if (boot->kb_magic != KVMGUEST_BOOT_MAGIC || vcpu != 0)
		kvmguest_exit(E2E_STEP_PARAMS);
	flags = boot->kb_params[E2E_P_FLAGS];

	/* Scratch: mailbox (64 KiB slots area), connections, two buffers. */
	scratch = (uint8_t *)(uintptr_t)boot->kb_scratch_gpa;
	m.em_mbox = scratch;
	m.em_mbox_size = hcvg_mem_needed(E2E_SLOTS, E2E_SLOTS, E2E_SLOT_SIZE);
	m.em_nconns = E2E_MAX_CONNS + 1;
	m.em_conns = (struct hcvg_conn *)(uintptr_t)
	    ((uintptr_t)(scratch + m.em_mbox_size + 63) & ~(uintptr_t)63);
	m.em_tx = (uint8_t *)(m.em_conns + m.em_nconns);
	m.em_rx = m.em_tx + 65536;
	if ((uint64_t)(m.em_rx + 65536 - scratch) > boot->kb_scratch_size)
		fail(E2E_STEP_PARAMS, -2);
	memset(m.em_mbox, 0, m.em_mbox_size);
	memset(m.em_conns, 0, m.em_nconns * sizeof(struct hcvg_conn));

	x86.base = (uintptr_t)boot->kb_window_base;
	hcvg_x86_platform(&plat, &x86,
	    boot->kb_window_kind == KVMGUEST_WINDOW_MMIO);
	rc = hcvg_probe(&plat, &version);
	if (rc < 0)
		fail(E2E_STEP_PROBE, rc);
	boot->kb_results[E2E_R_VERSION] = version;
	if (boot->kb_params[E2E_P_CASE] >= E2E_CASE_MSG_ECHO &&
	    boot->kb_params[E2E_P_CASE] <= E2E_CASE_MSG_UNANSWERED)
		msg_main(scratch, flags);

	memset(&cfg, 0, sizeof(cfg));
	cfg.plat = &plat;
	cfg.mem = m.em_mbox;
	cfg.mem_size = m.em_mbox_size;
	cfg.tx_slots = E2E_SLOTS;
	cfg.rx_slots = E2E_SLOTS;
	cfg.slot_size = E2E_SLOT_SIZE;
	cfg.conns = m.em_conns;
	cfg.nconns = m.em_nconns;
	cfg.sync_doorbell = (flags & E2E_F_SYNC) != 0;
	if (flags & E2E_F_GSI) {
		cfg.irq_mode = HCVS_IRQ_GSI;
		cfg.irq_args[0] = boot->kb_params[E2E_P_GSI];
	}
	cfg.wait_limit = boot->kb_params[E2E_P_WAIT] != 0 ?
	    boot->kb_params[E2E_P_WAIT] : 400000000u;
	rc = hcvg_init(&g, &cfg);
	if (rc < 0)
		fail(E2E_STEP_INIT, rc);
	boot->kb_results[E2E_R_CID] = (uint32_t)hcvg_cid(&g);

	switch (boot->kb_params[E2E_P_CASE]) {
	case E2E_CASE_CLIENT_SERIAL:
		case_client_serial(&m);
		break;
	case E2E_CASE_CLIENT_CONCURRENT:
		case_client_concurrent(&m);
		break;
	case E2E_CASE_SERVER_ECHO:
		case_server_echo(&m);
		break;
	case E2E_CASE_CLIENT_RESTART:
		case_client_restart(&m);
		break;
	default:
		fail(E2E_STEP_PARAMS, -3);
	}
	boot->kb_results[E2E_R_KICKS] = hcvg_stats(&g)->gs_kicks;
	hcvg_fini(&g);
	boot->kb_results[E2E_R_STATUS] = 0;
	kvmguest_puts("e2e: done\n");
	kvmguest_exit(0);
}
