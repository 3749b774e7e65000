/* SPDX-License-Identifier: MIT */
/* hcvsockd's process: set-up, readiness, signals, reload, status, teardown. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/peer.h"
#include "daemon/conf.h"
#include "daemon/confine.h"
#include "daemon/ctl.h"
#include "daemon/pidfile.h"
#include "daemon/privdrop.h"
#include "daemon/runtime.h"
#include "daemon/sdnotify.h"
#include "daemon/service.h"
#include "daemon/statefile.h"
#include "daemon/status.h"
#include "daemon/xendom.h"

struct rt {
	const struct options	*r_opts;
	struct conf		*r_conf;
	struct loop		*r_loop;
	int			 r_sigfd;
	struct ctl		*r_ctl;
	struct service		*r_svc;
	struct service_target	 r_target;
	uint32_t		 r_domid;	/* UINT32_MAX: loopback */
	struct xendom_pin	*r_pin;	/* --pause-pin, until enabled */
	uid_t			 r_uid;
	gid_t			 r_gid;
	struct peer_policy	 r_peers;	/* control and attach sockets */
	int			 r_exit;
	int			 r_pidfd;
	int			 r_ready_fd;
	char			 r_state_path[CONF_PATH_MAX + CONF_NAME_MAX + 16];
	char			 r_ctl_path[CONF_PATH_MAX + CONF_NAME_MAX + 16];
	uint64_t		 r_start_ms;
	bool			 r_reattached;
	bool			 r_dropped;
	bool			 r_gone;
	unsigned		 r_reloads;
};

int
runtime_exit_code(int err)
{
	switch (-err) {
	case 0:
		return 0;
	case EACCES:
	case EPERM:
		return EX_NOPERM;
	case ENOENT:
	case ESRCH:
	case ENODEV:
	case ENXIO:
	case EEXIST:
	case ENOSPC:
	case EOPNOTSUPP:
	case ENOSYS:
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EPROTO:
	case EADDRINUSE:
	case ENAMETOOLONG:
		return EX_UNAVAILABLE;
	case ELOOP:
	case ENOTDIR:
		return EX_CONFIG;
	case EBUSY:
		return EX_TEMPFAIL;
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case EIO:
		return EX_OSERR;
	default:
		return EX_SOFTWARE;
	}
}

/* ---- Configuration ---------------------------------------------------- */

/* Above the CID range a file may give (3 .. 0xfffffffe). */
#define KVM_CID_UNSET	UINT32_MAX

/* KVM mode: the CID to require of attaching VMMs (0: any), and a real one. */
static uint32_t
kvm_fix_cid(struct conf *c)
{
	if (c->c_guest_cid == KVM_CID_UNSET) {
		c->c_guest_cid = 3;
		return 0;
	}
	return c->c_guest_cid;
}

