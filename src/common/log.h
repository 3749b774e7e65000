/* SPDX-License-Identifier: MIT */
/*
 * Logging, after OpenBSD vmd's log.c: syslog by default, stderr in the
 * foreground, a -v level for debug.  Every call is thread-safe.
 *
 * log_warn() appends strerror(errno); log_warnx() does not.  Nothing
 * here exits: callers return -errno and the daemon decides.
 *
 * Anything a guest or a host peer can trigger must go through
 * log_ratelimited() so that a hostile guest cannot flood the log.
 */
#ifndef HCVS_LOG_H
#define HCVS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "common/compiler.h"

/* foreground: log to stderr; verbose: 0 info, >= 1 debug. */
void	log_init(bool foreground, int verbose, const char *ident);
void	log_setverbose(int verbose);
/*
 * Drop messages less urgent than `prio` (a syslog priority; LOG_DEBUG =
 * keep everything, the default).  A verbose level >= 1 keeps everything.
 */
void	log_setlevel(int prio);
/*
 * Foreground under systemd (stderr is the journal): write "<N>message"
 * so that the journal records each line's priority (sd-daemon(3)).
 */
void	log_set_journal(bool on);
/* A prefix such as "dom7: " put before every message (copied). */
void	log_setprefix(const char *prefix);

void	log_warn(const char *fmt, ...) __printf(1, 2);
void	log_warnx(const char *fmt, ...) __printf(1, 2);
void	log_info(const char *fmt, ...) __printf(1, 2);
void	log_debug(const char *fmt, ...) __printf(1, 2);
void	log_msg(int prio, const char *fmt, ...) __printf(2, 3);

/*
 * A token bucket: at most `burst` messages, refilled at `per_sec`.
 * Suppressed messages are counted and reported with the next one let
 * through.  Zero-initialise with LOG_RATELIMIT_INIT.
 */
struct log_ratelimit {
	uint32_t	rl_burst;
	uint32_t	rl_per_sec;
	uint32_t	rl_tokens;
	uint64_t	rl_last_ns;
	uint64_t	rl_suppressed;
};
#define LOG_RATELIMIT_INIT(burst, per_sec) \
	{ .rl_burst = (burst), .rl_per_sec = (per_sec), .rl_tokens = (burst) }

void	log_ratelimited(struct log_ratelimit *rl, int prio, const char *fmt, ...)
	    __printf(3, 4);

/*
 * Tests install a sink to capture messages; NULL restores normal output.
 * The sink receives the fully formatted message without the prefix.
 */
typedef void (*log_sink_fn)(int prio, const char *msg, void *arg);
void	log_set_sink(log_sink_fn fn, void *arg);

#endif /* HCVS_LOG_H */
