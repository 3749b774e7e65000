/* SPDX-License-Identifier: MIT */
/* Figure 5c: memory per idle vsock connection in the muxer, with real host AF_UNIX peers. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/loop.h"
#include "vsock/vsock_mux.h"
#include "vsock/vsock_wire.h"

#define GUEST_CID	3u
#define HOST_PORT	5000u
#define GUEST_PORT0	20000u

struct acceptor {
	int		 lfd;
	unsigned	 want;
	int		*fds;
	unsigned	 got;
};

static void *
acceptor_main(void *arg)
{
	struct acceptor *a = arg;

	while (a->got < a->want) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		a->fds[a->got++] = fd;
	}
	return NULL;
}

static void
rx_ready(void *arg)
{
	(void)arg;
}

static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/*
 * Open `n` guest-initiated connections to one host listener, wait until
 * every RESPONSE is queued for the guest, then compare the heap with the
 * heap before.  What remains per connection is the muxer's state for an
 * idle connection (its buffers are allocated lazily or not: this shows
 * which).
 */
static int
mux_idle_memory(unsigned n, double *bytes_per_conn, double *open_ns)
{
	struct vsock_mux_cfg cfg;
	struct vsock_mux *m = NULL;
	struct loop *l = NULL;
	struct acceptor a = { .lfd = -1, .want = n };
	struct sockaddr_un sa;
	struct vsock_pkt_hdr h;
	char dir[] = "/tmp/hcvsock-bench.XXXXXX";
	static uint8_t payload[VSOCK_MAX_PAYLOAD];
	unsigned responses = 0, i;
	size_t before, after;
	uint64_t t0, deadline;
	pthread_t th;
	bool th_started = false;
	int rc;

	if (mkdtemp(dir) == NULL)
		return -errno;
	a.fds = calloc(n, sizeof(*a.fds));
	if (a.fds == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/v_%u", dir, HOST_PORT);
	a.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a.lfd < 0 || bind(a.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(a.lfd, (int)n) < 0) {
		rc = -errno;
		goto out;
	}
	rc = loop_new(&l);
	if (rc < 0)
		goto out;
	memset(&cfg, 0, sizeof(cfg));
	cfg.guest_cid = GUEST_CID;
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s/v", dir);
	cfg.default_allow = true;
	cfg.max_conns = n + 16;
	cfg.buf_alloc = 256 * 1024;
	cfg.close_timeout_ms = 8000;
	cfg.rx_ready = rx_ready;
	rc = vsock_mux_new(l, &cfg, &m);
	if (rc < 0)
		goto out;
	rc = -pthread_create(&th, NULL, acceptor_main, &a);
	if (rc < 0)
		goto out;
	th_started = true;
	/* Let allocator caches settle: one connection's worth first. */
	before = heap_in_use();
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		memset(&h, 0, sizeof(h));
		h.src_cid = GUEST_CID;
		h.dst_cid = VSOCK_CID_HOST;
		h.src_port = GUEST_PORT0 + i;
		h.dst_port = HOST_PORT;
		h.type = VSOCK_TYPE_STREAM;
		h.op = VSOCK_OP_REQUEST;
		h.buf_alloc = 64 * 1024;
		vsock_mux_from_guest(m, &h, NULL);
		(void)loop_run_once(l, 0);
		while (vsock_mux_to_guest(m, &h, payload, sizeof(payload)) == 1)
			if (h.op == VSOCK_OP_RESPONSE)
				responses++;
	}
	deadline = bench_now_ns() + 10ull * 1000000000u;
	while (responses < n && bench_now_ns() < deadline) {
		(void)loop_run_once(l, 10);
		while (vsock_mux_to_guest(m, &h, payload, sizeof(payload)) == 1)
			if (h.op == VSOCK_OP_RESPONSE)
				responses++;
	}
	*open_ns = (double)(bench_now_ns() - t0) / n;
	after = heap_in_use();
	if (responses < n) {
		rc = -ETIMEDOUT;
		goto out;
	}
	*bytes_per_conn = ((double)after - (double)before) / n;
	rc = 0;
out:
	vsock_mux_free(m);
	loop_free(l);
	if (th_started) {
		/* The acceptor may still wait for connections that failed. */
		shutdown(a.lfd, SHUT_RDWR);
		pthread_join(th, NULL);
	}
	for (i = 0; i < a.got; i++)
		close(a.fds[i]);
	free(a.fds);
	if (a.lfd >= 0)
		close(a.lfd);
	unlink(sa.sun_path);
	rmdir(dir);
	return rc;
}

void
bench_fig_mux(void)
{
	double bpc = 0, open_ns = 0;
	unsigned n = bench_opts.quick ? 64 : 1024;
	int rc;

	if (!bench_selected("idle_conn"))
		return;
	rc = mux_idle_memory(n, &bpc, &open_ns);
	if (rc < 0) {
		bench_skip("idle_conn_memory", strerror(-rc));
		return;
	}
	if (bpc <= 0) {
		/* ASan's allocator is invisible to mallinfo2(). */
		bench_skip("idle_conn_memory", "heap not measurable here "
		    "(mallinfo2 sees no allocations: sanitizer build?)");
		return;
	}
	bench_memory("idle_conn_memory", bpc, n, open_ns);
}
