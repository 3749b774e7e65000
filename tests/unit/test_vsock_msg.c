/* SPDX-License-Identifier: MIT */
/*
 * Protocol MSG (MigTD's vmcall-raw calls) end to end through the fake
 * ioreq page: the freestanding driver on a guest thread, the engine, the
 * device and the session bridge on this thread's loop, and host programs
 * (the migration orchestrator) on a host thread speaking START / REPORT
 * over AF_UNIX.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"
#include "common/loop.h"
#include "hcvsock_guest.h"
#include "ioreq/ioreq.h"
#include "ioreq/ioreq_fake.h"
#include "fake_guest.h"
#include "fake_plat.h"
#include "fake_srv.h"
#include "fake_vsock.h"
#include "ioreq/ioreq_xenabi.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mig.h"
#include "vsock/vsock_mux.h"

#define PIO_BASE	0x5A0u
#define RAM_GPA		0x100000ull
#define RAM_SIZE	(4u << 20)
#define CID		42u
#define NSLOTS		8u
#define BUF_A		(1u << 20)	/* offsets in RAM, 4 KiB aligned */
#define BUF_B		(BUF_A + 0x10000u)
#define BUF_C		(BUF_B + 0x10000u)
#define MID_A		0x1122334455667788ull
#define MID_B		0x0102030405060708ull
#define T_MS		5000

struct env {
	struct fake_srv		 fs;
	struct fake_vsock	 fv;
	struct loop		*loop;
	struct vsock_dev	*dev;
	uint8_t			*ram;
	char			 dir[64];
	char			 uds[108];

	struct fake_plat	 fp;
	struct hcvg_platform	 plat;
	struct hcvg_msg		 m;
	int			 sync;
	pthread_t		 guest, host;
	volatile int		 guest_done, host_done;
	void			(*guest_fn)(struct env *);
	void			(*host_fn)(struct env *);
	/* What the host thread learnt, checked on the main thread. */
	uint64_t		 host_sum[2];
	char			 host_line[2][96];
};

/* ---- The daemon's side --------------------------------------------------------- */

static int
setup(void **state)
{
	struct vsock_dev_cfg dc = { 0 };
	struct vsock_mux_cfg mc = { 0 };
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	test_failure[0] = '\0';
	test_tmpdir(e->dir, sizeof(e->dir), "msg");
	snprintf(e->uds, sizeof(e->uds), "%s/v.sock", e->dir);
	assert_int_equal(fake_srv_open(&e->fs, RAM_GPA, RAM_SIZE), 0);
	e->ram = e->fs.fs_ram;
	e->loop = e->fs.fs_loop;

	mc.guest_cid = CID;
	snprintf(mc.uds_path, sizeof(mc.uds_path), "%s", e->uds);
	mc.connect_timeout_ms = 300;
	dc.guest_cid = CID;
	dc.name = "msg";
	assert_int_equal(fake_vsock_open(&e->fv, &e->fs, &mc, &dc, PIO_BASE, 0,
	    true), 0);
	e->dev = e->fv.fv_dev;
	assert_int_equal(fake_srv_start(&e->fs), 0);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	fake_vsock_close(&e->fv);
	fake_srv_close(&e->fs);
	test_rmtree(e->dir);
	free(e);
	return 0;
}

