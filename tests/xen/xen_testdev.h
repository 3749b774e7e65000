/* SPDX-License-Identifier: MIT */
/*
 * The test device of the Xen end-to-end cases, as the dom0 test servers
 * (tests/xen/xen_ioserv.c on Xen's libraries, tests/xen/xen_src_ioserv.c
 * on hcvsock's request source) serve it and the PVH guest
 * (tests/xen/pvh/cases.c) drives it: the register layout, the echo
 * transform and the CRC-32 the harness compares.  The inline part is
 * freestanding (the PVH guest includes it); xen_testdev.c, the device's
 * registers, is for the dom0 programs.
 */
#ifndef HCVS_TESTS_XEN_TESTDEV_H
#define HCVS_TESTS_XEN_TESTDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register offsets from the device's base port (16 bytes of ports). */
#define IOS_DATA	0	/* write X; a read gives xtd_xform(X) */
#define IOS_MSI		4	/* write (apic_id << 8) | vector */
#define IOS_EVTCHN	8	/* write a port: dom0 binds it and notifies */
#define IOS_MAGIC	12	/* read IOS_MAGIC_VAL; write: the server exits */
#define IOS_MAGIC_VAL	0x48435653u
#define IOS_SIZE	16

/* CRC-32 (IEEE, reflected), continued from crc (0 to start). */
static inline uint32_t
xtd_crc32_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* What the echo register answers for the value last written to it. */
static inline uint32_t
xtd_xform(uint32_t x)
{
	return ((x << 7) | (x >> 25)) ^ 0xa5a5a5a5u;
}

#define XTD_MAX_VCPUS	128

/*
 * The device's registers, one echo register per vCPU, and what a write
 * asked the server to do once that request is answered (an interrupt
 * must follow the completion that asked for it).
 */
struct xtd_dev {
	uint32_t	data[XTD_MAX_VCPUS];
	uint32_t	crc[XTD_MAX_VCPUS];	/* of the 4-byte echo reads */
	uint32_t	replies[XTD_MAX_VCPUS];
	bool		want_msi;
	uint32_t	msi_val;		/* (apic_id << 8) | vector */
	bool		want_evtchn;
	uint32_t	evtchn_port;		/* the guest's port */
	bool		done;			/* the guest wrote IOS_MAGIC */
};

/* A read of `size` bytes at `off` (< IOS_SIZE) by vcpu (< XTD_MAX_VCPUS). */
uint32_t	xtd_read(struct xtd_dev *d, unsigned vcpu, uint64_t off,
		    unsigned size);
/* A write; the server acts on want_msi / want_evtchn / done. */
void		xtd_write(struct xtd_dev *d, unsigned vcpu, uint64_t off,
		    uint32_t v);
/* The harness's "HCVS-SRV vcpu=N replies=N crc=X" lines. */
void		xtd_print_vcpus(const struct xtd_dev *d, unsigned nr_vcpus);
/* Create the empty file `path` (the harness waits for it). */
void		xtd_touch(const char *path);

#endif
