/* SPDX-License-Identifier: MIT */
/* Host floors: cache-line and eventfd ping-pong, AF_UNIX ping-pong and streaming. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"

struct pong_thread {
	const struct bench_pp	*pp;
	int			 cpu;
};

static void *
pong_main(void *arg)
{
	struct pong_thread *pt = arg;

	(void)bench_pin(pt->cpu);
	return pt->pp->pong(pt->pp->arg);
}

int
bench_pingpong(const struct bench_pp *pp, double full_seconds,
    size_t full_samples, struct bench_samples *s)
{
	struct pong_thread pt = { .pp = pp, .cpu = bench_opts.cpu_b };
	uint64_t budget = bench_budget_ns(full_seconds), t, start, end;
	size_t batch = pp->batch ? pp->batch : 1;
	cpu_set_t saved;
	pthread_t th;
	int rc, prc;

	rc = bench_samples_init(s, bench_max_samples(full_samples));
	if (rc < 0)
		return rc;
	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) != 0)
		CPU_ZERO(&saved);
	*pp->stop = 0;
	rc = -pthread_create(&th, NULL, pong_main, &pt);
	if (rc < 0) {
		bench_samples_free(s);
		return rc;
	}
	(void)bench_pin(bench_opts.cpu_a);
	/* Warm up: caches, page faults, the wake-up path, CPU frequency. */
	start = bench_now_ns();
	end = start + budget / 10 + 1;
	while (rc == 0 && bench_now_ns() < end)
		rc = pp->ping(pp->arg);
	start = bench_now_ns();
	end = start + budget;
	t = start;
	while (rc == 0 && !bench_samples_full(s)) {
		uint64_t now;

		for (size_t i = 0; i < batch && rc == 0; i++)
			rc = pp->ping(pp->arg);
		now = bench_now_ns();
		bench_samples_add(s, (now - t) / batch);
		t = now;
		if (now >= end)
			break;
	}
	*pp->stop = 1;
	/* The partner answers this last ping, then sees stop and returns. */
	prc = pp->ping(pp->arg);
	if (rc == 0)
		rc = prc;
	pthread_join(th, NULL);
	if (CPU_COUNT(&saved) > 0)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(saved),
		    &saved);
	if (rc < 0)
		bench_samples_free(s);
	return rc;
}

static void
floor_from(const char *name, const char *what, struct bench_samples *s,
    size_t chunk)
{
	struct bench_stat st;

	bench_stat_compute(s, chunk, &st);
	bench_floor(name, what, &st);
	bench_samples_free(s);
}

/* ---- Cache line ---------------------------------------------------------- */

struct cl_ctx {
	_Alignas(64) _Atomic uint64_t	 ping;
	_Alignas(64) _Atomic uint64_t	 pong;
	_Alignas(64) volatile int	 stop;
	uint64_t			 seq;
};

static int
cl_ping(void *arg)
{
	struct cl_ctx *c = arg;
	uint64_t want = ++c->seq;

	atomic_store_explicit(&c->ping, want, memory_order_release);
	while (atomic_load_explicit(&c->pong, memory_order_acquire) != want)
		bench_relax();
	return 0;
}

static void *
cl_pong(void *arg)
{
	struct cl_ctx *c = arg;
	uint64_t seen = 0, v;
	int last;

	for (;;) {
		while ((v = atomic_load_explicit(&c->ping,
		    memory_order_acquire)) == seen)
			bench_relax();
		seen = v;
		/*
		 * Read stop before answering: it is set only after the
		 * previous answer arrived, so it is seen on the last ping.
		 */
		last = c->stop;
		atomic_store_explicit(&c->pong, v, memory_order_release);
		if (last)
			return NULL;
	}
}

/* ---- eventfd ------------------------------------------------------------- */

struct efd_ctx {
	int		a2b, b2a;
	bool		busy;
	volatile int	stop;
};