static void *
guest_main(void *arg)
{
	struct env *e = arg;
	struct hcvg_msg_cfg c = { 0 };

	e->fp.fp_fake = e->fs.fs_fake;
	e->fp.fp_pio = PIO_BASE;
	e->fp.fp_ram = e->ram;
	e->fp.fp_ram_gpa = RAM_GPA;
	fake_plat_init(&e->fp, &e->plat);
	c.plat = &e->plat;
	c.slots = e->ram;
	c.nslots = NSLOTS;
	c.sync = e->sync;
	c.wait_limit = 250000;	/* 5 s of 20 us waits */
	if (hcvg_msg_init(&e->m, &c) != 0)
		snprintf(test_failure, sizeof(test_failure), "hcvg_msg_init failed");
	else
		e->guest_fn(e);
	__atomic_store_n(&e->guest_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *
host_main(void *arg)
{
	struct env *e = arg;

	e->host_fn(e);
	__atomic_store_n(&e->host_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Guest and host programs at once; this thread runs the daemon's loop. */
static void
run(struct env *e, void (*guest)(struct env *), void (*host)(struct env *))
{
	e->guest_fn = guest;
	e->host_fn = host;
	e->guest_done = e->host_done = 0;
	assert_int_equal(pthread_create(&e->guest, NULL, guest_main, e), 0);
	if (host != NULL)
		assert_int_equal(pthread_create(&e->host, NULL, host_main, e),
		    0);
	else
		e->host_done = 1;
	while (!__atomic_load_n(&e->guest_done, __ATOMIC_ACQUIRE) ||
	    !__atomic_load_n(&e->host_done, __ATOMIC_ACQUIRE))
		assert_true(loop_run_once(e->loop, 5) >= 0);
	pthread_join(e->guest, NULL);
	if (host != NULL)
		pthread_join(e->host, NULL);
	if (test_failure[0] != '\0')
		fail_msg("%s", test_failure);
}

/* ---- Host programs ------------------------------------------------------------------- */

static int
h_dial(struct env *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->fv.fv_mig_path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
h_wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, T_MS) == 1;
}

static bool
h_write_all(int fd, const void *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* START <op> <len> + a request whose first 8 bytes are mid. */
static int
h_start_once(struct env *e, uint32_t op, uint64_t mid, size_t len,
    char *reply, size_t rsize)
{
	uint8_t req[600];
	char line[64];
	int fd = h_dial(e);

	if (fd < 0)
		return -1;
	memset(req, 0x5a, sizeof(req));
	memcpy(req, &mid, sizeof(mid));
	snprintf(line, sizeof(line), "START %u %zu\n", op, len);
	if (!h_write_all(fd, line, strlen(line)) ||
	    !h_write_all(fd, req, len) ||
	    !test_read_line(fd, reply, rsize, T_MS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The same, started again while the guest (still setting up) lets it time
 * out, as an orchestrator does; h_start_once shows the time-out itself.
 */
static int
h_start(struct env *e, uint32_t op, uint64_t mid, size_t len, char *reply,
    size_t rsize)
{
	int fd = -1;

	for (int tries = 0; tries < 20; tries++) {
		fd = h_start_once(e, op, mid, len, reply, rsize);
		if (fd < 0 || strcmp(reply, "ERR timeout") != 0)
			break;
		close(fd);
		fd = -1;
	}
	return fd;
}

static uint64_t
sum(const uint8_t *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static const uint32_t sizes[] = { 1, 2, 12, 4084, 4096, 65524, 65536 };

/* The orchestrator: start, echo what the guest sends, read the report. */
static void
h_echo_session(struct env *e)
{
	static uint8_t buf[65536];
	char line[96], want[64];
	int fd, rfd;

	fd = h_start(e, HCVS_MSG_OP_START_MIGRATION, MID_A, 56, line,
	    sizeof(line));
	TCHECK(fd >= 0);
	snprintf(want, sizeof(want), "OK %llu", (unsigned long long)MID_A);
	if (strcmp(line, want) != 0)
		fprintf(stderr, "host got '%s'\n", line);
	TCHECK(strcmp(line, want) == 0);
	rfd = h_dial(e);
	TCHECK(rfd >= 0);
	snprintf(want, sizeof(want), "REPORT %llu\n", (unsigned long long)MID_A);
	TCHECK(h_write_all(rfd, want, strlen(want)));
	/* Guest to host and back: each size, checksummed on both sides. */
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		TCHECK(test_read_full(fd, buf, sizes[i], T_MS));
		e->host_sum[0] = sum(buf, sizes[i], e->host_sum[0]);
		TCHECK(h_write_all(fd, buf, sizes[i]));
	}
	/* Host to guest: 64 KiB the guest did not send. */
	fill(buf, sizeof(buf), 77);
	e->host_sum[1] = sum(buf, sizeof(buf), 0);
	TCHECK(h_write_all(fd, buf, sizeof(buf)));
	TCHECK(test_read_line(rfd, e->host_line[0], sizeof(e->host_line[0]),
	    T_MS));
	TCHECK(test_read_full(rfd, buf, 4, T_MS));
	TCHECK(memcmp(buf, "done", 4) == 0);
	/* After the report the stream ends. */
	TCHECK(h_wait_in(fd) && recv(fd, buf, 1, 0) == 0);
	close(rfd);
	close(fd);
}

/* Receive exactly n bytes of session mid into out. */
static int
g_recv_n(struct env *e, uint64_t mid, uint8_t *out, uint32_t n, uint8_t *buf)
{
	uint32_t got = 0, len;
	int rc;

	while (got < n) {
		/* A Receive never returns more than its buffer holds. */
		rc = hcvg_msg_run(&e->m, HCVS_MSG_FN_RECEIVE, mid, buf,
		    HCVS_MSG_BUF_HDR + MIN(n - got, HCVS_MSG_MAX_PAYLOAD), 0, 0,
		    NULL, &len);
		if (rc < 0) {
			fprintf(stderr, "receive: %d after %u of %u\n", rc, got, n);
			return rc;
		}
		if (len > n - got) {
			fprintf(stderr, "receive: %u bytes after %u of %u\n", len,
			    got, n);
			return -1;
		}
		memcpy(out + got, buf + HCVS_MSG_BUF_HDR, len);
		got += len;
	}
	return 0;
}

static int
g_send(struct env *e, uint64_t mid, const uint8_t *p, uint32_t n, uint8_t *buf)
{
	uint32_t off = 0, k;
	int rc;

	do {
		k = MIN(n - off, HCVS_MSG_MAX_PAYLOAD);
		memcpy(buf + HCVS_MSG_BUF_HDR, p + off, k);
		memcpy(buf + 8, &k, 4);
		rc = hcvg_msg_run(&e->m, HCVS_MSG_FN_SEND, mid, buf,
		    HCVS_MSG_BUF_HDR + k, 0, 0, NULL, NULL);
		if (rc < 0)
			return rc;
		off += k;
	} while (off < n);
	return 0;
}

static void
g_echo_session(struct env *e)
{
	static uint8_t out[65536], back[65536];
	uint8_t *buf = e->ram + BUF_A, *req = e->ram + BUF_B;
	uint32_t op, len;
	uint64_t mid, s_out = 0, s_back = 0;

	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, req, 4096, 0,
	    0, &op, &len) == 0);
	TCHECK(op == HCVS_MSG_OP_START_MIGRATION && len == 56);
	memcpy(&mid, req + HCVS_MSG_BUF_HDR, 8);
	TCHECK(mid == MID_A);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill(out, sizes[i], (unsigned)i + 1);
		s_out = sum(out, sizes[i], s_out);
		TCHECK(g_send(e, mid, out, sizes[i], buf) == 0);
		TCHECK(g_recv_n(e, mid, back, sizes[i], buf) == 0);
		TCHECK(memcmp(out, back, sizes[i]) == 0);
		s_back = sum(back, sizes[i], s_back);
	}
	TCHECK(s_out == s_back);
	TCHECK(g_recv_n(e, mid, back, 65536, buf) == 0);
	e->host_sum[1] ^= sum(back, 65536, 0);	/* 0 when they match */
	memcpy(buf + HCVS_MSG_BUF_HDR, "done", 4);
	len = 4;
	memcpy(buf + 8, &len, 4);
	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_REPORT_STATUS, mid, buf, 4096,
	    0x0000, 0, NULL, NULL) == 0);
	e->host_sum[0] ^= s_out;	/* 0 when the host saw the same bytes */
}

static void
msg__session_end_to_end(void **state)
{
	struct env *e = *state;
	struct vsock_dev_stats st;
	char want[64];

	run(e, g_echo_session, h_echo_session);
	assert_int_equal(e->host_sum[0], 0);
	assert_int_equal(e->host_sum[1], 0);
	snprintf(want, sizeof(want), "REPORT %llu 0 0 4",
	    (unsigned long long)MID_A);
	assert_string_equal(e->host_line[0], want);
	vsock_dev_get_stats(e->dev, &st);
	assert_int_equal(st.ds_msg_refused, 0);
	assert_int_equal(st.ds_msg_tx_bytes, 1 + 2 + 12 + 4084 + 4096 + 65524 +
	    65536);
}

static void
msg__session_end_to_end_sync(void **state)
{
	struct env *e = *state;

	e->sync = 1;
	run(e, g_echo_session, h_echo_session);
	assert_int_equal(e->host_sum[0], 0);
	assert_int_equal(e->host_sum[1], 0);
}

/* ---- The host program dies; the guest never answers ---------------------------------- */

static void
h_dies(struct env *e)
{
	char line[96];
	uint8_t b[8];
	int fd;

	fd = h_start(e, HCVS_MSG_OP_START_MIGRATION, MID_A, 56, line,
	    sizeof(line));
	TCHECK(fd >= 0 && strncmp(line, "OK ", 3) == 0);
	TCHECK(test_read_full(fd, b, 3, T_MS));	/* the guest's "hi!" */
	close(fd);	/* mid-session */
}

static void
g_host_dies(struct env *e)
{
	uint8_t *buf = e->ram + BUF_A, *req = e->ram + BUF_B;
	uint32_t len = 3;
	int rc;

	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, req, 4096, 0,
	    0, NULL, NULL) == 0);
	memcpy(buf + HCVS_MSG_BUF_HDR, "hi!", 3);
	memcpy(buf + 8, &len, 4);
	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_SEND, MID_A, buf, 4096, 0, 0,
	    NULL, NULL) == 0);
	/* The pending Receive ends with CANCEL when the host side goes. */
	len = 3;
	rc = hcvg_msg_run(&e->m, HCVS_MSG_FN_RECEIVE, MID_A, buf, 4096, 0, 0,
	    NULL, NULL);
	TCHECK(rc == -HCVG_ECANCELED);
	memcpy(buf + 8, &len, 4);
	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_SEND, MID_A, buf, 4096, 0, 0,
	    NULL, NULL) == -HCVG_ECANCELED);
	/* The report is still taken: the orchestrator may ask for it. */
	len = 0;
	memcpy(buf + 8, &len, 4);
	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_REPORT_STATUS, MID_A, buf, 4096,
	    0x0501, 0, NULL, NULL) == 0);
	/* Now the session is over. */
	TCHECK(hcvg_msg_call(&e->m, HCVS_MSG_FN_SEND, MID_A, buf, 4096, 0, 0,
	    0) == -HCVG_ENOENT);
}

