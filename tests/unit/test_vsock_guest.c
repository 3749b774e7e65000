/* SPDX-License-Identifier: MIT */
/* The freestanding guest driver against the device (and a fake muxer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_common.h"

int
main(void)
{
	return 0;
}
