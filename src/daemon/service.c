/* SPDX-License-Identifier: MIT */
/* The service: an ioreq source, the vsock device and the muxer wired for one guest. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "attach/attach_vsock.h"
#include "common/log.h"
#include "common/loop.h"
#include "daemon/loopback.h"
#include "daemon/service.h"
#include "daemon/service_status.h"
#include "daemon/status.h"
#include "ioreq/ioreq.h"
#include "notify/notify.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mig.h"
#include "vsock/vsock_mux.h"
#ifdef HAVE_XEN
#include "ioreq/ioreq_xen.h"
#endif

/* How long a fake guest may take to hand its page over. */
#define LOOPBACK_TIMEOUT_MS	10000
#define KVM_MAX_GUESTS		SERVICE_KVM_MAX_GUESTS
/* What every guest is offered: the device's defaults and SEQPACKET. */
#define SERVICE_FEATURES	(VSOCK_DEV_FEATURES | HCVS_F_SEQPACKET)

struct service {
	struct loop		*sv_loop;
	struct service_hooks	 sv_hooks;
	enum service_kind	 sv_kind;
	char			 sv_name[CONF_NAME_MAX];
	struct ioreq_source	*sv_src;
	struct ioreq_engine	*sv_eng;
	struct notifier		*sv_n;
	int			 sv_notify_fd;
	struct vsock_dev	*sv_dev;
	struct vsock_mux	*sv_mux;
	struct vsock_mig	*sv_mig;	/* NULL: no host listener */
	struct vsock_mux_cfg	 sv_mcfg;
	struct vsock_port_map	 sv_maps[CONF_MAX_PORTS];
	struct loopback_guest	 sv_lb;
	int			 sv_death_fd;
	int64_t			 sv_work_timer;
	/* The guest's event channel for EVTCHN notifications, bound here. */
	uint32_t		 sv_evtchn_local;
	uint64_t		 sv_busy_ns;	/* busy_poll_us */
	/* KVM mode: the attach listener owns every guest's device. */
	struct attach_vsock_server *sv_kvm;
	bool			 sv_gone;
	struct log_ratelimit	 sv_rl;
};

static void run_device(struct service *s);

/* ---- Host -> guest interrupts ----------------------------------------- */

static void
release_evtchn(struct service *s)
{
	if (s->sv_evtchn_local == NOTIFY_PORT_INVALID)
		return;
	(void)notifier_unbind(s->sv_n, s->sv_evtchn_local);
	s->sv_evtchn_local = NOTIFY_PORT_INVALID;
}

/*
 * The device asks before it offers nothing it cannot deliver: irq_caps
 * already excludes modes this source lacks, so refusals here are guest
 * errors (a bad event channel port) or backend failures.
 */
static int
irq_setup(void *arg, const struct vsock_irq_cfg *irq)
{
	struct service *s = arg;
	struct notify_bind b;
	int rc;

	release_evtchn(s);
	switch (irq->mode) {
	case HCVS_IRQ_NONE:
	case HCVS_IRQ_MSI:
		return 0;
	case HCVS_IRQ_EVTCHN:
		memset(&b, 0, sizeof(b));
		b.kind = NOTIFY_BIND_EVTCHN;
		b.remote_port = irq->evtchn_port;
		b.rx_fd = b.tx_fd = -1;
		rc = notifier_bind(s->sv_n, &b, &s->sv_evtchn_local);
		if (rc < 0) {
			s->sv_evtchn_local = NOTIFY_PORT_INVALID;
			log_ratelimited(&s->sv_rl, LOG_WARNING, "guest event "
			    "channel %" PRIu32 ": %s", irq->evtchn_port,
			    strerror(-rc));
		}
		return rc;
	default:
		/* GSI needs a KVM VM; ISA is never raised here (see conf). */
		return -EOPNOTSUPP;
	}
}

