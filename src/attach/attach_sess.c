/* SPDX-License-Identifier: MIT */
/* The daemon's side of an attach session: HELLO to START, every message validated. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/attach_impl.h"
#include "common/usock.h"

enum sess_state {
	SESS_HELLO,	/* waiting for HELLO */
	SESS_OPEN,	/* collecting the description */
	SESS_LIVE,	/* START accepted */
	SESS_DEAD,	/* protocol error: free it */
};

struct attach_sess {
	int		 as_sock;
	enum sess_state	 as_state;
	bool		 as_have_device;
	bool		 as_have_notify;
	bool		 as_vcpu_seen[ATTACH_MAX_VCPUS];
	unsigned	 as_page_vcpus;
	struct attach_desc as_desc;
	char		 as_reason[ATTACH_REASON_MAX];
};

int
attach_sess_new(int sock, struct attach_sess **sp)
{
	struct attach_sess *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(sock);
		return -ENOMEM;
	}
	s->as_sock = sock;
	s->as_state = SESS_HELLO;
	attach_desc_init(&s->as_desc);
	*sp = s;
	return 0;
}

/*
 * Refuse further messages and discard the queued ones (closing their
 * fds).  A unix socket closed with unread messages makes the peer's next
 * recv fail with ECONNRESET before it can read our RESULT.
 */
static void
sess_drain(struct attach_sess *s)
{
	char buf[ATTACH_MAX_MSG];
	unsigned guard, nfds, what;
	ssize_t n;

	(void)shutdown(s->as_sock, SHUT_RD);
	/* Bounded: the queue cannot grow after SHUT_RD. */
	for (guard = 0; guard < 4096; guard++) {
		/* No room for fds: usock_recv closes every one that came. */
		n = usock_recv(s->as_sock, buf, sizeof(buf), MSG_DONTWAIT, NULL,
		    0, &nfds, &what);
		if (n < 0 || (n == 0 && what == 0))
			break;
	}
}

void
attach_sess_free(struct attach_sess *s)
{
	if (s == NULL)
		return;
	attach_desc_close(&s->as_desc);
	if (s->as_sock >= 0) {
		sess_drain(s);
		close(s->as_sock);
	}
	free(s);
}

void
attach_sess_forget(struct attach_sess *s)
{
	free(s);
}

int
attach_sess_fd(const struct attach_sess *s)
{
	return s->as_sock;
}

const char *
attach_sess_reason(const struct attach_sess *s)
{
	return s->as_reason;
}

struct attach_desc *
attach_sess_desc(struct attach_sess *s)
{
	return &s->as_desc;
}

int
attach_sess_reply(struct attach_sess *s, int status, const char *reason)
{
	struct attach_msg_result r;

	memset(&r, 0, sizeof(r));
	r.rs_status = status;
	if (reason != NULL)
		snprintf(r.rs_reason, sizeof(r.rs_reason), "%s", reason);
	return attach_send_msg(s->as_sock, ATTACH_MSG_RESULT, &r, sizeof(r),
	    NULL, 0);
}

/* Reserved words and flags must be zero so that they can gain meaning. */
#define CHECK_ZERO(s, v, name) do {					\
	if ((v) != 0)							\
		return sess_fail(s, -EINVAL, "%s: must be 0", (name));	\
} while (0)

static int
sess_fail(struct attach_sess *s, int rc, const char *fmt, ...)
    __printf(3, 4);

static int
sess_fail(struct attach_sess *s, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->as_reason, sizeof(s->as_reason), fmt, ap);
	va_end(ap);
	return rc;
}

