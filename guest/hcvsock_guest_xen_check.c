/* SPDX-License-Identifier: MIT */
/*
 * Build check only: every helper of hcvsock_guest_xen.h emitted for -m32
 * and -m64, so their inline assembly is assembled in each build.
 */
#include "hcvsock_guest_xen.h"

int	hcvg_xen_check(struct hcvg_platform *p, struct hcvg_x86_xen *x);

int
hcvg_xen_check(struct hcvg_platform *p, struct hcvg_x86_xen *x)
{
	uint32_t port, base = hcvg_xen_detect();

	if (base == 0)
		return -1;
	hcvg_xen_hypercall_init(base, (uint64_t)(uintptr_t)x->page);
	hcvg_x86_xen_platform(p, x, 0);
	if (hcvg_xen_alloc_unbound(x->page, 0, &port) != 0)
		return -1;
	return p->evtchn_send(p->ctx, port);
}
