/* SPDX-License-Identifier: MIT */
/* The public notifier calls: argument checks, then the backend's ops. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "notify/notify_impl.h"

static const struct notify_ops *const notify_backends[] = {
#ifdef HAVE_XEN
	&notify_xen_ops,
#endif
#ifdef HAVE_KVM
	&notify_kvm_ops,
#endif
	&notify_loop_ops,
};

int
notifier_open(const char *backend, int64_t target, struct notifier **np)
{
	size_t i;

	if (backend == NULL || np == NULL)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(notify_backends); i++)
		if (strcmp(notify_backends[i]->name, backend) == 0)
			return notify_backends[i]->open(target, np);
	return -ENOENT;
}

void
notifier_close(struct notifier *n)
{
	if (n != NULL)
		n->ops->close(n);
}

const char *
notifier_backend(const struct notifier *n)
{
	return n != NULL ? n->ops->name : NULL;
}

int
notifier_bind(struct notifier *n, const struct notify_bind *b, uint32_t *local)
{
	if (n == NULL || b == NULL || local == NULL)
		return -EINVAL;
	return n->ops->bind(n, b, local);
}

int
notifier_unbind(struct notifier *n, uint32_t local)
{
	if (n == NULL)
		return -EINVAL;
	return n->ops->unbind(n, local);
}

int
notifier_fd(const struct notifier *n)
{
	if (n == NULL)
		return -EINVAL;
	return n->ops->fd(n);
}

int
notifier_next(struct notifier *n, uint32_t *local, uint64_t *count)
{
	uint64_t dummy;

	if (n == NULL || local == NULL)
		return -EINVAL;
	return n->ops->next(n, local, count != NULL ? count : &dummy);
}

int
notifier_end_cycle(struct notifier *n)
{
	if (n == NULL)
		return -EINVAL;
	if (n->ops->end_cycle == NULL)
		return 0;
	return n->ops->end_cycle(n);
}

int
notifier_wait(struct notifier *n, int timeout_ms)
{
	if (n == NULL || timeout_ms < -1)
		return -EINVAL;
	return n->ops->wait(n, timeout_ms);
}

int
notifier_set_busy_poll(struct notifier *n, uint64_t ns)
{
	if (n == NULL || ns > NOTIFY_BUSY_POLL_MAX_NS)
		return -EINVAL;
	return n->ops->set_busy_poll(n, ns);
}

int
notifier_notify(struct notifier *n, uint32_t local)
{
	if (n == NULL)
		return -EINVAL;
	return n->ops->notify(n, local);
}

int
notifier_restrict(struct notifier *n, uint32_t domid)
{
	if (n == NULL)
		return -EINVAL;
	if (n->ops->restrict_domid == NULL)
		return -EOPNOTSUPP;
	return n->ops->restrict_domid(n, domid);
}

int
notifier_loop_peer(struct notifier *n, uint32_t local, int *kick_fd,
    int *irq_fd)
{
	if (n == NULL || kick_fd == NULL || irq_fd == NULL)
		return -EINVAL;
	if (n->ops->loop_peer == NULL)
		return -EINVAL;
	return n->ops->loop_peer(n, local, kick_fd, irq_fd);
}
