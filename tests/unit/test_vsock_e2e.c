/* SPDX-License-Identifier: MIT */
/*
 * End to end, all real parts but the hypervisor: the freestanding guest
 * driver on a guest thread issues port I/O and MMIO through the fake
 * ioreq page; the shm source, the request engine, the device and the
 * muxer run on the event loop of the main thread; host programs are
 * AF_UNIX sockets served by a host thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"
#include "guest_prog.h"
#include "common/loop.h"
#include "hcvsock_guest.h"
#include "ioreq/ioreq.h"
#include "ioreq/ioreq_impl.h"
#include "fake_guest.h"
#include "fake_plat.h"
#include "fake_srv.h"
#include "fake_vsock.h"
#include "ioreq/ioreq_xenabi.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"
#include "vsock/vsock_wire.h"

#define PIO_BASE	0x5A0u
#define MMIO_BASE	0xFE800000ull
#define RAM_GPA		0x100000ull
#define RAM_SIZE	(4u << 20)
#define CID		42u
#define ECHO_PORT	1234u
#define SINK_PORT	1235u
#define SOCAT_PORT	1236u
#define SEQ_PORT	1237u
#define GSEQ_PORT	5001u	/* the guest's SEQPACKET listener */
#define GSTREAM_PORT	5002u	/* the guest's STREAM listener */
#define NCONNS		80
#define MAX_HOST_FDS	256

/* ---- Host programs: echo or sink servers on <uds>_<port> ---------------- */

struct host_srv {
	int		 lfd;
	bool		 sink;		/* read and hash, never answer */
	int		 slow_ms;	/* sink: wait before the first read */
	int		 fds[MAX_HOST_FDS];
	unsigned	 nfds;
	unsigned	 accepted;
	unsigned	 eofs;
	uint64_t	 bytes;
	uint32_t	 hash;
};

struct host {
	char		 dir[64];
	char		 uds[108];
	struct host_srv	 echo;
	struct host_srv	 sink;
	pthread_t	 th;
	volatile int	 stop;
	pthread_mutex_t	 lock;
};

static int
listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 128), 0);
	return fd;
}

static void
write_all(int fd, const uint8_t *p, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			(void)poll(&pfd, 1, 1000);
		} else {
			return;	/* peer gone */
		}
	}
}

static void
srv_step(struct host_srv *s)
{
	static uint8_t buf[65536];
	unsigned i;
	ssize_t n;
	int fd;

	while ((fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		if (s->nfds == MAX_HOST_FDS) {
			close(fd);
			continue;
		}
		s->fds[s->nfds++] = fd;
		s->accepted++;
		if (s->slow_ms > 0) {
			usleep((useconds_t)s->slow_ms * 1000);
			s->slow_ms = 0;
		}
	}
	for (i = 0; i < s->nfds; i++) {
		for (;;) {
			n = read(s->fds[i], buf, sizeof(buf));
			if (n > 0) {
				s->bytes += (uint64_t)n;
				if (s->sink)
					s->hash = gprog_fnv1a(s->hash, buf,
					    (size_t)n);
				else
					write_all(s->fds[i], buf, (size_t)n);
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* EOF: answer with ours (half-close echo). */
				s->eofs++;
				shutdown(s->fds[i], SHUT_WR);
				close(s->fds[i]);
				s->fds[i--] = s->fds[--s->nfds];
			}
			break;
		}
	}
}

static void *
host_main(void *arg)
{
	struct host *h = arg;

	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&h->lock);
		srv_step(&h->echo);
		srv_step(&h->sink);
		pthread_mutex_unlock(&h->lock);
		usleep(200);
	}
	return NULL;
}

static void
host_start(struct host *h)
{
	char path[128];

	test_tmpdir(h->dir, sizeof(h->dir), "e2e");
	snprintf(h->uds, sizeof(h->uds), "%s/v.sock", h->dir);
	snprintf(path, sizeof(path), "%s_%u", h->uds, ECHO_PORT);
	h->echo.lfd = listen_unix(path);
	snprintf(path, sizeof(path), "%s_%u", h->uds, SINK_PORT);
	h->sink.lfd = listen_unix(path);
	h->sink.sink = true;
	h->sink.hash = GPROG_FNV_SEED;
	pthread_mutex_init(&h->lock, NULL);
	assert_int_equal(pthread_create(&h->th, NULL, host_main, h), 0);
}

static void
host_stop(struct host *h)
{
	unsigned i;

	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	pthread_join(h->th, NULL);
	for (i = 0; i < h->echo.nfds; i++)
		close(h->echo.fds[i]);
	for (i = 0; i < h->sink.nfds; i++)
		close(h->sink.fds[i]);
	close(h->echo.lfd);
	close(h->sink.lfd);
	test_rmtree(h->dir);
	pthread_mutex_destroy(&h->lock);
}

