/* SPDX-License-Identifier: MIT */
/*
 * The fake ioreq page and fake guest: plays Xen and the guest for the shm
 * source.  It creates a memfd holding a shared_iopage_t laid out exactly
 * as Xen's (optionally a buffered_iopage_t), guest RAM as a memfd, and an
 * eventfd pair per vCPU; the server side opens them with ioreq_shm_open()
 * in this process, or in another process after ioreq_fake_send() /
 * ioreq_fake_recv().
 *
 * Guest-side calls fill a slot the way Xen's ioreq_send() does (the slot
 * must be NONE; fields, release fence, READY, kick), then wait for
 * IORESP_READY as wait_for_io() does (take `data`, set NONE).  Anything
 * else the server does to the slot is a protocol violation that would
 * crash a real domain: reported as -EPROTO.
 *
 * Functions return 0 or a negative errno.  Thread safety: calls on
 * different vCPUs may run concurrently from different threads (one thread
 * per vCPU is the model); calls on the same vCPU are serialised by a
 * per-vCPU lock; buffered writes by a ring lock.  ioreq_fake_new/recv/
 * free are not concurrent with anything.  Test-only helpers are marked.
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

/* Spin up to `ns` on the slot before blocking on the eventfd (bench). */
void	ioreq_fake_set_spin(struct ioreq_fake *f, uint64_t ns);
void	ioreq_fake_set_timeout(struct ioreq_fake *f, int timeout_ms);

/* ---- Guest accesses (dir: IOREQ_READ 1 / IOREQ_WRITE 0) ---------------- */

/*
 * One port access of `size` bytes; reads return the answer in *data,
 * writes send *data.  -EINVAL for a vCPU out of range or a size other
 * than 1/2/4 (Xen would never produce it: use ioreq_fake_raw); -EBUSY if
 * the slot is not NONE; -ETIMEDOUT if unanswered (the slot stays READY or
 * INPROCESS; ioreq_fake_reset_slot before reuse); -EPROTO as above.
 */
int	ioreq_fake_pio(struct ioreq_fake *f, unsigned vcpu, uint16_t port,
	    unsigned size, int dir, uint64_t *data) __must_check;

/* One MMIO (IOREQ_TYPE_COPY) access, size 1/2/4/8. */
int	ioreq_fake_mmio(struct ioreq_fake *f, unsigned vcpu, uint64_t gpa,
	    unsigned size, int dir, uint64_t *data) __must_check;

/*
 * A rep access as Xen issues for REP INS/OUTS (type IOREQ_TYPE_PIO) or
 * REP MOVS/STOS (IOREQ_TYPE_COPY).  With data_is_ptr, *data is the guest
 * buffer's address (element i at *data -/+ i*size); without it, *data is
 * the value (written count times, or the last element read).  With df,
 * MMIO `addr` and the buffer are the *highest* element.
 */
int	ioreq_fake_rep(struct ioreq_fake *f, unsigned vcpu, uint8_t type,
	    uint64_t addr, unsigned size, uint32_t count, int dir, bool df,
	    bool data_is_ptr, uint64_t *data) __must_check;

/*
 * A buffered write, as Xen's hvm_buffered_io_send(): type PIO or COPY,
 * addr < 1 MiB, size 1/2/4/8 (8 takes two slots), then the ring's
 * doorbell.  -EAGAIN when the ring is full (Xen then sends the request
 * synchronously; so may the caller); -ENODEV without a buffered page.
 */
int	ioreq_fake_buffered_write(struct ioreq_fake *f, uint8_t type,
	    uint32_t addr, unsigned size, uint64_t data) __must_check;

/* ---- Test-only helpers --------------------------------------------------- */

/*
 * Issue `req` verbatim (every field but vp_eport and state, which
 * becomes READY), kick, wait; *resp gets the slot as the server left it
 * at IORESP_READY.  For hostile requests.
 */
int	ioreq_fake_raw(struct ioreq_fake *f, unsigned vcpu,
	    const struct ioreq *req, struct ioreq *resp) __must_check;

/* Split form of ioreq_fake_raw: publish and kick / wait and retire. */
int	ioreq_fake_submit(struct ioreq_fake *f, unsigned vcpu,
	    const struct ioreq *req) __must_check;
int	ioreq_fake_complete(struct ioreq_fake *f, unsigned vcpu,
	    struct ioreq *resp) __must_check;

/* Ring vCPU `vcpu`'s doorbell with no request (a spurious event). */
int	ioreq_fake_kick(struct ioreq_fake *f, unsigned vcpu);

/* The raw slots and buffered page (NULL without), for hostile tests. */
struct ioreq *ioreq_fake_slots(const struct ioreq_fake *f);
struct buffered_iopage *ioreq_fake_bufpage(const struct ioreq_fake *f);

/* Force a slot back to NONE (after -ETIMEDOUT in a test). */
void	ioreq_fake_reset_slot(struct ioreq_fake *f, unsigned vcpu);

/* Set both ring pointers (ring must be empty: rd == wr). */
int	ioreq_fake_buffered_set_pointers(struct ioreq_fake *f, uint32_t ptr);

#endif /* HCVS_IOREQ_FAKE_H */
