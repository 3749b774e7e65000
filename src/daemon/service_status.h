/* SPDX-License-Identifier: MIT */
/*
 * The layers' numbers as JSON status members (hcvsockctl(8) lists them).
 * Part of the service: only hcvsockd's service files know the layers.
 */
#ifndef HCVS_SERVICE_STATUS_H
#define HCVS_SERVICE_STATUS_H

#include <stdint.h>

struct binding_stats;
struct ioreq_engine;
struct json_object;
struct vsock_dev;
struct vsock_mig;
struct vsock_mux;

/* The "ioreq" member: source kind, server id, counters, vCPU slots. */
void	service_status_ioreq(struct json_object *root,
	    const struct ioreq_engine *e, const char *source, int server_id);

/*
 * One element of "guests": name, cid, "kvm" (when kvm is not NULL),
 * "device", "vsock", "connections" and "migtd" (when mig is not NULL).
 */
void	service_status_guest(struct json_object *guests, const char *name,
	    const struct binding_stats *kvm,
	    const struct vsock_dev *d, const struct vsock_mux *m,
	    const struct vsock_mig *mig);

#endif /* HCVS_SERVICE_STATUS_H */
