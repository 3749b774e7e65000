/* SPDX-License-Identifier: MIT */
/*
 * The vsock packet state machine: sequences of guest packets into the
 * muxer, interleaved with RX pulls of any size, event-loop turns, host
 * peers that accept, write, read, half-close and vanish, CONNECT clients
 * and transport resets, over real AF_UNIX sockets in a private directory.
 *
 * Checked beyond the sanitizers (vsock.md §3, §4):
 *   - every packet for the guest is well formed: CIDs, a known op and
 *     type, payload only on RW, never an empty RW, at most max_payload;
 *   - an RST from the guest is never answered;
 *   - RW never exceeds the credit the guest granted;
 *   - the connection limit holds;
 *   - no fd outlives an iteration (the muxer frees everything).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/loop.h"
#include "fuzz.h"
#include "vsock/vsock_impl.h"

#define CID		5u
#define NPORTS		4
#define MAX_HOST	32
#define MAX_PAYLOAD	4096u

static char dir[64];
static char uds[108];
static int lfd[2] = { -1, -1 };	/* host programs for ports 1000, 1001 */
static struct loop *lp;

static const uint32_t hports[NPORTS] = { 1000, 1001, 1002, 7 };
static const uint32_t gports[NPORTS] = { 50000, 50001, 1073741824, 1 };

