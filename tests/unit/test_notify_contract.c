/* SPDX-License-Identifier: MIT */
/*
 * The notifier contract: one set of cases run over every backend this
 * machine offers (loop always, kvm when a VM can be created), plus the
 * KVM registration rules (ioeventfd, irqfd) that need no vCPU.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_KVM
#include <linux/kvm.h>
#endif

#include "common/mono.h"
#include "notify/notify.h"
#include "test_common.h"

#define MAX_REMOTE	8200

/* Group state: which backend and what it needs. */
struct backend_env {
	const char	*be_name;
	int64_t		 be_target;	/* VM fd for kvm, -1 for loop */
	int		 be_kvm_fd;
	int		 be_vm_fd;
	/* Backend creates pairs itself (loop) or takes ready-made eventfds. */
	bool		 be_has_loop_kind;
};

/* Per-test fixture. */
struct fixture {
	struct backend_env	*env;
	struct notifier		*n;
	int			 nfds_before;
	/* The test's copies of remote ends, closed in teardown. */
	int			 remote[MAX_REMOTE];
	unsigned		 nremote;
};

struct port {
	uint32_t	local;
	int		kick_fd;	/* remote writes here to kick us */
	int		irq_fd;		/* remote reads our notify here */
};

static void
keep_remote(struct fixture *fx, int fd)
{
	assert_true(fd >= 0);
	assert_true(fx->nremote < MAX_REMOTE);
	fx->remote[fx->nremote++] = fd;
}

static void
kick(int fd, uint64_t v)
{
	assert_int_equal(write(fd, &v, sizeof(v)), sizeof(v));
}

/* The remote end's view of our notifies: 0 if none pending. */
static uint64_t
irq_count(int fd)
{
	uint64_t v;
	ssize_t r;

	r = read(fd, &v, sizeof(v));
	if (r < 0 && errno == EAGAIN)
		return 0;
	assert_int_equal(r, sizeof(v));
	return v;
}

static bool
fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/*
 * A two-way port with remote fds the test owns: a loop pair on "loop",
 * ready-made eventfds elsewhere, so the same cases run everywhere.
 */
static void
make_port_kind(struct fixture *fx, struct port *pt, bool loop_kind)
{
	struct notify_bind b = { .kind = NOTIFY_BIND_LOOP, .rx_fd = -1,
	    .tx_fd = -1 };
	int kfd, ifd;

	if (loop_kind) {
		assert_int_equal(notifier_bind(fx->n, &b, &pt->local), 0);
		assert_int_equal(notifier_loop_peer(fx->n, pt->local, &kfd,
		    &ifd), 0);
		pt->kick_fd = dup(kfd);
		pt->irq_fd = dup(ifd);
	} else {
		b.kind = NOTIFY_BIND_EVENTFDS;
		b.rx_fd = eventfd(0, EFD_CLOEXEC);
		b.tx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(b.rx_fd >= 0 && b.tx_fd >= 0);
		pt->kick_fd = dup(b.rx_fd);
		pt->irq_fd = dup(b.tx_fd);
		assert_int_equal(notifier_bind(fx->n, &b, &pt->local), 0);
	}
	keep_remote(fx, pt->kick_fd);
	keep_remote(fx, pt->irq_fd);
}

static void
make_port(struct fixture *fx, struct port *pt)
{
	make_port_kind(fx, pt, fx->env->be_has_loop_kind);
}

static int
expect_next(struct fixture *fx, uint32_t *local, uint64_t *count)
{
	int rc;

	rc = notifier_next(fx->n, local, count);
	assert_true(rc >= 0);
	return rc;
}

/* Fixtures. */

static int
case_setup(void **state)
{
	struct backend_env *env = *state;
	struct fixture *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->env = env;
	fx->nfds_before = test_count_fds();
	assert_int_equal(notifier_open(env->be_name, env->be_target, &fx->n),
	    0);
	assert_string_equal(notifier_backend(fx->n), env->be_name);
	*state = fx;
	return 0;
}

static int
case_teardown(void **state)
{
	struct fixture *fx = *state;
	unsigned i;

	notifier_close(fx->n);
	for (i = 0; i < fx->nremote; i++)
		close(fx->remote[i]);
	/* Closing released every fd the notifier made or was given. */
	assert_int_equal(test_count_fds(), fx->nfds_before);
	*state = fx->env;
	free(fx);
	return 0;
}

