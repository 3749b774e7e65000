/* SPDX-License-Identifier: MIT */
/*
 * The forwarding self-test guest: reads and writes the register window
 * (port I/O or MMIO, as the VMM says) and leaves every value it read in
 * the boot block, then exits with their sum.  Each access is an exit the
 * VMM forwards through the ioreq page.
 */
#include "kvmguest.h"

static uint32_t
reg_read(const struct kvmguest_boot *b, uint32_t off)
{
	if (b->kb_window_kind == KVMGUEST_WINDOW_MMIO)
		return kvmguest_mmio_read32(b->kb_window_base + off);
	return hcvg_inl((uint16_t)(b->kb_window_base + off));
}

static void
reg_write(const struct kvmguest_boot *b, uint32_t off, uint32_t v)
{
	if (b->kb_window_kind == KVMGUEST_WINDOW_MMIO)
		kvmguest_mmio_write32(b->kb_window_base + off, v);
	else
		hcvg_outl((uint16_t)(b->kb_window_base + off), v);
}

KVMGUEST_ENTRY void
_start(uint64_t vcpu, uint64_t bootp)
{
	struct kvmguest_boot *b = (struct kvmguest_boot *)(uintptr_t)bootp;
	uint32_t sum = 0, v, i, n;

	if (b->kb_magic != KVMGUEST_BOOT_MAGIC)
		kvmguest_exit(0xdead0001);
	n = b->kb_params[0];
	if (n > KVMGUEST_NR_PARAMS)
		n = KVMGUEST_NR_PARAMS;
	/* params[0] reads at offsets 4 * i, then a write of params[1] at 0x20. */
	for (i = 0; i < n; i++) {
		v = reg_read(b, 4 * i);
		b->kb_results[i] = v;
		sum += v;
	}
	reg_write(b, 0x20, b->kb_params[1] + (uint32_t)vcpu);
	reg_write(b, 0x3c, 1);
	/* params[2]: that many more reads of register 0 (timing runs). */
	for (i = 0; i < b->kb_params[2]; i++)
		if (reg_read(b, 0) != b->kb_results[0])
			kvmguest_exit(0xbad00000u | i);
	kvmguest_exit(sum);
}
