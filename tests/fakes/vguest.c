/* SPDX-License-Identifier: MIT */
/* A fake guest vsock stack driving the muxer with packets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_common.h"
#include "common/loop.h"
#include "vguest.h"

uint64_t
vg_fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

void
vg_init(struct vguest *g, struct loop *l, uint64_t cid)
{
	memset(g, 0, sizeof(*g));
	g->l = l;
	g->cid = cid;
	g->slot_payload = VSOCK_MAX_PAYLOAD;
	g->buf_alloc = 256 * 1024;
	g->slot = malloc(VSOCK_MAX_PAYLOAD);
}

static void
conn_free(struct vg_conn *c)
{
	free(c->in);
	free(c->out);
	free(c);
}

void
vg_fini(struct vguest *g)
{
	for (size_t i = 0; i < g->nconns; i++)
		conn_free(g->conns[i]);
	free(g->slot);
	g->nconns = 0;
}

void
vg_rx_ready(void *arg)
{
	struct vguest *g = arg;

	g->rx_ready_calls++;
}

static void
violation(struct vguest *g, const char *what, const struct vsock_pkt_hdr *h)
{
	g->violations++;
	snprintf(g->last_violation, sizeof(g->last_violation),
	    "%s (op %u %u->%u len %u)", what, h->op, h->src_port, h->dst_port,
	    h->len);
	fprintf(stderr, "vguest: host violation: %s\n", g->last_violation);
}

void
vg_send_raw(struct vguest *g, const struct vsock_pkt_hdr *h, const void *payload)
{
	vsock_mux_from_guest(g->m, h, payload);
}

static void
send_op(struct vguest *g, struct vg_conn *c, uint16_t op, uint32_t flags,
    const void *p, uint32_t len)
{
	struct vsock_pkt_hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = g->cid;
	h.dst_cid = VSOCK_CID_HOST;
	h.src_port = c->gport;
	h.dst_port = c->hport;
	h.type = c->type;
	h.op = op;
	h.flags = flags;
	h.len = len;
	h.buf_alloc = c->buf_alloc;
	h.fwd_cnt = c->fwd_cnt;
	c->fwd_sent = c->fwd_cnt;
	vsock_mux_from_guest(g->m, &h, p);
}

static struct vg_conn *
conn_new(struct vguest *g, uint32_t gport, uint32_t hport, uint16_t type)
{
	struct vg_conn *c;

	if (g->nconns == VG_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	c->gport = gport;
	c->hport = hport;
	c->type = type;
	c->buf_alloc = g->buf_alloc;
	c->consume = true;
	c->max_pkt = VSOCK_MAX_PAYLOAD;
	g->conns[g->nconns++] = c;
	return c;
}

struct vg_conn *
vg_find(struct vguest *g, uint32_t gport, uint32_t hport)
{
	/* Newest first: a reused pair refers to the latest connection. */
	for (size_t i = g->nconns; i-- > 0;)
		if (g->conns[i]->gport == gport && g->conns[i]->hport == hport &&
		    g->conns[i]->state != VG_CLOSED)
			return g->conns[i];
	return NULL;
}

struct vg_conn *
vg_connect(struct vguest *g, uint32_t gport, uint32_t hport, uint16_t type)
{
	struct vg_conn *c = conn_new(g, gport, hport, type);

	if (c != NULL)
		send_op(g, c, VSOCK_OP_REQUEST, 0, NULL, 0);
	return c;
}

void
vg_write(struct vg_conn *c, const void *p, size_t n)
{
	size_t left = c->out_len - c->out_off;
	uint8_t *nb = malloc(left + n);

	if (left > 0)
		memcpy(nb, c->out + c->out_off, left);
	if (n > 0)
		memcpy(nb + left, p, n);
	free(c->out);
	c->out = nb;
	c->out_len = left + n;
	c->out_off = 0;
}

void
vg_shutdown(struct vguest *g, struct vg_conn *c, uint32_t flags)
{
	send_op(g, c, VSOCK_OP_SHUTDOWN, flags, NULL, 0);
}