static int
loop_group_setup(void **state)
{
	static struct backend_env env = {
		.be_name = "loop", .be_target = -1, .be_kvm_fd = -1,
		.be_vm_fd = -1, .be_has_loop_kind = true,
	};

	*state = &env;
	return 0;
}

#ifdef HAVE_KVM
static struct backend_env kvm_env = {
	.be_name = "kvm", .be_kvm_fd = -1, .be_vm_fd = -1,
};

/* A VM without vCPUs is enough to register ioeventfds and irqfds. */
static bool
kvm_env_open(void)
{
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("SKIP: kvm backend: cannot open /dev/kvm: %s\n",
		    strerror(errno));
		return false;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("SKIP: kvm backend: KVM_CREATE_VM: %s\n",
		    strerror(errno));
		close(kvm);
		return false;
	}
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) {
		printf("SKIP: kvm backend: KVM_CREATE_IRQCHIP: %s\n",
		    strerror(errno));
		close(vm);
		close(kvm);
		return false;
	}
	kvm_env.be_kvm_fd = kvm;
	kvm_env.be_vm_fd = vm;
	kvm_env.be_target = vm;
	return true;
}

static int
kvm_group_setup(void **state)
{
	*state = &kvm_env;
	return 0;
}

static int
kvm_group_teardown(void **state)
{
	(void)state;
	close(kvm_env.be_vm_fd);
	close(kvm_env.be_kvm_fd);
	return 0;
}
#endif

/* Cases common to every backend. */

static void
port__kick_next_rearm(void **state)
{
	struct fixture *fx = *state;
	struct port pt;
	uint32_t local = NOTIFY_PORT_INVALID;
	uint64_t count = 0;
	int fd = notifier_fd(fx->n);

	assert_true(fd >= 0);
	make_port(fx, &pt);
	assert_false(fd_readable(fd));
	assert_int_equal(expect_next(fx, &local, &count), 0);

	kick(pt.kick_fd, 1);
	assert_true(fd_readable(fd));
	assert_int_equal(notifier_wait(fx->n, 1000), 1);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	assert_int_equal(local, pt.local);
	assert_int_equal(count, 1);
	/* Consumed: nothing more, and the fd no longer readable. */
	assert_int_equal(expect_next(fx, &local, &count), 0);
	assert_false(fd_readable(fd));

	/* Re-armed: the next kick is seen again, counts coalesced. */
	kick(pt.kick_fd, 1);
	kick(pt.kick_fd, 1);
	kick(pt.kick_fd, 1);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	assert_int_equal(local, pt.local);
	assert_int_equal(count, 3);
	assert_int_equal(expect_next(fx, &local, &count), 0);

	/* A NULL count is allowed. */
	kick(pt.kick_fd, 1);
	assert_int_equal(notifier_next(fx->n, &local, NULL), 1);
	assert_int_equal(local, pt.local);
}

static void
port__notify_reaches_remote(void **state)
{
	struct fixture *fx = *state;
	struct port pt;

	make_port(fx, &pt);
	assert_int_equal(irq_count(pt.irq_fd), 0);
	assert_int_equal(notifier_notify(fx->n, pt.local), 0);
	assert_true(fd_readable(pt.irq_fd));
	assert_int_equal(irq_count(pt.irq_fd), 1);
	assert_int_equal(notifier_notify(fx->n, pt.local), 0);
	assert_int_equal(notifier_notify(fx->n, pt.local), 0);
	assert_int_equal(irq_count(pt.irq_fd), 2);
	/* Our own notify is not our own kick. */
	assert_int_equal(notifier_wait(fx->n, 0), 0);
}

static void
port__coalesced_count(void **state)
{
	struct fixture *fx = *state;
	struct port pt;
	uint32_t local;
	uint64_t count;
	int i;

	make_port(fx, &pt);
	for (i = 0; i < 1000; i++)
		kick(pt.kick_fd, 1);
	kick(pt.kick_fd, 24);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	assert_int_equal(count, 1024);
	assert_int_equal(expect_next(fx, &local, &count), 0);
}

#define MANY	64

