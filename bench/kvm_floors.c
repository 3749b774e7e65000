/* SPDX-License-Identifier: MIT */
/* KVM floors: the raw ioeventfd kick RPC (blocking and busy-poll worker) and the raw KVM_EXIT_IO round trip. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench/bench.h"
#include "kvm/kvmvm.h"

/* Guest ports: the kick (or exit) port, and that port + 1 ends the run. */
#define KICK_PORT	0x600
#define EXIT_PORT	0x602
#define MEM_SIZE	(4ull << 20)
#define DATA_GPA	0x200000ull
#define STACK_TOP	0x300000ull

/*
 * Shared data page, as the guests below use it: the guest writes its
 * request sequence number, the host answers it and may ask it to stop.
 */
struct rpc_page {
	volatile uint64_t	req;		/* +0, guest writes */
	volatile uint64_t	resp;		/* +8, host writes */
	volatile uint64_t	stop;		/* +16, host writes */
};

/*
 * Guest programs, native 64-bit user mode, position independent.
 * Arguments: rdi = data page, rsi = port to kick; rsi + 1 ends the run.  Assembled into .rodata: they are bytes copied into the guest,
 * never run on the host.
 *
 * rpc:  seq++; req = seq; out kick; spin until resp == seq; repeat until
 *       stop, then out to the done port (a real exit).
 * exit: out to a port no ioeventfd claims (KVM_EXIT_IO each time) until
 *       stop.
 */
__asm__(
	".pushsection .rodata\n"
	".balign 16\n"
	"bench_guest_rpc:\n"
	"	mov %rsi, %r9\n"
	"	lea 1(%rsi), %rcx\n"
	"	xor %r8, %r8\n"
	"1:	inc %r8\n"
	"	mov %r8, (%rdi)\n"
	"	mov %r9, %rdx\n"
	"	mov %r8d, %eax\n"
	"	outl %eax, (%dx)\n"
	"2:	cmp 8(%rdi), %r8\n"
	"	je 3f\n"
	"	pause\n"
	"	jmp 2b\n"
	"3:	cmpq $0, 16(%rdi)\n"
	"	je 1b\n"
	"	mov %rcx, %rdx\n"
	"	outb %al, (%dx)\n"
	"	jmp 3b\n"
	"bench_guest_rpc_end:\n"
	".balign 16\n"
	"bench_guest_exit:\n"
	"	mov %rsi, %rdx\n"
	"	lea 1(%rsi), %rcx\n"
	"1:	outb %al, (%dx)\n"
	"	cmpq $0, 16(%rdi)\n"
	"	je 1b\n"
	"	mov %rcx, %rdx\n"
	"	outb %al, (%dx)\n"
	"	jmp 1b\n"
	"bench_guest_exit_end:\n"
	".popsection\n");

extern const unsigned char bench_guest_rpc[], bench_guest_rpc_end[];
extern const unsigned char bench_guest_exit[], bench_guest_exit_end[];

struct rpc_worker {
	struct rpc_page		*page;
	int			 efd;
	bool			 busy;
	uint64_t		 budget;
	struct bench_samples	*s;
	int			 rc;
};

/*
 * The worker answers each kick.  Samples are the intervals between
 * successive kicks seen by the worker: in steady state one interval is
 * exactly one guest round trip (kick, wake, reply, guest sees it, next
 * kick), and the guest needs no clock.
 */
static void *
rpc_worker_main(void *arg)
{
	struct rpc_worker *w = arg;
	uint64_t v, start, warm_end, prev = 0, now;
	ssize_t n;

	(void)bench_pin(bench_opts.cpu_b);
	start = bench_now_ns();
	warm_end = start + w->budget / 10;
	for (;;) {
		n = read(w->efd, &v, sizeof(v));
		if (n < 0 && errno == EAGAIN) {
			bench_relax();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(v)) {
			w->rc = n < 0 ? -errno : -EIO;
			w->page->stop = 1;
			w->page->resp = w->page->req;
			return NULL;
		}
		now = bench_now_ns();
		if (now >= warm_end && prev != 0)
			bench_samples_add(w->s, now - prev);
		prev = now;
		if (bench_samples_full(w->s) || now >= warm_end + w->budget)
			w->page->stop = 1;
		atomic_thread_fence(memory_order_seq_cst);
		w->page->resp = w->page->req;
		if (w->page->stop)
			return NULL;
	}
}

