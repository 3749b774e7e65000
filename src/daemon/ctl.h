/* SPDX-License-Identifier: MIT */
/*
 * The control socket, <state_dir>/<name>.ctl: a stream socket on which
 * hcvsockctl(8) sends one command line and reads the answer until EOF.
 *
 *   status       the same report SIGUSR1 writes to the log
 *   status json  the status as one JSON document (status.h)
 *   metrics      the status in the Prometheus text format
 *
 * The server runs on the event loop and never blocks: answers are
 * buffered (bounded) and written as the peer reads; a peer that sends
 * nothing is dropped after CTL_IDLE_MS.  Mode 0660: root and the
 * daemon's group.
 */
#ifndef HCVS_CTL_H
#define HCVS_CTL_H

#include <stddef.h>
#include <sys/types.h>

#include "common/compiler.h"

struct loop;
struct ctl;

#define CTL_MAX_CLIENTS	8
#define CTL_IDLE_MS	5000
#define CTL_MAX_REPLY	(4u << 20)

enum ctl_report {
	CTL_REPORT_TEXT,
	CTL_REPORT_JSON,
	CTL_REPORT_METRICS,
};

/* Produces the report of the given kind line by line through emit. */
typedef void (*ctl_report_fn)(void *arg, enum ctl_report kind,
	    void (*emit)(void *earg, const char *line), void *earg);

/* Listen on `path` (usock_listen()'s rules, mode 0660). */
int	ctl_open(struct loop *l, const char *path, ctl_report_fn report,
	    void *arg, struct ctl **cp) __must_check;
struct peer_policy;
/*
 * Only peers the policy allows (SO_PEERCRED, SO_PEERGROUPS) are served;
 * others read "error: not allowed" and are closed.  Copied.
 */
void	ctl_set_peers(struct ctl *c, const struct peer_policy *pp);
/* Stop listening, drop clients, unlink the socket.  NULL: no-op. */
void	ctl_close(struct ctl *c);

/*
 * Client side: send `cmd` to the socket at `path` and copy the answer to
 * fd `out`.  Waits at most timeout_ms for each read.  Returns 0, or
 * -errno (-ECONNREFUSED/-ENOENT: no daemon there).
 */
int	ctl_request(const char *path, const char *cmd, int out, int timeout_ms);

#endif /* HCVS_CTL_H */
