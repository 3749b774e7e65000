/* SPDX-License-Identifier: MIT */
/* The attach protocol: description checks, the socket session with hostile peers, the ioreq forwarder. */
#include <endian.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_KVM
#include <linux/kvm.h>
#include <sys/ioctl.h>
#endif

#include <xen/hvm/ioreq.h>

#include "test_common.h"
#include "attach/attach.h"
#include "attach/attach_impl.h"
#include "attach/attach_vmm.h"
#include "attach/attach_vsock.h"
#include "common/loop.h"
#include "hcvsock_abi.h"
#include "vsock/vsock_dev.h"

static int
sealed_memfd(uint64_t size, bool seal)
{
	int fd = memfd_create("test-attach", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	return fd;
}

static int
efd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(fd >= 0);
	return fd;
}

/* A complete, valid description with `nr_vcpus` vCPUs; fds owned by d. */
static void
good_desc(struct attach_desc *d, unsigned nr_vcpus)
{
	unsigned i;

	attach_desc_init(d);
	snprintf(d->ad_name, sizeof(d->ad_name), "test-vmm");
	d->ad_cid = 42;
	d->ad_window_space = IOREQ_SPACE_PIO;
	d->ad_window_base = 0x5a0;
	d->ad_nr_regions = 2;
	d->ad_regions[0].ar_fd = sealed_memfd(6u << 20, true);
	d->ad_regions[0].ar_gpa = 0;
	d->ad_regions[0].ar_size = 4u << 20;
	d->ad_regions[0].ar_offset = 0;
	d->ad_regions[1].ar_fd = dup(d->ad_regions[0].ar_fd);
	d->ad_regions[1].ar_gpa = 0x100000000ull;
	d->ad_regions[1].ar_size = 2u << 20;
	d->ad_regions[1].ar_offset = 4u << 20;
	d->ad_kick_fd = efd();
	d->ad_irq_fd = efd();
	d->ad_irq_gsi = 5;
	d->ad_page_fd = sealed_memfd(4096, true);
	d->ad_nr_vcpus = nr_vcpus;
	for (i = 0; i < nr_vcpus; i++) {
		d->ad_vcpus[i].kick_fd = efd();
		d->ad_vcpus[i].done_fd = efd();
	}
}

static void
expect_bad(struct attach_desc *d, const char *needle)
{
	char err[256] = "";

	assert_int_equal(attach_desc_check(d, err, sizeof(err)), -EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", err, needle);
}

static void
desc__good_accepted_bad_fields_named(void **state)
{
	struct attach_desc d;
	char err[256] = "";
	unsigned before = test_count_fds();
	int fd;

	(void)state;
	good_desc(&d, 3);
	assert_int_equal(attach_desc_check(&d, err, sizeof(err)), 0);

	d.ad_cid = 2;
	expect_bad(&d, "cid 2");
	d.ad_cid = 0x100000000ull;
	expect_bad(&d, "cid");
	d.ad_cid = 42;
	d.ad_window_base = 0xffe0;
	expect_bad(&d, "PIO window");
	d.ad_window_base = 0x5a1;
	expect_bad(&d, "PIO window");
	d.ad_window_space = IOREQ_SPACE_MMIO;
	d.ad_window_base = 0xd0000800;
	expect_bad(&d, "MMIO window");
	d.ad_window_base = 0x200000;
	expect_bad(&d, "lies in RAM region 0");
	d.ad_window_base = 0xd0000000;
	assert_int_equal(attach_desc_check(&d, err, sizeof(err)), 0);

	d.ad_regions[1].ar_gpa = 0x300000;
	expect_bad(&d, "overlaps region 0");
	d.ad_regions[1].ar_gpa = 0x100000000ull;
	d.ad_regions[1].ar_offset = 5u << 20;
	expect_bad(&d, "needs");
	d.ad_regions[1].ar_offset = 4u << 20;
	d.ad_regions[1].ar_size = 0;
	expect_bad(&d, "page multiples");
	d.ad_regions[1].ar_size = 2u << 20;
	d.ad_regions[1].ar_gpa = (1ull << 52) - 4096;
	expect_bad(&d, "beyond");
	d.ad_regions[1].ar_gpa = 0x100000000ull;

	/* Unsealed memory could be truncated under hcvsockd's mapping. */
	fd = d.ad_regions[1].ar_fd;
	d.ad_regions[1].ar_fd = sealed_memfd(6u << 20, false);
	expect_bad(&d, "F_SEAL_SHRINK");
	close(d.ad_regions[1].ar_fd);
	d.ad_regions[1].ar_fd = d.ad_kick_fd;
	expect_bad(&d, "not a memfd");
	d.ad_regions[1].ar_fd = fd;

	/* So could the state page, and it must hold both records. */
	d.ad_state_fd = sealed_memfd(ATTACH_STATE_PAGE, false);
	expect_bad(&d, "state page: memfd must be sealed");
	close(d.ad_state_fd);
	d.ad_state_fd = sealed_memfd(1024, true);
	expect_bad(&d, "state page: file has 1024 bytes");
	close(d.ad_state_fd);
	d.ad_state_fd = sealed_memfd(ATTACH_STATE_PAGE, true);
	assert_int_equal(attach_desc_check(&d, err, sizeof(err)), 0);

	fd = d.ad_vcpus[2].done_fd;
	d.ad_vcpus[2].done_fd = d.ad_page_fd;
	expect_bad(&d, "vCPU 2 done fd");
	d.ad_vcpus[2].done_fd = -1;
	expect_bad(&d, "vCPU 2 done fd");
	d.ad_vcpus[2].done_fd = fd;

	d.ad_irq_gsi = ATTACH_GSI_NONE;
	expect_bad(&d, "GSI");
	d.ad_irq_gsi = 5000;
	expect_bad(&d, "GSI 5000");
	d.ad_irq_gsi = 5;
	d.ad_vm_fd = d.ad_kick_fd;
	expect_bad(&d, "choose one");
	d.ad_vm_fd = -1;
	d.ad_nr_vcpus = 0;
	expect_bad(&d, "0 vCPUs");
	d.ad_nr_vcpus = ATTACH_MAX_VCPUS + 1;
	expect_bad(&d, "vCPUs");
	d.ad_nr_vcpus = 3;
	assert_int_equal(attach_desc_check(&d, err, sizeof(err)), 0);

	attach_desc_close(&d);
	assert_int_equal(test_count_fds(), before);
}

/* ---- The socket session ---------------------------------------------------- */

struct vmm_thread {
	int			 vt_sock;
	struct attach_desc	*vt_desc;
	int			 vt_rc;
	char			 vt_err[256];
};

static void *
vmm_main(void *arg)
{
	struct vmm_thread *vt = arg;

	vt->vt_rc = attach_vmm_send(vt->vt_sock, vt->vt_desc, 5000, vt->vt_err,
	    sizeof(vt->vt_err));
	return NULL;
}

/* A VMM thread sending `d` over `sock`. */
static void
vmm_start(struct vmm_thread *vt, int sock, struct attach_desc *d,
    pthread_t *th)
{
	memset(vt, 0, sizeof(*vt));
	vt->vt_sock = sock;
	vt->vt_desc = d;
	assert_int_equal(pthread_create(th, NULL, vmm_main, vt), 0);
}

/* A session on one end of a fresh SEQPACKET pair; sv[1] is the VMM's. */
static void
sess_pair(int sv[2], struct attach_sess **s)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	assert_int_equal(attach_sess_new(sv[0], s), 0);
}

/* Drive a session until it returns something other than 0 / -EAGAIN. */
static int
sess_run(struct attach_sess *s)
{
	struct pollfd pfd = { .fd = attach_sess_fd(s), .events = POLLIN };
	int rc;

	for (;;) {
		rc = attach_sess_recv(s);
		if (rc == -EAGAIN) {
			assert_true(poll(&pfd, 1, 5000) == 1);
			continue;
		}
		if (rc != 0)
			return rc;
	}
}

