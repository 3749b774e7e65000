/* SPDX-License-Identifier: MIT */
/* The eventfd port table and epoll multiplexing behind "loop" and "kvm". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "common/mono.h"
#include "notify/notify_efd.h"

#define EFD_INITIAL_PORTS	16

static inline struct notify_efd *
to_efd(struct notifier *n)
{
	return (struct notify_efd *)n;
}

int
efd_create(const struct notify_ops *ops, int vm_fd, struct notify_efd **ep)
{
	struct notify_efd *e;
	int rc;

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->base.ops = ops;
	e->efd_vm_fd = vm_fd;
	e->efd_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->efd_epfd < 0) {
		rc = -errno;
		goto err_free;
	}
	rc = -pthread_mutex_init(&e->efd_lock, NULL);
	if (rc != 0)
		goto err_close_ep;
	*ep = e;
	return 0;

err_close_ep:
	close(e->efd_epfd);
err_free:
	free(e);
	return rc;
}

int
efd_new_eventfd(void)
{
	int fd;

	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct efd_port *
efd_port_get(struct notify_efd *e, uint32_t local)
{
	if (local >= e->efd_nports || !e->efd_ports[local].p_used)
		return NULL;
	return &e->efd_ports[local];
}

/* Called with efd_lock held. */
static int
efd_slot_alloc(struct notify_efd *e, uint32_t *slot)
{
	struct efd_port *np;
	uint32_t i, ncap;

	for (i = 0; i < e->efd_nports; i++) {
		if (!e->efd_ports[i].p_used) {
			*slot = i;
			return 0;
		}
	}
	if (e->efd_nports >= NOTIFY_EFD_MAX_PORTS)
		return -ENOSPC;
	ncap = e->efd_nports ? e->efd_nports * 2 : EFD_INITIAL_PORTS;
	if (ncap > NOTIFY_EFD_MAX_PORTS)
		ncap = NOTIFY_EFD_MAX_PORTS;
	np = realloc(e->efd_ports, ncap * sizeof(*np));
	if (np == NULL)
		return -ENOMEM;
	memset(np + e->efd_nports, 0, (ncap - e->efd_nports) * sizeof(*np));
	e->efd_ports = np;
	*slot = e->efd_nports;
	e->efd_nports = ncap;
	return 0;
}

/*
 * Check that `fd` is an open eventfd and fetch the kernel's id for it
 * (fdinfo "eventfd-id"), so that one eventfd under two fd numbers is
 * recognised.  -EINVAL if it is not an eventfd; *id is -1 where the
 * kernel or a missing /proc (a chroot) cannot tell.
 */
static int
efd_identify(int fd, int64_t *id)
{
	char path[48], buf[512], *s;
	ssize_t len;
	int f;

	*id = -1;
	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETFD) < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	len = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	if (strstr(buf, "eventfd-count:") == NULL)
		return -EINVAL;
	s = strstr(buf, "eventfd-id:");
	if (s != NULL)
		*id = strtoll(s + strlen("eventfd-id:"), NULL, 10);
	return 0;
}

/*
 * Whether two fds name the same eventfd: by id where known, else by
 * kcmp(2), else (no kcmp) only identical numbers are caught.
 */
static bool
efd_same_file(int a, int64_t a_id, int b, int64_t b_id)
{
	if (a < 0 || b < 0)
		return false;
	if (a == b)
		return true;
	if (a_id >= 0 && b_id >= 0)
		return a_id == b_id;
	return syscall(SYS_kcmp, (long)getpid(), (long)getpid(), KCMP_FILE,
	    (long)a, (long)b) == 0;
}

/*
 * Put `fd` (port `slot`, generation `gen`) on the epoll fd, or again.
 * Edge-triggered: every eventfd write queues the port at the tail of
 * epoll's ready list unless it is there already, so ports come out in
 * the order they were kicked and a busy port cannot overtake one that
 * has been waiting.  The generation tells a stale event apart
 * (efd_event_port).
 */
