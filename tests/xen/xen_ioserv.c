/* SPDX-License-Identifier: MIT */
/*
 * A minimal IOREQ server for the Xen end-to-end harness, written straight
 * against Xen's libraries: it proves the harness (QEMU, Xen, dom0, the PVH
 * guest) independently of hcvsockd, and answers the guest's test device
 * (tests/xen/pvh/cases.c): an echo register, MSI and event-channel
 * requests, and an exit register.  Prints "HCVS-SRV ..." lines.
 *
 *   xen_ioserv --domid N [--port 0x5000] [--ready FILE] [--timeout S]
 *              [--check-restrict UID]
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#include "xen_testdev.h"

static volatile sig_atomic_t stop;

struct srv {
	xendevicemodel_handle		*dmod;
	xenforeignmemory_handle		*fmem;
	xenforeignmemory_resource_handle *res;
	xenevtchn_handle		*xce;
	uint32_t			 domid;
	ioservid_t			 id;
	shared_iopage_t			*page;
	unsigned			 nr_vcpus;
	evtchn_port_t			 local[XTD_MAX_VCPUS];
	uint16_t			 base;
	struct xtd_dev			 dev;
	uint32_t			 requests, spurious;
	uint32_t			 msis, notifies;
	int				 guest_port;	/* bound guest evtchn, -1 */
};

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
handle(struct srv *s, unsigned vcpu, const ioreq_t *req)
{
	uint64_t off = req->addr - s->base;
	uint64_t mask = req->size >= 8 ? ~0ull : (1ull << (req->size * 8)) - 1;

	if (req->type != IOREQ_TYPE_PIO || req->data_is_ptr || req->count != 1 ||
	    off >= IOS_SIZE)
		return req->dir == IOREQ_READ ? mask : req->data;
	if (req->dir == IOREQ_WRITE) {
		xtd_write(&s->dev, vcpu, off, (uint32_t)req->data);
		return req->data;
	}
	return xtd_read(&s->dev, vcpu, off, req->size) & mask;
}

