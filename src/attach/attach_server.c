/* SPDX-License-Identifier: MIT */
/* The attach listener: accepts VMMs on the event loop, turns complete sessions into guests. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach/attach.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/peer.h"
#include "common/usock.h"

/* What a session's child tells its parent once its guest is attached. */
struct attach_child_report {
	uint64_t	cr_cid;
	char		cr_name[ATTACH_NAME_MAX];
};

struct srv_conn {
	struct attach_server	*sc_srv;
	struct attach_sess	*sc_sess;
	void			*sc_guest;	/* non-NULL once live */
	int			 sc_fd;
	unsigned		 sc_id;
	uid_t			 sc_uid;	/* SO_PEERCRED */
	/* Process per guest: the child serving this session, in the parent. */
	pid_t			 sc_child;
	int			 sc_pidfd;	/* -1: pidfd_open(2) is missing */
	int			 sc_report;	/* child -> parent: attached */
	struct attach_child_report sc_rep;
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
	struct peer_policy		 as_peers;
	bool				 as_has_peers;
	bool				 as_fork;	/* a process per session */
	bool				 as_child;	/* this is that process */
	int				 as_report;	/* child: to the parent */
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
	if (c->sc_child > 0) {
		/* The parent's record of a child: the child serves the rest. */
		if (c->sc_pidfd >= 0) {
			(void)loop_del_fd(srv->as_loop, c->sc_pidfd);
			close(c->sc_pidfd);
		}
		(void)loop_del_fd(srv->as_loop, c->sc_report);
		close(c->sc_report);
		if (c->sc_guest != NULL)
			srv->as_nr_guests--;
		srv->as_nr_conns--;
		free(c);
		return;
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
	/* A session's own process ends with its session. */
	if (srv->as_child)
		loop_quit(srv->as_loop);
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
	log_info("attach %u: guest \"%s\" attached (cid %ju)%s", c->sc_id,
	    attach_sess_desc(c->sc_sess)->ad_name,
	    (uintmax_t)attach_sess_desc(c->sc_sess)->ad_cid,
	    srv->as_child ? " in a process of its own" : "");
	if (srv->as_child) {
		struct attach_child_report rep;

		memset(&rep, 0, sizeof(rep));
		rep.cr_cid = attach_sess_desc(c->sc_sess)->ad_cid;
		memcpy(rep.cr_name, attach_sess_desc(c->sc_sess)->ad_name,
		    sizeof(rep.cr_name));
		if (write(srv->as_report, &rep, sizeof(rep)) != sizeof(rep))
			log_warnx("attach %u: cannot tell the parent process",
			    c->sc_id);
	}
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

static void conn_readable(struct loop *l, int fd, unsigned events, void *arg);
static void conn_deadline(struct loop *l, void *arg);

/* ---- A process per session ---------------------------------------------- */

static void
close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	/* close_range(2) where it exists, a loop over the table where not. */
	if (lo > 3)
		(void)syscall(SYS_close_range, 3u, (unsigned)lo - 1, 0u);
	if (hi - lo > 1)
		(void)syscall(SYS_close_range, (unsigned)lo + 1,
		    (unsigned)hi - 1, 0u);
	(void)syscall(SYS_close_range, (unsigned)hi + 1, ~0u, 0u);
}

/*
 * The child: nothing of the parent but the session socket and the report
 * pipe (no listener, no other guest, no control socket), a loop of its
 * own, and the session served until it ends; then the process ends.
 */
static void __noreturn
child_main(struct attach_server *srv, struct srv_conn *c, int s, int report)
{
	struct loop *nl;
	sigset_t set;
	int rc;

	close_all_but(s, report);
	/* SIGTERM from the parent ends the process (its peers see EOF). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (loop_new(&nl) < 0)
		_exit(1);
	srv->as_loop = nl;
	/* The listener (closed above) stays the parent's: never freed here. */
	srv->as_listener = NULL;
	srv->as_conns = NULL;
	srv->as_nr_conns = 0;
	srv->as_nr_guests = 0;
	srv->as_fork = false;
	srv->as_child = true;
	srv->as_report = report;
	if (srv->as_ops->forked != NULL)
		srv->as_ops->forked(srv->as_arg, nl);
	c->sc_fd = s;
	if (loop_add_fd(nl, s, LOOP_IN, conn_readable, c) < 0)
		_exit(1);
	c->sc_timer = loop_add_timer(nl, srv->as_timeout_ms, conn_deadline, c);
	c->sc_next = NULL;
	srv->as_conns = c;
	srv->as_nr_conns = 1;
	rc = loop_run(nl);
	_exit(rc < 0 ? 1 : 0);
}

static void child_reap(struct srv_conn *c, int wflags);

static void
child_reported(struct loop *l, int fd, unsigned events, void *arg)
{
	struct srv_conn *c = arg;
	ssize_t n;

	(void)l;
	(void)events;
	n = read(fd, &c->sc_rep, sizeof(c->sc_rep));
	if (n == (ssize_t)sizeof(c->sc_rep) && c->sc_guest == NULL) {
		c->sc_rep.cr_name[sizeof(c->sc_rep.cr_name) - 1] = '\0';
		c->sc_guest = c;
		c->sc_srv->as_nr_guests++;
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0)
		(void)loop_del_fd(c->sc_srv->as_loop, fd);
	/*
	 * The child holds the pipe's write end until it ends: without a
	 * pidfd, end of file is its exit (it is past closing its files).
	 */
	if (n == 0 && c->sc_pidfd < 0)
		child_reap(c, 0);
}

static void
child_exited(struct loop *l, int fd, unsigned events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	child_reap(arg, WNOHANG);
}

static void
child_reap(struct srv_conn *c, int wflags)
{
	int status = 0;

	if (waitpid(c->sc_child, &status, wflags) <= 0)
		return;
	if (WIFSIGNALED(status))
		log_warnx("attach %u: guest process %ld killed by signal %d%s",
		    c->sc_id, (long)c->sc_child, WTERMSIG(status),
		    c->sc_guest != NULL ? " (its guest is detached)" : "");
	else
		log_info("attach %u: guest process %ld exited (%d)", c->sc_id,
		    (long)c->sc_child, WIFEXITED(status) ? WEXITSTATUS(status) :
		    -1);
	conn_free(c);
}

/* Parent: hand the session to a child and watch it. */
static void
spawn(struct attach_server *srv, struct srv_conn *c, int s)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		goto err;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		goto err;
	}
	if (pid == 0) {
		close(p[0]);
		child_main(srv, c, s, p[1]);
	}
	close(p[1]);
	attach_sess_forget(c->sc_sess);
	c->sc_sess = NULL;
	close(s);
	c->sc_fd = -1;
	c->sc_child = pid;
	c->sc_report = p[0];
	/*
	 * Without pidfd_open(2) (valgrind does not know the call; Linux has
	 * it since 5.3) the report pipe's end of file says the child ended,
	 * and a signal goes by pid: the child is not reaped before either,
	 * so its pid cannot be reused meanwhile.  The seccomp filter allows
	 * kill(2) only on the daemon itself; it is not installed under
	 * valgrind.
	 */
	c->sc_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if ((c->sc_pidfd < 0 && errno != ENOSYS) || (c->sc_pidfd >= 0 &&
	    loop_add_fd(srv->as_loop, c->sc_pidfd, LOOP_IN, child_exited,
	    c) < 0) || loop_add_fd(srv->as_loop, p[0], LOOP_IN,
	    child_reported, c) < 0) {
		log_warnx("attach %u: cannot watch its process: %s", c->sc_id,
		    strerror(errno));
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		if (c->sc_pidfd >= 0) {
			(void)loop_del_fd(srv->as_loop, c->sc_pidfd);
			close(c->sc_pidfd);
		}
		close(p[0]);
		free(c);
		return;
	}
	c->sc_next = srv->as_conns;
	srv->as_conns = c;
	srv->as_nr_conns++;
	log_info("attach %u: served by process %ld", c->sc_id, (long)pid);
	return;
