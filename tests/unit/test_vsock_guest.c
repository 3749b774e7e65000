/* SPDX-License-Identifier: MIT */
/*
 * The freestanding guest driver talking to the device, with the muxer
 * test double as the host peer (an echo service with credit accounting).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_common.h"
#include "fake_vsock_mux.h"
#include "guest_prog.h"
#include "hcvsock_guest.h"
#include "vsock_testenv.h"
#include "vsock/vsock_wire.h"

#define ECHO_PORT	1234
#define NCONNS		80
#define MB_GPA		(VT_RAM_GPA + 0x200000)

struct gt {
	struct vtenv		*e;
	struct hcvg		 g;
	struct hcvg_conn	*conns;
	struct hcvg_cfg		 cfg;
};

static struct gt *
gt_new_features(bool sync, uint32_t irq_mode, uint32_t features)
{
	struct vtenv_opts o = {
		.irq_caps = (1u << HCVS_IRQ_MSI) | (1u << HCVS_IRQ_EVTCHN),
		.features = features,
	};
	struct gt *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->e = vtenv_new(&o);
	t->conns = calloc(NCONNS, sizeof(*t->conns));
	assert_non_null(t->conns);
	t->cfg.plat = &t->e->plat;
	t->cfg.mem = vt_ptr(t->e, MB_GPA);
	t->cfg.mem_size = 1u << 20;
	t->cfg.tx_slots = 8;
	t->cfg.rx_slots = 8;
	t->cfg.slot_size = 4096;
	t->cfg.conns = t->conns;
	t->cfg.nconns = NCONNS;
	t->cfg.sync_doorbell = sync;
	t->cfg.irq_mode = irq_mode;
	if (irq_mode == HCVS_IRQ_MSI) {
		t->cfg.irq_args[0] = 0xFEE00000;
		t->cfg.irq_args[2] = 0x40;
	}
	t->cfg.wait_limit = 100000;
	fake_mux_listen(t->e->mux, ECHO_PORT);
	return t;
}

static struct gt *
gt_new(bool sync, uint32_t irq_mode)
{
	return gt_new_features(sync, irq_mode, 0);
}

/* A test environment with the driver up; MMIO view if `mmio`. */
static int
gt_start(void **state, bool sync, uint32_t irq_mode, bool mmio)
{
	struct gt *t = gt_new(sync, irq_mode);

	t->e->mmio = mmio;
	assert_int_equal(hcvg_init(&t->g, &t->cfg), 0);
	if (irq_mode != HCVS_IRQ_NONE)
		t->e->drv = &t->g;
	*state = t;
	return 0;
}

static int
setup_sync(void **state)
{
	return gt_start(state, true, HCVS_IRQ_NONE, false);
}

static int
setup_async(void **state)
{
	return gt_start(state, false, HCVS_IRQ_NONE, false);
}

static int
setup_mmio(void **state)
{
	return gt_start(state, false, HCVS_IRQ_NONE, true);
}

static int
setup_irq(void **state)
{
	return gt_start(state, false, HCVS_IRQ_MSI, false);
}

static int
setup_lazy(void **state)
{
	struct gt *t = gt_new_features(false, HCVS_IRQ_NONE, HCVS_F_STREAM |
	    HCVS_F_SYNC_DOORBELL | HCVS_F_LAZY_CREDIT);

	assert_int_equal(hcvg_init(&t->g, &t->cfg), 0);
	*state = t;
	return 0;
}

/*
 * Xen's part of the event-channel doorbell: the send makes the daemon's
 * port pending, and its loop then runs the device.  `send_fails` plays a
 * port the guest closed behind the driver's back.
 */
static bool send_fails;
static unsigned sends;

static int
fake_evtchn_send(void *ctx, uint32_t port)
{
	struct vtenv *e = ctx;

	assert_int_equal(port, 9);
	sends++;
	if (send_fails)
		return -1;
	(void)vsock_dev_guest_event(e->dev);
	return 0;
}

/* Mode EVTCHN on port 9; the driver asks for EVTCHN_KICK. */
static struct gt *
gt_new_kick(uint32_t features)
{
	struct gt *t = gt_new_features(false, HCVS_IRQ_EVTCHN, features);

	t->cfg.irq_args[0] = 9;
	t->cfg.evtchn_kick = 1;
	t->e->plat.evtchn_send = fake_evtchn_send;
	send_fails = false;
	sends = 0;
	return t;
}

static int
teardown(void **state)
{
	struct gt *t = *state;

	vtenv_free(t->e);
	free(t->conns);
	free(t);
	return 0;
}

static void
fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rand();
}

/* Send all of buf and read all of it back, interleaving both ways. */
static void
echo_round(struct gt *t, int id, const uint8_t *buf, uint32_t n)
{
	uint8_t *back = malloc(n + 1);

	assert_non_null(back);
	assert_int_equal(gprog_echo(&t->g, id, buf, back, n, 0), 0);
	free(back);
}

/* Blocking receives until exactly n bytes came; each one brings some. */
static void
recv_exactly(struct gt *t, int id, uint8_t *buf, uint32_t n)
{
	uint32_t got = 0;
	long r;

	while (got < n) {
		r = hcvg_recv(&t->g, id, buf + got, n - got, 0);
		assert_true(r > 0);
		got += (uint32_t)r;
	}
}

