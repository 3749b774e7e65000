/* SPDX-License-Identifier: MIT */
/*
 * The binding's poll windows over the fake ioreq page: a request the
 * vCPU waited for keeps the loop polling for the next one (sync_poll),
 * without a window one wake serves what is there and returns, and
 * tx_poll is the device's.
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

/*
 * With sync_poll the wake that answered the first read stays in its
 * window and answers the second, which comes 20 ms later, without going
 * back to epoll.
 */
static void
sync_poll__second_request_same_wake(void **state)
{
	struct fx fx;

	(void)state;
	assert_int_equal(fx_open(&fx, 2000ull * 1000 * 1000, 0), 0);
	fx.go_second = 1;
	fx.gap_us = 20000;
	assert_int_equal(pthread_create(&fx.th, NULL, vcpu_main, &fx), 0);
	assert_true(loop_run_once(fx.loop, 30000) >= 0);
	assert_int_equal((int)reg_reads(&fx), 2);
	/* The window watched the page and took its mark away at the end. */
	assert_int_equal(ioreq_fake_slots(fx.fake)[0]._pad0, 0);
	pthread_join(fx.th, NULL);
	assert_int_equal(fx.rc, 0);
	assert_int_equal(fx.reads_done, 2);
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
 * A vCPU that never pauses keeps the window open, but one wake still
 * ends once the budget is spent: the loop's other fds get their turn.
 */
static void
sync_poll__budget_ends_the_wake(void **state)
{
	struct fx fx;
	uint64_t n;

	(void)state;
	assert_int_equal(fx_open(&fx, 2000ull * 1000 * 1000, 0), 0);
	assert_int_equal(pthread_create(&fx.th, NULL, vcpu_many, &fx), 0);
	assert_true(loop_run_once(fx.loop, 30000) >= 0);
	n = reg_reads(&fx);
	/*
	 * At most the budget (the fake's kicks of requests the window had
	 * answered count too) and the one request of the last look.
	 */
	assert_true(n > 0);
	assert_true(n <= BINDING_EVENT_BUDGET + 1);
	assert_int_equal(ioreq_fake_slots(fx.fake)[0]._pad0, 0);
	while (!fx.reads_done)
		assert_true(loop_run_once(fx.loop, 30000) >= 0);
	pthread_join(fx.th, NULL);
	assert_int_equal(fx.rc, 0);
	assert_int_equal((int)reg_reads(&fx), MANY_READS);
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
		cmocka_unit_test(sync_poll__second_request_same_wake),
		cmocka_unit_test(sync_poll__off_one_wake_per_request),
		cmocka_unit_test(sync_poll__budget_ends_the_wake),
		cmocka_unit_test(tx_poll__is_the_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
