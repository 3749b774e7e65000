/* SPDX-License-Identifier: MIT */
/* The vsock muxer: connection table, packet routing and the RX queue. */
#include <sys/epoll.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/loop.h"
#include "vsock/vsock_backend.h"
#include "vsock/vsock_impl.h"

static uint32_t
hash_pair(const struct vsock_mux *m, uint32_t gport, uint32_t hport)
{
	uint32_t h = gport * 0x9e3779b1u ^ (hport + 0x7f4a7c15u) * 0x85ebca77u;

	return (h ^ (h >> 16)) & m->m_hash_mask;
}

struct vsock_conn *
vsock_mux_lookup(struct vsock_mux *m, uint32_t gport, uint32_t hport)
{
	struct vsock_conn *c;

	LIST_FOREACH(c, &m->m_hash[hash_pair(m, gport, hport)], c_hash)
		if (c->c_gport == gport && c->c_hport == hport)
			return c;
	return NULL;
}

int
vsock_mux_insert(struct vsock_mux *m, struct vsock_conn *c)
{
	if (vsock_mux_lookup(m, c->c_gport, c->c_hport) != NULL)
		return -EEXIST;
	LIST_INSERT_HEAD(&m->m_hash[hash_pair(m, c->c_gport, c->c_hport)], c,
	    c_hash);
	TAILQ_INSERT_TAIL(&m->m_all, c, c_all);
	m->m_nconns++;
	m->m_stats.ms_conns_total++;
	return 0;
}

void
vsock_mux_remove(struct vsock_mux *m, struct vsock_conn *c)
{
	LIST_REMOVE(c, c_hash);
	TAILQ_REMOVE(&m->m_all, c, c_all);
	if (c->c_in_rxq) {
		TAILQ_REMOVE(&m->m_rxq, c, c_rxq);
		c->c_in_rxq = false;
	}
	m->m_nconns--;
}

bool
vsock_mux_conn_room(const struct vsock_mux *m)
{
	return m->m_nconns + m->m_npending < m->m_cfg.max_conns;
}

void
vsock_mux_schedule(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->c_in_rxq || c->c_pend == 0)
		return;
	TAILQ_INSERT_TAIL(&m->m_rxq, c, c_rxq);
	c->c_in_rxq = true;
	m->m_kick = true;
}

void
vsock_mux_enter(struct vsock_mux *m)
{
	m->m_depth++;
}

/*
 * rx_ready runs only when the outermost entry point returns, so a device
 * that drains the queue from inside it never sees a half-updated muxer.
 */
void
vsock_mux_leave(struct vsock_mux *m)
{
	if (--m->m_depth > 0)
		return;
	if (!m->m_kick)
		return;
	m->m_kick = false;
	if (vsock_mux_has_rx(m) && m->m_cfg.rx_ready != NULL) {
		m->m_depth++;
		m->m_cfg.rx_ready(m->m_cfg.rx_ready_arg);
		m->m_depth--;
		/* Re-queues made while the device drained need no new call. */
		m->m_kick = false;
	}
}

/* The device's calls end here: the device pulls what they queued. */
static void
leave_pulled(struct vsock_mux *m)
{
	if (--m->m_depth == 0)
		m->m_kick = false;
}

static void
rst_pair(struct vsock_mux *m, const struct vsock_pkt_hdr *h)
{
	struct vsock_rst *r;

	if (m->m_rstq_n == VSOCK_RSTQ_SIZE) {
		m->m_stats.ms_rst_queue_full++;
		return;
	}
	r = &m->m_rstq[(m->m_rstq_head + m->m_rstq_n) % VSOCK_RSTQ_SIZE];
	r->rs_gport = h->src_port;
	r->rs_hport = h->dst_port;
	/* A type we do not know is not echoed back: the RST is a STREAM one. */
	r->rs_type = h->type == VSOCK_TYPE_SEQPACKET ? VSOCK_TYPE_SEQPACKET :
	    VSOCK_TYPE_STREAM;
	m->m_rstq_n++;
	m->m_kick = true;
}

static void
drop(struct vsock_mux *m, const struct vsock_pkt_hdr *h, const char *why)
{
	m->m_stats.ms_dropped++;
	vsock_log(m, LOG_WARNING, "vsock: dropped guest packet %u->%u op %u "
	    "type %u len %u: %s", h->src_port, h->dst_port, h->op, h->type,
	    h->len, why);
}

