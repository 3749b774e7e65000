/* SPDX-License-Identifier: MIT */
/*
 * One guest's wiring: a request source (ioreq.h), the hcvsock device
 * behind its register window (vsock_dev.h), the muxer to the host
 * (vsock_mux.h), and their place on the event loop.  Every hypervisor
 * kind builds the same binding: the daemon one for a Xen domain or the
 * fake guest, the KVM listener one per attached VM.  Nothing here knows
 * which kind it serves: interrupts and the asynchronous doorbell are the
 * source's (ioreq_source_irq_*, ioreq_source_set_doorbell).
 *
 * What a binding guarantees, whatever the source:
 *   - the source's fd is on the loop; each turn of the loop services at
 *     most BINDING_EVENT_BUDGET of its events and one look at its page,
 *     so one guest cannot hold the loop;
 *   - with busy_poll_ns, the loop does not sleep for that long after the
 *     guest's last event: each turn polls the source's fd (epoll with a
 *     zero timeout) and looks at its page, so a guest in a tight request
 *     loop never waits for a wake-up, and the other fds are served on
 *     every turn meanwhile (the loop's thread spins for the window); the
 *     device is watched too (vsock_dev_watch_tx): TX_NO_KICK stays up,
 *     each turn looks at TX, entries found there keep the window open,
 *     and when it shuts the flag comes down with a last look;
 *   - with sync_poll_ns, the same after a turn that answered a request
 *     (a vCPU stopped until it had the answer) and only then: a guest
 *     on the synchronous doorbell or register accesses comes back
 *     within one exit, while asynchronous doorbells (streams) never
 *     make the loop spin;
 *   - while a window is open on a source with a page (ioreq_source_poll)
 *     the page carries the watched mark; it goes when the window shuts,
 *     and a last look follows, so no request is left without its event;
 *   - tx_poll_ns is the device's TX poll window (vsock_dev_set_tx_poll):
 *     a pass it leaves work to (entries found in the window) runs again
 *     from the zero timer, like any pass that leaves work;
 *   - a wake of a source whose asynchronous doorbell is an event, with
 *     no vCPU's request READY on its page, runs the doorbell's pass
 *     before the source's notifier is read (ioreq_source_doorbell_likely,
 *     vsock_dev_kick_ahead): the guest's answer does not wait for those
 *     reads; doorbells they find run one more pass for what came since,
 *     without a second poll window, so none is lost or counted twice;
 *   - device work runs after each completed request and after each
 *     doorbell, in bounded passes; what is left runs from a zero timer,
 *     after the fds ready by then (loop.h), so a guest with endless work
 *     takes one pass per turn of the loop; a guest's events on its
 *     EVTCHN channel are one guest event per turn however many were
 *     sent (vsock_dev_guest_event);
 *   - a window write that changed the recorded state runs state_changed
 *     before the request is answered, so a daemon killed at any point
 *     leaves a state file that agrees with what the guest was told;
 *   - the notification modes offered are the source's, narrowed by the
 *     caller's irq_modes;
 *   - state_changed runs when the device state worth persisting changed
 *     (binding_export then gives it).
 *
 * Lifecycle: binding_new (not live; the source's ranges are claimed),
 * optionally binding_import, binding_enable, ... binding_stop (orderly:
 * tell the guest, answer, reset connections), binding_free.
 *
 * Owned by the event-loop thread.  Functions return 0 or -errno, never
 * exit; binding_new explains a failure in `err`, the rest log their own.
 */
#ifndef HCVS_BINDING_H
#define HCVS_BINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "ioreq/ioreq.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"

struct loop;
struct binding;
struct vsock_mig;

#define BINDING_EVENT_BUDGET	1024u
#define BINDING_MAX_WINDOWS	2u

/* A register window: PIO HCVS_REG_WINDOW_SIZE bytes or an MMIO page. */
struct binding_window {
	enum ioreq_space	space;
	uint64_t		base;
	uint64_t		size;
};

struct binding_cfg {
	struct loop		*loop;
	const char		*name;		/* log lines, e.g. "dom7" */
	/* The host side; guest_cid is the guest's, rx_ready is set here. */
	struct vsock_mux_cfg	 mux;
	uint32_t		 features;	/* HCVS_F_*, 0: device default */
	/* GET_BACKEND: the Xen domain serving the window (EVTCHN only). */
	uint32_t		 backend_domid;
	/* 1u << HCVS_IRQ_* the operator allows (NONE is always offered). */
	uint32_t		 irq_modes;
	unsigned		 nr_windows;	/* 1..BINDING_MAX_WINDOWS */
	struct binding_window	 windows[BINDING_MAX_WINDOWS];
	uint64_t		 busy_poll_ns;	/* 0: off */
	uint64_t		 sync_poll_ns;	/* 0: off */
	uint64_t		 tx_poll_ns;	/* 0: off */
	/* Device state worth persisting changed.  May be NULL. */
	void			(*state_changed)(void *arg);
	/* The source's notifier failed: the binding is dead.  May be NULL. */
	void			(*failed)(void *arg, int err);
	void			*hook_arg;
};

/*
 * Build the binding over `src`, which it owns from now on (also on
 * failure: then closed with destroy).  Claims every window, registers
 * each window's asynchronous doorbell with the source, creates the
 * muxer (host sockets listen) and puts the source on the loop.
 */
int	binding_new(const struct binding_cfg *cfg, struct ioreq_source *src,
	    struct binding **bp, char *err, size_t errlen) __must_check;

/* Before enable: take over a recorded device state (crash recovery). */
int	binding_import(struct binding *b, const struct vsock_dev_state *st);
void	binding_export(struct binding *b, struct vsock_dev_state *st);

/* Make the source live, answer what is pending, run the device. */
int	binding_enable(struct binding *b) __must_check;
/* Restrict the source's handles to the guest (before dropping privilege). */
int	binding_restrict(struct binding *b);
/* New host-side policy (SIGHUP); mux.guest_cid is ignored. */
int	binding_reconfigure(struct binding *b, const struct vsock_mux_cfg *mux);

/*
 * Orderly stop.  guest_alive: tell the guest (EPOCH, ISR_RESET, an
 * interrupt) and answer every pending request before the server is
 * disabled; false for a guest that is gone (a destroyed domain).  Then
 * every connection is reset (host peers see EOF).
 */
void	binding_stop(struct binding *b, bool guest_alive);

/*
 * Leave the loop; answer what is pending unless stopped; free the muxer,
 * the device and the source (`destroy` as ioreq_source_close).  NULL is
 * a no-op.
 */
void	binding_free(struct binding *b, bool destroy);

struct binding_stats {
	uint64_t	bs_requests;	/* requests the source completed */
	uint64_t	bs_doorbells;	/* doorbells outside requests */
	uint64_t	bs_irqs;	/* interrupts raised */
	/* Times the loop woke the binding for its source (busy-poll saves them). */
	uint64_t	bs_wakeups;
};
void	binding_get_stats(struct binding *b, struct binding_stats *st);

struct ioreq_source *binding_source(struct binding *b);
struct vsock_dev *binding_dev(struct binding *b);
struct vsock_mux *binding_mux(struct binding *b);
/* Protocol MSG's session bridge; NULL when MSG is not offered. */
struct vsock_mig *binding_mig(struct binding *b);

/*
 * The source (kind, vCPUs, server, request counters, doorbells, irqs),
 * its slots, the device, the connections: one line each via cb.
 */
void	binding_dump(struct binding *b,
	    void (*cb)(void *arg, const char *line), void *arg);

#endif /* HCVS_BINDING_H */
