/* SPDX-License-Identifier: MIT */
/*
 * The request server SIGKILLed and restarted while the guest runs, at every
 * point of a request's life (xen-ioreq.md §8.2).  The fake ioreq
 * page lives in the test (the "guest and Xen"); each server generation is
 * a child process that receives the page over SCM_RIGHTS and serves it with
 * the shm source, as hcvsockd --loopback does.  After a kill, a new
 * generation opens the same page: ioreq_source_enable() must pick up the
 * READY and INPROCESS slots the dead one left, so that no vCPU waits for
 * ever, and must not touch a slot that was already answered.
 *
 * The device answers reads with (generation << 16 | offset) so the test
 * knows which generation answered.  Register HANG makes a handler report
 * and block (the request is then INPROCESS); mode STOP_AFTER_KICK makes the
 * server block after it consumed the doorbell but before it looked at the
 * slot.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"
#include "notify/notify.h"
#include "fake_guest.h"
#include "ioreq/ioreq_impl.h"

#define PIO_BASE	0x600u
#define REG_HANG	0x3cu
#define NR_VCPUS	3

enum srv_mode { SRV_NORMAL, SRV_STOP_AFTER_KICK };

struct srv_dev {
	unsigned	gen;
	int		report_fd;	/* tells the test where we are */
};

static void
report(int fd, char what)
{
	ssize_t n;

	do
		n = write(fd, &what, 1);
	while (n < 0 && errno == EINTR);
}

static int
dev_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct srv_dev *d = opaque;

	*val = ((uint64_t)d->gen << 16) | off;
	return 0;
}

static int
dev_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct srv_dev *d = opaque;

	if (off == REG_HANG && val == 1 && d->gen == 1) {
		/* Generation 1 dies here, in the middle of the request (slot INPROCESS). */
		report(d->report_fd, 'H');
		for (;;)
			pause();
	}
	return 0;
}

static const struct ioreq_handler_ops dev_ops = { dev_read, dev_write };

/* A server generation: never returns. */
static void __attribute__((noreturn))
server_main(int sock, int report_fd, unsigned gen, enum srv_mode mode)
{
	struct ioreq_fake *g;
	struct ioreq_source *s;
	struct srv_dev dev = { .gen = gen, .report_fd = report_fd };
	struct notifier *n;
	time_t end = time(NULL) + 60;

	if (ioreq_fake_recv(sock, &g) != 0)
		_exit(100);
	if (ioreq_shm_open(ioreq_fake_shm_cfg(g), &s) != 0)
		_exit(101);
	if (ioreq_source_add_range(s, IOREQ_SPACE_PIO, PIO_BASE,
	    PIO_BASE + 0x3f, &dev_ops, &dev) != 0)
		_exit(102);
	/* Re-attach: enable services what a dead generation left. */
	if (ioreq_source_enable(s) != 0)
		_exit(103);
	report(report_fd, 'R');
	n = ioreq_source_notifier(s);
	while (time(NULL) < end) {
		uint32_t p;

		if (notifier_wait(n, 20) <= 0)
			continue;
		while (notifier_next(n, &p, NULL) == 1) {
			if (mode == SRV_STOP_AFTER_KICK) {
				/* Doorbell consumed, slot still READY. */
				report(report_fd, 'K');
				for (;;)
					pause();
			}
			(void)ioreq_engine_handle_port(ioreq_source_engine(s), p);
		}
	}
	_exit(104);
}

struct fx {
	struct ioreq_fake	*f;
	pid_t			 pid;
	int			 report;	/* read end */
	unsigned		 gen;
};

static char
wait_report(struct fx *x, int timeout_ms)
{
	struct pollfd pfd = { .fd = x->report, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, timeout_ms) != 1 || read(x->report, &c, 1) != 1)
		return 0;
	return c;
}

static void
start_server(struct fx *x, enum srv_mode mode)
{
	int sv[2], rp[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	assert_int_equal(pipe2(rp, O_CLOEXEC), 0);
	x->gen++;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		close(rp[0]);
		server_main(sv[1], rp[1], x->gen, mode);
	}
	close(sv[1]);
	close(rp[1]);
	assert_int_equal(ioreq_fake_send(x->f, sv[0]), 0);
	close(sv[0]);
	if (x->report >= 0)
		close(x->report);
	x->report = rp[0];
	x->pid = pid;
	assert_int_equal(wait_report(x, 10000), 'R');
}

static void
kill_server(struct fx *x)
{
	int status;

	assert_int_equal(kill(x->pid, SIGKILL), 0);
	assert_int_equal(waitpid(x->pid, &status, 0), x->pid);
	assert_true(WIFSIGNALED(status));
	x->pid = -1;
}

static int
setup_limit(void **state, int timeout_ms)
{
	struct ioreq_fake_cfg fc = { .nr_vcpus = NR_VCPUS, .ram_gpa = 0x100000,
	    .ram_size = 4096, .timeout_ms = timeout_ms };
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	assert_int_equal(ioreq_fake_new(&fc, &x->f), 0);
	x->pid = -1;
	x->report = -1;
	*state = x;
	return 0;
}

