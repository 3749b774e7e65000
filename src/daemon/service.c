/* SPDX-License-Identifier: MIT */
/*
 * The service: one binding (binding.h) for a Xen domain or the fake
 * guest, or a KVM listener that builds one per attached VM.  Each
 * hypervisor kind is an ops table; nothing below branches on the kind.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "attach/attach_vsock.h"
#include "binding/binding.h"
#include "common/log.h"
#include "common/loop.h"
#include "daemon/loopback.h"
#include "daemon/service.h"
#include "daemon/service_status.h"
#include "daemon/status.h"
#include "ioreq/ioreq.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mux.h"
#ifdef HAVE_XEN
#include "ioreq/ioreq_xen.h"
#endif

/* How long a fake guest may take to hand its page over. */
#define LOOPBACK_TIMEOUT_MS	10000
#define KVM_MAX_GUESTS		SERVICE_KVM_MAX_GUESTS
/* What every guest is offered: the device's defaults and SEQPACKET. */
#define SERVICE_FEATURES	(VSOCK_DEV_FEATURES | HCVS_F_SEQPACKET)

/*
 * What differs between hypervisor kinds.  `open` builds the guest side
 * (a binding from its source, or a listener); the others act on it.
 */
struct service_ops {
	int	(*open)(struct service *s, const struct conf *c,
		    const struct service_target *t,
		    const struct statefile *recovered, bool *reattached);
	int	(*enable)(struct service *s);
	int	(*restrict_)(struct service *s);
	int	(*reconfigure)(struct service *s);
	void	(*dump)(struct service *s,
		    void (*cb)(void *arg, const char *line), void *arg);
	void	(*status)(struct service *s, struct json_object *root);
	int	(*get_state)(struct service *s, struct statefile *sf);
	void	(*stop)(struct service *s);
	void	(*close)(struct service *s, bool destroy);
};

struct service {
	const struct service_ops *sv_ops;
	struct loop		*sv_loop;
	struct service_hooks	 sv_hooks;
	char			 sv_name[CONF_NAME_MAX];
	/* KVM: each guest's process records it at <dir>/<name>.<cid>.state. */
	char			 sv_state_dir[CONF_PATH_MAX];
	struct vsock_mux_cfg	 sv_mcfg;
	struct vsock_port_map	 sv_maps[CONF_MAX_PORTS];
	/* Xen, loopback: the guest's one binding. */
	struct binding		*sv_bind;
	/* An fd that tells the guest is gone (death watch, fake guest). */
	int			 sv_watch_fd;
	struct loopback_guest	 sv_lb;
	/* Loopback: the page's identity, recorded with its state. */
	uint64_t		 sv_page_dev;
	uint64_t		 sv_page_ino;
	/* KVM: the listener owns every guest's binding. */
	struct attach_vsock_server *sv_kvm;
	bool			 sv_gone;
	/* The guest went with its server (a destroyed domain). */
	bool			 sv_destroyed;
};

/* ---- The muxer's configuration ----------------------------------------- */

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
}

/*
 * What every guest of every kind gets from the configuration: the muxer's
 * settings, the notification modes, the features and the poll windows.
 */
static void
guest_cfg(struct service *s, const struct conf *c, struct binding_cfg *bc)
{
	memset(bc, 0, sizeof(*bc));
	mux_cfg(s, c);
	bc->loop = s->sv_loop;
	bc->mux = s->sv_mcfg;
	bc->irq_modes = c->c_notify;
	bc->features = SERVICE_FEATURES;
	if (!c->c_evtchn_kick)
		bc->features &= ~HCVS_F_EVTCHN_KICK;
	bc->busy_poll_ns = (uint64_t)c->c_busy_poll_us * 1000;
	bc->sync_poll_ns = (uint64_t)c->c_sync_poll_us * 1000;
	bc->tx_poll_ns = (uint64_t)c->c_tx_poll_us * 1000;
}

/* ---- Guest lifetime ------------------------------------------------------ */

static void
gone(struct service *s, int code, const char *why)
{
	if (s->sv_gone)
		return;
	s->sv_gone = true;
	log_info("%s", why);
	s->sv_hooks.sh_gone(s->sv_hooks.sh_arg, code);
}

