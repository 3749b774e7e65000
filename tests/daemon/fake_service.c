/* SPDX-License-Identifier: MIT */
/*
 * A recording service (service.h) for the runtime tests: it does what the
 * runtime can observe of the real one - receives a fake guest through
 * the real loopback hand-off, binds the host listener, reports the guest
 * gone when its socket closes, exports a state - and appends every call
 * to $HCVS_FAKE_LOG so that a test can check the order of the lifecycle.
 * $HCVS_FAKE_FAIL=<call>:<errno name> makes one call fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/usock.h"
#include "daemon/loopback.h"
#include "daemon/service.h"
#include "daemon/status.h"

struct service {
	struct loop		*s_loop;
	struct service_hooks	 s_hooks;
	struct loopback_guest	 s_guest;
	bool			 s_have_guest;
	int			 s_listen_fd;
	char			 s_listener[CONF_SUN_PATH_MAX];
	size_t			 s_nr_ports;
	bool			 s_allow;
	int32_t			 s_server_id;
};

static int log_fd = -1;

static void __printf(1, 2)
ev(const char *fmt, ...)
{
	const char *path = getenv("HCVS_FAKE_LOG");
	char buf[512];
	va_list ap;
	int fd, n;

	if (path == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/*
	 * Opened at the first call (service_open, before the confinement),
	 * kept: O_APPEND still writes at the end after a test truncates it.
	 */
	if (log_fd < 0)
		log_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	fd = log_fd;
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) != n)
		log_warnx("fake service: short write to its log");
}

static int
injected(const char *call)
{
	const char *f = getenv("HCVS_FAKE_FAIL");
	size_t n = strlen(call);

	if (f == NULL || strncmp(f, call, n) != 0 || f[n] != ':')
		return 0;
	f += n + 1;
	if (!strcmp(f, "ENODEV")) return -ENODEV;
	if (!strcmp(f, "EACCES")) return -EACCES;
	if (!strcmp(f, "EEXIST")) return -EEXIST;
	if (!strcmp(f, "ENOMEM")) return -ENOMEM;
	return -EIO;
}

static void
guest_io(struct loop *l, int fd, unsigned events, void *arg)
{
	struct service *s = arg;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)events;
	if (n > 0)
		return;
	ev("guest gone");
	loop_del_fd(l, fd);
	s->s_hooks.sh_gone(s->s_hooks.sh_arg, 0);
}

int
service_open(struct loop *l, const struct conf *c,
    const struct service_target *t, const struct statefile *recovered,
    const struct service_hooks *hooks, struct service **sp, bool *reattached)
{
	struct service *s;
	int rc;

	*reattached = false;
	ev("open kind=%s uid=%ld recovered=%d", t->st_kind == SERVICE_XEN ?
	    "xen" : "loopback", (long)geteuid(), recovered != NULL);
	if ((rc = injected("open")) < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->s_loop = l;
	s->s_hooks = *hooks;
	s->s_listen_fd = -1;
	s->s_nr_ports = c->c_nr_ports;
	s->s_allow = c->c_default_allow;
	s->s_server_id = 42;
	if (recovered != NULL && recovered->sf_server_id >= 0) {
		*reattached = true;
		s->s_server_id = recovered->sf_server_id;
		ev("reattach server=%d dev=%s epoch=%" PRIu32,
		    (int)recovered->sf_server_id,
		    recovered->sf_has_dev ? "yes" : "no",
		    recovered->sf_dev.st_epoch);
	}
	if (t->st_kind == SERVICE_LOOPBACK) {
		rc = loopback_accept_guest(t->st_socket, 5000, &s->s_guest);
		if (rc < 0) {
			log_warnx("fake service: loopback hand-off from %s: %s",
			    t->st_socket, strerror(-rc));
			free(s);
			return rc;
		}
		s->s_have_guest = true;
		ev("guest vcpus=%u regions=%u",
		    loopback_shm_cfg(&s->s_guest)->nr_vcpus,
		    loopback_shm_cfg(&s->s_guest)->nr_regions);
		rc = loop_add_fd(l, s->s_guest.lg_sock, LOOP_IN, guest_io, s);
		if (rc < 0)
			goto err;
	}
	if (conf_listener_path(c, s->s_listener, sizeof(s->s_listener)) == 0) {
		s->s_listen_fd = usock_listen(s->s_listener, SOCK_STREAM, 0660, 16);
		if (s->s_listen_fd < 0) {
			rc = s->s_listen_fd;
			goto err;
		}
	}
	*sp = s;
	return 0;

err:
	if (s->s_have_guest) {
		loop_del_fd(l, s->s_guest.lg_sock);
		loopback_guest_close(&s->s_guest);
	}
	free(s);
	return rc;
}

int
service_enable(struct service *s)
{
	ev("enable");
	if (s->s_have_guest)
		(void)loopback_send_ready(&s->s_guest);
	return injected("enable");
}

int
service_restrict(struct service *s)
{
	(void)s;
	ev("restrict uid=%ld", (long)geteuid());
	return injected("restrict");
}

int
service_reconfigure(struct service *s, const struct conf *c)
{
	int rc = injected("reconfigure");

	ev("reconfigure uid=%ld ports=%zu policy=%s rc=%d", (long)geteuid(),
	    c->c_nr_ports, c->c_default_allow ? "allow" : "deny", rc);
	if (rc < 0)
		return rc;
	s->s_nr_ports = c->c_nr_ports;
	s->s_allow = c->c_default_allow;
	return 0;
}

void
service_dump(struct service *s, void (*cb)(void *arg, const char *line),
    void *arg)
{
	char line[128];

	snprintf(line, sizeof(line), "fake vcpu0: state none");
	cb(arg, line);
	snprintf(line, sizeof(line), "fake mux: %zu port mapping(s), policy %s",
	    s->s_nr_ports, s->s_allow ? "allow" : "deny");
	cb(arg, line);
}

/* A document of the real schema's shape with the recorded numbers. */
void
service_status(struct service *s, struct json_object *root)
{
	struct json_object *o, *g;

	o = status_add_obj(root, "ioreq");
	status_add_str(o, "source", "fake");
	o = status_add_arr(o, "vcpus");
	o = status_add_obj(o, NULL);
	status_add_u64(o, "vcpu", 0);
	status_add_str(o, "state", "NONE");
	status_add_u64(o, "state_code", 0);
	g = status_add_obj(status_add_arr(root, "guests"), NULL);
	status_add_str(g, "name", "fake");
	status_add_u64(g, "cid", 5);
	o = status_add_obj(g, "vsock");
	status_add_u64(o, "port_mappings", s->s_nr_ports);
	status_add_str(o, "policy", s->s_allow ? "allow" : "deny");
	status_add_arr(g, "connections");
}

int
service_get_state(struct service *s, struct statefile *sf)
{
	sf->sf_server_id = s->s_server_id;
	memset(&sf->sf_dev, 0, sizeof(sf->sf_dev));
	sf->sf_dev.st_version = VSOCK_DEV_STATE_VERSION;
	sf->sf_dev.st_epoch = 77;
	sf->sf_has_dev = true;
	return 0;
}

void
service_stop(struct service *s)
{
	(void)s;
	ev("stop");
}

void
service_close(struct service *s, bool destroy)
{
	ev("close destroy=%d", destroy);
	if (s->s_listen_fd >= 0) {
		close(s->s_listen_fd);
		(void)unlink(s->s_listener);
	}
	if (s->s_have_guest) {
		loop_del_fd(s->s_loop, s->s_guest.lg_sock);
		loopback_guest_close(&s->s_guest);
	}
	free(s);
}