static void
sess__full_attach_hands_over_working_fds(void **state)
{
	struct vmm_thread vt;
	struct attach_desc d;
	struct attach_sess *s;
	struct attach_desc *got;
	unsigned before = test_count_fds(), i;
	uint64_t v = 1, cnt = 0;
	char buf[8];
	int sv[2];
	pthread_t th;

	(void)state;
	good_desc(&d, 4);
	sess_pair(sv, &s);
	vmm_start(&vt, sv[1], &d, &th);
	assert_int_equal(sess_run(s), 1);
	got = attach_sess_desc(s);
	assert_string_equal(got->ad_name, "test-vmm");
	assert_int_equal(got->ad_cid, 42);
	assert_int_equal(got->ad_window_base, 0x5a0);
	assert_int_equal(got->ad_window_space, IOREQ_SPACE_PIO);
	assert_int_equal(got->ad_nr_regions, 2);
	assert_int_equal(got->ad_regions[1].ar_gpa, 0x100000000ull);
	assert_int_equal(got->ad_regions[1].ar_offset, 4u << 20);
	assert_int_equal(got->ad_irq_gsi, 5);
	assert_int_equal(got->ad_nr_vcpus, 4);
	assert_int_equal(attach_sess_reply(s, 0, "live"), 0);
	pthread_join(th, NULL);
	assert_int_equal(vt.vt_rc, 0);

	/* The memory is the same memory. */
	assert_int_equal(pwrite(d.ad_regions[0].ar_fd, "hcvsock", 8, 4096), 8);
	assert_int_equal(pread(got->ad_regions[0].ar_fd, buf, 8, 4096), 8);
	assert_string_equal(buf, "hcvsock");
	/* Each vCPU's eventfds are the VMM's. */
	for (i = 0; i < 4; i++) {
		assert_int_equal(write(d.ad_vcpus[i].kick_fd, &v, 8), 8);
		assert_int_equal(read(got->ad_vcpus[i].kick_fd, &cnt, 8), 8);
		assert_int_equal(cnt, 1);
		assert_int_equal(write(got->ad_vcpus[i].done_fd, &v, 8), 8);
		assert_int_equal(read(d.ad_vcpus[i].done_fd, &cnt, 8), 8);
		assert_int_equal(read(d.ad_vcpus[i].kick_fd, &cnt, 8), -1);
	}
	assert_int_equal(write(got->ad_irq_fd, &v, 8), 8);
	assert_int_equal(read(d.ad_irq_fd, &cnt, 8), 8);

	/* Anything after START kills the session; a close is seen as such. */
	assert_int_equal(attach_send_msg(sv[1], ATTACH_MSG_START, NULL, 0, NULL,
	    0), 0);
	assert_int_equal(sess_run(s), -EPROTO);
	assert_non_null(strstr(attach_sess_reason(s), "after START"));
	attach_sess_free(s);
	close(sv[1]);
	attach_desc_close(&d);
	assert_int_equal(test_count_fds(), before);
}

static void
sess__vmm_close_is_connreset(void **state)
{
	struct attach_msg_hello he;
	struct attach_sess *s;
	int sv[2];

	(void)state;
	sess_pair(sv, &s);
	memset(&he, 0, sizeof(he));
	assert_int_equal(attach_send_msg(sv[1], ATTACH_MSG_HELLO, &he,
	    sizeof(he), NULL, 0), 0);
	assert_int_equal(attach_sess_recv(s), 0);
	assert_int_equal(attach_sess_recv(s), -EAGAIN);
	close(sv[1]);
	assert_int_equal(attach_sess_recv(s), -ECONNRESET);
	attach_sess_free(s);
}

/*
 * One hostile step: after an optional good prefix, the VMM sends `type`
 * with the payload and fds given (or raw bytes).  The session must fail
 * with `want_rc`, answer with a RESULT carrying that status, close every
 * fd it was given and not crash.
 */
struct hostile {
	const char	*h_name;
	int		 h_prefix;	/* 0 none, 1 HELLO, 2 HELLO + DEVICE(2 vcpus) */
	uint16_t	 h_type;
	const void	*h_payload;
	size_t		 h_size;
	unsigned	 h_nfds;	/* fds of kind h_fdkind */
	int		 h_fdkind;	/* 0 eventfd, 1 sealed memfd, 2 unsealed */
	const void	*h_raw;		/* raw datagram instead */
	size_t		 h_rawlen;
	int		 h_want_rc;
	const char	*h_reason;
};

static void
send_hello(int sock)
{
	struct attach_msg_hello he;

	memset(&he, 0, sizeof(he));
	snprintf(he.he_name, sizeof(he.he_name), "hostile");
	assert_int_equal(attach_send_msg(sock, ATTACH_MSG_HELLO, &he, sizeof(he),
	    NULL, 0), 0);
}

static void
run_hostile(const struct hostile *h)
{
	struct attach_msg_device md = {
		.md_cid = 7, .md_window_base = 0x5a0, .md_nr_vcpus = 2,
	};
	struct attach_msg_hdr hdr;
	struct attach_msg_result res;
	struct attach_sess *s;
	union {
		uint64_t	align;
		char		buf[ATTACH_MAX_MSG];
	} u;
	unsigned before = test_count_fds(), i, nfds;
	int sv[2], fds[8], rfds[ATTACH_MAX_FDS], rc;
	char err[256];

	sess_pair(sv, &s);
	if (h->h_prefix >= 1) {
		send_hello(sv[1]);
		assert_int_equal(attach_sess_recv(s), 0);
		assert_int_equal(attach_recv_msg(sv[1], &hdr, u.buf,
		    sizeof(u.buf), rfds, &nfds, err, sizeof(err)), 0);
		assert_int_equal(hdr.mh_type, ATTACH_MSG_HELLO_REPLY);
	}
	if (h->h_prefix >= 2) {
		assert_int_equal(attach_send_msg(sv[1], ATTACH_MSG_DEVICE, &md,
		    sizeof(md), NULL, 0), 0);
		assert_int_equal(attach_sess_recv(s), 0);
	}
	for (i = 0; i < h->h_nfds; i++)
		fds[i] = h->h_fdkind == 0 ? efd() :
		    sealed_memfd(8192, h->h_fdkind == 1);
	if (h->h_raw != NULL) {
		assert_int_equal(send(sv[1], h->h_raw, h->h_rawlen, 0),
		    (ssize_t)h->h_rawlen);
	} else {
		assert_int_equal(attach_send_msg(sv[1], h->h_type, h->h_payload,
		    h->h_size, fds, h->h_nfds), 0);
	}
	for (i = 0; i < h->h_nfds; i++)
		close(fds[i]);
	rc = attach_sess_recv(s);
	if (rc != h->h_want_rc)
		fail_msg("%s: rc %d, want %d (%s)", h->h_name, rc,
		    h->h_want_rc, attach_sess_reason(s));
	if (strstr(attach_sess_reason(s), h->h_reason) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", h->h_name,
		    attach_sess_reason(s), h->h_reason);
	/* The VMM is told, with the same status. */
	assert_int_equal(attach_recv_msg(sv[1], &hdr, u.buf, sizeof(u.buf),
	    rfds, &nfds, err, sizeof(err)), 0);
	assert_int_equal(hdr.mh_type, ATTACH_MSG_RESULT);
	memcpy(&res, u.buf, sizeof(res));
	assert_int_equal(res.rs_status, h->h_want_rc);
	assert_non_null(strstr(res.rs_reason, h->h_reason));
	/* A dead session stays dead. */
	assert_int_equal(attach_sess_recv(s), -EPIPE);
	attach_sess_free(s);
	close(sv[1]);
	if (test_count_fds() != before)
		fail_msg("%s: %u fds before, %u after", h->h_name, before,
		    test_count_fds());
}

