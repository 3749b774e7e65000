/* SPDX-License-Identifier: MIT */
/*
 * Guest-side programs on the freestanding driver (guest/), shared by the
 * single-threaded guest test and the threaded end-to-end test.  They never
 * assert (the end-to-end test runs them off the cmocka thread): each
 * returns 0 or a negative GPROG_E* naming what went wrong, for the caller
 * to assert on.  Waiting is the driver platform's own wait.
 */
#ifndef HCVS_GUEST_PROG_H
#define HCVS_GUEST_PROG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcvsock_guest.h"
#include "vsock/vsock_wire.h"

#define GPROG_ESEND	(-1)	/* a send failed other than EAGAIN */
#define GPROG_ERECV	(-2)	/* a receive failed other than EAGAIN */
#define GPROG_ESPIN	(-3)	/* no end within the bound of rounds */
#define GPROG_EDATA	(-4)	/* what came back is not what went out */
#define GPROG_ECONN	(-5)	/* a connect failed or was refused */

#define GPROG_FNV_SEED	2166136261u

/* FNV-1a over n bytes, continuing from h (GPROG_FNV_SEED to start). */
uint32_t gprog_fnv1a(uint32_t h, const uint8_t *p, size_t n);

/*
 * Echo over connection `id`: send out[sent..n) and receive n bytes into
 * back, non-blocking and interleaved, waiting when nothing came in; then
 * compare.  `sent` > 0 continues an echo whose first bytes already went.
 */
int	gprog_echo(struct hcvg *g, int id, const uint8_t *out, uint8_t *back,
	    uint32_t n, uint32_t sent);

/* Connect ids[0..n) to `port` without blocking and wait until all are up. */
int	gprog_connect_all(struct hcvg *g, uint32_t port, int *ids, int n);

/*
 * Echo `len` bytes on each of ids[0..n) (n <= 256) at once: out and back
 * hold n rows of `len` bytes.  Compares every row; closes nothing.
 */
int	gprog_echo_all(struct hcvg *g, const int *ids, int n,
	    const uint8_t *out, uint8_t *back, uint32_t len);

/* Blocking receive into buf until EOF; *got is what came. */
int	gprog_recv_to_eof(struct hcvg *g, int id, uint8_t *buf, uint32_t cap,
	    uint32_t *got);

/* A stream header `op` from the guest `cid` to the host (CID 2), len 0. */
void	gprog_hdr(struct vsock_pkt_hdr *h, uint64_t cid, uint16_t op,
	    uint32_t src_port, uint32_t dst_port);

/*
 * Put a hand-made packet into the next TX slot behind the driver's back,
 * publish it and ring the doorbell (the synchronous one if `sync`).
 */
void	gprog_inject_tx(struct hcvg *g, const struct vsock_pkt_hdr *h,
	    bool sync);

#endif /* HCVS_GUEST_PROG_H */