/*
 * SHUTDOWN, RW or a credit packet for a pair the host has ended: what a
 * guest sends when its close (virtio allows SHUTDOWN(SEND) and then
 * SHUTDOWN(RCV|SEND)) crossed the host's RST.  virtio's answer for an
 * unknown connection is an RST; the guest did nothing wrong, so it is
 * not counted as a bad packet.
 */
static void
late(struct vsock_mux *m, const struct vsock_pkt_hdr *h)
{
	m->m_stats.ms_late_packets++;
	vsock_log(m, LOG_DEBUG, "vsock: guest packet %u->%u op %u after the "
	    "connection ended: RST", h->src_port, h->dst_port, h->op);
	rst_pair(m, h);
}

static void
bad(struct vsock_mux *m, const struct vsock_pkt_hdr *h, struct vsock_conn *c,
    const char *why)
{
	m->m_stats.ms_bad_packets++;
	vsock_log(m, LOG_WARNING, "vsock: RST for guest packet %u->%u op %u "
	    "type %u len %u: %s", h->src_port, h->dst_port, h->op, h->type,
	    h->len, why);
	if (c != NULL)
		vsock_conn_kill(c, true);
	else
		rst_pair(m, h);
}

static void
guest_request(struct vsock_mux *m, const struct vsock_pkt_hdr *h)
{
	struct vsock_conn *c;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd = -1, rc;

	/*
	 * Host clients still typing their CONNECT line do not count here:
	 * idle local clients must not lock the guest out.
	 */
	if (m->m_nconns >= m->m_cfg.max_conns) {
		m->m_stats.ms_connect_failed++;
		vsock_log(m, LOG_WARNING, "vsock: guest connect %u->%u refused: "
		    "%u connections open", h->src_port, h->dst_port, m->m_nconns);
		rst_pair(m, h);
		return;
	}
	rc = vsock_host_connect(m, h->dst_port, h->type, &fd, path,
	    sizeof(path));
	if (rc == -EPERM) {
		m->m_stats.ms_connect_failed++;
		vsock_log(m, LOG_INFO, "vsock: guest connect %u->%u refused by "
		    "policy: port %u is not open to the guest", h->src_port,
		    h->dst_port, h->dst_port);
		rst_pair(m, h);
		return;
	}
	if (rc < 0 && rc != -EINPROGRESS) {
		/*
		 * The operator's side, not the policy: nobody listening, or
		 * a socket file the daemon's user may not connect to.
		 */
		m->m_stats.ms_connect_failed++;
		vsock_log(m, LOG_INFO, "vsock: guest connect %u->%u failed: "
		    "host socket %s: %s", h->src_port, h->dst_port,
		    path[0] != '\0' ? path : "(none)", strerror(-rc));
		rst_pair(m, h);
		return;
	}
	c = vsock_conn_new(m, h->src_port, h->dst_port, h->type, fd,
	    VC_CONNECTING);
	if (c == NULL) {
		m->m_stats.ms_connect_failed++;
		close(fd);
		rst_pair(m, h);
		return;
	}
	c->c_peer_buf_alloc = h->buf_alloc;
	c->c_peer_fwd_cnt = h->fwd_cnt;
	if (rc == 0) {
		vsock_conn_connected(c, 0);
		return;
	}
	/* A TCP peer that never answers the SYN must not hold the guest. */
	vsock_conn_arm_timer(c, m->m_cfg.connect_timeout_ms);
	if (c->c_state == VC_CONNECTING)
		vsock_conn_update_events(c);
}

