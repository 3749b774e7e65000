/* SPDX-License-Identifier: MIT */
/*
 * Xen helpers for the guest driver: finding Xen (CPUID leaves
 * "XenVMMXenVMM"), installing the hypercall page (the MSR of leaf
 * base + 2), and the two event-channel calls the EVTCHN mode and the
 * EVTCHN_KICK doorbell need (EVTCHNOP_alloc_unbound, EVTCHNOP_send).
 * Sending needs no event ABI set-up; receiving stays on the 2-level ABI
 * (shared_info), which the caller maps.  Header-only, freestanding,
 * -m32/-m64, CPL 0 (hypercalls from user mode fault).
 *
 * Use: base = hcvg_xen_detect(); if non-zero, hcvg_xen_hypercall_init()
 * with a 4 KiB page of the image and its physical address; allocate the
 * port for hcvg_backend_domain()'s domain; then hcvg_x86_xen_platform()
 * with .page set fills the platform, evtchn_send included, and cfg
 * .evtchn_kick lets hcvg_init() negotiate EVTCHN_KICK.
 */
#ifndef HCVSOCK_GUEST_XEN_H
#define HCVSOCK_GUEST_XEN_H

#include <stdint.h>

#include "hcvsock_guest_x86.h"

#if defined(__i386__) || defined(__x86_64__)

#define HCVG_XEN_HC_EVENT_CHANNEL_OP	32u
#define HCVG_XEN_EVTCHNOP_ALLOC_UNBOUND	6u
#define HCVG_XEN_EVTCHNOP_SEND		4u
#define HCVG_XEN_DOMID_SELF		0x7FF0u

static inline void
hcvg_xen_cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	    : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	    : "a"(leaf), "c"(0));
}

/* The base of Xen's CPUID leaves, or 0 where Xen is absent. */
static inline uint32_t
hcvg_xen_detect(void)
{
	uint32_t r[4], base;

	/* Viridian may sit at 0x40000000 and Xen at 0x40000100. */
	for (base = 0x40000000u; base < 0x40010000u; base += 0x100u) {
		hcvg_xen_cpuid(base, r);
		if (r[1] == 0x566e6558u && r[2] == 0x65584d4du &&
		    r[3] == 0x4d4d566eu && r[0] - base >= 2u)
			return base;
	}
	return 0;
}

/* Ask Xen to fill `page` (physical address `phys`) with hypercall stubs. */
static inline void
hcvg_xen_hypercall_init(uint32_t base, uint64_t phys)
{
	uint32_t r[4];

	hcvg_xen_cpuid(base + 2u, r);
	__asm__ volatile("wrmsr" : : "c"(r[1]), "a"((uint32_t)phys),
	    "d"((uint32_t)(phys >> 32)) : "memory");
}

/* A two-argument hypercall through the page: Xen's register ABI. */
static inline long
hcvg_xen_hypercall2(const void *page, uint32_t nr, unsigned long a1,
    void *a2)
{
	long ret;
	const uint8_t *entry = (const uint8_t *)page + nr * 32u;
#if defined(__x86_64__)
	register unsigned long rdi __asm__("rdi") = a1;
	register void *rsi __asm__("rsi") = a2;

	/* The call's push must not land in the red zone. */
	__asm__ volatile("sub $128, %%rsp\n\tcall *%[entry]\n\tadd $128, %%rsp"
	    : "=a"(ret), "+r"(rdi), "+r"(rsi)
	    : [entry] "r"(entry)
	    : "memory", "rcx", "r11", "rdx", "r8", "r9", "r10");
#else
	unsigned long b = a1;
	void *c = a2;

	__asm__ volatile("call *%[entry]"
	    : "=a"(ret), "+b"(b), "+c"(c)
	    : [entry] "r"(entry)
	    : "memory", "edx", "esi", "edi");
#endif
	return ret;
}

/*
 * EVTCHNOP_alloc_unbound: a port of ours that `remote_dom` may bind.
 * Returns 0 and *port, or Xen's negative errno.
 */
static inline long
hcvg_xen_alloc_unbound(const void *page, uint32_t remote_dom, uint32_t *port)
{
	struct {
		uint16_t	dom;
		uint16_t	remote_dom;
		uint32_t	port;
	} au = { HCVG_XEN_DOMID_SELF, (uint16_t)remote_dom, 0 };
	long rc;

	rc = hcvg_xen_hypercall2(page, HCVG_XEN_HC_EVENT_CHANNEL_OP,
	    HCVG_XEN_EVTCHNOP_ALLOC_UNBOUND, &au);
	if (rc == 0)
		*port = au.port;
	return rc;
}

/* EVTCHNOP_send on our port: 0, or Xen's negative errno (a dead port). */
static inline long
hcvg_xen_evtchn_send(const void *page, uint32_t port)
{
	uint32_t p = port;

	return hcvg_xen_hypercall2(page, HCVG_XEN_HC_EVENT_CHANNEL_OP,
	    HCVG_XEN_EVTCHNOP_SEND, &p);
}

struct hcvg_x86_xen {
	struct hcvg_x86	x86;		/* first: the platform's ctx */
	const void	*page;		/* the installed hypercall page */
};

static inline int
hcvg_x86_xen_send(void *ctx, uint32_t port)
{
	const struct hcvg_x86_xen *x = ctx;

	return hcvg_xen_evtchn_send(x->page, port) == 0 ? 0 : -1;
}

/* hcvg_x86_platform() plus evtchn_send through the hypercall page. */
static inline void
hcvg_x86_xen_platform(struct hcvg_platform *p, struct hcvg_x86_xen *x,
    int mmio)
{
	hcvg_x86_platform(p, &x->x86, mmio);
	p->ctx = x;
	p->evtchn_send = x->page != 0 ? hcvg_x86_xen_send :
	    (int (*)(void *, uint32_t))0;
}

#endif /* __i386__ || __x86_64__ */

#endif /* HCVSOCK_GUEST_XEN_H */
