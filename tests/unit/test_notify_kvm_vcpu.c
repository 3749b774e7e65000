/* SPDX-License-Identifier: MIT */
/*
 * The kvm notifier with a real vCPU: a native 64-bit user-mode guest
 * kicks ports registered with NOTIFY_BIND_IOEVENTFD (PIO and MMIO, with
 * and without datamatch), and an emulated real-mode guest takes the
 * interrupt the host raises through a NOTIFY_BIND_IRQFD port.
 *
 * The VM set-up here is deliberately minimal and local (one 2 MiB slot,
 * one vCPU); tests/kvm/kvmvm.{h,c} is the reusable version and this file
 * can move onto it once that library is on main.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "notify/notify.h"
#include "test_common.h"

/* The guest programs (notify_kvm_guest.S). */
extern const uint8_t nkg_user64_start[], nkg_user64_end[];
extern const uint8_t nkg_real_start[], nkg_real_end[];

#define MEM_SIZE	(2u << 20)
#define GDT_GPA		0x1000u
#define PML4_GPA	0x3000u
#define PDPT_GPA	0x4000u
#define PD_GPA		0x5000u
#define TSS_GPA		0x9000u
#define TSS_LIMIT	(104u + 8192u)
#define STACK_TOP	0x70000u
#define SCRIPT_GPA	0x80000u
#define CODE_GPA	0x100000u
#define REAL_GPA	0x8000u		/* CS 0x0800, IP 0 */
#define MARKER_GPA	0x500u

/* Ports and addresses the guests use. */
#define PORT_DONE	0x5ff
#define PORT_READY	0x5fe
#define PORT_IRQ_RAN	0x5fd
/* Not RAM, mapped by the guest page tables: MMIO exits or ioeventfds. */
#define MMIO_BASE	0x10000000ull

#define GSI		5

#define RUN_TIMEOUT_MS	10000

enum { OP_END = 0, OP_OUT8 = 1, OP_OUT16 = 2, OP_OUT32 = 4,
	OP_MMIO8 = 0x11, OP_MMIO16 = 0x12, OP_MMIO32 = 0x14, OP_MMIO64 = 0x18 };

struct guest_op {
	uint64_t	kind;
	uint64_t	addr;
	uint64_t	value;
	uint64_t	repeat;
};

/* A write that left the kernel for us: it matched no ioeventfd. */
struct user_exit {
	bool		mmio;
	uint64_t	addr;
	unsigned	size;
	uint64_t	value;
};

struct vm {
	int		 kvm;
	int		 vm_fd;
	int		 vcpu_fd;
	uint8_t		*mem;
	struct kvm_run	*run;
	size_t		 run_size;
	/* Writes that exited to userspace, other than PORT_DONE. */
	struct user_exit exits[64];
	unsigned	 nexits;
};

static void
on_sigusr1(int sig)
{
	(void)sig;
}

/* Create the VM, its RAM and vCPU 0; false (with a SKIP line) if KVM is missing. */
static bool
vm_create(struct vm *vm, bool irqchip)
{
	struct kvm_userspace_memory_region region;
	int mmap_size;

	memset(vm, 0, sizeof(*vm));
	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		return false;
	vm->vm_fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		close(vm->kvm);
		return false;
	}
	/* irqfd needs the in-kernel irqchip, created before any vCPU. */
	if (irqchip)
		assert_int_equal(ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0), 0);
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(vm->mem != MAP_FAILED);
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = MEM_SIZE;
	region.userspace_addr = (uint64_t)(uintptr_t)vm->mem;
	assert_int_equal(ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region),
	    0);
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	assert_true(vm->vcpu_fd >= 0);
	mmap_size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	assert_true(mmap_size > 0);
	vm->run_size = (size_t)mmap_size;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vm->vcpu_fd, 0);
	assert_true(vm->run != MAP_FAILED);
	return true;
}

static void
vm_destroy(struct vm *vm)
{
	munmap(vm->run, vm->run_size);
	munmap(vm->mem, MEM_SIZE);
	close(vm->vcpu_fd);
	close(vm->vm_fd);
	close(vm->kvm);
}

/* Long mode needs CPUID to admit LM (and NX, SYSCALL for EFER 0xd01). */
static void
vm_set_cpuid(struct vm *vm)
{
	struct kvm_cpuid2 *c;
	const unsigned nent = 256;

	c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
	assert_non_null(c);
	c->nent = nent;
	assert_int_equal(ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, c), 0);
	assert_int_equal(ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c), 0);
	free(c);
}

