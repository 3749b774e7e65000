/* SPDX-License-Identifier: MIT */
/* What every cmocka driver includes: cmocka itself and small helpers. */
#ifndef HCVS_TEST_COMMON_H
#define HCVS_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/log.h"

/* Exit code automake's harness reads as "skipped". */
#define TEST_EXIT_SKIP	77

/*
 * Capture log messages: test_log_capture_start() installs a sink that
 * keeps the last message and counts all of them.
 */
void		 test_log_capture_start(void);
void		 test_log_capture_stop(void);
const char	*test_log_last(void);
unsigned	 test_log_count(void);
/* True if any captured message since start contains `needle`. */
int		 test_log_seen(const char *needle);

/* Seed for randomised tests: $HCVS_SEED or time; printed once. */
unsigned	 test_seed(void);

/* Open file descriptors of this process: compare before and after to find leaks. */
unsigned	 test_count_fds(void);

/*
 * A fresh directory "/tmp/hcvs-<tag>-XXXXXX" in buf (fails the test if it
 * cannot be made); test_rmtree() removes it and everything below it
 * without following symlinks.
 */
void		 test_tmpdir(char *buf, size_t size, const char *tag);
void		 test_rmtree(const char *dir);

/*
 * Host programs' reads from a socket, safe on any thread (they fail
 * nothing, they answer): test_read_full takes exactly n bytes, each
 * read after poll() saw data within timeout_ms; test_read_line takes one
 * line byte by byte (nothing after its '\n') and ends it at the '\n'.
 * False on a timeout, EOF, an error, or a line that does not fit.
 */
bool		 test_read_full(int fd, void *buf, size_t n, int timeout_ms);
bool		 test_read_line(int fd, char *line, size_t size, int timeout_ms);

/*
 * Failures on threads other than cmocka's (guest and host programs) are
 * recorded in test_failure by TCHECK, which returns from the (void)
 * function; the main thread asserts on it.
 */
extern char	test_failure[256];
#define TCHECK(c) do { \
	if (!(c)) { \
		if (test_failure[0] == '\0') \
			snprintf(test_failure, sizeof(test_failure), \
			    "%s:%d: %s", __FILE__, __LINE__, #c); \
		return; \
	} \
} while (0)

#endif /* HCVS_TEST_COMMON_H */
