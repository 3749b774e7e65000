/* SPDX-License-Identifier: MIT */
/* The hcvsock device and muxer behind an attached KVM guest, and hcvsockd's KVM listener. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach/attach_vsock.h"
#include "common/log.h"
#include "hcvsock_abi.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mig.h"

struct attach_vsock {
	struct attach_guest	*av_guest;
	char			 av_name[ATTACH_NAME_MAX];
	struct vsock_dev	*av_dev;
	struct vsock_mux	*av_mux;
	struct vsock_mig	*av_mig;	/* NULL: no host listener */
	uint64_t		 av_cid;
	struct attach_vsock	*av_next;	/* in the server's list */
};

static int
av_irq_setup(void *arg, const struct vsock_irq_cfg *irq)
{
	struct attach_vsock *av = arg;

	switch (irq->mode) {
	case HCVS_IRQ_NONE:
		return attach_guest_irq_setup(av->av_guest, ATTACH_GSI_NONE);
	case HCVS_IRQ_GSI:
		return attach_guest_irq_setup(av->av_guest, irq->gsi);
	default:
		return -EOPNOTSUPP;
	}
}

static int
av_irq_raise(void *arg, const struct vsock_irq_cfg *irq, bool level)
{
	struct attach_vsock *av = arg;

	/* irqfd is an edge: there is nothing to deassert. */
	if (irq->mode != HCVS_IRQ_GSI || !level)
		return 0;
	return attach_guest_irq_raise(av->av_guest);
}

static const struct vsock_dev_irq_ops av_irq_ops = {
	.setup = av_irq_setup,
	.raise = av_irq_raise,
};

static int
av_kick(void *opaque)
{
	return vsock_dev_kick(opaque);
}

static int
av_post(void *opaque)
{
	return vsock_dev_process(opaque);
}

/* Host data or a muxer timer left packets for the guest: let the device pull. */
static void
av_mux_rx_ready(void *arg)
{
	struct attach_vsock *av = arg;

	if (av->av_dev != NULL)
		(void)vsock_dev_process(av->av_dev);
}

int
attach_vsock_new(const struct attach_vsock_cfg *cfg, const struct attach_desc *d,
    struct attach_vsock **avp, char *err, size_t errlen)
{
	struct attach_guest_dev gdev;
	struct vsock_dev_cfg dcfg;
	struct vsock_mux_cfg mcfg;
	struct vsock_mig_cfg gcfg;
	struct attach_vsock *av;
	int rc;

	av = calloc(1, sizeof(*av));
	if (av == NULL)
		return -ENOMEM;
	av->av_cid = d->ad_cid;
	snprintf(av->av_name, sizeof(av->av_name), "%s", d->ad_name);
	rc = attach_guest_new(cfg->loop, d, &av->av_guest, err, errlen);
	if (rc < 0)
		goto err_free;
	attach_guest_set_busy_poll(av->av_guest, cfg->busy_poll_ns);

	mcfg = cfg->mux;
	mcfg.guest_cid = d->ad_cid;
	mcfg.rx_ready = av_mux_rx_ready;
	mcfg.rx_ready_arg = av;
	if (cfg->uds_per_cid && mcfg.uds_path[0] != '\0') {
		int n = snprintf(mcfg.uds_path, sizeof(mcfg.uds_path),
		    "%s.%" PRIu64, cfg->mux.uds_path, d->ad_cid);

		if (n < 0 || (size_t)n >= sizeof(mcfg.uds_path)) {
			rc = -ENAMETOOLONG;
			snprintf(err, errlen, "socket path for cid %" PRIu64
			    " too long", d->ad_cid);
			goto err_free;
		}
	}
	rc = vsock_mux_new(cfg->loop, &mcfg, &av->av_mux);
	if (rc < 0) {
		snprintf(err, errlen, "host sockets: %s", strerror(-rc));
		goto err_free;
	}

