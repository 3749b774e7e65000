/* SPDX-License-Identifier: MIT */
/* The "kvm" backend: eventfds registered as KVM ioeventfds and irqfds on a VM fd. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "notify/notify_efd.h"

#define KVM_PIO_SPACE	0x10000u

static int
kvm_check_vm_fd(int fd)
{
	char path[48], link[64];
	ssize_t len;

	if (fcntl(fd, F_GETFD) < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return 0;	/* No /proc: KVM's own checks will catch it. */
	link[len] = '\0';
	return strcmp(link, "anon_inode:kvm-vm") == 0 ? 0 : -EINVAL;
}

static void
kvm_ioeventfd_args(const struct notify_bind *b, int fd, bool deassign,
    struct kvm_ioeventfd *io)
{
	memset(io, 0, sizeof(*io));
	io->addr = b->addr;
	io->len = b->len;
	io->fd = fd;
	if (!b->is_mmio)
		io->flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (b->has_datamatch) {
		io->flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		io->datamatch = b->datamatch;
	}
	if (deassign)
		io->flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
}

static int
kvm_ioeventfd_check(const struct notify_bind *b)
{
	switch (b->len) {
	case 0:
		if (!b->is_mmio || b->has_datamatch)
			return -EINVAL;
		break;
	case 1: case 2: case 4: case 8:
		break;
	default:
		return -EINVAL;
	}
	if (b->is_mmio) {
		if (b->addr + b->len < b->addr)
			return -EINVAL;
	} else if (b->addr >= KVM_PIO_SPACE ||
	    b->addr + b->len > KVM_PIO_SPACE) {
		return -EINVAL;
	}
	/* KVM compares the written value whole: wider bits never match. */
	if (b->has_datamatch && b->len < 8 &&
	    (b->datamatch >> (b->len * 8)) != 0)
		return -EINVAL;
	return 0;
}

/* Would KVM see `a` and `b` as the same trigger?  Its own collision rule. */
static bool
kvm_ioeventfd_collide(const struct notify_bind *a, const struct notify_bind *b)
{
	if (a->is_mmio != b->is_mmio || a->addr != b->addr)
		return false;
	if (a->len == 0 || b->len == 0)
		return true;
	if (a->len != b->len)
		return false;
	return !a->has_datamatch || !b->has_datamatch ||
	    a->datamatch == b->datamatch;
}

static int
kvm_bind_ioeventfd(struct notify_efd *e, const struct notify_bind *b,
    uint32_t *local)
{
	struct kvm_ioeventfd io;
	struct efd_port *p;
	uint32_t i;
	int fd, rc;

	rc = kvm_ioeventfd_check(b);
	if (rc < 0)
		return rc;
	for (i = 0; i < e->efd_nports; i++) {
		p = &e->efd_ports[i];
		if (p->p_used && p->p_bind.kind == NOTIFY_BIND_IOEVENTFD &&
		    kvm_ioeventfd_collide(&p->p_bind, b))
			return -EEXIST;
	}
	fd = efd_new_eventfd();
	if (fd < 0)
		return fd;
	kvm_ioeventfd_args(b, fd, false, &io);
	if (ioctl(e->efd_vm_fd, KVM_IOEVENTFD, &io) < 0) {
		rc = -errno;
		goto err_close_fd;
	}
	rc = efd_port_add(e, b, fd, -1, local);
	if (rc < 0)
		goto err_deassign;
	return 0;

err_deassign:
	kvm_ioeventfd_args(b, fd, true, &io);
	(void)ioctl(e->efd_vm_fd, KVM_IOEVENTFD, &io);
err_close_fd:
	close(fd);
	return rc;
}

static int
kvm_bind_irqfd(struct notify_efd *e, const struct notify_bind *b,
    uint32_t *local)
{
	struct kvm_irqfd irq;
	struct efd_port *p;
	uint32_t i;
	int fd, rc;

	for (i = 0; i < e->efd_nports; i++) {
		p = &e->efd_ports[i];
		if (p->p_used && p->p_bind.kind == NOTIFY_BIND_IRQFD &&
		    p->p_bind.gsi == b->gsi)
			return -EEXIST;
	}
	fd = efd_new_eventfd();
	if (fd < 0)
		return fd;
	memset(&irq, 0, sizeof(irq));
	irq.fd = (uint32_t)fd;
	irq.gsi = b->gsi;
	if (ioctl(e->efd_vm_fd, KVM_IRQFD, &irq) < 0) {
		rc = -errno;
		goto err_close_fd;
	}
	rc = efd_port_add(e, b, -1, fd, local);
	if (rc < 0)
		goto err_deassign;
	return 0;

err_deassign:
	irq.flags = KVM_IRQFD_FLAG_DEASSIGN;
	(void)ioctl(e->efd_vm_fd, KVM_IRQFD, &irq);
err_close_fd:
	close(fd);
	return rc;
}

static int
kvm_bind(struct notifier *n, const struct notify_bind *b, uint32_t *local)
{
	struct notify_efd *e = (struct notify_efd *)n;

	switch (b->kind) {
	case NOTIFY_BIND_EVENTFDS:
		return efd_bind_eventfds(e, b, local);
	case NOTIFY_BIND_IOEVENTFD:
		if (e->efd_vm_fd < 0)
			return -EINVAL;
		return kvm_bind_ioeventfd(e, b, local);
	case NOTIFY_BIND_IRQFD:
		if (e->efd_vm_fd < 0)
			return -EINVAL;
		return kvm_bind_irqfd(e, b, local);
	default:
		return -EINVAL;
	}
}

/*
 * Closing an eventfd drops an irqfd by itself, but an ioeventfd keeps
 * its reference and stays on KVM's bus until deassigned: a later bind of
 * the same address would then be -EEXIST for the life of the VM.
 */
static void
kvm_release(struct notify_efd *e, struct efd_port *p)
{
	struct kvm_ioeventfd io;
	struct kvm_irqfd irq;

	switch (p->p_bind.kind) {
	case NOTIFY_BIND_IOEVENTFD:
		kvm_ioeventfd_args(&p->p_bind, p->p_rx_fd, true, &io);
		(void)ioctl(e->efd_vm_fd, KVM_IOEVENTFD, &io);
		break;
	case NOTIFY_BIND_IRQFD:
		memset(&irq, 0, sizeof(irq));
		irq.fd = (uint32_t)p->p_tx_fd;
		irq.gsi = p->p_bind.gsi;
		irq.flags = KVM_IRQFD_FLAG_DEASSIGN;
		(void)ioctl(e->efd_vm_fd, KVM_IRQFD, &irq);
		break;
	default:
		break;
	}
}

static int
kvm_open(int64_t target, struct notifier **np)
{
	struct notify_efd *e;
	int rc;

	if (target < -1 || target > INT_MAX)
		return -EINVAL;
	if (target >= 0) {
		rc = kvm_check_vm_fd((int)target);
		if (rc < 0)
			return rc;
	}
	rc = efd_create(&notify_kvm_ops, (int)target, &e);
	if (rc < 0)
		return rc;
	e->efd_release = kvm_release;
	*np = &e->base;
	return 0;
}

const struct notify_ops notify_kvm_ops =
    NOTIFY_EFD_OPS("kvm", kvm_open, kvm_bind, NULL);