static int
irq_raise(void *arg, const struct vsock_irq_cfg *irq, bool level)
{
	struct service *s = arg;
	struct ioreq_msi msi;

	if (!level)
		return 0;
	switch (irq->mode) {
	case HCVS_IRQ_MSI:
		msi.addr = irq->msi_addr;
		msi.data = irq->msi_data;
		return ioreq_source_inject_msi(s->sv_src, &msi);
	case HCVS_IRQ_EVTCHN:
		if (s->sv_evtchn_local == NOTIFY_PORT_INVALID)
			return -ENOENT;
		return notifier_notify(s->sv_n, s->sv_evtchn_local);
	default:
		return 0;
	}
}

static const struct vsock_dev_irq_ops irq_ops = {
	.setup = irq_setup,
	.raise = irq_raise,
};

static uint32_t
irq_caps(const struct service *s, const struct conf *c)
{
	uint32_t caps = 1u << HCVS_IRQ_NONE;

	if (s->sv_kind != SERVICE_XEN)
		return caps;	/* the fake guest polls */
	if (c->c_notify & CONF_NOTIFY_MSI)
		caps |= 1u << HCVS_IRQ_MSI;
	if (c->c_notify & CONF_NOTIFY_EVTCHN)
		caps |= 1u << HCVS_IRQ_EVTCHN;
	/*
	 * ISA needs set_isa_irq_level, which ioreq.h does not offer (and
	 * which crashes Xen 4.17 for a PVH guest); GSI needs a KVM VM.
	 */
	return caps;
}

/* ---- The muxer's configuration ----------------------------------------- */

/* Host data or a muxer timer left packets for the guest: let the device pull. */
static void
mux_rx_ready(void *arg)
{
	run_device(arg);
}

static void
mux_cfg(struct service *s, const struct conf *c)
{
	struct vsock_mux_cfg *m = &s->sv_mcfg;

	memset(m, 0, sizeof(*m));
	memset(s->sv_maps, 0, sizeof(s->sv_maps));
	m->guest_cid = c->c_guest_cid;
	if (conf_listener_path(c, m->uds_path, sizeof(m->uds_path)) < 0)
		m->uds_path[0] = '\0';
	m->default_allow = c->c_default_allow;
	for (size_t i = 0; i < c->c_nr_ports; i++) {
		const struct conf_port *cp = &c->c_ports[i];
		struct vsock_port_map *pm = &s->sv_maps[i];

		pm->pm_port = cp->cp_port;
		if (cp->cp_path[0] != '\0' &&
		    conf_port_path(c, cp->cp_port, pm->pm_path,
		    sizeof(pm->pm_path)) < 0)
			pm->pm_path[0] = '\0';
		pm->pm_allow_connect = cp->cp_connect;
		pm->pm_allow_listen = cp->cp_listen;
		pm->pm_tcp = cp->cp_tcp.ct_addr;
		pm->pm_tcp_len = cp->cp_tcp.ct_len;
		pm->pm_tcp_listen = cp->cp_tcp_listen.ct_addr;
		pm->pm_tcp_listen_len = cp->cp_tcp_listen.ct_len;
	}
	m->maps = s->sv_maps;
	m->nr_maps = c->c_nr_ports;
	m->max_conns = c->c_max_connections;
	m->buf_alloc = c->c_buf_alloc;
	m->close_timeout_ms = c->c_close_timeout_ms;
	m->connect_timeout_ms = c->c_connect_timeout_ms;
	m->send_ok_line = c->c_ok_line;
	m->rx_ready = mux_rx_ready;
	m->rx_ready_arg = s;
}

/* Migration sessions (protocol MSG) next to the muxer's listener. */
static int
open_mig(struct service *s, struct loop *l)
{
	struct vsock_mig_cfg g;
	int rc;

	rc = vsock_mig_cfg_for(&s->sv_mcfg, &g);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0) {
		g.wake = mux_rx_ready;
		g.wake_arg = s;
		rc = vsock_mig_new(l, &g, &s->sv_mig);
	}
	if (rc < 0)
		log_warnx("migration sessions (%s): %s", g.path, strerror(-rc));
	return rc;
}

/* ---- Event loop callbacks ------------------------------------------------ */

static void
work_timer(struct loop *l, void *arg)
{
	struct service *s = arg;

	(void)l;
	s->sv_work_timer = 0;
	run_device(s);
}