static int
service(struct srv *s, unsigned vcpu)
{
	ioreq_t *slot = &s->page->vcpu_ioreq[vcpu];
	ioreq_t req;
	int rc;

	if (slot->state != STATE_IOREQ_READY) {
		s->spurious++;
		return 0;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(&req, slot, sizeof(req));
	slot->state = STATE_IOREQ_INPROCESS;
	if (req.dir == IOREQ_READ)
		slot->data = handle(s, vcpu, &req);
	else
		(void)handle(s, vcpu, &req);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	slot->state = STATE_IORESP_READY;
	xenevtchn_notify(s->xce, s->local[vcpu]);
	s->requests++;
	/* Interrupts only after the request that asked for them completed. */
	if (s->dev.want_msi) {
		uint32_t apic = s->dev.msi_val >> 8, vec = s->dev.msi_val & 0xff;

		s->dev.want_msi = false;
		rc = xendevicemodel_inject_msi(s->dmod, s->domid,
		    0xfee00000u | (apic << 12), vec);
		if (rc != 0)
			printf("HCVS-SRV inject_msi failed: %s\n", strerror(errno));
		else
			s->msis++;
	}
	if (s->dev.want_evtchn) {
		s->dev.want_evtchn = false;
		if (s->guest_port < 0) {
			rc = xenevtchn_bind_interdomain(s->xce, s->domid,
			    s->dev.evtchn_port);
			if (rc < 0) {
				printf("HCVS-SRV bind guest port %u: %s\n",
				    s->dev.evtchn_port, strerror(errno));
				return 0;
			}
			s->guest_port = rc;
		}
		if (xenevtchn_notify(s->xce, (evtchn_port_t)s->guest_port) == 0)
			s->notifies++;
	}
	return 1;
}

/* After restriction + setuid: dom0 and other domains must be out of reach. */
static int
check_restrict(struct srv *s, uid_t uid)
{
	ioservid_t other;
	int fails = 0, rc;

	if (xentoolcore_restrict_all(s->domid) != 0) {
		printf("HCVS-SRV restrict_all: %s\n", strerror(errno));
		return -1;
	}
	if (setgid(uid) != 0 || setuid(uid) != 0) {
		printf("HCVS-SRV setuid %u: %s\n", (unsigned)uid, strerror(errno));
		return -1;
	}
	rc = xendevicemodel_create_ioreq_server(s->dmod, 0, 0, &other);
	printf("HCVS-SRV restricted dm_op on dom0: rc=%d errno=%s\n", rc,
	    rc == 0 ? "none" : strerror(errno));
	fails += rc == 0;
	rc = xendevicemodel_create_ioreq_server(s->dmod, s->domid + 1, 0, &other);
	printf("HCVS-SRV restricted dm_op on dom%u: rc=%d errno=%s\n",
	    s->domid + 1, rc, rc == 0 ? "none" : strerror(errno));
	fails += rc == 0;
	rc = xenevtchn_bind_interdomain(s->xce, 0, 1);
	printf("HCVS-SRV restricted evtchn bind dom0: rc=%d errno=%s\n", rc,
	    rc >= 0 ? "none" : strerror(errno));
	fails += rc >= 0;
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
	struct srv s;
	const char *ready = NULL;
	long timeout = 120, uid = -1;
	struct timespec t0, t1;
	unsigned i;
	int c, rc, ret = 1;
	void *addr = NULL;

	memset(&s, 0, sizeof(s));
	s.domid = UINT32_MAX;
	s.base = 0x5000;
	s.guest_port = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': s.domid = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'p': s.base = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'r': ready = optarg; break;
		case 't': timeout = strtol(optarg, NULL, 0); break;
		case 'u': uid = strtol(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (s.domid == UINT32_MAX) {
		fprintf(stderr, "usage: xen_ioserv --domid N [--port P] [--ready F]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	s.dmod = xendevicemodel_open(NULL, 0);
	s.fmem = xenforeignmemory_open(NULL, 0);
	s.xce = xenevtchn_open(NULL, 0);
	if (s.dmod == NULL || s.fmem == NULL || s.xce == NULL) {
		printf("HCVS-SRV open handles: %s\n", strerror(errno));
		return 1;
	}
	if (xendevicemodel_nr_vcpus(s.dmod, s.domid, &s.nr_vcpus) != 0 ||
	    s.nr_vcpus == 0 || s.nr_vcpus > XTD_MAX_VCPUS) {
		printf("HCVS-SRV nr_vcpus: %s\n", strerror(errno));
		return 1;
	}
	if (xendevicemodel_create_ioreq_server(s.dmod, s.domid,
	    HVM_IOREQSRV_BUFIOREQ_OFF, &s.id) != 0) {
		printf("HCVS-SRV create: %s\n", strerror(errno));
		return 1;
	}
	/* NULL gfn pointers: resource mapping, no legacy GFN pages. */
	if (xendevicemodel_get_ioreq_server_info(s.dmod, s.domid, s.id, NULL,
	    NULL, NULL) != 0) {
		printf("HCVS-SRV get_info: %s\n", strerror(errno));
		goto destroy;
	}
	s.res = xenforeignmemory_map_resource(s.fmem, s.domid,
	    XENMEM_resource_ioreq_server, s.id,
	    XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr,
	    PROT_READ | PROT_WRITE, 0);
	if (s.res == NULL) {
		printf("HCVS-SRV map_resource: %s\n", strerror(errno));
		goto destroy;
	}
	s.page = addr;
	if (xendevicemodel_map_io_range_to_ioreq_server(s.dmod, s.domid, s.id,
	    0, s.base, s.base + IOS_SIZE - 1) != 0) {
		printf("HCVS-SRV map range: %s\n", strerror(errno));
		goto unmap;
	}
	if (xendevicemodel_set_ioreq_server_state(s.dmod, s.domid, s.id, 1) != 0) {
		printf("HCVS-SRV enable: %s\n", strerror(errno));
		goto unmap;
	}
	for (i = 0; i < s.nr_vcpus; i++) {
		rc = xenevtchn_bind_interdomain(s.xce, s.domid,
		    s.page->vcpu_ioreq[i].vp_eport);
		if (rc < 0) {
			printf("HCVS-SRV bind vcpu %u: %s\n", i, strerror(errno));
			goto disable;
		}
		s.local[i] = (evtchn_port_t)rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("HCVS-SRV ready dom=%u id=%u vcpus=%u setup_ms=%ld\n", s.domid,
	    s.id, s.nr_vcpus, (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000);
	if (uid >= 0 && check_restrict(&s, (uid_t)uid) != 0)
		goto disable;
	if (ready != NULL)
		xtd_touch(ready);

	while (!stop && !s.dev.done) {
		struct pollfd pfd = { xenevtchn_fd(s.xce), POLLIN, 0 };
		xenevtchn_port_or_error_t p;

		rc = poll(&pfd, 1, 1000);
		if (rc < 0 && errno != EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > timeout) {
			printf("HCVS-SRV timeout after %ld s\n", timeout);
			break;
		}
		if (rc <= 0)
			continue;
		p = xenevtchn_pending(s.xce);
		if (p < 0)
			continue;
		xenevtchn_unmask(s.xce, (evtchn_port_t)p);
		for (i = 0; i < s.nr_vcpus; i++)
			if (s.local[i] == (evtchn_port_t)p)
				(void)service(&s, i);
	}
	/* Answer whatever is still pending before disabling (see notes). */
	for (i = 0; i < s.nr_vcpus; i++)
		(void)service(&s, i);
	ret = s.dev.done ? 0 : 1;
	xtd_print_vcpus(&s.dev, s.nr_vcpus);
	printf("HCVS-SRV stats requests=%u msis=%u notifies=%u spurious=%u\n",
	    s.requests, s.msis, s.notifies, s.spurious);
disable:
	xendevicemodel_set_ioreq_server_state(s.dmod, s.domid, s.id, 0);
	for (i = 0; i < s.nr_vcpus; i++)
		if (s.local[i] != 0)
			xenevtchn_unbind(s.xce, s.local[i]);
	if (s.guest_port >= 0)
		xenevtchn_unbind(s.xce, (evtchn_port_t)s.guest_port);
unmap:
	xenforeignmemory_unmap_resource(s.fmem, s.res);
destroy:
	if (xendevicemodel_destroy_ioreq_server(s.dmod, s.domid, s.id) != 0)
		printf("HCVS-SRV destroy: %s\n", strerror(errno));
	xenevtchn_close(s.xce);
	xenforeignmemory_close(s.fmem);
	xendevicemodel_close(s.dmod);
	printf("HCVS-SRV exit rc=%d\n", ret);
	return ret;
}
