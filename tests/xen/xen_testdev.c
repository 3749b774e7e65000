/* SPDX-License-Identifier: MIT */
/* The test device's registers, shared by the dom0 test servers (xen_testdev.h). */
#include <stdio.h>

#include "xen_testdev.h"

uint32_t
xtd_read(struct xtd_dev *d, unsigned vcpu, uint64_t off, unsigned size)
{
	uint32_t v;

	switch (off) {
	case IOS_DATA:
		v = xtd_xform(d->data[vcpu]);
		if (size == 4) {
			d->crc[vcpu] = xtd_crc32_update(d->crc[vcpu], &v, 4);
			d->replies[vcpu]++;
		}
		return v;
	case IOS_MAGIC:
		return IOS_MAGIC_VAL;
	default:
		return 0;
	}
}

void
xtd_write(struct xtd_dev *d, unsigned vcpu, uint64_t off, uint32_t v)
{
	switch (off) {
	case IOS_DATA:
		d->data[vcpu] = v;
		break;
	case IOS_MSI:
		d->want_msi = true;
		d->msi_val = v;
		break;
	case IOS_EVTCHN:
		d->want_evtchn = true;
		d->evtchn_port = v;
		break;
	case IOS_MAGIC:
		d->done = true;
		break;
	}
}

void
xtd_print_vcpus(const struct xtd_dev *d, unsigned nr_vcpus)
{
	for (unsigned i = 0; i < nr_vcpus && i < XTD_MAX_VCPUS; i++)
		printf("HCVS-SRV vcpu=%u replies=%u crc=%08x\n", i,
		    d->replies[i], d->crc[i]);
}

void
xtd_touch(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f != NULL)
		fclose(f);
}