static void
ports__many_in_kick_order(void **state)
{
	struct fixture *fx = *state;
	struct port pt[MANY];
	unsigned order[MANY], i, j, t;
	uint32_t local;
	uint64_t count;

	srand(test_seed());
	for (i = 0; i < MANY; i++) {
		/* Both bind paths where the backend has them. */
		make_port_kind(fx, &pt[i],
		    fx->env->be_has_loop_kind && (i & 1));
		order[i] = i;
	}
	for (i = MANY - 1; i > 0; i--) {
		j = (unsigned)rand() % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < MANY; i++)
		kick(pt[order[i]].kick_fd, i + 1);
	for (i = 0; i < MANY; i++) {
		assert_int_equal(expect_next(fx, &local, &count), 1);
		/* Kick order is report order, each with its own count. */
		assert_int_equal(local, pt[order[i]].local);
		assert_int_equal(count, i + 1);
	}
	assert_int_equal(expect_next(fx, &local, &count), 0);
}

static void
ports__busy_port_cannot_starve(void **state)
{
	struct fixture *fx = *state;
	struct port pt[MANY];
	uint32_t local, first;
	uint64_t count;
	unsigned i, reports = 0;
	bool again = false;

	for (i = 0; i < MANY; i++)
		make_port(fx, &pt[i]);
	for (i = 0; i < MANY; i++)
		kick(pt[i].kick_fd, 1);
	assert_int_equal(expect_next(fx, &first, &count), 1);
	for (i = 0; i < MANY && pt[i].local != first; i++)
		;
	assert_true(i < MANY);
	/* The first port kicks again at once, and again after each report. */
	for (;;) {
		kick(pt[i].kick_fd, 1);
		if (expect_next(fx, &local, &count) == 0)
			break;
		reports++;
		if (local == first) {
			/* Only after every other port had its turn. */
			assert_int_equal(reports, MANY);
			again = true;
			break;
		}
		assert_int_equal(count, 1);
	}
	assert_true(again);
}

static void
ports__independent(void **state)
{
	struct fixture *fx = *state;
	struct port a, b;
	uint32_t local;
	uint64_t count;

	make_port(fx, &a);
	make_port(fx, &b);
	assert_int_not_equal(a.local, b.local);
	kick(b.kick_fd, 5);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	assert_int_equal(local, b.local);
	assert_int_equal(count, 5);
	assert_int_equal(expect_next(fx, &local, &count), 0);
	assert_int_equal(notifier_notify(fx->n, a.local), 0);
	assert_int_equal(irq_count(b.irq_fd), 0);
	assert_int_equal(irq_count(a.irq_fd), 1);
}

static void
cycle__kick_after_report_seen(void **state)
{
	struct fixture *fx = *state;
	struct port pt;
	uint32_t local;
	uint64_t count, total;
	int rc, fd = notifier_fd(fx->n);

	make_port(fx, &pt);
	kick(pt.kick_fd, 1);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	total = count;
	/* A kick while the caller acts on the port it was given. */
	kick(pt.kick_fd, 1);
	rc = expect_next(fx, &local, &count);
	if (rc == 0) {
		/* The cycle ended without asking the kernel: the fd says. */
		assert_true(fd_readable(fd));
		rc = expect_next(fx, &local, &count);
	}
	assert_int_equal(rc, 1);
	assert_int_equal(local, pt.local);
	total += count;
	assert_int_equal(total, 2);
	assert_int_equal(expect_next(fx, &local, &count), 0);
	assert_false(fd_readable(fd));
}

static void
cycle__ended_early_hands_back(void **state)
{
	struct fixture *fx = *state;
	struct port pt[3];
	uint32_t local;
	uint64_t count;
	unsigned i;
	int fd = notifier_fd(fx->n);

	for (i = 0; i < 3; i++)
		make_port(fx, &pt[i]);
	for (i = 0; i < 3; i++)
		kick(pt[i].kick_fd, i + 1);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	assert_int_equal(local, pt[0].local);
	assert_int_equal(count, 1);
	/* Whatever was taken from the kernel and not reported is pending. */
	assert_int_equal(notifier_wait(fx->n, 0), 1);
	/* The caller's budget runs out. */
	assert_int_equal(notifier_end_cycle(fx->n), 0);
	/* The rest wakes the loop again, in kick order, counts intact. */
	assert_true(fd_readable(fd));
	for (i = 1; i < 3; i++) {
		assert_int_equal(expect_next(fx, &local, &count), 1);
		assert_int_equal(local, pt[i].local);
		assert_int_equal(count, i + 1);
	}
	assert_int_equal(expect_next(fx, &local, &count), 0);
	assert_false(fd_readable(fd));
	/* Nothing held: ending a cycle is harmless. */
	assert_int_equal(notifier_end_cycle(fx->n), 0);
	assert_int_equal(notifier_end_cycle(NULL), -EINVAL);
	assert_false(fd_readable(fd));
}

