/* SPDX-License-Identifier: MIT */
/*
 * The runtime state file, <state_dir>/<name>.state: what a restarted
 * hcvsockd needs to re-attach to the IOREQ server a crashed one left
 * behind (the server id) and to carry on with the device the guest
 * configured (the device's exported state).
 *
 * Text, one "key value" per line, every value a decimal number under a
 * name: nothing depends on the layout of a C struct, so a field added
 * later is a new line and an old reader refuses the file by its version
 * rather than misreading bytes.  Written to a temporary file and renamed,
 * so a reader sees the old or the new state, never half.  Readers treat
 * the whole file as untrusted input.
 *
 * Version 2 (written): version, pid, domid, server_id, cid (a KVM guest's
 * file only), page_dev and page_ino (a loopback daemon's file only), then
 * either all of the dev_* fields or none.  Version 1 (read only, written by older
 * daemons): the same header and "device <hex>", a dump of the device
 * state struct as it was then laid out; decoded from that fixed layout.
 */
#ifndef HCVS_STATEFILE_H
#define HCVS_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"
#include "vsock/vsock_dev.h"

#define STATEFILE_VERSION	2

struct statefile {
	uint32_t	sf_version;	/* as read; the writer writes 2 */
	pid_t		sf_pid;		/* process that wrote it */
	uint32_t	sf_domid;	/* UINT32_MAX: loopback, KVM */
	int32_t		sf_server_id;	/* -1: none */
	uint64_t	sf_cid;		/* KVM: the guest's CID; 0: not KVM */
	/*
	 * Loopback: the fake guest's page (its memfd's st_dev and st_ino),
	 * which is all that tells one fake guest from another; 0: not
	 * loopback (or a file written before they were recorded).
	 */
	uint64_t	sf_page_dev;
	uint64_t	sf_page_ino;
	bool		sf_has_dev;	/* sf_dev holds a recorded device */
	struct vsock_dev_state sf_dev;
};

/* Atomically replace `path` with *sf (mode 0600). */
int	statefile_write(const char *path, const struct statefile *sf) __must_check;

/*
 * Read `path`.  0 with *sf filled (a version 1 file whose device dump is
 * not of the one layout version 1 had: sf_has_dev false); -ENOENT if
 * absent; -EPROTONOSUPPORT for a version this reader does not know
 * (sf_version says which); -EINVAL if malformed; -ENOTSUP if it is not a
 * regular file (a FIFO there is never waited on); -errno of open/read
 * otherwise (e.g. -EACCES: unreadable is not malformed).
 */
int	statefile_read(const char *path, struct statefile *sf) __must_check;

/*
 * The text of a state file, both ways (statefile_write and _read use
 * them; the fuzzer too): statefile_format() writes version 2 into buf
 * (STATEFILE_MAX is always enough) and returns its length;
 * statefile_parse() reads `len` bytes as statefile_read() does.
 */
#define STATEFILE_MAX	4096
size_t	statefile_format(const struct statefile *sf, char *buf, size_t size);
int	statefile_parse(const char *text, size_t len, struct statefile *sf)
	    __must_check;

#endif /* HCVS_STATEFILE_H */