static void
sess__hostile_messages_refused_without_leaks(void **state)
{
	static const struct attach_msg_hello hello_flags = { .he_flags = 1 };
	static const struct attach_msg_hello hello_ok = { .he_name = "again" };
	static struct attach_msg_hello hello_unterminated;
	static const struct attach_msg_region reg_ok = {
		.mr_gpa = 0, .mr_size = 8192,
	};
	static const struct attach_msg_region reg_unaligned = {
		.mr_gpa = 100, .mr_size = 8192,
	};
	static const struct attach_msg_region reg_big = {
		.mr_gpa = 0, .mr_size = 1u << 20,
	};
	static const struct attach_msg_device dev_cid1 = {
		.md_cid = 1, .md_window_base = 0x5a0, .md_nr_vcpus = 1,
	};
	static const struct attach_msg_device dev_kind = {
		.md_cid = 5, .md_window_base = 0x5a0, .md_nr_vcpus = 1,
		.md_window_kind = 9,
	};
	static const struct attach_msg_device dev_ok = {
		.md_cid = 5, .md_window_base = 0x5a0, .md_nr_vcpus = 1,
	};
	static const struct attach_msg_ioreq_vcpu vcpu_2 = { .iv_vcpu = 2 };
	static const struct attach_msg_ioreq_vcpu vcpu_huge = {
		.iv_vcpu = 0xffffffff,
	};
	static const struct attach_msg_ioreq_page page_3 = { .ip_nr_vcpus = 3 };
	static const struct attach_msg_notify_vm nvm = { 0 };
	static const struct attach_msg_state_page sp_ok = {
		.sp_size = ATTACH_STATE_PAGE,
	};
	static const struct attach_msg_state_page sp_flags = {
		.sp_size = ATTACH_STATE_PAGE, .sp_flags = 1,
	};
	static const struct attach_msg_state_page sp_small = { .sp_size = 64 };
	static const struct attach_msg_notify_eventfds ne_gsi = { .ne_gsi = 4 };
	static const struct attach_msg_hdr bad_magic = {
		.mh_magic = 0x12345678, .mh_version = 1, .mh_type = 1,
	};
	static const struct attach_msg_hdr bad_version = {
		.mh_magic = ATTACH_MAGIC, .mh_version = 2, .mh_type = 1,
	};
	static const struct attach_msg_hdr lying_size = {
		.mh_magic = ATTACH_MAGIC, .mh_version = 1, .mh_type = 1,
		.mh_size = 40,
	};
	static const struct attach_msg_hdr lying_fds = {
		.mh_magic = ATTACH_MAGIC, .mh_version = 1, .mh_type = 2,
		.mh_size = 0, .mh_nfds = 1,
	};
	static char big[ATTACH_MAX_MSG + 100];
	static const char tiny[3] = { 1, 2, 3 };
	const struct hostile cases[] = {
		{ "bad magic", 0, 0, NULL, 0, 0, 0, &bad_magic,
		    sizeof(bad_magic), -EPROTO, "bad magic" },
		{ "version 2", 0, 0, NULL, 0, 0, 0, &bad_version,
		    sizeof(bad_version), -EPROTONOSUPPORT, "version 2" },
		{ "size field lies", 0, 0, NULL, 0, 0, 0, &lying_size,
		    sizeof(lying_size), -EPROTO, "size field" },
		{ "fds announced, none sent", 1, 0, NULL, 0, 0, 0, &lying_fds,
		    sizeof(lying_fds), -EPROTO, "1 fds announced, 0" },
		{ "short datagram", 0, 0, NULL, 0, 0, 0, tiny, sizeof(tiny),
		    -EPROTO, "short" },
		{ "oversized datagram", 0, 0, NULL, 0, 0, 0, big, sizeof(big),
		    -EPROTO, "longer than" },
		{ "region before HELLO", 0, ATTACH_MSG_MEM_REGION, &reg_ok,
		    sizeof(reg_ok), 1, 1, NULL, 0, -EPROTO, "before HELLO" },
		{ "HELLO flags", 0, ATTACH_MSG_HELLO, &hello_flags,
		    sizeof(hello_flags), 0, 0, NULL, 0, -EINVAL, "flags" },
		{ "HELLO unterminated", 0, ATTACH_MSG_HELLO,
		    &hello_unterminated, sizeof(hello_unterminated), 0, 0,
		    NULL, 0, -EINVAL, "not terminated" },
		{ "HELLO twice", 1, ATTACH_MSG_HELLO, &hello_ok,
		    sizeof(hello_ok), 0, 0, NULL, 0, -EPROTO, "HELLO sent twice" },
		{ "HELLO short", 0, ATTACH_MSG_HELLO, &hello_ok, 8, 0, 0, NULL,
		    0, -EPROTO, "expected 40" },
		{ "region without fd", 1, ATTACH_MSG_MEM_REGION, &reg_ok,
		    sizeof(reg_ok), 0, 0, NULL, 0, -EPROTO, "0 fds" },
		{ "region with 2 fds", 1, ATTACH_MSG_MEM_REGION, &reg_ok,
		    sizeof(reg_ok), 2, 1, NULL, 0, -EPROTO, "2 fds" },
		{ "region with 3 fds", 1, ATTACH_MSG_MEM_REGION, &reg_ok,
		    sizeof(reg_ok), 3, 1, NULL, 0, -EPROTO, "3 received" },
		{ "region truncated payload", 1, ATTACH_MSG_MEM_REGION, &reg_ok,
		    sizeof(reg_ok) - 1, 1, 1, NULL, 0, -EPROTO, "expected 32" },
		{ "region unaligned", 1, ATTACH_MSG_MEM_REGION, &reg_unaligned,
		    sizeof(reg_unaligned), 1, 1, NULL, 0, -EINVAL,
		    "page multiples" },
		{ "region past EOF", 1, ATTACH_MSG_MEM_REGION, &reg_big,
		    sizeof(reg_big), 1, 1, NULL, 0, -EINVAL, "needs" },
		{ "region unsealed", 1, ATTACH_MSG_MEM_REGION, &reg_ok,
		    sizeof(reg_ok), 1, 2, NULL, 0, -EINVAL, "F_SEAL_SHRINK" },
		{ "region is an eventfd", 1, ATTACH_MSG_MEM_REGION, &reg_ok,
		    sizeof(reg_ok), 1, 0, NULL, 0, -EINVAL, "not a memfd" },
		{ "device cid 1", 1, ATTACH_MSG_DEVICE, &dev_cid1,
		    sizeof(dev_cid1), 0, 0, NULL, 0, -EINVAL, "cid 1" },
		{ "device kind", 1, ATTACH_MSG_DEVICE, &dev_kind,
		    sizeof(dev_kind), 0, 0, NULL, 0, -EINVAL, "kind 9" },
		{ "device twice", 2, ATTACH_MSG_DEVICE, &dev_ok,
		    sizeof(dev_ok), 0, 0, NULL, 0, -EEXIST, "twice" },
		{ "vcpu beyond device", 2, ATTACH_MSG_IOREQ_VCPU, &vcpu_2,
		    sizeof(vcpu_2), 2, 0, NULL, 0, -EINVAL, "out of range" },
		{ "vcpu huge", 1, ATTACH_MSG_IOREQ_VCPU, &vcpu_huge,
		    sizeof(vcpu_huge), 2, 0, NULL, 0, -EINVAL, "out of range" },
		{ "vcpu fds are memfds", 1, ATTACH_MSG_IOREQ_VCPU, &vcpu_2,
		    sizeof(vcpu_2), 2, 1, NULL, 0, -EINVAL, "kick fd" },
		{ "page vcpus mismatch", 2, ATTACH_MSG_IOREQ_PAGE, &page_3,
		    sizeof(page_3), 1, 1, NULL, 0, -EINVAL, "3 vCPUs" },
		{ "VM fd is an eventfd", 1, ATTACH_MSG_NOTIFY_VM, &nvm,
		    sizeof(nvm), 1, 0, NULL, 0, -EINVAL, "kvm-vm" },
		{ "gsi without irq fd", 1, ATTACH_MSG_NOTIFY_EVENTFDS, &ne_gsi,
		    sizeof(ne_gsi), 1, 0, NULL, 0, -EINVAL, "GSI" },
		{ "START before DEVICE", 1, ATTACH_MSG_START, NULL, 0, 0, 0,
		    NULL, 0, -EINVAL, "before DEVICE" },
		{ "START without regions", 2, ATTACH_MSG_START, NULL, 0, 0, 0,
		    NULL, 0, -EINVAL, "without memory" },
		{ "START with fd", 2, ATTACH_MSG_START, NULL, 0, 1, 0,
		    NULL, 0, -EPROTO, "1 fds" },
		{ "state page flags", 1, ATTACH_MSG_STATE_PAGE, &sp_flags,
		    sizeof(sp_flags), 1, 1, NULL, 0, -EINVAL, "STATE_PAGE flags" },
		{ "state page size", 1, ATTACH_MSG_STATE_PAGE, &sp_small,
		    sizeof(sp_small), 1, 1, NULL, 0, -EINVAL, "size 64" },
		{ "state page without fd", 1, ATTACH_MSG_STATE_PAGE, &sp_ok,
		    sizeof(sp_ok), 0, 0, NULL, 0, -EPROTO, "0 fds" },
		{ "unknown type", 1, 77, NULL, 0, 0, 0, NULL, 0, -EPROTO,
		    "unknown message type 77" },
		{ "reply type from VMM", 1, ATTACH_MSG_RESULT, NULL, 0, 0, 0,
		    NULL, 0, -EPROTO, "unknown message type" },
	};
	unsigned i;

	(void)state;
	memset(&hello_unterminated, 'A', sizeof(hello_unterminated));
	hello_unterminated.he_flags = 0;
	hello_unterminated.he_reserved = 0;
	memcpy(big, &bad_magic, sizeof(bad_magic));
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		run_hostile(&cases[i]);
}