static void
bind_state_changed(void *arg)
{
	struct service *s = arg;

	if (s->sv_hooks.sh_state_changed != NULL)
		s->sv_hooks.sh_state_changed(s->sv_hooks.sh_arg);
}

static void
bind_failed(void *arg, int err)
{
	(void)err;
	gone(arg, EX_SOFTWARE, "the notifier failed: stopping");
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
	s->sv_watch_fd = -1;
	gone(s, 0, "the fake guest hung up");
}

#ifdef HAVE_XEN
static void
on_death(struct loop *l, int fd, unsigned events, void *arg)
{
	struct service *s = arg;
	int rc = ioreq_xen_domain_gone(binding_source(s->sv_bind));

	(void)events;
	if (rc == 0)
		return;
	loop_del_fd(l, fd);
	s->sv_watch_fd = -1;
	if (rc < 0)
		log_warnx("cannot tell whether the domain lives: %s",
		    strerror(-rc));
	s->sv_destroyed = true;
	gone(s, 0, "the domain is gone");
}
#endif

/* ---- One binding: a Xen domain or the fake guest ------------------------- */

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
	rc = binding_import(s->sv_bind, &recovered->sf_dev);
	if (rc < 0)
		log_warnx("the recorded device state was refused (%s): the "
		    "guest must reset its device", strerror(-rc));
	else
		log_info("device state restored: every connection was reset");
	return 0;
}

/*
 * Bind `src` (owned from here on) as configured, then watch `watch_fd`
 * (-1: none) for the guest going away.
 */
static int
one_bind(struct service *s, const struct conf *c,
    const struct service_target *t, struct ioreq_source *src, int watch_fd,
    loop_fd_cb on_watch, const struct statefile *recovered, bool reattached)
{
	struct binding_cfg bc;
	char err[256];
	int rc;

	guest_cfg(s, c, &bc);
	bc.name = c->c_name;
	bc.backend_domid = t->st_self_domid;
	if (c->c_has_pio)
		bc.windows[bc.nr_windows++] = (struct binding_window){
		    IOREQ_SPACE_PIO, c->c_pio_base, HCVS_REG_WINDOW_SIZE };
	if (c->c_has_mmio)
		bc.windows[bc.nr_windows++] = (struct binding_window){
		    IOREQ_SPACE_MMIO, c->c_mmio_base, CONF_MMIO_WINDOW };
	bc.state_changed = bind_state_changed;
	bc.failed = bind_failed;
	bc.hook_arg = s;
	rc = binding_new(&bc, src, &s->sv_bind, err, sizeof(err));
	if (rc < 0) {
		log_warnx("%s", err);
		return rc;
	}
	if (watch_fd >= 0) {
		rc = loop_add_fd(s->sv_loop, watch_fd, LOOP_IN, on_watch, s);
		if (rc < 0)
			return rc;
		s->sv_watch_fd = watch_fd;
	}
	/* Before enable: the blocked vCPU is answered by a configured device. */
	if (reattached && recovered != NULL)
		(void)import_state(s, recovered);
	return 0;
}

static int
one_enable(struct service *s)
{
	return binding_enable(s->sv_bind);
}

static int
one_restrict(struct service *s)
{
	return binding_restrict(s->sv_bind);
}

static int
one_reconfigure(struct service *s)
{
	return binding_reconfigure(s->sv_bind, &s->sv_mcfg);
}

static void
one_dump(struct service *s, void (*cb)(void *arg, const char *line), void *arg)
{
	binding_dump(s->sv_bind, cb, arg);
}

static void
one_status(struct service *s, struct json_object *root)
{
	struct ioreq_source *src = binding_source(s->sv_bind);

	service_status_ioreq(root, ioreq_source_engine(src),
	    ioreq_source_kind(src), ioreq_source_server_id(src));
	service_status_guest(status_add_arr(root, "guests"), s->sv_name, NULL,
	    binding_dev(s->sv_bind), binding_mux(s->sv_bind),
	    binding_mig(s->sv_bind));
}

static int
one_get_state(struct service *s, struct statefile *sf)
{
	sf->sf_server_id = ioreq_source_server_id(binding_source(s->sv_bind));
	binding_export(s->sv_bind, &sf->sf_dev);
	sf->sf_has_dev = true;
	sf->sf_page_dev = s->sv_page_dev;
	sf->sf_page_ino = s->sv_page_ino;
	return 0;
}

