/* SPDX-License-Identifier: MIT */
/*
 * The test device of tests/xen/xen_ioserv.c served through hcvsock's whole
 * Xen request source (src/ioreq/ioreq_xen.c): open, add_range, enable,
 * restrict, inject_msi, quiesce, close, re-attach after a crash, and the
 * @releaseDomain death watch, against the real hypervisor.
 *
 *   xen_src_ioserv --domid N [--port 0x5000] [--ready FILE] [--timeout S]
 *       [--state FILE] [--reattach] [--leave] [--check-restrict UID]
 *       [--stall-after N --stalled FILE]
 *
 * --state records the server id and the device's registers after every
 * write (as hcvsockd's state file does); --reattach reads it back and
 * re-attaches to the recorded server instead of creating one.  SIGTERM:
 * quiesce (answer pending slots, disable) and destroy, or with --leave
 * leave the server for a re-attach.  Exits 0 when the guest wrote the
 * exit register or the domain went away (death watch), 1 otherwise.
 *
 * --stall-after N: after N answered requests, take the next notification
 * (the guest's next request is then in its slot, READY) without answering
 * it, create the --stalled file and wait to be killed: a crash at a fixed
 * point of the guest's traffic, whatever the speed of either side.
 */
#include <errno.h>
#include <execinfo.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq.h"
#include "ioreq/ioreq_xen.h"
#include "notify/notify.h"
#include "xen_testdev.h"

static volatile sig_atomic_t got_term;

struct dev {
	struct ioreq_source	*src;
	const char		*state;
	int			 id;
	struct xtd_dev		 xtd;
	uint32_t		 msis, notifies;
	uint32_t		 evtchn_bound;
};

/* A crash inside dom0 has no debugger: leave a backtrace in the serial log. */
static void
on_crash(int sig)
{
	void *bt[32];
	int n = backtrace(bt, 32);

	dprintf(1, "HCVS-SRV crashed: signal %d, backtrace:\n", sig);
	backtrace_symbols_fd(bt, n, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void
state_save(const struct dev *d)
{
	char tmp[512];
	FILE *f;
	unsigned i;

	if (d->state == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->state);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f, "%d", d->id);
	for (i = 0; i < 8; i++)
		fprintf(f, " %u", d->xtd.data[i]);
	fprintf(f, "\n");
	if (fclose(f) == 0)
		(void)rename(tmp, d->state);
}

static int
state_load(struct dev *d)
{
	FILE *f = fopen(d->state, "r");
	unsigned i;
	int ok;

	if (f == NULL)
		return -1;
	ok = fscanf(f, "%d", &d->id) == 1;
	for (i = 0; ok && i < 8; i++)
		ok = fscanf(f, "%u", &d->xtd.data[i]) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int
dev_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct dev *d = opaque;

	if (vcpu >= XTD_MAX_VCPUS)
		return -EINVAL;
	*val = xtd_read(&d->xtd, vcpu, off, size);
	return 0;
}

static int
dev_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct dev *d = opaque;

	(void)size;
	if (vcpu >= XTD_MAX_VCPUS)
		return -EINVAL;
	xtd_write(&d->xtd, vcpu, off, (uint32_t)val);
	if (off == IOS_DATA)
		state_save(d);
	return 0;
}

static const struct ioreq_handler_ops dev_ops = {
	.read = dev_read,
	.write = dev_write,
};

/* Interrupts through the source's own API, as the daemon's binding does. */
static void
dev_post(void *arg)
{
	struct dev *d = arg;
	struct ioreq_irq irq = { .mode = HCVS_IRQ_NONE };
	int rc;

	if (d->xtd.want_msi) {
		d->xtd.want_msi = false;
		irq.mode = HCVS_IRQ_MSI;
		irq.msi_addr = 0xfee00000u | ((d->xtd.msi_val >> 8) << 12);
		irq.msi_data = d->xtd.msi_val & 0xff;
		rc = ioreq_source_irq_setup(d->src, &irq);
		if (rc == 0)
			rc = ioreq_source_irq_raise(d->src);
		if (rc == 0)
			d->msis++;
		else
			printf("HCVS-SRV inject_msi: %s\n", strerror(-rc));
	}
	if (d->xtd.want_evtchn) {
		d->xtd.want_evtchn = false;
		if (d->evtchn_bound != d->xtd.evtchn_port) {
			irq.mode = HCVS_IRQ_EVTCHN;
			irq.evtchn_port = d->xtd.evtchn_port;
			rc = ioreq_source_irq_setup(d->src, &irq);
			if (rc != 0) {
				printf("HCVS-SRV bind guest port: %s\n",
				    strerror(-rc));
				d->evtchn_bound = NOTIFY_PORT_INVALID;
				return;
			}
			d->evtchn_bound = d->xtd.evtchn_port;
		}
		if (ioreq_source_irq_raise(d->src) == 0)
			d->notifies++;
	}
}

