/* SPDX-License-Identifier: MIT */
/*
 * The loopback hand-off: how a fake guest (a test, tools/demo) gives
 * `hcvsockd --loopback SOCKET` its ioreq page, guest RAM and eventfds.
 *
 * The fake guest listens on SOCKET (AF_UNIX, stream).  The daemon
 * connects and receives one message: struct loopback_hello (little-endian
 * host order; both ends are one machine) with SCM_RIGHTS fds, in order:
 *
 *   page_fd
 *   bufpage_fd, buf_kick_fd          only if LOOPBACK_F_BUFFERED
 *   kick_fd[i], done_fd[i]           for each vCPU i
 *   region_fd[j]                     for each RAM region j
 *
 * The daemon validates everything (counts, fd types, sizes), builds an
 * ioreq_shm_cfg and writes "READY\n" on the socket once it serves the
 * page (the same moment it sends READY=1 to systemd).  Closing the
 * socket, from either end, ends the guest: the daemon exits 0, as it
 * does when a Xen domain dies.
 */
#ifndef HCVS_LOOPBACK_H
#define HCVS_LOOPBACK_H

#include <stdint.h>

#include "common/compiler.h"
#include "ioreq/ioreq.h"

#define LOOPBACK_MAGIC		0x424c5648u	/* "HVLB" */
#define LOOPBACK_VERSION	1
#define LOOPBACK_MAX_VCPUS	64
#define LOOPBACK_F_BUFFERED	0x1u
#define LOOPBACK_MAX_FDS	(3 + 2 * LOOPBACK_MAX_VCPUS + \
				 IOREQ_SHM_MAX_REGIONS)

struct loopback_region {
	uint64_t	lr_gpa;
	uint64_t	lr_size;
	uint64_t	lr_offset;
};

struct loopback_hello {
	uint32_t		lh_magic;
	uint16_t		lh_version;
	uint16_t		lh_flags;
	uint32_t		lh_nr_vcpus;
	uint32_t		lh_nr_regions;
	struct loopback_region	lh_regions[IOREQ_SHM_MAX_REGIONS];
};

/* What the daemon received: a cfg whose arrays point into this struct. */
struct loopback_guest {
	int			lg_sock;	/* the connection, kept open */
	int			lg_fds[LOOPBACK_MAX_FDS];
	unsigned		lg_nr_fds;
	struct ioreq_shm_vcpu	lg_vcpus[LOOPBACK_MAX_VCPUS];
	struct ioreq_shm_region	lg_regions[IOREQ_SHM_MAX_REGIONS];
	struct ioreq_shm_cfg	lg_cfg;
};

/*
 * Daemon side: connect to `path`, receive and validate the hello.
 * Waits at most timeout_ms.  On success g->lg_cfg is ready for
 * ioreq_shm_open().  -EPROTO for a malformed hello, -errno otherwise.
 */
int	loopback_accept_guest(const char *path, int timeout_ms,
	    struct loopback_guest *g) __must_check;
/* Tell the fake guest the page is served. */
int	loopback_send_ready(struct loopback_guest *g);
/* Close every received fd and the connection. */
void	loopback_guest_close(struct loopback_guest *g);

/*
 * Fake-guest side: send the hello for `cfg` on a connected socket.
 * cfg->nr_vcpus <= LOOPBACK_MAX_VCPUS.
 */
int	loopback_send_hello(int sock, const struct ioreq_shm_cfg *cfg)
	    __must_check;
/* Fake-guest side: wait up to timeout_ms for "READY\n". */
int	loopback_wait_ready(int sock, int timeout_ms) __must_check;

#endif /* HCVS_LOOPBACK_H */
