/* SPDX-License-Identifier: MIT */
/* The VMM's side of the attach socket: connect, send a description, wait for the result. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "attach/attach_impl.h"
#include "attach/attach_vmm.h"
#include "common/mono.h"
#include "common/usock.h"

int
attach_vmm_connect(const char *path, int *sockp)
{
	int fd = usock_connect(path, SOCK_SEQPACKET);

	if (fd < 0)
		return fd;
	*sockp = fd;
	return 0;
}

/* Wait for one message of `type` from the daemon. */
static int
vmm_wait(int sock, uint16_t type, void *buf, size_t size, int timeout_ms,
    struct attach_msg_result *res, char *err, size_t errlen)
{
	union {
		uint64_t	align;
		char		buf[ATTACH_MAX_MSG];
	} u;
	struct attach_msg_hdr hdr;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int fds[ATTACH_MAX_FDS];
	unsigned nfds;
	int rc;

	for (;;) {
		rc = poll(&pfd, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return attach_errf(err, errlen, -ETIMEDOUT,
			    "no answer from hcvsockd");
		rc = attach_recv_msg(sock, &hdr, u.buf, sizeof(u.buf), fds,
		    &nfds, err, errlen);
		if (rc == -EAGAIN)
			continue;
		if (rc == -ECONNRESET)
			return attach_errf(err, errlen, -ECONNRESET,
			    "hcvsockd closed the connection");
		if (rc < 0)
			return rc;
		attach_close_fds(fds, nfds);
		if (hdr.mh_type == ATTACH_MSG_RESULT &&
		    hdr.mh_size == sizeof(*res)) {
			memcpy(res, u.buf, sizeof(*res));
			res->rs_reason[sizeof(res->rs_reason) - 1] = '\0';
			if (type == ATTACH_MSG_RESULT || res->rs_status < 0)
				return 1;
			continue;
		}
		if (hdr.mh_type == type && hdr.mh_size == size) {
			memcpy(buf, u.buf, size);
			return 0;
		}
		return attach_errf(err, errlen, -EPROTO,
		    "unexpected message type %u from hcvsockd", hdr.mh_type);
	}
}

static int
vmm_result(const struct attach_msg_result *res, char *err, size_t errlen)
{
	if (res->rs_status > 0)
		return attach_errf(err, errlen, -EPROTO,
		    "hcvsockd sent a positive status");
	if (res->rs_status < 0 && res->rs_msg_type != 0)
		return attach_errf(err, errlen, res->rs_status,
		    "hcvsockd refused message type %u: %s", res->rs_msg_type,
		    res->rs_reason);
	if (res->rs_status < 0)
		return attach_errf(err, errlen, res->rs_status,
		    "hcvsockd refused: %s", res->rs_reason);
	return attach_errf(err, errlen, 0, "attached");
}

int
attach_vmm_send(int sock, const struct attach_desc *d, int timeout_ms,
    char *err, size_t errlen)
{
	struct attach_msg_result res;
	struct attach_msg_hello he;
	struct attach_msg_hello_reply hr;
	struct attach_msg_device md;
	unsigned i;
	int rc, fds[2];

	memset(&res, 0, sizeof(res));
	memset(&he, 0, sizeof(he));
	snprintf(he.he_name, sizeof(he.he_name), "%s", d->ad_name);
	rc = attach_send_msg(sock, ATTACH_MSG_HELLO, &he, sizeof(he), NULL, 0);
	if (rc < 0) {
		/* Refused at once (e.g. too many VMMs): the RESULT says why. */
		if (vmm_wait(sock, ATTACH_MSG_RESULT, NULL, 0, timeout_ms, &res,
		    err, errlen) == 1)
			return vmm_result(&res, err, errlen);
		return attach_errf(err, errlen, rc, "send HELLO: %s",
		    strerror(-rc));
	}
	rc = vmm_wait(sock, ATTACH_MSG_HELLO_REPLY, &hr, sizeof(hr), timeout_ms,
	    &res, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return vmm_result(&res, err, errlen);
	if (hr.hr_version != ATTACH_VERSION)
		return attach_errf(err, errlen, -EPROTONOSUPPORT,
		    "hcvsockd speaks attach version %u", hr.hr_version);

	for (i = 0; i < d->ad_nr_regions && rc >= 0; i++) {
		struct attach_msg_region mr = {
			.mr_gpa = d->ad_regions[i].ar_gpa,
			.mr_size = d->ad_regions[i].ar_size,
			.mr_offset = d->ad_regions[i].ar_offset,
		};

		rc = attach_send_msg(sock, ATTACH_MSG_MEM_REGION, &mr,
		    sizeof(mr), &d->ad_regions[i].ar_fd, 1);
	}
	if (rc >= 0) {
		memset(&md, 0, sizeof(md));
		md.md_cid = d->ad_cid;
		md.md_window_base = d->ad_window_base;
		md.md_window_kind = d->ad_window_space == IOREQ_SPACE_MMIO ?
		    ATTACH_WINDOW_MMIO : ATTACH_WINDOW_PIO;
		md.md_nr_vcpus = d->ad_nr_vcpus;
		rc = attach_send_msg(sock, ATTACH_MSG_DEVICE, &md, sizeof(md),
		    NULL, 0);
	}
	if (rc >= 0 && d->ad_vm_fd >= 0) {
		struct attach_msg_notify_vm nv = { 0 };

		rc = attach_send_msg(sock, ATTACH_MSG_NOTIFY_VM, &nv,
		    sizeof(nv), &d->ad_vm_fd, 1);
	} else if (rc >= 0 && d->ad_kick_fd >= 0) {
		struct attach_msg_notify_eventfds ne = {
			.ne_gsi = d->ad_irq_fd >= 0 ? d->ad_irq_gsi :
			    ATTACH_GSI_NONE,
		};

		fds[0] = d->ad_kick_fd;
		fds[1] = d->ad_irq_fd;
		rc = attach_send_msg(sock, ATTACH_MSG_NOTIFY_EVENTFDS, &ne,
		    sizeof(ne), fds, d->ad_irq_fd >= 0 ? 2 : 1);
	}
	if (rc >= 0) {
		struct attach_msg_ioreq_page ip = {
			.ip_nr_vcpus = d->ad_nr_vcpus,
		};

		rc = attach_send_msg(sock, ATTACH_MSG_IOREQ_PAGE, &ip,
		    sizeof(ip), &d->ad_page_fd, 1);
	}
	for (i = 0; i < d->ad_nr_vcpus && rc >= 0; i++) {
		struct attach_msg_ioreq_vcpu iv = { .iv_vcpu = i };

		fds[0] = d->ad_vcpus[i].kick_fd;
		fds[1] = d->ad_vcpus[i].done_fd;
		rc = attach_send_msg(sock, ATTACH_MSG_IOREQ_VCPU, &iv,
		    sizeof(iv), fds, 2);
	}
	if (rc >= 0 && d->ad_state_fd >= 0) {
		struct attach_msg_state_page sp = {
			.sp_size = ATTACH_STATE_PAGE,
		};

		rc = attach_send_msg(sock, ATTACH_MSG_STATE_PAGE, &sp,
		    sizeof(sp), &d->ad_state_fd, 1);
	}
	if (rc >= 0)
		rc = attach_send_msg(sock, ATTACH_MSG_START, NULL, 0, NULL, 0);
	/*
	 * A send that failed usually means hcvsockd refused something and
	 * hung up: its RESULT, if any, says what.
	 */
	if (vmm_wait(sock, ATTACH_MSG_RESULT, NULL, 0, timeout_ms, &res, err,
	    errlen) == 1)
		return vmm_result(&res, err, errlen);
	if (rc < 0)
		return attach_errf(err, errlen, rc, "send: %s", strerror(-rc));
	return attach_errf(err, errlen, -EPROTO, "no RESULT from hcvsockd");
}

int
attach_vmm_reattach(const char *path, const struct attach_desc *d,
    int give_up_ms, int *sockp, unsigned *attempts,
    void (*note)(void *arg, const char *why), void *arg, char *err,
    size_t errlen)
{
	uint64_t start = mono_ms(), now;
	unsigned delay_ms = 50, n = 0;
	char last[256] = "";
	int sock, rc;

	for (;;) {
		n++;
		rc = attach_vmm_connect(path, &sock);
		if (rc < 0) {
			attach_errf(err, errlen, rc, "connect %s: %s", path,
			    strerror(-rc));
		} else {
			rc = attach_vmm_send(sock, d, 10000, err, errlen);
			if (rc == 0) {
				*sockp = sock;
				if (attempts != NULL)
					*attempts = n;
				return 0;
			}
			close(sock);
		}
		/* Once per kind of failure: a daemon coming up is not news. */
		if (note != NULL && strcmp(last, err) != 0)
			note(arg, err);
		snprintf(last, sizeof(last), "%s", err);
		now = mono_ms();
		if (give_up_ms >= 0 && now - start >= (uint64_t)give_up_ms) {
			if (attempts != NULL)
				*attempts = n;
			return attach_errf(err, errlen, -ETIMEDOUT,
			    "not re-attached within %d ms (%u attempts): %s",
			    give_up_ms, n, last);
		}
		if (give_up_ms >= 0 && now + delay_ms - start > (uint64_t)give_up_ms)
			delay_ms = (unsigned)((uint64_t)give_up_ms - (now - start));
		{
			struct timespec ts = {
				.tv_sec = delay_ms / 1000,
				.tv_nsec = (long)(delay_ms % 1000) * 1000000L,
			};

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		delay_ms = delay_ms * 2 > 1000 ? 1000 : delay_ms * 2;
	}
}