/* ---- Probe and set-up ------------------------------------------------------ */

static void
guest__probe_no_backend(void **state)
{
	struct gt *t = gt_new(true, HCVS_IRQ_NONE);
	uint32_t ver = 0;

	(void)state;
	t->e->no_backend = true;
	assert_int_equal(hcvg_probe(&t->e->plat, &ver), -HCVG_ENODEV);
	assert_int_equal(hcvg_init(&t->g, &t->cfg), -HCVG_ENODEV);
	t->e->no_backend = false;
	assert_int_equal(hcvg_probe(&t->e->plat, &ver), 0);
	assert_int_equal(ver, HCVS_VERSION);
	assert_int_equal(hcvg_init(&t->g, &t->cfg), 0);
	assert_int_equal(hcvg_cid(&t->g), VT_CID);
	assert_true(vt_rd(t->e, HCVS_REG_STATUS) & HCVS_STATUS_LIVE);
	assert_int_equal(vt_rd(t->e, HCVS_REG_GUEST_FEATURES),
	    HCVS_F_STREAM | HCVS_F_SYNC_DOORBELL | HCVS_F_LAZY_CREDIT);
	teardown((void **)&t);
}

static void
guest__init_bad_args(void **state)
{
	struct gt *t = gt_new(true, HCVS_IRQ_NONE);
	struct hcvg_cfg c;

	(void)state;
	c = t->cfg;
	c.mem = (uint8_t *)c.mem + 4;
	assert_int_equal(hcvg_init(&t->g, &c), -HCVG_EINVAL);
	c = t->cfg;
	c.mem_size = 4096;
	assert_int_equal(hcvg_init(&t->g, &c), -HCVG_EINVAL);
	c = t->cfg;
	c.tx_slots = 6;
	assert_int_equal(hcvg_init(&t->g, &c), -HCVG_EINVAL);
	c = t->cfg;
	c.slot_size = 40;
	assert_int_equal(hcvg_init(&t->g, &c), -HCVG_EINVAL);
	/* A mode the host does not offer. */
	c = t->cfg;
	c.irq_mode = HCVS_IRQ_GSI;
	assert_int_equal(hcvg_init(&t->g, &c), -HCVG_ENODEV);
	teardown((void **)&t);
}

/* ---- Data ------------------------------------------------------------------ */

static void
echo_sizes(struct gt *t)
{
	static const uint32_t sizes[] = {
		1, 2, 43, 44, 45, 1000, 4051, 4052, 4053, 8104, 16383, 16384,
		16385, 40000, 65535, 65536,
	};
	uint8_t *buf = malloc(65536);
	size_t i;
	int id;

	assert_non_null(buf);
	srand(test_seed());
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		id = hcvg_connect(&t->g, ECHO_PORT, 0);
		assert_true(id >= 0);
		assert_int_equal(hcvg_state(&t->g, id), HCVG_S_ESTABLISHED);
		fill(buf, sizes[i]);
		echo_round(t, id, buf, sizes[i]);
		assert_int_equal(hcvg_close(&t->g, id), 0);
		assert_int_equal(hcvg_state(&t->g, id), HCVG_S_FREE);
	}
	assert_int_equal(fake_mux_conns(t->e->mux), 0);
	/* The host never overran our credit, we never overran its. */
	assert_int_equal(hcvg_stats(&t->g)->gs_rst_tx, 0);
	assert_int_equal(hcvg_stats(&t->g)->gs_bad_rx, 0);
	free(buf);
}

static void
guest__echo_sizes_sync(void **state)
{
	struct gt *t = *state;

	echo_sizes(t);
	assert_true(hcvg_stats(&t->g)->gs_kicks > 0);
}

static void
guest__echo_sizes_async(void **state)
{
	struct gt *t = *state;
	struct vsock_dev_stats st;

	echo_sizes(t);
	vsock_dev_get_stats(t->e->dev, &st);
	assert_int_equal(st.ds_sync_kicks, 0);
	assert_true(st.ds_kicks > 0);
}

/*
 * Payload copies take another path where the destination lies 1 to 63
 * bytes past the source modulo 4 KiB: the caller's buffers at every
 * offset within two cache lines put each copy (caller -> slot, slot ->
 * connection buffer -> caller) on either side of that range, with
 * lengths that leave every tail size.
 */
static void
guest__echo_every_alignment(void **state)
{
	struct gt *t = *state;
	uint8_t *out = aligned_alloc(4096, 3 * 4096), *back;
	uint32_t off, n;
	int id;

	back = aligned_alloc(4096, 3 * 4096);
	assert_non_null(out);
	assert_non_null(back);
	fill(out, 3 * 4096);
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	for (off = 0; off < 128; off++) {
		n = 5000 + off * 13 % 97;
		memset(back, 0, 3 * 4096);
		assert_int_equal(gprog_echo(&t->g, id, out + off,
		    back + (off * 37) % 128, n, 0), 0);
	}
	assert_int_equal(hcvg_close(&t->g, id), 0);
	free(out);
	free(back);
}

