/* SPDX-License-Identifier: MIT */
/*
 * The kvm notifier with a real vCPU: a native 64-bit user-mode guest
 * kicks ports registered with NOTIFY_BIND_IOEVENTFD (PIO and MMIO, with
 * and without datamatch), and an emulated real-mode guest takes the
 * interrupt the host raises through a NOTIFY_BIND_IRQFD port.  The VMs
 * are tests/kvm/kvmvm's (memfd RAM, page tables, TSS I/O bitmap, the
 * run loop and its watchdog); only the guest programs are local.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmvm.h"
#include "notify/notify.h"
#include "test_common.h"

/* The guest programs (notify_kvm_guest.c). */
extern const uint8_t nkg_user64_start[], nkg_user64_end[];
extern const uint8_t nkg_real_start[], nkg_real_end[];

#define MEM_SIZE	KVMVM_MIN_MEM
/* In 0xc000..KVMVM_CODE_GPA, which kvmvm leaves to us in user mode. */
#define STACK_TOP	0x70000u
#define SCRIPT_GPA	0x80000u
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
	struct kvmvm		*kvm;
	struct kvmvm_vcpu	*vcpu;
	/* Writes that exited to userspace, other than the stop port. */
	struct user_exit	 exits[64];
	unsigned		 nexits;
};

/* Create the VM, its RAM and vCPU 0; irqfd needs the in-kernel irqchip. */
static void
vm_create(struct vm *vm, bool irqchip)
{
	const struct kvmvm_cfg cfg = { .mem_size = MEM_SIZE,
	    .irqchip = irqchip };

	memset(vm, 0, sizeof(*vm));
	assert_int_equal(kvmvm_new(&cfg, &vm->kvm), 0);
	assert_int_equal(kvmvm_vcpu_new(vm->kvm, 0, &vm->vcpu), 0);
}

/* Native 64-bit user mode running nkg_user64 over `script`. */
static void
vm_setup_user64(struct vm *vm, const struct guest_op *script, size_t nops)
{
	const size_t len = (size_t)(nkg_user64_end - nkg_user64_start);
	struct guest_op *dst;

	assert_true(len < 4096);
	assert_int_equal(kvmvm_load(vm->kvm, KVMVM_CODE_GPA, nkg_user64_start,
	    len), 0);
	assert_true((nops + 1) * sizeof(*script) < 0x10000);
	dst = kvmvm_gpa(vm->kvm, SCRIPT_GPA, (nops + 1) * sizeof(*script));
	assert_non_null(dst);
	memcpy(dst, script, nops * sizeof(*script));
	memset(&dst[nops], 0, sizeof(*script));
	assert_int_equal(kvmvm_vcpu_setup_user64(vm->vcpu, KVMVM_CODE_GPA,
	    STACK_TOP, SCRIPT_GPA, 0), 0);
}

/* Emulated real mode at CS 0x0800:0, stack 0:0x7000, interrupts off. */
static void
vm_setup_real(struct vm *vm)
{
	assert_int_equal(kvmvm_load(vm->kvm, REAL_GPA, nkg_real_start,
	    (size_t)(nkg_real_end - nkg_real_start)), 0);
	assert_int_equal(kvmvm_vcpu_setup_real(vm->vcpu, REAL_GPA >> 4, 0,
	    0x7000), 0);
}

struct run_until {
	struct vm	*vm;
	uint16_t	 stop_port;
	uint64_t	 val;
};

/*
 * Called by kvmvm_run_simple() on each exit: ends the run at a write to
 * the stop port and records every other write.  Never asserts (a cmocka
 * failure would jump out past the run's watchdog thread).
 */
