/* SPDX-License-Identifier: MIT */
/* Guest memory: the accessor entry points and memfd-backed regions. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ioreq/ioreq_impl.h"

/* What every copy is checked against before a backend sees it: 1 = go on. */
static int
mem_copy_check(const struct ioreq_mem *m, size_t len)
{
	if (m == NULL)
		return -EFAULT;
	if (len > IOREQ_MEM_MAX_COPY)
		return -E2BIG;
	return len > 0;
}

int
ioreq_mem_read(struct ioreq_mem *m, uint64_t gpa, void *buf, size_t len)
{
	int rc = mem_copy_check(m, len);

	return rc <= 0 ? rc : m->ops->read(m, gpa, buf, len);
}

int
ioreq_mem_write(struct ioreq_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	int rc = mem_copy_check(m, len);

	return rc <= 0 ? rc : m->ops->write(m, gpa, buf, len);
}

/* One access of type T at p, from `in` or to `out`. */
#define COPY_WORD(T, p, out, in) do {					\
	T v_;								\
									\
	if ((in) != NULL) {						\
		memcpy(&v_, (in), sizeof(v_));				\
		__atomic_store_n((T *)(void *)(p), v_, __ATOMIC_RELAXED); \
	} else {							\
		v_ = __atomic_load_n((T *)(void *)(p), __ATOMIC_RELAXED); \
		memcpy((out), &v_, sizeof(v_));				\
	}								\
} while (0)

/*
 * One naturally aligned word, moved with a single access.  memcpy() of
 * 4 bytes may load and store the word twice (glibc does): a guest that
 * sees the first store and answers at once would have its answer undone
 * by the second.  False: not such a word.
 */
static bool
copy_word(uint8_t *p, uint8_t *out, const uint8_t *in, size_t len)
{
	if (((uintptr_t)p & (len - 1)) != 0)
		return false;
	switch (len) {
	case 1:	COPY_WORD(uint8_t, p, out, in);		return true;
	case 2:	COPY_WORD(uint16_t, p, out, in);	return true;
	case 4:	COPY_WORD(uint32_t, p, out, in);	return true;
	case 8:	COPY_WORD(uint64_t, p, out, in);	return true;
	default:
		return false;
	}
}

int
ioreq_mem_copy(struct ioreq_mem *m, ioreq_mem_resolve_fn resolve,
    uint64_t gpa, uint8_t *out, const uint8_t *in, size_t len)
{
	int pass;

	if (gpa > UINT64_MAX - (len - 1))
		return -EFAULT;
	for (pass = 0; pass < 2; pass++) {
		uint64_t cur = gpa, contig;
		size_t done = 0, chunk;
		uint8_t *p;

		while (done < len) {
			p = resolve(m, cur, &contig);
			if (p == NULL)
				return -EFAULT;
			chunk = (size_t)MIN((uint64_t)(len - done), contig);
			if (pass == 1 && chunk == len &&
			    copy_word(p, out, in, len))
				return 0;
			if (pass == 1) {
				if (in != NULL)
					memcpy(p, in + done, chunk);
				else
					memcpy(out + done, p, chunk);
			}
			cur += chunk;
			done += chunk;
		}
	}
	return 0;
}

void *
ioreq_mem_direct(struct ioreq_mem *m, uint64_t gpa, size_t len)
{
	if (m == NULL || m->ops->direct == NULL || len == 0 ||
	    gpa > UINT64_MAX - (len - 1))
		return NULL;
	return m->ops->direct(m, gpa, len);
}

void
ioreq_mem_invalidate(struct ioreq_mem *m)
{
	if (m != NULL && m->ops->invalidate != NULL)
		m->ops->invalidate(m);
}

void
ioreq_mem_free(struct ioreq_mem *m)
{
	if (m != NULL)
		m->ops->free(m);
}

/* ---- memfd regions -------------------------------------------------------- */

#define MEMFD_MAX_REGIONS	64

struct memfd_region {
	uint64_t	 mr_gpa;
	uint64_t	 mr_size;
	void		*mr_map;	/* mapping start (page aligned) */
	size_t		 mr_map_len;
	uint8_t		*mr_base;	/* byte at mr_gpa */
	int		 mr_fd;
};

struct ioreq_mem_fd {
	struct ioreq_mem	 mf_mem;
	unsigned		 mf_nr;
	struct memfd_region	 mf_regions[MEMFD_MAX_REGIONS];	/* by gpa */
};