/*
 * More fds than the daemon's receive buffer holds: every fd that arrived
 * is closed, the VMM is told why.
 */
static void
sess__fd_flood_refused_without_leaks(void **state)
{
	enum { FLOOD = 40 };
	union {
		uint64_t	align;
		char		buf[ATTACH_MAX_MSG];
	} u;
	struct attach_msg_hdr hdr;
	struct attach_msg_result res;
	struct attach_sess *s;
	unsigned before = test_count_fds(), i, nfds;
	int sv[2], fds[FLOOD], rfds[ATTACH_MAX_FDS];
	char err[256];

	(void)state;
	sess_pair(sv, &s);
	send_hello(sv[1]);
	assert_int_equal(attach_sess_recv(s), 0);
	assert_int_equal(attach_recv_msg(sv[1], &hdr, u.buf, sizeof(u.buf),
	    rfds, &nfds, err, sizeof(err)), 0);
	for (i = 0; i < FLOOD; i++)
		fds[i] = efd();
	assert_int_equal(attach_send_msg(sv[1], ATTACH_MSG_MEM_REGION, NULL, 0,
	    fds, FLOOD), 0);
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
	assert_int_equal(attach_sess_recv(s), -EPROTO);
	assert_non_null(strstr(attach_sess_reason(s), "too many fds"));
	assert_int_equal(attach_recv_msg(sv[1], &hdr, u.buf, sizeof(u.buf),
	    rfds, &nfds, err, sizeof(err)), 0);
	assert_int_equal(hdr.mh_type, ATTACH_MSG_RESULT);
	memcpy(&res, u.buf, sizeof(res));
	assert_int_equal(res.rs_status, -EPROTO);
	attach_sess_free(s);
	close(sv[1]);
	assert_int_equal(test_count_fds(), before);
}

