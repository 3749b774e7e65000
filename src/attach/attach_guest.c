/* SPDX-License-Identifier: MIT */
/* One attached KVM guest: the shm request source, the KVM notifier, and a device on the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/attach_impl.h"
#include "common/log.h"
#include "common/loop.h"
#include "notify/notify.h"

/* DOORBELL in the register window, and the value ioeventfd matches. */
#define ATTACH_REG_DOORBELL	HCVS_REG_DOORBELL
#define ATTACH_DOORBELL_KICK	HCVS_DOORBELL_KICK
#define ATTACH_MMIO_WINDOW	0x1000u

struct attach_guest {
	struct loop		*ag_loop;
	char			 ag_name[ATTACH_NAME_MAX];
	struct ioreq_source	*ag_src;
	struct notifier		*ag_src_n;	/* the source's own */
	bool			 ag_src_watched;
	struct notifier		*ag_kvm;	/* NULL: no notification */
	bool			 ag_kvm_watched;
	int			 ag_vm_fd;	/* dup, outlives ag_kvm */
	uint32_t		 ag_kick_port;
	uint32_t		 ag_irq_port;
	uint32_t		 ag_irq_gsi;	/* bound (or fixed) GSI */
	bool			 ag_irq_fixed;	/* VMM's own irqfd */
	enum ioreq_space	 ag_space;
	uint64_t		 ag_base;
	struct attach_guest_dev	 ag_dev;
	bool			 ag_has_dev;
	int64_t			 ag_timer;
	bool			 ag_stopped;
	uint64_t		 ag_busy_ns;	/* attach_guest_set_busy_poll */
	struct attach_guest_stats ag_stats;
	struct log_ratelimit	 ag_rl;
};

static void guest_run_deferred(struct loop *l, void *arg);

static void
guest_defer(struct attach_guest *g)
{
	int64_t id;

	if (g->ag_timer > 0 || g->ag_stopped)
		return;
	id = loop_add_timer(g->ag_loop, 0, guest_run_deferred, g);
	if (id > 0)
		g->ag_timer = id;
}

/* Device work left over from a bounded pass: run it from a zero timer. */
static void
guest_run_deferred(struct loop *l, void *arg)
{
	struct attach_guest *g = arg;

	(void)l;
	g->ag_timer = 0;
	if (g->ag_has_dev && g->ag_dev.gd_kick != NULL &&
	    g->ag_dev.gd_kick(g->ag_dev.gd_opaque) > 0)
		guest_defer(g);
}

static void
guest_post(void *arg)
{
	struct attach_guest *g = arg;

	if (g->ag_has_dev && g->ag_dev.gd_post != NULL &&
	    g->ag_dev.gd_post(g->ag_dev.gd_opaque) > 0)
		guest_defer(g);
}

/* Forwarded requests; returns how many were handled. */
static unsigned
guest_src_drain(struct attach_guest *g)
{
	struct ioreq_engine *e = ioreq_source_engine(g->ag_src);
	uint32_t port;
	unsigned budget;

	/* Bounded, so that one guest cannot hold the loop. */
	for (budget = 0; budget < 1024; budget++) {
		if (notifier_next(g->ag_src_n, &port, NULL) <= 0)
			break;
		if (ioreq_engine_handle_port(e, port) > 0)
			g->ag_stats.gs_requests++;
	}
	return budget;
}

/* Doorbell kicks; returns how many notifications were taken. */
static unsigned
guest_kvm_drain(struct attach_guest *g)
{
	uint32_t port;
	uint64_t cnt;
	unsigned budget;

	if (g->ag_kvm == NULL)
		return 0;
	for (budget = 0; budget < 64; budget++) {
		if (notifier_next(g->ag_kvm, &port, &cnt) <= 0)
			break;
		if (port != g->ag_kick_port)
			continue;
		g->ag_stats.gs_kicks += cnt;
		if (g->ag_has_dev && g->ag_dev.gd_kick != NULL &&
		    g->ag_dev.gd_kick(g->ag_dev.gd_opaque) > 0)
			guest_defer(g);
	}
	return budget;
}

