/* SPDX-License-Identifier: MIT */
/*
 * The notifier: how doorbells and interrupts travel between a guest and
 * hcvsockd, independent of the hypervisor.  Code above this layer holds a
 * struct notifier and never learns which backend is behind it.
 *
 * Backends:
 *   xen   - Xen event channels (libxenevtchn).  Ports are evtchn ports.
 *   kvm   - eventfds registered on a KVM VM fd (KVM_IOEVENTFD, KVM_IRQFD),
 *           plus ready-made eventfds handed over by a VMM.
 *   loop  - plain eventfds, for the fake ioreq page and tests.
 *
 * A bound remote end gets a "local port" (uint32_t) chosen by the
 * backend.  Ports are directional as the remote end allows: a guest kick
 * (ioeventfd) can only be received, an irqfd can only be notified, a Xen
 * or loopback channel does both.
 *
 * All functions return 0 (or a documented positive value) on success and
 * a negative errno on failure (-EINVAL for a NULL notifier or a NULL
 * out-pointer); they never exit and never log on the fast path.  A notifier is not thread-safe: one thread (the event loop) owns
 * it, except notifier_notify() which may be called from any thread at any
 * time before notifier_close() (a port unbound meanwhile gives -ENOENT).
 * File descriptors are opened O_CLOEXEC.
 *
 * Ordering: the eventfd backends (kvm, loop) report pending ports in the
 * order they were first kicked since they were last reported, so a port
 * kicked without pause cannot be reported twice while another waits.  Xen
 * reports them in the order the kernel's evtchn ring holds them.
 */
#ifndef HCVS_NOTIFY_H
#define HCVS_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

struct notifier;

#define NOTIFY_PORT_INVALID	UINT32_MAX

/* Largest busy-poll window notifier_set_busy_poll() accepts: 1 s. */
#define NOTIFY_BUSY_POLL_MAX_NS	1000000000ULL

enum notify_bind_kind {
	/* Xen: interdomain bind to remote evtchn `port` of the target. */
	NOTIFY_BIND_EVTCHN,
	/*
	 * KVM: ioeventfd on a guest PIO or MMIO address; receive only.  The
	 * remote end is (is_mmio, addr, len, datamatch or any): a second bind
	 * that KVM would treat as the same trigger is -EEXIST.  PIO needs
	 * len 1, 2, 4 or 8 and addr + len <= 0x10000; len 0 (any width) is
	 * MMIO only and excludes datamatch; a datamatch wider than len is
	 * -EINVAL.  Unbind deassigns it (KVM_IOEVENTFD_FLAG_DEASSIGN).
	 */
	NOTIFY_BIND_IOEVENTFD,
	/*
	 * KVM: irqfd on `gsi`; notify only.  One port per GSI (-EEXIST).  The
	 * VM needs an in-kernel irqchip (KVM_CREATE_IRQCHIP) first, else
	 * KVM's error is returned.  Unbind deassigns it.
	 */
	NOTIFY_BIND_IRQFD,
	/*
	 * kvm/loop: ready-made eventfds.  `rx_fd` is signalled by the remote
	 * end (its kick), `tx_fd` is signalled by notifier_notify().  Either
	 * may be -1 for a one-way port, not both; they must be distinct
	 * eventfds (-EINVAL otherwise) not already bound here, under any fd
	 * number (-EEXIST).  The notifier takes ownership of both fds on
	 * success (and only on success) and sets O_NONBLOCK and FD_CLOEXEC on
	 * them; O_NONBLOCK is shared with any dup of the same open file.
	 */
	NOTIFY_BIND_EVENTFDS,
	/*
	 * loop: create a fresh eventfd pair; the remote end's fds are fetched
	 * with notifier_loop_peer().
	 */
	NOTIFY_BIND_LOOP,
};

struct notify_bind {
	enum notify_bind_kind	kind;
	/* NOTIFY_BIND_EVTCHN */
	uint32_t		remote_port;
	/* NOTIFY_BIND_IOEVENTFD */
	bool			is_mmio;
	uint64_t		addr;
	uint32_t		len;		/* 0 (MMIO, any size), 1, 2, 4, 8 */
	bool			has_datamatch;
	uint64_t		datamatch;
	/* NOTIFY_BIND_IRQFD */
	uint32_t		gsi;
	/* NOTIFY_BIND_EVENTFDS */
	int			rx_fd;
	int			tx_fd;
};

/*
 * Open a notifier.  `backend` is "xen", "kvm" or "loop".  `target` is the
 * Xen domid for "xen" (0 to 0x7fef), the KVM VM fd for "kvm" (borrowed,
 * not closed, and it must outlive the notifier; -1 if only
 * NOTIFY_BIND_EVENTFDS will be used), ignored for "loop".
 * Returns 0 and *np, or -ENOENT (backend not built), -ENODEV (no
 * /dev/xen/evtchn), -EINVAL (target out of range or not a KVM VM fd),
 * -errno from the system.
 */
