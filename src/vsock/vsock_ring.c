/* SPDX-License-Identifier: MIT */
/*
 * Protocol RING (docs/PROTOCOL.md §4-§8): features, the mailbox, the TX
 * and RX rings of virtio-vsock packets, the device's own RST queue, and
 * the backend (vsock_backend.h) the packets go to and come from.
 */

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/loop.h"
#include "vsock/vsock_backend.h"
#include "vsock/vsock_proto.h"
#include "vsock/vsock_wire.h"

#define RSTQ_LEN	32u

struct ring {
	struct vsock_dev	*r_dev;
	const struct vsock_backend_ops *r_be;
	void			*r_be_arg;

	/* Mailbox geometry, copied once at SET_MAILBOX. */
	uint64_t		 r_mb_gpa;
	uint32_t		 r_mb_size;
	uint32_t		 r_tx_slots;
	uint32_t		 r_rx_slots;
	uint32_t		 r_slot_size;
	uint32_t		 r_tx_off;
	uint32_t		 r_rx_off;
	/* Host-owned indices: never read back from guest memory. */
	uint32_t		 r_tx_cons;
	uint32_t		 r_rx_prod;
	uint32_t		 r_host_flags;
	uint32_t		 r_epoch;
	uint8_t			*r_buf;		/* one slot */

	/* Work. */
	bool			 r_kick_pending;
	bool			 r_more;
	/* RX ring full with packets waiting: only a doorbell helps. */
	bool			 r_rx_stalled;
	bool			 r_lingered;	/* r_more: the TX poll window */
	bool			 r_watched;	/* the caller polls (watch_tx) */
	uint64_t		 r_credit_seen;	/* stall count a window ended on */
	/*
	 * The orderly-stop notice was given: the guest has been told its
	 * connections are gone, so no ring is touched again (a doorbell,
	 * even a synchronous one still pending, does nothing) until RESET.
	 */
	bool			 r_gone;
	struct vsock_pkt_hdr	 r_rstq[RSTQ_LEN];
	unsigned		 r_rst_head;
	unsigned		 r_rst_count;
};

/* ---- Guest memory helpers ---------------------------------------------- */

static int
mb_read32(struct ring *r, uint32_t off, uint32_t *v)
{
	uint32_t le;
	int rc;

	rc = ioreq_mem_read(r->r_dev->d_mem, r->r_mb_gpa + off, &le, sizeof(le));
	if (rc < 0)
		return rc;
	*v = le32toh(le);
	return 0;
}

static int
mb_write32(struct ring *r, uint32_t off, uint32_t v)
{
	uint32_t le = htole32(v);

	return ioreq_mem_write(r->r_dev->d_mem, r->r_mb_gpa + off, &le,
	    sizeof(le));
}

static inline bool
is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static bool
has_mailbox(const struct ring *r)
{
	return (r->r_dev->d_status & HCVS_STATUS_MAILBOX) != 0;
}

/*
 * Read the header once, check it, copy the geometry.  With `adopt`, the
 * indices come from the host line (re-attach); else the rings start
 * empty at the guest's current indices.
 */