static void
msg__host_dies_mid_session(void **state)
{
	struct env *e = *state;
	struct vsock_dev_stats st;

	run(e, g_host_dies, h_dies);
	vsock_dev_get_stats(e->dev, &st);
	assert_int_equal(st.ds_msg_cancels, 2);
}

static void
h_unanswered(struct env *e)
{
	char line[96];
	int fd;

	/* Nobody takes it within connect_timeout_ms. */
	fd = h_start_once(e, HCVS_MSG_OP_START_MIGRATION, MID_B, 8, line,
	    sizeof(line));
	TCHECK(fd >= 0);
	TCHECK(strcmp(line, "ERR timeout") == 0);
	close(fd);
}

static void
g_idle(struct env *e)
{
	uint8_t *buf = e->ram + BUF_A;
	struct timespec ts = { 0, 600 * 1000000 };

	nanosleep(&ts, NULL);
	/* A receive on no session, and a wait that times out. */
	TCHECK(hcvg_msg_call(&e->m, HCVS_MSG_FN_RECEIVE, MID_B, buf, 4096, 0, 0,
	    0) == -HCVG_ENOENT);
	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, buf, 4096, 0,
	    50, NULL, NULL) == -HCVG_ETIMEDOUT);
}

static void
msg__guest_never_answers(void **state)
{
	struct env *e = *state;
	struct vsock_dev_stats st;

	run(e, g_idle, h_unanswered);
	vsock_dev_get_stats(e->dev, &st);
	assert_int_equal(st.ds_msg_timeouts, 1);
}

