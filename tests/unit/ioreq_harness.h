/* SPDX-License-Identifier: MIT */
/*
 * Shared by the ioreq suites: a fake page served by a shm source, a
 * recording register-file device, and a pump that services the notifier
 * on the test thread (or a server thread for concurrency tests).
 */
#ifndef HCVS_IOREQ_HARNESS_H
#define HCVS_IOREQ_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ioreq/ioreq_impl.h"
#include "fake_guest.h"

#define H_PIO_BASE	0x500u
#define H_PIO_LEN	0x20u
#define H_MMIO_BASE	0xfe000000ull
#define H_MMIO_LEN	0x1000u
#define H_RAM_GPA	0x100000ull
#define H_RAM_SIZE	(64u * 4096u)
#define H_LOG_MAX	8192

/* One device access as the handler saw it. */
struct h_access {
	unsigned	vcpu;
	bool		write;
	uint64_t	off;
	unsigned	size;
	uint64_t	val;
};

/*
 * A device over `len` bytes: reads return the next value of `next_read`
 * when set (incremented per read), else the stored bytes.  Every access
 * is checked (size valid, inside the range) and logged.
 */
struct h_dev {
	pthread_mutex_t	lock;
	uint64_t	len;
	uint8_t		regs[H_MMIO_LEN];
	bool		counting;
	uint64_t	next_read;
	unsigned	nlog;
	struct h_access	log[H_LOG_MAX];
	unsigned	bad;		/* accesses that broke the contract */
	void		(*hook)(void *arg);	/* run inside each access */
	void		*hook_arg;
};

struct h_env {
	struct ioreq_fake	*fake;
	struct ioreq_source	*src;
	struct ioreq_engine	*eng;
	struct notifier		*n;
	uint32_t		 vport[IOREQ_SHM_MAX_VCPUS];
	uint32_t		 bport;
	struct h_dev		 pio;
	struct h_dev		 mmio;
	pthread_t		 server;
	volatile int		 server_stop;
	bool			 server_running;
};

extern const struct ioreq_handler_ops h_dev_ops;

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