/* ---- The daemon side: fake page, engine, device, muxer, loop ------------ */

struct env {
	struct ioreq_source	*src;
	struct fake_srv		 fs;
	struct fake_vsock	 fv;
	struct loop		*loop;
	struct vsock_dev	*dev;
	struct vsock_mux	*mux;
	struct copy_mem		*cmem;
	struct host		 host;
	uint8_t			*ram;

	/* Guest thread. */
	pthread_t		 guest;
	volatile int		 guest_done;
	bool			 mmio;
	bool			 sync;
	struct hcvg		 g;
	struct hcvg_conn	 conns[NCONNS];
	struct fake_plat	 fp;
	struct hcvg_platform	 plat;
	void			(*guest_fn)(struct env *);
};

/*
 * Guest memory as Xen's foreign mappings give it: copies only, no direct
 * pointer, so TX payloads go through the device's slot buffer and RX
 * packets are written whole.
 */
struct copy_mem {
	struct ioreq_mem	 cm_mem;
	struct ioreq_mem	*cm_base;
};

static int
copy_mem_read(struct ioreq_mem *m, uint64_t gpa, void *buf, size_t len)
{
	return ioreq_mem_read(((struct copy_mem *)m)->cm_base, gpa, buf, len);
}

static int
copy_mem_write(struct ioreq_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	return ioreq_mem_write(((struct copy_mem *)m)->cm_base, gpa, buf, len);
}

static void
copy_mem_free(struct ioreq_mem *m)
{
	free(m);
}

static const struct ioreq_mem_ops copy_mem_ops = {
	.read = copy_mem_read,
	.write = copy_mem_write,
	.free = copy_mem_free,
};

/* Set by setup_copy(): the device sees copy-only memory. */
static bool copy_only;

static int
setup(void **state)
{
	struct vsock_dev_cfg dc = { 0 };
	struct vsock_mux_cfg mc = { 0 };
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	test_failure[0] = '\0';
	host_start(&e->host);
	assert_int_equal(fake_srv_open(&e->fs, RAM_GPA, RAM_SIZE), 0);
	e->ram = e->fs.fs_ram;
	e->src = e->fs.fs_src;
	e->loop = e->fs.fs_loop;

	mc.guest_cid = CID;
	snprintf(mc.uds_path, sizeof(mc.uds_path), "%s", e->host.uds);
	mc.default_allow = true;
	mc.max_conns = 256;
	mc.buf_alloc = 65536;
	mc.close_timeout_ms = 2000;
	mc.send_ok_line = true;
	dc.mem = ioreq_source_mem(e->src);
	if (copy_only) {
		e->cmem = calloc(1, sizeof(*e->cmem));
		assert_non_null(e->cmem);
		e->cmem->cm_mem.ops = &copy_mem_ops;
		e->cmem->cm_base = dc.mem;
		dc.mem = &e->cmem->cm_mem;
		assert_null(ioreq_mem_direct(dc.mem, RAM_GPA, 1));
	}
	dc.guest_cid = CID;
	dc.features = VSOCK_DEV_FEATURES | HCVS_F_SEQPACKET;
	dc.name = "e2e";
	assert_int_equal(fake_vsock_open(&e->fv, &e->fs, &mc, &dc, PIO_BASE,
	    MMIO_BASE, false), 0);
	e->dev = e->fv.fv_dev;
	e->mux = e->fv.fv_mux;
	assert_int_equal(fake_srv_start(&e->fs), 0);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	fake_vsock_close(&e->fv);
	free(e->cmem);
	fake_srv_close(&e->fs);
	host_stop(&e->host);
	free(e);
	return 0;
}

static int
setup_copy(void **state)
{
	int rc;

	copy_only = true;
	rc = setup(state);
	copy_only = false;
	return rc;
}

/* ---- The guest ------------------------------------------------------------------ */

static void
guest_init(struct env *e)
{
	struct hcvg_cfg c = { 0 };

	/* Every register access goes through the page. */
	e->fp.fp_fake = e->fs.fs_fake;
	e->fp.fp_pio = PIO_BASE;
	e->fp.fp_mmio = e->mmio;
	e->fp.fp_mmio_base = MMIO_BASE;
	e->fp.fp_ram = e->ram;
	e->fp.fp_ram_gpa = RAM_GPA;
	fake_plat_init(&e->fp, &e->plat);
	c.plat = &e->plat;
	c.mem = e->ram;		/* mailbox at the start of RAM */
	c.mem_size = 1u << 20;
	c.tx_slots = 16;
	c.rx_slots = 16;
	c.slot_size = 4096;
	c.conns = e->conns;
	c.nconns = NCONNS;
	c.sync_doorbell = e->sync;
	c.wait_limit = 200000;
	TCHECK(hcvg_init(&e->g, &c) == 0);
	TCHECK(hcvg_cid(&e->g) == CID);
}

