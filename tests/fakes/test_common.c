/* SPDX-License-Identifier: MIT */
/* Log capture and a printed, overridable random seed for the test drivers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