static int
listen_at(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	fz_check(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	fz_check(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	fz_check(listen(fd, 256) == 0);
	return fd;
}

static void
cleanup(void)
{
	char p[160];

	for (int i = 0; i < 2; i++)
		if (lfd[i] >= 0)
			close(lfd[i]);
	snprintf(p, sizeof(p), "%s_1000", uds);
	unlink(p);
	snprintf(p, sizeof(p), "%s_1001", uds);
	unlink(p);
	unlink(uds);
	rmdir(dir);
	loop_free(lp);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[160];

	(void)argc;
	(void)argv;
	fz_quiet();
	snprintf(dir, sizeof(dir), "/tmp/hcvs-fz-XXXXXX");
	fz_check(mkdtemp(dir) != NULL);
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	snprintf(p, sizeof(p), "%s_1000", uds);
	lfd[0] = listen_at(p, SOCK_STREAM);
	snprintf(p, sizeof(p), "%s_1001", uds);
	lfd[1] = listen_at(p, SOCK_SEQPACKET);
	fz_check(loop_new(&lp) == 0);
	atexit(cleanup);
	return 0;
}

struct host {
	int	fd[MAX_HOST];
	int	n;
};

static void
host_add(struct host *h, int fd)
{
	if (fd < 0)
		return;
	if (h->n == MAX_HOST) {
		close(fd);
		return;
	}
	h->fd[h->n++] = fd;
}

static void
host_close(struct host *h, int i)
{
	close(h->fd[i]);
	h->fd[i] = h->fd[--h->n];
}

static void
rx_ready(void *arg)
{
	(void)arg;
}

/* Pull one packet and judge it. */
static void
pull(struct vsock_mux *m, struct fz *in, uint8_t *buf)
{
	struct vsock_pkt_hdr h;
	size_t max = 1 + fz_u16(in) % MAX_PAYLOAD;
	struct vsock_conn *c;

	if (vsock_mux_to_guest(m, &h, buf, max) != 1)
		return;
	fz_check(h.src_cid == VSOCK_CID_HOST && h.dst_cid == CID);
	/* An RST for an unknown type carries that type back, as Linux does. */
	fz_check(h.type == VSOCK_TYPE_STREAM || h.type == VSOCK_TYPE_SEQPACKET ||
	    h.op == VSOCK_OP_RST);
	fz_check(h.op >= VSOCK_OP_REQUEST && h.op <= VSOCK_OP_CREDIT_REQUEST);
	fz_check(h.len <= max);
	fz_check(h.op == VSOCK_OP_RW ? h.len > 0 : h.len == 0);
	c = vsock_mux_lookup(m, h.dst_port, h.src_port);
	if (h.op == VSOCK_OP_RW && c != NULL)
		fz_check(c->c_tx_cnt - c->c_peer_fwd_cnt <= c->c_peer_buf_alloc);
}

static void
guest_packet(struct vsock_mux *m, struct fz *in, uint8_t *buf)
{
	struct vsock_pkt_hdr h;
	uint8_t sel = fz_u8(in);
	struct vsock_mux_stats before, after;
	bool had_conn;

	memset(&h, 0, sizeof(h));
	/* Mostly plausible, sometimes anything. */
	h.src_cid = (sel & 1) ? fz_u64(in) : CID;
	h.dst_cid = (sel & 2) ? fz_u64(in) : VSOCK_CID_HOST;
	h.src_port = (sel & 4) ? fz_u32(in) : gports[fz_u8(in) % NPORTS];
	h.dst_port = (sel & 8) ? fz_u32(in) : hports[fz_u8(in) % NPORTS];
	h.type = (sel & 16) ? fz_u16(in) : 1 + (fz_u8(in) & 1);
	h.op = (sel & 32) ? fz_u16(in) : fz_u8(in) % 8;
	h.flags = fz_u8(in) & ((sel & 64) ? 0xff : 3);
	h.buf_alloc = (sel & 128) ? fz_u32(in) : 1u << (fz_u8(in) % 18);
	h.fwd_cnt = fz_u32(in);
	if (h.op == VSOCK_OP_RW) {
		h.len = fz_u16(in) % (MAX_PAYLOAD + 1);
		fz_bytes(in, buf, h.len);
	} else if ((sel & 0xc0) == 0xc0) {
		h.len = fz_u16(in);
		memset(buf, 0, MAX_PAYLOAD);
		if (h.len > MAX_PAYLOAD)
			h.len = MAX_PAYLOAD;
	}
	had_conn = vsock_mux_lookup(m, h.src_port, h.dst_port) != NULL;
	vsock_mux_get_stats(m, &before);
	vsock_mux_from_guest(m, &h, buf);
	vsock_mux_get_stats(m, &after);
	if (h.op == VSOCK_OP_RST && !had_conn)
		fz_check(after.ms_rst_sent == before.ms_rst_sent);
}

static void
host_op(struct host *hs, struct fz *in, uint8_t *buf)
{
	uint8_t op = fz_u8(in);
	int i, fd;

	switch (op % 6) {
	case 0:
		/* Accept whatever the muxer connected. */
		for (i = 0; i < 2; i++)
			while ((fd = accept4(lfd[i], NULL, NULL,
			    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
				host_add(hs, fd);
		break;
	case 1: {
		size_t n = fz_u16(in) % 8192;

		if (hs->n == 0)
			break;
		memset(buf, 'h', n < MAX_PAYLOAD ? n : MAX_PAYLOAD);
		(void)send(hs->fd[fz_u8(in) % hs->n], buf,
		    n < MAX_PAYLOAD ? n : MAX_PAYLOAD, MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	}
	case 2:
		if (hs->n > 0)
			while (recv(hs->fd[fz_u8(in) % hs->n], buf, MAX_PAYLOAD,
			    MSG_DONTWAIT) > 0)
				;
		break;
	case 3:
		if (hs->n > 0)
			host_close(hs, fz_u8(in) % hs->n);
		break;
	case 4:
		if (hs->n > 0)
			(void)shutdown(hs->fd[fz_u8(in) % hs->n], SHUT_WR);
		break;
	case 5: {
		/* A host program dials the muxer and says something. */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		size_t n = fz_u8(in) % 48;

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		fz_check(fd >= 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			break;
		}
		fz_bytes(in, buf, n);
		if (n > 0 && (op & 0x80))
			n = (size_t)snprintf((char *)buf, 32, "CONNECT %u\n",
			    gports[op % NPORTS]);
		(void)send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		host_add(hs, fd);
		break;
	}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	int fd_floor = fz_lowest_fd();
	static uint8_t buf[MAX_PAYLOAD + 64];
	struct vsock_mux_cfg cfg;
	struct vsock_port_map maps[2];
	struct vsock_mux *m;
	struct vsock_mux_stats st;
	struct host hs = { .n = 0 };
	uint8_t flags = fz_u8(&in);
	unsigned steps = 0;
	int fd;

	memset(&cfg, 0, sizeof(cfg));
	cfg.guest_cid = CID;
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s", uds);
	cfg.default_allow = flags & 1;
	cfg.max_conns = 1 + fz_u8(&in) % 8;
	cfg.buf_alloc = 1 + fz_u16(&in);
	cfg.close_timeout_ms = 1000;
	cfg.connect_timeout_ms = 1000;
	cfg.send_ok_line = flags & 2;
	memset(maps, 0, sizeof(maps));
	maps[0].pm_port = 1000;
	maps[0].pm_allow_connect = true;
	maps[0].pm_allow_listen = true;
	maps[1].pm_port = 1002;
	maps[1].pm_allow_connect = (flags & 4) != 0;
	cfg.maps = maps;
	cfg.nr_maps = 2;
	cfg.rx_ready = rx_ready;
	if (vsock_mux_new(lp, &cfg, &m) != 0)
		return 0;

	while (fz_more(&in) && steps++ < 200) {
		uint8_t op = fz_u8(&in);

		switch (op % 6) {
		case 0:
		case 1:
			guest_packet(m, &in, buf);
			break;
		case 2:
			pull(m, &in, buf);
			break;
		case 3:
			host_op(&hs, &in, buf);
			break;
		case 4:
			(void)loop_run_once(lp, 0);
			break;
		case 5:
			if ((op & 0xf0) == 0xf0)
				vsock_mux_reset(m);
			else
				while (vsock_mux_has_rx(m))
					pull(m, &in, buf);
			break;
		}
		vsock_mux_get_stats(m, &st);
		fz_check(st.ms_conns_open <= cfg.max_conns);
	}
	vsock_mux_free(m);
	while (hs.n > 0)
		host_close(&hs, 0);
	/* Accepted-but-unseen connections queue on our listeners. */
	for (int i = 0; i < 2; i++)
		while ((fd = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(fd);
	(void)loop_run_once(lp, 0);
	fz_check(fz_lowest_fd() == fd_floor);
	return 0;
}