/*
 * The device's deferred work (after DOORBELL writes, muxer wake-ups) runs
 * here, in bounded passes: when a pass leaves work, the rest runs from a
 * zero timer so that other fds get their turn.
 */
static void
run_device(struct service *s)
{
	if (s->sv_dev == NULL)
		return;
	if (vsock_dev_pending(s->sv_dev) && vsock_dev_process(s->sv_dev) == 1 &&
	    s->sv_work_timer == 0) {
		int64_t id = loop_add_timer(s->sv_loop, 0, work_timer, s);

		s->sv_work_timer = id > 0 ? id : 0;
	}
	if (vsock_dev_state_changed(s->sv_dev) &&
	    s->sv_hooks.sh_state_changed != NULL)
		s->sv_hooks.sh_state_changed(s->sv_hooks.sh_arg);
}

/*
 * The register window.  A write that changed what the state file records
 * (a command, an argument) is recorded before the engine answers it:
 * killed before the answer, the next daemon runs the request again (on
 * either state it gives the same answer, vsock_dev.h); killed after, the
 * file already holds what the guest was told.  Recording after the answer
 * would let a guest see "ENABLE: OK" and a restarted daemon a device that
 * never became LIVE.
 */
static int
window_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct service *s = opaque;

	return vsock_dev_handler_ops.read(s->sv_dev, vcpu, off, size, val);
}

static int
window_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct service *s = opaque;
	int rc;

	rc = vsock_dev_handler_ops.write(s->sv_dev, vcpu, off, size, val);
	if (vsock_dev_state_changed(s->sv_dev) &&
	    s->sv_hooks.sh_state_changed != NULL)
		s->sv_hooks.sh_state_changed(s->sv_hooks.sh_arg);
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

static void
gone(struct service *s, int code, const char *why)
{
	if (s->sv_gone)
		return;
	s->sv_gone = true;
	log_info("%s", why);
	s->sv_hooks.sh_gone(s->sv_hooks.sh_arg, code);
}

/*
 * Doorbells.  With busy_poll_us, keep polling the notifier that long
 * after the last one before going back to epoll: a guest in a tight
 * request loop then never waits for a wake-up (other fds wait instead,
 * for at most busy_poll_us).
 */
static void
on_notify(struct loop *l, int fd, unsigned events, void *arg)
{
	struct service *s = arg;
	uint64_t deadline = 0;
	uint32_t port;
	int rc;

	(void)l;
	(void)fd;
	(void)events;
	for (;;) {
		bool got = false, guest_event = false;

		while ((rc = notifier_next(s->sv_n, &port, NULL)) == 1) {
			got = true;
			rc = ioreq_engine_handle_port(s->sv_eng, port);
			if (rc == 0 && port == s->sv_evtchn_local)
				guest_event = true;
			if (rc < 0)
				break;
		}
		if (rc < 0) {
			log_warnx("notifier: %s", strerror(-rc));
			gone(s, EX_SOFTWARE, "the notifier failed: stopping");
			return;
		}
		/*
		 * However many events the guest sent meanwhile, one pass:
		 * a guest flooding its port costs one bounded pass per wake.
		 */
		if (guest_event && s->sv_dev != NULL &&
		    vsock_dev_guest_event(s->sv_dev) == 1 &&
		    s->sv_work_timer == 0) {
			int64_t id = loop_add_timer(s->sv_loop, 0, work_timer, s);

			s->sv_work_timer = id > 0 ? id : 0;
		}
		run_device(s);
		if (s->sv_busy_ns == 0)
			break;
		if (got)
			deadline = loop_now_ns() + s->sv_busy_ns;
		else if (loop_now_ns() >= deadline)
			break;
		cpu_relax();
	}
}

static void
on_loopback(struct loop *l, int fd, unsigned events, void *arg)
{
	struct service *s = arg;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)events;
	if (n > 0)
		return;
	loop_del_fd(l, fd);
	gone(s, 0, "the fake guest hung up");
}

#ifdef HAVE_XEN
static void
on_death(struct loop *l, int fd, unsigned events, void *arg)
{
	struct service *s = arg;
	int rc = ioreq_xen_domain_gone(s->sv_src);

	(void)events;
	if (rc == 0)
		return;
	loop_del_fd(l, fd);
	if (rc < 0)
		log_warnx("cannot tell whether the domain lives: %s",
		    strerror(-rc));
	gone(s, 0, "the domain is gone");
}
#endif