static void
unbind__pending_discarded(void **state)
{
	struct fixture *fx = *state;
	struct port a, b, c;
	uint32_t local;
	uint64_t count;

	make_port(fx, &a);
	make_port(fx, &b);
	kick(a.kick_fd, 1);
	kick(b.kick_fd, 1);
	assert_int_equal(notifier_unbind(fx->n, a.local), 0);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	assert_int_equal(local, b.local);
	assert_int_equal(expect_next(fx, &local, &count), 0);

	/* Unbound means gone for every call. */
	assert_int_equal(notifier_unbind(fx->n, a.local), -ENOENT);
	assert_int_equal(notifier_notify(fx->n, a.local), -ENOENT);

	/* A new port may reuse the number; the old event stays dead. */
	kick(b.kick_fd, 1);
	assert_int_equal(notifier_unbind(fx->n, b.local), 0);
	make_port(fx, &c);
	assert_int_equal(expect_next(fx, &local, &count), 0);
	kick(a.kick_fd, 1);	/* the old remote end reaches nobody */
	assert_int_equal(expect_next(fx, &local, &count), 0);
	kick(c.kick_fd, 1);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	assert_int_equal(local, c.local);
}

static void
bad__ports_and_arguments(void **state)
{
	struct fixture *fx = *state;
	struct port pt;
	uint32_t local;
	uint64_t count;
	int k, i;

	assert_int_equal(notifier_unbind(fx->n, 12345), -ENOENT);
	assert_int_equal(notifier_unbind(fx->n, NOTIFY_PORT_INVALID), -ENOENT);
	assert_int_equal(notifier_notify(fx->n, 12345), -ENOENT);
	assert_int_equal(notifier_notify(fx->n, NOTIFY_PORT_INVALID), -ENOENT);
	assert_int_equal(notifier_next(fx->n, NULL, &count), -EINVAL);
	assert_int_equal(notifier_bind(fx->n, NULL, &local), -EINVAL);
	assert_int_equal(notifier_wait(fx->n, -2), -EINVAL);
	assert_int_equal(notifier_loop_peer(fx->n, 12345, &k, &i),
	    fx->env->be_has_loop_kind ? -ENOENT : -EINVAL);
	assert_int_equal(notifier_set_busy_poll(fx->n,
	    NOTIFY_BUSY_POLL_MAX_NS + 1), -EINVAL);
	assert_int_equal(notifier_restrict(fx->n, 1), -EOPNOTSUPP);

	/* NULL handles are errors, not crashes. */
	assert_int_equal(notifier_next(NULL, &local, &count), -EINVAL);
	assert_int_equal(notifier_notify(NULL, 0), -EINVAL);
	assert_int_equal(notifier_unbind(NULL, 0), -EINVAL);
	assert_int_equal(notifier_fd(NULL), -EINVAL);
	assert_null(notifier_backend(NULL));
	notifier_close(NULL);

	/* Nothing above disturbed a live port. */
	make_port(fx, &pt);
	kick(pt.kick_fd, 1);
	assert_int_equal(expect_next(fx, &local, &count), 1);
	assert_int_equal(local, pt.local);
}

