/* SPDX-License-Identifier: MIT */
/* One guest's request source, device and muxer, wired on the event loop. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding/binding.h"
#include "common/compiler.h"
#include "common/log.h"
#include "common/loop.h"
#include "hcvsock_abi.h"
#include "vsock/vsock_mig.h"

#define BINDING_NAME_MAX	64

struct binding {
	struct loop		*b_loop;
	char			 b_name[BINDING_NAME_MAX];
	struct ioreq_source	*b_src;
	struct vsock_dev	*b_dev;
	struct vsock_mux	*b_mux;
	struct vsock_mig	*b_mig;		/* NULL: no host listener */
	uint64_t		 b_cid;
	int			 b_fd;		/* on the loop, or -1 */
	int64_t			 b_timer;
	int64_t			 b_tick;	/* the window's next look */
	uint64_t		 b_deadline;	/* the window's end (ns), 0: shut */
	uint64_t		 b_busy_ns;
	uint64_t		 b_sync_ns;
	uint64_t		 b_wakeups;	/* the loop found the source ready */
	bool			 b_enabled;
	bool			 b_stopped;
	bool			 b_failed;
	void			(*b_state_changed)(void *arg);
	void			(*b_on_failed)(void *arg, int err);
	void			*b_hook_arg;
	struct log_ratelimit	 b_rl;
};

static void run_device(struct binding *b);
static void window_tick(struct loop *l, void *arg);

/*
 * A busy window polls the device too: the guest need not ring while it
 * is open (vsock_dev_watch_tx).  Only a busy window: its CPU is what the
 * operator gave to this guest's latency, while a sync window follows a
 * vCPU's requests and must not change how the guest rings.
 */
static bool
watches_tx(const struct binding *b)
{
	return b->b_dev != NULL && b->b_busy_ns > 0;
}

static void
watch_tx(struct binding *b, bool on)
{
	if (watches_tx(b))
		vsock_dev_watch_tx(b->b_dev, on);
}

/* ---- Interrupts: the device's choice, delivered by the source ------------ */

static int
irq_setup(void *arg, const struct vsock_irq_cfg *irq)
{
	struct binding *b = arg;
	struct ioreq_irq ir = {
		.mode = irq->mode,
		.gsi = irq->gsi,
		.evtchn_port = irq->evtchn_port,
		.msi_addr = irq->msi_addr,
		.msi_data = irq->msi_data,
	};
	int rc = ioreq_source_irq_setup(b->b_src, &ir);

	/* Only modes the source offered reach here: this is the guest's. */
	if (rc < 0)
		log_ratelimited(&b->b_rl, LOG_WARNING, "%s: notification mode "
		    "%" PRIu32 ": %s", b->b_name, irq->mode, strerror(-rc));
	return rc;
}

static int
irq_raise(void *arg, const struct vsock_irq_cfg *irq)
{
	struct binding *b = arg;

	if (irq->mode == HCVS_IRQ_NONE)
		return 0;
	return ioreq_source_irq_raise(b->b_src);
}

static const struct vsock_dev_irq_ops irq_ops = {
	.setup = irq_setup,
	.raise = irq_raise,
};

/* ---- The device's work and the loop -------------------------------------- */

static void
work_timer(struct loop *l, void *arg)
{
	struct binding *b = arg;

	(void)l;
	b->b_timer = 0;
	run_device(b);
}

static void
defer(struct binding *b)
{
	int64_t id;

	if (b->b_timer != 0 || b->b_fd < 0)
		return;
	id = loop_add_timer(b->b_loop, 0, work_timer, b);
	b->b_timer = id > 0 ? id : 0;
}

static void
arm_tick(struct binding *b)
{
	struct ioreq_source_events ev = { 0, 0, 0 };
	int64_t id;
	int rc;

	if (b->b_tick != 0 || b->b_fd < 0)
		return;
	id = loop_add_timer(b->b_loop, 0, window_tick, b);
	if (id > 0) {
		b->b_tick = id;
		return;
	}
	/* No look would come: the window shuts and the marks go now. */
	b->b_deadline = 0;
	watch_tx(b, false);
	rc = ioreq_source_poll(b->b_src, false, &ev);
	/* A source that failed says so on its fd's next wake. */
	(void)rc;
	run_device(b);
}

