/* SPDX-License-Identifier: MIT */
/* Figures 1 and 5b: fake-page ioreq round trips (1 vCPU blocking / busy-poll, 8 vCPUs) through the real engine. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "ioreq/ioreq.h"
#include "fakes/fake_guest.h"
#include "ioreq/ioreq_xenabi.h"
#include "notify/notify.h"

#define DEV_PORT	0x5000
#define DEV_LEN		4
#define SPIN_NS		(1000u * 1000u)	/* busy-poll window: never sleeps */
#define MAX_VCPUS	8

struct ioreq_ctx {
	struct ioreq_fake	*fake;
	struct ioreq_source	*src;
	struct ioreq_engine	*eng;
	struct notifier		*n;
	_Atomic uint64_t	 reads;
	volatile int		 stop;
	bool			 busy;
	int			 rc;
	/* Many-vCPU runs */
	unsigned		 nr_vcpus;
	uint64_t		 budget;
	struct bench_samples	 vs[MAX_VCPUS];
	_Atomic unsigned	 ready;
};

static int
dev_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct ioreq_ctx *c = opaque;

	*val = atomic_fetch_add_explicit(&c->reads, 1, memory_order_relaxed);
	return 0;
}

static int
dev_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	return 0;
}

static const struct ioreq_handler_ops dev_ops = {
	.read = dev_read,
	.write = dev_write,
};

/*
 * The server: what hcvsockd's service does for its notifier fd
 * (src/daemon/service.c on_notify) - wait, then drain every pending port
 * into the engine; with busy-poll, keep draining for the busy window after
 * the last request before sleeping again, as busy_poll_us does.
 */
static void *
ioreq_server(void *arg)
{
	struct ioreq_ctx *c = arg;
	uint64_t deadline, now;
	uint32_t port;
	bool got;
	int rc;

	for (;;) {
		rc = notifier_wait(c->n, 50);
		if (rc < 0) {
			c->rc = rc;
			return NULL;
		}
		if (rc == 0 && c->stop)
			return NULL;
		deadline = 0;
		for (;;) {
			got = false;
			while ((rc = notifier_next(c->n, &port, NULL)) == 1) {
				got = true;
				(void)ioreq_engine_handle_port(c->eng, port);
			}
			if (rc < 0) {
				c->rc = rc;
				return NULL;
			}
			if (!c->busy)
				break;
			now = bench_now_ns();
			if (got)
				deadline = now + SPIN_NS;
			else if (now >= deadline)
				break;
			bench_relax();
		}
	}
}

static int
ioreq_ping(void *arg)
{
	struct ioreq_ctx *c = arg;
	uint64_t data = 0;

	return ioreq_fake_pio(c->fake, 0, DEV_PORT, 4, IOREQ_READ, &data);
}

static int
ioreq_ctx_open(struct ioreq_ctx *c, unsigned nr_vcpus, bool busy)
{
	struct ioreq_fake_cfg cfg = { .nr_vcpus = nr_vcpus, .timeout_ms = 10000 };
	int rc;

	memset(c, 0, sizeof(*c));
	c->nr_vcpus = nr_vcpus;
	rc = ioreq_fake_new(&cfg, &c->fake);
	if (rc < 0)
		return rc;
	rc = ioreq_shm_open(ioreq_fake_shm_cfg(c->fake), &c->src);
	if (rc < 0)
		goto err_fake;
	c->eng = ioreq_source_engine(c->src);
	c->n = ioreq_source_notifier(c->src);
	rc = ioreq_source_add_range(c->src, IOREQ_SPACE_PIO, DEV_PORT,
	    DEV_PORT + DEV_LEN - 1, &dev_ops, c);
	if (rc < 0)
		goto err_src;
	rc = ioreq_source_enable(c->src);
	if (rc < 0)
		goto err_src;
	c->busy = busy;
	if (busy)
		ioreq_fake_set_spin(c->fake, SPIN_NS);
	return 0;
err_src:
	ioreq_source_close(c->src, true);
err_fake:
	ioreq_fake_free(c->fake);
	return rc;
}

static void
ioreq_ctx_close(struct ioreq_ctx *c)
{
	ioreq_source_close(c->src, true);
	ioreq_fake_free(c->fake);
}

static int
fig_ioreq_1(bool busy)
{
	struct ioreq_ctx c;
	struct bench_pp pp = { .ping = ioreq_ping, .pong = ioreq_server,
	    .batch = 1 };
	struct bench_samples s;
	struct bench_stat st;
	int rc;

	rc = ioreq_ctx_open(&c, 1, busy);
	if (rc < 0)
		return rc;
	pp.arg = &c;
	pp.stop = &c.stop;
	rc = bench_pingpong(&pp, busy ? 1.0 : 2.0, 200000, &s);
	if (rc == 0 && c.rc < 0)
		rc = c.rc;
	ioreq_ctx_close(&c);
	if (rc < 0) {
		if (s.s_v != NULL)
			bench_samples_free(&s);
		return rc;
	}
	bench_stat_compute(&s, 0, &st);
	bench_samples_free(&s);
	if (busy)
		bench_result("ioreq_rtt_busy", "fake-page ioreq PIO read round "
		    "trip, 1 vCPU, server and guest busy-poll", &st,
		    "eventfd_busy", BENCH_LE, 1.5);
	else
		bench_result("ioreq_rtt_block", "fake-page ioreq PIO read round "
		    "trip, 1 vCPU, server and guest block", &st,
		    "eventfd_block", BENCH_LE, 1.5);
	return 0;
}

