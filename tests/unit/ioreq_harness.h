/* SPDX-License-Identifier: MIT */
/*
 * Shared by the ioreq suites: a fake page served by a shm source, two
 * recording devices (rec_dev.h), and a pump that services the notifier
 * on the test thread (or a server thread for concurrency tests).
 */
#ifndef HCVS_IOREQ_HARNESS_H
#define HCVS_IOREQ_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ioreq/ioreq_impl.h"
#include "fake_guest.h"
#include "rec_dev.h"

#define H_PIO_BASE	0x500u
#define H_PIO_LEN	0x20u
#define H_MMIO_BASE	0xfe000000ull
#define H_MMIO_LEN	0x1000u
#define H_RAM_GPA	0x100000ull
#define H_RAM_SIZE	(64u * 4096u)

struct h_env {
	struct ioreq_fake	*fake;
	struct ioreq_source	*src;
	struct ioreq_engine	*eng;
	struct notifier		*n;
	uint32_t		 vport[IOREQ_SHM_MAX_VCPUS];
	uint32_t		 bport;
	struct rec_dev		 pio;
	struct rec_dev		 mmio;
	pthread_t		 server;
	volatile int		 server_stop;
	bool			 server_running;
};

/* Fake + shm source + both devices registered + enabled. */
struct h_env	*h_env_new(unsigned nr_vcpus, bool bufioreq, bool legacy);
void		 h_env_free(struct h_env *env);
/* Service everything pending now; returns the number of ports handled. */
unsigned	 h_pump(struct h_env *env);
/* Run h_pump on a thread until h_server_stop. */
void		 h_server_start(struct h_env *env);
void		 h_server_stop(struct h_env *env);
/* Submit, pump, complete on this thread. */
int		 h_do(struct h_env *env, unsigned vcpu, const struct ioreq *rq,
		     struct ioreq *resp);
struct ioreq_engine_stats h_stats(struct h_env *env);
/* The server changed nothing in the slot but `data` (and the state). */
void		 h_assert_only_data_written(const struct ioreq *rq,
		     const struct ioreq *resp);

#endif /* HCVS_IOREQ_HARNESS_H */
