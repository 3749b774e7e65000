/* SPDX-License-Identifier: MIT */
/*
 * TCP endpoints of port mappings (hcvsockd.conf(5): `port N tcp HOST:PORT`,
 * `port N tcp_listen [HOST:]PORT`, `tcp_allow`).  HOST is a numeric IPv4
 * or IPv6 address (IPv6 in brackets) or "localhost" (127.0.0.1): the
 * address is fixed when the file is read and the daemon never asks DNS.
 * Only loopback addresses are allowed unless tcp_allow lists the address
 * or says "any".
 */
#ifndef HCVS_CONF_TCP_H
#define HCVS_CONF_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define CONF_TCP_SPEC_MAX	64
#define CONF_TCP_ALLOW_MAX	16

struct conf_tcp {
	struct sockaddr_storage	ct_addr;
	socklen_t		ct_len;		/* 0 = not set */
	char			ct_spec[CONF_TCP_SPEC_MAX];	/* as written */
};

struct conf_tcp_allow {
	bool			ta_any;
	size_t			ta_n;
	struct sockaddr_storage	ta_addr[CONF_TCP_ALLOW_MAX];	/* port 0 */
};

/*
 * "HOST:PORT", or for a listener also "PORT" (127.0.0.1).  PORT 1..65535.
 * 0, or -EINVAL with *why set to a message.
 */
int	conf_tcp_parse(const char *spec, bool listener, struct conf_tcp *t,
	    const char **why);
/* One tcp_allow word: "any" or a numeric address.  0 or -EINVAL. */
int	conf_tcp_allow_add(struct conf_tcp_allow *a, const char *word);
/* Loopback, listed, or "any". */
bool	conf_tcp_allowed(const struct conf_tcp_allow *a, const struct conf_tcp *t);

#endif /* HCVS_CONF_TCP_H */
