/* SPDX-License-Identifier: MIT */
/* Guest RAM as a memfd for the harnesses that drive guest memory (fuzz.h). */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ioreq/ioreq.h"
#include "fuzz.h"

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
