/* SPDX-License-Identifier: MIT */
/* The logger: levels, the errno suffix, and rate limiting of guest-triggered messages. */
#include <errno.h>
#include <string.h>

#include "test_common.h"

static void
warn__appends_strerror(void **state)
{
	(void)state;
	test_log_capture_start();
	errno = ENOENT;
	log_warn("open %s", "/nowhere");
	assert_string_equal(test_log_last(), "open /nowhere: No such file or directory");
	assert_int_equal(errno, ENOENT);
	test_log_capture_stop();
}

static void
debug__hidden_unless_verbose(void **state)
{
	(void)state;
	test_log_capture_start();
	log_setverbose(0);
	log_debug("hidden");
	assert_int_equal(test_log_count(), 0);
	log_setverbose(1);
	log_debug("shown");
	assert_int_equal(test_log_count(), 1);
	log_setverbose(0);
	test_log_capture_stop();
}

static void
ratelimit__burst_then_suppressed(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(5, 1);

	(void)state;
	test_log_capture_start();
	for (int i = 0; i < 1000; i++)
		log_ratelimited(&rl, LOG_WARNING, "bad slot %d", i);
	/* 5 let through, at most one refill during the loop. */
	assert_true(test_log_count() >= 5);
	assert_true(test_log_count() <= 7);
	assert_true(rl.rl_suppressed >= 990);
	test_log_capture_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(warn__appends_strerror),
		cmocka_unit_test(debug__hidden_unless_verbose),
		cmocka_unit_test(ratelimit__burst_then_suppressed),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
