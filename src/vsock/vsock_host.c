/* SPDX-License-Identifier: MIT */
/* The host side of the muxer: AF_UNIX paths, the listener, CONNECT clients. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/loop.h"
#include "common/usock.h"
#include "vsock/vsock_impl.h"

#define SUN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path))
/* "_4294967295" */
#define PORT_SUFFIX_MAX	11

static bool
has_dotdot(const char *p)
{
	const char *s = p;

	while ((s = strstr(s, "..")) != NULL) {
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
		s += 2;
	}
	return false;
}

int
vsock_host_check_cfg(const struct vsock_mux_cfg *cfg, char *dir, size_t dirsize)
{
	size_t ulen = strnlen(cfg->uds_path, sizeof(cfg->uds_path));
	const char *slash;

	if (ulen == sizeof(cfg->uds_path))
		return -ENAMETOOLONG;
	dir[0] = '\0';
	if (ulen > 0) {
		/* Every <uds_path>_<port> must fit in sun_path. */
		if (ulen + PORT_SUFFIX_MAX >= SUN_PATH_MAX || ulen >= dirsize)
			return -ENAMETOOLONG;
		if (has_dotdot(cfg->uds_path) || cfg->uds_path[ulen - 1] == '/')
			return -EINVAL;
		slash = strrchr(cfg->uds_path, '/');
		if (slash == NULL)
			snprintf(dir, dirsize, ".");
		else if (slash == cfg->uds_path)
			snprintf(dir, dirsize, "/");
		else
			snprintf(dir, dirsize, "%.*s",
			    (int)(slash - cfg->uds_path), cfg->uds_path);
	}
	for (size_t i = 0; i < cfg->nr_maps; i++) {
		const char *p = cfg->maps[i].pm_path;
		size_t plen = strnlen(p, sizeof(cfg->maps[i].pm_path));
		size_t dlen = strlen(dir);

		if (plen == sizeof(cfg->maps[i].pm_path))
			return -ENAMETOOLONG;
		if (plen == 0)
			continue;
		if (has_dotdot(p))
			return -EINVAL;
		if (p[0] != '/') {
			/* Relative to the socket directory. */
			if (dir[0] == '\0')
				return -EINVAL;
			if (dlen + 1 + plen >= SUN_PATH_MAX)
				return -ENAMETOOLONG;
		} else if (dir[0] != '\0' && strcmp(dir, "/") != 0 &&
		    (strncmp(p, dir, dlen) != 0 || p[dlen] != '/')) {
			return -EACCES;
		}
	}
	return 0;
}

const struct vsock_port_map *
vsock_host_find_map(const struct vsock_mux *m, uint32_t port)
{
	size_t lo = 0, hi = m->m_cfg.nr_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->m_maps[mid].pm_port == port)
			return &m->m_maps[mid];
		if (m->m_maps[mid].pm_port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
path_for_port(const struct vsock_mux *m, uint32_t port, struct sockaddr_un *sa)
{
	const struct vsock_port_map *pm = vsock_host_find_map(m, port);
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (pm != NULL && !pm->pm_allow_connect)
		return -EPERM;
	if (pm == NULL && !m->m_cfg.default_allow)
		return -EPERM;
	if (pm != NULL && pm->pm_path[0] == '/')
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s",
		    pm->pm_path);
	else if (pm != NULL && pm->pm_path[0] != '\0')
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s",
		    m->m_dir, pm->pm_path);
	else if (m->m_cfg.uds_path[0] != '\0')
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s_%u",
		    m->m_cfg.uds_path, port);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int
