/* SPDX-License-Identifier: MIT */
/* The request engine over the fake page: every type, size, direction. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "notify/notify.h"
#include "hcvsock_abi.h"
#include "ioreq_harness.h"

static int
setup1(void **state)
{
	*state = h_env_new(1, false, false);
	return 0;
}

static int
setup_buf(void **state)
{
	*state = h_env_new(1, true, false);
	return 0;
}

static int
setup_buf_legacy(void **state)
{
	*state = h_env_new(1, true, true);
	return 0;
}

static int
teardown(void **state)
{
	h_env_free(*state);
	return 0;
}

static void
slot_layout__state_is_low_nibble_of_byte_30(void **state)
{
	struct ioreq rq;
	uint8_t raw[32];

	memset(&rq, 0, sizeof(rq));
	rq.state = 0xf;
	rq.dir = 1;
	memcpy(raw, &rq, sizeof(raw));
	assert_int_equal(raw[IOREQ_SLOT_BITS_OFF], 0x0f | IOREQ_BIT_DIR);
	memset(&rq, 0, sizeof(rq));
	rq.data_is_ptr = 1;
	rq.df = 1;
	memcpy(raw, &rq, sizeof(raw));
	assert_int_equal(raw[IOREQ_SLOT_BITS_OFF],
	    IOREQ_BIT_DATA_IS_PTR | IOREQ_BIT_DF);
}

/* A synchronous access on this thread: submit, pump, complete. */
static uint64_t
sync_access(struct h_env *env, unsigned vcpu, uint8_t type, uint64_t addr,
    unsigned size, int dir, uint64_t data)
{
	struct ioreq rq = { .addr = addr, .data = data, .count = 1,
	    .size = size, .dir = dir, .type = type };
	struct ioreq resp;

	assert_int_equal(h_do(env, vcpu, &rq, &resp), 0);
	h_assert_only_data_written(&rq, &resp);
	return resp.data;
}

static void
sync__every_type_size_direction(void **state)
{
	struct h_env *env = *state;
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	unsigned i, t;

	for (t = 0; t < 2; t++) {
		uint8_t type = t == 0 ? IOREQ_TYPE_PIO : IOREQ_TYPE_COPY;
		uint64_t base = t == 0 ? H_PIO_BASE : H_MMIO_BASE;
		struct rec_dev *d = t == 0 ? &env->pio : &env->mmio;

		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			unsigned sz = sizes[i];
			uint64_t mask = sz == 8 ? ~0ull : (1ull << (8 * sz)) - 1;
			uint64_t v = 0xa1b2c3d4e5f60718ull, r;
			unsigned n0 = d->nlog;

			if (type == IOREQ_TYPE_PIO && sz == 8)
				continue;
			r = sync_access(env, 0, type, base + 8, sz,
			    IOREQ_WRITE, v);
			/* A write's data comes back untouched. */
			assert_int_equal(r, v);
			assert_int_equal(d->nlog, n0 + 1);
			assert_true(d->log[n0].write);
			assert_int_equal(d->log[n0].off, 8);
			assert_int_equal(d->log[n0].size, sz);
			assert_int_equal(d->log[n0].val & mask, v & mask);

			r = sync_access(env, 0, type, base + 8, sz,
			    IOREQ_READ, 0xdeadbeefdeadbeefull);
			assert_int_equal(d->nlog, n0 + 2);
			assert_false(d->log[n0 + 1].write);
			/* Masked to size: the device set junk above. */
			assert_int_equal(r, v & mask);
		}
	}
	assert_int_equal(env->pio.bad + env->mmio.bad, 0);
	assert_int_equal(h_stats(env).st_requests, 14);
	assert_int_equal(h_stats(env).st_invalid, 0);
}

static void
fake_api__pio_mmio_roundtrip_with_server_thread(void **state)
{
	struct h_env *env = *state;
	uint64_t v, r;

	h_server_start(env);
	v = 0xbeef;
	assert_int_equal(ioreq_fake_pio(env->fake, 0, H_PIO_BASE + 2, 2,
	    IOREQ_WRITE, &v), 0);
	r = 0;
	assert_int_equal(ioreq_fake_pio(env->fake, 0, H_PIO_BASE + 2, 2,
	    IOREQ_READ, &r), 0);
	assert_int_equal(r, 0xbeef);
	v = 0x0123456789abcdefull;
	assert_int_equal(ioreq_fake_mmio(env->fake, 0, H_MMIO_BASE + 0x100, 8,
	    IOREQ_WRITE, &v), 0);
	assert_int_equal(ioreq_fake_mmio(env->fake, 0, H_MMIO_BASE + 0x104, 4,
	    IOREQ_READ, &r), 0);
	assert_int_equal(r, 0x01234567);
	/* The busy-poll guest (benchmarks) gets the same answers. */
	ioreq_fake_set_spin(env->fake, 2000000);
	for (v = 0; v < 50; v++) {
		assert_int_equal(ioreq_fake_pio(env->fake, 0, H_PIO_BASE + 2, 2,
		    IOREQ_WRITE, &v), 0);
		assert_int_equal(ioreq_fake_pio(env->fake, 0, H_PIO_BASE + 2, 2,
		    IOREQ_READ, &r), 0);
		assert_int_equal(r, v);
	}
	ioreq_fake_set_spin(env->fake, 0);
	/* Sizes Xen never produces are refused by the fake itself. */
	assert_int_equal(ioreq_fake_pio(env->fake, 0, H_PIO_BASE, 8,
	    IOREQ_READ, &r), -EINVAL);
	assert_int_equal(ioreq_fake_mmio(env->fake, 0, H_MMIO_BASE, 3,
	    IOREQ_READ, &r), -EINVAL);
	h_server_stop(env);
}

