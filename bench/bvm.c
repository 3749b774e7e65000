/* SPDX-License-Identifier: MIT */
/* A one-vCPU native user-mode KVM guest for the benchmark's KVM floors. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench/bvm.h"

#define GDT_GPA		0x1000ull
#define PML4_GPA	0x3000ull
#define PDPT_GPA	0x4000ull
#define PD_GPA		0x5000ull
#define TSS_GPA		0x9000ull
#define TSS_LIMIT	(104u + 8192u)

static void
bvm_close_all(struct bvm *vm)
{
	if (vm->run != NULL && vm->run != MAP_FAILED)
		munmap(vm->run, vm->run_size);
	if (vm->mem != NULL && vm->mem != MAP_FAILED)
		munmap(vm->mem, BVM_MEM_SIZE);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->run = NULL;
	vm->mem = NULL;
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = vm->mem_fd = -1;
}

void
bvm_destroy(struct bvm *vm)
{
	bvm_close_all(vm);
}

static int
bvm_cpuid(struct bvm *vm)
{
	struct kvm_cpuid2 *c;
	int n = 64, rc;

	/* Long mode is refused unless the guest's CPUID shows LM. */
	for (;;) {
		c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
		if (c == NULL)
			return -ENOMEM;
		c->nent = (uint32_t)n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		rc = -errno;
		free(c);
		if (rc != -E2BIG || n >= 1024)
			return rc;
		n *= 2;
	}
	rc = ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return rc;
}

int
bvm_create(struct bvm *vm)
{
	struct kvm_userspace_memory_region mr;
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = vm->mem_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -ENODEV;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		rc = -ENODEV;
		goto err;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		goto err_errno;
	vm->mem_fd = memfd_create("bvm-ram", MFD_CLOEXEC);
	if (vm->mem_fd < 0 || ftruncate(vm->mem_fd, BVM_MEM_SIZE) < 0)
		goto err_errno;
	vm->mem = mmap(NULL, BVM_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vm->mem_fd, 0);
	if (vm->mem == MAP_FAILED)
		goto err_errno;
	memset(&mr, 0, sizeof(mr));
	mr.guest_phys_addr = 0;
	mr.memory_size = BVM_MEM_SIZE;
	mr.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		goto err_errno;
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		goto err_errno;
	rc = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (rc < 0)
		goto err_errno;
	vm->run_size = (size_t)rc;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		goto err_errno;
	rc = bvm_cpuid(vm);
	if (rc < 0)
		goto err;
	return 0;
err_errno:
	rc = -errno;
err:
	bvm_close_all(vm);
	return rc;
}

static void
bvm_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int l, int db)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = 3;
	s->s = 1;
	s->l = (uint8_t)l;
	s->db = (uint8_t)db;
	s->g = 1;
}

static void
bvm_tables(struct bvm *vm)
{
	uint64_t *gdt = bvm_gpa(vm, GDT_GPA), *pml4 = bvm_gpa(vm, PML4_GPA);
	uint64_t *pdpt = bvm_gpa(vm, PDPT_GPA), *pd = bvm_gpa(vm, PD_GPA);
	uint8_t *tss = bvm_gpa(vm, TSS_GPA);

	memset(gdt, 0, 0x1000);
	gdt[5] = 0x00cff3000000ffffull;		/* 0x28: user data, DPL 3 */
	gdt[6] = 0x00affb000000ffffull;		/* 0x30: user code, L, DPL 3 */
	gdt[8] = (TSS_LIMIT & 0xffff) | ((TSS_GPA & 0xffffff) << 16) |
	    (0x8bull << 40) | ((uint64_t)(TSS_LIMIT >> 16) << 48);
	gdt[9] = TSS_GPA >> 32;
	memset(pml4, 0, 0x3000);
	pml4[0] = PDPT_GPA | 0x7;		/* present, writable, user */
	pdpt[0] = PD_GPA | 0x7;
	for (uint64_t i = 0; i < BVM_MEM_SIZE >> 21; i++)
		pd[i] = (i << 21) | 0x87;	/* 2 MiB page, user */
	/*
	 * Paravirtual KVM raises #GP for `out` at CPL 3 unless the TSS I/O
	 * bitmap opens the port, whatever IOPL says: open them all.
	 */
	memset(tss, 0, 0x3000);
	tss[102] = 104;				/* I/O map base */
	tss[103] = 0;
	tss[104 + 8192] = 0xff;
}

int
bvm_start(struct bvm *vm, const void *code, size_t len, const uint64_t args[4])
{
	struct kvm_sregs sr;
	struct kvm_regs r;

	if (len > BVM_DATA_GPA - BVM_CODE_GPA)
		return -E2BIG;
	bvm_tables(vm);
	memcpy(bvm_gpa(vm, BVM_CODE_GPA), code, len);
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	bvm_seg(&sr.cs, 0x33, 0xb, 1, 0);
	bvm_seg(&sr.ss, 0x2b, 0x3, 0, 1);
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.base = TSS_GPA;
	sr.tr.limit = TSS_LIMIT;
	sr.tr.selector = 0x40;
	sr.tr.type = 0xb;
	sr.tr.present = 1;
	memset(&sr.ldt, 0, sizeof(sr.ldt));
	sr.ldt.type = 0x2;
	sr.ldt.unusable = 1;
	sr.gdt.base = GDT_GPA;
	sr.gdt.limit = 10 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr0 = 0x80050033ull;
	sr.cr3 = PML4_GPA;
	sr.cr4 = 0x20;				/* PAE */
	sr.efer = 0xd01;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.rip = BVM_CODE_GPA;
	r.rsp = BVM_STACK_TOP;
	r.rflags = 0x3002;			/* IOPL 3 */
	r.rdi = args[0];
	r.rsi = args[1];
	r.rdx = args[2];
	r.rcx = args[3];
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

int
bvm_run(struct bvm *vm)
{
	while (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return (int)vm->run->exit_reason;
}