/* The guest takes a session, then stops answering: its Receive times out. */
static void
h_silent(struct env *e)
{
	char line[96];
	int fd;

	fd = h_start(e, HCVS_MSG_OP_START_MIGRATION, MID_A, 16, line,
	    sizeof(line));
	TCHECK(fd >= 0 && strncmp(line, "OK ", 3) == 0);
	/* The guest reports after its timeout; then the stream ends. */
	TCHECK(h_wait_in(fd));
	close(fd);
}

static void
g_receive_times_out(struct env *e)
{
	uint8_t *buf = e->ram + BUF_A;
	uint32_t len = 0;

	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, buf, 4096, 0,
	    0, NULL, NULL) == 0);
	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_RECEIVE, MID_A, buf, 4096, 0, 100,
	    NULL, NULL) == -HCVG_ETIMEDOUT);
	memcpy(buf + 8, &len, 4);
	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_REPORT_STATUS, MID_A, buf, 4096,
	    0x0201, 0, NULL, NULL) == 0);
}

static void
msg__receive_timeout_status(void **state)
{
	struct env *e = *state;

	run(e, g_receive_times_out, h_silent);
}

/* ---- Two sessions at once ----------------------------------------------------------- */

static void
h_two(struct env *e)
{
	static uint8_t buf[2][20000];
	char line[96], want[64];
	int fd[2], rfd[2];
	const uint64_t mids[2] = { MID_A, MID_B };

	for (int i = 0; i < 2; i++) {
		fd[i] = h_start(e, HCVS_MSG_OP_START_MIGRATION, mids[i], 56,
		    line, sizeof(line));
		TCHECK(fd[i] >= 0 && strncmp(line, "OK ", 3) == 0);
		rfd[i] = h_dial(e);
		TCHECK(rfd[i] >= 0);
		snprintf(want, sizeof(want), "REPORT %llu\n",
		    (unsigned long long)mids[i]);
		TCHECK(h_write_all(rfd[i], want, strlen(want)));
	}
	for (int i = 0; i < 2; i++) {
		fill(buf[i], sizeof(buf[i]), 100 + (unsigned)i);
		TCHECK(h_write_all(fd[i], buf[i], sizeof(buf[i])));
	}
	for (int i = 0; i < 2; i++) {
		TCHECK(test_read_full(fd[i], buf[i], sizeof(buf[i]), T_MS));
		e->host_sum[i] = sum(buf[i], sizeof(buf[i]), 0);
		TCHECK(test_read_line(rfd[i], e->host_line[i],
		    sizeof(e->host_line[i]), T_MS));
		close(rfd[i]);
		close(fd[i]);
	}
}

