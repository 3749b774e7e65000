/* SPDX-License-Identifier: MIT */
/*
 * A fake guest in its own process for the daemon's end-to-end tests and
 * tools/demo: it offers a fake ioreq page to `hcvsockd --loopback SOCKET`
 * and runs the freestanding guest driver (guest/) over it, every register
 * access a port I/O request the daemon must answer.
 *
 *   e2e_guest [-p PIO_BASE] [-r] SOCKET COMMAND...
 *
 * With -r the guest outlives its daemon, as a Xen domain does: when the
 * daemon's connection drops ("DAEMON-GONE"), it offers the same page
 * again on SOCKET and a restarted daemon re-attaches ("RE-ATTACHED");
 * meanwhile register accesses simply wait, like a blocked vCPU.
 *
 * Commands, run in order:
 *   connect PORT BYTES  connect to host port PORT, send BYTES of seeded
 *                       data, half-close, read the echo back, compare
 *   say PORT TEXT       connect to host port PORT, send TEXT, half-close,
 *                       print what comes back (tools/demo)
 *   accept PORT         listen on PORT, print "LISTENING PORT", accept one
 *                       connection and echo it until the host half-closes
 *   accept-seq PORT     listen on PORT for SEQPACKET, print "LISTENING
 *                       PORT", accept one connection and echo each
 *                       message as one message until the host ends
 *   connect-seq PORT N  SEQPACKET connect to host port PORT, send N
 *                       messages of 1, 2, 4, ... bytes (up to 16 KiB),
 *                       check each comes back whole, close
 *   accept-idle PORT MS listen on PORT, accept one connection, print
 *                       "ACCEPTED PORT", then leave the device alone for
 *                       MS milliseconds (reading nothing, granting no
 *                       credit) and close
 *   busy MS             read a register in a loop for MS milliseconds, or
 *                       until the daemon stops answering; prints "BUSY"
 *                       once the first read is answered, then counts
 *   pause MS            sleep MS milliseconds
 *   wait-for PATH       wait (up to a minute) until PATH exists: the test
 *                       says when it has done its part
 *   stale-read          publish a read of the MAGIC register in vCPU 0's
 *                       slot WITHOUT ringing its doorbell (an event lost,
 *                       as after a daemon crash) and wait for the answer:
 *                       only a sweep of every READY slot (re-attach,
 *                       orderly stop) can give one
 *   stale-cmd           write ARG2 and ARG3, then publish a CMD write (NOP)
 *                       without its doorbell; once answered, read CMD, ARG2
 *                       and ARG3 back (a daemon killed meanwhile must not
 *                       lose them)
 *   await-stop PORT     connect to host port PORT, print "CONNECTED PORT",
 *                       then wait for data that never comes until the
 *                       connection ends; prints how it ended and the
 *                       transport resets seen (an orderly stop of the
 *                       daemon must end it through EPOCH)
 *   hold                wait until stdin reaches EOF
 * Each prints one result line; the exit status is 0 if all succeeded.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/loopback.h"
#include "hcvsock_guest.h"
#include "fakes/fake_guest.h"
#include "fakes/fake_plat.h"
#include "ioreq/ioreq_xenabi.h"

#define RAM_SIZE	(1u << 20)
#define NCONNS		4

struct guest {
	struct ioreq_fake	*f;
	struct fake_plat	 fp;
	struct hcvg_platform	 plat;
	int			 sock;
	const char		*path;
};

static struct hcvg_conn conns[NCONNS];

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint8_t
pattern(uint32_t i)
{
	uint32_t x = i * 2654435761u;

	return (uint8_t)(x >> 24);
}

static int
cmd_connect(struct hcvg *h, uint32_t port, uint32_t bytes)
{
	static uint8_t buf[65536];
	uint32_t sent = 0, got = 0, bad = 0;
	int id;

	id = hcvg_connect(h, port, 0);
	if (id < 0) {
		printf("connect %u: error %d\n", port, id);
		return 1;
	}
	while (sent < bytes) {
		uint32_t n = bytes - sent > sizeof(buf) ? sizeof(buf) :
		    bytes - sent;
		long w;

		for (uint32_t i = 0; i < n; i++)
			buf[i] = pattern(sent + i);
		w = hcvg_send(h, id, buf, n, 0);
		if (w <= 0) {
			printf("connect %u: send error %ld after %u\n", port, w,
			    sent);
			/* A reset connection still holds its slot until closed. */
			(void)hcvg_close(h, id);
			return 1;
		}
		sent += (uint32_t)w;
		/* Read the echo as it comes so that credit keeps flowing. */
		for (;;) {
			long r = hcvg_recv(h, id, buf, sizeof(buf), 1);

			if (r <= 0)
				break;
			for (long i = 0; i < r; i++)
				bad += buf[i] != pattern(got + (uint32_t)i);
			got += (uint32_t)r;
		}
	}
	(void)hcvg_shutdown(h, id, 2);
	while (got < bytes) {
		long r = hcvg_recv(h, id, buf, sizeof(buf), 0);

		if (r <= 0)
			break;
		for (long i = 0; i < r; i++)
			bad += buf[i] != pattern(got + (uint32_t)i);
		got += (uint32_t)r;
	}
	(void)hcvg_close(h, id);
	printf("connect %u: sent %u, echoed %u, %u bad\n", port, sent, got, bad);
	return got == bytes && bad == 0 ? 0 : 1;
}