static void
guest__echo_blocking(void **state)
{
	struct gt *t = *state;
	uint8_t out[20000], back[20000];
	uint32_t kicks, pkts;
	long r;
	int id;

	fill(out, sizeof(out));
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	/* Fits our 16 KiB receive buffer plus the rings: blocking is fine. */
	kicks = hcvg_stats(&t->g)->gs_kicks;
	pkts = hcvg_stats(&t->g)->gs_tx_pkts;
	r = hcvg_send(&t->g, id, out, 12000, 0);
	assert_int_equal(r, 12000);
	/* Three RW packets, one doorbell. */
	assert_int_equal(hcvg_stats(&t->g)->gs_tx_pkts, pkts + 3);
	assert_int_equal(hcvg_stats(&t->g)->gs_kicks, kicks + 1);
	recv_exactly(t, id, back, 12000);
	assert_memory_equal(back, out, 12000);
	assert_int_equal(hcvg_close(&t->g, id), 0);
}

static void
guest__many_connections(void **state)
{
	struct gt *t = *state;
	enum { N = 72, LEN = 3000 };
	static uint8_t out[N][LEN], back[N][LEN];
	int id[N], i;

	for (i = 0; i < N; i++)
		fill(out[i], LEN);
	assert_int_equal(gprog_connect_all(&t->g, ECHO_PORT, id, N), 0);
	assert_int_equal(fake_mux_conns(t->e->mux), N);
	assert_int_equal(gprog_echo_all(&t->g, id, N, &out[0][0], &back[0][0],
	    LEN), 0);
	for (i = 0; i < N; i++) {
		assert_memory_equal(back[i], out[i], LEN);
		assert_int_equal(hcvg_close(&t->g, id[i]), 0);
	}
	assert_int_equal(fake_mux_conns(t->e->mux), 0);
}

static void
guest__connection_table_full(void **state)
{
	struct gt *t = *state;
	int i, id;

	for (i = 0; i < NCONNS; i++)
		assert_true(hcvg_connect(&t->g, ECHO_PORT, 1) >= 0);
	assert_int_equal(hcvg_connect(&t->g, ECHO_PORT, 1), -HCVG_EMFILE);
	/* A host connect to a listener with no free slot gets RST. */
	assert_int_equal(hcvg_listen(&t->g, 5000), 0);
	t->e->plat.wait(t->e);
	hcvg_poll(&t->g);
	(void)fake_mux_connect(t->e->mux, 5000);
	/* Behind 80 RESPONSEs in an 8-slot ring: let it all drain. */
	for (i = 0; i < 50; i++) {
		t->e->plat.wait(t->e);
		assert_true(hcvg_poll(&t->g) >= 0);
	}
	assert_int_equal(hcvg_accept(&t->g, 5000, 1), -HCVG_EAGAIN);
	assert_int_equal(fake_mux_conns(t->e->mux), NCONNS);
	id = 3;
	assert_int_equal(hcvg_close(&t->g, id), 0);
	assert_true(hcvg_connect(&t->g, ECHO_PORT, 0) >= 0);
}

/* ---- Connection life cycle --------------------------------------------------- */

/* A host connects to `port`, where nobody listens: the guest answers RST. */
static void
host_connect_gets_rst(struct gt *t, uint32_t port)
{
	unsigned rst = fake_mux_count(t->e->mux, VSOCK_OP_RST);

	(void)fake_mux_connect(t->e->mux, port);
	t->e->plat.wait(t->e);
	assert_true(hcvg_poll(&t->g) >= 0);
	t->e->plat.wait(t->e);
	assert_int_equal(fake_mux_count(t->e->mux, VSOCK_OP_RST), rst + 1);
}

