/* SPDX-License-Identifier: MIT */
/*
 * The kvmvm self-test guest: port writes and reads of every size, an MMIO
 * write and read, a console line, then exits with a checksum of what the
 * VMM answered so the test sees both directions.
 */
#include "kvmguest.h"

#define HELLO_PORT	0x5a0
#define HELLO_MMIO	0xd0000000ull

KVMGUEST_ENTRY void
_start(uint64_t arg0, uint64_t arg1)
{
	uint32_t sum;

	hcvg_outl(HELLO_PORT, 0x1234abcd);
	hcvg_outw(HELLO_PORT + 4, (uint16_t)arg0);
	hcvg_outb(HELLO_PORT + 6, (uint8_t)arg1);
	sum = hcvg_inl(HELLO_PORT);
	sum += hcvg_inb(HELLO_PORT + 1);
	kvmguest_mmio_write32(HELLO_MMIO + 8, 0xfeedf00d);
	sum += kvmguest_mmio_read32(HELLO_MMIO + 12);
	kvmguest_puts("hello from user mode\n");
	kvmguest_exit(sum);
}
