/* SPDX-License-Identifier: MIT */
/* The hcvsock device: register window, mailbox and rings (PROTOCOL.md). */

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"
#include "vsock/vsock_wire.h"

#define RSTQ_LEN	32u

struct vsock_dev {
	struct ioreq_mem	*d_mem;
	struct vsock_mux	*d_mux;
	uint64_t		 d_cid;
	uint32_t		 d_host_features;
	uint32_t		 d_irq_caps;
	uint32_t		 d_server_domid;
	bool			 d_is_hvm;
	const struct vsock_dev_irq_ops *d_irq_ops;
	void			*d_irq_arg;
	char			 d_name[32];

	/* Registers. */
	uint32_t		 d_protocol;
	uint32_t		 d_guest_features;
	uint32_t		 d_status;
	uint32_t		 d_error;
	uint32_t		 d_args[4];
	uint32_t		 d_cmd_result;
	uint32_t		 d_isr;
	struct vsock_irq_cfg	 d_irq;
	bool			 d_isa_asserted;

	/* Mailbox geometry, copied once at SET_MAILBOX. */
	uint64_t		 d_mb_gpa;
	uint32_t		 d_mb_size;
	uint32_t		 d_tx_slots;
	uint32_t		 d_rx_slots;
	uint32_t		 d_slot_size;
	uint32_t		 d_tx_off;
	uint32_t		 d_rx_off;
	/* Host-owned indices: never read back from guest memory. */
	uint32_t		 d_tx_cons;
	uint32_t		 d_rx_prod;
	uint32_t		 d_host_flags;
	uint32_t		 d_epoch;
	uint8_t			*d_buf;		/* one slot */

	/* Work. */
	bool			 d_kick_pending;
	bool			 d_rx_pending;
	bool			 d_more;
	bool			 d_in_pass;
	bool			 d_changed;
	struct vsock_pkt_hdr	 d_rstq[RSTQ_LEN];
	unsigned		 d_rst_head;
	unsigned		 d_rst_count;

	struct vsock_dev_stats	 d_st;
	struct log_ratelimit	 d_rl;
};

/* ---- Guest memory helpers ---------------------------------------------- */

static int
mb_read32(struct vsock_dev *d, uint32_t off, uint32_t *v)
{
	uint32_t le;
	int rc;

	rc = ioreq_mem_read(d->d_mem, d->d_mb_gpa + off, &le, sizeof(le));
	if (rc < 0)
		return rc;
	*v = le32toh(le);
	return 0;
}

static int
mb_write32(struct vsock_dev *d, uint32_t off, uint32_t v)
{
	uint32_t le = htole32(v);

	return ioreq_mem_write(d->d_mem, d->d_mb_gpa + off, &le, sizeof(le));
}

static inline uint32_t
get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline bool
is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* ---- Interrupts ---------------------------------------------------------- */

static void
irq_raise(struct vsock_dev *d)
{
	int rc;

	if (d->d_irq.mode == HCVS_IRQ_NONE || d->d_irq_ops == NULL ||
	    d->d_irq_ops->raise == NULL)
		return;
	if (d->d_irq.mode == HCVS_IRQ_ISA) {
		/* Belt and braces: SET_NOTIFY already refused ISA here. */
		if (!d->d_is_hvm) {
			d->d_st.ds_irq_errors++;
			return;
		}
		if (d->d_isa_asserted)
			return;
		d->d_isa_asserted = true;
	}
	rc = d->d_irq_ops->raise(d->d_irq_arg, &d->d_irq, true);
	d->d_st.ds_irqs++;
	if (rc < 0) {
		d->d_st.ds_irq_errors++;
		log_ratelimited(&d->d_rl, LOG_WARNING, "%s: raising mode %u: %s",
		    d->d_name, d->d_irq.mode, strerror(-rc));
	}
}

static void
irq_deassert(struct vsock_dev *d)
{
	if (!d->d_isa_asserted)
		return;
	d->d_isa_asserted = false;
	if (d->d_is_hvm && d->d_irq_ops != NULL && d->d_irq_ops->raise != NULL)
		(void)d->d_irq_ops->raise(d->d_irq_arg, &d->d_irq, false);
}

static int
irq_setup(struct vsock_dev *d, const struct vsock_irq_cfg *irq)
{
	if (d->d_irq_ops == NULL || d->d_irq_ops->setup == NULL)
		return 0;
	return d->d_irq_ops->setup(d->d_irq_arg, irq);
}

static void
halt(struct vsock_dev *d, uint32_t err)
{
	if (d->d_status & HCVS_STATUS_ERROR)
		return;
	d->d_status |= HCVS_STATUS_ERROR;
	d->d_error = err;
	d->d_st.ds_ring_errors++;
	if (d->d_status & HCVS_STATUS_MAILBOX)
		(void)mb_write32(d, HCVS_MB_ERROR, err);
	log_ratelimited(&d->d_rl, LOG_WARNING, "%s: device halted, error %u",
	    d->d_name, err);
	d->d_isr |= HCVS_ISR_ERROR;
	irq_raise(d);
}

/* ---- Validation of guest choices ----------------------------------------- */