static void
g_two(struct env *e)
{
	static uint8_t in[2][20000];
	uint8_t *bufs[2] = { e->ram + BUF_A, e->ram + BUF_B };
	uint8_t *req = e->ram + BUF_C;
	uint64_t mids[2];
	uint32_t len = 0;

	for (int i = 0; i < 2; i++) {
		TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, req,
		    4096, 0, 0, NULL, NULL) == 0);
		memcpy(&mids[i], req + HCVS_MSG_BUF_HDR, 8);
	}
	TCHECK(mids[0] != mids[1]);
	/* Interleaved: each session's bytes back to it, reversed in order. */
	for (int i = 0; i < 2; i++)
		TCHECK(g_recv_n(e, mids[i], in[i], sizeof(in[i]), bufs[i]) == 0);
	for (int i = 1; i >= 0; i--)
		TCHECK(g_send(e, mids[i], in[i], sizeof(in[i]), bufs[i]) == 0);
	for (int i = 0; i < 2; i++) {
		memcpy(bufs[i] + 8, &len, 4);
		TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_REPORT_STATUS, mids[i],
		    bufs[i], 4096, i == 0 ? 0 : 0x0601, 0, NULL, NULL) == 0);
	}
}

static void
msg__two_sessions(void **state)
{
	struct env *e = *state;
	uint8_t want[20000];
	char line[64];

	run(e, g_two, h_two);
	fill(want, sizeof(want), 100);
	assert_int_equal(e->host_sum[0], sum(want, sizeof(want), 0));
	fill(want, sizeof(want), 101);
	assert_int_equal(e->host_sum[1], sum(want, sizeof(want), 0));
	snprintf(line, sizeof(line), "REPORT %llu 0 0 0",
	    (unsigned long long)MID_A);
	assert_string_equal(e->host_line[0], line);
	snprintf(line, sizeof(line), "REPORT %llu 1 6 0",
	    (unsigned long long)MID_B);
	assert_string_equal(e->host_line[1], line);
}

/* ---- Hostile calls ---------------------------------------------------------------------- */