static void
one_stop(struct service *s)
{
	/* A destroyed domain has no vCPU left to tell or answer. */
	if (s->sv_bind != NULL)
		binding_stop(s->sv_bind, !s->sv_destroyed);
}

static void
one_close(struct service *s, bool destroy)
{
	if (s->sv_watch_fd >= 0)
		loop_del_fd(s->sv_loop, s->sv_watch_fd);
	s->sv_watch_fd = -1;
	/* A destroyed domain took its servers with it: only unmap. */
	if (s->sv_bind != NULL && s->sv_destroyed)
		binding_stop(s->sv_bind, false);
	binding_free(s->sv_bind, destroy && !s->sv_destroyed);
	s->sv_bind = NULL;
}

/* A kind served by one binding: the shared ops around its own open, enable, close. */
#define ONE_SERVICE_OPS(open_fn, enable_fn, close_fn) {			\
	.open = (open_fn),						\
	.enable = (enable_fn),						\
	.restrict_ = one_restrict,					\
	.reconfigure = one_reconfigure,					\
	.dump = one_dump,						\
	.status = one_status,						\
	.get_state = one_get_state,					\
	.stop = one_stop,						\
	.close = (close_fn),						\
}

/* ---- Xen ------------------------------------------------------------------ */

static int
xen_open(struct service *s, const struct conf *c,
    const struct service_target *t, const struct statefile *recovered,
    bool *reattached)
{
#ifdef HAVE_XEN
	struct ioreq_xen_cfg xc = {
		.domid = t->st_domid,
		.reattach_id = -1,
		.watch_death = true,
	};
	struct ioreq_source *src;
	int rc;

	if (recovered != NULL && recovered->sf_server_id >= 0)
		xc.reattach_id = recovered->sf_server_id;
	rc = ioreq_xen_open(&xc, &src);
	if (rc == -ENOENT && xc.reattach_id >= 0) {
		log_info("the recorded IOREQ server %d is gone: creating a new "
		    "one", xc.reattach_id);
		xc.reattach_id = -1;
		rc = ioreq_xen_open(&xc, &src);
	} else if (rc == 0 && xc.reattach_id >= 0) {
		*reattached = true;
	}
	if (rc < 0)
		return rc;
	return one_bind(s, c, t, src, ioreq_xen_death_fd(src), on_death,
	    recovered, *reattached);
#else
	(void)s;
	(void)c;
	(void)t;
	(void)recovered;
	(void)reattached;
	log_warnx("this hcvsockd was built without Xen support");
	return -ENOTSUP;
#endif
}

static const struct service_ops xen_ops =
    ONE_SERVICE_OPS(xen_open, one_enable, one_close);

/* ---- Loopback: the fake guest ------------------------------------------- */

static int
lb_open(struct service *s, const struct conf *c,
    const struct service_target *t, const struct statefile *recovered,
    bool *reattached)
{
	struct ioreq_source *src;
	int rc;

	rc = loopback_accept_guest(t->st_socket, LOOPBACK_TIMEOUT_MS, &s->sv_lb);
	if (rc < 0) {
		log_warnx("loopback %s: %s", t->st_socket,
		    rc == -ENOENT || rc == -ECONNREFUSED ?
		    "no fake guest is offering its page there" :
		    strerror(-rc));
		return rc;
	}
	rc = loopback_page_id(&s->sv_lb, &s->sv_page_dev, &s->sv_page_ino);
	if (rc == 0)
		rc = ioreq_shm_open(loopback_shm_cfg(&s->sv_lb), &src);
	if (rc < 0) {
		log_warnx("loopback %s: the fake page: %s", t->st_socket,
		    strerror(-rc));
		return rc;
	}
	/*
	 * A fake guest outlives a crashed daemon as a domain does and offers
	 * the same page again: carry on with its device.  Another fake guest
	 * at the same socket has a device of its own, in its reset state.
	 */
	if (recovered != NULL && (recovered->sf_page_dev != s->sv_page_dev ||
	    recovered->sf_page_ino != s->sv_page_ino)) {
		log_warnx("loopback %s: the state file of pid %ld records "
		    "another fake guest's page (device %" PRIu64 ", inode %"
		    PRIu64 "), not this one (device %" PRIu64 ", inode %"
		    PRIu64 "): not re-attaching, the device starts reset",
		    t->st_socket, (long)recovered->sf_pid,
		    recovered->sf_page_dev, recovered->sf_page_ino,
		    s->sv_page_dev, s->sv_page_ino);
		recovered = NULL;
	}
	if (recovered != NULL) {
		*reattached = true;
		log_info("re-attaching to the page pid %ld served",
		    (long)recovered->sf_pid);
	}
	return one_bind(s, c, t, src, s->sv_lb.lg_sock, on_loopback,
	    recovered, *reattached);
}

