/* SPDX-License-Identifier: MIT */
/*
 * The event-channel doorbell through a whole binding (binding.h): the
 * freestanding driver on a guest thread with EVTCHN_KICK, the shm source
 * over the fake ioreq page, the device and the real muxer on this
 * thread's loop, an echo program on the host side.  Xen's interdomain
 * channel is played by an eventfd pair per guest port: notifier_bind is
 * wrapped at link time so that a NOTIFY_BIND_EVTCHN becomes a
 * NOTIFY_BIND_EVENTFDS whose kick end the test (the guest) writes.  An
 * eventfd adds up writes as Xen's pending bit merges sends, so a flood of
 * any size reaches the source as one readable fd.
 *
 * What is checked: a flood costs one device pass per wake of the loop
 * however many events it carries; a flood from one side does not stop a
 * connection's data; a guest that re-binds (a new driver with a new port,
 * as after kexec) is served on the new port and its old port is unbound
 * and ignored.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_common.h"
#include "binding/binding.h"
#include "common/loop.h"
#include "fake_plat.h"
#include "fake_srv.h"
#include "guest_prog.h"
#include "hcvsock_abi.h"
#include "hcvsock_guest.h"
#include "ioreq/ioreq_impl.h"
#include "notify/notify.h"

#define PIO_BASE	0x5A0u
#define RAM_GPA		0x100000ull
#define RAM_SIZE	(4u << 20)
#define CID		42u
#define ECHO_PORT	1234u
#define ECHO_BYTES	(256u * 1024u)
#define NCONNS		4
#define MAX_PORTS	8

/* ---- Xen's channel, played by eventfds ------------------------------------ */

struct chan {
	uint32_t	remote;		/* the guest's port */
	uint32_t	local;		/* the notifier's */
	int		kick_fd;	/* the guest writes: its EVTCHNOP_send */
	int		irq_fd;		/* the host's notify lands here */
	bool		bound;
};

static struct chan chans[MAX_PORTS];
static unsigned nchans;
static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;

int __real_notifier_bind(struct notifier *n, const struct notify_bind *b,
    uint32_t *local);
int __wrap_notifier_bind(struct notifier *n, const struct notify_bind *b,
    uint32_t *local);
int __real_notifier_unbind(struct notifier *n, uint32_t local);
int __wrap_notifier_unbind(struct notifier *n, uint32_t local);

int
__wrap_notifier_bind(struct notifier *n, const struct notify_bind *b,
    uint32_t *local)
{
	struct notify_bind e;
	struct chan *c;
	int rc;

	if (b->kind != NOTIFY_BIND_EVTCHN)
		return __real_notifier_bind(n, b, local);
	pthread_mutex_lock(&chan_lock);
	assert_true(nchans < MAX_PORTS);
	c = &chans[nchans];
	c->remote = b->remote_port;
	c->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(c->kick_fd >= 0 && c->irq_fd >= 0);
	memset(&e, 0, sizeof(e));
	e.kind = NOTIFY_BIND_EVENTFDS;
	/* The notifier owns what it is given: the test keeps its own ends. */
	e.rx_fd = dup(c->kick_fd);
	e.tx_fd = dup(c->irq_fd);
	rc = __real_notifier_bind(n, &e, local);
	if (rc == 0) {
		c->local = *local;
		c->bound = true;
		nchans++;
	} else {
		close(e.rx_fd);
		close(e.tx_fd);
		close(c->kick_fd);
		close(c->irq_fd);
	}
	pthread_mutex_unlock(&chan_lock);
	return rc;
}

int
__wrap_notifier_unbind(struct notifier *n, uint32_t local)
{
	unsigned i;

	pthread_mutex_lock(&chan_lock);
	for (i = 0; i < nchans; i++)
		if (chans[i].bound && chans[i].local == local)
			chans[i].bound = false;
	pthread_mutex_unlock(&chan_lock);
	return __real_notifier_unbind(n, local);
}

/* The newest channel for guest port `remote`, or NULL. */
static struct chan *
chan_of(uint32_t remote)
{
	struct chan *c = NULL;
	unsigned i;

	pthread_mutex_lock(&chan_lock);
	for (i = 0; i < nchans; i++)
		if (chans[i].remote == remote)
			c = &chans[i];
	pthread_mutex_unlock(&chan_lock);
	return c;
}

static void
chan_send(struct chan *c, uint64_t n)
{
	assert_int_equal(write(c->kick_fd, &n, sizeof(n)), (ssize_t)sizeof(n));
}