/* The guest thread: the driver comes up, then the program runs. */
static void *
guest_main(void *arg)
{
	struct env *e = arg;

	guest_init(e);
	if (test_failure[0] == '\0')
		e->guest_fn(e);
	__atomic_store_n(&e->guest_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Start `fn` on a guest thread; this thread runs the daemon's loop. */
static void
guest_start(struct env *e, void (*fn)(struct env *))
{
	e->guest_fn = fn;
	e->guest_done = 0;
	assert_int_equal(pthread_create(&e->guest, NULL, guest_main, e), 0);
}

/* Run the daemon's loop until the guest program ends; fail with it. */
static void
guest_finish(struct env *e)
{
	while (!__atomic_load_n(&e->guest_done, __ATOMIC_ACQUIRE))
		assert_true(loop_run_once(e->loop, 5) >= 0);
	pthread_join(e->guest, NULL);
	if (test_failure[0] != '\0')
		fail_msg("%s", test_failure);
	assert_int_equal(e->fp.fp_lost_writes, 0);
}

static void
run_guest(struct env *e, void (*fn)(struct env *))
{
	guest_start(e, fn);
	guest_finish(e);
}

/* ---- Guest programs ----------------------------------------------------------- */

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Connect to `port`, echo n bytes of out, close. */
static void
g_echo_conn(struct env *e, uint32_t port, const uint8_t *out, uint8_t *back,
    uint32_t n)
{
	int id;

	id = hcvg_connect(&e->g, port, 0);
	TCHECK(id >= 0);
	TCHECK(gprog_echo(&e->g, id, out, back, n, 0) == 0);
	TCHECK(hcvg_close(&e->g, id) == 0);
}

static void
g_echo_sizes(struct env *e)
{
	static const uint32_t sizes[] = { 1, 2, 44, 1000, 4052, 4053, 16384,
	    40000, 65535, 65536 };
	static uint8_t out[65536], back[65536];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes) && test_failure[0] == '\0'; i++) {
		fill(out, sizes[i], (unsigned)i + 1);
		g_echo_conn(e, ECHO_PORT, out, back, sizes[i]);
	}
}

static void
e2e__echo_sizes_async(void **state)
{
	struct env *e = *state;
	struct vsock_mux_stats ms;

	run_guest(e, g_echo_sizes);
	vsock_mux_get_stats(e->mux, &ms);
	assert_int_equal(ms.ms_tx_bytes, ms.ms_rx_bytes);
	assert_true(ms.ms_tx_bytes >= 65536 * 2);
	assert_int_equal(ms.ms_credit_violations, 0);
	assert_int_equal(e->host.echo.accepted, 10);
}

/* Hypercall semantics: the RESPONSE is in RX when the doorbell returns. */
static void
g_sync_connect(struct env *e)
{
	int id, i;

	for (i = 0; i < 8; i++) {
		id = hcvg_connect(&e->g, ECHO_PORT, 1);
		TCHECK(id >= 0);
		TCHECK(hcvg_poll(&e->g) >= 1);
		TCHECK(hcvg_state(&e->g, id) == HCVG_S_ESTABLISHED);
		TCHECK(hcvg_close(&e->g, id) == 0);
	}
}

static void
e2e__sync_doorbell_answers_at_once(void **state)
{
	struct env *e = *state;

	e->sync = true;
	run_guest(e, g_sync_connect);
}

static void
e2e__echo_sizes_sync_mmio(void **state)
{
	struct env *e = *state;
	struct vsock_dev_stats st;

	e->sync = true;
	e->mmio = true;
	run_guest(e, g_echo_sizes);
	vsock_dev_get_stats(e->dev, &st);
	assert_true(st.ds_sync_kicks > 0);
	assert_int_equal(st.ds_bad_hdr, 0);
}

/*
 * n connections opened at once, each echoing len bytes of its own
 * (seeded i * mul + add), all in flight together, then closed.
 */
static void
echo_many(struct env *e, int n, uint32_t len, uint8_t *out, uint8_t *back,
    unsigned mul, unsigned add)
{
	int id[NCONNS], i;

	TCHECK(n <= NCONNS);
	for (i = 0; i < n; i++)
		fill(out + (size_t)i * len, len, (unsigned)i * mul + add);
	TCHECK(gprog_connect_all(&e->g, ECHO_PORT, id, n) == 0);
	TCHECK(gprog_echo_all(&e->g, id, n, out, back, len) == 0);
	for (i = 0; i < n; i++)
		TCHECK(hcvg_close(&e->g, id[i]) == 0);
}