static int
efd_wait(int fd, bool busy)
{
	uint64_t v;
	ssize_t n;

	for (;;) {
		n = read(fd, &v, sizeof(v));
		if (n == sizeof(v))
			return 0;
		if (n < 0 && errno == EAGAIN && busy) {
			bench_relax();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : -EIO;
	}
}

static int
efd_kick(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static int
efd_ping(void *arg)
{
	struct efd_ctx *c = arg;
	int rc = efd_kick(c->a2b);

	return rc < 0 ? rc : efd_wait(c->b2a, c->busy);
}

static void *
efd_pong(void *arg)
{
	struct efd_ctx *c = arg;

	int last;

	while (efd_wait(c->a2b, c->busy) == 0) {
		last = c->stop;		/* before answering, as in cl_pong */
		if (efd_kick(c->b2a) < 0 || last)
			break;
	}
	return NULL;
}

static void
floor_eventfd(bool busy)
{
	struct efd_ctx c = { .busy = busy };
	struct bench_pp pp = { .ping = efd_ping, .pong = efd_pong, .arg = &c,
	    .stop = &c.stop, .batch = 1 };
	struct bench_samples s;
	int flags = EFD_CLOEXEC | (busy ? EFD_NONBLOCK : 0), rc;
	const char *name = busy ? "eventfd_busy" : "eventfd_block";

	c.a2b = eventfd(0, flags);
	c.b2a = eventfd(0, flags);
	if (c.a2b < 0 || c.b2a < 0) {
		rc = -errno;
		goto out;
	}
	rc = bench_pingpong(&pp, busy ? 1.0 : 2.0, 200000, &s);
	if (rc == 0)
		floor_from(name, busy ?
		    "eventfd ping-pong, cross-core, non-blocking read spin" :
		    "eventfd ping-pong, cross-core, blocking read", &s, 0);
out:
	if (rc < 0)
		fprintf(stderr, "hcvsock-bench: %s: %s\n", name, strerror(-rc));
	if (c.a2b >= 0)
		close(c.a2b);
	if (c.b2a >= 0)
		close(c.b2a);
}

void
bench_floors_cpu(void)
{
	struct cl_ctx *c;
	struct bench_pp pp = { .ping = cl_ping, .pong = cl_pong, .batch = 256 };
	struct bench_samples s;
	int rc;

	c = aligned_alloc(64, sizeof(*c));
	if (c == NULL)
		return;
	memset(c, 0, sizeof(*c));
	pp.arg = c;
	pp.stop = &c->stop;
	rc = bench_pingpong(&pp, 0.5, 20000, &s);
	if (rc == 0)
		floor_from("cacheline", "cache-line ping-pong, two threads on "
		    "different cores (batches of 256)", &s, 0);
	free(c);
	floor_eventfd(true);
	floor_eventfd(false);
}

/* ---- AF_UNIX ------------------------------------------------------------- */

struct ux_ctx {
	int		sv[2];
	volatile int	stop;
};

static int
ux_xfer1(int fd, bool out)
{
	char b = 'x';
	ssize_t n;

	do
		n = out ? send(fd, &b, 1, MSG_NOSIGNAL) : recv(fd, &b, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : n < 0 ? -errno : -EPIPE;
}

static int
ux_ping(void *arg)
{
	struct ux_ctx *c = arg;
	int rc = ux_xfer1(c->sv[0], true);

	return rc < 0 ? rc : ux_xfer1(c->sv[0], false);
}

static void *
ux_pong(void *arg)
{
	struct ux_ctx *c = arg;

	int last;

	while (ux_xfer1(c->sv[1], false) == 0) {
		last = c->stop;		/* before answering, as in cl_pong */
		if (ux_xfer1(c->sv[1], true) < 0 || last)
			break;
	}
	return NULL;
}

#define STREAM_CHUNK	(64 * 1024)

struct stream_ctx {
	int		fd;
	size_t		chunk;
	volatile int	stop;
};

static void *
stream_writer(void *arg)
{
	struct stream_ctx *c = arg;
	char *buf = malloc(c->chunk);
	size_t off;
	ssize_t n;

	if (buf == NULL)
		return NULL;
	memset(buf, 0x5a, c->chunk);
	(void)bench_pin(bench_opts.cpu_b);
	while (!c->stop) {
		for (off = 0; off < c->chunk; off += (size_t)n) {
			n = send(c->fd, buf + off, c->chunk - off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n <= 0)
				goto out;
		}
	}
out:
	free(buf);
	return NULL;
}

/*
 * Reader side of a stream: reads of up to 64 KiB; samples are the time
 * for each `window` bytes to arrive.  A window much larger than one
 * write (1 MiB) makes the median a steady-state rate: per-write times
 * would mostly show back-to-back copies of data that arrived in a burst.
 */
int
bench_stream_read(int fd, size_t window, double full_seconds,
    size_t full_samples, struct bench_samples *s)
{
	const size_t rd = 64 * 1024;
	uint64_t budget = bench_budget_ns(full_seconds), start, t, now;
	size_t got = 0;
	char *buf;
	ssize_t n;
	int rc;

	rc = bench_samples_init(s, bench_max_samples(full_samples));
	if (rc < 0)
		return rc;
	buf = malloc(rd);
	if (buf == NULL) {
		bench_samples_free(s);
		return -ENOMEM;
	}
	start = t = bench_now_ns();
	/* The first tenth of the budget warms up and is not sampled. */
	while (bench_now_ns() < start + budget / 10) {
		n = recv(fd, buf, rd, 0);
		if (n <= 0 && !(n < 0 && errno == EINTR)) {
			rc = n < 0 ? -errno : -EPIPE;
			goto out;
		}
	}
	start = t = bench_now_ns();
	while (!bench_samples_full(s)) {
		n = recv(fd, buf, rd, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The writer stopping after some samples is the end. */
			if (n == 0 && s->s_n > 0)
				break;
			rc = n < 0 ? -errno : -EPIPE;
			break;
		}
		got += (size_t)n;
		s->s_bytes += (uint64_t)n;
		if (got < window)
			continue;
		now = bench_now_ns();
		/* Pro rata for the overshoot of the last read. */
		bench_samples_add(s, (now - t) * window / got);
		got = 0;
		t = now;
		if (now - start >= budget)
			break;
	}
	s->s_elapsed_ns = bench_now_ns() - start;
out:
	free(buf);
	if (rc < 0)
		bench_samples_free(s);
	return rc;
}

int
bench_multi_read(const int *fds, unsigned n, size_t window,
    double full_seconds, const volatile uint32_t *done,
    struct bench_samples *s)
{
	static char junk[65536];
	struct epoll_event ev, evs[64];
	uint64_t budget = bench_budget_ns(full_seconds), start, t, acc = 0;
	int ep, nev, i, rc = 0;
	unsigned k;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	for (k = 0; k < n; k++) {
		ev.events = EPOLLIN;
		ev.data.fd = fds[k];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[k], &ev) < 0) {
			rc = -errno;
			goto out;
		}
	}
	start = t = bench_now_ns();
	while (!bench_samples_full(s)) {
		nev = epoll_wait(ep, evs, 64, 100);
		for (i = 0; i < nev; i++) {
			ssize_t got = recv(evs[i].data.fd, junk, sizeof(junk),
			    MSG_DONTWAIT);

			if (got > 0) {
				acc += (uint64_t)got;
				s->s_bytes += (uint64_t)got;
			}
		}
		if (acc >= window) {
			uint64_t now = bench_now_ns();

			/* Time per window, pro rata for the overshoot. */
			if (now - start >= budget / 10)
				bench_samples_add(s, (now - t) * window / acc);
			acc = 0;
			t = now;
			if (now - start >= budget + budget / 10)
				break;
		}
		if (done != NULL && *done)
			break;
	}
out:
	close(ep);
	return rc;
}

/*
 * unix_stream_64k: what a figure's host side is measured against.
 * unix_stream_4k: the same with 4 KiB writes, what a host program that
 * writes 4 KiB at a time costs by itself (informational).
 */
static void
floor_unix_stream(size_t chunk, const char *name, const char *what)
{
	struct stream_ctx c = { .chunk = chunk };
	struct bench_samples s;
	cpu_set_t saved;
	pthread_t th;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "hcvsock-bench: socketpair: %s\n", strerror(errno));
		return;
	}
	c.fd = sv[1];
	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) != 0)
		CPU_ZERO(&saved);
	if (pthread_create(&th, NULL, stream_writer, &c) != 0) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	(void)bench_pin(bench_opts.cpu_a);
	rc = bench_stream_read(sv[0], BENCH_STREAM_WINDOW, 1.5, 200000, &s);
	c.stop = 1;
	/* Unblocks a writer stuck in send(): it gets EPIPE. */
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(th, NULL);
	if (CPU_COUNT(&saved) > 0)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(saved),
		    &saved);
	close(sv[0]);
	close(sv[1]);
	if (rc == 0)
		floor_from(name, what, &s, BENCH_STREAM_WINDOW);
	else
		fprintf(stderr, "hcvsock-bench: %s: %s\n", name,
		    strerror(-rc));
}

