/* SPDX-License-Identifier: MIT */
/*
 * The benchmark harness shared by every measurement in hcvsock-bench:
 * sample collection, medians and p99, CPU pinning, the floor and result
 * registry, and the run budget (--quick or full).
 *
 * Conventions: a measurement either records per-operation samples in
 * nanoseconds (latency) or per-chunk samples plus a byte count
 * (throughput).  Statistics are medians and p99 only, never means: the
 * outer host here produces rare millisecond outliers that would swamp a
 * mean.  Measurements return 0, or a negative errno to mark the figure as
 * skipped (with a reason) without failing the run.
 */
#ifndef HCVS_BENCH_H
#define HCVS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/compiler.h"
#include "common/mono.h"

/* ---- Run budget -------------------------------------------------------- */

struct bench_opts {
	bool		quick;		/* smoke test: tiny budgets */
	double		scale;		/* multiplies every time budget */
	int		cpu_a, cpu_b;	/* the two cores pinned threads use */
	bool		verbose;
	const char	*only;		/* substring filter on figure names */
	uint64_t	 sync_poll_ns;	/* a "block" server's sync_poll window */
	uint64_t	 tx_poll_ns;	/* a stream server's TX poll window */
};

extern struct bench_opts bench_opts;

/* Time budget for one measurement (ns), after --quick and --scale. */
uint64_t	bench_budget_ns(double full_seconds);
/* Sample cap matching the budget. */
size_t		bench_max_samples(size_t full);
/* True if a figure named `name` is selected by --only. */
bool		bench_selected(const char *name);

/* ---- Time and CPUs ----------------------------------------------------- */

static inline uint64_t
bench_now_ns(void)
{
	return mono_ns();
}

static inline void
bench_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("pause" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* TSC cycles per nanosecond, calibrated once against CLOCK_MONOTONIC. */
double		bench_tsc_per_ns(void);

/* Pin the calling thread to `cpu` (-1: leave it). Returns 0 or -errno. */
int		bench_pin(int cpu);

/* ---- Samples ------------------------------------------------------------- */

struct bench_samples {
	uint64_t	*s_v;
	size_t		 s_n, s_cap;
	uint64_t	 s_bytes;	/* throughput: total bytes moved */
	uint64_t	 s_elapsed_ns;	/* throughput: wall time of the run */
};

int		bench_samples_init(struct bench_samples *s, size_t cap) __must_check;
void		bench_samples_free(struct bench_samples *s);
static inline void
bench_samples_add(struct bench_samples *s, uint64_t v)
{
	if (s->s_n < s->s_cap)
		s->s_v[s->s_n++] = v;
}
static inline bool
bench_samples_full(const struct bench_samples *s)
{
	return s->s_n >= s->s_cap;
}

struct bench_stat {
	double		median_ns;	/* per operation or per chunk */
	double		p99_ns;
	double		mb_per_s;	/* < 0: not a throughput figure */
	double		p1_ns;		/* for -v: what a quiet machine gives */
	size_t		n;
};

/*
 * Median and p99 of the samples (sorts them).  For a throughput figure
 * pass chunk_bytes > 0: mb_per_s is then chunk_bytes / median time of
 * one chunk (1 MB = 10^6 bytes), the median rate rather than the mean.
 */
void		bench_stat_compute(struct bench_samples *s, size_t chunk_bytes,
		    struct bench_stat *st);

/* ---- Registry ------------------------------------------------------------ */

/* Record a floor. Names are short identifiers, e.g. "eventfd_block". */
void		bench_floor(const char *name, const char *what,
		    const struct bench_stat *st);
/* A floor that is the sum of two others (e.g. kick RPC + AF_UNIX). */
void		bench_floor_sum(const char *name, const char *a, const char *b);
/* The median of a floor or earlier result, or -1 if absent. */
double		bench_floor_median(const char *name);
double		bench_floor_mbps(const char *name);

enum bench_goal {
	BENCH_LE,		/* ratio = median / floor median <= target */
	BENCH_GE,		/* ratio = MB/s / floor MB/s >= target */
	BENCH_INFO,		/* reported, no target */
};

/*
 * Record an hcvsock figure against `floor` (a floor or an earlier
 * result).  Missing floor: the figure is reported without a ratio.
 */
void		bench_result(const char *name, const char *what,
		    const struct bench_stat *st, const char *floor,
		    enum bench_goal goal, double target);
/* A figure that could not run here, with the reason (table only). */
void		bench_skip(const char *name, const char *why);

/*
 * A memory figure: bytes per object over n objects (and the time it took
 * to create one).  The JSON schema has no place for bytes, so it is
 * printed in the table and carried in the notes.
 */
void		bench_memory(const char *name, double bytes_each, unsigned n,
		    double create_ns);

/* A note printed under the table and stored in the JSON "machine". */
void		bench_note(const char *fmt, ...) __printf(1, 2);

/* ---- Measurements ------------------------------------------------------- */

/* Throughput samples are the time per this many bytes (1 MiB). */
#define BENCH_STREAM_WINDOW	(1u << 20)

/*
 * Read a byte stream from fd until the budget or the sample cap is
 * reached; samples are the time for each `window` bytes to arrive (the
 * first tenth of the budget is warm-up).  Returns 0 or -errno.
 */
int		bench_stream_read(int fd, size_t window, double full_seconds,
		    size_t full_samples, struct bench_samples *s) __must_check;

/*
 * Read n stream sockets at once, as a host program serving many
 * connections does (epoll, one recv() of up to 64 KiB per ready socket):
 * samples (initialised by the caller) are the time for each `window`
 * bytes to arrive over all of them, after a tenth of the budget of
 * warm-up.  Stops early once *done (if given) is set.  Returns 0 or
 * -errno.
 */
int		bench_multi_read(const int *fds, unsigned n, size_t window,
		    double full_seconds, const volatile uint32_t *done,
		    struct bench_samples *s) __must_check;

void		bench_floors_cpu(void);		/* cache line, eventfd */
void		bench_floors_unix(void);	/* AF_UNIX ping-pong, stream */
void		bench_floors_kvm(void);		/* ioeventfd kick RPC, exit */
bool		bench_have_kvm(void);		/* /dev/kvm usable, KVM built */
/* Floors (unless !floors) and the hcvsock figures 1-5, in run order. */
void		bench_figures(bool floors);
void		bench_fig_ioreq(void);		/* 1 and 5b: fake ioreq page */
void		bench_fig_mux(void);		/* 5c: idle connection memory */
void		bench_fig_vsock(void);		/* 2-5: device, muxer, host peers */

/*
 * Ping-pong between the calling thread (pinned to cpu_a) and a partner
 * thread (pinned to cpu_b).  ping() does one round trip from this side
 * and returns 0 or -errno; pong(arg) is the partner's whole life: it
 * must answer every ping and return once *stop is set and it has
 * answered the ping that followed.  Samples are the time of `batch`
 * round trips divided by batch, after a warm-up.
 */
struct bench_pp {
	int		(*ping)(void *arg);
	void		*(*pong)(void *arg);
	void		*arg;
	volatile int	*stop;		/* set (to 1) by bench_pingpong */
	size_t		batch;
};
int		bench_pingpong(const struct bench_pp *pp, double full_seconds,
		    size_t full_samples, struct bench_samples *s) __must_check;

#endif /* HCVS_BENCH_H */
