/* SPDX-License-Identifier: MIT */
/* The device state page: two checksummed records, the newer valid one wins. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "attach/attach.h"
#include "vsock/vsock_dev.h"

#define STATE_MAGIC	0x54535648u	/* "HVST" in memory order */
#define STATE_REC_VERSION 1u

/* One record; the page holds two, at offsets 0 and 128. */
struct state_rec {
	uint32_t	sr_magic;
	uint32_t	sr_version;	/* of this record's layout */
	uint64_t	sr_seq;		/* the newer valid record wins */
	uint32_t	sr_dev_version;	/* struct vsock_dev_state's */
	uint32_t	sr_protocol;
	uint32_t	sr_features;
	uint32_t	sr_status;
	uint64_t	sr_mbox_gpa;
	uint32_t	sr_mbox_size;
	uint32_t	sr_epoch;
	uint32_t	sr_tx_cons;
	uint32_t	sr_rx_prod;
	uint32_t	sr_irq_mode;
	uint32_t	sr_irq_isa;
	uint32_t	sr_irq_gsi;
	uint32_t	sr_irq_evtchn;
	uint64_t	sr_irq_msi_addr;
	uint32_t	sr_irq_msi_data;
	uint32_t	sr_args[4];
	uint32_t	sr_cmd_result;
	uint64_t	sr_reserved[2];	/* 0 */
	uint64_t	sr_sum;		/* FNV-1a 64 of the bytes before it */
};

#define STATE_REC_SIZE	128u
_Static_assert(sizeof(struct state_rec) == STATE_REC_SIZE,
    "the record layout is the documented one");
_Static_assert(offsetof(struct state_rec, sr_sum) == STATE_REC_SIZE - 8,
    "the checksum ends the record");
_Static_assert(2 * STATE_REC_SIZE <= ATTACH_STATE_PAGE, "two records fit");

static uint64_t
rec_sum(const struct state_rec *r)
{
	const unsigned char *p = (const unsigned char *)r;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < offsetof(struct state_rec, sr_sum); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* 1: a valid record; 0: never written; -EINVAL: damaged. */
static int
rec_check(const struct state_rec *r)
{
	if (r->sr_magic == 0 && r->sr_seq == 0 && r->sr_sum == 0)
		return 0;
	if (r->sr_magic != STATE_MAGIC || r->sr_version != STATE_REC_VERSION ||
	    r->sr_reserved[0] != 0 || r->sr_reserved[1] != 0 || r->sr_sum != rec_sum(r))
		return -EINVAL;
	return 1;
}

int
attach_state_load(const void *page, struct vsock_dev_state *st,
    uint64_t *seq)
{
	struct state_rec rec[2], *r = NULL;
	int v[2];

	/* Copied once: the VMM can write the page while we look. */
	memcpy(rec, page, sizeof(rec));
	for (unsigned i = 0; i < 2; i++) {
		v[i] = rec_check(&rec[i]);
		if (v[i] == 1 && (r == NULL || rec[i].sr_seq > r->sr_seq))
			r = &rec[i];
	}
	if (r == NULL)
		return v[0] < 0 || v[1] < 0 ? -EINVAL : -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_version = r->sr_dev_version;
	st->st_protocol = r->sr_protocol;
	st->st_features = r->sr_features;
	st->st_status = r->sr_status;
	st->st_mbox_gpa = r->sr_mbox_gpa;
	st->st_mbox_size = r->sr_mbox_size;
	st->st_epoch = r->sr_epoch;
	st->st_tx_cons = r->sr_tx_cons;
	st->st_rx_prod = r->sr_rx_prod;
	st->st_irq.mode = r->sr_irq_mode;
	st->st_irq.isa_irq = r->sr_irq_isa;
	st->st_irq.gsi = r->sr_irq_gsi;
	st->st_irq.evtchn_port = r->sr_irq_evtchn;
	st->st_irq.msi_addr = r->sr_irq_msi_addr;
	st->st_irq.msi_data = r->sr_irq_msi_data;
	memcpy(st->st_args, r->sr_args, sizeof(st->st_args));
	st->st_cmd_result = r->sr_cmd_result;
	*seq = r->sr_seq;
	return 0;
}

void
attach_state_store(void *page, const struct vsock_dev_state *st, uint64_t seq)
{
	struct state_rec r;

	memset(&r, 0, sizeof(r));
	r.sr_magic = STATE_MAGIC;
	r.sr_version = STATE_REC_VERSION;
	r.sr_seq = seq;
	r.sr_dev_version = st->st_version;
	r.sr_protocol = st->st_protocol;
	r.sr_features = st->st_features;
	r.sr_status = st->st_status;
	r.sr_mbox_gpa = st->st_mbox_gpa;
	r.sr_mbox_size = st->st_mbox_size;
	r.sr_epoch = st->st_epoch;
	r.sr_tx_cons = st->st_tx_cons;
	r.sr_rx_prod = st->st_rx_prod;
	r.sr_irq_mode = st->st_irq.mode;
	r.sr_irq_isa = st->st_irq.isa_irq;
	r.sr_irq_gsi = st->st_irq.gsi;
	r.sr_irq_evtchn = st->st_irq.evtchn_port;
	r.sr_irq_msi_addr = st->st_irq.msi_addr;
	r.sr_irq_msi_data = st->st_irq.msi_data;
	memcpy(r.sr_args, st->st_args, sizeof(r.sr_args));
	r.sr_cmd_result = st->st_cmd_result;
	r.sr_sum = rec_sum(&r);
	/*
	 * The other record keeps the previous state: dying half-way through
	 * this copy leaves that one valid, and the request unanswered.
	 */
	memcpy((unsigned char *)page + (seq & 1) * STATE_REC_SIZE, &r,
	    sizeof(r));
}
