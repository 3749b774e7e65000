/* SPDX-License-Identifier: MIT */
/* Logging to syslog or stderr, with levels, a prefix and rate limiting. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mono.h"

static bool		 log_fg = true;
static int		 log_verbose;
static int		 log_level = LOG_DEBUG;
static bool		 log_journal;
static char		 log_prefix[64];
static log_sink_fn	 log_sink;
static void		*log_sink_arg;
static pthread_mutex_t	 log_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_init(bool foreground, int verbose, const char *ident)
{
	log_fg = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

void
log_set_journal(bool on)
{
	log_journal = on;
}

void
log_setlevel(int prio)
{
	log_level = prio;
}

void
log_setprefix(const char *prefix)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ? prefix : "");
	pthread_mutex_unlock(&log_lock);
}

void
log_set_sink(log_sink_fn fn, void *arg)
{
	pthread_mutex_lock(&log_lock);
	log_sink = fn;
	log_sink_arg = arg;
	pthread_mutex_unlock(&log_lock);
}

static const char *
prio_name(int prio)
{
	switch (prio) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: return "crit";
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

static void __printf(2, 0)
log_vmsg(int prio, const char *fmt, va_list ap)
{
	char buf[1024];
	int saved = errno;

	if (prio == LOG_DEBUG && log_verbose < 1)
		return;
	if (prio > log_level && log_verbose < 1)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&log_lock);
	if (log_sink != NULL)
		log_sink(prio, buf, log_sink_arg);
	else if (log_fg && log_journal)
		fprintf(stderr, "<%d>%s%s\n", prio, log_prefix, buf);
	else if (log_fg)
		fprintf(stderr, "%s: %s%s\n", prio_name(prio), log_prefix, buf);
	else
		syslog(prio, "%s%s", log_prefix, buf);
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

static void log_verrno(int prio, int err, const char *fmt, va_list ap)
    __printf(3, 0);

static void
log_verrno(int prio, int err, const char *fmt, va_list ap)
{
	char buf[900];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_msg(prio, "%s: %s", buf, strerror(err));
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	log_verrno(LOG_WARNING, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vmsg(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
log_ratelimited(struct log_ratelimit *rl, int prio, const char *fmt, ...)
{
	va_list ap;
	uint64_t now, suppressed = 0;
	bool emit = false;

	if (prio == LOG_DEBUG && log_verbose < 1)
		return;
	now = mono_ns();
	pthread_mutex_lock(&log_lock);
	if (rl->rl_per_sec > 0 && now > rl->rl_last_ns) {
		uint64_t add = (now - rl->rl_last_ns) * rl->rl_per_sec / 1000000000ull;

		if (add > 0 || rl->rl_last_ns == 0) {
			uint64_t t = rl->rl_tokens + add;

			rl->rl_tokens = t > rl->rl_burst ? rl->rl_burst : (uint32_t)t;
			rl->rl_last_ns = now;
		}
	}
	if (rl->rl_tokens > 0) {
		rl->rl_tokens--;
		emit = true;
		suppressed = rl->rl_suppressed;
		rl->rl_suppressed = 0;
	} else
		rl->rl_suppressed++;
	pthread_mutex_unlock(&log_lock);
	if (!emit)
		return;
	if (suppressed > 0)
		log_msg(prio, "(%llu similar messages suppressed)",
		    (unsigned long long)suppressed);
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}