static uint32_t
mailbox_setup(struct ring *r, uint64_t gpa, uint64_t size, bool adopt)
{
	struct ioreq_mem *mem = r->r_dev->d_mem;
	uint8_t h[HCVS_MBOX_HDR_SIZE];
	uint32_t tx_slots, rx_slots, slot, tx_off, rx_off, tx_prod, rx_cons;
	uint32_t tx_cons, rx_prod;
	uint64_t tx_end, rx_end, cid = r->r_dev->d_cid;
	uint8_t probe;
	uint8_t *buf;

	if ((gpa & (HCVS_MBOX_ALIGN - 1)) != 0 || size < HCVS_MBOX_HDR_SIZE ||
	    size > HCVS_MBOX_MAX_SIZE || gpa + size < gpa)
		return HCVS_ERR_BAD_ADDRESS;
	if (ioreq_mem_read(mem, gpa, h, sizeof(h)) < 0)
		return HCVS_ERR_BAD_ADDRESS;

	if (vsock_le32(h + HCVS_MB_MAGIC) != HCVS_MBOX_MAGIC ||
	    vsock_le32(h + HCVS_MB_VERSION) != HCVS_MBOX_VERSION)
		return HCVS_ERR_BAD_MAILBOX;
	tx_slots = vsock_le32(h + HCVS_MB_TX_SLOTS);
	rx_slots = vsock_le32(h + HCVS_MB_RX_SLOTS);
	slot = vsock_le32(h + HCVS_MB_SLOT_SIZE);
	tx_off = vsock_le32(h + HCVS_MB_TX_OFF);
	rx_off = vsock_le32(h + HCVS_MB_RX_OFF);
	tx_prod = vsock_le32(h + HCVS_MB_TX_PROD);
	rx_cons = vsock_le32(h + HCVS_MB_RX_CONS);
	tx_cons = vsock_le32(h + HCVS_MB_TX_CONS);
	rx_prod = vsock_le32(h + HCVS_MB_RX_PROD);

	if (!is_pow2(tx_slots) || tx_slots > HCVS_RING_MAX_SLOTS ||
	    !is_pow2(rx_slots) || rx_slots > HCVS_RING_MAX_SLOTS ||
	    slot < HCVS_SLOT_MIN || slot > HCVS_SLOT_MAX || (slot & 3) != 0 ||
	    tx_off < HCVS_MBOX_HDR_SIZE || (tx_off & 3) != 0 ||
	    rx_off < HCVS_MBOX_HDR_SIZE || (rx_off & 3) != 0)
		return HCVS_ERR_BAD_MAILBOX;
	tx_end = (uint64_t)tx_off + (uint64_t)tx_slots * slot;
	rx_end = (uint64_t)rx_off + (uint64_t)rx_slots * slot;
	if (tx_end > size || rx_end > size ||
	    (tx_off < rx_end && rx_off < tx_end))
		return HCVS_ERR_BAD_MAILBOX;
	if (ioreq_mem_read(mem, gpa + tx_off, &probe, 1) < 0 ||
	    ioreq_mem_read(mem, gpa + tx_end - 1, &probe, 1) < 0 ||
	    ioreq_mem_read(mem, gpa + rx_off, &probe, 1) < 0 ||
	    ioreq_mem_read(mem, gpa + rx_end - 1, &probe, 1) < 0)
		return HCVS_ERR_BAD_ADDRESS;
	if (adopt) {
		if (tx_prod - tx_cons > tx_slots ||
		    rx_prod - rx_cons > rx_slots)
			return HCVS_ERR_BAD_INDEX;
	} else {
		tx_cons = tx_prod;
		rx_prod = rx_cons;
	}

	buf = realloc(r->r_buf, slot);
	if (buf == NULL)
		return HCVS_ERR_HOST;
	r->r_buf = buf;
	r->r_mb_gpa = gpa;
	r->r_mb_size = (uint32_t)size;
	r->r_tx_slots = tx_slots;
	r->r_rx_slots = rx_slots;
	r->r_slot_size = slot;
	r->r_tx_off = tx_off;
	r->r_rx_off = rx_off;
	r->r_tx_cons = tx_cons;
	r->r_rx_prod = rx_prod;
	r->r_host_flags = 0;
	if (mb_write32(r, HCVS_MB_TX_CONS, r->r_tx_cons) < 0 ||
	    mb_write32(r, HCVS_MB_RX_PROD, r->r_rx_prod) < 0 ||
	    mb_write32(r, HCVS_MB_HOST_FLAGS, 0) < 0 ||
	    mb_write32(r, HCVS_MB_CID_LO, (uint32_t)cid) < 0 ||
	    mb_write32(r, HCVS_MB_CID_HI, (uint32_t)(cid >> 32)) < 0 ||
	    mb_write32(r, HCVS_MB_EPOCH, r->r_epoch) < 0 ||
	    mb_write32(r, HCVS_MB_ERROR, 0) < 0)
		return HCVS_ERR_BAD_ADDRESS;
	return HCVS_ERR_OK;
}

/* ---- Commands ------------------------------------------------------------- */

static uint32_t
ring_cmd(void *p, uint32_t cmd)
{
	struct ring *r = p;
	struct vsock_dev *d = r->r_dev;
	const uint32_t *a = d->d_args;
	uint32_t rc;

	switch (cmd) {
	case HCVS_CMD_SET_FEATURES:
		if (d->d_status & HCVS_STATUS_LIVE)
			return HCVS_ERR_BAD_STATE;
		if ((a[0] & ~d->d_host_features) != 0 ||
		    !(a[0] & HCVS_F_STREAM))
			return HCVS_ERR_UNSUPPORTED;
		d->d_guest_features = a[0];
		d->d_status |= HCVS_STATUS_FEATURES;
		d->d_changed = true;
		return HCVS_ERR_OK;
	case HCVS_CMD_SET_MAILBOX:
		if (!(d->d_status & HCVS_STATUS_FEATURES) ||
		    (d->d_status & HCVS_STATUS_LIVE))
			return HCVS_ERR_BAD_STATE;
		d->d_status &= ~HCVS_STATUS_MAILBOX;
		rc = mailbox_setup(r, ((uint64_t)a[1] << 32) | a[0], a[2],
		    false);
		if (rc == HCVS_ERR_OK) {
			d->d_status |= HCVS_STATUS_MAILBOX;
			d->d_changed = true;
		}
		return rc;
	case HCVS_CMD_ENABLE:
		/* The guest may have queued TX before enabling. */
		return vsock_dev_enable(d, &r->r_kick_pending);
	default:
		/* MSG's commands: the guest chose RING. */
		return cmd >= HCVS_CMD_MSG_FIRST && cmd <= HCVS_CMD_MSG_LAST ?
		    HCVS_ERR_BAD_STATE : HCVS_ERR_UNKNOWN_CMD;
	}
}