void
vsock_mux_from_guest(struct vsock_mux *m, const struct vsock_pkt_hdr *hdr,
    const void *payload)
{
	struct vsock_pkt_hdr h = *hdr;
	struct vsock_conn *c;

	vsock_mux_enter(m);
	m->m_stats.ms_tx_pkts++;
	if (h.len > VSOCK_MAX_PAYLOAD || (h.len > 0 && payload == NULL)) {
		drop(m, &h, "bad length");
		goto out;
	}
	if (h.dst_cid != VSOCK_CID_HOST || h.src_cid != m->m_cfg.guest_cid) {
		drop(m, &h, "wrong CID");
		goto out;
	}
	c = vsock_mux_lookup(m, h.src_port, h.dst_port);
	/*
	 * Anything but more held data comes after the held data, so that a
	 * batch ends as the same packets one by one would: even the guest's
	 * RST, or a packet that kills the connection, lets earlier data out.
	 */
	if (c != NULL && c->c_held > 0 &&
	    !(h.op == VSOCK_OP_RW && m->m_holding))
		vsock_conn_flush_held(c, true);
	/* The same for corked bytes: only more data joins them. */
	if (c != NULL && c->c_cork != NULL && h.op != VSOCK_OP_RW)
		vsock_conn_uncork(c);
	if (h.op == VSOCK_OP_RST) {
		/* Never answered, whatever else is wrong with it. */
		m->m_stats.ms_rst_received++;
		if (c != NULL)
			vsock_conn_kill(c, false);
		goto out;
	}
	if (c != NULL && c->c_state == VC_DYING) {
		/* Our RST is on its way; the guest will learn. */
		m->m_stats.ms_dropped++;
		goto out;
	}
	if (h.type != VSOCK_TYPE_STREAM && h.type != VSOCK_TYPE_SEQPACKET) {
		bad(m, &h, c, "unknown type");
		goto out;
	}
	if (h.op == VSOCK_OP_INVALID || h.op > VSOCK_OP_CREDIT_REQUEST) {
		bad(m, &h, c, "unknown op");
		goto out;
	}
	if (h.op != VSOCK_OP_RW && h.len != 0) {
		drop(m, &h, "payload on a control packet");
		goto out;
	}
	if (h.op == VSOCK_OP_RW && h.len == 0) {
		drop(m, &h, "empty RW");
		goto out;
	}
	if (c == NULL) {
		if (h.op == VSOCK_OP_REQUEST)
			guest_request(m, &h);
		else if (h.op == VSOCK_OP_RESPONSE)
			bad(m, &h, NULL, "no such connection");
		else
			late(m, &h);
		goto out;
	}
	if (c->c_type != h.type) {
		bad(m, &h, c, "type changed");
		goto out;
	}
	vsock_conn_from_guest(c, &h, payload);
out:
	leave_pulled(m);
}

static void
cork_ep_cb(struct loop *l, int fd, unsigned events, void *arg)
{
	struct vsock_mux *m = arg;
	struct epoll_event ev[64];
	int i, n;

	(void)l;
	(void)events;
	vsock_mux_enter(m);
	/* Nothing in here frees a connection: the device pulls RSTs later. */
	do {
		n = epoll_wait(fd, ev, 64, 0);
		for (i = 0; i < n; i++)
			vsock_conn_cork_event(ev[i].data.ptr);
	} while (n == 64);
	vsock_mux_leave(m);
}

int
vsock_mux_cork_ep(struct vsock_mux *m)
{
	int fd, rc;

	if (m->m_cork_ep >= 0)
		return 0;
	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = loop_add_fd(m->m_loop, fd, LOOP_IN, cork_ep_cb, m);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	m->m_cork_ep = fd;
	return 0;
}

/*
 * Every tick, corks older than the previous tick go out and corks unused
 * for a whole tick are freed.
 */
static void
cork_timer_cb(struct loop *l, void *arg)
{
	struct vsock_mux *m = arg;
	struct vsock_conn *c, *next;
	uint64_t before = m->m_cork_sweeps++;

	(void)l;
	m->m_cork_timer = 0;
	vsock_mux_enter(m);
	for (c = TAILQ_FIRST(&m->m_all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_all);
		vsock_conn_cork_sweep(c, before);
	}
	vsock_mux_cork_timer(m);
	vsock_mux_leave(m);
}

void
vsock_mux_cork_timer(struct vsock_mux *m)
{
	int64_t id;

	if (m->m_cork_timer > 0 || m->m_cork_bufs == 0)
		return;
	id = loop_add_timer(m->m_loop, MAX(m->m_cfg.cork_ms / 2, 1u),
	    cork_timer_cb, m);
	if (id > 0)
		m->m_cork_timer = id;
}

void
vsock_mux_tx_begin(struct vsock_mux *m)
{
	m->m_batch = true;
}

void
vsock_mux_from_guest_held(struct vsock_mux *m, const struct vsock_pkt_hdr *hdr,
    const void *payload)
{
	m->m_holding = m->m_batch;
	vsock_mux_from_guest(m, hdr, payload);
	m->m_holding = false;
}

