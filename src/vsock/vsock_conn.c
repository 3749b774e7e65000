/* SPDX-License-Identifier: MIT */
/* One vsock connection: its state machine, credit and host-socket I/O. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "common/loop.h"
#include "vsock/vsock_impl.h"

#define SEQ_EOR_BIT	0x80000000u

static void conn_fd_cb(struct loop *l, int fd, unsigned events, void *arg);

/* --- the guest -> host byte ring ------------------------------------ */

static int
ring_reserve(struct vsock_ring *r, uint32_t cap)
{
	if (r->r_buf != NULL)
		return 0;
	r->r_buf = malloc(cap);
	if (r->r_buf == NULL)
		return -ENOMEM;
	r->r_cap = cap;
	r->r_head = 0;
	r->r_len = 0;
	return 0;
}

static void
ring_put(struct vsock_ring *r, const uint8_t *p, uint32_t n)
{
	uint32_t tail = (r->r_head + r->r_len) % r->r_cap;
	uint32_t first = MIN(n, r->r_cap - tail);

	memcpy(r->r_buf + tail, p, first);
	memcpy(r->r_buf, p + first, n - first);
	r->r_len += n;
}

static int
ring_iov(const struct vsock_ring *r, struct iovec iov[2], uint32_t n)
{
	uint32_t first = MIN(n, r->r_cap - r->r_head);

	iov[0].iov_base = r->r_buf + r->r_head;
	iov[0].iov_len = first;
	iov[1].iov_base = r->r_buf;
	iov[1].iov_len = n - first;
	return n > first ? 2 : 1;
}

/* An empty ring gives its memory back: idle connections stay small. */
static void
ring_consume(struct vsock_ring *r, uint32_t n)
{
	r->r_head = (r->r_head + n) % r->r_cap;
	r->r_len -= n;
	if (r->r_len == 0) {
		free(r->r_buf);
		r->r_buf = NULL;
	}
}

static void
ring_free(struct vsock_ring *r)
{
	free(r->r_buf);
	memset(r, 0, sizeof(*r));
}

/* --- the cork (vsock_impl.h) ----------------------------------------- */

static uint32_t
cork_len(const struct vsock_conn *c)
{
	return c->c_cork != NULL ? c->c_cork->k_len : 0;
}

/* Off m_cork_ep; corked bytes are dropped (the caller wrote them or kills c). */
static void
cork_drop(struct vsock_conn *c)
{
	if (c->c_cork == NULL)
		return;
	if (c->c_fd >= 0)
		(void)epoll_ctl(c->c_mux->m_cork_ep, EPOLL_CTL_DEL, c->c_fd, NULL);
	free(c->c_cork);
	c->c_cork = NULL;
	c->c_mux->m_cork_bufs--;
}

/* Bytes of ours the host reader has not freed yet; 0 if unknown. */
static uint32_t
host_outq(int fd)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n) < 0 || n < 0)
		return 0;
	return (uint32_t)n;
}

/*
 * Cork c's next `len` bytes?  Only while its AF_UNIX stream reader still
 * holds bytes of ours: a reader that has consumed everything gets new
 * bytes at once, so a request never waits for its reply's sake.
 */
static bool
cork_begin(struct vsock_conn *c, uint32_t len)
{
	struct vsock_mux *m = c->c_mux;
	struct epoll_event ev;

	/* A small buffer is not worth it, and the cork must fit in it. */
	if (c->c_type != VSOCK_TYPE_STREAM || len >= VSOCK_CORK_PIECE ||
	    c->c_buf_alloc < 2 * VSOCK_CORK_MAX)
		return false;
	if (c->c_cork_ok == 0) {
		int dom = 0;
		socklen_t sl = sizeof(dom);

		c->c_cork_ok = getsockopt(c->c_fd, SOL_SOCKET, SO_DOMAIN, &dom,
		    &sl) == 0 && dom == AF_UNIX ? 1 : 2;
	}
	if (c->c_cork_ok != 1)
		return false;
	/*
	 * A reader that keeps up (one of many connections served in turn)
	 * is drained at every probe, and the probe is a syscall per piece
	 * for nothing: after VSOCK_CORK_DRAINED drained probes in a row the
	 * next VSOCK_CORK_UNPROBED pieces go at once unprobed.  They would
	 * mostly have gone at once anyway, and none ever waits.  A reader
	 * that is drained only now and then (a few connections sharing a
	 * reader) never gets that far and keeps its cork.
	 */
	if (c->c_probe_skip > 0) {
		c->c_probe_skip--;
		return false;
	}
	if (host_outq(c->c_fd) == 0) {
		if (c->c_drained_run < VSOCK_CORK_DRAINED)
			c->c_drained_run++;
		if (c->c_drained_run == VSOCK_CORK_DRAINED)
			c->c_probe_skip = VSOCK_CORK_UNPROBED;
		return false;
	}
	c->c_drained_run = 0;
	if (c->c_cork == NULL) {
		if (vsock_mux_cork_ep(m) < 0)
			return false;
		c->c_cork = malloc(sizeof(*c->c_cork));
		if (c->c_cork == NULL)
			return false;
		c->c_cork->k_len = 0;
		m->m_cork_bufs++;
		vsock_mux_cork_timer(m);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLOUT | EPOLLET;
		ev.data.ptr = c;
		/* Reports once at once (the socket is writable): see cork_event. */
		if (epoll_ctl(m->m_cork_ep, EPOLL_CTL_ADD, c->c_fd, &ev) < 0) {
			free(c->c_cork);
			c->c_cork = NULL;
			m->m_cork_bufs--;
			return false;
		}
	}
	c->c_cork->k_sweep = m->m_cork_sweeps;
	return true;
}