/* ---- The host's echo program ------------------------------------------------ */

struct host {
	char		dir[64];
	char		uds[96];
	int		lfd;
	pthread_t	th;
	volatile int	stop;
	unsigned	conns;
};

static void
echo_one(int fd)
{
	uint8_t buf[16384];
	ssize_t r, w, off;

	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			return;
		for (off = 0; off < r; off += w) {
			w = write(fd, buf + off, (size_t)(r - off));
			if (w <= 0)
				return;
		}
	}
}

static void *
host_main(void *arg)
{
	struct host *h = arg;
	struct pollfd p = { .fd = h->lfd, .events = POLLIN };
	int fd;

	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(h->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		h->conns++;
		echo_one(fd);
		close(fd);
	}
	return NULL;
}

static void
host_start(struct host *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	test_tmpdir(h->dir, sizeof(h->dir), "bind-evtchn");
	snprintf(h->uds, sizeof(h->uds), "%s/vsock", h->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", h->uds, ECHO_PORT);
	h->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(h->lfd >= 0);
	assert_int_equal(bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(h->lfd, 8), 0);
	assert_int_equal(pthread_create(&h->th, NULL, host_main, h), 0);
}

static void
host_stop(struct host *h)
{
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	pthread_join(h->th, NULL);
	close(h->lfd);
	test_rmtree(h->dir);
}

/* ---- The environment -------------------------------------------------------- */

struct env {
	struct host		 host;
	struct fake_srv		 fs;
	struct binding		*b;
	struct loop		*loop;
	/* The guest. */
	struct fake_plat	 fp;
	struct hcvg_platform	 plat;
	struct hcvg		 g;
	struct hcvg_conn	 conns[NCONNS];
	uint32_t		 port;		/* its event channel */
	pthread_t		 guest;
	void			(*guest_fn)(struct env *);
	volatile int		 guest_done;
	/* A second guest-side thread that only sends events. */
	pthread_t		 flooder;
	volatile int		 flood_stop;
	uint64_t		 flood_sends;
};

static int
guest_send(void *ctx, uint32_t port)
{
	struct chan *c = chan_of(port);
	uint64_t one = 1;

	(void)ctx;
	if (c == NULL || write(c->kick_fd, &one, sizeof(one)) != sizeof(one))
		return -1;
	return 0;
}

static int
setup(void **state)
{
	struct binding_cfg bc;
	struct env *e = calloc(1, sizeof(*e));
	char err[256];
	int rc;

	assert_non_null(e);
	test_failure[0] = '\0';
	nchans = 0;
	host_start(&e->host);
	assert_int_equal(fake_srv_open(&e->fs, RAM_GPA, RAM_SIZE), 0);
	e->loop = e->fs.fs_loop;
	/* The shm source has no channel of its own: offer the played one. */
	e->fs.fs_src->src_irq_modes |= 1u << HCVS_IRQ_EVTCHN;
	memset(&bc, 0, sizeof(bc));
	bc.loop = e->loop;
	bc.name = "flood";
	bc.mux.guest_cid = CID;
	snprintf(bc.mux.uds_path, sizeof(bc.mux.uds_path), "%s", e->host.uds);
	bc.mux.default_allow = true;
	bc.mux.max_conns = 16;
	bc.mux.buf_alloc = 65536;
	bc.mux.close_timeout_ms = 2000;
	bc.irq_modes = (1u << HCVS_IRQ_NONE) | (1u << HCVS_IRQ_EVTCHN);
	bc.nr_windows = 1;
	bc.windows[0].space = IOREQ_SPACE_PIO;
	bc.windows[0].base = PIO_BASE;
	bc.windows[0].size = HCVS_REG_WINDOW_SIZE;
	/* The binding owns the source from here on. */
	rc = binding_new(&bc, e->fs.fs_src, &e->b, err, sizeof(err));
	e->fs.fs_src = NULL;
	if (rc != 0)
		fail_msg("binding_new: %s", err);
	assert_int_equal(binding_enable(e->b), 0);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	unsigned i;

	binding_stop(e->b, false);
	binding_free(e->b, true);
	fake_srv_close(&e->fs);
	host_stop(&e->host);
	for (i = 0; i < nchans; i++) {
		close(chans[i].kick_fd);
		close(chans[i].irq_fd);
	}
	nchans = 0;
	free(e);
	return 0;
}

/* The driver comes up on event channel `port`, ringing by EVTCHNOP_send. */
static void
guest_up(struct env *e, uint32_t port)
{
	struct hcvg_cfg c;

	e->fp.fp_fake = e->fs.fs_fake;
	e->fp.fp_pio = PIO_BASE;
	e->fp.fp_ram = e->fs.fs_ram;
	e->fp.fp_ram_gpa = RAM_GPA;
	fake_plat_init(&e->fp, &e->plat);
	e->plat.evtchn_send = guest_send;
	/* Mailbox at the start of RAM; mode EVTCHN, ringing on its port. */
	c = (struct hcvg_cfg){ .plat = &e->plat, .mem = e->fs.fs_ram,
	    .mem_size = 1u << 20, .tx_slots = 16, .rx_slots = 16,
	    .slot_size = 4096, .conns = e->conns, .nconns = NCONNS,
	    .wait_limit = 2000000, .irq_mode = HCVS_IRQ_EVTCHN,
	    .irq_args = { port }, .evtchn_kick = 1 };
	e->port = port;
	TCHECK(hcvg_init(&e->g, &c) == 0);
	TCHECK(e->plat.reg_read(e->plat.ctx, HCVS_REG_GUEST_FEATURES) &
	    HCVS_F_EVTCHN_KICK);
}

/* Echo `n` bytes on a new connection; every doorbell an event. */
static void
guest_echo(struct env *e, uint32_t n)
{
	static uint8_t out[ECHO_BYTES], back[ECHO_BYTES];
	uint32_t i, kicks = hcvg_stats(&e->g)->gs_kicks;
	int id;

	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(i * 7u + n);
	id = hcvg_connect(&e->g, ECHO_PORT, 0);
	TCHECK(id >= 0);
	TCHECK(gprog_echo(&e->g, id, out, back, n, 0) == 0);
	(void)hcvg_close(&e->g, id);
	TCHECK(hcvg_stats(&e->g)->gs_kicks > kicks);
	TCHECK(hcvg_stats(&e->g)->gs_evtchn_kicks ==
	    hcvg_stats(&e->g)->gs_kicks);
}

static void *
guest_main(void *arg)
{
	struct env *e = arg;

	e->guest_fn(e);
	__atomic_store_n(&e->guest_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Run `fn` on the guest thread while this one runs the daemon's loop. */
static unsigned
run_guest(struct env *e, void (*fn)(struct env *))
{
	unsigned rounds = 0;

	e->guest_fn = fn;
	e->guest_done = 0;
	assert_int_equal(pthread_create(&e->guest, NULL, guest_main, e), 0);
	while (!__atomic_load_n(&e->guest_done, __ATOMIC_ACQUIRE)) {
		assert_true(loop_run_once(e->loop, 5) >= 0);
		rounds++;
	}
	pthread_join(e->guest, NULL);
	if (test_failure[0] != '\0')
		fail_msg("%s", test_failure);
	assert_int_equal(e->fp.fp_lost_writes, 0);
	return rounds;
}

struct counts {
	uint64_t	events;		/* the source saw on the channel */
	uint64_t	ekicks;		/* device runs for them */
	uint64_t	passes;
	uint64_t	ignored;
};

static struct counts
counts(struct env *e)
{
	struct ioreq_source_stats ss;
	struct vsock_dev_stats ds;
	struct counts c;

	ioreq_source_get_stats(binding_source(e->b), &ss);
	vsock_dev_get_stats(binding_dev(e->b), &ds);
	c.events = ss.ss_guest_events;
	c.ekicks = ds.ds_evtchn_kicks;
	c.passes = ds.ds_passes;
	c.ignored = ds.ds_events_ignored;
	return c;
}

static bool
counts_eq(const struct counts *a, const struct counts *b)
{
	return a->events == b->events && a->ekicks == b->ekicks &&
	    a->passes == b->passes && a->ignored == b->ignored;
}

/* Run the loop until three rounds in a row change no count (bounded). */
static void
drain(struct env *e)
{
	struct counts prev = counts(e), now;
	unsigned i, same = 0;

	for (i = 0; i < 500 && same < 3; i++) {
		assert_true(loop_run_once(e->loop, 10) >= 0);
		now = counts(e);
		same = counts_eq(&prev, &now) ? same + 1 : 0;
		prev = now;
	}
	if (same < 3)
		fail_msg("the device never went idle");
}

static void
g_up9(struct env *e)
{
	guest_up(e, 9);
}

static void
g_echo(struct env *e)
{
	guest_echo(e, ECHO_BYTES);
}

/* ---- Tests --------------------------------------------------------------- */

/*
 * However many events wait when the loop wakes, the device makes one
 * pass for them: 100001 sends, one wake, one run of the rings.
 */
static void
flood_is_one_pass(void **state)
{
	struct env *e = *state;
	struct counts a, b;
	struct chan *c;
	unsigned i;

	run_guest(e, g_up9);
	drain(e);
	c = chan_of(9);
	assert_non_null(c);
	a = counts(e);
	chan_send(c, 100000);
	for (i = 0; i < 1000; i++)
		chan_send(c, 1);
	assert_true(loop_run_once(e->loop, 1000) >= 0);
	b = counts(e);
	assert_int_equal(b.events - a.events, 101000);
	assert_int_equal(b.ekicks - a.ekicks, 1);
	assert_true(b.passes - a.passes <= 1);
	/* Nothing was left for later: the next wake has nothing to do. */
	drain(e);
	a = counts(e);
	assert_int_equal(a.ekicks, b.ekicks);
	assert_int_equal(a.events, b.events);
	assert_int_equal(a.ignored, 0);
}

static void *
flood_main(void *arg)
{
	struct env *e = arg;
	struct chan *c = chan_of(e->port);
	uint64_t one = 1;

	while (!__atomic_load_n(&e->flood_stop, __ATOMIC_ACQUIRE)) {
		if (write(c->kick_fd, &one, sizeof(one)) == sizeof(one))
			__atomic_fetch_add(&e->flood_sends, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * A guest vCPU sending events without pause while another carries a
 * 256 KiB echo: the echo completes, every event is counted, and the
 * device runs at most once per round of the loop, not once per event.
 */
static void
flood_does_not_starve(void **state)
{
	struct env *e = *state;
	struct counts a, b;
	unsigned rounds, spins;
	uint64_t own;

	run_guest(e, g_up9);
	drain(e);
	a = counts(e);
	own = hcvg_stats(&e->g)->gs_evtchn_kicks;
	assert_int_equal(pthread_create(&e->flooder, NULL, flood_main, e), 0);
	/* The flood runs before the echo starts, however late it is scheduled. */
	for (spins = 0; __atomic_load_n(&e->flood_sends, __ATOMIC_ACQUIRE) == 0;
	    spins++) {
		assert_true(spins < 100000);
		usleep(100);
	}
	rounds = run_guest(e, g_echo);
	__atomic_store_n(&e->flood_stop, 1, __ATOMIC_RELEASE);
	pthread_join(e->flooder, NULL);
	drain(e);
	b = counts(e);
	own = hcvg_stats(&e->g)->gs_evtchn_kicks - own;
	assert_true(e->flood_sends > 0);
	assert_int_equal(e->host.conns, 1);
	assert_int_equal(b.events - a.events, e->flood_sends + own);
	/* run_guest's rounds, then drain's (at most 500). */
	assert_true(b.ekicks - a.ekicks <= rounds + 500);
	assert_int_equal(b.ignored, 0);
}

static void
g_kexec(struct env *e)
{
	/* A new kernel's driver: device reset, a freshly allocated port. */
	guest_up(e, 10);
	guest_echo(e, 4096);
}

static void
g_echo_small(struct env *e)
{
	guest_echo(e, 4096);
}

/*
 * Re-bound after a kexec: the new port carries both directions, the old
 * one is unbound, and what the old port still receives is nothing to
 * the device.
 */
static void
rebind_after_kexec(void **state)
{
	struct env *e = *state;
	struct chan *old, *nw;
	struct counts a, b;

	run_guest(e, g_up9);
	run_guest(e, g_echo_small);
	old = chan_of(9);
	assert_non_null(old);
	assert_true(old->bound);
	run_guest(e, g_kexec);
	nw = chan_of(10);
	assert_non_null(nw);
	assert_false(old->bound);
	assert_true(nw->bound);
	drain(e);
	a = counts(e);
	chan_send(old, 5000);
	drain(e);
	b = counts(e);
	assert_int_equal(b.events, a.events);
	assert_int_equal(b.ekicks, a.ekicks);
	assert_int_equal(b.passes, a.passes);
	chan_send(nw, 5000);
	drain(e);
	b = counts(e);
	assert_int_equal(b.events - a.events, 5000);
	assert_int_equal(b.ekicks - a.ekicks, 1);
	assert_int_equal(e->host.conns, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(flood_is_one_pass, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(flood_does_not_starve, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(rebind_after_kexec, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