vsock_host_connect(struct vsock_mux *m, uint32_t port, uint16_t type, int *fdp,
    char *path, size_t pathlen)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (path != NULL && pathlen > 0)
		path[0] = '\0';
	rc = path_for_port(m, port, &sa);
	if (rc < 0)
		return rc;
	if (path != NULL && pathlen > 0)
		snprintf(path, pathlen, "%s", sa.sun_path);
	fd = socket(AF_UNIX, (type == VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET :
	    SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * Never blocks: a full backlog gives EAGAIN, which is a refusal
	 * (Firecracker #6208 stalled on a blocking connect here).
	 */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		*fdp = fd;
		return 0;
	}
	rc = -errno;
	if (rc == -EINPROGRESS) {
		*fdp = fd;
		return rc;
	}
	close(fd);
	return rc;
}

/* --- host-initiated connections ------------------------------------- */

static void
pending_free(struct vsock_pending *p, bool close_fd)
{
	struct vsock_mux *m = p->p_mux;

	(void)loop_del_fd(m->m_loop, p->p_fd);
	if (p->p_timer > 0)
		loop_del_timer(m->m_loop, p->p_timer);
	if (close_fd)
		close(p->p_fd);
	TAILQ_REMOVE(&m->m_pending, p, p_link);
	m->m_npending--;
	free(p);
}

static void
pending_reject(struct vsock_pending *p, const char *why)
{
	struct vsock_mux *m = p->p_mux;

	m->m_stats.ms_host_rejected++;
	vsock_log(m, LOG_INFO, "vsock: host client dropped: %s", why);
	pending_free(p, true);
}

static bool
allow_listen(const struct vsock_mux *m, uint32_t port)
{
	const struct vsock_port_map *pm = vsock_host_find_map(m, port);

	return pm != NULL ? pm->pm_allow_listen : m->m_cfg.default_allow;
}

static void
pending_connect(struct vsock_pending *p, uint32_t port)
{
	struct vsock_mux *m = p->p_mux;
	struct vsock_conn *c;
	uint32_t hport = 0, tries;
	int fd = p->p_fd;

	if (!allow_listen(m, port)) {
		pending_reject(p, "port not allowed");
		return;
	}
	if (m->m_nconns >= m->m_cfg.max_conns) {
		pending_reject(p, "connection limit");
		return;
	}
	/* Round robin over [2^30, 2^31), skipping pairs in use. */
	for (tries = 0; tries < 1024; tries++) {
		hport = m->m_next_hport++;
		if (m->m_next_hport >= VSOCK_HOST_PORT_END)
			m->m_next_hport = VSOCK_HOST_PORT_FIRST;
		if (vsock_mux_lookup(m, port, hport) == NULL)
			break;
	}
	if (tries == 1024) {
		pending_reject(p, "no free host port");
		return;
	}
	pending_free(p, false);
	c = vsock_conn_new(m, port, hport, VSOCK_TYPE_STREAM, fd, VC_HOST_INIT);
	if (c == NULL) {
		m->m_stats.ms_host_rejected++;
		close(fd);
		return;
	}
	m->m_stats.ms_host_accepted++;
	c->c_pend |= VC_PEND_REQUEST;
	vsock_mux_schedule(m, c);
	vsock_conn_update_events(c);
	if (c->c_state == VC_HOST_INIT)
		vsock_conn_arm_timer(c, m->m_cfg.connect_timeout_ms);
}

/*
 * The line is peeked and then only its own bytes are consumed, so data a
 * client pipelines after '\n' stays in the socket for the connection.
 */
static void
pending_cb(struct loop *l, int fd, unsigned events, void *arg)
{
	struct vsock_pending *p = arg;
	struct vsock_mux *m = p->p_mux;
	uint8_t buf[VSOCK_CONNECT_LINE_MAX];
	uint32_t port = 0;
	ssize_t n, i;
	int rc = 0;

	(void)l;
	(void)events;
	vsock_mux_enter(m);
	do
		n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		goto out;
	if (n <= 0) {
		pending_reject(p, n == 0 ? "closed before CONNECT line" :
		    "read error");
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = vsock_connect_parser_feed(&p->p_parser, buf[i], &port);
	if (rc < 0) {
		pending_reject(p, rc == -E2BIG ? "CONNECT line too long" :
		    "malformed CONNECT line");
		goto out;
	}
	if (recv(fd, buf, (size_t)i, MSG_DONTWAIT) != i) {
		pending_reject(p, "read error");
		goto out;
	}
	if (rc == 1)
		pending_connect(p, port);
out:
	vsock_mux_leave(m);
}

static void
pending_timeout_cb(struct loop *l, void *arg)
{
	struct vsock_pending *p = arg;
	struct vsock_mux *m = p->p_mux;

	(void)l;
	p->p_timer = 0;
	vsock_mux_enter(m);
	pending_reject(p, "no CONNECT line in time");
	vsock_mux_leave(m);
}

static void
accept_cb(void *arg, int fd)
{
	struct vsock_mux *m = arg;
	struct vsock_pending *p;

	if (fd < 0) {
		vsock_log(m, LOG_ERR, "vsock: accept: %s", strerror(-fd));
		return;
	}
	vsock_mux_enter(m);
	if (!vsock_mux_conn_room(m)) {
		m->m_stats.ms_host_rejected++;
		vsock_log(m, LOG_INFO, "vsock: host client closed: "
		    "connection limit %u", m->m_cfg.max_conns);
		close(fd);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		close(fd);
		goto out;
	}
	p->p_mux = m;
	p->p_fd = fd;
	vsock_connect_parser_init(&p->p_parser);
	if (loop_add_fd(m->m_loop, fd, LOOP_IN, pending_cb, p) < 0) {
		close(fd);
		free(p);
		goto out;
	}
	TAILQ_INSERT_TAIL(&m->m_pending, p, p_link);
	m->m_npending++;
	p->p_timer = loop_add_timer(m->m_loop, m->m_cfg.connect_timeout_ms,
	    pending_timeout_cb, p);
	if (p->p_timer < 0) {
		p->p_timer = 0;
		pending_reject(p, "no timer");
	}
out:
	vsock_mux_leave(m);
}

void
vsock_host_drop_pending(struct vsock_mux *m)
{
	struct vsock_pending *p;

	while ((p = TAILQ_FIRST(&m->m_pending)) != NULL)
		pending_free(p, true);
}

/* Host programs in the daemon's group connect here. */
int
vsock_host_listen(struct vsock_mux *m)
{
	int rc;

	if (m->m_cfg.uds_path[0] == '\0')
		return 0;
	rc = usock_listener_new(m->m_loop, m->m_cfg.uds_path, SOCK_STREAM, 0660,
	    128, accept_cb, m, &m->m_listener);
	if (rc == -EEXIST || rc == -EADDRINUSE)
		log_warnx("vsock: %s is in use by another process or "
		    "not a socket", m->m_cfg.uds_path);
	return rc;
}

void
vsock_host_unlisten(struct vsock_mux *m)
{
	usock_listener_free(m->m_listener);
	m->m_listener = NULL;
}