/* --- credit --------------------------------------------------------- */

static uint32_t
vsock_conn_peer_free(const struct vsock_conn *c)
{
	uint32_t in_flight = c->c_tx_cnt - c->c_peer_fwd_cnt;

	/* A fwd_cnt ahead of what we sent wraps to a huge value: no credit. */
	if (in_flight >= c->c_peer_buf_alloc)
		return 0;
	return c->c_peer_buf_alloc - in_flight;
}

/*
 * Tell the guest about freed space only when its view of our buffer is
 * below half and enough was freed to be worth a packet: a slow host
 * reader then costs one CREDIT_UPDATE per `step` bytes, never one per
 * write, and a fast one keeps the guest from ever running dry.  When
 * everything is forwarded the freed amount is above buf_alloc/2 >= step,
 * so the guest is never left waiting.
 */
static void
credit_check(struct vsock_conn *c)
{
	uint32_t unacked = c->c_fwd_cnt - c->c_fwd_sent;
	uint32_t guest_free = c->c_buf_alloc - (c->c_rx_cnt - c->c_fwd_sent);
	uint32_t low = c->c_buf_alloc / 2;
	uint32_t step = MAX(MIN(c->c_buf_alloc / 4, 64u * 1024), 1u);

	if (unacked >= step && guest_free < low) {
		c->c_pend |= VC_PEND_CREDIT_UPD;
		vsock_mux_schedule(c->c_mux, c);
	}
}

/* --- lifecycle ------------------------------------------------------ */