static void
g_many(struct env *e)
{
	static uint8_t out[72][2000], back[72][2000];

	echo_many(e, 72, 2000, &out[0][0], &back[0][0], 7, 1);
}

static void
e2e__many_connections(void **state)
{
	struct env *e = *state;
	struct vsock_mux_stats ms;

	run_guest(e, g_many);
	vsock_mux_get_stats(e->mux, &ms);
	assert_int_equal(e->host.echo.accepted, 72);
	assert_true(ms.ms_conns_total >= 72);
	assert_int_equal(ms.ms_tx_bytes, 72 * 2000);
}

/* Eight connections echo 256 KiB each at once: slots reused in both rings. */
static void
g_bulk(struct env *e)
{
	static uint8_t out[8][256 << 10], back[8][256 << 10];

	echo_many(e, 8, 256 << 10, &out[0][0], &back[0][0], 13, 5);
}

static void
e2e__bulk(void **state)
{
	struct env *e = *state;
	struct vsock_mux_stats ms;

	run_guest(e, g_bulk);
	vsock_mux_get_stats(e->mux, &ms);
	assert_int_equal(ms.ms_tx_bytes, 8u * (256u << 10));
	assert_int_equal(ms.ms_rx_bytes, 8u * (256u << 10));
}

static void
e2e__bulk_sync(void **state)
{
	struct env *e = *state;

	e->sync = true;
	run_guest(e, g_bulk);
}

static void
g_refused(struct env *e)
{
	int id;

	TCHECK(hcvg_connect(&e->g, 4321, 0) == -HCVG_ECONNREFUSED);
	id = hcvg_connect(&e->g, ECHO_PORT, 0);
	TCHECK(id >= 0);
	TCHECK(hcvg_close(&e->g, id) == 0);
}

static void
e2e__rst_for_unknown_port(void **state)
{
	struct env *e = *state;
	struct vsock_mux_stats ms;

	run_guest(e, g_refused);
	vsock_mux_get_stats(e->mux, &ms);
	assert_true(ms.ms_rst_sent >= 1);
	assert_true(ms.ms_connect_failed >= 1);
}

static void
g_half_close(struct env *e)
{
	static uint8_t out[10000], back[10000];
	uint32_t got;
	int id;

	fill(out, sizeof(out), 99);
	id = hcvg_connect(&e->g, ECHO_PORT, 0);
	TCHECK(id >= 0);
	TCHECK(hcvg_send(&e->g, id, out, sizeof(out), 0) == sizeof(out));
	TCHECK(hcvg_shutdown(&e->g, id, VSOCK_SHUTDOWN_SEND) == 0);
	/* The host echoes all, sees our EOF, closes its side: then EOF here. */
	TCHECK(gprog_recv_to_eof(&e->g, id, back, sizeof(back), &got) == 0);
	TCHECK(got == sizeof(out));
	TCHECK(memcmp(out, back, got) == 0);
	TCHECK(hcvg_close(&e->g, id) == 0);
}

static void
e2e__half_close(void **state)
{
	struct env *e = *state;

	run_guest(e, g_half_close);
	assert_int_equal(e->host.echo.eofs, 1);
}

/* The host connects to the guest; the guest echoes once, half-closes. */
static void
g_listener(struct env *e)
{
	uint8_t buf[64];
	long r;
	int id;

	TCHECK(hcvg_listen(&e->g, 5000) == 0);
	id = hcvg_accept(&e->g, 5000, 0);
	TCHECK(id >= 0);
	r = hcvg_recv(&e->g, id, buf, sizeof(buf), 0);
	TCHECK(r == 4 && memcmp(buf, "ping", 4) == 0);
	TCHECK(hcvg_send(&e->g, id, "pong", 4, 0) == 4);
	/* The host shut its write side: EOF, and we can still send. */
	r = hcvg_recv(&e->g, id, buf, sizeof(buf), 0);
	TCHECK(r == 0);
	TCHECK(hcvg_send(&e->g, id, "bye", 3, 0) == 3);
	TCHECK(hcvg_close(&e->g, id) == 0);
}