/*
 * After ioreq_source_restrict + setuid: what must no longer be reachable.
 * The source's own Xen handles are private to it; a notifier opened for
 * dom0 before the drop and restricted the same way stands in for them on
 * the event-channel side (case ioserv-restrict checks restricted dm handles
 * with tests/xen/xen_ioserv.c).
 */
static int
check_restrict(struct dev *d, uint32_t domid, uid_t uid)
{
	struct ioreq_xen_cfg cfg = { .domid = 0, .reattach_id = -1 };
	struct notify_bind b = { .kind = NOTIFY_BIND_EVTCHN, .remote_port = 1 };
	struct ioreq_source *other = NULL;
	struct notifier *on = NULL;
	uint32_t local;
	int rc, fails = 0;

	/* Opened while privileged, aimed at dom0: restricted with the rest. */
	rc = notifier_open("xen", 0, &on);
	if (rc == 0)
		rc = notifier_restrict(on, domid);
	if (rc == 0)
		rc = ioreq_source_restrict(d->src);
	if (rc != 0) {
		printf("HCVS-SRV restrict: %s\n", strerror(-rc));
		return -1;
	}
	if (setgid(uid) != 0 || setuid(uid) != 0) {
		printf("HCVS-SRV setuid: %s\n", strerror(errno));
		return -1;
	}
	rc = notifier_bind(on, &b, &local);
	printf("HCVS-SRV restricted evtchn bind dom0: rc=%d errno=%s\n",
	    rc == 0 ? 0 : -1, rc == 0 ? "none" : strerror(-rc));
	fails += rc == 0;
	notifier_close(on);
	/* A fresh source as the unprivileged user: dom0, then another domain. */
	rc = ioreq_xen_open(&cfg, &other);
	printf("HCVS-SRV unprivileged source for dom0: rc=%d errno=%s\n",
	    rc == 0 ? 0 : -1, rc == 0 ? "none" : strerror(-rc));
	fails += rc == 0;
	ioreq_source_close(other, true);
	other = NULL;
	cfg.domid = domid + 1;
	rc = ioreq_xen_open(&cfg, &other);
	printf("HCVS-SRV unprivileged source for dom%u: rc=%d errno=%s\n",
	    domid + 1, rc == 0 ? 0 : -1, rc == 0 ? "none" : strerror(-rc));
	fails += rc == 0;
	ioreq_source_close(other, true);
	printf("HCVS-SRV restrict-check escapes=%d\n", fails);
	return fails == 0 ? 0 : -1;
}

