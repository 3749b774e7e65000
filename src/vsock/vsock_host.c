/* SPDX-License-Identifier: MIT */
/* The host side of the muxer: AF_UNIX paths, the listener, CONNECT clients. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

static const struct vsock_port_map *
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

/* "tcp:ADDR:PORT" ("tcp:[ADDR]:PORT" for IPv6), for log lines. */
static void
tcp_name(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "tcp:[%s]:%u", a, ntohs(sin6->sin6_port));
	} else {
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "tcp:%s:%u", a, ntohs(sin->sin_port));
	}
}

/* Data goes out as the guest sends it: the guest does its own batching. */
static void
tcp_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int
vsock_host_connect(struct vsock_mux *m, uint32_t port, uint16_t type, int *fdp,
    char *path, size_t pathlen)
{
	const struct vsock_port_map *pm = vsock_host_find_map(m, port);
	struct sockaddr_un sa;
	const struct sockaddr *to = (const struct sockaddr *)&sa;
	socklen_t tolen = sizeof(sa);
	int fd, rc;

	if (path != NULL && pathlen > 0)
		path[0] = '\0';
	if (pm != NULL && pm->pm_tcp_len != 0) {
		if (!pm->pm_allow_connect)
			return -EPERM;
		if (path != NULL && pathlen > 0)
			tcp_name(&pm->pm_tcp, path, pathlen);
		/* TCP has no message boundaries to keep. */
		if (type != VSOCK_TYPE_STREAM)
			return -EPROTOTYPE;
		to = (const struct sockaddr *)&pm->pm_tcp;
		tolen = pm->pm_tcp_len;
		fd = socket(pm->pm_tcp.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd < 0)
			return -errno;
		tcp_nodelay(fd);
	} else {
		rc = path_for_port(m, port, &sa);
		if (rc < 0)
			return rc;
		if (path != NULL && pathlen > 0)
			snprintf(path, pathlen, "%s", sa.sun_path);
		fd = socket(AF_UNIX, (type == VSOCK_TYPE_SEQPACKET ?
		    SOCK_SEQPACKET : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd < 0)
			return -errno;
	}
	/*
	 * Never blocks: a full backlog gives EAGAIN, which is a refusal
	 * (Firecracker #6208 stalled on a blocking connect here); TCP gives
	 * EINPROGRESS and the answer comes on the loop.
	 */
	if (connect(fd, to, tolen) == 0) {
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
	uint16_t type;
	bool quiet;

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
	type = p->p_type;
	quiet = p->p_quiet;
	pending_free(p, false);
	c = vsock_conn_new(m, port, hport, type, fd, VC_HOST_INIT);
	if (c == NULL) {
		m->m_stats.ms_host_rejected++;
		close(fd);
		return;
	}
	c->c_quiet = quiet;
	m->m_stats.ms_host_accepted++;
	c->c_pend |= VC_PEND_REQUEST;
	vsock_mux_schedule(m, c);
	vsock_conn_update_events(c);
	if (c->c_state == VC_HOST_INIT)
		vsock_conn_arm_timer(c, m->m_cfg.connect_timeout_ms);
}

/*
 * SEQPACKET: the CONNECT line is the whole first message, '\n' its last
 * byte; the messages after it belong to the connection.
 */
static void
pending_seq(struct vsock_pending *p)
{
	uint8_t buf[VSOCK_CONNECT_LINE_MAX];
	uint32_t port = 0;
	ssize_t n, i;
	int rc = 0;

	do
		n = recv(p->p_fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		pending_reject(p, n == 0 ? "closed before CONNECT line" :
		    "read error");
		return;
	}
	if ((size_t)n > sizeof(buf)) {
		pending_reject(p, "CONNECT line too long");
		return;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = vsock_connect_parser_feed(&p->p_parser, buf[i], &port);
	if (rc != 1 || i != n) {
		pending_reject(p, rc == -E2BIG ? "CONNECT line too long" :
		    "malformed CONNECT line");
		return;
	}
	pending_connect(p, port);
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
	if (p->p_type == VSOCK_TYPE_SEQPACKET) {
		pending_seq(p);
		goto out;
	}
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
listen_resume_cb(struct loop *l, void *arg)
{
	struct vsock_listener *li = arg;

	li->l_timer = 0;
	if (li->l_fd >= 0)
		(void)loop_mod_fd(l, li->l_fd, LOOP_IN);
}

/* A new host client of listener li: its CONNECT line, or (TCP) the guest at once. */
static void
host_client(struct vsock_listener *li, int fd)
{
	struct vsock_mux *m = li->l_mux;
	struct vsock_pending *p;

	if (!vsock_mux_conn_room(m)) {
		m->m_stats.ms_host_rejected++;
		vsock_log(m, LOG_INFO, "vsock: host client closed: "
		    "connection limit %u", m->m_cfg.max_conns);
		close(fd);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		close(fd);
		return;
	}
	p->p_mux = m;
	p->p_fd = fd;
	p->p_type = li->l_type;
	vsock_connect_parser_init(&p->p_parser);
	if (li->l_gport != 0) {
		/* TCP: the mapping names the guest port. */
		TAILQ_INSERT_TAIL(&m->m_pending, p, p_link);
		m->m_npending++;
		p->p_quiet = true;
		tcp_nodelay(fd);
		pending_connect(p, li->l_gport);
		return;
	}
	if (loop_add_fd(m->m_loop, fd, LOOP_IN, pending_cb, p) < 0) {
		close(fd);
		free(p);
		return;
	}
	TAILQ_INSERT_TAIL(&m->m_pending, p, p_link);
	m->m_npending++;
	p->p_timer = loop_add_timer(m->m_loop, m->m_cfg.connect_timeout_ms,
	    pending_timeout_cb, p);
	if (p->p_timer < 0) {
		p->p_timer = 0;
		pending_reject(p, "no timer");
	}
}

static void
accept_cb(struct loop *l, int lfd, unsigned events, void *arg)
{
	struct vsock_listener *li = arg;
	struct vsock_mux *m = li->l_mux;
	int fd;

	(void)events;
	vsock_mux_enter(m);
	/* A bounded batch keeps one busy listener from starving the loop. */
	for (int i = 0; i < 16; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				vsock_log(m, LOG_ERR, "vsock: accept: %s",
				    strerror(errno));
				if (li->l_timer <= 0) {
					(void)loop_mod_fd(l, lfd, 0);
					li->l_timer = loop_add_timer(l,
					    USOCK_ACCEPT_BACKOFF_MS, listen_resume_cb, li);
				}
			}
			break;
		}
		host_client(li, fd);
	}
	vsock_mux_leave(m);
}

/* AF_UNIX listeners: usock accepts, one client at a time. */
static void
unix_accept_cb(void *arg, int fd)
{
	struct vsock_listener *li = arg;
	struct vsock_mux *m = li->l_mux;

	if (fd < 0) {
		vsock_log(m, LOG_ERR, "vsock: accept: %s", strerror(-fd));
		return;
	}
	vsock_mux_enter(m);
	host_client(li, fd);
	vsock_mux_leave(m);
}

void
vsock_host_drop_pending(struct vsock_mux *m)
{
	struct vsock_pending *p;

	while ((p = TAILQ_FIRST(&m->m_pending)) != NULL)
		pending_free(p, true);
}

/* ---- TCP listeners ------------------------------------------------------ */

static int
tcp_listen_one(struct vsock_listener *li)
{
	struct vsock_mux *m = li->l_mux;
	int fd, rc, one = 1;

	fd = socket(li->l_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	/* A restarted daemon rebinds while old connections linger. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&li->l_addr, li->l_addrlen) < 0 ||
	    listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if ((rc = loop_add_fd(m->m_loop, fd, LOOP_IN, accept_cb, li)) < 0) {
		close(fd);
		return rc;
	}
	li->l_fd = fd;
	return 0;
}

static void
tcp_close_one(struct vsock_listener *li)
{
	struct vsock_mux *m = li->l_mux;

	if (li->l_timer > 0)
		loop_del_timer(m->m_loop, li->l_timer);
	if (li->l_fd >= 0) {
		(void)loop_del_fd(m->m_loop, li->l_fd);
		close(li->l_fd);
	}
	free(li);
}

int
vsock_host_tcp_sync(struct vsock_mux *m, const struct vsock_port_map *maps,
    size_t n)
{
	struct vsock_listener **nl = NULL, *li;
	bool *kept = NULL;
	size_t k = 0, nn = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		nn += maps[i].pm_tcp_listen_len != 0;
	if (nn > 0 && (nl = calloc(nn, sizeof(*nl))) == NULL)
		return -ENOMEM;
	if (m->m_ntcp > 0 && (kept = calloc(m->m_ntcp, sizeof(*kept))) == NULL) {
		free(nl);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct vsock_port_map *pm = &maps[i];
		size_t j;

		if (pm->pm_tcp_listen_len == 0)
			continue;
		for (j = 0; j < m->m_ntcp; j++) {
			li = m->m_tcp[j];
			if (!kept[j] && li->l_addrlen == pm->pm_tcp_listen_len &&
			    !memcmp(&li->l_addr, &pm->pm_tcp_listen,
			    li->l_addrlen))
				break;
		}
		if (j < m->m_ntcp) {
			kept[j] = true;
			nl[k++] = m->m_tcp[j];
			continue;
		}
		if ((li = calloc(1, sizeof(*li))) == NULL) {
			rc = -ENOMEM;
			break;
		}
		li->l_mux = m;
		li->l_fd = -1;
		li->l_type = VSOCK_TYPE_STREAM;
		li->l_gport = pm->pm_port;
		li->l_addr = pm->pm_tcp_listen;
		li->l_addrlen = pm->pm_tcp_listen_len;
		if ((rc = tcp_listen_one(li)) < 0) {
			free(li);
			break;
		}
		nl[k++] = li;
	}
	if (rc < 0) {
		/* Undo: close what was opened here, keep the old set. */
		for (size_t i = 0; i < k; i++) {
			bool old = false;

			for (size_t j = 0; j < m->m_ntcp; j++)
				old |= m->m_tcp[j] == nl[i];
			if (!old)
				tcp_close_one(nl[i]);
		}
		free(nl);
		free(kept);
		return rc;
	}
	for (size_t j = 0; j < m->m_ntcp; j++)
		if (!kept[j])
			tcp_close_one(m->m_tcp[j]);
	/* Kept listeners now serve the new mapping's guest port. */
	for (size_t i = 0, t = 0; i < n; i++)
		if (maps[i].pm_tcp_listen_len != 0)
			nl[t++]->l_gport = maps[i].pm_port;
	free(m->m_tcp);
	free(kept);
	m->m_tcp = nl;
	m->m_ntcp = nn;
	return 0;
}

/*
 * Host programs in the daemon's group connect to <uds_path> (STREAM) and
 * <uds_path>_seqpacket (SEQPACKET); TCP clients to the mappings' addresses.
 */
int
vsock_host_listen(struct vsock_mux *m)
{
	static const uint16_t types[VSOCK_NR_LISTENERS] = {
		VSOCK_TYPE_STREAM, VSOCK_TYPE_SEQPACKET,
	};
	char path[sizeof(m->m_cfg.uds_path) + sizeof(VSOCK_SEQPACKET_SUFFIX)];
	int rc;

	if ((rc = vsock_host_tcp_sync(m, m->m_maps, m->m_cfg.nr_maps)) < 0)
		return rc;
	if (m->m_cfg.uds_path[0] == '\0')
		return 0;
	for (int i = 0; i < VSOCK_NR_LISTENERS; i++) {
		struct vsock_listener *li = &m->m_lis[i];
		bool seq = types[i] == VSOCK_TYPE_SEQPACKET;

		li->l_mux = m;
		li->l_fd = -1;
		li->l_type = types[i];
		/* vsock_host_check_cfg() left room for "_4294967295". */
		snprintf(path, sizeof(path), "%s%s", m->m_cfg.uds_path,
		    seq ? VSOCK_SEQPACKET_SUFFIX : "");
		rc = usock_listener_new(m->m_loop, path, seq ? SOCK_SEQPACKET :
		    SOCK_STREAM, 0660, 128, unix_accept_cb, li, &li->l_us);
		if (rc < 0) {
			if (rc == -EEXIST || rc == -EADDRINUSE)
				log_warnx("vsock: %s is in use by another "
				    "process or not a socket", path);
			vsock_host_unlisten(m);
			return rc;
		}
	}
	return 0;
}

void
vsock_host_unlisten(struct vsock_mux *m)
{
	for (int i = 0; i < VSOCK_NR_LISTENERS; i++) {
		usock_listener_free(m->m_lis[i].l_us);
		m->m_lis[i].l_us = NULL;
	}
	for (size_t i = 0; i < m->m_ntcp; i++)
		tcp_close_one(m->m_tcp[i]);
	free(m->m_tcp);
	m->m_tcp = NULL;
	m->m_ntcp = 0;
}
