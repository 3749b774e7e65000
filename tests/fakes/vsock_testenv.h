/* SPDX-License-Identifier: MIT */
/*
 * A guest for the vsock device tests: memfd RAM mapped both as the
 * device's guest memory and in the test (the guest's view), the device,
 * the muxer test double, recorded interrupts, and a guest-driver platform
 * whose register accesses reach the device's handler ops.
 */
#ifndef HCVS_VSOCK_TESTENV_H
#define HCVS_VSOCK_TESTENV_H

#include <stdbool.h>
#include <stdint.h>

#include "hcvsock_guest.h"
#include "vsock/vsock_dev.h"

#define VT_RAM_GPA	0x100000ull
#define VT_RAM_SIZE	(8u << 20)
#define VT_CID		42u

struct vtenv_opts {
	bool		is_hvm;
	uint32_t	irq_caps;
	uint32_t	features;	/* 0: device default */
};

struct vtenv {
	int			 memfd;
	uint8_t			*ram;		/* guest view */
	struct ioreq_mem	*mem;
	struct vsock_dev	*dev;
	struct vsock_mux	*mux;
	struct vtenv_opts	 opts;

	/* Interrupts. */
	unsigned		 setups;
	int			 setup_rc;
	struct vsock_irq_cfg	 setup_last;
	unsigned		 raises;
	unsigned		 lowers;
	struct vsock_irq_cfg	 raise_last;
	unsigned		 irqs_pending;	/* raised, not yet handled */

	/* Guest driver glue. */
	struct hcvg_platform	 plat;
	struct hcvg		*drv;		/* for interrupt delivery */
	bool			 no_backend;	/* registers read all-ones */
	unsigned		 waits;
	unsigned		 isr_seen;
};

struct vtenv	*vtenv_new(const struct vtenv_opts *o);
void		 vtenv_free(struct vtenv *e);
/* Replace device and muxer (a restarted daemon); memory is kept. */
void		 vtenv_restart(struct vtenv *e);

uint32_t	 vt_rd(struct vtenv *e, uint32_t off);
void		 vt_wr(struct vtenv *e, uint32_t off, uint32_t v);
uint32_t	 vt_cmd(struct vtenv *e, uint32_t cmd, uint32_t a0, uint32_t a1,
		    uint32_t a2, uint32_t a3);
/* Run the device's deferred work until it has none (bounded). */
void		 vt_pump(struct vtenv *e);

/* Little-endian accessors on guest RAM, by guest-physical address. */
uint32_t	 vt_get32(struct vtenv *e, uint64_t gpa);
void		 vt_put32(struct vtenv *e, uint64_t gpa, uint32_t v);
void		*vt_ptr(struct vtenv *e, uint64_t gpa);

#endif /* HCVS_VSOCK_TESTENV_H */
