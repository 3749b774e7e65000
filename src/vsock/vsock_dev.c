/* SPDX-License-Identifier: MIT */
/*
 * The register window (docs/PROTOCOL.md §3, §5, §6, §9-§11): registers,
 * the common commands, status, ISR and the interrupt, export and import;
 * everything else goes to the selected protocol (vsock_proto.h).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vsock/vsock_proto.h"

/* Every protocol this window can carry, by HCVS_PROTO_* number. */
static const struct vsock_proto_ops *const protos[] = {
	[HCVS_PROTO_RING] = &vsock_ring_proto,
	[HCVS_PROTO_MSG] = &vsock_msg_proto,
};
#define NPROTOS	(sizeof(protos) / sizeof(protos[0]))
_Static_assert(NPROTOS <= VSOCK_PROTO_SLOTS, "a protocol number beyond d_priv");

/* ---- Interrupts ---------------------------------------------------------- */

static void
irq_raise(struct vsock_dev *d)
{
	int rc;

	if (d->d_irq.mode == HCVS_IRQ_NONE || d->d_irq_ops == NULL ||
	    d->d_irq_ops->raise == NULL)
		return;
	rc = d->d_irq_ops->raise(d->d_irq_arg, &d->d_irq);
	d->d_st.ds_irqs++;
	if (rc < 0) {
		d->d_st.ds_irq_errors++;
		log_ratelimited(&d->d_rl, LOG_WARNING, "%s: raising mode %u: %s",
		    d->d_name, d->d_irq.mode, strerror(-rc));
	}
}

static int
irq_setup(struct vsock_dev *d, const struct vsock_irq_cfg *irq)
{
	if (d->d_irq_ops == NULL || d->d_irq_ops->setup == NULL)
		return 0;
	return d->d_irq_ops->setup(d->d_irq_arg, irq);
}

void
vsock_dev_notify(struct vsock_dev *d, uint32_t isr)
{
	d->d_isr |= isr;
	irq_raise(d);
}

void
vsock_dev_halt(struct vsock_dev *d, uint32_t err)
{
	if (d->d_status & HCVS_STATUS_ERROR)
		return;
	d->d_status |= HCVS_STATUS_ERROR;
	d->d_error = err;
	d->d_st.ds_ring_errors++;
	if (d->d_po != NULL)
		d->d_po->po_halted(d->d_pp, err);
	log_ratelimited(&d->d_rl, LOG_WARNING, "%s: device halted, error %u",
	    d->d_name, err);
	vsock_dev_notify(d, HCVS_ISR_ERROR);
}

bool
vsock_dev_runnable(const struct vsock_dev *d)
{
	return (d->d_status & (HCVS_STATUS_LIVE | HCVS_STATUS_ERROR)) ==
	    HCVS_STATUS_LIVE;
}

uint32_t
vsock_dev_enable(struct vsock_dev *d, bool *kick)
{
	if (!(d->d_status & HCVS_STATUS_MAILBOX))
		return HCVS_ERR_BAD_STATE;
	if (d->d_status & HCVS_STATUS_LIVE)
		return HCVS_ERR_OK;
	d->d_status |= HCVS_STATUS_LIVE;
	*kick = true;
	d->d_changed = true;
	return HCVS_ERR_OK;
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
	default:
		break;
	}
	return irq_validate(d, args, &tmp) == HCVS_ERR_OK;
}

/* ---- Reset ----------------------------------------------------------------- */

