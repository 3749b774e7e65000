/* SPDX-License-Identifier: MIT */
/*
 * The Xen request source: an IOREQ server for one HVM or PVH domain,
 * created fresh or re-attached after a crash.  Built only with HAVE_XEN;
 * everything else goes through ioreq.h's ioreq_source_* calls.
 *
 * ioreq_xen_open() does, in order (each stage undone in reverse on
 * failure): open libxendevicemodel and libxenforeignmemory; read the
 * domain's type with libxenctrl (closed again at once); open the "xen"
 * notifier; xendevicemodel_nr_vcpus; create the server (or find the one
 * to re-attach); map its ioreq page (and buffered page) as a resource;
 * set up the guest-memory cache and the engine; optionally open a
 * xenstore @releaseDomain watch.  ioreq_source_add_range() maps ranges,
 * ioreq_source_enable() enables the server and binds each vCPU's
 * event channel (vp_eport is only valid after enable), then serves any
 * READY or (re-attach) INPROCESS slot.
 *
 * Errors (negative errno, one log line naming the cause):
 *   -ENODEV   no Xen: /dev/xen/privcmd is missing
 *   -EACCES   no permission to use privcmd (not root)
 *   -ESRCH    no such domain, or it is dying
 *   -EOPNOTSUPP  a PV domain (device-model ops refused) or a kernel
 *             without resource mapping
 *   -ENOSPC   too many IOREQ servers for the domain (Xen allows 8)
 *   -ENOENT   re-attach: no such server id
 *   -EEXIST   (add_range) range overlaps one already mapped to this
 *             server; tolerated on re-attach, where the dead process
 *             mapped the same ranges
 */
#ifndef HCVS_IOREQ_XEN_H
#define HCVS_IOREQ_XEN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "ioreq/ioreq.h"

struct ioreq_xen_cfg {
	uint32_t	domid;
	/* A buffered ring (HVM_IOREQSRV_BUFIOREQ_ATOMIC); default off. */
	bool		bufioreq;
	/* >= 0: re-attach to this existing server id instead of creating. */
	int		reattach_id;
	/* Open a xenstore @releaseDomain watch (ioreq_xen_death_fd). */
	bool		watch_death;
};

int	ioreq_xen_open(const struct ioreq_xen_cfg *cfg, struct ioreq_source **sp)
	    __must_check;

/*
 * Domain death: a fd that becomes readable when any domain is released
 * (xenstore @releaseDomain), or -1 without a watch.  After it fires, call
 * ioreq_xen_domain_gone(): 1 if our domain (or our server) is gone, 0 if
 * it still runs, -errno on a failure to tell.  The xenstore handle is not
 * covered by ioreq_source_restrict() (which then restricts handle by
 * handle instead of xentoolcore_restrict_all, so the watch survives).
 */
int	ioreq_xen_death_fd(const struct ioreq_source *s);
int	ioreq_xen_domain_gone(struct ioreq_source *s);

#endif /* HCVS_IOREQ_XEN_H */
