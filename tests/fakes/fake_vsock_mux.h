/* SPDX-License-Identifier: MIT */
/*
 * A test double of the vsock muxer as the device's packet backend
 * (vsock_backend.h, fake_mux_backend_ops, arg = the fake): it records what the
 * device delivers and plays a small host peer: an echo service on chosen
 * ports with credit accounting, host-initiated connects, half-close and
 * RST rules.  Only for unit tests of the device and the guest driver; the
 * real muxer is tested end to end elsewhere.
 */
#ifndef HCVS_FAKE_VSOCK_MUX_H
#define HCVS_FAKE_VSOCK_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vsock/vsock_wire.h"

struct fake_mux;
struct vsock_backend_ops;

extern const struct vsock_backend_ops fake_mux_backend_ops;

/*
 * rx_ready(arg) is called when the test makes packets appear (push,
 * connect, unpause), never from a backend operation.
 */
struct fake_mux *fake_mux_new(uint64_t guest_cid, void (*rx_ready)(void *),
	    void *arg);
void	fake_mux_free(struct fake_mux *m);

/* Ports on CID 2 with an echo service; REQUESTs elsewhere get RST. */
void	fake_mux_listen(struct fake_mux *m, uint32_t port);
/* buf_alloc the host advertises (default 256 KiB). */
void	fake_mux_set_buf_alloc(struct fake_mux *m, uint32_t bytes);
/* Paused: the echo service neither consumes nor echoes (slow reader). */
void	fake_mux_pause(struct fake_mux *m, bool paused);
/* Host-initiated connect to the guest's port; returns the host port. */
uint32_t fake_mux_connect(struct fake_mux *m, uint32_t guest_port);
/* Queue an arbitrary packet for the guest (len bytes of payload). */
void	fake_mux_push(struct fake_mux *m, const struct vsock_pkt_hdr *h,
	    const void *payload);

/* What the guest sent: counts per op, the last header and payload. */
unsigned fake_mux_count(const struct fake_mux *m, uint16_t op);
unsigned fake_mux_total(const struct fake_mux *m);
const struct vsock_pkt_hdr *fake_mux_last(const struct fake_mux *m);
const uint8_t *fake_mux_last_payload(const struct fake_mux *m);
unsigned fake_mux_resets(const struct fake_mux *m);
/*
 * TX batches: payloads the device handed over in place (send_held), the
 * last one's address, and a hook run at each batch end (tx_end).
 */
unsigned fake_mux_held(const struct fake_mux *m);
const void *fake_mux_last_held(const struct fake_mux *m);
void	fake_mux_on_tx_end(struct fake_mux *m, void (*hook)(void *), void *arg);
/*
 * What credit_wait reports (VSOCK_WAIT_*; default 0: no connection
 * waits) until the guest's next packet, which ends the wait.
 */
void	fake_mux_set_credit_wait(struct fake_mux *m, unsigned what,
	    uint64_t stalls);
/* Live host-side connections. */
unsigned fake_mux_conns(const struct fake_mux *m);
/* Bytes the echo service holds (received, not yet echoed). */
size_t	fake_mux_buffered(const struct fake_mux *m);

#endif /* HCVS_FAKE_VSOCK_MUX_H */
