/* SPDX-License-Identifier: MIT */
/*
 * Finding a Xen domain from dom0 through xenstore: its id from its name
 * (/local/domain/<id>/name), optionally waiting for it to appear.  Used
 * before any handle is restricted: xentoolcore_restrict_all() would
 * disable the xenstore handle, so it is closed again at once.
 */
#ifndef HCVS_XENDOM_H
#define HCVS_XENDOM_H

#include <stdint.h>

#include "common/compiler.h"

/*
 * Resolve `name` to a domid, retrying every 500 ms for up to wait_s
 * seconds (0: once).  Returns 0, -ESRCH (no such domain), -ENODEV (no
 * xenstore: not a Xen dom0), -ENOTSUP (built without Xen), -EINTR when
 * a blocked SIGTERM/SIGINT is pending, -errno.
 */
int	xendom_lookup(const char *name, unsigned wait_s, uint32_t *domid)
	    __must_check;

/*
 * The domain this process runs in (xenstore "domid"), the remote domain
 * a guest's event channel must name.  *domid is 0 on any failure:
 * -ENOENT (no such key: an old tool stack, where only dom0 serves),
 * -ENODEV (no xenstore), -ENOTSUP (built without Xen), -EINVAL, -errno.
 */
int	xendom_self(uint32_t *domid) __must_check;

/* Does domain `domid` exist (0 no, 1 yes, -errno)?  Same waiting rule. */
int	xendom_exists(uint32_t domid, unsigned wait_s) __must_check;

/*
 * --pause-pin: hold a pause reference of our own on the domain (Xen's
 * pause count is per reference, so an `xl unpause` meanwhile does not
 * let it run) until xendom_unpin().  Needs libxenctrl's domctls: call
 * before any handle is restricted.  -ENOTSUP without Xen.
 */
struct xendom_pin;
int	xendom_pin(uint32_t domid, struct xendom_pin **pp) __must_check;
/* Drop the reference and close.  NULL is a no-op. */
void	xendom_unpin(struct xendom_pin *p);

#endif /* HCVS_XENDOM_H */