static size_t
msg_payload_size(uint16_t type, unsigned *nfds_min, unsigned *nfds_max)
{
	*nfds_min = *nfds_max = 0;
	switch (type) {
	case ATTACH_MSG_HELLO:
		return sizeof(struct attach_msg_hello);
	case ATTACH_MSG_MEM_REGION:
		*nfds_min = *nfds_max = 1;
		return sizeof(struct attach_msg_region);
	case ATTACH_MSG_DEVICE:
		return sizeof(struct attach_msg_device);
	case ATTACH_MSG_NOTIFY_VM:
		*nfds_min = *nfds_max = 1;
		return sizeof(struct attach_msg_notify_vm);
	case ATTACH_MSG_NOTIFY_EVENTFDS:
		*nfds_min = 1;
		*nfds_max = 2;
		return sizeof(struct attach_msg_notify_eventfds);
	case ATTACH_MSG_IOREQ_PAGE:
		*nfds_min = *nfds_max = 1;
		return sizeof(struct attach_msg_ioreq_page);
	case ATTACH_MSG_IOREQ_VCPU:
		*nfds_min = *nfds_max = 2;
		return sizeof(struct attach_msg_ioreq_vcpu);
	case ATTACH_MSG_START:
		return 0;
	case ATTACH_MSG_STATE_PAGE:
		*nfds_min = *nfds_max = 1;
		return sizeof(struct attach_msg_state_page);
	default:
		return SIZE_MAX;
	}
}

static int
sess_hello(struct attach_sess *s, const struct attach_msg_hello *he)
{
	struct attach_msg_hello_reply hr;
	size_t i;

	CHECK_ZERO(s, he->he_flags, "HELLO flags");
	CHECK_ZERO(s, he->he_reserved, "HELLO reserved");
	if (memchr(he->he_name, '\0', sizeof(he->he_name)) == NULL)
		return sess_fail(s, -EINVAL, "HELLO name not terminated");
	/* The name goes into log lines: printable ASCII only. */
	for (i = 0; he->he_name[i] != '\0'; i++) {
		char c = he->he_name[i];

		s->as_desc.ad_name[i] = c > 0x20 && c < 0x7f ? c : '_';
	}
	memset(&hr, 0, sizeof(hr));
	hr.hr_version = ATTACH_VERSION;
	if (attach_send_msg(s->as_sock, ATTACH_MSG_HELLO_REPLY, &hr,
	    sizeof(hr), NULL, 0) < 0)
		return sess_fail(s, -EPIPE, "cannot answer HELLO");
	s->as_state = SESS_OPEN;
	return 0;
}

static int
sess_region(struct attach_sess *s, const struct attach_msg_region *mr,
    int *fds)
{
	struct attach_desc *d = &s->as_desc;
	struct attach_region *r;
	unsigned i;
	int rc;

	CHECK_ZERO(s, mr->mr_flags, "MEM_REGION flags");
	CHECK_ZERO(s, mr->mr_reserved, "MEM_REGION reserved");
	if (d->ad_nr_regions >= ATTACH_MAX_REGIONS)
		return sess_fail(s, -ENOSPC, "more than %u memory regions",
		    ATTACH_MAX_REGIONS);
	r = &d->ad_regions[d->ad_nr_regions];
	r->ar_fd = fds[0];
	r->ar_gpa = mr->mr_gpa;
	r->ar_size = mr->mr_size;
	r->ar_offset = mr->mr_offset;
	fds[0] = -1;
	rc = attach_check_region(r, d->ad_nr_regions, s->as_reason,
	    sizeof(s->as_reason));
	for (i = 0; rc == 0 && i < d->ad_nr_regions; i++) {
		const struct attach_region *q = &d->ad_regions[i];

		if (r->ar_gpa < q->ar_gpa + q->ar_size &&
		    q->ar_gpa < r->ar_gpa + r->ar_size)
			rc = sess_fail(s, -EINVAL, "region %u overlaps region %u",
			    d->ad_nr_regions, i);
	}
	if (rc < 0) {
		close(r->ar_fd);
		r->ar_fd = -1;
		return rc;
	}
	d->ad_nr_regions++;
	return 0;
}

