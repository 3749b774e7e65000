/* SPDX-License-Identifier: MIT */
/*
 * The loopback hand-off: how a fake guest in another process (a test,
 * tools/demo) gives `hcvsockd --loopback SOCKET` its ioreq page, guest
 * RAM and eventfds.
 *
 * The fake guest creates a fake page (ioreq_fake.h), listens on SOCKET
 * (AF_UNIX, stream) and, when the daemon connects, sends everything with
 * ioreq_fake_send() (one message, SCM_RIGHTS; validated by
 * ioreq_fake_recv() on the daemon's side).  The daemon writes "READY\n"
 * on the connection once it serves the page - the moment it sends
 * READY=1 to systemd - and keeps the connection open: when either end
 * closes it, the guest is gone and the daemon exits 0, as it does when a
 * Xen domain dies.
 */
#ifndef HCVS_LOOPBACK_H
#define HCVS_LOOPBACK_H

#include <stdint.h>

#include "common/compiler.h"
#include "ioreq/ioreq.h"

struct ioreq_fake;

struct loopback_guest {
	int			 lg_sock;	/* the connection, kept open */
	struct ioreq_fake	*lg_fake;	/* the daemon's view of the page */
};

/*
 * Daemon side: connect to `path` and receive the fake guest, waiting at
 * most timeout_ms for it.  -ENOENT/-ECONNREFUSED: nobody listens there;
 * -EPROTO: a malformed hand-off; -ETIMEDOUT; -errno.
 */
int	loopback_accept_guest(const char *path, int timeout_ms,
	    struct loopback_guest *g) __must_check;
/* The configuration for ioreq_shm_open() (valid until close). */
const struct ioreq_shm_cfg *loopback_shm_cfg(const struct loopback_guest *g);
/*
 * What tells this fake guest's page from any other: its memfd's device
 * and inode numbers (a fake guest that offers its page again to a
 * restarted daemon offers the same memfd).  0 or -errno of fstat.
 */
int	loopback_page_id(const struct loopback_guest *g, uint64_t *dev,
	    uint64_t *ino) __must_check;
/* Tell the fake guest the page is served. */
int	loopback_send_ready(struct loopback_guest *g);
/* Close the connection and the daemon's copy of the fds. */
void	loopback_guest_close(struct loopback_guest *g);

/*
 * Fake-guest side: listen on `path` (replacing a stale socket), tell the
 * caller through `listening` (may be NULL) once it does, accept one
 * daemon within timeout_ms (-1: forever), send `f` and return the
 * connection in *sockp.  The listening socket is closed and unlinked.
 */
int	loopback_offer(const char *path, const struct ioreq_fake *f,
	    int timeout_ms, void (*listening)(void *arg), void *arg,
	    int *sockp) __must_check;
/* Fake-guest side: wait up to timeout_ms for "READY\n". */
int	loopback_wait_ready(int sock, int timeout_ms) __must_check;

#endif /* HCVS_LOOPBACK_H */
