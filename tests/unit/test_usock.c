/* SPDX-License-Identifier: MIT */
/*
 * The shared AF_UNIX plumbing and the three listeners built on it (control
 * socket, attach socket, host bridge): what a stale-socket check may
 * remove, the socket's mode, the EMFILE back-off, SCM_RIGHTS limits, and
 * the client's connect.
 *
 * Linked with -Wl,--wrap=bind: a test can swap the path for a symlink in
 * the instant after bind() succeeds, as a local attacker racing the
 * daemon would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_common.h"
#include "attach/attach.h"
#include "common/loop.h"
#include "common/usock.h"
#include "daemon/ctl.h"
#include "vsock/vsock_mux.h"

int	__real_bind(int fd, const struct sockaddr *sa, socklen_t len);
int	__wrap_bind(int fd, const struct sockaddr *sa, socklen_t len);

/* When set: after a successful bind to this path, put a symlink there. */
static const char	*swap_path;
static const char	*swap_target;

int
__wrap_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
	int rc = __real_bind(fd, sa, len);

	if (rc == 0 && swap_path != NULL && sa->sa_family == AF_UNIX &&
	    strcmp(sun->sun_path, swap_path) == 0) {
		assert_int_equal(unlink(swap_path), 0);
		assert_int_equal(symlink(swap_target, swap_path), 0);
	}
	return rc;
}

struct fx {
	char		 dir[64];
	char		 path[96];
	char		 victim[96];
	struct loop	*l;
};

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_tmpdir(f->dir, sizeof(f->dir), "usock");
	snprintf(f->path, sizeof(f->path), "%s/s", f->dir);
	snprintf(f->victim, sizeof(f->victim), "%s/victim", f->dir);
	assert_int_equal(loop_new(&f->l), 0);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	swap_path = NULL;
	loop_free(f->l);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

static void
write_file(const char *path, mode_t mode)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode;
}

static void
noop_accept(void *arg, int fd)
{
	(void)arg;
	if (fd >= 0)
		close(fd);
}

static int
noop_attach(void *arg, struct attach_desc *d, void **guestp, char *err,
    size_t errlen)
{
	(void)arg;
	(void)d;
	(void)guestp;
	(void)err;
	(void)errlen;
	return -ENOTSUP;
}

static void
noop_detach(void *arg, void *guest)
{
	(void)arg;
	(void)guest;
}

static const struct attach_server_ops noop_ops = {
	.attach = noop_attach, .detach = noop_detach,
};

static void
noop_report(void *arg, enum ctl_report kind,
    void (*emit)(void *, const char *), void *earg)
{
	(void)arg;
	(void)kind;
	emit(earg, "ok");
}

enum which { W_USOCK, W_CTL, W_ATTACH, W_VSOCK };

/* Open the listener `w` at f->path; close_listener() closes it. */
static int
open_listener(struct fx *f, enum which w, void **objp)
{
	struct vsock_mux_cfg cfg;

	switch (w) {
	case W_USOCK:
		return usock_listener_new(f->l, f->path, SOCK_STREAM, 0660, 4,
		    noop_accept, NULL, (struct usock_listener **)objp);
	case W_CTL:
		return ctl_open(f->l, f->path, noop_report, NULL,
		    (struct ctl **)objp);
	case W_ATTACH:
		return attach_server_new(f->l, f->path, 2, &noop_ops, NULL,
		    (struct attach_server **)objp);
	case W_VSOCK:
		memset(&cfg, 0, sizeof(cfg));
		cfg.guest_cid = 3;
		cfg.buf_alloc = 64 * 1024;
		cfg.connect_timeout_ms = 300;
		cfg.close_timeout_ms = 300;
		memcpy(cfg.uds_path, f->path, strlen(f->path) + 1);
		return vsock_mux_new(f->l, &cfg, (struct vsock_mux **)objp);
	}
	return -EINVAL;
}