static void
e2e__host_initiated(void **state)
{
	struct env *e = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[64];
	size_t got = 0;
	ssize_t n;
	int fd;

	guest_start(e, g_listener);
	/* Let the guest come up and listen. */
	while (__atomic_load_n(&e->g.g_nlisten, __ATOMIC_ACQUIRE) == 0)
		assert_true(loop_run_once(e->loop, 5) >= 0);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->host.uds);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, "CONNECT 5000\n", 13), 13);
	/* Read "OK <port>\n" then the guest's answer, running the loop. */
	while (got < sizeof(buf) - 1) {
		assert_true(loop_run_once(e->loop, 5) >= 0);
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		buf[got] = '\0';
		if (strchr(buf, '\n') != NULL)
			break;
		assert_false(__atomic_load_n(&e->guest_done, __ATOMIC_ACQUIRE));
	}
	assert_memory_equal(buf, "OK ", 3);
	got = 0;
	assert_int_equal(write(fd, "ping", 4), 4);
	while (got < 4) {
		assert_true(loop_run_once(e->loop, 5) >= 0);
		n = read(fd, buf + got, 4 - got);
		if (n > 0)
			got += (size_t)n;
	}
	assert_memory_equal(buf, "pong", 4);
	shutdown(fd, SHUT_WR);
	got = 0;
	for (;;) {
		assert_true(loop_run_once(e->loop, 5) >= 0);
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	assert_int_equal(got, 3);
	assert_memory_equal(buf, "bye", 3);
	close(fd);
	guest_finish(e);
}

/* 512 KiB to a host reader that sleeps first: credit holds the guest. */
static void
g_slow_reader(struct env *e)
{
	static uint8_t out[512 * 1024];
	int id;

	fill(out, sizeof(out), 5);
	id = hcvg_connect(&e->g, SINK_PORT, 0);
	TCHECK(id >= 0);
	TCHECK(hcvg_send(&e->g, id, out, sizeof(out), 0) == sizeof(out));
	TCHECK(hcvg_shutdown(&e->g, id, VSOCK_SHUTDOWN_SEND) == 0);
	TCHECK(hcvg_close(&e->g, id) == 0);
}

static void
e2e__credit_slow_reader(void **state)
{
	struct env *e = *state;
	static uint8_t out[512 * 1024];
	struct vsock_mux_stats ms;
	unsigned spins = 0;

	e->host.sink.slow_ms = 300;
	run_guest(e, g_slow_reader);
	fill(out, sizeof(out), 5);
	/* Let the host drain what is in flight. */
	for (;;) {
		pthread_mutex_lock(&e->host.lock);
		bool all = e->host.sink.bytes == sizeof(out);
		pthread_mutex_unlock(&e->host.lock);
		if (all)
			break;
		assert_true(loop_run_once(e->loop, 5) >= 0);
		assert_true(++spins < 2000);
	}
	assert_int_equal(e->host.sink.hash,
	    gprog_fnv1a(GPROG_FNV_SEED, out, sizeof(out)));
	vsock_mux_get_stats(e->mux, &ms);
	assert_int_equal(ms.ms_credit_violations, 0);
}

static void
g_reset_mid(struct env *e)
{
	static uint8_t out[30000], back[30000];
	int id;

	fill(out, sizeof(out), 3);
	id = hcvg_connect(&e->g, ECHO_PORT, 0);
	TCHECK(id >= 0);
	TCHECK(hcvg_send(&e->g, id, out, sizeof(out), 1) > 0);
	/* Reset the device in mid-transfer, then start over. */
	hcvg_fini(&e->g);
	guest_init(e);
	g_echo_conn(e, ECHO_PORT, out, back, sizeof(out));
}

static void
e2e__guest_reset_mid_transfer(void **state)
{
	struct env *e = *state;
	struct vsock_dev_stats st;
	unsigned spins = 0;

	run_guest(e, g_reset_mid);
	vsock_dev_get_stats(e->dev, &st);
	assert_true(st.ds_resets >= 2);
	/* The first host connection saw EOF. */
	while (e->host.echo.eofs < 2 && ++spins < 1000)
		assert_true(loop_run_once(e->loop, 5) >= 0);
	assert_int_equal(e->host.echo.accepted, 2);
	assert_int_equal(e->host.echo.eofs, 2);
}

