/* SPDX-License-Identifier: MIT */
/* The event loop's timers: order, cancellation, and zero timers that leave the fds their turn. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "common/loop.h"

struct rec {
	int	 calls;
	int	 order[8];
	int	 n;
	int	 rearm;		/* zero timers still to arm from the callback */
	int	 fd_calls;
	int	 timer_calls_at_fd;
};

static struct rec rec;

static void
rearm_cb(struct loop *l, void *arg)
{
	(void)arg;
	rec.calls++;
	if (rec.rearm > 0) {
		rec.rearm--;
		assert_true(loop_add_timer(l, 0, rearm_cb, NULL) > 0);
	}
}

static void
order_cb(struct loop *l, void *arg)
{
	(void)l;
	if (rec.n < (int)ARRAY_SIZE(rec.order))
		rec.order[rec.n++] = (int)(intptr_t)arg;
}

static void
fd_cb(struct loop *l, int fd, unsigned events, void *arg)
{
	char c;

	(void)l;
	(void)events;
	(void)arg;
	assert_int_equal(read(fd, &c, 1), 1);
	rec.fd_calls++;
	rec.timer_calls_at_fd = rec.calls;
}

static int
setup(void **state)
{
	struct loop *l;

	memset(&rec, 0, sizeof(rec));
	if (loop_new(&l) < 0)
		return -1;
	*state = l;
	return 0;
}

static int
teardown(void **state)
{
	loop_free(*state);
	return 0;
}

/* A zero timer armed by its own callback waits for the next turn. */
static void
zero_timer__rearmed_runs_next_turn(void **state)
{
	struct loop *l = *state;

	rec.rearm = 3;
	assert_true(loop_add_timer(l, 0, rearm_cb, NULL) > 0);
	for (int turn = 1; turn <= 4; turn++) {
		assert_int_equal(loop_run_once(l, 1000), 0);
		assert_int_equal(rec.calls, turn);
	}
	/* Nothing left: the next turn times out without a call. */
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(rec.calls, 4);
}

/*
 * Work that keeps re-arming a zero timer does not keep a ready fd
 * waiting: the fd is served on the turn after the one that armed it.
 */
static void
zero_timer__fd_served_between_passes(void **state)
{
	struct loop *l = *state;
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_add_fd(l, p[0], LOOP_IN, fd_cb, NULL), 0);
	rec.rearm = 1000000;
	assert_true(loop_add_timer(l, 0, rearm_cb, NULL) > 0);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(rec.fd_calls, 1);
	/* The fd ran before the timer of its turn, one pass after the first. */
	assert_int_equal(rec.timer_calls_at_fd, 1);
	assert_int_equal(rec.calls, 2);
	assert_int_equal(loop_del_fd(l, p[0]), 0);
	close(p[0]);
	close(p[1]);
}

/* Due timers run by due time, then in the order they were armed. */
static void
timers__due_then_armed_order(void **state)
{
	struct loop *l = *state;

	assert_true(loop_add_timer(l, 20, order_cb, (void *)(intptr_t)4) > 0);
	for (intptr_t i = 1; i <= 3; i++)
		assert_true(loop_add_timer(l, 0, order_cb, (void *)i) > 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(rec.n, 3);
	assert_int_equal(rec.order[0], 1);
	assert_int_equal(rec.order[1], 2);
	assert_int_equal(rec.order[2], 3);
	/* The 20 ms timer bounds the wait of a loop told to wait forever. */
	assert_int_equal(loop_run_once(l, -1), 0);
	assert_int_equal(rec.n, 4);
	assert_int_equal(rec.order[3], 4);
}

static void
timers__cancelled_never_runs(void **state)
{
	struct loop *l = *state;
	int64_t a, b;

	a = loop_add_timer(l, 0, order_cb, (void *)(intptr_t)1);
	b = loop_add_timer(l, 0, order_cb, (void *)(intptr_t)2);
	assert_true(a > 0 && b > a);
	loop_del_timer(l, a);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.order[0], 2);
	/* Fired already: a no-op. */
	loop_del_timer(l, b);
	assert_int_equal(loop_add_timer(l, 0, NULL, NULL), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(zero_timer__rearmed_runs_next_turn,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(zero_timer__fd_served_between_passes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(timers__due_then_armed_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(timers__cancelled_never_runs,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
