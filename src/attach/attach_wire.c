/* SPDX-License-Identifier: MIT */
/* The attach wire format: one framed message with its fds (SCM_RIGHTS), checked before use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/attach_impl.h"
#include "common/usock.h"

/* The wire format is the contract of docs/KVM-ATTACH.md: sizes are fixed. */
_Static_assert(sizeof(struct attach_msg_hdr) == 16, "header");
_Static_assert(sizeof(struct attach_msg_hello) == 40, "HELLO");
_Static_assert(sizeof(struct attach_msg_hello_reply) == 8, "HELLO_REPLY");
_Static_assert(sizeof(struct attach_msg_region) == 32, "MEM_REGION");
_Static_assert(sizeof(struct attach_msg_device) == 32, "DEVICE");
_Static_assert(sizeof(struct attach_msg_notify_vm) == 8, "NOTIFY_VM");
_Static_assert(sizeof(struct attach_msg_notify_eventfds) == 8,
    "NOTIFY_EVENTFDS");
_Static_assert(sizeof(struct attach_msg_ioreq_page) == 8, "IOREQ_PAGE");
_Static_assert(sizeof(struct attach_msg_ioreq_vcpu) == 8, "IOREQ_VCPU");
_Static_assert(sizeof(struct attach_msg_result) == 136, "RESULT");

/* Room for more fds than any message may carry, so that excess is reported. */
#define ATTACH_RECV_FDS		16u

int
attach_send_msg(int sock, uint16_t type, const void *payload, size_t size,
    const int *fds, unsigned nfds)
{
	struct attach_msg_hdr hdr;
	struct iovec iov[2];
	ssize_t n;

	if (size > ATTACH_MAX_MSG - sizeof(hdr))
		return -EINVAL;
	memset(&hdr, 0, sizeof(hdr));
	hdr.mh_magic = ATTACH_MAGIC;
	hdr.mh_version = ATTACH_VERSION;
	hdr.mh_type = type;
	hdr.mh_size = (uint32_t)size;
	hdr.mh_nfds = nfds;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)payload;
	iov[1].iov_len = size;
	n = usock_send(sock, iov, size > 0 ? 2 : 1, fds, nfds, 0);
	if (n < 0)
		return (int)n;
	if ((size_t)n != sizeof(hdr) + size)
		return -EMSGSIZE;
	return 0;
}

void
attach_close_fds(int *fds, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int
attach_recv_msg(int sock, struct attach_msg_hdr *hdr, void *buf,
    size_t buflen, int *fds, unsigned *nfds, char *err, size_t errlen)
{
	char msg[ATTACH_MAX_MSG + 1];
	int got[ATTACH_RECV_FDS];
	unsigned ngot, what, i;
	ssize_t n;
	int rc;

	*nfds = 0;
	n = usock_recv(sock, msg, sizeof(msg), MSG_DONTWAIT, got,
	    ATTACH_RECV_FDS, &ngot, &what);
	if (n < 0)
		return (int)n;
	if ((what & USOCK_FOREIGN) != 0) {
		rc = attach_errf(err, errlen, -EPROTO,
		    "unexpected control message");
		goto err_close;
	}
	if (n == 0 && ngot == 0 && what == 0)
		return -ECONNRESET;
	if ((what & USOCK_EXCESS) != 0) {
		rc = attach_errf(err, errlen, -EPROTO,
		    "too many fds");
		goto err_close;
	}
	if ((what & USOCK_TRUNC) != 0 || (size_t)n > ATTACH_MAX_MSG) {
		rc = attach_errf(err, errlen, -EPROTO,
		    "message longer than %u bytes", ATTACH_MAX_MSG);
		goto err_close;
	}
	if ((size_t)n < sizeof(*hdr)) {
		rc = attach_errf(err, errlen, -EPROTO,
		    "short message (%zd bytes)", n);
		goto err_close;
	}
	memcpy(hdr, msg, sizeof(*hdr));
	if (hdr->mh_magic != ATTACH_MAGIC) {
		rc = attach_errf(err, errlen, -EPROTO, "bad magic 0x%08x",
		    hdr->mh_magic);
		goto err_close;
	}
	if (hdr->mh_version != ATTACH_VERSION) {
		rc = attach_errf(err, errlen, -EPROTONOSUPPORT,
		    "protocol version %u not supported (this side speaks %u)",
		    hdr->mh_version, ATTACH_VERSION);
		goto err_close;
	}
	if (hdr->mh_size != (size_t)n - sizeof(*hdr)) {
		rc = attach_errf(err, errlen, -EPROTO,
		    "size field %u but %zu payload bytes", hdr->mh_size,
		    (size_t)n - sizeof(*hdr));
		goto err_close;
	}
	if (hdr->mh_nfds != ngot || ngot > ATTACH_MAX_FDS) {
		rc = attach_errf(err, errlen, -EPROTO,
		    "%u fds announced, %u received (at most %u)", hdr->mh_nfds,
		    ngot, ATTACH_MAX_FDS);
		goto err_close;
	}
	if (hdr->mh_size > buflen) {
		rc = attach_errf(err, errlen, -EPROTO,
		    "payload of %u bytes too long for message type %u",
		    hdr->mh_size, hdr->mh_type);
		goto err_close;
	}
	memcpy(buf, msg + sizeof(*hdr), hdr->mh_size);
	for (i = 0; i < ngot; i++)
		fds[i] = got[i];
	*nfds = ngot;
	return 0;

err_close:
	attach_close_fds(got, ngot);
	return rc;
}