/*
 * The device's deferred work (after DOORBELL writes, muxer wake-ups) runs
 * here, in bounded passes: when a pass leaves work, the rest runs from a
 * zero timer so that other fds get their turn.
 */
static void
run_device(struct binding *b)
{
	if (b->b_dev == NULL)
		return;
	if (vsock_dev_pending(b->b_dev) && vsock_dev_process(b->b_dev) == 1)
		defer(b);
	if (vsock_dev_state_changed(b->b_dev) && b->b_state_changed != NULL)
		b->b_state_changed(b->b_hook_arg);
}

/*
 * The register window.  A write that changed what the state file records
 * (a command, an argument) is recorded before the engine answers it:
 * killed before the answer, the next daemon runs the request again (on
 * either state it gives the same answer, vsock_dev.h); killed after, the
 * file already holds what the guest was told.
 */
static int
window_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct binding *b = opaque;

	return vsock_dev_handler_ops.read(b->b_dev, vcpu, off, size, val);
}

static int
window_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct binding *b = opaque;
	int rc;

	rc = vsock_dev_handler_ops.write(b->b_dev, vcpu, off, size, val);
	if (vsock_dev_state_changed(b->b_dev) && b->b_state_changed != NULL)
		b->b_state_changed(b->b_hook_arg);
	return rc;
}

static const struct ioreq_handler_ops window_ops = {
	.read = window_read,
	.write = window_write,
};

static void
post_hook(void *arg)
{
	run_device(arg);
}

/* Host data or a muxer timer left packets for the guest: the device pulls. */
static void
mux_rx_ready(void *arg)
{
	run_device(arg);
}

static void
unwatch(struct binding *b)
{
	if (b->b_timer != 0)
		loop_del_timer(b->b_loop, b->b_timer);
	b->b_timer = 0;
	if (b->b_tick != 0)
		loop_del_timer(b->b_loop, b->b_tick);
	b->b_tick = 0;
	b->b_deadline = 0;
	watch_tx(b, false);
	if (b->b_fd >= 0)
		(void)loop_del_fd(b->b_loop, b->b_fd);
	b->b_fd = -1;
}

static void
source_failed(struct binding *b, int rc)
{
	log_warnx("%s: the notifier failed: %s", b->b_name, strerror(-rc));
	unwatch(b);
	b->b_failed = true;
	if (b->b_on_failed != NULL)
		b->b_on_failed(b->b_hook_arg, rc);
}

/*
 * A turn's events from the source: the device's share of them, then the
 * window.  Events open (or stretch) it: any with busy_poll, an answered
 * request with sync_poll.
 */
static void
after_events(struct binding *b, int n, const struct ioreq_source_events *ev,
    bool ahead)
{
	uint64_t window;

	if (ev->doorbells > 0 && (ahead ? vsock_dev_kick_again(b->b_dev) :
	    vsock_dev_kick(b->b_dev)) > 0)
		defer(b);
	/*
	 * However many events the guest sent meanwhile, one pass: a guest
	 * flooding its port costs one bounded pass per turn.
	 */
	if (ev->guest_events > 0 && vsock_dev_guest_event(b->b_dev) > 0)
		defer(b);
	run_device(b);
	window = MAX(b->b_busy_ns, ev->requests > 0 ? b->b_sync_ns : 0);
	if (n > 0 && window > 0 && b->b_fd >= 0) {
		b->b_deadline = MAX(b->b_deadline, loop_now_ns() + window);
		watch_tx(b, true);
		arm_tick(b);
	}
}

