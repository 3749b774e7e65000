/* SPDX-License-Identifier: MIT */
/* Guest-side benchmark workloads on the freestanding driver; no libc (runs hosted and inside a KVM guest). */
#include "bench/bguest.h"

static inline uint64_t
bg_tsc(void)
{
	return __builtin_ia32_rdtsc();
}

static inline void
bg_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
bg_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
bg_sample(struct bguest_ctl *ctl, uint64_t cycles)
{
	uint32_t n = ctl->nsamples;

	if (n < ctl->max_samples) {
		ctl->samples[n] = cycles > 0xffffffffu ? 0xffffffffu :
		    (uint32_t)cycles;
		ctl->nsamples = n + 1;
	}
}

/* The end of a run: its status, then `ready` and `done` for the host. */
static int
bg_finish(struct bguest_ctl *ctl, int rc)
{
	ctl->status = rc;
	ctl->ready = 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ctl->done = 1;
	return rc;
}

static int
bg_full(const struct bguest_ctl *ctl)
{
	return ctl->nsamples >= ctl->max_samples;
}

/*
 * One CREDIT_REQUEST on connection `id`, written straight into the TX
 * ring: the driver only sends one when it runs out of credit, and this
 * figure wants the device's bare round trip.  The slot format and the
 * kick rule are the driver's own (docs/PROTOCOL.md); its producer index
 * is kept in step.
 */
static int
bg_credit_request(struct hcvg *g, int id)
{
	const struct hcvg_conn *c = &g->g_conns[id];
	uint8_t *mb = g->g_mb, *s;
	uint32_t i, cons;

	cons = bg_get32(mb + HCVS_MB_TX_CONS);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (g->g_tx_prod - cons >= g->g_tx_slots)
		return -HCVG_EAGAIN;
	s = mb + HCVS_MBOX_HDR_SIZE +
	    (g->g_tx_prod & (g->g_tx_slots - 1)) * g->g_slot_size;
	for (i = 0; i < HCVS_SLOT_HDR; i++)
		s[i] = 0;
	bg_put32(s + 0, (uint32_t)g->g_cid);
	bg_put32(s + 4, (uint32_t)(g->g_cid >> 32));
	bg_put32(s + 8, 2);			/* dst_cid: the host */
	bg_put32(s + 16, c->c_lport);
	bg_put32(s + 20, c->c_rport);
	s[28] = 1;				/* type: stream */
	s[30] = 7;				/* op: CREDIT_REQUEST */
	bg_put32(s + 36, HCVG_CONN_BUF);
	bg_put32(s + 40, c->c_fwd_cnt);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	g->g_tx_prod++;
	bg_put32(mb + HCVS_MB_TX_PROD, g->g_tx_prod);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(bg_get32(mb + HCVS_MB_HOST_FLAGS) & HCVS_HF_TX_NO_KICK))
		g->g_p->reg_write(g->g_p->ctx, g->g_sync ?
		    HCVS_REG_DOORBELL_SYNC : HCVS_REG_DOORBELL,
		    HCVS_DOORBELL_KICK);
	return 0;
}

static int
bg_credit_rtt(struct hcvg *g, struct bguest_ctl *ctl, int id)
{
	uint32_t before, spins;
	uint64_t t0;
	int rc;

	while (!ctl->stop && !bg_full(ctl)) {
		before = hcvg_stats(g)->gs_rx_pkts;
		t0 = bg_tsc();
		rc = bg_credit_request(g, id);
		if (rc < 0)
			return rc;
		/* The CREDIT_UPDATE is the only packet that can arrive. */
		for (spins = 0; hcvg_stats(g)->gs_rx_pkts == before; spins++) {
			if (hcvg_poll(g) < 0)
				return -HCVG_EIO;
			if (ctl->stop && spins > 100000000u)
				return -HCVG_ETIMEDOUT;
			__builtin_ia32_pause();
		}
		bg_sample(ctl, bg_tsc() - t0);
	}
	return 0;
}

static int
bg_echo(struct hcvg *g, struct bguest_ctl *ctl, int id, uint8_t *buf)
{
	uint32_t got, i;
	uint64_t t0;
	long n;

	for (i = 0; i < ctl->payload; i++)
		buf[i] = (uint8_t)i;
	while (!ctl->stop && !bg_full(ctl)) {
		t0 = bg_tsc();
		n = hcvg_send(g, id, buf, ctl->payload, 0);
		if (n != (long)ctl->payload)
			return n < 0 ? (int)n : -HCVG_EIO;
		for (got = 0; got < ctl->payload; got += (uint32_t)n) {
			n = hcvg_recv(g, id, buf + got, ctl->payload - got, 0);
			if (n <= 0)
				return n < 0 ? (int)n : -HCVG_EPIPE;
		}
		bg_sample(ctl, bg_tsc() - t0);
		ctl->bytes += ctl->payload;
	}
	return 0;
}

static int
bg_tx_stream(struct hcvg *g, struct bguest_ctl *ctl, const int *ids,
    uint32_t nconns, uint8_t *buf)
{
	uint32_t i, k = 0;
	long n;

	for (i = 0; i < ctl->payload; i++)
		buf[i] = (uint8_t)(i * 7);
	while (!ctl->stop) {
		n = hcvg_send(g, ids[k], buf, ctl->payload, 0);
		if (n < 0)
			return (int)n;
		ctl->bytes += (uint64_t)n;
		if (++k == nconns)
			k = 0;
	}
	return 0;
}