void
vg_rst(struct vguest *g, struct vg_conn *c)
{
	send_op(g, c, VSOCK_OP_RST, 0, NULL, 0);
	c->state = VG_CLOSED;
}

void
vg_consume(struct vguest *g, struct vg_conn *c)
{
	c->fwd_cnt = c->rx_cnt;
	/* Linux's rule: update once the unreported space nears 64 KiB. */
	if (c->state == VG_OPEN && c->fwd_cnt != c->fwd_sent &&
	    c->buf_alloc - (c->fwd_cnt - c->fwd_sent) < 64 * 1024)
		send_op(g, c, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
}

static void
append_in(struct vg_conn *c, const void *p, size_t n)
{
	if (c->in_len + n > c->in_cap) {
		c->in_cap = (c->in_len + n) * 2;
		c->in = realloc(c->in, c->in_cap);
	}
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
}

static bool
is_listening(const struct vguest *g, uint32_t port)
{
	for (size_t i = 0; i < g->nlisten; i++)
		if (g->listen[i] == port)
			return true;
	return false;
}

static void
handle(struct vguest *g, const struct vsock_pkt_hdr *h, const uint8_t *p)
{
	struct vg_conn *c;

	if (h->src_cid != VSOCK_CID_HOST || h->dst_cid != g->cid)
		violation(g, "wrong CIDs", h);
	if (h->op < 8)
		g->ops[h->op]++;
	if (h->op != VSOCK_OP_RW && h->len != 0)
		violation(g, "payload on a control packet", h);
	if (h->op == VSOCK_OP_RW && h->len == 0)
		violation(g, "zero-length RW", h);
	c = vg_find(g, h->dst_port, h->src_port);
	if (c == NULL) {
		g->orphans++;
		if (h->op == VSOCK_OP_RST) {
			g->orphan_rst++;
			return;
		}
		if (h->op == VSOCK_OP_REQUEST && is_listening(g, h->dst_port)) {
			c = conn_new(g, h->dst_port, h->src_port, h->type);
			c->echo = g->listen_echo;
			c->state = VG_OPEN;
			c->peer_buf_alloc = h->buf_alloc;
			c->peer_fwd_cnt = h->fwd_cnt;
			c->peer_known = true;
			send_op(g, c, VSOCK_OP_RESPONSE, 0, NULL, 0);
			return;
		}
		/* Never answer an RST; everything else gets one. */
		{
			struct vg_conn tmp = { .gport = h->dst_port,
			    .hport = h->src_port, .type = h->type };

			send_op(g, &tmp, VSOCK_OP_RST, 0, NULL, 0);
		}
		return;
	}
	c->pkts_rcvd++;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->peer_known = true;
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (c->state != VG_CONNECTING)
			violation(g, "RESPONSE when not connecting", h);
		c->state = VG_OPEN;
		break;
	case VSOCK_OP_RST:
		c->state = VG_CLOSED;
		c->rst = true;
		break;
	case VSOCK_OP_RW:
		if (c->state != VG_OPEN)
			violation(g, "RW when not open", h);
		if (c->shut_rcvd & VSOCK_SHUTDOWN_SEND)
			violation(g, "RW after SHUTDOWN(SEND)", h);
		if (h->len > c->buf_alloc - (c->rx_cnt - c->fwd_cnt))
			violation(g, "RW beyond guest credit", h);
		c->rx_cnt += h->len;
		append_in(c, p, h->len);
		if (h->flags & VSOCK_SEQ_EOM)
			c->in_msgs++;
		if (c->echo)
			vg_write(c, p, h->len);
		if (c->consume)
			vg_consume(g, c);
		break;
	case VSOCK_OP_SHUTDOWN:
		c->shut_rcvd |= h->flags;
		/* An echo server closes its side once the peer has. */
		if (c->echo && (h->flags & VSOCK_SHUTDOWN_SEND))
			c->shut_after_out = VSOCK_SHUTDOWN_SEND;
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		c->credit_updates_rcvd++;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->credit_requests_rcvd++;
		send_op(g, c, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case VSOCK_OP_REQUEST:
		violation(g, "REQUEST on an open pair", h);
		break;
	default:
		violation(g, "unknown op", h);
	}
}

int
vg_pull(struct vguest *g, struct vsock_pkt_hdr *h, void *payload)
{
	return vsock_mux_to_guest(g->m, h, payload, g->slot_payload);
}

static size_t
send_data(struct vguest *g, struct vg_conn *c)
{
	size_t moved = 0;

	while (c->state == VG_OPEN && c->peer_known && c->out_off < c->out_len) {
		uint32_t room = c->peer_buf_alloc - (c->tx_cnt - c->peer_fwd_cnt);
		size_t n = c->out_len - c->out_off;
		uint32_t flags = 0;

		if (c->tx_cnt - c->peer_fwd_cnt > c->peer_buf_alloc)
			room = 0;
		n = n < c->max_pkt ? n : c->max_pkt;
		if (c->type == VSOCK_TYPE_SEQPACKET && c->msg_size > 0) {
			size_t in_msg = c->out_off % c->msg_size;

			if (n > c->msg_size - in_msg)
				n = c->msg_size - in_msg;
			if (in_msg + n == c->msg_size ||
			    c->out_off + n == c->out_len)
				flags = VSOCK_SEQ_EOM;
		}
		/* Like Linux: as much as the credit allows, at least a byte. */
		if (room == 0)
			break;
		if (n > room) {
			n = room;
			flags = 0;
		}
		send_op(g, c, VSOCK_OP_RW, flags, c->out + c->out_off,
		    (uint32_t)n);
		c->tx_cnt += (uint32_t)n;
		c->out_off += n;
		moved++;
	}
	if (c->state == VG_OPEN && c->out_off == c->out_len &&
	    c->shut_after_out != 0 && !c->shut_sent) {
		c->shut_sent = true;
		vg_shutdown(g, c, c->shut_after_out);
		moved++;
	}
	return moved;
}

size_t
vg_pump(struct vguest *g)
{
	struct vsock_pkt_hdr h;
	size_t moved = 0;

	while (!g->rx_paused && vg_pull(g, &h, g->slot) == 1) {
		if (h.op == VSOCK_OP_RW && h.len > g->slot_payload)
			violation(g, "RW larger than the slot", &h);
		handle(g, &h, g->slot);
		moved++;
	}
	for (size_t i = 0; i < g->nconns; i++)
		moved += send_data(g, g->conns[i]);
	return moved;
}

bool
vg_run(struct vguest *g, bool (*cond)(void *), void *arg, int timeout_ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		while (vg_pump(g) > 0)
			;
		if (cond != NULL && cond(arg))
			return true;
		if (loop_now_ms() >= end)
			return false;
		(void)loop_run_once(g->l, 2);
	}
}

