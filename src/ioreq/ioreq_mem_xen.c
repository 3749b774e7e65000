/* SPDX-License-Identifier: MIT */
/* Guest memory through Xen foreign mappings behind a small LRU cache. */
#include <sys/mman.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ioreq/ioreq_impl.h"

#define XPAGE_SHIFT	12
#define XPAGE_SIZE	(1u << XPAGE_SHIFT)

struct xen_bucket {
	uint64_t	 bk_index;	/* gfn / IOREQ_XEN_BUCKET_PAGES */
	uint8_t		*bk_addr;	/* NULL: slot free */
	uint64_t	 bk_valid;	/* bit i: page i is mapped */
	uint64_t	 bk_used;	/* LRU stamp */
};

struct ioreq_mem_xen {
	struct ioreq_mem	 mx_mem;
	xenforeignmemory_handle	*mx_fmem;
	xendevicemodel_handle	*mx_dmod;
	uint32_t		 mx_domid;
	uint64_t		 mx_tick;
	struct xen_bucket	 mx_b[IOREQ_XEN_MAX_BUCKETS];
};

_Static_assert(IOREQ_XEN_BUCKET_PAGES <= 64, "bucket bitmap is 64 bits");

static void
bucket_unmap(struct ioreq_mem_xen *mx, struct xen_bucket *b)
{
	if (b->bk_addr == NULL)
		return;
	(void)xenforeignmemory_unmap(mx->mx_fmem, b->bk_addr,
	    IOREQ_XEN_BUCKET_PAGES);
	b->bk_addr = NULL;
	b->bk_valid = 0;
}

/* The bucket holding `gfn`, mapped on demand, evicting the LRU one. */
static struct xen_bucket *
bucket_get(struct ioreq_mem_xen *mx, uint64_t gfn)
{
	uint64_t idx = gfn / IOREQ_XEN_BUCKET_PAGES;
	xen_pfn_t gfns[IOREQ_XEN_BUCKET_PAGES];
	int err[IOREQ_XEN_BUCKET_PAGES];
	struct xen_bucket *b, *victim = NULL;
	unsigned i;
	void *p;

	for (i = 0; i < IOREQ_XEN_MAX_BUCKETS; i++) {
		b = &mx->mx_b[i];
		if (b->bk_addr != NULL && b->bk_index == idx) {
			b->bk_used = ++mx->mx_tick;
			return b;
		}
		if (victim == NULL || b->bk_addr == NULL ||
		    (victim->bk_addr != NULL && b->bk_used < victim->bk_used))
			victim = b;
	}
	bucket_unmap(mx, victim);
	for (i = 0; i < IOREQ_XEN_BUCKET_PAGES; i++) {
		gfns[i] = (xen_pfn_t)(idx * IOREQ_XEN_BUCKET_PAGES + i);
		err[i] = 0;
	}
	/*
	 * With an error array the map succeeds page by page: holes (MMIO,
	 * unpopulated) are remembered and never touched.
	 */
	p = xenforeignmemory_map(mx->mx_fmem, mx->mx_domid,
	    PROT_READ | PROT_WRITE, IOREQ_XEN_BUCKET_PAGES, gfns, err);
	if (p == NULL)
		return NULL;
	victim->bk_addr = p;
	victim->bk_index = idx;
	victim->bk_valid = 0;
	for (i = 0; i < IOREQ_XEN_BUCKET_PAGES; i++)
		if (err[i] == 0)
			victim->bk_valid |= (uint64_t)1 << i;
	victim->bk_used = ++mx->mx_tick;
	return victim;
}

/* Report written pages so migration's log-dirty sees them. */
static void
mark_dirty(struct ioreq_mem_xen *mx, uint64_t gpa, size_t len)
{
	uint64_t first = gpa >> XPAGE_SHIFT;
	uint64_t last = (gpa + len - 1) >> XPAGE_SHIFT;

	if (mx->mx_dmod != NULL)
		(void)xendevicemodel_modified_memory(mx->mx_dmod, mx->mx_domid,
		    first, (uint32_t)(last - first + 1));
}

/*
 * ioreq_mem_copy() resolves every page twice: the first pass maps and
 * checks them all, so a copy with a hole copies nothing.  A copy is at
 * most IOREQ_MEM_MAX_COPY (256 pages, five buckets), far below the cache
 * size, so the first pass's buckets are all still mapped in the second.
 */
static uint8_t *
xen_resolve(struct ioreq_mem *m, uint64_t gpa, uint64_t *contig)
{
	struct ioreq_mem_xen *mx = (struct ioreq_mem_xen *)m;
	uint64_t gfn = gpa >> XPAGE_SHIFT;
	size_t off = (size_t)(gpa & (XPAGE_SIZE - 1));
	unsigned pg = (unsigned)(gfn % IOREQ_XEN_BUCKET_PAGES);
	struct xen_bucket *b = bucket_get(mx, gfn);

	if (b == NULL || !(b->bk_valid & ((uint64_t)1 << pg)))
		return NULL;
	*contig = XPAGE_SIZE - off;
	return b->bk_addr + (size_t)pg * XPAGE_SIZE + off;
}

static int
xen_read(struct ioreq_mem *m, uint64_t gpa, void *buf, size_t len)
{
	return ioreq_mem_copy(m, xen_resolve, gpa, buf, NULL, len);
}

static int
xen_write(struct ioreq_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	int rc = ioreq_mem_copy(m, xen_resolve, gpa, NULL, buf, len);

	if (rc == 0)
		mark_dirty((struct ioreq_mem_xen *)m, gpa, len);
	return rc;
}

static void
xen_invalidate(struct ioreq_mem *m)
{
	struct ioreq_mem_xen *mx = (struct ioreq_mem_xen *)m;
	unsigned i;

	for (i = 0; i < IOREQ_XEN_MAX_BUCKETS; i++)
		bucket_unmap(mx, &mx->mx_b[i]);
}

static void
xen_free(struct ioreq_mem *m)
{
	xen_invalidate(m);
	free(m);
}

static const struct ioreq_mem_ops xen_mem_ops = {
	.read = xen_read,
	.write = xen_write,
	.invalidate = xen_invalidate,
	.free = xen_free,
};

int
ioreq_mem_new_xen(xenforeignmemory_handle *fmem, xendevicemodel_handle *dmod,
    uint32_t domid, struct ioreq_mem **mp)
{
	struct ioreq_mem_xen *mx;

	if (fmem == NULL)
		return -EINVAL;
	mx = calloc(1, sizeof(*mx));
	if (mx == NULL)
		return -ENOMEM;
	mx->mx_mem.ops = &xen_mem_ops;
	mx->mx_fmem = fmem;
	mx->mx_dmod = dmod;
	mx->mx_domid = domid;
	*mp = &mx->mx_mem;
	return 0;
}