static void
g_malformed(struct env *e)
{
	static uint8_t out[20000], back[20000];
	struct vsock_pkt_hdr h;
	unsigned i;
	int id;

	fill(out, sizeof(out), 11);
	id = hcvg_connect(&e->g, ECHO_PORT, 0);
	TCHECK(id >= 0);
	TCHECK(gprog_echo(&e->g, id, out, back, 3000, 0) == 0);
	for (i = 0; i < 7; i++) {
		gprog_hdr(&h, CID, VSOCK_OP_REQUEST, 60000 + i, ECHO_PORT);
		switch (i) {
		case 0: h.len = 0x7FFFFFFF; break;
		case 1: h.type = 7; break;
		case 2: h.op = 0; break;
		case 3: h.op = 99; break;
		case 4: h.len = 12; break;
		case 5: h.op = VSOCK_OP_RW; h.len = 4096; break;
		case 6: h.src_cid = 77; break;
		}
		gprog_inject_tx(&e->g, &h, false);
	}
	TCHECK(hcvg_poll(&e->g) >= 0);
	TCHECK(gprog_echo(&e->g, id, out, back, sizeof(out), 0) == 0);
	TCHECK(hcvg_state(&e->g, id) == HCVG_S_ESTABLISHED);
	TCHECK(hcvg_close(&e->g, id) == 0);
}

static void
e2e__malformed_while_others_carry_on(void **state)
{
	struct env *e = *state;
	struct vsock_dev_stats st;

	run_guest(e, g_malformed);
	vsock_dev_get_stats(e->dev, &st);
	assert_int_equal(st.ds_bad_hdr, 6);
	assert_int_equal(st.ds_spoofed, 1);
	assert_int_equal(st.ds_ring_errors, 0);
}

static void
g_socat(struct env *e)
{
	static uint8_t out[65536], back[65536];
	unsigned i;

	for (i = 0; i < 4 && test_failure[0] == '\0'; i++) {
		uint32_t n = i == 0 ? 1 : 65536 >> (2 * (3 - i));

		fill(out, n, i + 21);
		g_echo_conn(e, SOCAT_PORT, out, back, n);
	}
}

/*
 * Whether a socket bound at `path` is listening.  socat binds (the path
 * appears) before it listens: a connect in between is refused, so the
 * path existing is not the condition to wait for.
 */
static bool
uds_listening(const char *path)
{
	char line[512], p[256];
	unsigned long flags;
	bool found = false;
	FILE *f = fopen("/proc/net/unix", "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %255s",
		    &flags, p) == 2 && (flags & 0x10000) != 0 &&
		    strcmp(p, path) == 0)
			found = true;
	fclose(f);
	return found;
}

/* socat as the host program: an echo service on <uds>_1236. */
static void
e2e__socat_peer(void **state)
{
	struct env *e = *state;
	char path[128], listen_arg[160];
	unsigned spins = 0;
	pid_t pid;
	int status;

	if (access("/usr/bin/socat", X_OK) != 0) {
		printf("SKIP: socat not installed\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s_%u", e->host.uds, SOCAT_PORT);
	snprintf(listen_arg, sizeof(listen_arg), "UNIX-LISTEN:%s,fork", path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/usr/bin/socat", "socat", listen_arg, "EXEC:/bin/cat",
		    (char *)NULL);
		_exit(127);
	}
	while (!uds_listening(path)) {
		usleep(1000);
		assert_true(++spins < 5000);
	}
	run_guest(e, g_socat);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
}

/* ---- SEQPACKET ----------------------------------------------------------- */

/*
 * A host SEQPACKET echo server on <uds>_SEQ_PORT, stepped on the loop's
 * thread.  A message starting with 'B' is answered with a 20000-byte
 * message (more than the guest's buffer) and then "after".
 */
struct seq_srv {
	int	lfd;
	int	fds[8];
	int	nfds;
};

static void
seq_srv_start(struct env *e, struct seq_srv *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	s->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	assert_true(s->lfd >= 0);
	assert_true(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u",
	    e->host.uds, SEQ_PORT) < (int)sizeof(sa.sun_path));
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
}

static void
seq_srv_step(struct seq_srv *s)
{
	static uint8_t buf[65536], big[20000];
	ssize_t n;
	int fd;

	while (s->nfds < 8 && (fd = accept4(s->lfd, NULL, NULL,
	    SOCK_NONBLOCK)) >= 0)
		s->fds[s->nfds++] = fd;
	for (int i = 0; i < s->nfds; i++) {
		while ((n = recv(s->fds[i], buf, sizeof(buf), 0)) > 0) {
			if (buf[0] == 'B') {
				memset(big, 'x', sizeof(big));
				assert_int_equal(send(s->fds[i], big, sizeof(big),
				    MSG_NOSIGNAL), sizeof(big));
				assert_int_equal(send(s->fds[i], "after", 5,
				    MSG_NOSIGNAL), 5);
			} else {
				assert_int_equal(send(s->fds[i], buf, (size_t)n,
				    MSG_NOSIGNAL), n);
			}
		}
		if (n == 0) {
			close(s->fds[i]);
			s->fds[i--] = s->fds[--s->nfds];
		}
	}
}