struct vsock_conn *
vsock_conn_new(struct vsock_mux *m, uint32_t gport, uint32_t hport,
    uint16_t type, int fd, enum vsock_conn_state st)
{
	struct vsock_conn *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->c_mux = m;
	c->c_gport = gport;
	c->c_hport = hport;
	c->c_type = type;
	c->c_state = st;
	c->c_fd = fd;
	c->c_buf_alloc = m->m_cfg.buf_alloc;
	c->c_born_ms = loop_now_ms();
	c->c_host_init = st == VC_HOST_INIT;
	if (vsock_mux_insert(m, c) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

/* c_credit_asked, with the muxer's count of connections asking. */
static void
set_credit_asked(struct vsock_conn *c, bool asked)
{
	if (c->c_credit_asked == asked)
		return;
	c->c_credit_asked = asked;
	if (asked)
		c->c_mux->m_credit_waiters++;
	else
		c->c_mux->m_credit_waiters--;
}

/*
 * c_guest_due: the guest had used all its credit and a packet just gave
 * it more, so its data is due next (vsock_backend.h credit_wait); over
 * with its next RW packet.
 */
static void
set_guest_due(struct vsock_conn *c, bool due)
{
	if (c->c_guest_due == due)
		return;
	c->c_guest_due = due;
	if (due) {
		c->c_mux->m_guests_due++;
		c->c_mux->m_grants++;
	} else {
		c->c_mux->m_guests_due--;
	}
}

static void
vsock_conn_free(struct vsock_conn *c)
{
	set_credit_asked(c, false);
	set_guest_due(c, false);
	if (c->c_held > 0)
		vsock_mux_drop_held(c->c_mux, c);
	vsock_mux_remove(c->c_mux, c);
	free(c);
}

static void
disarm_timer(struct vsock_conn *c)
{
	if (c->c_timer > 0)
		loop_del_timer(c->c_mux->m_loop, c->c_timer);
	c->c_timer = 0;
}

static void
release_host(struct vsock_conn *c)
{
	struct vsock_mux *m = c->c_mux;

	disarm_timer(c);
	if (c->c_held > 0)
		vsock_mux_drop_held(m, c);
	cork_drop(c);
	if (c->c_fd >= 0) {
		if (c->c_ev_reg)
			(void)loop_del_fd(m->m_loop, c->c_fd);
		close(c->c_fd);
	}
	c->c_fd = -1;
	c->c_ev_reg = false;
	ring_free(&c->c_txr);
	free(c->c_msgs);
	c->c_msgs = NULL;
	c->c_msgs_n = c->c_msgs_cap = c->c_msgs_head = c->c_msg_open = 0;
	free(c->c_rxm);
	c->c_rxm = NULL;
}

void
vsock_conn_kill(struct vsock_conn *c, bool rst)
{
	if (c->c_state == VC_DYING) {
		if (!rst)
			vsock_conn_free(c);
		return;
	}
	release_host(c);
	if (!rst) {
		vsock_conn_free(c);
		return;
	}
	/* The pair stays taken until the RST is out (no early reuse). */
	c->c_state = VC_DYING;
	c->c_pend = VC_PEND_RST;
	vsock_mux_schedule(c->c_mux, c);
}

static void
timer_cb(struct loop *l, void *arg)
{
	struct vsock_conn *c = arg;
	struct vsock_mux *m = c->c_mux;

	(void)l;
	c->c_timer = 0;
	vsock_mux_enter(m);
	vsock_log(m, LOG_INFO, "vsock: connection %u->%u timed out (%s)",
	    c->c_gport, c->c_hport,
	    c->c_state == VC_HOST_INIT ? "no answer to REQUEST" :
	    c->c_state == VC_CONNECTING ? "host connect" : "close");
	vsock_conn_kill(c, true);
	vsock_mux_leave(m);
}

void
vsock_conn_arm_timer(struct vsock_conn *c, uint32_t ms)
{
	int64_t id;

	/* Whoever arms it needs it whatever the guest does. */
	c->c_stall_timer = false;
	if (c->c_timer > 0)
		return;
	id = loop_add_timer(c->c_mux->m_loop, ms, timer_cb, c);
	if (id > 0)
		c->c_timer = id;
	else
		vsock_conn_kill(c, true);
}

/* Bytes that can still reach the host (an open SEQPACKET message cannot). */
static bool
tx_pending(const struct vsock_conn *c)
{
	if (c->c_type == VSOCK_TYPE_SEQPACKET)
		return c->c_msgs_n > 0;
	return c->c_txr.r_len > 0;
}

/*
 * Both directions finished, or the guest shut both: RST once the host has
 * everything; until then the close timer bounds the wait.
 */
static void
check_done(struct vsock_conn *c)
{
	bool guest_done, host_done;

	if (c->c_state != VC_ESTABLISHED)
		return;
	guest_done = (c->c_peer_shut & VSOCK_SHUTDOWN_SEND) != 0;
	/* Set as the SHUTDOWN packet is produced, so the guest knows. */
	host_done = (c->c_local_shut & VSOCK_SHUTDOWN_SEND) != 0;
	if (!tx_pending(c) && cork_len(c) == 0 && guest_done &&
	    (host_done || (c->c_peer_shut & VSOCK_SHUTDOWN_RCV))) {
		vsock_conn_kill(c, true);
		return;
	}
	if ((guest_done && (host_done ||
	    (c->c_peer_shut & VSOCK_SHUTDOWN_RCV))) ||
	    c->c_local_shut == (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND))
		vsock_conn_arm_timer(c, c->c_mux->m_cfg.close_timeout_ms);
}

void
vsock_conn_update_events(struct vsock_conn *c)
{
	struct vsock_mux *m = c->c_mux;
	unsigned want = 0;

	if (c->c_fd < 0)
		return;
	switch (c->c_state) {
	case VC_CONNECTING:
		want = LOOP_OUT;
		break;
	case VC_ESTABLISHED:
		/*
		 * Reading stays armed while the device keeps up, so the steady
		 * state costs no epoll_ctl; only a second readiness report with
		 * the first not yet pulled parks it, else a stalled guest
		 * would make the loop spin.
		 */
		if (!(c->c_pend & VC_PEND_DATA))
			c->c_in_parked = false;
		if (!c->c_in_parked && c->c_rxm == NULL &&
		    !(c->c_local_shut & VSOCK_SHUTDOWN_SEND) &&
		    !(c->c_peer_shut & VSOCK_SHUTDOWN_RCV) &&
		    vsock_conn_peer_free(c) > 0)
			want |= LOOP_IN;
		if (tx_pending(c))
			want |= LOOP_OUT;
		break;
	default:
		break;
	}
	/* A hung-up socket reports LOOP_ERR for ever: take it off the loop. */
	if (want == 0 && c->c_hup) {
		if (c->c_ev_reg)
			(void)loop_del_fd(m->m_loop, c->c_fd);
		c->c_ev_reg = false;
		/*
		 * The host is gone and the guest grants no credit for what it
		 * left: a guest that never reads would pin the connection (and
		 * its slot under max_conns) for ever.  Bound it like a close;
		 * credit from the guest lifts the deadline again.
		 */
		if (c->c_state == VC_ESTABLISHED && c->c_timer == 0 &&
		    vsock_conn_peer_free(c) == 0) {
			vsock_conn_arm_timer(c, m->m_cfg.close_timeout_ms);
			c->c_stall_timer = c->c_timer > 0;
		}
		return;
	}
	if (!c->c_ev_reg) {
		if (loop_add_fd(m->m_loop, c->c_fd, want, conn_fd_cb, c) < 0) {
			vsock_log(m, LOG_ERR, "vsock: cannot watch connection "
			    "%u->%u", c->c_gport, c->c_hport);
			vsock_conn_kill(c, true);
			return;
		}
		c->c_ev_reg = true;
		c->c_ev = want;
	} else if (want != c->c_ev) {
		(void)loop_mod_fd(m->m_loop, c->c_fd, want);
		c->c_ev = want;
	}
}

void
vsock_conn_connected(struct vsock_conn *c, int err)
{
	struct vsock_mux *m = c->c_mux;

	if (err != 0) {
		m->m_stats.ms_connect_failed++;
		vsock_log(m, LOG_INFO, "vsock: guest connect %u->%u failed: %s",
		    c->c_gport, c->c_hport, strerror(-err));
		vsock_conn_kill(c, true);
		return;
	}
	disarm_timer(c);
	c->c_state = VC_ESTABLISHED;
	c->c_pend |= VC_PEND_RESPONSE;
	vsock_mux_schedule(m, c);
	vsock_conn_update_events(c);
}

/* --- guest -> host -------------------------------------------------- */

static int
seq_push(struct vsock_conn *c, uint32_t len, bool eor)
{
	if (c->c_msgs_n == c->c_msgs_cap) {
		uint32_t ncap = c->c_msgs_cap ? c->c_msgs_cap * 2 : 8;
		uint32_t *n = malloc(ncap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < c->c_msgs_n; i++)
			n[i] = c->c_msgs[(c->c_msgs_head + i) % c->c_msgs_cap];
		free(c->c_msgs);
		c->c_msgs = n;
		c->c_msgs_cap = ncap;
		c->c_msgs_head = 0;
	}
	c->c_msgs[(c->c_msgs_head + c->c_msgs_n) % c->c_msgs_cap] =
	    len | (eor ? SEQ_EOR_BIT : 0);
	c->c_msgs_n++;
	return 0;
}

static ssize_t
send_eor(int fd, const struct iovec *iov, int niov, bool eor)
{
	struct msghdr mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)(uintptr_t)iov;
	mh.msg_iovlen = (size_t)niov;
	return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT |
	    (eor ? MSG_EOR : 0));
}