static void
close_listener(enum which w, void *obj)
{
	switch (w) {
	case W_USOCK:
		usock_listener_free(obj);
		break;
	case W_CTL:
		ctl_close(obj);
		break;
	case W_ATTACH:
		attach_server_free(obj);
		break;
	case W_VSOCK:
		vsock_mux_free(obj);
		break;
	}
}

static const enum which all[] = { W_USOCK, W_CTL, W_ATTACH, W_VSOCK };

/* A regular file at the path is never removed (hcvsockd --kvm FILE). */
static void
regular_file_never_removed(void **state)
{
	struct fx *f = *state;
	void *obj;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		write_file(f->path, 0600);
		assert_int_equal(open_listener(f, all[i], &obj), -EEXIST);
		assert_true(S_ISREG(mode_of(f->path)));
		assert_int_equal(unlink(f->path), 0);
	}
	/* Nor a symlink, nor what it points to. */
	write_file(f->victim, 0600);
	assert_int_equal(symlink(f->victim, f->path), 0);
	assert_int_equal(usock_listen(f->path, SOCK_SEQPACKET, 0660, 1),
	    -EEXIST);
	assert_true(S_ISLNK(mode_of(f->path)));
	assert_true(S_ISREG(mode_of(f->victim)));
}

/* A dead socket is replaced; a live one is refused, whatever its type. */
static void
stale_replaced_live_refused(void **state)
{
	struct fx *f = *state;
	void *obj;
	int fd;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		fd = usock_listen(f->path, SOCK_STREAM, 0600, 1);
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(open_listener(f, all[i], &obj), 0);
		assert_true(S_ISSOCK(mode_of(f->path)));
		close_listener(all[i], obj);
		assert_int_equal(access(f->path, F_OK), -1);
		/* A listener of the other type counts as live too. */
		fd = usock_listen(f->path, all[i] == W_ATTACH ? SOCK_STREAM :
		    SOCK_SEQPACKET, 0600, 1);
		assert_true(fd >= 0);
		assert_int_equal(open_listener(f, all[i], &obj), -EADDRINUSE);
		close(fd);
		assert_int_equal(unlink(f->path), 0);
	}
}

/*
 * The mode is the socket's from the moment it exists, whatever the umask,
 * and a path swapped for a symlink after bind() is never followed.
 */
static void
mode_set_on_fd_never_follows(void **state)
{
	struct fx *f = *state;
	mode_t old = umask(077);
	void *obj;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_int_equal(open_listener(f, all[i], &obj), 0);
		assert_int_equal(mode_of(f->path) & 07777, 0660);
		close_listener(all[i], obj);
	}
	(void)umask(022);
	write_file(f->victim, 0600);
	swap_path = f->path;
	swap_target = f->victim;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_int_equal(open_listener(f, all[i], &obj), 0);
		assert_true(S_ISLNK(mode_of(f->path)));
		assert_int_equal(mode_of(f->victim) & 07777, 0600);
		close_listener(all[i], obj);
		/* Not our socket any more: left alone. */
		assert_true(S_ISLNK(mode_of(f->path)));
		assert_int_equal(unlink(f->path), 0);
	}
	swap_path = NULL;
	(void)umask(old);
}

struct acc {
	unsigned	 errors;
	int		 fd;
	uint64_t	 first_ms;
	uint64_t	 last_ms;
};

static void
count_accept(void *arg, int fd)
{
	struct acc *a = arg;

	if (fd >= 0) {
		a->fd = fd;
		return;
	}
	assert_int_equal(fd, -EMFILE);
	if (a->errors++ == 0)
		a->first_ms = loop_now_ms();
	a->last_ms = loop_now_ms();
}

/*
 * Out of fds the listener rests between tries instead of spinning, and
 * accepts the waiting client once fds are free again.
 */
