/* SPDX-License-Identifier: MIT */
/* Test double of the vsock muxer: recorder plus a small echo host peer. */
#include <stdlib.h>
#include <string.h>

#include "fake_vsock_mux.h"
#include "vsock/vsock_backend.h"

#define FM_MAX_CONNS	512
#define FM_QLEN		4096
#define FM_LISTEN	16
#define MIN_SZ(a, b)	((size_t)(a) < (size_t)(b) ? (size_t)(a) : (size_t)(b))

struct fm_conn {
	bool		 used;
	bool		 established;
	uint32_t	 hport;
	uint32_t	 gport;
	uint8_t		*buf;
	size_t		 len;
	uint32_t	 tx_cnt;	/* host -> guest payload bytes */
	uint32_t	 fwd_cnt;	/* guest bytes consumed */
	uint32_t	 g_buf;
	uint32_t	 g_fwd;
	uint32_t	 g_shut;
	bool		 shut_sent;
	bool		 asked;		/* CREDIT_REQUEST out, no credit since */
};

struct fm_pkt {
	struct vsock_pkt_hdr	 h;
	uint8_t			*data;
};

struct fake_mux {
	uint64_t	 cid;
	void		 (*rx_ready)(void *);
	void		*arg;
	uint32_t	 buf_alloc;
	bool		 paused;
	uint32_t	 listen[FM_LISTEN];
	unsigned	 nlisten;
	uint32_t	 next_hport;
	struct fm_conn	 c[FM_MAX_CONNS];
	struct fm_pkt	 q[FM_QLEN];
	unsigned	 qh, qn;
	unsigned	 count[8];
	unsigned	 total;
	unsigned	 resets;
	struct vsock_pkt_hdr last;
	uint8_t		 last_payload[VSOCK_MAX_PAYLOAD];
	unsigned	 held;
	const void	*last_held;
	void		 (*tx_end_hook)(void *);
	void		*tx_end_arg;
	unsigned	 credit_wait;
	uint64_t	 credit_stalls;
};

struct fake_mux *
fake_mux_new(uint64_t guest_cid, void (*rx_ready)(void *), void *arg)
{
	struct fake_mux *m = calloc(1, sizeof(*m));

	if (m == NULL)
		abort();
	m->cid = guest_cid;
	m->rx_ready = rx_ready;
	m->arg = arg;
	m->buf_alloc = 256 * 1024;
	m->next_hport = 1u << 30;
	return m;
}

