/* SPDX-License-Identifier: MIT */
/* kvmvm with a real vCPU: user-mode port and MMIO exits, regions, stop, real mode. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "kvmvm.h"

#define HELLO_PORT	0x5a0
#define HELLO_MMIO	0xd0000000ull

static char guest_path[512];

struct hello_seen {
	unsigned	hs_outs;
	unsigned	hs_mmio_writes;
	uint64_t	hs_out_vals[3];
	uint64_t	hs_mmio_val;
};

static int
hello_exit(struct kvmvm_vcpu *v, const struct kvmvm_exit *ex, void *arg)
{
	struct hello_seen *hs = arg;

	if (ex->ex_kind == KVMVM_EXIT_IO && ex->ex_write) {
		assert_true(ex->ex_addr >= HELLO_PORT && ex->ex_addr <= HELLO_PORT + 6);
		assert_int_equal(ex->ex_count, 1);
		if (hs->hs_outs < 3)
			hs->hs_out_vals[hs->hs_outs] = ex->ex_data |
			    (uint64_t)ex->ex_size << 56 |
			    (ex->ex_addr - HELLO_PORT) << 48;
		hs->hs_outs++;
		return 0;
	}
	if (ex->ex_kind == KVMVM_EXIT_IO) {
		/* inl answers 1000, inb 20. */
		kvmvm_vcpu_complete_read(v, ex->ex_size == 4 ? 1000 : 20);
		return 0;
	}
	if (ex->ex_kind == KVMVM_EXIT_MMIO && ex->ex_write) {
		assert_true(ex->ex_addr == HELLO_MMIO + 8);
		assert_int_equal(ex->ex_size, 4);
		hs->hs_mmio_val = ex->ex_data;
		hs->hs_mmio_writes++;
		return 0;
	}
	if (ex->ex_kind == KVMVM_EXIT_MMIO) {
		assert_true(ex->ex_addr == HELLO_MMIO + 12);
		kvmvm_vcpu_complete_read(v, 300);
		return 0;
	}
	fail_msg("unexpected exit kind %d reason %u", ex->ex_kind, ex->ex_reason);
	return -EPROTO;
}

static void
user64_hello__port_and_mmio_exits(void **state)
{
	struct kvmvm_cfg cfg = { .mem_size = 16u << 20 };
	struct hello_seen hs;
	struct kvmvm *vm;
	struct kvmvm_vcpu *v;
	uint32_t code = 0;
	size_t len;

	(void)state;
	memset(&hs, 0, sizeof(hs));
	assert_int_equal(kvmvm_new(&cfg, &vm), 0);
	assert_int_equal(kvmvm_load_file(vm, KVMVM_CODE_GPA, guest_path, &len), 0);
	assert_true(len > 16);
	assert_int_equal(kvmvm_vcpu_new(vm, 0, &v), 0);
	assert_int_equal(kvmvm_vcpu_setup_user64(v, KVMVM_CODE_GPA,
	    cfg.mem_size - 16, 0xbeef, 0x42), 0);
	assert_int_equal(kvmvm_run_simple(v, hello_exit, &hs, 10000, &code), 0);
	assert_int_equal(hs.hs_outs, 3);
	assert_int_equal(hs.hs_out_vals[0], 4ull << 56 | 0x1234abcd);
	assert_int_equal(hs.hs_out_vals[1], 2ull << 56 | 4ull << 48 | 0xbeef);
	assert_int_equal(hs.hs_out_vals[2], 1ull << 56 | 6ull << 48 | 0x42);
	assert_int_equal(hs.hs_mmio_writes, 1);
	assert_int_equal(hs.hs_mmio_val, 0xfeedf00d);
	assert_int_equal(code, 1000 + 20 + 300);
	kvmvm_free(vm);
}

/* A guest that spins for ever: stop() must get the vCPU back. */
static void
user64_spin__stopped_by_timeout(void **state)
{
	static const uint8_t spin[] = { 0xf3, 0x90, 0xeb, 0xfc };	/* pause; jmp .-2 */
	struct kvmvm_cfg cfg = { .mem_size = 4u << 20 };
	struct kvmvm *vm;
	struct kvmvm_vcpu *v;
	uint32_t code;

	(void)state;
	assert_int_equal(kvmvm_new(&cfg, &vm), 0);
	assert_int_equal(kvmvm_load(vm, KVMVM_CODE_GPA, spin, sizeof(spin)), 0);
	assert_int_equal(kvmvm_vcpu_new(vm, 0, &v), 0);
	assert_int_equal(kvmvm_vcpu_setup_user64(v, KVMVM_CODE_GPA,
	    cfg.mem_size - 16, 0, 0), 0);
	assert_int_equal(kvmvm_run_simple(v, NULL, NULL, 200, &code), -ETIMEDOUT);
	kvmvm_free(vm);
}

