/* SPDX-License-Identifier: MIT */
/* The migration session bridge (vsock_mig.h). */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/usock.h"
#include "hcvsock_abi.h"
#include "vsock/vsock_backend.h"
#include "vsock/vsock_impl.h"
#include "vsock/vsock_mig.h"

#define DEF_MAX_SESSIONS	16u
#define MAX_CLIENTS		64u	/* connections not (yet) a session */

enum mig_state {
	MS_LINE,	/* reading the command line */
	MS_PAYLOAD,	/* reading a START request's bytes */
	MS_REPORT_WAIT,	/* REPORT <mid>: waiting for the guest's report */
	MS_QUEUED,	/* request waits for a WaitForRequest */
	MS_LIVE,	/* the guest took it: a byte stream */
	MS_REPORTED,	/* ended by the guest's report */
};

struct mig_sess {
	struct vsock_mig	*s_mig;
	TAILQ_ENTRY(mig_sess)	 s_link;
	enum mig_state		 s_state;
	int			 s_fd;		/* -1: closed */
	bool			 s_on_loop;
	bool			 s_hup;		/* peer hung up: read what is left */
	bool			 s_want_in;	/* a Receive waits for bytes */
	bool			 s_want_out;	/* a Send waits for room */
	bool			 s_closing;	/* reported: close once flushed */
	int64_t			 s_timer;
	uint64_t		 s_born_ms;

	char			 s_line[VSOCK_MIG_LINE_MAX];
	uint32_t		 s_line_len;
	uint32_t		 s_op;
	uint64_t		 s_mid;
	uint8_t			*s_req;
	uint32_t		 s_req_len;
	uint32_t		 s_req_got;

	uint8_t			*s_out;		/* guest -> host, not yet written */
	uint32_t		 s_out_len;

	uint64_t		 s_report;	/* MS_REPORTED */
	uint8_t			*s_rdata;
	uint32_t		 s_rlen;
	uint64_t		 s_to_host;
	uint64_t		 s_to_guest;
};

TAILQ_HEAD(mig_list, mig_sess);

struct vsock_mig {
	struct loop		*b_loop;
	struct vsock_mig_cfg	 b_cfg;
	struct usock_listener	*b_listener;
	struct mig_list		 b_clients;	/* MS_LINE, MS_PAYLOAD, MS_REPORT_WAIT */
	struct mig_list		 b_sessions;	/* MS_QUEUED, MS_LIVE, MS_REPORTED */
	uint32_t		 b_nclients;
	uint32_t		 b_nsessions;
	bool			 b_news;
	int64_t			 b_wake_timer;
	int64_t			 b_wake_at;
	struct vsock_mig_stats	 b_st;
	struct log_ratelimit	 b_rl;
};

static void sess_cb(struct loop *l, int fd, unsigned events, void *arg);

/* ---- Small helpers ------------------------------------------------------------ */

static void
news(struct vsock_mig *b, bool wake)
{
	b->b_news = true;
	if (wake && b->b_cfg.wake != NULL)
		b->b_cfg.wake(b->b_cfg.wake_arg);
}

static void
set_events(struct mig_sess *s, unsigned ev)
{
	/* A hung-up socket would report itself on every loop turn. */
	if (s->s_fd < 0 || s->s_hup)
		return;
	if (!s->s_on_loop) {
		if (loop_add_fd(s->s_mig->b_loop, s->s_fd, ev, sess_cb, s) == 0)
			s->s_on_loop = true;
		return;
	}
	(void)loop_mod_fd(s->s_mig->b_loop, s->s_fd, ev);
}

static void
close_fd(struct mig_sess *s)
{
	if (s->s_fd < 0)
		return;
	if (s->s_on_loop)
		(void)loop_del_fd(s->s_mig->b_loop, s->s_fd);
	s->s_on_loop = false;
	close(s->s_fd);
	s->s_fd = -1;
	free(s->s_out);
	s->s_out = NULL;
	s->s_out_len = 0;
}

static void
disarm(struct mig_sess *s)
{
	if (s->s_timer > 0)
		loop_del_timer(s->s_mig->b_loop, s->s_timer);
	s->s_timer = 0;
}

static bool
is_session(const struct mig_sess *s)
{
	return s->s_state == MS_QUEUED || s->s_state == MS_LIVE ||
	    s->s_state == MS_REPORTED;
}

static void orphan_waiters(struct vsock_mig *, uint64_t);