/* ---- Opening ------------------------------------------------------------- */

static int
open_source(struct service *s, const struct service_target *t,
    const struct statefile *recovered, bool *reattached)
{
	int rc;

	*reattached = false;
	if (t->st_kind == SERVICE_LOOPBACK) {
		rc = loopback_accept_guest(t->st_socket, LOOPBACK_TIMEOUT_MS,
		    &s->sv_lb);
		if (rc < 0) {
			log_warnx("loopback %s: %s", t->st_socket,
			    rc == -ENOENT || rc == -ECONNREFUSED ?
			    "no fake guest is offering its page there" :
			    strerror(-rc));
			return rc;
		}
		rc = ioreq_shm_open(loopback_shm_cfg(&s->sv_lb), &s->sv_src);
		if (rc < 0) {
			log_warnx("loopback %s: the fake page: %s",
			    t->st_socket, strerror(-rc));
			return rc;
		}
		/*
		 * A fake guest outlives a crashed daemon as a domain does and
		 * offers the same page again: carry on with its device.
		 */
		if (recovered != NULL) {
			*reattached = true;
			log_info("re-attaching to the page pid %ld served",
			    (long)recovered->sf_pid);
		}
		return 0;
	}
#ifdef HAVE_XEN
	{
		struct ioreq_xen_cfg xc = {
			.domid = t->st_domid,
			.reattach_id = -1,
			.watch_death = true,
		};

		if (recovered != NULL && recovered->sf_server_id >= 0)
			xc.reattach_id = recovered->sf_server_id;
		rc = ioreq_xen_open(&xc, &s->sv_src);
		if (rc == -ENOENT && xc.reattach_id >= 0) {
			log_info("the recorded IOREQ server %d is gone: "
			    "creating a new one", xc.reattach_id);
			xc.reattach_id = -1;
			rc = ioreq_xen_open(&xc, &s->sv_src);
		} else if (rc == 0 && xc.reattach_id >= 0) {
			*reattached = true;
		}
		return rc;
	}
#else
	(void)recovered;
	log_warnx("this hcvsockd was built without Xen support");
	return -ENOTSUP;
#endif
}

static void
kvm_attached(void *arg, const char *name, uint64_t cid)
{
	(void)arg;
	log_info("KVM guest %s attached: CID %" PRIu64, name, cid);
}

static void
kvm_detached(void *arg, const char *name, uint64_t cid)
{
	(void)arg;
	log_info("KVM guest %s detached (CID %" PRIu64 "): its connections "
	    "were reset", name, cid);
}

/*
 * KVM mode: VMMs attach guests on `path` (attach.h); each gets the same
 * device and muxer as a Xen guest, its host sockets at
 * <socket_dir>/<socket_name>.<cid>.
 */
/* One TCP address cannot be every attached guest's. */
static void
kvm_no_tcp_listen(struct service *s)
{
	for (size_t i = 0; i < s->sv_mcfg.nr_maps; i++) {
		if (s->sv_maps[i].pm_tcp_listen_len != 0)
			log_warnx("port %" PRIu32 ": tcp_listen is ignored in "
			    "KVM mode", s->sv_maps[i].pm_port);
		s->sv_maps[i].pm_tcp_listen_len = 0;
	}
}

static int
open_kvm(struct service *s, const struct conf *c, const char *path,
    uint32_t require_cid, const struct peer_policy *peers)
{
	struct attach_vsock_cfg ac;
	int rc;

	mux_cfg(s, c);
	kvm_no_tcp_listen(s);
	memset(&ac, 0, sizeof(ac));
	ac.loop = s->sv_loop;
	ac.mux = s->sv_mcfg;
	ac.uds_per_cid = true;
	ac.require_cid = require_cid;
	ac.peers = peers;
	/* One guest's flood, fault or compromise stays in its process. */
	ac.fork_per_guest = true;
	ac.features = SERVICE_FEATURES;
	ac.busy_poll_ns = (uint64_t)c->c_busy_poll_us * 1000;
	ac.on_attach = kvm_attached;
	ac.on_detach = kvm_detached;
	ac.hook_arg = s;
	rc = attach_vsock_listen(&ac, path, KVM_MAX_GUESTS, &s->sv_kvm);
	if (rc < 0)
		log_warnx("KVM attach socket %s: %s", path, strerror(-rc));
	else
		log_info("KVM attach socket %s: waiting for VMMs", path);
	return rc;
}

