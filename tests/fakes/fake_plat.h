/* SPDX-License-Identifier: MIT */
/*
 * The freestanding guest driver's platform over the fake ioreq page: each
 * register access is a request on vCPU 0, by port I/O at `pio` or, with
 * `mmio` set, by MMIO at `mmio_base`; guest RAM is `ram` at `ram_gpa`;
 * waits sleep 20 us so that the daemon's loop runs.  A register write the
 * page could not deliver is counted (a lost write is the guest's problem,
 * as on real hardware; the test decides); a read that failed returns all
 * ones.  The first failed access's error is kept.
 */
#ifndef HCVS_FAKE_PLAT_H
#define HCVS_FAKE_PLAT_H

#include <stdbool.h>
#include <stdint.h>

#include "hcvsock_guest.h"

struct ioreq_fake;

struct fake_plat {
	struct ioreq_fake	*fp_fake;
	uint16_t		 fp_pio;
	bool			 fp_mmio;
	uint64_t		 fp_mmio_base;
	uint8_t			*fp_ram;
	uint64_t		 fp_ram_gpa;
	volatile unsigned	 fp_lost_writes;
	int			 fp_err;	/* -errno of the first failure; 0: none */
};

/* Fill p with the callbacks, ctx = fp. */
void	fake_plat_init(struct fake_plat *fp, struct hcvg_platform *p);

#endif /* HCVS_FAKE_PLAT_H */
