/* SPDX-License-Identifier: MIT */
/* TCP endpoints of port mappings: numeric addresses, the loopback rule. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/conf_tcp.h"

/* A numeric address (or "localhost") with port into *ss. */
static int
addr_of(const char *host, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

int
conf_tcp_parse(const char *spec, bool listener, struct conf_tcp *t,
    const char **why)
{
	char host[CONF_TCP_SPEC_MAX];
	const char *colon, *ps;
	unsigned long port;
	char *end;
	size_t hl;

	memset(t, 0, sizeof(*t));
	if (strlen(spec) >= sizeof(t->ct_spec)) {
		*why = "too long";
		return -EINVAL;
	}
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (rb == NULL || rb[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -EINVAL;
		}
		hl = (size_t)(rb - spec - 1);
		memcpy(host, spec + 1, hl);
		host[hl] = '\0';
		ps = rb + 2;
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		if (strchr(spec, ':') != colon) {
			*why = "an IPv6 address needs brackets: [ADDR]:PORT";
			return -EINVAL;
		}
		hl = (size_t)(colon - spec);
		memcpy(host, spec, hl);
		host[hl] = '\0';
		ps = colon + 1;
	} else if (listener) {
		snprintf(host, sizeof(host), "127.0.0.1");
		ps = spec;
	} else {
		*why = "expected HOST:PORT";
		return -EINVAL;
	}
	if (ps[0] < '0' || ps[0] > '9') {
		*why = "the port is not a number";
		return -EINVAL;
	}
	errno = 0;
	port = strtoul(ps, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535) {
		*why = "the port must be 1 to 65535";
		return -EINVAL;
	}
	if (addr_of(host, (uint16_t)port, &t->ct_addr, &t->ct_len) < 0) {
		*why = "the host must be a numeric IPv4 or IPv6 address or "
		    "localhost";
		return -EINVAL;
	}
	snprintf(t->ct_spec, sizeof(t->ct_spec), "%s", spec);
	return 0;
}

int
conf_tcp_allow_add(struct conf_tcp_allow *a, const char *word)
{
	socklen_t len;

	if (!strcmp(word, "any")) {
		a->ta_any = true;
		return 0;
	}
	if (a->ta_n == CONF_TCP_ALLOW_MAX)
		return -ENOSPC;
	if (!strcmp(word, "localhost") ||
	    addr_of(word, 0, &a->ta_addr[a->ta_n], &len) < 0)
		return -EINVAL;
	a->ta_n++;
	return 0;
}

static bool
is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127;
}

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

bool
conf_tcp_allowed(const struct conf_tcp_allow *a, const struct conf_tcp *t)
{
	if (a->ta_any || is_loopback(&t->ct_addr))
		return true;
	for (size_t i = 0; i < a->ta_n; i++)
		if (same_addr(&a->ta_addr[i], &t->ct_addr))
			return true;
	return false;
}