err:
	log_warnx("attach %u: refused: cannot start its process: %s", c->sc_id,
	    strerror(errno));
	(void)attach_sess_reply(c->sc_sess, -EAGAIN, "cannot start a process");
	attach_sess_free(c->sc_sess);
	free(c);
}

static unsigned
pending_of(const struct attach_server *srv, uid_t uid)
{
	unsigned n = 0;

	for (const struct srv_conn *c = srv->as_conns; c != NULL;
	    c = c->sc_next)
		if (c->sc_guest == NULL && c->sc_uid == uid)
			n++;
	return n;
}

static void
listen_accept(void *arg, int s)
{
	struct attach_server *srv = arg;
	struct loop *l = srv->as_loop;
	struct srv_conn *c;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	pid_t pid = 0;
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
	rc = peer_check(s, srv->as_has_peers ? &srv->as_peers : NULL, &uid,
	    &gid, &pid);
	if (rc < 0) {
		if (rc == -EPERM)
			log_ratelimited(&srv->as_rl, LOG_WARNING,
			    "attach %u: refused: peer uid %lu gid %lu (pid %ld) "
			    "is not allowed", c->sc_id, (unsigned long)uid,
			    (unsigned long)gid, (long)pid);
		else
			log_ratelimited(&srv->as_rl, LOG_WARNING,
			    "attach %u: refused: SO_PEERCRED: %s", c->sc_id,
			    strerror(-rc));
		(void)attach_sess_reply(c->sc_sess, -EPERM,
		    "peer not allowed to attach guests");
		attach_sess_free(c->sc_sess);
		free(c);
		return;
	}
	c->sc_uid = uid;
	/* Unfinished sessions of one peer must not lock the others out. */
	if (pending_of(srv, uid) >= ATTACH_MAX_PENDING_PER_PEER) {
		log_ratelimited(&srv->as_rl, LOG_WARNING,
		    "attach %u: refused: uid %lu already has %u unfinished "
		    "sessions", c->sc_id, (unsigned long)uid,
		    ATTACH_MAX_PENDING_PER_PEER);
		(void)attach_sess_reply(c->sc_sess, -EBUSY,
		    "too many unfinished attach sessions from this user");
		attach_sess_free(c->sc_sess);
		free(c);
		return;
	}
	log_info("attach %u: VMM pid %ld uid %lu connected", c->sc_id,
	    (long)pid, (unsigned long)uid);
	if (srv->as_fork) {
		spawn(srv, c, s);
		return;
	}
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
	/* Each guest's process goes with the daemon. */
	for (struct srv_conn *c = srv->as_conns; c != NULL; c = c->sc_next)
		if (c->sc_child > 0 && c->sc_pidfd >= 0)
			(void)syscall(SYS_pidfd_send_signal, c->sc_pidfd, SIGTERM,
			    NULL, 0u);
		else if (c->sc_child > 0)
			(void)kill(c->sc_child, SIGTERM);
	for (struct srv_conn *c = srv->as_conns; c != NULL; c = c->sc_next)
		if (c->sc_child > 0)
			(void)waitpid(c->sc_child, NULL, 0);
	while (srv->as_conns != NULL)
		conn_free(srv->as_conns);
	usock_listener_free(srv->as_listener);
	free(srv);
}