void
vg_env_init(struct vg_env *e, const char *tag, uint64_t cid)
{
	memset(e, 0, sizeof(*e));
	test_tmpdir(e->dir, sizeof(e->dir), tag);
	snprintf(e->uds, sizeof(e->uds), "%s/v.sock", e->dir);
	assert_int_equal(loop_new(&e->l), 0);
	vg_init(&e->g, e->l, cid);
	e->cfg.guest_cid = cid;
	memcpy(e->cfg.uds_path, e->uds, sizeof(e->uds));
	e->cfg.default_allow = true;
	e->cfg.max_conns = 256;
	e->cfg.buf_alloc = 64 * 1024;
	e->cfg.close_timeout_ms = 300;
	e->cfg.connect_timeout_ms = 300;
	e->cfg.send_ok_line = true;
}

int
vg_env_start(struct vg_env *e)
{
	e->cfg.rx_ready = vg_rx_ready;
	e->cfg.rx_ready_arg = &e->g;
	return vsock_mux_new(e->l, &e->cfg, &e->g.m);
}

void
vg_env_fini(struct vg_env *e)
{
	vsock_mux_free(e->g.m);
	e->g.m = NULL;
	vg_fini(&e->g);
	loop_free(e->l);
	test_rmtree(e->dir);
}
