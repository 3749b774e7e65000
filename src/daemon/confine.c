/* SPDX-License-Identifier: MIT */
/* Confinement after set-up: fd limit, capabilities, Landlock, seccomp. */
#include <errno.h>
#include <sys/resource.h>

#include "daemon/confine.h"

unsigned long
confine_nofile_now(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	return rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1 :
	    (unsigned long)rl.rlim_cur;
}

unsigned long
confine_nofile(unsigned long need)
{
	struct rlimit rl, want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		want.rlim_cur = need;
		want.rlim_max = rl.rlim_max != RLIM_INFINITY &&
		    rl.rlim_max < need ? need : rl.rlim_max;
		/* Raising the hard limit needs CAP_SYS_RESOURCE: else to it. */
		if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
			want.rlim_cur = rl.rlim_max;
			want.rlim_max = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &want);
		}
	}
	return confine_nofile_now();
}