/*
 * With a busy-poll window, keep taking forwarded requests and kicks that
 * long after the last one before going back to epoll, as hcvsockd's Xen
 * service does: a guest in a tight request loop then never waits for a
 * wake-up (other fds wait up to the window).
 */
static void
guest_busy(struct attach_guest *g)
{
	uint64_t deadline = loop_now_ns() + g->ag_busy_ns;

	while (g->ag_busy_ns > 0 && !g->ag_stopped) {
		if (guest_src_drain(g) + guest_kvm_drain(g) > 0)
			deadline = loop_now_ns() + g->ag_busy_ns;
		else if (loop_now_ns() >= deadline)
			break;
		cpu_relax();
	}
}

static void
guest_src_readable(struct loop *l, int fd, unsigned events, void *arg)
{
	struct attach_guest *g = arg;

	(void)l;
	(void)fd;
	(void)events;
	g->ag_stats.gs_wakeups++;
	(void)guest_src_drain(g);
	guest_busy(g);
}

static void
guest_kvm_readable(struct loop *l, int fd, unsigned events, void *arg)
{
	struct attach_guest *g = arg;

	(void)l;
	(void)fd;
	(void)events;
	g->ag_stats.gs_wakeups++;
	(void)guest_kvm_drain(g);
	guest_busy(g);
}

void
attach_guest_set_busy_poll(struct attach_guest *g, uint64_t ns)
{
	g->ag_busy_ns = ns;
}