static int
bg_rx_stream(struct hcvg *g, struct bguest_ctl *ctl, int id, uint8_t *buf)
{
	uint64_t t = bg_tsc(), now, got = 0;
	long n;

	while (!ctl->stop) {
		n = hcvg_recv(g, id, buf, ctl->payload, 0);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -HCVG_EPIPE;
		got += (uint64_t)n;
		ctl->bytes += (uint64_t)n;
		if (got < ctl->window)
			continue;
		/* One sample per window, pro rata for the overshoot. */
		now = bg_tsc();
		bg_sample(ctl, (now - t) * ctl->window / got);
		got = 0;
		t = now;
	}
	return 0;
}

/* Connect `n` connections, all in flight at once, then wait for them. */
static int
bg_connect_all(struct hcvg *g, struct bguest_ctl *ctl, int *ids, uint32_t n)
{
	uint32_t i, up, spins = 0;
	int id;

	for (i = 0; i < n; i++) {
		id = hcvg_connect(g, ctl->port, 1);
		if (id < 0)
			return id;
		ids[i] = id;
		/* Keep the RX ring drained while the requests go out. */
		if (hcvg_poll(g) < 0)
			return -HCVG_EIO;
	}
	for (;;) {
		if (hcvg_poll(g) < 0)
			return -HCVG_EIO;
		for (i = 0, up = 0; i < n; i++) {
			enum hcvg_state st = hcvg_state(g, ids[i]);

			if (st == HCVG_S_ESTABLISHED)
				up++;
			else if (st != HCVG_S_CONNECTING)
				return -HCVG_ECONNREFUSED;
		}
		if (up == n)
			return 0;
		if (++spins > 1000000000u)
			return -HCVG_ETIMEDOUT;
		__builtin_ia32_pause();
	}
}

int
bguest_run(struct hcvg *g, struct bguest_ctl *ctl, uint8_t *buf)
{
	static int ids[BGUEST_MAX_CONNS];
	uint32_t nconns = ctl->mode == BG_MULTI_TX ? ctl->nconns : 1;
	int rc;

	ctl->nsamples = 0;
	ctl->bytes = 0;
	if (ctl->payload > BGUEST_MAX_PAYLOAD || nconns == 0 ||
	    nconns > BGUEST_MAX_CONNS || nconns > g->g_nconns) {
		rc = -HCVG_EINVAL;
		goto out;
	}
	rc = bg_connect_all(g, ctl, ids, nconns);
	if (rc < 0)
		goto out;
	ctl->ready = 1;
	switch (ctl->mode) {
	case BG_CREDIT_RTT:
		rc = bg_credit_rtt(g, ctl, ids[0]);
		break;
	case BG_ECHO:
		rc = bg_echo(g, ctl, ids[0], buf);
		break;
	case BG_TX_STREAM:
	case BG_MULTI_TX:
		rc = bg_tx_stream(g, ctl, ids, nconns, buf);
		break;
	case BG_RX_STREAM:
		rc = bg_rx_stream(g, ctl, ids[0], buf);
		break;
	default:
		rc = -HCVG_EINVAL;
	}
out:
	return bg_finish(ctl, rc);
}

/* Wait for a buffer's completion; the status, or -HCVG_ECANCELED on stop. */
static int
bg_msg_wait(struct bguest_ctl *ctl, const uint8_t *buf, uint64_t *status)
{
	uint32_t spins;

	for (spins = 0; !hcvg_msg_done(buf, status); spins++) {
		if (ctl->stop && spins > 100000000u)
			return -HCVG_ECANCELED;
		__builtin_ia32_pause();
	}
	return 0;
}

int
bguest_msg_run(struct hcvg_msg *m, struct bguest_ctl *ctl, uint8_t *bufs)
{
	uint8_t *req = bufs, *rx = bufs + 65536, *tx = bufs + 2 * 65536;
	uint32_t len, i, n = ctl->payload;
	uint64_t mid, st, t0;
	int rc;

	ctl->nsamples = 0;
	ctl->bytes = 0;
	rc = hcvg_msg_run(m, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, req, 4096, 0, 0,
	    NULL, &len);
	if (rc == 0 && (len < 8 || n == 0 || n > HCVS_MSG_MAX_PAYLOAD))
		rc = -HCVG_EPROTO;
	if (rc < 0)
		goto out;
	mid = (uint64_t)bg_get32(req + 12) | (uint64_t)bg_get32(req + 16) << 32;
	for (i = 0; i < n; i++)
		tx[HCVS_MSG_BUF_HDR + i] = (uint8_t)i;
	ctl->ready = 1;
	while (!ctl->stop && !bg_full(ctl)) {
		t0 = bg_tsc();
		for (i = 0; i < 12; i++)
			rx[i] = tx[i] = 0;
		bg_put32(tx + 8, n);
		/* The Receive first: the echo finds it waiting. */
		if ((rc = hcvg_msg_submit(m, HCVS_MSG_FN_RECEIVE, mid, rx,
		    HCVS_MSG_BUF_HDR + n, 0, 0, 0)) < 0 ||
		    (rc = hcvg_msg_submit(m, HCVS_MSG_FN_SEND, mid, tx,
		    HCVS_MSG_BUF_HDR + n, 0, 0, 0)) < 0)
			goto out;
		hcvg_msg_kick(m);
		if ((rc = bg_msg_wait(ctl, tx, &st)) < 0)
			goto out;
		if ((st & 0xff) != HCVS_MSG_ST_SUCCESS) {
			rc = -HCVG_EIO;
			goto out;
		}
		if ((rc = bg_msg_wait(ctl, rx, &st)) < 0)
			goto out;
		len = bg_get32(rx + 8);
		if ((st & 0xff) != HCVS_MSG_ST_SUCCESS || len != n) {
			rc = -HCVG_EIO;
			goto out;
		}
		bg_sample(ctl, bg_tsc() - t0);
		ctl->bytes += n;
	}
	rc = 0;
out:
	return bg_finish(ctl, rc);
}
