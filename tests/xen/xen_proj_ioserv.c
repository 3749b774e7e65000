/* SPDX-License-Identifier: MIT */
/*
 * The test device of tests/xen/xen_ioserv.c served by hcvsock's own code
 * against the real hypervisor: the request engine (src/ioreq) over the
 * Xen-mapped ioreq page and the notifier's "xen" backend (src/notify) for
 * the vCPU ports, the guest's event channel, pending/re-arm and
 * restriction.  Same guest cases, same "HCVS-SRV" lines, so the harness
 * checks both servers the same way.
 *
 *   xen_proj_ioserv --domid N [--port 0x5000] [--ready FILE] [--timeout S]
 *                   [--check-restrict UID]
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>
#include <xen/memory.h>

#include "common/log.h"
#include "ioreq/ioreq_impl.h"
#include "notify/notify.h"

#define IOS_DATA	0
#define IOS_MSI		4
#define IOS_EVTCHN	8
#define IOS_MAGIC	12
#define IOS_MAGIC_VAL	0x48435653u
#define MAX_VCPUS	128

static volatile sig_atomic_t stop;

struct dev {
	xendevicemodel_handle	*dmod;
	xenforeignmemory_handle	*fmem;
	struct notifier		*n;
	uint32_t		 domid;
	uint32_t		 data[MAX_VCPUS];
	uint32_t		 crc[MAX_VCPUS], replies[MAX_VCPUS];
	uint32_t		 msis, notifies;
	/* Work the last write asked for, run after its request completed. */
	int			 want_msi;
	uint32_t		 msi_val;
	int			 want_evtchn;
	uint32_t		 evtchn_remote;
	uint32_t		 guest_local;	/* NOTIFY_PORT_INVALID: unbound */
	int			 done;
};

static uint32_t
crc32_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static uint32_t
xform(uint32_t x)
{
	return ((x << 7) | (x >> 25)) ^ 0xa5a5a5a5u;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
dev_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct dev *d = opaque;
	uint32_t v;

	if (vcpu >= MAX_VCPUS)
		return -EINVAL;
	switch (off) {
	case IOS_DATA:
		v = xform(d->data[vcpu]);
		if (size == 4) {
			d->crc[vcpu] = crc32_update(d->crc[vcpu], &v, 4);
			d->replies[vcpu]++;
		}
		*val = v;
		return 0;
	case IOS_MAGIC:
		*val = IOS_MAGIC_VAL;
		return 0;
	default:
		*val = 0;
		return 0;
	}
}

static int
dev_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct dev *d = opaque;

	(void)size;
	if (vcpu >= MAX_VCPUS)
		return -EINVAL;
	switch (off) {
	case IOS_DATA:
		d->data[vcpu] = (uint32_t)val;
		break;
	case IOS_MSI:
		d->want_msi = 1;
		d->msi_val = (uint32_t)val;
		break;
	case IOS_EVTCHN:
		d->want_evtchn = 1;
		d->evtchn_remote = (uint32_t)val;
		break;
	case IOS_MAGIC:
		d->done = 1;
		break;
	}
	return 0;
}

static const struct ioreq_handler_ops dev_ops = {
	.read = dev_read,
	.write = dev_write,
};

/* After completion: interrupts never overtake the request that asked. */
static void
dev_post(void *arg)
{
	struct dev *d = arg;
	int rc;

	if (d->want_msi) {
		uint32_t apic = d->msi_val >> 8, vec = d->msi_val & 0xff;

		d->want_msi = 0;
		if (xendevicemodel_inject_msi(d->dmod, d->domid,
		    0xfee00000u | (apic << 12), vec) == 0)
			d->msis++;
		else
			printf("HCVS-SRV inject_msi: %s\n", strerror(errno));
	}
	if (d->want_evtchn) {
		d->want_evtchn = 0;
		if (d->guest_local == NOTIFY_PORT_INVALID) {
			struct notify_bind b = {
				.kind = NOTIFY_BIND_EVTCHN,
				.remote_port = d->evtchn_remote,
			};

			rc = notifier_bind(d->n, &b, &d->guest_local);
			if (rc != 0) {
				printf("HCVS-SRV bind guest port %u: %s\n",
				    d->evtchn_remote, strerror(-rc));
				d->guest_local = NOTIFY_PORT_INVALID;
				return;
			}
		}
		if (notifier_notify(d->n, d->guest_local) == 0)
			d->notifies++;
	}
}

