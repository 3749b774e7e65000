/* SPDX-License-Identifier: MIT */
/* The reference VMM's core: kvmvm plus attach, forwarding register-window exits to hcvsockd. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

#define VMM_STACK	(64u << 10)
#define VMM_MAX_VCPUS	64u
/* The guest's scratch area starts here (below: code, boot block, tables). */
#define VMM_SCRATCH_GPA	(4ull << 20)
/* The window's DOORBELL register: what ioeventfd watches (PROTOCOL.md). */
#define VMM_REG_DOORBELL	0x38u
#define VMM_DOORBELL_KICK	1u
#define VMM_WINDOW_PIO_SIZE	0x40u
#define VMM_WINDOW_MMIO_SIZE	0x1000u

struct vmm_vcpu_ctx {
	struct vmm	*vc_vmm;
	unsigned	 vc_idx;
};

struct vmm {
	struct vmm_cfg		 m_cfg;
	struct kvmvm		*m_vm;
	struct kvmvm_vcpu	*m_vcpus[VMM_MAX_VCPUS];
	struct vmm_vcpu_ctx	 m_ctx[VMM_MAX_VCPUS];
	struct attach_fwd	*m_fwd;
	int			 m_kick_fd;	/* EVENTFDS mode */
	int			 m_irq_fd;
	int			 m_sock;
	volatile bool		 m_quit;
	uint64_t		 m_forwarded;
	uint64_t		 m_fwd_errors;
	uint64_t		 m_resumed;
	/* Re-attaching: the watcher thread and what vCPUs wait on. */
	int			 m_state_fd;	/* the device state page */
	char			*m_path;
	pthread_t		 m_watcher;
	bool			 m_watching;
	volatile bool		 m_unwatch;
	pthread_mutex_t		 m_lock;
	pthread_cond_t		 m_cond;
	uint64_t		 m_gen;		/* attaches so far */
	bool			 m_gave_up;
	uint64_t		 m_reattached;
};

static int
vmm_register_eventfds(struct vmm *m)
{
	struct kvm_ioeventfd io;
	int vm_fd = kvmvm_vm_fd(m->m_vm);

	m->m_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->m_kick_fd < 0)
		return -errno;
	memset(&io, 0, sizeof(io));
	io.addr = m->m_cfg.window_base + VMM_REG_DOORBELL;
	io.len = 4;
	io.datamatch = VMM_DOORBELL_KICK;
	io.fd = m->m_kick_fd;
	io.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (m->m_cfg.window_space == IOREQ_SPACE_PIO)
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	if (m->m_cfg.irqchip && m->m_cfg.irq_gsi != ATTACH_GSI_NONE) {
		struct kvm_irqfd irq;

		m->m_irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->m_irq_fd < 0)
			return -errno;
		memset(&irq, 0, sizeof(irq));
		irq.fd = (uint32_t)m->m_irq_fd;
		irq.gsi = m->m_cfg.irq_gsi;
		if (ioctl(vm_fd, KVM_IRQFD, &irq) < 0)
			return -errno;
	}
	return 0;
}