struct rr_ctx {
	const int	*fds;
	unsigned	 n;
	volatile int	 stop;
};

/* 4 KiB blocking writes, one socket after the other. */
static void *
rr_writer(void *arg)
{
	struct rr_ctx *c = arg;
	char buf[4096];
	unsigned k = 0;
	ssize_t n;

	memset(buf, 0x5a, sizeof(buf));
	(void)bench_pin(bench_opts.cpu_b);
	while (!c->stop) {
		n = send(c->fds[k], buf, sizeof(buf), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (++k == c->n)
			k = 0;
	}
	return NULL;
}

/*
 * unix_conns_N: what fake_conns_N's host side costs by itself when every
 * guest packet is written when it comes: one writer, 4 KiB writes
 * round-robin to n sockets, one reader serving them all as the
 * figure's sink does.  A bridge that never holds a packet back cannot
 * beat it.
 */
static void
floor_unix_conns(unsigned n)
{
	struct rr_ctx c = { .n = n };
	struct bench_samples s;
	cpu_set_t saved;
	char name[32], what[160];
	int *rd, *wr, sv[2], rc;
	unsigned k, made = 0;
	pthread_t th;

	snprintf(name, sizeof(name), "unix_conns_%u", n);
	rd = calloc(n, sizeof(*rd));
	wr = calloc(n, sizeof(*wr));
	if (rd == NULL || wr == NULL)
		goto out;
	for (; made < n; made++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			fprintf(stderr, "hcvsock-bench: %s: socketpair: %s\n",
			    name, strerror(errno));
			goto out;
		}
		rd[made] = sv[0];
		wr[made] = sv[1];
	}
	rc = bench_samples_init(&s, bench_max_samples(200000));
	if (rc < 0)
		goto out;
	c.fds = wr;
	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) != 0)
		CPU_ZERO(&saved);
	if (pthread_create(&th, NULL, rr_writer, &c) != 0) {
		bench_samples_free(&s);
		goto out;
	}
	(void)bench_pin(bench_opts.cpu_a);
	rc = bench_multi_read(rd, n, BENCH_STREAM_WINDOW, 1.5, NULL, &s);
	c.stop = 1;
	/* Unblocks a writer stuck in send(): it gets EPIPE. */
	for (k = 0; k < n; k++)
		shutdown(rd[k], SHUT_RDWR);
	pthread_join(th, NULL);
	if (CPU_COUNT(&saved) > 0)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(saved),
		    &saved);
	snprintf(what, sizeof(what), "AF_UNIX, 4 KiB writes round-robin to "
	    "%u socketpairs, one epoll reader, cross-core (time per MiB, all)",
	    n);
	if (rc == 0)
		floor_from(name, what, &s, BENCH_STREAM_WINDOW);
	else {
		bench_samples_free(&s);
		fprintf(stderr, "hcvsock-bench: %s: %s\n", name,
		    strerror(-rc));
	}