static void
err_to_stderr(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static void
err_to_log(void *arg, const char *msg)
{
	(void)arg;
	log_msg(LOG_ERR, "%s", msg);
}

/*
 * Load the configuration the options name.  Without --config and without
 * the default file, --loopback and -n fall back to built-in defaults
 * (guest CID 3); a Xen guest needs its file.  Returns the number of
 * errors, or -errno.
 */
static int
load_conf(const struct options *o, struct conf *c, uint32_t *require_cid,
    conf_err_fn err, void *arg)
{
	char path[CONF_PATH_MAX];
	bool is_default;
	int rc;

	*require_cid = 0;
	conf_defaults(c, o->o_name);
	if (o->o_state_dir[0] != '\0') {
		snprintf(c->c_state_dir, sizeof(c->c_state_dir), "%s",
		    o->o_state_dir);
		c->c_state_dir_cli = true;
	}
	/*
	 * Attached VMMs give each KVM guest its CID.  A guest_cid in the file
	 * restricts them to that one; the out-of-range placeholder tells
	 * whether the file named one (kvm_fix_cid).
	 */
	if (o->o_target == OPT_TARGET_KVM)
		c->c_guest_cid = KVM_CID_UNSET;
	options_config_path(o, path, sizeof(path), &is_default);
	if (is_default && access(path, F_OK) < 0 && errno == ENOENT &&
	    (o->o_target == OPT_TARGET_LOOPBACK ||
	    o->o_target == OPT_TARGET_KVM ||
	    o->o_target == OPT_TARGET_NONE)) {
		if (o->o_target != OPT_TARGET_KVM)
			c->c_guest_cid = 3;
		rc = conf_finish(c, err, arg);
	} else
		rc = conf_load(c, path, err, arg);
	if (o->o_target == OPT_TARGET_KVM)
		*require_cid = kvm_fix_cid(c);
	return rc;
}

int
runtime_check(const struct options *o)
{
	struct conf *c = calloc(1, sizeof(*c));
	uint32_t require_cid;
	uid_t uid;
	gid_t gid;
	int rc;

	if (c == NULL)
		return EX_OSERR;
	rc = load_conf(o, c, &require_cid, err_to_stderr, NULL);
	if (rc == 0)
		rc = conf_check_system(c, &uid, &gid, err_to_stderr, NULL);
	if (rc != 0) {
		free(c);
		return EX_CONFIG;
	}
	if (o->o_verbose > 0)
		conf_dump(c, stdout);
	printf("configuration OK\n");
	free(c);
	return 0;
}

/* ---- Files and directories -------------------------------------------- */

static bool
pid_is_hcvsockd(pid_t pid)
{
	char path[64], comm[32];
	FILE *f;
	bool yes = false;

	if (pid <= 0 || pid == getpid())
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	if (fgets(comm, sizeof(comm), f) != NULL)
		yes = strncmp(comm, "hcvsockd", 8) == 0;
	fclose(f);
	return yes;
}

/*
 * A state file left by a previous process.  Returns 1 (use *sf), 0 (none
 * or not ours), -EBUSY (a live hcvsockd wrote it), or the -errno that
 * kept it from being read (it stays in place).
 */
static int
read_recovered(struct rt *r, struct statefile *sf)
{
	int rc = statefile_read(r->r_state_path, sf);

	if (rc == -ENOENT)
		return 0;
	if (rc == -EPROTONOSUPPORT) {
		log_warnx("%s: state file version %" PRIu32 " is not one this "
		    "hcvsockd reads (1 to %u): ignored, the guest must reset "
		    "its device", r->r_state_path, sf->sf_version,
		    STATEFILE_VERSION);
		(void)unlink(r->r_state_path);
		return 0;
	}
	if (rc == -EINVAL) {
		log_warnx("%s: malformed state file, ignored", r->r_state_path);
		(void)unlink(r->r_state_path);
		return 0;
	}
	/* Another process's server may be behind it: never discard it. */
	if (rc == -ENOTSUP) {
		log_warnx("%s: not a regular file: refusing to start (remove "
		    "it)", r->r_state_path);
		return rc;
	}
	if (rc < 0) {
		log_warnx("%s: cannot read the state file: %s: refusing to "
		    "start (it may name a live server)", r->r_state_path,
		    strerror(-rc));
		return rc;
	}
	if (sf->sf_version < STATEFILE_VERSION)
		log_info("%s: state file version %" PRIu32 " (an older "
		    "hcvsockd's): read", r->r_state_path, sf->sf_version);
	if (pid_is_hcvsockd(sf->sf_pid)) {
		log_warnx("hcvsockd pid %ld already serves this guest "
		    "(%s)", (long)sf->sf_pid, r->r_state_path);
		return -EBUSY;
	}
	if (sf->sf_domid != r->r_domid) {
		log_info("%s: state of domain %" PRIu32 ", not %" PRIu32
		    ": ignored", r->r_state_path, sf->sf_domid, r->r_domid);
		(void)unlink(r->r_state_path);
		return 0;
	}
	log_info("found the state of pid %ld (server %" PRId32 "): trying to "
	    "re-attach", (long)sf->sf_pid, sf->sf_server_id);
	return 1;
}

static void
write_state(struct rt *r)
{
	struct statefile *sf;
	int rc;

	/* KVM: each guest's process records its own guest (service.c). */
	if (r->r_target.st_kind == SERVICE_KVM)
		return;
	sf = calloc(1, sizeof(*sf));
	if (sf == NULL)
		return;
	sf->sf_domid = r->r_domid;
	sf->sf_server_id = -1;
	rc = service_get_state(r->r_svc, sf);
	sf->sf_pid = getpid();
	sf->sf_domid = r->r_domid;
	if (rc == 0)
		rc = statefile_write(r->r_state_path, sf);
	if (rc < 0)
		log_warnx("%s: cannot record the state: %s (a crash would "
		    "lose the device)", r->r_state_path, strerror(-rc));
	free(sf);
}

/* ---- Limits ------------------------------------------------------------ */

/* fds beside the connections: epoll, signalfd, listeners, control clients. */
#define FD_RESERVE		64
/* Per guest: its handles, and on KVM up to 2 eventfds per vCPU (128). */
#define FD_PER_GUEST_XEN	32
#define FD_PER_GUEST_KVM	300

/*
 * max_connections is a promise only the fd limit can keep: raise the soft
 * limit to what it needs (at start), or serve fewer and say so.
 */
static void
fit_fd_limit(struct rt *r, struct conf *c, bool raise)
{
	bool kvm = r->r_opts->o_target == OPT_TARGET_KVM;
	unsigned long guests = kvm ? SERVICE_KVM_MAX_GUESTS : 1;
	unsigned long per = kvm ? FD_PER_GUEST_KVM : FD_PER_GUEST_XEN;
	unsigned long need = guests * (c->c_max_connections + per) + FD_RESERVE;
	unsigned long have = raise ? confine_nofile(need) : confine_nofile_now();
	unsigned long fit;

	if (have >= need)
		return;
	fit = have > FD_RESERVE + guests * (per + 1) ?
	    (have - FD_RESERVE) / guests - per : 1;
	log_warnx("max_connections %" PRIu32 " needs %lu open files but "
	    "RLIMIT_NOFILE is %lu: serving at most %lu connections%s (raise "
	    "LimitNOFILE or ulimit -n)", c->c_max_connections, need, have,
	    fit, kvm ? " per guest" : "");
	c->c_max_connections = (uint32_t)fit;
}

/* ---- Status report ---------------------------------------------------- */

static struct json_object *
report_json(struct rt *r)
{
	const struct conf *c = r->r_conf;
	struct json_object *root, *o;

	if ((root = status_root_new()) == NULL)
		return NULL;
	status_add_str(root, "version", PACKAGE_STRING);
	status_add_str(root, "name", c->c_name);
	o = status_add_obj(root, "target");
	if (r->r_target.st_kind == SERVICE_KVM) {
		status_add_str(o, "kind", "kvm");
		status_add_str(o, "socket", r->r_opts->o_kvm);
	} else if (r->r_domid == UINT32_MAX) {
		status_add_str(o, "kind", "loopback");
		status_add_str(o, "socket", r->r_opts->o_loopback);
	} else {
		status_add_str(o, "kind", "xen");
		status_add_u64(o, "domid", r->r_domid);
	}
	status_add_u64(root, "pid", (uint64_t)getpid());
	status_add_u64(root, "uptime_s", (loop_now_ms() - r->r_start_ms) / 1000);
	o = status_add_obj(root, "config");
	if (c->c_file[0] != '\0')
		status_add_str(o, "file", c->c_file);
	else
		status_add_null(o, "file");
	status_add_u64(o, "guest_cid",
	    r->r_target.st_kind == SERVICE_KVM ? 0 : c->c_guest_cid);
	status_add_u64(o, "port_mappings", c->c_nr_ports);
	status_add_str(o, "default_policy", c->c_default_allow ? "allow" : "deny");
	status_add_u64(o, "reloads", r->r_reloads);
	status_add_str(root, "server", r->r_reattached ? "reattached" : "created");
	o = status_add_obj(root, "privileges");
	status_add_bool(o, "dropped", r->r_dropped);
	if (r->r_dropped) {
		status_add_str(o, "user", c->c_user);
		if (c->c_group[0] != '\0')
			status_add_str(o, "group", c->c_group);
	}
	if (r->r_svc != NULL)
		service_status(r->r_svc, root);
	return root;
}

static void
report(void *arg, enum ctl_report kind,
    void (*emit)(void *earg, const char *line), void *earg)
{
	struct rt *r = arg;
	const struct conf *c = r->r_conf;
	char line[512], target[160];

	if (kind != CTL_REPORT_TEXT) {
		struct json_object *root = report_json(r);

		if (root == NULL) {
			emit(earg, "error: out of memory");
			return;
		}
		if (kind == CTL_REPORT_JSON)
			status_emit_json(root, emit, earg);
		else
			status_emit_metrics(root, emit, earg);
		status_free(root);
		return;
	}

	if (r->r_target.st_kind == SERVICE_KVM)
		snprintf(target, sizeof(target), "KVM attach socket %s",
		    r->r_opts->o_kvm);
	else if (r->r_domid == UINT32_MAX)
		snprintf(target, sizeof(target), "loopback %s",
		    r->r_opts->o_loopback);
	else
		snprintf(target, sizeof(target), "domain %" PRIu32, r->r_domid);
	snprintf(line, sizeof(line), "%s: guest %s (%s), pid %ld, up %" PRIu64
	    " s", PACKAGE_STRING, c->c_name, target, (long)getpid(),
	    (loop_now_ms() - r->r_start_ms) / 1000);
	emit(earg, line);
	snprintf(line, sizeof(line), "config %s: guest_cid %" PRIu32 ", %zu "
	    "port mapping(s), default policy %s, %u reload(s)",
	    c->c_file[0] != '\0' ? c->c_file : "(built-in defaults)",
	    r->r_target.st_kind == SERVICE_KVM ? 0 : c->c_guest_cid,
	    c->c_nr_ports, c->c_default_allow ? "allow" : "deny", r->r_reloads);
	emit(earg, line);
	snprintf(line, sizeof(line), "server %s, privileges %s%s%s",
	    r->r_reattached ? "re-attached after a restart" : "created",
	    r->r_dropped ? "dropped to " : "root",
	    r->r_dropped ? c->c_user : "",
	    r->r_dropped && c->c_group[0] != '\0' ? ":" : "");
	if (r->r_dropped && c->c_group[0] != '\0')
		strncat(line, c->c_group, sizeof(line) - strlen(line) - 1);
	emit(earg, line);
	if (r->r_svc != NULL)
		service_dump(r->r_svc, emit, earg);
}

static void
emit_log(void *arg, const char *line)
{
	(void)arg;
	log_info("%s", line);
}

/* ---- Signals and hooks ------------------------------------------------ */

static void
restart_changed(void *arg, const char *key)
{
	(void)arg;
	log_warnx("reload: '%s' changed: takes effect at the next start", key);
}

/*
 * SIGHUP: re-read the file; apply policy, port mappings, limits that
 * connections can follow, and the log level.  Anything else needs a
 * restart and is reported as such.  A file with errors changes nothing.
 */
static void
reload(struct rt *r)
{
	struct conf *nc = calloc(1, sizeof(*nc));
	struct conf *merged;
	uint32_t require_cid;
	int rc;

	if (nc == NULL)
		return;
	rc = load_conf(r->r_opts, nc, &require_cid, err_to_log, NULL);
	if (rc != 0) {
		log_warnx("reload: %s: %s, keeping the running configuration",
		    nc->c_file[0] != '\0' ? nc->c_file : "configuration",
		    rc < 0 ? strerror(-rc) : "errors");
		(void)sdnotify_send("STATUS=reload failed: configuration "
		    "errors, see the log");
		free(nc);
		return;
	}
	merged = malloc(sizeof(*merged));
	if (merged == NULL) {
		free(nc);
		return;
	}
	*merged = *r->r_conf;
	conf_reload_merge(merged, nc, restart_changed, NULL);
	fit_fd_limit(r, merged, false);
	free(nc);
	rc = service_reconfigure(r->r_svc, merged);
	if (rc < 0) {
		log_warnx("reload: %s, keeping the running configuration",
		    strerror(-rc));
		free(merged);
		return;
	}
	free(r->r_conf);
	r->r_conf = merged;
	log_setlevel(merged->c_log_level);
	r->r_reloads++;
	log_info("reloaded %s: %zu port mapping(s), default policy %s",
	    merged->c_file[0] != '\0' ? merged->c_file : "built-in defaults",
	    merged->c_nr_ports, merged->c_default_allow ? "allow" : "deny");
	(void)sdnotify_sendf("STATUS=serving %s, %u reload(s)",
	    merged->c_name, r->r_reloads);
}

static void
on_signal(struct loop *l, int fd, unsigned events, void *arg)
{
	struct rt *r = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("%s from pid %" PRIu32 ": stopping",
			    strsignal((int)si.ssi_signo), si.ssi_pid);
			r->r_exit = 0;
			loop_quit(l);
			break;
		case SIGHUP:
			reload(r);
			break;
		case SIGUSR1:
			report(r, CTL_REPORT_TEXT, emit_log, NULL);
			break;
		default:
			break;
		}
	}
}