static void
on_source(struct loop *l, int fd, unsigned events, void *arg)
{
	struct binding *b = arg;
	struct ioreq_source_events ev = { 0, 0, 0 };
	bool ahead;
	int n;

	(void)l;
	(void)fd;
	(void)events;
	b->b_wakeups++;
	/*
	 * A wake that is most likely the asynchronous doorbell runs the
	 * doorbell's pass first, and the notifier's reads (an epoll_wait()
	 * and a read() of the eventfd, slow right after a wake-up) come
	 * after the answer instead of before it.  The doorbells they find
	 * run one more pass, which takes what came since.  A vCPU's request
	 * waiting on the page goes first as before: the pass may hold a TX
	 * poll window, which no vCPU should wait for.
	 */
	ahead = b->b_dev != NULL && ioreq_source_doorbell_likely(b->b_src);
	if (ahead && vsock_dev_kick_ahead(b->b_dev) > 0)
		defer(b);
	n = ioreq_source_run(b->b_src, BINDING_EVENT_BUDGET, &ev);
	if (n < 0) {
		source_failed(b, n);
		return;
	}
	after_events(b, n, &ev, ahead);
}

/*
 * An open window's look, once per turn of the loop: the loop does not
 * sleep while a zero timer is due, so the source's fd is polled by the
 * loop's own epoll_wait() and the host sockets are served between looks.
 * Where the source has a page, each look answers what is READY on it,
 * marked watched so that its producer may skip the kick.  At the end the
 * mark goes, and one more look follows: no kick can be owed.
 */
static void
window_tick(struct loop *l, void *arg)
{
	struct binding *b = arg;
	struct ioreq_source_events ev = { 0, 0, 0 };
	bool open, found;
	int n;

	(void)l;
	b->b_tick = 0;
	if (b->b_fd < 0 || b->b_deadline == 0)
		return;
	open = loop_now_ns() < b->b_deadline;
	n = ioreq_source_poll(b->b_src, open, &ev);
	if (n < 0) {
		source_failed(b, n);
		return;
	}
	if (open) {
		/* Entries the guest published unrung are its activity too. */
		if (watches_tx(b)) {
			if (vsock_dev_tx_look(b->b_dev, &found) > 0)
				defer(b);
			if (found)
				b->b_deadline = MAX(b->b_deadline,
				    loop_now_ns() + b->b_busy_ns);
		}
		arm_tick(b);
	} else {
		b->b_deadline = 0;
		watch_tx(b, false);
	}
	/* A request in the last look opens the window again. */
	after_events(b, n, &ev, false);
}

/* ---- Building ------------------------------------------------------------ */

static int
claim_window(struct binding *b, const struct binding_window *w, char *err,
    size_t errlen)
{
	const char *what = w->space == IOREQ_SPACE_PIO ? "I/O ports" : "MMIO";
	int rc;

	if (w->size == 0 || w->base + w->size - 1 < w->base) {
		snprintf(err, errlen, "%s window at 0x%" PRIx64 ": bad size",
		    what, w->base);
		return -EINVAL;
	}
	rc = ioreq_source_add_range(b->b_src, w->space, w->base,
	    w->base + w->size - 1, &window_ops, b);
	if (rc < 0) {
		snprintf(err, errlen, "claiming %s 0x%" PRIx64 "-0x%" PRIx64
		    ": %s", what, w->base, w->base + w->size - 1,
		    strerror(-rc));
		return rc;
	}
	rc = ioreq_source_set_doorbell(b->b_src, w->space,
	    w->base + HCVS_REG_DOORBELL, 4, HCVS_DOORBELL_KICK);
	if (rc < 0) {
		snprintf(err, errlen, "doorbell at 0x%" PRIx64 ": %s",
		    w->base + HCVS_REG_DOORBELL, strerror(-rc));
		return rc;
	}
	return 0;
}

int
binding_new(const struct binding_cfg *cfg, struct ioreq_source *src,
    struct binding **bp, char *err, size_t errlen)
{
	struct vsock_dev_cfg dc;
	struct vsock_mux_cfg mc;
	struct binding *b;
	unsigned i;
	int rc;

	if (cfg->nr_windows == 0 || cfg->nr_windows > BINDING_MAX_WINDOWS) {
		ioreq_source_close(src, true);
		snprintf(err, errlen, "%u register windows", cfg->nr_windows);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		ioreq_source_close(src, true);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->b_loop = cfg->loop;
	b->b_src = src;
	b->b_fd = -1;
	b->b_cid = cfg->mux.guest_cid;
	b->b_busy_ns = cfg->busy_poll_ns;
	b->b_sync_ns = cfg->sync_poll_ns;
	b->b_state_changed = cfg->state_changed;
	b->b_on_failed = cfg->failed;
	b->b_hook_arg = cfg->hook_arg;
	b->b_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 1);
	snprintf(b->b_name, sizeof(b->b_name), "%s",
	    cfg->name != NULL ? cfg->name : "guest");

