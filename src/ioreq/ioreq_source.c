/* SPDX-License-Identifier: MIT */
/*
 * The request-source entry points shared by the xen and shm sources, and
 * the one place that turns a notification mode into notifier ports.
 */
#include <errno.h>
#include <string.h>

#include "hcvsock_abi.h"
#include "ioreq/ioreq_impl.h"
#include "notify/notify.h"

void
ioreq_source_init(struct ioreq_source *s, const struct ioreq_source_ops *ops)
{
	s->ops = ops;
	s->src_irq_modes = 1u << HCVS_IRQ_NONE;
	s->src_irq.mode = HCVS_IRQ_NONE;
	s->src_irq_port = NOTIFY_PORT_INVALID;
	s->src_fixed_irq_port = NOTIFY_PORT_INVALID;
	s->src_fixed_gsi = UINT32_MAX;
	s->src_db_port = NOTIFY_PORT_INVALID;
}

int
ioreq_source_add_range(struct ioreq_source *s, enum ioreq_space sp,
    uint64_t start, uint64_t end, const struct ioreq_handler_ops *ops,
    void *opaque)
{
	int rc;

	rc = ioreq_engine_add_range(s->src_engine, sp, start, end, ops, opaque);
	if (rc < 0 || s->ops->map_range == NULL)
		return rc;
	rc = s->ops->map_range(s, sp, start, end);
	if (rc < 0)
		(void)ioreq_engine_del_range(s->src_engine, sp, start);
	return rc;
}

int
ioreq_source_enable(struct ioreq_source *s)
{
	return s->ops->enable(s);
}

struct ioreq_engine *
ioreq_source_engine(struct ioreq_source *s)
{
	return s->src_engine;
}

struct notifier *
ioreq_source_notifier(struct ioreq_source *s)
{
	return s->src_notifier;
}

struct ioreq_mem *
ioreq_source_mem(struct ioreq_source *s)
{
	return s->src_mem;
}

unsigned
ioreq_source_nr_vcpus(const struct ioreq_source *s)
{
	return s->src_nr_vcpus;
}

const char *
ioreq_source_kind(const struct ioreq_source *s)
{
	return s->ops->kind;
}

uint32_t
ioreq_source_irq_modes(const struct ioreq_source *s)
{
	return s->src_irq_modes;
}

void
ioreq_source_release_irq(struct ioreq_source *s)
{
	/* The VMM's irqfd stays bound: it is the source's for its life. */
	if (s->src_irq_port != NOTIFY_PORT_INVALID &&
	    s->src_irq_port != s->src_fixed_irq_port)
		(void)notifier_unbind(s->src_notifier, s->src_irq_port);
	s->src_irq_port = NOTIFY_PORT_INVALID;
	memset(&s->src_irq, 0, sizeof(s->src_irq));
	s->src_irq.mode = HCVS_IRQ_NONE;
}

int
ioreq_source_irq_setup(struct ioreq_source *s, const struct ioreq_irq *irq)
{
	struct notify_bind b;
	uint32_t port = NOTIFY_PORT_INVALID;
	int rc;

	ioreq_source_release_irq(s);
	if (irq->mode > 31 || !(s->src_irq_modes & (1u << irq->mode)))
		return -EOPNOTSUPP;
	memset(&b, 0, sizeof(b));
	b.rx_fd = b.tx_fd = -1;
	switch (irq->mode) {
	case HCVS_IRQ_NONE:
	case HCVS_IRQ_MSI:
		break;
	case HCVS_IRQ_EVTCHN:
		b.kind = NOTIFY_BIND_EVTCHN;
		b.remote_port = irq->evtchn_port;
		rc = notifier_bind(s->src_notifier, &b, &port);
		if (rc < 0)
			return rc;
		break;
	case HCVS_IRQ_GSI:
		if (s->src_fixed_irq_port != NOTIFY_PORT_INVALID) {
			/* The VMM chose the GSI; the guest can only take it. */
			if (irq->gsi != s->src_fixed_gsi)
				return -EINVAL;
			port = s->src_fixed_irq_port;
			break;
		}
		b.kind = NOTIFY_BIND_IRQFD;
		b.gsi = irq->gsi;
		rc = notifier_bind(s->src_notifier, &b, &port);
		if (rc < 0)
			return rc;
		break;
	default:
		return -EOPNOTSUPP;
	}
	s->src_irq = *irq;
	s->src_irq_port = port;
	return 0;
}