static int
efd_register(struct notify_efd *e, int op, int fd, uint32_t gen,
    uint32_t slot)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u64 = ((uint64_t)gen << 32) | slot;
	return epoll_ctl(e->efd_epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int
efd_port_add(struct notify_efd *e, const struct notify_bind *b, int rx_fd,
    int tx_fd, uint32_t *local)
{
	struct efd_port *p;
	int64_t rx_id = -1, tx_id = -1;
	uint32_t slot;
	int rc;

	if (b->kind == NOTIFY_BIND_EVENTFDS || b->kind == NOTIFY_BIND_LOOP) {
		(void)efd_identify(rx_fd, &rx_id);
		(void)efd_identify(tx_fd, &tx_id);
	}
	pthread_mutex_lock(&e->efd_lock);
	rc = efd_slot_alloc(e, &slot);
	if (rc < 0)
		goto out;
	p = &e->efd_ports[slot];
	if (rx_fd >= 0) {
		rc = efd_register(e, EPOLL_CTL_ADD, rx_fd, p->p_gen + 1, slot);
		if (rc < 0)
			goto out;
	}
	p->p_gen++;
	p->p_used = true;
	p->p_rx_fd = rx_fd;
	p->p_tx_fd = tx_fd;
	p->p_rx_id = rx_id;
	p->p_tx_id = tx_id;
	p->p_bind = *b;
	*local = slot;
out:
	pthread_mutex_unlock(&e->efd_lock);
	return rc;
}

static int
efd_set_flags(int fd)
{
	int fl;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int
efd_bind_eventfds(struct notify_efd *e, const struct notify_bind *b,
    uint32_t *local)
{
	const int fds[2] = { b->rx_fd, b->tx_fd };
	int64_t ids[2];
	struct efd_port *p;
	uint32_t i;
	int rc, k;

	if (b->rx_fd < -1 || b->tx_fd < -1 || (b->rx_fd < 0 && b->tx_fd < 0))
		return -EINVAL;
	for (k = 0; k < 2; k++) {
		rc = efd_identify(fds[k], &ids[k]);
		if (rc < 0)
			return rc;
	}
	/* One eventfd both ways would deliver our notify to ourselves. */
	if (efd_same_file(fds[0], ids[0], fds[1], ids[1]))
		return -EINVAL;
	for (i = 0; i < e->efd_nports; i++) {
		p = &e->efd_ports[i];
		/* Only these kinds have fds anyone else could hold. */
		if (!p->p_used || (p->p_bind.kind != NOTIFY_BIND_EVENTFDS &&
		    p->p_bind.kind != NOTIFY_BIND_LOOP))
			continue;
		for (k = 0; k < 2; k++)
			if (efd_same_file(fds[k], ids[k], p->p_rx_fd,
			    p->p_rx_id) ||
			    efd_same_file(fds[k], ids[k], p->p_tx_fd,
			    p->p_tx_id))
				return -EEXIST;
	}
	for (k = 0; k < 2; k++) {
		if (fds[k] < 0)
			continue;
		rc = efd_set_flags(fds[k]);
		if (rc < 0)
			return rc;
	}
	return efd_port_add(e, b, b->rx_fd, b->tx_fd, local);
}

/* Take `p` out of the table; the caller then releases and closes it. */
static void
efd_port_detach(struct notify_efd *e, struct efd_port *p, struct efd_port *out)
{
	pthread_mutex_lock(&e->efd_lock);
	*out = *p;
	p->p_used = false;
	p->p_rx_fd = -1;
	p->p_tx_fd = -1;
	pthread_mutex_unlock(&e->efd_lock);
	if (out->p_rx_fd >= 0)
		(void)epoll_ctl(e->efd_epfd, EPOLL_CTL_DEL, out->p_rx_fd, NULL);
}

static void
efd_port_release(struct notify_efd *e, struct efd_port *old)
{
	if (e->efd_release != NULL)
		e->efd_release(e, old);
	if (old->p_rx_fd >= 0)
		close(old->p_rx_fd);
	if (old->p_tx_fd >= 0)
		close(old->p_tx_fd);
}

int
efd_unbind(struct notifier *n, uint32_t local)
{
	struct notify_efd *e = to_efd(n);
	struct efd_port *p, old;

	p = efd_port_get(e, local);
	if (p == NULL)
		return -ENOENT;
	efd_port_detach(e, p, &old);
	efd_port_release(e, &old);
	return 0;
}

void
efd_close(struct notifier *n)
{
	struct notify_efd *e = to_efd(n);
	struct efd_port old;
	uint32_t i;

	for (i = 0; i < e->efd_nports; i++) {
		if (!e->efd_ports[i].p_used)
			continue;
		efd_port_detach(e, &e->efd_ports[i], &old);
		efd_port_release(e, &old);
	}
	close(e->efd_epfd);
	pthread_mutex_destroy(&e->efd_lock);
	free(e->efd_ports);
	free(e);
}

int
efd_fd(const struct notifier *n)
{
	return ((const struct notify_efd *)n)->efd_epfd;
}

/* The bound port an event names, or NULL for a stale one. */
static struct efd_port *
efd_event_port(struct notify_efd *e, const struct epoll_event *ev,
    uint32_t *slot)
{
	struct efd_port *p;

	*slot = (uint32_t)ev->data.u64;
	p = efd_port_get(e, *slot);
	if (p == NULL || p->p_gen != (uint32_t)(ev->data.u64 >> 32) ||
	    p->p_rx_fd < 0)
		return NULL;
	return p;
}

/*
 * The next event of the cycle: from those taken already, else from epoll,
 * unless the last epoll_wait() left its ready list empty (that costs
 * nothing to know and saves the empty epoll_wait() that would end every
 * cycle).  Returns 1 and the port, 0, or -errno; a stale event (unbound
 * port) is 1 with *pp NULL.
 */
static int
efd_pop(struct notify_efd *e, struct efd_port **pp, uint32_t *slot)
{
	int rc;

	if (e->efd_iev == e->efd_nev) {
		e->efd_iev = e->efd_nev = 0;
		if (e->efd_short) {
			e->efd_short = false;
			return 0;
		}
		do
			rc = epoll_wait(e->efd_epfd, e->efd_evs,
			    NOTIFY_EFD_BATCH, 0);
		while (rc < 0 && errno == EINTR);
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return 0;
		e->efd_nev = (unsigned)rc;
		e->efd_short = rc < NOTIFY_EFD_BATCH;
	}
	*pp = efd_event_port(e, &e->efd_evs[e->efd_iev++], slot);
	return 1;
}

/*
 * A stale event (the port was unbound, or its count was already consumed
 * with an earlier event) costs one round; the bound keeps a peer that
 * kicks without pause from holding the caller here.
 */
#define EFD_TRIES(e)	(2 * (e)->efd_nports + 2)

int
efd_next(struct notifier *n, uint32_t *local, uint64_t *count)
{
	struct notify_efd *e = to_efd(n);
	struct efd_port *p = NULL;
	uint32_t slot = 0, tries;
	uint64_t val;
	int rc;

	for (tries = 0; tries <= EFD_TRIES(e); tries++) {
		rc = efd_pop(e, &p, &slot);
		if (rc <= 0)
			return rc;
		if (p == NULL)
			continue;
		if (read(p->p_rx_fd, &val, sizeof(val)) != (ssize_t)sizeof(val)) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		*local = slot;
		*count = val;
		return 1;
	}
	/* Hand back what is left, so that the fd stays readable for it. */
	return efd_end_cycle(n);
}

int
efd_end_cycle(struct notifier *n)
{
	struct notify_efd *e = to_efd(n);
	struct efd_port *p;
	uint32_t slot;
	int rc = 0;

	/*
	 * Re-registering an edge-triggered fd queues it again if its
	 * counter is set; an event whose count an earlier report consumed
	 * has nothing left to report and stays away.
	 */
	for (; e->efd_iev < e->efd_nev && rc == 0; e->efd_iev++) {
		p = efd_event_port(e, &e->efd_evs[e->efd_iev], &slot);
		if (p != NULL)
			rc = efd_register(e, EPOLL_CTL_MOD, p->p_rx_fd,
			    p->p_gen, slot);
	}
	e->efd_iev = e->efd_nev = 0;
	e->efd_short = false;
	return rc;
}

int
efd_wait(struct notifier *n, int timeout_ms)
{
	struct notify_efd *e = to_efd(n);
	struct pollfd pfd = { .fd = e->efd_epfd, .events = POLLIN };
	uint64_t start, now, deadline = 0;
	int rc, left;

	/* Events already taken from epoll are pending, and it cannot see them. */
	if (e->efd_iev < e->efd_nev)
		return 1;
	/* A caller that waits has ended its cycle: ask epoll next time. */
	e->efd_short = false;
	start = mono_ns();
	if (timeout_ms >= 0)
		deadline = start + (uint64_t)timeout_ms * 1000000u;
	/*
	 * poll() on the epoll fd looks at its ready list without taking
	 * events off it, so next() still finds them.  Waking a sleeping
	 * thread costs tens of microseconds here; spinning first does not.
	 */
	if (e->efd_busy_ns != 0 && timeout_ms != 0) {
		do {
			rc = poll(&pfd, 1, 0);
			if (rc > 0)
				return 1;
			if (rc < 0 && errno != EINTR)
				return -errno;
			now = mono_ns();
		} while (now - start < e->efd_busy_ns &&
		    (timeout_ms < 0 || now < deadline));
	}
	for (;;) {
		left = -1;
		if (timeout_ms >= 0) {
			now = mono_ns();
			left = now >= deadline ? 0 :
			    (int)((deadline - now + 999999) / 1000000);
		}
		rc = poll(&pfd, 1, left);
		if (rc > 0)
			return 1;
		if (rc == 0 && left == 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
		/* EINTR, or poll()'s rounding woke us early: go round. */
	}
}

int
efd_set_busy_poll(struct notifier *n, uint64_t ns)
{
	to_efd(n)->efd_busy_ns = ns;
	return 0;
}

int
efd_notify(struct notifier *n, uint32_t local)
{
	struct notify_efd *e = to_efd(n);
	const uint64_t one = 1;
	struct efd_port *p;
	int rc = 0;

	pthread_mutex_lock(&e->efd_lock);
	p = efd_port_get(e, local);
	if (p == NULL)
		rc = -ENOENT;
	else if (p->p_tx_fd < 0)
		rc = -EINVAL;
	else if (write(p->p_tx_fd, &one, sizeof(one)) != (ssize_t)sizeof(one) &&
	    errno != EAGAIN)
		/* EAGAIN: the counter is saturated, the peer has its event. */
		rc = -errno;
	pthread_mutex_unlock(&e->efd_lock);
	return rc;
}