static int
guest_bind_eventfd(struct attach_guest *g, int rx, int tx, uint32_t *port)
{
	struct notify_bind b;
	int rx2 = -1, tx2 = -1, rc;

	/* The notifier takes ownership: give it its own copies. */
	if (rx >= 0 && (rx2 = fcntl(rx, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	if (tx >= 0 && (tx2 = fcntl(tx, F_DUPFD_CLOEXEC, 0)) < 0) {
		rc = -errno;
		if (rx2 >= 0)
			close(rx2);
		return rc;
	}
	memset(&b, 0, sizeof(b));
	b.kind = NOTIFY_BIND_EVENTFDS;
	b.rx_fd = rx2;
	b.tx_fd = tx2;
	rc = notifier_bind(g->ag_kvm, &b, port);
	if (rc < 0) {
		if (rx2 >= 0)
			close(rx2);
		if (tx2 >= 0)
			close(tx2);
	}
	return rc;
}

static int
guest_setup_notify(struct attach_guest *g, const struct attach_desc *d,
    char *err, size_t errlen)
{
	struct notify_bind b;
	int rc;

	if (d->ad_vm_fd >= 0) {
		g->ag_vm_fd = fcntl(d->ad_vm_fd, F_DUPFD_CLOEXEC, 0);
		if (g->ag_vm_fd < 0)
			return attach_errf(err, errlen, -errno, "dup VM fd");
		rc = notifier_open("kvm", g->ag_vm_fd, &g->ag_kvm);
		if (rc < 0)
			return attach_errf(err, errlen, rc,
			    "kvm notifier: %s", strerror(-rc));
		memset(&b, 0, sizeof(b));
		b.kind = NOTIFY_BIND_IOEVENTFD;
		b.is_mmio = g->ag_space == IOREQ_SPACE_MMIO;
		b.addr = g->ag_base + ATTACH_REG_DOORBELL;
		b.len = 4;
		b.has_datamatch = true;
		b.datamatch = ATTACH_DOORBELL_KICK;
		rc = notifier_bind(g->ag_kvm, &b, &g->ag_kick_port);
		if (rc < 0)
			return attach_errf(err, errlen, rc,
			    "ioeventfd on 0x%jx: %s", (uintmax_t)b.addr,
			    strerror(-rc));
		return 0;
	}
	if (d->ad_kick_fd < 0)
		return 0;
	rc = notifier_open("kvm", -1, &g->ag_kvm);
	if (rc < 0)
		return attach_errf(err, errlen, rc, "kvm notifier: %s",
		    strerror(-rc));
	rc = guest_bind_eventfd(g, d->ad_kick_fd, -1, &g->ag_kick_port);
	if (rc < 0)
		return attach_errf(err, errlen, rc, "kick eventfd: %s",
		    strerror(-rc));
	if (d->ad_irq_fd >= 0) {
		rc = guest_bind_eventfd(g, -1, d->ad_irq_fd, &g->ag_irq_port);
		if (rc < 0)
			return attach_errf(err, errlen, rc, "irq eventfd: %s",
			    strerror(-rc));
		g->ag_irq_gsi = d->ad_irq_gsi;
		g->ag_irq_fixed = true;
	}
	return 0;
}

int
attach_guest_new(struct loop *l, const struct attach_desc *d,
    struct attach_guest **gp, char *err, size_t errlen)
{
	struct ioreq_shm_region regions[ATTACH_MAX_REGIONS];
	struct ioreq_shm_cfg cfg;
	struct attach_guest *g;
	unsigned i;
	int rc;

	rc = attach_desc_check(d, err, errlen);
	if (rc < 0)
		return rc;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return attach_errf(err, errlen, -ENOMEM, "out of memory");
	g->ag_loop = l;
	g->ag_vm_fd = -1;
	g->ag_kick_port = g->ag_irq_port = NOTIFY_PORT_INVALID;
	g->ag_irq_gsi = ATTACH_GSI_NONE;
	g->ag_space = d->ad_window_space;
	g->ag_base = d->ad_window_base;
	g->ag_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 1);
	snprintf(g->ag_name, sizeof(g->ag_name), "%s", d->ad_name);

	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < d->ad_nr_regions; i++) {
		regions[i].fd = d->ad_regions[i].ar_fd;
		regions[i].gpa = d->ad_regions[i].ar_gpa;
		regions[i].size = d->ad_regions[i].ar_size;
		regions[i].offset = d->ad_regions[i].ar_offset;
	}
	cfg.page_fd = d->ad_page_fd;
	cfg.bufpage_fd = -1;
	cfg.buf_kick_fd = -1;
	cfg.nr_vcpus = d->ad_nr_vcpus;
	cfg.vcpus = d->ad_vcpus;
	cfg.nr_regions = d->ad_nr_regions;
	cfg.regions = regions;
	rc = ioreq_shm_open(&cfg, &g->ag_src);
	if (rc < 0) {
		attach_errf(err, errlen, rc, "ioreq page: %s", strerror(-rc));
		goto err_free;
	}
	g->ag_src_n = ioreq_source_notifier(g->ag_src);
	ioreq_engine_set_post_hook(ioreq_source_engine(g->ag_src), guest_post,
	    g);
	rc = guest_setup_notify(g, d, err, errlen);
	if (rc < 0)
		goto err_free;
	rc = loop_add_fd(l, notifier_fd(g->ag_src_n), LOOP_IN,
	    guest_src_readable, g);
	if (rc < 0) {
		attach_errf(err, errlen, rc, "event loop: %s", strerror(-rc));
		goto err_free;
	}
	g->ag_src_watched = true;
	if (g->ag_kvm != NULL) {
		rc = loop_add_fd(l, notifier_fd(g->ag_kvm), LOOP_IN,
		    guest_kvm_readable, g);
		if (rc < 0) {
			attach_errf(err, errlen, rc, "event loop: %s",
			    strerror(-rc));
			goto err_free;
		}
		g->ag_kvm_watched = true;
	}
	*gp = g;
	return 0;

err_free:
	attach_guest_free(g);
	return rc;
}

int
attach_guest_set_device(struct attach_guest *g,
    const struct attach_guest_dev *dev)
{
	uint64_t end;
	int rc;

	if (g->ag_has_dev || dev == NULL || dev->gd_ops == NULL)
		return -EINVAL;
	end = g->ag_base + (g->ag_space == IOREQ_SPACE_PIO ?
	    ATTACH_WINDOW_SIZE : ATTACH_MMIO_WINDOW) - 1;
	rc = ioreq_source_add_range(g->ag_src, g->ag_space, g->ag_base, end,
	    dev->gd_ops, dev->gd_opaque);
	if (rc < 0)
		return rc;
	g->ag_dev = *dev;
	g->ag_has_dev = true;
	rc = ioreq_source_enable(g->ag_src);
	if (rc < 0)
		return rc;
	/* Accesses the guest made before we were live. */
	(void)ioreq_engine_service_all(ioreq_source_engine(g->ag_src));
	return 0;
}

struct ioreq_mem *
attach_guest_mem(struct attach_guest *g)
{
	return ioreq_source_mem(g->ag_src);
}

const char *
attach_guest_name(const struct attach_guest *g)
{
	return g->ag_name;
}

bool
attach_guest_can_irq(const struct attach_guest *g)
{
	return g->ag_vm_fd >= 0 || g->ag_irq_fixed;
}

int
attach_guest_irq_setup(struct attach_guest *g, uint32_t gsi)
{
	struct notify_bind b;
	int rc;

	if (g->ag_irq_fixed) {
		/* The VMM chose the GSI; the guest can only take that one. */
		if (gsi != ATTACH_GSI_NONE && gsi != g->ag_irq_gsi)
			return -EINVAL;
		return 0;
	}
	if (g->ag_vm_fd < 0)
		return gsi == ATTACH_GSI_NONE ? 0 : -EOPNOTSUPP;
	if (g->ag_irq_port != NOTIFY_PORT_INVALID) {
		if (gsi == g->ag_irq_gsi)
			return 0;
		(void)notifier_unbind(g->ag_kvm, g->ag_irq_port);
		g->ag_irq_port = NOTIFY_PORT_INVALID;
		g->ag_irq_gsi = ATTACH_GSI_NONE;
	}
	if (gsi == ATTACH_GSI_NONE)
		return 0;
	memset(&b, 0, sizeof(b));
	b.kind = NOTIFY_BIND_IRQFD;
	b.gsi = gsi;
	rc = notifier_bind(g->ag_kvm, &b, &g->ag_irq_port);
	if (rc < 0) {
		g->ag_irq_port = NOTIFY_PORT_INVALID;
		log_ratelimited(&g->ag_rl, LOG_WARNING,
		    "%s: irqfd on GSI %u: %s", g->ag_name, gsi, strerror(-rc));
		return rc;
	}
	g->ag_irq_gsi = gsi;
	return 0;
}

int
attach_guest_irq_raise(struct attach_guest *g)
{
	int rc;

	if (g->ag_irq_port == NOTIFY_PORT_INVALID)
		return -ENOENT;
	rc = notifier_notify(g->ag_kvm, g->ag_irq_port);
	if (rc == 0)
		g->ag_stats.gs_irqs++;
	return rc;
}

void
attach_guest_get_stats(const struct attach_guest *g,
    struct attach_guest_stats *st)
{
	*st = g->ag_stats;
	if (g->ag_src != NULL) {
		struct ioreq_engine_stats es;

		ioreq_engine_get_stats(ioreq_source_engine(g->ag_src), &es);
		st->gs_requests = es.st_requests;
	}
}

void
attach_guest_stop(struct attach_guest *g)
{
	if (g == NULL || g->ag_stopped)
		return;
	g->ag_stopped = true;
	if (g->ag_timer > 0)
		loop_del_timer(g->ag_loop, g->ag_timer);
	g->ag_timer = 0;
	if (g->ag_src_watched)
		(void)loop_del_fd(g->ag_loop, notifier_fd(g->ag_src_n));
	g->ag_src_watched = false;
	if (g->ag_kvm_watched)
		(void)loop_del_fd(g->ag_loop, notifier_fd(g->ag_kvm));
	g->ag_kvm_watched = false;
	/* A VMM still running (in-process use) gets its pending answers. */
	if (g->ag_src != NULL)
		(void)ioreq_source_quiesce(g->ag_src);
	g->ag_has_dev = false;
}

void
attach_guest_free(struct attach_guest *g)
{
	if (g == NULL)
		return;
	attach_guest_stop(g);
	ioreq_source_close(g->ag_src, true);
	/* Unbinding deassigns hcvsockd's ioeventfd and irqfd in KVM. */
	notifier_close(g->ag_kvm);
	if (g->ag_vm_fd >= 0)
		close(g->ag_vm_fd);
	free(g);
}