static int
lb_enable(struct service *s)
{
	int rc = one_enable(s);

	if (rc == 0)
		(void)loopback_send_ready(&s->sv_lb);
	return rc;
}

static void
lb_close(struct service *s, bool destroy)
{
	one_close(s, destroy);
	if (s->sv_lb.lg_sock >= 0)
		loopback_guest_close(&s->sv_lb);
}

static const struct service_ops lb_ops =
    ONE_SERVICE_OPS(lb_open, lb_enable, lb_close);

/* ---- KVM: VMMs attach guests on a socket --------------------------------- */

static void
kvm_attached(void *arg, const char *name, uint64_t cid)
{
	(void)arg;
	log_info("KVM guest %s attached: CID %" PRIu64, name, cid);
}

static int
kvm_state_path(const struct service *s, uint64_t cid, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s.%" PRIu64 ".state", s->sv_state_dir,
	    s->sv_name, cid);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * In the guest's process, as the Xen daemon does for its one guest: the
 * file is written before the guest is answered, so a process killed at
 * any point leaves what the guest was told.
 */
static void
kvm_state(void *arg, struct attach_vsock *av)
{
	struct service *s = arg;
	char path[CONF_PATH_MAX + CONF_NAME_MAX + 32];
	struct statefile *sf;
	int rc;

	rc = kvm_state_path(s, attach_vsock_cid(av), path, sizeof(path));
	if (rc == 0 && (sf = calloc(1, sizeof(*sf))) == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		sf->sf_pid = getpid();
		sf->sf_domid = UINT32_MAX;
		sf->sf_server_id = -1;
		sf->sf_cid = attach_vsock_cid(av);
		binding_export(attach_vsock_binding(av), &sf->sf_dev);
		sf->sf_has_dev = true;
		rc = statefile_write(path, sf);
		free(sf);
	}
	if (rc < 0)
		log_warnx("KVM guest %s (CID %" PRIu64 "): cannot record the "
		    "state in %s: %s", attach_vsock_name(av),
		    attach_vsock_cid(av), path, strerror(-rc));
}

static void
kvm_detached(void *arg, const char *name, uint64_t cid)
{
	struct service *s = arg;
	char path[CONF_PATH_MAX + CONF_NAME_MAX + 32];

	log_info("KVM guest %s detached (CID %" PRIu64 "): its connections "
	    "were reset", name, cid);
	/* Its VMM let it go: nothing is left to resume. */
	if (kvm_state_path(s, cid, path, sizeof(path)) == 0 &&
	    unlink(path) < 0 && errno != ENOENT)
		log_warnx("%s: %s", path, strerror(errno));
}

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

/*
 * Each attached guest gets the same binding as a Xen guest, its host
 * sockets at <socket_dir>/<socket_name>.<cid>.
 */
static int
kvm_open(struct service *s, const struct conf *c,
    const struct service_target *t, const struct statefile *recovered,
    bool *reattached)
{
	struct attach_vsock_cfg ac;
	struct binding_cfg bc;
	int rc;

	(void)recovered;
	(void)reattached;
	guest_cfg(s, c, &bc);
	kvm_no_tcp_listen(s);
	memset(&ac, 0, sizeof(ac));
	ac.loop = bc.loop;
	ac.mux = s->sv_mcfg;
	ac.uds_per_cid = true;
	ac.irq_modes = bc.irq_modes;
	ac.features = bc.features;
	ac.busy_poll_ns = bc.busy_poll_ns;
	ac.sync_poll_ns = bc.sync_poll_ns;
	ac.tx_poll_ns = bc.tx_poll_ns;
	ac.require_cid = t->st_require_cid;
	ac.peers = t->st_peers;
	/* One guest's flood, fault or compromise stays in its process. */
	ac.fork_per_guest = true;
	ac.on_attach = kvm_attached;
	ac.on_detach = kvm_detached;
	ac.on_state = kvm_state;
	ac.hook_arg = s;
	rc = attach_vsock_listen(&ac, t->st_socket, KVM_MAX_GUESTS, &s->sv_kvm);
	if (rc < 0)
		log_warnx("KVM attach socket %s: %s", t->st_socket,
		    strerror(-rc));
	else
		log_info("KVM attach socket %s: waiting for VMMs",
		    t->st_socket);
	return rc;
}