static void
hook_state_changed(void *arg)
{
	write_state(arg);
}

static void
hook_gone(void *arg, int code)
{
	struct rt *r = arg;

	r->r_gone = true;
	r->r_exit = code;
	loop_quit(r->r_loop);
}

/* ---- Process set-up ---------------------------------------------------- */

/*
 * The pid file goes when the process does, but only a directory the
 * dropped user may write lets it unlink the file then.
 */
static void
warn_pidfile_dir(const struct rt *r)
{
	char buf[CONF_PATH_MAX];
	struct stat st;
	const char *dir;

	if (r->r_uid == (uid_t)-1)
		return;
	snprintf(buf, sizeof(buf), "%s", r->r_opts->o_pidfile);
	dir = dirname(buf);
	if (stat(dir, &st) < 0)
		return;
	if ((st.st_uid == r->r_uid && (st.st_mode & S_IWUSR) != 0) ||
	    (st.st_gid == r->r_gid && (st.st_mode & S_IWGRP) != 0) ||
	    (st.st_mode & S_IWOTH) != 0)
		return;
	log_warnx("%s: user %s cannot write %s: at stop the pid file will be "
	    "emptied, not removed (put it in state_dir %s to have it removed)",
	    r->r_opts->o_pidfile, r->r_conf->c_user, dir,
	    r->r_conf->c_state_dir);
}

