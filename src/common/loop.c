/* SPDX-License-Identifier: MIT */
/* epoll-based event loop with one-shot timers. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "common/loop.h"
#include "common/mono.h"

struct loop_fd {
	int		 lf_fd;
	loop_fd_cb	 lf_cb;
	void		*lf_arg;
	bool		 lf_dead;
	struct loop_fd	*lf_next;	/* in the hash chain */
};

struct loop_timer {
	int64_t		 lt_id;
	uint64_t	 lt_due_ms;
	loop_timer_cb	 lt_cb;
	void		*lt_arg;
};

#define LOOP_HASH	256

struct loop {
	int			 l_epfd;
	bool			 l_quit;
	struct loop_fd		*l_fds[LOOP_HASH];
	/* Entries deleted during dispatch are freed after it. */
	struct loop_fd		*l_graveyard;
	struct loop_timer	*l_timers;	/* binary min-heap on due time */
	size_t			 l_ntimers;
	size_t			 l_captimers;
	int64_t			 l_next_id;
};

uint64_t
loop_now_ns(void)
{
	return mono_ns();
}

uint64_t
loop_now_ms(void)
{
	return mono_ms();
}

int
loop_new(struct loop **lp)
{
	struct loop *l;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->l_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->l_epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	l->l_next_id = 1;
	*lp = l;
	return 0;
}

static void
free_graveyard(struct loop *l)
{
	while (l->l_graveyard != NULL) {
		struct loop_fd *f = l->l_graveyard;

		l->l_graveyard = f->lf_next;
		free(f);
	}
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < LOOP_HASH; i++) {
		while (l->l_fds[i] != NULL) {
			struct loop_fd *f = l->l_fds[i];

			l->l_fds[i] = f->lf_next;
			free(f);
		}
	}
	free_graveyard(l);
	free(l->l_timers);
	close(l->l_epfd);
	free(l);
}

static uint32_t
to_epoll(unsigned ev)
{
	uint32_t e = 0;

	if (ev & LOOP_IN)
		e |= EPOLLIN;
	if (ev & LOOP_OUT)
		e |= EPOLLOUT;
	return e;
}

static struct loop_fd **
find_slot(struct loop *l, int fd)
{
	struct loop_fd **pp = &l->l_fds[(unsigned)fd % LOOP_HASH];

	while (*pp != NULL && (*pp)->lf_fd != fd)
		pp = &(*pp)->lf_next;
	return pp;
}

int
loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev;
	struct loop_fd *f, **pp;

	if (fd < 0 || cb == NULL)
		return -EINVAL;
	pp = find_slot(l, fd);
	if (*pp != NULL)
		return -EEXIST;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->lf_fd = fd;
	f->lf_cb = cb;
	f->lf_arg = arg;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.ptr = f;
	if (epoll_ctl(l->l_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(f);
		return err;
	}
	*pp = f;
	return 0;
}

int
loop_mod_fd(struct loop *l, int fd, unsigned events)
{
	struct epoll_event ev;
	struct loop_fd *f = *find_slot(l, fd);

	if (f == NULL)
		return -ENOENT;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.ptr = f;
	if (epoll_ctl(l->l_epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int
loop_del_fd(struct loop *l, int fd)
{
	struct loop_fd **pp = find_slot(l, fd), *f = *pp;

	if (f == NULL)
		return -ENOENT;
	*pp = f->lf_next;
	/* The fd may already be closed by the owner: ignore EBADF. */
	(void)epoll_ctl(l->l_epfd, EPOLL_CTL_DEL, fd, NULL);
	f->lf_dead = true;
	f->lf_next = l->l_graveyard;
	l->l_graveyard = f;
	return 0;
}

/* Equal due times run in the order they were armed. */
static bool
timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->lt_due_ms < b->lt_due_ms ||
	    (a->lt_due_ms == b->lt_due_ms && a->lt_id < b->lt_id);
}

static void
heap_swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer t = l->l_timers[a];

	l->l_timers[a] = l->l_timers[b];
	l->l_timers[b] = t;
}

static void
heap_up(struct loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!timer_before(&l->l_timers[i], &l->l_timers[p]))
			break;
		heap_swap(l, p, i);
		i = p;
	}
}

