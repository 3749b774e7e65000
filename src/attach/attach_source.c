/* SPDX-License-Identifier: MIT */
/* An attached KVM guest's request source: the shm source over the VMM's ioreq page, RAM and notification fds. */
#include <stdio.h>
#include <string.h>

#include "attach/attach.h"
#include "attach/attach_impl.h"

int
attach_source_open(const struct attach_desc *d, struct ioreq_source **sp,
    char *err, size_t errlen)
{
	struct ioreq_shm_region regions[ATTACH_MAX_REGIONS];
	struct ioreq_shm_kvm kvm;
	struct ioreq_shm_cfg cfg;
	unsigned i;
	int rc;

	rc = attach_desc_check(d, err, errlen);
	if (rc < 0)
		return rc;
	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < d->ad_nr_regions; i++) {
		regions[i].fd = d->ad_regions[i].ar_fd;
		regions[i].gpa = d->ad_regions[i].ar_gpa;
		regions[i].size = d->ad_regions[i].ar_size;
		regions[i].offset = d->ad_regions[i].ar_offset;
	}
	kvm.vm_fd = d->ad_vm_fd;
	kvm.doorbell_fd = d->ad_vm_fd >= 0 ? -1 : d->ad_kick_fd;
	kvm.irq_fd = d->ad_vm_fd >= 0 ? -1 : d->ad_irq_fd;
	kvm.irq_gsi = d->ad_irq_gsi;
	cfg.page_fd = d->ad_page_fd;
	cfg.bufpage_fd = -1;
	cfg.buf_kick_fd = -1;
	cfg.nr_vcpus = d->ad_nr_vcpus;
	cfg.vcpus = d->ad_vcpus;
	cfg.nr_regions = d->ad_nr_regions;
	cfg.regions = regions;
	cfg.kvm = &kvm;
	rc = ioreq_shm_open(&cfg, sp);
	if (rc < 0)
		return attach_errf(err, errlen, rc, "ioreq page or notification:"
		    " %s", strerror(-rc));
	return 0;
}
