/* SPDX-License-Identifier: MIT */
/* The loopback hand-off: a fake guest's page, RAM and eventfds over SCM_RIGHTS. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/loopback.h"

static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

static bool
is_memfd_like(int fd, uint64_t need)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size >= need;
}

static bool
is_eventfd(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

static int
validate(struct loopback_guest *g, const struct loopback_hello *h)
{
	unsigned want, k = 0;
	bool buffered;

	if (h->lh_magic != LOOPBACK_MAGIC || h->lh_version != LOOPBACK_VERSION)
		return -EPROTO;
	if (h->lh_flags & ~LOOPBACK_F_BUFFERED)
		return -EPROTO;
	if (h->lh_nr_vcpus == 0 || h->lh_nr_vcpus > LOOPBACK_MAX_VCPUS ||
	    h->lh_nr_regions == 0 || h->lh_nr_regions > IOREQ_SHM_MAX_REGIONS)
		return -EPROTO;
	buffered = h->lh_flags & LOOPBACK_F_BUFFERED;
	want = 1 + (buffered ? 2 : 0) + 2 * h->lh_nr_vcpus + h->lh_nr_regions;
	if (want != g->lg_nr_fds)
		return -EPROTO;

	memset(&g->lg_cfg, 0, sizeof(g->lg_cfg));
	g->lg_cfg.page_fd = g->lg_fds[k++];
	if (!is_memfd_like(g->lg_cfg.page_fd, 4096))
		return -EPROTO;
	g->lg_cfg.bufpage_fd = -1;
	g->lg_cfg.buf_kick_fd = -1;
	if (buffered) {
		g->lg_cfg.bufpage_fd = g->lg_fds[k++];
		g->lg_cfg.buf_kick_fd = g->lg_fds[k++];
		if (!is_memfd_like(g->lg_cfg.bufpage_fd, 4096) ||
		    !is_eventfd(g->lg_cfg.buf_kick_fd))
			return -EPROTO;
	}
	for (unsigned i = 0; i < h->lh_nr_vcpus; i++) {
		g->lg_vcpus[i].kick_fd = g->lg_fds[k++];
		g->lg_vcpus[i].done_fd = g->lg_fds[k++];
		if (!is_eventfd(g->lg_vcpus[i].kick_fd) ||
		    !is_eventfd(g->lg_vcpus[i].done_fd))
			return -EPROTO;
	}
	for (unsigned j = 0; j < h->lh_nr_regions; j++) {
		const struct loopback_region *r = &h->lh_regions[j];

		if (r->lr_size == 0 || r->lr_size > (1ull << 40) ||
		    r->lr_offset > (1ull << 40) ||
		    r->lr_gpa > (1ull << 52) - r->lr_size)
			return -EPROTO;
		g->lg_regions[j].fd = g->lg_fds[k++];
		g->lg_regions[j].gpa = r->lr_gpa;
		g->lg_regions[j].size = r->lr_size;
		g->lg_regions[j].offset = r->lr_offset;
		if (!is_memfd_like(g->lg_regions[j].fd,
		    r->lr_offset + r->lr_size))
			return -EPROTO;
	}
	g->lg_cfg.nr_vcpus = h->lh_nr_vcpus;
	g->lg_cfg.vcpus = g->lg_vcpus;
	g->lg_cfg.nr_regions = h->lh_nr_regions;
	g->lg_cfg.regions = g->lg_regions;
	return 0;
}

int
loopback_accept_guest(const char *path, int timeout_ms,
    struct loopback_guest *g)
{
	union {
		char		buf[CMSG_SPACE(sizeof(int) * LOOPBACK_MAX_FDS)];
		struct cmsghdr	align;
	} cbuf;
	struct loopback_hello h;
	struct sockaddr_un sun;
	struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;
	int rc;

	memset(g, 0, sizeof(*g));
	g->lg_sock = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	g->lg_sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g->lg_sock < 0)
		return -errno;
	if (connect(g->lg_sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		goto err;
	}
	if ((rc = wait_fd(g->lg_sock, POLLIN, timeout_ms)) < 0)
		goto err;
	memset(&h, 0, sizeof(h));
	n = recvmsg(g->lg_sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	if (n < 0) {
		rc = -errno;
		goto err;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t nfds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfds; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (g->lg_nr_fds < LOOPBACK_MAX_FDS)
				g->lg_fds[g->lg_nr_fds++] = fd;
			else
				close(fd);
		}
	}
	if ((size_t)n != sizeof(h) || (msg.msg_flags & MSG_CTRUNC)) {
		rc = -EPROTO;
		goto err;
	}
	if ((rc = validate(g, &h)) < 0)
		goto err;
	return 0;

err:
	loopback_guest_close(g);
	return rc;
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
	for (unsigned i = 0; i < g->lg_nr_fds; i++)
		close(g->lg_fds[i]);
	g->lg_nr_fds = 0;
	if (g->lg_sock >= 0)
		close(g->lg_sock);
	g->lg_sock = -1;
}

int
loopback_send_hello(int sock, const struct ioreq_shm_cfg *cfg)
{
	union {
		char		buf[CMSG_SPACE(sizeof(int) * LOOPBACK_MAX_FDS)];
		struct cmsghdr	align;
	} cbuf;
	int fds[LOOPBACK_MAX_FDS];
	struct loopback_hello h;
	struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	unsigned k = 0;

	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > LOOPBACK_MAX_VCPUS ||
	    cfg->nr_regions == 0 || cfg->nr_regions > IOREQ_SHM_MAX_REGIONS)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	h.lh_magic = LOOPBACK_MAGIC;
	h.lh_version = LOOPBACK_VERSION;
	h.lh_nr_vcpus = cfg->nr_vcpus;
	h.lh_nr_regions = cfg->nr_regions;
	fds[k++] = cfg->page_fd;
	if (cfg->bufpage_fd >= 0) {
		h.lh_flags |= LOOPBACK_F_BUFFERED;
		fds[k++] = cfg->bufpage_fd;
		fds[k++] = cfg->buf_kick_fd;
	}
	for (unsigned i = 0; i < cfg->nr_vcpus; i++) {
		fds[k++] = cfg->vcpus[i].kick_fd;
		fds[k++] = cfg->vcpus[i].done_fd;
	}
	for (unsigned j = 0; j < cfg->nr_regions; j++) {
		fds[k++] = cfg->regions[j].fd;
		h.lh_regions[j].lr_gpa = cfg->regions[j].gpa;
		h.lh_regions[j].lr_size = cfg->regions[j].size;
		h.lh_regions[j].lr_offset = cfg->regions[j].offset;
	}
	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * k);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * k);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * k);
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(h))
		return -errno;
	return 0;
}

int
loopback_wait_ready(int sock, int timeout_ms)
{
	char buf[8];
	size_t got = 0;
	int rc;

	while (got < 6) {
		ssize_t n;

		if ((rc = wait_fd(sock, POLLIN, timeout_ms)) < 0)
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
