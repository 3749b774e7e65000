/* SPDX-License-Identifier: MIT */
/* The hcvsock device and muxer behind an attached KVM guest, and hcvsockd's KVM listener. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "attach/attach_vsock.h"
#include "binding/binding.h"
#include "common/log.h"
#include "hcvsock_abi.h"

/* The MMIO register window: one page. */
#define ATTACH_MMIO_WINDOW	0x1000u

struct attach_vsock {
	struct binding		*av_bind;
	char			 av_name[ATTACH_NAME_MAX];
	uint64_t		 av_cid;
	void			*av_state;	/* the VMM's state page, or NULL */
	uint64_t		 av_state_seq;
	/* The listener's state hook, from the moment the guest is attached. */
	void			(*av_on_state)(void *arg, struct attach_vsock *av);
	void			*av_hook_arg;
	struct attach_vsock	*av_next;	/* in the server's list */
};

/* The guest's muxer configuration: its CID and, per CID, its sockets. */
static int
av_mux_cfg(const struct attach_vsock_cfg *cfg, const struct vsock_mux_cfg *mux,
    uint64_t cid, struct vsock_mux_cfg *out)
{
	*out = *mux;
	out->guest_cid = cid;
	if (cfg->uds_per_cid && mux->uds_path[0] != '\0') {
		int n = snprintf(out->uds_path, sizeof(out->uds_path),
		    "%s.%" PRIu64, mux->uds_path, cid);

		if (n < 0 || (size_t)n >= sizeof(out->uds_path))
			return -ENAMETOOLONG;
	}
	return 0;
}

/* Runs before the request that changed the state is answered. */
static void
av_record(void *arg)
{
	struct attach_vsock *av = arg;
	struct vsock_dev_state st;

	if (av->av_state == NULL || av->av_bind == NULL)
		return;
	binding_export(av->av_bind, &st);
	attach_state_store(av->av_state, &st, ++av->av_state_seq);
}

/*
 * Map the VMM's state page and take what an earlier hcvsockd recorded
 * there: the guest carries on with its device, every connection reset.
 */
