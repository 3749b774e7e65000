/* SPDX-License-Identifier: MIT */
/*
 * The asynchronous doorbell through a whole binding (binding.h): the
 * freestanding driver brought up over the fake ioreq page, the device
 * and the real muxer on this thread's loop, and a doorbell that reaches
 * the source as an event, as KVM's ioeventfd does: an eventfd bound on
 * the source's notifier as its doorbell port, which the test writes.
 * notifier_next is wrapped at link time to see what the device had done
 * when the binding first read its notifier in a wake, and to act as the
 * guest at that moment.
 *
 * What is checked: a wake for the doorbell answers the guest before the
 * notifier is read, and counts one doorbell; a guest entry published and
 * rung between that pass and the read is answered in the same wake; a
 * vCPU's request waiting on the page goes first, with no pass ahead of it;
 * a busy window keeps TX_NO_KICK up and takes unrung entries, and its end
 * brings the flag down with a last look.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"
#include "binding/binding.h"
#include "common/loop.h"
#include "fake_guest.h"
#include "fake_plat.h"
#include "fake_srv.h"
#include "hcvsock_abi.h"
#include "hcvsock_guest.h"
#include "ioreq/ioreq_impl.h"
#include "ioreq/ioreq_xenabi.h"
#include "notify/notify.h"
#include "vsock/vsock_dev.h"

#define PIO_BASE	0x5A0u
#define RAM_GPA		0x100000ull
#define RAM_SIZE	(4u << 20)
#define CID		42u
#define NCONNS		2

struct env {
	char			 dir[64];
	struct fake_srv		 fs;
	struct binding		*b;
	struct loop		*loop;
	int			 db_fd;		/* the guest's doorbell */
	/* The guest. */
	struct fake_plat	 fp;
	struct hcvg_platform	 plat;
	struct hcvg		 g;
	struct hcvg_conn	 conns[NCONNS];
	uint32_t		 tx_prod;	/* what this test published */
	pthread_t		 guest;
	volatile int		 guest_done;
};

/* ---- The binding's first read of its notifier in a wake ------------------ */

static struct {
	struct env	*e;
	bool		 armed;		/* record the next call */
	bool		 seen;
	uint64_t	 tx_pkts;	/* the device's, at that call */
	uint32_t	 rx_prod;
	void		(*act)(struct env *e);	/* the guest, at that call */
} spy;

int __real_notifier_next(struct notifier *n, uint32_t *local,
    uint64_t *count);
int __wrap_notifier_next(struct notifier *n, uint32_t *local,
    uint64_t *count);

static struct vsock_dev_stats
dev_stats(struct env *e)
{
	struct vsock_dev_stats st;

	vsock_dev_get_stats(binding_dev(e->b), &st);
	return st;
}

#define tx_pkts(e)	(dev_stats(e).ds_tx_pkts)
#define kicks(e)	(dev_stats(e).ds_kicks)

static uint32_t
mb32(struct env *e, uint32_t off)
{
	return __atomic_load_n((uint32_t *)(void *)(e->g.g_mb + off),
	    __ATOMIC_ACQUIRE);
}

int
__wrap_notifier_next(struct notifier *n, uint32_t *local, uint64_t *count)
{
	if (spy.armed && !spy.seen) {
		spy.seen = true;
		spy.tx_pkts = tx_pkts(spy.e);
		spy.rx_prod = mb32(spy.e, HCVS_MB_RX_PROD);
		if (spy.act != NULL)
			spy.act(spy.e);
	}
	return __real_notifier_next(n, local, count);
}

static void
spy_arm(struct env *e, void (*act)(struct env *e))
{
	spy.e = e;
	spy.armed = true;
	spy.seen = false;
	spy.act = act;
}

