/* SPDX-License-Identifier: MIT */
/* The layers' numbers as JSON status members. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "binding/binding.h"
#include "daemon/conf.h"
#include "daemon/service_status.h"
#include "daemon/status.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq.h"
#include "notify/notify.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_mig.h"
#include "vsock/vsock_mux.h"

/* Counters named once: the JSON key and the uint64_t member it reports. */
struct counter {
	const char	*c_key;
	size_t		 c_off;
};

static void
add_counters(struct json_object *o, const void *st, const struct counter *c,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, (const char *)st + c[i].c_off, sizeof(v));
		status_add_u64(o, c[i].c_key, v);
	}
}

/* A member that is not a uint64_t does not compile. */
#define COUNTER(key, type, member)	{ key, offsetof(struct type, member) + \
	0 * sizeof(char[sizeof(((struct type *)0)->member) == 8 ? 1 : -1]) }
#define ADD_COUNTERS(o, st, table)	\
	add_counters(o, st, table, sizeof(table) / sizeof(table[0]))

static const struct counter engine_counters[] = {
	COUNTER("requests", ioreq_engine_stats, st_requests),
	COUNTER("buffered", ioreq_engine_stats, st_buffered),
	COUNTER("invalid", ioreq_engine_stats, st_invalid),
	COUNTER("unclaimed", ioreq_engine_stats, st_unclaimed),
	COUNTER("spurious", ioreq_engine_stats, st_spurious),
};

static const struct counter dev_counters[] = {
	COUNTER("register_reads", vsock_dev_stats, ds_reg_reads),
	COUNTER("register_writes", vsock_dev_stats, ds_reg_writes),
	COUNTER("bad_accesses", vsock_dev_stats, ds_bad_access),
	COUNTER("commands", vsock_dev_stats, ds_cmds),
	COUNTER("command_errors", vsock_dev_stats, ds_cmd_errors),
	COUNTER("doorbells", vsock_dev_stats, ds_kicks),
	COUNTER("sync_doorbells", vsock_dev_stats, ds_sync_kicks),
	COUNTER("evtchn_doorbells", vsock_dev_stats, ds_evtchn_kicks),
	COUNTER("evtchn_events_ignored", vsock_dev_stats, ds_events_ignored),
	COUNTER("passes", vsock_dev_stats, ds_passes),
	COUNTER("deferred_passes", vsock_dev_stats, ds_deferred),
	COUNTER("tx_packets", vsock_dev_stats, ds_tx_pkts),
	COUNTER("tx_bytes", vsock_dev_stats, ds_tx_bytes),
	COUNTER("rx_packets", vsock_dev_stats, ds_rx_pkts),
	COUNTER("rx_bytes", vsock_dev_stats, ds_rx_bytes),
	COUNTER("bad_headers", vsock_dev_stats, ds_bad_hdr),
	COUNTER("spoofed", vsock_dev_stats, ds_spoofed),
	COUNTER("rst_sent", vsock_dev_stats, ds_rst_sent),
	COUNTER("rst_dropped", vsock_dev_stats, ds_rst_dropped),
	COUNTER("ring_errors", vsock_dev_stats, ds_ring_errors),
	COUNTER("interrupts", vsock_dev_stats, ds_irqs),
	COUNTER("interrupt_errors", vsock_dev_stats, ds_irq_errors),
	COUNTER("resets", vsock_dev_stats, ds_resets),
};

