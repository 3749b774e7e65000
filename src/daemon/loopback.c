/* SPDX-License-Identifier: MIT */
/* The loopback hand-off: a fake guest's page, RAM and eventfds to the daemon. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/usock.h"
#include "daemon/loopback.h"
#include "ioreq/ioreq_fake.h"

static int
wait_fd(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

int
loopback_accept_guest(const char *path, int timeout_ms,
    struct loopback_guest *g)
{
	int rc;

	g->lg_fake = NULL;
	g->lg_sock = usock_connect(path, SOCK_STREAM);
	if (g->lg_sock < 0)
		return g->lg_sock;
	if ((rc = wait_fd(g->lg_sock, timeout_ms)) < 0)
		goto err;
	if ((rc = ioreq_fake_recv(g->lg_sock, &g->lg_fake)) < 0)
		goto err;
	return 0;

err:
	close(g->lg_sock);
	g->lg_sock = -1;
	return rc;
}

const struct ioreq_shm_cfg *
loopback_shm_cfg(const struct loopback_guest *g)
{
	return ioreq_fake_shm_cfg(g->lg_fake);
}

int
loopback_page_id(const struct loopback_guest *g, uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (fstat(loopback_shm_cfg(g)->page_fd, &st) < 0)
		return -errno;
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

int
loopback_send_ready(struct loopback_guest *g)
{
	if (send(g->lg_sock, "READY\n", 6, MSG_NOSIGNAL) != 6)
		return -errno;
	return 0;
}

void
loopback_guest_close(struct loopback_guest *g)
{
	ioreq_fake_free(g->lg_fake);
	g->lg_fake = NULL;
	if (g->lg_sock >= 0)
		close(g->lg_sock);
	g->lg_sock = -1;
}

int
loopback_offer(const char *path, const struct ioreq_fake *f, int timeout_ms,
    void (*listening)(void *arg), void *arg, int *sockp)
{
	int lfd, cfd, rc;

	lfd = usock_listen(path, SOCK_STREAM, 0600, 1);
	if (lfd < 0)
		return lfd;
	if (listening != NULL)
		listening(arg);
	if ((rc = wait_fd(lfd, timeout_ms)) < 0)
		goto out;
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0) {
		rc = -errno;
		goto out;
	}
	rc = ioreq_fake_send(f, cfd);
	if (rc < 0) {
		close(cfd);
		goto out;
	}
	*sockp = cfd;
out:
	close(lfd);
	(void)unlink(path);
	return rc;
}

int
loopback_wait_ready(int sock, int timeout_ms)
{
	char buf[8];
	size_t got = 0;
	int rc;

	while (got < 6) {
		ssize_t n;

		if ((rc = wait_fd(sock, timeout_ms)) < 0)
			return rc;
		n = read(sock, buf + got, 6 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		got += (size_t)n;
	}
	return memcmp(buf, "READY\n", 6) == 0 ? 0 : -EPROTO;
}