static const struct memfd_region *
memfd_find(const struct ioreq_mem_fd *mf, uint64_t gpa)
{
	unsigned i;

	for (i = 0; i < mf->mf_nr; i++) {
		const struct memfd_region *r = &mf->mf_regions[i];

		if (gpa >= r->mr_gpa && gpa - r->mr_gpa < r->mr_size)
			return r;
	}
	return NULL;
}

static uint8_t *
memfd_resolve(struct ioreq_mem *m, uint64_t gpa, uint64_t *contig)
{
	const struct memfd_region *r = memfd_find((struct ioreq_mem_fd *)m,
	    gpa);

	if (r == NULL)
		return NULL;
	*contig = r->mr_size - (gpa - r->mr_gpa);
	return r->mr_base + (gpa - r->mr_gpa);
}

static int
memfd_read(struct ioreq_mem *m, uint64_t gpa, void *buf, size_t len)
{
	return ioreq_mem_copy(m, memfd_resolve, gpa, buf, NULL, len);
}

static int
memfd_write(struct ioreq_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	return ioreq_mem_copy(m, memfd_resolve, gpa, NULL, buf, len);
}

/* Regions are only ever added: a mapping lives as long as m. */
static void *
memfd_direct(struct ioreq_mem *m, uint64_t gpa, size_t len)
{
	uint64_t contig;
	uint8_t *p = memfd_resolve(m, gpa, &contig);

	return p != NULL && contig >= len ? p : NULL;
}

static void
memfd_free(struct ioreq_mem *m)
{
	struct ioreq_mem_fd *mf = (struct ioreq_mem_fd *)m;
	unsigned i;

	for (i = 0; i < mf->mf_nr; i++) {
		munmap(mf->mf_regions[i].mr_map, mf->mf_regions[i].mr_map_len);
		close(mf->mf_regions[i].mr_fd);
	}
	free(mf);
}

static const struct ioreq_mem_ops memfd_ops = {
	.read = memfd_read,
	.write = memfd_write,
	.invalidate = NULL,
	.direct = memfd_direct,
	.free = memfd_free,
};

int
ioreq_mem_new_fd(struct ioreq_mem **mp)
{
	struct ioreq_mem_fd *mf;

	mf = calloc(1, sizeof(*mf));
	if (mf == NULL)
		return -ENOMEM;
	mf->mf_mem.ops = &memfd_ops;
	*mp = &mf->mf_mem;
	return 0;
}

int
ioreq_mem_add_region(struct ioreq_mem *m, int fd, uint64_t gpa, uint64_t size,
    uint64_t offset)
{
	struct ioreq_mem_fd *mf = (struct ioreq_mem_fd *)m;
	struct memfd_region *r;
	struct stat st;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), delta;
	unsigned i;
	void *map;
	int dfd;

	if (m == NULL || m->ops != &memfd_ops || fd < 0 || size == 0 ||
	    gpa > UINT64_MAX - (size - 1) || offset > UINT64_MAX - size)
		return -EINVAL;
	if (mf->mf_nr == MEMFD_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < mf->mf_nr; i++) {
		r = &mf->mf_regions[i];
		if (gpa <= r->mr_gpa + (r->mr_size - 1) &&
		    r->mr_gpa <= gpa + (size - 1))
			return -EEXIST;
	}
	/* A region past the end of its file would SIGBUS on access. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size < offset + size)
		return -EINVAL;
	delta = offset % pg;
	if (size + delta > SIZE_MAX)
		return -EINVAL;
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -errno;
	map = mmap(NULL, (size_t)(size + delta), PROT_READ | PROT_WRITE,
	    MAP_SHARED, dfd, (off_t)(offset - delta));
	if (map == MAP_FAILED) {
		int err = errno;

		close(dfd);
		return -err;
	}
	for (i = mf->mf_nr; i > 0 && mf->mf_regions[i - 1].mr_gpa > gpa; i--)
		mf->mf_regions[i] = mf->mf_regions[i - 1];
	r = &mf->mf_regions[i];
	r->mr_gpa = gpa;
	r->mr_size = size;
	r->mr_map = map;
	r->mr_map_len = (size_t)(size + delta);
	r->mr_base = (uint8_t *)map + delta;
	r->mr_fd = dfd;
	mf->mf_nr++;
	return 0;
}
