/* SPDX-License-Identifier: MIT */
/*
 * The real hcvsock device and muxer on a fake_srv page, wired by hand as
 * the daemon's binding wires them, for the end-to-end tests that choose
 * the device's view of guest memory (the binding always gives it the
 * source's): the muxer (and, on request, protocol MSG's session bridge
 * next to its listener), the device behind a PIO window and an optional
 * MMIO page, and the device's work after each completed request and
 * each host wake-up, in bounded passes with the rest from a zero timer.
 *
 * Open after fake_srv_open and before fake_srv_start; close before
 * fake_srv_close.
 */
#ifndef HCVS_FAKE_VSOCK_H
#define HCVS_FAKE_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"

struct fake_srv;

struct fake_vsock {
	struct fake_srv		*fv_fs;
	struct vsock_mux	*fv_mux;
	struct vsock_mig	*fv_mig;	/* NULL: no protocol MSG */
	struct vsock_dev	*fv_dev;
	int64_t			 fv_timer;	/* pending work, 0: none */
	char			 fv_mig_path[108];
};

/*
 * mc: the muxer's configuration (rx_ready is set here).  dc: the
 * device's (mem NULL: the source's; the backends are set here).
 * mmio_base 0: no MMIO window.  mig: offer protocol MSG, its host
 * listener at mc->uds_path "_migtd" (fv_mig_path).  0 or -errno; on
 * error what was made is freed.
 */
int	fake_vsock_open(struct fake_vsock *fv, struct fake_srv *fs,
	    const struct vsock_mux_cfg *mc, const struct vsock_dev_cfg *dc,
	    uint64_t pio_base, uint64_t mmio_base, bool mig);
/* Free the device, the session bridge and the muxer.  Zeroed: no-op. */
void	fake_vsock_close(struct fake_vsock *fv);

#endif /* HCVS_FAKE_VSOCK_H */
