/* SPDX-License-Identifier: MIT */
/*
 * kvmvm: a minimal KVM virtual machine for tests, benchmarks and the
 * reference VMM.  Guest RAM is backed by one memfd (so it can be handed
 * to hcvsockd), vCPUs are set up either as a native 64-bit user-mode
 * guest (the mode that runs at full speed on paravirtual KVM, see
 * kvm-here.md) or in real mode (emulated; for interrupt tests), and
 * kvmvm_vcpu_run() returns each exit decoded.
 *
 * Layout of guest-physical memory in 64-bit user mode (all in RAM slot 0,
 * which starts at GPA 0):
 *
 *   0x1000  GDT (null, kernel code/data, user code 0x33, user data 0x2b),
 *           a 64-bit TSS descriptor at 0x40
 *   0x3000  PML4, 0x4000 PDPT, 0x5000..0x8fff 4 page directories
 *   0x9000  TSS with an I/O bitmap that opens every port (to 0xb068)
 *   KVMVM_CODE_GPA (1 MiB) default load address of guest programs
 *   0xc000..KVMVM_CODE_GPA free for the VMM (e.g. a stack or a mailbox)
 *
 * The page tables identity-map the low 4 GiB with 2 MiB user pages, RAM
 * or not: an access outside RAM is an MMIO exit.  The TSS I/O bitmap
 * (and RFLAGS.IOPL 3) let `in`/`out` at CPL 3 reach the VMM (KVM_EXIT_IO
 * or an ioeventfd); without the bitmap paravirtual KVM raises #GP.
 *
 * Functions return 0 or a negative errno.  A struct kvmvm may be shared
 * by threads that each run their own vCPU; the set-up calls are not
 * thread-safe.  kvmvm_vcpu_stop() may be called from any thread.
 */
#ifndef HCVS_KVMVM_H
#define HCVS_KVMVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "common/compiler.h"

struct kvmvm;
struct kvmvm_vcpu;

#define KVMVM_GDT_GPA		0x1000ull
#define KVMVM_PML4_GPA		0x3000ull
#define KVMVM_PDPT_GPA		0x4000ull
#define KVMVM_PD_GPA		0x5000ull	/* 4 pages */
#define KVMVM_TSS_GPA		0x9000ull
#define KVMVM_TSS_SIZE		0x3000u
#define KVMVM_TSS_LIMIT		(104u + 8192u)
#define KVMVM_CODE_GPA		0x100000ull
#define KVMVM_MIN_MEM		(2ull << 20)
#define KVMVM_MAX_MEM		(3ull << 30)	/* keep the top GiB for MMIO */
#define KVMVM_MAX_REGIONS	8

/* Selectors of the native user-mode guest (as Linux's __USER_CS/DS). */
#define KVMVM_USER_CS		0x33
#define KVMVM_USER_SS		0x2b

/*
 * Conventions of the test guests (tests/kvm/guest/kvmguest.h): a write
 * to KVMVM_PORT_EXIT ends the guest with that value, bytes written to
 * KVMVM_PORT_CONSOLE form a console line.  kvmvm itself does not
 * interpret them; kvmvm_run_simple() does.
 */
#define KVMVM_PORT_EXIT		0x0500
#define KVMVM_PORT_CONSOLE	0x0501

/* Is /dev/kvm present and usable?  Returns 0 or -errno (-ENOENT: absent). */
int	kvmvm_probe(void);

struct kvmvm_cfg {
	uint64_t	mem_size;	/* RAM at GPA 0, multiple of 2 MiB */
	bool		irqchip;	/* KVM_CREATE_IRQCHIP (for irqfd tests) */
};

int	kvmvm_new(const struct kvmvm_cfg *cfg, struct kvmvm **vmp) __must_check;
/* Free vCPUs, memory and the VM.  NULL is a no-op. */
void	kvmvm_free(struct kvmvm *vm);

int	kvmvm_vm_fd(const struct kvmvm *vm);
/* The memfd behind all guest RAM (borrowed), sealed F_SEAL_SHRINK. */
int	kvmvm_mem_fd(const struct kvmvm *vm);

/*
 * Add RAM at `gpa` (2 MiB aligned, below KVMVM_MAX_MEM, not overlapping),
 * backed by the same memfd after the existing RAM.  Returns the region
 * index (>= 1) or -errno.
 */
int	kvmvm_add_region(struct kvmvm *vm, uint64_t gpa, uint64_t size);