static int
cmd_say(struct hcvg *h, uint32_t port, const char *text)
{
	char buf[4096];
	uint32_t got = 0;
	int id;

	id = hcvg_connect(h, port, 0);
	if (id < 0) {
		printf("say %u: error %d\n", port, id);
		return 1;
	}
	if (hcvg_send(h, id, text, (uint32_t)strlen(text), 0) !=
	    (long)strlen(text)) {
		printf("say %u: send failed\n", port);
		return 1;
	}
	(void)hcvg_shutdown(h, id, 2);
	while (got < sizeof(buf) - 1) {
		long r = hcvg_recv(h, id, buf + got, sizeof(buf) - 1 - got, 0);

		if (r <= 0)
			break;
		got += (uint32_t)r;
	}
	buf[got] = '\0';
	(void)hcvg_close(h, id);
	printf("guest sent \"%s\" to host port %u and got back \"%s\"\n",
	    text, port, buf);
	return got > 0 ? 0 : 1;
}

/* Listen on `port`, say LISTENING, and take one connection (-1: said why). */
static int
listen_accept(struct hcvg *h, const char *cmd, uint32_t port)
{
	int id;

	if (hcvg_listen(h, port) < 0) {
		printf("%s %u: listen failed\n", cmd, port);
		return -1;
	}
	printf("LISTENING %u\n", port);
	fflush(stdout);
	id = hcvg_accept(h, port, 0);
	if (id < 0) {
		printf("%s %u: error %d\n", cmd, port, id);
		return -1;
	}
	return id;
}

static int
cmd_accept(struct hcvg *h, uint32_t port)
{
	static uint8_t buf[16384];
	uint32_t total = 0;
	int id;

	if ((id = listen_accept(h, "accept", port)) < 0)
		return 1;
	for (;;) {
		long r = hcvg_recv(h, id, buf, sizeof(buf), 0);

		if (r == -HCVG_EAGAIN || r == -HCVG_ETIMEDOUT)
			continue;
		if (r <= 0)
			break;
		if (hcvg_send(h, id, buf, (uint32_t)r, 0) != r) {
			printf("accept %u: echo failed\n", port);
			return 1;
		}
		total += (uint32_t)r;
	}
	(void)hcvg_close(h, id);
	printf("accept %u: echoed %u\n", port, total);
	return 0;
}

static int
cmd_accept_seq(struct hcvg *h, uint32_t port)
{
	static uint8_t buf[HCVG_CONN_BUF];
	uint32_t msgs = 0, bytes = 0, fl;
	long r;
	int id;

	if (hcvg_listen_type(h, port, HCVG_SEQPACKET) < 0) {
		printf("accept-seq %u: listen failed\n", port);
		return 1;
	}
	printf("LISTENING %u\n", port);
	fflush(stdout);
	id = hcvg_accept(h, port, 0);
	if (id < 0) {
		printf("accept-seq %u: error %d\n", port, id);
		return 1;
	}
	for (;;) {
		r = hcvg_recv_msg(h, id, buf, sizeof(buf), &fl, 0);
		if (r == -HCVG_EAGAIN || r == -HCVG_ETIMEDOUT)
			continue;
		if (r <= 0)
			break;
		if (fl != 0 || hcvg_send_msg(h, id, buf, (uint32_t)r, 0) != r) {
			printf("accept-seq %u: echo failed\n", port);
			return 1;
		}
		msgs++;
		bytes += (uint32_t)r;
	}
	(void)hcvg_close(h, id);
	printf("accept-seq %u: echoed %u messages, %u bytes\n", port, msgs,
	    bytes);
	return 0;
}

