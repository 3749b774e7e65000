/* SPDX-License-Identifier: MIT */
/* The Xen IOREQ server: the only user of the Xen libraries in src/ioreq. */
#include <sys/mman.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xentoolcore.h>

#include "common/log.h"
#include "hcvsock_abi.h"
#include "notify/notify.h"
#include "ioreq/ioreq_impl.h"
#include "ioreq/ioreq_xen.h"

#define XEN_DEATH_TOKEN	"hcvsock-release"

/*
 * Bring-up stages, in order; teardown walks them backwards from wherever
 * bring-up (or the daemon) got to (demu's DEMU_SEQ idiom).
 */
enum xen_seq {
	XEN_SEQ_NONE,
	XEN_SEQ_DMOD_OPEN,
	XEN_SEQ_FMEM_OPEN,
	XEN_SEQ_DOMAIN_CHECKED,
	XEN_SEQ_NOTIFIER_OPEN,
	XEN_SEQ_SERVER_READY,		/* created, or found for re-attach */
	XEN_SEQ_RESOURCE_MAPPED,
	XEN_SEQ_MEM_READY,
	XEN_SEQ_ENGINE_READY,
	XEN_SEQ_WATCH_OPEN,
	XEN_SEQ_OPEN = XEN_SEQ_WATCH_OPEN,	/* ioreq_xen_open done */
	XEN_SEQ_ENABLED,
	XEN_SEQ_PORTS_BOUND,
};

struct ioreq_xen {
	struct ioreq_source	 x_src;
	enum xen_seq		 x_seq;
	uint32_t		 x_domid;
	bool			 x_bufioreq;
	bool			 x_reattach;
	bool			 x_quiesced;
	ioservid_t		 x_id;
	xendevicemodel_handle	*x_dmod;
	xenforeignmemory_handle	*x_fmem;
	xenforeignmemory_resource_handle *x_res;
	void			*x_res_addr;
	struct ioreq		*x_slots;
	struct buffered_iopage	*x_buf;
	evtchn_port_t		 x_buf_remote;
	uint32_t		 x_buf_local;
	uint32_t		*x_local;	/* per vCPU, NOTIFY_PORT_INVALID */
	struct xs_handle	*x_xs;
	bool			 x_xs_watching;
};

static struct ioreq_xen *
to_xen(const struct ioreq_source *s)
{
	return (struct ioreq_xen *)(uintptr_t)s;
}

static int	xen_quiesce(struct ioreq_source *s);

/* ---- Teardown ------------------------------------------------------------- */

static void
xen_unbind_all(struct ioreq_xen *x)
{
	unsigned i;

	for (i = 0; i < x->x_src.src_nr_vcpus; i++) {
		if (x->x_local[i] == NOTIFY_PORT_INVALID)
			continue;
		(void)notifier_unbind(x->x_src.src_notifier, x->x_local[i]);
		(void)ioreq_engine_set_port(x->x_src.src_engine, i,
		    NOTIFY_PORT_INVALID);
		x->x_local[i] = NOTIFY_PORT_INVALID;
	}
	if (x->x_buf_local != NOTIFY_PORT_INVALID) {
		(void)notifier_unbind(x->x_src.src_notifier, x->x_buf_local);
		ioreq_engine_set_buf_port(x->x_src.src_engine,
		    NOTIFY_PORT_INVALID);
		x->x_buf_local = NOTIFY_PORT_INVALID;
	}
}

/*
 * Walk back from x_seq to `to`.  With `destroy` the server is answered
 * out, disabled and destroyed (a re-attached one as well: the daemon
 * decided to stop for good); without, it stays enabled with its ranges
 * for the next process.
 */