/* A raw slot, as a hostile guest writes it; returns RESULT. */
static uint32_t
g_raw(struct env *e, const uint8_t s[HCVS_MSG_SLOT_SIZE])
{
	uint8_t *slot = e->ram + (NSLOTS - 1) * HCVS_MSG_SLOT_SIZE;
	volatile uint32_t *state = (volatile uint32_t *)(void *)slot;
	unsigned n;

	memcpy(slot + 4, s + 4, HCVS_MSG_SLOT_SIZE - 4);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*state = HCVS_MSG_S_SUBMITTED;
	e->plat.reg_write(&e->fp, HCVS_REG_DOORBELL_SYNC, 1);
	for (n = 0; *state == HCVS_MSG_S_SUBMITTED && n < 250000; n++)
		e->plat.wait(&e->fp);
	return *state == HCVS_MSG_S_DONE ? *(volatile uint32_t *)(void *)
	    (slot + HCVS_MSG_RESULT) : 0xdead;
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void
g_hostile(struct env *e)
{
	uint8_t s[HCVS_MSG_SLOT_SIZE], *buf = e->ram + BUF_A;

#define BASE() do { \
	memset(s, 0, sizeof(s)); \
	put32(s + HCVS_MSG_FUNCTION, HCVS_MSG_FN_WAIT_FOR_REQUEST); \
	put64(s + HCVS_MSG_BUF_GPA, RAM_GPA + BUF_A); \
	put32(s + HCVS_MSG_BUF_LEN, 4096); \
} while (0)
	BASE();
	put32(s + HCVS_MSG_FUNCTION, 0);
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
	BASE();
	put32(s + HCVS_MSG_FUNCTION, 5);
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
	BASE();
	put32(s + HCVS_MSG_FLAGS, 2);
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
	BASE();
	s[0x3f] = 1;			/* reserved */
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
	BASE();
	put64(s + HCVS_MSG_BUF_GPA, RAM_GPA + BUF_A + 8);	/* not 4 KiB */
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ADDRESS);
	BASE();
	put64(s + HCVS_MSG_BUF_GPA, RAM_GPA + RAM_SIZE);	/* not RAM */
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ADDRESS);
	BASE();
	put64(s + HCVS_MSG_BUF_GPA, RAM_GPA + RAM_SIZE - 4096);
	put32(s + HCVS_MSG_BUF_LEN, 8192);			/* runs out */
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ADDRESS);
	BASE();
	put64(s + HCVS_MSG_BUF_GPA, 0xFFFFFFFFFFFFF000ull);	/* wraps */
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ADDRESS);
	BASE();
	put32(s + HCVS_MSG_BUF_LEN, 11);
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
	BASE();
	put32(s + HCVS_MSG_BUF_LEN, HCVS_MSG_BUF_MAX + 1);
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
	BASE();
	put64(s + HCVS_MSG_MID, 7);	/* WaitForRequest takes no mid */
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
	BASE();
	put32(s + HCVS_MSG_FUNCTION, HCVS_MSG_FN_SEND);
	put64(s + HCVS_MSG_MID, 7);
	TCHECK(g_raw(e, s) == HCVS_ERR_UNKNOWN_ID);
	BASE();
	put32(s + HCVS_MSG_FUNCTION, HCVS_MSG_FN_RECEIVE);
	put32(s + HCVS_MSG_BUF_LEN, HCVS_MSG_BUF_HDR);	/* no room */
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
	BASE();
	put32(s + HCVS_MSG_FUNCTION, HCVS_MSG_FN_SEND);
	put64(s + HCVS_MSG_REPORT, 1);	/* a report on a Send */
	TCHECK(g_raw(e, s) == HCVS_ERR_BAD_ARG);
