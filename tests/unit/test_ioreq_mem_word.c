/* SPDX-License-Identifier: MIT */
/*
 * A guest-memory write of one aligned word is a single store.
 *
 * This program's memcpy() replaces the C library's.  A 4-byte copy onto
 * the watched word behaves as glibc's small-size path may: it stores the
 * word twice, and between the two stores the "guest" does what a guest
 * does when it sees the first one - here, a MSG slot it sees DONE, it
 * takes (SUBMITTED).  A write that went through memcpy() loses the guest's
 * store to the second one; the single store of ioreq_mem_write() cannot.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq_impl.h"

#define PG	4096u
#define GPA	0x100000ull

static volatile uint32_t *watched;
static unsigned watched_copies;

void	*memcpy(void *restrict dst, const void *restrict src, size_t n);
/* A call the compiler cannot turn into inline stores. */
static void *(*volatile copy)(void *restrict, const void *restrict, size_t) =
    memcpy;

void *
memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;
	size_t i;

	if (watched != NULL && dst == (void *)(uintptr_t)watched && n == 4) {
		uint32_t v = (uint32_t)s[0] | (uint32_t)s[1] << 8 |
		    (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;

		watched_copies++;
		*watched = v;
		if (v == HCVS_MSG_S_DONE)
			*watched = HCVS_MSG_S_SUBMITTED;
		*watched = v;
		return dst;
	}
	for (i = 0; i < n; i++)
		d[i] = s[i];
	return dst;
}

/* One page of guest RAM at GPA; its host address. */
static uint8_t *
ram_new(struct ioreq_mem **m, int *fdp)
{
	uint8_t *ram;

	*fdp = memfd_create("test-ram", MFD_CLOEXEC);
	assert_true(*fdp >= 0);
	assert_int_equal(ftruncate(*fdp, PG), 0);
	assert_int_equal(ioreq_mem_new_fd(m), 0);
	assert_int_equal(ioreq_mem_add_region(*m, *fdp, GPA, PG, 0), 0);
	ram = ioreq_mem_direct(*m, GPA, PG);
	assert_non_null(ram);
	return ram;
}

static void
word__one_store(void **state)
{
	const uint32_t done = HCVS_MSG_S_DONE;
	struct ioreq_mem *m;
	uint32_t *slot;
	int fd;

	(void)state;
	slot = (uint32_t *)(void *)(ram_new(&m, &fd) + 64);
	*slot = HCVS_MSG_S_ACCEPTED;

	watched = slot;
	assert_int_equal(ioreq_mem_write(m, GPA + 64, &done, sizeof(done)), 0);
	watched = NULL;
	/* Stored once, not through memcpy(): the word is simply DONE. */
	assert_int_equal(watched_copies, 0);
	assert_int_equal(*slot, HCVS_MSG_S_DONE);

	/* The interposed memcpy() is what it claims: it loses the guest. */
	*slot = HCVS_MSG_S_ACCEPTED;
	watched = slot;
	copy((void *)slot, &done, sizeof(done));
	watched = NULL;
	assert_int_equal(watched_copies, 1);
	assert_int_equal(*slot, HCVS_MSG_S_DONE);
	close(fd);
	ioreq_mem_free(m);
}

static void
word__reads_and_odd_sizes(void **state)
{
	uint8_t buf[16], back[24];
	struct ioreq_mem *m;
	uint8_t *ram;
	int fd;
	size_t sizes[] = { 1, 2, 3, 4, 5, 8, 16 };

	(void)state;
	ram = ram_new(&m, &fd);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(0xa0 + i);
	/* Aligned and misaligned, word-sized and not: the bytes arrive. */
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (uint64_t off = 0; off < 8; off++) {
			size_t n = sizes[k];

			for (size_t i = 0; i < 32; i++)
				ram[i] = 0;
			assert_int_equal(ioreq_mem_write(m, GPA + off, buf, n),
			    0);
			assert_memory_equal(ram + off, buf, n);
			assert_int_equal(ram[off + n], 0);
			for (size_t i = 0; i < sizeof(back); i++)
				back[i] = 0x55;
			assert_int_equal(ioreq_mem_read(m, GPA + off, back, n),
			    0);
			assert_memory_equal(back, buf, n);
			assert_int_equal(back[n], 0x55);
		}
	}
	close(fd);
	ioreq_mem_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(word__one_store),
		cmocka_unit_test(word__reads_and_odd_sizes),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
