/* SPDX-License-Identifier: MIT */
/*
 * The binding's poll windows over the fake ioreq page: a request the
 * vCPU waited for keeps the loop polling for the next one (sync_poll)
 * while it serves its other fds, without a window one wake serves what
 * is there and returns, and tx_poll is the device's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "binding/binding.h"
#include "common/loop.h"
#include "fake_guest.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq.h"
#include "ioreq/ioreq_fake.h"
#include "ioreq/ioreq_xenabi.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"

#define WIN_BASE	0xc000u
#define RAM_GPA		0x100000ull

struct fx {
	char			 dir[64];
	struct loop		*loop;
	struct ioreq_fake	*fake;
	struct binding		*b;
	/* The vCPU thread: two register reads, the second gated or delayed. */
	pthread_t		 th;
	volatile int		 go_second;	/* gate: 1 lets the second go */
	unsigned		 gap_us;	/* delay before the second */
	volatile int		 reads_done;
	volatile int		 mark_before_second;	/* _pad0 then */
	int			 rc;
};

static int
fx_open(struct fx *fx, uint64_t sync_poll_ns, uint64_t tx_poll_ns)
{
	struct ioreq_fake_cfg fc = { .nr_vcpus = 1, .ram_gpa = RAM_GPA,
	    .ram_size = 1u << 20, .timeout_ms = 30000 };
	struct ioreq_source *src;
	struct binding_cfg bc;
	char err[160];
	int rc;

	memset(fx, 0, sizeof(*fx));
	test_tmpdir(fx->dir, sizeof(fx->dir), "bind");
	if ((rc = loop_new(&fx->loop)) < 0 ||
	    (rc = ioreq_fake_new(&fc, &fx->fake)) < 0 ||
	    (rc = ioreq_shm_open(ioreq_fake_shm_cfg(fx->fake), &src)) < 0)
		return rc;
	memset(&bc, 0, sizeof(bc));
	bc.loop = fx->loop;
	bc.name = "test";
	bc.mux.guest_cid = 3;
	snprintf(bc.mux.uds_path, sizeof(bc.mux.uds_path), "%s/v", fx->dir);
	bc.mux.default_allow = true;
	bc.mux.max_conns = 16;
	bc.mux.buf_alloc = 65536;
	bc.mux.close_timeout_ms = 1000;
	bc.nr_windows = 1;
	bc.windows[0] = (struct binding_window){ IOREQ_SPACE_PIO, WIN_BASE,
	    HCVS_REG_WINDOW_SIZE };
	bc.sync_poll_ns = sync_poll_ns;
	bc.tx_poll_ns = tx_poll_ns;
	rc = binding_new(&bc, src, &fx->b, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "binding_new: %s\n", err);
		return rc;
	}
	return binding_enable(fx->b);
}

static void
fx_close(struct fx *fx)
{
	binding_free(fx->b, true);
	ioreq_fake_free(fx->fake);
	loop_free(fx->loop);
	test_rmtree(fx->dir);
}

static int
read_magic(struct fx *fx)
{
	uint64_t v = 0;
	int rc;

	rc = ioreq_fake_pio(fx->fake, 0, WIN_BASE + HCVS_REG_MAGIC, 4,
	    IOREQ_READ, &v);
	if (rc == 0 && v != HCVS_MAGIC)
		rc = -EPROTO;
	return rc;
}

static void *
vcpu_main(void *arg)
{
	struct fx *fx = arg;

	fx->rc = read_magic(fx);
	if (fx->rc < 0)
		return NULL;
	fx->reads_done = 1;
	while (!fx->go_second)
		usleep(1000);
	if (fx->gap_us > 0)
		usleep(fx->gap_us);
	fx->mark_before_second = ioreq_fake_slots(fx->fake)[0]._pad0;
	fx->rc = read_magic(fx);
	fx->reads_done = 2;
	return NULL;
}

static uint64_t
reg_reads(struct fx *fx)
{
	struct vsock_dev_stats st;

	vsock_dev_get_stats(binding_dev(fx->b), &st);
	return st.ds_reg_reads;
}

static uint32_t
mark(struct fx *fx)
{
	return ioreq_fake_slots(fx->fake)[0]._pad0;
}

/* Turns of the loop until the window has shut (the mark is gone). */
static void
run_until_unwatched(struct fx *fx)
{
	uint64_t end = loop_now_ns() + 10ull * 1000 * 1000 * 1000;

	while (mark(fx) != 0 && loop_now_ns() < end)
		assert_true(loop_run_once(fx->loop, 100) >= 0);
	assert_int_equal(mark(fx), 0);
	/* The last look has run: no tick is left to come. */
	assert_true(loop_run_once(fx->loop, 0) >= 0);
	assert_int_equal(mark(fx), 0);
}

/*
 * With sync_poll the window that a read opened still watches the page
 * when the second read comes 20 ms later, and takes its mark away once
 * the window is over.
 */
static void
sync_poll__window_watches_the_page(void **state)
{
	struct fx fx;

	(void)state;
	assert_int_equal(fx_open(&fx, 200ull * 1000 * 1000, 0), 0);
	fx.go_second = 1;
	fx.gap_us = 20000;
	assert_int_equal(pthread_create(&fx.th, NULL, vcpu_main, &fx), 0);
	while (fx.reads_done < 2)
		assert_true(loop_run_once(fx.loop, 30000) >= 0);
	pthread_join(fx.th, NULL);
	assert_int_equal(fx.rc, 0);
	assert_int_equal((int)reg_reads(&fx), 2);
	assert_int_equal(fx.mark_before_second, IOREQ_SHM_WATCHED);
	run_until_unwatched(&fx);
	fx_close(&fx);
}