static void
eventfds__validated_and_owned(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = { .kind = NOTIFY_BIND_EVENTFDS };
	uint32_t local, l2;
	uint64_t count;
	int rx, tx, pipefd[2], d;

	rx = eventfd(0, EFD_CLOEXEC);
	tx = eventfd(0, EFD_CLOEXEC);
	assert_true(rx >= 0 && tx >= 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);

	b.rx_fd = -1;
	b.tx_fd = -1;
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	b.rx_fd = -7;
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	b.rx_fd = pipefd[0];
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	b.rx_fd = 1000 + MAX_REMOTE;	/* not open */
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	b.rx_fd = rx;
	b.tx_fd = rx;
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	d = dup(rx);
	b.tx_fd = d;
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	close(d);

	/* Failed binds left the fds with us. */
	assert_true(fcntl(rx, F_GETFD) >= 0);
	assert_true(fcntl(pipefd[0], F_GETFD) >= 0);
	close(pipefd[0]);
	close(pipefd[1]);

	/* A kick made before the hand-over is not lost. */
	kick(rx, 2);
	b.rx_fd = rx;
	b.tx_fd = tx;
	assert_int_equal(notifier_bind(fx->n, &b, &local), 0);
	assert_int_equal(expect_next(fx, &l2, &count), 1);
	assert_int_equal(l2, local);
	assert_int_equal(count, 2);
	/* Same remote end again, by number or through a dup. */
	assert_int_equal(notifier_bind(fx->n, &b, &l2), -EEXIST);
	d = dup(tx);
	b.rx_fd = -1;
	b.tx_fd = d;
	assert_int_equal(notifier_bind(fx->n, &b, &l2), -EEXIST);
	b.tx_fd = -1;
	b.rx_fd = d;
	assert_int_equal(notifier_bind(fx->n, &b, &l2), -EEXIST);
	close(d);

	/* One-way ports: rx-only cannot notify. */
	b.rx_fd = eventfd(0, EFD_CLOEXEC);
	b.tx_fd = -1;
	assert_int_equal(notifier_bind(fx->n, &b, &l2), 0);
	assert_int_equal(notifier_notify(fx->n, l2), -EINVAL);
	b.rx_fd = -1;
	b.tx_fd = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(notifier_bind(fx->n, &b, &l2), 0);
	assert_int_equal(notifier_notify(fx->n, l2), 0);
	/* The notifier owns them now: teardown checks nothing leaked. */
	assert_int_equal(notifier_unbind(fx->n, local), 0);
	assert_int_equal(fcntl(rx, F_GETFD), -1);
}

/* Kinds each backend does not implement are refused, never crash. */
static void
kinds__unsupported_rejected(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b;
	uint32_t local = NOTIFY_PORT_INVALID;
	const bool is_kvm = strcmp(fx->env->be_name, "kvm") == 0;

	memset(&b, 0, sizeof(b));
	b.rx_fd = b.tx_fd = -1;
	b.kind = NOTIFY_BIND_EVTCHN;
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	b.kind = (enum notify_bind_kind)99;
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	b.kind = (enum notify_bind_kind)-1;
	assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	if (is_kvm) {
		b.kind = NOTIFY_BIND_LOOP;
		assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	} else {
		b.kind = NOTIFY_BIND_IOEVENTFD;
		b.len = 1;
		b.addr = 0x500;
		assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
		b.kind = NOTIFY_BIND_IRQFD;
		assert_int_equal(notifier_bind(fx->n, &b, &local), -EINVAL);
	}
	assert_int_equal(local, NOTIFY_PORT_INVALID);
}

struct kicker {
	int		fd;
	unsigned	delay_ms;
};

