/* SPDX-License-Identifier: MIT */
/*
 * The service for a build without the device layers (src/ioreq's Xen and
 * shm sources, src/vsock's device and muxer): every guest is refused
 * with a clear message.  service.c replaces this file once they exist.
 */
#include <errno.h>

#include "common/log.h"
#include "daemon/service.h"

int
service_open(struct loop *l, const struct conf *c,
    const struct service_target *t, const struct statefile *recovered,
    const struct service_hooks *hooks, struct service **sp, bool *reattached)
{
	(void)l;
	(void)c;
	(void)t;
	(void)recovered;
	(void)hooks;
	(void)sp;
	*reattached = false;
	log_warnx("this hcvsockd was built without the ioreq and vsock layers: "
	    "it cannot serve a guest");
	return -ENOSYS;
}

int service_enable(struct service *s) { (void)s; return -ENOSYS; }
int service_restrict(struct service *s) { (void)s; return -ENOSYS; }
int service_reconfigure(struct service *s, const struct conf *c)
{ (void)s; (void)c; return -ENOSYS; }
void service_dump(struct service *s, void (*cb)(void *, const char *), void *a)
{ (void)s; (void)cb; (void)a; }
int service_get_state(struct service *s, struct statefile *sf)
{ (void)s; (void)sf; return -ENOSYS; }
void service_stop(struct service *s) { (void)s; }
void service_close(struct service *s, bool destroy) { (void)s; (void)destroy; }
