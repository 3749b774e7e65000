/* SPDX-License-Identifier: MIT */
/* The test device's echo transform and CRC-32, shared by the dom0 programs. */
#include "xen_testdev.h"

uint32_t
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

uint32_t
xtd_xform(uint32_t x)
{
	return ((x << 7) | (x >> 25)) ^ 0xa5a5a5a5u;
}