static void
seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = 3;
	s->s = 1;
	s->l = code;
	s->db = !code;
	s->g = 1;
}

/*
 * Native 64-bit user mode (kvm-here.md): CPL 3 segments, user pages,
 * EFER 0xd01, CR0 0x80050033, CR4.PAE; a TSS whose I/O bitmap opens
 * every port, since this KVM checks it for `out` at CPL 3.
 */
static void
vm_setup_user64(struct vm *vm, const struct guest_op *script, size_t nops)
{
	uint64_t *gdt = (uint64_t *)(void *)(vm->mem + GDT_GPA);
	uint64_t *pml4 = (uint64_t *)(void *)(vm->mem + PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(void *)(vm->mem + PDPT_GPA);
	uint64_t *pd = (uint64_t *)(void *)(vm->mem + PD_GPA);
	uint8_t *tss = vm->mem + TSS_GPA;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	unsigned i;

	vm_set_cpuid(vm);
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull;		/* 0x08 kernel code */
	gdt[2] = 0x00cf93000000ffffull;		/* 0x10 kernel data */
	gdt[5] = 0x00cff3000000ffffull;		/* 0x2b user data */
	gdt[6] = 0x00affb000000ffffull;		/* 0x33 user code, L */
	/* 0x40: 64-bit TSS, two slots. */
	gdt[8] = (TSS_LIMIT & 0xffffull) | ((uint64_t)(TSS_GPA & 0xffffff) << 16) |
	    (0x89ull << 40) | ((uint64_t)((TSS_LIMIT >> 16) & 0xf) << 48) |
	    ((uint64_t)(TSS_GPA >> 24) << 56);
	gdt[9] = 0;
	memset(tss, 0, TSS_LIMIT + 1);
	tss[102] = 104 & 0xff;			/* I/O map base */
	tss[103] = 104 >> 8;
	tss[TSS_LIMIT] = 0xff;

	/* Identity-map the first GiB with 2 MiB user pages. */
	pml4[0] = PDPT_GPA | 0x7;
	pdpt[0] = PD_GPA | 0x7;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x87;

	assert_true((size_t)(nkg_user64_end - nkg_user64_start) < 4096);
	memcpy(vm->mem + CODE_GPA, nkg_user64_start,
	    (size_t)(nkg_user64_end - nkg_user64_start));
	assert_true((nops + 1) * sizeof(*script) < 0x10000);
	memcpy(vm->mem + SCRIPT_GPA, script, nops * sizeof(*script));
	memset(vm->mem + SCRIPT_GPA + nops * sizeof(*script), 0,
	    sizeof(*script));

	assert_int_equal(ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs), 0);
	seg(&sregs.cs, 0x33, 0xb, true);
	seg(&sregs.ss, 0x2b, 0x3, false);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = 0x40;
	sregs.tr.base = TSS_GPA;
	sregs.tr.limit = TSS_LIMIT;
	sregs.tr.type = 0xb;
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.type = 0x2;
	sregs.ldt.unusable = 1;
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = 10 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x80050033ull;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = 0x20;			/* PAE */
	sregs.efer = 0xd01;
	assert_int_equal(ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs), 0);
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_TOP;
	regs.rdi = SCRIPT_GPA;
	regs.rflags = 0x3002;			/* IOPL 3 as well */
	assert_int_equal(ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs), 0);
}

/* Emulated real mode at CS 0x0800:0, stack 0:0x7000, interrupts off. */
static void
vm_setup_real(struct vm *vm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	memcpy(vm->mem + REAL_GPA, nkg_real_start,
	    (size_t)(nkg_real_end - nkg_real_start));
	assert_int_equal(ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs), 0);
	sregs.cs.selector = REAL_GPA >> 4;
	sregs.cs.base = REAL_GPA;
	sregs.ds.selector = sregs.es.selector = sregs.ss.selector = 0;
	sregs.ds.base = sregs.es.base = sregs.ss.base = 0;
	sregs.cr0 &= ~0x80000001ull;
	assert_int_equal(ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs), 0);
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0;
	regs.rsp = 0x7000;
	regs.rflags = 0x2;
	assert_int_equal(ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs), 0);
}

/*
 * Kicks the vCPU thread out of KVM_RUN every 20 ms so that a guest that
 * never exits (hlt with no interrupt, a wrong ioeventfd) fails the test
 * by timeout instead of hanging it.
 */
