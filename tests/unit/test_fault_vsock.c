/* SPDX-License-Identifier: MIT */
/*
 * Failing peers and hostile or stuck guests against the vsock muxer, with
 * real AF_UNIX sockets and host peers in separate processes that are
 * SIGKILLed: host peer killed mid-stream in both directions,
 * the socket directory removed, a transport reset mid-transfer, 10,000
 * connection attempts against the limit, a guest that never consumes RX,
 * and fd exhaustion (EMFILE).  The invariant throughout: no crash, no
 * SIGPIPE, bounded memory and fds, and the other connections carry on.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "vguest.h"
#include "common/loop.h"
#include "vsock/vsock_mux.h"

#define CID	9
#define T_LONG	15000

struct fx {
	struct vg_env		 e;
	pid_t			 kids[8];
	unsigned		 nkids;
};

static int
setup_cfg(void **state, uint32_t max_conns, uint32_t buf_alloc)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vg_env_init(&f->e, "fault", CID);
	f->e.cfg.max_conns = max_conns;
	f->e.cfg.buf_alloc = buf_alloc;
	f->e.cfg.connect_timeout_ms = 500;
	assert_int_equal(vg_env_start(&f->e), 0);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_cfg(state, 64, 64 * 1024);
}

static int
setup_limit(void **state)
{
	return setup_cfg(state, 4, 64 * 1024);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < f->nkids; i++) {
		kill(f->kids[i], SIGKILL);
		waitpid(f->kids[i], NULL, 0);
	}
	vg_env_fini(&f->e);
	free(f);
	return 0;
}

/* --- helpers ------------------------------------------------------------- */

static int
listen_port(struct fx *f, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s_%u",
	    f->e.uds, port) < sizeof(sa.sun_path));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 128), 0);
	return fd;
}

static int
dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static pid_t
spawn(struct fx *f, void (*fn)(struct fx *, int), int arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn(f, arg);
		_exit(0);
	}
	assert_true(f->nkids < 8);
	f->kids[f->nkids++] = pid;
	return pid;
}

static void
reap(struct fx *f, pid_t pid)
{
	int status;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (unsigned i = 0; i < f->nkids; i++)
		if (f->kids[i] == pid)
			f->kids[i] = f->kids[--f->nkids];
}

/* Child: accept one connection on lfd and read it slowly, for ever. */
static void
slow_reader(struct fx *f, int lfd)
{
	char buf[512];
	int fd = accept(lfd, NULL, NULL);

	(void)f;
	if (fd < 0)
		_exit(1);
	for (;;) {
		if (read(fd, buf, sizeof(buf)) <= 0)
			_exit(0);
		usleep(1000);
	}
}

/* Child: CONNECT to guest port `port`, then write as fast as possible. */
static void
flooder(struct fx *f, int port)
{
	static char buf[65536];
	char line[32], c;
	int fd = dial(f->e.uds);
	int n;

	if (fd < 0)
		_exit(1);
	n = snprintf(line, sizeof(line), "CONNECT %d\n", port);
	if (write(fd, line, (size_t)n) != n)
		_exit(2);
	do
		if (read(fd, &c, 1) != 1)
			_exit(3);
	while (c != '\n');
	memset(buf, 'f', sizeof(buf));
	for (;;)
		if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) < 0)
			_exit(0);
}

static bool
conn_closed(void *arg)
{
	struct vg_conn *c = arg;

	return c->state == VG_CLOSED;
}

static bool
conn_open(void *arg)
{
	struct vg_conn *c = arg;

	return c->state == VG_OPEN;
}

static bool
got_bytes(void *arg)
{
	struct vg_conn *c = arg;

	return c->in_len >= 256 * 1024;
}

struct echo_host {
	int	fd;
	size_t	got;
};