static const struct counter mux_counters[] = {
	COUNTER("connections", vsock_mux_stats, ms_conns_total),
	COUNTER("rst_sent", vsock_mux_stats, ms_rst_sent),
	COUNTER("rst_received", vsock_mux_stats, ms_rst_received),
	COUNTER("dropped", vsock_mux_stats, ms_dropped),
	COUNTER("bad_packets", vsock_mux_stats, ms_bad_packets),
	COUNTER("bytes_to_host", vsock_mux_stats, ms_tx_bytes),
	COUNTER("bytes_to_guest", vsock_mux_stats, ms_rx_bytes),
	COUNTER("packets_from_guest", vsock_mux_stats, ms_tx_pkts),
	COUNTER("packets_to_guest", vsock_mux_stats, ms_rx_pkts),
	COUNTER("credit_violations", vsock_mux_stats, ms_credit_violations),
	COUNTER("credit_updates_sent", vsock_mux_stats, ms_credit_updates),
	COUNTER("credit_requests_sent", vsock_mux_stats, ms_credit_requests),
	COUNTER("credit_stalls_to_guest", vsock_mux_stats,
	    ms_credit_stalls_to_guest),
	COUNTER("credit_stalls_to_host", vsock_mux_stats,
	    ms_credit_stalls_to_host),
	COUNTER("host_connects_accepted", vsock_mux_stats, ms_host_accepted),
	COUNTER("host_connects_rejected", vsock_mux_stats, ms_host_rejected),
	COUNTER("guest_connects_failed", vsock_mux_stats, ms_connect_failed),
	COUNTER("rst_queue_full", vsock_mux_stats, ms_rst_queue_full),
	COUNTER("late_packets", vsock_mux_stats, ms_late_packets),
};

static const struct counter mig_counters[] = {
	COUNTER("started", vsock_mig_stats, gs_started),
	COUNTER("taken", vsock_mig_stats, gs_taken),
	COUNTER("refused", vsock_mig_stats, gs_refused),
	COUNTER("reports", vsock_mig_stats, gs_reports),
	COUNTER("bytes_to_host", vsock_mig_stats, gs_to_host),
	COUNTER("bytes_to_guest", vsock_mig_stats, gs_to_guest),
};

void
service_status_ioreq(struct json_object *root, const struct ioreq_engine *e,
    const char *source, int server_id)
{
	struct json_object *io, *o, *arr;
	struct ioreq_engine_stats es;
	unsigned n = ioreq_engine_nr_vcpus(e);

	io = status_add_obj(root, "ioreq");
	status_add_str(io, "source", source);
	status_add_u64(io, "server_id", (uint64_t)(server_id < 0 ? 0 : server_id));
	ioreq_engine_get_stats(e, &es);
	ADD_COUNTERS(status_add_obj(io, "counters"), &es, engine_counters);
	arr = status_add_arr(io, "vcpus");
	for (unsigned i = 0; i < n; i++) {
		struct ioreq_slot_info si;

		if (ioreq_engine_slot_info(e, i, &si) < 0)
			continue;
		o = status_add_obj(arr, NULL);
		status_add_u64(o, "vcpu", i);
		status_add_str(o, "state", si.sl_state);
		status_add_u64(o, "state_code", si.sl_state_raw);
		status_add_u64(o, "type", si.sl_type);
		status_add_str(o, "dir", si.sl_dir ? "read" : "write");
		status_add_u64(o, "addr", si.sl_addr);
		status_add_u64(o, "size", si.sl_size);
		status_add_u64(o, "count", si.sl_count);
		if (si.sl_port == NOTIFY_PORT_INVALID)
			status_add_null(o, "port");
		else
			status_add_u64(o, "port", si.sl_port);
		status_add_u64(o, "eport", si.sl_eport);
	}
}

/* Modes by the names hcvsockd.conf's notify gives them. */
static const char *
irq_mode_name(uint32_t mode)
{
	const char *name = conf_notify_name(mode);

	return name != NULL ? name : "unknown";
}

static void
device_status(struct json_object *g, const struct vsock_dev *d)
{
	struct json_object *dev, *o, *r;
	struct vsock_dev_info di;
	struct vsock_dev_stats ds;

	vsock_dev_get_info(d, &di);
	vsock_dev_get_stats(d, &ds);
	dev = status_add_obj(g, "device");
	status_add_u64(dev, "status", di.di_status);
	status_add_u64(dev, "error", di.di_error);
	status_add_u64(dev, "isr", di.di_isr);
	status_add_str(dev, "irq_mode", irq_mode_name(di.di_irq_mode));
	o = status_add_obj(dev, "features");
	status_add_u64(o, "guest", di.di_guest_features);
	status_add_u64(o, "host", di.di_host_features);
	o = status_add_obj(dev, "mailbox");
	status_add_u64(o, "gpa", di.di_mbox_gpa);
	status_add_u64(o, "size", di.di_mbox_size);
	o = status_add_obj(dev, "rings");
	status_add_u64(o, "slot_size", di.di_slot_size);
	r = status_add_obj(o, "tx");
	status_add_u64(r, "slots", di.di_tx_slots);
	status_add_u64(r, "consumer", di.di_tx_cons);
	r = status_add_obj(o, "rx");
	status_add_u64(r, "slots", di.di_rx_slots);
	status_add_u64(r, "producer", di.di_rx_prod);
	status_add_u64(dev, "host_flags", di.di_host_flags);
	status_add_u64(dev, "epoch", di.di_epoch);
	status_add_u64(dev, "rst_queued", di.di_rst_queued);
	ADD_COUNTERS(status_add_obj(dev, "counters"), &ds, dev_counters);
}

