/* SPDX-License-Identifier: MIT */
/*
 * The hcvsock device: the guest-visible register window (an ioreq
 * handler) and the protocols behind it (vsock_proto.h): RING, a mailbox
 * with two rings of packets moved between the guest and a packet
 * backend (vsock_backend.h; the muxer, vsock_mux.h).  docs/PROTOCOL.md
 * is the guest's side.
 *
 * Guest memory is reached only through ioreq_mem_read/ioreq_mem_write.
 * Every guest-written value is copied once, validated, then used; guest
 * errors become a command result, a counted drop, an RST or a halted
 * device with an error status, never a failure of the caller.
 *
 * Work per call is bounded (one ring's worth of TX entries and of RX
 * entries); functions that process return 1 when work was left for a
 * later call, so one guest cannot monopolise the loop.
 *
 * Owned by the event-loop thread; no function is thread-safe.  Functions
 * return 0 or a negative errno unless stated otherwise.
 */
#ifndef HCVS_VSOCK_DEV_H
#define HCVS_VSOCK_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq.h"

struct vsock_backend_ops;
struct vsock_dev;
struct vsock_msg_backend_ops;

/*
 * A notification mode chosen by the guest (SET_NOTIFY), validated.  Only
 * the fields of `mode` are meaningful.
 */
struct vsock_irq_cfg {
	uint32_t	mode;		/* HCVS_IRQ_* */
	uint32_t	isa_irq;	/* 0: ISA is never offered (recorded state) */
	uint32_t	gsi;		/* GSI: 0..HCVS_GSI_MAX */
	uint32_t	evtchn_port;	/* EVTCHN: the guest's unbound port */
	uint64_t	msi_addr;	/* MSI */
	uint32_t	msi_data;
};

/*
 * Interrupt delivery, supplied by the owner (the binding: the request
 * source's MSI, event channel or irqfd).  `setup` is called when the
 * guest selects a mode (and with mode NONE to release the previous one at
 * reset); a negative return refuses the mode (IRQ_SETUP).  `raise` sends
 * one notification (every mode offered is an edge).  Either pointer may
 * be NULL: setup then always succeeds, raise does nothing.
 */
struct vsock_dev_irq_ops {
	int	(*setup)(void *arg, const struct vsock_irq_cfg *irq);
	int	(*raise)(void *arg, const struct vsock_irq_cfg *irq);
};

/* The features a device offers by default. */
#define VSOCK_DEV_FEATURES	(HCVS_F_STREAM | HCVS_F_SYNC_DOORBELL | \
				 HCVS_F_LAZY_CREDIT | HCVS_F_EVTCHN_KICK)

struct vsock_dev_cfg {
	struct ioreq_mem	*mem;		/* guest memory (not owned) */
	/*
	 * Where RING packets go and come from (e.g. vsock_mux_backend_ops,
	 * arg = the muxer; not owned).  NULL: TX packets are dropped,
	 * nothing arrives.  Create and free the two in any order; whoever
	 * owns both runs vsock_dev_process() when the backend has news.
	 */
	const struct vsock_backend_ops *backend;
	void			*backend_arg;
	/*
	 * Migration sessions for protocol MSG (vsock_mig_backend_ops, arg =
	 * the session bridge; not owned).  NULL: MSG is not offered.
	 */
	const struct vsock_msg_backend_ops *msg_backend;
	void			*msg_backend_arg;
	uint64_t		 guest_cid;
	/*
	 * HCVS_F_* offered; 0 means VSOCK_DEV_FEATURES.  EVTCHN_KICK is
	 * offered only with the EVTCHN mode, whatever this says.
	 */
	uint32_t		 features;
	/* Bitmap of 1 << HCVS_IRQ_* this host can deliver (NONE always, ISA never). */
	uint32_t		 irq_caps;
	/*
	 * The Xen domain that serves the window, the one a guest's EVTCHN
	 * port must name (GET_BACKEND).  Used only when irq_caps has EVTCHN.
	 */
	uint32_t		 backend_domid;
	const struct vsock_dev_irq_ops *irq_ops;
	void			*irq_arg;
	/* Name for log lines, e.g. "dom7" (copied, may be NULL). */
	const char		*name;
};

int	vsock_dev_new(const struct vsock_dev_cfg *cfg, struct vsock_dev **dp)
	    __must_check;
/* NULL is a no-op.  Frees neither the backend nor the memory. */
void	vsock_dev_free(struct vsock_dev *d);

/*
 * The register window.  Register it with ioreq_source_add_range for the
 * PIO and/or MMIO range, opaque = the device.  Writes to DOORBELL only
 * record work: run vsock_dev_process() once the request has completed
 * (ioreq_engine_set_post_hook).  DOORBELL_SYNC and commands act at once.
 */
extern const struct ioreq_handler_ops vsock_dev_handler_ops;

