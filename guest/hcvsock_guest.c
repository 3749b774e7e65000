/* SPDX-License-Identifier: MIT */
/* Freestanding hcvsock guest driver: rings, vsock state machine, credit. */

#include "hcvsock_guest.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the hcvsock guest driver assumes a little-endian CPU"
#endif

#define HOST_CID	2u
#define FIRST_PORT	49152u
#define VS_STREAM	HCVG_STREAM
#define VS_SEQ		HCVG_SEQPACKET
#define SEQ_EOM		1u
#define SEQ_EOR		2u
#define OP_REQUEST	1u
#define OP_RESPONSE	2u
#define OP_RST		3u
#define OP_SHUTDOWN	4u
#define OP_RW		5u
#define OP_CREDIT_UPD	6u
#define OP_CREDIT_REQ	7u
#define SHUT_RCV	1u
#define SHUT_SEND	2u

struct pkt {
	uint64_t	src_cid;
	uint64_t	dst_cid;
	uint32_t	src_port;
	uint32_t	dst_port;
	uint32_t	len;
	uint16_t	type;
	uint16_t	op;
	uint32_t	flags;
	uint32_t	buf_alloc;
	uint32_t	fwd_cnt;
};

/* ---- Small freestanding helpers ------------------------------------------ */

/*
 * Payload copies run at memory speed: every stream byte crosses this
 * twice in the guest (slot <-> connection buffer <-> caller).  x86 has
 * fast string moves (ERMS); elsewhere words once both ends are aligned.
 * Never a libc call: the driver links against nothing.
 */
#if defined(__x86_64__) || defined(__i386__)
typedef uintptr_t __attribute__((may_alias, aligned(1))) uword_u;

static void
movsb(void *dst, const void *src, uint32_t n)
{
	uintptr_t cnt = n;

	__asm__ volatile("rep movsb"
	    : "+D"(dst), "+S"(src), "+c"(cnt) : : "memory");
}

/*
 * `rep movsb` runs at a tenth of its speed or less on AMD cores with fast
 * short moves (an EPYC here: 2-3 GB/s against 30) when the destination
 * is 1 to 31 bytes past the source modulo 4 KiB, a store that looks
 * like it overlaps the next loads.  Where a slot's payload and a
 * connection buffer meet that way a whole stream's copies do.  Such
 * copies (a cache line's range, for margin) go four words loaded before
 * four are stored.
 */
static void
copy(void *dst, const void *src, uint32_t n)
{
	volatile uword_u *d = dst;
	const uword_u *s = src;
	uword_u a, b, c, e;

	if ((((uintptr_t)dst - (uintptr_t)src) & 4095u) - 1u >= 63u) {
		movsb(dst, src, n);
		return;
	}
	for (; n >= 4 * sizeof(uintptr_t); n -= 4 * sizeof(uintptr_t)) {
		a = s[0];
		b = s[1];
		c = s[2];
		e = s[3];
		d[0] = a;
		d[1] = b;
		d[2] = c;
		d[3] = e;
		d += 4;
		s += 4;
	}
	movsb((void *)(uintptr_t)d, s, n);
}
#else
static void
copy(void *dst, const void *src, uint32_t n)
{
	volatile uint8_t *d = dst;
	const uint8_t *s = src;

	if ((((uintptr_t)d ^ (uintptr_t)s) & (sizeof(uintptr_t) - 1)) == 0) {
		while (n > 0 && ((uintptr_t)d & (sizeof(uintptr_t) - 1)) != 0) {
			*d++ = *s++;
			n--;
		}
		for (; n >= sizeof(uintptr_t); n -= sizeof(uintptr_t)) {
			*(volatile uintptr_t *)(volatile void *)d =
			    *(const uintptr_t *)(const void *)s;
			d += sizeof(uintptr_t);
			s += sizeof(uintptr_t);
		}
	}
	while (n-- > 0)
		*d++ = *s++;
}
#endif

