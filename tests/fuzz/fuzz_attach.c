/* SPDX-License-Identifier: MIT */
/*
 * The KVM attach protocol from a hostile VMM: the input is a sequence of
 * SOCK_SEQPACKET messages (header fields mostly right, sometimes not;
 * payloads of any size; 0-3 fds of assorted kinds: memfds of several
 * sizes, eventfds, a pipe) fed to the daemon side of a session.
 *
 * Checked: the session never crashes; a description it declares complete
 * passes attach_desc_check() on its own; every fd received is closed by
 * attach_sess_free (the iteration leaks no fd).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attach/attach.h"
#include "common/usock.h"
#include "fuzz.h"

static int
make_fd(uint8_t kind)
{
	static const off_t sizes[] = { 0, 4096, 65536, 1 << 20 };
	int fd, p[2];

	switch (kind % 4) {
	case 0:
	case 1:
		fd = memfd_create("fz", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, sizes[(kind >> 2) % 4]) < 0) {
			close(fd);
			fd = -1;
		}
		return fd;
	case 2:
		return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	default:
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		close(p[1]);
		return p[0];
	}
}

/* One message, header and all built from the input. */
static void
send_one(int sock, struct fz *in)
{
	uint8_t msg[ATTACH_MAX_MSG + 64];
	struct attach_msg_hdr hdr;
	uint8_t sel = fz_u8(in);
	unsigned nfds = fz_u8(in) % 4, i;
	size_t plen = fz_u8(in);
	int fds[4];
	struct iovec iov;

	memset(&hdr, 0, sizeof(hdr));
	hdr.mh_magic = (sel & 1) ? fz_u32(in) : ATTACH_MAGIC;
	hdr.mh_version = (sel & 2) ? fz_u16(in) : ATTACH_VERSION;
	hdr.mh_type = (sel & 4) ? fz_u16(in) : 1 + fz_u8(in) % ATTACH_MSG_STATE_PAGE;
	if (plen > sizeof(msg) - sizeof(hdr))
		plen = sizeof(msg) - sizeof(hdr);
	hdr.mh_size = (sel & 8) ? fz_u32(in) : (uint32_t)plen;
	hdr.mh_nfds = (sel & 16) ? fz_u32(in) : nfds;
	memcpy(msg, &hdr, sizeof(hdr));
	fz_bytes(in, msg + sizeof(hdr), plen);
	if (sel & 32)
		plen = fz_u8(in) % sizeof(hdr);	/* a short message */
	else
		plen += sizeof(hdr);

	for (i = 0; i < nfds; i++) {
		fds[i] = make_fd(fz_u8(in));
		if (fds[i] < 0)
			fds[i] = make_fd(2);
		fz_check(fds[i] >= 0);
	}
	iov.iov_base = msg;
	iov.iov_len = plen;
	(void)usock_send(sock, &iov, 1, fds, nfds, MSG_DONTWAIT);
	/* In flight the kernel holds its own references. */
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	int fd_floor = fz_lowest_fd();
	struct attach_sess *s;
	unsigned steps = 0;
	int sv[2], rc = 0;
	char err[256];

	fz_check(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0, sv) == 0);
	fz_check(attach_sess_new(sv[0], &s) == 0);
	while (fz_more(&in) && steps++ < 40) {
		uint8_t op = fz_u8(&in);

		if (op == 0xff) {
			/* The VMM goes away mid-protocol. */
			close(sv[1]);
			sv[1] = -1;
		} else if (sv[1] >= 0) {
			send_one(sv[1], &in);
		}
		do
			rc = attach_sess_recv(s);
		while (rc == 0);
		if (rc == 1) {
			fz_check(attach_desc_check(attach_sess_desc(s), err,
			    sizeof(err)) == 0);
			(void)attach_sess_reply(s, 0, "ok");
			/* Anything more after START is an error. */
			break;
		}
		if (rc != -EAGAIN)
			break;
	}
	attach_sess_free(s);
	if (sv[1] >= 0)
		close(sv[1]);
	fz_check(fz_lowest_fd() == fd_floor);
	return 0;
}
