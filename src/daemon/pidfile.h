/* SPDX-License-Identifier: MIT */
/*
 * A locked pid file (after varstored): created 0644, locked with
 * lockf(F_TLOCK) and kept open for the life of the process so that a
 * second instance fails at once and a stale file from a crash does not
 * block a restart.
 */
#ifndef HCVS_PIDFILE_H
#define HCVS_PIDFILE_H

#include <sys/types.h>

#include "common/compiler.h"

/*
 * Open and lock `path` (mode 0644 whatever the umask).  Returns the fd
 * (>= 0), -EEXIST if another live process holds the lock (its pid in
 * *holder if known, else 0), -ENOTSUP if the path is not a regular file,
 * -errno.
 */
int	pidfile_open(const char *path, pid_t *holder) __must_check;
/* Write the calling process's pid (after a fork, by the child). */
int	pidfile_write(int fd);
/*
 * Unlink and close.  Where the unlink is refused (privileges dropped and
 * the directory not writable by the user) the file is emptied instead.
 */
void	pidfile_close(int fd, const char *path);

#endif /* HCVS_PIDFILE_H */
