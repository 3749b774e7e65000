/* SPDX-License-Identifier: MIT */
/* The runtime of the freestanding test guests: console output and mem*(). */
#include "kvmguest.h"

void
kvmguest_puts(const char *s)
{
	while (*s != '\0')
		hcvg_outb(KVMGUEST_PORT_CONSOLE, (uint8_t)*s++);
}

void
kvmguest_put_hex(const char *label, uint64_t v)
{
	char buf[19];
	int i;

	kvmguest_puts(label);
	buf[0] = '0';
	buf[1] = 'x';
	for (i = 0; i < 16; i++)
		buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
	buf[18] = '\0';
	kvmguest_puts(buf);
	hcvg_outb(KVMGUEST_PORT_CONSOLE, '\n');
}

/*
 * Weak, so that a guest that links the freestanding driver's own
 * versions keeps those.  The stores go through volatile pointers so that
 * no compiler turns these loops back into calls to themselves.
 */
__attribute__((weak)) void *
memcpy(void *dst, const void *src, size_t n)
{
	volatile unsigned char *d = dst;
	const unsigned char *s = src;

	while (n-- > 0)
		*d++ = *s++;
	return dst;
}

__attribute__((weak)) void *
memmove(void *dst, const void *src, size_t n)
{
	volatile unsigned char *d = dst;
	const unsigned char *s = src;

	if (d < s) {
		while (n-- > 0)
			*d++ = *s++;
	} else {
		while (n-- > 0)
			d[n] = s[n];
	}
	return dst;
}

__attribute__((weak)) void *
memset(void *dst, int c, size_t n)
{
	volatile unsigned char *d = dst;

	while (n-- > 0)
		*d++ = (unsigned char)c;
	return dst;
}

__attribute__((weak)) int
memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n > 0; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

__attribute__((weak)) size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}
