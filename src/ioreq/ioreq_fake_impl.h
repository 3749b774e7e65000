/* SPDX-License-Identifier: MIT */
/*
 * The fake page's state, shared by ioreq_fake.c (the page, its hand-over)
 * and the test-only guest that produces requests on it
 * (tests/fakes/fake_guest.c).  Nothing else may look inside.
 */
#ifndef HCVS_IOREQ_FAKE_IMPL_H
#define HCVS_IOREQ_FAKE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ioreq/ioreq_impl.h"
#include "ioreq/ioreq_fake.h"

#define FAKE_DEFAULT_TIMEOUT	5000	/* ms per request */

struct fake_vcpu {
	pthread_mutex_t	fv_lock;
	int		fv_kick;	/* guest writes: slot READY */
	int		fv_done;	/* server writes: IORESP_READY */
};

struct ioreq_fake {
	unsigned		 f_nr_vcpus;
	bool			 f_legacy;
	int			 f_timeout_ms;
	_Atomic uint64_t	 f_spin_ns;
	int			 f_page_fd;
	int			 f_buf_fd;
	int			 f_buf_kick;
	int			 f_ram_fd;
	struct ioreq		*f_slots;
	struct buffered_iopage	*f_buf;
	uint8_t			*f_ram;
	uint64_t		 f_ram_gpa;
	uint64_t		 f_ram_size;
	pthread_mutex_t		 f_buf_lock;
	struct fake_vcpu	*f_vcpus;
	struct ioreq_shm_vcpu	*f_shm_vcpus;
	struct ioreq_shm_region	 f_shm_region;
	struct ioreq_shm_cfg	 f_shm_cfg;
};

#endif /* HCVS_IOREQ_FAKE_IMPL_H */
