/* SPDX-License-Identifier: MIT */
/*
 * What the RING protocol (vsock_ring.c) pulls packets from and pushes
 * packets to: the muxer (vsock_mux.h) in the daemon, a test double in
 * the unit tests.  The device owns the pace, as Firecracker's device
 * pulls RX from its muxer: it sends every TX packet it takes from the
 * guest, then asks has_rx and pulls with recv while the guest has free
 * RX slots.
 *
 * No operation calls back into the device.  When work appears outside a
 * device call (a host socket became readable, a timer fired) the backend
 * tells whoever owns both (the daemon's per-guest wiring), which then
 * runs vsock_dev_process(); nothing points from the backend to the
 * device, so the two can be created and freed in any order.
 *
 * The device validates a TX header before send (CIDs, type, op, length
 * against the slot); the backend still checks every field it uses.
 */
#ifndef HCVS_VSOCK_BACKEND_H
#define HCVS_VSOCK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "vsock/vsock_wire.h"

struct vsock_backend_ops {
	/* One packet from the guest; hdr->len bytes of payload. */
	void	(*send)(void *b, const struct vsock_pkt_hdr *hdr,
		    const void *payload);
	/*
	 * The next packet for the guest, at most max_payload bytes of
	 * payload: 1 and *hdr, payload filled, or 0 when nothing is queued.
	 */
	int	(*recv)(void *b, struct vsock_pkt_hdr *hdr, void *payload,
		    size_t max_payload);
	/* True while recv would return a packet (may be true once spuriously). */
	bool	(*has_rx)(const void *b);
	/* Transport reset: every connection goes, listeners stay. */
	void	(*reset)(void *b);
	/*
	 * Optional (NULL: send() only).  A TX batch: the device brackets
	 * each run over TX slots with tx_begin and tx_end and may hand
	 * send_held payloads that stay in place, unchanged by the host,
	 * until tx_end returns (guest slots it releases only afterwards),
	 * so the backend can pass them on in one write per connection.
	 */
	void	(*tx_begin)(void *b);
	void	(*send_held)(void *b, const struct vsock_pkt_hdr *hdr,
		    const void *payload);
	void	(*tx_end)(void *b);
};

#endif /* HCVS_VSOCK_BACKEND_H */
