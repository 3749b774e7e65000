/* SPDX-License-Identifier: MIT */
/*
 * hcvsockd's side of a KVM attach with real parts: the attach server on
 * an event-loop thread builds each guest's request source with
 * attach_source_open() (the shm request engine over the VMM's ioreq page,
 * hcvsockd's own ioeventfd and irqfd through the kvm notifier), with a
 * small test device behind the register window, wired by hand as a
 * binding would.  The VMM is the reference VMM with a real vCPU.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "test_common.h"
#include "attach/attach.h"
#include "common/loop.h"
#include "hcvsock_abi.h"
#include "vmm.h"
#include "kvm_testutil.h"
#include "pic8259_asm.h"

/* Test device registers (offsets in the window). */
#define TDEV_SET_GSI	0x30	/* write: irq_setup(value) */
#define TDEV_RAISE	0x34	/* write: irq_raise() */
#define TDEV_DOORBELL	0x38
#define TDEV_SYNC	0x3c

#define WINDOW_PIO	0x5a0
#define WINDOW_MMIO	0xd0000000ull
#define IRQ_GSI		5

static char probe_path[512];

/*
 * Real mode at CS 0x0800 (linear 0x8000): remap the master 8259 to vector
 * 0x40, unmask only IRQ 5, install an IVT handler for vector 0x45, then
 * through the register window (forwarded exits) select GSI 5 and ask for
 * an interrupt three times, each time spinning until the handler has
 * counted it.  Exits with the count.
 */
extern const unsigned char tag_real_start[], tag_real_end[];
__asm__(
"	.section .rodata\n"
"	.code16\n"
"	.globl	tag_real_start\n"
"	.globl	tag_real_end\n"
"tag_real_start:\n"
"	cli\n"
"	xorw	%ax, %ax\n"
"	movw	%ax, %ds\n"
"	movw	%ax, %ss\n"
"	movw	$0x7000, %sp\n"
"	movw	$0, 0x600\n"
"	movw	$(.Ltag_isr - tag_real_start), 0x114\n"
"	movw	%cs, %ax\n"
"	movw	%ax, 0x116\n"
PIC8259_INIT_ASM("0x40", "0x48", "0xdf")	/* only IRQ 5 */
"	movw	$0x5d0, %dx\n"		/* window + SET_GSI */
"	movl	$5, %eax\n"
"	outl	%eax, %dx\n"
"	sti\n"
"	movw	$1, %bx\n"
".Ltag_next:\n"
"	movw	$0x5d4, %dx\n"		/* window + RAISE */
"	movl	$1, %eax\n"
"	outl	%eax, %dx\n"
".Ltag_wait:\n"
"	cmpw	%bx, 0x600\n"
"	jb	.Ltag_wait\n"
"	incw	%bx\n"
"	cmpw	$4, %bx\n"
"	jb	.Ltag_next\n"
"	cli\n"
"	movw	0x600, %ax\n"
"	movw	$0x500, %dx\n"
"	outw	%ax, %dx\n"
".Ltag_halt:\n"
"	hlt\n"
"	jmp	.Ltag_halt\n"
".Ltag_isr:\n"
"	pushw	%ax\n"
"	incw	0x600\n"
"	movb	$0x20, %al\n"
"	outb	%al, $0x20\n"
"	popw	%ax\n"
"	iret\n"
"tag_real_end:\n"
"	.code64\n"
"	.text\n");

/* ---- The test device ---------------------------------------------------- */

struct tdev {
	struct ioreq_source	*td_src;
	struct loop		*td_loop;
	unsigned		 td_reads;
	unsigned		 td_writes;
	uint64_t		 td_log[64];	/* off << 32 | value */
	unsigned		 td_kicks;
	unsigned		 td_posts;
	int			 td_irq_rc;
};

static int
tdev_irq_setup(struct tdev *td, uint32_t gsi)
{
	struct ioreq_irq irq = { .mode = HCVS_IRQ_GSI, .gsi = gsi };

	return ioreq_source_irq_setup(td->td_src, &irq);
}

static int
tdev_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct tdev *td = opaque;

	(void)vcpu;
	(void)size;
	td->td_reads++;
	*val = 0x1000u + off;
	return 0;
}

