/* SPDX-License-Identifier: MIT */
/* Locked pid files that survive a crash without blocking the restart. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/pidfile.h"

int
pidfile_open(const char *path, pid_t *holder)
{
	char buf[32];
	struct stat st;
	ssize_t n;
	int fd;

	*holder = 0;
	/* O_NONBLOCK: a FIFO put at the path must not hang the start. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
	    0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOTSUP;
	}
	/* The mode is ours to state, not the caller's umask. */
	if (fchmod(fd, 0644) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (lockf(fd, F_TLOCK, 0) < 0) {
		int e = errno;

		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			*holder = (pid_t)strtol(buf, NULL, 10);
		}
		close(fd);
		return e == EAGAIN || e == EACCES ? -EEXIST : -e;
	}
	return fd;
}

int
pidfile_write(int fd)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0)
		return -errno;
	if (pwrite(fd, buf, (size_t)len, 0) != len)
		return -EIO;
	return 0;
}

void
pidfile_close(int fd, const char *path)
{
	if (fd < 0)
		return;
	/*
	 * After the privilege drop the directory may not let us unlink: then
	 * at least no pid is left in it for a tool to signal.
	 */
	if (unlink(path) < 0 && errno != ENOENT)
		(void)ftruncate(fd, 0);
	close(fd);
}
