/* SPDX-License-Identifier: MIT */
/*
 * What the protocols pull from and push to.  RING (vsock_ring.c) moves
 * packets through struct vsock_backend_ops: the muxer (vsock_mux.h) in
 * the daemon, a test double in the unit tests.  MSG (vsock_msg.c) moves
 * migration sessions' bytes through struct vsock_msg_backend_ops: the
 * session bridge (vsock_mig.h).  The device owns the pace, as Firecracker's device
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
#include <stdint.h>

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
	/*
	 * Optional (NULL: never).  True while some connection waits for
	 * the guest's credit: it sent CREDIT_REQUEST, and the guest's
	 * answer is what lets host data move again.  *stalls counts the
	 * stalls so far: it changes when another one begins.
	 */
	bool	(*credit_wait)(const void *b, uint64_t *stalls);
};

/*
 * Migration sessions, keyed by the request id ("mid") the host program
 * chose.  A session starts when the guest takes its request; it ends
 * with the guest's report (or a transport reset).  Errors: -ENOENT (no
 * such session of this guest), -EPIPE (the host program is gone),
 * -EAGAIN (nothing now: has_news turns true when that may change).
 */
struct vsock_msg_backend_ops {
	/*
	 * The oldest request no guest call took yet: 1 with its operation
	 * (1..255), payload and length (8 <= len <= max; the first 8 bytes,
	 * little-endian, are its mid), or 0.  A request longer than max is
	 * refused to its host program and the next one is looked at.
	 */
	int	(*take_request)(void *b, uint32_t *op, void *payload,
		    size_t max, uint32_t *len);
	/* 0 if mid is a live or host-closed session of the guest's. */
	int	(*lookup)(void *b, uint64_t mid);
	/* Guest bytes, all n or nothing: n, -EAGAIN, -EPIPE, -ENOENT. */
	long	(*send)(void *b, uint64_t mid, const void *p, size_t n);
	/* Host bytes: 1..max, -EAGAIN, -EPIPE (host closed), -ENOENT. */
	long	(*recv)(void *b, uint64_t mid, void *p, size_t max);
	/* The guest's ReportStatus: the host program gets it, the session ends. */
	int	(*report)(void *b, uint64_t mid, uint64_t status,
		    const void *data, size_t n);
	/* A monotonic clock in ms, and a wake-up no later than deadline. */
	int64_t	(*now_ms)(void *b);
	void	(*wake_at)(void *b, int64_t deadline_ms);
	/* Something may have changed since ack_news (a request, bytes, room, a close). */
	bool	(*has_news)(const void *b);
	void	(*ack_news)(void *b);
	/* Transport reset: every session ends (host programs see EOF). */
	void	(*reset)(void *b);
};

#endif /* HCVS_VSOCK_BACKEND_H */