static uint32_t
irq_validate(const struct vsock_dev *d, const uint32_t args[4],
    struct vsock_irq_cfg *irq)
{
	uint32_t mode = args[0];

	memset(irq, 0, sizeof(*irq));
	if (mode > HCVS_IRQ_MODE_MAX || !(d->d_irq_caps & (1u << mode)))
		return HCVS_ERR_UNSUPPORTED;
	irq->mode = mode;
	switch (mode) {
	case HCVS_IRQ_NONE:
		break;
	case HCVS_IRQ_MSI:
		if ((args[1] & HCVS_MSI_ADDR_MASK) != HCVS_MSI_ADDR_BASE ||
		    args[2] != 0 || (args[3] & 0xffu) < HCVS_MSI_VECTOR_MIN ||
		    args[3] > 0xffffu)
			return HCVS_ERR_BAD_ARG;
		irq->msi_addr = args[1];
		irq->msi_data = args[3];
		break;
	case HCVS_IRQ_EVTCHN:
		if (args[1] == 0 || args[1] > HCVS_EVTCHN_PORT_MAX)
			return HCVS_ERR_BAD_ARG;
		irq->evtchn_port = args[1];
		break;
	case HCVS_IRQ_GSI:
		if (args[1] > HCVS_GSI_MAX)
			return HCVS_ERR_BAD_ARG;
		irq->gsi = args[1];
		break;
	case HCVS_IRQ_ISA:
		if (!d->d_is_hvm)
			return HCVS_ERR_UNSUPPORTED;
		if (args[1] == 0 || args[1] == 2 || args[1] > 15)
			return HCVS_ERR_BAD_ARG;
		irq->isa_irq = args[1];
		break;
	default:
		return HCVS_ERR_UNSUPPORTED;
	}
	return HCVS_ERR_OK;
}

static bool
irq_cfg_valid(const struct vsock_dev *d, const struct vsock_irq_cfg *irq)
{
	uint32_t args[4] = { irq->mode, 0, 0, 0 };
	struct vsock_irq_cfg tmp;

	switch (irq->mode) {
	case HCVS_IRQ_MSI:
		if (irq->msi_addr > UINT32_MAX)
			return false;
		args[1] = (uint32_t)irq->msi_addr;
		args[3] = irq->msi_data;
		break;
	case HCVS_IRQ_EVTCHN:
		args[1] = irq->evtchn_port;
		break;
	case HCVS_IRQ_GSI:
		args[1] = irq->gsi;
		break;
	case HCVS_IRQ_ISA:
		args[1] = irq->isa_irq;
		break;
	default:
		break;
	}
	return irq_validate(d, args, &tmp) == HCVS_ERR_OK;
}

/*
 * Read the header once, check it, copy the geometry.  With `adopt`, the
 * indices come from the host line (re-attach); else the rings start
 * empty at the guest's current indices.
 */
static uint32_t
mailbox_setup(struct vsock_dev *d, uint64_t gpa, uint64_t size, bool adopt)
{
	uint8_t h[HCVS_MBOX_HDR_SIZE];
	uint32_t tx_slots, rx_slots, slot, tx_off, rx_off, tx_prod, rx_cons;
	uint32_t tx_cons, rx_prod;
	uint64_t tx_end, rx_end;
	uint8_t probe;
	uint8_t *buf;

	if ((gpa & (HCVS_MBOX_ALIGN - 1)) != 0 || size < HCVS_MBOX_HDR_SIZE ||
	    size > HCVS_MBOX_MAX_SIZE || gpa + size < gpa)
		return HCVS_ERR_BAD_ADDRESS;
	if (ioreq_mem_read(d->d_mem, gpa, h, sizeof(h)) < 0)
		return HCVS_ERR_BAD_ADDRESS;

	if (get_le32(h + HCVS_MB_MAGIC) != HCVS_MBOX_MAGIC ||
	    get_le32(h + HCVS_MB_VERSION) != HCVS_MBOX_VERSION)
		return HCVS_ERR_BAD_MAILBOX;
	tx_slots = get_le32(h + HCVS_MB_TX_SLOTS);
	rx_slots = get_le32(h + HCVS_MB_RX_SLOTS);
	slot = get_le32(h + HCVS_MB_SLOT_SIZE);
	tx_off = get_le32(h + HCVS_MB_TX_OFF);
	rx_off = get_le32(h + HCVS_MB_RX_OFF);
	tx_prod = get_le32(h + HCVS_MB_TX_PROD);
	rx_cons = get_le32(h + HCVS_MB_RX_CONS);
	tx_cons = get_le32(h + HCVS_MB_TX_CONS);
	rx_prod = get_le32(h + HCVS_MB_RX_PROD);

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
	if (ioreq_mem_read(d->d_mem, gpa + tx_off, &probe, 1) < 0 ||
	    ioreq_mem_read(d->d_mem, gpa + tx_end - 1, &probe, 1) < 0 ||
	    ioreq_mem_read(d->d_mem, gpa + rx_off, &probe, 1) < 0 ||
	    ioreq_mem_read(d->d_mem, gpa + rx_end - 1, &probe, 1) < 0)
		return HCVS_ERR_BAD_ADDRESS;
	if (adopt) {
		if (tx_prod - tx_cons > tx_slots ||
		    rx_prod - rx_cons > rx_slots)
			return HCVS_ERR_BAD_INDEX;
	} else {
		tx_cons = tx_prod;
		rx_prod = rx_cons;
	}

	buf = realloc(d->d_buf, slot);
	if (buf == NULL)
		return HCVS_ERR_HOST;
	d->d_buf = buf;
	d->d_mb_gpa = gpa;
	d->d_mb_size = (uint32_t)size;
	d->d_tx_slots = tx_slots;
	d->d_rx_slots = rx_slots;
	d->d_slot_size = slot;
	d->d_tx_off = tx_off;
	d->d_rx_off = rx_off;
	d->d_tx_cons = tx_cons;
	d->d_rx_prod = rx_prod;
	d->d_host_flags = 0;
	if (mb_write32(d, HCVS_MB_TX_CONS, d->d_tx_cons) < 0 ||
	    mb_write32(d, HCVS_MB_RX_PROD, d->d_rx_prod) < 0 ||
	    mb_write32(d, HCVS_MB_HOST_FLAGS, 0) < 0 ||
	    mb_write32(d, HCVS_MB_CID_LO, (uint32_t)d->d_cid) < 0 ||
	    mb_write32(d, HCVS_MB_CID_HI, (uint32_t)(d->d_cid >> 32)) < 0 ||
	    mb_write32(d, HCVS_MB_EPOCH, d->d_epoch) < 0 ||
	    mb_write32(d, HCVS_MB_ERROR, 0) < 0)
		return HCVS_ERR_BAD_ADDRESS;
	return HCVS_ERR_OK;
}