static void
dev_reset(struct vsock_dev *d)
{
	struct vsock_irq_cfg none;

	/* Not LIVE first, so nothing runs during the reset. */
	d->d_status = 0;
	if (d->d_irq.mode != HCVS_IRQ_NONE) {
		memset(&none, 0, sizeof(none));
		(void)irq_setup(d, &none);
	}
	memset(&d->d_irq, 0, sizeof(d->d_irq));
	d->d_protocol = HCVS_PROTO_NONE;
	d->d_po = NULL;
	d->d_pp = NULL;
	d->d_guest_features = 0;
	d->d_error = 0;
	memset(d->d_args, 0, sizeof(d->d_args));
	d->d_isr = 0;
	d->d_changed = true;
	/* Every protocol, selected or not: no backend keeps a connection. */
	for (size_t i = 0; i < NPROTOS; i++)
		if (d->d_priv[i] != NULL)
			protos[i]->po_reset(d->d_priv[i]);
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
cmd_set_notify(struct vsock_dev *d)
{
	struct vsock_irq_cfg irq;
	uint32_t rc;
	int err;

	if (d->d_po == NULL)
		return HCVS_ERR_BAD_STATE;
	rc = irq_validate(d, d->d_args, &irq);
	if (rc != HCVS_ERR_OK)
		return rc;
	err = irq_setup(d, &irq);
	if (err < 0) {
		log_ratelimited(&d->d_rl, LOG_WARNING,
		    "%s: notification mode %u refused: %s", d->d_name,
		    irq.mode, strerror(-err));
		return HCVS_ERR_IRQ_SETUP;
	}
	d->d_irq = irq;
	if (irq.mode != HCVS_IRQ_NONE)
		d->d_status |= HCVS_STATUS_NOTIFY;
	else
		d->d_status &= ~HCVS_STATUS_NOTIFY;
	d->d_changed = true;
	return HCVS_ERR_OK;
}

static uint32_t
cmd_exec(struct vsock_dev *d, uint32_t cmd)
{
	const uint32_t *a = d->d_args;

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
		if (a[0] >= NPROTOS || !(d->d_protocols & (1u << a[0])))
			return HCVS_ERR_UNSUPPORTED;
		if (d->d_po != NULL && d->d_po->po_id != a[0]) {
			/* Switching before ENABLE: nothing of the old one stays. */
			d->d_po->po_reset(d->d_pp);
			d->d_status &= HCVS_STATUS_NOTIFY;
			d->d_guest_features = 0;
		}
		d->d_protocol = a[0];
		d->d_po = protos[a[0]];
		d->d_pp = d->d_priv[a[0]];
		d->d_status |= HCVS_STATUS_PROTOCOL;
		d->d_changed = true;
		return HCVS_ERR_OK;
	case HCVS_CMD_SET_NOTIFY:
		return cmd_set_notify(d);
	case HCVS_CMD_GET_CID:
		d->d_args[0] = (uint32_t)d->d_cid;
		d->d_args[1] = (uint32_t)(d->d_cid >> 32);
		return HCVS_ERR_OK;
	case HCVS_CMD_GET_BACKEND:
		if (!(d->d_irq_caps & (1u << HCVS_IRQ_EVTCHN)))
			return HCVS_ERR_UNSUPPORTED;
		d->d_args[0] = d->d_backend_domid;
		return HCVS_ERR_OK;
	default:
		if (d->d_po != NULL)
			return d->d_po->po_cmd(d->d_pp, cmd);
		/* A protocol's command before SET_PROTOCOL. */
		if (cmd == HCVS_CMD_SET_FEATURES || cmd == HCVS_CMD_SET_MAILBOX ||
		    cmd == HCVS_CMD_ENABLE ||
		    (cmd >= HCVS_CMD_MSG_FIRST && cmd <= HCVS_CMD_MSG_LAST))
			return HCVS_ERR_BAD_STATE;
		return HCVS_ERR_UNKNOWN_CMD;
	}
}

/* ---- Work ------------------------------------------------------------------ */

/* A doorbell's pass; `counted`: a doorbell the guest rang. */
static int
kick(struct vsock_dev *d, bool counted, bool again)
{
	if (counted)
		d->d_st.ds_kicks++;
	if (!vsock_dev_runnable(d))
		return 0;
	return d->d_po->po_kick(d->d_pp, again);
}

int
vsock_dev_kick(struct vsock_dev *d)
{
	return kick(d, true, false);
}

int
vsock_dev_kick_ahead(struct vsock_dev *d)
{
	return kick(d, false, false);
}

void
vsock_dev_watch_tx(struct vsock_dev *d, bool on)
{
	/* Before SET_PROTOCOL there is no protocol to tell. */
	if (d->d_po != NULL && d->d_po->po_watch_tx != NULL)
		d->d_po->po_watch_tx(d->d_pp, on);
}

int
vsock_dev_tx_look(struct vsock_dev *d, bool *found)
{
	*found = false;
	if (!vsock_dev_runnable(d) || d->d_po->po_look_tx == NULL)
		return 0;
	return d->d_po->po_look_tx(d->d_pp, found);
}

int
vsock_dev_kick_again(struct vsock_dev *d)
{
	return kick(d, true, true);
}

int
vsock_dev_guest_event(struct vsock_dev *d)
{
	if (d->d_irq.mode != HCVS_IRQ_EVTCHN ||
	    !(d->d_guest_features & HCVS_F_EVTCHN_KICK)) {
		d->d_st.ds_events_ignored++;
		return 0;
	}
	d->d_st.ds_evtchn_kicks++;
	return vsock_dev_kick(d);
}

void
vsock_dev_set_tx_poll(struct vsock_dev *d, uint64_t ns)
{
	d->d_tx_poll_ns = ns;
}

uint64_t
vsock_dev_tx_poll(const struct vsock_dev *d)
{
	return d->d_tx_poll_ns;
}

int
vsock_dev_process(struct vsock_dev *d)
{
	if (!vsock_dev_pending(d))
		return 0;
	return d->d_po->po_process(d->d_pp);
}