void
attach_server_set_fork(struct attach_server *srv, bool on)
{
	srv->as_fork = on;
}

void
attach_server_dump_children(const struct attach_server *srv,
    void (*cb)(void *arg, const char *line), void *arg)
{
	char line[160];

	for (const struct srv_conn *c = srv->as_conns; c != NULL;
	    c = c->sc_next) {
		if (c->sc_child <= 0)
			continue;
		if (c->sc_guest != NULL)
			snprintf(line, sizeof(line), "kvm guest \"%s\" cid %ju: "
			    "process %ld", c->sc_rep.cr_name,
			    (uintmax_t)c->sc_rep.cr_cid, (long)c->sc_child);
		else
			snprintf(line, sizeof(line), "attach session %u: "
			    "process %ld, not attached yet", c->sc_id,
			    (long)c->sc_child);
		cb(arg, line);
	}
}

void
attach_server_set_peers(struct attach_server *srv, const struct peer_policy *pp)
{
	srv->as_peers = *pp;
	srv->as_has_peers = true;
}

void
attach_server_set_timeout(struct attach_server *srv, unsigned ms)
{
	srv->as_timeout_ms = ms > 0 ? ms : ATTACH_HANDSHAKE_MS;
}

void
attach_server_foreach_child(const struct attach_server *srv,
    void (*fn)(void *arg, const char *name, uint64_t cid, long pid), void *arg)
{
	for (const struct srv_conn *c = srv->as_conns; c != NULL;
	    c = c->sc_next)
		if (c->sc_child > 0 && c->sc_guest != NULL)
			fn(arg, c->sc_rep.cr_name, c->sc_rep.cr_cid,
			    (long)c->sc_child);
}

unsigned
attach_server_nr_guests(const struct attach_server *srv)
{
	return srv->as_nr_guests;
}