/* ---- Reset ----------------------------------------------------------------- */

static void
dev_reset(struct vsock_dev *d)
{
	struct vsock_irq_cfg none;

	/* Not LIVE first, so a muxer callback during the reset is inert. */
	d->d_status = 0;
	irq_deassert(d);
	if (d->d_irq.mode != HCVS_IRQ_NONE) {
		memset(&none, 0, sizeof(none));
		(void)irq_setup(d, &none);
	}
	memset(&d->d_irq, 0, sizeof(d->d_irq));
	d->d_protocol = HCVS_PROTO_NONE;
	d->d_guest_features = 0;
	d->d_error = 0;
	memset(d->d_args, 0, sizeof(d->d_args));
	d->d_isr = 0;
	d->d_mb_gpa = 0;
	d->d_mb_size = 0;
	d->d_tx_slots = d->d_rx_slots = d->d_slot_size = 0;
	d->d_tx_off = d->d_rx_off = 0;
	d->d_tx_cons = d->d_rx_prod = d->d_host_flags = 0;
	free(d->d_buf);
	d->d_buf = NULL;
	d->d_kick_pending = d->d_rx_pending = d->d_more = false;
	d->d_rst_head = d->d_rst_count = 0;
	d->d_changed = true;
	if (d->d_mux != NULL)
		vsock_mux_reset(d->d_mux);
}

void
vsock_dev_reset(struct vsock_dev *d)
{
	d->d_st.ds_resets++;
	dev_reset(d);
	d->d_cmd_result = HCVS_ERR_OK;
}

/* ---- Commands ------------------------------------------------------------- */

static uint32_t
cmd_exec(struct vsock_dev *d, uint32_t cmd)
{
	const uint32_t *a = d->d_args;
	struct vsock_irq_cfg irq;
	uint32_t rc;
	int err;

	if ((d->d_status & HCVS_STATUS_ERROR) && cmd != HCVS_CMD_RESET &&
	    cmd != HCVS_CMD_NOP)
		return HCVS_ERR_BAD_STATE;

	switch (cmd) {
	case HCVS_CMD_NOP:
		return HCVS_ERR_OK;
	case HCVS_CMD_RESET:
		d->d_st.ds_resets++;
		dev_reset(d);
		return HCVS_ERR_OK;
	case HCVS_CMD_SET_PROTOCOL:
		if (d->d_status & HCVS_STATUS_LIVE)
			return HCVS_ERR_BAD_STATE;
		if (a[0] != HCVS_PROTO_RING)
			return HCVS_ERR_UNSUPPORTED;
		d->d_protocol = a[0];
		d->d_status |= HCVS_STATUS_PROTOCOL;
		d->d_changed = true;
		return HCVS_ERR_OK;
	case HCVS_CMD_SET_FEATURES:
		if (d->d_protocol != HCVS_PROTO_RING ||
		    (d->d_status & HCVS_STATUS_LIVE))
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
		rc = mailbox_setup(d, ((uint64_t)a[1] << 32) | a[0], a[2],
		    false);
		if (rc == HCVS_ERR_OK) {
			d->d_status |= HCVS_STATUS_MAILBOX;
			d->d_changed = true;
		}
		return rc;
	case HCVS_CMD_SET_NOTIFY:
		if (d->d_protocol != HCVS_PROTO_RING)
			return HCVS_ERR_BAD_STATE;
		rc = irq_validate(d, a, &irq);
		if (rc != HCVS_ERR_OK)
			return rc;
		err = irq_setup(d, &irq);
		if (err < 0) {
			log_ratelimited(&d->d_rl, LOG_WARNING,
			    "%s: notification mode %u refused: %s", d->d_name,
			    irq.mode, strerror(-err));
			return HCVS_ERR_IRQ_SETUP;
		}
		irq_deassert(d);
		d->d_irq = irq;
		if (irq.mode != HCVS_IRQ_NONE)
			d->d_status |= HCVS_STATUS_NOTIFY;
		else
			d->d_status &= ~HCVS_STATUS_NOTIFY;
		d->d_changed = true;
		return HCVS_ERR_OK;
	case HCVS_CMD_ENABLE:
		if (!(d->d_status & HCVS_STATUS_MAILBOX) ||
		    (d->d_status & HCVS_STATUS_LIVE))
			return HCVS_ERR_BAD_STATE;
		d->d_status |= HCVS_STATUS_LIVE;
		/* The guest may have queued TX before enabling. */
		d->d_kick_pending = true;
		d->d_changed = true;
		return HCVS_ERR_OK;
	case HCVS_CMD_GET_CID:
		d->d_args[0] = (uint32_t)d->d_cid;
		d->d_args[1] = (uint32_t)(d->d_cid >> 32);
		return HCVS_ERR_OK;
	case HCVS_CMD_GET_SERVER_DOM:
		if (!(d->d_irq_caps & (1u << HCVS_IRQ_EVTCHN)))
			return HCVS_ERR_UNSUPPORTED;
		d->d_args[0] = d->d_server_domid;
		return HCVS_ERR_OK;
	default:
		return HCVS_ERR_UNKNOWN_CMD;
	}
}