int
ioreq_source_irq_raise(struct ioreq_source *s)
{
	int rc;

	switch (s->src_irq.mode) {
	case HCVS_IRQ_MSI:
		rc = s->ops->inject_msi != NULL ? s->ops->inject_msi(s,
		    s->src_irq.msi_addr, s->src_irq.msi_data) : -EOPNOTSUPP;
		break;
	case HCVS_IRQ_EVTCHN:
	case HCVS_IRQ_GSI:
		rc = notifier_notify(s->src_notifier, s->src_irq_port);
		break;
	default:
		return -ENOENT;
	}
	if (rc == 0)
		s->src_stats.ss_irqs++;
	else
		s->src_stats.ss_irq_errors++;
	return rc;
}

int
ioreq_source_set_doorbell(struct ioreq_source *s, enum ioreq_space sp,
    uint64_t addr, unsigned len, uint64_t value)
{
	struct notify_bind b;
	int rc;

	if (!s->src_has_vm)
		return 0;
	if (s->src_db_port != NOTIFY_PORT_INVALID)
		return -EEXIST;
	memset(&b, 0, sizeof(b));
	b.kind = NOTIFY_BIND_IOEVENTFD;
	b.is_mmio = sp == IOREQ_SPACE_MMIO;
	b.addr = addr;
	b.len = len;
	b.has_datamatch = true;
	b.datamatch = value;
	b.rx_fd = b.tx_fd = -1;
	rc = notifier_bind(s->src_notifier, &b, &s->src_db_port);
	if (rc < 0) {
		s->src_db_port = NOTIFY_PORT_INVALID;
		return rc;
	}
	return 1;
}

bool
ioreq_source_doorbell_likely(const struct ioreq_source *s)
{
	return s->src_db_port != NOTIFY_PORT_INVALID &&
	    !ioreq_engine_any_ready(s->src_engine);
}

int
ioreq_source_fd(const struct ioreq_source *s)
{
	return notifier_fd(s->src_notifier);
}

int
ioreq_source_run(struct ioreq_source *s, unsigned budget,
    struct ioreq_source_events *ev)
{
	unsigned n;
	uint32_t port;
	uint64_t cnt;
	int rc;

	for (n = 0; n < budget; n++) {
		cnt = 1;
		rc = notifier_next(s->src_notifier, &port, &cnt);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return (int)n;
		rc = ioreq_engine_handle_port(s->src_engine, port);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			ev->requests++;
			continue;
		}
		if (port == NOTIFY_PORT_INVALID)
			continue;
		if (port == s->src_db_port) {
			s->src_stats.ss_doorbells += cnt;
			ev->doorbells += cnt;
		} else if (port == s->src_irq_port &&
		    s->src_irq.mode == HCVS_IRQ_EVTCHN) {
			s->src_stats.ss_guest_events += cnt;
			ev->guest_events += cnt;
		}
	}
	/* Out of budget: what the notifier holds must keep its fd readable. */
	rc = notifier_end_cycle(s->src_notifier);
	return rc < 0 ? rc : (int)n;
}

int
ioreq_source_poll(struct ioreq_source *s, bool watching,
    struct ioreq_source_events *ev)
{
	unsigned n;

	if (s->ops->set_watched == NULL)
		return 0;
	if (watching != s->src_watched) {
		s->ops->set_watched(s, watching);
		s->src_watched = watching;
	}
	n = ioreq_engine_service_ready(s->src_engine);
	ev->requests += n;
	return (int)n;
}

void
ioreq_source_get_stats(const struct ioreq_source *s,
    struct ioreq_source_stats *st)
{
	*st = s->src_stats;
}

int
ioreq_source_restrict(struct ioreq_source *s)
{
	if (s->ops->restrict_ == NULL)
		return 0;
	return s->ops->restrict_(s);
}

int
ioreq_source_quiesce(struct ioreq_source *s)
{
	return s->ops->quiesce(s);
}

void
ioreq_source_close(struct ioreq_source *s, bool destroy)
{
	if (s != NULL)
		s->ops->close(s, destroy);
}

int
ioreq_source_server_id(const struct ioreq_source *s)
{
	if (s->ops->server_id == NULL)
		return -1;
	return s->ops->server_id(s);
}