static void
unclaimed__reads_all_ones_writes_dropped(void **state)
{
	struct h_env *env = *state;
	uint64_t r;
	unsigned n0 = env->pio.nlog + env->mmio.nlog;

	r = sync_access(env, 0, IOREQ_TYPE_PIO, 0x60, 1, IOREQ_READ, 0);
	assert_int_equal(r, 0xff);
	r = sync_access(env, 0, IOREQ_TYPE_PIO, 0x60, 4, IOREQ_READ, 0);
	assert_int_equal(r, 0xffffffffu);
	r = sync_access(env, 0, IOREQ_TYPE_COPY, 0x1000, 8, IOREQ_READ, 0);
	assert_int_equal(r, ~0ull);
	(void)sync_access(env, 0, IOREQ_TYPE_COPY, 0x1000, 8, IOREQ_WRITE, 5);
	/* Right after the range: no device sees it. */
	r = sync_access(env, 0, IOREQ_TYPE_PIO, H_PIO_BASE + H_PIO_LEN, 2,
	    IOREQ_READ, 0);
	assert_int_equal(r, 0xffff);
	assert_int_equal(env->pio.nlog + env->mmio.nlog, n0);
	assert_int_equal(h_stats(env).st_unclaimed, 5);
	assert_int_equal(h_stats(env).st_invalid, 0);
}

static void
special_types__answered(void **state)
{
	struct h_env *env = *state;
	struct ioreq rq, resp;
	unsigned n0 = env->pio.nlog + env->mmio.nlog;

	/* INVALIDATE: a synchronous broadcast write; data untouched. */
	rq = (struct ioreq){ .type = IOREQ_TYPE_INVALIDATE, .size = 4,
	    .count = 1, .dir = IOREQ_WRITE, .data = ~0ull };
	assert_int_equal(h_do(env, 0, &rq, &resp), 0);
	assert_int_equal(resp.data, ~0ull);
	rq = (struct ioreq){ .type = IOREQ_TYPE_TIMEOFFSET, .size = 8,
	    .count = 1, .data = 12345 };
	assert_int_equal(h_do(env, 0, &rq, &resp), 0);
	assert_int_equal(resp.data, 12345);
	/* No PCI device: config reads see an empty slot. */
	rq = (struct ioreq){ .type = IOREQ_TYPE_PCI_CONFIG, .size = 4,
	    .count = 1, .dir = IOREQ_READ, .addr = (1ull << 32) | 0x10 };
	assert_int_equal(h_do(env, 0, &rq, &resp), 0);
	assert_int_equal(resp.data, 0xffffffffu);
	assert_int_equal(env->pio.nlog + env->mmio.nlog, n0);
	assert_int_equal(h_stats(env).st_requests, 3);
}

/* INVALIDATE reaches the memory accessor. */
struct count_mem {
	struct ioreq_mem	 m;
	unsigned		 invalidations;
};

static int
cm_read(struct ioreq_mem *m, uint64_t gpa, void *buf, size_t len)
{
	return -EFAULT;
}

static int
cm_write(struct ioreq_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	return -EFAULT;
}

static void
cm_invalidate(struct ioreq_mem *m)
{
	((struct count_mem *)m)->invalidations++;
}

static void
cm_free(struct ioreq_mem *m)
{
}

static const struct ioreq_mem_ops cm_ops = { .read = cm_read,
	.write = cm_write, .invalidate = cm_invalidate, .free = cm_free };

