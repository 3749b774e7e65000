/* SPDX-License-Identifier: MIT */
/* A minimal KVM virtual machine with memfd-backed RAM, for tests and the reference VMM. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kvmvm.h"

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define KVMVM_SIG		(SIGRTMIN + 5)

#define PTE_P		0x001ull
#define PTE_RW		0x002ull
#define PTE_US		0x004ull
#define PTE_PS		0x080ull

#define CR0_PE		0x00000001ull
#define CR4_PAE		0x00000020ull
#define CR4_OSFXSR	0x00000200ull
#define CR4_OSXMMEXCPT	0x00000400ull

struct kvmvm_mem {
	uint64_t	mm_gpa;
	uint64_t	mm_size;
	uint64_t	mm_offset;
	uint8_t		*mm_host;
};

struct kvmvm {
	int		vm_kvm_fd;
	int		vm_fd;
	int		vm_mem_fd;
	uint64_t	vm_mem_total;	/* bytes of the memfd in use */
	unsigned	vm_nr_mem;
	struct kvmvm_mem vm_mem[KVMVM_MAX_REGIONS];
	bool		vm_tables_done;
	int		vm_run_size;
	struct kvm_cpuid2 *vm_cpuid;
	unsigned	vm_nr_vcpus;
	struct kvmvm_vcpu *vm_vcpus[64];
};

struct kvmvm_vcpu {
	struct kvmvm	*v_vm;
	unsigned	 v_id;
	int		 v_fd;
	struct kvm_run	*v_run;
	atomic_bool	 v_stop;
	atomic_bool	 v_in_run;
	pthread_t	 v_thread;
	/* Pending read: where the value goes. */
	enum kvmvm_exit_kind v_pending;
};

static pthread_once_t kvmvm_sig_once = PTHREAD_ONCE_INIT;

static void
kvmvm_sig_handler(int sig)
{
	(void)sig;
}

static void
kvmvm_sig_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kvmvm_sig_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return EINTR. */
	sigaction(KVMVM_SIG, &sa, NULL);
}

int
kvmvm_probe(void)
{
	int fd, rc;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (rc != KVM_API_VERSION)
		rc = rc < 0 ? -errno : -ENOTSUP;
	else
		rc = 0;
	close(fd);
	return rc;
}

static int
kvmvm_set_slot(struct kvmvm *vm, unsigned idx)
{
	struct kvm_userspace_memory_region r;
	const struct kvmvm_mem *m = &vm->vm_mem[idx];

	memset(&r, 0, sizeof(r));
	r.slot = idx;
	r.guest_phys_addr = m->mm_gpa;
	r.memory_size = m->mm_size;
	r.userspace_addr = (uint64_t)(uintptr_t)m->mm_host;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}

static int
kvmvm_map_region(struct kvmvm *vm, uint64_t gpa, uint64_t size)
{
	struct kvmvm_mem *m;
	void *p;
	int rc;

	if (vm->vm_nr_mem >= KVMVM_MAX_REGIONS)
		return -ENOSPC;
	if (ftruncate(vm->vm_mem_fd, (off_t)(vm->vm_mem_total + size)) < 0)
		return -errno;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vm_mem_fd,
	    (off_t)vm->vm_mem_total);
	if (p == MAP_FAILED)
		return -errno;
	m = &vm->vm_mem[vm->vm_nr_mem];
	m->mm_gpa = gpa;
	m->mm_size = size;
	m->mm_offset = vm->vm_mem_total;
	m->mm_host = p;
	rc = kvmvm_set_slot(vm, vm->vm_nr_mem);
	if (rc < 0) {
		munmap(p, size);
		memset(m, 0, sizeof(*m));
		return rc;
	}
	vm->vm_mem_total += size;
	return (int)vm->vm_nr_mem++;
}

