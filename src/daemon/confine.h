/* SPDX-License-Identifier: MIT */
/*
 * What confines hcvsockd once it is set up: the fd limit its connection
 * limit needs, and (confine_apply) the capability bounding set, Landlock
 * and the seccomp allowlist of the serving loop.
 */
#ifndef HCVS_CONFINE_H
#define HCVS_CONFINE_H

#include <stdbool.h>

#include "common/compiler.h"

/*
 * Raise RLIMIT_NOFILE's soft limit (and, with the privilege for it, the
 * hard one) towards `need`.  Returns the soft limit in force afterwards
 * (it may stay below `need`; the caller then lowers what it promises).
 */
unsigned long	confine_nofile(unsigned long need);
/* The soft RLIMIT_NOFILE, read only. */
unsigned long	confine_nofile_now(void);

#endif /* HCVS_CONFINE_H */
