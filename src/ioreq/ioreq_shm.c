/* SPDX-License-Identifier: MIT */
/* The shm request source: Xen's page layout in a memfd, eventfd doorbells, KVM's ioeventfd and irqfd. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "hcvsock_abi.h"
#include "notify/notify.h"
#include "ioreq/ioreq_impl.h"

struct ioreq_shm {
	struct ioreq_source	 sh_src;
	void			*sh_page;
	void			*sh_bufpage;
	int			 sh_vm_fd;	/* dup; outlives the notifier */
};

static int
shm_map_page(int fd, void **pp)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	/* Smaller than a page would SIGBUS on the first access. */
	if (st.st_size < (off_t)IOREQ_PAGE_SIZE)
		return -EINVAL;
	p = mmap(NULL, IOREQ_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	if (p == MAP_FAILED)
		return -errno;
	*pp = p;
	return 0;
}

/* Bind rx and/or tx to the notifier; the dups belong to it on success. */
static int
shm_bind(struct notifier *n, int rx, int tx, uint32_t *local)
{
	struct notify_bind b = { .kind = NOTIFY_BIND_EVENTFDS, .rx_fd = -1,
	    .tx_fd = -1 };
	int rc;

	if (rx >= 0 && (b.rx_fd = fcntl(rx, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	if (tx >= 0 && (b.tx_fd = fcntl(tx, F_DUPFD_CLOEXEC, 0)) < 0) {
		rc = -errno;
		if (b.rx_fd >= 0)
			close(b.rx_fd);
		return rc;
	}
	rc = notifier_bind(n, &b, local);
	if (rc < 0) {
		if (b.rx_fd >= 0)
			close(b.rx_fd);
		if (b.tx_fd >= 0)
			close(b.tx_fd);
	}
	return rc;
}

static int
shm_enable(struct ioreq_source *s)
{
	ioreq_engine_set_stopped(s->src_engine, false);
	(void)ioreq_engine_service_all(s->src_engine);
	return 0;
}

static int
shm_restrict(struct ioreq_source *s)
{
	/* Nothing to confine: the fds already are the whole reach. */
	return 0;
}

static int
shm_quiesce(struct ioreq_source *s)
{
	(void)ioreq_engine_service_all(s->src_engine);
	ioreq_engine_set_stopped(s->src_engine, true);
	return 0;
}

/*
 * The producer publishes READY, then (full barrier) reads the mark; we
 * clear the mark, then (full barrier) read the states.  One of the two
 * sees the other's store, so a request whose kick was skipped is seen.
 */
static void
shm_set_watched(struct ioreq_source *s, bool on)
{
	struct ioreq_shm *sh = (struct ioreq_shm *)s;
	struct ioreq *slots = sh->sh_page;
	unsigned i;

	for (i = 0; i < s->src_nr_vcpus; i++)
		__atomic_store_n(&slots[i]._pad0,
		    (uint16_t)(on ? IOREQ_SHM_WATCHED : 0), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void
shm_close(struct ioreq_source *s, bool destroy)
{
	struct ioreq_shm *sh = (struct ioreq_shm *)s;

	/* Whoever serves the page next must be kicked until it says so. */
	if (sh->sh_page != NULL)
		shm_set_watched(s, false);
	ioreq_engine_free(s->src_engine);
	/* Closing the notifier deassigns the ioeventfd and irqfds in KVM. */
	if (s->src_notifier != NULL)
		ioreq_source_release_irq(s);
	notifier_close(s->src_notifier);
	if (sh->sh_vm_fd >= 0)
		close(sh->sh_vm_fd);
	ioreq_mem_free(s->src_mem);
	if (sh->sh_bufpage != NULL)
		munmap(sh->sh_bufpage, IOREQ_PAGE_SIZE);
	if (sh->sh_page != NULL)
		munmap(sh->sh_page, IOREQ_PAGE_SIZE);
	free(sh);
}

static const struct ioreq_source_ops shm_ops = {
	.kind = "shm",
	.enable = shm_enable,
	.restrict_ = shm_restrict,
	.quiesce = shm_quiesce,
	.close = shm_close,
	.set_watched = shm_set_watched,
};

int
ioreq_shm_open(const struct ioreq_shm_cfg *cfg, struct ioreq_source **sp)
{
	struct ioreq_shm *sh;
	struct ioreq_source *s;
	unsigned i;
	uint32_t local;
	int rc;

	*sp = NULL;
	if (cfg == NULL || cfg->page_fd < 0 || cfg->nr_vcpus == 0 ||
	    cfg->nr_vcpus > IOREQ_SHM_MAX_VCPUS || cfg->vcpus == NULL ||
	    cfg->nr_regions > IOREQ_SHM_MAX_REGIONS ||
	    (cfg->nr_regions > 0 && cfg->regions == NULL) ||
	    (cfg->bufpage_fd >= 0) != (cfg->buf_kick_fd >= 0))
		return -EINVAL;
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL)
		return -ENOMEM;
	s = &sh->sh_src;
	ioreq_source_init(s, &shm_ops);
	s->src_nr_vcpus = cfg->nr_vcpus;
	sh->sh_vm_fd = -1;

	rc = shm_map_page(cfg->page_fd, &sh->sh_page);
	if (rc < 0)
		goto err_close;
	/* A process that served the page before may have died polling it. */
	shm_set_watched(s, false);
	if (cfg->bufpage_fd >= 0) {
		rc = shm_map_page(cfg->bufpage_fd, &sh->sh_bufpage);
		if (rc < 0)
			goto err_close;
	}
	rc = ioreq_mem_new_fd(&s->src_mem);
	if (rc < 0)
		goto err_close;
	for (i = 0; i < cfg->nr_regions; i++) {
		const struct ioreq_shm_region *r = &cfg->regions[i];

		rc = ioreq_mem_add_region(s->src_mem, r->fd, r->gpa, r->size,
		    r->offset);
		if (rc < 0)
			goto err_close;
	}
	if (cfg->kvm != NULL && cfg->kvm->vm_fd >= 0) {
		sh->sh_vm_fd = fcntl(cfg->kvm->vm_fd, F_DUPFD_CLOEXEC, 0);
		if (sh->sh_vm_fd < 0) {
			rc = -errno;
			goto err_close;
		}
		rc = notifier_open("kvm", sh->sh_vm_fd, &s->src_notifier);
		s->src_has_vm = true;
		s->src_irq_modes |= 1u << HCVS_IRQ_GSI;
	} else {
		rc = notifier_open("loop", -1, &s->src_notifier);
	}
	if (rc < 0)
		goto err_close;
	rc = ioreq_engine_new(sh->sh_page, cfg->nr_vcpus, sh->sh_bufpage,
	    s->src_notifier, s->src_mem, &s->src_engine);
	if (rc < 0)
		goto err_close;
	ioreq_engine_set_stopped(s->src_engine, true);
	for (i = 0; i < cfg->nr_vcpus; i++) {
		rc = shm_bind(s->src_notifier, cfg->vcpus[i].kick_fd,
		    cfg->vcpus[i].done_fd, &local);
		if (rc < 0)
			goto err_close;
		rc = ioreq_engine_set_port(s->src_engine, i, local);
		if (rc < 0)
			goto err_close;
	}
	if (cfg->buf_kick_fd >= 0) {
		rc = shm_bind(s->src_notifier, cfg->buf_kick_fd, -1, &local);
		if (rc < 0)
			goto err_close;
		ioreq_engine_set_buf_port(s->src_engine, local);
	}
	if (cfg->kvm != NULL && cfg->kvm->doorbell_fd >= 0) {
		rc = shm_bind(s->src_notifier, cfg->kvm->doorbell_fd, -1,
		    &s->src_db_port);
		if (rc < 0)
			goto err_close;
	}
	if (cfg->kvm != NULL && cfg->kvm->irq_fd >= 0) {
		rc = shm_bind(s->src_notifier, -1, cfg->kvm->irq_fd,
		    &s->src_fixed_irq_port);
		if (rc < 0)
			goto err_close;
		s->src_fixed_gsi = cfg->kvm->irq_gsi;
		s->src_irq_modes |= 1u << HCVS_IRQ_GSI;
	}
	*sp = s;
	return 0;

err_close:
	shm_close(s, true);
	return rc;
}
