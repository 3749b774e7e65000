/* SPDX-License-Identifier: MIT */
/* The crash-recovery state file: atomic writes, strict reads. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/statefile.h"

int
statefile_write(const char *path, const struct statefile *sf)
{
	char tmp[4096 + 16];
	char *buf;
	size_t cap = 256 + 2 * STATEFILE_DEV_MAX, off;
	int fd, rc = 0;

	if (sf->sf_dev_len > STATEFILE_DEV_MAX)
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
	off = (size_t)snprintf(buf, cap,
	    "# hcvsockd runtime state: written by the daemon, do not edit\n"
	    "version %u\npid %ld\ndomid %" PRIu32 "\nserver_id %" PRId32
	    "\ndevice ", STATEFILE_VERSION, (long)sf->sf_pid, sf->sf_domid,
	    sf->sf_server_id);
	for (size_t i = 0; i < sf->sf_dev_len; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%02x",
		    sf->sf_dev[i]);
	off += (size_t)snprintf(buf + off, cap - off, "\n");

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		rc = -errno;
		goto err_free;
	}
	if (write(fd, buf, off) != (ssize_t)off) {
		rc = errno != 0 ? -errno : -EIO;
		goto err_unlink;
	}
	if (fdatasync(fd) < 0 && errno != EINVAL) {
		rc = -errno;
		goto err_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto err_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto err_unlink;
	}
	free(buf);
	return 0;

err_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
err_free:
	free(buf);
	return rc;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int
parse_line(struct statefile *sf, char *line, unsigned *seen)
{
	char *val = strchr(line, ' ');
	char *end;
	long long v;

	if (line[0] == '#' || line[0] == '\0')
		return 0;
	if (val == NULL)
		return -EINVAL;
	*val++ = '\0';
	if (!strcmp(line, "device")) {
		size_t n = strlen(val);

		if ((*seen & 16) != 0 || n % 2 != 0 || n / 2 > STATEFILE_DEV_MAX)
			return -EINVAL;
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hexval(val[2 * i]), lo = hexval(val[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return -EINVAL;
			sf->sf_dev[i] = (uint8_t)(hi << 4 | lo);
		}
		sf->sf_dev_len = n / 2;
		*seen |= 16;
		return 0;
	}
	/* Only what the writer produces: strtoll skips blanks, takes '+'. */
	if (val[0] != '-' && (val[0] < '0' || val[0] > '9'))
		return -EINVAL;
	errno = 0;
	v = strtoll(val, &end, 10);
	if (errno != 0 || end == val || *end != '\0')
		return -EINVAL;
	/* Each key once: a second one is tampering, not an update. */
	if (!strcmp(line, "version") && !(*seen & 1) && v == STATEFILE_VERSION) {
		sf->sf_version = (uint32_t)v;
		*seen |= 1;
	} else if (!strcmp(line, "pid") && !(*seen & 2) && v > 0 &&
	    v <= INT32_MAX) {
		sf->sf_pid = (pid_t)v;
		*seen |= 2;
	} else if (!strcmp(line, "domid") && !(*seen & 4) && v >= 0 &&
	    v <= UINT32_MAX) {
		sf->sf_domid = (uint32_t)v;
		*seen |= 4;
	} else if (!strcmp(line, "server_id") && !(*seen & 8) && v >= -1 &&
	    v <= UINT16_MAX) {
		sf->sf_server_id = (int32_t)v;
		*seen |= 8;
	} else
		return -EINVAL;
	return 0;
}

int
statefile_read(const char *path, struct statefile *sf)
{
	char buf[256 + 2 * STATEFILE_DEV_MAX + 64];
	char *line, *save = NULL;
	unsigned seen = 0;
	struct stat st;
	ssize_t n;
	int fd, rc;

	memset(sf, 0, sizeof(*sf));
	/* Whoever put a FIFO here must not block the start. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode)) {
		rc = st.st_mode == 0 ? -errno : -ENOTSUP;
		close(fd);
		return rc;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	rc = -errno;
	close(fd);
	if (n < 0)
		return rc;
	if ((size_t)n == sizeof(buf) - 1)
		return -EINVAL;
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n) != NULL)
		return -EINVAL;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((rc = parse_line(sf, line, &seen)) < 0)
			return rc;
	}
	return seen == 31 ? 0 : -EINVAL;
}
