/* SPDX-License-Identifier: MIT */
/*
 * The contract between the register window (vsock_dev.c) and the guest
 * protocols behind it (docs/PROTOCOL.md §5).
 *
 * The window owns the registers, the common commands (NOP, RESET,
 * SET_PROTOCOL, SET_NOTIFY, GET_CID), STATUS.PROTOCOL, STATUS.NOTIFY and
 * STATUS.ERROR, ERROR, ISR and the interrupt, and its part of the
 * exported state.  The selected protocol owns everything else: the
 * other commands, both doorbells, its structures in guest memory, its
 * backend and the rest of the state, including STATUS.LIVE (its ENABLE).
 * A command or doorbell that belongs to another protocol reaches the
 * selected one, which answers BAD_STATE (or ignores a doorbell): a guest
 * cannot mix protocols.
 *
 * Each offered protocol gets its private state at vsock_dev_new() and
 * keeps it until vsock_dev_free(); RESET and SET_PROTOCOL call po_reset.
 * Protocol calls happen on the loop thread, never nested: no backend
 * calls back into the device (vsock_backend.h).
 *
 * A protocol reads the window's fields below (d_mem, d_cid, d_name,
 * d_args, d_status, d_guest_features, d_host_features), changes
 * d_status only in its own bits and STATUS.LIVE, counts in d_st, logs
 * through d_rl, and acts on the window only with the functions at the
 * end of this header.
 *
 * Adding a protocol: a vsock_<name>.c with a `const struct
 * vsock_proto_ops`, one line in vsock_dev.c's table, its backend in
 * struct vsock_dev_cfg, its numbers in hcvsock_abi.h (docs/ARCHITECTURE.md).
 */
#ifndef HCVS_VSOCK_PROTO_H
#define HCVS_VSOCK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "vsock/vsock_dev.h"

struct vsock_proto_ops {
	uint32_t	  po_id;	/* HCVS_PROTO_* */
	/* Whether this configuration offers it (PROTOCOLS). */
	bool		 (*po_offered)(const struct vsock_dev_cfg *cfg);
	/*
	 * Private state: the window allocates po_size zeroed bytes and
	 * po_init makes them the reset state (0 or -errno); po_fini
	 * releases what init and the protocol's life allocated, before the
	 * window frees the state (also after a failed init).
	 */
	size_t		  po_size;
	int		 (*po_init)(void *p, struct vsock_dev *d,
			    const struct vsock_dev_cfg *cfg);
	void		 (*po_fini)(void *p);
	/* Back to the reset state; the backend drops every connection. */
	void		 (*po_reset)(void *p);
	/* A command the window does not know (ARGn in d_args): HCVS_ERR_*. */
	uint32_t	 (*po_cmd)(void *p, uint32_t cmd);
	/* A write to DOORBELL (sync false) or DOORBELL_SYNC. */
	void		 (*po_doorbell)(void *p, bool sync);
	/*
	 * The asynchronous doorbell outside the window: 1 = work left.
	 * `again`: a pass for it already ran ahead of it in this wake
	 * (vsock_dev_kick_ahead); take what came since, and open no poll
	 * window for the guest's entries, which that pass had.
	 */
	int		 (*po_kick)(void *p, bool again);
	/*
	 * vsock_dev_watch_tx() and vsock_dev_tx_look(); NULL: the protocol
	 * has no doorbell to spare (its guest rings for every call).
	 */
	void		 (*po_watch_tx)(void *p, bool on);
	int		 (*po_look_tx)(void *p, bool *found);
	/* Deferred work is due (only asked while LIVE and not halted). */
	bool		 (*po_pending)(const void *p);
	/* One bounded pass of deferred work: 1 = work left. */
	int		 (*po_process)(void *p);
	/* The device halted with err: mirror it where the guest looks. */
	void		 (*po_halted)(void *p, uint32_t err);
	/* The daemon stops: tell a live guest (before the ISR.RESET). */
	void		 (*po_going_away)(void *p);
	/* The protocol's fields of the exported state. */
	void		 (*po_export)(const void *p, struct vsock_dev_state *st);
	/* Whether st is a state this protocol's commands can reach. */
	bool		 (*po_state_ok)(const void *p,
			    const struct vsock_dev_state *st);
	/*
	 * Take st over after a crash; the window already restored the
	 * protocol and the notification mode.  Not HCVS_ERR_OK halts the
	 * device with that error.
	 */
	uint32_t	 (*po_import)(void *p, const struct vsock_dev_state *st);
	/* Its fields of vsock_dev_get_info() (geometry, indices). */
	void		 (*po_info)(const void *p, struct vsock_dev_info *di);
	/* Lines for vsock_dev_dump(). */
	void		 (*po_dump)(const void *p,
			    void (*cb)(void *arg, const char *line), void *arg);
};

/* Protocol numbers a window can carry: 0 .. VSOCK_PROTO_SLOTS - 1. */
#define VSOCK_PROTO_SLOTS	8

extern const struct vsock_proto_ops vsock_ring_proto;
extern const struct vsock_proto_ops vsock_msg_proto;

/* The window, as its protocols see it. */
struct vsock_dev {
	struct ioreq_mem	*d_mem;
	uint64_t		 d_cid;
	uint32_t		 d_host_features;
	uint32_t		 d_irq_caps;
	uint32_t		 d_backend_domid;
	uint32_t		 d_protocols;	/* PROTOCOLS register */
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
	bool			 d_changed;

	/* Every offered protocol's state; d_po/d_pp: the selected one. */
	void			*d_priv[VSOCK_PROTO_SLOTS];
	const struct vsock_proto_ops *d_po;
	void			*d_pp;

	uint64_t		 d_tx_poll_ns;	/* vsock_dev_set_tx_poll */

	struct vsock_dev_stats	 d_st;
	struct log_ratelimit	 d_rl;
};

/* Halt: STATUS.ERROR, ERROR = err, ISR.ERROR, a notification. */
void	vsock_dev_halt(struct vsock_dev *d, uint32_t err);
/* Set ISR bits and notify the guest in its chosen mode. */
void	vsock_dev_notify(struct vsock_dev *d, uint32_t isr);
/* LIVE and not halted. */
bool	vsock_dev_runnable(const struct vsock_dev *d);
/*
 * The ENABLE command every protocol shares: BAD_STATE without a mailbox;
 * already LIVE is OK with nothing changed (a replayed ENABLE: a daemon
 * killed after recording it answers the re-run request as the first run
 * did); else LIVE, the state changed and *kick set (work the guest queued
 * before it enabled).
 */
uint32_t vsock_dev_enable(struct vsock_dev *d, bool *kick);

#endif /* HCVS_VSOCK_PROTO_H */