static void
invalidate__flushes_memory_cache(void **state)
{
	struct count_mem cm = { .m.ops = &cm_ops };
	struct ioreq page[2];
	struct ioreq_engine *e;

	memset(page, 0, sizeof(page));
	assert_int_equal(ioreq_engine_new(page, 2, NULL, NULL, &cm.m, &e), 0);
	assert_int_equal(ioreq_engine_set_port(e, 1, 7), 0);
	assert_int_equal(ioreq_engine_set_port(e, 0, 7), -EEXIST);
	page[1] = (struct ioreq){ .type = IOREQ_TYPE_INVALIDATE, .size = 4,
	    .count = 1, .data = ~0ull, .state = STATE_IOREQ_READY };
	assert_int_equal(ioreq_engine_handle_port(e, 7), 1);
	assert_int_equal(cm.invalidations, 1);
	assert_int_equal(page[1].state, STATE_IORESP_READY);
	assert_int_equal(page[1].data, ~0ull);
	/* A port that is not the engine's. */
	assert_int_equal(ioreq_engine_handle_port(e, 8), 0);
	assert_int_equal(ioreq_engine_handle_port(e, NOTIFY_PORT_INVALID), 0);
	ioreq_engine_free(e);
}

/* ---- rep and data_is_ptr -------------------------------------------------- */

static uint8_t *
ram(struct h_env *env)
{
	return ioreq_fake_ram(env->fake, NULL, NULL);
}

static void
rep__pio_outs_ins_df_clear_and_set(void **state)
{
	struct h_env *env = *state;
	uint8_t *r = ram(env);
	unsigned df, i;

	for (df = 0; df < 2; df++) {
		struct ioreq rq, resp;
		unsigned n0 = env->pio.nlog;
		uint64_t buf = H_RAM_GPA + 0x1000 + (df ? 7 * 2 : 0);

		/* OUTSW: 8 words from RAM, element i at buf -/+ 2i. */
		for (i = 0; i < 8; i++)
			memcpy(r + 0x1000 + 2 * i, &(uint16_t){ 0x100 + i }, 2);
		rq = (struct ioreq){ .type = IOREQ_TYPE_PIO, .addr = H_PIO_BASE,
		    .size = 2, .count = 8, .dir = IOREQ_WRITE,
		    .data_is_ptr = 1, .df = df, .data = buf };
		assert_int_equal(h_do(env, 0, &rq, &resp), 0);
		assert_int_equal(resp.data, buf);	/* pointer untouched */
		assert_int_equal(env->pio.nlog, n0 + 8);
		for (i = 0; i < 8; i++) {
			struct rec_access *a = &env->pio.log[n0 + i];

			assert_true(a->write);
			assert_int_equal(a->off, 0);	/* one port */
			assert_int_equal(a->val, df ? 0x107 - i : 0x100 + i);
		}

		/* INSW: the device counts; RAM gets the values in order. */
		env->pio.counting = true;
		env->pio.next_read = 0x200;
		memset(r + 0x2000, 0, 64);
		buf = H_RAM_GPA + 0x2000 + (df ? 7 * 2 : 0);
		rq = (struct ioreq){ .type = IOREQ_TYPE_PIO, .addr = H_PIO_BASE,
		    .size = 2, .count = 8, .dir = IOREQ_READ,
		    .data_is_ptr = 1, .df = df, .data = buf };
		assert_int_equal(h_do(env, 0, &rq, &resp), 0);
		for (i = 0; i < 8; i++) {
			uint16_t w;

			memcpy(&w, r + 0x2000 + 2 * i, 2);
			/* Element k at buf -/+ 2k holds the k-th read. */
			assert_int_equal(w, df ? 0x207 - i : 0x200 + i);
		}
		/* Nothing outside the 16 bytes. */
		assert_int_equal(r[0x2000 + 16], 0);
		env->pio.counting = false;
	}
	assert_int_equal(env->pio.bad, 0);
}

static void
rep__mmio_movs_with_pointer_walks_addresses(void **state)
{
	struct h_env *env = *state;
	uint8_t *r = ram(env);
	unsigned df, i;

	for (df = 0; df < 2; df++) {
		struct ioreq rq, resp;
		unsigned n0 = env->mmio.nlog;
		uint64_t hi = df ? 3 * 4 : 0;

		for (i = 0; i < 4; i++)
			memcpy(r + 0x3000 + 4 * i, &(uint32_t){ 0xc0de0000 + i },
			    4);
		rq = (struct ioreq){ .type = IOREQ_TYPE_COPY,
		    .addr = H_MMIO_BASE + 0x40 + hi, .size = 4, .count = 4,
		    .dir = IOREQ_WRITE, .data_is_ptr = 1, .df = df,
		    .data = H_RAM_GPA + 0x3000 + hi };
		assert_int_equal(h_do(env, 0, &rq, &resp), 0);
		for (i = 0; i < 4; i++) {
			struct rec_access *a = &env->mmio.log[n0 + i];
			unsigned k = df ? 3 - i : i;

			assert_int_equal(a->off, 0x40 + 4 * k);
			assert_int_equal(a->val, 0xc0de0000 + k);
		}
		/* And back: device -> RAM, element by element. */
		memset(r + 0x4000, 0, 16);
		rq.dir = IOREQ_READ;
		rq.data = H_RAM_GPA + 0x4000 + hi;
		assert_int_equal(h_do(env, 0, &rq, &resp), 0);
		assert_memory_equal(r + 0x4000, r + 0x3000, 16);
	}
	assert_int_equal(env->mmio.bad, 0);
}