/* ---- Rings ----------------------------------------------------------------- */

static void
rst_queue(struct ring *r, const struct vsock_pkt_hdr *h)
{
	struct vsock_pkt_hdr *q;

	if (r->r_rst_count == RSTQ_LEN) {
		r->r_dev->d_st.ds_rst_dropped++;
		return;
	}
	q = &r->r_rstq[(r->r_rst_head + r->r_rst_count) % RSTQ_LEN];
	memset(q, 0, sizeof(*q));
	q->src_cid = h->dst_cid;
	q->dst_cid = h->src_cid;
	q->src_port = h->dst_port;
	q->dst_port = h->src_port;
	/* Every packet the guest gets is well formed: no bogus type echoed. */
	q->type = h->type == VSOCK_TYPE_SEQPACKET ? VSOCK_TYPE_SEQPACKET :
	    VSOCK_TYPE_STREAM;
	q->op = VSOCK_OP_RST;
	r->r_rst_count++;
}

static bool
type_ok(const struct ring *r, uint16_t type)
{
	if (type == VSOCK_TYPE_STREAM)
		return true;
	return type == VSOCK_TYPE_SEQPACKET &&
	    (r->r_dev->d_guest_features & HCVS_F_SEQPACKET);
}

static void
be_send(struct ring *r, const struct vsock_pkt_hdr *h, const void *payload)
{
	if (r->r_be != NULL)
		r->r_be->send(r->r_be_arg, h, payload);
}

static bool
be_batches(const struct ring *r)
{
	return r->r_be != NULL && r->r_be->tx_begin != NULL &&
	    r->r_be->send_held != NULL && r->r_be->tx_end != NULL;
}

/*
 * One TX slot: copy the header once, validate, copy the payload once -
 * or, for stream data where guest memory stays mapped, hand the backend
 * the payload in place: it is passed on unread, and the slot stays ours
 * until TX_CONS moves after the batch.
 */
static int
tx_slot(struct ring *r, uint32_t idx)
{
	struct vsock_dev *d = r->r_dev;
	uint64_t gpa = r->r_mb_gpa + r->r_tx_off +
	    (uint64_t)(idx & (r->r_tx_slots - 1)) * r->r_slot_size;
	uint8_t w[VSOCK_HDR_SIZE];
	struct vsock_pkt_hdr h, t;
	uint32_t cap = r->r_slot_size - VSOCK_HDR_SIZE;
	bool tear = false;
	const char *why = NULL;
	const void *held;

	if (ioreq_mem_read(d->d_mem, gpa, w, sizeof(w)) < 0)
		return -EFAULT;
	vsock_hdr_decode(&h, w);

	if (h.src_cid != d->d_cid) {
		d->d_st.ds_spoofed++;
		log_ratelimited(&d->d_rl, LOG_WARNING,
		    "%s: TX src_cid %" PRIu64 " is not the guest's, dropped",
		    d->d_name, h.src_cid);
		return 0;
	}
	if (h.len > cap) {
		why = "len exceeds the slot";
		tear = type_ok(r, h.type);
	} else if (!type_ok(r, h.type)) {
		why = "type not negotiated";
	} else if (h.op == VSOCK_OP_INVALID || h.op > VSOCK_OP_CREDIT_REQUEST) {
		why = "unknown op";
		tear = true;
	} else if (h.op != VSOCK_OP_RW && h.len != 0) {
		why = "payload on a control packet";
		tear = true;
	}
	if (why != NULL) {
		d->d_st.ds_bad_hdr++;
		log_ratelimited(&d->d_rl, LOG_WARNING,
		    "%s: TX %u->%u type %u op %u len %u: %s", d->d_name,
		    h.src_port, h.dst_port, h.type, h.op, h.len, why);
		if (tear) {
			/* Tell the backend as if the guest reset the flow. */
			t = h;
			t.op = VSOCK_OP_RST;
			t.len = 0;
			t.flags = 0;
			be_send(r, &t, r->r_buf);
		}
		if (h.op != VSOCK_OP_RST) {
			rst_queue(r, &h);
			d->d_st.ds_rst_sent++;
		}
		return 0;
	}
	d->d_st.ds_tx_pkts++;
	d->d_st.ds_tx_bytes += h.len;
	if (h.op == VSOCK_OP_RW && h.type == VSOCK_TYPE_STREAM &&
	    be_batches(r) && (held = ioreq_mem_direct(d->d_mem,
	    gpa + VSOCK_HDR_SIZE, h.len)) != NULL) {
		r->r_be->send_held(r->r_be_arg, &h, held);
		return 0;
	}
	if (h.len > 0 && ioreq_mem_read(d->d_mem, gpa + VSOCK_HDR_SIZE,
	    r->r_buf, h.len) < 0)
		return -EFAULT;
	be_send(r, &h, r->r_buf);
	return 0;
}

