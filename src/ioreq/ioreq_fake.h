/* SPDX-License-Identifier: MIT */
/*
 * The fake ioreq page: plays Xen's side of the page for the shm
 * source.  It creates a memfd holding a shared_iopage_t laid out exactly
 * as Xen's (optionally a buffered_iopage_t), guest RAM as a memfd, and an
 * eventfd pair per vCPU; the server side opens them with ioreq_shm_open()
 * in this process, or in another process after ioreq_fake_send() /
 * ioreq_fake_recv().
 *
 * The guest that produces requests on the page is test code
 * (tests/fakes/fake_guest.h): the daemon only serves a page.
 *
 * Functions return 0 or a negative errno.  ioreq_fake_new/recv/free are
 * not concurrent with anything.
 */
#ifndef HCVS_IOREQ_FAKE_H
#define HCVS_IOREQ_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "ioreq/ioreq.h"

struct ioreq;
struct buffered_iopage;
struct ioreq_fake;

struct ioreq_fake_cfg {
	unsigned	nr_vcpus;	/* 1 .. IOREQ_SHM_MAX_VCPUS */
	bool		bufioreq;	/* a buffered page and its doorbell */
	/*
	 * Buffered-ring producer like HVM_IOREQSRV_BUFIOREQ_LEGACY: no
	 * pointer canonicalisation (default is ATOMIC, as QEMU on x86).
	 */
	bool		buf_legacy;
	uint64_t	ram_gpa;	/* guest RAM base (page aligned) */
	uint64_t	ram_size;	/* bytes, page multiple; 0: no RAM */
	int		timeout_ms;	/* per request; 0: 5000; -1: forever */
};

/* Create everything.  Slots start NONE with vp_eport = vcpu + 1. */
int	ioreq_fake_new(const struct ioreq_fake_cfg *cfg, struct ioreq_fake **fp)
	    __must_check;
/* Unmap and close everything.  NULL is a no-op. */
void	ioreq_fake_free(struct ioreq_fake *f);

/*
 * Server side, this process: the configuration for ioreq_shm_open().
 * Valid while f lives; ioreq_shm_open() dups every fd it keeps.
 */
const struct ioreq_shm_cfg *ioreq_fake_shm_cfg(const struct ioreq_fake *f);

/*
 * Another process: send the page, RAM, buffered page and every eventfd
 * (SCM_RIGHTS, one message) over a connected AF_UNIX socket; the peer's
 * ioreq_fake_recv() builds an equivalent fake over the same memory and
 * eventfds, usable from either side (shm cfg or guest calls).
 * -E2BIG past 124 vCPUs (SCM_MAX_FD); recv: -EPROTO on a malformed
 * message or memory that is not a memfd sealed with F_SEAL_SHRINK
 * (every received fd closed).
 */
int	ioreq_fake_send(const struct ioreq_fake *f, int sock) __must_check;
int	ioreq_fake_recv(int sock, struct ioreq_fake **fp) __must_check;

unsigned ioreq_fake_nr_vcpus(const struct ioreq_fake *f);

/*
 * Guest RAM as the test sees it: the mapping, its guest-physical base and
 * size (NULL / 0 without RAM).
 */
void	*ioreq_fake_ram(const struct ioreq_fake *f, uint64_t *gpa, size_t *size);

/* The raw slots and buffered page (NULL without), for the guest and hostile tests. */
struct ioreq *ioreq_fake_slots(const struct ioreq_fake *f);
struct buffered_iopage *ioreq_fake_bufpage(const struct ioreq_fake *f);

#endif /* HCVS_IOREQ_FAKE_H */
