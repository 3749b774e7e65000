/* SPDX-License-Identifier: MIT */
/*
 * The eventfd core shared by the "loop" and "kvm" backends: a table of
 * ports, each with an optional receive eventfd (the remote end's kick)
 * and an optional transmit eventfd (our notify), all receive eventfds
 * folded into one epoll fd.  Internal to src/notify.
 *
 * Locking: the owner thread does everything; notifier_notify() may come
 * from other threads, so the port table is changed (bind, unbind, growth)
 * and read by notify only under efd_lock.  The owner reads it unlocked.
 */
#ifndef HCVS_NOTIFY_EFD_H
#define HCVS_NOTIFY_EFD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "notify/notify_impl.h"

/* Ports per notifier: bounds the table whatever a caller asks for. */
#define NOTIFY_EFD_MAX_PORTS	4096

/*
 * Events taken from epoll per epoll_wait().  Fewer than this means epoll's
 * ready list was empty at that moment, so the cycle can end without asking
 * again: anything kicked since makes the fd readable.
 */
#define NOTIFY_EFD_BATCH	16

struct efd_port {
	bool			p_used;
	uint32_t		p_gen;		/* tells stale epoll events apart */
	int			p_rx_fd;	/* -1: nothing to receive */
	int			p_tx_fd;	/* -1: cannot notify */
	/* The kernel's eventfd ids of rx/tx (fdinfo), -1 if unknown. */
	int64_t			p_rx_id;
	int64_t			p_tx_id;
	struct notify_bind	p_bind;		/* the request, for unbind */
};

struct notify_efd {
	struct notifier		 base;
	int			 efd_vm_fd;	/* kvm: borrowed, else -1 */
	int			 efd_epfd;
	pthread_mutex_t		 efd_lock;
	struct efd_port		*efd_ports;
	uint32_t		 efd_nports;	/* slots allocated */
	uint64_t		 efd_busy_ns;
	/*
	 * The owner's cycle: events taken from epoll and not yet reported
	 * (efd_evs[efd_iev..efd_nev)), and whether the last epoll_wait()
	 * left epoll's ready list empty.
	 */
	struct epoll_event	 efd_evs[NOTIFY_EFD_BATCH];
	unsigned		 efd_nev;
	unsigned		 efd_iev;
	bool			 efd_short;
	/*
	 * Backend hook run on unbind and close before the port's fds are
	 * closed (kvm: deassign ioeventfd/irqfd).  NULL for loop.
	 */
	void			(*efd_release)(struct notify_efd *e,
				    struct efd_port *p);
};

/* Allocate a core with `ops` as its backend. */
int	efd_create(const struct notify_ops *ops, int vm_fd,
	    struct notify_efd **ep) __must_check;

/* A fresh non-blocking, close-on-exec eventfd, or -errno. */
int	efd_new_eventfd(void) __must_check;

/*
 * Add a port owning rx_fd and tx_fd (either may be -1), which must be
 * non-blocking.  `b` is copied.  On failure the fds stay the caller's.
 */
int	efd_port_add(struct notify_efd *e, const struct notify_bind *b,
	    int rx_fd, int tx_fd, uint32_t *local) __must_check;

/* NOTIFY_BIND_EVENTFDS: validate the fds, check duplicates, add. */
int	efd_bind_eventfds(struct notify_efd *e, const struct notify_bind *b,
	    uint32_t *local) __must_check;

/* The bound port `local`, or NULL. */
struct efd_port *efd_port_get(struct notify_efd *e, uint32_t local);

/* Shared ops. */
void	efd_close(struct notifier *n);
int	efd_unbind(struct notifier *n, uint32_t local);
int	efd_fd(const struct notifier *n);
int	efd_next(struct notifier *n, uint32_t *local, uint64_t *count);
int	efd_end_cycle(struct notifier *n);
int	efd_wait(struct notifier *n, int timeout_ms);
int	efd_set_busy_poll(struct notifier *n, uint64_t ns);
int	efd_notify(struct notifier *n, uint32_t local);

/*
 * An eventfd backend's table: the shared ops around the backend's own
 * open, bind and loop-peer lookup (NULL: none).  No eventfd backend can
 * confine its handle to a domain.
 */
#define NOTIFY_EFD_OPS(nm, open_fn, bind_fn, peer_fn) {			\
	.name = (nm),							\
	.open = (open_fn),						\
	.close = efd_close,						\
	.bind = (bind_fn),						\
	.unbind = efd_unbind,						\
	.fd = efd_fd,							\
	.next = efd_next,						\
	.end_cycle = efd_end_cycle,					\
	.wait = efd_wait,						\
	.set_busy_poll = efd_set_busy_poll,				\
	.notify = efd_notify,						\
	.restrict_domid = NULL,						\
	.loop_peer = (peer_fn),						\
}

#endif /* HCVS_NOTIFY_EFD_H */
