/* SPDX-License-Identifier: MIT */
/*
 * What a freestanding test guest for kvmvm needs: port I/O, MMIO, a
 * console and an exit port (the conventions of tests/kvm/kvmvm.h), and
 * the few libc functions the compiler may call.  The guest runs as a
 * native 64-bit user-mode program: no interrupts, no privileged
 * instructions; `_start(arg0, arg1)` gets the VMM's rdi and rsi.
 */
#ifndef HCVS_KVMGUEST_H
#define HCVS_KVMGUEST_H

#include <stddef.h>
#include <stdint.h>

#define KVMGUEST_PORT_EXIT	0x0500
#define KVMGUEST_PORT_CONSOLE	0x0501

#define KVMGUEST_ENTRY	__attribute__((section(".text.start"), used, noreturn))

static inline void
kvmguest_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void
kvmguest_outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void
kvmguest_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t
kvmguest_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t
kvmguest_inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t
kvmguest_inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void
kvmguest_mmio_write32(uint64_t gpa, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)gpa = v;
}

static inline uint32_t
kvmguest_mmio_read32(uint64_t gpa)
{
	return *(volatile uint32_t *)(uintptr_t)gpa;
}

static inline void
kvmguest_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

__attribute__((noreturn)) static inline void
kvmguest_exit(uint32_t code)
{
	for (;;)
		kvmguest_outl(KVMGUEST_PORT_EXIT, code);
}

void	kvmguest_puts(const char *s);
/* Print "<label><hex>\n". */
void	kvmguest_put_hex(const char *label, uint64_t v);

void	*memcpy(void *dst, const void *src, size_t n);
void	*memmove(void *dst, const void *src, size_t n);
void	*memset(void *dst, int c, size_t n);
int	 memcmp(const void *a, const void *b, size_t n);
size_t	 strlen(const char *s);

#endif /* HCVS_KVMGUEST_H */