static void
forwarded(struct vsock_conn *c, uint32_t n)
{
	c->c_fwd_cnt += n;
	c->c_tx_bytes += n;
	c->c_mux->m_stats.ms_tx_bytes += n;
}

static void
host_write_failed(struct vsock_conn *c, int rc)
{
	vsock_log(c->c_mux, LOG_INFO, "vsock: connection %u->%u: host write: "
	    "%s, RST", c->c_gport, c->c_hport, strerror(-rc));
	vsock_conn_kill(c, true);
}

/* After guest data went to the host (rc 0) or could not (-errno). */
static void
wrote(struct vsock_conn *c, int rc)
{
	if (rc < 0) {
		host_write_failed(c, rc);
		return;
	}
	credit_check(c);
	vsock_conn_update_events(c);
}

/* Write buffered guest data to the host.  0, or -errno: kill. */
static int
flush(struct vsock_conn *c)
{
	struct vsock_ring *r = &c->c_txr;
	struct iovec iov[2];
	ssize_t n;

	while (tx_pending(c)) {
		uint32_t len = r->r_len;
		bool eor = false;

		if (c->c_type == VSOCK_TYPE_SEQPACKET) {
			len = c->c_msgs[c->c_msgs_head] & ~SEQ_EOR_BIT;
			eor = (c->c_msgs[c->c_msgs_head] & SEQ_EOR_BIT) != 0;
		}
		n = send_eor(c->c_fd, iov, ring_iov(r, iov, len), eor);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (c->c_type == VSOCK_TYPE_SEQPACKET) {
			if ((uint32_t)n != len)
				return -EMSGSIZE;
			c->c_msgs_head = (c->c_msgs_head + 1) % c->c_msgs_cap;
			c->c_msgs_n--;
		}
		ring_consume(r, (uint32_t)n);
		forwarded(c, (uint32_t)n);
	}
	if (!tx_pending(c) && (c->c_peer_shut & VSOCK_SHUTDOWN_SEND) &&
	    !c->c_wr_shut) {
		(void)shutdown(c->c_fd, SHUT_WR);
		c->c_wr_shut = true;
	}
	credit_check(c);
	return 0;
}

/*
 * Stream data for the host socket, after whatever is queued: into the
 * cork while its rule and may_cork allow (vsock_impl.h), else one
 * sendmsg() of the corked bytes and these, the rest into c_txr.  0, or
 * -errno: kill.
 */
static int
stream_out(struct vsock_conn *c, const struct iovec *iov, int niov,
    uint32_t total, bool may_cork)
{
	struct iovec v[VSOCK_HELD_MAX + 1];
	uint32_t klen = cork_len(c), skip;
	ssize_t w;
	int i, n = 0;

	if (tx_pending(c)) {
		/* The socket refused older bytes (the cork is empty then). */
		if (ring_reserve(&c->c_txr, c->c_buf_alloc) < 0)
			return -ENOMEM;
		for (i = 0; i < niov; i++)
			ring_put(&c->c_txr, iov[i].iov_base,
			    (uint32_t)iov[i].iov_len);
		return flush(c);
	}
	/* A piece worth its own write takes the corked bytes with it. */
	if (total > 0 && total < VSOCK_CORK_PIECE &&
	    klen + total < VSOCK_CORK_MAX && may_cork &&
	    (klen > 0 || cork_begin(c, total))) {
		for (i = 0; i < niov; i++) {
			memcpy(c->c_cork->k_buf + klen, iov[i].iov_base,
			    iov[i].iov_len);
			klen += (uint32_t)iov[i].iov_len;
		}
		c->c_cork->k_len = klen;
		return 0;
	}
	if (klen > 0) {
		v[n].iov_base = c->c_cork->k_buf;
		v[n++].iov_len = klen;
	}
	for (i = 0; i < niov; i++)
		v[n++] = iov[i];
	if (n == 0)
		return 0;
	do
		w = send_eor(c->c_fd, v, n, false);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN)
		return -errno;
	if (w < 0)
		w = 0;
	forwarded(c, (uint32_t)w);
	if ((uint32_t)w < klen + total) {
		/*
		 * Credit bounds corked + buffered + new bytes by buf_alloc,
		 * and the cork goes while the buffer is there: a guest's data
		 * never takes more than buf_alloc of memory.
		 */
		if (ring_reserve(&c->c_txr, c->c_buf_alloc) < 0)
			return -ENOMEM;
		for (i = 0, skip = (uint32_t)w; i < n; i++) {
			if (skip >= v[i].iov_len) {
				skip -= (uint32_t)v[i].iov_len;
				continue;
			}
			ring_put(&c->c_txr, (const uint8_t *)v[i].iov_base +
			    skip, (uint32_t)v[i].iov_len - skip);
			skip = 0;
		}
		cork_drop(c);
	} else if (klen > 0) {
		c->c_cork->k_len = 0;
	}
	return 0;
}

