/* SPDX-License-Identifier: MIT */
/*
 * Log capture, a printed random seed, fd counting, temporary directories
 * and socket reads for the test drivers.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_common.h"

#define CAPTURE_KEEP	256

static pthread_mutex_t	 cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char		*cap_msgs[CAPTURE_KEEP];
static unsigned		 cap_count;

static void
capture_sink(int prio, const char *msg, void *arg)
{
	(void)prio;
	(void)arg;
	pthread_mutex_lock(&cap_lock);
	free(cap_msgs[cap_count % CAPTURE_KEEP]);
	cap_msgs[cap_count % CAPTURE_KEEP] = strdup(msg);
	cap_count++;
	pthread_mutex_unlock(&cap_lock);
	if (getenv("HCVS_TEST_LOG") != NULL)
		fprintf(stderr, "log: %s\n", msg);
}

void
test_log_capture_start(void)
{
	test_log_capture_stop();
	log_set_sink(capture_sink, NULL);
}

void
test_log_capture_stop(void)
{
	log_set_sink(NULL, NULL);
	pthread_mutex_lock(&cap_lock);
	for (unsigned i = 0; i < CAPTURE_KEEP; i++) {
		free(cap_msgs[i]);
		cap_msgs[i] = NULL;
	}
	cap_count = 0;
	pthread_mutex_unlock(&cap_lock);
}

const char *
test_log_last(void)
{
	const char *m;

	pthread_mutex_lock(&cap_lock);
	m = cap_count ? cap_msgs[(cap_count - 1) % CAPTURE_KEEP] : "";
	pthread_mutex_unlock(&cap_lock);
	return m;
}

unsigned
test_log_count(void)
{
	return cap_count;
}

int
test_log_seen(const char *needle)
{
	int found = 0;

	pthread_mutex_lock(&cap_lock);
	for (unsigned i = 0; i < CAPTURE_KEEP && !found; i++)
		if (cap_msgs[i] != NULL && strstr(cap_msgs[i], needle) != NULL)
			found = 1;
	pthread_mutex_unlock(&cap_lock);
	return found;
}

unsigned
test_seed(void)
{
	static unsigned seed;
	static int done;
	const char *s;

	if (!done) {
		s = getenv("HCVS_SEED");
		seed = s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)time(NULL);
		printf("# seed %u (set HCVS_SEED to replay)\n", seed);
		done = 1;
	}
	return seed;
}

unsigned
test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	/* Less the one opendir() holds. */
	return n - 1;
}

void
test_tmpdir(char *buf, size_t size, const char *tag)
{
	int n = snprintf(buf, size, "/tmp/hcvs-%s-XXXXXX", tag);

	assert_true(n > 0 && (size_t)n < size);
	assert_non_null(mkdtemp(buf));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

void
test_rmtree(const char *dir)
{
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char	test_failure[256];

bool
test_read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	uint8_t *p = buf;

	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, timeout_ms) != 1)
			return false;
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

bool
test_read_line(int fd, char *line, size_t size, int timeout_ms)
{
	for (size_t n = 0; n + 1 < size; n++) {
		if (!test_read_full(fd, line + n, 1, timeout_ms))
			return false;
		if (line[n] == '\n') {
			line[n] = '\0';
			return true;
		}
	}
	return false;
}
