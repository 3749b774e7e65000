/* SPDX-License-Identifier: MIT */
/* The incremental parser for Firecracker's "CONNECT <port>\n" line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/compiler.h"
#include "vsock/vsock_impl.h"

static const char keyword[] = "CONNECT";

enum {
	CL_LEAD = 0,	/* spaces before the keyword */
	CL_KEYWORD,	/* inside the keyword */
	CL_SEP,		/* at least one space after the keyword */
	CL_DIGITS,	/* the port */
	CL_TRAIL,	/* spaces or a CR after the port */
	CL_DONE,
	CL_ERROR,
};

void
vsock_connect_parser_init(struct vsock_connect_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->cp_state = CL_LEAD;
}

static int
is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static int
upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/*
 * Every byte is judged as it arrives, so garbage is refused at its first
 * wrong byte rather than when the line ends or the cap is reached.
 */
int
vsock_connect_parser_feed(struct vsock_connect_parser *p, uint8_t c,
    uint32_t *port)
{
	if (p->cp_state == CL_DONE)
		return -EALREADY;
	if (p->cp_state == CL_ERROR)
		return -EINVAL;
	if (++p->cp_len > VSOCK_CONNECT_LINE_MAX)
		goto bad_len;
	switch (p->cp_state) {
	case CL_LEAD:
		if (is_blank(c))
			return 0;
		p->cp_state = CL_KEYWORD;
		p->cp_kw = 0;
		FALLTHROUGH;
	case CL_KEYWORD:
		if (upper(c) != keyword[p->cp_kw])
			goto bad;
		if (++p->cp_kw == sizeof(keyword) - 1)
			p->cp_state = CL_SEP;
		return 0;
	case CL_SEP:
		if (is_blank(c)) {
			p->cp_sep = 1;
			return 0;
		}
		if (!p->cp_sep || c < '0' || c > '9')
			goto bad;
		p->cp_state = CL_DIGITS;
		p->cp_port = 0;
		FALLTHROUGH;
	case CL_DIGITS:
		if (c >= '0' && c <= '9') {
			p->cp_port = p->cp_port * 10 + (c - '0');
			if (p->cp_port > UINT32_MAX)
				goto bad;
			return 0;
		}
		p->cp_state = CL_TRAIL;
		FALLTHROUGH;
	case CL_TRAIL:
		if (c == '\n') {
			p->cp_state = CL_DONE;
			*port = (uint32_t)p->cp_port;
			return 1;
		}
		if (is_blank(c) || c == '\r')
			return 0;
		goto bad;
	default:
		break;
	}
bad:
	p->cp_state = CL_ERROR;
	return -EINVAL;
bad_len:
	p->cp_state = CL_ERROR;
	return -E2BIG;
}

int
vsock_connect_ok_format(char *buf, size_t size, uint32_t port)
{
	int n = snprintf(buf, size, "OK %u\n", port);

	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}