/*
 * Consume up to one ring of TX entries.  Returns entries consumed.
 *
 * TX_NO_KICK is set while the pass drains (virtio's NO_NOTIFY pattern):
 * a guest that publishes while the host is looking need not ring.  It is
 * cleared only when the ring is found empty, followed by a full barrier
 * and one more look at TX_PROD, so an entry whose producer saw the flag
 * still set is consumed here and not lost.  When the budget runs out the
 * flag stays set and r_more promises the next pass.
 */
static uint32_t
tx_run(struct ring *r, bool keep)
{
	struct vsock_dev *d = r->r_dev;
	uint32_t budget = r->r_tx_slots, prod, avail, n, done = 0;

	for (;;) {
		if (mb_read32(r, HCVS_MB_TX_PROD, &prod) < 0) {
			vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
			break;
		}
		avail = prod - r->r_tx_cons;
		if (avail > r->r_tx_slots) {
			log_ratelimited(&d->d_rl, LOG_WARNING,
			    "%s: TX_PROD %u vs TX_CONS %u", d->d_name, prod,
			    r->r_tx_cons);
			vsock_dev_halt(d, HCVS_ERR_BAD_INDEX);
			break;
		}
		if (avail == 0) {
			/* keep: tx_linger() watches on and clears it after. */
			if (!(r->r_host_flags & HCVS_HF_TX_NO_KICK) || keep)
				break;
			/* Re-check after clearing: a producer may have skipped its kick. */
			r->r_host_flags &= ~HCVS_HF_TX_NO_KICK;
			if (mb_write32(r, HCVS_MB_HOST_FLAGS, r->r_host_flags) < 0) {
				vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
				break;
			}
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			continue;
		}
		/* Entries to take: producers need not ring meanwhile. */
		if (!(r->r_host_flags & HCVS_HF_TX_NO_KICK)) {
			r->r_host_flags |= HCVS_HF_TX_NO_KICK;
			if (mb_write32(r, HCVS_MB_HOST_FLAGS,
			    r->r_host_flags) < 0) {
				vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
				break;
			}
		}
		if (budget == 0) {
			/* The flag stays set: the next pass is promised. */
			r->r_more = true;
			d->d_st.ds_deferred++;
			break;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		n = MIN(avail, budget);
		if (be_batches(r))
			r->r_be->tx_begin(r->r_be_arg);
		for (; n > 0; n--) {
			if (tx_slot(r, r->r_tx_cons) < 0)
				break;
			r->r_tx_cons++;
			budget--;
			done++;
		}
		/* Held payloads are written before their slots go back. */
		if (be_batches(r))
			r->r_be->tx_end(r->r_be_arg);
		if (n > 0) {
			vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
			return done;
		}
		__atomic_thread_fence(__ATOMIC_RELEASE);
		if (mb_write32(r, HCVS_MB_TX_CONS, r->r_tx_cons) < 0) {
			vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
			break;
		}
	}
	return done;
}

static bool
rx_have(const struct ring *r)
{
	return r->r_rst_count > 0 ||
	    (r->r_be != NULL && r->r_be->has_rx(r->r_be_arg));
}

/*
 * Next packet for the guest, for the slot at gpa: the header encoded in
 * r_buf, *len bytes of r_buf to write there.  Where guest memory stays
 * mapped the backend reads host data straight into the slot (only the
 * header is left to write), else into r_buf after the header.  Returns
 * the packet's size, 0: none.
 */
static uint32_t
rx_next(struct ring *r, uint64_t gpa, uint32_t *len)
{
	struct vsock_dev *d = r->r_dev;
	struct vsock_pkt_hdr h;
	uint32_t cap = r->r_slot_size - VSOCK_HDR_SIZE;
	uint8_t *direct = ioreq_mem_direct(d->d_mem, gpa + VSOCK_HDR_SIZE, cap);

	for (;;) {
		if (r->r_rst_count > 0) {
			h = r->r_rstq[r->r_rst_head];
			r->r_rst_head = (r->r_rst_head + 1) % RSTQ_LEN;
			r->r_rst_count--;
			break;
		}
		if (r->r_be == NULL ||
		    r->r_be->recv(r->r_be_arg, &h, direct != NULL ? direct :
		    r->r_buf + VSOCK_HDR_SIZE, cap) != 1)
			return 0;
		if (type_ok(r, h.type))
			break;
		/*
		 * A host SEQPACKET connect to a guest that did not take the
		 * feature: refuse it in the guest's name.
		 */
		if (h.op != VSOCK_OP_RST) {
			struct vsock_pkt_hdr t = {
				.src_cid = h.dst_cid, .dst_cid = h.src_cid,
				.src_port = h.dst_port, .dst_port = h.src_port,
				.type = h.type, .op = VSOCK_OP_RST,
			};

			be_send(r, &t, r->r_buf);
		}
	}
	if (h.len > cap) {
		/* A backend bug must not become a guest overflow. */
		log_ratelimited(&d->d_rl, LOG_ERR,
		    "%s: backend packet of %u bytes exceeds slot", d->d_name,
		    h.len);
		h.len = cap;
	}
	vsock_hdr_encode(r->r_buf, &h);
	*len = direct != NULL ? VSOCK_HDR_SIZE : VSOCK_HDR_SIZE + h.len;
	return VSOCK_HDR_SIZE + h.len;
}

/* Publish up to one ring of RX entries.  Returns entries published. */
static uint32_t
rx_run(struct ring *r)
{
	struct vsock_dev *d = r->r_dev;
	uint32_t budget = r->r_rx_slots, cons, used, n, len, pkt, done = 0;
	uint64_t gpa;
	bool want = false;

	for (;;) {
		if (mb_read32(r, HCVS_MB_RX_CONS, &cons) < 0) {
			vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
			return done;
		}
		used = r->r_rx_prod - cons;
		if (used > r->r_rx_slots) {
			log_ratelimited(&d->d_rl, LOG_WARNING,
			    "%s: RX_CONS %u vs RX_PROD %u", d->d_name, cons,
			    r->r_rx_prod);
			vsock_dev_halt(d, HCVS_ERR_BAD_INDEX);
			return done;
		}
		n = 0;
		while (used + n < r->r_rx_slots && budget > 0) {
			gpa = r->r_mb_gpa + r->r_rx_off +
			    (uint64_t)((r->r_rx_prod + n) &
			    (r->r_rx_slots - 1)) * r->r_slot_size;
			pkt = rx_next(r, gpa, &len);
			if (pkt == 0)
				break;
			if (ioreq_mem_write(d->d_mem, gpa, r->r_buf, len) < 0) {
				vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
				return done;
			}
			d->d_st.ds_rx_pkts++;
			d->d_st.ds_rx_bytes += pkt - VSOCK_HDR_SIZE;
			n++;
			budget--;
		}
		if (n > 0) {
			__atomic_thread_fence(__ATOMIC_RELEASE);
			r->r_rx_prod += n;
			done += n;
			if (mb_write32(r, HCVS_MB_RX_PROD, r->r_rx_prod) < 0) {
				vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
				return done;
			}
		}
		want = rx_have(r);
		if (!want || budget == 0)
			break;
		if (used + n < r->r_rx_slots)
			continue;
		/* Ring full with packets waiting: ask for a kick, re-check. */
		if (r->r_host_flags & HCVS_HF_RX_WANT_KICK) {
			r->r_rx_stalled = true;
			break;
		}
		r->r_host_flags |= HCVS_HF_RX_WANT_KICK;
		if (mb_write32(r, HCVS_MB_HOST_FLAGS, r->r_host_flags) < 0) {
			vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
			return done;
		}
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	if (want && budget == 0) {
		r->r_more = true;
		d->d_st.ds_deferred++;
	}
	if (!want && (r->r_host_flags & HCVS_HF_RX_WANT_KICK)) {
		r->r_host_flags &= ~HCVS_HF_RX_WANT_KICK;
		(void)mb_write32(r, HCVS_MB_HOST_FLAGS, r->r_host_flags);
	}
	return done;
}

/*
 * TX_NO_KICK up or down, then a full barrier: raised, an entry the guest
 * published before it saw the flag is found by the next look; lowered,
 * by tx_let_ring's last look.  -EFAULT (the device halted) if the
 * mailbox cannot be written.
 */
static int
tx_no_kick(struct ring *r, bool up)
{
	if (((r->r_host_flags & HCVS_HF_TX_NO_KICK) != 0) == up)
		return 0;
	r->r_host_flags ^= HCVS_HF_TX_NO_KICK;
	if (mb_write32(r, HCVS_MB_HOST_FLAGS, r->r_host_flags) < 0) {
		vsock_dev_halt(r->r_dev, HCVS_ERR_MEM_FAULT);
		return -EFAULT;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

/*
 * The host stops looking at TX: the flag down, the barrier, a last look
 * at TX_PROD (docs/PROTOCOL.md, "Suppression").  Entries found then are
 * left to the next pass (r_more); the pass validates TX_PROD again.
 */
static void
tx_let_ring(struct ring *r)
{
	uint32_t prod;

	if (tx_no_kick(r, false) < 0)
		return;
	if (mb_read32(r, HCVS_MB_TX_PROD, &prod) < 0) {
		vsock_dev_halt(r->r_dev, HCVS_ERR_MEM_FAULT);
		return;
	}
	if (prod != r->r_tx_cons)
		r->r_more = true;
}

/*
 * The TX poll window (vsock_dev_set_tx_poll) after a pass that took TX
 * entries (`watch`), TX_NO_KICK still up.  True: new entries came within
 * it (the flag still up).  Else the flag comes down, with the usual
 * barrier and last look at TX_PROD; entries found then are left to the
 * next pass (r_more).
 */
static bool
tx_linger(struct ring *r, bool watch)
{
	struct vsock_dev *d = r->r_dev;
	uint64_t deadline = loop_now_ns() + d->d_tx_poll_ns;
	uint32_t prod;

	while (watch) {
		if (mb_read32(r, HCVS_MB_TX_PROD, &prod) < 0) {
			vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
			return false;
		}
		if (prod != r->r_tx_cons)
			return true;
		if (loop_now_ns() >= deadline)
			break;
		cpu_relax();
	}
	tx_let_ring(r);
	return false;
}

/*
 * The TX poll window for the guest's answer: what the backend waits for
 * (VSOCK_WAIT_*) on a wait no window has waited out yet (*stalls: the
 * backend's count of waits), else 0.  For credit (VSOCK_WAIT_CREDIT)
 * the guest answers the CREDIT_REQUEST just published with a TX entry;
 * seen in the window, it needs no doorbell and host data moves again
 * without a wake-up.  From then on the pass keeps the window as a
 * doorbell's pass does: the guest's next entries (its unrung credit
 * updates, as it reads on) are taken as they come, for the pass's
 * remaining rounds, so credit keeps flowing and the host seldom runs dry
 * again.  For data due (VSOCK_WAIT_DATA: the guest had run out of credit
 * and the pass gave it some) the window takes the guest's next entries
 * and ends there: lingering on would keep the loop from the host socket
 * that data is for.  A wait whose window passed unanswered waits for the
 * doorbell, so a guest that stops reading or sending costs one window,
 * not one per pass.
 */
static unsigned
credit_linger(struct ring *r, uint64_t *stalls)
{
	unsigned what;

	*stalls = 0;
	if (r->r_dev->d_tx_poll_ns == 0 || r->r_be->credit_wait == NULL)
		return 0;
	what = r->r_be->credit_wait(r->r_be_arg, stalls);
	return *stalls != r->r_credit_seen ? what : 0;
}

static int	run_round(struct ring *r, bool linger, bool async, bool last);

/* Rounds a pass may add for entries found in its TX poll window. */
#define LINGER_ROUNDS	4

/*
 * One bounded pass over both rings, then at most one notification.  TX
 * goes first: the replies the backend queues for it are pulled by the
 * RX half of the same pass.  `linger`: a pass for a doorbell, which may
 * end in the TX poll window, and take what arrives there in up to
 * LINGER_ROUNDS more rounds before it leaves the rest to the next pass.
 * `async`: no vCPU waits for the pass; it may wait for a credit answer
 * in the same window (credit_linger), whatever started it.
 */
static int
run_pass(struct ring *r, bool linger, bool async)
{
	unsigned round;
	int rc = 0;

	for (round = 0; round <= LINGER_ROUNDS; round++) {
		rc = run_round(r, linger, async, round == LINGER_ROUNDS);
		if (rc != 2)
			break;
	}
	return rc == 2 ? 1 : rc;
}

/* One round; 2: the poll window saw new TX entries (the flag still up). */
static int
run_round(struct ring *r, bool linger, bool async, bool last)
{
	struct vsock_dev *d = r->r_dev;
	uint32_t tx, rx, gflags, isr = 0;
	uint64_t stalls;
	/* Watched, the caller's polling is the window: none of our own. */
	bool watched = r->r_watched;
	unsigned wait = async && !watched ? credit_linger(r, &stalls) : 0;
	bool credit = wait != 0;
	bool keep = ((linger || credit) && d->d_tx_poll_ns > 0) || watched;
	/* After the guest's entries: on for a doorbell or a credit answer. */
	bool more = linger || (wait & VSOCK_WAIT_CREDIT);

	r->r_kick_pending = false;
	r->r_more = false;
	r->r_rx_stalled = false;
	r->r_lingered = false;
	if (!vsock_dev_runnable(d) || r->r_gone)
		return 0;
	d->d_st.ds_passes++;
	tx = tx_run(r, keep);
	rx = vsock_dev_runnable(d) ? rx_run(r) : 0;
	if (!vsock_dev_runnable(d))
		return 0;

	if (rx > 0 || tx > 0) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (mb_read32(r, HCVS_MB_GUEST_FLAGS, &gflags) < 0) {
			vsock_dev_halt(d, HCVS_ERR_MEM_FAULT);
			return 0;
		}
		if (rx > 0 && !(gflags & HCVS_GF_RX_NO_IRQ))
			isr |= HCVS_ISR_RX;
		if (tx > 0 && (gflags & HCVS_GF_TX_WANT_IRQ))
			isr |= HCVS_ISR_TX;
	}
	if (isr != 0)
		vsock_dev_notify(d, isr);
	/* This round's RX may have begun a stall: its answer is due next. */
	credit = async && !watched && !r->r_more &&
	    credit_linger(r, &stalls) != 0;
	/* An entry published before the guest saw the flag: found below. */
	if (credit && tx_no_kick(r, true) < 0)
		return 0;
	keep = keep || credit;
	/*
	 * Only after a pass for a doorbell or a credit answer that took TX,
	 * or to wait for a credit answer (a pass for host data would spin
	 * for nothing else); a flag left up by an earlier window comes down.
	 */
	if (keep && !watched && !r->r_more &&
	    (r->r_host_flags & HCVS_HF_TX_NO_KICK)) {
		if (tx_linger(r, (more && tx > 0) || credit)) {
			if (!last)
				return 2;
			/* Out of rounds: the flag stays up, the next pass is owed. */
			r->r_more = true;
			r->r_lingered = true;
		} else if (credit) {
			d->d_st.ds_credit_windows_missed++;
			r->r_credit_seen = stalls;
		}
	}
	return r->r_more ? 1 : 0;
}

static void
ring_doorbell(void *p, bool sync)
{
	struct ring *r = p;
	struct vsock_dev *d = r->r_dev;

	if (!sync || !(d->d_host_features & HCVS_F_SYNC_DOORBELL)) {
		r->r_kick_pending = true;
		return;
	}
	d->d_st.ds_sync_kicks++;
	(void)run_pass(r, false, false);
}

static int
ring_kick(void *p, bool again)
{
	return run_pass(p, !again, true);
}

static void
ring_watch_tx(void *p, bool on)
{
	struct ring *r = p;

	r->r_watched = on;
	if (!vsock_dev_runnable(r->r_dev) || r->r_gone)
		return;
	if (on)
		(void)tx_no_kick(r, true);
	else
		tx_let_ring(r);
}

static int
ring_look_tx(void *p, bool *found)
{
	struct ring *r = p;
	uint32_t prod;

	if (!r->r_watched || r->r_gone)
		return 0;
	/* Raised again after whatever took it down (a new mailbox). */
	if (tx_no_kick(r, true) < 0)
		return 0;
	if (mb_read32(r, HCVS_MB_TX_PROD, &prod) < 0) {
		vsock_dev_halt(r->r_dev, HCVS_ERR_MEM_FAULT);
		return 0;
	}
	/* A hint only: the pass reads TX_PROD again and validates it. */
	if (prod == r->r_tx_cons)
		return 0;
	*found = true;
	return run_pass(r, true, true);
}

static bool
ring_pending(const void *p)
{
	const struct ring *r = p;

	return !r->r_gone && (r->r_kick_pending || r->r_more ||
	    (!r->r_rx_stalled && rx_have(r)));
}

/*
 * The poll window follows guest activity: a DOORBELL write, or a window
 * that found more.  A pass for host data or a timer waits only for a
 * credit answer (credit_linger).
 */
static int
ring_process(void *p)
{
	struct ring *r = p;

	return run_pass(r, r->r_kick_pending || r->r_lingered, true);
}

/* ---- Life cycle and state ------------------------------------------------- */

static bool
ring_offered(const struct vsock_dev_cfg *cfg)
{
	(void)cfg;
	return true;
}

static int
ring_init(void *p, struct vsock_dev *d, const struct vsock_dev_cfg *cfg)
{
	struct ring *r = p;

	r->r_dev = d;
	r->r_be = cfg->backend;
	r->r_be_arg = cfg->backend_arg;
	return 0;
}

static void
ring_fini(void *p)
{
	free(((struct ring *)p)->r_buf);
}

static void
ring_reset(void *p)
{
	struct ring *r = p;

	r->r_mb_gpa = 0;
	r->r_mb_size = 0;
	r->r_tx_slots = r->r_rx_slots = r->r_slot_size = 0;
	r->r_tx_off = r->r_rx_off = 0;
	r->r_tx_cons = r->r_rx_prod = r->r_host_flags = 0;
	free(r->r_buf);
	r->r_buf = NULL;
	r->r_kick_pending = r->r_more = r->r_rx_stalled = false;
	r->r_gone = false;
	r->r_rst_head = r->r_rst_count = 0;
	if (r->r_be != NULL)
		r->r_be->reset(r->r_be_arg);
}

static void
ring_halted(void *p, uint32_t err)
{
	struct ring *r = p;

	if (has_mailbox(r))
		(void)mb_write32(r, HCVS_MB_ERROR, err);
}

static void
ring_going_away(void *p)
{
	struct ring *r = p;

	/* The guest sees the new EPOCH with the ISR.RESET that follows. */
	r->r_gone = true;
	r->r_epoch++;
	if (has_mailbox(r))
		(void)mb_write32(r, HCVS_MB_EPOCH, r->r_epoch);
}

static void
ring_export(const void *p, struct vsock_dev_state *st)
{
	const struct ring *r = p;

	st->st_mbox_gpa = r->r_mb_gpa;
	st->st_mbox_size = r->r_mb_size;
	st->st_epoch = r->r_epoch;
	st->st_tx_cons = r->r_tx_cons;
	st->st_rx_prod = r->r_rx_prod;
}

static bool
ring_state_ok(const void *p, const struct vsock_dev_state *st)
{
	const struct ring *r = p;
	uint32_t s = st->st_status;

	/* Only states the command sequence can reach. */
	if ((st->st_features & ~r->r_dev->d_host_features) != 0)
		return false;
	if (((s & HCVS_STATUS_LIVE) && !(s & HCVS_STATUS_MAILBOX)) ||
	    ((s & HCVS_STATUS_MAILBOX) && !(s & HCVS_STATUS_FEATURES)) ||
	    ((s & HCVS_STATUS_FEATURES) && !(s & HCVS_STATUS_PROTOCOL)))
		return false;
	return true;
}

static uint32_t
ring_import(void *p, const struct vsock_dev_state *st)
{
	struct ring *r = p;
	struct vsock_dev *d = r->r_dev;
	uint32_t s = st->st_status, rc;

	/* The epoch outlives RESET: the guest sees each transport reset. */
	r->r_epoch = st->st_epoch + 1;
	d->d_guest_features = st->st_features;
	d->d_status |= s & HCVS_STATUS_FEATURES;
	if (s & HCVS_STATUS_MAILBOX) {
		rc = mailbox_setup(r, st->st_mbox_gpa, st->st_mbox_size, true);
		if (rc != HCVS_ERR_OK)
			return rc;
		d->d_status |= HCVS_STATUS_MAILBOX;
	}
	if (s & HCVS_STATUS_LIVE) {
		d->d_status |= HCVS_STATUS_LIVE;
		r->r_kick_pending = true;
	}
	return HCVS_ERR_OK;
}

static void
ring_info(const void *p, struct vsock_dev_info *di)
{
	const struct ring *r = p;

	di->di_mbox_gpa = r->r_mb_gpa;
	di->di_mbox_size = r->r_mb_size;
	di->di_tx_slots = r->r_tx_slots;
	di->di_rx_slots = r->r_rx_slots;
	di->di_slot_size = r->r_slot_size;
	di->di_tx_cons = r->r_tx_cons;
	di->di_rx_prod = r->r_rx_prod;
	di->di_host_flags = r->r_host_flags;
	di->di_epoch = r->r_epoch;
	di->di_rst_queued = r->r_rst_count;
}

static void
ring_dump(const void *p, void (*cb)(void *arg, const char *line), void *arg)
{
	const struct ring *r = p;
	char line[256];

	snprintf(line, sizeof(line),
	    "%s: mailbox %#" PRIx64 "+%u tx %u rx %u slot %u tx_cons %u "
	    "rx_prod %u host_flags %#x epoch %u rstq %u", r->r_dev->d_name,
	    r->r_mb_gpa, r->r_mb_size, r->r_tx_slots, r->r_rx_slots,
	    r->r_slot_size, r->r_tx_cons, r->r_rx_prod, r->r_host_flags,
	    r->r_epoch, r->r_rst_count);
	cb(arg, line);
}

const struct vsock_proto_ops vsock_ring_proto = {
	.po_id = HCVS_PROTO_RING,
	.po_offered = ring_offered,
	.po_size = sizeof(struct ring),
	.po_init = ring_init,
	.po_fini = ring_fini,
	.po_reset = ring_reset,
	.po_cmd = ring_cmd,
	.po_doorbell = ring_doorbell,
	.po_kick = ring_kick,
	.po_watch_tx = ring_watch_tx,
	.po_look_tx = ring_look_tx,
	.po_pending = ring_pending,
	.po_process = ring_process,
	.po_halted = ring_halted,
	.po_going_away = ring_going_away,
	.po_export = ring_export,
	.po_state_ok = ring_state_ok,
	.po_import = ring_import,
	.po_info = ring_info,
	.po_dump = ring_dump,
};