bool
vsock_mux_hold(struct vsock_mux *m, struct vsock_conn *c, const uint8_t *p,
    uint32_t len)
{
	struct vsock_held *h;

	if (!m->m_holding || m->m_nheld == VSOCK_HELD_MAX)
		return false;
	h = &m->m_held[m->m_nheld++];
	h->h_conn = c;
	h->h_p = p;
	h->h_len = len;
	c->c_held++;
	return true;
}

void
vsock_mux_drop_held(struct vsock_mux *m, struct vsock_conn *c)
{
	uint32_t i;

	for (i = 0; i < m->m_nheld && c->c_held > 0; i++) {
		if (m->m_held[i].h_conn == c) {
			m->m_held[i].h_conn = NULL;
			c->c_held--;
		}
	}
}

/*
 * The batch's stream data is all one connection's: it leaves in one write
 * anyway, and the cork would only add its SIOCOUTQ probe and a copy.
 */
static bool
batch_one_conn(const struct vsock_mux *m)
{
	const struct vsock_conn *one = NULL;
	uint32_t i;

	for (i = 0; i < m->m_nheld; i++) {
		const struct vsock_conn *c = m->m_held[i].h_conn;

		if (c == NULL)
			continue;
		if (one != NULL && c != one)
			return false;
		one = c;
	}
	return true;
}

void
vsock_mux_tx_end(struct vsock_mux *m)
{
	uint32_t i;
	bool may_cork;

	vsock_mux_enter(m);
	may_cork = !batch_one_conn(m);
	/* In order: a connection's first payload writes all of its own. */
	for (i = 0; i < m->m_nheld; i++)
		if (m->m_held[i].h_conn != NULL)
			vsock_conn_flush_held(m->m_held[i].h_conn, may_cork);
	m->m_nheld = 0;
	m->m_batch = false;
	leave_pulled(m);
}

int
vsock_mux_to_guest(struct vsock_mux *m, struct vsock_pkt_hdr *hdr,
    void *payload, size_t max_payload)
{
	struct vsock_conn *c;
	uint32_t budget;
	int rc = 0;

	vsock_mux_enter(m);
	if (m->m_rstq_n > 0) {
		struct vsock_rst *r = &m->m_rstq[m->m_rstq_head];

		vsock_mux_hdr_to_guest(m, hdr, r->rs_hport, r->rs_gport,
		    r->rs_type);
		hdr->op = VSOCK_OP_RST;
		m->m_rstq_head = (m->m_rstq_head + 1) % VSOCK_RSTQ_SIZE;
		m->m_rstq_n--;
		m->m_stats.ms_rst_sent++;
		m->m_stats.ms_rx_pkts++;
		rc = 1;
		goto out;
	}
	/* Each queued connection gets one chance per call: no spinning. */
	budget = m->m_nconns;
	while (budget-- > 0 && (c = TAILQ_FIRST(&m->m_rxq)) != NULL) {
		TAILQ_REMOVE(&m->m_rxq, c, c_rxq);
		c->c_in_rxq = false;
		if (vsock_conn_to_guest(c, hdr, payload, max_payload) == 1) {
			m->m_stats.ms_rx_pkts++;
			rc = 1;
			break;
		}
	}
out:
	if (m->m_depth == 1)
		m->m_kick = false;
	leave_pulled(m);
	return rc;
}

bool
vsock_mux_has_rx(const struct vsock_mux *m)
{
	return m->m_rstq_n > 0 || !TAILQ_EMPTY(&m->m_rxq);
}

static int
cmp_map(const void *a, const void *b)
{
	const struct vsock_port_map *x = a, *y = b;

	return x->pm_port < y->pm_port ? -1 : x->pm_port > y->pm_port;
}

/* Copy cfg with defaults filled in and the maps sorted and checked. */
static int
take_cfg(const struct vsock_mux_cfg *in, struct vsock_mux_cfg *out,
    struct vsock_port_map **mapsp, char *dir, size_t dirsize)
{
	struct vsock_port_map *maps = NULL;
	int rc;