void
vsock_conn_uncork(struct vsock_conn *c)
{
	if (cork_len(c) == 0 || c->c_fd < 0)
		return;
	wrote(c, stream_out(c, NULL, 0, 0, false));
}

void
vsock_conn_cork_event(struct vsock_conn *c)
{
	if (cork_len(c) == 0)
		return;
	/*
	 * Only a reader that has freed all our bytes can be waiting for
	 * more; until then it has bytes to read and more may join the cork.
	 * The event cork_begin's EPOLL_CTL_ADD reports at once lands here too.
	 */
	if (host_outq(c->c_fd) == 0)
		vsock_conn_uncork(c);
}

void
vsock_conn_cork_sweep(struct vsock_conn *c, uint64_t before)
{
	if (c->c_cork == NULL || c->c_cork->k_sweep >= before)
		return;
	if (c->c_cork->k_len > 0)
		vsock_conn_uncork(c);
	else if (c->c_cork->k_sweep + 1 < before) {
		/* Nothing corked for a whole tick: the stream paused. */
		cork_drop(c);
	}
}

static void
guest_rw(struct vsock_conn *c, const struct vsock_pkt_hdr *h,
    const uint8_t *p)
{
	struct vsock_mux *m = c->c_mux;
	uint32_t used = c->c_rx_cnt - c->c_fwd_cnt, len = h->len, done = 0;
	bool seq = c->c_type == VSOCK_TYPE_SEQPACKET;
	bool eom = (h->flags & VSOCK_SEQ_EOM) != 0;
	bool eor = (h->flags & VSOCK_SEQ_EOR) != 0;
	bool tried = false;
	int rc;

	set_guest_due(c, false);
	if (c->c_peer_shut & VSOCK_SHUTDOWN_SEND) {
		m->m_stats.ms_bad_packets++;
		vsock_log(m, LOG_WARNING, "vsock: connection %u->%u: data "
		    "after SHUTDOWN(SEND), RST", c->c_gport, c->c_hport);
		vsock_conn_kill(c, true);
		return;
	}
	if (len > c->c_buf_alloc - used) {
		m->m_stats.ms_credit_violations++;
		vsock_log(m, LOG_WARNING, "vsock: connection %u->%u: guest "
		    "sent %u bytes with %u of credit, RST", c->c_gport,
		    c->c_hport, len, c->c_buf_alloc - used);
		vsock_conn_kill(c, true);
		return;
	}
	c->c_rx_cnt += len;
	if (c->c_rx_cnt - c->c_fwd_sent == c->c_buf_alloc) {
		c->c_stalls_to_host++;
		m->m_stats.ms_credit_stalls_to_host++;
	}
	/* In a TX batch stream data waits in place for one write at its end. */
	if (!seq) {
		struct iovec iov = { .iov_base = (void *)(uintptr_t)p,
		    .iov_len = len };

		if (!vsock_mux_hold(m, c, p, len))
			wrote(c, stream_out(c, &iov, 1, len, true));
		return;
	}
	/* Straight through when nothing is queued ahead. */
	if (!tx_pending(c) && c->c_msg_open == 0 && eom) {
		struct iovec iov = { .iov_base = (void *)(uintptr_t)p,
		    .iov_len = len };
		ssize_t n;

		tried = true;
		do
			n = send_eor(c->c_fd, &iov, 1, eor);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			rc = -errno;
			goto err;
		}
		if (n > 0 && (uint32_t)n != len) {
			rc = -EMSGSIZE;
			goto err;
		}
		if (n > 0) {
			done = (uint32_t)n;
			forwarded(c, done);
		}
	}
	if (done < len) {
		if (ring_reserve(&c->c_txr, c->c_buf_alloc) < 0) {
			rc = -ENOMEM;
			goto err;
		}
		ring_put(&c->c_txr, p + done, len - done);
		c->c_msg_open += len;
		if (eom) {
			if (seq_push(c, c->c_msg_open, eor) < 0) {
				rc = -ENOMEM;
				goto err;
			}
			c->c_msg_open = 0;
		} else if (c->c_msgs_n == 0 &&
		    c->c_txr.r_len == c->c_buf_alloc) {
			/* A message bigger than our buffer: never deliverable. */
			rc = -EMSGSIZE;
			goto err;
		}
		/* The socket just refused more: only older data may go now. */
		rc = tried ? 0 : flush(c);
		if (rc < 0)
			goto err;
	}
	rc = 0;
err:
	wrote(c, rc);
}

void
vsock_conn_flush_held(struct vsock_conn *c, bool may_cork)
{
	struct vsock_mux *m = c->c_mux;
	struct iovec iov[VSOCK_HELD_MAX];
	uint32_t i, n = 0, total = 0;

	for (i = 0; i < m->m_nheld && n < c->c_held; i++) {
		struct vsock_held *h = &m->m_held[i];

		if (h->h_conn != c)
			continue;
		iov[n].iov_base = (void *)(uintptr_t)h->h_p;
		iov[n].iov_len = h->h_len;
		total += h->h_len;
		h->h_conn = NULL;
		n++;
	}
	c->c_held = 0;
	if (n == 0 || c->c_fd < 0)
		return;
	wrote(c, stream_out(c, iov, (int)n, total, may_cork));
}

