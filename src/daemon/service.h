/* SPDX-License-Identifier: MIT */
/*
 * The service: the guest side of the daemon as its runtime sees it.
 * runtime.c drives the lifecycle and never touches a layer directly;
 * service.c (with service_status.c for the JSON status) is the only
 * daemon code that knows the layers: per hypervisor kind it opens the
 * request source (or the KVM listener) and hands it to a binding
 * (binding.h), which wires the device and the muxer.  The tests link
 * runtime.c against a recording service (tests/daemon/fake_service.c) to
 * check the order in which the runtime calls these.
 *
 * Lifecycle, in the order the runtime calls it:
 *   service_open      create (or re-attach to) the IOREQ server, claim
 *                     the register window, create the device and the
 *                     muxer (which binds the host listener); register
 *                     fds on the loop
 *   service_enable    make the server live and answer whatever is pending
 *   service_restrict  restrict the Xen handles to the domain
 *   ... privileges dropped, READY=1 ...
 *   service_reconfigure (SIGHUP), service_dump (SIGUSR1, control socket),
 *   service_get_state (after the hooks report a change)
 *   service_stop      answer every READY/INPROCESS slot, disable, reset
 *                     the connections (host peers see EOF)
 *   service_close     unbind, unmap, destroy the server (or leave it for
 *                     a restarted daemon when `destroy` is false)
 *
 * All return 0 or -errno, log their own errors once with context, and
 * never exit.
 */
#ifndef HCVS_SERVICE_H
#define HCVS_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "daemon/conf.h"
#include "daemon/statefile.h"

struct json_object;
struct loop;
struct peer_policy;
struct service;

enum service_kind {
	SERVICE_XEN,		/* a Xen domain, by id */
	SERVICE_LOOPBACK,	/* a fake guest handing over its page */
	SERVICE_KVM,		/* VMMs attaching KVM guests on a socket */
};

struct service_target {
	enum service_kind	 st_kind;
	uint32_t		 st_domid;	/* SERVICE_XEN */
	uint32_t		 st_self_domid;	/* SERVICE_XEN: where hcvsockd runs */
	const char		*st_socket;	/* SERVICE_LOOPBACK, SERVICE_KVM */
	uint32_t		 st_require_cid; /* SERVICE_KVM: 0 = any CID */
	const struct peer_policy *st_peers;	/* SERVICE_KVM: who may attach */
};

/* VMMs one daemon serves in KVM mode. */
#define SERVICE_KVM_MAX_GUESTS	16

struct service_hooks {
	/* The guest changed device state worth persisting (mailbox, mode). */
	void	(*sh_state_changed)(void *arg);
	/*
	 * The guest is gone (domain destroyed, fake guest disconnected) or
	 * the service failed for good.  `code` is the exit status to use:
	 * 0 when the guest went away normally.
	 */
	void	(*sh_gone)(void *arg, int code);
	void	 *sh_arg;
};

/*
 * `recovered` (may be NULL) is the state a previous process recorded: if
 * it names a server that still exists, re-attach to it, import the
 * device state and reset the connections; otherwise create afresh.
 * *reattached tells which happened.
 */
int	service_open(struct loop *l, const struct conf *c,
	    const struct service_target *t, const struct statefile *recovered,
	    const struct service_hooks *hooks, struct service **sp,
	    bool *reattached) __must_check;
int	service_enable(struct service *s) __must_check;
int	service_restrict(struct service *s) __must_check;

/* Apply policy, port mappings and log level from a reloaded *c. */
int	service_reconfigure(struct service *s, const struct conf *c);

/* One line per vCPU slot, then one per connection, via cb. */
void	service_dump(struct service *s, void (*cb)(void *arg, const char *line),
	    void *arg);

/*
 * Add "ioreq" (the request source, its counters and vCPU slots; null in
 * KVM mode) and "guests" (per guest: device, muxer, connections) to the
 * JSON status `root` (docs/HOST-BRIDGE.md), with status.h's helpers.
 */
void	service_status(struct service *s, struct json_object *root);

/* Fill the server id and the device export (sf_server_id, sf_dev, sf_has_dev). */
int	service_get_state(struct service *s, struct statefile *sf);

void	service_stop(struct service *s);
void	service_close(struct service *s, bool destroy);

#endif /* HCVS_SERVICE_H */