static int
import_state(struct service *s, const struct statefile *recovered)
{
	int rc;

	if (!recovered->sf_has_dev) {
		log_warnx("no device state was recorded in a form this daemon "
		    "reads (state file version %" PRIu32 "): the guest must "
		    "reset its device", recovered->sf_version);
		return 0;
	}
	rc = vsock_dev_import(s->sv_dev, &recovered->sf_dev);
	if (rc < 0)
		log_warnx("the recorded device state was refused (%s): the "
		    "guest must reset its device", strerror(-rc));
	else
		log_info("device state restored: every connection was reset");
	return 0;
}

int
service_open(struct loop *l, const struct conf *c,
    const struct service_target *t, const struct statefile *recovered,
    const struct service_hooks *hooks, struct service **sp, bool *reattached)
{
	struct service *s;
	struct vsock_dev_cfg dc;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->sv_loop = l;
	s->sv_hooks = *hooks;
	s->sv_kind = t->st_kind;
	s->sv_lb.lg_sock = -1;
	s->sv_notify_fd = -1;
	s->sv_death_fd = -1;
	s->sv_evtchn_local = NOTIFY_PORT_INVALID;
	s->sv_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 1);
	snprintf(s->sv_name, sizeof(s->sv_name), "%s", c->c_name);

	if (t->st_kind == SERVICE_KVM) {
		*reattached = false;
		if ((rc = open_kvm(s, c, t->st_socket, t->st_require_cid, t->st_peers)) < 0)
			goto err;
		*sp = s;
		return 0;
	}
	if ((rc = open_source(s, t, recovered, reattached)) < 0)
		goto err;
	s->sv_eng = ioreq_source_engine(s->sv_src);
	s->sv_n = ioreq_source_notifier(s->sv_src);

	mux_cfg(s, c);
	if ((rc = vsock_mux_new(l, &s->sv_mcfg, &s->sv_mux)) < 0) {
		log_warnx("host sockets (%s): %s", s->sv_mcfg.uds_path,
		    strerror(-rc));
		goto err;
	}
	if ((rc = open_mig(s, l)) < 0)
		goto err;
	memset(&dc, 0, sizeof(dc));
	dc.mem = ioreq_source_mem(s->sv_src);
	dc.backend = &vsock_mux_backend_ops;
	dc.backend_arg = s->sv_mux;
	if (s->sv_mig != NULL) {
		dc.msg_backend = &vsock_mig_backend_ops;
		dc.msg_backend_arg = s->sv_mig;
	}
	dc.guest_cid = c->c_guest_cid;
	dc.features = SERVICE_FEATURES;
	dc.irq_caps = irq_caps(s, c);
	if (!c->c_evtchn_kick)
		dc.features = VSOCK_DEV_FEATURES & ~HCVS_F_EVTCHN_KICK;
	dc.backend_domid = t->st_self_domid;
	dc.is_hvm = ioreq_source_is_hvm(s->sv_src);
	dc.irq_ops = &irq_ops;
	dc.irq_arg = s;
	dc.name = c->c_name;
	if ((rc = vsock_dev_new(&dc, &s->sv_dev)) < 0) {
		log_warnx("the vsock device: %s", strerror(-rc));
		goto err;
	}

	if (c->c_has_pio && (rc = ioreq_source_add_range(s->sv_src,
	    IOREQ_SPACE_PIO, c->c_pio_base,
	    (uint64_t)c->c_pio_base + HCVS_REG_WINDOW_SIZE - 1,
	    &window_ops, s)) < 0) {
		log_warnx("claiming I/O ports 0x%x-0x%x: %s", c->c_pio_base,
		    c->c_pio_base + HCVS_REG_WINDOW_SIZE - 1, strerror(-rc));
		goto err;
	}
	if (c->c_has_mmio && (rc = ioreq_source_add_range(s->sv_src,
	    IOREQ_SPACE_MMIO, c->c_mmio_base,
	    c->c_mmio_base + CONF_MMIO_WINDOW - 1, &window_ops, s)) < 0) {
		log_warnx("claiming MMIO 0x%" PRIx64 "-0x%" PRIx64 ": %s",
		    c->c_mmio_base, c->c_mmio_base + CONF_MMIO_WINDOW - 1,
		    strerror(-rc));
		goto err;
	}
	ioreq_engine_set_post_hook(s->sv_eng, post_hook, s);
	s->sv_busy_ns = (uint64_t)c->c_busy_poll_us * 1000;

	s->sv_notify_fd = notifier_fd(s->sv_n);
	if ((rc = loop_add_fd(l, s->sv_notify_fd, LOOP_IN, on_notify, s)) < 0)
		goto err;
	if (s->sv_lb.lg_sock >= 0 &&
	    (rc = loop_add_fd(l, s->sv_lb.lg_sock, LOOP_IN, on_loopback, s)) < 0)
		goto err;