struct watchdog {
	pthread_t	target;
	pthread_t	thread;
	atomic_bool	stop;
};

static void *
watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	const struct timespec tick = { 0, 20 * 1000 * 1000 };

	while (!atomic_load(&w->stop)) {
		nanosleep(&tick, NULL);
		pthread_kill(w->target, SIGUSR1);
	}
	return NULL;
}

static void
watchdog_start(struct watchdog *w)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;	/* no SA_RESTART: KVM_RUN sees EINTR */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	w->target = pthread_self();
	atomic_store(&w->stop, false);
	assert_int_equal(pthread_create(&w->thread, NULL, watchdog_main, w),
	    0);
}

static void
watchdog_stop(struct watchdog *w)
{
	atomic_store(&w->stop, true);
	assert_int_equal(pthread_join(w->thread, NULL), 0);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Run until the guest writes `stop_port` (returns 0 and the byte written
 * in *val) or `timeout_ms` passes (-ETIMEDOUT).  Other writes that exit
 * are recorded in vm->exits.  Any other exit is a failure.
 */
static int
vm_run_until(struct vm *vm, uint16_t stop_port, unsigned timeout_ms,
    uint64_t *val)
{
	struct watchdog w;
	struct kvm_run *r = vm->run;
	uint64_t deadline = now_ms() + timeout_ms, v;
	const uint8_t *data;
	int rc = 0;

	watchdog_start(&w);
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				if (now_ms() >= deadline) {
					rc = -ETIMEDOUT;
					break;
				}
				continue;
			}
			rc = -errno;
			break;
		}
		if (r->exit_reason == KVM_EXIT_IO &&
		    r->io.direction == KVM_EXIT_IO_OUT) {
			data = (const uint8_t *)r + r->io.data_offset;
			v = 0;
			memcpy(&v, data, r->io.size);
			if (r->io.port == stop_port) {
				if (val != NULL)
					*val = v;
				break;
			}
			assert_true(vm->nexits < ARRAY_SIZE(vm->exits));
			vm->exits[vm->nexits++] = (struct user_exit){
			    .mmio = false, .addr = r->io.port,
			    .size = r->io.size, .value = v };
			continue;
		}
		if (r->exit_reason == KVM_EXIT_MMIO && r->mmio.is_write) {
			v = 0;
			memcpy(&v, r->mmio.data, r->mmio.len);
			assert_true(vm->nexits < ARRAY_SIZE(vm->exits));
			vm->exits[vm->nexits++] = (struct user_exit){
			    .mmio = true, .addr = r->mmio.phys_addr,
			    .size = r->mmio.len, .value = v };
			continue;
		}
		fail_msg("unexpected exit %u (io port 0x%x dir %u, shutdown "
		    "means the guest faulted)", r->exit_reason,
		    r->exit_reason == KVM_EXIT_IO ? r->io.port : 0,
		    r->exit_reason == KVM_EXIT_IO ? r->io.direction : 0);
	}
	watchdog_stop(&w);
	return rc;
}

/* Sum what the notifier reports per port until nothing is pending. */
static void
drain(struct notifier *n, const uint32_t *ports, uint64_t *counts,
    unsigned nports)
{
	uint32_t local;
	uint64_t count;
	unsigned i;
	int rc;

	while ((rc = notifier_next(n, &local, &count)) == 1) {
		for (i = 0; i < nports && ports[i] != local; i++)
			;
		assert_true(i < nports);
		counts[i] += count;
	}
	assert_int_equal(rc, 0);
}

static struct notify_bind
ioeventfd(bool mmio, uint64_t addr, uint32_t len)
{
	struct notify_bind b = { .kind = NOTIFY_BIND_IOEVENTFD,
	    .is_mmio = mmio, .addr = addr, .len = len, .rx_fd = -1,
	    .tx_fd = -1 };

	return b;
}

struct fixture {
	struct vm	 vm;
	struct notifier	*n;
};

static int
setup_user(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_true(vm_create(&fx->vm, false));
	assert_int_equal(notifier_open("kvm", fx->vm.vm_fd, &fx->n), 0);
	*state = fx;
	return 0;
}

