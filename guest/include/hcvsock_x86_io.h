/* SPDX-License-Identifier: MIT */
/*
 * x86 port I/O for freestanding guest code (-m32 and -m64): the driver's
 * platform helpers and the test guests share these instead of each
 * carrying its own inline assembly.
 */
#ifndef HCVSOCK_X86_IO_H
#define HCVSOCK_X86_IO_H

#include <stdint.h>

#if defined(__i386__) || defined(__x86_64__)

static inline void
hcvg_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void
hcvg_outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void
hcvg_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t
hcvg_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t
hcvg_inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t
hcvg_inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

#endif /* __i386__ || __x86_64__ */

#endif /* HCVSOCK_X86_IO_H */
