/* SPDX-License-Identifier: MIT */
/* The attach listener: accepts VMMs on the event loop, turns complete sessions into guests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attach/attach.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/usock.h"

struct srv_conn {
	struct attach_server	*sc_srv;
	struct attach_sess	*sc_sess;
	void			*sc_guest;	/* non-NULL once live */
	int			 sc_fd;
	unsigned		 sc_id;
	int64_t			 sc_timer;	/* handshake deadline */
	struct srv_conn		*sc_next;
};

struct attach_server {
	struct loop			*as_loop;
	struct usock_listener		*as_listener;
	unsigned			 as_max;
	unsigned			 as_nr_conns;
	unsigned			 as_nr_guests;
	unsigned			 as_next_id;
	unsigned			 as_timeout_ms;
	const struct attach_server_ops	*as_ops;
	void				*as_arg;
	struct srv_conn			*as_conns;
	struct log_ratelimit		 as_rl;
};

static void
conn_free(struct srv_conn *c)
{
	struct attach_server *srv = c->sc_srv;
	struct srv_conn **pp;

	for (pp = &srv->as_conns; *pp != NULL; pp = &(*pp)->sc_next) {
		if (*pp == c) {
			*pp = c->sc_next;
			break;
		}
	}
	(void)loop_del_fd(srv->as_loop, c->sc_fd);
	if (c->sc_timer > 0)
		loop_del_timer(srv->as_loop, c->sc_timer);
	if (c->sc_guest != NULL) {
		srv->as_ops->detach(srv->as_arg, c->sc_guest);
		srv->as_nr_guests--;
	}
	attach_sess_free(c->sc_sess);
	srv->as_nr_conns--;
	free(c);
}

static void
conn_readable(struct loop *l, int fd, unsigned events, void *arg)
{
	struct srv_conn *c = arg;
	struct attach_server *srv = c->sc_srv;
	char err[ATTACH_REASON_MAX];
	void *guest = NULL;
	int rc;

	(void)l;
	(void)fd;
	(void)events;
	rc = attach_sess_recv(c->sc_sess);
	if (rc == 0 || rc == -EAGAIN)
		return;
	if (rc == -ECONNRESET) {
		if (c->sc_guest != NULL)
			log_info("attach %u: VMM disconnected, guest detached",
			    c->sc_id);
		conn_free(c);
		return;
	}
	if (rc < 0) {
		log_ratelimited(&srv->as_rl, LOG_WARNING,
		    "attach %u: refused: %s%s", c->sc_id,
		    attach_sess_reason(c->sc_sess),
		    c->sc_guest != NULL ? " (guest detached)" : "");
		conn_free(c);
		return;
	}
	/* START: a complete, checked description. */
	err[0] = '\0';
	rc = srv->as_ops->attach(srv->as_arg, attach_sess_desc(c->sc_sess),
	    &guest, err, sizeof(err));
	if (rc < 0) {
		log_ratelimited(&srv->as_rl, LOG_WARNING,
		    "attach %u: guest \"%s\" not attached: %s", c->sc_id,
		    attach_sess_desc(c->sc_sess)->ad_name,
		    err[0] != '\0' ? err : strerror(-rc));
		(void)attach_sess_reply(c->sc_sess, rc, err);
		conn_free(c);
		return;
	}
	c->sc_guest = guest;
	srv->as_nr_guests++;
	/*
	 * The guest holds its own copies of whatever it keeps: up to 2 fds
	 * per vCPU would otherwise stay open twice for the guest's life.
	 */
	{
		struct attach_desc *d = attach_sess_desc(c->sc_sess);
		char name[ATTACH_NAME_MAX];
		uint64_t cid = d->ad_cid;

		memcpy(name, d->ad_name, sizeof(name));
		attach_desc_close(d);
		memcpy(d->ad_name, name, sizeof(name));
		d->ad_cid = cid;
	}
	if (c->sc_timer > 0)
		loop_del_timer(srv->as_loop, c->sc_timer);
	c->sc_timer = 0;
	if (attach_sess_reply(c->sc_sess, 0, "attached") < 0) {
		log_warnx("attach %u: VMM gone before the result", c->sc_id);
		conn_free(c);
		return;
	}
	log_info("attach %u: guest \"%s\" attached (cid %ju)", c->sc_id,
	    attach_sess_desc(c->sc_sess)->ad_name,
	    (uintmax_t)attach_sess_desc(c->sc_sess)->ad_cid);
}