/*
 * Fork into the background.  The parent waits until the child reports
 * (one byte on a pipe: its exit status, 0 once it serves) so that an
 * init script's exit status is the truth.
 */
static int
daemonize(int *ready_fd)
{
	int p[2], devnull, status;
	unsigned char code;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &code, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(code);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(EX_SOFTWARE);
	}
	close(p[0]);
	if (setsid() < 0)
		return -errno;
	if (chdir("/") < 0)
		return -errno;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		if (devnull > 2)
			close(devnull);
	}
	*ready_fd = p[1];
	return 0;
}

static void
report_to_parent(struct rt *r, int code)
{
	unsigned char b = (unsigned char)code;

	if (r->r_ready_fd < 0)
		return;
	if (write(r->r_ready_fd, &b, 1) != 1)
		log_debug("cannot report to the parent process");
	close(r->r_ready_fd);
	r->r_ready_fd = -1;
}

static int
setup_signals(struct rt *r)
{
	sigset_t set;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	r->r_sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->r_sigfd < 0)
		return -errno;
	return loop_add_fd(r->r_loop, r->r_sigfd, LOOP_IN, on_signal, r);
}

static int
resolve_target(struct rt *r)
{
	const struct options *o = r->r_opts;
	int rc;

	switch (o->o_target) {
	case OPT_TARGET_LOOPBACK:
		r->r_domid = UINT32_MAX;
		r->r_target.st_kind = SERVICE_LOOPBACK;
		r->r_target.st_socket = o->o_loopback;
		return 0;
	case OPT_TARGET_KVM:
		r->r_domid = UINT32_MAX - 1;
		r->r_target.st_kind = SERVICE_KVM;
		r->r_target.st_socket = o->o_kvm;
		return 0;
	case OPT_TARGET_DOMAIN:
		rc = xendom_lookup(o->o_domain, o->o_wait_s, &r->r_domid);
		break;
	case OPT_TARGET_DOMID:
		r->r_domid = o->o_domid;
		rc = xendom_exists(o->o_domid, o->o_wait_s);
		if (rc == 0)
			rc = -ESRCH;
		else if (rc == 1)
			rc = 0;
		break;
	default:
		return -EINVAL;
	}
	switch (rc) {
	case 0:
		break;
	case -ESRCH:
		log_warnx("no such domain: %s%s", o->o_name,
		    o->o_wait_s ? " (waited)" : "");
		return rc;
	case -ENODEV:
		log_warnx("no xenstore: is this a Xen dom0 with xenstored "
		    "running?");
		return rc;
	case -ENOTSUP:
		log_warnx("this hcvsockd was built without Xen support");
		return rc;
	case -EINTR:
		log_info("stopped while waiting for %s", o->o_name);
		return rc;
	default:
		log_warnx("looking up %s: %s", o->o_name, strerror(-rc));
		return rc;
	}
	r->r_target.st_kind = SERVICE_XEN;
	r->r_target.st_domid = r->r_domid;
	rc = xendom_self(&r->r_target.st_self_domid);
	if (rc < 0 && rc != -ENOENT)
		log_warnx("our own domain id (xenstore domid): %s; guests "
		    "are told 0", strerror(-rc));
	/* The layers prefix their own lines with "dom<N>: ". */
	log_info("domain %s is dom%" PRIu32, o->o_name, r->r_domid);
	return 0;
}

