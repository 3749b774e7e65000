/* SPDX-License-Identifier: MIT */
/* Guest memory over memfd regions: bounds, overflow, all-or-nothing. */
#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "ioreq/ioreq_impl.h"

#define PG	4096u

static int
memfd(size_t size)
{
	int fd = memfd_create("test-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void
regions__validated(void **state)
{
	struct ioreq_mem *m;
	int fd = memfd(4 * PG);

	assert_int_equal(ioreq_mem_new_fd(&m), 0);
	assert_int_equal(ioreq_mem_add_region(m, -1, 0, PG, 0), -EINVAL);
	assert_int_equal(ioreq_mem_add_region(m, fd, 0, 0, 0), -EINVAL);
	/* Region end would wrap 2^64. */
	assert_int_equal(ioreq_mem_add_region(m, fd, UINT64_MAX - 10, PG, 0),
	    -EINVAL);
	/* Past the end of the file: would SIGBUS. */
	assert_int_equal(ioreq_mem_add_region(m, fd, 0, 4 * PG, PG), -EINVAL);
	assert_int_equal(ioreq_mem_add_region(m, fd, 0, 5 * PG, 0), -EINVAL);
	assert_int_equal(ioreq_mem_add_region(m, fd, 0x10000, 2 * PG, 0), 0);
	assert_int_equal(ioreq_mem_add_region(m, fd, 0x10000 + PG, PG, 0),
	    -EEXIST);
	assert_int_equal(ioreq_mem_add_region(m, fd, 0xf000, PG + 1, 0),
	    -EEXIST);
	/* An unaligned file offset still works (mapped from the page). */
	assert_int_equal(ioreq_mem_add_region(m, fd, 0x20000, 100, PG + 7), 0);
	/* The top byte of the address space is fine. */
	assert_int_equal(ioreq_mem_add_region(m, fd, UINT64_MAX - PG + 1, PG,
	    0), 0);
	close(fd);	/* the accessor holds its own dup */
	ioreq_mem_free(m);
}

static void
copies__bounds_and_adjacent_regions(void **state)
{
	struct ioreq_mem *m;
	int fd = memfd(4 * PG);
	uint8_t *map, buf[3 * PG], zero[3 * PG];
	unsigned i;

	map = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	for (i = 0; i < 4 * PG; i++)
		map[i] = (uint8_t)(i * 7);
	assert_int_equal(ioreq_mem_new_fd(&m), 0);
	/* Two adjacent regions from different file offsets, a hole after. */
	assert_int_equal(ioreq_mem_add_region(m, fd, 0x100000, PG, 2 * PG), 0);
	assert_int_equal(ioreq_mem_add_region(m, fd, 0x101000, PG, 0), 0);

	assert_int_equal(ioreq_mem_read(m, 0x100ff0, buf, 32), 0);
	assert_memory_equal(buf, map + 2 * PG + 0xff0, 16);
	assert_memory_equal(buf + 16, map, 16);

	/* A span reaching into the hole copies nothing. */
	memset(buf, 0, sizeof(buf));
	memset(zero, 0, sizeof(zero));
	assert_int_equal(ioreq_mem_read(m, 0x101ff0, buf, 32), -EFAULT);
	assert_memory_equal(buf, zero, 32);
	memset(buf, 0xee, 32);
	assert_int_equal(ioreq_mem_write(m, 0x101ff0, buf, 32), -EFAULT);
	assert_int_equal(map[0xff0], (uint8_t)(0xff0 * 7));
	assert_int_equal(ioreq_mem_read(m, 0xfffff, buf, 2), -EFAULT);
	assert_int_equal(ioreq_mem_read(m, UINT64_MAX, buf, 2), -EFAULT);
	assert_int_equal(ioreq_mem_read(m, 0x100000, buf,
	    IOREQ_MEM_MAX_COPY + 1), -E2BIG);
	assert_int_equal(ioreq_mem_read(m, 0, buf, 0), 0);

	/* Writes land in the file. */
	assert_int_equal(ioreq_mem_write(m, 0x100ffe, "\x01\x02\x03\x04", 4),
	    0);
	assert_int_equal(map[2 * PG + 0xffe], 1);
	assert_int_equal(map[2 * PG + 0xfff], 2);
	assert_int_equal(map[0], 3);
	assert_int_equal(map[1], 4);

	/* No accessor at all: nothing is guest RAM. */
	assert_int_equal(ioreq_mem_read(NULL, 0x100000, buf, 1), -EFAULT);
	ioreq_mem_invalidate(m);	/* no-op for memfd memory */
	ioreq_mem_invalidate(NULL);
	ioreq_mem_free(m);
	ioreq_mem_free(NULL);
	munmap(map, 4 * PG);
	close(fd);
}

/* Direct access: only inside one region, the same bytes the copies see. */
static void
direct__one_region_only(void **state)
{
	struct ioreq_mem *m;
	int fd = memfd(4 * PG);
	uint8_t *p, buf[8];

	(void)state;
	assert_int_equal(ioreq_mem_new_fd(&m), 0);
	assert_int_equal(ioreq_mem_add_region(m, fd, 0x100000, PG, 2 * PG), 0);
	assert_int_equal(ioreq_mem_add_region(m, fd, 0x101000, PG, 0), 0);
	p = ioreq_mem_direct(m, 0x100ff8, 8);
	assert_non_null(p);
	memcpy(p, "abcdefgh", 8);
	assert_int_equal(ioreq_mem_read(m, 0x100ff8, buf, 8), 0);
	assert_memory_equal(buf, "abcdefgh", 8);
	/* Adjacent in the guest, apart in the host: the copies must do. */
	assert_null(ioreq_mem_direct(m, 0x100ff8, 9));
	assert_null(ioreq_mem_direct(m, 0x0fffff, 2));
	assert_null(ioreq_mem_direct(m, 0x102000, 1));
	assert_null(ioreq_mem_direct(m, 0x100000, 0));
	assert_null(ioreq_mem_direct(m, UINT64_MAX, 2));
	assert_null(ioreq_mem_direct(NULL, 0x100000, 1));
	close(fd);
	ioreq_mem_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(regions__validated),
		cmocka_unit_test(copies__bounds_and_adjacent_regions),
		cmocka_unit_test(direct__one_region_only),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
