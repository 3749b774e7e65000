/* SPDX-License-Identifier: MIT */
/* The "xen" backend: interdomain event channels through libxenevtchn. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenevtchn.h>
#include <xen/xen.h>

#include "common/mono.h"
#include "notify/notify_impl.h"

struct xen_port {
	uint32_t	xp_local;
	uint32_t	xp_remote;
};

struct notify_xen {
	struct notifier		 base;
	xenevtchn_handle	*nx_xce;
	uint32_t		 nx_domid;
	/* Guards the port table against notifier_notify() from other threads. */
	pthread_mutex_t		 nx_lock;
	struct xen_port		*nx_ports;
	uint32_t		 nx_nports;
	uint32_t		 nx_cap;
};

static inline struct notify_xen *
to_xen(struct notifier *n)
{
	return (struct notify_xen *)n;
}

/* Index of `local` in the table, or -1.  Small tables: a vCPU count. */
static int
xen_find(const struct notify_xen *x, uint32_t local)
{
	uint32_t i;

	for (i = 0; i < x->nx_nports; i++)
		if (x->nx_ports[i].xp_local == local)
			return (int)i;
	return -1;
}

static int
xen_open(int64_t target, struct notifier **np)
{
	struct notify_xen *x;
	int rc;

	if (target < 0 || target >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->base.ops = &notify_xen_ops;
	x->nx_domid = (uint32_t)target;
	rc = -pthread_mutex_init(&x->nx_lock, NULL);
	if (rc != 0)
		goto err_free;
	x->nx_xce = xenevtchn_open(NULL, 0);
	if (x->nx_xce == NULL) {
		/* No /dev/xen/evtchn: not a Xen domain, or no evtchn driver. */
		rc = errno == ENOENT ? -ENODEV : errno ? -errno : -EIO;
		goto err_destroy_lock;
	}
	*np = &x->base;
	return 0;

err_destroy_lock:
	pthread_mutex_destroy(&x->nx_lock);
err_free:
	free(x);
	return rc;
}

static void
xen_close(struct notifier *n)
{
	struct notify_xen *x = to_xen(n);
	uint32_t i;

	for (i = 0; i < x->nx_nports; i++)
		(void)xenevtchn_unbind(x->nx_xce, x->nx_ports[i].xp_local);
	xenevtchn_close(x->nx_xce);
	pthread_mutex_destroy(&x->nx_lock);
	free(x->nx_ports);
	free(x);
}

static int
xen_bind(struct notifier *n, const struct notify_bind *b, uint32_t *local)
{
	struct notify_xen *x = to_xen(n);
	xenevtchn_port_or_error_t port;
	struct xen_port *np;
	uint32_t i, ncap;
	int rc;

	if (b->kind != NOTIFY_BIND_EVTCHN)
		return -EINVAL;
	for (i = 0; i < x->nx_nports; i++)
		if (x->nx_ports[i].xp_remote == b->remote_port)
			return -EEXIST;
	if (x->nx_nports == x->nx_cap) {
		ncap = x->nx_cap ? x->nx_cap * 2 : 8;
		pthread_mutex_lock(&x->nx_lock);
		np = realloc(x->nx_ports, ncap * sizeof(*np));
		if (np != NULL) {
			x->nx_ports = np;
			x->nx_cap = ncap;
		}
		pthread_mutex_unlock(&x->nx_lock);
		if (np == NULL)
			return -ENOMEM;
	}
	/* The library's port type is signed on purpose: -1 is the error. */
	port = xenevtchn_bind_interdomain(x->nx_xce, x->nx_domid,
	    b->remote_port);
	if (port < 0) {
		rc = -errno;
		return rc < 0 ? rc : -EIO;
	}
	pthread_mutex_lock(&x->nx_lock);
	x->nx_ports[x->nx_nports].xp_local = (uint32_t)port;
	x->nx_ports[x->nx_nports].xp_remote = b->remote_port;
	x->nx_nports++;
	pthread_mutex_unlock(&x->nx_lock);
	*local = (uint32_t)port;
	return 0;
}

static int
xen_unbind(struct notifier *n, uint32_t local)
{
	struct notify_xen *x = to_xen(n);
	int i, rc = 0;

	pthread_mutex_lock(&x->nx_lock);
	i = xen_find(x, local);
	if (i < 0) {
		pthread_mutex_unlock(&x->nx_lock);
		return -ENOENT;
	}
	x->nx_ports[i] = x->nx_ports[--x->nx_nports];
	pthread_mutex_unlock(&x->nx_lock);
	/* Forgotten even if Xen refuses: the port is no use to us now. */
	if (xenevtchn_unbind(x->nx_xce, local) < 0)
		rc = errno ? -errno : -EIO;
	return rc;
}

static int
xen_fd(const struct notifier *n)
{
	const struct notify_xen *x = (const struct notify_xen *)n;

	return xenevtchn_fd(x->nx_xce);
}

static int
xen_next(struct notifier *n, uint32_t *local, uint64_t *count)
{
	struct notify_xen *x = to_xen(n);
	struct pollfd pfd = { .fd = xenevtchn_fd(x->nx_xce), .events = POLLIN };
	xenevtchn_port_or_error_t port;
	uint32_t tries;
	int rc;

	/*
	 * xenevtchn_pending() may block even on a non-blocking fd
	 * (xenevtchn.h), so only ask when poll() says something is there.
	 * A port that is not ours (unbound while pending) is skipped; the
	 * bound keeps a flood of those from holding the caller.
	 */
	for (tries = 0; tries <= x->nx_nports + 1; tries++) {
		rc = poll(&pfd, 1, 0);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (rc == 0)
			return 0;
		port = xenevtchn_pending(x->nx_xce);
		if (port < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return errno ? -errno : -EIO;
		}
		if (xen_find(x, (uint32_t)port) < 0)
			continue;
		/* The kernel masked it on delivery: without this, a hang. */
		if (xenevtchn_unmask(x->nx_xce, (evtchn_port_t)port) < 0)
			return errno ? -errno : -EIO;
		*local = (uint32_t)port;
		*count = 1;
		return 1;
	}
	return 0;
}

static int
xen_wait(struct notifier *n, int timeout_ms)
{
	struct notify_xen *x = to_xen(n);
	struct pollfd pfd = { .fd = xenevtchn_fd(x->nx_xce), .events = POLLIN };
	uint64_t deadline = 0, now;
	int rc, left = timeout_ms;

	if (timeout_ms > 0)
		deadline = mono_ms() + (uint64_t)timeout_ms;
	for (;;) {
		rc = poll(&pfd, 1, left);
		if (rc >= 0)
			return rc > 0 ? 1 : 0;
		if (errno != EINTR)
			return -errno;
		if (timeout_ms > 0) {
			now = mono_ms();
			if (now >= deadline)
				return 0;
			left = (int)(deadline - now);
		}
	}
}

static int
xen_set_busy_poll(struct notifier *n, uint64_t ns)
{
	(void)n;
	return ns == 0 ? 0 : -EOPNOTSUPP;
}

static int
xen_notify(struct notifier *n, uint32_t local)
{
	struct notify_xen *x = to_xen(n);
	int rc = 0;

	pthread_mutex_lock(&x->nx_lock);
	if (xen_find(x, local) < 0)
		rc = -ENOENT;
	else if (xenevtchn_notify(x->nx_xce, local) < 0)
		rc = errno ? -errno : -EIO;
	pthread_mutex_unlock(&x->nx_lock);
	return rc;
}

static int
xen_restrict(struct notifier *n, uint32_t domid)
{
	struct notify_xen *x = to_xen(n);

	if (domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (xenevtchn_restrict(x->nx_xce, (domid_t)domid) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

const struct notify_ops notify_xen_ops = {
	.name = "xen",
	.open = xen_open,
	.close = xen_close,
	.bind = xen_bind,
	.unbind = xen_unbind,
	.fd = xen_fd,
	.next = xen_next,
	.wait = xen_wait,
	.set_busy_poll = xen_set_busy_poll,
	.notify = xen_notify,
	.restrict_domid = xen_restrict,
	.loop_peer = NULL,
};