static void
guest__host_initiated(void **state)
{
	struct gt *t = *state;
	uint8_t buf[64];
	int id;

	assert_int_equal(hcvg_listen(&t->g, 5000), 0);
	assert_int_equal(hcvg_listen(&t->g, 5000), -HCVG_EADDRINUSE);
	assert_int_equal(hcvg_accept(&t->g, 5000, 1), -HCVG_EAGAIN);
	assert_int_equal(hcvg_accept(&t->g, 5001, 1), -HCVG_EINVAL);
	(void)fake_mux_connect(t->e->mux, 5000);
	id = hcvg_accept(&t->g, 5000, 0);
	assert_true(id >= 0);
	assert_int_equal(hcvg_state(&t->g, id), HCVG_S_ESTABLISHED);
	t->e->plat.wait(t->e);	/* async doorbell: the host runs now */
	assert_int_equal(fake_mux_count(t->e->mux, VSOCK_OP_RESPONSE), 1);
	assert_int_equal(hcvg_send(&t->g, id, "hello", 5, 0), 5);
	assert_int_equal(hcvg_recv(&t->g, id, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	/* Nobody listens on 5002: the guest answers RST. */
	host_connect_gets_rst(t, 5002);
	assert_int_equal(fake_mux_conns(t->e->mux), 1);
	assert_int_equal(hcvg_close(&t->g, id), 0);
	assert_int_equal(fake_mux_conns(t->e->mux), 0);
	/* After unlisten the port refuses. */
	assert_int_equal(hcvg_unlisten(&t->g, 5000), 0);
	assert_int_equal(hcvg_unlisten(&t->g, 5000), -HCVG_EINVAL);
	host_connect_gets_rst(t, 5000);
	assert_int_equal(fake_mux_conns(t->e->mux), 0);
}

static void
guest__rst_for_unknown_port(void **state)
{
	struct gt *t = *state;
	int i;

	assert_int_equal(hcvg_connect(&t->g, 4321, 0), -HCVG_ECONNREFUSED);
	/* No slot leaked. */
	for (i = 0; i < NCONNS; i++)
		assert_int_equal(hcvg_state(&t->g, i), HCVG_S_FREE);
	assert_int_equal(fake_mux_conns(t->e->mux), 0);
	assert_true(hcvg_connect(&t->g, ECHO_PORT, 0) >= 0);
}

static void
guest__half_close(void **state)
{
	struct gt *t = *state;
	static uint8_t out[10000], back[10000];
	uint32_t got;
	int id;

	fill(out, sizeof(out));
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	assert_int_equal(hcvg_send(&t->g, id, out, sizeof(out), 0),
	    sizeof(out));
	assert_int_equal(hcvg_shutdown(&t->g, id, VSOCK_SHUTDOWN_SEND), 0);
	assert_int_equal(hcvg_send(&t->g, id, out, 1, 0), -HCVG_EPIPE);
	/* The host still sends: everything, then EOF. */
	assert_int_equal(gprog_recv_to_eof(&t->g, id, back, sizeof(back),
	    &got), 0);
	assert_int_equal(got, sizeof(out));
	assert_memory_equal(back, out, sizeof(out));
	assert_int_equal(hcvg_state(&t->g, id), HCVG_S_ESTABLISHED);
	assert_int_equal(fake_mux_conns(t->e->mux), 1);
	assert_int_equal(hcvg_close(&t->g, id), 0);
	assert_int_equal(fake_mux_conns(t->e->mux), 0);
	/* Orderly: the host sent the RST, the guest did not need to. */
	assert_int_equal(hcvg_stats(&t->g)->gs_rst_tx, 0);
}

static void
guest__credit_slow_reader(void **state)
{
	struct gt *t = *state;
	static uint8_t out[32768];
	long r;
	int id;

	fill(out, sizeof(out));
	fake_mux_set_buf_alloc(t->e->mux, 8192);
	fake_mux_pause(t->e->mux, true);
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	/* Exactly the host's buffer goes out, then EAGAIN. */
	r = hcvg_send(&t->g, id, out, sizeof(out), 1);
	assert_int_equal(r, 8192);
	t->e->plat.wait(t->e);
	assert_int_equal(fake_mux_buffered(t->e->mux), 8192);
	assert_int_equal(hcvg_send(&t->g, id, out, 100, 1), -HCVG_EAGAIN);
	t->e->plat.wait(t->e);
	assert_int_equal(hcvg_send(&t->g, id, out, 100, 1), -HCVG_EAGAIN);
	/* One CREDIT_REQUEST, not a storm. */
	assert_int_equal(fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_REQUEST), 1);
	/* A blocking send gives up at the wait limit with nothing sent. */
	t->g.g_wait_limit = 50;
	assert_int_equal(hcvg_send(&t->g, id, out, 100, 0), -HCVG_ETIMEDOUT);
	t->g.g_wait_limit = 100000;
	assert_int_equal(fake_mux_buffered(t->e->mux), 8192);
	/* The reader wakes up: the rest flows, in order. */
	fake_mux_pause(t->e->mux, false);
	{
		static uint8_t back[32768];

		assert_int_equal(gprog_echo(&t->g, id, out, back, sizeof(out),
		    8192), 0);
		assert_memory_equal(back, out, sizeof(out));
	}
	assert_int_equal(hcvg_stats(&t->g)->gs_rst_tx, 0);
	assert_int_equal(hcvg_close(&t->g, id), 0);
}

static void
guest__guest_credit_respected(void **state)
{
	struct gt *t = *state;
	static uint8_t out[60000], back[60000];
	long r;
	int id;

	/* The guest does not read: the host may fill our 16 KiB, no more. */
	fill(out, sizeof(out));
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	r = hcvg_send(&t->g, id, out, sizeof(out), 0);
	assert_int_equal(r, sizeof(out));
	t->e->plat.wait(t->e);
	hcvg_poll(&t->g);
	t->e->plat.wait(t->e);
	hcvg_poll(&t->g);
	assert_true(fake_mux_buffered(t->e->mux) >= sizeof(out) - HCVG_CONN_BUF -
	    8 * 4052);
	assert_int_equal(hcvg_stats(&t->g)->gs_rst_tx, 0);
	recv_exactly(t, id, back, sizeof(out));
	assert_memory_equal(back, out, sizeof(out));
	assert_true(fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_UPDATE) > 0);
}

static void
guest__reset_mid_transfer(void **state)
{
	struct gt *t = *state;
	static uint8_t out[30000];
	int id;

	fill(out, sizeof(out));
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	assert_true(hcvg_send(&t->g, id, out, sizeof(out), 1) > 0);
	t->e->plat.wait(t->e);
	assert_int_equal(fake_mux_conns(t->e->mux), 1);
	hcvg_fini(&t->g);
	assert_int_equal(vt_rd(t->e, HCVS_REG_STATUS), 0);
	assert_int_equal(fake_mux_conns(t->e->mux), 0);
	assert_true(fake_mux_resets(t->e->mux) >= 2);
	/* A new life on the same device. */
	assert_int_equal(hcvg_init(&t->g, &t->cfg), 0);
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	echo_round(t, id, out, sizeof(out));
	assert_int_equal(fake_mux_conns(t->e->mux), 1);
}

