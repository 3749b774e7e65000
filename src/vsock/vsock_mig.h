/* SPDX-License-Identifier: MIT */
/*
 * The migration session bridge: the host side of protocol MSG
 * (vsock_msg.c, docs/HOST-BRIDGE.md "Migration sessions").  A host
 * program (the migration orchestrator) connects to one AF_UNIX listener
 * and either starts a session or waits for a session's report:
 *
 *   START <op> <len>\n<len bytes>   the request the guest's WaitForRequest
 *                                   gets; its first 8 bytes (LE) are the
 *                                   session's request id (mid).  When the
 *                                   guest takes it: "OK <mid>\n", and the
 *                                   connection is the session's byte
 *                                   stream (guest Send -> host, host ->
 *                                   guest Receive).
 *   REPORT <mid>\n                  waits for the guest's ReportStatus:
 *                                   "REPORT <mid> <pre> <code> <len>\n"
 *                                   and the report's bytes, then close.
 *
 * Refusals are one "ERR <word>\n" line, then the connection is closed:
 * syntax, busy (session limit), exists (mid in use), timeout (no line,
 * or the guest did not take the request, within connect_timeout_ms),
 * toolarge (longer than the guest's buffer), unknown (REPORT of no
 * session), reset (REPORT of a session a device reset ended, or a
 * request when the daemon stops).  A device reset ends the sessions the
 * guest took (their streams see EOF); requests it did not take yet stay
 * queued for its next WaitForRequest.
 *
 * It is the device's struct vsock_msg_backend_ops (arg = the bridge);
 * like the muxer it only ever calls `wake` from its own loop callbacks.
 * Owned by the loop thread.
 */
#ifndef HCVS_VSOCK_MIG_H
#define HCVS_VSOCK_MIG_H

#include <stdint.h>

#include "common/compiler.h"

struct loop;
struct vsock_mig;
struct vsock_msg_backend_ops;

/* Lines are at most this long, LF included. */
#define VSOCK_MIG_LINE_MAX	64

struct vsock_mig_cfg {
	/* The listener, "<dir>/<name>_migtd" in the daemon; must fit sun_path. */
	char		 path[108];
	/* Zero fields take the default in brackets. */
	uint32_t	 max_sessions;		/* [16] started, live or reported */
	uint32_t	 buf_alloc;		/* guest bytes buffered [256 KiB] */
	uint32_t	 connect_timeout_ms;	/* [2000] */
	uint32_t	 close_timeout_ms;	/* [8000] flushing after a report */
	/* The owner runs vsock_dev_process() (see vsock_backend.h). */
	void		 (*wake)(void *arg);
	void		*wake_arg;
};

/*
 * The daemon's bridge next to a muxer: "<uds_path>_migtd" with the
 * muxer's buf_alloc and timeouts.  -ENOENT when the muxer has no
 * listener (no uds_path): no sessions, protocol MSG not offered.
 */
struct vsock_mux_cfg;
int	vsock_mig_cfg_for(const struct vsock_mux_cfg *mux,
	    struct vsock_mig_cfg *cfg);

/*
 * 0, or -EINVAL, -ENAMETOOLONG, -EADDRINUSE (somebody listens there),
 * -EEXIST (not a socket: never removed), the -errno of socket/bind/listen.
 * The socket is mode 0660, as the guest's listener.
 */
int	vsock_mig_new(struct loop *l, const struct vsock_mig_cfg *cfg,
	    struct vsock_mig **bp) __must_check;
/* Every session ends (host programs see EOF), the listener goes.  NULL: no-op. */
void	vsock_mig_free(struct vsock_mig *b);
/* Every session and request ends (the daemon stops); the listener stays. */
void	vsock_mig_reset(struct vsock_mig *b);

extern const struct vsock_msg_backend_ops vsock_mig_backend_ops;

struct vsock_mig_stats {
	uint64_t	gs_started;	/* START requests queued */
	uint64_t	gs_taken;	/* ... taken by the guest */
	uint64_t	gs_refused;	/* ERR lines sent */
	uint64_t	gs_reports;	/* reports from the guest */
	uint64_t	gs_to_host;	/* guest Send bytes */
	uint64_t	gs_to_guest;	/* bytes for guest Receives */
};
void	vsock_mig_get_stats(const struct vsock_mig *b, struct vsock_mig_stats *st);
/* The counters in one line, then one line per session, via cb. */
void	vsock_mig_dump(const struct vsock_mig *b,
	    void (*cb)(void *arg, const char *line), void *arg);

#endif /* HCVS_VSOCK_MIG_H */