static int
cmd_connect_seq(struct hcvg *h, uint32_t port, unsigned n)
{
	static uint8_t out[HCVG_CONN_BUF], back[HCVG_CONN_BUF];
	unsigned i, bad = 0;
	uint32_t len, fl;
	int id;

	id = hcvg_connect_type(h, port, HCVG_SEQPACKET, 0);
	if (id < 0) {
		printf("connect-seq %u: error %d\n", port, id);
		return 1;
	}
	for (i = 0; i < n; i++) {
		len = 1u << (i % 15);
		for (uint32_t k = 0; k < len; k++)
			out[k] = (uint8_t)(i * 31 + k);
		if (hcvg_send_msg(h, id, out, len, 0) != (long)len ||
		    hcvg_recv_msg(h, id, back, sizeof(back), &fl, 0) !=
		    (long)len || fl != 0 || memcmp(out, back, len) != 0)
			bad++;
	}
	(void)hcvg_close(h, id);
	printf("connect-seq %u: %u messages, %u bad\n", port, n, bad);
	return bad != 0;
}

static int
cmd_accept_idle(struct hcvg *h, uint32_t port, unsigned ms)
{
	int id;

	if ((id = listen_accept(h, "accept-idle", port)) < 0)
		return 1;
	printf("ACCEPTED %u\n", port);
	fflush(stdout);
	usleep((useconds_t)ms * 1000);
	(void)hcvg_close(h, id);
	printf("accept-idle %u: closed\n", port);
	return 0;
}

static int
cmd_await_stop(struct hcvg *h, struct guest *g, uint32_t port)
{
	uint8_t buf[256];
	long r;
	int id;

	id = hcvg_connect(h, port, 0);
	if (id < 0) {
		printf("await-stop %u: error %d\n", port, id);
		return 1;
	}
	printf("CONNECTED %u\n", port);
	fflush(stdout);
	do
		r = hcvg_recv(h, id, buf, sizeof(buf), 0);
	while (r == -HCVG_ETIMEDOUT || r > 0);
	printf("await-stop %u: recv %ld, state %d, resets %u, window %s\n",
	    port, r, (int)hcvg_state(h, id), hcvg_stats(h)->gs_resets,
	    g->fp.fp_err ? strerror(-g->fp.fp_err) : "ok");
	fflush(stdout);
	return hcvg_stats(h)->gs_resets > 0 ? 0 : 1;
}

static int
cmd_busy(struct guest *g, uint64_t ms)
{
	uint64_t end = now_ms() + ms, n = 0;
	int rc = 0;

	while (now_ms() < end) {
		uint64_t v = 0;

		rc = ioreq_fake_pio(g->f, 0, g->fp.fp_pio, 4, 1, &v);
		if (rc < 0)
			break;
		if (n++ == 0)
			printf("BUSY\n");
	}
	printf("busy: %llu reads answered, last %s\n", (unsigned long long)n,
	    rc == 0 ? "ok" : strerror(-rc));
	return n > 0 ? 0 : 1;
}

static int
cmd_wait_for(const char *path)
{
	uint64_t end = now_ms() + 60000;

	while (access(path, F_OK) != 0) {
		if (now_ms() >= end) {
			printf("wait-for %s: timed out\n", path);
			return 1;
		}
		usleep(10000);
	}
	return 0;
}

/*
 * Publish a 4-byte port access in vCPU 0's slot WITHOUT ringing its
 * doorbell (an event lost, as after a daemon crash), say so with `what`,
 * and wait for whichever daemon answers it.
 */
static int
publish_stale(struct guest *g, uint16_t off, int dir, uint32_t data,
    const char *what, struct ioreq *resp)
{
	struct ioreq *slot = ioreq_fake_slots(g->f);
	int rc;

	slot->addr = (uint16_t)(g->fp.fp_pio + off);
	slot->data = data;
	slot->count = 1;
	slot->size = 4;
	slot->type = IOREQ_TYPE_PIO;
	slot->dir = (uint8_t)dir;
	slot->df = 0;
	slot->data_is_ptr = 0;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	slot->state = STATE_IOREQ_READY;
	printf("%s published\n", what);
	rc = ioreq_fake_complete(g->f, 0, resp);
	if (rc < 0)
		printf("%s: %s\n", what, strerror(-rc));
	return rc;
}

