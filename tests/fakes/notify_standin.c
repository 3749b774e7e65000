/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the notifier's "loop" backend (src/notify/notify.h) so
 * the ioreq tests run before src/notify lands; removed once it does.
 * Plain eventfds multiplexed by one epoll fd.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify/notify.h"

#define STANDIN_MAX_PORTS	1024

struct sport {
	int	rx;
	int	tx;
	int	peer_kick;	/* NOTIFY_BIND_LOOP: remote ends */
	int	peer_irq;
	bool	used;
};

struct notifier {
	int		ep;
	struct sport	ports[STANDIN_MAX_PORTS];
};

int
notifier_open(const char *backend, int64_t target, struct notifier **np)
{
	struct notifier *n;

	*np = NULL;
	if (strcmp(backend, "loop") != 0)
		return -ENOENT;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	if (n->ep < 0) {
		free(n);
		return -errno;
	}
	*np = n;
	return 0;
}

static void
port_close(struct sport *p)
{
	if (p->rx >= 0)
		close(p->rx);
	if (p->tx >= 0)
		close(p->tx);
	if (p->peer_kick >= 0)
		close(p->peer_kick);
	if (p->peer_irq >= 0)
		close(p->peer_irq);
	memset(p, 0, sizeof(*p));
}

void
notifier_close(struct notifier *n)
{
	unsigned i;

	if (n == NULL)
		return;
	for (i = 0; i < STANDIN_MAX_PORTS; i++)
		if (n->ports[i].used)
			port_close(&n->ports[i]);
	close(n->ep);
	free(n);
}

const char *
notifier_backend(const struct notifier *n)
{
	return "loop";
}

int
notifier_bind(struct notifier *n, const struct notify_bind *b, uint32_t *local)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sport *p = NULL;
	unsigned i;

	for (i = 0; i < STANDIN_MAX_PORTS; i++) {
		if (!n->ports[i].used) {
			p = &n->ports[i];
			break;
		}
	}
	if (p == NULL)
		return -ENOSPC;
	p->rx = p->tx = p->peer_kick = p->peer_irq = -1;
	if (b->kind == NOTIFY_BIND_EVENTFDS) {
		if (b->rx_fd < 0 && b->tx_fd < 0)
			return -EINVAL;
		p->rx = b->rx_fd;
		p->tx = b->tx_fd;
	} else if (b->kind == NOTIFY_BIND_LOOP) {
		p->rx = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		p->tx = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		p->peer_kick = dup(p->rx);
		p->peer_irq = dup(p->tx);
	} else {
		return -EINVAL;
	}
	if (p->rx >= 0) {
		ev.data.u32 = i;
		if (epoll_ctl(n->ep, EPOLL_CTL_ADD, p->rx, &ev) < 0) {
			int err = errno;

			if (b->kind == NOTIFY_BIND_LOOP)
				port_close(p);
			else
				memset(p, 0, sizeof(*p));
			return -err;
		}
	}
	p->used = true;
	*local = i;
	return 0;
}

int
notifier_unbind(struct notifier *n, uint32_t local)
{
	if (local >= STANDIN_MAX_PORTS || !n->ports[local].used)
		return -ENOENT;
	port_close(&n->ports[local]);
	return 0;
}

int
notifier_fd(const struct notifier *n)
{
	return n->ep;
}

int
notifier_next(struct notifier *n, uint32_t *local, uint64_t *count)
{
	struct epoll_event ev;
	uint64_t c;
	int rc;

	rc = epoll_wait(n->ep, &ev, 1, 0);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return 0;
	if (read(n->ports[ev.data.u32].rx, &c, sizeof(c)) != sizeof(c))
		c = 0;
	*local = ev.data.u32;
	if (count != NULL)
		*count = c;
	return 1;
}

int
notifier_wait(struct notifier *n, int timeout_ms)
{
	struct pollfd p = { .fd = n->ep, .events = POLLIN };
	int rc = poll(&p, 1, timeout_ms);

	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	return rc > 0;
}

int
notifier_set_busy_poll(struct notifier *n, uint64_t ns)
{
	return 0;
}

int
notifier_notify(struct notifier *n, uint32_t local)
{
	uint64_t one = 1;

	if (local >= STANDIN_MAX_PORTS || !n->ports[local].used)
		return -ENOENT;
	if (n->ports[local].tx < 0)
		return -EINVAL;
	if (write(n->ports[local].tx, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int
notifier_restrict(struct notifier *n, uint32_t domid)
{
	return -EOPNOTSUPP;
}

int
notifier_loop_peer(struct notifier *n, uint32_t local, int *kick_fd,
    int *irq_fd)
{
	if (local >= STANDIN_MAX_PORTS || !n->ports[local].used ||
	    n->ports[local].peer_kick < 0)
		return -EINVAL;
	*kick_fd = n->ports[local].peer_kick;
	*irq_fd = n->ports[local].peer_irq;
	return 0;
}
