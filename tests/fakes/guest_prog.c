/* SPDX-License-Identifier: MIT */
/* Guest-side test programs on the freestanding driver (see guest_prog.h). */
#include <string.h>

#include "guest_prog.h"

/* Rounds before a program gives up: far beyond what a working run needs. */
#define GPROG_CONNECT_ROUNDS	100000u
#define GPROG_ECHO_ROUNDS	2000000u
#define GPROG_MAX_CONNS		256

static void
gprog_wait(struct hcvg *g)
{
	g->g_p->wait(g->g_p->ctx);
}

uint32_t
gprog_fnv1a(uint32_t h, const uint8_t *p, size_t n)
{
	while (n-- > 0)
		h = (h ^ *p++) * 16777619u;
	return h;
}

int
gprog_echo(struct hcvg *g, int id, const uint8_t *out, uint8_t *back,
    uint32_t n, uint32_t sent)
{
	uint32_t got = 0;
	unsigned rounds = 0;
	long r;

	while (got < n) {
		if (sent < n) {
			r = hcvg_send(g, id, out + sent, n - sent, 1);
			if (r > 0)
				sent += (uint32_t)r;
			else if (r != -HCVG_EAGAIN)
				return GPROG_ESEND;
		}
		r = hcvg_recv(g, id, back + got, n - got, 1);
		if (r > 0)
			got += (uint32_t)r;
		else if (r != -HCVG_EAGAIN)
			return GPROG_ERECV;
		if (r == -HCVG_EAGAIN)
			gprog_wait(g);
		if (++rounds > GPROG_ECHO_ROUNDS)
			return GPROG_ESPIN;
	}
	if (memcmp(out, back, n) != 0 || gprog_fnv1a(GPROG_FNV_SEED, out, n) !=
	    gprog_fnv1a(GPROG_FNV_SEED, back, n))
		return GPROG_EDATA;
	return 0;
}

int
gprog_connect_all(struct hcvg *g, uint32_t port, int *ids, int n)
{
	unsigned rounds = 0;
	int i, open;

	for (i = 0; i < n; i++) {
		ids[i] = hcvg_connect(g, port, 1);
		if (ids[i] < 0)
			return GPROG_ECONN;
	}
	do {
		gprog_wait(g);
		if (hcvg_poll(g) < 0)
			return GPROG_ERECV;
		for (open = 0, i = 0; i < n; i++) {
			int st = hcvg_state(g, ids[i]);

			if (st == HCVG_S_CLOSED)
				return GPROG_ECONN;
			open += st == HCVG_S_ESTABLISHED;
		}
		if (++rounds >= GPROG_CONNECT_ROUNDS)
			return GPROG_ESPIN;
	} while (open < n);
	return 0;
}

int
gprog_echo_all(struct hcvg *g, const int *ids, int n, const uint8_t *out,
    uint8_t *back, uint32_t len)
{
	uint32_t sent[GPROG_MAX_CONNS] = { 0 }, got[GPROG_MAX_CONNS] = { 0 };
	unsigned rounds = 0;
	int i, done;
	long r;

	if (n > GPROG_MAX_CONNS)
		return GPROG_ECONN;
	do {
		for (done = 0, i = 0; i < n; i++) {
			const uint8_t *o = out + (size_t)i * len;
			uint8_t *b = back + (size_t)i * len;

			if (sent[i] < len) {
				r = hcvg_send(g, ids[i], o + sent[i],
				    len - sent[i], 1);
				if (r > 0)
					sent[i] += (uint32_t)r;
			}
			r = hcvg_recv(g, ids[i], b + got[i], len - got[i], 1);
			if (r > 0)
				got[i] += (uint32_t)r;
			done += got[i] == len;
		}
		gprog_wait(g);
		if (++rounds >= GPROG_ECHO_ROUNDS)
			return GPROG_ESPIN;
	} while (done < n);
	if (memcmp(out, back, (size_t)n * len) != 0)
		return GPROG_EDATA;
	return 0;
}

int
gprog_recv_to_eof(struct hcvg *g, int id, uint8_t *buf, uint32_t cap,
    uint32_t *got)
{
	long r;

	*got = 0;
	for (;;) {
		r = hcvg_recv(g, id, buf + *got, cap - *got, 0);
		if (r < 0)
			return GPROG_ERECV;
		if (r == 0)
			return 0;
		*got += (uint32_t)r;
	}
}

void
gprog_hdr(struct vsock_pkt_hdr *h, uint64_t cid, uint16_t op,
    uint32_t src_port, uint32_t dst_port)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = cid;
	h->dst_cid = VSOCK_CID_HOST;
	h->src_port = src_port;
	h->dst_port = dst_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
}

void
gprog_inject_tx(struct hcvg *g, const struct vsock_pkt_hdr *h, bool sync)
{
	uint8_t *slot = g->g_mb + HCVS_MBOX_HDR_SIZE +
	    (size_t)(g->g_tx_prod % g->g_tx_slots) * g->g_slot_size;

	vsock_hdr_encode(slot, h);
	g->g_tx_prod++;
	__atomic_store_n((uint32_t *)(void *)(g->g_mb + HCVS_MB_TX_PROD),
	    g->g_tx_prod, __ATOMIC_RELEASE);
	g->g_p->reg_write(g->g_p->ctx, sync ? HCVS_REG_DOORBELL_SYNC :
	    HCVS_REG_DOORBELL, 1);
}
