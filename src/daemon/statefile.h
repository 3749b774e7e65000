/* SPDX-License-Identifier: MIT */
/*
 * The runtime state file, <state_dir>/<name>.state: what a restarted
 * hcvsockd needs to re-attach to the IOREQ server a crashed one left
 * behind (the server id) and to carry on with the device the guest
 * configured (an opaque export of the device's state).
 *
 * Text, one "key value" per line; written to a temporary file and
 * renamed, so a reader sees the old or the new state, never half.
 * Readers treat the whole file as untrusted input.
 */
#ifndef HCVS_STATEFILE_H
#define HCVS_STATEFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"

#define STATEFILE_VERSION	1
#define STATEFILE_DEV_MAX	1024

struct statefile {
	uint32_t	sf_version;
	pid_t		sf_pid;		/* process that wrote it */
	uint32_t	sf_domid;	/* UINT32_MAX: loopback */
	int32_t		sf_server_id;	/* -1: none */
	size_t		sf_dev_len;
	uint8_t		sf_dev[STATEFILE_DEV_MAX];
};

/* Atomically replace `path` with *sf (mode 0600). */
int	statefile_write(const char *path, const struct statefile *sf) __must_check;

/*
 * Read `path`.  -ENOENT if absent, -EINVAL if malformed or of another
 * version (the caller discards it), -ENOTSUP if it is not a regular file
 * (a FIFO there is never waited on), -errno of open/read otherwise (e.g.
 * -EACCES: unreadable is not malformed).
 */
int	statefile_read(const char *path, struct statefile *sf) __must_check;

#endif /* HCVS_STATEFILE_H */