static void *
kicker_main(void *arg)
{
	struct kicker *k = arg;
	struct timespec ts = { 0, (long)k->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	kick(k->fd, 1);
	return NULL;
}

static void
wait__timeout_and_wakeup(void **state)
{
	struct fixture *fx = *state;
	struct port pt;
	struct kicker k;
	pthread_t th;
	uint64_t t0, dt;
	uint32_t local;
	uint64_t count;
	int pass;

	make_port(fx, &pt);
	for (pass = 0; pass < 2; pass++) {
		/* Pass 1 spins for 2 ms before blocking. */
		assert_int_equal(notifier_set_busy_poll(fx->n,
		    pass ? 2000000 : 0), 0);
		t0 = mono_ms();
		assert_int_equal(notifier_wait(fx->n, 60), 0);
		dt = mono_ms() - t0;
		assert_true(dt >= 55);
		assert_true(dt < 2000);
		assert_int_equal(notifier_wait(fx->n, 0), 0);

		k.fd = pt.kick_fd;
		k.delay_ms = 20;
		assert_int_equal(pthread_create(&th, NULL, kicker_main, &k), 0);
		t0 = mono_ms();
		assert_int_equal(notifier_wait(fx->n, -1), 1);
		dt = mono_ms() - t0;
		assert_int_equal(pthread_join(th, NULL), 0);
		assert_true(dt < 5000);
		/* Waiting consumed nothing. */
		assert_int_equal(notifier_wait(fx->n, 0), 1);
		assert_int_equal(expect_next(fx, &local, &count), 1);
		assert_int_equal(local, pt.local);
		assert_int_equal(count, 1);
	}
}

struct notifier_thread {
	struct notifier	*n;
	uint32_t	 local;
	unsigned	 iters;
	int		 errors;
};

static void *
notify_thread_main(void *arg)
{
	struct notifier_thread *t = arg;
	unsigned i;

	for (i = 0; i < t->iters; i++)
		if (notifier_notify(t->n, t->local) != 0)
			t->errors++;
	return NULL;
}

/* notify from another thread while the owner grows and shrinks the table. */
static void
notify__from_other_thread(void **state)
{
	struct fixture *fx = *state;
	struct notifier_thread t;
	struct port pt, extra[40];
	pthread_t th;
	uint64_t total = 0;
	unsigned i, round;

	make_port(fx, &pt);
	t.n = fx->n;
	t.local = pt.local;
	t.iters = 20000;
	t.errors = 0;
	assert_int_equal(pthread_create(&th, NULL, notify_thread_main, &t), 0);
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 40; i++)
			make_port(fx, &extra[i]);
		for (i = 0; i < 40; i++)
			assert_int_equal(notifier_unbind(fx->n,
			    extra[i].local), 0);
		total += irq_count(pt.irq_fd);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	total += irq_count(pt.irq_fd);
	assert_int_equal(t.errors, 0);
	assert_int_equal(total, 20000);
}

static void
ports__limit_then_enospc(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = { .kind = NOTIFY_BIND_EVENTFDS, .tx_fd = -1 };
	struct rlimit rl;
	uint32_t local, last = 0;
	int i, rc = 0;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4096 + 256) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 4096 + 256) {
		printf("SKIP: port limit case: RLIMIT_NOFILE %lu too low\n",
		    (unsigned long)rl.rlim_cur);
		return;
	}
	for (i = 0; i < 4096 + 1; i++) {
		b.rx_fd = eventfd(0, EFD_CLOEXEC);
		assert_true(b.rx_fd >= 0);
		rc = notifier_bind(fx->n, &b, &local);
		if (rc < 0) {
			close(b.rx_fd);
			break;
		}
		/* Lowest free number first. */
		assert_int_equal(local, (uint32_t)i);
		last = local;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(i, 4096);
	/* A freed slot is usable again. */
	assert_int_equal(notifier_unbind(fx->n, 17), 0);
	b.rx_fd = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(notifier_bind(fx->n, &b, &local), 0);
	assert_int_equal(local, 17);
	kick(b.rx_fd, 1);
	assert_int_equal(expect_next(fx, &local, NULL), 1);
	assert_int_equal(local, 17);
	(void)last;
}

static void
open__unknown_backend(void **state)
{
	struct notifier *n = NULL;

	(void)state;
	assert_int_equal(notifier_open("nonesuch", 0, &n), -ENOENT);
	assert_null(n);
	assert_int_equal(notifier_open(NULL, 0, &n), -EINVAL);
	assert_int_equal(notifier_open("loop", 0, NULL), -EINVAL);
#ifndef HAVE_XEN
	assert_int_equal(notifier_open("xen", 1, &n), -ENOENT);
#endif
#ifdef HAVE_KVM
	/* kvm wants a VM fd or -1. */
	assert_int_equal(notifier_open("kvm", -2, &n), -EINVAL);
	assert_int_equal(notifier_open("kvm", 0x100000000LL, &n), -EINVAL);
	assert_int_equal(notifier_open("kvm", 1000 + MAX_REMOTE, &n), -EINVAL);
	{
		int efd = eventfd(0, EFD_CLOEXEC);

		assert_int_equal(notifier_open("kvm", efd, &n), -EINVAL);
		close(efd);
	}
#endif
}

#ifdef HAVE_KVM
/* KVM registration rules: checked by KVM itself on the real VM fd. */

