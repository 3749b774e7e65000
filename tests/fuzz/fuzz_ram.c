/* SPDX-License-Identifier: MIT */
/* Guest RAM as a memfd for the harnesses that drive guest memory (fuzz.h). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/loop.h"
#include "ioreq/ioreq.h"
#include "fuzz.h"

/* What fz_guest_init set up, for the exit handler. */
static struct {
	uint8_t			*ram;
	size_t			 size;
	struct ioreq_mem	*mem;
	struct loop		*lp;
} fz_env;

uint8_t *
fz_guest_ram(uint64_t gpa, size_t size, struct ioreq_mem **mem)
{
	uint8_t *view;
	int fd;

	fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	fz_check(fd >= 0);
	fz_check(ftruncate(fd, (off_t)size) == 0);
	view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	fz_check(view != MAP_FAILED);
	fz_check(ioreq_mem_new_fd(mem) == 0);
	fz_check(ioreq_mem_add_region(*mem, fd, gpa, size, 0) == 0);
	close(fd);
	return view;
}

static struct {
	uint64_t	lo[FZ_MAX_RANGES], hi[FZ_MAX_RANGES];
	unsigned	n;
} fz_ranges;

void
fz_allow_reset(void)
{
	fz_ranges.n = 0;
}

bool
fz_allow(uint64_t lo, uint64_t hi)
{
	for (unsigned i = 0; i < fz_ranges.n; i++)
		if (fz_ranges.lo[i] == lo && fz_ranges.hi[i] == hi)
			return true;
	if (fz_ranges.n == FZ_MAX_RANGES)
		return false;
	fz_ranges.lo[fz_ranges.n] = lo;
	fz_ranges.hi[fz_ranges.n++] = hi;
	return true;
}

void
fz_check_canary(const uint8_t *ram, uint64_t from, uint64_t to,
    uint64_t skip_lo, uint64_t skip_hi, uint8_t canary)
{
	for (uint64_t i = from; i < to; i++) {
		unsigned r;

		if (i >= skip_lo && i < skip_hi)
			continue;
		for (r = 0; r < fz_ranges.n; r++)
			if (i >= fz_ranges.lo[r] && i < fz_ranges.hi[r])
				break;
		if (r == fz_ranges.n)
			fz_check(ram[i] == canary);
	}
}

static void
fz_guest_fini(void)
{
	loop_free(fz_env.lp);
	ioreq_mem_free(fz_env.mem);
	munmap(fz_env.ram, fz_env.size);
}

void
fz_guest_init(uint64_t gpa, size_t size, uint8_t **ram, struct ioreq_mem **mem,
    struct loop **lp)
{
	fz_quiet();
	fz_env.size = size;
	fz_env.ram = *ram = fz_guest_ram(gpa, size, &fz_env.mem);
	*mem = fz_env.mem;
	if (lp != NULL) {
		fz_check(loop_new(&fz_env.lp) == 0);
		*lp = fz_env.lp;
	}
	fz_check(atexit(fz_guest_fini) == 0);
}