static void
heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;

		if (c < l->l_ntimers &&
		    timer_before(&l->l_timers[c], &l->l_timers[m]))
			m = c;
		if (c + 1 < l->l_ntimers &&
		    timer_before(&l->l_timers[c + 1], &l->l_timers[m]))
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

static void
heap_remove(struct loop *l, size_t i)
{
	l->l_ntimers--;
	if (i == l->l_ntimers)
		return;
	l->l_timers[i] = l->l_timers[l->l_ntimers];
	heap_down(l, i);
	heap_up(l, i);
}

int64_t
loop_add_timer(struct loop *l, uint64_t ms, loop_timer_cb cb, void *arg)
{
	struct loop_timer *t;

	if (cb == NULL)
		return -EINVAL;
	if (l->l_ntimers == l->l_captimers) {
		size_t cap = l->l_captimers ? l->l_captimers * 2 : 16;

		t = realloc(l->l_timers, cap * sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		l->l_timers = t;
		l->l_captimers = cap;
	}
	t = &l->l_timers[l->l_ntimers];
	t->lt_id = l->l_next_id++;
	t->lt_due_ms = loop_now_ms() + ms;
	t->lt_cb = cb;
	t->lt_arg = arg;
	l->l_ntimers++;
	heap_up(l, l->l_ntimers - 1);
	return l->l_next_id - 1;
}

void
loop_del_timer(struct loop *l, int64_t id)
{
	for (size_t i = 0; i < l->l_ntimers; i++) {
		if (l->l_timers[i].lt_id == id) {
			heap_remove(l, i);
			return;
		}
	}
}

/*
 * Only timers armed before this pass run in it.  A callback that arms a
 * zero timer (work left for later) gets it on the next turn, after
 * epoll: otherwise it would run again at once until the millisecond
 * changed, and the fds would wait.  With equal due times ordered by id,
 * the first timer armed during the pass is the heap's top once every
 * older due one has run.
 */
static void
run_timers(struct loop *l)
{
	uint64_t now = loop_now_ms();
	int64_t first_new = l->l_next_id;

	while (l->l_ntimers > 0 && l->l_timers[0].lt_due_ms <= now &&
	    l->l_timers[0].lt_id < first_new) {
		struct loop_timer t = l->l_timers[0];

		heap_remove(l, 0);
		t.lt_cb(l, t.lt_arg);
	}
}

int
loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	int n;

	if (l->l_ntimers > 0) {
		uint64_t now = loop_now_ms(), due = l->l_timers[0].lt_due_ms;
		int t = due <= now ? 0 : (int)MIN(due - now, (uint64_t)INT32_MAX);

		if (timeout_ms < 0 || t < timeout_ms)
			timeout_ms = t;
	}
	n = epoll_wait(l->l_epfd, evs, (int)ARRAY_SIZE(evs), timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		struct loop_fd *f = evs[i].data.ptr;
		unsigned ev = 0;

		/* A callback earlier in this batch may have deleted it. */
		if (f->lf_dead)
			continue;
		if (evs[i].events & EPOLLIN)
			ev |= LOOP_IN;
		if (evs[i].events & EPOLLOUT)
			ev |= LOOP_OUT;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			ev |= LOOP_ERR;
		f->lf_cb(l, f->lf_fd, ev, f->lf_arg);
	}
	free_graveyard(l);
	run_timers(l);
	return 0;
}

int
loop_run(struct loop *l)
{
	int rc;

	l->l_quit = false;
	while (!l->l_quit) {
		rc = loop_run_once(l, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void
loop_quit(struct loop *l)
{
	l->l_quit = true;
}