static void
av_restore(struct attach_vsock *av, int fd)
{
	struct vsock_dev_state st;
	void *p;
	int rc;

	p = mmap(NULL, ATTACH_STATE_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (p == MAP_FAILED) {
		log_warnx("%s (cid %" PRIu64 "): state page: %s: the device "
		    "state is not recorded", av->av_name, av->av_cid,
		    strerror(errno));
		return;
	}
	av->av_state = p;
	rc = attach_state_load(p, &st, &av->av_state_seq);
	if (rc == -ENOENT) {
		log_info("%s (cid %" PRIu64 "): no device state recorded: a "
		    "fresh device", av->av_name, av->av_cid);
	} else if (rc < 0) {
		av->av_state_seq = 0;
		log_warnx("%s (cid %" PRIu64 "): the state page holds no intact "
		    "record: a fresh device (the guest must reset it)",
		    av->av_name, av->av_cid);
	} else if ((rc = binding_import(av->av_bind, &st)) < 0) {
		log_warnx("%s (cid %" PRIu64 "): the recorded device state was "
		    "refused (%s): a fresh device (the guest must reset it)",
		    av->av_name, av->av_cid, strerror(-rc));
	} else {
		log_info("%s (cid %" PRIu64 "): device state restored from the "
		    "VMM's state page (epoch %" PRIu32 "): every connection "
		    "was reset", av->av_name, av->av_cid, st.st_epoch + 1);
	}
	/* The next hcvsockd must see this one's epoch too. */
	av_record(av);
}

/* Recorded in the VMM's page, then told to the listener's owner. */
static void
av_state_changed(void *arg)
{
	struct attach_vsock *av = arg;

	av_record(av);
	if (av->av_on_state != NULL)
		av->av_on_state(av->av_hook_arg, av);
}

int
attach_vsock_new(const struct attach_vsock_cfg *cfg, const struct attach_desc *d,
    struct attach_vsock **avp, char *err, size_t errlen)
{
	struct binding_cfg bc;
	struct ioreq_source *src;
	struct attach_vsock *av;
	int rc;

	memset(&bc, 0, sizeof(bc));
	if (av_mux_cfg(cfg, &cfg->mux, d->ad_cid, &bc.mux) < 0) {
		snprintf(err, errlen, "socket path for cid %" PRIu64
		    " too long", d->ad_cid);
		return -ENAMETOOLONG;
	}
	av = calloc(1, sizeof(*av));
	if (av == NULL)
		return -ENOMEM;
	av->av_cid = d->ad_cid;
	snprintf(av->av_name, sizeof(av->av_name), "%s", d->ad_name);
	rc = attach_source_open(d, &src, err, errlen);
	if (rc < 0) {
		free(av);
		return rc;
	}
	bc.loop = cfg->loop;
	bc.name = av->av_name;
	bc.features = cfg->features;
	bc.irq_modes = cfg->irq_modes != 0 ? cfg->irq_modes : UINT32_MAX;
	bc.nr_windows = 1;
	bc.windows[0].space = d->ad_window_space;
	bc.windows[0].base = d->ad_window_base;
	bc.windows[0].size = d->ad_window_space == IOREQ_SPACE_PIO ?
	    HCVS_REG_WINDOW_SIZE : ATTACH_MMIO_WINDOW;
	bc.busy_poll_ns = cfg->busy_poll_ns;
	bc.sync_poll_ns = cfg->sync_poll_ns;
	bc.tx_poll_ns = cfg->tx_poll_ns;
	bc.state_changed = av_state_changed;
	bc.hook_arg = av;
	rc = binding_new(&bc, src, &av->av_bind, err, errlen);
	/* Before enable: a request the dead daemon left is answered by it. */
	if (rc == 0 && d->ad_state_fd >= 0)
		av_restore(av, d->ad_state_fd);
	if (rc == 0 && (rc = binding_enable(av->av_bind)) < 0)
		snprintf(err, errlen, "enabling: %s", strerror(-rc));
	if (rc < 0) {
		attach_vsock_free(av);
		return rc;
	}
	*avp = av;
	return 0;
}

void
attach_vsock_free(struct attach_vsock *av)
{
	if (av == NULL)
		return;
	binding_free(av->av_bind, true);
	if (av->av_state != NULL)
		munmap(av->av_state, ATTACH_STATE_PAGE);
	free(av);
}

struct binding *
attach_vsock_binding(struct attach_vsock *av)
{
	return av->av_bind;
}

const char *
attach_vsock_name(const struct attach_vsock *av)
{
	return av->av_name;
}

uint64_t
attach_vsock_cid(const struct attach_vsock *av)
{
	return av->av_cid;
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
	av->av_on_state = vs->vs_cfg.on_state;
	av->av_hook_arg = vs->vs_cfg.hook_arg;
	av_state_changed(av);
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
	av->av_on_state = NULL;
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
		struct vsock_mux_cfg mcfg;

		rc = av_mux_cfg(&vs->vs_cfg, mux, av->av_cid, &mcfg);
		if (rc == 0)
			rc = binding_reconfigure(av->av_bind, &mcfg);
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
		struct binding_stats st;

		binding_get_stats(av->av_bind, &st);
		snprintf(line, sizeof(line), "kvm guest \"%s\" cid %" PRIu64
		    ": %" PRIu64 " forwarded requests, %" PRIu64 " kicks, %"
		    PRIu64 " irqs", av->av_name, av->av_cid, st.bs_requests,
		    st.bs_doorbells, st.bs_irqs);
		cb(arg, line);
		binding_dump(av->av_bind, cb, arg);
	}
}

void
attach_vsock_foreach_child(const struct attach_vsock_server *vs,
    void (*fn)(void *arg, const char *name, uint64_t cid, long pid), void *arg)
{
	attach_server_foreach_child(vs->vs_srv, fn, arg);
}

void
attach_vsock_foreach_guest(const struct attach_vsock_server *vs,
    void (*fn)(void *arg, const struct attach_vsock_guest_info *gi), void *arg)
{
	const struct attach_vsock *av;
	struct attach_vsock_guest_info gi;

	for (av = vs->vs_guests; av != NULL; av = av->av_next) {
		gi.gi_name = av->av_name;
		gi.gi_cid = av->av_cid;
		binding_get_stats(av->av_bind, &gi.gi_stats);
		gi.gi_dev = binding_dev(av->av_bind);
		gi.gi_mux = binding_mux(av->av_bind);
		gi.gi_mig = binding_mig(av->av_bind);
		fn(arg, &gi);
	}
}