static void
xen_unwind(struct ioreq_xen *x, enum xen_seq to, bool destroy)
{
	while (x->x_seq > to) {
		switch (x->x_seq) {
		case XEN_SEQ_PORTS_BOUND:
			/*
			 * A server destroyed with a request pending leaves that
			 * vCPU blocked for ever: answer (ports still bound, so
			 * the vCPUs are woken), disable, answer what slipped in
			 * meanwhile, and only then unbind.
			 */
			if (destroy && !x->x_quiesced)
				(void)xen_quiesce(&x->x_src);
			xen_unbind_all(x);
			break;
		case XEN_SEQ_ENABLED:
			/* Enabled but never bound (enable failed half-way). */
			if (destroy && !x->x_quiesced) {
				x->x_quiesced = true;
				(void)xendevicemodel_set_ioreq_server_state(
				    x->x_dmod, x->x_domid, x->x_id, 0);
			}
			break;
		case XEN_SEQ_WATCH_OPEN:
			if (x->x_xs != NULL) {
				if (x->x_xs_watching)
					(void)xs_unwatch(x->x_xs,
					    "@releaseDomain", XEN_DEATH_TOKEN);
				xs_close(x->x_xs);
				x->x_xs = NULL;
				x->x_xs_watching = false;
			}
			break;
		case XEN_SEQ_ENGINE_READY:
			ioreq_engine_free(x->x_src.src_engine);
			x->x_src.src_engine = NULL;
			break;
		case XEN_SEQ_MEM_READY:
			/* Foreign mappings pin a dying domain: drop them. */
			ioreq_mem_free(x->x_src.src_mem);
			x->x_src.src_mem = NULL;
			break;
		case XEN_SEQ_RESOURCE_MAPPED:
			(void)xenforeignmemory_unmap_resource(x->x_fmem,
			    x->x_res);
			x->x_res = NULL;
			x->x_slots = NULL;
			x->x_buf = NULL;
			break;
		case XEN_SEQ_SERVER_READY:
			if (destroy)
				(void)xendevicemodel_destroy_ioreq_server(
				    x->x_dmod, x->x_domid, x->x_id);
			break;
		case XEN_SEQ_NOTIFIER_OPEN:
			ioreq_source_release_irq(&x->x_src);
			notifier_close(x->x_src.src_notifier);
			x->x_src.src_notifier = NULL;
			break;
		case XEN_SEQ_DOMAIN_CHECKED:
			break;
		case XEN_SEQ_FMEM_OPEN:
			(void)xenforeignmemory_close(x->x_fmem);
			x->x_fmem = NULL;
			break;
		case XEN_SEQ_DMOD_OPEN:
			(void)xendevicemodel_close(x->x_dmod);
			x->x_dmod = NULL;
			break;
		case XEN_SEQ_NONE:
			break;
		}
		x->x_seq--;
	}
}

/* ---- Bring-up stages ------------------------------------------------------ */

static int
xen_open_handles(struct ioreq_xen *x)
{
	int err;

	x->x_dmod = xendevicemodel_open(NULL, 0);
	if (x->x_dmod == NULL) {
		err = errno;
		if (err == ENOENT) {
			log_warnx("no Xen: /dev/xen/privcmd is missing "
			    "(not running as a Xen dom0?)");
			return -ENODEV;
		}
		if (err == EACCES || err == EPERM) {
			log_warnx("no permission to use /dev/xen/privcmd "
			    "(hcvsockd must start as root)");
			return -EACCES;
		}
		errno = err;
		log_warn("xendevicemodel_open");
		return -err;
	}
	x->x_seq = XEN_SEQ_DMOD_OPEN;
	x->x_fmem = xenforeignmemory_open(NULL, 0);
	if (x->x_fmem == NULL) {
		err = errno;
		log_warn("xenforeignmemory_open");
		return -err;
	}
	x->x_seq = XEN_SEQ_FMEM_OPEN;
	return 0;
}

/*
 * HVM or PVH (both "hvm_guest"), or PV.  xc_domain_getinfolist returns
 * the first domains >= domid, so the id must be checked.  libxenctrl is
 * closed again at once: its xencall handle is useless after restriction.
 */
static int
xen_check_domain(struct ioreq_xen *x)
{
	xc_interface *xch;
	xc_domaininfo_t info;
	int rc, err;

	xch = xc_interface_open(NULL, NULL, 0);
	if (xch == NULL) {
		err = errno;
		log_warn("xc_interface_open");
		return -err;
	}
	memset(&info, 0, sizeof(info));
	rc = xc_domain_getinfolist(xch, x->x_domid, 1, &info);
	err = errno;
	xc_interface_close(xch);
	if (rc < 0) {
		errno = err;
		log_warn("dom%" PRIu32 ": domain info", x->x_domid);
		return -err;
	}
	if (rc == 0 || info.domain != x->x_domid) {
		log_warnx("dom%" PRIu32 ": no such domain", x->x_domid);
		return -ESRCH;
	}
	if (info.flags & XEN_DOMINF_dying) {
		log_warnx("dom%" PRIu32 ": domain is dying", x->x_domid);
		return -ESRCH;
	}
	if (!(info.flags & XEN_DOMINF_hvm_guest)) {
		log_warnx("dom%" PRIu32 ": a PV domain: Xen refuses device "
		    "model operations; use an HVM or PVH guest", x->x_domid);
		return -EOPNOTSUPP;
	}
	x->x_seq = XEN_SEQ_DOMAIN_CHECKED;
	return 0;
}

