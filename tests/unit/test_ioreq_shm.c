/* SPDX-License-Identifier: MIT */
/* The shm source and the fake page across processes (SCM_RIGHTS). */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"
#include "common/usock.h"
#include "notify/notify.h"
#include "ioreq_harness.h"

static void
open__rejects_bad_configs(void **state)
{
	struct ioreq_fake_cfg fc = { .nr_vcpus = 2, .ram_gpa = 0x1000,
	    .ram_size = 4096 };
	struct ioreq_fake *f;
	struct ioreq_shm_cfg c;
	struct ioreq_shm_region reg;
	struct ioreq_source *s;
	int small;

	assert_int_equal(ioreq_fake_new(&fc, &f), 0);
	assert_int_equal(ioreq_shm_open(NULL, &s), -EINVAL);
	c = *ioreq_fake_shm_cfg(f);
	c.nr_vcpus = 0;
	assert_int_equal(ioreq_shm_open(&c, &s), -EINVAL);
	c.nr_vcpus = IOREQ_SHM_MAX_VCPUS + 1;
	assert_int_equal(ioreq_shm_open(&c, &s), -EINVAL);
	c = *ioreq_fake_shm_cfg(f);
	c.bufpage_fd = c.page_fd;	/* a ring without its doorbell */
	assert_int_equal(ioreq_shm_open(&c, &s), -EINVAL);
	c = *ioreq_fake_shm_cfg(f);
	small = memfd_create("small", MFD_CLOEXEC);
	assert_true(small >= 0);
	assert_int_equal(ftruncate(small, 100), 0);
	c.page_fd = small;
	assert_int_equal(ioreq_shm_open(&c, &s), -EINVAL);
	c = *ioreq_fake_shm_cfg(f);
	reg = c.regions[0];
	reg.size = 2 * 4096;	/* past the RAM file */
	c.regions = &reg;
	assert_int_equal(ioreq_shm_open(&c, &s), -EINVAL);
	assert_null(s);
	c = *ioreq_fake_shm_cfg(f);
	c.vcpus = NULL;
	assert_int_equal(ioreq_shm_open(&c, &s), -EINVAL);
	close(small);
	ioreq_fake_free(f);
	/* Fake geometry is checked too. */
	fc.ram_size = 100;
	assert_int_equal(ioreq_fake_new(&fc, &f), -EINVAL);
	fc.ram_size = 4096;
	fc.nr_vcpus = 0;
	assert_int_equal(ioreq_fake_new(&fc, &f), -EINVAL);
}

/* ---- Across processes --------------------------------------------------- */

struct echo {
	uint8_t	regs[64];
};

static int
echo_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct echo *e = opaque;

	*val = 0;
	memcpy(val, &e->regs[off], size);
	return 0;
}

static int
echo_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct echo *e = opaque;

	memcpy(&e->regs[off], &val, size);
	return 0;
}

static const struct ioreq_handler_ops echo_ops = { echo_read, echo_write };

/*
 * A shm source over `f` serving two echo ranges: 0, 1 (the source did not
 * open) or 2 (its ranges or enable failed).
 */
static int
echo_source_open(struct ioreq_fake *f, struct echo *dev,
    struct ioreq_source **sp)
{
	struct ioreq_source *s;

	memset(dev, 0, sizeof(*dev));
	if (ioreq_shm_open(ioreq_fake_shm_cfg(f), &s) != 0)
		return 1;
	if (ioreq_source_add_range(s, IOREQ_SPACE_PIO, 0x600, 0x63f, &echo_ops,
	    dev) != 0 || ioreq_source_add_range(s, IOREQ_SPACE_MMIO,
	    0xfe000000, 0xfe00003f, &echo_ops, dev) != 0 ||
	    ioreq_source_enable(s) != 0) {
		ioreq_source_close(s, true);
		return 2;
	}
	*sp = s;
	return 0;
}

/* Handle what is pending on `s` after waiting up to 10 ms for a kick. */
static void
echo_source_serve(struct ioreq_source *s)
{
	struct notifier *n = ioreq_source_notifier(s);
	uint32_t p;

	if (notifier_wait(n, 10) > 0)
		while (notifier_next(n, &p, NULL) == 1)
			(void)ioreq_engine_handle_port(ioreq_source_engine(s),
			    p);
}