static int
setup(void **state)
{
	return setup_limit(state, 10000);
}

/* The guest's requests wait for ever, as a vCPU Xen blocked does. */
static int
setup_forever(void **state)
{
	return setup_limit(state, -1);
}

static int
teardown(void **state)
{
	struct fx *x = *state;

	if (x->pid > 0)
		kill_server(x);
	if (x->report >= 0)
		close(x->report);
	ioreq_fake_free(x->f);
	free(x);
	return 0;
}

static uint64_t
pio_read(struct fx *x, unsigned vcpu, uint16_t off)
{
	uint64_t v = 0;

	assert_int_equal(ioreq_fake_pio(x->f, vcpu, PIO_BASE + off, 4,
	    IOREQ_READ, &v), 0);
	return v;
}

static void
submit_read(struct fx *x, unsigned vcpu, uint16_t off)
{
	struct ioreq rq = { .addr = PIO_BASE + off, .count = 1, .size = 4,
	    .dir = IOREQ_READ, .type = IOREQ_TYPE_PIO };

	assert_int_equal(ioreq_fake_submit(x->f, vcpu, &rq), 0);
}

static uint64_t
complete(struct fx *x, unsigned vcpu)
{
	struct ioreq resp;

	assert_int_equal(ioreq_fake_complete(x->f, vcpu, &resp), 0);
	return resp.data;
}

static unsigned
slot_state(struct fx *x, unsigned vcpu)
{
	return ioreq_slot_state(&ioreq_fake_slots(x->f)[vcpu]);
}

static bool
wait_state(struct fx *x, unsigned vcpu, unsigned st, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (slot_state(x, vcpu) == st)
			return true;
		usleep(1000);
	}
	return false;
}

/* Idle between requests: the next one is served by the new generation. */
static void
kill__idle__next_request_served(void **state)
{
	struct fx *x = *state;

	start_server(x, SRV_NORMAL);
	assert_int_equal(pio_read(x, 0, 4), (1u << 16) | 4);
	kill_server(x);
	start_server(x, SRV_NORMAL);
	assert_int_equal(pio_read(x, 0, 4), (2u << 16) | 4);
}

/* READY, doorbell not yet read: the new generation answers at enable. */
static void
kill__ready_unseen__answered_by_next(void **state)
{
	struct fx *x = *state;

	start_server(x, SRV_NORMAL);
	assert_int_equal(kill(x->pid, SIGSTOP), 0);
	submit_read(x, 1, 8);
	usleep(20000);
	assert_int_equal(slot_state(x, 1), STATE_IOREQ_READY);
	kill_server(x);
	start_server(x, SRV_NORMAL);
	assert_int_equal(complete(x, 1), (2u << 16) | 8);
	assert_int_equal(slot_state(x, 1), STATE_IOREQ_NONE);
}

/* READY, doorbell consumed by the dead generation: the kick is lost. */
static void
kill__kick_consumed__answered_by_next(void **state)
{
	struct fx *x = *state;

	start_server(x, SRV_STOP_AFTER_KICK);
	submit_read(x, 2, 12);
	assert_int_equal(wait_report(x, 10000), 'K');
	assert_int_equal(slot_state(x, 2), STATE_IOREQ_READY);
	kill_server(x);
	start_server(x, SRV_NORMAL);
	assert_int_equal(complete(x, 2), (2u << 16) | 12);
}

/*
 * INPROCESS: the dead generation claimed the slot and died in the
 * handler.  The new one finishes it (the access runs again: at least
 * once, see docs/SECURITY.md), and a request another vCPU queued while
 * the server was wedged is answered too.
 */
static void
kill__inprocess__finished_by_next(void **state)
{
	struct fx *x = *state;
	struct ioreq rq = { .addr = PIO_BASE + REG_HANG, .data = 1, .count = 1,
	    .size = 4, .dir = IOREQ_WRITE, .type = IOREQ_TYPE_PIO };
	struct ioreq resp;

	start_server(x, SRV_NORMAL);
	assert_int_equal(ioreq_fake_submit(x->f, 0, &rq), 0);
	assert_int_equal(wait_report(x, 10000), 'H');
	assert_int_equal(slot_state(x, 0), STATE_IOREQ_INPROCESS);
	submit_read(x, 1, 16);
	usleep(20000);
	assert_int_equal(slot_state(x, 1), STATE_IOREQ_READY);
	kill_server(x);
	start_server(x, SRV_NORMAL);
	assert_int_equal(ioreq_fake_complete(x->f, 0, &resp), 0);
	assert_int_equal(complete(x, 1), (2u << 16) | 16);
	/* And the device carries on. */
	assert_int_equal(pio_read(x, 2, 20), (2u << 16) | 20);
}

/* IORESP_READY not yet retired: the new generation leaves it alone. */
static void
kill__answered_unretired__answer_kept(void **state)
{
	struct fx *x = *state;

	start_server(x, SRV_NORMAL);
	submit_read(x, 0, 24);
	assert_true(wait_state(x, 0, STATE_IORESP_READY, 10000));
	kill_server(x);
	start_server(x, SRV_NORMAL);
	assert_int_equal(slot_state(x, 0), STATE_IORESP_READY);
	assert_int_equal(complete(x, 0), (1u << 16) | 24);
}

