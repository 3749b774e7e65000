/* SPDX-License-Identifier: MIT */
/* The guest driver's platform over the fake ioreq page (fake_plat.h). */
#include <time.h>

#include "fake_guest.h"
#include "fake_plat.h"
#include "ioreq/ioreq_xenabi.h"

static int
access(struct fake_plat *fp, uint32_t off, uint8_t dir, uint64_t *v)
{
	int rc;

	if (fp->fp_mmio)
		rc = ioreq_fake_mmio(fp->fp_fake, 0, fp->fp_mmio_base + off, 4,
		    dir, v);
	else
		rc = ioreq_fake_pio(fp->fp_fake, 0,
		    (uint16_t)(fp->fp_pio + off), 4, dir, v);
	if (rc < 0 && fp->fp_err == 0)
		fp->fp_err = rc;
	return rc;
}

static uint32_t
fp_read(void *ctx, uint32_t off)
{
	uint64_t v = 0;

	return access(ctx, off, IOREQ_READ, &v) < 0 ? 0xFFFFFFFFu : (uint32_t)v;
}

static void
fp_write(void *ctx, uint32_t off, uint32_t val)
{
	struct fake_plat *fp = ctx;
	uint64_t v = val;

	if (access(fp, off, IOREQ_WRITE, &v) < 0)
		fp->fp_lost_writes++;
}

static uint64_t
fp_v2p(void *ctx, const void *p)
{
	struct fake_plat *fp = ctx;

	return fp->fp_ram_gpa + (uint64_t)((const uint8_t *)p - fp->fp_ram);
}

static void
fp_wait(void *ctx)
{
	struct timespec ts = { 0, 20000 };

	(void)ctx;
	nanosleep(&ts, NULL);
}

void
fake_plat_init(struct fake_plat *fp, struct hcvg_platform *p)
{
	p->ctx = fp;
	p->reg_read = fp_read;
	p->reg_write = fp_write;
	p->mb = NULL;
	p->virt_to_phys = fp_v2p;
	p->wait = fp_wait;
	p->will_sleep = NULL;
}