/*
 * The asynchronous doorbell fired outside the register window (KVM
 * ioeventfd): process the rings now.  Returns 1 if work was left (call
 * again, e.g. from a zero timer), else 0.
 */
int	vsock_dev_kick(struct vsock_dev *d);

/*
 * A doorbell's pass before the doorbell is known: the caller woke for a
 * source whose events are mostly the asynchronous doorbell and runs the
 * pass before it reads them, so that the answer does not wait for those
 * reads.  Not counted as a doorbell (ds_kicks).  The doorbells the caller
 * then reads in the same wake go to vsock_dev_kick_again(): counted, one
 * pass takes what the guest published after this one (so no doorbell is
 * lost) and opens no TX poll window for the guest's entries, which this
 * pass already had (a credit answer's window may still open, for a wait
 * this pass did not see).  Both return as vsock_dev_kick.
 */
int	vsock_dev_kick_ahead(struct vsock_dev *d);
int	vsock_dev_kick_again(struct vsock_dev *d);

/*
 * The caller polls the device (a busy-poll window, one look per turn of
 * its loop): while watched, the device keeps TX_NO_KICK up, so the guest
 * need not ring, and its passes open no TX poll window of their own.
 * vsock_dev_tx_look() looks at TX_PROD and, if the guest published
 * entries, runs a doorbell's pass for them (*found true; returns as
 * vsock_dev_kick, not counted as a doorbell).  Unwatching brings the
 * flag down with the protocol's barrier and last look: entries found
 * then are left to the next pass (vsock_dev_pending).  A no-op where the
 * protocol has no flag (MSG) or the device is not live.
 */
void	vsock_dev_watch_tx(struct vsock_dev *d, bool on);
int	vsock_dev_tx_look(struct vsock_dev *d, bool *found);

/*
 * The guest signalled the port of its EVTCHN mode.  With EVTCHN_KICK
 * negotiated and that mode active this is vsock_dev_kick(); otherwise the
 * event means nothing and is only counted (ds_events_ignored).  Bounded
 * like any doorbell: one pass takes at most a ring of each kind.
 */
int	vsock_dev_guest_event(struct vsock_dev *d);

/*
 * Deferred work: after a request completed (post hook), when the backend
 * has packets for the guest (its wake-up), from a zero timer after a
 * pass that left work.  Runs the rings if a DOORBELL write, the backend
 * or a budget asked for it.  Returns as vsock_dev_kick.
 */
int	vsock_dev_process(struct vsock_dev *d);

/*
 * TX poll window (0, the default: off).  After an asynchronous pass that
 * took TX entries the device keeps TX_NO_KICK up and watches TX_PROD for
 * up to `ns` before it lets the guest ring again: a guest streaming
 * faster than the window then rings once per burst, not per packet.
 * Entries found are left to the next pass (vsock_dev_process() returns
 * 1), so a pass still holds the loop for at most one ring plus `ns`.
 * The same window follows any asynchronous pass (one for host data too)
 * that leaves a connection waiting for the guest (the backend's
 * credit_wait): for its credit, so that the answer to its CREDIT_REQUEST
 * needs no doorbell, or for its data, after the pass gave credit to a
 * guest that had run out; a wait whose window passed unanswered gets no
 * second one (ds_credit_windows_missed).
 * Synchronous doorbells never wait: their vCPU is stopped meanwhile.
 */
void	vsock_dev_set_tx_poll(struct vsock_dev *d, uint64_t ns);
uint64_t vsock_dev_tx_poll(const struct vsock_dev *d);

/* True if vsock_dev_process() has something to do. */
bool	vsock_dev_pending(const struct vsock_dev *d);

/*
 * Device reset, as the guest's RESET command: release the notification
 * mode, forget the protocol and its mailbox, reset every backend
 * connection.
 */
void	vsock_dev_reset(struct vsock_dev *d);

/*
 * The daemon is stopping: tell a live guest its connections are gone
 * (EPOCH advances, ISR_RESET, an interrupt in its chosen mode), as a
 * re-attach does.  Call before the server is disabled.
 */
void	vsock_dev_going_away(struct vsock_dev *d);

/*
 * Crash recovery.  The daemon saves the exported state in its state file
 * whenever vsock_dev_state_changed() reports a change, and a restarted
 * daemon imports it after re-attaching: the mailbox is re-read and
 * re-validated, the mode set up again, the indices taken from the mailbox
 * where consistent, and the guest told of a transport reset (EPOCH,
 * ISR.RESET, a notification).  Import fails with -EINVAL on a bad state
 * version or field, and leaves the device halted with an error status if
 * the mailbox no longer validates (the guest can RESET).
 */