int
vmm_new(const struct vmm_cfg *cfg, struct vmm **vp)
{
	struct kvmvm_cfg vcfg;
	struct kvmguest_boot *b;
	struct vmm *m;
	unsigned i;
	int rc;

	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > VMM_MAX_VCPUS ||
	    cfg->mem_size < VMM_SCRATCH_GPA + (2u << 20) +
	    (uint64_t)cfg->nr_vcpus * VMM_STACK)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->m_cfg = *cfg;
	if (m->m_cfg.fwd_timeout_ms == 0)
		m->m_cfg.fwd_timeout_ms = 10000;
	m->m_kick_fd = m->m_irq_fd = m->m_sock = m->m_state_fd = -1;
	pthread_mutex_init(&m->m_lock, NULL);
	pthread_cond_init(&m->m_cond, NULL);
	/* The state page lives as long as the VM: every hcvsockd gets it. */
	m->m_state_fd = memfd_create("hcvsock-state", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING);
	if (m->m_state_fd < 0 ||
	    ftruncate(m->m_state_fd, ATTACH_STATE_PAGE) < 0 ||
	    fcntl(m->m_state_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		rc = -errno;
		goto err_free;
	}
	memset(&vcfg, 0, sizeof(vcfg));
	vcfg.mem_size = cfg->mem_size;
	vcfg.irqchip = cfg->irqchip;
	rc = kvmvm_new(&vcfg, &m->m_vm);
	if (rc < 0)
		goto err_free;
	for (i = 0; i < cfg->nr_vcpus; i++) {
		rc = kvmvm_vcpu_new(m->m_vm, i, &m->m_vcpus[i]);
		if (rc < 0)
			goto err_free;
		m->m_ctx[i].vc_vmm = m;
		m->m_ctx[i].vc_idx = i;
	}
	rc = attach_fwd_new(cfg->nr_vcpus, &m->m_fwd);
	if (rc < 0)
		goto err_free;
	attach_fwd_set_spin(m->m_fwd, cfg->fwd_spin_ns);
	if (cfg->notify == VMM_NOTIFY_EVENTFDS) {
		rc = vmm_register_eventfds(m);
		if (rc < 0)
			goto err_free;
	}
	b = vmm_boot(m);
	memset(b, 0, sizeof(*b));
	b->kb_magic = KVMGUEST_BOOT_MAGIC;
	b->kb_nr_vcpus = cfg->nr_vcpus;
	b->kb_window_kind = cfg->window_space == IOREQ_SPACE_MMIO ?
	    KVMGUEST_WINDOW_MMIO : KVMGUEST_WINDOW_PIO;
	b->kb_window_base = cfg->window_base;
	b->kb_irq_gsi = cfg->irqchip ? cfg->irq_gsi : ATTACH_GSI_NONE;
	b->kb_scratch_gpa = VMM_SCRATCH_GPA;
	b->kb_scratch_size = cfg->mem_size - VMM_SCRATCH_GPA -
	    (uint64_t)cfg->nr_vcpus * VMM_STACK;
	b->kb_cid = cfg->cid;
	*vp = m;
	return 0;

err_free:
	vmm_free(m);
	return rc;
}

void
vmm_free(struct vmm *m)
{
	if (m == NULL)
		return;
	vmm_detach(m);
	free(m->m_path);
	if (m->m_state_fd >= 0)
		close(m->m_state_fd);
	pthread_cond_destroy(&m->m_cond);
	pthread_mutex_destroy(&m->m_lock);
	attach_fwd_free(m->m_fwd);
	kvmvm_free(m->m_vm);
	if (m->m_kick_fd >= 0)
		close(m->m_kick_fd);
	if (m->m_irq_fd >= 0)
		close(m->m_irq_fd);
	free(m);
}

struct kvmvm *
vmm_vm(struct vmm *m)
{
	return m->m_vm;
}

struct kvmvm_vcpu *
vmm_vcpu(struct vmm *m, unsigned idx)
{
	return idx < m->m_cfg.nr_vcpus ? m->m_vcpus[idx] : NULL;
}

struct kvmguest_boot *
vmm_boot(struct vmm *m)
{
	return kvmvm_gpa(m->m_vm, KVMGUEST_BOOT_GPA, sizeof(struct kvmguest_boot));
}

int
vmm_load(struct vmm *m, const char *path)
{
	size_t len;
	int rc;

	rc = kvmvm_load_file(m->m_vm, KVMVM_CODE_GPA, path, &len);
	if (rc < 0)
		return rc;
	/* The program must end below the scratch area it is told is free. */
	return KVMVM_CODE_GPA + len <= VMM_SCRATCH_GPA ? 0 : -EFBIG;
}

void
vmm_fill_desc(struct vmm *m, struct attach_desc *d)
{
	unsigned i;

	attach_desc_init(d);
	snprintf(d->ad_name, sizeof(d->ad_name), "%s",
	    m->m_cfg.name != NULL ? m->m_cfg.name : "hcvsock-vmm");
	d->ad_cid = m->m_cfg.cid;
	d->ad_window_space = m->m_cfg.window_space;
	d->ad_window_base = m->m_cfg.window_base;
	d->ad_nr_regions = kvmvm_nr_regions(m->m_vm);
	for (i = 0; i < d->ad_nr_regions; i++) {
		struct kvmvm_region r;

		if (kvmvm_region(m->m_vm, i, &r) < 0)
			continue;
		d->ad_regions[i].ar_fd = r.fd;
		d->ad_regions[i].ar_gpa = r.gpa;
		d->ad_regions[i].ar_size = r.size;
		d->ad_regions[i].ar_offset = r.offset;
	}
	switch (m->m_cfg.notify) {
	case VMM_NOTIFY_VM:
		d->ad_vm_fd = kvmvm_vm_fd(m->m_vm);
		break;
	case VMM_NOTIFY_EVENTFDS:
		d->ad_kick_fd = m->m_kick_fd;
		if (m->m_irq_fd >= 0) {
			d->ad_irq_fd = m->m_irq_fd;
			d->ad_irq_gsi = m->m_cfg.irq_gsi;
		}
		break;
	case VMM_NOTIFY_NONE:
		break;
	}
	d->ad_state_fd = m->m_state_fd;
	attach_fwd_fill(m->m_fwd, d);
}