int
kvmvm_new(const struct kvmvm_cfg *cfg, struct kvmvm **vmp)
{
	struct kvmvm *vm;
	int rc, n;

	if (cfg->mem_size < KVMVM_MIN_MEM || cfg->mem_size > KVMVM_MAX_MEM ||
	    (cfg->mem_size & ((2ull << 20) - 1)) != 0)
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return -ENOMEM;
	vm->vm_fd = vm->vm_mem_fd = -1;
	vm->vm_kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->vm_kvm_fd < 0) {
		rc = -errno;
		goto err_free;
	}
	vm->vm_fd = ioctl(vm->vm_kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		rc = -errno;
		goto err_free;
	}
	vm->vm_run_size = ioctl(vm->vm_kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vm_run_size < (int)sizeof(struct kvm_run)) {
		rc = vm->vm_run_size < 0 ? -errno : -EPROTO;
		goto err_free;
	}
	/* Some KVMs want the TSS address set before any vCPU runs real mode. */
	(void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	if (cfg->irqchip && ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		rc = -errno;
		goto err_free;
	}
	vm->vm_mem_fd = memfd_create("kvmvm-ram", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING);
	if (vm->vm_mem_fd < 0) {
		rc = -errno;
		goto err_free;
	}
	rc = kvmvm_map_region(vm, 0, cfg->mem_size);
	if (rc < 0)
		goto err_free;
	/*
	 * Growing stays allowed (kvmvm_add_region); shrinking would pull
	 * memory from under hcvsockd, which refuses unsealed memfds.
	 */
	if (fcntl(vm->vm_mem_fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		rc = -errno;
		goto err_free;
	}

	/* The vCPUs get what KVM supports: SSE, long mode, and so on. */
	for (n = 64; n <= 4096; n *= 2) {
		vm->vm_cpuid = calloc(1, sizeof(*vm->vm_cpuid) +
		    (size_t)n * sizeof(struct kvm_cpuid_entry2));
		if (vm->vm_cpuid == NULL) {
			rc = -ENOMEM;
			goto err_free;
		}
		vm->vm_cpuid->nent = (uint32_t)n;
		if (ioctl(vm->vm_kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->vm_cpuid) == 0)
			break;
		rc = -errno;
		free(vm->vm_cpuid);
		vm->vm_cpuid = NULL;
		if (rc != -E2BIG)
			break;
	}
	*vmp = vm;
	return 0;

err_free:
	kvmvm_free(vm);
	return rc;
}

void
kvmvm_free(struct kvmvm *vm)
{
	unsigned i;

	if (vm == NULL)
		return;
	for (i = 0; i < vm->vm_nr_vcpus; i++) {
		struct kvmvm_vcpu *v = vm->vm_vcpus[i];

		if (v->v_run != NULL)
			munmap(v->v_run, (size_t)vm->vm_run_size);
		if (v->v_fd >= 0)
			close(v->v_fd);
		free(v);
	}
	for (i = 0; i < vm->vm_nr_mem; i++)
		munmap(vm->vm_mem[i].mm_host, vm->vm_mem[i].mm_size);
	if (vm->vm_mem_fd >= 0)
		close(vm->vm_mem_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->vm_kvm_fd >= 0)
		close(vm->vm_kvm_fd);
	free(vm->vm_cpuid);
	free(vm);
}

int
kvmvm_vm_fd(const struct kvmvm *vm)
{
	return vm->vm_fd;
}

int
kvmvm_mem_fd(const struct kvmvm *vm)
{
	return vm->vm_mem_fd;
}

int
kvmvm_add_region(struct kvmvm *vm, uint64_t gpa, uint64_t size)
{
	unsigned i;

	if (size == 0 || ((gpa | size) & ((2ull << 20) - 1)) != 0 ||
	    gpa > KVMVM_MAX_MEM || size > KVMVM_MAX_MEM - gpa)
		return -EINVAL;
	for (i = 0; i < vm->vm_nr_mem; i++) {
		const struct kvmvm_mem *m = &vm->vm_mem[i];

		if (gpa < m->mm_gpa + m->mm_size && m->mm_gpa < gpa + size)
			return -EEXIST;
	}
	return kvmvm_map_region(vm, gpa, size);
}

unsigned
kvmvm_nr_regions(const struct kvmvm *vm)
{
	return vm->vm_nr_mem;
}

int
kvmvm_region(const struct kvmvm *vm, unsigned idx, struct kvmvm_region *r)
{
	if (idx >= vm->vm_nr_mem)
		return -ENOENT;
	r->fd = vm->vm_mem_fd;
	r->gpa = vm->vm_mem[idx].mm_gpa;
	r->size = vm->vm_mem[idx].mm_size;
	r->offset = vm->vm_mem[idx].mm_offset;
	return 0;
}

void *
kvmvm_gpa(const struct kvmvm *vm, uint64_t gpa, size_t len)
{
	unsigned i;

	for (i = 0; i < vm->vm_nr_mem; i++) {
		const struct kvmvm_mem *m = &vm->vm_mem[i];

		if (gpa >= m->mm_gpa && gpa - m->mm_gpa <= m->mm_size &&
		    len <= m->mm_size - (gpa - m->mm_gpa))
			return m->mm_host + (gpa - m->mm_gpa);
	}
	return NULL;
}

int
kvmvm_load(struct kvmvm *vm, uint64_t gpa, const void *buf, size_t len)
{
	void *p = kvmvm_gpa(vm, gpa, len);

	if (p == NULL)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

int
kvmvm_load_file(struct kvmvm *vm, uint64_t gpa, const char *path,
    size_t *lenp)
{
	struct stat st;
	uint8_t *p;
	size_t done = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	p = kvmvm_gpa(vm, gpa, (size_t)st.st_size);
	if (p == NULL || st.st_size <= 0) {
		rc = st.st_size <= 0 ? -ENOEXEC : -EFBIG;
		goto out;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, p + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out;
		}
		done += (size_t)n;
	}
	if (lenp != NULL)
		*lenp = done;
out:
	close(fd);
	return rc;
}

int
kvmvm_vcpu_new(struct kvmvm *vm, unsigned id, struct kvmvm_vcpu **vp)
{
	struct kvmvm_vcpu *v;
	void *p;
	int rc;

	if (vm->vm_nr_vcpus >= ARRAY_SIZE(vm->vm_vcpus))
		return -ENOSPC;
	pthread_once(&kvmvm_sig_once, kvmvm_sig_install);
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->v_vm = vm;
	v->v_id = id;
	v->v_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->v_fd < 0) {
		rc = -errno;
		free(v);
		return rc;
	}
	p = mmap(NULL, (size_t)vm->vm_run_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, v->v_fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		close(v->v_fd);
		free(v);
		return rc;
	}
	v->v_run = p;
	if (vm->vm_cpuid != NULL &&
	    ioctl(v->v_fd, KVM_SET_CPUID2, vm->vm_cpuid) < 0) {
		rc = -errno;
		munmap(p, (size_t)vm->vm_run_size);
		close(v->v_fd);
		free(v);
		return rc;
	}
	vm->vm_vcpus[vm->vm_nr_vcpus++] = v;
	*vp = v;
	return 0;
}

