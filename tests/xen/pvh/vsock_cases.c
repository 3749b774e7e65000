/* SPDX-License-Identifier: MIT */
/* hcvsock cases of the PVH test guest (filled in with the guest driver). */
#include "pvh.h"

int	hcvs_vsock_cases(const char *name);

int
hcvs_vsock_cases(const char *name)
{
	say("unknown case %s", name);
	return -1;
}