/* ---- Rings ----------------------------------------------------------------- */

static void
rst_queue(struct vsock_dev *d, const struct vsock_pkt_hdr *h)
{
	struct vsock_pkt_hdr *r;

	if (d->d_rst_count == RSTQ_LEN) {
		d->d_st.ds_rst_dropped++;
		return;
	}
	r = &d->d_rstq[(d->d_rst_head + d->d_rst_count) % RSTQ_LEN];
	memset(r, 0, sizeof(*r));
	r->src_cid = h->dst_cid;
	r->dst_cid = h->src_cid;
	r->src_port = h->dst_port;
	r->dst_port = h->src_port;
	/* Every packet the guest gets is well formed: no bogus type echoed. */
	r->type = h->type == VSOCK_TYPE_SEQPACKET ? VSOCK_TYPE_SEQPACKET :
	    VSOCK_TYPE_STREAM;
	r->op = VSOCK_OP_RST;
	d->d_rst_count++;
	d->d_rx_pending = true;
}

static bool
type_ok(const struct vsock_dev *d, uint16_t type)
{
	if (type == VSOCK_TYPE_STREAM)
		return true;
	return type == VSOCK_TYPE_SEQPACKET &&
	    (d->d_guest_features & HCVS_F_SEQPACKET);
}

/* One TX slot: copy the header once, validate, copy the payload once. */
static int
tx_slot(struct vsock_dev *d, uint32_t idx)
{
	uint64_t gpa = d->d_mb_gpa + d->d_tx_off +
	    (uint64_t)(idx & (d->d_tx_slots - 1)) * d->d_slot_size;
	uint8_t w[VSOCK_HDR_SIZE];
	struct vsock_pkt_hdr h, t;
	uint32_t cap = d->d_slot_size - VSOCK_HDR_SIZE;
	bool tear = false;
	const char *why = NULL;

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
		tear = type_ok(d, h.type);
	} else if (!type_ok(d, h.type)) {
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
		if (tear && d->d_mux != NULL) {
			/* Tell the muxer as if the guest reset the flow. */
			t = h;
			t.op = VSOCK_OP_RST;
			t.len = 0;
			t.flags = 0;
			vsock_mux_from_guest(d->d_mux, &t, d->d_buf);
		}
		if (h.op != VSOCK_OP_RST) {
			rst_queue(d, &h);
			d->d_st.ds_rst_sent++;
		}
		return 0;
	}
	if (h.len > 0 && ioreq_mem_read(d->d_mem, gpa + VSOCK_HDR_SIZE,
	    d->d_buf, h.len) < 0)
		return -EFAULT;
	d->d_st.ds_tx_pkts++;
	d->d_st.ds_tx_bytes += h.len;
	if (d->d_mux != NULL)
		vsock_mux_from_guest(d->d_mux, &h, d->d_buf);
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
 * flag stays set and d_more promises the next pass.
 */