static void
zero(void *dst, uint32_t n)
{
	volatile uint8_t *d = dst;

	while (n-- > 0)
		*d++ = 0;
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t
get32(const uint8_t *p)
{
	return get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static inline uint64_t
get64(const uint8_t *p)
{
	return get32(p) | ((uint64_t)get32(p + 4) << 32);
}

/* Mailbox indices: single aligned 32-bit accesses. */
static inline uint32_t
mb_load(const struct hcvg *g, uint32_t off)
{
	return *(const volatile uint32_t *)(const void *)(g->g_mb + off);
}

static inline void
mb_store(struct hcvg *g, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(void *)(g->g_mb + off) = v;
}

static void
fence(const struct hcvg *g)
{
	if (g->g_p->mb != NULL)
		g->g_p->mb(g->g_p->ctx);
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline void
rel(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void
acq(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

static uint32_t
cmd(const struct hcvg_platform *p, uint32_t c, uint32_t a0, uint32_t a1,
    uint32_t a2, uint32_t a3)
{
	p->reg_write(p->ctx, HCVS_REG_ARG0, a0);
	p->reg_write(p->ctx, HCVS_REG_ARG1, a1);
	p->reg_write(p->ctx, HCVS_REG_ARG2, a2);
	p->reg_write(p->ctx, HCVS_REG_ARG3, a3);
	p->reg_write(p->ctx, HCVS_REG_CMD, c);
	return p->reg_read(p->ctx, HCVS_REG_CMD);
}

static void
wait(struct hcvg *g)
{
	if (g->g_p->wait != NULL)
		g->g_p->wait(g->g_p->ctx);
}

/* ---- Probe and set-up ------------------------------------------------------ */

int
hcvg_probe(const struct hcvg_platform *p, uint32_t *version)
{
	uint32_t magic, ver;

	magic = p->reg_read(p->ctx, HCVS_REG_MAGIC);
	if (magic != HCVS_MAGIC)
		return -HCVG_ENODEV;
	ver = p->reg_read(p->ctx, HCVS_REG_VERSION);
	if ((ver >> 16) != HCVS_VERSION_MAJOR)
		return -HCVG_EPROTO;
	if (version != NULL)
		*version = ver;
	return 0;
}

static int
err_of(uint32_t res)
{
	switch (res) {
	case HCVS_ERR_OK:
		return 0;
	case HCVS_ERR_UNSUPPORTED:
		return -HCVG_ENODEV;
	case HCVS_ERR_BAD_ADDRESS:
	case HCVS_ERR_BAD_MAILBOX:
	case HCVS_ERR_BAD_ARG:
		return -HCVG_EINVAL;
	default:
		return -HCVG_EIO;
	}
}

/* The end of either protocol's set-up: SET_NOTIFY unless polling, ENABLE. */
static int
notify_and_enable(const struct hcvg_platform *p, uint32_t mode,
    const uint32_t args[3])
{
	uint32_t res;

	if (mode != HCVS_IRQ_NONE) {
		res = cmd(p, HCVS_CMD_SET_NOTIFY, mode, args[0], args[1],
		    args[2]);
		if (res != HCVS_ERR_OK)
			return err_of(res);
	}
	return err_of(cmd(p, HCVS_CMD_ENABLE, 0, 0, 0, 0));
}

int
hcvg_init(struct hcvg *g, const struct hcvg_cfg *cfg)
{
	const struct hcvg_platform *p = cfg->plat;
	uint32_t tx = cfg->tx_slots ? cfg->tx_slots : 8;
	uint32_t rx = cfg->rx_slots ? cfg->rx_slots : 8;
	uint32_t slot = cfg->slot_size ? cfg->slot_size : 4096;
	uint32_t feats, want, res;
	uint64_t phys;
	uint8_t *mb = cfg->mem;
	int rc;

	zero(g, sizeof(*g));
	if (p == NULL || p->reg_read == NULL || p->reg_write == NULL ||
	    mb == NULL || ((uintptr_t)mb & (HCVS_MBOX_ALIGN - 1)) != 0 ||
	    (tx & (tx - 1)) != 0 || tx > HCVS_RING_MAX_SLOTS ||
	    (rx & (rx - 1)) != 0 || rx > HCVS_RING_MAX_SLOTS ||
	    slot < HCVS_SLOT_MIN || slot > HCVS_SLOT_MAX || (slot & 3) != 0 ||
	    (uint64_t)HCVS_MBOX_HDR_SIZE + (uint64_t)(tx + rx) * slot >
	    cfg->mem_size || cfg->conns == NULL || cfg->nconns == 0)
		return -HCVG_EINVAL;
	rc = hcvg_probe(p, NULL);
	if (rc < 0)
		return rc;

	g->g_p = p;
	g->g_mb = mb;
	g->g_tx_slots = tx;
	g->g_rx_slots = rx;
	g->g_slot_size = slot;
	g->g_conns = cfg->conns;
	g->g_nconns = cfg->nconns;
	g->g_wait_limit = cfg->wait_limit ? cfg->wait_limit : 1000000u;
	g->g_next_port = FIRST_PORT;
	g->g_irq_mode = cfg->irq_mode;
	zero(cfg->conns, (uint32_t)(sizeof(*cfg->conns) * cfg->nconns));

	if (cmd(p, HCVS_CMD_RESET, 0, 0, 0, 0) != HCVS_ERR_OK)
		return -HCVG_EIO;
	res = cmd(p, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0, 0, 0);
	if (res != HCVS_ERR_OK)
		return err_of(res);
	feats = p->reg_read(p->ctx, HCVS_REG_HOST_FEATURES);
	want = HCVS_F_STREAM;
	if (feats & HCVS_F_SEQPACKET)
		want |= HCVS_F_SEQPACKET;
	if (cfg->sync_doorbell && (feats & HCVS_F_SYNC_DOORBELL))
		want |= HCVS_F_SYNC_DOORBELL;
	want |= feats & HCVS_F_LAZY_CREDIT;
	if (cfg->evtchn_kick && !(want & HCVS_F_SYNC_DOORBELL) &&
	    cfg->irq_mode == HCVS_IRQ_EVTCHN && p->evtchn_send != 0)
		want |= feats & HCVS_F_EVTCHN_KICK;
	res = cmd(p, HCVS_CMD_SET_FEATURES, want, 0, 0, 0);
	if (res != HCVS_ERR_OK)
		return err_of(res);
	g->g_features = want;
	g->g_sync = (want & HCVS_F_SYNC_DOORBELL) != 0;
	g->g_lazy = (want & HCVS_F_LAZY_CREDIT) != 0;
	g->g_kick_port = (want & HCVS_F_EVTCHN_KICK) ? cfg->irq_args[0] : 0;

	zero(mb, HCVS_MBOX_HDR_SIZE);
	put32(mb + HCVS_MB_MAGIC, HCVS_MBOX_MAGIC);
	put32(mb + HCVS_MB_VERSION, HCVS_MBOX_VERSION);
	put32(mb + HCVS_MB_TX_SLOTS, tx);
	put32(mb + HCVS_MB_RX_SLOTS, rx);
	put32(mb + HCVS_MB_SLOT_SIZE, slot);
	put32(mb + HCVS_MB_TX_OFF, HCVS_MBOX_HDR_SIZE);
	put32(mb + HCVS_MB_RX_OFF, HCVS_MBOX_HDR_SIZE + tx * slot);
	/*
	 * Polling, or RX interrupts only for a wait (rx_irq_in_wait): none
	 * while the driver runs.
	 */
	g->g_rx_irq_in_wait = cfg->irq_mode != HCVS_IRQ_NONE &&
	    cfg->rx_irq_in_wait;
	g->g_gflags = cfg->irq_mode == HCVS_IRQ_NONE || g->g_rx_irq_in_wait ?
	    HCVS_GF_RX_NO_IRQ : 0;
	put32(mb + HCVS_MB_GUEST_FLAGS, g->g_gflags);
	fence(g);
	phys = p->virt_to_phys != NULL ? p->virt_to_phys(p->ctx, mb) :
	    (uint64_t)(uintptr_t)mb;
	res = cmd(p, HCVS_CMD_SET_MAILBOX, (uint32_t)phys,
	    (uint32_t)(phys >> 32), hcvg_mem_needed(tx, rx, slot), 0);
	if (res != HCVS_ERR_OK)
		return err_of(res);
	rc = notify_and_enable(p, cfg->irq_mode, cfg->irq_args);
	if (rc < 0)
		return rc;
	g->g_cid = mb_load(g, HCVS_MB_CID_LO) |
	    ((uint64_t)mb_load(g, HCVS_MB_CID_HI) << 32);
	g->g_epoch = mb_load(g, HCVS_MB_EPOCH);
	return 0;
}

int
hcvg_backend_domain(const struct hcvg_platform *p, uint32_t *domid)
{
	uint32_t res = cmd(p, HCVS_CMD_GET_BACKEND, 0, 0, 0, 0);

	*domid = 0;
	if (res == HCVS_ERR_UNKNOWN_CMD)
		return 0;
	if (res != HCVS_ERR_OK)
		return res == HCVS_ERR_UNSUPPORTED ? -HCVG_ENODEV : err_of(res);
	*domid = p->reg_read(p->ctx, HCVS_REG_ARG0);
	return 0;
}

void
hcvg_fini(struct hcvg *g)
{
	if (g->g_p != NULL)
		(void)cmd(g->g_p, HCVS_CMD_RESET, 0, 0, 0, 0);
	g->g_p = NULL;
}

uint64_t
hcvg_cid(const struct hcvg *g)
{
	return g->g_cid;
}

const struct hcvg_stats *
hcvg_stats(const struct hcvg *g)
{
	return &g->g_st;
}

/* ---- TX ------------------------------------------------------------------- */

static void
kick(struct hcvg *g)
{
	g->g_kick_due = 0;
	g->g_unrung = 0;
	g->g_st.gs_kicks++;
	/* A dead port (closed behind our back) still has the register. */
	if (g->g_kick_port != 0 &&
	    g->g_p->evtchn_send(g->g_p->ctx, g->g_kick_port) == 0) {
		g->g_st.gs_evtchn_kicks++;
		return;
	}
	g->g_p->reg_write(g->g_p->ctx, g->g_sync ? HCVS_REG_DOORBELL_SYNC :
	    HCVS_REG_DOORBELL, HCVS_DOORBELL_KICK);
}

static uint32_t
tx_free(const struct hcvg *g)
{
	return g->g_tx_slots - (g->g_tx_prod - mb_load(g, HCVS_MB_TX_CONS));
}

static uint32_t
payload_cap(const struct hcvg *g)
{
	return g->g_slot_size - HCVS_SLOT_HDR;
}

static void
gflags_set(struct hcvg *g, uint32_t flags)
{
	if (flags == g->g_gflags)
		return;
	g->g_gflags = flags;
	mb_store(g, HCVS_MB_GUEST_FLAGS, flags);
	fence(g);
}

/* Ring the doorbell for deferred TX entries unless the host waives it. */
static void
flush(struct hcvg *g)
{
	if (!g->g_kick_due)
		return;
	fence(g);
	if (mb_load(g, HCVS_MB_HOST_FLAGS) & HCVS_HF_TX_NO_KICK) {
		g->g_kick_due = 0;
		g->g_unrung = 0;
	} else {
		kick(g);
	}
}

/*
 * Wait for a free TX slot.  0, -HCVG_ECONNRESET (transport reset: a host
 * that stops or restarts never consumes what is queued), -HCVG_EIO
 * (device halted) or -HCVG_ETIMEDOUT.  An interrupt-driven guest that
 * sleeps in wait() asks to be woken when slots come back.  EPOCH is only
 * compared here, not taken: hcvg_poll() resets the connections.
 */
static int
tx_wait(struct hcvg *g)
{
	uint32_t n, saved = g->g_gflags;
	int rc = 0;

	for (n = 0; tx_free(g) == 0; n++) {
		if (mb_load(g, HCVS_MB_EPOCH) != g->g_epoch) {
			rc = -HCVG_ECONNRESET;
			break;
		}
		if (g->g_error != 0 || mb_load(g, HCVS_MB_ERROR) != 0) {
			rc = -HCVG_EIO;
			break;
		}
		if (n >= g->g_wait_limit) {
			rc = -HCVG_ETIMEDOUT;
			break;
		}
		if (g->g_irq_mode != HCVS_IRQ_NONE) {
			gflags_set(g, saved | HCVS_GF_TX_WANT_IRQ);
			/* Re-check after the flag is visible: no lost wake-up. */
			if (tx_free(g) != 0)
				break;
		}
		/*
		 * Ring only for entries the host was not told about and has
		 * not promised to look at (TX_NO_KICK): a full ring that the
		 * host is draining needs no doorbell per freed slot.  Lazy
		 * entries count: unrung, they would fill the ring for good.
		 * The synchronous doorbell is what drains the ring, so it
		 * rings.
		 */
		if (g->g_unrung)
			g->g_kick_due = 1;
		if (g->g_sync)
			kick(g);
		else
			flush(g);
		wait(g);
	}
	gflags_set(g, saved);
	return rc;
}

/*
 * When a published packet rings the doorbell.  TX_DEFER waits for
 * flush(): a stream of RW packets costs one kick per batch, not one per
 * packet.  TX_LAZY (LAZY_CREDIT only) does not ring at all: the host
 * reads the entry on its next pass, which it makes while it has data for
 * us; a host that ran out of credit asks (CREDIT_REQUEST) instead.
 */
enum tx_ring {
	TX_NOW,
	TX_DEFER,
	TX_LAZY,
};

/* Publish one packet. */
static int
tx_put(struct hcvg *g, const struct pkt *h, const void *payload,
    enum tx_ring when)
{
	uint8_t *s;
	int rc;

	rc = tx_wait(g);
	if (rc < 0)
		return rc;
	acq();
	s = g->g_mb + HCVS_MBOX_HDR_SIZE +
	    (g->g_tx_prod & (g->g_tx_slots - 1)) * g->g_slot_size;
	put64(s + 0, h->src_cid);
	put64(s + 8, h->dst_cid);
	put32(s + 16, h->src_port);
	put32(s + 20, h->dst_port);
	put32(s + 24, h->len);
	put16(s + 28, h->type);
	put16(s + 30, h->op);
	put32(s + 32, h->flags);
	put32(s + 36, h->buf_alloc);
	put32(s + 40, h->fwd_cnt);
	if (h->len > 0)
		copy(s + HCVS_SLOT_HDR, payload, h->len);
	rel();
	g->g_tx_prod++;
	mb_store(g, HCVS_MB_TX_PROD, g->g_tx_prod);
	g->g_st.gs_tx_pkts++;
	if (when == TX_LAZY) {
		g->g_unrung = 1;
		return 0;
	}
	g->g_kick_due = 1;
	if (when == TX_NOW)
		flush(g);
	return 0;
}

/* A packet on connection c: fills addressing and credit. */
static int
conn_send_when(struct hcvg *g, struct hcvg_conn *c, uint16_t op,
    uint32_t flags, const void *payload, uint32_t len, enum tx_ring when)
{
	struct pkt h;
	int rc;

	h.src_cid = g->g_cid;
	h.dst_cid = c->c_rcid;
	h.src_port = c->c_lport;
	h.dst_port = c->c_rport;
	h.len = len;
	h.type = c->c_type;
	h.op = op;
	h.flags = flags;
	h.buf_alloc = HCVG_CONN_BUF;
	h.fwd_cnt = c->c_fwd_cnt;
	rc = tx_put(g, &h, payload, when);
	if (rc == 0)
		c->c_fwd_sent = c->c_fwd_cnt;
	else if (op != OP_RW)
		g->g_st.gs_dropped++;
	if (rc == 0 && op == OP_RST)
		g->g_st.gs_rst_tx++;
	return rc;
}

static int
conn_send(struct hcvg *g, struct hcvg_conn *c, uint16_t op, uint32_t flags,
    const void *payload, uint32_t len)
{
	return conn_send_when(g, c, op, flags, payload, len,
	    op == OP_RW ? TX_DEFER : TX_NOW);
}

/* RST for a packet that matches no connection. */
static void
reply_rst(struct hcvg *g, const struct pkt *in)
{
	struct pkt h;

	zero(&h, sizeof(h));
	h.src_cid = g->g_cid;
	h.dst_cid = in->src_cid;
	h.src_port = in->dst_port;
	h.dst_port = in->src_port;
	h.type = in->type;
	h.op = OP_RST;
	if (tx_put(g, &h, (const void *)0, TX_NOW) == 0)
		g->g_st.gs_rst_tx++;
	else
		g->g_st.gs_dropped++;
}

/* ---- RX ------------------------------------------------------------------- */

static struct hcvg_conn *
conn_find(struct hcvg *g, uint32_t lport, uint32_t rport)
{
	unsigned i;

	for (i = 0; i < g->g_nconns; i++) {
		struct hcvg_conn *c = &g->g_conns[i];

		if (c->c_state != HCVG_S_FREE && c->c_lport == lport &&
		    c->c_rport == rport)
			return c;
	}
	return (struct hcvg_conn *)0;
}

static struct hcvg_conn *
conn_alloc(struct hcvg *g)
{
	unsigned i;

	for (i = 0; i < g->g_nconns; i++) {
		if (g->g_conns[i].c_state == HCVG_S_FREE) {
			zero(&g->g_conns[i], (uint32_t)(sizeof(g->g_conns[i]) -
			    HCVG_CONN_BUF));
			return &g->g_conns[i];
		}
	}
	return (struct hcvg_conn *)0;
}

/* The type listened for on port, 0 if none. */
static uint16_t
listening(const struct hcvg *g, uint32_t port)
{
	unsigned i;

	for (i = 0; i < g->g_nlisten; i++)
		if (g->g_listen[i] == port)
			return g->g_listen_type[i];
	return 0;
}

static int
type_ok(const struct hcvg *g, uint16_t type)
{
	return type == VS_STREAM ||
	    (type == VS_SEQ && (g->g_features & HCVS_F_SEQPACKET));
}

static void
conn_reset(struct hcvg_conn *c)
{
	c->c_state = HCVG_S_CLOSED;
	c->c_reset = 1;
}

static void
eom_set(struct hcvg_conn *c, uint32_t i)
{
	c->c_rx_eom[i / 8] = (uint8_t)(c->c_rx_eom[i / 8] | (1u << (i % 8)));
}

static int
eom_test_clear(struct hcvg_conn *c, uint32_t i)
{
	uint8_t bit = (uint8_t)(1u << (i % 8));

	if (!(c->c_rx_eom[i / 8] & bit))
		return 0;
	c->c_rx_eom[i / 8] = (uint8_t)(c->c_rx_eom[i / 8] & ~bit);
	return 1;
}

/* Bytes of the first complete message in c_rx, 0 if none is. */
static uint32_t
eom_find(const struct hcvg_conn *c)
{
	uint32_t k, i;

	for (k = 0; k < c->c_rx_len; k++) {
		i = (c->c_rx_head + k) % HCVG_CONN_BUF;
		if (c->c_rx_eom[i / 8] == 0) {
			/* Skip the rest of an empty bitmap byte. */
			k += 7 - i % 8;
			continue;
		}
		if (c->c_rx_eom[i / 8] & (1u << (i % 8)))
			return k + 1;
	}
	return 0;
}

static void
rx_data(struct hcvg *g, struct hcvg_conn *c, const uint8_t *data, uint32_t len,
    uint32_t flags)
{
	uint32_t tail, first;
	int eom = c->c_type == VS_SEQ && (flags & SEQ_EOM);

	if (c->c_skip) {
		/* The tail of a message already delivered truncated. */
		if (len > HCVG_CONN_BUF - c->c_rx_len) {
			(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
			conn_reset(c);
			return;
		}
		c->c_fwd_cnt += len;
		if (eom)
			c->c_skip = 0;
		return;
	}
	if (len > HCVG_CONN_BUF - c->c_rx_len ||
	    (c->c_local_shut & SHUT_RCV)) {
		/* The host overran our credit (or we stopped reading). */
		(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
		conn_reset(c);
		return;
	}
	tail = (c->c_rx_head + c->c_rx_len) % HCVG_CONN_BUF;
	first = HCVG_CONN_BUF - tail;
	if (first > len)
		first = len;
	copy(c->c_rx + tail, data, first);
	copy(c->c_rx, data + first, len - first);
	c->c_rx_len += len;
	/* An empty RW with EOM ends what came before; alone it is nothing. */
	if (eom && c->c_rx_len > 0)
		eom_set(c, (c->c_rx_head + c->c_rx_len - 1) % HCVG_CONN_BUF);
}

static uint32_t
peer_free(const struct hcvg_conn *c)
{
	uint32_t used = c->c_tx_cnt - c->c_peer_fwd;

	return used >= c->c_peer_buf ? 0 : c->c_peer_buf - used;
}

static void
rx_packet(struct hcvg *g, const struct pkt *h, const uint8_t *data)
{
	struct hcvg_conn *c;

	if (!type_ok(g, h->type) || h->dst_cid != g->g_cid) {
		g->g_st.gs_bad_rx++;
		if (h->op != OP_RST)
			reply_rst(g, h);
		return;
	}
	c = conn_find(g, h->dst_port, h->src_port);
	if (c == (struct hcvg_conn *)0 || c->c_state == HCVG_S_CLOSED) {
		if (h->op == OP_RST)
			return;
		if (c == (struct hcvg_conn *)0 && h->op == OP_REQUEST &&
		    listening(g, h->dst_port) == h->type &&
		    (c = conn_alloc(g)) != (struct hcvg_conn *)0) {
			c->c_state = HCVG_S_ESTABLISHED;
			c->c_type = h->type;
			c->c_lport = h->dst_port;
			c->c_rport = h->src_port;
			c->c_rcid = h->src_cid;
			c->c_peer_buf = h->buf_alloc;
			c->c_peer_fwd = h->fwd_cnt;
			c->c_accept = 1;
			(void)conn_send(g, c, OP_RESPONSE, 0, (const void *)0, 0);
			return;
		}
		reply_rst(g, h);
		return;
	}
	if (h->type != c->c_type) {
		/* The other type on a live pair. */
		g->g_st.gs_bad_rx++;
		if (h->op != OP_RST)
			reply_rst(g, h);
		return;
	}
	c->c_peer_buf = h->buf_alloc;
	c->c_peer_fwd = h->fwd_cnt;
	/* Ask again only once the peer really gave credit back. */
	if (peer_free(c) > 0)
		c->c_credit_req = 0;
	switch (h->op) {
	case OP_RESPONSE:
		if (c->c_state == HCVG_S_CONNECTING) {
			c->c_state = HCVG_S_ESTABLISHED;
			break;
		}
		(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
		conn_reset(c);
		break;
	case OP_RW:
		if (c->c_state != HCVG_S_ESTABLISHED) {
			(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
			conn_reset(c);
			break;
		}
		rx_data(g, c, data, h->len, h->flags);
		break;
	case OP_CREDIT_UPD:
		break;
	case OP_CREDIT_REQ:
		/*
		 * The host waits for credit and makes no pass until rung.
		 * If this answer grants none (our buffer is full), the next
		 * update must ring too: lazy ones would never be read.
		 */
		if (conn_send(g, c, OP_CREDIT_UPD, 0, (const void *)0, 0) < 0 ||
		    c->c_rx_len >= HCVG_CONN_BUF)
			c->c_host_wait = (uint8_t)g->g_lazy;
		break;
	case OP_SHUTDOWN:
		c->c_peer_shut |= (uint8_t)(h->flags & (SHUT_RCV | SHUT_SEND));
		break;
	case OP_RST:
		g->g_st.gs_rst_rx++;
		conn_reset(c);
		break;
	default:
		/* REQUEST on a live flow, or an op we do not know. */
		(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
		conn_reset(c);
		break;
	}
}

static void
transport_reset(struct hcvg *g)
{
	unsigned i;

	g->g_st.gs_resets++;
	for (i = 0; i < g->g_nconns; i++)
		if (g->g_conns[i].c_state != HCVG_S_FREE)
			conn_reset(&g->g_conns[i]);
}

int
hcvg_poll(struct hcvg *g)
{
	uint32_t prod, n = 0, limit = 4 * g->g_rx_slots, epoch;
	const uint8_t *s;
	struct pkt h;

	if (g->g_error != 0)
		return -HCVG_EIO;
	if (g->g_in_poll)
		return 0;
	g->g_in_poll = 1;
	epoch = mb_load(g, HCVS_MB_EPOCH);
	if (epoch != g->g_epoch) {
		g->g_epoch = epoch;
		transport_reset(g);
	}
	while (n < limit) {
		prod = mb_load(g, HCVS_MB_RX_PROD);
		if (prod == g->g_rx_cons)
			break;
		if (prod - g->g_rx_cons > g->g_rx_slots) {
			g->g_st.gs_bad_rx++;
			g->g_error = HCVS_ERR_BAD_INDEX;
			break;
		}
		acq();
		/*
		 * A re-attaching host writes EPOCH before it produces anything
		 * (the RSTs for the dead connections first): read after RX_PROD,
		 * the reset is seen before the entries that follow it.
		 */
		epoch = mb_load(g, HCVS_MB_EPOCH);
		if (epoch != g->g_epoch) {
			g->g_epoch = epoch;
			transport_reset(g);
		}
		s = g->g_mb + HCVS_MBOX_HDR_SIZE + g->g_tx_slots * g->g_slot_size +
		    (g->g_rx_cons & (g->g_rx_slots - 1)) * g->g_slot_size;
		h.src_cid = get64(s + 0);
		h.dst_cid = get64(s + 8);
		h.src_port = get32(s + 16);
		h.dst_port = get32(s + 20);
		h.len = get32(s + 24);
		h.type = get16(s + 28);
		h.op = get16(s + 30);
		h.flags = get32(s + 32);
		h.buf_alloc = get32(s + 36);
		h.fwd_cnt = get32(s + 40);
		g->g_st.gs_rx_pkts++;
		if (h.len > payload_cap(g) || (h.op != OP_RW && h.len != 0))
			g->g_st.gs_bad_rx++;
		else
			rx_packet(g, &h, s + HCVS_SLOT_HDR);
		rel();
		g->g_rx_cons++;
		mb_store(g, HCVS_MB_RX_CONS, g->g_rx_cons);
		n++;
	}
	if (n > 0) {
		fence(g);
		if (mb_load(g, HCVS_MB_HOST_FLAGS) & HCVS_HF_RX_WANT_KICK)
			kick(g);
	}
	if (mb_load(g, HCVS_MB_ERROR) != 0)
		g->g_error = (int)mb_load(g, HCVS_MB_ERROR);
	g->g_in_poll = 0;
	return g->g_error != 0 ? -HCVG_EIO : (int)n;
}

uint32_t
hcvg_irq(struct hcvg *g)
{
	uint32_t isr = g->g_p->reg_read(g->g_p->ctx, HCVS_REG_ISR);

	(void)hcvg_poll(g);
	return isr;
}

/*
 * One step of a blocking loop: let the host run, then look at RX.  With
 * rx_irq_in_wait the RX interrupt is on for a wait that sleeps only;
 * entries that came before it was on are seen by the look after it
 * (PROTOCOL.md 9.2).
 */
static int
step(struct hcvg *g, uint32_t *n)
{
	const struct hcvg_platform *p = g->g_p;
	uint32_t on;

	if (++*n > g->g_wait_limit)
		return -HCVG_ETIMEDOUT;
	flush(g);
	if (g->g_rx_irq_in_wait &&
	    (p->will_sleep == NULL || p->will_sleep(p->ctx))) {
		on = g->g_gflags & ~HCVS_GF_RX_NO_IRQ;
		gflags_set(g, on);
		if (mb_load(g, HCVS_MB_RX_PROD) == g->g_rx_cons)
			wait(g);
		gflags_set(g, on | HCVS_GF_RX_NO_IRQ);
	} else {
		wait(g);
	}
	if (hcvg_poll(g) < 0)
		return -HCVG_EIO;
	return 0;
}

/* ---- Sockets -------------------------------------------------------------- */

static struct hcvg_conn *
conn_get(struct hcvg *g, int id)
{
	if (id < 0 || (unsigned)id >= g->g_nconns ||
	    g->g_conns[id].c_state == HCVG_S_FREE)
		return (struct hcvg_conn *)0;
	return &g->g_conns[id];
}

enum hcvg_state
hcvg_state(const struct hcvg *g, int id)
{
	if (id < 0 || (unsigned)id >= g->g_nconns)
		return HCVG_S_FREE;
	return (enum hcvg_state)g->g_conns[id].c_state;
}

int
hcvg_listen_type(struct hcvg *g, uint32_t port, uint16_t type)
{
	if (!type_ok(g, type))
		return -HCVG_EINVAL;
	if (listening(g, port))
		return -HCVG_EADDRINUSE;
	if (g->g_nlisten == HCVG_MAX_LISTEN)
		return -HCVG_ENOSPC;
	g->g_listen[g->g_nlisten] = port;
	g->g_listen_type[g->g_nlisten] = type;
	g->g_nlisten++;
	return 0;
}

int
hcvg_listen(struct hcvg *g, uint32_t port)
{
	return hcvg_listen_type(g, port, VS_STREAM);
}

int
hcvg_unlisten(struct hcvg *g, uint32_t port)
{
	unsigned i;

	for (i = 0; i < g->g_nlisten; i++) {
		if (g->g_listen[i] == port) {
			g->g_nlisten--;
			g->g_listen[i] = g->g_listen[g->g_nlisten];
			g->g_listen_type[i] = g->g_listen_type[g->g_nlisten];
			return 0;
		}
	}
	return -HCVG_EINVAL;
}

int
hcvg_accept(struct hcvg *g, uint32_t port, int nonblock)
{
	uint32_t n = 0;
	unsigned i;
	int rc;

	if (!listening(g, port))
		return -HCVG_EINVAL;
	for (;;) {
		if (hcvg_poll(g) < 0)
			return -HCVG_EIO;
		for (i = 0; i < g->g_nconns; i++) {
			struct hcvg_conn *c = &g->g_conns[i];

			if (c->c_state != HCVG_S_FREE && c->c_accept &&
			    c->c_lport == port) {
				c->c_accept = 0;
				return (int)i;
			}
		}
		if (nonblock)
			return -HCVG_EAGAIN;
		rc = step(g, &n);
		if (rc < 0)
			return rc;
	}
}

static uint32_t
port_alloc(struct hcvg *g, uint32_t rport)
{
	uint32_t p;

	do {
		p = g->g_next_port++;
		if (g->g_next_port == 0)
			g->g_next_port = FIRST_PORT;
	} while (conn_find(g, p, rport) != (struct hcvg_conn *)0 ||
	    listening(g, p));
	return p;
}

int
hcvg_connect(struct hcvg *g, uint32_t port, int nonblock)
{
	return hcvg_connect_type(g, port, VS_STREAM, nonblock);
}

int
hcvg_connect_type(struct hcvg *g, uint32_t port, uint16_t type, int nonblock)
{
	struct hcvg_conn *c;
	uint32_t n = 0;
	int id, rc;

	if (!type_ok(g, type))
		return -HCVG_EINVAL;
	c = conn_alloc(g);
	if (c == (struct hcvg_conn *)0)
		return -HCVG_EMFILE;
	c->c_lport = port_alloc(g, port);
	c->c_rport = port;
	c->c_rcid = HOST_CID;
	c->c_type = type;
	c->c_state = HCVG_S_CONNECTING;
	id = (int)(c - g->g_conns);
	rc = conn_send(g, c, OP_REQUEST, 0, (const void *)0, 0);
	if (rc < 0) {
		c->c_state = HCVG_S_FREE;
		return rc;
	}
	if (nonblock)
		return id;
	for (;;) {
		if (hcvg_poll(g) < 0)
			return -HCVG_EIO;
		if (c->c_state == HCVG_S_ESTABLISHED)
			return id;
		if (c->c_state == HCVG_S_CLOSED) {
			c->c_state = HCVG_S_FREE;
			return -HCVG_ECONNREFUSED;
		}
		rc = step(g, &n);
		if (rc < 0) {
			(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
			c->c_state = HCVG_S_FREE;
			return rc;
		}
	}
}

/*
 * STREAM: as many bytes as go.  msg (SEQPACKET): one message, EOM and
 * EOR on its last packet; it never ends early but in error.
 */
static long
send_inner(struct hcvg *g, struct hcvg_conn *c, const void *buf, uint32_t len,
    int nonblock, int msg)
{
	const uint8_t *p = buf;
	uint32_t done = 0, chunk, n = 0;
	int rc;

	while (done < len) {
		if (c->c_reset)
			return done > 0 ? (long)done : -HCVG_ECONNRESET;
		if (c->c_state != HCVG_S_ESTABLISHED)
			return done > 0 ? (long)done : -HCVG_ENOTCONN;
		if ((c->c_local_shut & SHUT_SEND) ||
		    (c->c_peer_shut & SHUT_RCV))
			return done > 0 ? (long)done : -HCVG_EPIPE;
		chunk = len - done;
		if (chunk > payload_cap(g))
			chunk = payload_cap(g);
		if (chunk > peer_free(c))
			chunk = peer_free(c);
		if (chunk > 0 && tx_free(g) > 0) {
			rc = conn_send(g, c, OP_RW, msg && done + chunk == len ?
			    SEQ_EOM | SEQ_EOR : 0, p + done, chunk);
			if (rc < 0)
				return done > 0 ? (long)done : rc;
			c->c_tx_cnt += chunk;
			done += chunk;
			continue;
		}
		if (chunk == 0 && !c->c_credit_req) {
			/* Out of credit: ask once, then wait for an update. */
			c->c_credit_req = 1;
			(void)conn_send(g, c, OP_CREDIT_REQ, 0, (const void *)0, 0);
		}
		if (nonblock && !(msg && done > 0)) {
			if (hcvg_poll(g) < 0)
				return -HCVG_EIO;
			if (done > 0)
				break;
			return -HCVG_EAGAIN;
		}
		if (chunk > 0) {
			/* Credit but no slot: wait for the host to drain TX. */
			rc = tx_wait(g);
			if (rc == 0)
				rc = hcvg_poll(g) < 0 ? -HCVG_EIO : 0;
		} else {
			rc = step(g, &n);
		}
		if (rc < 0)
			return done > 0 ? (long)done : rc;
	}
	return (long)done;
}

long
hcvg_send_msg(struct hcvg *g, int id, const void *buf, uint32_t len,
    int nonblock)
{
	struct hcvg_conn *c = conn_get(g, id);
	long r;

	if (c == (struct hcvg_conn *)0 || c->c_type != VS_SEQ)
		return -HCVG_EINVAL;
	if (c->c_state == HCVG_S_ESTABLISHED && !c->c_reset &&
	    len > c->c_peer_buf)
		return -HCVG_EMSGSIZE;
	if (len == 0)
		return 0;
	if (nonblock && c->c_state == HCVG_S_ESTABLISHED && !c->c_reset &&
	    peer_free(c) < len) {
		if (!c->c_credit_req) {
			c->c_credit_req = 1;
			(void)conn_send(g, c, OP_CREDIT_REQ, 0, (const void *)0, 0);
			flush(g);
		}
		return -HCVG_EAGAIN;
	}
	r = send_inner(g, c, buf, len, nonblock, 1);
	if (r >= 0 && (uint32_t)r != len) {
		/* Half a message must not pass for a whole one. */
		if (!c->c_reset && c->c_state == HCVG_S_ESTABLISHED)
			(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
		conn_reset(c);
		r = -HCVG_ECONNRESET;
	}
	flush(g);
	return r;
}

long
hcvg_send(struct hcvg *g, int id, const void *buf, uint32_t len,
    int nonblock)
{
	struct hcvg_conn *c = conn_get(g, id);
	long r;

	if (c == (struct hcvg_conn *)0)
		return -HCVG_EINVAL;
	if (c->c_type == VS_SEQ)
		return hcvg_send_msg(g, id, buf, len, nonblock);
	r = send_inner(g, c, buf, len, nonblock, 0);
	/* One doorbell for everything this call published. */
	flush(g);
	return r;
}

static int
rx_ended(const struct hcvg_conn *c)
{
	return c->c_reset || (c->c_peer_shut & SHUT_SEND) ||
	    (c->c_local_shut & SHUT_RCV);
}

/*
 * Wait until there is something to return (SEQPACKET: a whole message,
 * or as much of one as can ever come): 1, else what the caller returns.
 */
static long
recv_wait(struct hcvg *g, struct hcvg_conn *c, int nonblock)
{
	uint32_t n = 0;
	int rc;

	for (;;) {
		if (hcvg_poll(g) < 0)
			return -HCVG_EIO;
		if (c->c_rx_len > 0 && (c->c_type != VS_SEQ || eom_find(c) > 0 ||
		    c->c_rx_len == HCVG_CONN_BUF || rx_ended(c)))
			return 1;
		if (c->c_rx_len == 0) {
			/* As Linux: a reset established stream reads as EOF. */
			if (c->c_reset)
				return 0;
			if (c->c_state == HCVG_S_CONNECTING) {
				if (nonblock)
					return -HCVG_EAGAIN;
			} else if (c->c_state != HCVG_S_ESTABLISHED) {
				return -HCVG_ENOTCONN;
			}
			if (rx_ended(c))
				return 0;
		}
		if (nonblock)
			return -HCVG_EAGAIN;
		rc = step(g, &n);
		if (rc < 0)
			return rc;
	}
}

/* Copy take bytes out, then drop `used` (>= take) from the buffer. */
static void
rx_consume(struct hcvg *g, struct hcvg_conn *c, uint8_t *out, uint32_t take,
    uint32_t used)
{
	uint32_t first = HCVG_CONN_BUF - c->c_rx_head;

	if (first > take)
		first = take;
	copy(out, c->c_rx + c->c_rx_head, first);
	copy(out + first, c->c_rx, take - first);
	if (used > 0)
		(void)eom_test_clear(c, (c->c_rx_head + used - 1) % HCVG_CONN_BUF);
	c->c_rx_head = (c->c_rx_head + used) % HCVG_CONN_BUF;
	c->c_rx_len -= used;
	c->c_fwd_cnt += used;
	/*
	 * Proactive credit: the host must not stall on a stale fwd_cnt.  A
	 * host that asked for credit hears of the space freed now, rung;
	 * otherwise updates are lazy where the host allows it.
	 */
	if (c->c_state == HCVG_S_ESTABLISHED && !c->c_reset && used > 0) {
		if (c->c_host_wait) {
			if (conn_send(g, c, OP_CREDIT_UPD, 0, (const void *)0,
			    0) == 0)
				c->c_host_wait = 0;
		} else if (c->c_fwd_cnt - c->c_fwd_sent >= HCVG_CONN_BUF / 4) {
			(void)conn_send_when(g, c, OP_CREDIT_UPD, 0,
			    (const void *)0, 0, g->g_lazy ? TX_LAZY : TX_NOW);
		}
	}
}

long
hcvg_recv_msg(struct hcvg *g, int id, void *buf, uint32_t len,
    uint32_t *flags, int nonblock)
{
	struct hcvg_conn *c = conn_get(g, id);
	uint32_t m, take;
	int tail;
	long r;

	if (c == (struct hcvg_conn *)0 || c->c_type != VS_SEQ)
		return -HCVG_EINVAL;
	if (flags != (uint32_t *)0)
		*flags = 0;
	r = recv_wait(g, c, nonblock);
	if (r != 1)
		return r;
	m = eom_find(c);
	/* A full buffer without an end: the message outgrew it. */
	tail = 0;
	if (m == 0) {
		m = c->c_rx_len;
		tail = !rx_ended(c);
	}
	take = len < m ? len : m;
	if (flags != (uint32_t *)0 && (take < m || tail))
		*flags |= HCVG_MSG_TRUNC;
	rx_consume(g, c, buf, take, m);
	if (tail)
		c->c_skip = 1;
	return (long)take;
}

long
hcvg_recv(struct hcvg *g, int id, void *buf, uint32_t len, int nonblock)
{
	struct hcvg_conn *c = conn_get(g, id);
	uint32_t take;
	long r;

	if (c == (struct hcvg_conn *)0)
		return -HCVG_EINVAL;
	if (c->c_type == VS_SEQ)
		return hcvg_recv_msg(g, id, buf, len, (uint32_t *)0, nonblock);
	if (len == 0)
		return hcvg_poll(g) < 0 ? -HCVG_EIO : 0;
	r = recv_wait(g, c, nonblock);
	if (r != 1)
		return r;
	take = len < c->c_rx_len ? len : c->c_rx_len;
	rx_consume(g, c, buf, take, take);
	return (long)take;
}

int
hcvg_shutdown(struct hcvg *g, int id, uint32_t how)
{
	struct hcvg_conn *c = conn_get(g, id);
	uint8_t bits;

	if (c == (struct hcvg_conn *)0 || (how & ~(SHUT_RCV | SHUT_SEND)) != 0)
		return -HCVG_EINVAL;
	if (c->c_state != HCVG_S_ESTABLISHED || c->c_reset)
		return -HCVG_ENOTCONN;
	bits = (uint8_t)(c->c_local_shut | how);
	if (bits == c->c_local_shut)
		return 0;
	c->c_local_shut = bits;
	return conn_send(g, c, OP_SHUTDOWN, bits, (const void *)0, 0);
}

int
hcvg_close(struct hcvg *g, int id)
{
	struct hcvg_conn *c = conn_get(g, id);
	uint32_t n = 0;

	if (c == (struct hcvg_conn *)0)
		return -HCVG_EINVAL;
	if (c->c_state == HCVG_S_ESTABLISHED && !c->c_reset) {
		if (c->c_local_shut != (SHUT_RCV | SHUT_SEND)) {
			c->c_local_shut = SHUT_RCV | SHUT_SEND;
			(void)conn_send(g, c, OP_SHUTDOWN, SHUT_RCV | SHUT_SEND,
			    (const void *)0, 0);
		}
		/* Wait (bounded) for the peer's RST, as Linux does. */
		while (!c->c_reset && step(g, &n) == 0)
			;
		if (!c->c_reset)
			(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
	} else if (c->c_state == HCVG_S_CONNECTING) {
		(void)conn_send(g, c, OP_RST, 0, (const void *)0, 0);
	}
	c->c_state = HCVG_S_FREE;
	return 0;
}

/* ---- Protocol MSG ------------------------------------------------------------ */

static inline uint32_t
slot_load(const struct hcvg_msg *m, uint32_t i, uint32_t off)
{
	return *(const volatile uint32_t *)(const void *)
	    (m->m_slots + i * HCVS_MSG_SLOT_SIZE + off);
}

static inline void
slot_store(struct hcvg_msg *m, uint32_t i, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(void *)(m->m_slots + i * HCVS_MSG_SLOT_SIZE +
	    off) = v;
}

static void
msg_wait(struct hcvg_msg *m)
{
	if (m->m_p->wait != NULL)
		m->m_p->wait(m->m_p->ctx);
}

int
hcvg_msg_init(struct hcvg_msg *m, const struct hcvg_msg_cfg *cfg)
{
	const struct hcvg_platform *p = cfg->plat;
	uint64_t phys;
	uint32_t res;
	int rc;

	zero(m, sizeof(*m));
	if (p == NULL || p->reg_read == NULL || p->reg_write == NULL ||
	    cfg->slots == NULL ||
	    ((uintptr_t)cfg->slots & (HCVS_MSG_TABLE_ALIGN - 1)) != 0 ||
	    cfg->nslots == 0 || cfg->nslots > HCVS_MSG_MAX_SLOTS)
		return -HCVG_EINVAL;
	rc = hcvg_probe(p, NULL);
	if (rc < 0)
		return rc;
	if (!(p->reg_read(p->ctx, HCVS_REG_PROTOCOLS) & (1u << HCVS_PROTO_MSG)))
		return -HCVG_ENODEV;
	m->m_p = p;
	m->m_slots = cfg->slots;
	m->m_nslots = cfg->nslots;
	m->m_sync = cfg->sync;
	m->m_wait_limit = cfg->wait_limit ? cfg->wait_limit : 1000000;
	zero(m->m_slots, cfg->nslots * HCVS_MSG_SLOT_SIZE);
	phys = p->virt_to_phys != NULL ? p->virt_to_phys(p->ctx, cfg->slots) :
	    (uint64_t)(uintptr_t)cfg->slots;
	if ((res = cmd(p, HCVS_CMD_RESET, 0, 0, 0, 0)) != HCVS_ERR_OK ||
	    (res = cmd(p, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_MSG, 0, 0, 0)) !=
	    HCVS_ERR_OK ||
	    (res = cmd(p, HCVS_CMD_MSG_SET_CALLS, (uint32_t)phys,
	    (uint32_t)(phys >> 32), cfg->nslots, 0)) != HCVS_ERR_OK)
		return err_of(res);
	m->m_irq_mode = cfg->irq_mode;
	return notify_and_enable(p, cfg->irq_mode, cfg->irq_args);
}

static int
msg_err(uint32_t res)
{
	switch (res) {
	case HCVS_ERR_UNKNOWN_ID:
		return -HCVG_ENOENT;
	case HCVS_ERR_BAD_ARG:
	case HCVS_ERR_BAD_ADDRESS:
		return -HCVG_EINVAL;
	default:
		return -HCVG_EIO;
	}
}

int
hcvg_msg_submit(struct hcvg_msg *m, uint32_t fn, uint64_t mid, void *buf,
    uint32_t buf_len, uint64_t report, uint32_t timeout_ms, int notify)
{
	const struct hcvg_platform *p = m->m_p;
	uint64_t phys;
	uint32_t i, st;
	uint8_t *s;

	for (i = 0; i < m->m_nslots; i++) {
		st = slot_load(m, i, HCVS_MSG_STATE);
		if (st == HCVS_MSG_S_FREE || st == HCVS_MSG_S_DONE)
			break;
	}
	if (i == m->m_nslots)
		return -HCVG_EAGAIN;
	phys = p->virt_to_phys != NULL ? p->virt_to_phys(p->ctx, buf) :
	    (uint64_t)(uintptr_t)buf;
	s = m->m_slots + i * HCVS_MSG_SLOT_SIZE;
	zero(s + 4, HCVS_MSG_SLOT_SIZE - 4);
	put32(s + HCVS_MSG_FUNCTION, fn);
	put32(s + HCVS_MSG_FLAGS, notify ? HCVS_MSG_F_NOTIFY : 0);
	put64(s + HCVS_MSG_BUF_GPA, phys);
	put32(s + HCVS_MSG_BUF_LEN, buf_len);
	put32(s + HCVS_MSG_TIMEOUT_MS, timeout_ms);
	put64(s + HCVS_MSG_MID, mid);
	put64(s + HCVS_MSG_REPORT, report);
	rel();
	slot_store(m, i, HCVS_MSG_STATE, HCVS_MSG_S_SUBMITTED);
	return (int)i;
}

void
hcvg_msg_kick(struct hcvg_msg *m)
{
	const struct hcvg_platform *p = m->m_p;

	if (p->mb != NULL)
		p->mb(p->ctx);
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	p->reg_write(p->ctx, m->m_sync ? HCVS_REG_DOORBELL_SYNC :
	    HCVS_REG_DOORBELL, HCVS_DOORBELL_KICK);
}

int
hcvg_msg_call(struct hcvg_msg *m, uint32_t fn, uint64_t mid, void *buf,
    uint32_t buf_len, uint64_t report, uint32_t timeout_ms, int notify)
{
	uint32_t st, n;
	int i;

	i = hcvg_msg_submit(m, fn, mid, buf, buf_len, report, timeout_ms,
	    notify);
	if (i < 0)
		return i;
	hcvg_msg_kick(m);
	/* Taken (or refused) is what a TDVMCALL's return tells. */
	for (n = 0; (st = slot_load(m, (uint32_t)i, HCVS_MSG_STATE)) ==
	    HCVS_MSG_S_SUBMITTED; n++) {
		if (n >= m->m_wait_limit)
			return -HCVG_ETIMEDOUT;
		msg_wait(m);
	}
	acq();
	if (st == HCVS_MSG_S_DONE &&
	    slot_load(m, (uint32_t)i, HCVS_MSG_RESULT) != HCVS_ERR_OK)
		return msg_err(slot_load(m, (uint32_t)i, HCVS_MSG_RESULT));
	return i;
}

int
hcvg_msg_done(const void *buf, uint64_t *status)
{
	const volatile uint8_t *b = buf;

	if (b[0] == 0)
		return 0;
	acq();
	*status = get64((const uint8_t *)buf);
	return 1;
}

int
hcvg_msg_run(struct hcvg_msg *m, uint32_t fn, uint64_t mid, void *buf,
    uint32_t buf_len, uint64_t report, uint32_t timeout_ms, uint32_t *op,
    uint32_t *len)
{
	uint64_t status = 0;
	uint32_t n, l;
	int rc;

	put64(buf, 0);
	if (fn == HCVS_MSG_FN_WAIT_FOR_REQUEST || fn == HCVS_MSG_FN_RECEIVE)
		put32((uint8_t *)buf + 8, 0);
	rc = hcvg_msg_call(m, fn, mid, buf, buf_len, report, timeout_ms,
	    m->m_irq_mode != HCVS_IRQ_NONE);
	if (rc < 0)
		return rc;
	for (n = 0; !hcvg_msg_done(buf, &status); n++) {
		if (n >= m->m_wait_limit)
			return -HCVG_ETIMEDOUT;
		msg_wait(m);
	}
	if ((status & 0xff) != HCVS_MSG_ST_SUCCESS)
		return status == HCVS_MSG_ST_TIMEOUT ? -HCVG_ETIMEDOUT :
		    status == HCVS_MSG_ST_CANCEL ? -HCVG_ECANCELED :
		    -HCVG_EPROTO;
	l = get32((const uint8_t *)buf + 8);
	if ((fn == HCVS_MSG_FN_WAIT_FOR_REQUEST || fn == HCVS_MSG_FN_RECEIVE) &&
	    (l > buf_len - HCVS_MSG_BUF_HDR || l == 0))
		return -HCVG_EPROTO;	/* never trust the host either */
	if (op != NULL)
		*op = (uint32_t)(status >> 8) & 0xff;
	if (len != NULL)
		*len = l;
	return 0;
}