static struct notify_bind
pio(uint64_t addr, uint32_t len)
{
	struct notify_bind b = { .kind = NOTIFY_BIND_IOEVENTFD, .addr = addr,
	    .len = len, .rx_fd = -1, .tx_fd = -1 };

	return b;
}

/* Can KVM take this ioeventfd now?  Proves an unbind deassigned. */
static int
raw_ioeventfd(int vm, const struct notify_bind *b)
{
	struct kvm_ioeventfd io;
	int fd, rc;

	fd = eventfd(0, EFD_CLOEXEC);
	memset(&io, 0, sizeof(io));
	io.addr = b->addr;
	io.len = b->len;
	io.fd = fd;
	io.flags = b->is_mmio ? 0 : KVM_IOEVENTFD_FLAG_PIO;
	if (b->has_datamatch) {
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		io.datamatch = b->datamatch;
	}
	rc = ioctl(vm, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
	if (rc == 0) {
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		assert_int_equal(ioctl(vm, KVM_IOEVENTFD, &io), 0);
	}
	close(fd);
	return rc;
}

static void
kvm__ioeventfd_registration(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b, m;
	uint32_t p1, p2, p3, p4, p5, x;
	uint64_t count;

	b = pio(0x510, 1);
	assert_int_equal(notifier_bind(fx->n, &b, &p1), 0);
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EEXIST);
	/* KVM agrees it is taken. */
	assert_int_equal(raw_ioeventfd(fx->env->be_vm_fd, &b), -EEXIST);
	/* A datamatch under a wildcard collides too. */
	b.has_datamatch = true;
	b.datamatch = 7;
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EEXIST);
	/* Another width at the same address is another trigger. */
	b = pio(0x510, 2);
	assert_int_equal(notifier_bind(fx->n, &b, &p2), 0);
	/* Two datamatches on one address coexist, each once. */
	b = pio(0x520, 4);
	b.has_datamatch = true;
	b.datamatch = 1;
	assert_int_equal(notifier_bind(fx->n, &b, &p3), 0);
	b.datamatch = 2;
	assert_int_equal(notifier_bind(fx->n, &b, &p4), 0);
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EEXIST);
	b.has_datamatch = false;
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EEXIST);

	/* MMIO: len 0 (any width) collides with every width there. */
	m = pio(0xd0000000, 0);
	m.is_mmio = true;
	assert_int_equal(notifier_bind(fx->n, &m, &p5), 0);
	m.len = 4;
	assert_int_equal(notifier_bind(fx->n, &m, &x), -EEXIST);
	m.addr = 0xd0001000;
	assert_int_equal(notifier_bind(fx->n, &m, &x), 0);

	/* Receive only, and nothing pending without a vCPU. */
	assert_int_equal(notifier_notify(fx->n, p1), -EINVAL);
	assert_int_equal(notifier_next(fx->n, &x, &count), 0);

	/* Unbind deassigns: KVM takes the same trigger again. */
	b = pio(0x510, 1);
	assert_int_equal(notifier_unbind(fx->n, p1), 0);
	assert_int_equal(raw_ioeventfd(fx->env->be_vm_fd, &b), 0);
	assert_int_equal(notifier_bind(fx->n, &b, &p1), 0);
	b = pio(0x520, 4);
	b.has_datamatch = true;
	b.datamatch = 2;
	assert_int_equal(notifier_unbind(fx->n, p4), 0);
	assert_int_equal(raw_ioeventfd(fx->env->be_vm_fd, &b), 0);
	(void)p2;
	(void)p3;
	/* Close deassigns everything: checked by the next case's binds. */
}

static void
kvm__close_deassigns(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = pio(0x510, 1);

	/* The previous case closed its notifier with 0x510/1 bound. */
	assert_int_equal(raw_ioeventfd(fx->env->be_vm_fd, &b), 0);
	b = pio(0x520, 4);
	b.has_datamatch = true;
	b.datamatch = 1;
	assert_int_equal(raw_ioeventfd(fx->env->be_vm_fd, &b), 0);
}

