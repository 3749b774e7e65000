/* SPDX-License-Identifier: MIT */
/*
 * The monotonic clock, for deadlines, busy-poll windows and rate limits.
 * Header-only: every layer uses it, and not every program that links a
 * layer links libcommon.
 */
#ifndef HCVS_MONO_H
#define HCVS_MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
mono_ms(void)
{
	return mono_ns() / 1000000ull;
}

#endif /* HCVS_MONO_H */