#ifdef HAVE_XEN
	if (t->st_kind == SERVICE_XEN) {
		s->sv_death_fd = ioreq_xen_death_fd(s->sv_src);
		if (s->sv_death_fd >= 0 && (rc = loop_add_fd(l, s->sv_death_fd,
		    LOOP_IN, on_death, s)) < 0)
			goto err;
	}
#endif
	/* Before enable: the blocked vCPU is answered by a configured device. */
	if (*reattached && recovered != NULL)
		(void)import_state(s, recovered);
	*sp = s;
	return 0;

err:
	service_close(s, true);
	return rc;
}

int
service_enable(struct service *s)
{
	int rc;

	if (s->sv_kvm != NULL)
		return 0;
	rc = ioreq_source_enable(s->sv_src);

	if (rc < 0) {
		log_warnx("enabling the server: %s", strerror(-rc));
		return rc;
	}
	run_device(s);
	if (s->sv_lb.lg_sock >= 0)
		(void)loopback_send_ready(&s->sv_lb);
	return 0;
}

int
service_restrict(struct service *s)
{
	/* A KVM guest's VM fd already confines what the daemon can reach. */
	if (s->sv_kvm != NULL)
		return 0;
	return ioreq_source_restrict(s->sv_src);
}

int
service_reconfigure(struct service *s, const struct conf *c)
{
	mux_cfg(s, c);
	if (s->sv_kvm != NULL) {
		kvm_no_tcp_listen(s);
		return attach_vsock_reconfigure(s->sv_kvm, &s->sv_mcfg);
	}
	return vsock_mux_reconfigure(s->sv_mux, &s->sv_mcfg);
}

void
service_dump(struct service *s, void (*cb)(void *arg, const char *line),
    void *arg)
{
	struct ioreq_engine_stats es;
	struct vsock_mux_stats ms;
	char line[256];

	if (s->sv_kvm != NULL) {
		snprintf(line, sizeof(line), "KVM: %u guest(s) attached",
		    attach_vsock_nr_guests(s->sv_kvm));
		cb(arg, line);
		attach_vsock_dump(s->sv_kvm, cb, arg);
		return;
	}
	ioreq_engine_get_stats(s->sv_eng, &es);
	snprintf(line, sizeof(line), "ioreq %s, %u vCPU(s), server %d: %" PRIu64
	    " requests, %" PRIu64 " buffered, %" PRIu64 " invalid, %" PRIu64
	    " unclaimed, %" PRIu64 " spurious", ioreq_source_kind(s->sv_src),
	    ioreq_source_nr_vcpus(s->sv_src),
	    ioreq_source_server_id(s->sv_src), es.st_requests, es.st_buffered,
	    es.st_invalid, es.st_unclaimed, es.st_spurious);
	cb(arg, line);
	ioreq_engine_dump(s->sv_eng, cb, arg);
	vsock_dev_dump(s->sv_dev, cb, arg);
	vsock_mux_get_stats(s->sv_mux, &ms);
	snprintf(line, sizeof(line), "connections: %" PRIu64 " open, %" PRIu64
	    " total, %" PRIu64 " RST sent, %" PRIu64 " dropped, %" PRIu64
	    " bytes to host, %" PRIu64 " bytes to guest", ms.ms_conns_open,
	    ms.ms_conns_total, ms.ms_rst_sent, ms.ms_dropped, ms.ms_tx_bytes,
	    ms.ms_rx_bytes);
	cb(arg, line);
	vsock_mux_dump(s->sv_mux, cb, arg);
	if (s->sv_mig != NULL)
		vsock_mig_dump(s->sv_mig, cb, arg);
}