#undef BASE
	/* Mixing protocols after set-up: RING's commands are refused. */
	TCHECK(e->plat.reg_read(&e->fp, HCVS_REG_STATUS) & HCVS_STATUS_LIVE);
	e->plat.reg_write(&e->fp, HCVS_REG_ARG0, HCVS_F_STREAM);
	e->plat.reg_write(&e->fp, HCVS_REG_CMD, HCVS_CMD_SET_FEATURES);
	TCHECK(e->plat.reg_read(&e->fp, HCVS_REG_CMD) == HCVS_ERR_BAD_STATE);
	e->plat.reg_write(&e->fp, HCVS_REG_CMD, HCVS_CMD_SET_MAILBOX);
	TCHECK(e->plat.reg_read(&e->fp, HCVS_REG_CMD) == HCVS_ERR_BAD_STATE);
	e->plat.reg_write(&e->fp, HCVS_REG_ARG0, HCVS_PROTO_RING);
	e->plat.reg_write(&e->fp, HCVS_REG_CMD, HCVS_CMD_SET_PROTOCOL);
	TCHECK(e->plat.reg_read(&e->fp, HCVS_REG_CMD) == HCVS_ERR_BAD_STATE);
	e->plat.reg_write(&e->fp, HCVS_REG_CMD, HCVS_CMD_MSG_SET_CALLS);
	TCHECK(e->plat.reg_read(&e->fp, HCVS_REG_CMD) == HCVS_ERR_BAD_STATE);
	e->plat.reg_write(&e->fp, HCVS_REG_CMD, 0x9F);
	TCHECK(e->plat.reg_read(&e->fp, HCVS_REG_CMD) == HCVS_ERR_BAD_ARG);
	/* The device still works: the driver's own call is taken. */
	TCHECK(hcvg_msg_run(&e->m, HCVS_MSG_FN_WAIT_FOR_REQUEST, 0, buf, 4096, 0,
	    20, NULL, NULL) == -HCVG_ETIMEDOUT);
	TCHECK(!(e->plat.reg_read(&e->fp, HCVS_REG_STATUS) & HCVS_STATUS_ERROR));
}

static void
msg__hostile_calls_refused(void **state)
{
	struct env *e = *state;
	struct vsock_dev_stats st;

	run(e, g_hostile, NULL);
	vsock_dev_get_stats(e->dev, &st);
	assert_int_equal(st.ds_msg_refused, 14);
}

/* Host side refusals: syntax, duplicates, unknown reports. */
static void
h_refusals(struct env *e)
{
	static const char *const bad[] = { "START 0 8\n", "START 1 7\n",
	    "START 256 8\n", "START 1 65525\n", "HELLO\n", "REPORT x\n",
	    "REPORT 5\n" };
	static const char *const why[] = { "ERR syntax", "ERR syntax",
	    "ERR syntax", "ERR syntax", "ERR syntax", "ERR syntax",
	    "ERR unknown" };
	char line[96];
	int fd, fd2;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		fd = h_dial(e);
		TCHECK(fd >= 0);
		TCHECK(h_write_all(fd, bad[i], strlen(bad[i])));
		TCHECK(test_read_line(fd, line, sizeof(line), T_MS));
		TCHECK(strcmp(line, why[i]) == 0);
		close(fd);
	}
	/* A mid already waiting for the guest. */
	fd = h_dial(e);
	TCHECK(fd >= 0);
	TCHECK(h_write_all(fd, "START 1 8\n", 10));
	TCHECK(h_write_all(fd, "\1\0\0\0\0\0\0\0", 8));
	fd2 = h_start_once(e, 1, 1, 8, line, sizeof(line));
	TCHECK(fd2 >= 0 && strcmp(line, "ERR exists") == 0);
	close(fd2);
	/*
	 * A REPORT waiter of a session that ends without a report is told so
	 * ("ERR reset"), never left waiting; under load its line may come
	 * after the 300 ms timeout, and then the mid is already unknown.
	 */
	fd2 = h_dial(e);
	TCHECK(fd2 >= 0);
	TCHECK(h_write_all(fd2, "REPORT 1\n", 9));
	TCHECK(test_read_line(fd, line, sizeof(line), T_MS) &&
	    strcmp(line, "ERR timeout") == 0);
	TCHECK(test_read_line(fd2, line, sizeof(line), T_MS) &&
	    (strcmp(line, "ERR reset") == 0 || strcmp(line, "ERR unknown") == 0));
	close(fd2);
	close(fd);
}

static void
g_nothing(struct env *e)
{
	(void)e;
}

static void
msg__host_refusals(void **state)
{
	struct env *e = *state;

	run(e, g_nothing, h_refusals);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(msg__session_end_to_end, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(msg__session_end_to_end_sync,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(msg__host_dies_mid_session,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(msg__guest_never_answers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(msg__receive_timeout_status,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(msg__two_sessions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(msg__hostile_calls_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(msg__host_refusals, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
