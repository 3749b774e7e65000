/* SPDX-License-Identifier: MIT */
/* hcvsockd: entry point (the daemon proper lands with issue 6). */
#include <stdio.h>

int
main(void)
{
	printf("%s\n", PACKAGE_STRING);
	return 0;
}
