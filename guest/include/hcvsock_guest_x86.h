/* SPDX-License-Identifier: MIT */
/*
 * x86 platform helpers for the guest driver: register access by port I/O
 * or MMIO, a full fence, a pause.  Header-only, freestanding, -m32/-m64.
 * Use: struct hcvg_x86 x = { .base = 0x5A0 }; then
 * hcvg_x86_platform(&plat, &x, 0) for port I/O (1 for MMIO, with
 * .base the window's mapped address).
 */
#ifndef HCVSOCK_GUEST_X86_H
#define HCVSOCK_GUEST_X86_H

#include <stdint.h>

#include "hcvsock_guest.h"
#include "hcvsock_x86_io.h"

#if defined(__i386__) || defined(__x86_64__)

struct hcvg_x86 {
	uintptr_t	base;	/* I/O port, or the window's virtual address */
};

static inline uint32_t
hcvg_x86_pio_read(void *ctx, uint32_t off)
{
	const struct hcvg_x86 *x = ctx;

	return hcvg_inl((uint16_t)(x->base + off));
}

static inline void
hcvg_x86_pio_write(void *ctx, uint32_t off, uint32_t val)
{
	const struct hcvg_x86 *x = ctx;

	hcvg_outl((uint16_t)(x->base + off), val);
}

static inline uint32_t
hcvg_x86_mmio_read(void *ctx, uint32_t off)
{
	const struct hcvg_x86 *x = ctx;

	return *(const volatile uint32_t *)(x->base + off);
}

static inline void
hcvg_x86_mmio_write(void *ctx, uint32_t off, uint32_t val)
{
	const struct hcvg_x86 *x = ctx;

	*(volatile uint32_t *)(x->base + off) = val;
}

static inline void
hcvg_x86_mb(void *ctx)
{
	(void)ctx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline void
hcvg_x86_pause(void *ctx)
{
	(void)ctx;
	__asm__ volatile("pause" ::: "memory");
}

static inline void
hcvg_x86_platform(struct hcvg_platform *p, struct hcvg_x86 *x, int mmio)
{
	p->ctx = x;
	p->reg_read = mmio ? hcvg_x86_mmio_read : hcvg_x86_pio_read;
	p->reg_write = mmio ? hcvg_x86_mmio_write : hcvg_x86_pio_write;
	p->mb = hcvg_x86_mb;
	p->virt_to_phys = (uint64_t (*)(void *, const void *))0;
	p->wait = hcvg_x86_pause;
	p->evtchn_send = (int (*)(void *, uint32_t))0;
	p->will_sleep = (int (*)(void *))0;
}

#endif /* __i386__ || __x86_64__ */

#endif /* HCVSOCK_GUEST_X86_H */
