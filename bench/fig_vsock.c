/* SPDX-License-Identifier: MIT */
/*
 * Figures 2-5: vsock traffic through the device and the muxer to real
 * AF_UNIX host peers, with the guest driver running either hosted over
 * the fake ioreq page or inside a native user-mode KVM guest.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/bguest.h"
#include "bench/vsenv.h"
#include "fakes/fake_guest.h"
#include "ioreq/ioreq_xenabi.h"
#include "vsock/vsock_dev.h"
#ifdef HAVE_KVM
#include "kvm/vmm.h"
#endif

#define HOST_PORT	5000u
#define FAKE_RAM_GPA	0x100000ull
#define FAKE_RAM_SIZE	(16u << 20)
#define FAKE_IRQ_GSI	5u
#define KVM_MEM_SIZE	(16ull << 20)
#define SPIN_NS		(1000u * 1000u)

enum host_role {
	H_HOLD,		/* accept, keep the connection, read nothing */
	H_ECHO,
	H_SINK,		/* read, time every MiB */
	H_SOURCE,	/* write `payload`-byte chunks */
	H_MULTI_SINK,	/* many connections, aggregate rate */
	H_MIG_ECHO,	/* start a migration session, echo its stream */
};

enum guest_kind {
	G_FAKE,
	G_KVM,
};

struct run {
	enum guest_kind		 kind;
	bool			 busy;		/* server (and guest waits) poll */
	/*
	 * Fake guest: interrupt-driven (mode GSI on an eventfd, RX
	 * interrupts only in its waits), sleeping once a wait outlasts
	 * VSENV_WINDOW_NS.
	 */
	bool			 irq;
	int			 irq_fd;
	uint64_t		 wait_start, wait_last;
	int			 sleep_said;	/* will_sleep's answer + 1, 0: none */
	unsigned long		 sleeps, sleeps_timed_out;
	enum host_role		 role;
	struct bguest_ctl	*ctl;
	uint32_t		 nconns;
	double			 seconds;	/* full-run budget */
	struct bench_samples	 host;		/* host-side samples (ns) */
	/* Host peer thread. */
	int			 lfd;
	int			*fds;
	volatile unsigned	 nfds;
	volatile int		 host_stop;
	volatile int		 host_done;	/* host-side samples complete */
	int			 host_rc;
	/* Guest */
	struct vsenv		 env;
	struct ioreq_fake	*fake;
	uint8_t			*ram;
	struct hcvg		 g;
	struct hcvg_platform	 plat;
	struct hcvg_conn	*conns;
	uint8_t			*buf;
	int			 guest_rc;
	struct vsock_dev_stats	 dstats;	/* the device, at the end */
#ifdef HAVE_KVM
	struct vmm		*vmm;
	struct vmm_stats	 vstats;	/* the VMM, at the end */
#endif
};

/* ---- Host peers ------------------------------------------------------------ */

static int
host_accept(struct run *r, unsigned want)
{
	struct pollfd pfd = { .fd = r->lfd, .events = POLLIN };
	int fd;

	while (r->nfds < want) {
		if (r->host_stop)
			return -ECANCELED;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return -errno;
		r->fds[r->nfds] = fd;
		r->nfds = r->nfds + 1;
	}
	return 0;
}