/* Serve `f` until `child` exits; returns its exit status. */
static int
serve_until_exit(struct ioreq_fake *f, pid_t child)
{
	struct ioreq_source *s;
	struct echo dev;
	int status = -1;
	time_t end = time(NULL) + 30;

	if (echo_source_open(f, &dev, &s) != 0)
		return -1;
	while (time(NULL) < end) {
		echo_source_serve(s);
		if (waitpid(child, &status, WNOHANG) == child)
			break;
	}
	(void)ioreq_source_quiesce(s);
	ioreq_source_close(s, true);
	return status;
}

/* Child side: serve `f` until the peer closes `sock`; 0 on success. */
static int
serve_until_eof(struct ioreq_fake *f, int sock)
{
	struct ioreq_source *s;
	struct echo dev;
	time_t end = time(NULL) + 30;
	char c;
	int rc;

	rc = echo_source_open(f, &dev, &s);
	if (rc != 0)
		return 100 + rc;
	(void)fcntl(sock, F_SETFL, O_NONBLOCK);
	while (time(NULL) < end) {
		echo_source_serve(s);
		if (read(sock, &c, 1) == 0)
			break;
	}
	ioreq_source_close(s, true);
	return time(NULL) < end ? 0 : 103;
}

/* The guest's side of the conversation; 0 when everything matched. */
static int
guest_run(struct ioreq_fake *f)
{
	uint64_t gpa, v, r;
	uint8_t *ram = ioreq_fake_ram(f, &gpa, NULL);
	unsigned i, vc;

	for (i = 0; i < 500; i++) {
		vc = i % ioreq_fake_nr_vcpus(f);
		v = 0x1000 + i;
		if (ioreq_fake_pio(f, vc, 0x600 + 2 * (i % 8), 2, IOREQ_WRITE,
		    &v) != 0)
			return 1;
		if (ioreq_fake_pio(f, vc, 0x600 + 2 * (i % 8), 2, IOREQ_READ,
		    &r) != 0 || r != v)
			return 2;
		v = 0xabcdef0000000000ull | i;
		if (ioreq_fake_mmio(f, vc, 0xfe000020, 8, IOREQ_WRITE, &v) != 0 ||
		    ioreq_fake_mmio(f, vc, 0xfe000020, 8, IOREQ_READ, &r) != 0 ||
		    r != v)
			return 3;
	}
	/* A rep through guest RAM: the server reads the guest's memory. */
	memcpy(ram, "0123456789abcdef", 16);
	v = gpa;
	if (ioreq_fake_rep(f, 0, IOREQ_TYPE_COPY, 0xfe000000, 4, 4,
	    IOREQ_WRITE, false, true, &v) != 0)
		return 4;
	if (ioreq_fake_mmio(f, 0, 0xfe00000c, 4, IOREQ_READ, &r) != 0 ||
	    memcmp(&r, "cdef", 4) != 0)
		return 5;
	/* And writes it. */
	v = gpa + 0x100;
	if (ioreq_fake_rep(f, 0, IOREQ_TYPE_COPY, 0xfe000000, 4, 4,
	    IOREQ_READ, false, true, &v) != 0 || memcmp(ram + 0x100,
	    "0123456789abcdef", 16) != 0)
		return 6;
	if (ioreq_fake_bufpage(f) != NULL) {
		if (ioreq_fake_buffered_write(f, IOREQ_TYPE_PIO, 0x630, 4,
		    0x600dcafe) != 0)
			return 7;
		/* The next synchronous read sees it: drained first. */
		if (ioreq_fake_pio(f, 0, 0x630, 4, IOREQ_READ, &r) != 0 ||
		    r != 0x600dcafe)
			return 8;
	}
	return 0;
}

/*
 * Fork a child that receives its own view of `f` over a socket pair and
 * exits with child_main(view, its end of the pair) (100: nothing came).
 * Returns the child's pid with `f` sent and our end in *sockp.
 */