	/* Migration sessions next to the guest's listener (protocol MSG). */
	rc = vsock_mig_cfg_for(&mcfg, &gcfg);
	if (rc == 0) {
		gcfg.wake = av_mux_rx_ready;
		gcfg.wake_arg = av;
		rc = vsock_mig_new(cfg->loop, &gcfg, &av->av_mig);
	}
	if (rc < 0 && rc != -ENOENT) {
		snprintf(err, errlen, "migration sessions: %s", strerror(-rc));
		goto err_free;
	}

	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.mem = attach_guest_mem(av->av_guest);
	dcfg.backend = &vsock_mux_backend_ops;
	dcfg.backend_arg = av->av_mux;
	if (av->av_mig != NULL) {
		dcfg.msg_backend = &vsock_mig_backend_ops;
		dcfg.msg_backend_arg = av->av_mig;
	}
	dcfg.guest_cid = d->ad_cid;
	dcfg.features = cfg->features;
	dcfg.irq_caps = 1u << HCVS_IRQ_NONE;
	if (attach_guest_can_irq(av->av_guest))
		dcfg.irq_caps |= 1u << HCVS_IRQ_GSI;
	/* KVM has no PVH hazard, but line interrupts are not offered here. */
	dcfg.is_hvm = false;
	dcfg.irq_ops = &av_irq_ops;
	dcfg.irq_arg = av;
	dcfg.name = attach_guest_name(av->av_guest);
	rc = vsock_dev_new(&dcfg, &av->av_dev);
	if (rc < 0) {
		snprintf(err, errlen, "device: %s", strerror(-rc));
		goto err_free;
	}

	memset(&gdev, 0, sizeof(gdev));
	gdev.gd_ops = &vsock_dev_handler_ops;
	gdev.gd_opaque = av->av_dev;
	gdev.gd_kick = av_kick;
	gdev.gd_post = av_post;
	rc = attach_guest_set_device(av->av_guest, &gdev);
	if (rc < 0) {
		snprintf(err, errlen, "register window: %s", strerror(-rc));
		goto err_free;
	}
	*avp = av;
	return 0;

err_free:
	attach_vsock_free(av);
	return rc;
}

void
attach_vsock_free(struct attach_vsock *av)
{
	if (av == NULL)
		return;
	/* No more calls into the device, then the device, then the rest. */
	attach_guest_stop(av->av_guest);
	vsock_mux_free(av->av_mux);
	vsock_mig_free(av->av_mig);
	vsock_dev_free(av->av_dev);
	attach_guest_free(av->av_guest);
	free(av);
}

struct vsock_dev *
attach_vsock_dev(struct attach_vsock *av)
{
	return av->av_dev;
}

struct vsock_mux *
attach_vsock_mux(struct attach_vsock *av)
{
	return av->av_mux;
}

struct attach_guest *
attach_vsock_guest(struct attach_vsock *av)
{
	return av->av_guest;
}

/* ---- hcvsockd's listener ------------------------------------------------- */

struct attach_vsock_server {
	struct attach_vsock_cfg	 vs_cfg;
	struct attach_server	*vs_srv;
	struct attach_vsock	*vs_guests;
	unsigned		 vs_nr;
};

static int
vs_attach(void *arg, struct attach_desc *d, void **guestp, char *err,
    size_t errlen)
{
	struct attach_vsock_server *vs = arg;
	struct attach_vsock *av;
	int rc;

	if (vs->vs_cfg.require_cid != 0 && d->ad_cid != vs->vs_cfg.require_cid) {
		snprintf(err, errlen, "cid %" PRIu64 " is not the configured "
		    "guest_cid %" PRIu64, d->ad_cid, vs->vs_cfg.require_cid);
		return -EPERM;
	}
	for (av = vs->vs_guests; av != NULL; av = av->av_next)
		if (av->av_cid == d->ad_cid) {
			snprintf(err, errlen, "cid %" PRIu64 " is already "
			    "attached", d->ad_cid);
			return -EADDRINUSE;
		}
	rc = attach_vsock_new(&vs->vs_cfg, d, &av, err, errlen);
	if (rc < 0)
		return rc;
	av->av_next = vs->vs_guests;
	vs->vs_guests = av;
	vs->vs_nr++;
	*guestp = av;
	if (vs->vs_cfg.on_attach != NULL)
		vs->vs_cfg.on_attach(vs->vs_cfg.hook_arg, av->av_name,
		    av->av_cid);
	return 0;
}

static void
vs_detach(void *arg, void *guest)
{
	struct attach_vsock_server *vs = arg;
	struct attach_vsock **pp, *av = guest;
	char name[ATTACH_NAME_MAX];
	uint64_t cid = av->av_cid;

	for (pp = &vs->vs_guests; *pp != NULL; pp = &(*pp)->av_next) {
		if (*pp == av) {
			*pp = av->av_next;
			vs->vs_nr--;
			break;
		}
	}
	memcpy(name, av->av_name, sizeof(name));
	attach_vsock_free(av);
	if (vs->vs_cfg.on_detach != NULL)
		vs->vs_cfg.on_detach(vs->vs_cfg.hook_arg, name, cid);
}