static int
prepare_dirs(struct rt *r)
{
	const struct conf *c = r->r_conf;
	bool same = strcmp(c->c_state_dir, c->c_socket_dir) == 0;
	int rc;

	/* The dropped user writes the state file and creates sockets here. */
	if ((rc = privdrop_take_dir(c->c_state_dir, r->r_uid, r->r_gid,
	    0750)) < 0)
		return rc;
	if (!same && (rc = privdrop_take_dir(c->c_socket_dir, r->r_uid,
	    r->r_gid, 02770)) < 0)
		return rc;
	return 0;
}

static int
drop_privileges(struct rt *r)
{
	const struct conf *c = r->r_conf;
	char path[CONF_SUN_PATH_MAX];
	int rc;

	rc = service_restrict(r->r_svc);
	if (rc < 0 && rc != -EOPNOTSUPP) {
		log_warnx("restricting the Xen handles: %s", strerror(-rc));
		return rc;
	}
	/* Nothing regained by any means (exec, file capabilities). */
	if (geteuid() == 0 && (rc = confine_bounding()) < 0) {
		log_warnx("emptying the capability bounding set: %s",
		    strerror(-rc));
		return rc;
	}
	if (r->r_uid == (uid_t)-1) {
		log_warnx("running as root (--allow-root): set 'user' in %s to "
		    "drop privileges", c->c_file[0] != '\0' ? c->c_file :
		    "the configuration");
		return 0;
	}
	/*
	 * Sockets bound as root: the dropped user must still unlink them, and
	 * its group's host programs connect to them.
	 */
	static const char *const suffix[] = { "", "_seqpacket", "_migtd" };
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (conf_listener_path(c, path, sizeof(path)) < 0 ||
		    strlen(path) + strlen(suffix[i]) >= sizeof(path))
			continue;
		strcat(path, suffix[i]);
		if (access(path, F_OK) == 0 && (rc = privdrop_prepare_file(path,
		    r->r_uid, r->r_gid, 0660)) < 0) {
			log_warnx("%s: %s", path, strerror(-rc));
			return rc;
		}
	}
	if ((rc = privdrop_prepare_file(r->r_ctl_path, 0, r->r_gid, 0660)) < 0) {
		log_warnx("%s: %s", r->r_ctl_path, strerror(-rc));
		return rc;
	}
	/* VMMs in the daemon's group may attach. */
	if (r->r_target.st_kind == SERVICE_KVM && (rc = privdrop_prepare_file(
	    r->r_opts->o_kvm, 0, r->r_gid, 0660)) < 0) {
		log_warnx("%s: %s", r->r_opts->o_kvm, strerror(-rc));
		return rc;
	}
	rc = privdrop_drop(r->r_uid, r->r_gid);
	if (rc < 0) {
		log_warnx("dropping privileges to %s: %s", c->c_user,
		    strerror(-rc));
		return -EPERM;
	}
	r->r_dropped = true;
	log_info("privileges dropped to user %s (uid %ld, gid %ld)", c->c_user,
	    (long)r->r_uid, (long)r->r_gid);
	return 0;
}