#define VSOCK_DEV_STATE_VERSION	1u
struct vsock_dev_state {
	uint32_t		st_version;
	uint32_t		st_protocol;
	uint32_t		st_features;	/* negotiated */
	uint32_t		st_status;	/* HCVS_STATUS_* */
	uint64_t		st_mbox_gpa;
	uint32_t		st_mbox_size;
	uint32_t		st_epoch;
	uint32_t		st_tx_cons;	/* informational */
	uint32_t		st_rx_prod;	/* informational */
	struct vsock_irq_cfg	st_irq;
	/*
	 * The register file a guest builds a command in: ARG0..ARG3 as it
	 * wrote them and CMD's last result, so that a daemon started
	 * between the guest's ARG writes and its CMD write, or between the
	 * CMD write and the result read, gives the answer the dead one
	 * would have.
	 */
	uint32_t		st_args[4];
	uint32_t		st_cmd_result;
};
void	vsock_dev_export(const struct vsock_dev *d, struct vsock_dev_state *st);
int	vsock_dev_import(struct vsock_dev *d, const struct vsock_dev_state *st)
	    __must_check;
/*
 * True once after each change of what the state records (then cleared):
 * configuration, a command run, an ARGn written with a new value.  A
 * daemon that records the state whenever this is true, before it answers
 * the request that made the change, can be killed at any point: a
 * restarted one either sees the request unanswered (and runs it again on
 * the state from before it, or from after it: every command gives the
 * same answer on both) or sees it answered with the state already saying
 * so.
 */
bool	vsock_dev_state_changed(struct vsock_dev *d);

struct vsock_dev_stats {
	uint64_t	ds_reg_reads;
	uint64_t	ds_reg_writes;
	uint64_t	ds_bad_access;	/* wrong size/alignment, RO writes */
	uint64_t	ds_cmds;
	uint64_t	ds_cmd_errors;
	uint64_t	ds_kicks;	/* doorbells, every kind */
	uint64_t	ds_evtchn_kicks;	/* ... of them by event channel */
	uint64_t	ds_events_ignored;	/* guest events without EVTCHN_KICK */
	uint64_t	ds_sync_kicks;
	uint64_t	ds_passes;	/* processing passes */
	uint64_t	ds_deferred;	/* passes that ran out of budget */
	uint64_t	ds_credit_windows_missed; /* no credit answer in the window */
	uint64_t	ds_tx_pkts;	/* delivered to the muxer */
	uint64_t	ds_tx_bytes;
	uint64_t	ds_rx_pkts;	/* published to the guest */
	uint64_t	ds_rx_bytes;
	uint64_t	ds_bad_hdr;	/* malformed TX headers */
	uint64_t	ds_spoofed;	/* wrong src_cid, dropped */
	uint64_t	ds_rst_sent;	/* RSTs generated by the device */
	uint64_t	ds_rst_dropped;	/* ... lost to a full RST queue */
	uint64_t	ds_ring_errors;	/* device halted */
	uint64_t	ds_irqs;
	uint64_t	ds_irq_errors;
	uint64_t	ds_resets;
	uint64_t	ds_msg_calls;		/* MSG calls accepted */
	uint64_t	ds_msg_refused;		/* ... refused (RESULT != OK) */
	uint64_t	ds_msg_timeouts;	/* ... ended with TIMEOUT */
	uint64_t	ds_msg_cancels;		/* ... ended with CANCEL */
	uint64_t	ds_msg_tx_bytes;	/* Send payload to the host */
	uint64_t	ds_msg_rx_bytes;	/* Receive payload to the guest */
};
void	vsock_dev_get_stats(const struct vsock_dev *d, struct vsock_dev_stats *st);

/* Registers and ring geometry as the guest set them, for status reports. */
struct vsock_dev_info {
	uint64_t	di_cid;
	uint32_t	di_status;		/* STATUS register */
	uint32_t	di_error;
	uint32_t	di_isr;
	uint32_t	di_guest_features;
	uint32_t	di_host_features;
	uint32_t	di_irq_mode;		/* HCVS_IRQ_* */
	uint64_t	di_mbox_gpa;
	uint32_t	di_mbox_size;
	uint32_t	di_tx_slots;
	uint32_t	di_rx_slots;
	uint32_t	di_slot_size;
	uint32_t	di_tx_cons;
	uint32_t	di_rx_prod;
	uint32_t	di_host_flags;
	uint32_t	di_epoch;
	uint32_t	di_rst_queued;		/* device RSTs not yet in RX */
};
void	vsock_dev_get_info(const struct vsock_dev *d, struct vsock_dev_info *di);
/* Registers, mailbox geometry, indices and counters, one line each. */
void	vsock_dev_dump(const struct vsock_dev *d,
	    void (*cb)(void *arg, const char *line), void *arg);

/* Register reads as the guest sees them, without side effects (tests). */
uint32_t vsock_dev_peek_reg(const struct vsock_dev *d, uint32_t off);

#endif /* HCVS_VSOCK_DEV_H */