out:
	for (k = 0; k < made; k++) {
		close(rd[k]);
		close(wr[k]);
	}
	free(rd);
	free(wr);
}

void
bench_floors_unix(void)
{
	struct ux_ctx c;
	struct bench_pp pp = { .ping = ux_ping, .pong = ux_pong, .arg = &c,
	    .stop = &c.stop, .batch = 1 };
	struct bench_samples s;
	int rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c.sv) < 0) {
		fprintf(stderr, "hcvsock-bench: socketpair: %s\n", strerror(errno));
		return;
	}
	rc = bench_pingpong(&pp, 2.0, 200000, &s);
	if (rc == 0)
		floor_from("unix_pingpong", "AF_UNIX socketpair 1-byte "
		    "ping-pong, cross-core, blocking", &s, 0);
	else
		fprintf(stderr, "hcvsock-bench: unix ping-pong: %s\n",
		    strerror(-rc));
	close(c.sv[0]);
	close(c.sv[1]);
	floor_unix_stream(STREAM_CHUNK, "unix_stream_64k", "AF_UNIX "
	    "socketpair stream, 64 KiB writes, cross-core (time per MiB)");
	floor_unix_stream(4096, "unix_stream_4k", "AF_UNIX socketpair "
	    "stream, 4 KiB writes, cross-core (time per MiB)");
	if (bench_selected("fake_conns_64") || bench_selected("fake_conns_1024")) {
		floor_unix_conns(64);
		floor_unix_conns(1024);
	}
}
