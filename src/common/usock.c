/* SPDX-License-Identifier: MIT */
/* AF_UNIX listeners, clients and SCM_RIGHTS, written once. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/usock.h"

/* Accepts per wake-up: a busy listener cannot starve the rest of the loop. */
#define ACCEPT_BATCH	16

struct usock_listener {
	struct loop	*ul_loop;
	int		 ul_fd;
	dev_t		 ul_dev;	/* the node we bound: unlink only it */
	ino_t		 ul_ino;
	int64_t		 ul_timer;	/* resource back-off */
	usock_accept_fn	 ul_accept;
	void		*ul_arg;
	char		 ul_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

int
usock_addr(const char *path, struct sockaddr_un *sun)
{
	size_t len = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, len + 1);
	return 0;
}

int
usock_connect(const char *path, int type)
{
	struct sockaddr_un sun;
	int fd, rc;

	if ((rc = usock_addr(path, &sun)) < 0)
		return rc;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * An existing node blocks bind().  Remove it only when it is a socket
 * nobody accepts on: a regular file (or anything else) a user put at the
 * path is not ours to delete, and a live listener is not ours to steal.
 * A listener with a full backlog answers EAGAIN, one of another socket
 * type EPROTOTYPE: only ECONNREFUSED means dead.  Between the lstat() and
 * the unlink() the name could change only for someone who may write the
 * directory; the daemon's socket and state directories are its own.
 */
static int
clear_stale(const struct sockaddr_un *sun, int type)
{
	struct stat st;
	int fd, err;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ?
	    0 : errno;
	close(fd);
	if (err == ENOENT)
		return 0;
	if (err != ECONNREFUSED)
		return -EADDRINUSE;
	log_info("removing stale socket %s", sun->sun_path);
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * The permissions go on the socket fd, never on the path.  Linux creates
 * the node of a bound AF_UNIX socket with the mode of the socket's own
 * inode less the umask, so fchmod() before bind() fixes the node's mode
 * at the moment it appears.  chmod(path) after bind() would instead act
 * on whatever the path names by then (a symlink swapped in follows to its
 * target), and leave the node with the umask's mode until it ran.  The
 * umask is narrowed around the one bind() only so that it cannot strip
 * bits that were asked for (a daemon under umask 077 still makes the
 * 0660 socket its group must reach); it never adds any outside `mode`.
 * Listeners are made from the loop's thread, so nothing else creates
 * files under the narrowed umask.
 */
static int
bind_mode(int fd, const struct sockaddr_un *sun, mode_t mode)
{
	mode_t old;
	int rc = 0;

	if (fchmod(fd, mode & 07777) < 0)
		return -errno;
	old = umask(0);
	(void)umask(old & ~mode & 0777);
	if (bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0)
		rc = -errno;
	(void)umask(old);
	return rc;
}

static int
listen_at(const char *path, int type, mode_t mode, int backlog,
    struct stat *node)
{
	struct sockaddr_un sun;
	int fd, rc;

	if ((rc = usock_addr(path, &sun)) < 0)
		return rc;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = bind_mode(fd, &sun, mode);
	if (rc == -EADDRINUSE) {
		rc = clear_stale(&sun, type);
		if (rc == 0)
			rc = bind_mode(fd, &sun, mode);
	}
	if (rc < 0)
		goto err_close;
	if (lstat(sun.sun_path, node) < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		(void)unlink(sun.sun_path);
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return rc;
}

int
usock_listen(const char *path, int type, mode_t mode, int backlog)
{
	struct stat st;

	return listen_at(path, type, mode, backlog, &st);
}

static void
resume_cb(struct loop *l, void *arg)
{
	struct usock_listener *ul = arg;

	ul->ul_timer = 0;
	(void)loop_mod_fd(l, ul->ul_fd, LOOP_IN);
}

static void
accept_cb(struct loop *l, int lfd, unsigned events, void *arg)
{
	struct usock_listener *ul = arg;
	int fd;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			ul->ul_accept(ul->ul_arg, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
		    errno != ENOMEM)
			return;
		/* Level-triggered: without a pause this fires again at once. */
		fd = -errno;
		if (ul->ul_timer <= 0) {
			ul->ul_timer = loop_add_timer(l,
			    USOCK_ACCEPT_BACKOFF_MS, resume_cb, ul);
			if (ul->ul_timer > 0)
				(void)loop_mod_fd(l, lfd, 0);
		}
		ul->ul_accept(ul->ul_arg, fd);
		return;
	}
}

int
usock_listener_new(struct loop *l, const char *path, int type, mode_t mode,
    int backlog, usock_accept_fn accept, void *arg, struct usock_listener **lp)
{
	struct usock_listener *ul;
	struct stat st;
	int rc;

	if (accept == NULL)
		return -EINVAL;
	ul = calloc(1, sizeof(*ul));
	if (ul == NULL)
		return -ENOMEM;
	ul->ul_loop = l;
	ul->ul_accept = accept;
	ul->ul_arg = arg;
	ul->ul_fd = listen_at(path, type, mode, backlog, &st);
	if (ul->ul_fd < 0) {
		rc = ul->ul_fd;
		free(ul);
		return rc;
	}
	ul->ul_dev = st.st_dev;
	ul->ul_ino = st.st_ino;
	memcpy(ul->ul_path, path, strlen(path) + 1);
	rc = loop_add_fd(l, ul->ul_fd, LOOP_IN, accept_cb, ul);
	if (rc < 0) {
		ul->ul_loop = NULL;
		usock_listener_free(ul);
		return rc;
	}
	*lp = ul;
	return 0;
}

void
usock_listener_free(struct usock_listener *ul)
{
	struct stat st;

	if (ul == NULL)
		return;
	if (ul->ul_loop != NULL) {
		if (ul->ul_timer > 0)
			loop_del_timer(ul->ul_loop, ul->ul_timer);
		(void)loop_del_fd(ul->ul_loop, ul->ul_fd);
	}
	close(ul->ul_fd);
	/* A successor may already have bound the path: leave its socket. */
	if (lstat(ul->ul_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == ul->ul_dev && st.st_ino == ul->ul_ino)
		(void)unlink(ul->ul_path);
	free(ul);
}

ssize_t
usock_send(int sock, const struct iovec *iov, size_t iovcnt, const int *fds,
    unsigned nfds, int flags)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int) * USOCK_MAX_FDS)];
	} cm;
	struct msghdr mh;
	ssize_t n;

	if (nfds > USOCK_MAX_FDS)
		return -EINVAL;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)(uintptr_t)iov;
	mh.msg_iovlen = iovcnt;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t
usock_recv(int sock, void *buf, size_t len, int flags, int *fds,
    unsigned maxfds, unsigned *nfds, unsigned *what)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int) * USOCK_MAX_FDS)];
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct cmsghdr *c;
	struct msghdr mh;
	ssize_t n;

	*nfds = 0;
	*what = 0;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			*what |= USOCK_FOREIGN;
			continue;
		}
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*nfds < maxfds) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				*what |= USOCK_EXCESS;
			}
		}
	}
	if ((mh.msg_flags & MSG_CTRUNC) != 0)
		*what |= USOCK_EXCESS;
	if ((mh.msg_flags & MSG_TRUNC) != 0)
		*what |= USOCK_TRUNC;
	return n;
}