static int
sess_device(struct attach_sess *s, const struct attach_msg_device *md)
{
	struct attach_desc *d = &s->as_desc;
	enum ioreq_space sp;
	unsigned i;
	int rc;

	CHECK_ZERO(s, md->md_flags, "DEVICE flags");
	CHECK_ZERO(s, md->md_reserved, "DEVICE reserved");
	if (s->as_have_device)
		return sess_fail(s, -EEXIST, "DEVICE sent twice");
	if (md->md_window_kind != ATTACH_WINDOW_PIO &&
	    md->md_window_kind != ATTACH_WINDOW_MMIO)
		return sess_fail(s, -EINVAL, "window kind %u unknown",
		    md->md_window_kind);
	sp = md->md_window_kind == ATTACH_WINDOW_PIO ? IOREQ_SPACE_PIO :
	    IOREQ_SPACE_MMIO;
	rc = attach_check_device(md->md_cid, sp, md->md_window_base,
	    md->md_nr_vcpus, s->as_reason, sizeof(s->as_reason));
	if (rc < 0)
		return rc;
	for (i = md->md_nr_vcpus; i < ATTACH_MAX_VCPUS; i++)
		if (s->as_vcpu_seen[i])
			return sess_fail(s, -EINVAL,
			    "vCPU %u was sent but DEVICE has %u", i,
			    md->md_nr_vcpus);
	if (s->as_page_vcpus != 0 && s->as_page_vcpus != md->md_nr_vcpus)
		return sess_fail(s, -EINVAL,
		    "IOREQ_PAGE has %u vCPUs, DEVICE %u", s->as_page_vcpus,
		    md->md_nr_vcpus);
	d->ad_cid = md->md_cid;
	d->ad_window_space = sp;
	d->ad_window_base = md->md_window_base;
	d->ad_nr_vcpus = md->md_nr_vcpus;
	s->as_have_device = true;
	return 0;
}

static int
sess_notify_vm(struct attach_sess *s, const struct attach_msg_notify_vm *nv,
    int *fds)
{
	int rc;

	CHECK_ZERO(s, nv->nv_flags, "NOTIFY_VM flags");
	CHECK_ZERO(s, nv->nv_reserved, "NOTIFY_VM reserved");
	if (s->as_have_notify)
		return sess_fail(s, -EEXIST, "notification sent twice");
	rc = attach_check_vm_fd(fds[0], s->as_reason, sizeof(s->as_reason));
	if (rc < 0)
		return rc;
	s->as_desc.ad_vm_fd = fds[0];
	fds[0] = -1;
	s->as_have_notify = true;
	return 0;
}

static int
sess_notify_eventfds(struct attach_sess *s,
    const struct attach_msg_notify_eventfds *ne, int *fds, unsigned nfds)
{
	struct attach_desc *d = &s->as_desc;
	int rc;

	CHECK_ZERO(s, ne->ne_flags, "NOTIFY_EVENTFDS flags");
	if (s->as_have_notify)
		return sess_fail(s, -EEXIST, "notification sent twice");
	if ((nfds == 2) != (ne->ne_gsi != ATTACH_GSI_NONE))
		return sess_fail(s, -EINVAL,
		    "NOTIFY_EVENTFDS: an irq fd needs a GSI and vice versa");
	rc = attach_check_eventfd(fds[0], "kick fd", s->as_reason,
	    sizeof(s->as_reason));
	if (rc == 0 && nfds == 2)
		rc = attach_check_eventfd(fds[1], "irq fd", s->as_reason,
		    sizeof(s->as_reason));
	if (rc < 0)
		return rc;
	d->ad_kick_fd = fds[0];
	fds[0] = -1;
	if (nfds == 2) {
		d->ad_irq_fd = fds[1];
		d->ad_irq_gsi = ne->ne_gsi;
		fds[1] = -1;
	}
	s->as_have_notify = true;
	return 0;
}