static int
kvm_nothing(struct service *s)
{
	/* Each guest is live once attached; its VM fd confines the daemon. */
	(void)s;
	return 0;
}

static int
kvm_reconfigure(struct service *s)
{
	kvm_no_tcp_listen(s);
	return attach_vsock_reconfigure(s->sv_kvm, &s->sv_mcfg);
}

/*
 * What a guest's process last recorded (kvm_state): the listener's only
 * view of the device it serves there.
 */
static int
kvm_recorded(const struct service *s, uint64_t cid, struct statefile *sf)
{
	char path[CONF_PATH_MAX + CONF_NAME_MAX + 32];
	int rc = kvm_state_path(s, cid, path, sizeof(path));

	if (rc == 0)
		rc = statefile_read(path, sf);
	if (rc == 0 && (!sf->sf_has_dev || sf->sf_cid != cid))
		rc = -EINVAL;
	return rc;
}

struct kvm_walk {
	struct service	*kw_s;
	void		(*kw_cb)(void *arg, const char *line);
	void		*kw_arg;
	struct json_object *kw_arr;
};

static void
kvm_child_line(void *arg, const char *name, uint64_t cid, long pid)
{
	struct kvm_walk *w = arg;
	struct statefile sf;
	char line[256];
	int rc = kvm_recorded(w->kw_s, cid, &sf);
	const char *mode = rc < 0 ? NULL :
	    conf_notify_name(sf.sf_dev.st_irq.mode);

	if (rc < 0)
		snprintf(line, sizeof(line), "kvm guest \"%s\" cid %" PRIu64
		    " (process %ld): no recorded device state: %s", name, cid,
		    pid, strerror(-rc));
	else
		snprintf(line, sizeof(line), "kvm guest \"%s\" cid %" PRIu64
		    " (process %ld) recorded: protocol %" PRIu32 ", status "
		    "0x%" PRIx32 ", features 0x%" PRIx32 ", notify %s, mailbox "
		    "0x%" PRIx64 " (%" PRIu32 " bytes), epoch %" PRIu32, name,
		    cid, pid, sf.sf_dev.st_protocol, sf.sf_dev.st_status,
		    sf.sf_dev.st_features, mode != NULL ? mode : "unknown",
		    sf.sf_dev.st_mbox_gpa, sf.sf_dev.st_mbox_size,
		    sf.sf_dev.st_epoch);
	w->kw_cb(w->kw_arg, line);
}

static void
kvm_dump(struct service *s, void (*cb)(void *arg, const char *line), void *arg)
{
	struct kvm_walk w = { s, cb, arg, NULL };
	char line[64];

	snprintf(line, sizeof(line), "KVM: %u guest(s) attached",
	    attach_vsock_nr_guests(s->sv_kvm));
	cb(arg, line);
	attach_vsock_dump(s->sv_kvm, cb, arg);
	attach_vsock_foreach_child(s->sv_kvm, kvm_child_line, &w);
}

static void
kvm_guest_status(void *arg, const struct attach_vsock_guest_info *gi)
{
	service_status_guest(arg, gi->gi_name, &gi->gi_stats, gi->gi_dev,
	    gi->gi_mux, gi->gi_mig);
}

