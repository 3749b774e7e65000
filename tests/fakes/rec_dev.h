/* SPDX-License-Identifier: MIT */
/*
 * A recording range device for tests: a register file over `len` bytes
 * behind struct ioreq_handler_ops.  Reads return the stored bytes (or,
 * with `counting`, the next value of `next_read`), with junk above the
 * access size that the engine must mask; writes store.  Every access is
 * checked (size 1/2/4/8, inside the range; `bad` counts the others) and
 * logged.  Thread-safe; `hook` runs at the start of each access.
 */
#ifndef HCVS_TEST_REC_DEV_H
#define HCVS_TEST_REC_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ioreq/ioreq.h"

#define REC_DEV_MAX	0x1000u		/* bytes of registers at most */
#define REC_LOG_MAX	8192

/* One access as the handler saw it. */
struct rec_access {
	unsigned	vcpu;
	bool		write;
	uint64_t	off;
	unsigned	size;
	uint64_t	val;
};

struct rec_dev {
	pthread_mutex_t	lock;
	uint64_t	len;
	uint8_t		regs[REC_DEV_MAX];
	bool		counting;
	uint64_t	next_read;
	unsigned	nlog;
	struct rec_access log[REC_LOG_MAX];
	unsigned	bad;		/* accesses that broke the contract */
	void		(*hook)(void *arg);	/* run inside each access */
	void		*hook_arg;
};

extern const struct ioreq_handler_ops rec_dev_ops;

/* Zeroed registers and log over `len` (<= REC_DEV_MAX) bytes. */
void	rec_dev_init(struct rec_dev *d, uint64_t len);
void	rec_dev_fini(struct rec_dev *d);

#endif /* HCVS_TEST_REC_DEV_H */