/* Guest RAM written by the guest is visible through the memfd and vice versa. */
static void
regions__shared_through_memfd(void **state)
{
	/* mov rax,[0x40000000]; add rax,1; mov [0x40000008],rax; out 0x500,eax */
	static const uint8_t prog[] = {
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40,
		0x48, 0x83, 0xc0, 0x01,
		0x48, 0x89, 0x04, 0x25, 0x08, 0x00, 0x00, 0x40,
		0x66, 0xba, 0x00, 0x05,
		0xef,
		0xeb, 0xfe,
	};
	struct kvmvm_cfg cfg = { .mem_size = 4u << 20 };
	struct kvmvm_region r;
	struct kvmvm *vm;
	struct kvmvm_vcpu *v;
	uint64_t val = 0x1122334455667788ull, got = 0;
	uint32_t code;
	int idx;

	(void)state;
	assert_int_equal(kvmvm_new(&cfg, &vm), 0);
	/* Overlap, misalignment and holes are refused. */
	assert_int_equal(kvmvm_add_region(vm, 2u << 20, 2u << 20), -EEXIST);
	assert_int_equal(kvmvm_add_region(vm, (8u << 20) + 4096, 2u << 20), -EINVAL);
	idx = kvmvm_add_region(vm, 0x40000000, 2u << 20);
	assert_int_equal(idx, 1);
	assert_int_equal(kvmvm_nr_regions(vm), 2);
	assert_int_equal(kvmvm_region(vm, 1, &r), 0);
	assert_int_equal(r.gpa, 0x40000000);
	assert_int_equal(r.offset, cfg.mem_size);
	assert_int_equal(r.fd, kvmvm_mem_fd(vm));
	assert_null(kvmvm_gpa(vm, 0x40000000 + (2u << 20) - 4, 8));
	assert_null(kvmvm_gpa(vm, cfg.mem_size, 1));
	/* Through the fd, as hcvsockd would see it. */
	assert_int_equal(pwrite(r.fd, &val, 8, (off_t)r.offset), 8);
	assert_int_equal(kvmvm_load(vm, KVMVM_CODE_GPA, prog, sizeof(prog)), 0);
	assert_int_equal(kvmvm_vcpu_new(vm, 0, &v), 0);
	assert_int_equal(kvmvm_vcpu_setup_user64(v, KVMVM_CODE_GPA,
	    cfg.mem_size - 16, 0, 0), 0);
	assert_int_equal(kvmvm_run_simple(v, NULL, NULL, 10000, &code), 0);
	assert_int_equal(code, (uint32_t)(val + 1));
	assert_int_equal(pread(r.fd, &got, 8, (off_t)(r.offset + 8)), 8);
	assert_int_equal(got, val + 1);
	kvmvm_free(vm);
}

/* Real mode (emulated here): out to the exit port with a value from ax. */
static void
real_mode__port_exit(void **state)
{
	/* mov ax,0x77; mov dx,0x500; out dx,ax; hlt */
	static const uint8_t prog[] = {
		0xb8, 0x77, 0x00, 0xba, 0x00, 0x05, 0xef, 0xf4,
	};
	struct kvmvm_cfg cfg = { .mem_size = 2u << 20, .irqchip = true };
	struct kvmvm *vm;
	struct kvmvm_vcpu *v;
	struct kvmvm_exit ex;

	(void)state;
	assert_int_equal(kvmvm_new(&cfg, &vm), 0);
	assert_int_equal(kvmvm_load(vm, 0x7c00, prog, sizeof(prog)), 0);
	assert_int_equal(kvmvm_vcpu_new(vm, 0, &v), 0);
	assert_int_equal(kvmvm_vcpu_setup_real(v, 0, 0x7c00, 0x7000), 0);
	assert_int_equal(kvmvm_vcpu_run(v, &ex), 0);
	assert_int_equal(ex.ex_kind, KVMVM_EXIT_IO);
	assert_true(ex.ex_write);
	assert_int_equal(ex.ex_addr, KVMVM_PORT_EXIT);
	assert_int_equal(ex.ex_size, 2);
	assert_int_equal(ex.ex_data, 0x77);
	kvmvm_free(vm);
}

static void
new__bad_sizes_rejected(void **state)
{
	struct kvmvm_cfg cfg = { .mem_size = 3u << 20 };
	struct kvmvm *vm = NULL;

	(void)state;
	assert_int_equal(kvmvm_new(&cfg, &vm), -EINVAL);
	cfg.mem_size = 0;
	assert_int_equal(kvmvm_new(&cfg, &vm), -EINVAL);
	cfg.mem_size = 4ull << 30;
	assert_int_equal(kvmvm_new(&cfg, &vm), -EINVAL);
	assert_null(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new__bad_sizes_rejected),
		cmocka_unit_test(user64_hello__port_and_mmio_exits),
		cmocka_unit_test(user64_spin__stopped_by_timeout),
		cmocka_unit_test(regions__shared_through_memfd),
		cmocka_unit_test(real_mode__port_exit),
	};
	const char *b = getenv("top_builddir");
	int rc;

	rc = kvmvm_probe();
	if (rc < 0) {
		printf("SKIP: no usable /dev/kvm (%s)\n", strerror(-rc));
		return TEST_EXIT_SKIP;
	}
	snprintf(guest_path, sizeof(guest_path), "%s/tests/kvm/guest/hello.bin",
	    b != NULL ? b : ".");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
