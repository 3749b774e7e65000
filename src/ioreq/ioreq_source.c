/* SPDX-License-Identifier: MIT */
/* The request-source entry points shared by the xen and shm sources. */
#include <errno.h>

#include "ioreq/ioreq_impl.h"

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

bool
ioreq_source_is_hvm(const struct ioreq_source *s)
{
	return s->ops->is_hvm != NULL && s->ops->is_hvm(s);
}

int
ioreq_source_inject_msi(struct ioreq_source *s, const struct ioreq_msi *msi)
{
	if (s->ops->inject_msi == NULL)
		return -EOPNOTSUPP;
	return s->ops->inject_msi(s, msi);
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
