/* SPDX-License-Identifier: MIT */
/*
 * AF_UNIX plumbing shared by every listener, client and fd-passing
 * protocol: binding a path safely, accepting on the event loop without
 * spinning when fds run out, connecting, and one SCM_RIGHTS sender and
 * receiver.
 *
 * Path rules (usock_listen, usock_listener_new):
 *  - an existing path is replaced only when lstat() shows a socket and a
 *    connect() to it is refused (a dead owner's leftover).  A regular
 *    file, directory or symlink there is never removed: -EEXIST.  A live
 *    listener is never taken: -EADDRINUSE.
 *  - the socket node is created with exactly `mode` (permission bits),
 *    set on the socket fd before bind(); the path is never chmod()ed.
 */
#ifndef HCVS_USOCK_H
#define HCVS_USOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "common/compiler.h"

struct loop;

/* sun_path from `path`: -ENAMETOOLONG when it does not fit, -EINVAL if empty. */
int	usock_addr(const char *path, struct sockaddr_un *sun) __must_check;

/*
 * A blocking, close-on-exec socket of `type` connected to `path`.
 * Returns the fd or -errno (usock_addr's, or connect()'s: -ENOENT,
 * -ECONNREFUSED, ...).
 */
int	usock_connect(const char *path, int type) __must_check;

/*
 * A non-blocking, close-on-exec listening socket of `type` (SOCK_STREAM
 * or SOCK_SEQPACKET) at `path`, mode `mode`.  Returns the fd or -errno
 * (see the path rules above).
 */
int	usock_listen(const char *path, int type, mode_t mode, int backlog)
	    __must_check;

/*
 * A listener on the loop.  `accept` is called once per accepted
 * connection with the new fd (non-blocking, close-on-exec; the callee
 * owns it), or with a negative errno when accept4() failed for want of
 * resources (EMFILE, ENFILE, ENOBUFS, ENOMEM): the listener then rests
 * for USOCK_ACCEPT_BACKOFF_MS instead of waking the loop in a spin.  Up
 * to a small batch is accepted per wake-up; `accept` must not free the
 * listener.
 */
#define USOCK_ACCEPT_BACKOFF_MS	100
typedef void (*usock_accept_fn)(void *arg, int fd);

struct usock_listener;
int	usock_listener_new(struct loop *l, const char *path, int type,
	    mode_t mode, int backlog, usock_accept_fn accept, void *arg,
	    struct usock_listener **lp) __must_check;
/* Stop listening; unlink the path only if it is still our socket.  NULL: no-op. */
void	usock_listener_free(struct usock_listener *ul);

/*
 * SCM_RIGHTS.  usock_send sends the bytes of iov[] and `nfds` fds (at
 * most USOCK_MAX_FDS) as one message (MSG_NOSIGNAL and `flags`, e.g.
 * MSG_DONTWAIT; EINTR retried) and returns the bytes sent or -errno.
 *
 * usock_recv receives one message into buf (`flags` as for recvmsg; fds
 * arrive close-on-exec).  At most `maxfds` fds are stored in fds[] and
 * counted in *nfds; any others are closed at once, so a peer can never
 * leave fds behind in this process.  *what reports anything the caller
 * must refuse: USOCK_TRUNC (the payload did not fit in buf), USOCK_EXCESS
 * (more fds than maxfds or than the control buffer held), USOCK_FOREIGN
 * (a control message other than SCM_RIGHTS).  Returns the bytes received
 * (0: the peer closed, unless fds came) or -errno (-EAGAIN when nothing
 * is queued with MSG_DONTWAIT).
 */
#define USOCK_MAX_FDS	253u	/* the kernel's SCM_MAX_FD */
#define USOCK_TRUNC	0x1u
#define USOCK_EXCESS	0x2u
#define USOCK_FOREIGN	0x4u
ssize_t	usock_send(int sock, const struct iovec *iov, size_t iovcnt,
	    const int *fds, unsigned nfds, int flags);
ssize_t	usock_recv(int sock, void *buf, size_t len, int flags, int *fds,
	    unsigned maxfds, unsigned *nfds, unsigned *what);

#endif /* HCVS_USOCK_H */