static pid_t
fork_with_view(struct ioreq_fake *f,
    int (*child_main)(struct ioreq_fake *, int), int *sockp)
{
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ioreq_fake *g;
		int rc;

		close(sv[0]);
		if (ioreq_fake_recv(sv[1], &g) != 0)
			_exit(100);
		rc = child_main(g, sv[1]);
		ioreq_fake_free(g);
		_exit(rc);
	}
	close(sv[1]);
	assert_int_equal(ioreq_fake_send(f, sv[0]), 0);
	*sockp = sv[0];
	return pid;
}

static int
guest_child(struct ioreq_fake *g, int sock)
{
	(void)sock;
	return guest_run(g);
}

static void
fork__guest_in_child(void **state)
{
	struct ioreq_fake_cfg fc = { .nr_vcpus = 3, .bufioreq = true,
	    .ram_gpa = 0x200000, .ram_size = 4 * 4096 };
	struct ioreq_fake *f;
	int sock, status;
	pid_t pid;

	assert_int_equal(ioreq_fake_new(&fc, &f), 0);
	pid = fork_with_view(f, guest_child, &sock);
	status = serve_until_exit(f, pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(sock);
	ioreq_fake_free(f);
}

static void
fork__server_in_child(void **state)
{
	struct ioreq_fake_cfg fc = { .nr_vcpus = 2, .ram_gpa = 0x200000,
	    .ram_size = 4096 };
	struct ioreq_fake *f;
	int sock, status;
	pid_t pid;

	assert_int_equal(ioreq_fake_new(&fc, &f), 0);
	/* The child serves until the guest says it is done (socket closes). */
	pid = fork_with_view(f, serve_until_eof, &sock);
	assert_int_equal(guest_run(f), 0);
	shutdown(sock, SHUT_RDWR);
	close(sock);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	ioreq_fake_free(f);
}

static void
recv__malformed_messages(void **state)
{
	struct ioreq_fake *g;
	int sv[2], efd, fds[3];
	uint32_t hdr[8] = { 0x46564348u, 1, 2, 0, 0, 0, 0, 0 };
	unsigned nfds;
	struct iovec iov = { hdr, sizeof(hdr) };

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	/* Garbage, no fds. */
	assert_int_equal(write(sv[0], "garbage", 7), 7);
	assert_int_equal(ioreq_fake_recv(sv[1], &g), -EPROTO);
	assert_null(g);
	/* A right header with too few fds: every fd received is closed. */
	efd = eventfd(0, EFD_CLOEXEC);
	fds[0] = fds[1] = fds[2] = efd;
	nfds = test_count_fds();
	assert_int_equal(usock_send(sv[0], &iov, 1, fds, 3, 0), sizeof(hdr));
	assert_int_equal(ioreq_fake_recv(sv[1], &g), -EPROTO);
	assert_int_equal(test_count_fds(), nfds);
	/* A right message whose page is an unsealed memfd. */
	{
		uint32_t ok[8] = { 0x46564348u, 1, 1, 0, 0, 0, 0, 0 };
		int unsealed = memfd_create("unsealed", MFD_CLOEXEC);

		assert_true(unsealed >= 0);
		assert_int_equal(ftruncate(unsealed, 4096), 0);
		fds[0] = unsealed;
		fds[1] = fds[2] = efd;
		iov.iov_base = ok;
		nfds = test_count_fds();
		assert_int_equal(usock_send(sv[0], &iov, 1, fds, 3, 0),
		    sizeof(ok));
		assert_int_equal(ioreq_fake_recv(sv[1], &g), -EPROTO);
		assert_int_equal(test_count_fds(), nfds);
		close(unsealed);
		iov.iov_base = hdr;
	}
	/* Wrong version. */
	hdr[1] = 99;
	assert_int_equal(usock_send(sv[0], &iov, 1, NULL, 0, 0), sizeof(hdr));
	assert_int_equal(ioreq_fake_recv(sv[1], &g), -EPROTO);
	close(efd);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open__rejects_bad_configs),
		cmocka_unit_test(fork__guest_in_child),
		cmocka_unit_test(fork__server_in_child),
		cmocka_unit_test(recv__malformed_messages),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