/* An in-process echo peer, stepped from the vg_run condition. */
static void
echo_step(struct echo_host *e)
{
	char buf[65536];
	ssize_t n;

	while ((n = recv(e->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		e->got += (size_t)n;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(e->fd, buf + off, (size_t)(n - off),
			    MSG_NOSIGNAL);

			if (w <= 0)
				return;
			off += w;
		}
	}
}

struct echo_wait {
	struct echo_host	*e;
	struct vg_conn		*c;
	size_t			 want;
};

static bool
echoed(void *arg)
{
	struct echo_wait *w = arg;

	echo_step(w->e);
	return w->c->in_len >= w->want;
}

/* A fresh guest connection to `port` echoes `len` bytes intact. */
static void
check_echo(struct fx *f, int lfd, uint32_t gport, uint32_t port, size_t len)
{
	struct vg_conn *c = vg_connect(&f->e.g, gport, port, VSOCK_TYPE_STREAM);
	struct echo_host e = { .fd = -1 };
	struct echo_wait w = { .e = &e, .c = c, .want = len };
	uint8_t *blk = malloc(len);

	assert_non_null(blk);
	for (size_t i = 0; i < len; i++)
		blk[i] = (uint8_t)(i * 7 + gport);
	assert_true(vg_run(&f->e.g, conn_open, c, T_LONG));
	e.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(e.fd >= 0);
	vg_write(c, blk, len);
	assert_true(vg_run(&f->e.g, echoed, &w, T_LONG));
	assert_int_equal(vg_fnv(c->in, len), vg_fnv(blk, len));
	vg_shutdown(&f->e.g, c, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	close(e.fd);
	assert_true(vg_run(&f->e.g, conn_closed, c, T_LONG));
	free(blk);
}

/* --- host peers killed --------------------------------------------------- */

/* True once no connection waits in the listen queue of *(int *)arg. */
static bool
backlog_empty(void *arg)
{
	struct pollfd pfd = { .fd = *(int *)arg, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

/* Guest -> host: the reader dies; the guest gets an RST, nobody a SIGPIPE. */
static void
peer_killed__guest_to_host__rst_others_continue(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 2000), lfd2 = listen_port(f, 2001);
	uint8_t *blk = calloc(1, 8 << 20);
	struct vsock_mux_stats st;

	for (int round = 0; round < 3; round++) {
		pid_t kid = spawn(f, slow_reader, lfd);
		struct vg_conn *c = vg_connect(&f->e.g, 100 + (uint32_t)round,
		    2000, VSOCK_TYPE_STREAM);

		assert_true(vg_run(&f->e.g, conn_open, c, T_LONG));
		/*
		 * Killed before its accept(), the reader would leave the
		 * connection queued on our own listener, alive for ever: wait
		 * until the queue is empty, i.e. the child holds it.
		 */
		assert_true(vg_run(&f->e.g, backlog_empty, &lfd, T_LONG));
		vg_write(c, blk, 8 << 20);
		vg_run(&f->e.g, NULL, NULL, 50);
		assert_true(c->out_off < (8u << 20));	/* still streaming */
		reap(f, kid);
		assert_true(vg_run(&f->e.g, conn_closed, c, T_LONG));
		assert_true(c->rst);
	}
	vsock_mux_get_stats(f->e.g.m, &st);
	assert_int_equal(st.ms_conns_open, 0);
	check_echo(f, lfd2, 200, 2001, 300000);
	assert_int_equal(f->e.g.violations, 0);
	free(blk);
	close(lfd);
	close(lfd2);
}

/* Host -> guest: the writer dies mid-flood; the guest sees it end. */
static void
peer_killed__host_to_guest__closed_others_continue(void **state)
{
	struct fx *f = *state;
	int lfd2 = listen_port(f, 2001);
	struct vsock_mux_stats st;

	f->e.g.listen[f->e.g.nlisten++] = 3000;
	for (int round = 0; round < 3; round++) {
		pid_t kid = spawn(f, flooder, 3000);
		struct vg_conn *c = NULL;
		uint64_t end = loop_now_ms() + T_LONG;

		while (c == NULL && loop_now_ms() < end) {
			vg_run(&f->e.g, NULL, NULL, 5);
			for (size_t i = 0; i < f->e.g.nconns; i++)
				if (f->e.g.conns[i]->gport == 3000 &&
				    f->e.g.conns[i]->state == VG_OPEN)
					c = f->e.g.conns[i];
		}
		assert_non_null(c);
		assert_true(vg_run(&f->e.g, got_bytes, c, T_LONG));
		reap(f, kid);
		assert_true(vg_run(&f->e.g, conn_closed, c, T_LONG));
		/* Drop it from the fake guest so the next round finds its own. */
		vg_fini(&f->e.g);
		{
			struct vsock_mux *m = f->e.g.m;

			vg_init(&f->e.g, f->e.l, CID);
			f->e.g.m = m;
			f->e.g.listen[f->e.g.nlisten++] = 3000;
		}
	}
	vg_run(&f->e.g, NULL, NULL, 50);
	vsock_mux_get_stats(f->e.g.m, &st);
	assert_int_equal(st.ms_conns_open, 0);
	check_echo(f, lfd2, 201, 2001, 300000);
	assert_int_equal(f->e.g.violations, 0);
	close(lfd2);
}

/* --- the socket directory removed ---------------------------------------- */

static void
socket_dir_removed__refused_live_conn_kept_nothing_foreign_unlinked(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 2002);
	struct vg_conn *live = vg_connect(&f->e.g, 300, 2002, VSOCK_TYPE_STREAM);
	struct vg_conn *c;
	struct echo_host e = { .fd = -1 };
	struct echo_wait w = { .e = &e };
	int fd;
	struct stat sb;

	assert_true(vg_run(&f->e.g, conn_open, live, T_LONG));
	e.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(e.fd >= 0);
	test_rmtree(f->e.dir);

	/* New guest connections are refused with an RST. */
	c = vg_connect(&f->e.g, 301, 2002, VSOCK_TYPE_STREAM);
	assert_true(vg_run(&f->e.g, conn_closed, c, T_LONG));
	assert_true(c->rst);
	/* Host programs cannot reach the listener any more. */
	assert_true(dial(f->e.uds) < 0);
	/* The live connection carries on. */
	vg_write(live, "still here", 10);
	w.c = live;
	w.want = 10;
	assert_true(vg_run(&f->e.g, echoed, &w, T_LONG));
	assert_memory_equal(live->in, "still here", 10);

	/* Someone else's file at our old path survives our exit. */
	assert_int_equal(mkdir(f->e.dir, 0700), 0);
	fd = open(f->e.uds, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	close(e.fd);
	vsock_mux_free(f->e.g.m);
	f->e.g.m = NULL;
	assert_int_equal(stat(f->e.uds, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	close(lfd);
	assert_int_equal(f->e.g.violations, 0);
}

/* --- transport reset mid-transfer ---------------------------------------- */

static void
reset_mid_transfer__peers_eof_listener_kept(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 2003);
	struct echo_host hosts[8];
	struct vg_conn *cs[8];
	uint8_t *blk = calloc(1, 1 << 20);
	struct vsock_pkt_hdr h;
	struct vsock_mux_stats st;
	unsigned fds0 = test_count_fds();

	for (int i = 0; i < 8; i++) {
		cs[i] = vg_connect(&f->e.g, 400 + (uint32_t)i, 2003,
		    VSOCK_TYPE_STREAM);
		assert_true(vg_run(&f->e.g, conn_open, cs[i], T_LONG));
		hosts[i].fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		assert_true(hosts[i].fd >= 0);
		vg_write(cs[i], blk, 1 << 20);
		assert_int_equal(send(hosts[i].fd, blk, 100000, MSG_DONTWAIT),
		    100000);
	}
	vg_run(&f->e.g, NULL, NULL, 30);
	vsock_mux_reset(f->e.g.m);
	/* After a reset nothing of the old connections reaches the guest. */
	while (vg_pull(&f->e.g, &h, f->e.g.slot) == 1)
		assert_int_not_equal(h.op, VSOCK_OP_RW);
	vsock_mux_get_stats(f->e.g.m, &st);
	assert_int_equal(st.ms_conns_open, 0);
	for (int i = 0; i < 8; i++) {
		char b[65536];
		ssize_t n;

		/* EOF after whatever was in flight. */
		while ((n = recv(hosts[i].fd, b, sizeof(b), MSG_DONTWAIT)) > 0)
			;
		assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
		close(hosts[i].fd);
	}
	assert_int_equal(test_count_fds(), fds0);
	/* Reset the fake guest too, as a real one does; the listener lives. */
	{
		struct vsock_mux *m = f->e.g.m;

		vg_fini(&f->e.g);
		vg_init(&f->e.g, f->e.l, CID);
		f->e.g.m = m;
	}
	f->e.g.listen[f->e.g.nlisten++] = 3001;
	{
		int fd = dial(f->e.uds);
		char line[] = "CONNECT 3001\n", ok[32];
		size_t got = 0;
		uint64_t end = loop_now_ms() + T_LONG;

		assert_true(fd >= 0);
		assert_int_equal(write(fd, line, sizeof(line) - 1),
		    (ssize_t)sizeof(line) - 1);
		while (loop_now_ms() < end && (got == 0 || ok[got - 1] != '\n')) {
			ssize_t n = recv(fd, ok + got, 1, MSG_DONTWAIT);

			if (n == 1)
				got++;
			else
				vg_run(&f->e.g, NULL, NULL, 2);
		}
		assert_true(got > 3 && memcmp(ok, "OK ", 3) == 0);
		close(fd);
	}
	check_echo(f, lfd, 500, 2003, 100000);
	assert_int_equal(f->e.g.violations, 0);
	free(blk);
	close(lfd);
}

/* --- the connection limit ------------------------------------------------ */

static void
limit__ten_thousand_host_connects__closed_bounded(void **state)
{
	struct fx *f = *state;
	struct vsock_mux_stats st0, st;
	unsigned fds0, i;
	int held[4];

	/* Fill the limit with host-initiated connections the guest accepts. */
	f->e.g.listen[f->e.g.nlisten++] = 3002;
	for (i = 0; i < 4; i++) {
		char line[] = "CONNECT 3002\n";

		held[i] = dial(f->e.uds);
		assert_true(held[i] >= 0);
		assert_int_equal(write(held[i], line, sizeof(line) - 1),
		    (ssize_t)sizeof(line) - 1);
	}
	vg_run(&f->e.g, NULL, NULL, 100);
	vsock_mux_get_stats(f->e.g.m, &st0);
	assert_int_equal(st0.ms_conns_open, 4);
	fds0 = test_count_fds();

	for (i = 0; i < 10000; i++) {
		char line[] = "CONNECT 3002\n", b[64];
		int fd = dial(f->e.uds);
		ssize_t n = 0;
		uint64_t end;

		assert_true(fd >= 0);
		(void)send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL);
		end = loop_now_ms() + T_LONG;
		/* Refused: closed without an OK. */
		while (loop_now_ms() < end) {
			n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
			if (n >= 0 || errno != EAGAIN)
				break;
			(void)loop_run_once(f->e.l, 5);
			vg_pump(&f->e.g);
		}
		assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
		close(fd);
	}
	vg_run(&f->e.g, NULL, NULL, 20);
	vsock_mux_get_stats(f->e.g.m, &st);
	assert_int_equal(st.ms_conns_open, 4);
	assert_true(st.ms_host_rejected - st0.ms_host_rejected >= 10000);
	/* Nothing of the 10,000 stayed open. */
	assert_int_equal(test_count_fds(), fds0);
	for (i = 0; i < 4; i++)
		close(held[i]);
	assert_int_equal(f->e.g.violations, 0);
}

static void
limit__ten_thousand_guest_requests__rst_bounded(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 2004);
	struct vsock_mux_stats st;
	unsigned fds0, rsts = 0;
	struct vsock_pkt_hdr h = {
		.src_cid = CID, .dst_cid = 2, .dst_port = 2004,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST,
		.buf_alloc = 65536,
	}, r;

	for (uint32_t i = 0; i < 4; i++)
		assert_true(vg_run(&f->e.g, conn_open, vg_connect(&f->e.g, 600 + i,
		    2004, VSOCK_TYPE_STREAM), T_LONG));
	fds0 = test_count_fds();
	for (uint32_t i = 0; i < 10000; i++) {
		h.src_port = 10000 + i;
		vg_send_raw(&f->e.g, &h, NULL);
		while (vg_pull(&f->e.g, &r, f->e.g.slot) == 1)
			if (r.op == VSOCK_OP_RST && r.dst_port >= 10000)
				rsts++;
	}
	vsock_mux_get_stats(f->e.g.m, &st);
	assert_int_equal(rsts, 10000);
	assert_int_equal(st.ms_conns_open, 4);
	assert_int_equal(test_count_fds(), fds0);
	close(lfd);
}

static void
dump_line(void *arg, const char *line)
{
	(void)arg;
	print_message("%s\n", line);
}

/* --- a guest that never consumes RX --------------------------------------- */

static void
rx_never_consumed__host_blocked_bounded_others_progress(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 2005);
	struct vg_conn *stuck;
	int hfd;
	static char chunk[65536];
	size_t pushed = 0;
	struct vsock_mux_stats st;

	/* Connection 1: the guest grants 4 KiB and never reads. */
	f->e.g.buf_alloc = 4096;
	stuck = vg_connect(&f->e.g, 700, 2005, VSOCK_TYPE_STREAM);
	stuck->consume = false;
	assert_true(vg_run(&f->e.g, conn_open, stuck, T_LONG));
	hfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	assert_true(hfd >= 0);
	/* The host pushes 64 MiB; it must hit a wall early. */
	for (int i = 0; i < 1024; i++) {
		ssize_t n = send(hfd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n > 0)
			pushed += (size_t)n;
		vg_run(&f->e.g, NULL, NULL, 1);
	}
	assert_true(stuck->in_len <= 4096);
	/* Socket buffers plus one credit window, nowhere near 64 MiB. */
	assert_true(pushed < 8u << 20);
	print_message("host pushed %zu bytes into a stalled connection\n",
	    pushed);

	/* Connection 2 gets full service meanwhile. */
	f->e.g.buf_alloc = 256 * 1024;
	check_echo(f, lfd, 701, 2005, 1 << 20);

	/* Now the guest stops pulling RX altogether. */
	f->e.g.rx_paused = true;
	vsock_mux_get_stats(f->e.g.m, &st);
	{
		uint64_t rx0 = st.ms_rx_bytes;
		struct vsock_pkt_hdr h = {
			.src_cid = CID, .dst_cid = 2, .dst_port = 31337,
			.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST,
		};

		for (int i = 0; i < 256; i++)
			(void)send(hfd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
		/* RSTs the guest does not read are capped, not queued forever. */
		for (uint32_t i = 0; i < 5000; i++) {
			h.src_port = 40000 + i;
			vg_send_raw(&f->e.g, &h, NULL);
		}
		vg_run(&f->e.g, NULL, NULL, 100);
		vsock_mux_get_stats(f->e.g.m, &st);
		assert_true(st.ms_rst_queue_full > 0);
		assert_true(st.ms_rx_bytes - rx0 <= 4096);
	}
	f->e.g.rx_paused = false;
	close(hfd);
	if (!vg_run(&f->e.g, conn_closed, stuck, 3000)) {
		vsock_mux_dump(f->e.g.m, dump_line, NULL);
		fail_msg("stalled connection not closed: state %d in_len %zu "
		    "shut %u", stuck->state, stuck->in_len, stuck->shut_rcvd);
	}
	assert_int_equal(f->e.g.violations, 0);
	close(lfd);
}

/* --- fd exhaustion -------------------------------------------------------- */

/* Sockets made before the exhaustion, connected during it. */
static void
dial_prepared(struct fx *f, const int *fds, int n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[] = "CONNECT 3003\n";

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->e.uds);
	for (int i = 0; i < n; i++) {
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sa,
		    sizeof(sa)), 0);
		assert_int_equal(write(fds[i], line, sizeof(line) - 1),
		    (ssize_t)sizeof(line) - 1);
	}
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
emfile__refused_backoff_recovers(void **state)
{
	struct fx *f = *state;
	int lfd = listen_port(f, 2006);
	struct rlimit rl0, rl;
	struct vg_conn *c;
	int fillers[4096], nfill = 0, fd, clients[8];
	struct echo_host e;
	struct echo_wait w;
	double cpu0;

	/* A live connection from before the exhaustion. */
	c = vg_connect(&f->e.g, 800, 2006, VSOCK_TYPE_STREAM);
	assert_true(vg_run(&f->e.g, conn_open, c, T_LONG));
	e.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(e.fd >= 0);
	e.got = 0;

	for (int i = 0; i < 8; i++) {
		clients[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(clients[i] >= 0);
	}
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl0), 0);
	rl = rl0;
	rl.rlim_cur = test_count_fds() + 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		assert_true(nfill < 4096);
		fillers[nfill++] = fd;
	}
	assert_int_equal(errno, EMFILE);

	/* Host programs knock: accept() fails with EMFILE. */
	f->e.g.listen[f->e.g.nlisten++] = 3003;
	dial_prepared(f, clients, 8);
	cpu0 = cpu_seconds();
	vg_run(&f->e.g, NULL, NULL, 1000);
	/* Backing off, not spinning on a listener that stays readable. */
	print_message("cpu during 1 s of EMFILE: %.3f s\n", cpu_seconds() - cpu0);
	assert_true(cpu_seconds() - cpu0 < 0.5);

	/* A guest connect cannot get a socket: an RST, not a crash. */
	{
		struct vg_conn *r = vg_connect(&f->e.g, 801, 2006,
		    VSOCK_TYPE_STREAM);

		assert_true(vg_run(&f->e.g, conn_closed, r, T_LONG));
		assert_true(r->rst);
	}
	/* The live connection still works. */
	vg_write(c, "abc", 3);
	w = (struct echo_wait){ .e = &e, .c = c, .want = 3 };
	assert_true(vg_run(&f->e.g, echoed, &w, T_LONG));

	/* Relief: the waiting host clients get through, new connects work. */
	while (nfill > 0)
		close(fillers[--nfill]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl0), 0);
	/*
	 * valgrind emulates RLIMIT_NOFILE: the kernel's accept() succeeds and
	 * valgrind closes the new fd, so the waiting clients are lost there.
	 * Only a real EMFILE leaves them queued for after the relief.
	 */
	if (getenv("HCVS_VALGRIND") != NULL) {
		int fd2 = dial(f->e.uds);
		char line[] = "CONNECT 3003\n";

		assert_true(fd2 >= 0);
		assert_int_equal(write(fd2, line, sizeof(line) - 1),
		    (ssize_t)sizeof(line) - 1);
		close(clients[0]);
		clients[0] = fd2;
	}
	{
		struct vsock_mux_stats st;
		uint64_t end = loop_now_ms() + T_LONG;
		uint64_t want = getenv("HCVS_VALGRIND") != NULL ? 1 : 8;

		do {
			vg_run(&f->e.g, NULL, NULL, 20);
			vsock_mux_get_stats(f->e.g.m, &st);
		} while (st.ms_host_accepted < want && loop_now_ms() < end);
		if (st.ms_host_accepted < want)
			fail_msg("after EMFILE: %llu accepted, %llu rejected, "
			    "%llu open", (unsigned long long)st.ms_host_accepted,
			    (unsigned long long)st.ms_host_rejected,
			    (unsigned long long)st.ms_conns_open);
	}
	for (int i = 0; i < 8; i++)
		if (clients[i] >= 0)
			close(clients[i]);
	close(e.fd);
	check_echo(f, lfd, 802, 2006, 10000);
	assert_int_equal(f->e.g.violations, 0);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    peer_killed__guest_to_host__rst_others_continue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    peer_killed__host_to_guest__closed_others_continue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    socket_dir_removed__refused_live_conn_kept_nothing_foreign_unlinked,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    reset_mid_transfer__peers_eof_listener_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    limit__ten_thousand_host_connects__closed_bounded,
		    setup_limit, teardown),
		cmocka_unit_test_setup_teardown(
		    limit__ten_thousand_guest_requests__rst_bounded,
		    setup_limit, teardown),
		cmocka_unit_test_setup_teardown(
		    rx_never_consumed__host_blocked_bounded_others_progress,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(emfile__refused_backoff_recovers,
		    setup, teardown),
	};

	/* A peer that vanishes must never take the muxer down with SIGPIPE. */
	signal(SIGPIPE, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