struct kvm_run *
kvmvm_vcpu_run_area(struct kvmvm_vcpu *v)
{
	return v->v_run;
}

/* GDT, TSS and the 4 GiB identity map, written once into slot 0. */
static int
kvmvm_write_tables(struct kvmvm *vm)
{
	uint64_t *gdt, *pml4, *pdpt, *pd;
	uint8_t *tss;
	uint64_t tss_base = KVMVM_TSS_GPA;
	unsigned i;

	gdt = kvmvm_gpa(vm, KVMVM_GDT_GPA, 0x1000);
	tss = kvmvm_gpa(vm, KVMVM_TSS_GPA, KVMVM_TSS_SIZE);
	pml4 = kvmvm_gpa(vm, KVMVM_PML4_GPA, 0x1000);
	pdpt = kvmvm_gpa(vm, KVMVM_PDPT_GPA, 0x1000);
	pd = kvmvm_gpa(vm, KVMVM_PD_GPA, 4 * 0x1000);
	if (gdt == NULL || tss == NULL || pml4 == NULL || pdpt == NULL ||
	    pd == NULL)
		return -EFAULT;
	memset(gdt, 0, 0x1000);
	gdt[1] = 0x00af9b000000ffffull;	/* 0x08 kernel code, 64-bit */
	gdt[2] = 0x00cf93000000ffffull;	/* 0x10 kernel data */
	gdt[4] = 0x00cffb000000ffffull;	/* 0x23 user code, 32-bit */
	gdt[5] = 0x00cff3000000ffffull;	/* 0x2b user data */
	gdt[6] = 0x00affb000000ffffull;	/* 0x33 user code, 64-bit */
	/* 0x40: available 64-bit TSS. */
	gdt[8] = (KVMVM_TSS_LIMIT & 0xffff) | ((tss_base & 0xffffff) << 16) |
	    (0x89ull << 40) | ((uint64_t)(KVMVM_TSS_LIMIT >> 16) << 48) |
	    ((tss_base >> 24 & 0xff) << 56);
	gdt[9] = tss_base >> 32;
	/*
	 * An all-zero I/O permission bitmap (plus the 0xff terminator) opens
	 * every port to CPL 3: paravirtual KVM checks the bitmap, not IOPL.
	 */
	memset(tss, 0, KVMVM_TSS_SIZE);
	tss[102] = 104;
	tss[104 + 8192] = 0xff;

	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = KVMVM_PDPT_GPA | PTE_P | PTE_RW | PTE_US;
	for (i = 0; i < 4; i++)
		pdpt[i] = (KVMVM_PD_GPA + i * 0x1000ull) | PTE_P | PTE_RW |
		    PTE_US;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_US | PTE_PS;
	vm->vm_tables_done = true;
	return 0;
}