	if (in->guest_cid < 3 || in->guest_cid >= 0xffffffffull)
		return -EINVAL;
	if (in->buf_alloc > VSOCK_MAX_BUF_ALLOC)
		return -EINVAL;
	if (in->nr_maps > 0 && in->maps == NULL)
		return -EINVAL;
	rc = vsock_host_check_cfg(in, dir, dirsize);
	if (rc < 0)
		return rc;
	if (in->nr_maps > 0) {
		maps = calloc(in->nr_maps, sizeof(*maps));
		if (maps == NULL)
			return -ENOMEM;
		memcpy(maps, in->maps, in->nr_maps * sizeof(*maps));
		qsort(maps, in->nr_maps, sizeof(*maps), cmp_map);
		for (size_t i = 1; i < in->nr_maps; i++) {
			if (maps[i].pm_port == maps[i - 1].pm_port) {
				free(maps);
				return -EINVAL;
			}
		}
	}
	*out = *in;
	out->maps = maps;
	if (out->max_conns == 0)
		out->max_conns = VSOCK_DEF_MAX_CONNS;
	if (out->buf_alloc == 0)
		out->buf_alloc = VSOCK_DEF_BUF_ALLOC;
	if (out->close_timeout_ms == 0)
		out->close_timeout_ms = VSOCK_DEF_CLOSE_TIMEOUT_MS;
	if (out->connect_timeout_ms == 0)
		out->connect_timeout_ms = VSOCK_DEF_CONNECT_TIMEOUT_MS;
	if (out->cork_ms == 0)
		out->cork_ms = VSOCK_DEF_CORK_MS;
	*mapsp = maps;
	return 0;
}

int
vsock_mux_new(struct loop *l, const struct vsock_mux_cfg *cfg,
    struct vsock_mux **mp)
{
	struct vsock_mux *m;
	uint32_t size;
	int rc;

	if (l == NULL || cfg == NULL || mp == NULL)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->m_loop = l;
	TAILQ_INIT(&m->m_pending);
	TAILQ_INIT(&m->m_all);
	TAILQ_INIT(&m->m_rxq);
	m->m_next_hport = VSOCK_HOST_PORT_FIRST;
	m->m_cork_ep = -1;
	m->m_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(20, 5);
	rc = take_cfg(cfg, &m->m_cfg, &m->m_maps, m->m_dir, sizeof(m->m_dir));
	if (rc < 0)
		goto err_free;
	for (size = 64; size < 2 * m->m_cfg.max_conns && size < 65536; size *= 2)
		;
	m->m_hash = calloc(size, sizeof(*m->m_hash));
	if (m->m_hash == NULL) {
		rc = -ENOMEM;
		goto err_maps;
	}
	m->m_hash_mask = size - 1;
	rc = vsock_host_listen(m);
	if (rc < 0)
		goto err_hash;
	*mp = m;
	return 0;
err_hash:
	free(m->m_hash);
err_maps:
	free(m->m_maps);
err_free:
	free(m);
	return rc;
}

void
vsock_mux_reset(struct vsock_mux *m)
{
	struct vsock_conn *c;

	if (m == NULL)
		return;
	vsock_mux_enter(m);
	while ((c = TAILQ_FIRST(&m->m_all)) != NULL)
		vsock_conn_kill(c, false);
	m->m_rstq_n = 0;
	m->m_rstq_head = 0;
	m->m_kick = false;
	leave_pulled(m);
}

void
vsock_mux_free(struct vsock_mux *m)
{
	if (m == NULL)
		return;
	m->m_cfg.rx_ready = NULL;
	vsock_mux_reset(m);
	vsock_host_drop_pending(m);
	vsock_host_unlisten(m);
	if (m->m_cork_timer > 0)
		loop_del_timer(m->m_loop, m->m_cork_timer);
	if (m->m_cork_ep >= 0) {
		(void)loop_del_fd(m->m_loop, m->m_cork_ep);
		close(m->m_cork_ep);
	}
	free(m->m_hash);
	free(m->m_maps);
	free(m);
}