/* A region overlapping an earlier one, and a duplicate vCPU. */
static void
sess__overlap_and_duplicates_refused(void **state)
{
	struct attach_msg_region r0 = { .mr_gpa = 0, .mr_size = 8192 };
	struct attach_msg_region r1 = { .mr_gpa = 4096, .mr_size = 4096 };
	struct attach_msg_ioreq_vcpu v0 = { .iv_vcpu = 0 };
	struct attach_sess *s;
	int sv[2], fds[2];
	unsigned before = test_count_fds();

	(void)state;
	sess_pair(sv, &s);
	send_hello(sv[1]);
	assert_int_equal(attach_sess_recv(s), 0);
	fds[0] = sealed_memfd(8192, true);
	assert_int_equal(attach_send_msg(sv[1], ATTACH_MSG_MEM_REGION, &r0,
	    sizeof(r0), fds, 1), 0);
	assert_int_equal(attach_sess_recv(s), 0);
	assert_int_equal(attach_send_msg(sv[1], ATTACH_MSG_MEM_REGION, &r1,
	    sizeof(r1), fds, 1), 0);
	close(fds[0]);
	assert_int_equal(attach_sess_recv(s), -EINVAL);
	assert_non_null(strstr(attach_sess_reason(s), "overlaps region 0"));
	attach_sess_free(s);
	close(sv[1]);

	sess_pair(sv, &s);
	send_hello(sv[1]);
	assert_int_equal(attach_sess_recv(s), 0);
	fds[0] = efd();
	fds[1] = efd();
	assert_int_equal(attach_send_msg(sv[1], ATTACH_MSG_IOREQ_VCPU, &v0,
	    sizeof(v0), fds, 2), 0);
	assert_int_equal(attach_sess_recv(s), 0);
	assert_int_equal(attach_send_msg(sv[1], ATTACH_MSG_IOREQ_VCPU, &v0,
	    sizeof(v0), fds, 2), 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(attach_sess_recv(s), -EEXIST);
	assert_non_null(strstr(attach_sess_reason(s), "vCPU 0 sent twice"));
	attach_sess_free(s);
	close(sv[1]);
	assert_int_equal(test_count_fds(), before);
}

/* The VMM side hears the daemon's refusal, with its reason. */
static void
vmm__refusal_reported(void **state)
{
	struct vmm_thread vt;
	struct attach_desc d;
	struct attach_sess *s;
	int sv[2], rc;
	pthread_t th;

	(void)state;
	good_desc(&d, 1);
	d.ad_cid = 2;		/* the host's CID */
	sess_pair(sv, &s);
	vmm_start(&vt, sv[1], &d, &th);
	rc = sess_run(s);
	assert_int_equal(rc, -EINVAL);
	attach_sess_free(s);
	pthread_join(th, NULL);
	if (vt.vt_rc != -EINVAL)
		fail_msg("VMM got %d: %s", vt.vt_rc, vt.vt_err);
	if (strstr(vt.vt_err, "type 3") == NULL ||
	    strstr(vt.vt_err, "cid 2") == NULL)
		fail_msg("VMM saw \"%s\"", vt.vt_err);
	close(sv[1]);
	attach_desc_close(&d);
}

#ifdef HAVE_KVM
/* A real VM fd is accepted; a /dev/kvm system fd is not. */
static void
sess__real_vm_fd_accepted(void **state)
{
	char err[256] = "";
	int kvm, vm;

	(void)state;
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		skip();
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	assert_true(vm >= 0);
	assert_int_equal(attach_check_vm_fd(vm, err, sizeof(err)), 0);
	assert_int_equal(attach_check_vm_fd(kvm, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "kvm-vm"));
	close(vm);
	close(kvm);
}
#endif

/* ---- The forwarder against a Xen-like responder ---------------------------- */

struct responder {
	struct attach_desc	rs_desc;	/* borrowed fds */
	struct ioreq		*rs_slots;
	unsigned		 rs_nr;
	int			 rs_mode;	/* 0 answer, 1 never, 2 reset to NONE */
	volatile bool		 rs_stop;
	unsigned		 rs_served;
	uint64_t		 rs_last_write[8];
};

static void *
responder_main(void *arg)
{
	struct responder *r = arg;
	struct pollfd pfd[8];
	unsigned i;

	for (i = 0; i < r->rs_nr; i++) {
		pfd[i].fd = r->rs_desc.ad_vcpus[i].kick_fd;
		pfd[i].events = POLLIN;
	}
	while (!r->rs_stop) {
		if (poll(pfd, r->rs_nr, 50) <= 0)
			continue;
		for (i = 0; i < r->rs_nr; i++) {
			struct ioreq *q = &r->rs_slots[i];
			uint64_t cnt, one = 1;

			if ((pfd[i].revents & POLLIN) == 0)
				continue;
			(void)!read(pfd[i].fd, &cnt, sizeof(cnt));
			if (__atomic_load_n((uint8_t *)q + 30,
			    __ATOMIC_ACQUIRE) % 16 != STATE_IOREQ_READY)
				continue;
			if (r->rs_mode == 1)
				continue;
			if (r->rs_mode == 2) {
				q->state = STATE_IOREQ_NONE;
				continue;
			}
			q->state = STATE_IOREQ_INPROCESS;
			if (q->dir == IOREQ_READ)
				q->data = q->addr * 3 + q->size + i;
			else
				r->rs_last_write[i] = q->data ^ q->addr;
			__atomic_thread_fence(__ATOMIC_RELEASE);
			q->state = STATE_IORESP_READY;
			r->rs_served++;
			(void)!write(r->rs_desc.ad_vcpus[i].done_fd, &one,
			    sizeof(one));
		}
	}
	return NULL;
}

static void
fwd__xen_state_machine(void **state)
{
	struct attach_fwd *f;
	struct responder r;
	pthread_t th;
	uint64_t data;
	unsigned i;
	void *p;

	(void)state;
	assert_int_equal(attach_fwd_new(0, &f), -EINVAL);
	assert_int_equal(attach_fwd_new(ATTACH_MAX_VCPUS + 1, &f), -EINVAL);
	assert_int_equal(attach_fwd_new(4, &f), 0);
	memset(&r, 0, sizeof(r));
	attach_desc_init(&r.rs_desc);
	attach_fwd_fill(f, &r.rs_desc);
	assert_int_equal(r.rs_desc.ad_nr_vcpus, 4);
	/* What hcvsockd will check about the page. */
	assert_int_equal(fcntl(r.rs_desc.ad_page_fd, F_GET_SEALS) &
	    F_SEAL_SHRINK, F_SEAL_SHRINK);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
	    r.rs_desc.ad_page_fd, 0);
	assert_true(p != MAP_FAILED);
	r.rs_slots = p;
	r.rs_nr = 4;
	assert_int_equal(pthread_create(&th, NULL, responder_main, &r), 0);

	for (i = 0; i < 4; i++) {
		assert_int_equal(attach_fwd_access(f, i, IOREQ_SPACE_PIO,
		    0x5a0 + 4 * i, 4, false, &data, 2000), 0);
		assert_int_equal(data, (0x5a0 + 4 * i) * 3 + 4 + i);
		assert_int_equal(r.rs_slots[i].state, STATE_IOREQ_NONE);
		assert_int_equal(r.rs_slots[i].type, IOREQ_TYPE_PIO);
	}
	data = 0xabcdef;
	assert_int_equal(attach_fwd_access(f, 2, IOREQ_SPACE_MMIO, 0xd0000038,
	    8, true, &data, 2000), 0);
	assert_int_equal(r.rs_last_write[2], 0xabcdefull ^ 0xd0000038ull);
	assert_int_equal(r.rs_slots[2].type, IOREQ_TYPE_COPY);
	/* Spinning first gives the same answers. */
	attach_fwd_set_spin(f, 200000);
	assert_int_equal(attach_fwd_access(f, 1, IOREQ_SPACE_MMIO, 0x1000, 2,
	    false, &data, 2000), 0);
	assert_int_equal(data, 0x1000 * 3 + 2 + 1);
	assert_int_equal(r.rs_served, 6);

	/* Invalid requests never reach the page. */
	assert_int_equal(attach_fwd_access(f, 4, IOREQ_SPACE_PIO, 0, 4, false,
	    &data, 10), -EINVAL);
	assert_int_equal(attach_fwd_access(f, 0, IOREQ_SPACE_PIO, 0, 8, false,
	    &data, 10), -EINVAL);
	assert_int_equal(attach_fwd_access(f, 0, IOREQ_SPACE_PIO, 0, 3, false,
	    &data, 10), -EINVAL);

	/* A server that never answers: the slot stays busy, as on Xen. */
	attach_fwd_set_spin(f, 0);
	r.rs_mode = 1;
	assert_int_equal(attach_fwd_access(f, 3, IOREQ_SPACE_PIO, 0x5a0, 4,
	    false, &data, 50), -ETIMEDOUT);
	assert_int_equal(attach_fwd_access(f, 3, IOREQ_SPACE_PIO, 0x5a0, 4,
	    false, &data, 50), -EBUSY);
	/* A server that drops the request back to NONE breaks the protocol. */
	r.rs_mode = 2;
	assert_int_equal(attach_fwd_access(f, 0, IOREQ_SPACE_PIO, 0x5a0, 4,
	    false, &data, 2000), -EPROTO);

	r.rs_stop = true;
	pthread_join(th, NULL);
	munmap(p, 4096);
	attach_fwd_free(f);
}

/* A server that watches the page: it answers by looking, never by the kick. */
struct watcher {
	struct ioreq	*w_slot;
	volatile bool	 w_stop;
};

static void *
watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct ioreq *q = w->w_slot;

	while (!w->w_stop) {
		if (__atomic_load_n((uint8_t *)q + 30, __ATOMIC_ACQUIRE) % 16 !=
		    STATE_IOREQ_READY)
			continue;
		q->data = 0x1234;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		q->state = STATE_IORESP_READY;
	}
	return NULL;
}

static void
fwd__no_kick_while_watched(void **state)
{
	struct attach_fwd_stats st;
	struct attach_desc d;
	struct attach_fwd *f;
	struct watcher w;
	pthread_t th;
	uint64_t data, cnt;
	void *p;

	(void)state;
	assert_int_equal(attach_fwd_new(1, &f), 0);
	attach_desc_init(&d);
	attach_fwd_fill(f, &d);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, d.ad_page_fd,
	    0);
	assert_true(p != MAP_FAILED);
	memset(&w, 0, sizeof(w));
	w.w_slot = p;
	/* The watcher never writes the done eventfd: the VMM spins. */
	attach_fwd_set_spin(f, 5000000000ull);
	assert_int_equal(pthread_create(&th, NULL, watcher_main, &w), 0);

	w.w_slot->_pad0 = IOREQ_SHM_WATCHED;
	assert_int_equal(attach_fwd_access(f, 0, IOREQ_SPACE_PIO, 0x5a0, 4,
	    false, &data, 5000), 0);
	assert_int_equal(data, 0x1234);
	assert_int_equal(read(d.ad_vcpus[0].kick_fd, &cnt, sizeof(cnt)), -1);
	assert_int_equal(errno, EAGAIN);
	/* The mark is hcvsockd's: the VMM leaves it as it was. */
	assert_int_equal(w.w_slot->_pad0, IOREQ_SHM_WATCHED);

	w.w_slot->_pad0 = 0;
	assert_int_equal(attach_fwd_access(f, 0, IOREQ_SPACE_PIO, 0x5a0, 4,
	    false, &data, 5000), 0);
	assert_int_equal(read(d.ad_vcpus[0].kick_fd, &cnt, sizeof(cnt)),
	    sizeof(cnt));
	assert_int_equal(cnt, 1);

	attach_fwd_get_stats(f, &st);
	assert_int_equal(st.fs_requests, 2);
	assert_int_equal(st.fs_unkicked, 1);
	w.w_stop = true;
	pthread_join(th, NULL);
	munmap(p, 4096);
	attach_fwd_free(f);
}

/* ---- attach_source_open with descriptions that pass the checks but not KVM's */

/* With *slot a duplicate of `like`, the source is refused for `why`. */
static void
refused_with_dup(struct attach_desc *d, int *slot, int like, const char *why)
{
	struct ioreq_source *src = NULL;
	char err[256] = "";
	int fd = *slot;

	*slot = dup(like);
	assert_int_equal(attach_source_open(d, &src, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, why));
	close(*slot);
	*slot = fd;
}