static void
vmm_note(void *arg, const char *why)
{
	(void)arg;
	fprintf(stderr, "hcvsock-vmm: re-attach attempt failed: %s\n", why);
}

static uint64_t
vmm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * The watcher: hcvsockd sends nothing after RESULT, so the attach socket
 * becoming readable or hung up means it went away.  Attach the same VM
 * again; vCPUs whose requests were left unanswered wait for this.
 */
static void *
vmm_watch(void *arg)
{
	struct vmm *m = arg;
	struct attach_desc d;
	char err[256];
	unsigned attempts;
	uint64_t t0;
	int sock, rc;

	while (!m->m_unwatch) {
		struct pollfd p = { .fd = m->m_sock, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0 || p.revents == 0)
			continue;
		t0 = vmm_now_ms();
		fprintf(stderr, "hcvsock-vmm: hcvsockd went away (attach socket "
		    "%s): re-attaching to %s for up to %d ms\n",
		    (p.revents & POLLHUP) ? "hung up" : "readable", m->m_path,
		    m->m_cfg.reattach_ms);
		vmm_fill_desc(m, &d);
		rc = attach_vmm_reattach(m->m_path, &d, m->m_cfg.reattach_ms,
		    &sock, &attempts, vmm_note, NULL, err, sizeof(err));
		pthread_mutex_lock(&m->m_lock);
		if (rc < 0) {
			/* The old socket stays: the forwarder keeps seeing it gone. */
			m->m_gave_up = true;
			pthread_cond_broadcast(&m->m_cond);
			pthread_mutex_unlock(&m->m_lock);
			fprintf(stderr, "hcvsock-vmm: gave up re-attaching: %s; the "
			    "guest sees no backend from now on\n", err);
			return NULL;
		}
		attach_fwd_set_peer(m->m_fwd, sock);
		close(m->m_sock);
		m->m_sock = sock;
		m->m_gen++;
		__atomic_fetch_add(&m->m_reattached, 1, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&m->m_cond);
		pthread_mutex_unlock(&m->m_lock);
		fprintf(stderr, "hcvsock-vmm: re-attached to %s as cid %" PRIu64
		    " after %" PRIu64 " ms (%u attempt%s)\n", m->m_path,
		    m->m_cfg.cid, vmm_now_ms() - t0, attempts,
		    attempts == 1 ? "" : "s");
	}
	return NULL;
}

int
vmm_attach(struct vmm *m, const char *path, char *err, size_t errlen)
{
	struct attach_desc d;
	int rc;

	vmm_detach(m);
	rc = attach_vmm_connect(path, &m->m_sock);
	if (rc < 0) {
		snprintf(err, errlen, "connect %s: %s", path, strerror(-rc));
		return rc;
	}
	vmm_fill_desc(m, &d);
	rc = attach_vmm_send(m->m_sock, &d, 10000, err, errlen);
	if (rc < 0) {
		vmm_detach(m);
		return rc;
	}
	attach_fwd_set_peer(m->m_fwd, m->m_sock);
	m->m_gen++;
	if (m->m_cfg.reattach_ms > 0) {
		free(m->m_path);
		m->m_path = strdup(path);
		m->m_unwatch = false;
		m->m_gave_up = false;
		if (m->m_path == NULL)
			return -ENOMEM;
		if (pthread_create(&m->m_watcher, NULL, vmm_watch, m) != 0)
			return -EAGAIN;
		m->m_watching = true;
	}
	return 0;
}

void
vmm_detach(struct vmm *m)
{
	if (m->m_watching) {
		m->m_unwatch = true;
		pthread_join(m->m_watcher, NULL);
		m->m_watching = false;
	}
	if (m->m_fwd != NULL)
		attach_fwd_set_peer(m->m_fwd, -1);
	if (m->m_sock >= 0)
		close(m->m_sock);
	m->m_sock = -1;
}