static int
run_until_exit(struct kvmvm_vcpu *v, const struct kvmvm_exit *ex, void *arg)
{
	struct run_until *ru = arg;
	struct vm *vm = ru->vm;

	(void)v;
	if (ex->ex_kind == KVMVM_EXIT_STOPPED)
		return 0;
	if ((ex->ex_kind == KVMVM_EXIT_IO || ex->ex_kind == KVMVM_EXIT_MMIO) &&
	    ex->ex_write) {
		if (ex->ex_kind == KVMVM_EXIT_IO &&
		    ex->ex_addr == ru->stop_port) {
			ru->val = ex->ex_data;
			return 1;
		}
		if (vm->nexits >= ARRAY_SIZE(vm->exits)) {
			print_error("more than %zu writes exited\n",
			    ARRAY_SIZE(vm->exits));
			return -ENOSPC;
		}
		vm->exits[vm->nexits++] = (struct user_exit){
		    .mmio = ex->ex_kind == KVMVM_EXIT_MMIO,
		    .addr = ex->ex_addr, .size = ex->ex_size,
		    .value = ex->ex_data };
		return 0;
	}
	print_error("unexpected exit %u (io port 0x%llx write %d, shutdown "
	    "means the guest faulted)\n", ex->ex_reason,
	    ex->ex_kind == KVMVM_EXIT_IO ? (unsigned long long)ex->ex_addr : 0,
	    ex->ex_write);
	return -EPROTO;
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
	struct run_until ru = { .vm = vm, .stop_port = stop_port };
	uint32_t code;
	int rc;

	rc = kvmvm_run_simple(vm->vcpu, run_until_exit, &ru, timeout_ms,
	    &code);
	if (rc == 1) {
		if (val != NULL)
			*val = ru.val;
		return 0;
	}
	/* The guests never write KVMVM_PORT_EXIT: that is a failure too. */
	return rc == 0 ? -EPROTO : rc;
}

/* Run the user-mode guest over `script` until it says it is done. */
static void
run_script(struct vm *vm, const struct guest_op *script, size_t nops)
{
	vm_setup_user64(vm, script, nops);
	assert_int_equal(vm_run_until(vm, PORT_DONE, RUN_TIMEOUT_MS, NULL), 0);
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

/* The notifier's next report is `count` kicks of port `local`. */
static void
next_is(struct notifier *n, uint32_t local, uint64_t count)
{
	uint32_t l;
	uint64_t c;

	assert_int_equal(notifier_next(n, &l, &c), 1);
	assert_int_equal(l, local);
	assert_int_equal(c, count);
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

/* A VM (with the in-kernel irqchip if asked) and a kvm notifier on it. */
static int
fixture_new(void **state, bool irqchip)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	vm_create(&fx->vm, irqchip);
	assert_int_equal(notifier_open("kvm", kvmvm_vm_fd(fx->vm.kvm),
	    &fx->n), 0);
	*state = fx;
	return 0;
}

static int
setup_user(void **state)
{
	return fixture_new(state, false);
}

static int
setup_irqchip(void **state)
{
	return fixture_new(state, true);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	notifier_close(fx->n);
	kvmvm_free(fx->vm.kvm);
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
	run_script(&fx->vm, script, ARRAY_SIZE(script));
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
	run_script(&fx->vm, script, ARRAY_SIZE(script));
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
	run_script(&fx->vm, script, ARRAY_SIZE(script));
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
	run_script(&fx->vm, script, ARRAY_SIZE(script));
	assert_int_equal(fx->vm.nexits, 0);
	next_is(fx->n, p[2], 2);
	next_is(fx->n, p[0], 3);
	next_is(fx->n, p[3], 1);
	next_is(fx->n, p[1], 2);
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
	run_script(&fx->vm, script, ARRAY_SIZE(script));
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
	marker = kvmvm_gpa(fx->vm.kvm, MARKER_GPA, sizeof(*marker));
	assert_non_null(marker);
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
	const struct kvmvm_cfg cfg = { .mem_size = MEM_SIZE };
	struct kvmvm *probe;
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	rc = kvmvm_probe();
	if (rc == -ENOENT) {
		printf("SKIP: no /dev/kvm\n");
		return TEST_EXIT_SKIP;
	}
	if (rc == 0)
		rc = kvmvm_new(&cfg, &probe);
	if (rc < 0) {
		printf("SKIP: /dev/kvm present but no VM could be created: "
		    "%s\n", strerror(-rc));
		return TEST_EXIT_SKIP;
	}
	kvmvm_free(probe);
	return cmocka_run_group_tests_name("notify kvm vCPU", tests, NULL,
	    NULL);
}