static int
tdev_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct tdev *td = opaque;

	(void)vcpu;
	(void)size;
	if (td->td_writes < 64)
		td->td_log[td->td_writes] = off << 32 | (uint32_t)val;
	td->td_writes++;
	if (off == TDEV_SET_GSI)
		td->td_irq_rc = tdev_irq_setup(td, (uint32_t)val);
	else if (off == TDEV_RAISE)
		td->td_irq_rc = ioreq_source_irq_raise(td->td_src);
	return 0;
}

static const struct ioreq_handler_ops tdev_ops = {
	.read = tdev_read,
	.write = tdev_write,
};

static void
tdev_post(void *opaque)
{
	((struct tdev *)opaque)->td_posts++;
}

/* What a binding does with the source's events, minus the device. */
static void
tdev_readable(struct loop *l, int fd, unsigned events, void *arg)
{
	struct tdev *td = arg;
	struct ioreq_source_events ev = { 0, 0, 0 };

	(void)l;
	(void)fd;
	(void)events;
	assert_true(ioreq_source_run(td->td_src, 1024, &ev) >= 0);
	__atomic_fetch_add(&td->td_kicks, (unsigned)ev.doorbells,
	    __ATOMIC_RELAXED);
}

/* ---- hcvsockd stand-in: the attach server with attach_source_open ------- */

struct fixture {
	struct kt_server	 fx_s;
	struct tdev		 fx_dev;	/* the (single) attached guest */
	struct ioreq_engine_stats fx_estats;	/* at detach */
	struct ioreq_source_stats fx_stats;	/* at detach */
	unsigned		 fx_attached;
	unsigned		 fx_detached;
};

static int
fx_attach(void *arg, struct attach_desc *d, void **guestp, char *err,
    size_t errlen)
{
	struct fixture *fx = arg;
	struct tdev *td = &fx->fx_dev;
	enum ioreq_space sp = d->ad_window_space;
	uint64_t base = d->ad_window_base;
	uint64_t end = base + (sp == IOREQ_SPACE_PIO ? HCVS_REG_WINDOW_SIZE :
	    0x1000u) - 1;
	int rc;

	memset(td, 0, sizeof(*td));
	td->td_loop = fx->fx_s.ks_loop;
	rc = attach_source_open(d, &td->td_src, err, errlen);
	if (rc < 0)
		return rc;
	if ((rc = ioreq_source_add_range(td->td_src, sp, base, end, &tdev_ops,
	    td)) < 0 || (rc = ioreq_source_set_doorbell(td->td_src, sp,
	    base + TDEV_DOORBELL, 4, HCVS_DOORBELL_KICK)) < 0 ||
	    (rc = loop_add_fd(td->td_loop, ioreq_source_fd(td->td_src),
	    LOOP_IN, tdev_readable, td)) < 0) {
		ioreq_source_close(td->td_src, true);
		snprintf(err, errlen, "device: %s", strerror(-rc));
		return rc;
	}
	ioreq_engine_set_post_hook(ioreq_source_engine(td->td_src), tdev_post,
	    td);
	rc = ioreq_source_enable(td->td_src);
	assert_int_equal(rc, 0);
	fx->fx_attached++;
	*guestp = td;
	return 0;
}

static void
fx_detach(void *arg, void *guest)
{
	struct fixture *fx = arg;
	struct tdev *td = guest;

	(void)loop_del_fd(td->td_loop, ioreq_source_fd(td->td_src));
	(void)ioreq_source_quiesce(td->td_src);
	ioreq_engine_get_stats(ioreq_source_engine(td->td_src),
	    &fx->fx_estats);
	ioreq_source_get_stats(td->td_src, &fx->fx_stats);
	ioreq_source_close(td->td_src, true);
	__atomic_fetch_add(&fx->fx_detached, 1, __ATOMIC_RELEASE);
}