/* Leave the notified request unanswered and wait for SIGKILL. */
static void
stall(const char *marker, unsigned long long answered, long timeout)
{
	printf("HCVS-SRV stalled after %llu requests, the next one pending\n",
	    answered);
	xtd_touch(marker);
	while (timeout-- > 0)
		sleep(1);
	printf("HCVS-SRV stalled and never killed\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domid", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "ready", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 's' },
		{ "reattach", no_argument, NULL, 'a' },
		{ "leave", no_argument, NULL, 'l' },
		{ "check-restrict", required_argument, NULL, 'u' },
		{ "stall-after", required_argument, NULL, 'S' },
		{ "stalled", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	static struct dev d;
	struct ioreq_xen_cfg cfg = { .reattach_id = -1, .watch_death = true };
	struct ioreq_engine_stats st;
	struct ioreq_engine *e;
	const char *ready = NULL, *stalled = NULL;
	unsigned long long stall_after = 0;
	long timeout = 120, uid = -1;
	struct timespec t0, t1;
	uint16_t base = 0x5000;
	bool reattach = false, leave = false, gone = false;
	int c, rc, ret = 1;

	cfg.domid = UINT32_MAX;
	d.evtchn_bound = NOTIFY_PORT_INVALID;
	d.id = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cfg.domid = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'p': base = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'r': ready = optarg; break;
		case 't': timeout = strtol(optarg, NULL, 0); break;
		case 's': d.state = optarg; break;
		case 'a': reattach = true; break;
		case 'l': leave = true; break;
		case 'u': uid = strtol(optarg, NULL, 0); break;
		case 'S': stall_after = strtoull(optarg, NULL, 0); break;
		case 'F': stalled = optarg; break;
		default: return 2;
		}
	}
	if (cfg.domid == UINT32_MAX || (reattach && d.state == NULL) ||
	    (stall_after > 0) != (stalled != NULL)) {
		fprintf(stderr, "usage: xen_src_ioserv --domid N [--state F [--reattach]]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init(true, 1, "xen_src_ioserv");
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	if (reattach) {
		if (state_load(&d) != 0) {
			printf("HCVS-SRV no state in %s\n", d.state);
			return 1;
		}
		cfg.reattach_id = d.id;
	}
	rc = ioreq_xen_open(&cfg, &d.src);
	if (rc != 0) {
		printf("HCVS-SRV ioreq_xen_open: %s\n", strerror(-rc));
		return 1;
	}
	d.id = ioreq_source_server_id(d.src);
	state_save(&d);
	e = ioreq_source_engine(d.src);
	ioreq_engine_set_post_hook(e, dev_post, &d);
	rc = ioreq_source_add_range(d.src, IOREQ_SPACE_PIO, base,
	    base + IOS_SIZE - 1,
	    &dev_ops, &d);
	if (rc == -EEXIST && reattach)
		rc = 0;
	if (rc == 0)
		rc = ioreq_source_enable(d.src);
	if (rc != 0) {
		printf("HCVS-SRV add_range/enable: %s\n", strerror(-rc));
		goto out;
	}
	ioreq_engine_get_stats(e, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("HCVS-SRV ready dom=%u id=%d vcpus=%u setup_ms=%ld code=ioreq_xen"
	    " %s answered_at_enable=%llu\n", cfg.domid, d.id,
	    ioreq_source_nr_vcpus(d.src), (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000,
	    reattach ? "reattached" : "created",
	    (unsigned long long)st.st_requests);
	if (uid >= 0 && check_restrict(&d, cfg.domid, (uid_t)uid) != 0)
		goto out;
	if (ready != NULL)
		xtd_touch(ready);

	while (!got_term && !d.xtd.done) {
		struct pollfd pfd[2] = {
			{ ioreq_source_fd(d.src), POLLIN, 0 },
			{ ioreq_xen_death_fd(d.src), POLLIN, 0 },
		};
		uint32_t port;

		rc = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, 1000);
		if (rc < 0 && errno != EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > timeout) {
			printf("HCVS-SRV timeout after %ld s\n", timeout);
			break;
		}
		if (rc <= 0)
			continue;
		while (notifier_next(ioreq_source_notifier(d.src), &port,
		    NULL) == 1) {
			ioreq_engine_get_stats(e, &st);
			if (stall_after > 0 && st.st_requests >= stall_after) {
				stall(stalled, st.st_requests, timeout);
				goto out;
			}
			(void)ioreq_engine_handle_port(e, port);
		}
		if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN) &&
		    ioreq_xen_domain_gone(d.src) == 1) {
			printf("HCVS-SRV domain %u gone\n", cfg.domid);
			gone = true;
			break;
		}
	}
	if (got_term)
		printf("HCVS-SRV SIGTERM: quiescing%s\n", leave ? ", leaving the server" : "");
	ret = d.xtd.done || gone || (got_term && !leave) ? 0 : 1;
	if (!gone) {
		rc = ioreq_source_quiesce(d.src);
		if (rc != 0)
			printf("HCVS-SRV quiesce: %s\n", strerror(-rc));
	}
	xtd_print_vcpus(&d.xtd, ioreq_source_nr_vcpus(d.src));
	ioreq_engine_get_stats(e, &st);
	printf("HCVS-SRV stats requests=%llu msis=%u notifies=%u spurious=%llu "
	    "invalid=%llu unclaimed=%llu\n", (unsigned long long)st.st_requests,
	    d.msis, d.notifies, (unsigned long long)st.st_spurious,
	    (unsigned long long)st.st_invalid,
	    (unsigned long long)st.st_unclaimed);
out:
	ioreq_source_close(d.src, !(leave && got_term));
	printf("HCVS-SRV exit rc=%d\n", ret);
	return ret;
}