bool
vsock_dev_pending(const struct vsock_dev *d)
{
	return vsock_dev_runnable(d) && d->d_po->po_pending(d->d_pp);
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
		return d->d_protocols;
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
	if (off == HCVS_REG_ISR)
		d->d_isr = 0;
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
		if (d->d_args[(off - HCVS_REG_ARG0) / 4] != v)
			d->d_changed = true;
		d->d_args[(off - HCVS_REG_ARG0) / 4] = v;
		return 0;
	case HCVS_REG_CMD:
		d->d_st.ds_cmds++;
		d->d_cmd_result = cmd_exec(d, v);
		if (d->d_cmd_result != HCVS_ERR_OK)
			d->d_st.ds_cmd_errors++;
		/* Its result (and GET_CID's ARGn) are recorded too. */
		d->d_changed = true;
		return 0;
	case HCVS_REG_DOORBELL:
	case HCVS_REG_DOORBELL_SYNC:
		d->d_st.ds_kicks++;
		/* Before a protocol is chosen a doorbell has nothing to ring. */
		if (d->d_po != NULL)
			d->d_po->po_doorbell(d->d_pp,
			    off == HCVS_REG_DOORBELL_SYNC);
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
	int rc;

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
	d->d_cid = cfg->guest_cid;
	d->d_host_features = cfg->features != 0 ? cfg->features :
	    VSOCK_DEV_FEATURES;
	/*
	 * Line interrupts are never offered (PROTOCOL.md §9): Xen 4.17
	 * corrupts itself raising one for a PVH guest.
	 */
	d->d_irq_caps = (cfg->irq_caps & ((2u << HCVS_IRQ_MODE_MAX) - 1) &
	    ~(1u << HCVS_IRQ_ISA)) | (1u << HCVS_IRQ_NONE);
	/* Kicks on a port need a port: no EVTCHN mode, no EVTCHN_KICK. */
	if (!(d->d_irq_caps & (1u << HCVS_IRQ_EVTCHN)))
		d->d_host_features &= ~HCVS_F_EVTCHN_KICK;
	d->d_backend_domid = cfg->backend_domid;
	d->d_irq_ops = cfg->irq_ops;
	d->d_irq_arg = cfg->irq_arg;
	snprintf(d->d_name, sizeof(d->d_name), "%s",
	    cfg->name != NULL ? cfg->name : "vsock");
	d->d_rl = rl;
	for (size_t i = 0; i < NPROTOS; i++) {
		if (protos[i] == NULL || !protos[i]->po_offered(cfg))
			continue;
		d->d_priv[i] = calloc(1, protos[i]->po_size);
		rc = d->d_priv[i] == NULL ? -ENOMEM :
		    protos[i]->po_init(d->d_priv[i], d, cfg);
		if (rc < 0) {
			vsock_dev_free(d);
			return rc;
		}
		d->d_protocols |= 1u << i;
	}
	*dp = d;
	return 0;
}

void
vsock_dev_free(struct vsock_dev *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < NPROTOS; i++) {
		if (d->d_priv[i] == NULL)
			continue;
		protos[i]->po_fini(d->d_priv[i]);
		free(d->d_priv[i]);
	}
	free(d);
}

void
vsock_dev_export(const struct vsock_dev *d, struct vsock_dev_state *st)
{
	const struct vsock_proto_ops *po;

	memset(st, 0, sizeof(*st));
	st->st_version = VSOCK_DEV_STATE_VERSION;
	st->st_protocol = d->d_protocol;
	st->st_features = d->d_guest_features;
	st->st_status = d->d_status;
	st->st_irq = d->d_irq;
	memcpy(st->st_args, d->d_args, sizeof(st->st_args));
	st->st_cmd_result = d->d_cmd_result;
	/* Unselected, RING still has its epoch to keep. */
	po = d->d_po != NULL ? d->d_po : &vsock_ring_proto;
	if (d->d_priv[po->po_id] != NULL)
		po->po_export(d->d_priv[po->po_id], st);
}

