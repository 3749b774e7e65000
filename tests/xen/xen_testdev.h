/* SPDX-License-Identifier: MIT */
/*
 * What the dom0 test programs of the Xen end-to-end cases share with each
 * other and with the PVH guest (tests/xen/pvh/cases.c): the test device's
 * register layout, its echo transform and the CRC-32 the harness compares.
 */
#ifndef HCVS_TESTS_XEN_TESTDEV_H
#define HCVS_TESTS_XEN_TESTDEV_H

#include <stddef.h>
#include <stdint.h>

/* Register offsets from the device's base port. */
#define IOS_DATA	0
#define IOS_MSI		4
#define IOS_EVTCHN	8
#define IOS_MAGIC	12
#define IOS_MAGIC_VAL	0x48435653u

/* CRC-32 (IEEE, reflected), continued from crc (0 to start). */
uint32_t	xtd_crc32_update(uint32_t crc, const void *buf, size_t len);

/* What the echo register answers for the value last written to it. */
uint32_t	xtd_xform(uint32_t x);

#endif