struct pipe_seen {
	int		 calls;
	uint32_t	 mark;		/* the page's, when the fd was served */
	uint64_t	 at_ns;
	struct fx	*fx;
};

static void
pipe_cb(struct loop *l, int fd, unsigned events, void *arg)
{
	struct pipe_seen *ps = arg;
	char c;

	(void)l;
	(void)events;
	assert_int_equal(read(fd, &c, 1), 1);
	ps->calls++;
	ps->mark = mark(ps->fx);
	ps->at_ns = loop_now_ns();
}

/*
 * An open window does not keep the loop's other fds waiting: a socket
 * that becomes readable in a 2 s window is served at once, while the
 * page is still watched.
 */
static void
sync_poll__other_fds_served_in_window(void **state)
{
	struct pipe_seen ps = { 0, 0, 0, NULL };
	struct fx fx;
	uint64_t t0;
	int p[2];

	(void)state;
	assert_int_equal(fx_open(&fx, 2000ull * 1000 * 1000, 0), 0);
	ps.fx = &fx;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_add_fd(fx.loop, p[0], LOOP_IN, pipe_cb, &ps), 0);
	assert_int_equal(pthread_create(&fx.th, NULL, vcpu_main, &fx), 0);
	while (fx.reads_done < 1)
		assert_true(loop_run_once(fx.loop, 30000) >= 0);
	/* The window is open now; one more turn sets the mark. */
	assert_true(loop_run_once(fx.loop, 0) >= 0);
	assert_int_equal(mark(&fx), IOREQ_SHM_WATCHED);
	t0 = loop_now_ns();
	assert_int_equal(write(p[1], "x", 1), 1);
	while (ps.calls == 0)
		assert_true(loop_run_once(fx.loop, 30000) >= 0);
	assert_int_equal(ps.mark, IOREQ_SHM_WATCHED);
	assert_true(ps.at_ns - t0 < 1000ull * 1000 * 1000);
	fx.go_second = 1;
	while (fx.reads_done < 2)
		assert_true(loop_run_once(fx.loop, 30000) >= 0);
	pthread_join(fx.th, NULL);
	assert_int_equal(fx.rc, 0);
	assert_int_equal(loop_del_fd(fx.loop, p[0]), 0);
	close(p[0]);
	close(p[1]);
	fx_close(&fx);
}

#define MANY_READS	(BINDING_EVENT_BUDGET + 400)

static void *
vcpu_many(void *arg)
{
	struct fx *fx = arg;
	unsigned i;

	for (i = 0; i < MANY_READS && fx->rc == 0; i++)
		fx->rc = read_magic(fx);
	fx->reads_done = 1;
	return NULL;
}

/*
 * A vCPU that never pauses keeps the window open, but each turn of the
 * loop serves at most the budget and one look at the page.
 */
static void
sync_poll__budget_per_turn(void **state)
{
	struct fx fx;
	uint64_t n;

	(void)state;
	assert_int_equal(fx_open(&fx, 200ull * 1000 * 1000, 0), 0);
	assert_int_equal(pthread_create(&fx.th, NULL, vcpu_many, &fx), 0);
	assert_true(loop_run_once(fx.loop, 30000) >= 0);
	n = reg_reads(&fx);
	/*
	 * At most the budget (the fake's kicks of requests a look had
	 * answered count too) and the one request of the turn's look.
	 */
	assert_true(n > 0);
	assert_true(n <= BINDING_EVENT_BUDGET + 1);
	while (!fx.reads_done)
		assert_true(loop_run_once(fx.loop, 30000) >= 0);
	pthread_join(fx.th, NULL);
	assert_int_equal(fx.rc, 0);
	assert_int_equal((int)reg_reads(&fx), MANY_READS);
	run_until_unwatched(&fx);
	fx_close(&fx);
}

/* Without a window a wake answers what is there and returns. */
static void
sync_poll__off_one_wake_per_request(void **state)
{
	struct fx fx;

	(void)state;
	assert_int_equal(fx_open(&fx, 0, 0), 0);
	assert_int_equal(vsock_dev_tx_poll(binding_dev(fx.b)), 0);
	assert_int_equal(pthread_create(&fx.th, NULL, vcpu_main, &fx), 0);
	assert_true(loop_run_once(fx.loop, 30000) >= 0);
	assert_int_equal((int)reg_reads(&fx), 1);
	fx.go_second = 1;
	while (reg_reads(&fx) < 2)
		assert_true(loop_run_once(fx.loop, 30000) >= 0);
	pthread_join(fx.th, NULL);
	assert_int_equal(fx.rc, 0);
	fx_close(&fx);
}

/* tx_poll_ns is the device's TX poll window. */
static void
tx_poll__is_the_devices(void **state)
{
	struct fx fx;

	(void)state;
	assert_int_equal(fx_open(&fx, 0, 50000), 0);
	assert_int_equal(vsock_dev_tx_poll(binding_dev(fx.b)), 50000);
	fx_close(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sync_poll__window_watches_the_page),
		cmocka_unit_test(sync_poll__other_fds_served_in_window),
		cmocka_unit_test(sync_poll__off_one_wake_per_request),
		cmocka_unit_test(sync_poll__budget_per_turn),
		cmocka_unit_test(tx_poll__is_the_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