static int
xen_server(struct ioreq_xen *x, int reattach_id)
{
	evtchn_port_t bufport = 0;
	unsigned nr = 0;
	int rc, err;

	rc = xendevicemodel_nr_vcpus(x->x_dmod, x->x_domid, &nr);
	if (rc < 0) {
		err = errno;
		log_warn("dom%" PRIu32 ": xendevicemodel_nr_vcpus", x->x_domid);
		return -err;
	}
	/* One page of 32-byte slots: Xen never serves more. */
	if (nr == 0 || nr > IOREQ_MAX_VCPUS) {
		log_warnx("dom%" PRIu32 ": %u vCPUs (1..%zu supported)",
		    x->x_domid, nr, IOREQ_MAX_VCPUS);
		return -E2BIG;
	}
	x->x_src.src_nr_vcpus = nr;
	x->x_local = calloc(nr, sizeof(*x->x_local));
	if (x->x_local == NULL)
		return -ENOMEM;
	memset(x->x_local, 0xff, nr * sizeof(*x->x_local));

	if (reattach_id >= 0) {
		x->x_reattach = true;
		x->x_id = (ioservid_t)reattach_id;
	} else {
		rc = xendevicemodel_create_ioreq_server(x->x_dmod, x->x_domid,
		    x->x_bufioreq ? HVM_IOREQSRV_BUFIOREQ_ATOMIC :
		    HVM_IOREQSRV_BUFIOREQ_OFF, &x->x_id);
		if (rc < 0) {
			err = errno;
			if (err == ENOSPC)
				log_warnx("dom%" PRIu32 ": too many IOREQ "
				    "servers (Xen allows 8 per domain)",
				    x->x_domid);
			else if (err == ESRCH)
				log_warnx("dom%" PRIu32 ": no such domain",
				    x->x_domid);
			else
				log_warn("dom%" PRIu32 ": create IOREQ server",
				    x->x_domid);
			return -err;
		}
	}
	/*
	 * Both gfn pointers NULL: libxendevicemodel then asks for no GFNs,
	 * which keeps the pages out of the guest's physmap (XSA-197/199).
	 */
	rc = xendevicemodel_get_ioreq_server_info(x->x_dmod, x->x_domid,
	    x->x_id, NULL, NULL, x->x_bufioreq ? &bufport : NULL);
	if (rc < 0) {
		err = errno;
		if (x->x_reattach && err == ENOENT)
			log_warnx("dom%" PRIu32 ": no IOREQ server %u to "
			    "re-attach to", x->x_domid, (unsigned)x->x_id);
		else
			log_warn("dom%" PRIu32 ": IOREQ server %u info",
			    x->x_domid, (unsigned)x->x_id);
		/* A created server is ours to destroy in the unwind. */
		if (!x->x_reattach)
			x->x_seq = XEN_SEQ_SERVER_READY;
		return -err;
	}
	x->x_buf_remote = bufport;
	x->x_seq = XEN_SEQ_SERVER_READY;
	return 0;
}

static int
xen_map_resource(struct ioreq_xen *x)
{
	unsigned long frame, nr;
	int err;

	/* Without a ring frame 0 does not exist; with one, 0 then 1. */
	frame = x->x_bufioreq ? XENMEM_resource_ioreq_server_frame_bufioreq :
	    XENMEM_resource_ioreq_server_frame_ioreq(0);
	nr = x->x_bufioreq ? 2 : 1;
	x->x_res_addr = NULL;
	x->x_res = xenforeignmemory_map_resource(x->x_fmem, x->x_domid,
	    XENMEM_resource_ioreq_server, x->x_id, frame, nr, &x->x_res_addr,
	    PROT_READ | PROT_WRITE, 0);
	if (x->x_res == NULL) {
		err = errno;
		if (err == EOPNOTSUPP)
			log_warnx("dom%" PRIu32 ": the kernel cannot map the "
			    "ioreq page (IOCTL_PRIVCMD_MMAP_RESOURCE, Linux "
			    ">= 4.18)", x->x_domid);
		else
			log_warn("dom%" PRIu32 ": map ioreq page", x->x_domid);
		return -err;
	}
	if (x->x_bufioreq) {
		x->x_buf = x->x_res_addr;
		x->x_slots = (struct ioreq *)((uint8_t *)x->x_res_addr +
		    IOREQ_PAGE_SIZE);
	} else {
		x->x_slots = x->x_res_addr;
	}
	x->x_seq = XEN_SEQ_RESOURCE_MAPPED;
	return 0;
}

