/* SPDX-License-Identifier: MIT */
/*
 * A test double of the memfd-backed guest memory of ioreq.h
 * (ioreq_mem_new_fd, ioreq_mem_add_region, bounds-checked copies), for
 * the vsock device tests until the real one is linked.  Same contract:
 * -EFAULT if any byte is outside a region, -E2BIG past the copy limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ioreq/ioreq.h"

struct fake_region {
	uint64_t	 gpa;
	uint64_t	 size;
	uint8_t		*map;
};

struct ioreq_mem {
	unsigned		nr;
	struct fake_region	r[IOREQ_SHM_MAX_REGIONS];
};

int
ioreq_mem_new_fd(struct ioreq_mem **mp)
{
	*mp = calloc(1, sizeof(**mp));
	return *mp == NULL ? -ENOMEM : 0;
}

int
ioreq_mem_add_region(struct ioreq_mem *m, int fd, uint64_t gpa, uint64_t size,
    uint64_t offset)
{
	void *p;

	if (m->nr == IOREQ_SHM_MAX_REGIONS)
		return -ENOSPC;
	if (size == 0 || gpa + size < gpa)
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	m->r[m->nr].gpa = gpa;
	m->r[m->nr].size = size;
	m->r[m->nr].map = p;
	m->nr++;
	return 0;
}

static uint8_t *
lookup(struct ioreq_mem *m, uint64_t gpa, size_t len)
{
	unsigned i;

	if (gpa + len < gpa)
		return NULL;
	for (i = 0; i < m->nr; i++) {
		const struct fake_region *r = &m->r[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->map + (gpa - r->gpa);
	}
	return NULL;
}

int
ioreq_mem_read(struct ioreq_mem *m, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *p;

	if (len > IOREQ_MEM_MAX_COPY)
		return -E2BIG;
	p = lookup(m, gpa, len);
	if (p == NULL)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int
ioreq_mem_write(struct ioreq_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	uint8_t *p;

	if (len > IOREQ_MEM_MAX_COPY)
		return -E2BIG;
	p = lookup(m, gpa, len);
	if (p == NULL)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

void
ioreq_mem_invalidate(struct ioreq_mem *m)
{
	(void)m;
}

void
ioreq_mem_free(struct ioreq_mem *m)
{
	unsigned i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nr; i++)
		munmap(m->r[i].map, m->r[i].size);
	free(m);
}
