/* SPDX-License-Identifier: MIT */
/*
 * What confines hcvsockd once it is set up, in the order the runtime
 * calls it:
 *   confine_nofile      the fd limit its connection limit needs (start)
 *   confine_bounding    empty the capability bounding set (while still
 *                       root, before the privilege drop: it needs
 *                       CAP_SETPCAP)
 *   ... privileges dropped ...
 *   confine_apply       no capabilities left, Landlock on the state and
 *                       socket directories, then the seccomp allowlist of
 *                       the serving loop
 * A forbidden system call after confine_apply is trapped: a SIGSYS
 * handler writes "seccomp: forbidden system call N (arch 0xA): killed" to
 * stderr and the log, and the process dies of SIGSYS.
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

/* 0, or -errno (-EPERM when not privileged: nothing to bound). */
int	confine_bounding(void);

struct confine_cfg {
	/* Directories the serving loop may create and remove files in. */
	const char	*cc_dirs[2];
	/*
	 * Files it may read again (the configuration, at SIGHUP) and remove
	 * at exit (pid file, attach socket), or NULL: granted on the
	 * directories that hold them, as an edit renames a new file in.
	 */
	const char	*cc_read[1];
	const char	*cc_remove[2];
	bool		 cc_seccomp;	/* false: --no-seccomp */
	bool		 cc_xen;	/* privcmd and evtchn ioctls */
	bool		 cc_kvm;	/* KVM VM fd ioctls */
};

/*
 * Capabilities, Landlock, seccomp.  Logs what it did and what it could
 * not (no Landlock in the kernel, a sanitizer or valgrind that the filter
 * would kill).  -errno only if a layer that is available failed.
 */
int	confine_apply(const struct confine_cfg *cc) __must_check;
/*
 * Test hook (HCVSOCKD_TEST_FORBIDDEN_SYSCALL=1 in hcvsockd's environment):
 * make a system call the filter forbids, to show it kills.
 */
void	confine_selftest(void);

#endif /* HCVS_CONFINE_H */
