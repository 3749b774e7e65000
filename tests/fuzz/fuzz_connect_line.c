/* SPDX-License-Identifier: MIT */
/*
 * The CONNECT-line parser against an independent reading of its grammar:
 * `[blanks] CONNECT blanks <u32> [blanks|CR]* LF`, keyword in any case, at
 * most VSOCK_CONNECT_LINE_MAX bytes.  Bytes are fed one at a time as a
 * host client may trickle them; the parser must accept exactly the lines
 * the reference accepts, with the same port, and stay dead after.
 */
#include <errno.h>
#include <stdio.h>

#include "fuzz.h"
#include "vsock/vsock_impl.h"

static bool
blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Reference: 1 and *port if data[0..len) is one valid line (LF last). */
static int
reference(const uint8_t *s, size_t len, uint32_t *port)
{
	static const char kw[] = "CONNECT";
	size_t i = 0, k;
	uint64_t v = 0;

	if (len == 0 || len > VSOCK_CONNECT_LINE_MAX || s[len - 1] != '\n')
		return 0;
	while (i < len && blank(s[i]))
		i++;
	for (k = 0; k < 7; k++, i++) {
		uint8_t c;

		if (i >= len)
			return 0;
		c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 'a' + 'A');
		if (c != (uint8_t)kw[k])
			return 0;
	}
	if (!blank(s[i]))
		return 0;
	while (blank(s[i]))
		i++;
	if (s[i] < '0' || s[i] > '9')
		return 0;
	while (s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (s[i] - '0');
		if (v > UINT32_MAX)
			return 0;
		i++;
	}
	while (blank(s[i]) || s[i] == '\r')
		i++;
	if (i != len - 1)
		return 0;
	*port = (uint32_t)v;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsock_connect_parser p;
	uint32_t port = 0, ref_port = 0;
	size_t i, lf = size;
	int rc = 0, expect;
	char ok[32];

	for (i = 0; i < size; i++)
		if (data[i] == '\n') {
			lf = i;
			break;
		}
	expect = lf < size ? reference(data, lf + 1, &ref_port) : 0;

	vsock_connect_parser_init(&p);
	for (i = 0; i < size; i++) {
		rc = vsock_connect_parser_feed(&p, data[i], &port);
		fz_check(rc == 0 || rc == 1 || rc == -EINVAL || rc == -E2BIG);
		if (rc != 0)
			break;
		/* Nothing past the cap is ever swallowed silently. */
		fz_check(i + 1 < VSOCK_CONNECT_LINE_MAX + 1);
	}
	if (rc == 1) {
		fz_check(expect == 1);
		fz_check(i == lf);
		fz_check(port == ref_port);
		/* Later bytes stay in the socket: the parser takes no more. */
		fz_check(vsock_connect_parser_feed(&p, 'x', &port) < 0);
		fz_check(vsock_connect_ok_format(ok, sizeof(ok), port) > 0);
	} else {
		fz_check(expect == 0);
		if (rc < 0)
			fz_check(vsock_connect_parser_feed(&p, '\n', &port) < 0);
	}
	return 0;
}