static void
rep__mmio_stos_without_pointer(void **state)
{
	struct h_env *env = *state;
	struct ioreq rq, resp;
	unsigned i, df;

	for (df = 0; df < 2; df++) {
		unsigned n0 = env->mmio.nlog;

		rq = (struct ioreq){ .type = IOREQ_TYPE_COPY,
		    .addr = H_MMIO_BASE + 0x80 + (df ? 5 * 8 : 0), .size = 8,
		    .count = 6, .dir = IOREQ_WRITE, .df = df,
		    .data = 0x5a5a5a5a5a5a5a5aull };
		assert_int_equal(h_do(env, 0, &rq, &resp), 0);
		assert_int_equal(env->mmio.nlog, n0 + 6);
		for (i = 0; i < 6; i++) {
			assert_int_equal(env->mmio.log[n0 + i].off,
			    0x80 + 8 * (df ? 5 - i : i));
			assert_int_equal(env->mmio.log[n0 + i].val,
			    0x5a5a5a5a5a5a5a5aull);
		}
	}
	/* A rep read without pointer returns the last element. */
	env->mmio.counting = true;
	env->mmio.next_read = 10;
	rq = (struct ioreq){ .type = IOREQ_TYPE_COPY, .addr = H_MMIO_BASE,
	    .size = 2, .count = 3, .dir = IOREQ_READ };
	assert_int_equal(h_do(env, 0, &rq, &resp), 0);
	assert_int_equal(resp.data, 12);
	env->mmio.counting = false;
}

static void
rep__fake_api(void **state)
{
	struct h_env *env = *state;
	uint8_t *r = ram(env);
	uint64_t d;

	memcpy(r + 0x5000, "abcdefgh", 8);
	d = H_RAM_GPA + 0x5000;
	h_server_start(env);
	assert_int_equal(ioreq_fake_rep(env->fake, 0, IOREQ_TYPE_PIO,
	    H_PIO_BASE + 1, 1, 8, IOREQ_WRITE, false, true, &d), 0);
	h_server_stop(env);
	assert_int_equal(env->pio.regs[1], 'h');
	assert_int_equal(ioreq_fake_rep(env->fake, 0, IOREQ_TYPE_PIO,
	    H_PIO_BASE, 8, 1, IOREQ_WRITE, false, true, &d), -EINVAL);
}

/* ---- vCPUs in parallel ------------------------------------------------- */

#define PAR_VCPUS	8
#define PAR_ITERS	300

struct par_arg {
	struct h_env	*env;
	unsigned	 vcpu;
	int		 fails;
};

static void *
par_main(void *p)
{
	struct par_arg *a = p;
	unsigned i;

	for (i = 0; i < PAR_ITERS; i++) {
		uint64_t v = ((uint64_t)a->vcpu << 32) | i, r = 0;
		uint64_t reg = H_MMIO_BASE + 0x200 + 8 * a->vcpu;

		if (ioreq_fake_mmio(a->env->fake, a->vcpu, reg, 8, IOREQ_WRITE,
		    &v) != 0 || ioreq_fake_mmio(a->env->fake, a->vcpu, reg, 8,
		    IOREQ_READ, &r) != 0 || r != v)
			a->fails++;
	}
	return NULL;
}

static void
vcpus__eight_threads_concurrently(void **state)
{
	struct h_env *env = h_env_new(PAR_VCPUS, true, false);
	struct par_arg args[PAR_VCPUS];
	pthread_t th[PAR_VCPUS];
	unsigned i, j;

	h_server_start(env);
	for (i = 0; i < PAR_VCPUS; i++) {
		args[i] = (struct par_arg){ env, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, par_main,
		    &args[i]), 0);
	}
	for (i = 0; i < PAR_VCPUS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].fails, 0);
	}
	h_server_stop(env);
	assert_int_equal(h_stats(env).st_requests,
	    PAR_VCPUS * PAR_ITERS * 2);
	/* Each handler call carried the vCPU whose register it touched. */
	for (j = 0; j < env->mmio.nlog; j++)
		assert_int_equal(env->mmio.log[j].off,
		    0x200 + 8 * env->mmio.log[j].vcpu);
	assert_int_equal(env->mmio.bad, 0);
	h_env_free(env);
}