static void
kvmvm_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t dpl,
    bool l, bool db)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = dpl;
	s->db = db;
	s->s = 1;
	s->l = l;
	s->g = 1;
}

int
kvmvm_vcpu_setup_user64(struct kvmvm_vcpu *v, uint64_t rip, uint64_t rsp,
    uint64_t rdi, uint64_t rsi)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int rc;

	if (!v->v_vm->vm_tables_done) {
		rc = kvmvm_write_tables(v->v_vm);
		if (rc < 0)
			return rc;
	}
	if (ioctl(v->v_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	kvmvm_seg(&sregs.cs, KVMVM_USER_CS, 0xb, 3, true, false);
	kvmvm_seg(&sregs.ss, KVMVM_USER_SS, 0x3, 3, false, true);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = KVMVM_TSS_GPA;
	sregs.tr.limit = KVMVM_TSS_LIMIT;
	sregs.tr.selector = 0x40;
	sregs.tr.type = 0xb;		/* busy 64-bit TSS */
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.type = 0x2;
	sregs.ldt.unusable = 1;
	sregs.gdt.base = KVMVM_GDT_GPA;
	sregs.gdt.limit = 10 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x80050033ull;
	sregs.cr3 = KVMVM_PML4_GPA;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs.efer = 0xd01;
	if (ioctl(v->v_fd, KVM_SET_SREGS, &sregs) < 0) {
		/* Retry with CR4.PAE alone, the minimum kvm-here.md names. */
		sregs.cr4 = CR4_PAE;
		if (ioctl(v->v_fd, KVM_SET_SREGS, &sregs) < 0)
			return -errno;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rsp = rsp;
	regs.rdi = rdi;
	regs.rsi = rsi;
	/* IOPL 3 as well, for KVMs that check it before the bitmap. */
	regs.rflags = 0x3002;
	if (ioctl(v->v_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int
kvmvm_vcpu_setup_real(struct kvmvm_vcpu *v, uint16_t cs, uint16_t ip,
    uint16_t sp)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->v_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs.selector = cs;
	sregs.cs.base = (uint64_t)cs << 4;
	sregs.ss.selector = sregs.ds.selector = sregs.es.selector = 0;
	sregs.ss.base = sregs.ds.base = sregs.es.base = 0;
	sregs.fs.selector = sregs.gs.selector = 0;
	sregs.fs.base = sregs.gs.base = 0;
	sregs.cr0 &= ~(CR0_PE | 0x80000000ull);
	if (ioctl(v->v_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = ip;
	regs.rsp = sp;
	regs.rflags = 0x2;
	if (ioctl(v->v_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int
kvmvm_vcpu_run(struct kvmvm_vcpu *v, struct kvmvm_exit *ex)
{
	struct kvm_run *run = v->v_run;
	int rc;

	memset(ex, 0, sizeof(*ex));
	v->v_pending = KVMVM_EXIT_OTHER;
	v->v_thread = pthread_self();
	atomic_store(&v->v_in_run, true);
	if (atomic_load(&v->v_stop))
		rc = -EINTR;
	else
		rc = ioctl(v->v_fd, KVM_RUN, 0) < 0 ? -errno : 0;
	atomic_store(&v->v_in_run, false);
	if (rc == -EINTR || rc == -EAGAIN) {
		atomic_store(&v->v_stop, false);
		run->immediate_exit = 0;
		ex->ex_kind = KVMVM_EXIT_STOPPED;
		ex->ex_reason = KVM_EXIT_INTR;
		return 0;
	}
	if (rc < 0)
		return rc;
	ex->ex_reason = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		const uint8_t *d = (const uint8_t *)run + run->io.data_offset;

		if (run->io.data_offset + (uint64_t)run->io.size *
		    run->io.count > (uint64_t)v->v_vm->vm_run_size)
			return -EPROTO;
		ex->ex_kind = KVMVM_EXIT_IO;
		ex->ex_write = run->io.direction == KVM_EXIT_IO_OUT;
		ex->ex_addr = run->io.port;
		ex->ex_size = run->io.size;
		ex->ex_count = run->io.count;
		if (ex->ex_write)
			memcpy(&ex->ex_data, d, MIN(run->io.size, 8u));
		else
			v->v_pending = KVMVM_EXIT_IO;
		break;
	}
	case KVM_EXIT_MMIO:
		ex->ex_kind = KVMVM_EXIT_MMIO;
		ex->ex_write = run->mmio.is_write != 0;
		ex->ex_addr = run->mmio.phys_addr;
		ex->ex_size = MIN(run->mmio.len, 8u);
		ex->ex_count = 1;
		if (ex->ex_write)
			memcpy(&ex->ex_data, run->mmio.data, ex->ex_size);
		else
			v->v_pending = KVMVM_EXIT_MMIO;
		break;
	case KVM_EXIT_HLT:
		ex->ex_kind = KVMVM_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		ex->ex_kind = KVMVM_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_INTR:
		atomic_store(&v->v_stop, false);
		run->immediate_exit = 0;
		ex->ex_kind = KVMVM_EXIT_STOPPED;
		break;
	default:
		ex->ex_kind = KVMVM_EXIT_OTHER;
		break;
	}
	return 0;
}

void
kvmvm_vcpu_complete_read(struct kvmvm_vcpu *v, uint64_t val)
{
	struct kvm_run *run = v->v_run;
	uint32_t i;

	if (v->v_pending == KVMVM_EXIT_IO) {
		uint8_t *d = (uint8_t *)run + run->io.data_offset;

		for (i = 0; i < run->io.count; i++)
			memcpy(d + (size_t)i * run->io.size, &val,
			    MIN(run->io.size, 8u));
	} else if (v->v_pending == KVMVM_EXIT_MMIO) {
		memcpy(run->mmio.data, &val, MIN(run->mmio.len, 8u));
	}
	v->v_pending = KVMVM_EXIT_OTHER;
}

void
kvmvm_vcpu_stop(struct kvmvm_vcpu *v)
{
	atomic_store(&v->v_stop, true);
	v->v_run->immediate_exit = 1;
	if (atomic_load(&v->v_in_run))
		pthread_kill(v->v_thread, KVMVM_SIG);
}

struct kvmvm_watchdog {
	struct kvmvm_vcpu	*wd_vcpu;
	pthread_mutex_t		 wd_lock;
	pthread_cond_t		 wd_cond;
	bool			 wd_done;
	bool			 wd_fired;
	unsigned		 wd_ms;
};

static void *
kvmvm_watchdog_main(void *arg)
{
	struct kvmvm_watchdog *wd = arg;
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += wd->wd_ms / 1000;
	ts.tv_nsec += (long)(wd->wd_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&wd->wd_lock);
	while (!wd->wd_done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&wd->wd_cond, &wd->wd_lock, &ts);
	if (!wd->wd_done) {
		wd->wd_fired = true;
		kvmvm_vcpu_stop(wd->wd_vcpu);
	}
	pthread_mutex_unlock(&wd->wd_lock);
	return NULL;
}

int
kvmvm_run_simple(struct kvmvm_vcpu *v, kvmvm_exit_fn fn, void *arg,
    unsigned timeout_ms, uint32_t *code)
{
	struct kvmvm_watchdog wd;
	struct kvmvm_exit ex;
	pthread_condattr_t ca;
	pthread_t th;
	char line[256];
	size_t llen = 0;
	int rc;

	memset(&wd, 0, sizeof(wd));
	wd.wd_vcpu = v;
	wd.wd_ms = timeout_ms;
	pthread_mutex_init(&wd.wd_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd.wd_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The watchdog signals this thread only while it runs the vCPU. */
	v->v_thread = pthread_self();
	if (timeout_ms > 0 &&
	    pthread_create(&th, NULL, kvmvm_watchdog_main, &wd) != 0) {
		rc = -EAGAIN;
		goto out_destroy;
	}
	for (;;) {
		rc = kvmvm_vcpu_run(v, &ex);
		if (rc < 0)
			break;
		if (ex.ex_kind == KVMVM_EXIT_IO && ex.ex_write &&
		    ex.ex_addr == KVMVM_PORT_EXIT) {
			*code = (uint32_t)ex.ex_data;
			rc = 0;
			break;
		}
		if (ex.ex_kind == KVMVM_EXIT_IO && ex.ex_write &&
		    ex.ex_addr == KVMVM_PORT_CONSOLE && ex.ex_size == 1) {
			char c = (char)ex.ex_data;

			if (c != '\n' && llen < sizeof(line) - 1)
				line[llen++] = c;
			if (c == '\n' || llen == sizeof(line) - 1) {
				line[llen] = '\0';
				fprintf(stderr, "guest: %s\n", line);
				llen = 0;
			}
			continue;
		}
		if (ex.ex_kind == KVMVM_EXIT_STOPPED) {
			bool fired;

			pthread_mutex_lock(&wd.wd_lock);
			fired = wd.wd_fired;
			pthread_mutex_unlock(&wd.wd_lock);
			if (fired) {
				rc = -ETIMEDOUT;
				break;
			}
		}
		if (fn == NULL) {
			if (ex.ex_kind == KVMVM_EXIT_STOPPED)
				continue;
			rc = -EPROTO;
			break;
		}
		rc = fn(v, &ex, arg);
		if (rc != 0)
			break;
	}
	if (timeout_ms > 0) {
		pthread_mutex_lock(&wd.wd_lock);
		wd.wd_done = true;
		pthread_cond_signal(&wd.wd_cond);
		pthread_mutex_unlock(&wd.wd_lock);
		pthread_join(th, NULL);
		/* A stop that raced with the end must not leak into the next run. */
		atomic_store(&v->v_stop, false);
		v->v_run->immediate_exit = 0;
	}
out_destroy:
	pthread_cond_destroy(&wd.wd_cond);
	pthread_mutex_destroy(&wd.wd_lock);
	return rc;
}