/* A one-vCPU native user-mode VM running `code` with (DATA_GPA, port). */
static int
guest_vm(const unsigned char *code, size_t len, uint64_t port,
    struct kvmvm **vmp, struct kvmvm_vcpu **vp)
{
	struct kvmvm_cfg cfg = { .mem_size = MEM_SIZE };
	struct kvmvm *vm;
	int rc;

	rc = kvmvm_probe();
	if (rc < 0)
		return -ENODEV;
	rc = kvmvm_new(&cfg, &vm);
	if (rc < 0)
		return rc;
	rc = kvmvm_load(vm, KVMVM_CODE_GPA, code, len);
	if (rc == 0)
		rc = kvmvm_vcpu_new(vm, 0, vp);
	if (rc == 0)
		rc = kvmvm_vcpu_setup_user64(*vp, KVMVM_CODE_GPA, STACK_TOP,
		    DATA_GPA, port);
	if (rc < 0) {
		kvmvm_free(vm);
		return rc;
	}
	*vmp = vm;
	return 0;
}

static int
kvm_rpc(bool busy, struct bench_samples *s)
{
	struct kvmvm *vm;
	struct kvmvm_vcpu *vcpu;
	struct kvmvm_exit ex;
	struct kvm_ioeventfd io;
	struct rpc_worker w = { .busy = busy, .efd = -1 };
	cpu_set_t saved;
	pthread_t th;
	int rc;

	rc = guest_vm(bench_guest_rpc,
	    (size_t)(bench_guest_rpc_end - bench_guest_rpc), KICK_PORT, &vm,
	    &vcpu);
	if (rc < 0)
		return rc;
	rc = bench_samples_init(s, bench_max_samples(400000));
	if (rc < 0)
		goto out_vm;
	w.s = s;
	w.page = kvmvm_gpa(vm, DATA_GPA, sizeof(*w.page));
	w.budget = bench_budget_ns(busy ? 1.5 : 2.0);
	w.efd = eventfd(0, EFD_CLOEXEC | (busy ? EFD_NONBLOCK : 0));
	if (w.efd < 0) {
		rc = -errno;
		goto out_samples;
	}
	memset(&io, 0, sizeof(io));
	io.addr = KICK_PORT;
	io.len = 4;
	io.fd = w.efd;
	io.flags = KVM_IOEVENTFD_FLAG_PIO;
	if (ioctl(kvmvm_vm_fd(vm), KVM_IOEVENTFD, &io) < 0) {
		rc = -errno;
		goto out_efd;
	}
	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) != 0)
		CPU_ZERO(&saved);
	rc = -pthread_create(&th, NULL, rpc_worker_main, &w);
	if (rc < 0)
		goto out_efd;
	(void)bench_pin(bench_opts.cpu_a);
	for (;;) {
		rc = kvmvm_vcpu_run(vcpu, &ex);
		if (rc == 0 && ex.ex_kind == KVMVM_EXIT_STOPPED)
			continue;
		if (rc == 0 && ex.ex_kind == KVMVM_EXIT_IO &&
		    ex.ex_addr == KICK_PORT + 1)
			break;
		if (rc == 0) {
			fprintf(stderr, "hcvsock-bench: kick RPC guest: exit %u\n",
			    ex.ex_reason);
			rc = -EPROTO;
		}
		/* Let the worker go: it may be blocked in read(). */
		w.page->stop = 1;
		(void)eventfd_write(w.efd, 1);
		break;
	}
	pthread_join(th, NULL);
	if (CPU_COUNT(&saved) > 0)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(saved),
		    &saved);
	if (rc == 0)
		rc = w.rc;
