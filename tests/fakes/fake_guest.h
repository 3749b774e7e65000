/* SPDX-License-Identifier: MIT */
/*
 * The fake guest on a fake ioreq page (ioreq/ioreq_fake.h): test code.
 * Guest-side calls fill a slot the way Xen's ioreq_send() does (the slot
 * must be NONE; fields, release fence, READY, kick), then wait for
 * IORESP_READY as wait_for_io() does (take `data`, set NONE).  Anything
 * else the server does to the slot is a protocol violation that would
 * crash a real domain: reported as -EPROTO.
 *
 * Functions return 0 or a negative errno.  Thread safety: calls on
 * different vCPUs may run concurrently from different threads (one thread
 * per vCPU is the model); calls on the same vCPU are serialised by a
 * per-vCPU lock; buffered writes by a ring lock.
 */
#ifndef HCVS_FAKE_GUEST_H
#define HCVS_FAKE_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "ioreq/ioreq_fake.h"

/* Spin up to `ns` on the slot before blocking on the eventfd (bench). */
void	ioreq_fake_set_spin(struct ioreq_fake *f, uint64_t ns);

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

/* Force a slot back to NONE (after -ETIMEDOUT in a test). */
void	ioreq_fake_reset_slot(struct ioreq_fake *f, unsigned vcpu);

/* Set both ring pointers (ring must be empty: rd == wr). */
int	ioreq_fake_buffered_set_pointers(struct ioreq_fake *f, uint32_t ptr);

#endif /* HCVS_FAKE_GUEST_H */