/* A VMM that connects and never finishes must not hold a session slot. */
static void
conn_deadline(struct loop *l, void *arg)
{
	struct srv_conn *c = arg;

	(void)l;
	c->sc_timer = 0;
	if (c->sc_guest != NULL)
		return;
	log_ratelimited(&c->sc_srv->as_rl, LOG_WARNING,
	    "attach %u: refused: no START within %u ms", c->sc_id,
	    c->sc_srv->as_timeout_ms);
	(void)attach_sess_reply(c->sc_sess, -ETIMEDOUT,
	    "attach not completed in time");
	conn_free(c);
}

static void
listen_accept(void *arg, int s)
{
	struct attach_server *srv = arg;
	struct loop *l = srv->as_loop;
	struct srv_conn *c;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int rc;

	if (s < 0) {
		log_ratelimited(&srv->as_rl, LOG_WARNING,
		    "attach: accept: %s", strerror(-s));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(s);
		return;
	}
	c->sc_srv = srv;
	c->sc_fd = s;
	c->sc_id = ++srv->as_next_id;
	rc = attach_sess_new(s, &c->sc_sess);
	if (rc < 0) {
		free(c);
		return;
	}
	if (srv->as_nr_conns >= srv->as_max) {
		log_ratelimited(&srv->as_rl, LOG_WARNING,
		    "attach %u: refused: %u VMMs already attached", c->sc_id,
		    srv->as_max);
		(void)attach_sess_reply(c->sc_sess, -EBUSY,
		    "too many VMMs attached");
		attach_sess_free(c->sc_sess);
		free(c);
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		log_info("attach %u: VMM pid %ld uid %lu connected", c->sc_id,
		    (long)cred.pid, (unsigned long)cred.uid);
	rc = loop_add_fd(l, s, LOOP_IN, conn_readable, c);
	if (rc < 0) {
		attach_sess_free(c->sc_sess);
		free(c);
		return;
	}
	c->sc_timer = loop_add_timer(l, srv->as_timeout_ms, conn_deadline, c);
	c->sc_next = srv->as_conns;
	srv->as_conns = c;
	srv->as_nr_conns++;
}

int
attach_server_new(struct loop *l, const char *path, unsigned max_sessions,
    const struct attach_server_ops *ops, void *arg, struct attach_server **sp)
{
	struct attach_server *srv;
	int rc;

	if (path == NULL || ops == NULL || ops->attach == NULL ||
	    ops->detach == NULL || max_sessions == 0)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -ENOMEM;
	srv->as_loop = l;
	srv->as_max = max_sessions;
	srv->as_timeout_ms = ATTACH_HANDSHAKE_MS;
	srv->as_ops = ops;
	srv->as_arg = arg;
	srv->as_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 1);
	/* Only the owner and group (the VMMs' group) may attach guests. */
	rc = usock_listener_new(l, path, SOCK_SEQPACKET, 0660, 8, listen_accept,
	    srv, &srv->as_listener);
	if (rc < 0) {
		free(srv);
		return rc;
	}
	*sp = srv;
	return 0;
}

void
attach_server_free(struct attach_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->as_conns != NULL)
		conn_free(srv->as_conns);
	usock_listener_free(srv->as_listener);
	free(srv);
}

void
attach_server_set_timeout(struct attach_server *srv, unsigned ms)
{
	srv->as_timeout_ms = ms > 0 ? ms : ATTACH_HANDSHAKE_MS;
}

unsigned
attach_server_nr_guests(const struct attach_server *srv)
{
	return srv->as_nr_guests;
}