static void
seq_srv_stop(struct env *e, struct seq_srv *s)
{
	char path[128];

	for (int i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	close(s->lfd);
	snprintf(path, sizeof(path), "%s_%u", e->host.uds, SEQ_PORT);
	unlink(path);
}

static void
g_seq_client(struct env *e)
{
	static const uint32_t sizes[] = { 1, 2, 100, 4052, 4053, 9000, 16384 };
	static uint8_t out[65537], back[65536];
	uint32_t fl;
	long r;
	int id;

	id = hcvg_connect_type(&e->g, SEQ_PORT, HCVG_SEQPACKET, 0);
	TCHECK(id >= 0);
	/* One message out, the same message back, whatever its size. */
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill(out, sizes[i], (unsigned)i + 7);
		out[0] = 'a';
		TCHECK(hcvg_send_msg(&e->g, id, out, sizes[i], 0) ==
		    (long)sizes[i]);
		r = hcvg_recv_msg(&e->g, id, back, sizeof(back), &fl, 0);
		TCHECK(r == (long)sizes[i] && fl == 0);
		TCHECK(memcmp(out, back, sizes[i]) == 0);
	}
	/* Two messages queued together stay two. */
	TCHECK(hcvg_send_msg(&e->g, id, "a1", 2, 0) == 2);
	TCHECK(hcvg_send_msg(&e->g, id, "a22", 3, 0) == 3);
	TCHECK(hcvg_recv_msg(&e->g, id, back, sizeof(back), &fl, 0) == 2);
	TCHECK(fl == 0 && memcmp(back, "a1", 2) == 0);
	TCHECK(hcvg_recv_msg(&e->g, id, back, sizeof(back), &fl, 0) == 3);
	TCHECK(fl == 0 && memcmp(back, "a22", 3) == 0);
	/* A short buffer truncates one message, not the next. */
	fill(out, 100, 3);
	out[0] = 'a';
	TCHECK(hcvg_send_msg(&e->g, id, out, 100, 0) == 100);
	TCHECK(hcvg_send_msg(&e->g, id, "a5", 2, 0) == 2);
	TCHECK(hcvg_recv_msg(&e->g, id, back, 10, &fl, 0) == 10);
	TCHECK(fl == HCVG_MSG_TRUNC && memcmp(back, out, 10) == 0);
	TCHECK(hcvg_recv(&e->g, id, back, sizeof(back), 0) == 2);
	TCHECK(memcmp(back, "a5", 2) == 0);
	/* Longer than the receive buffer: truncated, the rest dropped. */
	TCHECK(hcvg_send_msg(&e->g, id, "B", 1, 0) == 1);
	TCHECK(hcvg_recv_msg(&e->g, id, back, sizeof(back), &fl, 0) ==
	    HCVG_CONN_BUF);
	TCHECK(fl == HCVG_MSG_TRUNC && back[0] == 'x');
	TCHECK(hcvg_recv_msg(&e->g, id, back, sizeof(back), &fl, 0) == 5);
	TCHECK(fl == 0 && memcmp(back, "after", 5) == 0);
	/* More than the host's buffer can never go as one message. */
	TCHECK(hcvg_send_msg(&e->g, id, out, sizeof(out), 0) == -HCVG_EMSGSIZE);
	TCHECK(hcvg_state(&e->g, id) == HCVG_S_ESTABLISHED);
	TCHECK(hcvg_close(&e->g, id) == 0);
	/* A STREAM connect to a SEQPACKET server is refused by the host. */
	TCHECK(hcvg_connect(&e->g, SEQ_PORT, 0) == -HCVG_ECONNREFUSED);
}

static void
e2e__seqpacket_guest_initiated(void **state)
{
	struct env *e = *state;
	struct seq_srv s;

	seq_srv_start(e, &s);
	guest_start(e, g_seq_client);
	while (!__atomic_load_n(&e->guest_done, __ATOMIC_ACQUIRE)) {
		assert_true(loop_run_once(e->loop, 2) >= 0);
		seq_srv_step(&s);
	}
	pthread_join(e->guest, NULL);
	seq_srv_stop(e, &s);
	if (test_failure[0] != '\0')
		fail_msg("%s", test_failure);
}

/* Echo SEQPACKET messages on GSEQ_PORT until EOF; GSTREAM_PORT listens too. */
static void
g_seq_listener(struct env *e)
{
	static uint8_t buf[HCVG_CONN_BUF];
	uint32_t fl;
	long r;
	int id;

	TCHECK(hcvg_listen(&e->g, GSTREAM_PORT) == 0);
	TCHECK(hcvg_listen_type(&e->g, GSEQ_PORT, HCVG_SEQPACKET) == 0);
	id = hcvg_accept(&e->g, GSEQ_PORT, 0);
	TCHECK(id >= 0);
	while ((r = hcvg_recv_msg(&e->g, id, buf, sizeof(buf), &fl, 0)) > 0) {
		TCHECK(fl == 0);
		TCHECK(hcvg_send_msg(&e->g, id, buf, (uint32_t)r, 0) == r);
	}
	TCHECK(r == 0);
	TCHECK(hcvg_close(&e->g, id) == 0);
}