static void
host_drain(struct run *r)
{
	static char junk[65536];
	struct pollfd *pfd;
	unsigned i, n = r->nfds;

	/*
	 * Keep reading every connection so that a guest blocked on credit
	 * (on any of them) can see the stop flag and finish.
	 */
	pfd = calloc(n ? n : 1, sizeof(*pfd));
	if (pfd == NULL)
		return;
	for (i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = r->fds[i], .events = POLLIN };
	while (!r->ctl->done && !r->host_stop) {
		if (poll(pfd, n, 10) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (pfd[i].revents & POLLIN)
				(void)recv(r->fds[i], junk, sizeof(junk),
				    MSG_DONTWAIT);
	}
	free(pfd);
}

static int
host_multi_sink(struct run *r)
{
	return bench_multi_read(r->fds, r->nfds, BENCH_STREAM_WINDOW,
	    r->seconds, &r->ctl->done, &r->host);
}

/*
 * The migration orchestrator: START a session on the guest's <dir>/v_migtd
 * (request id 1) and wait for OK; the connection is then the session.
 */
static int
host_mig_try(struct run *r, const struct sockaddr_un *sun, char *line,
    size_t size)
{
	uint8_t req[56] = { 1 };
	struct pollfd pfd;
	size_t got = 0;
	int fd, tries;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The listener comes with the attached guest. */
	for (tries = 0; connect(fd, (const struct sockaddr *)sun,
	    sizeof(*sun)) < 0; tries++) {
		if (tries > 2000 || r->host_stop) {
			close(fd);
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
	if (send(fd, "START 1 56\n", 11, MSG_NOSIGNAL) != 11 ||
	    send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req)) {
		close(fd);
		return -EIO;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (got < size - 1) {
		if (poll(&pfd, 1, 20000) != 1 || recv(fd, line + got, 1, 0) != 1)
			break;
		if (line[got++] == '\n')
			break;
	}
	line[got] = '\0';
	return fd;
}

/*
 * The migration orchestrator: START a session on the guest's <dir>/v_migtd
 * (request id 1) and wait for OK; the connection is then the session.  A
 * guest still booting lets the request time out: start it again, as an
 * orchestrator does.
 */
static int
host_mig_start(struct run *r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[32];
	int fd, tries;

	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/v_migtd",
	    r->env.dir) >= (int)sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	for (tries = 0; tries < 20 && !r->host_stop; tries++) {
		fd = host_mig_try(r, &sun, line, sizeof(line));
		if (fd < 0)
			return fd;
		if (strcmp(line, "OK 1\n") == 0) {
			r->fds[0] = fd;
			r->nfds = 1;
			return 0;
		}
		close(fd);
		if (strcmp(line, "ERR timeout\n") != 0)
			break;
	}
	return -EPROTO;
}

static void *
host_main(void *arg)
{
	struct run *r = arg;
	static char buf[65536];
	uint32_t payload = r->ctl->payload;
	ssize_t n;
	int rc;

	rc = r->role == H_MIG_ECHO ? host_mig_start(r) :
	    host_accept(r, r->nconns);
	if (rc < 0)
		goto out;
	switch (r->role) {
	case H_HOLD:
		break;
	case H_ECHO:
	case H_MIG_ECHO:
		while (!r->ctl->done && !r->host_stop) {
			struct pollfd pfd = { .fd = r->fds[0], .events = POLLIN };

			if (poll(&pfd, 1, 10) <= 0)
				continue;
			n = recv(r->fds[0], buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			if (send(r->fds[0], buf, (size_t)n, MSG_NOSIGNAL) != n)
				break;
		}
		break;
	case H_SINK:
		while (!r->ctl->ready && !r->host_stop)
			sched_yield();
		/* bench_stream_read sets up the samples it returns. */
		bench_samples_free(&r->host);
		rc = bench_stream_read(r->fds[0], BENCH_STREAM_WINDOW, r->seconds,
		    200000, &r->host);
		break;
	case H_SOURCE:
		/*
		 * Blocking writes of `payload` bytes, as the floor's writer
		 * makes them: no poll() per write.  The shutdown() at the
		 * end of the run ends a write blocked on a full socket.
		 */
		memset(buf, 0x3c, sizeof(buf));
		while (!r->ctl->done && !r->host_stop) {
			n = send(r->fds[0], buf, payload, MSG_NOSIGNAL);
			if (n < 0 && errno != EINTR)
				break;
		}
		break;
	case H_MULTI_SINK:
		rc = host_multi_sink(r);
		break;
	}
	r->host_done = 1;
	host_drain(r);
out:
	r->host_rc = rc;
	return NULL;
}

/* ---- Guests ------------------------------------------------------------------ */

static uint32_t
fake_reg_read(void *ctx, uint32_t off)
{
	struct run *r = ctx;
	uint64_t v = 0;

	if (ioreq_fake_pio(r->fake, 0, (uint16_t)(VSENV_WINDOW_BASE + off), 4,
	    IOREQ_READ, &v) < 0)
		return UINT32_MAX;
	return (uint32_t)v;
}

static void
fake_reg_write(void *ctx, uint32_t off, uint32_t val)
{
	struct run *r = ctx;
	uint64_t v = val;

	/* A lost write is what a guest sees of a dead backend: nothing. */
	if (ioreq_fake_pio(r->fake, 0, (uint16_t)(VSENV_WINDOW_BASE + off), 4,
	    IOREQ_WRITE, &v) < 0)
		r->guest_rc = -EIO;
}

static uint64_t
fake_v2p(void *ctx, const void *p)
{
	struct run *r = ctx;

	return FAKE_RAM_GPA + (uint64_t)((const uint8_t *)p - r->ram);
}

/* Calls of fake_wait() closer than this belong to one wait. */
#define WAIT_GAP_NS	5000u

/*
 * An interrupt-driven fake guest waits as NAPI and a vCPU's halt-polling
 * do: it spins VSENV_WINDOW_NS, then sleeps until the device interrupts.
 */
static bool
sleep_due(struct run *r)
{
	uint64_t now = bench_now_ns();

	if (now - r->wait_last > WAIT_GAP_NS)
		r->wait_start = now;
	r->wait_last = now;
	return now - r->wait_start >= VSENV_WINDOW_NS;
}

/* The driver turns RX interrupts on for a wait we say will sleep. */
static int
fake_will_sleep(void *ctx)
{
	struct run *r = ctx;
	bool sleep = sleep_due(r);

	r->sleep_said = sleep ? 2 : 1;
	return sleep;
}

static void
fake_wait(void *ctx)
{
	struct run *r = ctx;
	struct pollfd pfd;
	uint64_t n;
	bool sleep;

	if (!r->irq) {
		bench_relax();
		return;
	}
	/* A wait for TX slots has no will_sleep: TX_WANT_IRQ is up for it. */
	sleep = r->sleep_said != 0 ? r->sleep_said == 2 : sleep_due(r);
	r->sleep_said = 0;
	if (!sleep) {
		bench_relax();
		return;
	}
	/*
	 * The driver turned the interrupt this wait is for on and looked
	 * once more before calling.  The timeout only bounds a lost
	 * interrupt, which would show in the figure.
	 */
	pfd = (struct pollfd){ .fd = r->irq_fd, .events = POLLIN };
	r->sleeps++;
	if (poll(&pfd, 1, 10) == 1)
		(void)!read(r->irq_fd, &n, sizeof(n));
	else
		r->sleeps_timed_out++;
	r->wait_last = bench_now_ns();
}

static void *
fake_guest_main(void *arg)
{
	struct run *r = arg;
	struct hcvg_cfg cfg;
	struct bguest_ctl *ctl = r->ctl;
	int rc;

	(void)bench_pin(bench_opts.cpu_a);
	memset(&cfg, 0, sizeof(cfg));
	cfg.plat = &r->plat;
	cfg.mem = r->ram;
	cfg.mem_size = BGUEST_MBOX_SIZE;
	cfg.tx_slots = BGUEST_TX_SLOTS;
	cfg.rx_slots = BGUEST_RX_SLOTS;
	cfg.slot_size = BGUEST_SLOT_SIZE;
	cfg.conns = r->conns;
	cfg.nconns = r->nconns;
	cfg.sync_doorbell = (int)ctl->sync;
	cfg.wait_limit = BGUEST_WAIT_LIMIT;
	if (r->irq) {
		cfg.irq_mode = HCVS_IRQ_GSI;
		cfg.irq_args[0] = FAKE_IRQ_GSI;
		cfg.rx_irq_in_wait = 1;
	}
	rc = hcvg_init(&r->g, &cfg);
	if (rc < 0) {
		ctl->status = rc;
		ctl->ready = 1;
		ctl->done = 1;
		r->guest_rc = rc;
		return NULL;
	}
	r->guest_rc = bguest_run(&r->g, ctl, r->buf);
	return NULL;
}

static int
fake_open(struct run *r, size_t ctl_size)
{
	struct ioreq_fake_cfg fcfg = { .nr_vcpus = 1, .ram_gpa = FAKE_RAM_GPA,
	    .ram_size = FAKE_RAM_SIZE, .timeout_ms = 30000 };
	struct ioreq_shm_cfg scfg;
	struct ioreq_shm_kvm kcfg;
	uint64_t gpa;
	size_t size;
	int rc;

	r->irq_fd = -1;
	rc = ioreq_fake_new(&fcfg, &r->fake);
	if (rc < 0)
		return rc;
	if (r->busy)
		ioreq_fake_set_spin(r->fake, SPIN_NS);
	r->ram = ioreq_fake_ram(r->fake, &gpa, &size);
	if (r->ram == NULL || size < BGUEST_MBOX_SIZE)
		return -ENOMEM;
	r->ctl = calloc(1, ctl_size);
	r->conns = calloc(r->nconns, sizeof(*r->conns));
	r->buf = malloc(BGUEST_MAX_PAYLOAD);
	if (r->ctl == NULL || r->conns == NULL || r->buf == NULL)
		return -ENOMEM;
	r->plat.ctx = r;
	r->plat.reg_read = fake_reg_read;
	r->plat.reg_write = fake_reg_write;
	r->plat.virt_to_phys = fake_v2p;
	r->plat.wait = fake_wait;
	if (r->irq)
		r->plat.will_sleep = fake_will_sleep;
	if (!r->irq)
		return vsenv_open(&r->env, ioreq_fake_shm_cfg(r->fake),
		    VSENV_WINDOW_BASE, r->busy);
	r->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->irq_fd < 0)
		return -errno;
	scfg = *ioreq_fake_shm_cfg(r->fake);
	kcfg = (struct ioreq_shm_kvm){ .vm_fd = -1, .doorbell_fd = -1,
	    .irq_fd = r->irq_fd, .irq_gsi = FAKE_IRQ_GSI };
	scfg.kvm = &kcfg;
	return vsenv_open(&r->env, &scfg, VSENV_WINDOW_BASE, r->busy);
}

#ifdef HAVE_KVM
#define KVM_GUEST_NCONNS	4u	/* bench/kvm_guest.c's table */

struct kvm_vcpu_arg {
	struct run	*r;
	int		 rc;
	uint32_t	 code;
};

static void *
kvm_vcpu_main(void *arg)
{
	struct kvm_vcpu_arg *va = arg;

	(void)bench_pin(bench_opts.cpu_a);
	va->rc = vmm_run_vcpu(va->r->vmm, 0, 60000, &va->code);
	if (va->rc == 0 && va->code != 0) {
		/* The guest's exit code is its driver error, negated. */
		fprintf(stderr, "hcvsock-bench: KVM guest exited with %u\n",
		    va->code);
		va->rc = -EPROTO;
	}
	if (va->rc < 0) {
		va->r->ctl->status = va->rc;
		va->r->ctl->ready = 1;
		va->r->ctl->done = 1;
	}
	return NULL;
}

static int
kvm_open(struct run *r, uint32_t max_samples)
{
	struct vmm_cfg cfg = { .name = "bench", .mem_size = KVM_MEM_SIZE,
	    .nr_vcpus = 1, .cid = VSENV_CID, .window_space = IOREQ_SPACE_PIO,
	    .window_base = VSENV_WINDOW_BASE, .notify = VMM_NOTIFY_VM,
	    .fwd_timeout_ms = 30000 };
	struct kvmguest_boot *b;
	struct attach_desc d;
	int rc;

	if (r->nconns > KVM_GUEST_NCONNS)
		return -E2BIG;
	cfg.fwd_spin_ns = r->busy ? SPIN_NS : VSENV_WINDOW_NS;
	rc = vmm_new(&cfg, &r->vmm);
	if (rc < 0)
		return rc;
	rc = vmm_load(r->vmm, BENCH_KVM_GUEST);
	if (rc < 0)
		return rc;
	b = vmm_boot(r->vmm);
	if (b->kb_scratch_size < BGUEST_MBOX_OFF(max_samples) + BGUEST_MBOX_SIZE)
		return -ENOMEM;
	r->ctl = kvmvm_gpa(vmm_vm(r->vmm), b->kb_scratch_gpa,
	    sizeof(*r->ctl) + 4u * max_samples);
	if (r->ctl == NULL)
		return -EFAULT;
	vmm_fill_desc(r->vmm, &d);
	/* Streams only: figures 2 and 3 time the doorbell path itself. */
	return vsenv_open_attach(&r->env, &d, r->busy,
	    r->role == H_SINK || r->role == H_SOURCE);
}
#endif

static void
run_free(struct run *r)
{
	unsigned i;

	vsenv_close(&r->env);
	if (r->irq && r->irq_fd >= 0)
		close(r->irq_fd);
	if (r->kind == G_FAKE) {
		free(r->ctl);
		free(r->conns);
		free(r->buf);
		ioreq_fake_free(r->fake);
	}
#ifdef HAVE_KVM
	vmm_free(r->vmm);
#endif
	for (i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	free(r->fds);
	if (r->lfd >= 0)
		close(r->lfd);
}

/*
 * One measurement: server up, host peer listening, guest connected,
 * then run for the budget (or until the guest filled its samples), stop
 * everyone in order.  Guest samples (cycles) are returned in `gs` (ns),
 * host samples in r->host.
 */
static int
run_once(struct run *r, uint32_t mode, uint32_t payload, uint32_t sync,
    struct bench_samples *gs)
{
	uint32_t max_samples = (uint32_t)bench_max_samples(200000);
	size_t ctl_size = sizeof(struct bguest_ctl) + 4u * max_samples;
	pthread_t gth, hth;
	bool g_started = false, h_started = false;
#ifdef HAVE_KVM
	struct kvm_vcpu_arg va = { .r = r };
#endif
	uint64_t deadline, budget = bench_budget_ns(r->seconds);
	double cyc_per_ns = bench_tsc_per_ns();
	int rc;

	r->lfd = -1;
	r->fds = calloc(r->nconns, sizeof(*r->fds));
	if (r->fds == NULL)
		return -ENOMEM;
	if (r->kind == G_FAKE)
		rc = fake_open(r, ctl_size);
	else
#ifdef HAVE_KVM
		rc = kvm_open(r, max_samples);
#else
		rc = -ENODEV;
#endif
	if (rc < 0)
		goto out;
	memset(r->ctl, 0, ctl_size);
	r->ctl->mode = mode;
	r->ctl->port = HOST_PORT;
	r->ctl->payload = payload;
	r->ctl->nconns = r->nconns;
	r->ctl->max_samples = max_samples;
	r->ctl->sync = sync;
	r->ctl->window = BENCH_STREAM_WINDOW;
	rc = bench_samples_init(&r->host, bench_max_samples(200000));
	if (rc < 0)
		goto out;
	rc = vsenv_listen(&r->env, HOST_PORT);
	if (rc < 0)
		goto out;
	r->lfd = rc;
	rc = vsenv_start(&r->env);
	if (rc < 0)
		goto out;
	rc = -pthread_create(&hth, NULL, host_main, r);
	if (rc < 0)
		goto out;
	h_started = true;
	if (r->kind == G_FAKE)
		rc = -pthread_create(&gth, NULL, fake_guest_main, r);
#ifdef HAVE_KVM
	else
		rc = -pthread_create(&gth, NULL, kvm_vcpu_main, &va);
#endif
	if (rc < 0)
		goto out;
	g_started = true;
	deadline = bench_now_ns() + 20ull * 1000000000u;
	while (!r->ctl->ready && bench_now_ns() < deadline)
		usleep(1000);
	if (!r->ctl->ready) {
		rc = -ETIMEDOUT;
		goto out;
	}
	/*
	 * Warm-up plus budget; latency modes may finish sooner.  Where the
	 * host side measures, it decides when it has enough.
	 */
	if (r->role == H_SINK || r->role == H_MULTI_SINK) {
		deadline = bench_now_ns() + 2 * budget + 5000000000ull;
		while (bench_now_ns() < deadline && !r->host_done &&
		    !r->ctl->done)
			usleep(2000);
	} else {
		deadline = bench_now_ns() + budget + budget / 10;
		while (bench_now_ns() < deadline && !r->ctl->done &&
		    r->ctl->nsamples < max_samples)
			usleep(2000);
	}
	rc = r->ctl->status;
out:
	if (r->ctl != NULL)
		r->ctl->stop = 1;
	if (g_started)
		pthread_join(gth, NULL);
	r->host_stop = 1;
	/* A host peer blocked in recv() or send() sees EOF now. */
	for (unsigned i = 0; i < r->nfds; i++)
		shutdown(r->fds[i], SHUT_RDWR);
	if (h_started)
		pthread_join(hth, NULL);
	if (rc == 0 && r->ctl->status < 0)
		rc = r->ctl->status;
	if (rc == 0 && r->host_rc < 0)
		rc = r->host_rc;
#ifdef HAVE_KVM
	if (rc == 0 && va.rc < 0)
		rc = va.rc;
#endif
	/* The loop thread has stopped: the device may be read now. */
	vsenv_stop(&r->env);
	if (vsenv_dev(&r->env) != NULL)
		vsock_dev_get_stats(vsenv_dev(&r->env), &r->dstats);
#ifdef HAVE_KVM
	if (r->vmm != NULL)
		vmm_get_stats(r->vmm, &r->vstats);
#endif
	if (rc == 0 && gs != NULL) {
		uint32_t n = r->ctl->nsamples, skip = n / 10;

		/* Guest samples: drop the first tenth as warm-up. */
		rc = bench_samples_init(gs, n > skip ? n - skip : 1);
		for (uint32_t i = skip; rc == 0 && i < n; i++)
			bench_samples_add(gs, (uint64_t)((double)r->ctl->samples[i] /
			    cyc_per_ns));
	}
	run_free(r);
	if (rc < 0)
		bench_samples_free(&r->host);
	return rc;
}

/* ---- Figures ------------------------------------------------------------------ */

/*
 * What notifications cost a stream, from the device's counters: guest
 * doorbells per packet the guest sent, host interrupts per packet the
 * host published (the benchmark guests poll with RX_NO_IRQ, so the host
 * has no reason to interrupt them).
 */
static void
notify_counts(const struct run *r, char *buf, size_t len)
{
	const struct vsock_dev_stats *d = &r->dstats;

	snprintf(buf, len, "%.2f doorbells per guest packet, %.2f interrupts "
	    "per host packet, %.0f B per host packet, %llu credit windows "
	    "missed", d->ds_tx_pkts ?
	    (double)d->ds_kicks / (double)d->ds_tx_pkts : 0.0, d->ds_rx_pkts ?
	    (double)d->ds_irqs / (double)d->ds_rx_pkts : 0.0, d->ds_rx_pkts ?
	    (double)d->ds_rx_bytes / (double)d->ds_rx_pkts : 0.0,
	    (unsigned long long)d->ds_credit_windows_missed);
}

static void
fail(const char *name, int rc)
{
	char why[96];

	snprintf(why, sizeof(why), "%s", strerror(-rc));
	bench_skip(name, why);
}

/* Figure 2: the device's own round trip, no host socket (KVM). */
static void
fig_credit(bool busy, bool sync)
{
	struct run r = { .kind = G_KVM, .busy = busy, .role = H_HOLD,
	    .nconns = 1, .seconds = 1.0 };
	struct bench_samples gs;
	struct bench_stat st;
	const char *name = sync ? (busy ? "kvm_credit_sync_busy" :
	    "kvm_credit_sync_block") : busy ? "kvm_credit_busy" :
	    "kvm_credit_block";
	char what[224];
	int rc;

	if (!bench_selected(name))
		return;
	rc = run_once(&r, BG_CREDIT_RTT, 0, sync, &gs);
	bench_samples_free(&r.host);
	if (rc < 0) {
		fail(name, rc);
		return;
	}
	bench_stat_compute(&gs, 0, &st);
	bench_samples_free(&gs);
	snprintf(what, sizeof(what), "KVM guest CREDIT_REQUEST -> CREDIT_UPDATE "
	    "through device and muxer, %s doorbell, server %s",
	    sync ? "synchronous (forwarded exit)" : "async (ioeventfd)",
	    busy ? "busy-polls" : "blocks in epoll");
	/*
	 * While hcvsockd busy-polls it keeps TX_NO_KICK up, and the guest
	 * rings neither doorbell (the driver's rule): say how often it did.
	 */
	snprintf(what + strlen(what), sizeof(what) - strlen(what),
	    "; %.2f doorbells per guest packet", r.dstats.ds_tx_pkts ?
	    (double)r.dstats.ds_kicks / (double)r.dstats.ds_tx_pkts : 0.0);
	/* How often hcvsockd was watching the page when the VMM posted. */
	if (sync && r.vstats.vs_forwarded > 0)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
		    "; %.2f of forwarded exits needed no kick",
		    (double)r.vstats.vs_unkicked /
		    (double)r.vstats.vs_forwarded);
	if (sync)
		bench_result(name, what, &st, "kvm_exit_io", BENCH_LE, 1.3);
	else
		bench_result(name, what, &st, busy ? "kvm_kick_rpc_busy" :
		    "kvm_kick_rpc_block", BENCH_LE, 1.3);
}

/*
 * Figure 3: 64 B echo to a host socket and back (KVM), through the muxer
 * (a vsock connection) or, with `msg`, through a migration session of
 * protocol MSG (MigTD's calls: a Receive and a Send posted with one
 * doorbell, the echo completes the Receive).
 */
static void
fig_echo(bool busy, bool msg)
{
	struct run r = { .kind = G_KVM, .busy = busy,
	    .role = msg ? H_MIG_ECHO : H_ECHO, .nconns = 1, .seconds = 1.5 };
	struct bench_samples gs;
	struct bench_stat st;
	const char *name = msg ? (busy ? "kvm_msg64_busy" : "kvm_msg64_block") :
	    busy ? "kvm_echo64_busy" : "kvm_echo64_block";
	const char *floor = busy ? "kick_rpc_busy+unix_pingpong" :
	    "kick_rpc_block+unix_pingpong";
	char what[200];
	int rc;

	if (!bench_selected(name))
		return;
	bench_floor_sum(floor, busy ? "kvm_kick_rpc_busy" : "kvm_kick_rpc_block",
	    "unix_pingpong");
	rc = run_once(&r, msg ? BG_MSG_ECHO : BG_ECHO, 64, 0, &gs);
	bench_samples_free(&r.host);
	if (rc < 0) {
		fail(name, rc);
		return;
	}
	bench_stat_compute(&gs, 0, &st);
	bench_samples_free(&gs);
	snprintf(what, sizeof(what), "KVM guest %s to a host AF_UNIX socket "
	    "and back, server %s; %.2f doorbells per guest %s", msg ?
	    "MigTD Receive + Send, 64 B through a migration session" :
	    "64 B echo via hcvsock", busy ? "busy-polls" : "blocks",
	    r.dstats.ds_tx_pkts || r.dstats.ds_msg_calls ?
	    (double)r.dstats.ds_kicks / (double)(msg ? r.dstats.ds_msg_calls :
	    r.dstats.ds_tx_pkts) : 0.0, msg ? "call" : "packet");
	bench_result(name, what, &st, floor, BENCH_LE, 1.3);
}

/* Figure 4: stream throughput, either direction, 4 KiB or 64 KiB. */
static void
fig_stream(enum guest_kind kind, bool to_host, uint32_t payload, bool busy,
    bool irq)
{
	struct run r = { .kind = kind, .busy = busy, .irq = irq,
	    .role = to_host ? H_SINK : H_SOURCE, .nconns = 1, .seconds = 1.5 };
	struct bench_samples gs;
	struct bench_stat st;
	char name[48], what[400], counts[260];
	int rc;

	snprintf(name, sizeof(name), "%s_%s_%uk%s", kind == G_KVM ? "kvm" :
	    "fake", to_host ? "g2h" : "h2g", payload / 1024,
	    busy ? "_busy" : irq ? "_irq" : "");
	if (!bench_selected(name))
		return;
	rc = run_once(&r, to_host ? BG_TX_STREAM : BG_RX_STREAM, payload, 0,
	    to_host ? NULL : &gs);
	if (rc < 0) {
		fail(name, rc);
		return;
	}
	if (to_host) {
		bench_stat_compute(&r.host, BENCH_STREAM_WINDOW, &st);
		bench_samples_free(&r.host);
	} else {
		bench_samples_free(&r.host);
		bench_stat_compute(&gs, BENCH_STREAM_WINDOW, &st);
		bench_samples_free(&gs);
	}
	notify_counts(&r, counts, sizeof(counts));
	/*
	 * The host program's own writes bound a host -> guest stream: with
	 * 4 KiB writes, unix_stream_4k is what any reader could get.
	 */
	if (irq) {
		size_t used = strlen(counts);

		snprintf(counts + used, sizeof(counts) - used, "; the guest "
		    "slept %lu times, %lu of them until the 10 ms bound",
		    r.sleeps, r.sleeps_timed_out);
	}
	if (!to_host && payload == 4096 && bench_floor_mbps("unix_stream_4k") > 0) {
		size_t used = strlen(counts);

		snprintf(counts + used, sizeof(counts) - used, "; %.2f of "
		    "unix_stream_4k", st.mb_per_s /
		    bench_floor_mbps("unix_stream_4k"));
	}
	snprintf(what, sizeof(what), "%s stream %s, %u KiB writes, server "
	    "%s (time per MiB; %s)",
	    kind == G_KVM ? "KVM guest" : irq ? "fake-page guest sleeping on "
	    "interrupts" : "fake-page guest",
	    to_host ? "guest -> host socket" : "host socket -> guest",
	    payload / 1024, busy ? "busy-polls" : "blocks", counts);
	bench_result(name, what, &st, "unix_stream_64k", BENCH_GE, 0.5);
}

/* Figure 5a: aggregate guest -> host throughput over n connections. */
static void
fig_scale(unsigned n, const char *one)
{
	struct run r = { .kind = G_FAKE, .busy = false, .role = H_MULTI_SINK,
	    .nconns = n, .seconds = 2.5 };
	struct bench_stat st;
	char name[48], what[400], counts[200], floor[32];
	int rc;

	snprintf(name, sizeof(name), "fake_conns_%u", n);
	rc = run_once(&r, BG_MULTI_TX, 4096, 0, NULL);
	if (rc < 0) {
		fail(name, rc);
		return;
	}
	bench_stat_compute(&r.host, BENCH_STREAM_WINDOW, &st);
	bench_samples_free(&r.host);
	notify_counts(&r, counts, sizeof(counts));
	/*
	 * Every packet written when it comes costs the host side one 4 KiB
	 * write per packet: unix_conns_N is what that allows by itself.
	 */
	snprintf(floor, sizeof(floor), "unix_conns_%u", n);
	if (n > 1 && bench_floor_mbps(floor) > 0) {
		size_t used = strlen(counts);

		snprintf(counts + used, sizeof(counts) - used, "; %.2f of %s",
		    st.mb_per_s / bench_floor_mbps(floor), floor);
	}
	snprintf(what, sizeof(what), "fake-page guest, %u connection%s sending "
	    "4 KiB writes round-robin to %u host sockets (time per MiB, all; "
	    "%s)", n, n > 1 ? "s" : "", n, counts);
	if (one == NULL)
		bench_result(name, what, &st, "unix_stream_64k", BENCH_INFO, 0);
	else
		bench_result(name, what, &st, one, BENCH_GE, 0.8);
}

void
bench_fig_vsock(void)
{
	bool kvm = bench_have_kvm();

	if (kvm) {
		fig_credit(false, false);
		fig_credit(true, false);
		fig_credit(false, true);
		fig_credit(true, true);
		fig_echo(false, false);
		fig_echo(true, false);
		fig_echo(false, true);
		fig_echo(true, true);
		fig_stream(G_KVM, true, 4096, false, false);
		fig_stream(G_KVM, true, 65536, false, false);
		fig_stream(G_KVM, false, 4096, false, false);
		fig_stream(G_KVM, false, 65536, false, false);
		/* How much of the gap is wake-ups: the same with busy-poll. */
		fig_stream(G_KVM, true, 65536, true, false);
		fig_stream(G_KVM, false, 65536, true, false);
	} else {
		bench_skip("kvm_*", "no usable /dev/kvm: KVM figures skipped");
	}
	fig_stream(G_FAKE, true, 4096, false, false);
	fig_stream(G_FAKE, true, 65536, false, false);
	fig_stream(G_FAKE, false, 4096, false, false);
	fig_stream(G_FAKE, false, 65536, false, false);
	/* An interrupt-driven guest: what notifications it takes. */
	fig_stream(G_FAKE, true, 65536, false, true);
	fig_stream(G_FAKE, false, 65536, false, true);
	/* The three go together: 64 and 1024 are ratios to 1. */
	if (bench_selected("fake_conns_1") || bench_selected("fake_conns_64") ||
	    bench_selected("fake_conns_1024")) {
		fig_scale(1, NULL);
		fig_scale(64, "fake_conns_1");
		fig_scale(bench_opts.quick ? 128 : 1024, "fake_conns_1");
	}
}
