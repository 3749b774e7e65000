/* SPDX-License-Identifier: MIT */
/* The vsock device test environment (see vsock_testenv.h). */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_vsock_mux.h"
#include "fake_guest.h"
#include "ioreq/ioreq_xenabi.h"
#include "notify/notify.h"
#include "vsock/vsock_backend.h"
#include "vsock_testenv.h"

static int
irq_setup_cb(void *arg, const struct vsock_irq_cfg *irq)
{
	struct vtenv *e = arg;

	e->setups++;
	e->setup_last = *irq;
	return e->setup_rc;
}

static int
irq_raise_cb(void *arg, const struct vsock_irq_cfg *irq)
{
	struct vtenv *e = arg;

	if (irq->mode == HCVS_IRQ_ISA)
		abort();	/* the Xen 4.17 crash: must never happen */
	e->raises++;
	e->irqs_pending++;
	e->raise_last = *irq;
	return 0;
}

static const struct vsock_dev_irq_ops irq_ops = {
	.setup = irq_setup_cb,
	.raise = irq_raise_cb,
};

/* The fake host made packets appear: the device pulls them, as the daemon's does. */
static void
env_wake(void *arg)
{
	struct vtenv *e = arg;

	(void)vsock_dev_process(e->dev);
}

/* A migration bridge nobody uses: no request, no session. */
static int
idle_take(void *b, uint32_t *op, void *payload, size_t max, uint32_t *len)
{
	(void)b; (void)op; (void)payload; (void)max; (void)len;
	return 0;
}

static int
idle_lookup(void *b, uint64_t mid)
{
	(void)b; (void)mid;
	return -ENOENT;
}

static long
idle_send(void *b, uint64_t mid, const void *p, size_t n)
{
	(void)b; (void)mid; (void)p; (void)n;
	return -ENOENT;
}

static long
idle_recv(void *b, uint64_t mid, void *p, size_t max)
{
	(void)b; (void)mid; (void)p; (void)max;
	return -ENOENT;
}

static int
idle_report(void *b, uint64_t mid, uint64_t status, const void *data,
    size_t n)
{
	(void)b; (void)mid; (void)status; (void)data; (void)n;
	return -ENOENT;
}

static int64_t
idle_now(void *b)
{
	(void)b;
	return 0;
}

static void
idle_wake_at(void *b, int64_t deadline_ms)
{
	(void)b; (void)deadline_ms;
}

static bool
idle_has_news(const void *b)
{
	(void)b;
	return false;
}

static void
idle_void(void *b)
{
	(void)b;
}

static const struct vsock_msg_backend_ops idle_msg_ops = {
	.take_request = idle_take,
	.lookup = idle_lookup,
	.send = idle_send,
	.recv = idle_recv,
	.report = idle_report,
	.now_ms = idle_now,
	.wake_at = idle_wake_at,
	.has_news = idle_has_news,
	.ack_news = idle_void,
	.reset = idle_void,
};

static void
dev_create(struct vtenv *e)
{
	struct vsock_dev_cfg cfg;

	e->mux = fake_mux_new(VT_CID, env_wake, e);
	memset(&cfg, 0, sizeof(cfg));
	cfg.mem = e->mem;
	cfg.backend = &fake_mux_backend_ops;
	cfg.backend_arg = e->mux;
	cfg.guest_cid = VT_CID;
	cfg.features = e->opts.features;
	cfg.irq_caps = e->opts.irq_caps;
	cfg.backend_domid = e->opts.backend_domid;
	cfg.irq_ops = &irq_ops;
	cfg.irq_arg = e;
	cfg.name = "test";
	if (e->opts.msg) {
		cfg.msg_backend = &idle_msg_ops;
		cfg.msg_backend_arg = e;
	}
	if (vsock_dev_new(&cfg, &e->dev) != 0)
		abort();
}

/* The ranges point at the env, so a restarted device is picked up. */
static int
env_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct vtenv *e = opaque;

	return vsock_dev_handler_ops.read(e->dev, vcpu, off, size, val);
}

static int
env_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct vtenv *e = opaque;

	return vsock_dev_handler_ops.write(e->dev, vcpu, off, size, val);
}

static const struct ioreq_handler_ops env_ops = {
	.read = env_read,
	.write = env_write,
};

static void
post_hook(void *arg)
{
	struct vtenv *e = arg;

	/* The daemon runs vsock_dev_process() here; tests do it in vt_pump. */
	e->post_hooks++;
}

uint64_t
vt_access(struct vtenv *e, bool mmio, uint64_t off, unsigned size,
    bool write, uint64_t val)
{
	struct ioreq rq, resp;
	uint32_t port;

	memset(&rq, 0, sizeof(rq));
	memset(&resp, 0, sizeof(resp));
	if (e->no_backend) {
		mmio = false;
		off += VT_NOBACKEND - VT_PIO_BASE;
	}
	rq.addr = (mmio ? VT_MMIO_BASE : VT_PIO_BASE) + off;
	rq.size = size;
	rq.count = 1;
	rq.dir = write ? IOREQ_WRITE : IOREQ_READ;
	rq.type = mmio ? IOREQ_TYPE_COPY : IOREQ_TYPE_PIO;
	rq.data = write ? val : 0;
	if (ioreq_fake_submit(e->fake, 0, &rq) != 0)
		abort();
	while (notifier_next(e->n, &port, NULL) == 1)
		(void)ioreq_engine_handle_port(e->eng, port);
	if (ioreq_fake_complete(e->fake, 0, &resp) != 0)
		abort();
	return resp.data;
}