static int
sess_ioreq_page(struct attach_sess *s, const struct attach_msg_ioreq_page *ip,
    int *fds)
{
	CHECK_ZERO(s, ip->ip_flags, "IOREQ_PAGE flags");
	if (s->as_desc.ad_page_fd >= 0)
		return sess_fail(s, -EEXIST, "IOREQ_PAGE sent twice");
	if (ip->ip_nr_vcpus == 0 || ip->ip_nr_vcpus > ATTACH_MAX_VCPUS)
		return sess_fail(s, -EINVAL, "IOREQ_PAGE: %u vCPUs",
		    ip->ip_nr_vcpus);
	if (s->as_have_device && ip->ip_nr_vcpus != s->as_desc.ad_nr_vcpus)
		return sess_fail(s, -EINVAL,
		    "IOREQ_PAGE has %u vCPUs, DEVICE %u", ip->ip_nr_vcpus,
		    s->as_desc.ad_nr_vcpus);
	s->as_page_vcpus = ip->ip_nr_vcpus;
	s->as_desc.ad_page_fd = fds[0];
	fds[0] = -1;
	return 0;
}

static int
sess_state_page(struct attach_sess *s, const struct attach_msg_state_page *sp,
    int *fds)
{
	CHECK_ZERO(s, sp->sp_flags, "STATE_PAGE flags");
	if (s->as_desc.ad_state_fd >= 0)
		return sess_fail(s, -EEXIST, "STATE_PAGE sent twice");
	if (sp->sp_size != ATTACH_STATE_PAGE)
		return sess_fail(s, -EINVAL, "STATE_PAGE: size %u, must be %u",
		    sp->sp_size, ATTACH_STATE_PAGE);
	s->as_desc.ad_state_fd = fds[0];
	fds[0] = -1;
	return 0;
}

static int
sess_ioreq_vcpu(struct attach_sess *s, const struct attach_msg_ioreq_vcpu *iv,
    int *fds)
{
	struct ioreq_shm_vcpu *v;
	int rc;

	CHECK_ZERO(s, iv->iv_reserved, "IOREQ_VCPU reserved");
	if (iv->iv_vcpu >= ATTACH_MAX_VCPUS ||
	    (s->as_have_device && iv->iv_vcpu >= s->as_desc.ad_nr_vcpus))
		return sess_fail(s, -EINVAL, "IOREQ_VCPU: vCPU %u out of range",
		    iv->iv_vcpu);
	if (s->as_vcpu_seen[iv->iv_vcpu])
		return sess_fail(s, -EEXIST, "IOREQ_VCPU: vCPU %u sent twice",
		    iv->iv_vcpu);
	rc = attach_check_eventfd(fds[0], "vCPU kick fd", s->as_reason,
	    sizeof(s->as_reason));
	if (rc == 0)
		rc = attach_check_eventfd(fds[1], "vCPU done fd",
		    s->as_reason, sizeof(s->as_reason));
	if (rc < 0)
		return rc;
	v = &s->as_desc.ad_vcpus[iv->iv_vcpu];
	v->kick_fd = fds[0];
	v->done_fd = fds[1];
	fds[0] = fds[1] = -1;
	s->as_vcpu_seen[iv->iv_vcpu] = true;
	return 0;
}

static int
sess_start(struct attach_sess *s)
{
	unsigned i;

	if (!s->as_have_device)
		return sess_fail(s, -EINVAL, "START before DEVICE");
	if (s->as_desc.ad_nr_regions == 0)
		return sess_fail(s, -EINVAL, "START without memory regions");
	if (s->as_desc.ad_page_fd < 0)
		return sess_fail(s, -EINVAL, "START without IOREQ_PAGE");
	for (i = 0; i < s->as_desc.ad_nr_vcpus; i++)
		if (!s->as_vcpu_seen[i])
			return sess_fail(s, -EINVAL,
			    "START without IOREQ_VCPU %u", i);
	return attach_desc_check(&s->as_desc, s->as_reason,
	    sizeof(s->as_reason));
}