static void
kvm_guest_status(void *arg, const struct attach_vsock_guest_info *gi)
{
	service_status_guest(arg, gi->gi_name, &gi->gi_stats, gi->gi_dev,
	    gi->gi_mux);
}

void
service_status(struct service *s, struct json_object *root)
{
	struct json_object *guests;

	if (s->sv_kvm != NULL) {
		status_add_null(root, "ioreq");
		attach_vsock_foreach_guest(s->sv_kvm, kvm_guest_status,
		    status_add_arr(root, "guests"));
		return;
	}
	service_status_ioreq(root, s->sv_eng, ioreq_source_kind(s->sv_src),
	    ioreq_source_server_id(s->sv_src));
	guests = status_add_arr(root, "guests");
	service_status_guest(guests, s->sv_name, NULL, s->sv_dev, s->sv_mux);
}

int
service_get_state(struct service *s, struct statefile *sf)
{
	if (s->sv_kvm != NULL)
		return -EOPNOTSUPP;
	sf->sf_server_id = ioreq_source_server_id(s->sv_src);
	vsock_dev_export(s->sv_dev, &sf->sf_dev);
	sf->sf_has_dev = true;
	return 0;
}

void
service_stop(struct service *s)
{
	int rc;

	if (s->sv_kvm != NULL) {
		/* Every guest detached: host peers see EOF. */
		attach_vsock_unlisten(s->sv_kvm);
		s->sv_kvm = NULL;
		return;
	}
	/*
	 * Tell the guest while it can still be interrupted; then no vCPU
	 * may stay blocked on a request nobody answers.  A destroyed domain
	 * has no vCPU left to tell or answer.
	 */
	if (!(s->sv_gone && s->sv_kind == SERVICE_XEN)) {
		if (s->sv_dev != NULL)
			vsock_dev_going_away(s->sv_dev);
		rc = ioreq_source_quiesce(s->sv_src);
		if (rc < 0)
			log_warnx("answering the pending requests: %s",
			    strerror(-rc));
	}
	/* Host peers see EOF; the guest gets RSTs while its ring is mapped. */
	if (s->sv_mux != NULL)
		vsock_mux_reset(s->sv_mux);
	if (s->sv_mig != NULL)
		vsock_mig_reset(s->sv_mig);
}

void
service_close(struct service *s, bool destroy)
{
	if (s == NULL)
		return;
	attach_vsock_unlisten(s->sv_kvm);
	if (s->sv_work_timer != 0)
		loop_del_timer(s->sv_loop, s->sv_work_timer);
	if (s->sv_notify_fd >= 0)
		loop_del_fd(s->sv_loop, s->sv_notify_fd);
	if (s->sv_death_fd >= 0)
		loop_del_fd(s->sv_loop, s->sv_death_fd);
	if (s->sv_lb.lg_sock >= 0)
		loop_del_fd(s->sv_loop, s->sv_lb.lg_sock);
	vsock_mux_free(s->sv_mux);
	vsock_mig_free(s->sv_mig);
	vsock_dev_free(s->sv_dev);
	if (s->sv_src != NULL)
		release_evtchn(s);
	/* A destroyed domain took its servers with it: only unmap. */
	if (s->sv_gone && s->sv_kind == SERVICE_XEN)
		destroy = false;
	ioreq_source_close(s->sv_src, destroy);
	if (s->sv_lb.lg_sock >= 0)
		loopback_guest_close(&s->sv_lb);
	free(s);
}