static void
kvm_child_status(void *arg, const char *name, uint64_t cid, long pid)
{
	struct kvm_walk *w = arg;
	struct json_object *g = status_add_obj(w->kw_arr, NULL), *o, *mb;
	struct statefile sf;
	const char *mode;

	status_add_str(g, "name", name);
	status_add_u64(g, "cid", cid);
	status_add_u64(g, "pid", (uint64_t)pid);
	if (kvm_recorded(w->kw_s, cid, &sf) < 0) {
		status_add_null(g, "recorded");
		return;
	}
	mode = conf_notify_name(sf.sf_dev.st_irq.mode);
	o = status_add_obj(g, "recorded");
	status_add_u64(o, "pid", (uint64_t)sf.sf_pid);
	status_add_u64(o, "protocol", sf.sf_dev.st_protocol);
	status_add_u64(o, "status", sf.sf_dev.st_status);
	status_add_u64(o, "features", sf.sf_dev.st_features);
	status_add_str(o, "irq_mode", mode != NULL ? mode : "unknown");
	mb = status_add_obj(o, "mailbox");
	status_add_u64(mb, "gpa", sf.sf_dev.st_mbox_gpa);
	status_add_u64(mb, "size", sf.sf_dev.st_mbox_size);
	status_add_u64(o, "epoch", sf.sf_dev.st_epoch);
}

static void
kvm_status(struct service *s, struct json_object *root)
{
	struct kvm_walk w = { s, NULL, NULL, NULL };

	status_add_null(root, "ioreq");
	attach_vsock_foreach_guest(s->sv_kvm, kvm_guest_status,
	    status_add_arr(root, "guests"));
	w.kw_arr = status_add_arr(root, "kvm_processes");
	attach_vsock_foreach_child(s->sv_kvm, kvm_child_status, &w);
}

/* Each guest's process records its own (kvm_state): none for the listener. */
static int
kvm_get_state(struct service *s, struct statefile *sf)
{
	(void)s;
	(void)sf;
	return -EOPNOTSUPP;
}

static void
kvm_stop(struct service *s)
{
	/* Every guest detached: host peers see EOF. */
	attach_vsock_unlisten(s->sv_kvm);
	s->sv_kvm = NULL;
}

static void
kvm_close(struct service *s, bool destroy)
{
	(void)destroy;
	kvm_stop(s);
}

static const struct service_ops kvm_ops = {
	.open = kvm_open,
	.enable = kvm_nothing,
	.restrict_ = kvm_nothing,
	.reconfigure = kvm_reconfigure,
	.dump = kvm_dump,
	.status = kvm_status,
	.get_state = kvm_get_state,
	.stop = kvm_stop,
	.close = kvm_close,
};

static const struct service_ops *const service_kinds[] = {
	[SERVICE_XEN] = &xen_ops,
	[SERVICE_LOOPBACK] = &lb_ops,
	[SERVICE_KVM] = &kvm_ops,
};

/* ---- The runtime's calls ------------------------------------------------- */

int
service_open(struct loop *l, const struct conf *c,
    const struct service_target *t, const struct statefile *recovered,
    const struct service_hooks *hooks, struct service **sp, bool *reattached)
{
	struct service *s;
	int rc;

	if ((unsigned)t->st_kind >= sizeof(service_kinds) /
	    sizeof(service_kinds[0]) || service_kinds[t->st_kind] == NULL)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->sv_ops = service_kinds[t->st_kind];
	s->sv_loop = l;
	s->sv_hooks = *hooks;
	s->sv_lb.lg_sock = -1;
	s->sv_watch_fd = -1;
	snprintf(s->sv_name, sizeof(s->sv_name), "%s", c->c_name);
	snprintf(s->sv_state_dir, sizeof(s->sv_state_dir), "%s",
	    c->c_state_dir);
	*reattached = false;
	rc = s->sv_ops->open(s, c, t, recovered, reattached);
	if (rc < 0) {
		service_close(s, true);
		return rc;
	}
	*sp = s;
	return 0;
}

int
service_enable(struct service *s)
{
	return s->sv_ops->enable(s);
}

int
service_restrict(struct service *s)
{
	return s->sv_ops->restrict_(s);
}

int
service_reconfigure(struct service *s, const struct conf *c)
{
	mux_cfg(s, c);
	return s->sv_ops->reconfigure(s);
}

void
service_dump(struct service *s, void (*cb)(void *arg, const char *line),
    void *arg)
{
	s->sv_ops->dump(s, cb, arg);
}

void
service_status(struct service *s, struct json_object *root)
{
	s->sv_ops->status(s, root);
}

int
service_get_state(struct service *s, struct statefile *sf)
{
	return s->sv_ops->get_state(s, sf);
}

void
service_stop(struct service *s)
{
	s->sv_ops->stop(s);
}

void
service_close(struct service *s, bool destroy)
{
	if (s == NULL)
		return;
	s->sv_ops->close(s, destroy);
	free(s);
}