struct vcpu_arg {
	struct ioreq_ctx	*c;
	unsigned		 vcpu;
	int			 rc;
	uint64_t		 done;
};

static void *
vcpu_main(void *arg)
{
	struct vcpu_arg *va = arg;
	struct ioreq_ctx *c = va->c;
	struct bench_samples *s = &c->vs[va->vcpu];
	uint64_t start, warm_end, t, now, data;

	(void)bench_pin(va->vcpu % 2 ? bench_opts.cpu_b : bench_opts.cpu_a);
	atomic_fetch_add(&c->ready, 1);
	while (atomic_load(&c->ready) < c->nr_vcpus)
		sched_yield();
	start = bench_now_ns();
	warm_end = start + c->budget / 10;
	t = start;
	for (;;) {
		va->rc = ioreq_fake_pio(c->fake, va->vcpu, DEV_PORT, 4,
		    IOREQ_READ, &data);
		if (va->rc < 0)
			return NULL;
		now = bench_now_ns();
		if (now >= warm_end) {
			bench_samples_add(s, now - t);
			va->done++;
		}
		t = now;
		if (now >= warm_end + c->budget || bench_samples_full(s))
			return NULL;
	}
}

static void *
ioreq_server_pinned(void *arg)
{
	(void)bench_pin(bench_opts.cpu_b);
	return ioreq_server(arg);
}

/*
 * Figure 5b: N vCPU threads (spread over both cores, like vCPUs) issue
 * blocking round trips at once; one server thread serves them all, as
 * hcvsockd does.  Samples are per-request latencies of every vCPU.
 */
static int
fig_ioreq_n(unsigned nr)
{
	struct ioreq_ctx c;
	struct vcpu_arg va[MAX_VCPUS];
	pthread_t th[MAX_VCPUS], srv;
	struct bench_samples all;
	struct bench_stat st;
	uint64_t total = 0, t0, el;
	char name[48], what[160];
	unsigned i, started = 0;
	int rc;

	rc = ioreq_ctx_open(&c, nr, false);
	if (rc < 0)
		return rc;
	c.budget = bench_budget_ns(1.5);
	for (i = 0; i < nr; i++) {
		rc = bench_samples_init(&c.vs[i], bench_max_samples(200000));
		if (rc < 0)
			goto out;
	}
	rc = -pthread_create(&srv, NULL, ioreq_server_pinned, &c);
	if (rc < 0)
		goto out;
	t0 = bench_now_ns();
	for (i = 0; i < nr; i++) {
		va[i] = (struct vcpu_arg){ .c = &c, .vcpu = i };
		if (pthread_create(&th[i], NULL, vcpu_main, &va[i]) != 0)
			break;
		started++;
	}
	if (started < nr)
		atomic_fetch_add(&c.ready, nr - started);	/* unblock */
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	el = bench_now_ns() - t0;
	c.stop = 1;
	pthread_join(srv, NULL);
	if (started < nr)
		rc = -EAGAIN;
	for (i = 0; i < started && rc == 0; i++)
		if (va[i].rc < 0)
			rc = va[i].rc;
	if (rc == 0 && c.rc < 0)
		rc = c.rc;
	if (rc < 0)
		goto out;
	rc = bench_samples_init(&all, nr * c.vs[0].s_cap);
	if (rc < 0)
		goto out;
	for (i = 0; i < nr; i++) {
		for (size_t k = 0; k < c.vs[i].s_n; k++)
			bench_samples_add(&all, c.vs[i].s_v[k]);
		total += va[i].done;
	}
	bench_stat_compute(&all, 0, &st);
	bench_samples_free(&all);
	snprintf(name, sizeof(name), "ioreq_%uvcpu_block", nr);
	snprintf(what, sizeof(what), "fake-page ioreq round trip seen by each "
	    "of %u vCPU thread%s, one blocking server; %.1f k req/s in all",
	    nr, nr > 1 ? "s at once" : "",
	    (double)total / ((double)el / 1e9) / 1e3);
	bench_result(name, what, &st, nr == 1 ? "eventfd_block" :
	    "ioreq_1vcpu_block", BENCH_INFO, 0);
out:
	for (i = 0; i < nr; i++)
		bench_samples_free(&c.vs[i]);
	ioreq_ctx_close(&c);
	return rc;
}

void
bench_fig_ioreq(void)
{
	int rc;

	if (bench_selected("ioreq_rtt_block")) {
		rc = fig_ioreq_1(false);
		if (rc < 0)
			bench_skip("ioreq_rtt_block", strerror(-rc));
	}
	if (bench_selected("ioreq_rtt_busy")) {
		rc = fig_ioreq_1(true);
		if (rc < 0)
			bench_skip("ioreq_rtt_busy", strerror(-rc));
	}
	if (bench_selected("ioreq_1vcpu_block") || bench_selected("ioreq_8vcpu_block")) {
		rc = fig_ioreq_n(1);
		if (rc < 0)
			bench_skip("ioreq_1vcpu_block", strerror(-rc));
		rc = fig_ioreq_n(8);
		if (rc < 0)
			bench_skip("ioreq_8vcpu_block", strerror(-rc));
	}
}