static uint32_t
tx_run(struct vsock_dev *d)
{
	uint32_t budget = d->d_tx_slots, prod, avail, n, done = 0;

	for (;;) {
		if (mb_read32(d, HCVS_MB_TX_PROD, &prod) < 0) {
			halt(d, HCVS_ERR_MEM_FAULT);
			break;
		}
		avail = prod - d->d_tx_cons;
		if (avail > d->d_tx_slots) {
			log_ratelimited(&d->d_rl, LOG_WARNING,
			    "%s: TX_PROD %u vs TX_CONS %u", d->d_name, prod,
			    d->d_tx_cons);
			halt(d, HCVS_ERR_BAD_INDEX);
			break;
		}
		if (avail == 0) {
			if (!(d->d_host_flags & HCVS_HF_TX_NO_KICK))
				break;
			/* Re-check after clearing: a producer may have skipped its kick. */
			d->d_host_flags &= ~HCVS_HF_TX_NO_KICK;
			if (mb_write32(d, HCVS_MB_HOST_FLAGS, d->d_host_flags) < 0) {
				halt(d, HCVS_ERR_MEM_FAULT);
				break;
			}
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			continue;
		}
		/* Entries to take: producers need not ring meanwhile. */
		if (!(d->d_host_flags & HCVS_HF_TX_NO_KICK)) {
			d->d_host_flags |= HCVS_HF_TX_NO_KICK;
			if (mb_write32(d, HCVS_MB_HOST_FLAGS,
			    d->d_host_flags) < 0) {
				halt(d, HCVS_ERR_MEM_FAULT);
				break;
			}
		}
		if (budget == 0) {
			/* The flag stays set: the next pass is promised. */
			d->d_more = true;
			d->d_st.ds_deferred++;
			break;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		n = MIN(avail, budget);
		for (; n > 0; n--) {
			if (tx_slot(d, d->d_tx_cons) < 0) {
				halt(d, HCVS_ERR_MEM_FAULT);
				return done;
			}
			d->d_tx_cons++;
			budget--;
			done++;
		}
		__atomic_thread_fence(__ATOMIC_RELEASE);
		if (mb_write32(d, HCVS_MB_TX_CONS, d->d_tx_cons) < 0) {
			halt(d, HCVS_ERR_MEM_FAULT);
			break;
		}
	}
	return done;
}

static bool
rx_have(const struct vsock_dev *d)
{
	return d->d_rst_count > 0 ||
	    (d->d_mux != NULL && vsock_mux_has_rx(d->d_mux));
}

/* Next packet for the guest into d_buf (header encoded). 0: none. */
static int
rx_next(struct vsock_dev *d, uint32_t *len)
{
	struct vsock_pkt_hdr h;
	uint32_t cap = d->d_slot_size - VSOCK_HDR_SIZE;

	if (d->d_rst_count > 0) {
		h = d->d_rstq[d->d_rst_head];
		d->d_rst_head = (d->d_rst_head + 1) % RSTQ_LEN;
		d->d_rst_count--;
	} else if (d->d_mux == NULL ||
	    vsock_mux_to_guest(d->d_mux, &h, d->d_buf + VSOCK_HDR_SIZE,
	    cap) != 1) {
		return 0;
	}
	if (h.len > cap) {
		/* A muxer bug must not become a guest overflow. */
		log_ratelimited(&d->d_rl, LOG_ERR,
		    "%s: muxer packet of %u bytes exceeds slot", d->d_name,
		    h.len);
		h.len = cap;
	}
	vsock_hdr_encode(d->d_buf, &h);
	*len = VSOCK_HDR_SIZE + h.len;
	return 1;
}

/* Publish up to one ring of RX entries.  Returns entries published. */
static uint32_t
rx_run(struct vsock_dev *d)
{
	uint32_t budget = d->d_rx_slots, cons, used, n, len, done = 0;
	uint64_t gpa;
	bool want = false;

	d->d_rx_pending = false;
	for (;;) {
		if (mb_read32(d, HCVS_MB_RX_CONS, &cons) < 0) {
			halt(d, HCVS_ERR_MEM_FAULT);
			return done;
		}
		used = d->d_rx_prod - cons;
		if (used > d->d_rx_slots) {
			log_ratelimited(&d->d_rl, LOG_WARNING,
			    "%s: RX_CONS %u vs RX_PROD %u", d->d_name, cons,
			    d->d_rx_prod);
			halt(d, HCVS_ERR_BAD_INDEX);
			return done;
		}
		n = 0;
		while (used + n < d->d_rx_slots && budget > 0 &&
		    rx_next(d, &len) == 1) {
			gpa = d->d_mb_gpa + d->d_rx_off +
			    (uint64_t)((d->d_rx_prod + n) &
			    (d->d_rx_slots - 1)) * d->d_slot_size;
			if (ioreq_mem_write(d->d_mem, gpa, d->d_buf, len) < 0) {
				halt(d, HCVS_ERR_MEM_FAULT);
				return done;
			}
			d->d_st.ds_rx_pkts++;
			d->d_st.ds_rx_bytes += len - VSOCK_HDR_SIZE;
			n++;
			budget--;
		}
		if (n > 0) {
			__atomic_thread_fence(__ATOMIC_RELEASE);
			d->d_rx_prod += n;
			done += n;
			if (mb_write32(d, HCVS_MB_RX_PROD, d->d_rx_prod) < 0) {
				halt(d, HCVS_ERR_MEM_FAULT);
				return done;
			}
		}
		want = rx_have(d);
		if (!want || budget == 0)
			break;
		if (used + n < d->d_rx_slots)
			continue;
		/* Ring full with packets waiting: ask for a kick, re-check. */
		if (d->d_host_flags & HCVS_HF_RX_WANT_KICK)
			break;
		d->d_host_flags |= HCVS_HF_RX_WANT_KICK;
		if (mb_write32(d, HCVS_MB_HOST_FLAGS, d->d_host_flags) < 0) {
			halt(d, HCVS_ERR_MEM_FAULT);
			return done;
		}
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	if (want && budget == 0) {
		d->d_more = true;
		d->d_st.ds_deferred++;
	}
	if (!want && (d->d_host_flags & HCVS_HF_RX_WANT_KICK)) {
		d->d_host_flags &= ~HCVS_HF_RX_WANT_KICK;
		(void)mb_write32(d, HCVS_MB_HOST_FLAGS, d->d_host_flags);
	}
	return done;
}

static bool
dev_runnable(const struct vsock_dev *d)
{
	return (d->d_status & (HCVS_STATUS_LIVE | HCVS_STATUS_ERROR)) ==
	    HCVS_STATUS_LIVE;
}

/* One bounded pass over both rings, then at most one notification. */
static int
run_pass(struct vsock_dev *d)
{
	uint32_t tx, rx, gflags;
	bool notify = false;

	d->d_kick_pending = false;
	d->d_more = false;
	if (!dev_runnable(d) || d->d_in_pass) {
		d->d_rx_pending = false;
		return 0;
	}
	d->d_in_pass = true;
	d->d_st.ds_passes++;
	tx = tx_run(d);
	rx = dev_runnable(d) ? rx_run(d) : 0;
	/* Replies queued by the muxer while RX ran get one more round. */
	if (dev_runnable(d) && d->d_rx_pending && !d->d_more)
		rx += rx_run(d);
	d->d_in_pass = false;
	if (!dev_runnable(d))
		return 0;

	if (rx > 0 || tx > 0) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (mb_read32(d, HCVS_MB_GUEST_FLAGS, &gflags) < 0) {
			halt(d, HCVS_ERR_MEM_FAULT);
			return 0;
		}
		if (rx > 0 && !(gflags & HCVS_GF_RX_NO_IRQ)) {
			d->d_isr |= HCVS_ISR_RX;
			notify = true;
		}
		if (tx > 0 && (gflags & HCVS_GF_TX_WANT_IRQ)) {
			d->d_isr |= HCVS_ISR_TX;
			notify = true;
		}
	}
	if (notify)
		irq_raise(d);
	return d->d_more ? 1 : 0;
}

int
vsock_dev_kick(struct vsock_dev *d)
{
	d->d_st.ds_kicks++;
	return run_pass(d);
}

int
vsock_dev_process(struct vsock_dev *d)
{
	if (!vsock_dev_pending(d))
		return 0;
	return run_pass(d);
}

bool
vsock_dev_pending(const struct vsock_dev *d)
{
	return dev_runnable(d) &&
	    (d->d_kick_pending || d->d_rx_pending || d->d_more);
}

void
vsock_dev_rx_ready(void *arg)
{
	struct vsock_dev *d = arg;

	d->d_rx_pending = true;
	if (!d->d_in_pass && dev_runnable(d))
		(void)run_pass(d);
}

/* ---- Register window ------------------------------------------------------- */

uint32_t
vsock_dev_peek_reg(const struct vsock_dev *d, uint32_t off)
{
	switch (off) {
	case HCVS_REG_MAGIC:
		return HCVS_MAGIC;
	case HCVS_REG_VERSION:
		return HCVS_VERSION;
	case HCVS_REG_HOST_FEATURES:
		return d->d_host_features;
	case HCVS_REG_GUEST_FEATURES:
		return d->d_guest_features;
	case HCVS_REG_PROTOCOLS:
		return 1u << HCVS_PROTO_RING;
	case HCVS_REG_IRQ_MODES:
		return d->d_irq_caps;
	case HCVS_REG_STATUS:
		return d->d_status;
	case HCVS_REG_ERROR:
		return d->d_error;
	case HCVS_REG_ARG0:
	case HCVS_REG_ARG1:
	case HCVS_REG_ARG2:
	case HCVS_REG_ARG3:
		return d->d_args[(off - HCVS_REG_ARG0) / 4];
	case HCVS_REG_CMD:
		return d->d_cmd_result;
	case HCVS_REG_ISR:
		return d->d_isr;
	default:
		return 0;
	}
}

static int
reg_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct vsock_dev *d = opaque;

	(void)vcpu;
	d->d_st.ds_reg_reads++;
	if (size != 4 || (off & 3) != 0) {
		d->d_st.ds_bad_access++;
		return -EINVAL;
	}
	if (off >= HCVS_REG_WINDOW_SIZE) {
		*val = 0;
		return 0;
	}
	*val = vsock_dev_peek_reg(d, (uint32_t)off);
	if (off == HCVS_REG_ISR) {
		d->d_isr = 0;
		irq_deassert(d);
	}
	return 0;
}