/* ---- The guest ------------------------------------------------------------ */

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * One CREDIT_REQUEST for a connection the host never heard of, written
 * straight into the TX ring (docs/PROTOCOL.md's slot format): the muxer
 * answers it with a RST, so the guest sees an answer in RX.
 */
static void
publish(struct env *e, uint32_t lport)
{
	uint8_t *s = e->g.g_mb + HCVS_MBOX_HDR_SIZE +
	    (e->tx_prod & (e->g.g_tx_slots - 1)) * e->g.g_slot_size;

	memset(s, 0, HCVS_SLOT_HDR);
	put32(s + 0, CID);
	put32(s + 8, 2);		/* dst_cid: the host */
	put32(s + 16, lport);
	put32(s + 20, 9999);		/* nobody listens there */
	s[28] = 1;			/* type: stream */
	s[30] = 7;			/* op: CREDIT_REQUEST */
	put32(s + 36, 65536);
	e->tx_prod++;
	__atomic_store_n((uint32_t *)(void *)(e->g.g_mb + HCVS_MB_TX_PROD),
	    e->tx_prod, __ATOMIC_RELEASE);
}

static void
ring(struct env *e)
{
	uint64_t one = 1;

	assert_int_equal(write(e->db_fd, &one, sizeof(one)),
	    (ssize_t)sizeof(one));
}

static void
guest_up_main(struct env *e)
{
	struct hcvg_cfg c;

	e->fp.fp_fake = e->fs.fs_fake;
	e->fp.fp_pio = PIO_BASE;
	e->fp.fp_ram = e->fs.fs_ram;
	e->fp.fp_ram_gpa = RAM_GPA;
	fake_plat_init(&e->fp, &e->plat);
	/* Polling RX, as the benchmark's guests do: no interrupt to deliver. */
	c = (struct hcvg_cfg){ .plat = &e->plat, .mem = e->fs.fs_ram,
	    .mem_size = 1u << 20, .tx_slots = 16, .rx_slots = 16,
	    .slot_size = 4096, .conns = e->conns, .nconns = NCONNS,
	    .wait_limit = 2000000, .irq_mode = HCVS_IRQ_NONE };
	TCHECK(hcvg_init(&e->g, &c) == 0);
}

static void *
guest_main(void *arg)
{
	struct env *e = arg;

	guest_up_main(e);
	__atomic_store_n(&e->guest_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The driver comes up on a thread of its own while this one runs the loop. */
static void
guest_up(struct env *e)
{
	unsigned i;

	assert_int_equal(pthread_create(&e->guest, NULL, guest_main, e), 0);
	while (!__atomic_load_n(&e->guest_done, __ATOMIC_ACQUIRE))
		assert_true(loop_run_once(e->loop, 5) >= 0);
	pthread_join(e->guest, NULL);
	if (test_failure[0] != '\0')
		fail_msg("%s", test_failure);
	assert_int_equal(e->fp.fp_lost_writes, 0);
	/* What the driver left, a doorbell included, is served now. */
	for (i = 0; i < 20; i++)
		assert_true(loop_run_once(e->loop, 1) >= 0);
	e->tx_prod = mb32(e, HCVS_MB_TX_PROD);
	/* The driver published on its own; from here this test does. */
	assert_int_equal(mb32(e, HCVS_MB_TX_CONS), e->tx_prod);
}

/* ---- The environment -------------------------------------------------------- */

static int
setup_with(void **state, uint64_t busy_poll_ns)
{
	struct env *e = calloc(1, sizeof(*e));
	struct notify_bind nb = { .kind = NOTIFY_BIND_EVENTFDS, .tx_fd = -1 };
	struct binding_cfg bc;
	char err[256];
	int rc;

	assert_non_null(e);
	test_failure[0] = '\0';
	memset(&spy, 0, sizeof(spy));
	test_tmpdir(e->dir, sizeof(e->dir), "bind-db");
	assert_int_equal(fake_srv_open(&e->fs, RAM_GPA, RAM_SIZE), 0);
	e->loop = e->fs.fs_loop;
	/* The doorbell as an event: what the VMM's ioeventfd hands over. */
	e->db_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(e->db_fd >= 0);
	nb.rx_fd = dup(e->db_fd);
	assert_true(nb.rx_fd >= 0);
	assert_int_equal(notifier_bind(e->fs.fs_n, &nb,
	    &e->fs.fs_src->src_db_port), 0);
	memset(&bc, 0, sizeof(bc));
	bc.loop = e->loop;
	bc.name = "doorbell";
	bc.mux.guest_cid = CID;
	snprintf(bc.mux.uds_path, sizeof(bc.mux.uds_path), "%s/v", e->dir);
	bc.mux.default_allow = true;
	bc.mux.max_conns = 16;
	bc.mux.buf_alloc = 65536;
	bc.mux.close_timeout_ms = 2000;
	bc.nr_windows = 1;
	bc.windows[0].space = IOREQ_SPACE_PIO;
	bc.windows[0].base = PIO_BASE;
	bc.windows[0].size = HCVS_REG_WINDOW_SIZE;
	bc.busy_poll_ns = busy_poll_ns;
	/* The binding owns the source from here on. */
	rc = binding_new(&bc, e->fs.fs_src, &e->b, err, sizeof(err));
	e->fs.fs_src = NULL;
	if (rc != 0)
		fail_msg("binding_new: %s", err);
	assert_int_equal(binding_enable(e->b), 0);
	guest_up(e);
	*state = e;
	return 0;
}

static int
setup(void **state)
{
	return setup_with(state, 0);
}

/* Long enough that no stall of a loaded machine shuts it early. */
#define BUSY_NS		(1000u * 1000u * 1000u)

static int
setup_busy(void **state)
{
	return setup_with(state, BUSY_NS);
}

static int
teardown(void **state)
{
	struct env *e = *state;

	binding_stop(e->b, false);
	binding_free(e->b, true);
	fake_srv_close(&e->fs);
	close(e->db_fd);
	test_rmtree(e->dir);
	free(e);
	return 0;
}

static bool
db_drained(struct env *e)
{
	uint64_t v;

	return read(e->db_fd, &v, sizeof(v)) < 0 && errno == EAGAIN;
}

/* ---- Tests --------------------------------------------------------------- */

/* One entry rung, one turn of the loop; `act` at the binding's first read. */
static void
ring_one(struct env *e, void (*act)(struct env *e))
{
	publish(e, 5000);
	ring(e);
	spy_arm(e, act);
	assert_true(loop_run_once(e->loop, 1000) >= 0);
	assert_true(spy.seen);
}

/*
 * One entry, one ring, one wake: the device took the entry and answered
 * it before the binding read its notifier, and the doorbell it read then
 * counts once.
 */
static void
answered_before_the_read(void **state)
{
	struct env *e = *state;
	uint64_t tx0 = tx_pkts(e), k0 = kicks(e);
	uint32_t rx0 = mb32(e, HCVS_MB_RX_PROD);

	ring_one(e, NULL);
	assert_int_equal(spy.tx_pkts - tx0, 1);
	assert_int_equal(spy.rx_prod - rx0, 1);
	assert_int_equal(kicks(e) - k0, 1);
	assert_true(db_drained(e));
	assert_int_equal(mb32(e, HCVS_MB_TX_CONS), e->tx_prod);
}

/* The guest, between the pass ahead and the read: one more entry, rung. */
static void
late_entry(struct env *e)
{
	publish(e, 5001);
	ring(e);
}

/*
 * An entry published and rung after the pass ahead had looked, before
 * the notifier was read: its doorbell is consumed by that read, so the
 * same wake must take it, or nothing ever would.
 */
static void
late_entry_same_wake(void **state)
{
	struct env *e = *state;
	uint64_t tx0 = tx_pkts(e), k0 = kicks(e);
	uint32_t rx0 = mb32(e, HCVS_MB_RX_PROD);

	ring_one(e, late_entry);
	assert_int_equal(spy.tx_pkts - tx0, 1);
	assert_true(db_drained(e));
	assert_int_equal(tx_pkts(e) - tx0, 2);
	assert_int_equal(mb32(e, HCVS_MB_TX_CONS), e->tx_prod);
	assert_int_equal(mb32(e, HCVS_MB_RX_PROD) - rx0, 2);
	/* Two rings, one read of the eventfd: one doorbell. */
	assert_int_equal(kicks(e) - k0, 1);
}

/*
 * A vCPU's register read waits on the page when the doorbell's wake
 * comes: it is answered first, and no pass runs ahead of the read (with
 * tx_poll_us that pass may sit in the TX poll window, and the vCPU would
 * wait for it).  The entry is still taken in the same wake.
 */
static void
request_goes_first(void **state)
{
	struct env *e = *state;
	struct ioreq rq, resp;
	uint64_t tx0 = tx_pkts(e);

	memset(&rq, 0, sizeof(rq));
	rq.addr = PIO_BASE + HCVS_REG_MAGIC;
	rq.size = 4;
	rq.count = 1;
	rq.dir = IOREQ_READ;
	rq.type = IOREQ_TYPE_PIO;
	assert_int_equal(ioreq_fake_submit(e->fs.fs_fake, 0, &rq), 0);
	ring_one(e, NULL);
	assert_int_equal(spy.tx_pkts - tx0, 0);
	assert_int_equal(ioreq_fake_complete(e->fs.fs_fake, 0, &resp), 0);
	assert_int_equal((uint32_t)resp.data, HCVS_MAGIC);
	assert_int_equal(tx_pkts(e) - tx0, 1);
	assert_true(db_drained(e));
}

static bool
no_kick(struct env *e)
{
	return (mb32(e, HCVS_MB_HOST_FLAGS) & HCVS_HF_TX_NO_KICK) != 0;
}

/* Past the busy window's end, with no turn of the loop meanwhile. */
static void
sleep_past_window(void)
{
	struct timespec ts = { .tv_sec = BUSY_NS / 1000000000u,
	    .tv_nsec = BUSY_NS % 1000000000u + 50000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Turns of the loop until the busy window has shut (bounded). */
static void
run_until_shut(struct env *e)
{
	unsigned i;

	sleep_past_window();
	for (i = 0; i < 100; i++)
		assert_true(loop_run_once(e->loop, 1) >= 0);
}

/*
 * While a busy window is open the host keeps TX_NO_KICK up and looks at
 * TX on every turn: an entry the guest publishes without ringing is
 * taken, and no doorbell is counted.  When the window shuts the flag
 * comes down.
 */
static void
busy_window_needs_no_doorbell(void **state)
{
	struct env *e = *state;
	uint64_t tx0, k0;
	unsigned i;

	/* A rung entry opens the window (as any guest event does). */
	ring_one(e, NULL);
	assert_true(no_kick(e));
	tx0 = tx_pkts(e);
	k0 = kicks(e);
	publish(e, 5001);
	for (i = 0; i < 10 && tx_pkts(e) == tx0; i++)
		assert_true(loop_run_once(e->loop, 0) >= 0);
	assert_int_equal(tx_pkts(e) - tx0, 1);
	assert_int_equal(kicks(e), k0);
	assert_int_equal(mb32(e, HCVS_MB_TX_CONS), e->tx_prod);
	assert_true(no_kick(e));
	run_until_shut(e);
	assert_false(no_kick(e));
}

/*
 * An entry published unrung under the flag just as the window ends: the
 * host's last look, after the flag comes down and a full barrier, finds
 * it; the guest, which saw the flag, never rings for it.
 */
static void
busy_window_last_look(void **state)
{
	struct env *e = *state;
	uint64_t tx0;

	ring_one(e, NULL);
	assert_true(no_kick(e));
	/* The window's time runs out with no turn of the loop to see it. */
	sleep_past_window();
	tx0 = tx_pkts(e);
	publish(e, 5001);
	run_until_shut(e);
	assert_int_equal(tx_pkts(e) - tx0, 1);
	assert_int_equal(mb32(e, HCVS_MB_TX_CONS), e->tx_prod);
	assert_false(no_kick(e));
	assert_true(db_drained(e));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(answered_before_the_read,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(late_entry_same_wake, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(request_goes_first, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(busy_window_needs_no_doorbell,
		    setup_busy, teardown),
		cmocka_unit_test_setup_teardown(busy_window_last_look,
		    setup_busy, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