static void
guest_shutdown(struct vsock_conn *c, uint32_t flags)
{
	uint32_t new = flags & ~c->c_peer_shut &
	    (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);

	c->c_peer_shut |= new;
	if (new & VSOCK_SHUTDOWN_RCV) {
		/* The host peer's writes now fail, as they would on a socket. */
		(void)shutdown(c->c_fd, SHUT_RD);
		c->c_pend &= ~VC_PEND_DATA;
		free(c->c_rxm);
		c->c_rxm = NULL;
	}
	if ((new & VSOCK_SHUTDOWN_SEND) && !tx_pending(c) && !c->c_wr_shut) {
		(void)shutdown(c->c_fd, SHUT_WR);
		c->c_wr_shut = true;
	}
	vsock_conn_update_events(c);
}

static void
host_init_reply(struct vsock_conn *c, const struct vsock_pkt_hdr *h)
{
	struct vsock_mux *m = c->c_mux;
	char ok[32];
	int n;

	if (h->op != VSOCK_OP_RESPONSE) {
		m->m_stats.ms_bad_packets++;
		vsock_conn_kill(c, true);
		return;
	}
	disarm_timer(c);
	c->c_state = VC_ESTABLISHED;
	if (m->m_cfg.send_ok_line && !c->c_quiet) {
		n = vsock_connect_ok_format(ok, sizeof(ok), c->c_hport);
		/* A fresh socket has room for a dozen bytes; short = gone. */
		if (n < 0 || send(c->c_fd, ok, (size_t)n,
		    MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
			vsock_log(m, LOG_INFO, "vsock: host client for port %u "
			    "left before OK", c->c_gport);
			vsock_conn_kill(c, true);
			return;
		}
	}
	vsock_conn_update_events(c);
}

void
vsock_conn_from_guest(struct vsock_conn *c, const struct vsock_pkt_hdr *h,
    const void *payload)
{
	struct vsock_mux *m = c->c_mux;
	bool had_credit;

	had_credit = vsock_conn_peer_free(c) > 0;
	c->c_tx_pkts++;
	/* Every packet carries the guest's credit. */
	c->c_peer_buf_alloc = h->buf_alloc;
	c->c_peer_fwd_cnt = h->fwd_cnt;
	if (vsock_conn_peer_free(c) > 0) {
		set_credit_asked(c, false);
		if (c->c_stall_timer) {
			disarm_timer(c);
			c->c_stall_timer = false;
		}
		if (!had_credit && c->c_rxm != NULL) {
			c->c_pend |= VC_PEND_DATA;
			vsock_mux_schedule(m, c);
		}
	}
	switch (c->c_state) {
	case VC_CONNECTING:
		m->m_stats.ms_bad_packets++;
		vsock_conn_kill(c, true);
		return;
	case VC_HOST_INIT:
		host_init_reply(c, h);
		return;
	case VC_ESTABLISHED:
		break;
	default:
		return;
	}
	switch (h->op) {
	case VSOCK_OP_RW:
		guest_rw(c, h, payload);
		break;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(c, h->flags);
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->c_pend |= VC_PEND_CREDIT_UPD;
		vsock_mux_schedule(m, c);
		vsock_conn_update_events(c);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		vsock_conn_update_events(c);
		break;
	default:
		/* REQUEST or RESPONSE on an established pair. */
		m->m_stats.ms_bad_packets++;
		vsock_log(m, LOG_WARNING, "vsock: connection %u->%u: op %u "
		    "while established, RST", c->c_gport, c->c_hport, h->op);
		vsock_conn_kill(c, true);
		return;
	}
	if (c->c_state == VC_ESTABLISHED)
		check_done(c);
}

/* --- host -> guest -------------------------------------------------- */

static void
ask_credit(struct vsock_conn *c)
{
	if (c->c_credit_asked)
		return;
	set_credit_asked(c, true);
	c->c_stalls_to_guest++;
	c->c_mux->m_stats.ms_credit_stalls_to_guest++;
	c->c_pend |= VC_PEND_CREDIT_REQ;
}

/* Peer closed entirely (not just SHUT_WR)? */
static bool
host_gone(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

static void
host_eof(struct vsock_conn *c, struct vsock_pkt_hdr *h)
{
	c->c_pend &= ~VC_PEND_DATA;
	c->c_local_shut |= VSOCK_SHUTDOWN_SEND;
	if (host_gone(c->c_fd))
		c->c_local_shut |= VSOCK_SHUTDOWN_RCV;
	h->op = VSOCK_OP_SHUTDOWN;
	h->flags = c->c_local_shut;
}

/* 1: *h is a packet; 0: nothing after all; -1: c was killed. */
static int
read_stream(struct vsock_conn *c, struct vsock_pkt_hdr *h, void *payload,
    size_t max)
{
	uint32_t want = MIN(vsock_conn_peer_free(c), VSOCK_MAX_PAYLOAD);
	ssize_t n;

	want = (uint32_t)MIN((size_t)want, max);
	if (want == 0) {
		c->c_pend &= ~VC_PEND_DATA;
		if (vsock_conn_peer_free(c) == 0)
			ask_credit(c);
		return 0;
	}
	do
		n = recv(c->c_fd, payload, want, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		c->c_pend &= ~VC_PEND_DATA;
		if (errno == EAGAIN)
			return 0;
		vsock_log(c->c_mux, LOG_INFO, "vsock: connection %u->%u: host "
		    "read: %s, RST", c->c_gport, c->c_hport, strerror(errno));
		vsock_conn_kill(c, true);
		return -1;
	}
	if (n == 0) {
		host_eof(c, h);
		return 1;
	}
	h->op = VSOCK_OP_RW;
	h->len = (uint32_t)n;
	/* A short read means drained: let the loop tell us about more. */
	if ((uint32_t)n < want)
		c->c_pend &= ~VC_PEND_DATA;
	return 1;
}

static int
read_seq(struct vsock_conn *c, struct vsock_pkt_hdr *h, void *payload,
    size_t max)
{
	uint32_t n;

	if (c->c_rxm == NULL) {
		struct iovec iov;
		struct msghdr mh;
		ssize_t len;
		uint8_t b;

		do
			len = recv(c->c_fd, &b, 0,
			    MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		while (len < 0 && errno == EINTR);
		if (len < 0 && errno == EAGAIN) {
			c->c_pend &= ~VC_PEND_DATA;
			return 0;
		}
		if (len < 0 || len > (ssize_t)VSOCK_MAX_PAYLOAD) {
			vsock_log(c->c_mux, LOG_INFO, "vsock: connection %u->%u: "
			    "host message: %s, RST", c->c_gport, c->c_hport,
			    len < 0 ? strerror(errno) : "above 64 KiB");
			vsock_conn_kill(c, true);
			return -1;
		}
		if (len == 0) {
			struct pollfd pfd = { .fd = c->c_fd,
			    .events = POLLIN | POLLRDHUP };

			/* EOF, or an empty message that cannot be sent on. */
			(void)recv(c->c_fd, &b, 1, MSG_DONTWAIT);
			if (poll(&pfd, 1, 0) == 1 &&
			    (pfd.revents & (POLLRDHUP | POLLHUP))) {
				host_eof(c, h);
				return 1;
			}
			return 0;
		}
		c->c_rxm = malloc((size_t)len);
		if (c->c_rxm == NULL) {
			vsock_conn_kill(c, true);
			return -1;
		}
		iov.iov_base = c->c_rxm;
		iov.iov_len = (size_t)len;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (recvmsg(c->c_fd, &mh, MSG_DONTWAIT) != len) {
			vsock_conn_kill(c, true);
			return -1;
		}
		c->c_rxm_len = (uint32_t)len;
		c->c_rxm_off = 0;
		c->c_rxm_flags = (mh.msg_flags & MSG_EOR) ? VSOCK_SEQ_EOR : 0;
	}
	n = MIN(vsock_conn_peer_free(c), c->c_rxm_len - c->c_rxm_off);
	n = (uint32_t)MIN((size_t)n, max);
	if (n == 0) {
		c->c_pend &= ~VC_PEND_DATA;
		if (vsock_conn_peer_free(c) == 0)
			ask_credit(c);
		return 0;
	}
	memcpy(payload, c->c_rxm + c->c_rxm_off, n);
	c->c_rxm_off += n;
	h->op = VSOCK_OP_RW;
	h->len = n;
	if (c->c_rxm_off == c->c_rxm_len) {
		h->flags = VSOCK_SEQ_EOM | c->c_rxm_flags;
		free(c->c_rxm);
		c->c_rxm = NULL;
		/* More messages may wait; the loop reports them. */
		c->c_pend &= ~VC_PEND_DATA;
	}
	return 1;
}

int
vsock_conn_to_guest(struct vsock_conn *c, struct vsock_pkt_hdr *h,
    void *payload, size_t max_payload)
{
	struct vsock_mux *m = c->c_mux;
	int rc;

	vsock_mux_hdr_to_guest(m, h, c->c_hport, c->c_gport, c->c_type);
	if (c->c_pend & VC_PEND_RST) {
		h->op = VSOCK_OP_RST;
		m->m_stats.ms_rst_sent++;
		vsock_conn_free(c);
		return 1;
	}
	h->buf_alloc = c->c_buf_alloc;
	if (c->c_pend & VC_PEND_REQUEST) {
		c->c_pend &= ~VC_PEND_REQUEST;
		h->op = VSOCK_OP_REQUEST;
		goto sent;
	}
	if (c->c_pend & VC_PEND_RESPONSE) {
		c->c_pend &= ~VC_PEND_RESPONSE;
		h->op = VSOCK_OP_RESPONSE;
		goto sent;
	}
	if ((c->c_pend & VC_PEND_DATA) && max_payload > 0) {
		if (c->c_type == VSOCK_TYPE_SEQPACKET)
			rc = read_seq(c, h, payload, max_payload);
		else
			rc = read_stream(c, h, payload, max_payload);
		if (rc < 0)
			return vsock_conn_to_guest(c, h, payload, max_payload);
		if (rc == 1) {
			if (h->op == VSOCK_OP_RW) {
				c->c_tx_cnt += h->len;
				c->c_rx_bytes += h->len;
				m->m_stats.ms_rx_bytes += h->len;
				if (vsock_conn_peer_free(c) == 0)
					ask_credit(c);
			}
			goto sent;
		}
	}
	if (c->c_pend & VC_PEND_CREDIT_REQ) {
		c->c_pend &= ~VC_PEND_CREDIT_REQ;
		h->op = VSOCK_OP_CREDIT_REQUEST;
		m->m_stats.ms_credit_requests++;
		goto sent;
	}
	if (c->c_pend & VC_PEND_CREDIT_UPD) {
		h->op = VSOCK_OP_CREDIT_UPDATE;
		m->m_stats.ms_credit_updates++;
		goto sent;
	}
	vsock_conn_update_events(c);
	/* DATA with no room in this slot stays queued for the next call. */
	vsock_mux_schedule(m, c);
	return 0;
sent:
	/* A guest with no credit left gets some: its data comes next. */
	if (c->c_rx_cnt - c->c_fwd_sent == c->c_buf_alloc &&
	    c->c_fwd_cnt != c->c_fwd_sent && c->c_state == VC_ESTABLISHED)
		set_guest_due(c, true);
	/* Any packet carries fwd_cnt: a separate CREDIT_UPDATE is moot. */
	h->fwd_cnt = c->c_fwd_cnt;
	c->c_fwd_sent = c->c_fwd_cnt;
	c->c_pend &= ~VC_PEND_CREDIT_UPD;
	c->c_rx_pkts++;
	if (h->op == VSOCK_OP_SHUTDOWN &&
	    (c->c_local_shut & VSOCK_SHUTDOWN_RCV))
		/* Host closed entirely: the guest owes us an RST. */
		vsock_conn_arm_timer(c, m->m_cfg.close_timeout_ms);
	if (c->c_state == VC_ESTABLISHED)
		check_done(c);
	if (c->c_state == VC_ESTABLISHED)
		vsock_conn_update_events(c);
	vsock_mux_schedule(m, c);
	return 1;
}

/* --- host socket events -------------------------------------------- */

static void
conn_fd_cb(struct loop *l, int fd, unsigned events, void *arg)
{
	struct vsock_conn *c = arg;
	struct vsock_mux *m = c->c_mux;
	int err = 0, rc;
	socklen_t sl = sizeof(err);

	(void)l;
	vsock_mux_enter(m);
	if (events & LOOP_ERR)
		c->c_hup = true;
	switch (c->c_state) {
	case VC_CONNECTING:
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		vsock_conn_connected(c, -err);
		break;
	case VC_HOST_INIT:
		/* The client left before the guest answered. */
		if (events & LOOP_ERR)
			vsock_conn_kill(c, true);
		break;
	case VC_ESTABLISHED:
		if (events & LOOP_OUT) {
			rc = flush(c);
			if (rc < 0) {
				host_write_failed(c, rc);
				break;
			}
		}
		if (events & LOOP_IN) {
			if (c->c_pend & VC_PEND_DATA)
				c->c_in_parked = true;
			c->c_pend |= VC_PEND_DATA;
			vsock_mux_schedule(m, c);
		}
		if ((events & LOOP_ERR) && !(events & LOOP_IN) &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 &&
		    err != 0) {
			vsock_conn_kill(c, true);
			break;
		}
		check_done(c);
		if (c->c_state == VC_ESTABLISHED)
			vsock_conn_update_events(c);
		break;
	default:
		break;
	}
	vsock_mux_leave(m);
}

static const char *const vc_state_names[] = {
	[VC_CONNECTING] = "connecting", [VC_HOST_INIT] = "host-init",
	[VC_ESTABLISHED] = "established", [VC_DYING] = "dying",
};

void
vsock_conn_describe(const struct vsock_conn *c, char *buf, size_t size)
{
	snprintf(buf, size, "vsock: %s %u->%u %s shut g%u/h%u age %llums "
	    "g->h %llu B/%llu pkts (buffered %u) h->g %llu B/%llu pkts, "
	    "guest credit %u, pending 0x%x",
	    c->c_type == VSOCK_TYPE_SEQPACKET ? "seqpacket" : "stream",
	    c->c_gport, c->c_hport, vc_state_names[c->c_state], c->c_peer_shut,
	    c->c_local_shut,
	    (unsigned long long)(loop_now_ms() - c->c_born_ms),
	    (unsigned long long)c->c_tx_bytes,
	    (unsigned long long)c->c_tx_pkts, c->c_txr.r_len + cork_len(c),
	    (unsigned long long)c->c_rx_bytes,
	    (unsigned long long)c->c_rx_pkts, vsock_conn_peer_free(c),
	    c->c_pend);
}

void
vsock_conn_info(const struct vsock_conn *c, struct vsock_conn_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->ci_type = c->c_type == VSOCK_TYPE_SEQPACKET ? "seqpacket" : "stream";
	ci->ci_state = vc_state_names[c->c_state];
	ci->ci_host_initiated = c->c_host_init;
	ci->ci_guest_port = c->c_gport;
	ci->ci_host_port = c->c_hport;
	ci->ci_age_ms = loop_now_ms() - c->c_born_ms;
	ci->ci_guest_shut = c->c_peer_shut;
	ci->ci_host_shut = c->c_local_shut;
	ci->ci_to_host_bytes = c->c_tx_bytes;
	ci->ci_to_host_pkts = c->c_tx_pkts;
	ci->ci_to_host_buffered = c->c_txr.r_len + cork_len(c);
	ci->ci_to_guest_bytes = c->c_rx_bytes;
	ci->ci_to_guest_pkts = c->c_rx_pkts;
	ci->ci_buf_alloc = c->c_buf_alloc;
	ci->ci_guest_buf_alloc = c->c_peer_buf_alloc;
	ci->ci_guest_credit = vsock_conn_peer_free(c);
	ci->ci_credit_stalls_to_guest = c->c_stalls_to_guest;
	ci->ci_credit_stalls_to_host = c->c_stalls_to_host;
}