/*
 * Who may use the control and attach sockets: root, the daemon's user and
 * group (the socket files' owners), and peer_group.
 */
static void
set_peers(struct rt *r)
{
	struct group *gr;

	memset(&r->r_peers, 0, sizeof(r->r_peers));
	peer_allow_uid(&r->r_peers, 0);
	peer_allow_uid(&r->r_peers, r->r_uid != (uid_t)-1 ? r->r_uid :
	    geteuid());
	peer_allow_gid(&r->r_peers, r->r_gid);
	if (r->r_conf->c_peer_group[0] != '\0' &&
	    (gr = getgrnam(r->r_conf->c_peer_group)) != NULL)
		peer_allow_gid(&r->r_peers, gr->gr_gid);
	r->r_target.st_peers = &r->r_peers;
}

/* What the serving loop may still do: see confine.h. */
static int
confine(struct rt *r)
{
	const struct conf *c = r->r_conf;
	struct confine_cfg cc = {
		.cc_dirs = { c->c_state_dir,
		    strcmp(c->c_state_dir, c->c_socket_dir) != 0 ?
		    c->c_socket_dir : NULL },
		.cc_read = { c->c_file },
		.cc_remove = { r->r_opts->o_pidfile,
		    r->r_target.st_kind == SERVICE_KVM ? r->r_opts->o_kvm : NULL },
		.cc_seccomp = !r->r_opts->o_no_seccomp,
		.cc_xen = r->r_target.st_kind == SERVICE_XEN,
		.cc_kvm = r->r_target.st_kind == SERVICE_KVM,
	};
	int rc = confine_apply(&cc);

	if (rc < 0)
		log_warnx("confinement failed: %s", strerror(-rc));
	return rc;
}