static void
kvm__ioeventfd_malformed(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b;
	uint32_t x = NOTIFY_PORT_INVALID;

	b = pio(0x500, 3);
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EINVAL);
	b = pio(0x500, 16);
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EINVAL);
	b = pio(0x500, 0);	/* any-width is MMIO only */
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EINVAL);
	b = pio(0xffff, 2);	/* runs off the port space */
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EINVAL);
	b = pio(0x10000, 1);
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EINVAL);
	b = pio(0x500, 1);
	b.has_datamatch = true;
	b.datamatch = 0x100;	/* wider than the access */
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EINVAL);
	b = pio(UINT64_MAX - 1, 4);
	b.is_mmio = true;
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EINVAL);
	b = pio(0xd0000000, 0);
	b.is_mmio = true;
	b.has_datamatch = true;
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EINVAL);
	assert_int_equal(x, NOTIFY_PORT_INVALID);
}

static void
kvm__irqfd_registration(void **state)
{
	struct fixture *fx = *state;
	struct notify_bind b = { .kind = NOTIFY_BIND_IRQFD, .gsi = 5,
	    .rx_fd = -1, .tx_fd = -1 };
	struct notifier *n2;
	uint32_t p, x;

	assert_int_equal(notifier_bind(fx->n, &b, &p), 0);
	assert_int_equal(notifier_bind(fx->n, &b, &x), -EEXIST);
	/* Notify only; a notify raises the line and is not our event. */
	assert_int_equal(notifier_notify(fx->n, p), 0);
	assert_int_equal(notifier_wait(fx->n, 0), 0);
	assert_int_equal(notifier_unbind(fx->n, p), 0);
	assert_int_equal(notifier_bind(fx->n, &b, &p), 0);

	/* Opened without a VM: only ready-made eventfds. */
	assert_int_equal(notifier_open("kvm", -1, &n2), 0);
	b.gsi = 6;
	assert_int_equal(notifier_bind(n2, &b, &x), -EINVAL);
	b = pio(0x530, 1);
	assert_int_equal(notifier_bind(n2, &b, &x), -EINVAL);
	notifier_close(n2);
}
#endif /* HAVE_KVM */

#define CASE(f)	cmocka_unit_test_setup_teardown(f, case_setup, case_teardown)

static const struct CMUnitTest contract_cases[] = {
	CASE(port__kick_next_rearm),
	CASE(port__notify_reaches_remote),
	CASE(port__coalesced_count),
	CASE(ports__many_in_kick_order),
	CASE(ports__busy_port_cannot_starve),
	CASE(ports__independent),
	CASE(cycle__kick_after_report_seen),
	CASE(cycle__ended_early_hands_back),
	CASE(unbind__pending_discarded),
	CASE(bad__ports_and_arguments),
	CASE(eventfds__validated_and_owned),
	CASE(kinds__unsupported_rejected),
	CASE(wait__timeout_and_wakeup),
	CASE(notify__from_other_thread),
	CASE(ports__limit_then_enospc),
};

#ifdef HAVE_KVM
static const struct CMUnitTest kvm_cases[] = {
	CASE(kvm__ioeventfd_registration),
	CASE(kvm__close_deassigns),
	CASE(kvm__ioeventfd_malformed),
	CASE(kvm__irqfd_registration),
};
#endif

static const struct CMUnitTest open_cases[] = {
	cmocka_unit_test(open__unknown_backend),
};

int
main(void)
{
	int failed = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	(void)test_seed();
	failed += cmocka_run_group_tests_name("notify open", open_cases,
	    NULL, NULL);
	printf("# backend loop\n");
	failed += cmocka_run_group_tests_name("notify contract: loop",
	    contract_cases, loop_group_setup, NULL);
#ifdef HAVE_KVM
	if (kvm_env_open()) {
		printf("# backend kvm\n");
		failed += cmocka_run_group_tests_name("notify contract: kvm",
		    contract_cases, kvm_group_setup, NULL);
		failed += cmocka_run_group_tests_name("notify kvm registration",
		    kvm_cases, kvm_group_setup, kvm_group_teardown);
	}
#else
	printf("SKIP: kvm backend not built\n");
#endif
	/*
	 * Xen ports need a remote domain to bind to: the wrapped-library
	 * tests (test_notify_xen) and the Xen end-to-end run cover it.
	 */
	printf("SKIP: xen backend: no remote domain in a unit test\n");
	return failed != 0;
}