static void
conn_drop(struct fm_conn *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

static void
q_clear(struct fake_mux *m)
{
	while (m->qn > 0) {
		free(m->q[m->qh].data);
		m->qh = (m->qh + 1) % FM_QLEN;
		m->qn--;
	}
}

void
fake_mux_free(struct fake_mux *m)
{
	unsigned i;

	if (m == NULL)
		return;
	for (i = 0; i < FM_MAX_CONNS; i++)
		conn_drop(&m->c[i]);
	q_clear(m);
	free(m);
}

void
fake_mux_listen(struct fake_mux *m, uint32_t port)
{
	if (m->nlisten < FM_LISTEN)
		m->listen[m->nlisten++] = port;
}

void
fake_mux_set_buf_alloc(struct fake_mux *m, uint32_t bytes)
{
	m->buf_alloc = bytes;
}

static bool
conn_can_send(const struct fake_mux *m, const struct fm_conn *c)
{
	uint32_t credit = c->g_buf - (c->tx_cnt - c->g_fwd);

	if (!c->used || !c->established)
		return false;
	if (c->len > 0)
		return !m->paused && credit > 0 && credit <= c->g_buf;
	return (c->g_shut & VSOCK_SHUTDOWN_SEND) && !c->shut_sent;
}

static bool
fm_has_rx(const struct fake_mux *m)
{
	unsigned i;

	if (m->qn > 0)
		return true;
	for (i = 0; i < FM_MAX_CONNS; i++)
		if (conn_can_send(m, &m->c[i]))
			return true;
	return false;
}

static void
notify(struct fake_mux *m)
{
	if (m->rx_ready != NULL && fm_has_rx(m))
		m->rx_ready(m->arg);
}

void
fake_mux_pause(struct fake_mux *m, bool paused)
{
	m->paused = paused;
	notify(m);
}

static void
q_push(struct fake_mux *m, const struct vsock_pkt_hdr *h, const void *data)
{
	struct fm_pkt *p;

	if (m->qn == FM_QLEN)
		abort();
	p = &m->q[(m->qh + m->qn) % FM_QLEN];
	p->h = *h;
	p->data = NULL;
	if (h->len > 0) {
		p->data = malloc(h->len);
		if (p->data == NULL)
			abort();
		memcpy(p->data, data, h->len);
	}
	m->qn++;
}

void
fake_mux_push(struct fake_mux *m, const struct vsock_pkt_hdr *h,
    const void *payload)
{
	q_push(m, h, payload);
	notify(m);
}

static void
reply(struct fake_mux *m, const struct fm_conn *c, uint32_t gport,
    uint32_t hport, uint16_t op, uint32_t flags)
{
	struct vsock_pkt_hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = VSOCK_CID_HOST;
	h.dst_cid = m->cid;
	h.src_port = hport;
	h.dst_port = gport;
	h.type = VSOCK_TYPE_STREAM;
	h.op = op;
	h.flags = flags;
	if (c != NULL) {
		h.buf_alloc = m->buf_alloc;
		h.fwd_cnt = c->fwd_cnt;
	}
	q_push(m, &h, NULL);
}

uint32_t
fake_mux_connect(struct fake_mux *m, uint32_t guest_port)
{
	unsigned i;

	for (i = 0; i < FM_MAX_CONNS; i++) {
		struct fm_conn *c = &m->c[i];

		if (c->used)
			continue;
		c->used = true;
		c->hport = m->next_hport++;
		c->gport = guest_port;
		reply(m, c, c->gport, c->hport, VSOCK_OP_REQUEST, 0);
		notify(m);
		return c->hport;
	}
	abort();
}

static struct fm_conn *
conn_find(struct fake_mux *m, uint32_t gport, uint32_t hport)
{
	unsigned i;

	for (i = 0; i < FM_MAX_CONNS; i++)
		if (m->c[i].used && m->c[i].gport == gport &&
		    m->c[i].hport == hport)
			return &m->c[i];
	return NULL;
}

static bool
is_listening(const struct fake_mux *m, uint32_t port)
{
	unsigned i;

	for (i = 0; i < m->nlisten; i++)
		if (m->listen[i] == port)
			return true;
	return false;
}

/*
 * A host offering LAZY_CREDIT asks when it holds data and the guest's
 * credit is gone, once per stall (PROTOCOL.md §8): the double does too.
 */
static void
ask_if_stalled(struct fake_mux *m, struct fm_conn *c)
{
	if (!c->used || !c->established || c->len == 0 || c->asked ||
	    c->g_buf - (c->tx_cnt - c->g_fwd) > 0)
		return;
	c->asked = true;
	reply(m, c, c->gport, c->hport, VSOCK_OP_CREDIT_REQUEST, 0);
}

static void
fm_send(void *arg, const struct vsock_pkt_hdr *h, const void *payload)
{
	struct fake_mux *m = arg;
	struct fm_conn *c;
	unsigned i;

	m->total++;
	/* Every packet carries the guest's credit: the wait is over. */
	m->credit_wait = 0;
	if (h->op < 8)
		m->count[h->op]++;
	m->last = *h;
	if (h->len > 0 && h->len <= VSOCK_MAX_PAYLOAD)
		memcpy(m->last_payload, payload, h->len);

	c = conn_find(m, h->src_port, h->dst_port);
	if (h->op == VSOCK_OP_REQUEST) {
		if (c != NULL || !is_listening(m, h->dst_port)) {
			reply(m, NULL, h->src_port, h->dst_port, VSOCK_OP_RST, 0);
			return;
		}
		for (i = 0; i < FM_MAX_CONNS && m->c[i].used; i++)
			;
		if (i == FM_MAX_CONNS) {
			reply(m, NULL, h->src_port, h->dst_port, VSOCK_OP_RST, 0);
			return;
		}
		c = &m->c[i];
		c->used = true;
		c->established = true;
		c->gport = h->src_port;
		c->hport = h->dst_port;
		c->g_buf = h->buf_alloc;
		c->g_fwd = h->fwd_cnt;
		reply(m, c, c->gport, c->hport, VSOCK_OP_RESPONSE, 0);
		return;
	}
	if (c == NULL) {
		if (h->op != VSOCK_OP_RST)
			reply(m, NULL, h->src_port, h->dst_port, VSOCK_OP_RST, 0);
		return;
	}
	c->g_buf = h->buf_alloc;
	c->g_fwd = h->fwd_cnt;
	if (c->g_buf - (c->tx_cnt - c->g_fwd) > 0)
		c->asked = false;
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (!c->established) {
			c->established = true;
			break;
		}
		reply(m, NULL, c->gport, c->hport, VSOCK_OP_RST, 0);
		conn_drop(c);
		break;
	case VSOCK_OP_RW:
		if (!c->established || h->len > m->buf_alloc - c->len) {
			/* Credit violation: RST, as Linux since a4f0b001782b. */
			reply(m, NULL, c->gport, c->hport, VSOCK_OP_RST, 0);
			conn_drop(c);
			break;
		}
		c->buf = realloc(c->buf, c->len + h->len);
		if (c->buf == NULL)
			abort();
		memcpy(c->buf + c->len, payload, h->len);
		c->len += h->len;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		reply(m, c, c->gport, c->hport, VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	case VSOCK_OP_SHUTDOWN:
		c->g_shut |= h->flags & 3;
		if (c->g_shut == 3) {
			reply(m, NULL, c->gport, c->hport, VSOCK_OP_RST, 0);
			conn_drop(c);
		}
		break;
	case VSOCK_OP_RST:
		conn_drop(c);
		break;
	default:
		break;
	}
	ask_if_stalled(m, c);
	/* No notify(): the device pulls the replies itself. */
}

static int
fm_recv(void *arg, struct vsock_pkt_hdr *hdr, void *payload,
    size_t max_payload)
{
	struct fake_mux *m = arg;
	struct fm_pkt *p;
	unsigned i;

	if (m->qn > 0) {
		p = &m->q[m->qh];
		*hdr = p->h;
		if (hdr->len > max_payload)
			hdr->len = (uint32_t)max_payload;
		if (hdr->len > 0)
			memcpy(payload, p->data, hdr->len);
		free(p->data);
		m->qh = (m->qh + 1) % FM_QLEN;
		m->qn--;
		return 1;
	}
	for (i = 0; i < FM_MAX_CONNS; i++) {
		struct fm_conn *c = &m->c[i];
		uint32_t credit, n;

		if (!conn_can_send(m, c))
			continue;
		memset(hdr, 0, sizeof(*hdr));
		hdr->src_cid = VSOCK_CID_HOST;
		hdr->dst_cid = m->cid;
		hdr->src_port = c->hport;
		hdr->dst_port = c->gport;
		hdr->type = VSOCK_TYPE_STREAM;
		hdr->buf_alloc = m->buf_alloc;
		if (c->len == 0) {
			/* Echo half-close: everything sent, now SHUTDOWN(SEND). */
			c->shut_sent = true;
			hdr->op = VSOCK_OP_SHUTDOWN;
			hdr->flags = VSOCK_SHUTDOWN_SEND;
			hdr->fwd_cnt = c->fwd_cnt;
			return 1;
		}
		credit = c->g_buf - (c->tx_cnt - c->g_fwd);
		n = (uint32_t)MIN_SZ(MIN_SZ(c->len, max_payload), credit);
		hdr->op = VSOCK_OP_RW;
		hdr->len = n;
		memcpy(payload, c->buf, n);
		memmove(c->buf, c->buf + n, c->len - n);
		c->len -= n;
		c->tx_cnt += n;
		c->fwd_cnt += n;
		hdr->fwd_cnt = c->fwd_cnt;
		ask_if_stalled(m, c);
		return 1;
	}
	return 0;
}

static void
fm_reset(void *arg)
{
	struct fake_mux *m = arg;
	unsigned i;

	m->resets++;
	for (i = 0; i < FM_MAX_CONNS; i++)
		conn_drop(&m->c[i]);
	q_clear(m);
}

unsigned
fake_mux_count(const struct fake_mux *m, uint16_t op)
{
	return op < 8 ? m->count[op] : 0;
}

unsigned
fake_mux_total(const struct fake_mux *m)
{
	return m->total;
}

const struct vsock_pkt_hdr *
fake_mux_last(const struct fake_mux *m)
{
	return &m->last;
}

const uint8_t *
fake_mux_last_payload(const struct fake_mux *m)
{
	return m->last_payload;
}

unsigned
fake_mux_resets(const struct fake_mux *m)
{
	return m->resets;
}

unsigned
fake_mux_conns(const struct fake_mux *m)
{
	unsigned i, n = 0;

	for (i = 0; i < FM_MAX_CONNS; i++)
		n += m->c[i].used;
	return n;
}

size_t
fake_mux_buffered(const struct fake_mux *m)
{
	size_t i, n = 0;

	for (i = 0; i < FM_MAX_CONNS; i++)
		n += m->c[i].len;
	return n;
}

static bool
fm_has_rx_op(const void *arg)
{
	return fm_has_rx(arg);
}

void
fake_mux_on_tx_end(struct fake_mux *m, void (*hook)(void *), void *arg)
{
	m->tx_end_hook = hook;
	m->tx_end_arg = arg;
}

unsigned
fake_mux_held(const struct fake_mux *m)
{
	return m->held;
}

const void *
fake_mux_last_held(const struct fake_mux *m)
{
	return m->last_held;
}

static void
fm_tx_begin(void *arg)
{
	(void)arg;
}

/* The double copies what it keeps at once; it only records the hold. */
static void
fm_send_held(void *arg, const struct vsock_pkt_hdr *h, const void *payload)
{
	struct fake_mux *m = arg;

	m->held++;
	m->last_held = payload;
	fm_send(arg, h, payload);
}

static void
fm_tx_end(void *arg)
{
	struct fake_mux *m = arg;

	if (m->tx_end_hook != NULL)
		m->tx_end_hook(m->tx_end_arg);
}

void
fake_mux_set_credit_wait(struct fake_mux *m, unsigned what, uint64_t stalls)
{
	m->credit_wait = what;
	m->credit_stalls = stalls;
}

static unsigned
fm_credit_wait(const void *b, uint64_t *stalls)
{
	const struct fake_mux *m = b;

	*stalls = m->credit_stalls;
	return m->credit_wait;
}

const struct vsock_backend_ops fake_mux_backend_ops = {
	.send = fm_send,
	.recv = fm_recv,
	.has_rx = fm_has_rx_op,
	.reset = fm_reset,
	.tx_begin = fm_tx_begin,
	.send_held = fm_send_held,
	.tx_end = fm_tx_end,
	.credit_wait = fm_credit_wait,
};