static int
reg_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct vsock_dev *d = opaque;
	uint32_t v = (uint32_t)val;

	(void)vcpu;
	d->d_st.ds_reg_writes++;
	if (size != 4 || (off & 3) != 0) {
		d->d_st.ds_bad_access++;
		return -EINVAL;
	}
	switch (off) {
	case HCVS_REG_ARG0:
	case HCVS_REG_ARG1:
	case HCVS_REG_ARG2:
	case HCVS_REG_ARG3:
		d->d_args[(off - HCVS_REG_ARG0) / 4] = v;
		return 0;
	case HCVS_REG_CMD:
		d->d_st.ds_cmds++;
		d->d_cmd_result = cmd_exec(d, v);
		if (d->d_cmd_result != HCVS_ERR_OK)
			d->d_st.ds_cmd_errors++;
		return 0;
	case HCVS_REG_DOORBELL:
		d->d_st.ds_kicks++;
		d->d_kick_pending = true;
		return 0;
	case HCVS_REG_DOORBELL_SYNC:
		d->d_st.ds_kicks++;
		if (!(d->d_host_features & HCVS_F_SYNC_DOORBELL)) {
			d->d_kick_pending = true;
			return 0;
		}
		d->d_st.ds_sync_kicks++;
		(void)run_pass(d);
		return 0;
	default:
		d->d_st.ds_bad_access++;
		return 0;
	}
}