/* The whole page: 128 slots, each answered on its own port. */
static void
vcpus__full_page_of_128(void **state)
{
	struct h_env *env = h_env_new(IOREQ_SHM_MAX_VCPUS, false, false);
	struct ioreq *sl = ioreq_fake_slots(env->fake);
	unsigned i;

	assert_int_equal(IOREQ_SHM_MAX_VCPUS, IOREQ_MAX_VCPUS);
	/* All published at once, then one pump: each slot gets its answer. */
	for (i = 0; i < IOREQ_SHM_MAX_VCPUS; i++)
		assert_int_equal(ioreq_fake_submit(env->fake, i,
		    &(struct ioreq){ .type = IOREQ_TYPE_COPY,
		    .addr = H_MMIO_BASE + 8 * (i % 64), .size = 8, .count = 1,
		    .dir = IOREQ_WRITE, .data = 1000 + i }), 0);
	assert_int_equal(h_pump(env), IOREQ_SHM_MAX_VCPUS);
	for (i = 0; i < IOREQ_SHM_MAX_VCPUS; i++) {
		struct ioreq resp;

		assert_int_equal(ioreq_slot_state(&sl[i]), STATE_IORESP_READY);
		assert_int_equal(ioreq_fake_complete(env->fake, i, &resp), 0);
		assert_int_equal(env->mmio.log[i].vcpu, i);
	}
	assert_int_equal(h_stats(env).st_requests, IOREQ_SHM_MAX_VCPUS);
	h_env_free(env);
}