/*
 * Eventfds shared between vCPUs, or one eventfd as both ends of a vCPU,
 * would let one vCPU's kick complete another's request: refused.
 */
static void
guest__shared_eventfds_refused(void **state)
{
	struct ioreq_source *src = NULL;
	struct attach_desc d;
	char err[256] = "";
	unsigned before;

	(void)state;
	before = test_count_fds();
	good_desc(&d, 2);
	assert_int_equal(attach_source_open(&d, &src, err, sizeof(err)), 0);
	ioreq_source_close(src, true);

	refused_with_dup(&d, &d.ad_vcpus[1].kick_fd, d.ad_vcpus[0].kick_fd,
	    "one eventfd");
	refused_with_dup(&d, &d.ad_vcpus[0].done_fd, d.ad_vcpus[0].kick_fd,
	    "one eventfd");
	/* The kick eventfd may not double as a vCPU's. */
	refused_with_dup(&d, &d.ad_kick_fd, d.ad_vcpus[0].kick_fd,
	    "kick fd and a vCPU's kick fd");

	attach_desc_close(&d);
	assert_int_equal(test_count_fds(), before);
}

/* ---- The listener ------------------------------------------------------- */

struct srv_state {
	unsigned	ss_attached;
	unsigned	ss_detached;
	int		ss_fail;	/* attach returns this if < 0 */
	uint64_t	ss_last_cid;
	int		ss_guest_tag;
};

static int
srv_attach(void *arg, struct attach_desc *d, void **guestp, char *err,
    size_t errlen)
{
	struct srv_state *ss = arg;

	if (ss->ss_fail < 0) {
		snprintf(err, errlen, "no room for cid %ju",
		    (uintmax_t)d->ad_cid);
		return ss->ss_fail;
	}
	ss->ss_attached++;
	ss->ss_last_cid = d->ad_cid;
	*guestp = &ss->ss_guest_tag;
	return 0;
}

static void
srv_detach(void *arg, void *guest)
{
	struct srv_state *ss = arg;

	assert_ptr_equal(guest, &ss->ss_guest_tag);
	ss->ss_detached++;
}

static const struct attach_server_ops srv_ops = {
	.attach = srv_attach,
	.detach = srv_detach,
};

struct vmm_conn {
	const char		*vc_path;
	struct attach_desc	*vc_desc;
	int			 vc_sock;
	int			 vc_rc;
	char			 vc_err[256];
	volatile bool		 vc_done;
};

static void *
vmm_conn_main(void *arg)
{
	struct vmm_conn *vc = arg;

	vc->vc_rc = attach_vmm_connect(vc->vc_path, &vc->vc_sock);
	if (vc->vc_rc == 0)
		vc->vc_rc = attach_vmm_send(vc->vc_sock, vc->vc_desc, 5000,
		    vc->vc_err, sizeof(vc->vc_err));
	__atomic_store_n(&vc->vc_done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void
run_until(struct loop *l, volatile bool *flag, volatile unsigned *counter,
    unsigned want)
{
	unsigned i;

	for (i = 0; i < 500; i++) {
		if (flag != NULL && __atomic_load_n(flag, __ATOMIC_ACQUIRE))
			return;
		if (counter != NULL && *counter >= want)
			return;
		assert_true(loop_run_once(l, 10) >= 0);
	}
	fail_msg("timed out");
}

static void
server__attach_detach_limits(void **state)
{
	char dir[64], path[100];
	struct attach_server *srv, *srv2;
	struct srv_state ss;
	struct vmm_conn vc[3];
	struct attach_desc d;
	struct loop *l;
	pthread_t th[3];
	unsigned before, i;
	int fd;

	(void)state;
	memset(&ss, 0, sizeof(ss));
	memset(vc, 0, sizeof(vc));
	test_tmpdir(dir, sizeof(dir), "attach");
	snprintf(path, sizeof(path), "%s/attach.sock", dir);
	/* A stale file from a dead daemon is replaced. */
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
		close(s);	/* bound, never listening: refused */
	}
	test_log_capture_start();
	before = test_count_fds();
	good_desc(&d, 2);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(attach_server_new(l, path, 2, &srv_ops, &ss, &srv), 0);
	/* A second daemon on the same path is turned away. */
	assert_int_equal(attach_server_new(l, path, 2, &srv_ops, &ss, &srv2),
	    -EADDRINUSE);

	for (i = 0; i < 2; i++) {
		vc[i].vc_path = path;
		vc[i].vc_desc = &d;
		vc[i].vc_sock = -1;
		assert_int_equal(pthread_create(&th[i], NULL, vmm_conn_main,
		    &vc[i]), 0);
		run_until(l, &vc[i].vc_done, NULL, 0);
		pthread_join(th[i], NULL);
		if (vc[i].vc_rc != 0)
			fail_msg("VMM %u: %d %s", i, vc[i].vc_rc, vc[i].vc_err);
	}
	assert_int_equal(ss.ss_attached, 2);
	assert_int_equal(ss.ss_last_cid, 42);
	assert_int_equal(attach_server_nr_guests(srv), 2);
	assert_true(test_log_seen("attached (cid 42)"));

	/* The third VMM is over the limit. */
	vc[2].vc_path = path;
	vc[2].vc_desc = &d;
	vc[2].vc_sock = -1;
	assert_int_equal(pthread_create(&th[2], NULL, vmm_conn_main, &vc[2]), 0);
	run_until(l, &vc[2].vc_done, NULL, 0);
	pthread_join(th[2], NULL);
	assert_int_equal(vc[2].vc_rc, -EBUSY);
	assert_non_null(strstr(vc[2].vc_err, "too many"));
	close(vc[2].vc_sock);

	/* A VMM that goes away detaches its guest, and only its guest. */
	close(vc[0].vc_sock);
	run_until(l, NULL, &ss.ss_detached, 1);
	assert_int_equal(ss.ss_detached, 1);
	assert_int_equal(attach_server_nr_guests(srv), 1);
	assert_true(test_log_seen("disconnected"));

	/* The daemon's refusal reaches the VMM with the daemon's reason. */
	ss.ss_fail = -ENOSPC;
	vc[0].vc_done = false;
	assert_int_equal(pthread_create(&th[0], NULL, vmm_conn_main, &vc[0]), 0);
	run_until(l, &vc[0].vc_done, NULL, 0);
	pthread_join(th[0], NULL);
	assert_int_equal(vc[0].vc_rc, -ENOSPC);
	assert_non_null(strstr(vc[0].vc_err, "no room for cid 42"));
	close(vc[0].vc_sock);

	/* A VMM that connects and stalls is cut off at the deadline. */
	attach_server_set_timeout(srv, 50);
	{
		struct attach_msg_hdr hdr;
		struct attach_msg_result res;
		union {
			uint64_t	align;
			char		buf[ATTACH_MAX_MSG];
		} u;
		int s, rfds[ATTACH_MAX_FDS];
		unsigned nfds;
		char err[128];

		assert_int_equal(attach_vmm_connect(path, &s), 0);
		send_hello(s);
		for (i = 0; i < 100; i++)
			assert_true(loop_run_once(l, 10) >= 0);
		assert_int_equal(attach_recv_msg(s, &hdr, u.buf, sizeof(u.buf),
		    rfds, &nfds, err, sizeof(err)), 0);
		assert_int_equal(hdr.mh_type, ATTACH_MSG_HELLO_REPLY);
		assert_int_equal(attach_recv_msg(s, &hdr, u.buf, sizeof(u.buf),
		    rfds, &nfds, err, sizeof(err)), 0);
		assert_int_equal(hdr.mh_type, ATTACH_MSG_RESULT);
		memcpy(&res, u.buf, sizeof(res));
		assert_int_equal(res.rs_status, -ETIMEDOUT);
		assert_true(test_log_seen("no START within 50 ms"));
		close(s);
	}
	assert_int_equal(attach_server_nr_guests(srv), 1);

	/*
	 * Idle sessions from one peer (another uid: a process of the VMMs'
	 * own uid could kill them anyway): only ATTACH_MAX_PENDING_PER_PEER
	 * are held, so a real VMM still finds a slot (1 guest + 2 idle of 4).
	 */
	attach_server_free(srv);
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(attach_server_new(l, path, 4, &srv_ops, &ss, &srv), 0);
	close(vc[1].vc_sock);
	vc[1].vc_done = false;
	assert_int_equal(pthread_create(&th[1], NULL, vmm_conn_main, &vc[1]), 0);
	run_until(l, &vc[1].vc_done, NULL, 0);
	pthread_join(th[1], NULL);
	assert_int_equal(vc[1].vc_rc, 0);
	if (geteuid() == 0) {
		int up[2], down[2], status;
		char b = 0;
		pid_t child;

		assert_int_equal(chmod(dir, 0755), 0);
		assert_int_equal(chown(path, 0, 65534), 0);
		assert_int_equal(pipe(up), 0);
		assert_int_equal(pipe(down), 0);
		child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			struct attach_msg_hdr hdr;
			struct attach_msg_result res;
			union {
				uint64_t	align;
				char		buf[ATTACH_MAX_MSG];
			} u;
			int idle[3], rfds[ATTACH_MAX_FDS];
			unsigned nfds;
			char err[128];

			if (setgroups(0, NULL) < 0 || setresgid(65534, 65534,
			    65534) < 0 || setresuid(65534, 65534, 65534) < 0)
				_exit(10);
			for (i = 0; i < 3; i++)
				if (attach_vmm_connect(path, &idle[i]) < 0)
					_exit(11);
			/* The third idle one is told why (once accepted). */
			{
				struct pollfd pfd = { .fd = idle[2],
				    .events = POLLIN };

				if (poll(&pfd, 1, 10000) != 1)
					_exit(14);
			}
			if (attach_recv_msg(idle[2], &hdr, u.buf, sizeof(u.buf),
			    rfds, &nfds, err, sizeof(err)) < 0 ||
			    hdr.mh_type != ATTACH_MSG_RESULT)
				_exit(12);
			memcpy(&res, u.buf, sizeof(res));
			b = res.rs_status == -EBUSY ? 'y' : 'n';
			if (write(up[1], &b, 1) != 1 || read(down[0], &b, 1) != 1)
				_exit(13);
			_exit(0);
		}
		close(up[1]);
		close(down[0]);
		for (i = 0; i < 500 && b == 0; i++) {
			struct pollfd pfd = { .fd = up[0], .events = POLLIN };

			assert_true(loop_run_once(l, 10) >= 0);
			if (poll(&pfd, 1, 0) == 1 && read(up[0], &b, 1) != 1)
				break;
		}
		if (b != 'y') {
			assert_int_equal(waitpid(child, &status, 0), child);
			fail_msg("idle peer: b=%d, exit status %d", b, status);
		}
		assert_true(test_log_seen("uid 65534 already has 2 unfinished"));
		vc[0].vc_done = false;
		assert_int_equal(pthread_create(&th[0], NULL, vmm_conn_main,
		    &vc[0]), 0);
		run_until(l, &vc[0].vc_done, NULL, 0);
		pthread_join(th[0], NULL);
		if (vc[0].vc_rc != 0)
			fail_msg("VMM behind idle sessions: %d %s", vc[0].vc_rc,
			    vc[0].vc_err);
		assert_int_equal(write(down[1], &b, 1), 1);
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(up[0]);
		close(down[1]);
		close(vc[0].vc_sock);
		run_until(l, NULL, &ss.ss_detached, 1);
	} else
		print_message("not root: the per-peer limit is not tried\n");

	/* Freeing the server detaches the rest and removes the socket. */
	attach_server_free(srv);
	assert_int_equal(ss.ss_detached, geteuid() == 0 ? 2 : 1);
	assert_int_equal(access(path, F_OK), -1);
	close(vc[1].vc_sock);
	loop_free(l);
	attach_desc_close(&d);
	assert_int_equal(test_count_fds(), before);
	test_log_capture_stop();
	test_rmtree(dir);
}