const struct ioreq_handler_ops vsock_dev_handler_ops = {
	.read = reg_read,
	.write = reg_write,
};

/* ---- Life cycle, state, stats --------------------------------------------- */

int
vsock_dev_new(const struct vsock_dev_cfg *cfg, struct vsock_dev **dp)
{
	struct vsock_dev *d;
	const struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 1);

	*dp = NULL;
	if (cfg == NULL || cfg->mem == NULL || cfg->guest_cid < 3 ||
	    cfg->guest_cid >= UINT32_MAX ||
	    (cfg->features & ~HCVS_F_KNOWN) != 0 ||
	    (cfg->features != 0 && !(cfg->features & HCVS_F_STREAM)))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->d_mem = cfg->mem;
	d->d_mux = cfg->mux;
	d->d_cid = cfg->guest_cid;
	d->d_host_features = cfg->features != 0 ? cfg->features :
	    (HCVS_F_STREAM | HCVS_F_SYNC_DOORBELL);
	d->d_is_hvm = cfg->is_hvm;
	d->d_server_domid = cfg->server_domid;
	d->d_irq_caps = (cfg->irq_caps & ((2u << HCVS_IRQ_MODE_MAX) - 1)) |
	    (1u << HCVS_IRQ_NONE);
	if (!d->d_is_hvm)
		d->d_irq_caps &= ~(1u << HCVS_IRQ_ISA);
	d->d_irq_ops = cfg->irq_ops;
	d->d_irq_arg = cfg->irq_arg;
	snprintf(d->d_name, sizeof(d->d_name), "%s",
	    cfg->name != NULL ? cfg->name : "vsock");
	d->d_rl = rl;
	*dp = d;
	return 0;
}

void
vsock_dev_free(struct vsock_dev *d)
{
	if (d == NULL)
		return;
	free(d->d_buf);
	free(d);
}

void
vsock_dev_set_mux(struct vsock_dev *d, struct vsock_mux *m)
{
	d->d_mux = m;
}

void
vsock_dev_export(const struct vsock_dev *d, struct vsock_dev_state *st)
{
	memset(st, 0, sizeof(*st));
	st->st_version = VSOCK_DEV_STATE_VERSION;
	st->st_protocol = d->d_protocol;
	st->st_features = d->d_guest_features;
	st->st_status = d->d_status;
	st->st_mbox_gpa = d->d_mb_gpa;
	st->st_mbox_size = d->d_mb_size;
	st->st_epoch = d->d_epoch;
	st->st_tx_cons = d->d_tx_cons;
	st->st_rx_prod = d->d_rx_prod;
	st->st_irq = d->d_irq;
}

int
vsock_dev_import(struct vsock_dev *d, const struct vsock_dev_state *st)
{
	const uint32_t known = HCVS_STATUS_PROTOCOL | HCVS_STATUS_FEATURES |
	    HCVS_STATUS_MAILBOX | HCVS_STATUS_NOTIFY | HCVS_STATUS_LIVE |
	    HCVS_STATUS_ERROR;
	uint32_t s = st->st_status, rc;

	if (st->st_version != VSOCK_DEV_STATE_VERSION || (s & ~known) != 0 ||
	    (st->st_protocol != HCVS_PROTO_NONE &&
	    st->st_protocol != HCVS_PROTO_RING) ||
	    (st->st_features & ~d->d_host_features) != 0 ||
	    !irq_cfg_valid(d, &st->st_irq))
		return -EINVAL;
	/* Only states the command sequence can reach. */
	if (((s & HCVS_STATUS_LIVE) && !(s & HCVS_STATUS_MAILBOX)) ||
	    ((s & HCVS_STATUS_MAILBOX) && !(s & HCVS_STATUS_FEATURES)) ||
	    ((s & HCVS_STATUS_FEATURES) && !(s & HCVS_STATUS_PROTOCOL)))
		return -EINVAL;

	dev_reset(d);
	d->d_epoch = st->st_epoch + 1;
	if (s & HCVS_STATUS_ERROR) {
		/* The guest must RESET anyway; keep it halted. */
		d->d_status = HCVS_STATUS_ERROR;
		d->d_error = HCVS_ERR_HOST;
		return 0;
	}
	d->d_protocol = st->st_protocol;
	d->d_guest_features = st->st_features;
	d->d_status = s & (HCVS_STATUS_PROTOCOL | HCVS_STATUS_FEATURES);
	if (st->st_irq.mode != HCVS_IRQ_NONE) {
		if (irq_setup(d, &st->st_irq) < 0) {
			halt(d, HCVS_ERR_IRQ_SETUP);
			return 0;
		}
		d->d_irq = st->st_irq;
		d->d_status |= HCVS_STATUS_NOTIFY;
	}
	if (s & HCVS_STATUS_MAILBOX) {
		rc = mailbox_setup(d, st->st_mbox_gpa, st->st_mbox_size, true);
		if (rc != HCVS_ERR_OK) {
			halt(d, rc);
			return 0;
		}
		d->d_status |= HCVS_STATUS_MAILBOX;
	}
	if (s & HCVS_STATUS_LIVE) {
		d->d_status |= HCVS_STATUS_LIVE;
		d->d_kick_pending = true;
	}
	d->d_isr |= HCVS_ISR_RESET;
	irq_raise(d);
	d->d_changed = true;
	return 0;
}