/* In a guest's own process: its loop, and none of the parent's guests. */
static void
vs_forked(void *arg, struct loop *l)
{
	struct attach_vsock_server *vs = arg;

	vs->vs_cfg.loop = l;
	vs->vs_guests = NULL;
	vs->vs_nr = 0;
}

static const struct attach_server_ops vs_ops = {
	.attach = vs_attach,
	.detach = vs_detach,
	.forked = vs_forked,
};

int
attach_vsock_listen(const struct attach_vsock_cfg *cfg, const char *path,
    unsigned max_guests, struct attach_vsock_server **sp)
{
	struct attach_vsock_server *vs;
	int rc;

	vs = calloc(1, sizeof(*vs));
	if (vs == NULL)
		return -ENOMEM;
	vs->vs_cfg = *cfg;
	rc = attach_server_new(cfg->loop, path, max_guests, &vs_ops, vs,
	    &vs->vs_srv);
	if (rc < 0) {
		free(vs);
		return rc;
	}
	if (cfg->peers != NULL)
		attach_server_set_peers(vs->vs_srv, cfg->peers);
	if (cfg->fork_per_guest)
		attach_server_set_fork(vs->vs_srv, true);
	vs->vs_cfg.peers = NULL;	/* the caller's: not kept */
	*sp = vs;
	return 0;
}

void
attach_vsock_unlisten(struct attach_vsock_server *vs)
{
	if (vs == NULL)
		return;
	attach_server_free(vs->vs_srv);
	free(vs);
}

unsigned
attach_vsock_nr_guests(const struct attach_vsock_server *vs)
{
	if (vs->vs_cfg.fork_per_guest)
		return attach_server_nr_guests(vs->vs_srv);
	return vs->vs_nr;
}

int
attach_vsock_reconfigure(struct attach_vsock_server *vs,
    const struct vsock_mux_cfg *mux)
{
	struct attach_vsock *av;
	int rc, first = 0;

	vs->vs_cfg.mux = *mux;
	for (av = vs->vs_guests; av != NULL; av = av->av_next) {
		struct vsock_mux_cfg mcfg = *mux;

		mcfg.guest_cid = av->av_cid;
		mcfg.rx_ready = av_mux_rx_ready;
		mcfg.rx_ready_arg = av;
		if (vs->vs_cfg.uds_per_cid && mcfg.uds_path[0] != '\0') {
			int n = snprintf(mcfg.uds_path, sizeof(mcfg.uds_path),
			    "%s.%" PRIu64, mux->uds_path, av->av_cid);

			if (n < 0 || (size_t)n >= sizeof(mcfg.uds_path)) {
				if (first == 0)
					first = -ENAMETOOLONG;
				continue;
			}
		}
		rc = vsock_mux_reconfigure(av->av_mux, &mcfg);
		if (rc < 0 && first == 0)
			first = rc;
	}
	return first;
}

void
attach_vsock_dump(const struct attach_vsock_server *vs,
    void (*cb)(void *arg, const char *line), void *arg)
{
	const struct attach_vsock *av;
	char line[256];

	attach_server_dump_children(vs->vs_srv, cb, arg);
	for (av = vs->vs_guests; av != NULL; av = av->av_next) {
		struct attach_guest_stats st;

		attach_guest_get_stats(av->av_guest, &st);
		snprintf(line, sizeof(line), "kvm guest \"%s\" cid %" PRIu64
		    ": %" PRIu64 " forwarded requests, %" PRIu64 " kicks, %"
		    PRIu64 " irqs", attach_guest_name(av->av_guest), av->av_cid,
		    st.gs_requests, st.gs_kicks, st.gs_irqs);
		cb(arg, line);
		vsock_dev_dump(av->av_dev, cb, arg);
		vsock_mux_dump(av->av_mux, cb, arg);
		if (av->av_mig != NULL)
			vsock_mig_dump(av->av_mig, cb, arg);
	}
}

void
attach_vsock_foreach_guest(const struct attach_vsock_server *vs,
    void (*fn)(void *arg, const struct attach_vsock_guest_info *gi), void *arg)
{
	const struct attach_vsock *av;
	struct attach_vsock_guest_info gi;

	for (av = vs->vs_guests; av != NULL; av = av->av_next) {
		gi.gi_name = attach_guest_name(av->av_guest);
		gi.gi_cid = av->av_cid;
		attach_guest_get_stats(av->av_guest, &gi.gi_stats);
		gi.gi_dev = av->av_dev;
		gi.gi_mux = av->av_mux;
		fn(arg, &gi);
	}
}