/*
 * The state page: empty is "nothing recorded", the newer intact record
 * wins, a record torn by a death half-way leaves the previous one, and
 * a page with no intact record is refused.
 */
static void
state__records_newest_intact_wins(void **state)
{
	static unsigned char page[ATTACH_STATE_PAGE];
	struct vsock_dev_state st, got;
	uint64_t seq = 99;

	(void)state;
	memset(page, 0, sizeof(page));
	assert_int_equal(attach_state_load(page, &got, &seq), -ENOENT);
	memset(&st, 0, sizeof(st));
	st.st_version = VSOCK_DEV_STATE_VERSION;
	st.st_protocol = 1;
	st.st_status = 0x1f;
	st.st_mbox_gpa = 0x123456000ull;
	st.st_mbox_size = 65536;
	st.st_epoch = 7;
	st.st_irq.mode = 2;
	st.st_irq.msi_addr = 0xfee00000u;
	st.st_irq.msi_data = 0x41;
	st.st_args[3] = 0xffffffffu;
	st.st_cmd_result = 2;
	attach_state_store(page, &st, 1);
	assert_int_equal(attach_state_load(page, &got, &seq), 0);
	assert_int_equal(seq, 1);
	assert_memory_equal(&got, &st, sizeof(st));
	st.st_epoch = 8;
	attach_state_store(page, &st, 2);
	assert_int_equal(attach_state_load(page, &got, &seq), 0);
	assert_int_equal(seq, 2);
	assert_int_equal(got.st_epoch, 8);
	/* Torn: record 3 half written over record 1's place. */
	st.st_epoch = 9;
	attach_state_store(page, &st, 3);
	page[128 + 40] ^= 0xff;
	assert_int_equal(attach_state_load(page, &got, &seq), 0);
	assert_int_equal(seq, 2);
	assert_int_equal(got.st_epoch, 8);
	/* Both damaged. */
	page[40] ^= 0xff;
	assert_int_equal(attach_state_load(page, &got, &seq), -EINVAL);
}

/* ---- A request in flight when hcvsockd died ------------------------------- */

struct inflight {
	struct loop	*ifl_loop;
	struct ioreq	*ifl_slot;	/* vCPU 0's, mapped from the page */
	int		 ifl_kick;
	uint8_t		*ifl_ram;
};

static void
slot_post(struct inflight *x, uint32_t off, bool is_write, uint32_t val,
    unsigned state)
{
	struct ioreq *q = x->ifl_slot;

	q->addr = 0x5a0 + off;
	q->data = is_write ? val : 0;
	q->count = 1;
	q->size = 4;
	q->type = IOREQ_TYPE_PIO;
	q->data_is_ptr = 0;
	q->df = 0;
	q->dir = is_write ? IOREQ_WRITE : IOREQ_READ;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->state = state;
}

/* One access as the VMM forwards it, answered on this thread's loop. */
static uint32_t
acc(struct inflight *x, uint32_t off, bool is_write, uint32_t val)
{
	uint64_t one = 1, data;
	unsigned n;

	slot_post(x, off, is_write, val, STATE_IOREQ_READY);
	assert_int_equal(write(x->ifl_kick, &one, sizeof(one)), sizeof(one));
	for (n = 0; n < 100 && x->ifl_slot->state != STATE_IORESP_READY; n++)
		(void)loop_run_once(x->ifl_loop, 50);
	assert_int_equal(x->ifl_slot->state, STATE_IORESP_READY);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	data = x->ifl_slot->data;
	x->ifl_slot->state = STATE_IOREQ_NONE;
	return (uint32_t)data;
}