void
vsock_dev_going_away(struct vsock_dev *d)
{
	/*
	 * The same notice a re-attach gives (EPOCH moves, ISR_RESET, an
	 * interrupt): a guest asleep waiting for RX learns now that its
	 * connections are gone, instead of when its own timeout fires.
	 */
	if (!dev_runnable(d))
		return;
	d->d_epoch++;
	if (mb_write32(d, HCVS_MB_EPOCH, d->d_epoch) < 0)
		return;
	d->d_isr |= HCVS_ISR_RESET;
	irq_raise(d);
}

bool
vsock_dev_state_changed(struct vsock_dev *d)
{
	bool c = d->d_changed;

	d->d_changed = false;
	return c;
}

void
vsock_dev_get_stats(const struct vsock_dev *d, struct vsock_dev_stats *st)
{
	*st = d->d_st;
}

void
vsock_dev_dump(const struct vsock_dev *d,
    void (*cb)(void *arg, const char *line), void *arg)
{
	const struct vsock_dev_stats *s = &d->d_st;
	char line[256];

	snprintf(line, sizeof(line),
	    "%s: cid %" PRIu64 " proto %u features %#x/%#x status %#x "
	    "error %u isr %#x irq mode %u", d->d_name, d->d_cid,
	    d->d_protocol, d->d_guest_features, d->d_host_features,
	    d->d_status, d->d_error, d->d_isr, d->d_irq.mode);
	cb(arg, line);
	snprintf(line, sizeof(line),
	    "%s: mailbox %#" PRIx64 "+%u tx %u rx %u slot %u tx_cons %u "
	    "rx_prod %u host_flags %#x epoch %u rstq %u", d->d_name,
	    d->d_mb_gpa, d->d_mb_size, d->d_tx_slots, d->d_rx_slots,
	    d->d_slot_size, d->d_tx_cons, d->d_rx_prod, d->d_host_flags,
	    d->d_epoch, d->d_rst_count);
	cb(arg, line);
	snprintf(line, sizeof(line),
	    "%s: tx %" PRIu64 " pkts %" PRIu64 " B, rx %" PRIu64 " pkts %"
	    PRIu64 " B, kicks %" PRIu64 " (sync %" PRIu64 "), bad_hdr %"
	    PRIu64 " spoofed %" PRIu64 " rst %" PRIu64 " ring_errors %" PRIu64
	    " irqs %" PRIu64 " bad_access %" PRIu64, d->d_name, s->ds_tx_pkts,
	    s->ds_tx_bytes, s->ds_rx_pkts, s->ds_rx_bytes, s->ds_kicks,
	    s->ds_sync_kicks, s->ds_bad_hdr, s->ds_spoofed, s->ds_rst_sent,
	    s->ds_ring_errors, s->ds_irqs, s->ds_bad_access);
	cb(arg, line);
}

void
vsock_dev_get_info(const struct vsock_dev *d, struct vsock_dev_info *di)
{
	memset(di, 0, sizeof(*di));
	di->di_cid = d->d_cid;
	di->di_status = d->d_status;
	di->di_error = d->d_error;
	di->di_isr = d->d_isr;
	di->di_guest_features = d->d_guest_features;
	di->di_host_features = d->d_host_features;
	di->di_irq_mode = d->d_irq.mode;
	di->di_mbox_gpa = d->d_mb_gpa;
	di->di_mbox_size = d->d_mb_size;
	di->di_tx_slots = d->d_tx_slots;
	di->di_rx_slots = d->d_rx_slots;
	di->di_slot_size = d->d_slot_size;
	di->di_tx_cons = d->d_tx_cons;
	di->di_rx_prod = d->d_rx_prod;
	di->di_host_flags = d->d_host_flags;
	di->di_epoch = d->d_epoch;
	di->di_rst_queued = d->d_rst_count;
}
