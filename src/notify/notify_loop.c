/* SPDX-License-Identifier: MIT */
/* The "loop" backend: plain eventfd pairs, for the fake ioreq page and tests. */
#include <errno.h>
#include <unistd.h>

#include "notify/notify_efd.h"

static int
loop_open(int64_t target, struct notifier **np)
{
	struct notify_efd *e;
	int rc;

	(void)target;
	rc = efd_create(&notify_loop_ops, -1, &e);
	if (rc < 0)
		return rc;
	*np = &e->base;
	return 0;
}

static int
loop_bind_pair(struct notify_efd *e, const struct notify_bind *b,
    uint32_t *local)
{
	int kick, irq, rc;

	kick = efd_new_eventfd();
	if (kick < 0)
		return kick;
	irq = efd_new_eventfd();
	if (irq < 0) {
		rc = irq;
		goto err_close_kick;
	}
	rc = efd_port_add(e, b, kick, irq, local);
	if (rc < 0)
		goto err_close_irq;
	return 0;

err_close_irq:
	close(irq);
err_close_kick:
	close(kick);
	return rc;
}

static int
loop_bind(struct notifier *n, const struct notify_bind *b, uint32_t *local)
{
	struct notify_efd *e = (struct notify_efd *)n;

	switch (b->kind) {
	case NOTIFY_BIND_LOOP:
		return loop_bind_pair(e, b, local);
	case NOTIFY_BIND_EVENTFDS:
		return efd_bind_eventfds(e, b, local);
	default:
		return -EINVAL;
	}
}

static int
loop_peer(struct notifier *n, uint32_t local, int *kick_fd, int *irq_fd)
{
	struct efd_port *p;

	p = efd_port_get((struct notify_efd *)n, local);
	if (p == NULL)
		return -ENOENT;
	if (p->p_bind.kind != NOTIFY_BIND_LOOP)
		return -EINVAL;
	*kick_fd = p->p_rx_fd;
	*irq_fd = p->p_tx_fd;
	return 0;
}

const struct notify_ops notify_loop_ops =
    NOTIFY_EFD_OPS("loop", loop_open, loop_bind, loop_peer);