/* Connect to a host listener and send the CONNECT line as one write. */
static int
host_connect(struct env *e, int type, const char *suffix, const char *line,
    size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_true(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s%s",
	    e->host.uds, suffix) < (int)sizeof(sa.sun_path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, line, len, 0), (ssize_t)len);
	return fd;
}

/* One message (or EOF: 0, error: -1), running the loop while waiting. */
static ssize_t
host_recv(struct env *e, int fd, void *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		assert_true(loop_run_once(e->loop, 2) >= 0);
		n = recv(fd, buf, len, MSG_TRUNC);
		if (n >= 0)
			return n;
		if (errno != EAGAIN)
			return -1;
	}
}

static void
e2e__seqpacket_host_initiated(void **state)
{
	static const size_t sizes[] = { 1, 3000, 4053, 16000, 16384 };
	static const struct {
		int		 type;
		const char	*suffix;
		const char	*line;
	} refused[] = {
		{ SOCK_SEQPACKET, "_seqpacket", "CONNECT 5002\n" },
		{ SOCK_STREAM, "", "CONNECT 5001\n" },
		{ SOCK_SEQPACKET, "_seqpacket", "CONNECT 5001\nhi" },
		{ SOCK_SEQPACKET, "_seqpacket", "CONNECT 5001" },
	};
	static uint8_t out[16384], back[65536];
	struct env *e = *state;
	ssize_t n;
	int fd;

	guest_start(e, g_seq_listener);
	while (__atomic_load_n(&e->g.g_nlisten, __ATOMIC_ACQUIRE) < 2)
		assert_true(loop_run_once(e->loop, 5) >= 0);

	/* Refused: the wrong type for the guest's listener, bad lines. */
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		fd = host_connect(e, refused[i].type, refused[i].suffix,
		    refused[i].line, strlen(refused[i].line));
		assert_true(host_recv(e, fd, back, sizeof(back)) <= 0);
		close(fd);
	}

	fd = host_connect(e, SOCK_SEQPACKET, "_seqpacket", "CONNECT 5001\n", 13);
	n = host_recv(e, fd, back, sizeof(back));
	assert_true(n > 4);
	assert_memory_equal(back, "OK ", 3);
	assert_int_equal(back[n - 1], '\n');
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill(out, sizes[i], (unsigned)i + 11);
		assert_int_equal(send(fd, out, sizes[i], 0), (ssize_t)sizes[i]);
		n = host_recv(e, fd, back, sizeof(back));
		assert_int_equal(n, (ssize_t)sizes[i]);
		assert_memory_equal(back, out, sizes[i]);
	}
	/* Back to back, boundaries kept both ways. */
	assert_int_equal(send(fd, "one", 3, 0), 3);
	assert_int_equal(send(fd, "three", 5, 0), 5);
	assert_int_equal(host_recv(e, fd, back, sizeof(back)), 3);
	assert_memory_equal(back, "one", 3);
	assert_int_equal(host_recv(e, fd, back, sizeof(back)), 5);
	assert_memory_equal(back, "three", 5);
	/* EOF: the guest ends its loop and closes. */
	shutdown(fd, SHUT_WR);
	assert_int_equal(host_recv(e, fd, back, sizeof(back)), 0);
	close(fd);
	guest_finish(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(e2e__echo_sizes_async, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__echo_sizes_sync_mmio, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__sync_doorbell_answers_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__many_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__bulk, setup_copy, teardown),
		cmocka_unit_test_setup_teardown(e2e__bulk_sync, setup_copy, teardown),
		cmocka_unit_test_setup_teardown(e2e__echo_sizes_async, setup_copy, teardown),
		cmocka_unit_test_setup_teardown(e2e__many_connections, setup_copy, teardown),
		cmocka_unit_test_setup_teardown(e2e__rst_for_unknown_port, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__half_close, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__host_initiated, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__credit_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__guest_reset_mid_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__malformed_while_others_carry_on, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__socat_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__seqpacket_guest_initiated, setup, teardown),
		cmocka_unit_test_setup_teardown(e2e__seqpacket_host_initiated, setup, teardown),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	log_init(true, 0, "test_vsock_e2e");
	test_log_capture_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