static int
sess_dispatch(struct attach_sess *s, const struct attach_msg_hdr *hdr,
    const void *buf, int *fds, unsigned nfds)
{
	unsigned fmin, fmax;
	size_t want;

	want = msg_payload_size(hdr->mh_type, &fmin, &fmax);
	if (want == SIZE_MAX || hdr->mh_type >= ATTACH_MSG_HELLO_REPLY)
		return sess_fail(s, -EPROTO, "unknown message type %u",
		    hdr->mh_type);
	if (hdr->mh_size != want)
		return sess_fail(s, -EPROTO,
		    "message type %u: %u payload bytes, expected %zu",
		    hdr->mh_type, hdr->mh_size, want);
	if (nfds < fmin || nfds > fmax)
		return sess_fail(s, -EPROTO,
		    "message type %u: %u fds, expected %u..%u", hdr->mh_type,
		    nfds, fmin, fmax);
	if (s->as_state == SESS_HELLO && hdr->mh_type != ATTACH_MSG_HELLO)
		return sess_fail(s, -EPROTO, "message type %u before HELLO",
		    hdr->mh_type);
	if (s->as_state == SESS_LIVE)
		return sess_fail(s, -EPROTO, "message type %u after START",
		    hdr->mh_type);

	switch (hdr->mh_type) {
	case ATTACH_MSG_HELLO:
		if (s->as_state != SESS_HELLO)
			return sess_fail(s, -EPROTO, "HELLO sent twice");
		return sess_hello(s, buf);
	case ATTACH_MSG_MEM_REGION:
		return sess_region(s, buf, fds);
	case ATTACH_MSG_DEVICE:
		return sess_device(s, buf);
	case ATTACH_MSG_NOTIFY_VM:
		return sess_notify_vm(s, buf, fds);
	case ATTACH_MSG_NOTIFY_EVENTFDS:
		return sess_notify_eventfds(s, buf, fds, nfds);
	case ATTACH_MSG_IOREQ_PAGE:
		return sess_ioreq_page(s, buf, fds);
	case ATTACH_MSG_IOREQ_VCPU:
		return sess_ioreq_vcpu(s, buf, fds);
	case ATTACH_MSG_STATE_PAGE:
		return sess_state_page(s, buf, fds);
	case ATTACH_MSG_START: {
		int rc = sess_start(s);

		if (rc < 0)
			return rc;
		s->as_state = SESS_LIVE;
		return 1;
	}
	default:
		return sess_fail(s, -EPROTO, "unknown message type %u",
		    hdr->mh_type);
	}
}

int
attach_sess_recv(struct attach_sess *s)
{
	/* Aligned for the payload structs. */
	union {
		uint64_t	align;
		char		buf[ATTACH_MAX_MSG];
	} u;
	struct attach_msg_hdr hdr;
	int fds[ATTACH_MAX_FDS];
	unsigned nfds = 0;
	int rc;

	if (s->as_state == SESS_DEAD)
		return -EPIPE;
	memset(&hdr, 0, sizeof(hdr));
	rc = attach_recv_msg(s->as_sock, &hdr, u.buf, sizeof(u.buf), fds,
	    &nfds, s->as_reason, sizeof(s->as_reason));
	if (rc == -EAGAIN)
		return rc;
	if (rc == -ECONNRESET) {
		snprintf(s->as_reason, sizeof(s->as_reason),
		    "the VMM closed the connection");
		s->as_state = SESS_DEAD;
		return rc;
	}
	if (rc == 0) {
		rc = sess_dispatch(s, &hdr, u.buf, fds, nfds);
		/* Whatever a handler did not take is closed here. */
		attach_close_fds(fds, nfds);
	}
	if (rc < 0) {
		struct attach_msg_result r;

		if (s->as_reason[0] == '\0')
			snprintf(s->as_reason, sizeof(s->as_reason), "%s",
			    strerror(-rc));
		memset(&r, 0, sizeof(r));
		r.rs_status = rc;
		r.rs_msg_type = hdr.mh_type;
		snprintf(r.rs_reason, sizeof(r.rs_reason), "%s", s->as_reason);
		/* Best effort: the VMM may already be gone. */
		if (attach_send_msg(s->as_sock, ATTACH_MSG_RESULT, &r,
		    sizeof(r), NULL, 0) < 0)
			s->as_reason[sizeof(s->as_reason) - 1] = '\0';
		sess_drain(s);
		s->as_state = SESS_DEAD;
	}
	return rc;
}