static int
cmd_stale_read(struct guest *g)
{
	struct ioreq resp;

	if (publish_stale(g, 0, IOREQ_READ, 0, "STALE-READ", &resp) < 0)
		return 1;
	printf("stale-read: answered 0x%08x\n", (unsigned)resp.data);
	return 0;
}

/*
 * ARG2 and ARG3 written (and answered), then a CMD write of NOP published
 * without its doorbell; once some daemon answers it, CMD, ARG2 and ARG3
 * are read back: the register file a command is built in survives a
 * daemon killed in the middle of it.
 */
static int
cmd_stale_cmd(struct guest *g)
{
	struct ioreq resp;
	uint32_t res, a2, a3;

	g->plat.reg_write(&g->fp, HCVS_REG_ARG2, 0x5eed);
	g->plat.reg_write(&g->fp, HCVS_REG_ARG3, 0xc0de);
	if (g->fp.fp_err != 0) {
		printf("stale-cmd: %s\n", strerror(-g->fp.fp_err));
		return 1;
	}
	if (publish_stale(g, HCVS_REG_CMD, IOREQ_WRITE, HCVS_CMD_NOP,
	    "STALE-CMD", &resp) < 0)
		return 1;
	res = g->plat.reg_read(&g->fp, HCVS_REG_CMD);
	a2 = g->plat.reg_read(&g->fp, HCVS_REG_ARG2);
	a3 = g->plat.reg_read(&g->fp, HCVS_REG_ARG3);
	printf("stale-cmd: answered, result %u, arg2 0x%x, arg3 0x%x\n",
	    res, a2, a3);
	return res == HCVS_ERR_OK && a2 == 0x5eed && a3 == 0xc0de ? 0 : 1;
}

/* Once the socket listens: a daemon started after this line connects. */
static void
say_offering(void *arg)
{
	printf("OFFERING %s\n", (const char *)arg);
}

static void
say_reoffering(void *arg)
{
	(void)arg;
	printf("RE-OFFERING\n");
}

/* -r: keep offering the page to whichever daemon comes next. */
static void *
reoffer(void *arg)
{
	struct guest *g = arg;

	for (;;) {
		struct pollfd p = { .fd = g->sock, .events = POLLIN };
		char b[16];
		int rc, sock;

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return NULL;
		if (read(g->sock, b, sizeof(b)) > 0)
			continue;
		printf("DAEMON-GONE\n");
		rc = loopback_offer(g->path, g->f, -1, say_reoffering, NULL,
		    &sock);
		if (rc == 0)
			rc = loopback_wait_ready(sock, 20000);
		if (rc < 0) {
			printf("re-offer: %s\n", strerror(-rc));
			return NULL;
		}
		close(g->sock);
		g->sock = sock;
		printf("RE-ATTACHED\n");
	}
}