static void
guest__malformed_while_others_carry_on(void **state)
{
	struct gt *t = *state;
	static uint8_t out[20000];
	struct vsock_pkt_hdr h;
	struct vsock_dev_stats st;
	unsigned i;
	int id;

	fill(out, sizeof(out));
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	echo_round(t, id, out, 5000);
	/* Hand-made slots straight into the guest's TX ring. */
	for (i = 0; i < 6; i++) {
		gprog_hdr(&h, VT_CID, VSOCK_OP_REQUEST, 60000 + i, ECHO_PORT);
		switch (i) {
		case 0: h.len = 0x7FFFFFFF; break;
		case 1: h.type = 3; break;
		case 2: h.op = 0; break;
		case 3: h.op = 0x1234; break;
		case 4: h.len = 10; break;
		case 5: h.len = 4096 - 44 + 1; h.op = VSOCK_OP_RW; break;
		}
		gprog_inject_tx(&t->g, &h, true);
	}
	vsock_dev_get_stats(t->e->dev, &st);
	assert_int_equal(st.ds_bad_hdr, 6);
	assert_false(vt_rd(t->e, HCVS_REG_STATUS) & HCVS_STATUS_ERROR);
	/* The RSTs reached the guest (and matched no connection)... */
	hcvg_poll(&t->g);
	/* ...and the good connection carries on. */
	echo_round(t, id, out, sizeof(out));
	assert_int_equal(hcvg_state(&t->g, id), HCVG_S_ESTABLISHED);
	assert_int_equal(hcvg_close(&t->g, id), 0);
}

static void
guest__interrupt_driven(void **state)
{
	struct gt *t = *state;
	static uint8_t out[60000];
	int id;

	assert_true(vt_rd(t->e, HCVS_REG_STATUS) & HCVS_STATUS_NOTIFY);
	assert_int_equal(t->e->setup_last.mode, HCVS_IRQ_MSI);
	fill(out, sizeof(out));
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	echo_round(t, id, out, 30000);
	assert_true(t->e->raises > 0);
	assert_true(t->e->isr_seen & HCVS_ISR_RX);
	assert_int_equal(t->e->raise_last.msi_data, 0x40);
	/* A blocking send that fills the TX ring sleeps until TX slots return. */
	{
		static uint8_t back[60000];

		t->e->isr_seen = 0;
		assert_int_equal(hcvg_send(&t->g, id, out, sizeof(out), 0),
		    sizeof(out));
		assert_true(t->e->isr_seen & HCVS_ISR_TX);
		/* The flag is dropped once the wait is over. */
		assert_false(vt_get32(t->e, MB_GPA + HCVS_MB_GUEST_FLAGS) &
		    HCVS_GF_TX_WANT_IRQ);
		recv_exactly(t, id, back, sizeof(out));
		assert_memory_equal(back, out, sizeof(out));
	}
}

/*
 * plat.wait that notes, for each wait, whether an interrupt can end it:
 * RX interrupts on, or TX_WANT_IRQ for a wait for TX slots.  With
 * plat.will_sleep (napi_alternate), every other wait only spins: RX
 * interrupts must be on exactly for the ones said to sleep.
 */
static struct gt *napi_t;
static void (*napi_orig)(void *);
static unsigned napi_waits_rx, napi_waits_deaf, napi_wrong, napi_calls;
static int napi_said;		/* will_sleep's answer + 1; 0: not asked */

static int
napi_will_sleep(void *ctx)
{
	(void)ctx;
	napi_said = (int)(napi_calls++ % 2) + 1;
	return napi_said == 2;
}

static void
napi_wait(void *ctx)
{
	uint32_t f = vt_get32(napi_t->e, MB_GPA + HCVS_MB_GUEST_FLAGS);
	bool rx = !(f & HCVS_GF_RX_NO_IRQ);

	if (rx)
		napi_waits_rx++;
	else if (!(f & HCVS_GF_TX_WANT_IRQ) && napi_said != 1)
		napi_waits_deaf++;
	if ((napi_said == 1 && rx) || (napi_said == 2 && !rx))
		napi_wrong++;
	napi_said = 0;
	napi_orig(ctx);
}

/*
 * The echo of `n` bytes with rx_irq_in_wait on or off: interrupts
 * raised.  With the synchronous doorbell the host also publishes while
 * the driver runs; with the asynchronous one only while it waits.
 */
