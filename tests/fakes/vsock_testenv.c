/* SPDX-License-Identifier: MIT */
/* The vsock device test environment (see vsock_testenv.h). */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_vsock_mux.h"
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
irq_raise_cb(void *arg, const struct vsock_irq_cfg *irq, bool level)
{
	struct vtenv *e = arg;

	if (irq->mode == HCVS_IRQ_ISA && !e->opts.is_hvm)
		abort();	/* the Xen 4.17 crash: must never happen */
	if (level) {
		e->raises++;
		e->irqs_pending++;
	} else {
		e->lowers++;
	}
	e->raise_last = *irq;
	return 0;
}

static const struct vsock_dev_irq_ops irq_ops = {
	.setup = irq_setup_cb,
	.raise = irq_raise_cb,
};

static void
dev_create(struct vtenv *e)
{
	struct vsock_dev_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.mem = e->mem;
	cfg.guest_cid = VT_CID;
	cfg.features = e->opts.features;
	cfg.irq_caps = e->opts.irq_caps;
	cfg.is_hvm = e->opts.is_hvm;
	cfg.irq_ops = &irq_ops;
	cfg.irq_arg = e;
	cfg.name = "test";
	if (vsock_dev_new(&cfg, &e->dev) != 0)
		abort();
	e->mux = fake_mux_new(VT_CID, vsock_dev_rx_ready, e->dev);
	vsock_dev_set_mux(e->dev, e->mux);
}

uint32_t
vt_rd(struct vtenv *e, uint32_t off)
{
	uint64_t v = 0;

	if (e->no_backend)
		return HCVS_NO_BACKEND;
	if (vsock_dev_handler_ops.read(e->dev, 0, off, 4, &v) < 0)
		return 0xFFFFFFFFu;
	return (uint32_t)v;
}

void
vt_wr(struct vtenv *e, uint32_t off, uint32_t v)
{
	if (e->no_backend)
		return;
	(void)vsock_dev_handler_ops.write(e->dev, 0, off, 4, v);
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
	struct vtenv *e = calloc(1, sizeof(*e));

	if (e == NULL)
		abort();
	if (o != NULL)
		e->opts = *o;
	e->memfd = memfd_create("vt-ram", 0);
	if (e->memfd < 0 || ftruncate(e->memfd, VT_RAM_SIZE) < 0)
		abort();
	e->ram = mmap(NULL, VT_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    e->memfd, 0);
	if (e->ram == MAP_FAILED)
		abort();
	if (ioreq_mem_new_fd(&e->mem) != 0 ||
	    ioreq_mem_add_region(e->mem, e->memfd, VT_RAM_GPA, VT_RAM_SIZE,
	    0) != 0)
		abort();
	dev_create(e);
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
	ioreq_mem_free(e->mem);
	munmap(e->ram, VT_RAM_SIZE);
	close(e->memfd);
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
