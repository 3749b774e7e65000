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

#include "hcvsock_x86_io.h"

#define KVMGUEST_PORT_EXIT	0x0500
#define KVMGUEST_PORT_CONSOLE	0x0501

#define KVMGUEST_ENTRY	__attribute__((section(".text.start"), used, noreturn))

/*
 * What the reference VMM (tests/kvm/vmm.h) tells its guest: a pointer to
 * this block is the guest's second argument (the first is the vCPU
 * index).  Plain fixed-size fields so that host and guest agree.
 */
#define KVMGUEST_BOOT_GPA	0xc000ull
#define KVMGUEST_BOOT_MAGIC	0x42475648u	/* "HVGB" */
#define KVMGUEST_WINDOW_PIO	0u
#define KVMGUEST_WINDOW_MMIO	1u
#define KVMGUEST_NR_PARAMS	16u

struct kvmguest_boot {
	uint32_t	kb_magic;
	uint32_t	kb_nr_vcpus;
	uint32_t	kb_window_kind;	/* KVMGUEST_WINDOW_* */
	uint32_t	kb_irq_gsi;	/* GSI the guest may select, or ~0 */
	uint64_t	kb_window_base;
	uint64_t	kb_scratch_gpa;	/* RAM the guest may use freely */
	uint64_t	kb_scratch_size;
	uint64_t	kb_cid;
	/* Test parameters (meaning per guest program). */
	uint32_t	kb_params[KVMGUEST_NR_PARAMS];
	/* Results the guest leaves for the host (meaning per program). */
	uint32_t	kb_results[KVMGUEST_NR_PARAMS];
};

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
		hcvg_outl(KVMGUEST_PORT_EXIT, code);
}

void	kvmguest_puts(const char *s);
/* Print "<label><hex>\n". */
void	kvmguest_put_hex(const char *label, uint64_t v);

#if !__STDC_HOSTED__
void	*memcpy(void *dst, const void *src, size_t n);
void	*memmove(void *dst, const void *src, size_t n);
void	*memset(void *dst, int c, size_t n);
int	 memcmp(const void *a, const void *b, size_t n);
size_t	 strlen(const char *s);
#endif

#endif /* HCVS_KVMGUEST_H */