static bool
vmm_in_window(const struct vmm *m, enum ioreq_space sp, uint64_t addr,
    unsigned size)
{
	uint64_t len = sp == IOREQ_SPACE_PIO ? VMM_WINDOW_PIO_SIZE :
	    VMM_WINDOW_MMIO_SIZE;

	return sp == m->m_cfg.window_space && addr >= m->m_cfg.window_base &&
	    addr - m->m_cfg.window_base < len &&
	    size <= len - (addr - m->m_cfg.window_base);
}

/*
 * hcvsockd went away with this vCPU's request unanswered: wait for the
 * watcher to attach again (or give up), then for the next hcvsockd's
 * answer to the same request.  Returns the final result.
 */
static int
vmm_wait_reattach(struct vmm *m, unsigned idx, enum ioreq_space sp,
    uint64_t addr, unsigned size, bool is_write, uint64_t *data, uint64_t gen)
{
	struct timespec until;
	int rc = -ECONNRESET;
	bool moved;

	for (;;) {
		/* The watcher gives up by then; this is the last resort. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += m->m_cfg.reattach_ms / 1000 + 2;
		pthread_mutex_lock(&m->m_lock);
		while (m->m_gen == gen && !m->m_gave_up && !m->m_quit)
			if (pthread_cond_timedwait(&m->m_cond, &m->m_lock,
			    &until) != 0)
				break;
		moved = m->m_gen != gen;
		gen = m->m_gen;
		pthread_mutex_unlock(&m->m_lock);
		if (!moved || m->m_quit)
			break;
		rc = attach_fwd_resume(m->m_fwd, idx, data,
		    m->m_cfg.fwd_timeout_ms);
		if (rc == -ENOENT)
			rc = attach_fwd_access(m->m_fwd, idx, sp, addr, size,
			    is_write, data, m->m_cfg.fwd_timeout_ms);
		else if (rc == 0)
			__atomic_fetch_add(&m->m_resumed, 1, __ATOMIC_RELAXED);
		if (rc != -ECONNRESET)
			return rc;
	}
	/* Nobody will answer: the slot is the VMM's again. */
	attach_fwd_abandon(m->m_fwd, idx);
	return rc;
}

/* One element of an exit: forward it, count failures. */
static int
vmm_forward(struct vmm *m, unsigned idx, enum ioreq_space sp, uint64_t addr,
    unsigned size, bool is_write, uint64_t *data)
{
	uint64_t gen = __atomic_load_n(&m->m_gen, __ATOMIC_ACQUIRE);
	int rc;

	__atomic_fetch_add(&m->m_forwarded, 1, __ATOMIC_RELAXED);
	rc = attach_fwd_access(m->m_fwd, idx, sp, addr, size, is_write, data,
	    m->m_cfg.fwd_timeout_ms);
	if (rc == -ECONNRESET && m->m_watching)
		rc = vmm_wait_reattach(m, idx, sp, addr, size, is_write, data,
		    gen);
	if (rc < 0) {
		__atomic_fetch_add(&m->m_fwd_errors, 1, __ATOMIC_RELAXED);
		/* Like an absent backend: reads see all ones. */
		if (!is_write)
			*data = UINT64_MAX;
	}
	return rc;
}

static int
vmm_exit(struct kvmvm_vcpu *v, const struct kvmvm_exit *ex, void *arg)
{
	struct vmm_vcpu_ctx *ctx = arg;
	struct vmm *m = ctx->vc_vmm;
	struct kvm_run *run = kvmvm_vcpu_run_area(v);
	enum ioreq_space sp;
	uint64_t data;
	int rc;

	if (ex->ex_kind == KVMVM_EXIT_STOPPED)
		return m->m_quit ? -ECANCELED : 0;
	if (ex->ex_kind != KVMVM_EXIT_IO && ex->ex_kind != KVMVM_EXIT_MMIO) {
		fprintf(stderr, "vmm: vCPU %u: unexpected exit %u\n",
		    ctx->vc_idx, ex->ex_reason);
		return -EPROTO;
	}
	sp = ex->ex_kind == KVMVM_EXIT_IO ? IOREQ_SPACE_PIO : IOREQ_SPACE_MMIO;
	if (!vmm_in_window(m, sp, ex->ex_addr, ex->ex_size)) {
		fprintf(stderr, "vmm: vCPU %u: %s %s 0x%jx outside the window\n",
		    ctx->vc_idx, ex->ex_write ? "write" : "read",
		    sp == IOREQ_SPACE_PIO ? "port" : "MMIO",
		    (uintmax_t)ex->ex_addr);
		return -EPROTO;
	}
	if (ex->ex_kind == KVMVM_EXIT_IO && ex->ex_count > 1) {
		/* rep ins/outs: element by element, in the run area. */
		uint8_t *p = (uint8_t *)run + run->io.data_offset;
		uint32_t i;

		for (i = 0; i < ex->ex_count; i++, p += ex->ex_size) {
			data = 0;
			if (ex->ex_write)
				memcpy(&data, p, ex->ex_size);
			rc = vmm_forward(m, ctx->vc_idx, sp, ex->ex_addr,
			    ex->ex_size, ex->ex_write, &data);
			if (!ex->ex_write)
				memcpy(p, &data, ex->ex_size);
		}
		return 0;
	}
	data = ex->ex_data;
	if (ex->ex_kind == KVMVM_EXIT_MMIO && ex->ex_size != 1 &&
	    ex->ex_size != 2 && ex->ex_size != 4 && ex->ex_size != 8) {
		/* An odd-sized MMIO access: nothing claims it. */
		if (!ex->ex_write)
			kvmvm_vcpu_complete_read(v, UINT64_MAX);
		return 0;
	}
	rc = vmm_forward(m, ctx->vc_idx, sp, ex->ex_addr, ex->ex_size,
	    ex->ex_write, &data);
	if (!ex->ex_write)
		kvmvm_vcpu_complete_read(v, data);
	if (rc == -ECONNRESET) {
		/* hcvsockd is gone: the guest sees no backend, and goes on. */
		return 0;
	}
	if (rc == -ETIMEDOUT || rc == -EPROTO) {
		fprintf(stderr, "vmm: vCPU %u: hcvsockd did not answer (%s)\n",
		    ctx->vc_idx, strerror(-rc));
		return rc;
	}
	return 0;
}

int
vmm_run_vcpu(struct vmm *m, unsigned idx, unsigned timeout_ms, uint32_t *code)
{
	struct kvmvm_vcpu *v = vmm_vcpu(m, idx);
	uint64_t stack;
	int rc;

	if (v == NULL)
		return -EINVAL;
	/* As after a call: rsp + 8 is 16-byte aligned at the entry point. */
	stack = m->m_cfg.mem_size - (uint64_t)idx * VMM_STACK - 64 - 8;
	rc = kvmvm_vcpu_setup_user64(v, KVMVM_CODE_GPA, stack, idx,
	    KVMGUEST_BOOT_GPA);
	if (rc < 0)
		return rc;
	return kvmvm_run_simple(v, vmm_exit, &m->m_ctx[idx], timeout_ms, code);
}

int
vmm_run_vcpu_real(struct vmm *m, unsigned idx, uint16_t cs, uint16_t ip,
    uint16_t sp, unsigned timeout_ms, uint32_t *code)
{
	struct kvmvm_vcpu *v = vmm_vcpu(m, idx);
	int rc;

	if (v == NULL)
		return -EINVAL;
	rc = kvmvm_vcpu_setup_real(v, cs, ip, sp);
	if (rc < 0)
		return rc;
	return kvmvm_run_simple(v, vmm_exit, &m->m_ctx[idx], timeout_ms, code);
}

void
vmm_stop(struct vmm *m)
{
	unsigned i;

	m->m_quit = true;
	pthread_mutex_lock(&m->m_lock);
	pthread_cond_broadcast(&m->m_cond);
	pthread_mutex_unlock(&m->m_lock);
	for (i = 0; i < m->m_cfg.nr_vcpus; i++)
		kvmvm_vcpu_stop(m->m_vcpus[i]);
}

void
vmm_get_stats(const struct vmm *m, struct vmm_stats *st)
{
	struct attach_fwd_stats fs;

	st->vs_forwarded = __atomic_load_n(&m->m_forwarded, __ATOMIC_RELAXED);
	st->vs_fwd_errors = __atomic_load_n(&m->m_fwd_errors, __ATOMIC_RELAXED);
	st->vs_resumed = __atomic_load_n(&m->m_resumed, __ATOMIC_RELAXED);
	st->vs_reattached = __atomic_load_n(&m->m_reattached, __ATOMIC_RELAXED);
	attach_fwd_get_stats(m->m_fwd, &fs);
	st->vs_unkicked = fs.fs_unkicked;
}