static int
xen_watch(struct ioreq_xen *x, bool want)
{
	int err;

	if (want) {
		x->x_xs = xs_open(0);
		if (x->x_xs == NULL) {
			err = errno;
			log_warn("dom%" PRIu32 ": xenstore", x->x_domid);
			return -err;
		}
		if (!xs_watch(x->x_xs, "@releaseDomain", XEN_DEATH_TOKEN)) {
			err = errno;
			log_warn("dom%" PRIu32 ": watch @releaseDomain",
			    x->x_domid);
			xs_close(x->x_xs);
			x->x_xs = NULL;
			return -err;
		}
		x->x_xs_watching = true;
	}
	x->x_seq = XEN_SEQ_WATCH_OPEN;
	return 0;
}

/* ---- Source ops ----------------------------------------------------------- */

static int
xen_map_range(struct ioreq_source *s, enum ioreq_space sp, uint64_t start,
    uint64_t end)
{
	struct ioreq_xen *x = to_xen(s);
	int err;

	if (xendevicemodel_map_io_range_to_ioreq_server(x->x_dmod, x->x_domid,
	    x->x_id, sp == IOREQ_SPACE_MMIO, start, end) == 0)
		return 0;
	err = errno;
	/* The dead process mapped exactly these ranges before us. */
	if (err == EEXIST && x->x_reattach)
		return 0;
	if (err == EEXIST)
		log_warnx("dom%" PRIu32 ": %s range 0x%" PRIx64 "-0x%" PRIx64
		    " is already claimed on this server", x->x_domid,
		    sp == IOREQ_SPACE_MMIO ? "MMIO" : "port", start, end);
	else if (err == ENOSPC)
		log_warnx("dom%" PRIu32 ": too many ranges on the server",
		    x->x_domid);
	else
		log_warn("dom%" PRIu32 ": map range 0x%" PRIx64 "-0x%" PRIx64,
		    x->x_domid, start, end);
	return -err;
}

static int
xen_bind(struct ioreq_xen *x, evtchn_port_t remote, uint32_t *local)
{
	struct notify_bind b = { .kind = NOTIFY_BIND_EVTCHN,
	    .remote_port = remote, .rx_fd = -1, .tx_fd = -1 };

	return notifier_bind(x->x_src.src_notifier, &b, local);
}

static int
xen_enable(struct ioreq_source *s)
{
	struct ioreq_xen *x = to_xen(s);
	unsigned i;
	int rc, err;

	if (x->x_seq >= XEN_SEQ_PORTS_BOUND && !x->x_quiesced)
		return 0;
	if (xendevicemodel_set_ioreq_server_state(x->x_dmod, x->x_domid,
	    x->x_id, 1) < 0) {
		err = errno;
		log_warn("dom%" PRIu32 ": enable IOREQ server", x->x_domid);
		return -err;
	}
	x->x_quiesced = false;
	ioreq_engine_set_stopped(s->src_engine, false);
	if (x->x_seq >= XEN_SEQ_PORTS_BOUND)
		goto out;	/* re-enabled after a quiesce: still bound */
	x->x_seq = XEN_SEQ_ENABLED;

	/* Xen writes each vp_eport at enable; read each once. */
	for (i = 0; i < s->src_nr_vcpus; i++) {
		uint32_t remote = READ_ONCE(x->x_slots[i].vp_eport);

		if (remote == 0) {
			log_warnx("dom%" PRIu32 ": vCPU %u has no event channel",
			    x->x_domid, i);
			rc = -EPROTO;
			goto err_unbind;
		}
		rc = xen_bind(x, remote, &x->x_local[i]);
		if (rc < 0) {
			log_warnx("dom%" PRIu32 ": bind vCPU %u event channel "
			    "%" PRIu32 ": %s", x->x_domid, i, remote,
			    strerror(-rc));
			x->x_local[i] = NOTIFY_PORT_INVALID;
			goto err_unbind;
		}
		rc = ioreq_engine_set_port(s->src_engine, i, x->x_local[i]);
		if (rc < 0)
			goto err_unbind;
	}
	if (x->x_bufioreq) {
		rc = xen_bind(x, x->x_buf_remote, &x->x_buf_local);
		if (rc < 0) {
			log_warnx("dom%" PRIu32 ": bind buffered-ring event "
			    "channel %" PRIu32 ": %s", x->x_domid,
			    (uint32_t)x->x_buf_remote, strerror(-rc));
			x->x_buf_local = NOTIFY_PORT_INVALID;
			goto err_unbind;
		}
		ioreq_engine_set_buf_port(s->src_engine, x->x_buf_local);
	}
	x->x_seq = XEN_SEQ_PORTS_BOUND;
out:
	/* After a crash the dead process's claimed slots are ours. */
	(void)ioreq_engine_service_all(s->src_engine);
	return 0;

err_unbind:
	/*
	 * Back to "open".  A fresh server is disabled again; a re-attached
	 * one stays enabled so its guest keeps waiting for the next try.
	 */
	x->x_seq = XEN_SEQ_PORTS_BOUND;
	x->x_quiesced = x->x_reattach;
	xen_unwind(x, XEN_SEQ_OPEN, true);
	x->x_quiesced = false;
	ioreq_engine_set_stopped(s->src_engine, true);
	return rc;
}