/*
 * IORESP_READY written, the process killed before its notification: the
 * vCPU sleeps until an event (as a vCPU Xen blocks on a slot does), so the
 * new generation must notify every answered slot again, or the vCPU waits
 * for ever.  The test writes the dead generation's answer itself.
 */
struct blocked_read {
	struct fx	*x;
	pid_t		 tid;		/* set before the read */
	int		 rc;
	uint64_t	 val;
};

static void *
blocked_read_main(void *arg)
{
	struct blocked_read *b = arg;

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_RELEASE);
	b->rc = ioreq_fake_pio(b->x->f, 0, PIO_BASE + 28, 4, IOREQ_READ,
	    &b->val);
	return NULL;
}

/* Thread `tid` of this process is asleep (state S in its stat). */
static bool
thread_sleeps(pid_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", (long)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "tid (comm) S ...": the state follows the last ')'. */
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] == 'S';
}

static void
kill__answered_unnotified__woken_by_next(void **state)
{
	struct fx *x = *state;
	struct ioreq *slot = &ioreq_fake_slots(x->f)[0];
	struct blocked_read b = { .x = x, .rc = 1 };
	struct timespec until;
	pthread_t th;
	int rc;

	start_server(x, SRV_NORMAL);
	assert_int_equal(kill(x->pid, SIGSTOP), 0);
	assert_int_equal(pthread_create(&th, NULL, blocked_read_main, &b), 0);
	assert_true(wait_state(x, 0, STATE_IOREQ_READY, 10000));
	/*
	 * Published, then asleep: between the two it takes no lock and makes
	 * no other blocking call, so this sleep is its wait for the answer.
	 */
	for (int i = 0; i < 10000; i++) {
		pid_t tid = __atomic_load_n(&b.tid, __ATOMIC_ACQUIRE);

		if (tid > 0 && thread_sleeps(tid))
			break;
		usleep(1000);
	}
	assert_true(thread_sleeps(b.tid));
	__atomic_store_n(&slot->data, 0x5eed, __ATOMIC_RELAXED);
	assert_true(ioreq_slot_cas_state(slot, STATE_IOREQ_READY,
	    STATE_IORESP_READY));
	kill_server(x);
	start_server(x, SRV_NORMAL);
	/* The guest waits for ever (no fake time limit): only an event ends it. */
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &until), 0);
	until.tv_sec += 20;
	rc = pthread_timedjoin_np(th, NULL, &until);
	if (rc != 0) {
		(void)pthread_cancel(th);
		(void)pthread_join(th, NULL);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(b.val, 0x5eed);
}

/* Many generations under continuous guest load from every vCPU. */
struct load {
	struct fx	*x;
	unsigned	 vcpu;
	volatile int	 stop;
	unsigned	 done;
	int		 err;
};

static void *
load_main(void *arg)
{
	struct load *ld = arg;

	while (!__atomic_load_n(&ld->stop, __ATOMIC_ACQUIRE)) {
		uint64_t v = 0;
		uint16_t off = (uint16_t)(4 * (ld->done % 8));
		int rc = ioreq_fake_pio(ld->x->f, ld->vcpu, PIO_BASE + off, 4,
		    IOREQ_READ, &v);

		if (rc != 0 || (v & 0xffff) != off) {
			ld->err = rc != 0 ? rc : -EBADMSG;
			break;
		}
		ld->done++;
	}
	return NULL;
}

static void
kill__under_load__no_vcpu_stuck(void **state)
{
	struct fx *x = *state;
	struct load ld[NR_VCPUS];
	pthread_t th[NR_VCPUS];
	unsigned i, round;

	start_server(x, SRV_NORMAL);
	for (i = 0; i < NR_VCPUS; i++) {
		ld[i] = (struct load){ .x = x, .vcpu = i };
		assert_int_equal(pthread_create(&th[i], NULL, load_main,
		    &ld[i]), 0);
	}
	for (round = 0; round < 20; round++) {
		usleep(20000 + (unsigned)(rand() % 20000));
		kill_server(x);
		usleep((unsigned)(rand() % 5000));
		start_server(x, SRV_NORMAL);
	}
	usleep(50000);
	for (i = 0; i < NR_VCPUS; i++) {
		__atomic_store_n(&ld[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(th[i], NULL);
		assert_int_equal(ld[i].err, 0);
		assert_true(ld[i].done > 0);
	}
	print_message("load: %u %u %u requests across %u generations\n",
	    ld[0].done, ld[1].done, ld[2].done, x->gen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(kill__idle__next_request_served,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    kill__ready_unseen__answered_by_next, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    kill__kick_consumed__answered_by_next, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    kill__inprocess__finished_by_next, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    kill__answered_unretired__answer_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    kill__answered_unnotified__woken_by_next, setup_forever,
		    teardown),
		cmocka_unit_test_setup_teardown(kill__under_load__no_vcpu_stuck,
		    setup, teardown),
	};

	srand(test_seed());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
