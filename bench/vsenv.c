/* SPDX-License-Identifier: MIT */
/* The hcvsockd data path for one guest (source, device, muxer, doorbell) on a loop thread, for the benchmark. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/vsenv.h"
#ifdef HAVE_KVM
#include "attach/attach_vsock.h"
#include "binding/binding.h"
#endif
#include "common/loop.h"
#include "hcvsock_abi.h"
#include "notify/notify.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"

static void vsenv_more(struct vsenv *e, int rc);

static void
vsenv_timer(struct loop *l, void *arg)
{
	struct vsenv *e = arg;

	e->timer = 0;
	vsenv_more(e, vsock_dev_process(e->dev));
}

/* The device left work for later: come back from a zero timer. */
static void
vsenv_more(struct vsenv *e, int rc)
{
	if (rc == 1 && e->timer == 0) {
		e->timer = loop_add_timer(e->loop, 0, vsenv_timer, e);
		if (e->timer < 0)
			e->timer = 0;
	}
}

static void
vsenv_post(void *arg)
{
	struct vsenv *e = arg;

	vsenv_more(e, vsock_dev_process(e->dev));
}

static void
vsenv_on_ioreq(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct vsenv *e = arg;
	struct notifier *n = ioreq_source_notifier(e->src);
	struct ioreq_engine *eng = ioreq_source_engine(e->src);
	uint32_t port;

	while (notifier_next(n, &port, NULL) == 1)
		(void)ioreq_engine_handle_port(eng, port);
}

static void
vsenv_on_wake(struct loop *l, int fd, unsigned ev, void *arg)
{
	uint64_t v;

	(void)read(fd, &v, sizeof(v));
}

/* The host side every guest gets: policy, limits, the socket directory. */
static void
vsenv_mux_cfg(const struct vsenv *e, struct vsock_mux_cfg *mcfg)
{
	memset(mcfg, 0, sizeof(*mcfg));
	mcfg->guest_cid = VSENV_CID;
	snprintf(mcfg->uds_path, sizeof(mcfg->uds_path), "%s/v", e->dir);
	mcfg->default_allow = true;
	mcfg->max_conns = 4096;
	mcfg->buf_alloc = 256 * 1024;
	mcfg->close_timeout_ms = 1000;
}

/* Directory, loop and the wake-up eventfd: what both kinds share. */
static int
vsenv_base(struct vsenv *e, bool spin)
{
	int rc;

	memset(e, 0, sizeof(*e));
	e->wake_fd = -1;
	e->spin = spin;
	snprintf(e->dir, sizeof(e->dir), "/tmp/hcvsock-bench.XXXXXX");
	if (mkdtemp(e->dir) == NULL) {
		e->dir[0] = '\0';
		return -errno;
	}
	rc = loop_new(&e->loop);
	if (rc < 0)
		return rc;
	e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->wake_fd < 0)
		return -errno;
	return loop_add_fd(e->loop, e->wake_fd, LOOP_IN, vsenv_on_wake, e);
}

int
vsenv_open_attach(struct vsenv *e, const struct attach_desc *d, bool busy,
    bool tx_poll)
{
#ifdef HAVE_KVM
	struct attach_vsock_cfg cfg;
	char err[160];
	int rc;

	rc = vsenv_base(e, false);
	if (rc < 0)
		goto err;
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = e->loop;
	vsenv_mux_cfg(e, &cfg.mux);
	/*
	 * hcvsockd's busy_poll_us: the busy server's window; sync_poll_us:
	 * the blocking server's; tx_poll_us: every stream server's.
	 */
	cfg.busy_poll_ns = busy ? VSENV_BUSY_WINDOW_NS : 0;
	cfg.sync_poll_ns = busy ? 0 : bench_opts.sync_poll_ns;
	cfg.tx_poll_ns = !tx_poll ? 0 : bench_opts.tx_poll_ns;
	rc = attach_vsock_new(&cfg, d, &e->av, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "hcvsock-bench: attach: %s\n", err);
		goto err;
	}
	return 0;
err:
	vsenv_close(e);
	return rc;
#else
	(void)e;
	(void)d;
	(void)busy;
	(void)tx_poll;
	return -ENODEV;
#endif
}

/* The guest's notification mode, delivered by the source (as the binding does). */
static int
vsenv_irq_setup(void *arg, const struct vsock_irq_cfg *irq)
{
	struct vsenv *e = arg;
	struct ioreq_irq ir = { .mode = irq->mode, .gsi = irq->gsi };

	return ioreq_source_irq_setup(e->src, &ir);
}