int
vsock_mux_reconfigure(struct vsock_mux *m, const struct vsock_mux_cfg *cfg)
{
	struct vsock_mux_cfg ncfg;
	struct vsock_port_map *maps;
	char dir[sizeof(m->m_dir)];
	int rc;

	if (cfg->guest_cid != m->m_cfg.guest_cid ||
	    strncmp(cfg->uds_path, m->m_cfg.uds_path, sizeof(cfg->uds_path)) != 0)
		return -EINVAL;
	rc = take_cfg(cfg, &ncfg, &maps, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	if ((rc = vsock_host_tcp_sync(m, maps, ncfg.nr_maps)) < 0) {
		free(maps);
		return rc;
	}
	/* A reload built from the config file knows nothing of the device. */
	if (ncfg.rx_ready == NULL) {
		ncfg.rx_ready = m->m_cfg.rx_ready;
		ncfg.rx_ready_arg = m->m_cfg.rx_ready_arg;
	}
	free(m->m_maps);
	m->m_maps = maps;
	m->m_cfg = ncfg;
	return 0;
}

void
vsock_mux_get_stats(const struct vsock_mux *m, struct vsock_mux_stats *st)
{
	*st = m->m_stats;
	st->ms_conns_open = m->m_nconns;
}

void
vsock_mux_dump(const struct vsock_mux *m,
    void (*cb)(void *arg, const char *line), void *arg)
{
	const struct vsock_mux_stats *s = &m->m_stats;
	const struct vsock_conn *c;
	char line[256];

	snprintf(line, sizeof(line), "vsock: cid %llu, %u conns (%u pending "
	    "CONNECT, max %u), total %llu, rst sent %llu rcvd %llu, dropped "
	    "%llu, bad %llu, late %llu, g->h %llu B, h->g %llu B",
	    (unsigned long long)m->m_cfg.guest_cid, m->m_nconns,
	    m->m_npending, m->m_cfg.max_conns,
	    (unsigned long long)s->ms_conns_total,
	    (unsigned long long)s->ms_rst_sent,
	    (unsigned long long)s->ms_rst_received,
	    (unsigned long long)s->ms_dropped,
	    (unsigned long long)s->ms_bad_packets,
	    (unsigned long long)s->ms_late_packets,
	    (unsigned long long)s->ms_tx_bytes,
	    (unsigned long long)s->ms_rx_bytes);
	cb(arg, line);
	TAILQ_FOREACH(c, &m->m_all, c_all) {
		vsock_conn_describe(c, line, sizeof(line));
		cb(arg, line);
	}
}

static void
be_send(void *b, const struct vsock_pkt_hdr *hdr, const void *payload)
{
	vsock_mux_from_guest(b, hdr, payload);
}

static int
be_recv(void *b, struct vsock_pkt_hdr *hdr, void *payload, size_t max)
{
	return vsock_mux_to_guest(b, hdr, payload, max);
}

static bool
be_has_rx(const void *b)
{
	return vsock_mux_has_rx(b);
}

static unsigned
be_credit_wait(const void *b, uint64_t *stalls)
{
	const struct vsock_mux *m = b;

	*stalls = m->m_stats.ms_credit_stalls_to_guest + m->m_grants;
	return (m->m_credit_waiters > 0 ? VSOCK_WAIT_CREDIT : 0) |
	    (m->m_guests_due > 0 ? VSOCK_WAIT_DATA : 0);
}

static void
be_reset(void *b)
{
	vsock_mux_reset(b);
}

static void
be_tx_begin(void *b)
{
	vsock_mux_tx_begin(b);
}

static void
be_send_held(void *b, const struct vsock_pkt_hdr *hdr, const void *payload)
{
	vsock_mux_from_guest_held(b, hdr, payload);
}

static void
be_tx_end(void *b)
{
	vsock_mux_tx_end(b);
}

const struct vsock_backend_ops vsock_mux_backend_ops = {
	.send = be_send,
	.recv = be_recv,
	.has_rx = be_has_rx,
	.reset = be_reset,
	.tx_begin = be_tx_begin,
	.send_held = be_send_held,
	.tx_end = be_tx_end,
	.credit_wait = be_credit_wait,
};

void
vsock_mux_get_info(const struct vsock_mux *m, struct vsock_mux_info *mi)
{
	mi->mi_guest_cid = m->m_cfg.guest_cid;
	mi->mi_conns = m->m_nconns;
	mi->mi_pending = m->m_npending;
	mi->mi_max_conns = m->m_cfg.max_conns;
}

void
vsock_mux_foreach_conn(const struct vsock_mux *m,
    void (*fn)(void *arg, const struct vsock_conn_info *ci), void *arg)
{
	const struct vsock_conn *c;
	struct vsock_conn_info ci;

	TAILQ_FOREACH(c, &m->m_all, c_all) {
		vsock_conn_info(c, &ci);
		fn(arg, &ci);
	}
}