/* Everything from the first handle to READY=1. */
static int
start(struct rt *r)
{
	struct conf *c = r->r_conf;
	struct statefile *sf;
	struct service_hooks hooks = {
		.sh_state_changed = hook_state_changed,
		.sh_gone = hook_gone,
		.sh_arg = r,
	};
	char listener[CONF_SUN_PATH_MAX];
	int rc, have;

	snprintf(r->r_state_path, sizeof(r->r_state_path), "%s/%s.state",
	    c->c_state_dir, c->c_name);
	snprintf(r->r_ctl_path, sizeof(r->r_ctl_path), "%s/%s.ctl",
	    c->c_state_dir, c->c_name);
	if ((rc = prepare_dirs(r)) < 0)
		return rc;
	fit_fd_limit(r, r->r_conf, true);
	if ((rc = loop_new(&r->r_loop)) < 0)
		return rc;
	if ((rc = setup_signals(r)) < 0) {
		log_warnx("signals: %s", strerror(-rc));
		return rc;
	}
	if ((rc = resolve_target(r)) < 0)
		return rc;
	set_peers(r);

	if (r->r_opts->o_pause_pin) {
		rc = xendom_pin(r->r_domid, &r->r_pin);
		if (rc < 0) {
			log_warnx("pausing the domain (--pause-pin): %s",
			    strerror(-rc));
			return rc;
		}
		log_info("domain paused until it is served (--pause-pin)");
	}
	sf = calloc(1, sizeof(*sf));
	if (sf == NULL)
		return -ENOMEM;
	have = r->r_target.st_kind == SERVICE_KVM ? 0 : read_recovered(r, sf);
	if (have < 0) {
		free(sf);
		return have;
	}
	rc = service_open(r->r_loop, c, &r->r_target, have ? sf : NULL, &hooks,
	    &r->r_svc, &r->r_reattached);
	free(sf);
	if (rc < 0)
		return rc;
	if ((rc = service_enable(r->r_svc)) < 0)
		return rc;
	/* Live: the guest may run.  libxenctrl goes before the restriction. */
	if (r->r_pin != NULL) {
		xendom_unpin(r->r_pin);
		r->r_pin = NULL;
		log_info("domain released (--pause-pin)");
	}
	rc = ctl_open(r->r_loop, r->r_ctl_path, report, r, &r->r_ctl);
	if (rc < 0) {
		log_warnx("control socket %s: %s", r->r_ctl_path, strerror(-rc));
		return rc;
	}
	ctl_set_peers(r->r_ctl, &r->r_peers);
	if ((rc = drop_privileges(r)) < 0)
		return rc;
	write_state(r);
	if ((rc = confine(r)) < 0)
		return rc;

	if (conf_listener_path(c, listener, sizeof(listener)) < 0)
		listener[0] = '\0';
	if (r->r_target.st_kind == SERVICE_KVM) {
		log_info("serving KVM guests attached on %s, host sockets "
		    "%s.<cid>", r->r_opts->o_kvm, listener);
		(void)sdnotify_sendf("READY=1\nSTATUS=waiting for VMMs on %s\n"
		    "MAINPID=%ld", r->r_opts->o_kvm, (long)getpid());
		return 0;
	}
	log_info("serving guest %s: guest CID %" PRIu32 ", host socket %s%s",
	    c->c_name, c->c_guest_cid, listener,
	    r->r_reattached ? " (re-attached)" : "");
	(void)sdnotify_sendf("READY=1\nSTATUS=serving %s (CID %" PRIu32 ")%s\n"
	    "MAINPID=%ld", c->c_name, c->c_guest_cid,
	    r->r_reattached ? ", re-attached" : "", (long)getpid());
	return 0;
}

/* The order real Xen requires: answer, disable, reset, destroy, unmap. */
static void
stop(struct rt *r)
{
	(void)sdnotify_send("STOPPING=1\nSTATUS=stopping");
	/* A failed start must not leave the domain paused by us. */
	xendom_unpin(r->r_pin);
	r->r_pin = NULL;
	if (r->r_svc != NULL) {
		service_stop(r->r_svc);
		service_close(r->r_svc, true);
		r->r_svc = NULL;
		/* Nothing is left to re-attach to. */
		(void)unlink(r->r_state_path);
	}
	ctl_close(r->r_ctl);
	r->r_ctl = NULL;
	if (r->r_sigfd >= 0) {
		loop_del_fd(r->r_loop, r->r_sigfd);
		close(r->r_sigfd);
		r->r_sigfd = -1;
	}
	loop_free(r->r_loop);
	r->r_loop = NULL;
}