int
vsock_dev_import(struct vsock_dev *d, const struct vsock_dev_state *st)
{
	const uint32_t known = HCVS_STATUS_PROTOCOL | HCVS_STATUS_FEATURES |
	    HCVS_STATUS_MAILBOX | HCVS_STATUS_NOTIFY | HCVS_STATUS_LIVE |
	    HCVS_STATUS_ERROR;
	const struct vsock_proto_ops *po = NULL;
	uint32_t s = st->st_status, rc;

	if (st->st_version != VSOCK_DEV_STATE_VERSION || (s & ~known) != 0 ||
	    !irq_cfg_valid(d, &st->st_irq))
		return -EINVAL;
	if (st->st_protocol != HCVS_PROTO_NONE) {
		if (st->st_protocol >= NPROTOS ||
		    d->d_priv[st->st_protocol] == NULL)
			return -EINVAL;
		po = protos[st->st_protocol];
		if (!po->po_state_ok(d->d_priv[po->po_id], st))
			return -EINVAL;
	} else if ((s & ~(HCVS_STATUS_NOTIFY | HCVS_STATUS_ERROR)) != 0 ||
	    st->st_features != 0) {
		return -EINVAL;
	}

	dev_reset(d);
	if (s & HCVS_STATUS_ERROR) {
		/* The guest must RESET anyway; keep it halted. */
		d->d_status = HCVS_STATUS_ERROR;
		d->d_error = HCVS_ERR_HOST;
		return 0;
	}
	if (po != NULL) {
		d->d_protocol = st->st_protocol;
		d->d_po = po;
		d->d_pp = d->d_priv[po->po_id];
		d->d_status = HCVS_STATUS_PROTOCOL;
	}
	if (st->st_irq.mode != HCVS_IRQ_NONE) {
		if (irq_setup(d, &st->st_irq) < 0) {
			vsock_dev_halt(d, HCVS_ERR_IRQ_SETUP);
			return 0;
		}
		d->d_irq = st->st_irq;
		d->d_status |= HCVS_STATUS_NOTIFY;
	}
	if (po != NULL) {
		rc = po->po_import(d->d_pp, st);
		if (rc != HCVS_ERR_OK) {
			vsock_dev_halt(d, rc);
			return 0;
		}
	}
	/* Last: a protocol's import may use ARGn to replay its set-up. */
	memcpy(d->d_args, st->st_args, sizeof(d->d_args));
	d->d_cmd_result = st->st_cmd_result;
	vsock_dev_notify(d, HCVS_ISR_RESET);
	d->d_changed = true;
	return 0;
}

void
vsock_dev_going_away(struct vsock_dev *d)
{
	/*
	 * The same notice a re-attach gives (ISR_RESET, an interrupt, and
	 * whatever the protocol shows in guest memory): a guest asleep
	 * waiting learns now that its connections are gone, instead of
	 * when its own timeout fires.
	 */
	if (!vsock_dev_runnable(d))
		return;
	d->d_po->po_going_away(d->d_pp);
	vsock_dev_notify(d, HCVS_ISR_RESET);
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
	char line[512];

	snprintf(line, sizeof(line),
	    "%s: cid %" PRIu64 " proto %u features %#x/%#x status %#x "
	    "error %u isr %#x irq mode %u", d->d_name, d->d_cid,
	    d->d_protocol, d->d_guest_features, d->d_host_features,
	    d->d_status, d->d_error, d->d_isr, d->d_irq.mode);
	cb(arg, line);
	if (d->d_po != NULL)
		d->d_po->po_dump(d->d_pp, cb, arg);
	else if (d->d_priv[HCVS_PROTO_RING] != NULL)
		vsock_ring_proto.po_dump(d->d_priv[HCVS_PROTO_RING], cb, arg);
	snprintf(line, sizeof(line),
	    "%s: tx %" PRIu64 " pkts %" PRIu64 " B, rx %" PRIu64 " pkts %"
	    PRIu64 " B, kicks %" PRIu64 " (sync %" PRIu64 ", evtchn %" PRIu64
	    ", %" PRIu64 " events ignored), passes %" PRIu64 ", bad_hdr %"
	    PRIu64 " spoofed %" PRIu64 " rst %" PRIu64 " ring_errors %" PRIu64
	    " irqs %" PRIu64 " bad_access %" PRIu64, d->d_name, s->ds_tx_pkts,
	    s->ds_tx_bytes, s->ds_rx_pkts, s->ds_rx_bytes, s->ds_kicks,
	    s->ds_sync_kicks, s->ds_evtchn_kicks, s->ds_events_ignored,
	    s->ds_passes, s->ds_bad_hdr, s->ds_spoofed, s->ds_rst_sent,
	    s->ds_ring_errors, s->ds_irqs, s->ds_bad_access);
	cb(arg, line);
}

void
vsock_dev_get_info(const struct vsock_dev *d, struct vsock_dev_info *di)
{
	const struct vsock_proto_ops *po;

	memset(di, 0, sizeof(*di));
	di->di_cid = d->d_cid;
	di->di_status = d->d_status;
	di->di_error = d->d_error;
	di->di_isr = d->d_isr;
	di->di_guest_features = d->d_guest_features;
	di->di_host_features = d->d_host_features;
	di->di_irq_mode = d->d_irq.mode;
	po = d->d_po != NULL ? d->d_po : &vsock_ring_proto;
	if (d->d_priv[po->po_id] != NULL)
		po->po_info(d->d_priv[po->po_id], di);
}