static int
xen_inject_msi(struct ioreq_source *s, uint64_t addr, uint32_t data)
{
	struct ioreq_xen *x = to_xen(s);

	if (xendevicemodel_inject_msi(x->x_dmod, x->x_domid, addr, data) < 0)
		return -errno;
	return 0;
}

/*
 * xentoolcore_restrict_all covers every open Xen handle but turns a
 * xenstore handle into /dev/null; with the death watch open, restrict
 * handle by handle and keep xenstore deliberately.
 */
static int
xen_restrict(struct ioreq_source *s)
{
	struct ioreq_xen *x = to_xen(s);
	int rc, err;

	if (x->x_xs == NULL) {
		if (xentoolcore_restrict_all((domid_t)x->x_domid) < 0) {
			err = errno;
			log_warn("dom%" PRIu32 ": restrict handles", x->x_domid);
			return -err;
		}
		return 0;
	}
	if (xendevicemodel_restrict(x->x_dmod, (domid_t)x->x_domid) < 0 ||
	    xenforeignmemory_restrict(x->x_fmem, (domid_t)x->x_domid) < 0) {
		err = errno;
		log_warn("dom%" PRIu32 ": restrict handles", x->x_domid);
		return -err;
	}
	rc = notifier_restrict(s->src_notifier, x->x_domid);
	if (rc < 0) {
		log_warnx("dom%" PRIu32 ": restrict event channels: %s",
		    x->x_domid, strerror(-rc));
		return rc;
	}
	return 0;
}

static int
xen_quiesce(struct ioreq_source *s)
{
	struct ioreq_xen *x = to_xen(s);
	int rc = 0, err;

	(void)ioreq_engine_service_all(s->src_engine);
	ioreq_engine_set_stopped(s->src_engine, true);
	if (x->x_seq < XEN_SEQ_ENABLED || x->x_quiesced)
		return 0;
	x->x_quiesced = true;
	if (xendevicemodel_set_ioreq_server_state(x->x_dmod, x->x_domid,
	    x->x_id, 0) < 0) {
		err = errno;
		log_warn("dom%" PRIu32 ": disable IOREQ server", x->x_domid);
		rc = -err;
	}
	/*
	 * A request sent before the disable took effect is still ours, and
	 * this pass sees every one of them: Xen chooses the server and
	 * writes the slot (READY) in one stretch of its emulation path,
	 * with no scheduling point in between, and set_ioreq_server_state
	 * runs under domain_pause(), which waits until no vCPU of the
	 * domain is running.  So when the call returns, a vCPU that chose
	 * this server has its request in the slot, and none can choose it
	 * any more (disabled servers are skipped).  Destroying the server
	 * afterwards strands nobody: a vCPU Xen blocked on a slot is woken
	 * only through its event channel, which is why every slot is
	 * answered (and notified) here, before the ports are unbound.
	 */
	(void)ioreq_engine_service_all(s->src_engine);
	return rc;
}

static void
xen_close(struct ioreq_source *s, bool destroy)
{
	struct ioreq_xen *x = to_xen(s);

	xen_unwind(x, XEN_SEQ_NONE, destroy);
	free(x->x_local);
	free(x);
}