static int
check_restrict(struct dev *d, uid_t uid)
{
	struct notifier *other = NULL;
	struct notify_bind b = { .kind = NOTIFY_BIND_EVTCHN, .remote_port = 1 };
	uint32_t local;
	ioservid_t id;
	int fails = 0, rc;

	/*
	 * A second notifier aimed at dom0, opened while still privileged and
	 * restricted like every other handle: binding through it must fail.
	 */
	rc = notifier_open("xen", 0, &other);
	if (rc == 0)
		rc = notifier_restrict(other, d->domid);
	if (rc == 0)
		rc = notifier_restrict(d->n, d->domid);
	if (rc != 0) {
		printf("HCVS-SRV notifier_restrict: %s\n", strerror(-rc));
		return -1;
	}
	/*
	 * Not xentoolcore_restrict_all(): it would restrict the evtchn
	 * handles a second time, which Linux refuses (EACCES).
	 */
	if (xendevicemodel_restrict(d->dmod, d->domid) != 0 ||
	    xenforeignmemory_restrict(d->fmem, d->domid) != 0) {
		printf("HCVS-SRV restrict: %s\n", strerror(errno));
		return -1;
	}
	rc = xentoolcore_restrict_all(d->domid);
	printf("HCVS-SRV restrict_all after notifier_restrict: rc=%d errno=%s\n",
	    rc, rc == 0 ? "none" : strerror(errno));
	if (setgid(uid) != 0 || setuid(uid) != 0) {
		printf("HCVS-SRV setuid %u: %s\n", (unsigned)uid, strerror(errno));
		return -1;
	}
	rc = xendevicemodel_create_ioreq_server(d->dmod, 0, 0, &id);
	printf("HCVS-SRV restricted dm_op on dom0: rc=%d errno=%s\n", rc,
	    rc == 0 ? "none" : strerror(errno));
	fails += rc == 0;
	rc = xendevicemodel_create_ioreq_server(d->dmod, d->domid + 1, 0, &id);
	printf("HCVS-SRV restricted dm_op on dom%u: rc=%d errno=%s\n",
	    d->domid + 1, rc, rc == 0 ? "none" : strerror(errno));
	fails += rc == 0;
	rc = notifier_bind(other, &b, &local);
	notifier_close(other);
	printf("HCVS-SRV restricted evtchn bind dom0: rc=%d errno=%s\n",
	    rc == 0 ? 0 : -1, rc == 0 ? "none" : strerror(-rc));
	fails += rc == 0;
	if (xendevicemodel_open(NULL, 0) != NULL) {
		printf("HCVS-SRV restricted: new xendevicemodel_open succeeded\n");
		fails++;
	} else {
		printf("HCVS-SRV restricted new open: errno=%s\n", strerror(errno));
	}
	printf("HCVS-SRV restrict-check escapes=%d\n", fails);
	return fails == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domid", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "ready", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "check-restrict", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	static struct dev d;
	xenforeignmemory_handle *fmem;
	xenforeignmemory_resource_handle *res = NULL;
	struct ioreq_engine *e = NULL;
	struct ioreq_engine_stats st;
	shared_iopage_t *page;
	const char *ready = NULL;
	long timeout = 120, uid = -1;
	struct timespec t0, t1;
	uint16_t base = 0x5000;
	unsigned i, nr_vcpus;
	ioservid_t id;
	void *addr = NULL;
	int c, rc, ret = 1;

	d.domid = UINT32_MAX;
	d.guest_local = NOTIFY_PORT_INVALID;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': d.domid = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'p': base = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'r': ready = optarg; break;
		case 't': timeout = strtol(optarg, NULL, 0); break;
		case 'u': uid = strtol(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (d.domid == UINT32_MAX) {
		fprintf(stderr, "usage: xen_proj_ioserv --domid N [--port P]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init(true, 1, "xen_proj_ioserv");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	d.dmod = xendevicemodel_open(NULL, 0);
	fmem = d.fmem = xenforeignmemory_open(NULL, 0);
	rc = notifier_open("xen", d.domid, &d.n);
	if (d.dmod == NULL || fmem == NULL || rc != 0) {
		printf("HCVS-SRV open: %s\n", strerror(rc ? -rc : errno));
		return 1;
	}
	if (xendevicemodel_nr_vcpus(d.dmod, d.domid, &nr_vcpus) != 0 ||
	    nr_vcpus == 0 || nr_vcpus > MAX_VCPUS ||
	    xendevicemodel_create_ioreq_server(d.dmod, d.domid,
	    HVM_IOREQSRV_BUFIOREQ_OFF, &id) != 0) {
		printf("HCVS-SRV create: %s\n", strerror(errno));
		return 1;
	}
	if (xendevicemodel_get_ioreq_server_info(d.dmod, d.domid, id, NULL,
	    NULL, NULL) != 0)
		goto destroy;
	res = xenforeignmemory_map_resource(fmem, d.domid,
	    XENMEM_resource_ioreq_server, id,
	    XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr,
	    PROT_READ | PROT_WRITE, 0);
	if (res == NULL) {
		printf("HCVS-SRV map_resource: %s\n", strerror(errno));
		goto destroy;
	}
	page = addr;
	rc = ioreq_engine_new(page->vcpu_ioreq, nr_vcpus, NULL, d.n, NULL, &e);
	if (rc == 0)
		rc = ioreq_engine_add_range(e, IOREQ_SPACE_PIO, base, base + 15,
		    &dev_ops, &d);
	if (rc != 0) {
		printf("HCVS-SRV engine: %s\n", strerror(-rc));
		goto unmap;
	}
	ioreq_engine_set_post_hook(e, dev_post, &d);
	if (xendevicemodel_map_io_range_to_ioreq_server(d.dmod, d.domid, id, 0,
	    base, base + 15) != 0 ||
	    xendevicemodel_set_ioreq_server_state(d.dmod, d.domid, id, 1) != 0) {
		printf("HCVS-SRV map/enable: %s\n", strerror(errno));
		goto unmap;
	}
	for (i = 0; i < nr_vcpus; i++) {
		struct notify_bind b = {
			.kind = NOTIFY_BIND_EVTCHN,
			.remote_port = page->vcpu_ioreq[i].vp_eport,
		};
		uint32_t local;

		rc = notifier_bind(d.n, &b, &local);
		if (rc == 0)
			rc = ioreq_engine_set_port(e, i, local);
		if (rc != 0) {
			printf("HCVS-SRV bind vcpu %u: %s\n", i, strerror(-rc));
			goto disable;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("HCVS-SRV ready dom=%u id=%u vcpus=%u setup_ms=%ld code=hcvsock\n",
	    d.domid, id, nr_vcpus, (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000);
	if (uid >= 0 && check_restrict(&d, (uid_t)uid) != 0)
		goto disable;
	if (ready != NULL) {
		FILE *f = fopen(ready, "w");

		if (f != NULL)
			fclose(f);
	}

	while (!stop && !d.done) {
		struct pollfd pfd = { notifier_fd(d.n), POLLIN, 0 };
		uint32_t port;

		rc = poll(&pfd, 1, 1000);
		if (rc < 0 && errno != EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > timeout) {
			printf("HCVS-SRV timeout after %ld s\n", timeout);
			break;
		}
		while (notifier_next(d.n, &port, NULL) == 1)
			(void)ioreq_engine_handle_port(e, port);
	}
	/* Answer whatever is still pending before disabling. */
	(void)ioreq_engine_service_all(e);
	ret = d.done ? 0 : 1;
	for (i = 0; i < nr_vcpus; i++)
		printf("HCVS-SRV vcpu=%u replies=%u crc=%08x\n", i, d.replies[i],
		    d.crc[i]);
	ioreq_engine_get_stats(e, &st);
	printf("HCVS-SRV stats requests=%llu msis=%u notifies=%u spurious=%llu "
	    "invalid=%llu unclaimed=%llu\n", (unsigned long long)st.st_requests,
	    d.msis, d.notifies, (unsigned long long)st.st_spurious,
	    (unsigned long long)st.st_invalid,
	    (unsigned long long)st.st_unclaimed);
disable:
	xendevicemodel_set_ioreq_server_state(d.dmod, d.domid, id, 0);
unmap:
	notifier_close(d.n);
	ioreq_engine_free(e);
	xenforeignmemory_unmap_resource(fmem, res);
destroy:
	if (xendevicemodel_destroy_ioreq_server(d.dmod, d.domid, id) != 0)
		printf("HCVS-SRV destroy: %s\n", strerror(errno));
	xenforeignmemory_close(fmem);
	xendevicemodel_close(d.dmod);
	printf("HCVS-SRV exit rc=%d\n", ret);
	return ret;
}