out_efd:
	if (w.efd >= 0)
		close(w.efd);
out_samples:
	if (rc < 0)
		bench_samples_free(s);
out_vm:
	kvmvm_free(vm);
	return rc;
}

/* Intervals between successive KVM_EXIT_IO in the VMM thread = one round trip. */
static int
kvm_exit_rtt(struct bench_samples *s)
{
	uint64_t budget = bench_budget_ns(1.5), start, warm_end, prev = 0, now;
	struct kvmvm *vm;
	struct kvmvm_vcpu *vcpu;
	struct kvmvm_exit ex;
	struct rpc_page *page;
	cpu_set_t saved;
	int rc;

	rc = guest_vm(bench_guest_exit,
	    (size_t)(bench_guest_exit_end - bench_guest_exit), EXIT_PORT, &vm,
	    &vcpu);
	if (rc < 0)
		return rc;
	rc = bench_samples_init(s, bench_max_samples(200000));
	if (rc < 0)
		goto out_vm;
	page = kvmvm_gpa(vm, DATA_GPA, sizeof(*page));
	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) != 0)
		CPU_ZERO(&saved);
	(void)bench_pin(bench_opts.cpu_a);
	start = bench_now_ns();
	warm_end = start + budget / 10;
	for (;;) {
		rc = kvmvm_vcpu_run(vcpu, &ex);
		if (rc == 0 && ex.ex_kind == KVMVM_EXIT_STOPPED)
			continue;
		if (rc < 0 || ex.ex_kind != KVMVM_EXIT_IO) {
			if (rc == 0)
				fprintf(stderr, "hcvsock-bench: exit guest: "
				    "exit %u\n", ex.ex_reason);
			rc = rc < 0 ? rc : -EPROTO;
			break;
		}
		if (ex.ex_addr == EXIT_PORT + 1)
			break;
		now = bench_now_ns();
		if (now >= warm_end && prev != 0)
			bench_samples_add(s, now - prev);
		prev = now;
		if (bench_samples_full(s) || now >= warm_end + budget)
			page->stop = 1;
	}
	if (CPU_COUNT(&saved) > 0)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(saved),
		    &saved);
	if (rc < 0)
		bench_samples_free(s);
out_vm:
	kvmvm_free(vm);
	return rc;
}

bool
bench_have_kvm(void)
{
	return kvmvm_probe() == 0;
}

void
bench_floors_kvm(void)
{
	struct bench_samples s;
	struct bench_stat st;
	int rc;

	rc = kvm_rpc(true, &s);
	if (rc == -ENODEV) {
		bench_note("no usable /dev/kvm: KVM floors and figures skipped");
		return;
	}
	if (rc == 0) {
		bench_stat_compute(&s, 0, &st);
		bench_floor("kvm_kick_rpc_busy", "KVM guest kicks an ioeventfd, "
		    "worker busy-polls it, replies in shared memory, guest "
		    "polls", &st);
		bench_samples_free(&s);
	} else {
		fprintf(stderr, "hcvsock-bench: kick RPC (busy): %s\n",
		    strerror(-rc));
	}
	rc = kvm_rpc(false, &s);
	if (rc == 0) {
		bench_stat_compute(&s, 0, &st);
		bench_floor("kvm_kick_rpc_block", "KVM guest kicks an ioeventfd, "
		    "worker blocked in read(), replies in shared memory, "
		    "guest polls", &st);
		bench_samples_free(&s);
	} else {
		fprintf(stderr, "hcvsock-bench: kick RPC (blocking): %s\n",
		    strerror(-rc));
	}
	rc = kvm_exit_rtt(&s);
	if (rc == 0) {
		bench_stat_compute(&s, 0, &st);
		bench_floor("kvm_exit_io", "KVM_RUN -> KVM_EXIT_IO -> KVM_RUN, "
		    "handled in the VMM thread", &st);
		bench_samples_free(&s);
	} else {
		fprintf(stderr, "hcvsock-bench: KVM exit round trip: %s\n",
		    strerror(-rc));
	}
}