static int
xen_server_id(const struct ioreq_source *s)
{
	return (int)to_xen(s)->x_id;
}

static const struct ioreq_source_ops xen_ops = {
	.kind = "xen",
	.map_range = xen_map_range,
	.enable = xen_enable,
	.inject_msi = xen_inject_msi,
	.restrict_ = xen_restrict,
	.quiesce = xen_quiesce,
	.close = xen_close,
	.server_id = xen_server_id,
};

int
ioreq_xen_open(const struct ioreq_xen_cfg *cfg, struct ioreq_source **sp)
{
	struct ioreq_xen *x;
	int rc;

	*sp = NULL;
	if (cfg == NULL || cfg->domid >= DOMID_FIRST_RESERVED ||
	    cfg->reattach_id > UINT16_MAX)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	ioreq_source_init(&x->x_src, &xen_ops);
	x->x_src.src_irq_modes |= 1u << HCVS_IRQ_MSI | 1u << HCVS_IRQ_EVTCHN;
	x->x_domid = cfg->domid;
	x->x_bufioreq = cfg->bufioreq;
	x->x_buf_local = NOTIFY_PORT_INVALID;

	rc = xen_open_handles(x);
	if (rc < 0)
		goto err_unwind;
	rc = xen_check_domain(x);
	if (rc < 0)
		goto err_unwind;
	rc = notifier_open("xen", x->x_domid, &x->x_src.src_notifier);
	if (rc < 0) {
		log_warnx("dom%" PRIu32 ": event channels: %s", x->x_domid,
		    strerror(-rc));
		goto err_unwind;
	}
	x->x_seq = XEN_SEQ_NOTIFIER_OPEN;
	rc = xen_server(x, cfg->reattach_id);
	if (rc < 0)
		goto err_unwind;
	rc = xen_map_resource(x);
	if (rc < 0)
		goto err_unwind;
	rc = ioreq_mem_new_xen(x->x_fmem, x->x_dmod, x->x_domid,
	    &x->x_src.src_mem);
	if (rc < 0)
		goto err_unwind;
	x->x_seq = XEN_SEQ_MEM_READY;
	rc = ioreq_engine_new(x->x_slots, x->x_src.src_nr_vcpus, x->x_buf,
	    x->x_src.src_notifier, x->x_src.src_mem, &x->x_src.src_engine);
	if (rc < 0)
		goto err_unwind;
	ioreq_engine_set_stopped(x->x_src.src_engine, true);
	x->x_seq = XEN_SEQ_ENGINE_READY;
	rc = xen_watch(x, cfg->watch_death);
	if (rc < 0)
		goto err_unwind;
	log_info("dom%" PRIu32 ": IOREQ server %u %s, %u vCPUs%s", x->x_domid,
	    (unsigned)x->x_id, x->x_reattach ? "re-attached" : "created",
	    x->x_src.src_nr_vcpus, x->x_bufioreq ? ", buffered ring" : "");
	*sp = &x->x_src;
	return 0;

err_unwind:
	/* A server we created goes; one we failed to re-attach stays. */
	xen_unwind(x, XEN_SEQ_NONE, !x->x_reattach);
	free(x->x_local);
	free(x);
	return rc;
}

int
ioreq_xen_death_fd(const struct ioreq_source *s)
{
	const struct ioreq_xen *x = to_xen(s);

	if (s->ops != &xen_ops || x->x_xs == NULL)
		return -1;
	return xs_fileno(x->x_xs);
}

int
ioreq_xen_domain_gone(struct ioreq_source *s)
{
	struct ioreq_xen *x = to_xen(s);
	char **ev;
	int err;

	if (s->ops != &xen_ops)
		return -EINVAL;
	if (x->x_xs != NULL) {
		/* Drain the watch: any release may be ours; check below. */
		while ((ev = xs_check_watch(x->x_xs)) != NULL)
			free(ev);
	}
	/*
	 * A DM op on our own server works after restriction: ESRCH when the
	 * domain is gone, ENOENT once Xen destroyed its servers (dying).
	 */
	if (xendevicemodel_get_ioreq_server_info(x->x_dmod, x->x_domid, x->x_id,
	    NULL, NULL, NULL) == 0)
		return 0;
	err = errno;
	if (err == ESRCH || err == ENOENT)
		return 1;
	return -err;
}
