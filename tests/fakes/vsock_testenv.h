/* SPDX-License-Identifier: MIT */
/*
 * A guest for the vsock device tests: the fake ioreq page (guest RAM as a
 * memfd, seen by the test as the guest's view) served by a shm source and
 * the request engine, the device registered on a PIO and an MMIO range,
 * the muxer test double, recorded interrupts, and a guest-driver
 * platform.  Every register access goes through the page: submitted,
 * serviced by the engine on this thread, completed (single-threaded and
 * deterministic; the end-to-end test uses a guest thread instead).
 */
#ifndef HCVS_VSOCK_TESTENV_H
#define HCVS_VSOCK_TESTENV_H

#include <stdbool.h>
#include <stdint.h>

#include "hcvsock_guest.h"
#include "vsock/vsock_dev.h"

#define VT_PIO_BASE	0x5A0u
#define VT_MMIO_BASE	0xFE800000ull
#define VT_NOBACKEND	0x700u		/* a port nothing claims */
#define VT_RAM_GPA	0x100000ull
#define VT_RAM_SIZE	(8u << 20)
#define VT_CID		42u

struct vtenv_opts {
	uint32_t	irq_caps;
	uint32_t	features;	/* 0: device default */
	uint32_t	backend_domid;
	/* Offer protocol MSG, over a bridge with no host program. */
	bool		msg;
};

struct vtenv {
	struct ioreq_fake	*fake;
	struct ioreq_source	*src;
	struct ioreq_engine	*eng;
	struct notifier		*n;
	uint8_t			*ram;		/* guest view */
	struct ioreq_mem	*mem;
	unsigned		 post_hooks;	/* completed requests */
	bool			 mmio;		/* platform uses the MMIO view */
	struct vsock_dev	*dev;
	struct fake_mux	*mux;
	struct vtenv_opts	 opts;

	/* Interrupts. */
	unsigned		 setups;
	int			 setup_rc;
	struct vsock_irq_cfg	 setup_last;
	unsigned		 raises;
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

/* One access through the page; returns the engine's answer for reads. */
uint64_t	 vt_access(struct vtenv *e, bool mmio, uint64_t off, unsigned size,
		    bool write, uint64_t val);
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