	/* The muxer first: the device pulls from it from its first pass. */
	mc = cfg->mux;
	mc.rx_ready = mux_rx_ready;
	mc.rx_ready_arg = b;
	rc = vsock_mux_new(cfg->loop, &mc, &b->b_mux);
	if (rc < 0) {
		snprintf(err, errlen, "host sockets (%s): %s", mc.uds_path,
		    strerror(-rc));
		goto err;
	}
	/* Migration sessions (protocol MSG) next to the muxer's listener. */
	{
		struct vsock_mig_cfg gc;

		rc = vsock_mig_cfg_for(&mc, &gc);
		if (rc == 0) {
			gc.wake = mux_rx_ready;
			gc.wake_arg = b;
			rc = vsock_mig_new(cfg->loop, &gc, &b->b_mig);
		}
		if (rc < 0 && rc != -ENOENT) {
			snprintf(err, errlen, "migration sessions (%s): %s",
			    gc.path, strerror(-rc));
			goto err;
		}
	}
	memset(&dc, 0, sizeof(dc));
	dc.mem = ioreq_source_mem(src);
	dc.backend = &vsock_mux_backend_ops;
	dc.backend_arg = b->b_mux;
	if (b->b_mig != NULL) {
		dc.msg_backend = &vsock_mig_backend_ops;
		dc.msg_backend_arg = b->b_mig;
	}
	dc.guest_cid = cfg->mux.guest_cid;
	dc.features = cfg->features;
	dc.backend_domid = cfg->backend_domid;
	dc.irq_caps = (ioreq_source_irq_modes(src) & cfg->irq_modes) |
	    1u << HCVS_IRQ_NONE;
	dc.irq_ops = &irq_ops;
	dc.irq_arg = b;
	dc.name = b->b_name;
	rc = vsock_dev_new(&dc, &b->b_dev);
	if (rc < 0) {
		snprintf(err, errlen, "the vsock device: %s", strerror(-rc));
		goto err;
	}
	vsock_dev_set_tx_poll(b->b_dev, cfg->tx_poll_ns);
	for (i = 0; i < cfg->nr_windows; i++)
		if ((rc = claim_window(b, &cfg->windows[i], err, errlen)) < 0)
			goto err;
	ioreq_engine_set_post_hook(ioreq_source_engine(src), post_hook, b);
	rc = loop_add_fd(cfg->loop, ioreq_source_fd(src), LOOP_IN, on_source,
	    b);
	if (rc < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		goto err;
	}
	b->b_fd = ioreq_source_fd(src);
	*bp = b;
	return 0;

err:
	binding_free(b, true);
	return rc;
}

int
binding_import(struct binding *b, const struct vsock_dev_state *st)
{
	return vsock_dev_import(b->b_dev, st);
}

void
binding_export(struct binding *b, struct vsock_dev_state *st)
{
	vsock_dev_export(b->b_dev, st);
}

int
binding_enable(struct binding *b)
{
	int rc = ioreq_source_enable(b->b_src);

	if (rc < 0) {
		log_warnx("%s: enabling the server: %s", b->b_name,
		    strerror(-rc));
		return rc;
	}
	b->b_enabled = true;
	b->b_stopped = false;
	run_device(b);
	return 0;
}

int
binding_restrict(struct binding *b)
{
	return ioreq_source_restrict(b->b_src);
}

int
binding_reconfigure(struct binding *b, const struct vsock_mux_cfg *mux)
{
	struct vsock_mux_cfg mc = *mux;

	mc.guest_cid = b->b_cid;
	mc.rx_ready = mux_rx_ready;
	mc.rx_ready_arg = b;
	return vsock_mux_reconfigure(b->b_mux, &mc);
}