int
main(int argc, char **argv)
{
	struct ioreq_fake_cfg cfg = { .nr_vcpus = 1, .ram_size = RAM_SIZE,
	    .timeout_ms = 3000 };
	struct hcvg_cfg hc = { 0 };
	static struct hcvg h;
	struct guest g = { .fp.fp_pio = 0x5a0, .sock = -1 };
	size_t ram_size;
	int argi = 1, rc, failed = 0;
	bool again = false;
	pthread_t watcher;

	if (argc > 3 && strcmp(argv[argi], "-p") == 0) {
		g.fp.fp_pio = (uint16_t)strtoul(argv[argi + 1], NULL, 0);
		argi += 2;
	}
	if (argc > argi && strcmp(argv[argi], "-r") == 0) {
		again = true;
		cfg.timeout_ms = 30000;
		argi++;
	}
	if (argc - argi < 1) {
		fprintf(stderr, "usage: e2e_guest [-p PIO_BASE] SOCKET "
		    "COMMAND...\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = ioreq_fake_new(&cfg, &g.f)) < 0) {
		fprintf(stderr, "e2e_guest: fake page: %s\n", strerror(-rc));
		return 71;
	}
	g.fp.fp_fake = g.f;
	g.fp.fp_ram = ioreq_fake_ram(g.f, &g.fp.fp_ram_gpa, &ram_size);
	rc = loopback_offer(argv[argi], g.f, 20000, say_offering, argv[argi],
	    &g.sock);
	if (rc == 0)
		rc = loopback_wait_ready(g.sock, 20000);
	if (rc < 0) {
		fprintf(stderr, "e2e_guest: hand-off: %s\n", strerror(-rc));
		return 69;
	}
	printf("READY\n");
	g.path = argv[argi];
	if (again && pthread_create(&watcher, NULL, reoffer, &g) != 0) {
		fprintf(stderr, "e2e_guest: no watcher thread\n");
		return 71;
	}

	fake_plat_init(&g.fp, &g.plat);
	hc.plat = &g.plat;
	hc.mem = g.fp.fp_ram;
	hc.mem_size = hcvg_mem_needed(8, 8, 4096);
	hc.conns = conns;
	hc.nconns = NCONNS;
	hc.wait_limit = 500000;	/* x 20 us: 10 s */
	for (argi++; argi < argc; argi++) {
		const char *c = argv[argi];

		if (!strcmp(c, "busy") && argi + 1 < argc) {
			failed |= cmd_busy(&g, strtoull(argv[++argi], NULL, 0));
			continue;
		}
		if (!strcmp(c, "pause") && argi + 1 < argc) {
			usleep((useconds_t)strtoul(argv[++argi], NULL, 0) * 1000);
			continue;
		}
		if (!strcmp(c, "wait-for") && argi + 1 < argc) {
			failed |= cmd_wait_for(argv[++argi]);
			continue;
		}
		if (!strcmp(c, "stale-read")) {
			failed |= cmd_stale_read(&g);
			continue;
		}
		if (!strcmp(c, "stale-cmd")) {
			failed |= cmd_stale_cmd(&g);
			continue;
		}
		if (!strcmp(c, "hold")) {
			char b[16];

			while (read(0, b, sizeof(b)) > 0)
				;
			printf("hold: done\n");
			continue;
		}
		if (h.g_p == NULL && (rc = hcvg_init(&h, &hc)) < 0) {
			printf("init: error %d (access %s)\n", rc,
			    g.fp.fp_err ? strerror(-g.fp.fp_err) : "ok");
			return 1;
		}
		if (!strcmp(c, "connect") && argi + 2 < argc) {
			failed |= cmd_connect(&h, (uint32_t)atoi(argv[argi + 1]),
			    (uint32_t)atoi(argv[argi + 2]));
			argi += 2;
		} else if (!strcmp(c, "say") && argi + 2 < argc) {
			failed |= cmd_say(&h, (uint32_t)atoi(argv[argi + 1]),
			    argv[argi + 2]);
			argi += 2;
		} else if (!strcmp(c, "accept") && argi + 1 < argc) {
			failed |= cmd_accept(&h, (uint32_t)atoi(argv[++argi]));
		} else if (!strcmp(c, "accept-seq") && argi + 1 < argc) {
			failed |= cmd_accept_seq(&h, (uint32_t)atoi(argv[++argi]));
		} else if (!strcmp(c, "connect-seq") && argi + 2 < argc) {
			uint32_t port = (uint32_t)atoi(argv[++argi]);

			failed |= cmd_connect_seq(&h, port,
			    (unsigned)strtoul(argv[++argi], NULL, 0));
		} else if (!strcmp(c, "await-stop") && argi + 1 < argc) {
			failed |= cmd_await_stop(&h, &g,
			    (uint32_t)atoi(argv[++argi]));
		} else if (!strcmp(c, "accept-idle") && argi + 2 < argc) {
			uint32_t port = (uint32_t)atoi(argv[++argi]);

			failed |= cmd_accept_idle(&h, port,
			    (unsigned)strtoul(argv[++argi], NULL, 0));
		} else {
			fprintf(stderr, "e2e_guest: bad command '%s'\n", c);
			return 64;
		}
	}
	if (h.g_p != NULL)
		hcvg_fini(&h);
	if (again) {
		/* The watcher may be re-offering: just leave. */
		fflush(stdout);
		_exit(failed ? 1 : 0);
	}
	close(g.sock);
	ioreq_fake_free(g.f);
	return failed ? 1 : 0;
}