static unsigned
napi_echo(bool sync, bool in_wait, bool alternate, const uint8_t *out,
    uint32_t n)
{
	struct gt *t = gt_new(sync, HCVS_IRQ_MSI);
	static uint8_t back[30000];
	unsigned raises;
	int id;

	t->cfg.rx_irq_in_wait = in_wait;
	napi_t = t;
	napi_waits_rx = napi_waits_deaf = napi_wrong = napi_calls = 0;
	napi_said = 0;
	napi_orig = t->e->plat.wait;
	t->e->plat.wait = napi_wait;
	if (alternate)
		t->e->plat.will_sleep = napi_will_sleep;
	assert_int_equal(hcvg_init(&t->g, &t->cfg), 0);
	t->e->drv = &t->g;
	assert_int_equal(!!(vt_get32(t->e, MB_GPA + HCVS_MB_GUEST_FLAGS) &
	    HCVS_GF_RX_NO_IRQ), in_wait);
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	assert_int_equal(hcvg_send(&t->g, id, out, n, 0), n);
	recv_exactly(t, id, back, n);
	assert_memory_equal(back, out, n);
	/* Up again once the blocking calls are over. */
	assert_int_equal(!!(vt_get32(t->e, MB_GPA + HCVS_MB_GUEST_FLAGS) &
	    HCVS_GF_RX_NO_IRQ), in_wait);
	assert_int_equal(hcvg_close(&t->g, id), 0);
	raises = t->e->raises;
	teardown((void **)&t);
	return raises;
}

/*
 * rx_irq_in_wait: RX_NO_IRQ is up while the driver runs and down in
 * every wait for RX that sleeps (a wait for TX slots has TX_WANT_IRQ),
 * so the host interrupts a guest that sleeps and not one that is busy:
 * no interrupts where every reply came while the driver ran.
 */
static void
guest__rx_irq_only_in_wait(void **state)
{
	static uint8_t out[30000];
	unsigned always, in_wait;

	(void)state;
	fill(out, sizeof(out));
	always = napi_echo(true, false, false, out, sizeof(out));
	assert_int_equal(napi_waits_deaf, 0);
	assert_true(always > 0);
	/* Every reply came while the driver ran: seen, never interrupted. */
	in_wait = napi_echo(true, true, false, out, sizeof(out));
	assert_int_equal(napi_waits_deaf, 0);
	assert_int_equal(in_wait, 0);
	/* Replies that come while it waits wake it. */
	in_wait = napi_echo(false, true, false, out, sizeof(out));
	assert_int_equal(napi_waits_deaf, 0);
	assert_true(napi_waits_rx > 0);
	assert_true(in_wait > 0);
	/* Waits that only spin keep RX interrupts off; sleeping ones not. */
	in_wait = napi_echo(false, true, true, out, sizeof(out));
	assert_int_equal(napi_wrong, 0);
	assert_int_equal(napi_waits_deaf, 0);
	assert_true(napi_waits_rx > 0);
	assert_true(napi_calls > napi_waits_rx);
}

static void
guest__transport_reset(void **state)
{
	struct gt *t = *state;
	struct vsock_dev_state st;
	uint8_t buf[16];
	int id, id2;

	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	vsock_dev_export(t->e->dev, &st);
	/* The daemon dies and restarts with the saved state. */
	vtenv_restart(t->e);
	fake_mux_listen(t->e->mux, ECHO_PORT);
	assert_int_equal(vsock_dev_import(t->e->dev, &st), 0);
	assert_int_equal(hcvg_recv(&t->g, id, buf, sizeof(buf), 1), 0);
	assert_int_equal(hcvg_state(&t->g, id), HCVG_S_CLOSED);
	assert_int_equal(hcvg_stats(&t->g)->gs_resets, 1);
	assert_int_equal(hcvg_send(&t->g, id, "x", 1, 1), -HCVG_ECONNRESET);
	assert_int_equal(hcvg_close(&t->g, id), 0);
	id2 = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id2 >= 0);
	assert_int_equal(hcvg_send(&t->g, id2, "again", 5, 0), 5);
	assert_int_equal(hcvg_recv(&t->g, id2, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "again", 5);
}

static unsigned dead_waits;

/* A host that no longer runs: the guest's waits do nothing. */
static void
dead_wait(void *ctx)
{
	(void)ctx;
	dead_waits++;
}

/*
 * The host stops in an orderly way while the guest's TX ring is full:
 * EPOCH moves and nothing is consumed any more.  A sender blocked for a
 * TX slot comes out with a connection reset at once, not after its wait
 * limit (which, with a 10 ms timer tick, is an hour on a real guest).
 */
static void
guest__host_stops_with_tx_full(void **state)
{
	struct gt *t = *state;
	static uint8_t buf[4096];
	uint32_t prod, cons;
	long n;
	int id;

	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	t->e->no_backend = true;
	t->e->plat.wait = dead_wait;
	memset(buf, 'x', sizeof(buf));
	do {
		n = hcvg_send(&t->g, id, buf, sizeof(buf), 1);
	} while (n > 0);
	assert_int_equal(n, -HCVG_EAGAIN);
	prod = vt_get32(t->e, MB_GPA + HCVS_MB_TX_PROD);
	cons = vt_get32(t->e, MB_GPA + HCVS_MB_TX_CONS);
	assert_int_equal(prod - cons, t->cfg.tx_slots);
	vsock_dev_going_away(t->e->dev);
	dead_waits = 0;
	n = hcvg_send(&t->g, id, buf, sizeof(buf), 0);
	assert_int_equal(n, -HCVG_ECONNRESET);
	assert_int_equal(dead_waits, 0);
	assert_int_equal(hcvg_recv(&t->g, id, buf, sizeof(buf), 0), 0);
	assert_int_equal(hcvg_stats(&t->g)->gs_resets, 1);
	assert_int_equal(hcvg_close(&t->g, id), 0);
}