void
binding_stop(struct binding *b, bool guest_alive)
{
	int rc;

	if (b->b_stopped)
		return;
	/*
	 * Tell the guest while it can still be interrupted; then no vCPU
	 * may stay blocked on a request nobody answers.
	 */
	if (guest_alive && !b->b_failed) {
		vsock_dev_going_away(b->b_dev);
		rc = ioreq_source_quiesce(b->b_src);
		if (rc < 0)
			log_warnx("%s: answering the pending requests: %s",
			    b->b_name, strerror(-rc));
	}
	b->b_stopped = true;
	/* Host peers see EOF; the guest learnt it from the notice. */
	vsock_mux_reset(b->b_mux);
	if (b->b_mig != NULL)
		vsock_mig_reset(b->b_mig);
}

void
binding_free(struct binding *b, bool destroy)
{
	if (b == NULL)
		return;
	unwatch(b);
	/* A VMM still running (in-process use) gets its pending answers. */
	if (b->b_enabled && !b->b_stopped && !b->b_failed)
		(void)ioreq_source_quiesce(b->b_src);
	/* The device goes first: the muxer's reset then wakes nobody. */
	vsock_dev_free(b->b_dev);
	b->b_dev = NULL;
	vsock_mux_free(b->b_mux);
	vsock_mig_free(b->b_mig);
	ioreq_source_close(b->b_src, destroy);
	free(b);
}

void
binding_get_stats(struct binding *b, struct binding_stats *st)
{
	struct ioreq_engine_stats es;
	struct ioreq_source_stats ss;

	ioreq_engine_get_stats(ioreq_source_engine(b->b_src), &es);
	ioreq_source_get_stats(b->b_src, &ss);
	st->bs_requests = es.st_requests;
	st->bs_doorbells = ss.ss_doorbells;
	st->bs_irqs = ss.ss_irqs;
	st->bs_wakeups = b->b_wakeups;
}

struct ioreq_source *
binding_source(struct binding *b)
{
	return b->b_src;
}

struct vsock_dev *
binding_dev(struct binding *b)
{
	return b->b_dev;
}

struct vsock_mux *
binding_mux(struct binding *b)
{
	return b->b_mux;
}

struct vsock_mig *
binding_mig(struct binding *b)
{
	return b->b_mig;
}

void
binding_dump(struct binding *b, void (*cb)(void *arg, const char *line),
    void *arg)
{
	struct ioreq_engine_stats es;
	struct ioreq_source_stats ss;
	struct vsock_mux_stats ms;
	char line[320];

	ioreq_engine_get_stats(ioreq_source_engine(b->b_src), &es);
	ioreq_source_get_stats(b->b_src, &ss);
	snprintf(line, sizeof(line), "ioreq %s, %u vCPU(s), server %d: %" PRIu64
	    " requests, %" PRIu64 " buffered, %" PRIu64 " invalid, %" PRIu64
	    " unclaimed, %" PRIu64 " spurious, %" PRIu64 " doorbells, %" PRIu64
	    " guest events, %" PRIu64 " irqs", ioreq_source_kind(b->b_src),
	    ioreq_source_nr_vcpus(b->b_src), ioreq_source_server_id(b->b_src),
	    es.st_requests, es.st_buffered, es.st_invalid, es.st_unclaimed,
	    es.st_spurious, ss.ss_doorbells, ss.ss_guest_events, ss.ss_irqs);
	cb(arg, line);
	ioreq_engine_dump(ioreq_source_engine(b->b_src), cb, arg);
	vsock_dev_dump(b->b_dev, cb, arg);
	vsock_mux_get_stats(b->b_mux, &ms);
	snprintf(line, sizeof(line), "connections: %" PRIu64 " open, %" PRIu64
	    " total, %" PRIu64 " RST sent, %" PRIu64 " dropped, %" PRIu64
	    " bytes to host, %" PRIu64 " bytes to guest", ms.ms_conns_open,
	    ms.ms_conns_total, ms.ms_rst_sent, ms.ms_dropped, ms.ms_tx_bytes,
	    ms.ms_rx_bytes);
	cb(arg, line);
	vsock_mux_dump(b->b_mux, cb, arg);
	if (b->b_mig != NULL)
		vsock_mig_dump(b->b_mig, cb, arg);
}
