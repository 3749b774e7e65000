/* SPDX-License-Identifier: MIT */
/*
 * Dropping root after set-up (after varstored's depriv.c).  The caller
 * restricts its Xen handles first (ioreq_source_restrict): the order is
 * handles -> restrict -> directories handed over -> ids -> limits.
 */
#ifndef HCVS_PRIVDROP_H
#define HCVS_PRIVDROP_H

#include <sys/types.h>

#include "common/compiler.h"

/*
 * Create `dir` (and its parents, 0755) or take the one that exists: a
 * symbolic link is refused (-ELOOP), so is a directory owned by anybody
 * but root, the caller or uid (-EPERM); sockets and symbolic links in it
 * that belong to none of them nor to gid are removed (they predate our
 * ownership).  Then fchown(uid:gid) when uid is not -1 and fchmod(mode),
 * both on the open directory.  Logs its own errors.
 */
int	privdrop_take_dir(const char *dir, uid_t uid, gid_t gid, mode_t mode)
	    __must_check;

/*
 * Make a file the daemon created as root (a listening socket) usable by
 * uid:gid after the drop: chown it and set `mode`.  No-op when uid is -1.
 */
int	privdrop_prepare_file(const char *path, uid_t uid, gid_t gid,
	    mode_t mode) __must_check;

/*
 * setgroups(gid) + setgid + setuid, then prove it: setuid(0) must fail
 * and every id must read back as the target.  Also no new privileges, no
 * core dumps.  -EPERM if the proof fails (the caller must exit).
 */
int	privdrop_drop(uid_t uid, gid_t gid) __must_check;

#endif /* HCVS_PRIVDROP_H */