static void
conn_status(void *arg, const struct vsock_conn_info *ci)
{
	struct json_object *o = status_add_obj(arg, NULL), *p;

	status_add_str(o, "type", ci->ci_type);
	status_add_str(o, "state", ci->ci_state);
	status_add_str(o, "initiator", ci->ci_host_initiated ? "host" : "guest");
	status_add_u64(o, "guest_port", ci->ci_guest_port);
	status_add_u64(o, "host_port", ci->ci_host_port);
	status_add_u64(o, "age_ms", ci->ci_age_ms);
	p = status_add_obj(o, "shutdown");
	status_add_u64(p, "guest", ci->ci_guest_shut);
	status_add_u64(p, "host", ci->ci_host_shut);
	p = status_add_obj(o, "to_host");
	status_add_u64(p, "bytes", ci->ci_to_host_bytes);
	status_add_u64(p, "packets", ci->ci_to_host_pkts);
	status_add_u64(p, "buffered", ci->ci_to_host_buffered);
	p = status_add_obj(o, "to_guest");
	status_add_u64(p, "bytes", ci->ci_to_guest_bytes);
	status_add_u64(p, "packets", ci->ci_to_guest_pkts);
	p = status_add_obj(o, "credit");
	status_add_u64(p, "buf_alloc", ci->ci_buf_alloc);
	status_add_u64(p, "guest_buf_alloc", ci->ci_guest_buf_alloc);
	status_add_u64(p, "guest_free", ci->ci_guest_credit);
	p = status_add_obj(o, "credit_stalls");
	status_add_u64(p, "to_guest", ci->ci_credit_stalls_to_guest);
	status_add_u64(p, "to_host", ci->ci_credit_stalls_to_host);
}

static void
mux_status(struct json_object *g, const struct vsock_mux *m)
{
	struct json_object *vs;
	struct vsock_mux_info mi;
	struct vsock_mux_stats ms;

	vsock_mux_get_info(m, &mi);
	vsock_mux_get_stats(m, &ms);
	vs = status_add_obj(g, "vsock");
	status_add_u64(vs, "connections", mi.mi_conns);
	status_add_u64(vs, "pending_connects", mi.mi_pending);
	status_add_u64(vs, "max_connections", mi.mi_max_conns);
	ADD_COUNTERS(status_add_obj(vs, "counters"), &ms, mux_counters);
	vsock_mux_foreach_conn(m, conn_status, status_add_arr(g, "connections"));
}

void
service_status_guest(struct json_object *guests, const char *name,
    const struct binding_stats *kvm, const struct vsock_dev *d,
    const struct vsock_mux *m, const struct vsock_mig *mig)
{
	struct json_object *g = status_add_obj(guests, NULL), *o;
	struct vsock_dev_info di;

	vsock_dev_get_info(d, &di);
	status_add_str(g, "name", name);
	status_add_u64(g, "cid", di.di_cid);
	if (kvm != NULL) {
		o = status_add_obj(g, "kvm");
		o = status_add_obj(o, "counters");
		status_add_u64(o, "forwarded_requests", kvm->bs_requests);
		status_add_u64(o, "ioeventfd_doorbells", kvm->bs_doorbells);
		status_add_u64(o, "interrupts", kvm->bs_irqs);
	}
	device_status(g, d);
	mux_status(g, m);
	if (mig != NULL) {
		struct vsock_mig_stats gs;

		vsock_mig_get_stats(mig, &gs);
		o = status_add_obj(g, "migtd");
		ADD_COUNTERS(status_add_obj(o, "counters"), &gs, mig_counters);
	}
}
