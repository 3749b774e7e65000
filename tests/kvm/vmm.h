/* SPDX-License-Identifier: MIT */
/*
 * The reference VMM's core: a kvmvm VM whose register-window exits are
 * forwarded to hcvsockd through the attach protocol's ioreq page.  The
 * hcvsock-vmm program and the end-to-end tests both use it.
 *
 * Guest contract (tests/kvm/guest/kvmguest.h): the guest is a flat
 * binary at KVMVM_CODE_GPA, entered in native 64-bit user mode with
 * rdi = vCPU index and rsi = KVMGUEST_BOOT_GPA (struct kvmguest_boot);
 * each vCPU has a 64 KiB stack below the top of RAM; [kb_scratch_gpa,
 * +kb_scratch_size) is free for the guest's mailbox and buffers.
 *
 * Notification:
 *   VMM_NOTIFY_VM       the VM fd goes to hcvsockd, which registers its
 *                       ioeventfd (DOORBELL) and irqfd itself (works only
 *                       when hcvsockd's side runs in this process: KVM
 *                       refuses VM ioctls from other processes);
 *   VMM_NOTIFY_EVENTFDS the VMM registers them and hands the eventfds;
 *   VMM_NOTIFY_NONE     every doorbell is a forwarded exit.
 *
 * Functions return 0 or -errno.  vmm_run_vcpu() may run concurrently for
 * different vCPUs (one thread each).
 */
#ifndef HCVS_TESTS_VMM_H
#define HCVS_TESTS_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "attach/attach_vmm.h"
#include "kvmvm.h"
#include "guest/kvmguest.h"

enum vmm_notify {
	VMM_NOTIFY_NONE,
	VMM_NOTIFY_VM,
	VMM_NOTIFY_EVENTFDS,
};

struct vmm_cfg {
	const char	*name;		/* for hcvsockd's log; may be NULL */
	uint64_t	 mem_size;	/* RAM at GPA 0 (2 MiB multiple) */
	unsigned	 nr_vcpus;	/* 1..64 */
	uint64_t	 cid;
	enum ioreq_space window_space;
	uint64_t	 window_base;
	enum vmm_notify	 notify;
	/* An in-kernel irqchip; EVENTFDS mode then also gets an irqfd. */
	bool		 irqchip;
	uint32_t	 irq_gsi;	/* EVENTFDS irqfd GSI (irqchip only) */
	uint64_t	 fwd_spin_ns;	/* spin on the slot before blocking */
	int		 fwd_timeout_ms; /* per forwarded access; 0: 10 s */
	/*
	 * When hcvsockd goes away: re-attach for up to this long (0: never;
	 * the guest then sees no backend).  A vCPU whose request was left
	 * unanswered waits that long for the next hcvsockd's answer.
	 */
	int		 reattach_ms;
};

struct vmm;

int	vmm_new(const struct vmm_cfg *cfg, struct vmm **vp) __must_check;
/* Detach (closes the socket), free the VM.  NULL is a no-op. */
void	vmm_free(struct vmm *m);

struct kvmvm	*vmm_vm(struct vmm *m);
struct kvmvm_vcpu *vmm_vcpu(struct vmm *m, unsigned idx);
/* The boot block in guest RAM (params in, results out). */
struct kvmguest_boot *vmm_boot(struct vmm *m);

/* Load a flat guest binary at KVMVM_CODE_GPA. */
int	vmm_load(struct vmm *m, const char *path) __must_check;

/*
 * The description hcvsockd needs (fds borrowed from the VMM: do not
 * close; attach_source_open() and the socket both dup what they keep).
 */
void	vmm_fill_desc(struct vmm *m, struct attach_desc *d);

/*
 * Connect to hcvsockd's attach socket and attach; keeps the socket.  With
 * reattach_ms, a thread then watches it and attaches the same VM again
 * (same memory, eventfds, ioreq and state pages) when hcvsockd goes away,
 * logging each step on stderr.
 */
int	vmm_attach(struct vmm *m, const char *path, char *err, size_t errlen)
	    __must_check;
/* Close the attach socket: hcvsockd detaches the guest. */
void	vmm_detach(struct vmm *m);

/*
 * Set up vCPU `idx` (user mode, stack, arguments) and run it until the
 * guest exits through KVMVM_PORT_EXIT (*code) or timeout_ms passes
 * (-ETIMEDOUT).  Window accesses are forwarded; anything else is -EPROTO.
 */
int	vmm_run_vcpu(struct vmm *m, unsigned idx, unsigned timeout_ms,
	    uint32_t *code) __must_check;

/* The same in emulated real mode at cs:ip (interrupt tests; needs irqchip). */
int	vmm_run_vcpu_real(struct vmm *m, unsigned idx, uint16_t cs, uint16_t ip,
	    uint16_t sp, unsigned timeout_ms, uint32_t *code) __must_check;

/*
 * Make every running vmm_run_vcpu() return -ECANCELED soon (any thread).
 * A vCPU waiting for a forwarded answer returns after it (or its timeout).
 */
void	vmm_stop(struct vmm *m);

struct vmm_stats {
	uint64_t	vs_forwarded;	/* window accesses sent to hcvsockd */
	uint64_t	vs_fwd_errors;	/* unanswered / protocol errors */
	uint64_t	vs_reattached;	/* re-attaches after hcvsockd went away */
	uint64_t	vs_resumed;	/* requests answered by the next hcvsockd */
	uint64_t	vs_unkicked;	/* forwarded without a kick (watched) */
};
void	vmm_get_stats(const struct vmm *m, struct vmm_stats *st);

#endif /* HCVS_TESTS_VMM_H */
