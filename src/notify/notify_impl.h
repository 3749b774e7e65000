/* SPDX-License-Identifier: MIT */
/*
 * The notifier's inside: the operations table every backend provides and
 * the header every backend's state begins with.  Only src/notify includes
 * this; everything else sees the opaque struct notifier of notify.h.
 *
 * Each operation returns 0 (or the positive value notify.h documents) or
 * a negative errno, and leaves its out-parameters untouched on failure.
 * notify.c has already rejected NULL pointers and looked up the backend,
 * so the operations may assume a valid `n` and valid pointers.
 */
#ifndef HCVS_NOTIFY_IMPL_H
#define HCVS_NOTIFY_IMPL_H

#include <stdint.h>

#include "notify/notify.h"

struct notify_ops {
	/* "xen", "kvm" or "loop": what notifier_open() matches. */
	const char	*name;
	/*
	 * Allocate the backend state for `target` (see notifier_open()) and
	 * set its ops.  *np is valid only on success.
	 */
	int		(*open)(int64_t target, struct notifier **np);
	/* Unbind every port, release the backend's resources, free `n`. */
	void		(*close)(struct notifier *n);
	/*
	 * Bind a remote end; on success store the new local port.  Kinds the
	 * backend does not implement are -EINVAL.  A remote end that is
	 * already bound is -EEXIST.
	 */
	int		(*bind)(struct notifier *n, const struct notify_bind *b,
			    uint32_t *local);
	/* Unbind `local`, discarding what is pending; -ENOENT if unbound. */
	int		(*unbind)(struct notifier *n, uint32_t local);
	/* The one pollable fd (level-triggered EPOLLIN). */
	int		(*fd)(const struct notifier *n);
	/* Next pending port, re-armed; 1 got one, 0 none.  Never blocks. */
	int		(*next)(struct notifier *n, uint32_t *local,
			    uint64_t *count);
	/* notifier_end_cycle(); NULL: nothing is ever held back. */
	int		(*end_cycle)(struct notifier *n);
	/* Block up to timeout_ms (-1 forever); 1 pending, 0 timed out. */
	int		(*wait)(struct notifier *n, int timeout_ms);
	/* Busy-poll window of wait() in ns; -EOPNOTSUPP if not offered. */
	int		(*set_busy_poll)(struct notifier *n, uint64_t ns);
	/* Signal the remote end; may run on any thread. */
	int		(*notify)(struct notifier *n, uint32_t local);
	/* Confine the handle to `domid`; NULL means -EOPNOTSUPP. */
	int		(*restrict_domid)(struct notifier *n, uint32_t domid);
	/* notifier_loop_peer(); NULL means -EINVAL. */
	int		(*loop_peer)(struct notifier *n, uint32_t local,
			    int *kick_fd, int *irq_fd);
};

/* First member of every backend's state. */
struct notifier {
	const struct notify_ops	*ops;
};

extern const struct notify_ops notify_loop_ops;
#ifdef HAVE_KVM
extern const struct notify_ops notify_kvm_ops;
#endif
#ifdef HAVE_XEN
extern const struct notify_ops notify_xen_ops;
#endif

#endif /* HCVS_NOTIFY_IMPL_H */
