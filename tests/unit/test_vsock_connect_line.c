/* SPDX-License-Identifier: MIT */
/* Unit tests of the CONNECT-line parser (pure, byte at a time). */
#include <errno.h>
#include <string.h>

#include "test_common.h"
#include "vsock/vsock_impl.h"

/* Feed s; return the last result and how many bytes were taken. */
static int
feed(struct vsock_connect_parser *p, const char *s, size_t n, uint32_t *port,
    size_t *used)
{
	int rc = 0;
	size_t i;

	for (i = 0; i < n && rc == 0; i++)
		rc = vsock_connect_parser_feed(p, (uint8_t)s[i], port);
	if (used != NULL)
		*used = i;
	return rc;
}

static int
parse(const char *s, uint32_t *port)
{
	struct vsock_connect_parser p;

	vsock_connect_parser_init(&p);
	return feed(&p, s, strlen(s), port, NULL);
}

static void
connect_line__plain__ok(void **state)
{
	uint32_t port = 0;

	(void)state;
	assert_int_equal(parse("CONNECT 52\n", &port), 1);
	assert_int_equal(port, 52);
	assert_int_equal(parse("CONNECT 0\n", &port), 1);
	assert_int_equal(port, 0);
	assert_int_equal(parse("CONNECT 4294967295\n", &port), 1);
	assert_true(port == 4294967295u);
}

static void
connect_line__lower_and_mixed_case__ok(void **state)
{
	uint32_t port = 0;

	(void)state;
	assert_int_equal(parse("connect 1234\n", &port), 1);
	assert_int_equal(port, 1234);
	assert_int_equal(parse("CoNnEcT 7\n", &port), 1);
	assert_int_equal(port, 7);
}

static void
connect_line__extra_spaces_and_crlf__ok(void **state)
{
	uint32_t port = 0;

	(void)state;
	assert_int_equal(parse("  CONNECT \t  99  \r\n", &port), 1);
	assert_int_equal(port, 99);
	assert_int_equal(parse("CONNECT 5\r\n", &port), 1);
	assert_int_equal(port, 5);
}

static void
connect_line__split_writes__ok(void **state)
{
	const char *line = "CONNECT 65535\n";
	struct vsock_connect_parser p;
	uint32_t port = 0;

	(void)state;
	/* Every split point, one byte at a time included. */
	for (size_t cut = 0; cut <= strlen(line); cut++) {
		vsock_connect_parser_init(&p);
		assert_int_equal(feed(&p, line, cut, &port, NULL),
		    cut == strlen(line) ? 1 : 0);
		if (cut < strlen(line))
			assert_int_equal(feed(&p, line + cut, strlen(line) - cut,
			    &port, NULL), 1);
		assert_int_equal(port, 65535);
	}
}

static void
connect_line__pipelined_data__stays(void **state)
{
	const char *in = "CONNECT 80\nGET / HTTP/1.0\r\n\r\n";
	struct vsock_connect_parser p;
	uint32_t port = 0;
	size_t used;

	(void)state;
	vsock_connect_parser_init(&p);
	assert_int_equal(feed(&p, in, strlen(in), &port, &used), 1);
	assert_int_equal(used, strlen("CONNECT 80\n"));
	assert_int_equal(port, 80);
	/* Done: more bytes are not for the parser. */
	assert_true(vsock_connect_parser_feed(&p, 'x', &port) < 0);
}

static void
connect_line__no_newline__incomplete(void **state)
{
	struct vsock_connect_parser p;
	uint32_t port = 0;

	(void)state;
	vsock_connect_parser_init(&p);
	assert_int_equal(feed(&p, "CONNECT 80", 10, &port, NULL), 0);
}

static void
connect_line__garbage__rejected_early(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\n", "CONNECTX 5\n", "CONNECT5\n", "CONNECT\n",
		"CONNECT \n", "CONNECT -1\n", "CONNECT +1\n", "CONNECT 0x10\n",
		"CONNECT 12 13\n", "CONNECT 1a\n", "\n", "CONN ECT 1\n",
		"CONNECT 1\0\n",
	};
	struct vsock_connect_parser p;
	uint32_t port = 0;
	size_t used;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t len = strlen(bad[i]);

		if (i == ARRAY_SIZE(bad) - 1)
			len = 11;	/* the embedded NUL */
		vsock_connect_parser_init(&p);
		assert_int_equal(feed(&p, bad[i], len, &port, &used), -EINVAL);
	}
	/* Refused at the first wrong byte, not at the end of the line. */
	vsock_connect_parser_init(&p);
	assert_int_equal(feed(&p, "GET / HTTP/1.1\n", 15, &port, &used),
	    -EINVAL);
	assert_int_equal(used, 1);
}

static void
connect_line__port_above_u32__rejected(void **state)
{
	uint32_t port = 0;

	(void)state;
	assert_int_equal(parse("CONNECT 4294967296\n", &port), -EINVAL);
	assert_int_equal(parse("CONNECT 99999999999999999999999\n", &port),
	    -EINVAL);
	/* Leading zeros are digits, the value is what counts. */
	assert_int_equal(parse("CONNECT 0000000000000042\n", &port), 1);
	assert_int_equal(port, 42);
}

static void
connect_line__long_line__rejected(void **state)
{
	char big[10 * 1024];
	struct vsock_connect_parser p;
	uint32_t port = 0;
	size_t used;

	(void)state;
	/* 10 KB of blanks: valid bytes, but the cap stops it. */
	memset(big, ' ', sizeof(big));
	vsock_connect_parser_init(&p);
	assert_int_equal(feed(&p, big, sizeof(big), &port, &used), -E2BIG);
	assert_int_equal(used, VSOCK_CONNECT_LINE_MAX + 1);
	/* Exactly at the cap is fine. */
	memset(big, ' ', VSOCK_CONNECT_LINE_MAX);
	memcpy(big + VSOCK_CONNECT_LINE_MAX - 11, "CONNECT 12\n", 11);
	vsock_connect_parser_init(&p);
	assert_int_equal(feed(&p, big, VSOCK_CONNECT_LINE_MAX, &port, NULL), 1);
	assert_int_equal(port, 12);
}

static void
connect_line__ok_format(void **state)
{
	char buf[32], tiny[4];

	(void)state;
	assert_int_equal(vsock_connect_ok_format(buf, sizeof(buf), 1u << 30),
	    (int)strlen("OK 1073741824\n"));
	assert_string_equal(buf, "OK 1073741824\n");
	assert_int_equal(vsock_connect_ok_format(tiny, sizeof(tiny), 1234),
	    -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connect_line__plain__ok),
		cmocka_unit_test(connect_line__lower_and_mixed_case__ok),
		cmocka_unit_test(connect_line__extra_spaces_and_crlf__ok),
		cmocka_unit_test(connect_line__split_writes__ok),
		cmocka_unit_test(connect_line__pipelined_data__stays),
		cmocka_unit_test(connect_line__no_newline__incomplete),
		cmocka_unit_test(connect_line__garbage__rejected_early),
		cmocka_unit_test(connect_line__port_above_u32__rejected),
		cmocka_unit_test(connect_line__long_line__rejected),
		cmocka_unit_test(connect_line__ok_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