/* A run that stops on its budget leaves the rest for the loop's next wake. */
static void
source__budget_leaves_fd_readable(void **state)
{
	struct h_env *env = h_env_new(4, false, false);
	struct ioreq_source_events ev = { 0, 0, 0 };
	struct pollfd pfd = { .fd = ioreq_source_fd(env->src),
	    .events = POLLIN };
	unsigned i, served = 0;
	int n;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(ioreq_fake_submit(env->fake, i,
		    &(struct ioreq){ .type = IOREQ_TYPE_PIO,
		    .addr = H_PIO_BASE, .size = 1, .count = 1,
		    .dir = IOREQ_WRITE, .data = i }), 0);
	while (served < 4) {
		/* Nothing may wait unseen: each round starts from the fd. */
		assert_int_equal(poll(&pfd, 1, 0), 1);
		n = ioreq_source_run(env->src, 1, &ev);
		assert_int_equal(n, 1);
		served += (unsigned)n;
	}
	assert_int_equal(ev.requests, 4);
	assert_int_equal(ioreq_source_run(env->src, 1, &ev), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(ioreq_fake_complete(env->fake, i,
		    &(struct ioreq){ 0 }), 0);
	h_env_free(env);
}

/* Publish vCPU `v`'s PIO write as the fake does, without its kick. */
static void
post_unkicked(struct h_env *env, unsigned v, uint64_t data)
{
	struct ioreq *slot = &ioreq_fake_slots(env->fake)[v];

	slot->addr = H_PIO_BASE + v;
	slot->data = data;
	slot->count = 1;
	slot->size = 1;
	slot->type = IOREQ_TYPE_PIO;
	__atomic_store_n((uint8_t *)slot + IOREQ_SLOT_BITS_OFF,
	    (uint8_t)STATE_IOREQ_READY, __ATOMIC_RELEASE);
}

static void
source__watched_page_needs_no_kick(void **state)
{
	struct h_env *env = h_env_new(2, false, false);
	struct ioreq *sl = ioreq_fake_slots(env->fake);
	struct ioreq_source_events ev = { 0, 0, 0 };
	struct ioreq_source *s2;
	struct ioreq resp;
	uint32_t p;

	(void)state;
	/* Watching marks every slot and answers whatever is READY. */
	assert_int_equal(ioreq_source_poll(env->src, true, &ev), 0);
	assert_int_equal(sl[0]._pad0, IOREQ_SHM_WATCHED);
	assert_int_equal(sl[1]._pad0, IOREQ_SHM_WATCHED);
	post_unkicked(env, 0, 7);
	assert_int_equal(ioreq_source_poll(env->src, true, &ev), 1);
	assert_int_equal(ioreq_slot_state(&sl[0]), STATE_IORESP_READY);
	assert_int_equal(ioreq_fake_complete(env->fake, 0, &resp), 0);
	/* Unwatching clears the marks, then answers what came meanwhile. */
	post_unkicked(env, 1, 9);
	assert_int_equal(ioreq_source_poll(env->src, false, &ev), 1);
	assert_int_equal(sl[0]._pad0, 0);
	assert_int_equal(sl[1]._pad0, 0);
	assert_int_equal(ioreq_fake_complete(env->fake, 1, &resp), 0);
	assert_int_equal(ev.requests, 2);
	assert_int_equal(env->pio.log[0].val, 7);
	assert_int_equal(env->pio.log[1].val, 9);
	assert_int_equal(ioreq_source_poll(env->src, false, &ev), 0);
	assert_int_equal(notifier_next(env->n, &p, NULL), 0);

	/* A page left marked (its server died polling) is cleared at open. */
	sl[1]._pad0 = IOREQ_SHM_WATCHED;
	assert_int_equal(ioreq_shm_open(ioreq_fake_shm_cfg(env->fake), &s2), 0);
	assert_int_equal(sl[1]._pad0, 0);
	assert_int_equal(ioreq_source_poll(s2, true, &ev), 0);
	assert_int_equal(sl[1]._pad0, IOREQ_SHM_WATCHED);
	/* And at close: the next server must be kicked. */
	ioreq_source_close(s2, true);
	assert_int_equal(sl[1]._pad0, 0);
	h_env_free(env);
}

/* ---- The buffered ring ------------------------------------------------------ */

static void
buffered__drained_before_synchronous_request(void **state)
{
	struct h_env *env = *state;
	struct ioreq rq, resp;
	uint64_t cnt;
	uint32_t p;

	assert_int_equal(ioreq_fake_buffered_write(env->fake, IOREQ_TYPE_PIO,
	    H_PIO_BASE + 3, 1, 0x77), 0);
	rq = (struct ioreq){ .type = IOREQ_TYPE_PIO, .addr = H_PIO_BASE + 3,
	    .size = 1, .count = 1, .dir = IOREQ_READ };
	assert_int_equal(ioreq_fake_submit(env->fake, 0, &rq), 0);
	/* Service only the vCPU's port: the ring must be drained first. */
	while (notifier_next(env->n, &p, &cnt) == 1)
		if (p == env->vport[0])
			assert_int_equal(ioreq_engine_handle_port(env->eng, p), 1);
	assert_int_equal(ioreq_fake_complete(env->fake, 0, &resp), 0);
	assert_int_equal(resp.data, 0x77);
}

static void
buffered__quad_words_and_mmio(void **state)
{
	struct h_env *env = *state;
	unsigned n0 = env->mmio.nlog;

	/* Buffered MMIO must be < 1 MiB: map a low range for it. */
	assert_int_equal(ioreq_source_add_range(env->src, IOREQ_SPACE_MMIO,
	    0xa0000, 0xa0fff, &rec_dev_ops, &env->mmio), 0);
	assert_int_equal(ioreq_fake_buffered_write(env->fake, IOREQ_TYPE_COPY,
	    0xa0010, 8, 0x1122334455667788ull), 0);
	assert_int_equal(ioreq_fake_buffered_write(env->fake, IOREQ_TYPE_COPY,
	    0xa0020, 2, 0xabcd), 0);
	(void)h_pump(env);
	assert_int_equal(env->mmio.nlog, n0 + 2);
	assert_int_equal(env->mmio.log[n0].val, 0x1122334455667788ull);
	assert_int_equal(env->mmio.log[n0].size, 8);
	assert_int_equal(env->mmio.log[n0 + 1].val, 0xabcd);
	assert_int_equal(ioreq_fake_buffered_write(env->fake, IOREQ_TYPE_COPY,
	    0x100000, 4, 0), -EINVAL);
}

static void
buffered__full_ring_refuses(void **state)
{
	struct h_env *env = *state;
	unsigned i;

	for (i = 0; i < IOREQ_BUFFER_SLOT_NUM; i++)
		assert_int_equal(ioreq_fake_buffered_write(env->fake,
		    IOREQ_TYPE_PIO, H_PIO_BASE, 1, i & 0xff), 0);
	assert_int_equal(ioreq_fake_buffered_write(env->fake, IOREQ_TYPE_PIO,
	    H_PIO_BASE, 1, 0), -EAGAIN);
	(void)h_pump(env);
	assert_int_equal(env->pio.regs[0], (IOREQ_BUFFER_SLOT_NUM - 1) & 0xff);
	assert_int_equal(h_stats(env).st_buffered, 1 + IOREQ_BUFFER_SLOT_NUM);
	assert_int_equal(ioreq_fake_buffered_write(env->fake, IOREQ_TYPE_PIO,
	    H_PIO_BASE, 1, 0), 0);
}

/* Pointers run over 2^32 (LEGACY: Xen never canonicalises them). */
static void
buffered__pointers_wrap_past_2_32(void **state)
{
	struct h_env *env = *state;
	struct buffered_iopage *b = ioreq_fake_bufpage(env->fake);
	unsigned i, j, n0 = env->pio.nlog, seq = 0;

	assert_int_equal(ioreq_fake_buffered_set_pointers(env->fake,
	    UINT32_MAX - 40), 0);
	/*
	 * At most 32 in flight across the wrap: pointer % 511 jumps there
	 * (2^32 % 511 == 32), exactly as in Xen's own indexing.
	 */
	for (i = 0; i < 10; i++) {
		for (j = 0; j < 8; j++, seq++)
			assert_int_equal(ioreq_fake_buffered_write(env->fake,
			    IOREQ_TYPE_PIO, H_PIO_BASE + 4, 2, seq), 0);
		(void)h_pump(env);
	}
	assert_true(b->read_pointer < 100);
	assert_int_equal(b->read_pointer, b->write_pointer);
	assert_int_equal(env->pio.nlog, n0 + seq);
	for (i = 0; i < seq; i++)
		assert_int_equal(env->pio.log[n0 + i].val, i);
}

struct prod_arg {
	struct h_env	*env;
	unsigned	 n;
};

static void *
prod_main(void *p)
{
	struct prod_arg *a = p;
	unsigned i = 0;

	while (i < a->n) {
		int rc = ioreq_fake_buffered_write(a->env->fake,
		    IOREQ_TYPE_COPY, 0xa0000 + 8 * (i % 2), 8,
		    ((uint64_t)i << 32) | i);

		if (rc == 0)
			i++;
		else
			assert_int_equal(rc, -EAGAIN);
	}
	return NULL;
}

/* ATOMIC: Xen's cmpxchg pulls pointers down while we drain. */
static void
buffered__atomic_canonicalisation_races_consumer(void **state)
{
	struct h_env *env = *state;
	struct buffered_iopage *b = ioreq_fake_bufpage(env->fake);
	struct prod_arg pa = { env, 5000 };
	unsigned n0 = env->mmio.nlog, i;
	pthread_t th;

	assert_int_equal(ioreq_source_add_range(env->src, IOREQ_SPACE_MMIO,
	    0xa0000, 0xa0fff, &rec_dev_ops, &env->mmio), 0);
	assert_int_equal(ioreq_fake_buffered_set_pointers(env->fake,
	    511u * 1000u + 300u), 0);
	h_server_start(env);
	assert_int_equal(pthread_create(&th, NULL, prod_main, &pa), 0);
	pthread_join(th, NULL);
	for (i = 0; i < 500 && b->read_pointer != b->write_pointer; i++)
		usleep(2000);
	h_server_stop(env);
	(void)h_pump(env);
	assert_int_equal(b->read_pointer, b->write_pointer);
	assert_true(b->read_pointer < 2 * IOREQ_BUFFER_SLOT_NUM);
	assert_int_equal(env->mmio.nlog - n0, pa.n);
	for (i = 0; i < pa.n; i++) {
		struct rec_access *a = &env->mmio.log[n0 + i];

		if (n0 + i >= REC_LOG_MAX)
			break;
		assert_int_equal(a->val, ((uint64_t)i << 32) | i);
		assert_int_equal(a->off, 8 * (i % 2));
	}
	assert_int_equal(h_stats(env).st_invalid, 0);
}

/* ---- Lifecycle ------------------------------------------------------------ */

static void
dump_cb(void *arg, const char *line)
{
	unsigned *n = arg;

	(*n)++;
	assert_non_null(strstr(line, "")); /* well-formed C string */
}

static void
post_cb(void *arg)
{
	(*(unsigned *)arg)++;
}

static void
lifecycle__post_hook_dump_quiesce(void **state)
{
	struct h_env *env = *state;
	unsigned posts = 0, lines = 0;
	struct ioreq rq;
	uint64_t r;

	ioreq_engine_set_post_hook(env->eng, post_cb, &posts);
	r = sync_access(env, 0, IOREQ_TYPE_PIO, H_PIO_BASE, 1, IOREQ_READ, 0);
	(void)r;
	assert_int_equal(posts, 1);
	ioreq_engine_dump(env->eng, dump_cb, &lines);
	assert_int_equal(lines, 1 + 1 + 1);	/* vCPU, ring, stats */

	/* Quiesce answers what is pending, then nothing more is served. */
	rq = (struct ioreq){ .type = IOREQ_TYPE_PIO, .addr = H_PIO_BASE,
	    .size = 1, .count = 1, .dir = IOREQ_READ };
	assert_int_equal(ioreq_fake_submit(env->fake, 0, &rq), 0);
	assert_int_equal(ioreq_source_quiesce(env->src), 0);
	assert_int_equal(ioreq_slot_state(&ioreq_fake_slots(env->fake)[0]),
	    STATE_IORESP_READY);
	assert_int_equal(ioreq_fake_complete(env->fake, 0, &rq), 0);
	assert_int_equal(ioreq_fake_submit(env->fake, 0, &rq), 0);
	(void)h_pump(env);
	assert_int_equal(ioreq_slot_state(&ioreq_fake_slots(env->fake)[0]),
	    STATE_IOREQ_READY);
	/* The fake page has no interrupt: the guest polls. */
	assert_int_equal(ioreq_source_irq_modes(env->src),
	    1u << HCVS_IRQ_NONE);
	assert_int_equal(ioreq_source_irq_setup(env->src, &(struct ioreq_irq){
	    .mode = HCVS_IRQ_MSI, .msi_addr = 0xfee00000, .msi_data = 0x30 }),
	    -EOPNOTSUPP);
	assert_int_equal(ioreq_source_irq_raise(env->src), -ENOENT);
	assert_int_equal(ioreq_source_server_id(env->src), -1);
	assert_int_equal(ioreq_source_restrict(env->src), 0);
	/* Re-enable: the READY slot is served at once. */
	assert_int_equal(ioreq_source_enable(env->src), 0);
	assert_int_equal(ioreq_fake_complete(env->fake, 0, &rq), 0);
	assert_int_equal(posts, 3);
}

static void
ranges__overlap_and_limits(void **state)
{
	struct h_env *env = *state;
	struct ioreq_source *s = env->src;

	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_PIO,
	    H_PIO_BASE + 4, H_PIO_BASE + 4, &rec_dev_ops, NULL), -EEXIST);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_PIO,
	    H_PIO_BASE - 1, H_PIO_BASE, &rec_dev_ops, NULL), -EEXIST);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_PIO, 0x10000,
	    0x10001, &rec_dev_ops, NULL), -EINVAL);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_MMIO, 10, 9,
	    &rec_dev_ops, NULL), -EINVAL);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_MMIO, 0,
	    UINT64_MAX, &rec_dev_ops, NULL), -EEXIST);
	/* Adjacent ranges: each access goes to exactly one. */
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_PIO,
	    H_PIO_BASE + H_PIO_LEN, H_PIO_BASE + H_PIO_LEN + 3, &rec_dev_ops,
	    &env->mmio), 0);
	assert_int_equal(ioreq_engine_del_range(env->eng, IOREQ_SPACE_PIO,
	    H_PIO_BASE + H_PIO_LEN), 0);
	assert_int_equal(ioreq_engine_del_range(env->eng, IOREQ_SPACE_PIO,
	    H_PIO_BASE + H_PIO_LEN), -ENOENT);
}

