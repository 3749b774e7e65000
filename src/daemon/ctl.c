/* SPDX-License-Identifier: MIT */
/* The control socket: one command per connection, buffered non-blocking answers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/peer.h"
#include "common/usock.h"
#include "daemon/ctl.h"

struct ctl_client {
	struct ctl	*cc_ctl;
	int		 cc_fd;
	int64_t		 cc_timer;
	char		 cc_in[64];
	size_t		 cc_in_len;
	char		*cc_out;
	size_t		 cc_out_len;
	size_t		 cc_out_off;
	bool		 cc_overflow;
};

struct ctl {
	struct loop		*c_loop;
	struct usock_listener	*c_listener;
	ctl_report_fn		 c_report;
	void			*c_arg;
	struct ctl_client	*c_clients[CTL_MAX_CLIENTS];
	struct peer_policy	 c_peers;
	bool			 c_has_peers;
	struct log_ratelimit	 c_rl;
};

static void
client_free(struct ctl_client *cc)
{
	struct ctl *c = cc->cc_ctl;

	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->c_clients[i] == cc)
			c->c_clients[i] = NULL;
	loop_del_fd(c->c_loop, cc->cc_fd);
	loop_del_timer(c->c_loop, cc->cc_timer);
	close(cc->cc_fd);
	free(cc->cc_out);
	free(cc);
}

static bool
append_line(struct ctl_client *cc, const char *line)
{
	size_t n = strlen(line);
	char *nb;

	nb = realloc(cc->cc_out, cc->cc_out_len + n + 1);
	if (nb == NULL)
		return false;
	cc->cc_out = nb;
	memcpy(cc->cc_out + cc->cc_out_len, line, n);
	cc->cc_out[cc->cc_out_len + n] = '\n';
	cc->cc_out_len += n + 1;
	return true;
}

static void
emit(void *arg, const char *line)
{
	struct ctl_client *cc = arg;

	if (cc->cc_overflow)
		return;
	if (cc->cc_out_len + strlen(line) + 1 > CTL_MAX_REPLY ||
	    !append_line(cc, line))
		cc->cc_overflow = true;
}

static void
client_command(struct ctl_client *cc)
{
	struct ctl *c = cc->cc_ctl;
	char *cmd = cc->cc_in;

	cmd[strcspn(cmd, "\r\n")] = '\0';
	if (!strcmp(cmd, "status"))
		c->c_report(c->c_arg, CTL_REPORT_TEXT, emit, cc);
	else if (!strcmp(cmd, "status json"))
		c->c_report(c->c_arg, CTL_REPORT_JSON, emit, cc);
	else if (!strcmp(cmd, "metrics"))
		c->c_report(c->c_arg, CTL_REPORT_METRICS, emit, cc);
	else
		emit(cc, "error: unknown command (try: status, status json, "
		    "metrics)");
	/* Past the limit on purpose: emit() refuses everything now. */
	if (cc->cc_overflow)
		(void)append_line(cc, "... (truncated)");
}

static void
client_io(struct loop *l, int fd, unsigned events, void *arg)
{
	struct ctl_client *cc = arg;
	ssize_t n;

	if (cc->cc_out == NULL) {
		n = read(fd, cc->cc_in + cc->cc_in_len,
		    sizeof(cc->cc_in) - 1 - cc->cc_in_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_free(cc);
			return;
		}
		cc->cc_in_len += (size_t)n;
		cc->cc_in[cc->cc_in_len] = '\0';
		if (strchr(cc->cc_in, '\n') == NULL &&
		    cc->cc_in_len < sizeof(cc->cc_in) - 1)
			return;
		client_command(cc);
		if (cc->cc_out == NULL) {
			client_free(cc);
			return;
		}
		if (loop_mod_fd(l, fd, LOOP_OUT) < 0) {
			client_free(cc);
			return;
		}
		return;
	}
	if (events & LOOP_ERR) {
		client_free(cc);
		return;
	}
	n = send(fd, cc->cc_out + cc->cc_out_off,
	    cc->cc_out_len - cc->cc_out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(cc);
		return;
	}
	cc->cc_out_off += (size_t)n;
	if (cc->cc_out_off == cc->cc_out_len)
		client_free(cc);
}

static void
client_idle(struct loop *l, void *arg)
{
	struct ctl_client *cc = arg;

	(void)l;
	cc->cc_timer = 0;
	client_free(cc);
}

static void
ctl_accept(void *arg, int cfd)
{
	struct ctl *c = arg;
	struct loop *l = c->c_loop;
	struct ctl_client *cc;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	pid_t pid = 0;
	size_t slot;

	if (cfd < 0)
		return;
	if (c->c_has_peers &&
	    peer_check(cfd, &c->c_peers, &uid, &gid, &pid) < 0) {
		static const char no[] = "error: not allowed\n";

		log_ratelimited(&c->c_rl, LOG_WARNING, "control: refused peer "
		    "uid %lu gid %lu (pid %ld)", (unsigned long)uid,
		    (unsigned long)gid, (long)pid);
		(void)!send(cfd, no, sizeof(no) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(cfd);
		return;
	}
	for (slot = 0; slot < CTL_MAX_CLIENTS; slot++)
		if (c->c_clients[slot] == NULL)
			break;
	if (slot == CTL_MAX_CLIENTS) {
		close(cfd);
		return;
	}
	cc = calloc(1, sizeof(*cc));
	if (cc == NULL) {
		close(cfd);
		return;
	}
	cc->cc_ctl = c;
	cc->cc_fd = cfd;
	if (loop_add_fd(l, cfd, LOOP_IN, client_io, cc) < 0) {
		close(cfd);
		free(cc);
		return;
	}
	cc->cc_timer = loop_add_timer(l, CTL_IDLE_MS, client_idle, cc);
	if (cc->cc_timer < 0)
		cc->cc_timer = 0;
	c->c_clients[slot] = cc;
}

int
ctl_open(struct loop *l, const char *path, ctl_report_fn report, void *arg,
    struct ctl **cp)
{
	struct ctl *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->c_loop = l;
	c->c_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 1);
	c->c_report = report;
	c->c_arg = arg;
	rc = usock_listener_new(l, path, SOCK_STREAM, 0660, 8, ctl_accept, c,
	    &c->c_listener);
	if (rc < 0) {
		free(c);
		return rc;
	}
	*cp = c;
	return 0;
}

void
ctl_set_peers(struct ctl *c, const struct peer_policy *pp)
{
	c->c_peers = *pp;
	c->c_has_peers = true;
}

void
ctl_close(struct ctl *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->c_clients[i] != NULL)
			client_free(c->c_clients[i]);
	usock_listener_free(c->c_listener);
	free(c);
}

int
ctl_request(const char *path, const char *cmd, int out, int timeout_ms)
{
	char buf[4096];
	int fd, rc;

	fd = usock_connect(path, SOCK_STREAM);
	if (fd < 0)
		return fd;
	if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		goto err_errno;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		rc = poll(&pfd, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			goto err_errno;
		if (rc == 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err_errno;
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto err_errno;
			off += w;
		}
	}
	close(fd);
	return 0;

err_errno:
	rc = -errno;
	close(fd);
	return rc;
}