static void
sess_free(struct mig_sess *s)
{
	struct vsock_mig *b = s->s_mig;

	disarm(s);
	close_fd(s);
	if (is_session(s)) {
		TAILQ_REMOVE(&b->b_sessions, s, s_link);
		b->b_nsessions--;
		orphan_waiters(b, s->s_mid);
	} else {
		TAILQ_REMOVE(&b->b_clients, s, s_link);
		b->b_nclients--;
	}
	free(s->s_req);
	free(s->s_rdata);
	free(s);
}

/* A short line to the host program; a full socket loses it (never blocks). */
static void
say(struct mig_sess *s, const char *line)
{
	if (s->s_fd >= 0)
		(void)send(s->s_fd, line, strlen(line),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void
refuse(struct mig_sess *s, const char *why)
{
	char line[32];

	s->s_mig->b_st.gs_refused++;
	snprintf(line, sizeof(line), "ERR %s\n", why);
	say(s, line);
	sess_free(s);
}

/*
 * A session that ends without a report (a timeout, its host program gone,
 * a reset) ends its REPORT waiters too: nothing else would, and each holds
 * a client place.
 */
static void
orphan_waiters(struct vsock_mig *b, uint64_t mid)
{
	struct mig_sess *c, *next;

	for (c = TAILQ_FIRST(&b->b_clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, s_link);
		if (c->s_state == MS_REPORT_WAIT && c->s_mid == mid)
			refuse(c, "reset");
	}
}

static struct mig_sess *
find(struct vsock_mig *b, uint64_t mid)
{
	struct mig_sess *s;

	TAILQ_FOREACH(s, &b->b_sessions, s_link)
		if (s->s_mid == mid)
			return s;
	return NULL;
}

/* A report reaches every REPORT client waiting for it. */
static void
deliver_report(struct vsock_mig *b, struct mig_sess *rep)
{
	struct mig_sess *c, *next;
	char line[96];

	snprintf(line, sizeof(line), "REPORT %" PRIu64 " %u %u %u\n",
	    rep->s_mid, (unsigned)(rep->s_report & 0xff),
	    (unsigned)((rep->s_report >> 8) & 0xff), rep->s_rlen);
	for (c = TAILQ_FIRST(&b->b_clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, s_link);
		if (c->s_state != MS_REPORT_WAIT || c->s_mid != rep->s_mid)
			continue;
		/* A blocking write: the report is small and the socket fresh. */
		if (c->s_fd >= 0 && c->s_on_loop) {
			(void)loop_del_fd(b->b_loop, c->s_fd);
			c->s_on_loop = false;
		}
		say(c, line);
		if (rep->s_rlen > 0 && c->s_fd >= 0)
			(void)send(c->s_fd, rep->s_rdata, rep->s_rlen,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		sess_free(c);
	}
}

/* Room for one more session: a reported one nobody fetched makes way. */
static bool
make_room(struct vsock_mig *b)
{
	struct mig_sess *s;

	if (b->b_nsessions < b->b_cfg.max_sessions)
		return true;
	TAILQ_FOREACH(s, &b->b_sessions, s_link) {
		if (s->s_state == MS_REPORTED && s->s_fd < 0) {
			sess_free(s);
			return true;
		}
	}
	return false;
}

/* ---- Guest -> host bytes -------------------------------------------------- */

static uint32_t
out_cap(const struct vsock_mig *b)
{
	return MAX(b->b_cfg.buf_alloc, (uint32_t)HCVS_MSG_MAX_PAYLOAD);
}

/* Write what is buffered; 0, or -EPIPE when the host side is gone. */
static int
flush(struct mig_sess *s)
{
	ssize_t n;

	while (s->s_out_len > 0 && s->s_fd >= 0) {
		n = send(s->s_fd, s->s_out, s->s_out_len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			close_fd(s);
			return -EPIPE;
		}
		memmove(s->s_out, s->s_out + n, s->s_out_len - (uint32_t)n);
		s->s_out_len -= (uint32_t)n;
	}
	return s->s_fd >= 0 ? 0 : -EPIPE;
}

static void
update_events(struct mig_sess *s)
{
	unsigned ev = 0;

	if (s->s_want_in && !s->s_hup)
		ev |= LOOP_IN;
	if (s->s_out_len > 0)
		ev |= LOOP_OUT;
	set_events(s, ev);
}

/* ---- Host connections ------------------------------------------------------- */

static void
client_timeout_cb(struct loop *l, void *arg)
{
	struct mig_sess *s = arg;

	(void)l;
	s->s_timer = 0;
	refuse(s, "timeout");
}

static void
close_timeout_cb(struct loop *l, void *arg)
{
	struct mig_sess *s = arg;

	(void)l;
	s->s_timer = 0;
	close_fd(s);
}

static void
arm(struct mig_sess *s, uint32_t ms, loop_timer_cb cb)
{
	int64_t id;

	disarm(s);
	id = loop_add_timer(s->s_mig->b_loop, ms, cb, s);
	s->s_timer = id > 0 ? id : 0;
}

static bool
parse_u64(const char **p, uint64_t max, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		uint64_t d = (uint64_t)(*s++ - '0');

		/* Every mid MigTD can choose, up to UINT64_MAX itself. */
		if (x > UINT64_MAX / 10 ||
		    (x == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return false;
		x = x * 10 + d;
	}
	if (x > max)
		return false;
	*v = x;
	*p = s;
	return true;
}

/*
 * "START <op> <len>" or "REPORT <mid>", one blank between, optional CR.
 * Returns -1 when s was freed (refused, or its report delivered at once).
 */
static int
line_done(struct mig_sess *s)
{
	struct vsock_mig *b = s->s_mig;
	const char *p = s->s_line;
	uint64_t a, c;

	if (s->s_line_len > 0 && s->s_line[s->s_line_len - 1] == '\r')
		s->s_line[--s->s_line_len] = '\0';
	if (strncmp(p, "START ", 6) == 0) {
		p += 6;
		if (!parse_u64(&p, 255, &a) || a == 0 || *p++ != ' ' ||
		    !parse_u64(&p, HCVS_MSG_MAX_PAYLOAD, &c) || c < 8 ||
		    *p != '\0') {
			refuse(s, "syntax");
			return -1;
		}
		s->s_req = malloc(c);
		if (s->s_req == NULL) {
			refuse(s, "busy");
			return -1;
		}
		s->s_op = (uint32_t)a;
		s->s_req_len = (uint32_t)c;
		s->s_state = MS_PAYLOAD;
		return 0;
	}
	if (strncmp(p, "REPORT ", 7) == 0) {
		struct mig_sess *t;

		p += 7;
		if (!parse_u64(&p, UINT64_MAX, &a) || *p != '\0') {
			refuse(s, "syntax");
			return -1;
		}
		t = find(b, a);
		if (t == NULL) {
			refuse(s, "unknown");
			return -1;
		}
		s->s_mid = a;
		s->s_state = MS_REPORT_WAIT;
		disarm(s);
		if (t->s_state == MS_REPORTED) {
			deliver_report(b, t);	/* frees every waiter, s too */
			return -1;
		}
		set_events(s, 0);	/* only its hang-up matters now */
		return 0;
	}
	refuse(s, "syntax");
	return -1;
}

/* The request is complete: it becomes a queued session. */
static void
request_done(struct mig_sess *s)
{
	struct vsock_mig *b = s->s_mig;
	uint64_t mid;

	memcpy(&mid, s->s_req, sizeof(mid));
	mid = le64toh(mid);
	if (find(b, mid) != NULL) {
		refuse(s, "exists");
		return;
	}
	if (!make_room(b)) {
		refuse(s, "busy");
		return;
	}
	TAILQ_REMOVE(&b->b_clients, s, s_link);
	b->b_nclients--;
	s->s_mid = mid;
	s->s_state = MS_QUEUED;
	TAILQ_INSERT_TAIL(&b->b_sessions, s, s_link);
	b->b_nsessions++;
	b->b_st.gs_started++;
	/* The guest must take it in time, as it must answer a CONNECT. */
	arm(s, b->b_cfg.connect_timeout_ms, client_timeout_cb);
	set_events(s, 0);
	news(b, true);
}

/* Bytes of a line or a request; 0 to go on, -1 when s was freed. */
static int
client_read(struct mig_sess *s)
{
	ssize_t n;
	char c;

	while (s->s_state == MS_LINE) {
		n = recv(s->s_fd, &c, 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			sess_free(s);
			return -1;
		}
		if (c == '\n') {
			s->s_line[s->s_line_len] = '\0';
			return line_done(s);
		}
		if (s->s_line_len + 1 >= VSOCK_MIG_LINE_MAX || c == '\0') {
			refuse(s, "syntax");
			return -1;
		}
		s->s_line[s->s_line_len++] = c;
	}
	if (s->s_state != MS_PAYLOAD)
		return 0;
	while (s->s_req_got < s->s_req_len) {
		n = recv(s->s_fd, s->s_req + s->s_req_got,
		    s->s_req_len - s->s_req_got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			sess_free(s);
			return -1;
		}
		s->s_req_got += (uint32_t)n;
	}
	request_done(s);
	return 0;
}

static void
sess_cb(struct loop *l, int fd, unsigned events, void *arg)
{
	struct mig_sess *s = arg;
	struct vsock_mig *b = s->s_mig;

	(void)l;
	(void)fd;
	switch (s->s_state) {
	case MS_LINE:
	case MS_PAYLOAD:
		(void)client_read(s);
		return;
	case MS_REPORT_WAIT:
	case MS_QUEUED:
		/* Nothing is read from them: an event means the peer left. */
		if (events & (LOOP_ERR | LOOP_IN)) {
			if (s->s_state == MS_QUEUED)
				b->b_st.gs_refused++;
			sess_free(s);
		}
		return;
	case MS_LIVE:
	case MS_REPORTED:
		break;
	}
	if (events & LOOP_OUT) {
		if (flush(s) < 0 || (s->s_closing && s->s_out_len == 0)) {
			disarm(s);
			close_fd(s);
			news(b, true);
			return;
		}
		if (s->s_out_len == 0 && s->s_want_out) {
			s->s_want_out = false;
			news(b, false);
		}
	}
	if ((events & LOOP_ERR) && !s->s_hup) {
		s->s_hup = true;
		(void)loop_del_fd(b->b_loop, s->s_fd);
		s->s_on_loop = false;
	}
	if ((events & (LOOP_IN | LOOP_ERR)) && s->s_want_in) {
		s->s_want_in = false;
		news(b, false);
	}
	update_events(s);
	if (b->b_news && b->b_cfg.wake != NULL)
		b->b_cfg.wake(b->b_cfg.wake_arg);
}

static void
accept_cb(void *arg, int fd)
{
	struct vsock_mig *b = arg;
	struct mig_sess *s;

	if (fd < 0) {
		log_ratelimited(&b->b_rl, LOG_WARNING, "migtd: accept: %s",
		    strerror(-fd));
		return;
	}
	s = b->b_nclients < MAX_CLIENTS ? calloc(1, sizeof(*s)) : NULL;
	if (s == NULL) {
		b->b_st.gs_refused++;
		(void)send(fd, "ERR busy\n", 9, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	s->s_mig = b;
	s->s_fd = fd;
	s->s_state = MS_LINE;
	s->s_born_ms = loop_now_ms();
	TAILQ_INSERT_TAIL(&b->b_clients, s, s_link);
	b->b_nclients++;
	arm(s, b->b_cfg.connect_timeout_ms, client_timeout_cb);
	set_events(s, LOOP_IN);
	if (!s->s_on_loop)
		sess_free(s);
}

/* ---- The device's backend ---------------------------------------------------- */

static int
be_take_request(void *arg, uint32_t *op, void *payload, size_t max,
    uint32_t *len)
{
	struct vsock_mig *b = arg;
	struct mig_sess *s, *next;
	char line[48];

	for (s = TAILQ_FIRST(&b->b_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, s_link);
		if (s->s_state != MS_QUEUED)
			continue;
		if (s->s_req_len > max) {
			refuse(s, "toolarge");
			continue;
		}
		*op = s->s_op;
		*len = s->s_req_len;
		memcpy(payload, s->s_req, s->s_req_len);
		free(s->s_req);
		s->s_req = NULL;
		disarm(s);
		s->s_state = MS_LIVE;
		b->b_st.gs_taken++;
		snprintf(line, sizeof(line), "OK %" PRIu64 "\n", s->s_mid);
		say(s, line);
		update_events(s);
		return 1;
	}
	return 0;
}

static struct mig_sess *
live(struct vsock_mig *b, uint64_t mid)
{
	struct mig_sess *s = find(b, mid);

	return s != NULL && s->s_state == MS_LIVE ? s : NULL;
}

static int
be_lookup(void *arg, uint64_t mid)
{
	return live(arg, mid) != NULL ? 0 : -ENOENT;
}

static long
be_send(void *arg, uint64_t mid, const void *p, size_t n)
{
	struct vsock_mig *b = arg;
	struct mig_sess *s = live(b, mid);
	uint8_t *nb;

	if (s == NULL)
		return -ENOENT;
	if (s->s_fd < 0)
		return -EPIPE;
	if (n == 0)
		return 0;
	if (s->s_out_len + n > out_cap(b)) {
		s->s_want_out = true;
		return -EAGAIN;
	}
	nb = realloc(s->s_out, s->s_out_len + n);
	if (nb == NULL) {
		s->s_want_out = true;
		return -EAGAIN;
	}
	s->s_out = nb;
	memcpy(s->s_out + s->s_out_len, p, n);
	s->s_out_len += (uint32_t)n;
	if (flush(s) < 0)
		return -EPIPE;
	s->s_to_host += n;
	b->b_st.gs_to_host += n;
	update_events(s);
	return (long)n;
}

static long
be_recv(void *arg, uint64_t mid, void *p, size_t max)
{
	struct vsock_mig *b = arg;
	struct mig_sess *s = live(b, mid);
	ssize_t n;

	if (s == NULL)
		return -ENOENT;
	if (s->s_fd < 0)
		return -EPIPE;
	do
		n = recv(s->s_fd, p, max, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		s->s_to_guest += (uint64_t)n;
		b->b_st.gs_to_guest += (uint64_t)n;
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !s->s_hup) {
		s->s_want_in = true;
		update_events(s);
		return -EAGAIN;
	}
	/* EOF, or an error: the host side of the stream is over. */
	return -EPIPE;
}

static int
be_report(void *arg, uint64_t mid, uint64_t status, const void *data,
    size_t n)
{
	struct vsock_mig *b = arg;
	struct mig_sess *s = live(b, mid);

	if (s == NULL)
		return -ENOENT;
	if (n > 0) {
		s->s_rdata = malloc(n);
		if (s->s_rdata == NULL)
			n = 0;
		else
			memcpy(s->s_rdata, data, n);
	}
	s->s_rlen = (uint32_t)n;
	s->s_report = status;
	s->s_state = MS_REPORTED;
	s->s_want_in = s->s_want_out = false;
	b->b_st.gs_reports++;
	deliver_report(b, s);
	/* The stream ends once the guest's last bytes are out. */
	if (s->s_out_len == 0) {
		close_fd(s);
	} else {
		s->s_closing = true;
		arm(s, b->b_cfg.close_timeout_ms, close_timeout_cb);
		update_events(s);
	}
	return 0;
}

static int64_t
be_now_ms(void *arg)
{
	(void)arg;
	return (int64_t)loop_now_ms();
}

static void
wake_timer_cb(struct loop *l, void *arg)
{
	struct vsock_mig *b = arg;

	(void)l;
	b->b_wake_timer = 0;
	b->b_wake_at = 0;
	news(b, true);
}

static void
be_wake_at(void *arg, int64_t deadline)
{
	struct vsock_mig *b = arg;
	int64_t now = (int64_t)loop_now_ms(), id;

	if (b->b_wake_timer > 0 && b->b_wake_at <= deadline)
		return;
	if (b->b_wake_timer > 0)
		loop_del_timer(b->b_loop, b->b_wake_timer);
	id = loop_add_timer(b->b_loop, deadline > now ?
	    (uint64_t)(deadline - now) : 0, wake_timer_cb, b);
	b->b_wake_timer = id > 0 ? id : 0;
	b->b_wake_at = deadline;
}

static bool
be_has_news(const void *arg)
{
	const struct vsock_mig *b = arg;

	return b->b_news;
}

static void
be_ack_news(void *arg)
{
	struct vsock_mig *b = arg;

	b->b_news = false;
}

/*
 * The guest's sessions end (host programs see EOF, REPORT waiters "ERR
 * reset"); with `all`, requests no guest took yet and clients still
 * sending their line go too.
 */
static void
drop(struct vsock_mig *b, bool all)
{
	struct mig_sess *s, *next;

	for (s = TAILQ_FIRST(&b->b_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, s_link);
		if (s->s_state != MS_QUEUED)
			sess_free(s);
		else if (all)
			refuse(s, "reset");
	}
	for (s = TAILQ_FIRST(&b->b_clients); s != NULL; s = next) {
		next = TAILQ_NEXT(s, s_link);
		if (s->s_state == MS_REPORT_WAIT)
			refuse(s, "reset");
		else if (all)
			sess_free(s);
	}
	if (b->b_wake_timer > 0)
		loop_del_timer(b->b_loop, b->b_wake_timer);
	b->b_wake_timer = 0;
	b->b_news = false;
}

/* A device reset: queued requests wait for the guest's next WaitForRequest. */
static void
be_reset(void *arg)
{
	drop(arg, false);
}

void
vsock_mig_reset(struct vsock_mig *b)
{
	drop(b, true);
}

const struct vsock_msg_backend_ops vsock_mig_backend_ops = {
	.take_request = be_take_request,
	.lookup = be_lookup,
	.send = be_send,
	.recv = be_recv,
	.report = be_report,
	.now_ms = be_now_ms,
	.wake_at = be_wake_at,
	.has_news = be_has_news,
	.ack_news = be_ack_news,
	.reset = be_reset,
};

/* ---- Life cycle ----------------------------------------------------------------- */

int
vsock_mig_cfg_for(const struct vsock_mux_cfg *mux, struct vsock_mig_cfg *cfg)
{
	int n;

	memset(cfg, 0, sizeof(*cfg));
	if (mux->uds_path[0] == '\0')
		return -ENOENT;
	n = snprintf(cfg->path, sizeof(cfg->path), "%s_migtd", mux->uds_path);
	if (n < 0 || (size_t)n >= sizeof(cfg->path))
		return -ENAMETOOLONG;
	cfg->buf_alloc = mux->buf_alloc;
	cfg->connect_timeout_ms = mux->connect_timeout_ms;
	cfg->close_timeout_ms = mux->close_timeout_ms;
	return 0;
}

int
vsock_mig_new(struct loop *l, const struct vsock_mig_cfg *cfg,
    struct vsock_mig **bp)
{
	const struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 1);
	struct vsock_mig *b;
	int rc;

	*bp = NULL;
	if (cfg->path[0] == '\0' || memchr(cfg->path, '\0',
	    sizeof(cfg->path)) == NULL)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->b_loop = l;
	b->b_cfg = *cfg;
	if (b->b_cfg.max_sessions == 0)
		b->b_cfg.max_sessions = DEF_MAX_SESSIONS;
	if (b->b_cfg.buf_alloc == 0)
		b->b_cfg.buf_alloc = VSOCK_DEF_BUF_ALLOC;
	if (b->b_cfg.connect_timeout_ms == 0)
		b->b_cfg.connect_timeout_ms = VSOCK_DEF_CONNECT_TIMEOUT_MS;
	if (b->b_cfg.close_timeout_ms == 0)
		b->b_cfg.close_timeout_ms = VSOCK_DEF_CLOSE_TIMEOUT_MS;
	b->b_rl = rl;
	TAILQ_INIT(&b->b_clients);
	TAILQ_INIT(&b->b_sessions);
	/* The same mode and stale-socket rules as the guest's listener. */
	rc = usock_listener_new(l, b->b_cfg.path, SOCK_STREAM, 0660, 128,
	    accept_cb, b, &b->b_listener);
	if (rc < 0) {
		if (rc == -EEXIST || rc == -EADDRINUSE)
			log_warnx("migtd: %s is in use by another process or "
			    "not a socket", b->b_cfg.path);
		free(b);
		return rc;
	}
	*bp = b;
	return 0;
}

void
vsock_mig_free(struct vsock_mig *b)
{
	if (b == NULL)
		return;
	b->b_cfg.wake = NULL;
	drop(b, true);
	usock_listener_free(b->b_listener);
	free(b);
}

void
vsock_mig_get_stats(const struct vsock_mig *b, struct vsock_mig_stats *st)
{
	*st = b->b_st;
}

void
vsock_mig_dump(const struct vsock_mig *b,
    void (*cb)(void *arg, const char *line), void *arg)
{
	static const char *const names[] = { "line", "payload", "report-wait",
	    "queued", "live", "reported" };
	const struct mig_sess *s;
	char line[256];

	snprintf(line, sizeof(line), "migtd: %" PRIu64 " started, %" PRIu64
	    " taken, %" PRIu64 " refused, %" PRIu64 " reports, %" PRIu64
	    " bytes to host, %" PRIu64 " bytes to guest", b->b_st.gs_started,
	    b->b_st.gs_taken, b->b_st.gs_refused, b->b_st.gs_reports,
	    b->b_st.gs_to_host, b->b_st.gs_to_guest);
	cb(arg, line);
	TAILQ_FOREACH(s, &b->b_sessions, s_link) {
		snprintf(line, sizeof(line), "migtd: session %" PRIu64
		    " %s op %u to_host %" PRIu64 " B to_guest %" PRIu64
		    " B buffered %u%s", s->s_mid, names[s->s_state], s->s_op,
		    s->s_to_host, s->s_to_guest, s->s_out_len,
		    s->s_fd < 0 ? " closed" : "");
		cb(arg, line);
	}
}
