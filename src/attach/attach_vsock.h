/* SPDX-License-Identifier: MIT */
/*
 * The hcvsock device for an attached KVM guest: the same device
 * (vsock_dev.h) and muxer (vsock_mux.h) as on Xen, behind the attach
 * module's guest (attach.h).  hcvsockd's KVM mode plugs
 * attach_vsock_server_ops into attach_server_new(); a VMM that links the
 * libraries calls attach_vsock_new() with its own description.
 *
 * Each guest is one binding (binding.h) over the request source of its
 * description (attach_source_open): the same budgets, busy-poll and
 * device state as a Xen guest.  Notification modes offered: NONE (poll)
 * always; GSI when the VMM gave its VM fd (any GSI; the VM needs an
 * in-kernel irqchip) or an irq eventfd (that GSI only).  MSI is not
 * offered on KVM yet (it needs GSI routing).  Owned by the event-loop
 * thread.
 */
#ifndef HCVS_ATTACH_VSOCK_H
#define HCVS_ATTACH_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attach/attach.h"
#include "binding/binding.h"
#include "common/peer.h"
#include "vsock/vsock_mux.h"

struct loop;
struct attach_vsock;
struct vsock_dev;

struct attach_vsock_cfg {
	struct loop		*loop;
	/*
	 * Host side of every guest: policy, mappings, limits.  guest_cid
	 * and rx_ready are set per guest.  With uds_per_cid, each guest's
	 * uds_path is "<uds_path>.<cid>" (several VMMs on one daemon).
	 */
	struct vsock_mux_cfg	 mux;
	bool			 uds_per_cid;
	uint32_t		 features;	/* HCVS_F_*, 0 = device default */
	/* 1u << HCVS_IRQ_* allowed; 0: whatever the guest's VMM enables. */
	uint32_t		 irq_modes;
	uint64_t		 busy_poll_ns;	/* 0: off */
	uint64_t		 sync_poll_ns;	/* 0: off (binding.h) */
	uint64_t		 tx_poll_ns;	/* 0: off (binding.h) */
	/* The only CID a VMM may attach (hcvsockd's configuration); 0: any. */
	uint64_t		 require_cid;
	/* Listener only: who may attach (SO_PEERCRED); NULL: anybody. */
	const struct peer_policy *peers;
	/*
	 * Listener only: each guest in a process of its own
	 * (attach_server_set_fork).  The parent then holds no guest: its
	 * reconfigure applies to guests attached afterwards.
	 */
	bool			 fork_per_guest;
	/*
	 * Listener only (may be NULL): a guest went live / was detached
	 * (its VMM disconnected or broke the protocol, or unlisten).
	 */
	void			(*on_attach)(void *arg, const char *name,
				    uint64_t cid);
	void			(*on_detach)(void *arg, const char *name,
				    uint64_t cid);
	/*
	 * Listener only (may be NULL): an attached guest's device state
	 * worth persisting changed (binding_export of its binding gives
	 * it).  Called once as it attaches, before on_attach, then before
	 * the guest is answered for each register write that changed it.
	 */
	void			(*on_state)(void *arg, struct attach_vsock *av);
	void			*hook_arg;
};

/*
 * Build the device for a checked description (fds dup'ed).  With a
 * state page, the state recorded there by an earlier hcvsockd is
 * imported (the guest sees a transport reset) and every change is
 * recorded there before the request that made it is answered.
 */
int	attach_vsock_new(const struct attach_vsock_cfg *cfg,
	    const struct attach_desc *d, struct attach_vsock **avp, char *err,
	    size_t errlen) __must_check;
/* Reset every connection (host peers see EOF), detach.  NULL: no-op. */
void	attach_vsock_free(struct attach_vsock *av);

struct binding *attach_vsock_binding(struct attach_vsock *av);
const char *attach_vsock_name(const struct attach_vsock *av);
uint64_t attach_vsock_cid(const struct attach_vsock *av);

/*
 * hcvsockd's KVM mode: listen on `path` for VMMs (attach_server_new) and
 * give each attached guest its device.  At most max_guests at once; a
 * guest whose CID is already attached is refused (-EADDRINUSE).  The
 * configuration is copied.
 */
struct attach_vsock_server;

int	attach_vsock_listen(const struct attach_vsock_cfg *cfg, const char *path,
	    unsigned max_guests, struct attach_vsock_server **sp) __must_check;
/* Detach every guest, stop listening.  NULL is a no-op. */
void	attach_vsock_unlisten(struct attach_vsock_server *s);
unsigned attach_vsock_nr_guests(const struct attach_vsock_server *s);
/*
 * New host-side policy and mappings (SIGHUP): future guests get them,
 * attached guests' muxers are reconfigured (connections are kept).
 * Returns the first error of a muxer, after trying all.
 */
int	attach_vsock_reconfigure(struct attach_vsock_server *s,
	    const struct vsock_mux_cfg *mux);
/* One attached guest, as attach_vsock_foreach_guest() reports it. */
struct attach_vsock_guest_info {
	const char			*gi_name;
	uint64_t			 gi_cid;
	struct binding_stats		 gi_stats;
	const struct vsock_dev		*gi_dev;
	const struct vsock_mux		*gi_mux;
	const struct vsock_mig		*gi_mig;	/* NULL: no MSG */
};
/* Calls fn once per attached guest; fn must not attach or detach. */
void	attach_vsock_foreach_guest(const struct attach_vsock_server *s,
	    void (*fn)(void *arg, const struct attach_vsock_guest_info *gi),
	    void *arg);
/*
 * fork_per_guest: fn once per guest attached in a process of its own
 * (the listener holds none of them).
 */
void	attach_vsock_foreach_child(const struct attach_vsock_server *s,
	    void (*fn)(void *arg, const char *name, uint64_t cid, long pid),
	    void *arg);
/* Per guest: name, CID, forwarded requests, kicks, irqs, then its binding. */
void	attach_vsock_dump(const struct attach_vsock_server *s,
	    void (*cb)(void *arg, const char *line), void *arg);

#endif /* HCVS_ATTACH_VSOCK_H */