static void
ranges__limit_256(void **state)
{
	struct ioreq page[1];
	struct ioreq_engine *e;
	unsigned i;

	memset(page, 0, sizeof(page));
	assert_int_equal(ioreq_engine_new(page, 1, NULL, NULL, NULL, &e), 0);
	for (i = 0; i < IOREQ_MAX_RANGES; i++)
		assert_int_equal(ioreq_engine_add_range(e, IOREQ_SPACE_MMIO,
		    0x1000ull * (IOREQ_MAX_RANGES - i),
		    0x1000ull * (IOREQ_MAX_RANGES - i) + 0xfff, &rec_dev_ops,
		    NULL), 0);
	assert_int_equal(ioreq_engine_add_range(e, IOREQ_SPACE_MMIO,
	    0x10000000, 0x10000fff, &rec_dev_ops, NULL), -ENOSPC);
	ioreq_engine_free(e);
	assert_int_equal(ioreq_engine_new(page, 0, NULL, NULL, NULL, &e),
	    -EINVAL);
	assert_int_equal(ioreq_engine_new(page, IOREQ_MAX_VCPUS + 1, NULL,
	    NULL, NULL, &e), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slot_layout__state_is_low_nibble_of_byte_30),
		cmocka_unit_test_setup_teardown(sync__every_type_size_direction,
		    setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    fake_api__pio_mmio_roundtrip_with_server_thread, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    unclaimed__reads_all_ones_writes_dropped, setup1, teardown),
		cmocka_unit_test_setup_teardown(special_types__answered,
		    setup1, teardown),
		cmocka_unit_test(invalidate__flushes_memory_cache),
		cmocka_unit_test_setup_teardown(
		    rep__pio_outs_ins_df_clear_and_set, setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    rep__mmio_movs_with_pointer_walks_addresses, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(rep__mmio_stos_without_pointer,
		    setup1, teardown),
		cmocka_unit_test_setup_teardown(rep__fake_api, setup1,
		    teardown),
		cmocka_unit_test(vcpus__eight_threads_concurrently),
		cmocka_unit_test(vcpus__full_page_of_128),
		cmocka_unit_test(source__budget_leaves_fd_readable),
		cmocka_unit_test(source__watched_page_needs_no_kick),
		cmocka_unit_test_setup_teardown(
		    buffered__drained_before_synchronous_request, setup_buf,
		    teardown),
		cmocka_unit_test_setup_teardown(buffered__quad_words_and_mmio,
		    setup_buf, teardown),
		cmocka_unit_test_setup_teardown(buffered__full_ring_refuses,
		    setup_buf, teardown),
		cmocka_unit_test_setup_teardown(
		    buffered__pointers_wrap_past_2_32, setup_buf_legacy,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    buffered__atomic_canonicalisation_races_consumer, setup_buf,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    lifecycle__post_hook_dump_quiesce, setup_buf, teardown),
		cmocka_unit_test_setup_teardown(ranges__overlap_and_limits,
		    setup1, teardown),
		cmocka_unit_test(ranges__limit_256),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