int	notifier_open(const char *backend, int64_t target, struct notifier **np)
	    __must_check;

/* Close every port and free.  NULL is a no-op. */
void	notifier_close(struct notifier *n);

/* Name of the backend ("xen", "kvm", "loop"). */
const char *notifier_backend(const struct notifier *n);

/*
 * Bind a remote end.  On success *local is the new local port.
 * -EINVAL: malformed request (bad size, kind not supported by this
 * backend, bad fd, IOEVENTFD/IRQFD on a "kvm" notifier opened with -1);
 * -EEXIST: that remote end is already bound; -ENOSPC: the eventfd
 * backends hold at most 4096 ports; -EBADF/-ENOENT/-EINVAL from the
 * backend (Xen, KVM) for a remote end it refuses.  Eventfd backends hand
 * out the lowest free port number, Xen its evtchn port.
 */
int	notifier_bind(struct notifier *n, const struct notify_bind *b,
	    uint32_t *local) __must_check;

/*
 * Unbind a local port.  Pending events on it are discarded.
 * -ENOENT if the port is not bound.
 */
int	notifier_unbind(struct notifier *n, uint32_t local);

/*
 * The single fd for the event loop: readable (EPOLLIN, level-triggered)
 * while at least one port may be pending.  As with xenevtchn_fd(), a
 * readable fd does not guarantee notifier_next() returns a port, and the
 * caller must drain notifier_next() until it returns 0 after each wake, or
 * end the cycle early with notifier_end_cycle().  A backend may take
 * several events from the kernel at once and report them one per call:
 * until the cycle ends the fd need not be readable for those (and
 * notifier_wait() returns 1 at once); once a cycle has reported all it
 * took and the kernel had no more, the call that would only ask again
 * returns 0 (anything kicked since makes the fd readable).
 */
int	notifier_fd(const struct notifier *n);

/*
 * Take the next pending port and re-arm it (evtchn: unmask; eventfd: the
 * counter is consumed) so that a later event is not lost.  Returns 1 and
 * *local, 0 if nothing is pending (at the end of a cycle: nothing the
 * backend knew of, notifier_fd() above), or -errno.  Never blocks.  Each
 * port is reported at most once per call cycle however many events were
 * coalesced; *count (if non-NULL) gets the number of coalesced events
 * where the backend knows it (eventfd), else 1.
 */
int	notifier_next(struct notifier *n, uint32_t *local, uint64_t *count)
	    __must_check;

/*
 * End a cycle of notifier_next() before it returned 0 (a caller's budget
 * ran out): events the backend took from the kernel but did not report
 * go back to it, so that notifier_fd() is readable for them.  Never
 * blocks.  0, or -errno.
 */
int	notifier_end_cycle(struct notifier *n);

/*
 * Block until some port is pending or `timeout_ms` passes (-1: forever).
 * Spins up to the busy-poll window first (notifier_set_busy_poll).
 * Returns 1 if something is pending, 0 on timeout, -errno (signals
 * are retried); -EINVAL for timeout_ms < -1.  Consumes nothing: call
 * notifier_next() afterwards.  For loops that do not use epoll (the fake
 * guest, benchmarks).
 */
int	notifier_wait(struct notifier *n, int timeout_ms);

/*
 * Busy-poll for up to `ns` nanoseconds in notifier_wait() before
 * blocking.  0 disables (default) and is accepted by every backend.
 * -EINVAL above NOTIFY_BUSY_POLL_MAX_NS; -EOPNOTSUPP for backends where
 * polling is not cheap (xen).
 */
int	notifier_set_busy_poll(struct notifier *n, uint64_t ns);

/*
 * Signal the remote end of `local`.  -ENOENT unbound; -EINVAL receive-only.
 * Eventfd signals coalesce until the remote end reads them.
 */
int	notifier_notify(struct notifier *n, uint32_t local);

/*
 * Restrict to one domain (Xen: IOCTL_EVTCHN_RESTRICT_DOMID).  After this,
 * binds to any other domain fail.  -EINVAL for a domid >= 0x7ff0;
 * -EOPNOTSUPP where the backend has no such notion (kvm, loop: a VM fd
 * already confines them).
 */
int	notifier_restrict(struct notifier *n, uint32_t domid);

/*
 * loop backend only: the remote end's view of a NOTIFY_BIND_LOOP port.
 * *kick_fd: write 1 to it to make `local` pending on this side.
 * *irq_fd: readable after notifier_notify(local); read 8 bytes to take
 * the count.  Both are non-blocking (poll() before reading) and owned by
 * the notifier; dup() them to keep them past unbind or to pass to
 * another process.  -ENOENT unbound; -EINVAL for other backends or kinds.
 */
int	notifier_loop_peer(struct notifier *n, uint32_t local, int *kick_fd,
	    int *irq_fd);

#endif /* HCVS_NOTIFY_H */