static const struct attach_server_ops fx_ops = {
	.attach = fx_attach,
	.detach = fx_detach,
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	kt_server_start(&fx->fx_s, "ag", &fx_ops, fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	kt_server_finish(&fx->fx_s);
	free(fx);
	return 0;
}

static void
wait_detached(struct fixture *fx, unsigned n)
{
	unsigned i;

	for (i = 0; i < 500 && __atomic_load_n(&fx->fx_detached,
	    __ATOMIC_ACQUIRE) < n; i++)
		usleep(10000);
	assert_int_equal(fx->fx_detached, n);
}

static struct vmm *
attach_vmm(struct fixture *fx, enum ioreq_space sp, uint64_t base,
    enum vmm_notify notify, bool irqchip, uint32_t gsi)
{
	struct vmm_cfg cfg = {
		.name = "ag-vmm",
		.mem_size = 16u << 20,
		.nr_vcpus = 1,
		.cid = 33,
		.window_space = sp,
		.window_base = base,
		.notify = notify,
		.irqchip = irqchip,
		.irq_gsi = gsi,
		.fwd_timeout_ms = 5000,
	};

	return kt_vmm_attach(&cfg, probe_path, fx->fx_s.ks_path);
}

/* ---- Tests ---------------------------------------------------------------- */

static void
engine__probe_guest_pio_and_mmio(void **state)
{
	struct fixture *fx = *state;
	enum ioreq_space sp[2] = { IOREQ_SPACE_PIO, IOREQ_SPACE_MMIO };
	uint64_t base[2] = { WINDOW_PIO, WINDOW_MMIO };
	unsigned k, i;

	for (k = 0; k < 2; k++) {
		struct vmm *m = attach_vmm(fx, sp[k], base[k], VMM_NOTIFY_NONE,
		    false, ATTACH_GSI_NONE);
		struct kvmguest_boot *b = vmm_boot(m);
		uint32_t code = 0, sum = 0;

		b->kb_params[0] = 16;
		b->kb_params[1] = 0x77;
		assert_int_equal(vmm_run_vcpu(m, 0, 10000, &code), 0);
		for (i = 0; i < 16; i++) {
			assert_int_equal(b->kb_results[i], 0x1000u + 4 * i);
			sum += 0x1000u + 4 * i;
		}
		assert_int_equal(code, sum);
		assert_int_equal(fx->fx_dev.td_reads, 16);
		assert_int_equal(fx->fx_dev.td_writes, 2);
		assert_int_equal(fx->fx_dev.td_log[0], 0x20ull << 32 | 0x77);
		assert_int_equal(fx->fx_dev.td_log[1],
		    (uint64_t)TDEV_SYNC << 32 | 1);
		vmm_free(m);
		wait_detached(fx, k + 1);
		assert_int_equal(fx->fx_estats.st_requests, 18);
		/* The post hook ran after each completed request. */
		assert_int_equal(fx->fx_dev.td_posts, 18);
	}
}

/* Four vCPUs forwarding at once through their own slots of the page. */
struct vcpu_job {
	struct vmm	*vj_m;
	unsigned	 vj_idx;
	uint32_t	 vj_code;
	int		 vj_rc;
};

static void *
vcpu_job_main(void *arg)
{
	struct vcpu_job *vj = arg;

	vj->vj_rc = vmm_run_vcpu(vj->vj_m, vj->vj_idx, 30000, &vj->vj_code);
	return NULL;
}

static void
engine__four_vcpus_concurrently(void **state)
{
	struct fixture *fx = *state;
	struct vmm_cfg cfg = {
		.name = "ag-vmm", .mem_size = 16u << 20, .nr_vcpus = 4,
		.cid = 34, .window_space = IOREQ_SPACE_MMIO,
		.window_base = WINDOW_MMIO, .notify = VMM_NOTIFY_NONE,
		.irq_gsi = ATTACH_GSI_NONE, .fwd_timeout_ms = 10000,
	};
	struct vcpu_job vj[4];
	pthread_t th[4];
	struct vmm *m;
	char err[256] = "";
	uint32_t sum = 0;
	unsigned i;

	assert_int_equal(vmm_new(&cfg, &m), 0);
	assert_int_equal(vmm_load(m, probe_path), 0);
	vmm_boot(m)->kb_params[0] = 3;
	vmm_boot(m)->kb_params[1] = 0x40;
	vmm_boot(m)->kb_params[2] = 200;
	if (vmm_attach(m, fx->fx_s.ks_path, err, sizeof(err)) != 0)
		fail_msg("attach: %s", err);
	for (i = 0; i < 3; i++)
		sum += 0x1000u + 4 * i;
	for (i = 0; i < 4; i++) {
		vj[i].vj_m = m;
		vj[i].vj_idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, vcpu_job_main,
		    &vj[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(vj[i].vj_rc, 0);
		assert_int_equal(vj[i].vj_code, sum);
	}
	vmm_free(m);
	wait_detached(fx, 1);
	/* 3 + 200 reads and 2 writes per vCPU, each answered once. */
	assert_int_equal(fx->fx_estats.st_requests, 4 * 205);
	assert_int_equal(fx->fx_dev.td_reads, 4 * 203);
	assert_int_equal(fx->fx_dev.td_writes, 4 * 2);
}

/*
 * With the VM fd, hcvsockd registers the ioeventfd itself: DOORBELL = 1
 * completes in the kernel and reaches the device's kick; any other value
 * is a forwarded write.  After detach the ioeventfd is gone.
 */
static void
vm_fd__hcvsockd_ioeventfd_kicks(void **state)
{
	/*
	 * mov dx,0x5d8; mov eax,1; out dx,eax x3; mov eax,2; out dx,eax;
	 * mov dx,0x500; out dx,eax
	 */
	static const uint8_t prog[] = {
		0x66, 0xba, 0xd8, 0x05, 0xb8, 0x01, 0x00, 0x00, 0x00,
		0xef, 0xef, 0xef,
		0xb8, 0x02, 0x00, 0x00, 0x00, 0xef,
		0x66, 0xba, 0x00, 0x05, 0xef, 0xeb, 0xfe,
	};
	struct fixture *fx = *state;
	struct kvm_ioeventfd io;
	struct vmm_stats st;
	struct vmm *m;
	uint32_t code;
	unsigned i;
	int efd;

	m = attach_vmm(fx, IOREQ_SPACE_PIO, WINDOW_PIO, VMM_NOTIFY_VM, false,
	    ATTACH_GSI_NONE);
	assert_int_equal(kvmvm_load(vmm_vm(m), KVMVM_CODE_GPA, prog,
	    sizeof(prog)), 0);
	assert_int_equal(vmm_run_vcpu(m, 0, 10000, &code), 0);
	assert_int_equal(code, 2);
	vmm_get_stats(m, &st);
	assert_int_equal(st.vs_forwarded, 1);	/* only the value 2 */
	assert_int_equal(fx->fx_dev.td_writes, 1);
	assert_int_equal(fx->fx_dev.td_log[0], (uint64_t)TDEV_DOORBELL << 32 | 2);
	/* The loop thread sees the kicks shortly after the guest made them. */
	for (i = 0; i < 200 && __atomic_load_n(&fx->fx_dev.td_kicks,
	    __ATOMIC_RELAXED) == 0; i++)
		usleep(5000);
	assert_true(fx->fx_dev.td_kicks >= 1);

	/* Detach: KVM no longer holds hcvsockd's registration there. */
	vmm_detach(m);
	wait_detached(fx, 1);
	assert_int_equal(fx->fx_stats.ss_doorbells, 3);
	efd = eventfd(0, EFD_CLOEXEC);
	memset(&io, 0, sizeof(io));
	io.addr = WINDOW_PIO + TDEV_DOORBELL;
	io.len = 4;
	io.datamatch = 1;
	io.fd = efd;
	io.flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH;
	assert_int_equal(ioctl(kvmvm_vm_fd(vmm_vm(m)), KVM_IOEVENTFD, &io), 0);
	close(efd);
	vmm_free(m);
}

/*
 * With the VMM's own eventfds, the same doorbell reaches the device.  The
 * forwarded write at the end is answered only after the loop has seen
 * the kicks (level-triggered epoll reports both fds together).
 */
static void
eventfds__vmm_ioeventfd_kicks(void **state)
{
	static const uint8_t prog[] = {
		0x66, 0xba, 0xd8, 0x05, 0xb8, 0x01, 0x00, 0x00, 0x00,
		0xef, 0xef,
		0xb8, 0x02, 0x00, 0x00, 0x00, 0xef,
		0x66, 0xba, 0x00, 0x05, 0xef, 0xeb, 0xfe,
	};
	struct fixture *fx = *state;
	struct vmm_stats st;
	struct vmm *m;
	uint32_t code;

	m = attach_vmm(fx, IOREQ_SPACE_PIO, WINDOW_PIO, VMM_NOTIFY_EVENTFDS,
	    false, ATTACH_GSI_NONE);
	assert_int_equal(kvmvm_load(vmm_vm(m), KVMVM_CODE_GPA, prog,
	    sizeof(prog)), 0);
	assert_int_equal(vmm_run_vcpu(m, 0, 10000, &code), 0);
	assert_int_equal(code, 2);
	vmm_get_stats(m, &st);
	assert_int_equal(st.vs_forwarded, 1);
	vmm_detach(m);
	wait_detached(fx, 1);
	assert_int_equal(fx->fx_stats.ss_doorbells, 2);
	assert_true(fx->fx_dev.td_kicks >= 1);
	vmm_free(m);
}

/*
 * irqfd, functionally: an emulated real-mode guest selects GSI 5 through
 * the window; hcvsockd binds its irqfd on the VM fd; each RAISE runs the
 * guest's interrupt handler once.
 */
static void
vm_fd__irqfd_runs_real_mode_handler(void **state)
{
	struct fixture *fx = *state;
	struct vmm *m;
	uint32_t code = 0;

	m = attach_vmm(fx, IOREQ_SPACE_PIO, WINDOW_PIO, VMM_NOTIFY_VM, true,
	    ATTACH_GSI_NONE);
	assert_int_equal(kvmvm_load(vmm_vm(m), 0x8000, tag_real_start,
	    (size_t)(tag_real_end - tag_real_start)), 0);
	assert_int_equal(vmm_run_vcpu_real(m, 0, 0x0800, 0, 0x7000, 20000,
	    &code), 0);
	assert_int_equal(code, 3);
	assert_int_equal(fx->fx_dev.td_irq_rc, 0);
	vmm_detach(m);
	wait_detached(fx, 1);
	assert_int_equal(fx->fx_stats.ss_irqs, 3);
	vmm_free(m);
}

/* The same with the VMM's irqfd: only its GSI is accepted. */
static void
eventfds__vmm_irqfd_runs_handler_other_gsi_refused(void **state)
{
	struct fixture *fx = *state;
	struct vmm *m;
	uint32_t code = 0;

	m = attach_vmm(fx, IOREQ_SPACE_PIO, WINDOW_PIO, VMM_NOTIFY_EVENTFDS,
	    true, IRQ_GSI);
	assert_int_equal(tdev_irq_setup(&fx->fx_dev, 6), -EINVAL);
	assert_int_equal(kvmvm_load(vmm_vm(m), 0x8000, tag_real_start,
	    (size_t)(tag_real_end - tag_real_start)), 0);
	assert_int_equal(vmm_run_vcpu_real(m, 0, 0x0800, 0, 0x7000, 20000,
	    &code), 0);
	assert_int_equal(code, 3);
	vmm_detach(m);
	wait_detached(fx, 1);
	assert_int_equal(fx->fx_stats.ss_irqs, 3);
	vmm_free(m);
}

/* Without any notification path, a GSI cannot be offered. */
static void
none__no_irq(void **state)
{
	struct fixture *fx = *state;
	struct vmm *m;

	m = attach_vmm(fx, IOREQ_SPACE_PIO, WINDOW_PIO, VMM_NOTIFY_NONE, false,
	    ATTACH_GSI_NONE);
	assert_false(ioreq_source_irq_modes(fx->fx_dev.td_src) &
	    (1u << HCVS_IRQ_GSI));
	assert_int_equal(tdev_irq_setup(&fx->fx_dev, 5), -EOPNOTSUPP);
	assert_int_equal(ioreq_source_irq_raise(fx->fx_dev.td_src), -ENOENT);
	vmm_free(m);
	wait_detached(fx, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(engine__probe_guest_pio_and_mmio,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(engine__four_vcpus_concurrently,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(vm_fd__hcvsockd_ioeventfd_kicks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(eventfds__vmm_ioeventfd_kicks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    vm_fd__irqfd_runs_real_mode_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    eventfds__vmm_irqfd_runs_handler_other_gsi_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(none__no_irq, setup, teardown),
	};

	if (kt_start(probe_path, sizeof(probe_path), "probe.bin") != 0)
		return TEST_EXIT_SKIP;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