static void
cmd(struct inflight *x, uint32_t c, uint32_t a0, uint32_t a1, uint32_t a2)
{
	(void)acc(x, HCVS_REG_ARG0, true, a0);
	(void)acc(x, HCVS_REG_ARG1, true, a1);
	(void)acc(x, HCVS_REG_ARG2, true, a2);
	(void)acc(x, HCVS_REG_CMD, true, c);
	assert_int_equal(acc(x, HCVS_REG_CMD, false, 0), HCVS_ERR_OK);
}

static uint32_t
ram32(struct inflight *x, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, x->ifl_ram + gpa, 4);
	return le32toh(v);
}

static void
ram_put32(struct inflight *x, uint64_t gpa, uint32_t v)
{
	v = htole32(v);
	memcpy(x->ifl_ram + gpa, &v, 4);
}

/*
 * The guest's SET_MAILBOX was run and recorded by a daemon that died
 * before answering it: the slot still says INPROCESS.  The next daemon,
 * given the same description and state page, imports the recorded state
 * (a transport reset) and answers the request once: OK, the mailbox set
 * up, EPOCH moved on.  With the newest record torn (the death came in the
 * middle of recording), it imports the state from before and runs the
 * command for the first time: the same answers.
 */
static void
replay__inflight_command_answered_once(void **state)
{
	const uint64_t mb = 0x10000;
	const uint32_t mbsize = 128 + 2 * 4 * 256;
	char dir[64];
	struct attach_vsock_cfg cfg;
	struct attach_vsock *av;
	struct attach_fwd *f;
	struct attach_desc d;
	struct inflight x;
	uint8_t *page, *spage;
	char err[256];
	int round;

	(void)state;
	test_tmpdir(dir, sizeof(dir), "inflight");
	memset(&x, 0, sizeof(x));
	assert_int_equal(loop_new(&x.ifl_loop), 0);
	attach_desc_init(&d);
	snprintf(d.ad_name, sizeof(d.ad_name), "inflight");
	d.ad_cid = 42;
	d.ad_window_space = IOREQ_SPACE_PIO;
	d.ad_window_base = 0x5a0;
	d.ad_nr_regions = 1;
	d.ad_regions[0].ar_fd = sealed_memfd(2u << 20, true);
	d.ad_regions[0].ar_size = 2u << 20;
	d.ad_state_fd = sealed_memfd(ATTACH_STATE_PAGE, true);
	assert_int_equal(attach_fwd_new(1, &f), 0);
	attach_fwd_fill(f, &d);
	x.ifl_kick = d.ad_vcpus[0].kick_fd;
	x.ifl_ram = mmap(NULL, 2u << 20, PROT_READ | PROT_WRITE, MAP_SHARED,
	    d.ad_regions[0].ar_fd, 0);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
	    d.ad_page_fd, 0);
	spage = mmap(NULL, ATTACH_STATE_PAGE, PROT_READ | PROT_WRITE,
	    MAP_SHARED, d.ad_state_fd, 0);
	assert_true(x.ifl_ram != MAP_FAILED && page != MAP_FAILED &&
	    spage != MAP_FAILED);
	x.ifl_slot = (struct ioreq *)page;
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = x.ifl_loop;
	snprintf(cfg.mux.uds_path, sizeof(cfg.mux.uds_path), "%s/v", dir);

	for (round = 0; round < 2; round++) {
		memset(spage, 0, ATTACH_STATE_PAGE);
		assert_int_equal(attach_vsock_new(&cfg, &d, &av, err,
		    sizeof(err)), 0);
		memset(x.ifl_ram + mb, 0, mbsize);
		ram_put32(&x, mb + HCVS_MB_MAGIC, HCVS_MBOX_MAGIC);
		ram_put32(&x, mb + HCVS_MB_VERSION, HCVS_MBOX_VERSION);
		ram_put32(&x, mb + HCVS_MB_TX_SLOTS, 4);
		ram_put32(&x, mb + HCVS_MB_RX_SLOTS, 4);
		ram_put32(&x, mb + HCVS_MB_SLOT_SIZE, 256);
		ram_put32(&x, mb + HCVS_MB_TX_OFF, 128);
		ram_put32(&x, mb + HCVS_MB_RX_OFF, 128 + 4 * 256);
		cmd(&x, HCVS_CMD_RESET, 0, 0, 0);
		cmd(&x, HCVS_CMD_SET_PROTOCOL, HCVS_PROTO_RING, 0, 0);
		cmd(&x, HCVS_CMD_SET_FEATURES, HCVS_F_STREAM, 0, 0);
		(void)acc(&x, HCVS_REG_ARG0, true, (uint32_t)mb);
		(void)acc(&x, HCVS_REG_ARG1, true, 0);
		(void)acc(&x, HCVS_REG_ARG2, true, mbsize);
		/* Run and recorded, then the daemon dies unanswered. */
		(void)acc(&x, HCVS_REG_CMD, true, HCVS_CMD_SET_MAILBOX);
		attach_vsock_free(av);
		if (round == 1) {
			/* ... half-way through recording it. */
			struct vsock_dev_state st;
			uint64_t seq;

			assert_int_equal(attach_state_load(spage, &st, &seq), 0);
			assert_true(st.st_status & HCVS_STATUS_MAILBOX);
			spage[(seq & 1) * 128 + 20] ^= 0xff;
			assert_int_equal(attach_state_load(spage, &st, &seq), 0);
			assert_false(st.st_status & HCVS_STATUS_MAILBOX);
		}
		slot_post(&x, HCVS_REG_CMD, true, HCVS_CMD_SET_MAILBOX,
		    STATE_IOREQ_INPROCESS);
		ram_put32(&x, mb + HCVS_MB_EPOCH, 0);
		assert_int_equal(attach_vsock_new(&cfg, &d, &av, err,
		    sizeof(err)), 0);
		/* Answered while the new daemon was being attached. */
		assert_int_equal(x.ifl_slot->state, STATE_IORESP_READY);
		x.ifl_slot->state = STATE_IOREQ_NONE;
		assert_int_equal(acc(&x, HCVS_REG_CMD, false, 0), HCVS_ERR_OK);
		assert_int_equal(acc(&x, HCVS_REG_STATUS, false, 0),
		    HCVS_STATUS_PROTOCOL | HCVS_STATUS_FEATURES |
		    HCVS_STATUS_MAILBOX);
		/* Either record: a transport reset, written by the one run. */
		assert_int_equal(ram32(&x, mb + HCVS_MB_EPOCH), 1);
		cmd(&x, HCVS_CMD_ENABLE, 0, 0, 0);
		assert_true(acc(&x, HCVS_REG_STATUS, false, 0) &
		    HCVS_STATUS_LIVE);
		attach_vsock_free(av);
	}
	munmap(spage, ATTACH_STATE_PAGE);
	munmap(page, 4096);
	munmap(x.ifl_ram, 2u << 20);
	/* The page and vCPU eventfds are the forwarder's. */
	d.ad_page_fd = -1;
	d.ad_vcpus[0].kick_fd = d.ad_vcpus[0].done_fd = -1;
	attach_desc_close(&d);
	attach_fwd_free(f);
	loop_free(x.ifl_loop);
	test_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(desc__good_accepted_bad_fields_named),
		cmocka_unit_test(sess__full_attach_hands_over_working_fds),
		cmocka_unit_test(sess__vmm_close_is_connreset),
		cmocka_unit_test(sess__hostile_messages_refused_without_leaks),
		cmocka_unit_test(sess__fd_flood_refused_without_leaks),
		cmocka_unit_test(sess__overlap_and_duplicates_refused),
		cmocka_unit_test(vmm__refusal_reported),
#ifdef HAVE_KVM
		cmocka_unit_test(sess__real_vm_fd_accepted),
#endif
		cmocka_unit_test(fwd__xen_state_machine),
		cmocka_unit_test(fwd__no_kick_while_watched),
		cmocka_unit_test(server__attach_detach_limits),
		cmocka_unit_test(guest__shared_eventfds_refused),
		cmocka_unit_test(state__records_newest_intact_wins),
		cmocka_unit_test(replay__inflight_command_answered_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