/* A packet from the host peer (CID 2, ECHO_PORT) for connection id. */
static void
host_hdr(struct gt *t, int id, uint16_t op, struct vsock_pkt_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = 2;
	h->dst_cid = VT_CID;
	h->src_port = ECHO_PORT;
	h->dst_port = t->conns[id].c_lport;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
}

static void
guest__host_rst_mid_stream(void **state)
{
	struct gt *t = *state;
	struct vsock_pkt_hdr h;
	uint8_t buf[8];
	int id;

	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	host_hdr(t, id, VSOCK_OP_RST, &h);
	fake_mux_push(t->e->mux, &h, NULL);
	assert_int_equal(hcvg_recv(&t->g, id, buf, sizeof(buf), 0), 0);
	assert_int_equal(hcvg_state(&t->g, id), HCVG_S_CLOSED);
	/* Never RST in reply to an RST. */
	assert_int_equal(hcvg_stats(&t->g)->gs_rst_tx, 0);
	assert_int_equal(hcvg_close(&t->g, id), 0);
	assert_int_equal(hcvg_stats(&t->g)->gs_rst_tx, 0);
}

/* RW from the host on connection id: `len` bytes of `fill`. */
static void
host_rw(struct gt *t, int id, uint32_t len)
{
	static uint8_t data[4096];
	struct vsock_pkt_hdr h;

	memset(data, 0x5a, sizeof(data));
	host_hdr(t, id, len > 0 ? VSOCK_OP_RW : VSOCK_OP_CREDIT_REQUEST, &h);
	h.len = len;
	h.buf_alloc = 1u << 18;
	fake_mux_push(t->e->mux, &h, data);
}

static void
guest__lazy_credit(void **state)
{
	struct gt *t = *state;
	static uint8_t back[HCVG_CONN_BUF];
	unsigned upd;
	uint32_t kicks, tx;
	int id, i;

	assert_true(vt_rd(t->e, HCVS_REG_GUEST_FEATURES) & HCVS_F_LAZY_CREDIT);
	id = hcvg_connect(&t->g, ECHO_PORT, 0);
	assert_true(id >= 0);
	for (i = 0; i < 4; i++)
		host_rw(t, id, 4000);
	upd = fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_UPDATE);
	kicks = hcvg_stats(&t->g)->gs_kicks;
	tx = hcvg_stats(&t->g)->gs_tx_pkts;
	/* A quarter of the buffer freed: an update, published, not rung. */
	recv_exactly(t, id, back, 16000);
	assert_int_equal(hcvg_stats(&t->g)->gs_tx_pkts, tx + 1);
	assert_int_equal(hcvg_stats(&t->g)->gs_kicks, kicks);
	t->e->plat.wait(t->e);
	assert_int_equal(fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_UPDATE), upd);
	/* The host's next pass (it has data for us) reads it. */
	host_rw(t, id, 100);
	assert_int_equal(fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_UPDATE),
	    upd + 1);
	assert_int_equal(fake_mux_last(t->e->mux)->fwd_cnt, 16000);

	/*
	 * Our buffer full, the host asks for credit: the answer rings but
	 * grants nothing.  The first space freed afterwards must ring too,
	 * even below the threshold: a lazy update would never be read.
	 */
	for (i = 0; i < 4; i++)
		host_rw(t, id, 4000);
	host_rw(t, id, HCVG_CONN_BUF - 16100);
	host_rw(t, id, 0);
	kicks = hcvg_stats(&t->g)->gs_kicks;
	assert_true(hcvg_poll(&t->g) > 0);
	assert_int_equal(hcvg_stats(&t->g)->gs_kicks, kicks + 1);
	t->e->plat.wait(t->e);
	assert_int_equal(fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_UPDATE),
	    upd + 2);
	assert_int_equal(fake_mux_last(t->e->mux)->fwd_cnt, 16000);
	recv_exactly(t, id, back, 100);
	assert_int_equal(hcvg_stats(&t->g)->gs_kicks, kicks + 2);
	t->e->plat.wait(t->e);
	assert_int_equal(fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_UPDATE),
	    upd + 3);
	assert_int_equal(fake_mux_last(t->e->mux)->fwd_cnt, 16100);
	/* Credit given: updates are lazy again. */
	recv_exactly(t, id, back, HCVG_CONN_BUF - 100);
	assert_int_equal(hcvg_stats(&t->g)->gs_kicks, kicks + 2);
	assert_int_equal(hcvg_stats(&t->g)->gs_rst_tx, 0);
	assert_int_equal(hcvg_stats(&t->g)->gs_bad_rx, 0);
}

/* Unrung entries must not fill the TX ring for good: a full ring rings. */
static void
guest__lazy_ring_full(void **state)
{
	struct gt *t = *state;
	static uint8_t back[2 * 4052];
	uint32_t kicks;
	unsigned upd;
	int id[4], i;

	/* Two TX slots; four connections with two full packets each. */
	hcvg_fini(&t->g);
	t->cfg.tx_slots = 2;
	assert_int_equal(hcvg_init(&t->g, &t->cfg), 0);
	for (i = 0; i < 4; i++) {
		id[i] = hcvg_connect(&t->g, ECHO_PORT, 0);
		assert_true(id[i] >= 0);
	}
	for (i = 0; i < 8; i++)
		host_rw(t, id[i / 2], 4052);
	kicks = hcvg_stats(&t->g)->gs_kicks;
	upd = fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_UPDATE);
	/* Each read frees a quarter: four lazy updates for two slots. */
	for (i = 0; i < 4; i++)
		recv_exactly(t, id[i], back, sizeof(back));
	assert_int_equal(hcvg_stats(&t->g)->gs_kicks, kicks + 1);
	assert_int_equal(fake_mux_count(t->e->mux, VSOCK_OP_CREDIT_UPDATE),
	    upd + 2);
	assert_int_equal(hcvg_stats(&t->g)->gs_dropped, 0);
}