static void
emfile_backs_off_then_accepts(void **state)
{
	struct fx *f = *state;
	struct acc a = { .fd = -1 };
	struct usock_listener *ul;
	struct sockaddr_un sun;
	struct rlimit saved, low;
	int cfd, spare;

	assert_int_equal(usock_listener_new(f->l, f->path, SOCK_STREAM, 0600,
	    4, count_accept, &a, &ul), 0);
	assert_int_equal(usock_addr(f->path, &sun), 0);
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cfd >= 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	/* Exactly no fd free. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	spare = dup(cfd);
	assert_true(spare >= 0);
	low = saved;
	low.rlim_cur = (rlim_t)spare;
	close(spare);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (a.errors < 3)
		assert_true(loop_run_once(f->l, 1000) >= 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	/* Three tries are two rests apart (the timer never fires early). */
	assert_true(a.last_ms - a.first_ms >= 2 * USOCK_ACCEPT_BACKOFF_MS - 2);
	for (int i = 0; i < 100 && a.fd < 0; i++)
		assert_true(loop_run_once(f->l, 100) >= 0);
	assert_true(a.fd >= 0);
	close(a.fd);
	close(cfd);
	usock_listener_free(ul);
}

/* Fds past the receiver's room are closed, not leaked, and reported. */
static void
scm_excess_closed(void **state)
{
	int sv[2], fds[6], got[2];
	unsigned before, nfds, what;
	char buf[4] = "x", msg[] = "0123456789";
	struct iovec iov = { .iov_base = buf, .iov_len = 1 };

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	before = test_count_fds();
	for (int i = 0; i < 6; i++)
		fds[i] = dup(sv[0]);
	assert_int_equal(usock_send(sv[0], &iov, 1, fds, 6, 0), 1);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	assert_int_equal(usock_recv(sv[1], buf, sizeof(buf), 0, got, 2, &nfds,
	    &what), 1);
	assert_int_equal(nfds, 2);
	assert_int_equal(what, USOCK_EXCESS);
	close(got[0]);
	close(got[1]);
	assert_int_equal(test_count_fds(), before);
	/* A payload longer than the buffer is reported, not silently cut. */
	iov.iov_base = msg;
	iov.iov_len = 10;
	assert_int_equal(usock_send(sv[0], &iov, 1, NULL, 0, 0), 10);
	assert_int_equal(usock_recv(sv[1], buf, sizeof(buf), 0, got, 2, &nfds,
	    &what), 4);
	assert_int_equal(what, USOCK_TRUNC);
	assert_int_equal(usock_send(sv[0], &iov, 1, fds, USOCK_MAX_FDS + 1, 0),
	    -EINVAL);
	close(sv[0]);
	close(sv[1]);
}

/* A client socket: connected to a listener, or the reason it is not. */
static void
connect_reaches_listener_or_says_why(void **state)
{
	struct fx *f = *state;
	char longp[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int lfd, fd, afd, flags;

	assert_int_equal(usock_connect(f->path, SOCK_STREAM), -ENOENT);
	lfd = usock_listen(f->path, SOCK_SEQPACKET, 0600, 4);
	assert_true(lfd >= 0);
	assert_int_equal(usock_connect(f->path, SOCK_STREAM), -EPROTOTYPE);
	fd = usock_connect(f->path, SOCK_SEQPACKET);
	assert_true(fd >= 0);
	flags = fcntl(fd, F_GETFD);
	assert_true(flags >= 0 && (flags & FD_CLOEXEC));
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(send(fd, "x", 1, 0), 1);
	close(afd);
	close(fd);
	close(lfd);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(usock_connect(longp, SOCK_STREAM), -ENAMETOOLONG);
	assert_int_equal(usock_connect("", SOCK_STREAM), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(regular_file_never_removed,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(stale_replaced_live_refused,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(mode_set_on_fd_never_follows,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(emfile_backs_off_then_accepts,
		    fx_setup, fx_teardown),
		cmocka_unit_test(scm_excess_closed),
		cmocka_unit_test_setup_teardown(connect_reaches_listener_or_says_why,
		    fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
