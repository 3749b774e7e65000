/* SPDX-License-Identifier: MIT */
/*
 * The event loop (after chrony's sched.h): fds and timers with callbacks.
 * epoll is hidden behind this API.  One loop per thread; not thread-safe.
 */
#ifndef HCVS_LOOP_H
#define HCVS_LOOP_H

#include <stdint.h>

#include "common/compiler.h"

struct loop;

/* Events, as a bitmask. */
#define LOOP_IN		0x1
#define LOOP_OUT	0x2
#define LOOP_ERR	0x4	/* error or hang-up: always reported */

typedef void (*loop_fd_cb)(struct loop *l, int fd, unsigned events, void *arg);
typedef void (*loop_timer_cb)(struct loop *l, void *arg);

int	loop_new(struct loop **lp) __must_check;
/* Frees the loop; registered fds are not closed. NULL is a no-op. */
void	loop_free(struct loop *l);

/* Watch fd (level-triggered). -EEXIST if already watched. */
int	loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_cb cb,
	    void *arg) __must_check;
/* Change the event mask of a watched fd. */
int	loop_mod_fd(struct loop *l, int fd, unsigned events);
/* Stop watching; safe from inside any callback, including fd's own. */
int	loop_del_fd(struct loop *l, int fd);

/*
 * One-shot timer after `ms` milliseconds.  Returns an id > 0, or -errno.
 * Cancelling an id that already fired is a no-op.  Due timers run after
 * the fds' callbacks of the same turn, in due order and, for equal due
 * times, in the order they were armed.  A timer armed by a timer's
 * callback waits for the next turn, after that turn's fds: work that
 * re-arms a zero timer cannot keep the fds waiting.
 */
int64_t	loop_add_timer(struct loop *l, uint64_t ms, loop_timer_cb cb, void *arg);
void	loop_del_timer(struct loop *l, int64_t id);

/*
 * Run until loop_quit().  Returns 0, or -errno if epoll fails.
 * loop_run_once() waits at most timeout_ms (-1 forever) and dispatches.
 */
int	loop_run(struct loop *l);
int	loop_run_once(struct loop *l, int timeout_ms);
void	loop_quit(struct loop *l);

/* Monotonic time in ms / ns, for timers and rate limits. */
uint64_t loop_now_ms(void);
uint64_t loop_now_ns(void);

#endif /* HCVS_LOOP_H */