static void
guest__evtchn_kick(void **state)
{
	struct gt *t = gt_new_kick(0);
	struct vsock_dev_stats st;
	uint32_t dom = 99;

	(void)state;
	assert_int_equal(hcvg_backend_domain(&t->e->plat, &dom), 0);
	assert_int_equal(dom, 0);
	assert_int_equal(hcvg_init(&t->g, &t->cfg), 0);
	assert_true(vt_rd(t->e, HCVS_REG_GUEST_FEATURES) & HCVS_F_EVTCHN_KICK);
	echo_sizes(t);
	/* Every doorbell went by event channel, none through the window. */
	vsock_dev_get_stats(t->e->dev, &st);
	assert_true(hcvg_stats(&t->g)->gs_kicks > 0);
	assert_int_equal(hcvg_stats(&t->g)->gs_evtchn_kicks,
	    hcvg_stats(&t->g)->gs_kicks);
	assert_int_equal(st.ds_evtchn_kicks, sends);
	assert_int_equal(st.ds_kicks, st.ds_evtchn_kicks);
	assert_int_equal(st.ds_events_ignored, 0);

	/* A dead port: the driver rings the register instead. */
	send_fails = true;
	echo_sizes(t);
	vsock_dev_get_stats(t->e->dev, &st);
	assert_true(st.ds_kicks > st.ds_evtchn_kicks);
	assert_int_equal(hcvg_stats(&t->g)->gs_evtchn_kicks, st.ds_evtchn_kicks);
	teardown((void **)&t);
}

static void
guest__evtchn_kick_withheld(void **state)
{
	/* The host does not offer EVTCHN_KICK: register doorbells only. */
	struct gt *t = gt_new_kick(HCVS_F_STREAM | HCVS_F_SYNC_DOORBELL);
	struct vsock_dev_stats st;

	(void)state;
	assert_int_equal(hcvg_init(&t->g, &t->cfg), 0);
	assert_false(vt_rd(t->e, HCVS_REG_GUEST_FEATURES) & HCVS_F_EVTCHN_KICK);
	echo_sizes(t);
	vsock_dev_get_stats(t->e->dev, &st);
	assert_int_equal(sends, 0);
	assert_int_equal(st.ds_evtchn_kicks, 0);
	assert_true(st.ds_kicks > 0);
	assert_int_equal(hcvg_stats(&t->g)->gs_evtchn_kicks, 0);
	teardown((void **)&t);
}

static void
guest__backend_domain_needs_evtchn(void **state)
{
	struct vtenv_opts o = { .irq_caps = 1u << HCVS_IRQ_MSI };
	struct vtenv *e = vtenv_new(&o);
	uint32_t dom = 99;

	(void)state;
	assert_int_equal(hcvg_backend_domain(&e->plat, &dom), -HCVG_ENODEV);
	assert_int_equal(dom, 0);
	vtenv_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guest__probe_no_backend),
		cmocka_unit_test(guest__init_bad_args),
		cmocka_unit_test(guest__evtchn_kick),
		cmocka_unit_test(guest__evtchn_kick_withheld),
		cmocka_unit_test(guest__backend_domain_needs_evtchn),
		cmocka_unit_test_setup_teardown(guest__echo_sizes_sync, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(guest__echo_sizes_async, setup_async, teardown),
		cmocka_unit_test_setup_teardown(guest__echo_blocking, setup_async, teardown),
		cmocka_unit_test_setup_teardown(guest__echo_every_alignment, setup_async, teardown),
		cmocka_unit_test_setup_teardown(guest__echo_blocking, setup_mmio, teardown),
		cmocka_unit_test_setup_teardown(guest__many_connections, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(guest__connection_table_full, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(guest__host_initiated, setup_async, teardown),
		cmocka_unit_test_setup_teardown(guest__rst_for_unknown_port, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(guest__half_close, setup_async, teardown),
		cmocka_unit_test_setup_teardown(guest__credit_slow_reader, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(guest__guest_credit_respected, setup_async, teardown),
		cmocka_unit_test_setup_teardown(guest__reset_mid_transfer, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(guest__malformed_while_others_carry_on, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(guest__interrupt_driven, setup_irq, teardown),
		cmocka_unit_test(guest__rx_irq_only_in_wait),
		cmocka_unit_test_setup_teardown(guest__transport_reset, setup_async, teardown),
		cmocka_unit_test_setup_teardown(guest__host_rst_mid_stream, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(guest__lazy_credit, setup_lazy, teardown),
		cmocka_unit_test_setup_teardown(guest__lazy_ring_full, setup_lazy, teardown),
		cmocka_unit_test_setup_teardown(guest__host_stops_with_tx_full, setup_async, teardown),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	test_log_capture_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
