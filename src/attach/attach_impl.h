/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the attach module's files (and its tests): the
 * per-field checks that both the socket protocol and attach_desc_check()
 * apply, and the reason formatter.
 */
#ifndef HCVS_ATTACH_IMPL_H
#define HCVS_ATTACH_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "attach/attach.h"
#include "hcvsock_abi.h"

/* The guest ABI's numbers the attach checks use. */
#define ATTACH_WINDOW_SIZE	HCVS_REG_WINDOW_SIZE
#define ATTACH_GSI_MAX		HCVS_GSI_MAX

/* Format a reason into err (if any) and return rc. */
int	attach_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	    __printf(4, 5);

int	attach_check_region(const struct attach_region *r, unsigned idx,
	    char *err, size_t errlen);
int	attach_check_device(uint64_t cid, enum ioreq_space space, uint64_t base,
	    unsigned nr_vcpus, char *err, size_t errlen);
int	attach_check_vm_fd(int fd, char *err, size_t errlen);
int	attach_check_eventfd(int fd, const char *what, char *err,
	    size_t errlen);

/*
 * Receive one message: header checked (magic, version, sizes, fd count
 * as announced), payload copied to buf (exactly hdr->mh_size bytes),
 * fds in fds[] (CLOEXEC).  -EAGAIN, -ECONNRESET on EOF, -EPROTO with a
 * reason; on any error no fd stays open.
 */
int	attach_recv_msg(int sock, struct attach_msg_hdr *hdr, void *buf,
	    size_t buflen, int *fds, unsigned *nfds, char *err, size_t errlen);

/* Close fds[0..n) that are open and mark them -1. */
void	attach_close_fds(int *fds, unsigned n);

#endif /* HCVS_ATTACH_IMPL_H */
