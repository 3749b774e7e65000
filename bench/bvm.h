/* SPDX-License-Identifier: MIT */
/*
 * bvm: the smallest KVM VM the benchmark needs for its floors - one vCPU
 * in native 64-bit user mode (the mode that runs at full speed on this
 * paravirtual KVM, see kvm-here.md), RAM from one memfd at GPA 0, and
 * guest code copied in from byte ranges of this binary.
 *
 * Written before tests/kvm/kvmvm.h reached main; the hcvsock KVM figures
 * use kvmvm, and this file should be folded into it later.
 *
 * Layout: GDT 0x1000 (user CS 0x33, SS 0x2b, 64-bit TSS at 0x40), page
 * tables 0x3000-0x5fff (identity map of RAM with 2 MiB user pages), TSS
 * with an all-open I/O bitmap at 0x9000, code at BVM_CODE_GPA, a shared
 * data page at BVM_DATA_GPA.  Functions return 0 or a negative errno;
 * -ENODEV means no usable /dev/kvm.
 */
#ifndef HCVS_BENCH_BVM_H
#define HCVS_BENCH_BVM_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "common/compiler.h"

#define BVM_MEM_SIZE	(4u << 20)
#define BVM_CODE_GPA	0x100000ull
#define BVM_DATA_GPA	0x200000ull
#define BVM_STACK_TOP	0x300000ull

struct bvm {
	int		 kvm_fd, vm_fd, vcpu_fd, mem_fd;
	uint8_t		*mem;
	struct kvm_run	*run;
	size_t		 run_size;
};

int	bvm_create(struct bvm *vm) __must_check;
void	bvm_destroy(struct bvm *vm);
/*
 * Load code and point the vCPU at it with rdi, rsi, rdx, rcx as the
 * guest's first four arguments (SysV order).
 */
int	bvm_start(struct bvm *vm, const void *code, size_t len,
	    const uint64_t args[4]) __must_check;
/* KVM_RUN once; returns the exit reason or -errno (EINTR retried). */
int	bvm_run(struct bvm *vm);
/* Host view of guest-physical memory at gpa. */
static inline void *
bvm_gpa(struct bvm *vm, uint64_t gpa)
{
	return vm->mem + gpa;
}

#endif /* HCVS_BENCH_BVM_H */