uint32_t
vt_rd(struct vtenv *e, uint32_t off)
{
	return (uint32_t)vt_access(e, e->mmio, off, 4, false, 0);
}

void
vt_wr(struct vtenv *e, uint32_t off, uint32_t v)
{
	(void)vt_access(e, e->mmio, off, 4, true, v);
}

uint32_t
vt_cmd(struct vtenv *e, uint32_t cmd, uint32_t a0, uint32_t a1, uint32_t a2,
    uint32_t a3)
{
	vt_wr(e, HCVS_REG_ARG0, a0);
	vt_wr(e, HCVS_REG_ARG1, a1);
	vt_wr(e, HCVS_REG_ARG2, a2);
	vt_wr(e, HCVS_REG_ARG3, a3);
	vt_wr(e, HCVS_REG_CMD, cmd);
	return vt_rd(e, HCVS_REG_CMD);
}

void
vt_pump(struct vtenv *e)
{
	unsigned i;

	for (i = 0; i < 64 && vsock_dev_pending(e->dev); i++)
		(void)vsock_dev_process(e->dev);
}

static uint32_t
plat_rd(void *ctx, uint32_t off)
{
	return vt_rd(ctx, off);
}

static void
plat_wr(void *ctx, uint32_t off, uint32_t v)
{
	vt_wr(ctx, off, v);
}

static uint64_t
plat_v2p(void *ctx, const void *p)
{
	struct vtenv *e = ctx;

	return VT_RAM_GPA + (uint64_t)((const uint8_t *)p - e->ram);
}

/* The guest waits: the "host" runs its deferred work, interrupts fire. */
static void
plat_wait(void *ctx)
{
	struct vtenv *e = ctx;

	e->waits++;
	vt_pump(e);
	if (e->irqs_pending > 0 && e->drv != NULL) {
		e->irqs_pending = 0;
		e->isr_seen |= hcvg_irq(e->drv);
	}
}

struct vtenv *
vtenv_new(const struct vtenv_opts *o)
{
	struct ioreq_fake_cfg fc = { .nr_vcpus = 1, .ram_gpa = VT_RAM_GPA,
	    .ram_size = VT_RAM_SIZE, .timeout_ms = 5000 };
	struct vtenv *e = calloc(1, sizeof(*e));
	uint64_t gpa;
	size_t size;

	if (e == NULL)
		abort();
	if (o != NULL)
		e->opts = *o;
	if (ioreq_fake_new(&fc, &e->fake) != 0 ||
	    ioreq_shm_open(ioreq_fake_shm_cfg(e->fake), &e->src) != 0)
		abort();
	e->ram = ioreq_fake_ram(e->fake, &gpa, &size);
	if (e->ram == NULL || gpa != VT_RAM_GPA || size != VT_RAM_SIZE)
		abort();
	e->mem = ioreq_source_mem(e->src);
	e->eng = ioreq_source_engine(e->src);
	e->n = ioreq_source_notifier(e->src);
	dev_create(e);
	if (ioreq_source_add_range(e->src, IOREQ_SPACE_PIO, VT_PIO_BASE,
	    VT_PIO_BASE + HCVS_REG_WINDOW_SIZE - 1, &env_ops, e) != 0 ||
	    ioreq_source_add_range(e->src, IOREQ_SPACE_MMIO, VT_MMIO_BASE,
	    VT_MMIO_BASE + 0xFFF, &env_ops, e) != 0)
		abort();
	ioreq_engine_set_post_hook(e->eng, post_hook, e);
	if (ioreq_source_enable(e->src) != 0)
		abort();
	e->plat.ctx = e;
	e->plat.reg_read = plat_rd;
	e->plat.reg_write = plat_wr;
	e->plat.virt_to_phys = plat_v2p;
	e->plat.wait = plat_wait;
	return e;
}

void
vtenv_restart(struct vtenv *e)
{
	vsock_dev_free(e->dev);
	fake_mux_free(e->mux);
	dev_create(e);
}

void
vtenv_free(struct vtenv *e)
{
	if (e == NULL)
		return;
	vsock_dev_free(e->dev);
	fake_mux_free(e->mux);
	ioreq_source_close(e->src, true);
	ioreq_fake_free(e->fake);
	free(e);
}

void *
vt_ptr(struct vtenv *e, uint64_t gpa)
{
	if (gpa < VT_RAM_GPA || gpa >= VT_RAM_GPA + VT_RAM_SIZE)
		abort();
	return e->ram + (gpa - VT_RAM_GPA);
}

uint32_t
vt_get32(struct vtenv *e, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, vt_ptr(e, gpa), 4);
	return le32toh(v);
}

void
vt_put32(struct vtenv *e, uint64_t gpa, uint32_t v)
{
	v = htole32(v);
	memcpy(vt_ptr(e, gpa), &v, 4);
}
