/* SPDX-License-Identifier: MIT */
/* Domain lookup by name through xenstore, with an optional wait. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/xendom.h"

#ifdef HAVE_XEN
#include <xenctrl.h>
#include <xenstore.h>

struct xendom_pin {
	xc_interface	*xp_xch;
	uint32_t	 xp_domid;
};

int
xendom_pin(uint32_t domid, struct xendom_pin **pp)
{
	struct xendom_pin *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL)
		return -ENOMEM;
	p->xp_domid = domid;
	p->xp_xch = xc_interface_open(NULL, NULL, 0);
	if (p->xp_xch == NULL) {
		rc = errno != 0 ? -errno : -ENODEV;
		free(p);
		return rc;
	}
	if (xc_domain_pause(p->xp_xch, domid) < 0) {
		rc = errno != 0 ? -errno : -EIO;
		xc_interface_close(p->xp_xch);
		free(p);
		return rc;
	}
	*pp = p;
	return 0;
}

void
xendom_unpin(struct xendom_pin *p)
{
	if (p == NULL)
		return;
	(void)xc_domain_unpause(p->xp_xch, p->xp_domid);
	xc_interface_close(p->xp_xch);
	free(p);
}

static bool
stop_requested(void)
{
	sigset_t pending;

	if (sigpending(&pending) < 0)
		return false;
	return sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT);
}

/* One attempt: 0 found, -ESRCH not (yet) there, -errno. */
static int
lookup_once(const char *name, int64_t want_id, uint32_t *domid)
{
	struct xs_handle *xs;
	char **dir, path[64];
	unsigned n;
	int rc = -ESRCH;

	xs = xs_open(XS_OPEN_READONLY);
	if (xs == NULL)
		return errno == ENOENT || errno == EACCES ? -ENODEV : -errno;
	dir = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	if (dir == NULL) {
		rc = errno == ENOENT ? -ESRCH : -errno;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		char *end, *val;
		unsigned len;
		unsigned long id = strtoul(dir[i], &end, 10);

		if (*end != '\0' || id == 0 || id > 0x7fef)
			continue;
		if (want_id >= 0) {
			if ((int64_t)id == want_id) {
				*domid = (uint32_t)id;
				rc = 0;
				break;
			}
			continue;
		}
		snprintf(path, sizeof(path), "/local/domain/%lu/name", id);
		val = xs_read(xs, XBT_NULL, path, &len);
		if (val != NULL && strcmp(val, name) == 0) {
			*domid = (uint32_t)id;
			rc = 0;
		}
		free(val);
		if (rc == 0)
			break;
	}
	free(dir);
out:
	xs_close(xs);
	return rc;
}

static int
lookup(const char *name, int64_t want_id, unsigned wait_s, uint32_t *domid)
{
	struct timespec half = { 0, 500 * 1000 * 1000 };
	unsigned tries = wait_s * 2;
	int rc;

	for (;;) {
		rc = lookup_once(name, want_id, domid);
		if (rc != -ESRCH || tries-- == 0)
			return rc;
		if (stop_requested())
			return -EINTR;
		nanosleep(&half, NULL);
	}
}

int
xendom_lookup(const char *name, unsigned wait_s, uint32_t *domid)
{
	return lookup(name, -1, wait_s, domid);
}

int
xendom_exists(uint32_t domid, unsigned wait_s)
{
	uint32_t found;
	int rc = lookup(NULL, domid, wait_s, &found);

	return rc == 0 ? 1 : rc == -ESRCH ? 0 : rc;
}

/*
 * Our own domain's "domid" key, read relative to our xenstore home: the
 * tool stack writes it for dom0 and for driver and stub domains alike.
 */
int
xendom_self(uint32_t *domid)
{
	struct xs_handle *xs;
	char *val, *end;
	unsigned len;
	unsigned long id;
	int rc = -ENOENT;

	*domid = 0;
	xs = xs_open(XS_OPEN_READONLY);
	if (xs == NULL)
		return errno == ENOENT || errno == EACCES ? -ENODEV : -errno;
	val = xs_read(xs, XBT_NULL, "domid", &len);
	if (val != NULL) {
		id = strtoul(val, &end, 10);
		if (end != val && *end == '\0' && id < 0x7ff0) {
			*domid = (uint32_t)id;
			rc = 0;
		} else {
			rc = -EINVAL;
		}
		free(val);
	}
	xs_close(xs);
	return rc;
}

#else /* !HAVE_XEN */

int
xendom_pin(uint32_t domid, struct xendom_pin **pp)
{
	(void)domid;
	(void)pp;
	return -ENOTSUP;
}

void
xendom_unpin(struct xendom_pin *p)
{
	(void)p;
}

int
xendom_lookup(const char *name, unsigned wait_s, uint32_t *domid)
{
	(void)name;
	(void)wait_s;
	(void)domid;
	return -ENOTSUP;
}

int
xendom_exists(uint32_t domid, unsigned wait_s)
{
	(void)domid;
	(void)wait_s;
	return -ENOTSUP;
}

int
xendom_self(uint32_t *domid)
{
	*domid = 0;
	return -ENOTSUP;
}

#endif