int
runtime_run(const struct options *o)
{
	struct rt rt = {
		.r_opts = o,
		.r_sigfd = -1,
		.r_pidfd = -1,
		.r_ready_fd = -1,
		.r_start_ms = loop_now_ms(),
	};
	struct rt *r = &rt;
	char prefix[CONF_NAME_MAX + 8];
	pid_t holder;
	int rc, code;

	/* Every file and socket gets the mode the code gives it, nothing more. */
	umask(077);
	log_init(true, o->o_verbose, "hcvsockd");
	/* systemd connects stderr to the journal and says so. */
	if (o->o_foreground && getenv("JOURNAL_STREAM") != NULL)
		log_set_journal(true);
	r->r_conf = calloc(1, sizeof(*r->r_conf));
	if (r->r_conf == NULL)
		return EX_OSERR;
	if (load_conf(o, r->r_conf, &r->r_target.st_require_cid, err_to_log,
	    NULL) != 0 ||
	    conf_check_system(r->r_conf, &r->r_uid, &r->r_gid, err_to_log,
	    NULL) != 0) {
		free(r->r_conf);
		return EX_CONFIG;
	}
	if (r->r_uid != (uid_t)-1 && geteuid() != 0) {
		log_warnx("'user' is set but hcvsockd does not run as root");
		free(r->r_conf);
		return EX_NOPERM;
	}
	if (r->r_uid == (uid_t)-1 && geteuid() == 0 && !o->o_allow_root) {
		log_warnx("refusing to serve guests as root: hcvsockd parses "
		    "guest-controlled memory, and a flaw there must not hand "
		    "a guest root in this domain; set 'user' in %s (or pass "
		    "--allow-root to accept the risk)",
		    r->r_conf->c_file[0] != '\0' ? r->r_conf->c_file :
		    "the configuration");
		free(r->r_conf);
		return EX_CONFIG;
	}
	if (!o->o_foreground) {
		if ((rc = daemonize(&r->r_ready_fd)) < 0) {
			log_warnx("cannot fork into the background: %s",
			    strerror(-rc));
			free(r->r_conf);
			return EX_OSERR;
		}
		log_init(false, o->o_verbose, "hcvsockd");
	}
	log_setlevel(r->r_conf->c_log_level);
	snprintf(prefix, sizeof(prefix), "%s: ", o->o_name);
	log_setprefix(prefix);
	/* lockf locks are per process: take it after the fork. */
	if (o->o_pidfile[0] != '\0') {
		r->r_pidfd = pidfile_open(o->o_pidfile, &holder);
		if (r->r_pidfd == -EEXIST) {
			log_warnx("%s: hcvsockd pid %ld is already running",
			    o->o_pidfile, (long)holder);
			code = EX_TEMPFAIL;
			goto out;
		}
		if (r->r_pidfd < 0) {
			log_warnx("%s: %s", o->o_pidfile, strerror(-r->r_pidfd));
			code = runtime_exit_code(r->r_pidfd);
			goto out;
		}
		(void)pidfile_write(r->r_pidfd);
		warn_pidfile_dir(r);
	}

	rc = start(r);
	if (rc == 0 && getenv("HCVSOCKD_TEST_FORBIDDEN_SYSCALL") != NULL)
		confine_selftest();
	if (rc < 0) {
		code = rc == -EINTR ? 0 : runtime_exit_code(rc);
		(void)sdnotify_sendf("STATUS=failed to start: %s\nERRNO=%d",
		    strerror(-rc), -rc);
		goto out_stop;
	}
	report_to_parent(r, 0);
	rc = loop_run(r->r_loop);
	code = r->r_exit;
	if (rc < 0) {
		log_warnx("event loop: %s", strerror(-rc));
		code = EX_SOFTWARE;
	}
	if (r->r_gone)
		log_info("guest gone: stopping (exit %d)", code);

out_stop:
	stop(r);
out:
	report_to_parent(r, code);
	pidfile_close(r->r_pidfd, o->o_pidfile);
	free(r->r_conf);
	if (code == 0)
		log_info("stopped");
	return code;
}