static int
vsenv_irq_raise(void *arg, const struct vsock_irq_cfg *irq)
{
	struct vsenv *e = arg;

	if (irq->mode == HCVS_IRQ_NONE)
		return 0;
	return ioreq_source_irq_raise(e->src);
}

static const struct vsock_dev_irq_ops vsenv_irq_ops = {
	.setup = vsenv_irq_setup,
	.raise = vsenv_irq_raise,
};

int
vsenv_open(struct vsenv *e, const struct ioreq_shm_cfg *cfg,
    uint64_t window_base, bool busy)
{
	struct vsock_dev_cfg dcfg;
	struct vsock_mux_cfg mcfg;
	int rc;

	rc = vsenv_base(e, busy);
	if (rc < 0)
		goto err;
	rc = ioreq_shm_open(cfg, &e->src);
	if (rc < 0)
		goto err;
	vsenv_mux_cfg(e, &mcfg);
	mcfg.rx_ready = vsenv_post;
	mcfg.rx_ready_arg = e;
	rc = vsock_mux_new(e->loop, &mcfg, &e->mux);
	if (rc < 0)
		goto err;
	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.mem = ioreq_source_mem(e->src);
	dcfg.backend = &vsock_mux_backend_ops;
	dcfg.backend_arg = e->mux;
	dcfg.guest_cid = VSENV_CID;
	dcfg.name = "bench";
	/* NONE only, unless cfg->kvm brings an irqfd (GSI). */
	dcfg.irq_caps = ioreq_source_irq_modes(e->src);
	dcfg.irq_ops = &vsenv_irq_ops;
	dcfg.irq_arg = e;
	rc = vsock_dev_new(&dcfg, &e->dev);
	if (rc < 0)
		goto err;
	vsock_dev_set_tx_poll(e->dev, bench_opts.tx_poll_ns);
	rc = ioreq_source_add_range(e->src, IOREQ_SPACE_PIO, window_base,
	    window_base + HCVS_REG_WINDOW_SIZE - 1, &vsock_dev_handler_ops,
	    e->dev);
	if (rc < 0)
		goto err;
	ioreq_engine_set_post_hook(ioreq_source_engine(e->src), vsenv_post, e);
	rc = ioreq_source_enable(e->src);
	if (rc < 0)
		goto err;
	rc = loop_add_fd(e->loop, notifier_fd(ioreq_source_notifier(e->src)),
	    LOOP_IN, vsenv_on_ioreq, e);
	if (rc < 0)
		goto err;
	return 0;
err:
	vsenv_close(e);
	return rc;
}

static void *
vsenv_main(void *arg)
{
	struct vsenv *e = arg;

	(void)bench_pin(bench_opts.cpu_b);
	while (!e->stop) {
		if (loop_run_once(e->loop, e->spin ? 0 : -1) < 0)
			break;
	}
	return NULL;
}

int
vsenv_start(struct vsenv *e)
{
	int rc;

	rc = -pthread_create(&e->th, NULL, vsenv_main, e);
	if (rc == 0)
		e->running = true;
	return rc;
}

void
vsenv_stop(struct vsenv *e)
{
	if (e->running) {
		e->stop = 1;
		(void)eventfd_write(e->wake_fd, 1);
		pthread_join(e->th, NULL);
		e->running = false;
	}
}

struct vsock_dev *
vsenv_dev(struct vsenv *e)
{
#ifdef HAVE_KVM
	if (e->av != NULL)
		return binding_dev(attach_vsock_binding(e->av));
#endif
	return e->dev;
}

void
vsenv_close(struct vsenv *e)
{
	char path[400];

	vsenv_stop(e);
#ifdef HAVE_KVM
	attach_vsock_free(e->av);
	e->av = NULL;
#endif
	vsock_mux_free(e->mux);
	e->mux = NULL;
	if (e->src != NULL)
		ioreq_source_close(e->src, true);
	e->src = NULL;
	vsock_dev_free(e->dev);
	e->dev = NULL;
	loop_free(e->loop);
	e->loop = NULL;
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	e->wake_fd = -1;
	if (e->dir[0]) {
		DIR *d = opendir(e->dir);
		struct dirent *de;

		while (d != NULL && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", e->dir, de->d_name);
			unlink(path);
		}
		if (d != NULL)
			closedir(d);
		rmdir(e->dir);
		e->dir[0] = '\0';
	}
}

int
vsenv_listen(struct vsenv *e, uint32_t port)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/v_%u", e->dir, port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4096) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}