struct kvmvm_region {
	int		fd;	/* the memfd (borrowed) */
	uint64_t	gpa;
	uint64_t	size;
	uint64_t	offset;	/* within fd */
};
unsigned kvmvm_nr_regions(const struct kvmvm *vm);
int	kvmvm_region(const struct kvmvm *vm, unsigned idx, struct kvmvm_region *r);

/*
 * Host pointer to [gpa, gpa+len) if it lies in one RAM region, else NULL.
 * The VMM side of shared memory: the pointer stays valid until free.
 */
void	*kvmvm_gpa(const struct kvmvm *vm, uint64_t gpa, size_t len);

/* Copy a blob / a flat binary file into guest RAM. */
int	kvmvm_load(struct kvmvm *vm, uint64_t gpa, const void *buf, size_t len)
	    __must_check;
int	kvmvm_load_file(struct kvmvm *vm, uint64_t gpa, const char *path,
	    size_t *lenp) __must_check;

/*
 * Create vCPU `id`.  In user mode the vCPUs share the page tables and
 * GDT, which are written on the first kvmvm_vcpu_setup_user64().
 */
int	kvmvm_vcpu_new(struct kvmvm *vm, unsigned id, struct kvmvm_vcpu **vp)
	    __must_check;
struct kvm_run *kvmvm_vcpu_run_area(struct kvmvm_vcpu *v);

/*
 * Native 64-bit user mode: long mode, CS 0x33 / SS 0x2b at DPL 3, EFER
 * 0xd01, CR0 0x80050033, CR4.PAE, the identity map above.  rdi and rsi
 * are passed to the guest as its first two arguments.
 */
int	kvmvm_vcpu_setup_user64(struct kvmvm_vcpu *v, uint64_t rip,
	    uint64_t rsp, uint64_t rdi, uint64_t rsi) __must_check;

/* Real mode at cs:ip with ss:sp = 0:sp, interrupts disabled. */
int	kvmvm_vcpu_setup_real(struct kvmvm_vcpu *v, uint16_t cs, uint16_t ip,
	    uint16_t sp) __must_check;

enum kvmvm_exit_kind {
	KVMVM_EXIT_IO,
	KVMVM_EXIT_MMIO,
	KVMVM_EXIT_HLT,
	KVMVM_EXIT_SHUTDOWN,
	KVMVM_EXIT_STOPPED,	/* kvmvm_vcpu_stop() or a signal */
	KVMVM_EXIT_OTHER,	/* see ex_reason */
};

struct kvmvm_exit {
	enum kvmvm_exit_kind ex_kind;
	uint32_t	ex_reason;	/* raw KVM_EXIT_* */
	/* IO and MMIO */
	bool		ex_write;
	uint64_t	ex_addr;	/* port or GPA */
	unsigned	ex_size;	/* 1, 2, 4 (IO) or 1..8 (MMIO) */
	uint32_t	ex_count;	/* IO: rep count (>= 1) */
	uint64_t	ex_data;	/* write: first element's value */
};

/*
 * Run until the next exit a VMM must handle.  For an IO or MMIO read,
 * call kvmvm_vcpu_complete_read() before the next run.  Returns 0 and
 * *ex, or -errno from KVM_RUN (other than EINTR, which is STOPPED).
 */
int	kvmvm_vcpu_run(struct kvmvm_vcpu *v, struct kvmvm_exit *ex) __must_check;

/* Supply the value of a pending IO/MMIO read (every rep element). */
void	kvmvm_vcpu_complete_read(struct kvmvm_vcpu *v, uint64_t val);

/*
 * Make a running (or the next) kvmvm_vcpu_run() return STOPPED soon.
 * Safe from any thread and from signal handlers.
 */
void	kvmvm_vcpu_stop(struct kvmvm_vcpu *v);

/*
 * Run a vCPU until the guest writes KVMVM_PORT_EXIT (returns 0 and the
 * value in *code), handling the console port; other exits go to `fn`
 * (NULL: they fail the run with -EPROTO; STOPPED exits are ignored then).
 * `fn` returns 0 to continue; anything else ends the run and is returned.
 * `timeout_ms` 0 means none; on expiry returns -ETIMEDOUT.  Console lines
 * go to stderr with a "guest: " prefix.
 */
typedef int (*kvmvm_exit_fn)(struct kvmvm_vcpu *v, const struct kvmvm_exit *ex,
	    void *arg);
int	kvmvm_run_simple(struct kvmvm_vcpu *v, kvmvm_exit_fn fn, void *arg,
	    unsigned timeout_ms, uint32_t *code) __must_check;

#endif /* HCVS_KVMVM_H */