static int
setup_irqchip(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_true(vm_create(&fx->vm, true));
	assert_int_equal(notifier_open("kvm", fx->vm.vm_fd, &fx->n), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	notifier_close(fx->n);
	vm_destroy(&fx->vm);
	free(fx);
	return 0;
}

/* Cases. */

#define KICKS	1000

static void
pio__kicks_counted_in_kernel(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = ioeventfd(false, 0x600, 1);
	const struct guest_op script[] = {
		{ OP_OUT8, 0x600, 0x5a, KICKS },
		{ OP_OUT8, 0x601, 0x01, 2 },	/* nobody's: exits */
	};
	uint32_t port;
	uint64_t count = 0;

	assert_int_equal(notifier_bind(fx->n, &b, &port), 0);
	vm_setup_user64(&fx->vm, script, ARRAY_SIZE(script));
	assert_int_equal(vm_run_until(&fx->vm, PORT_DONE, RUN_TIMEOUT_MS,
	    NULL), 0);
	drain(fx->n, &port, &count, 1);
	/* Exactly KICKS, none of them through userspace. */
	assert_int_equal(count, KICKS);
	assert_int_equal(fx->vm.nexits, 2);
	assert_int_equal(fx->vm.exits[0].addr, 0x601);
	assert_int_equal(fx->vm.exits[1].addr, 0x601);
}

static void
pio__datamatch_filters(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = ioeventfd(false, 0x610, 2);
	const struct guest_op script[] = {
		{ OP_OUT16, 0x610, 0x1234, 5 },
		{ OP_OUT16, 0x610, 0x4321, 3 },	/* other value: exits */
		{ OP_OUT16, 0x610, 0x1234, 2 },
		{ OP_OUT8, 0x610, 0x34, 1 },	/* other width: exits */
		{ OP_OUT16, 0x612, 0x0001, 4 },	/* second trigger */
		{ OP_OUT16, 0x612, 0x0002, 1 },
	};
	uint32_t ports[2];
	uint64_t counts[2] = { 0, 0 };
	unsigned i;

	b.has_datamatch = true;
	b.datamatch = 0x1234;
	assert_int_equal(notifier_bind(fx->n, &b, &ports[0]), 0);
	b = ioeventfd(false, 0x612, 2);
	b.has_datamatch = true;
	b.datamatch = 1;
	assert_int_equal(notifier_bind(fx->n, &b, &ports[1]), 0);
	vm_setup_user64(&fx->vm, script, ARRAY_SIZE(script));
	assert_int_equal(vm_run_until(&fx->vm, PORT_DONE, RUN_TIMEOUT_MS,
	    NULL), 0);
	drain(fx->n, ports, counts, 2);
	assert_int_equal(counts[0], 7);
	assert_int_equal(counts[1], 4);
	/* What did not match came to us as KVM_EXIT_IO, in order. */
	assert_int_equal(fx->vm.nexits, 5);
	for (i = 0; i < 3; i++) {
		assert_false(fx->vm.exits[i].mmio);
		assert_int_equal(fx->vm.exits[i].addr, 0x610);
		assert_int_equal(fx->vm.exits[i].size, 2);
		assert_int_equal(fx->vm.exits[i].value, 0x4321);
	}
	assert_int_equal(fx->vm.exits[3].size, 1);
	assert_int_equal(fx->vm.exits[3].value, 0x34);
	assert_int_equal(fx->vm.exits[4].addr, 0x612);
	assert_int_equal(fx->vm.exits[4].value, 2);
}

static void
mmio__kicks_and_datamatch(void **state)
{
	struct fixture *fx = *state;
	const uint64_t a = MMIO_BASE, bb = MMIO_BASE + 0x1000,
	    c = MMIO_BASE + 0x2000;
	const struct guest_op script[] = {
		{ OP_MMIO32, a, 0xffffffff, KICKS },
		{ OP_MMIO64, bb, 0xdeadbeefcafef00dull, 3 },
		{ OP_MMIO64, bb, 0x1ull, 2 },		/* exits */
		{ OP_MMIO8, c, 0x01, 1 },		/* any width */
		{ OP_MMIO32, c, 0x02, 1 },
		{ OP_MMIO16, a, 0x03, 1 },		/* width: exits */
	};
	struct notify_bind b;
	uint32_t ports[3];
	uint64_t counts[3] = { 0, 0, 0 };

	b = ioeventfd(true, a, 4);
	assert_int_equal(notifier_bind(fx->n, &b, &ports[0]), 0);
	b = ioeventfd(true, bb, 8);
	b.has_datamatch = true;
	b.datamatch = 0xdeadbeefcafef00dull;
	assert_int_equal(notifier_bind(fx->n, &b, &ports[1]), 0);
	b = ioeventfd(true, c, 0);
	assert_int_equal(notifier_bind(fx->n, &b, &ports[2]), 0);
	vm_setup_user64(&fx->vm, script, ARRAY_SIZE(script));
	assert_int_equal(vm_run_until(&fx->vm, PORT_DONE, RUN_TIMEOUT_MS,
	    NULL), 0);
	drain(fx->n, ports, counts, 3);
	assert_int_equal(counts[0], KICKS);
	assert_int_equal(counts[1], 3);
	assert_int_equal(counts[2], 2);
	assert_int_equal(fx->vm.nexits, 3);
	assert_true(fx->vm.exits[0].mmio);
	assert_int_equal(fx->vm.exits[0].addr, bb);
	assert_int_equal(fx->vm.exits[0].size, 8);
	assert_int_equal(fx->vm.exits[0].value, 1);
	assert_int_equal(fx->vm.exits[1].addr, bb);
	assert_int_equal(fx->vm.exits[2].addr, a);
	assert_int_equal(fx->vm.exits[2].size, 2);
}

static void
ports__report_in_guest_kick_order(void **state)
{
	struct fixture *fx = *state;
	const struct guest_op script[] = {
		{ OP_OUT8, 0x622, 0, 1 },
		{ OP_OUT8, 0x620, 0, 3 },
		{ OP_MMIO32, MMIO_BASE, 0, 1 },
		{ OP_OUT8, 0x621, 0, 2 },
		{ OP_OUT8, 0x622, 0, 1 },	/* coalesces with the first */
	};
	struct notify_bind b;
	uint32_t p[4], local;
	uint64_t count;
	unsigned i;

	for (i = 0; i < 3; i++) {
		b = ioeventfd(false, 0x620 + i, 1);
		assert_int_equal(notifier_bind(fx->n, &b, &p[i]), 0);
	}
	b = ioeventfd(true, MMIO_BASE, 4);
	assert_int_equal(notifier_bind(fx->n, &b, &p[3]), 0);
	vm_setup_user64(&fx->vm, script, ARRAY_SIZE(script));
	assert_int_equal(vm_run_until(&fx->vm, PORT_DONE, RUN_TIMEOUT_MS,
	    NULL), 0);
	assert_int_equal(fx->vm.nexits, 0);
	assert_int_equal(notifier_next(fx->n, &local, &count), 1);
	assert_int_equal(local, p[2]);
	assert_int_equal(count, 2);
	assert_int_equal(notifier_next(fx->n, &local, &count), 1);
	assert_int_equal(local, p[0]);
	assert_int_equal(count, 3);
	assert_int_equal(notifier_next(fx->n, &local, &count), 1);
	assert_int_equal(local, p[3]);
	assert_int_equal(count, 1);
	assert_int_equal(notifier_next(fx->n, &local, &count), 1);
	assert_int_equal(local, p[1]);
	assert_int_equal(count, 2);
	assert_int_equal(notifier_next(fx->n, &local, &count), 0);
}

static void
unbind__guest_write_exits_again(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = ioeventfd(false, 0x630, 4);
	const struct guest_op script[] = {
		{ OP_OUT32, 0x630, 7, 3 },
	};
	uint32_t port;
	uint64_t count = 0;

	assert_int_equal(notifier_bind(fx->n, &b, &port), 0);
	/* Kicks pending at unbind are dropped with the port. */
	assert_int_equal(notifier_unbind(fx->n, port), 0);
	vm_setup_user64(&fx->vm, script, ARRAY_SIZE(script));
	assert_int_equal(vm_run_until(&fx->vm, PORT_DONE, RUN_TIMEOUT_MS,
	    NULL), 0);
	/* Deassigned: every write came to userspace, none to an eventfd. */
	assert_int_equal(fx->vm.nexits, 3);
	assert_int_equal(fx->vm.exits[2].addr, 0x630);
	assert_int_equal(fx->vm.exits[2].value, 7);
	assert_int_equal(notifier_wait(fx->n, 0), 0);
	(void)count;
}

struct runner {
	struct vm	*vm;
	int		 rc;
	atomic_bool	 done;
};

static void *
runner_main(void *arg)
{
	struct runner *r = arg;

	r->rc = vm_run_until(r->vm, PORT_DONE, RUN_TIMEOUT_MS, NULL);
	atomic_store(&r->done, true);
	return NULL;
}

/*
 * The host drains while the guest kicks: whatever the interleaving of
 * reads and kicks, no kick is lost and none is counted twice.
 */
static void
pio__concurrent_drain_loses_nothing(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = ioeventfd(false, 0x640, 1);
	const struct guest_op script[] = {
		{ OP_OUT8, 0x640, 1, 20000 },
	};
	struct runner r = { .vm = &fx->vm };
	pthread_t th;
	uint32_t port;
	uint64_t count = 0, reports = 0, before;
	int rc;

	assert_int_equal(notifier_bind(fx->n, &b, &port), 0);
	assert_int_equal(notifier_set_busy_poll(fx->n, 50000), 0);
	vm_setup_user64(&fx->vm, script, ARRAY_SIZE(script));
	atomic_store(&r.done, false);
	assert_int_equal(pthread_create(&th, NULL, runner_main, &r), 0);
	while (!atomic_load(&r.done)) {
		rc = notifier_wait(fx->n, 100);
		assert_true(rc >= 0);
		before = count;
		drain(fx->n, &port, &count, 1);
		if (count != before)
			reports++;
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.rc, 0);
	drain(fx->n, &port, &count, 1);
	assert_int_equal(count, 20000);
	assert_int_equal(fx->vm.nexits, 0);
	printf("# 20000 kicks seen in %llu reports\n",
	    (unsigned long long)reports);
}

static void
irqfd__real_mode_handler_runs(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = { .kind = NOTIFY_BIND_IRQFD, .gsi = GSI,
	    .rx_fd = -1, .tx_fd = -1 };
	volatile uint16_t *marker;
	uint32_t port;
	uint64_t val;
	unsigned i;

	assert_int_equal(notifier_bind(fx->n, &b, &port), 0);
	vm_setup_real(&fx->vm);
	marker = (volatile uint16_t *)(void *)(fx->vm.mem + MARKER_GPA);
	*marker = 0xffff;
	assert_int_equal(vm_run_until(&fx->vm, PORT_READY, RUN_TIMEOUT_MS,
	    NULL), 0);
	assert_int_equal(*marker, 0);

	/* No notify, no interrupt: the guest stays in hlt. */
	assert_int_equal(vm_run_until(&fx->vm, PORT_IRQ_RAN, 200, NULL),
	    -ETIMEDOUT);
	assert_int_equal(*marker, 0);

	for (i = 1; i <= 3; i++) {
		assert_int_equal(notifier_notify(fx->n, port), 0);
		assert_int_equal(vm_run_until(&fx->vm, PORT_IRQ_RAN,
		    RUN_TIMEOUT_MS, &val), 0);
		/* The IVT handler ran once per notify. */
		assert_int_equal(val, i);
		assert_int_equal(*marker, i);
	}
	assert_int_equal(fx->vm.nexits, 0);

	/* Unbound: the line is no longer ours to raise. */
	assert_int_equal(notifier_unbind(fx->n, port), 0);
	assert_int_equal(notifier_notify(fx->n, port), -ENOENT);
	assert_int_equal(vm_run_until(&fx->vm, PORT_IRQ_RAN, 200, NULL),
	    -ETIMEDOUT);
	assert_int_equal(*marker, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pio__kicks_counted_in_kernel,
		    setup_user, teardown),
		cmocka_unit_test_setup_teardown(pio__datamatch_filters,
		    setup_user, teardown),
		cmocka_unit_test_setup_teardown(mmio__kicks_and_datamatch,
		    setup_user, teardown),
		cmocka_unit_test_setup_teardown(
		    ports__report_in_guest_kick_order, setup_user, teardown),
		cmocka_unit_test_setup_teardown(
		    unbind__guest_write_exits_again, setup_user, teardown),
		cmocka_unit_test_setup_teardown(
		    pio__concurrent_drain_loses_nothing, setup_user, teardown),
		cmocka_unit_test_setup_teardown(irqfd__real_mode_handler_runs,
		    setup_irqchip, teardown),
	};
	struct vm probe;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (access("/dev/kvm", F_OK) != 0) {
		printf("SKIP: no /dev/kvm\n");
		return TEST_EXIT_SKIP;
	}
	if (!vm_create(&probe, false)) {
		printf("SKIP: /dev/kvm present but no VM could be created: "
		    "%s\n", strerror(errno));
		return TEST_EXIT_SKIP;
	}
	vm_destroy(&probe);
	return cmocka_run_group_tests_name("notify kvm vCPU", tests, NULL,
	    NULL);
}
