/* SPDX-License-Identifier: MIT */
/* The real device and muxer on the fake page (fake_vsock.h). */
#include <errno.h>
#include <string.h>

#include "common/loop.h"
#include "fake_srv.h"
#include "fake_vsock.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq.h"
#include "vsock/vsock_mig.h"

static void
work_timer(struct loop *l, void *arg)
{
	struct fake_vsock *fv = arg;

	(void)l;
	fv->fv_timer = 0;
	if (vsock_dev_process(fv->fv_dev) == 1)
		fv->fv_timer = loop_add_timer(fv->fv_fs->fs_loop, 0,
		    work_timer, fv);
}

/* After a completed request and on host news: the device's work. */
static void
run_dev(void *arg)
{
	struct fake_vsock *fv = arg;

	if (fv->fv_dev != NULL && vsock_dev_process(fv->fv_dev) == 1 &&
	    fv->fv_timer == 0)
		fv->fv_timer = loop_add_timer(fv->fv_fs->fs_loop, 0,
		    work_timer, fv);
}

int
fake_vsock_open(struct fake_vsock *fv, struct fake_srv *fs,
    const struct vsock_mux_cfg *mc, const struct vsock_dev_cfg *dc,
    uint64_t pio_base, uint64_t mmio_base, bool mig)
{
	struct vsock_mux_cfg m = *mc;
	struct vsock_dev_cfg d = *dc;
	struct vsock_mig_cfg gc;
	int rc;

	memset(fv, 0, sizeof(*fv));
	fv->fv_fs = fs;
	m.rx_ready = run_dev;
	m.rx_ready_arg = fv;
	if ((rc = vsock_mux_new(fs->fs_loop, &m, &fv->fv_mux)) < 0)
		goto err;
	if (mig) {
		if ((rc = vsock_mig_cfg_for(&m, &gc)) < 0)
			goto err;
		memcpy(fv->fv_mig_path, gc.path, sizeof(fv->fv_mig_path));
		fv->fv_mig_path[sizeof(fv->fv_mig_path) - 1] = '\0';
		gc.wake = run_dev;
		gc.wake_arg = fv;
		if ((rc = vsock_mig_new(fs->fs_loop, &gc, &fv->fv_mig)) < 0)
			goto err;
		d.msg_backend = &vsock_mig_backend_ops;
		d.msg_backend_arg = fv->fv_mig;
	}
	if (d.mem == NULL)
		d.mem = ioreq_source_mem(fs->fs_src);
	d.backend = &vsock_mux_backend_ops;
	d.backend_arg = fv->fv_mux;
	if ((rc = vsock_dev_new(&d, &fv->fv_dev)) < 0)
		goto err;
	rc = ioreq_source_add_range(fs->fs_src, IOREQ_SPACE_PIO, pio_base,
	    pio_base + HCVS_REG_WINDOW_SIZE - 1, &vsock_dev_handler_ops,
	    fv->fv_dev);
	if (rc < 0)
		goto err;
	if (mmio_base != 0) {
		rc = ioreq_source_add_range(fs->fs_src, IOREQ_SPACE_MMIO,
		    mmio_base, mmio_base + 0xFFF, &vsock_dev_handler_ops,
		    fv->fv_dev);
		if (rc < 0)
			goto err;
	}
	ioreq_engine_set_post_hook(fs->fs_eng, run_dev, fv);
	return 0;
err:
	fake_vsock_close(fv);
	return rc;
}

void
fake_vsock_close(struct fake_vsock *fv)
{
	if (fv->fv_fs == NULL)
		return;
	ioreq_engine_set_post_hook(fv->fv_fs->fs_eng, NULL, NULL);
	if (fv->fv_timer > 0)
		loop_del_timer(fv->fv_fs->fs_loop, fv->fv_timer);
	/* The device first: the muxer's and the bridge's teardown wake nobody. */
	vsock_dev_free(fv->fv_dev);
	fv->fv_dev = NULL;
	vsock_mig_free(fv->fv_mig);
	vsock_mux_free(fv->fv_mux);
	memset(fv, 0, sizeof(*fv));
}
