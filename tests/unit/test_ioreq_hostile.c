/* SPDX-License-Identifier: MIT */
/*
 * A hostile ioreq page: impossible sizes, counts and types, pointers
 * outside guest RAM, spans crossing ranges and 2^64, idle-slot events,
 * slots rewritten while they are read.  The engine must answer or ignore
 * exactly as Xen requires, log (rate-limited), and touch nothing outside
 * its mappings (run under ASan in CI).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "notify/notify.h"
#include "ioreq_harness.h"

static int
setup1(void **state)
{
	test_log_capture_start();
	*state = h_env_new(1, false, false);
	return 0;
}

static int
setup_buf(void **state)
{
	test_log_capture_start();
	*state = h_env_new(1, true, false);
	return 0;
}

static int
teardown(void **state)
{
	struct h_env *env = *state;

	/* No handler ever saw an access outside its range or of a bad size. */
	assert_int_equal(env->pio.bad + env->mmio.bad, 0);
	h_env_free(env);
	test_log_capture_stop();
	return 0;
}

static unsigned
dev_calls(struct h_env *env)
{
	return env->pio.nlog + env->mmio.nlog;
}

/* Issue rq; it must be answered, reads with all-ones, nobody called. */
static void
expect_rejected(struct h_env *env, struct ioreq rq, bool invalid)
{
	struct ioreq resp;
	unsigned calls = dev_calls(env);
	struct ioreq_engine_stats st0 = h_stats(env), st1;

	assert_int_equal(h_do(env, 0, &rq, &resp), 0);
	h_assert_only_data_written(&rq, &resp);
	if (rq.dir == IOREQ_READ && !rq.data_is_ptr)
		assert_int_equal(resp.data, rq.size == 1 || rq.size == 2 ||
		    rq.size == 4 ? (1ull << (8 * rq.size)) - 1 : ~0ull);
	else
		assert_int_equal(resp.data, rq.data);
	assert_int_equal(dev_calls(env), calls);
	st1 = h_stats(env);
	assert_int_equal(st1.st_requests, st0.st_requests + 1);
	if (invalid)
		assert_int_equal(st1.st_invalid, st0.st_invalid + 1);
	else
		assert_int_equal(st1.st_unclaimed, st0.st_unclaimed + 1);
}

static void
sizes__impossible_answered_all_ones(void **state)
{
	struct h_env *env = *state;
	static const uint32_t bad[] = { 0, 3, 5, 6, 7, 9, 16, 0x80000000u,
	    UINT32_MAX };
	unsigned i, dir;

	for (dir = 0; dir < 2; dir++) {
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			expect_rejected(env, (struct ioreq){ .type =
			    IOREQ_TYPE_PIO, .addr = H_PIO_BASE, .size = bad[i],
			    .count = 1, .dir = dir, .data = 0x1234 }, true);
			expect_rejected(env, (struct ioreq){ .type =
			    IOREQ_TYPE_COPY, .addr = H_MMIO_BASE,
			    .size = bad[i], .count = 1, .dir = dir,
			    .data = 0x1234 }, true);
		}
		/* 8 bytes is fine for MMIO, never for a port. */
		expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_PIO,
		    .addr = H_PIO_BASE, .size = 8, .count = 1, .dir = dir },
		    true);
	}
	assert_true(test_log_seen("bad size"));
}

static void
counts__zero_and_huge(void **state)
{
	struct h_env *env = *state;
	static const uint32_t bad[] = { 0, IOREQ_MAX_COUNT + 1, 0x10000,
	    UINT32_MAX };
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_COPY,
		    .addr = H_MMIO_BASE, .size = 1, .count = bad[i],
		    .dir = IOREQ_READ }, true);
		expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_PIO,
		    .addr = H_PIO_BASE, .size = 4, .count = bad[i],
		    .dir = IOREQ_WRITE, .data_is_ptr = 1, .data = H_RAM_GPA },
		    true);
	}
	assert_true(test_log_seen("bad count"));
}

static void
types__unknown_answered(void **state)
{
	struct h_env *env = *state;
	static const uint8_t bad[] = { 3, 4, 5, 6, 9, 15, 0x80, 0xff };
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		expect_rejected(env, (struct ioreq){ .type = bad[i],
		    .addr = H_MMIO_BASE, .size = 4, .count = 1,
		    .dir = IOREQ_READ }, true);
	assert_true(test_log_seen("unknown type"));
}

static void
pointers__outside_guest_ram(void **state)
{
	struct h_env *env = *state;
	uint8_t *ram = ioreq_fake_ram(env->fake, NULL, NULL);
	uint8_t *copy = malloc(H_RAM_SIZE);
	static const struct {
		uint64_t	data;
		uint32_t	count;
		unsigned	size;
		bool		df;
	} bad[] = {
		{ 0, 1, 4, false },				/* below */
		{ H_RAM_GPA - 2, 2, 2, false },		/* straddles start */
		{ H_RAM_GPA + H_RAM_SIZE - 4, 2, 4, false },	/* straddles end */
		{ H_RAM_GPA + H_RAM_SIZE, 1, 1, false },	/* just past */
		{ H_RAM_GPA + 4, 3, 4, true },			/* df under start */
		{ UINT64_MAX - 4, 2, 4, false },		/* wraps 2^64 */
		{ 4, 3, 4, true },				/* wraps below 0 */
		{ UINT64_MAX, 1, 1, false },
	};
	unsigned i, dir, t;

	assert_non_null(copy);
	memset(ram, 0x3c, H_RAM_SIZE);
	memcpy(copy, ram, H_RAM_SIZE);
	for (t = 0; t < 2; t++)
		for (dir = 0; dir < 2; dir++)
			for (i = 0; i < ARRAY_SIZE(bad); i++)
				expect_rejected(env, (struct ioreq){
				    .type = t ? IOREQ_TYPE_COPY : IOREQ_TYPE_PIO,
				    .addr = t ? H_MMIO_BASE + 0x100 : H_PIO_BASE,
				    .size = bad[i].size, .count = bad[i].count,
				    .df = bad[i].df, .dir = dir,
				    .data_is_ptr = 1, .data = bad[i].data },
				    true);
	/* Reads into bad buffers wrote nothing anywhere in RAM. */
	assert_memory_equal(ram, copy, H_RAM_SIZE);
	free(copy);
	assert_true(test_log_seen("outside guest RAM"));
	assert_true(test_log_seen("overflows"));
}

static void
spans__crossing_range_ends_are_unclaimed(void **state)
{
	struct h_env *env = *state;

	/* One access straddling the end of the MMIO range. */
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_COPY,
	    .addr = H_MMIO_BASE + H_MMIO_LEN - 2, .size = 4, .count = 1,
	    .dir = IOREQ_READ }, false);
	/* A rep whose last element leaves the range. */
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_COPY,
	    .addr = H_MMIO_BASE + H_MMIO_LEN - 8, .size = 4, .count = 4,
	    .dir = IOREQ_WRITE, .data = 1 }, false);
	/* df: elements walk down below the start. */
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_COPY,
	    .addr = H_MMIO_BASE + 4, .size = 4, .count = 4, .df = 1,
	    .dir = IOREQ_WRITE, .data = 1 }, false);
	/* Starting one byte before the range. */
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_PIO,
	    .addr = H_PIO_BASE - 1, .size = 2, .count = 1,
	    .dir = IOREQ_READ }, false);
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_PIO,
	    .addr = H_PIO_BASE + H_PIO_LEN - 1, .size = 4, .count = 1,
	    .dir = IOREQ_READ }, false);
	/* Ports are 16-bit. */
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_PIO,
	    .addr = 0xffff, .size = 2, .count = 1, .dir = IOREQ_READ }, true);
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_PIO,
	    .addr = 0x10000 + H_PIO_BASE, .size = 1, .count = 1,
	    .dir = IOREQ_READ }, true);
}

static void
spans__overflowing_2_64(void **state)
{
	struct h_env *env = *state;
	struct ioreq resp;
	uint64_t top = UINT64_MAX - 0xfff;
	unsigned n0;

	/* A range at the very top of the address space. */
	assert_int_equal(ioreq_source_add_range(env->src, IOREQ_SPACE_MMIO,
	    top, UINT64_MAX, &rec_dev_ops, &env->mmio), 0);
	env->mmio.len = H_MMIO_LEN;
	n0 = env->mmio.nlog;
	assert_int_equal(h_do(env, 0, &(struct ioreq){ .type = IOREQ_TYPE_COPY,
	    .addr = UINT64_MAX - 7, .size = 8, .count = 1, .dir = IOREQ_WRITE,
	    .data = 42 }, &resp), 0);
	assert_int_equal(env->mmio.nlog, n0 + 1);
	assert_int_equal(env->mmio.log[n0].off, 0xff8);

	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_COPY,
	    .addr = UINT64_MAX - 3, .size = 8, .count = 1,
	    .dir = IOREQ_READ }, true);
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_COPY,
	    .addr = UINT64_MAX - 7, .size = 8, .count = 2,
	    .dir = IOREQ_READ }, true);
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_COPY,
	    .addr = 8, .size = 8, .count = 3, .df = 1,
	    .dir = IOREQ_READ }, true);
	expect_rejected(env, (struct ioreq){ .type = IOREQ_TYPE_COPY,
	    .addr = UINT64_MAX, .size = 1, .count = IOREQ_MAX_COUNT,
	    .dir = IOREQ_WRITE }, true);
	assert_true(test_log_seen("address out of range"));
}

/* Put a raw state nibble into vCPU 0's slot. */
static void
set_state(struct h_env *env, unsigned st)
{
	uint8_t *p = (uint8_t *)&ioreq_fake_slots(env->fake)[0] +
	    IOREQ_SLOT_BITS_OFF;

	__atomic_store_n(p, (uint8_t)st, __ATOMIC_RELEASE);
}

static unsigned
get_state(struct h_env *env)
{
	return ioreq_slot_state(&ioreq_fake_slots(env->fake)[0]);
}

static void
events__idle_slots_never_answered(void **state)
{
	struct h_env *env = *state;
	static const unsigned states[] = { STATE_IOREQ_NONE,
	    STATE_IOREQ_INPROCESS, STATE_IORESP_READY, 4, 9, 15 };
	struct ioreq *slot = &ioreq_fake_slots(env->fake)[0];
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(states); i++) {
		struct ioreq_engine_stats st0 = h_stats(env);

		slot->data = 0x5555;
		set_state(env, states[i]);
		assert_int_equal(ioreq_fake_kick(env->fake, 0), 0);
		assert_int_equal(h_pump(env), 1);
		/* Untouched: neither state nor data moved. */
		assert_int_equal(get_state(env), states[i]);
		assert_int_equal(slot->data, 0x5555);
		assert_int_equal(h_stats(env).st_spurious, st0.st_spurious + 1);
		assert_int_equal(h_stats(env).st_requests, st0.st_requests);
	}
	set_state(env, STATE_IOREQ_NONE);
	/* Many coalesced kicks: one port event, still nothing done. */
	for (i = 0; i < 100; i++)
		assert_int_equal(ioreq_fake_kick(env->fake, 0), 0);
	assert_int_equal(h_pump(env), 1);
	assert_int_equal(get_state(env), STATE_IOREQ_NONE);
}

/* A hostile writer inside the request's life: hooks run in the handler. */
static void
hook_state_none(void *arg)
{
	set_state(arg, STATE_IOREQ_NONE);
}

static void
hook_rewrite_fields(void *arg)
{
	struct h_env *env = arg;
	struct ioreq *slot = &ioreq_fake_slots(env->fake)[0];

	slot->size = 16;
	slot->addr = 0xdead0000;
	slot->count = 0;
	slot->type = 0xee;
}

static void
race__slot_changed_while_in_process(void **state)
{
	struct h_env *env = *state;
	struct ioreq rq = { .type = IOREQ_TYPE_COPY, .addr = H_MMIO_BASE + 8,
	    .size = 2, .count = 1, .dir = IOREQ_READ };
	struct ioreq resp;
	struct ioreq_engine_stats st0;

	/* Fields rewritten after the copy: the answer follows the copy. */
	env->mmio.regs[8] = 0x34;
	env->mmio.regs[9] = 0x12;
	env->mmio.hook = hook_rewrite_fields;
	env->mmio.hook_arg = env;
	assert_int_equal(h_do(env, 0, &rq, &resp), 0);
	assert_int_equal(resp.data, 0x1234);

	/* State pulled back to NONE under us: never pushed forward again. */
	env->mmio.hook = hook_state_none;
	st0 = h_stats(env);
	assert_int_equal(ioreq_fake_submit(env->fake, 0, &rq), 0);
	(void)h_pump(env);
	assert_int_equal(get_state(env), STATE_IOREQ_NONE);
	assert_int_equal(h_stats(env).st_invalid, st0.st_invalid + 1);
	assert_int_equal(h_stats(env).st_requests, st0.st_requests);
	assert_true(test_log_seen("state changed"));
	env->mmio.hook = NULL;
}

struct racer {
	struct h_env	*env;
	volatile int	 stop;
	unsigned	 seed;
};

static uint64_t
rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (uint64_t)(*s >> 8);
}

/* Rewrites every field of slot 0 except state and vp_eport, forever. */
static void *
racer_main(void *p)
{
	struct racer *r = p;
	struct ioreq *slot = &ioreq_fake_slots(r->env->fake)[0];
	uint8_t *bits = (uint8_t *)slot + IOREQ_SLOT_BITS_OFF;
	static const uint32_t sizes[] = { 1, 2, 3, 4, 8, 16, 0 };
	static const uint64_t addrs[] = { H_MMIO_BASE, H_MMIO_BASE + 0xffe,
	    H_PIO_BASE, H_PIO_BASE + 0x1f, UINT64_MAX - 2, H_RAM_GPA,
	    H_MMIO_BASE + H_MMIO_LEN };

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		uint64_t x = rnd(&r->seed);

		switch (x % 6) {
		case 0:
			WRITE_ONCE(slot->size, sizes[(x >> 3) % 7]);
			break;
		case 1:
			WRITE_ONCE(slot->addr, addrs[(x >> 3) % 7]);
			break;
		case 2:
			WRITE_ONCE(slot->count, (uint32_t)((x >> 3) % 9));
			break;
		case 3:
			WRITE_ONCE(slot->type, (uint8_t)((x >> 3) % 3));
			break;
		case 4:
			WRITE_ONCE(slot->data, (x & 8) ? H_RAM_GPA +
			    ((x >> 4) % (H_RAM_SIZE + 64)) : x);
			break;
		default:
			/* data_is_ptr / dir / df, atomically beside state. */
			__atomic_fetch_xor(bits, (uint8_t)(((x >> 3) & 7) << 4),
			    __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

static void
race__fields_rewritten_between_notify_and_read(void **state)
{
	struct h_env *env = *state;
	struct racer r = { .env = env, .seed = test_seed() };
	pthread_t th;
	unsigned i, answered = 0;

	h_server_start(env);
	assert_int_equal(pthread_create(&th, NULL, racer_main, &r), 0);
	for (i = 0; i < 3000; i++) {
		uint64_t d = i;
		int rc;

		rc = ioreq_fake_mmio(env->fake, 0, H_MMIO_BASE + 8 * (i % 16),
		    4, i & 1 ? IOREQ_READ : IOREQ_WRITE, &d);
		/* Every request is answered, whatever it became. */
		assert_int_equal(rc, 0);
		answered++;
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	h_server_stop(env);
	printf("race: %" PRIu64 " invalid, %" PRIu64 " unclaimed of %u\n",
	    h_stats(env).st_invalid, h_stats(env).st_unclaimed, answered);
	assert_int_equal(answered, 3000);
	assert_int_equal(h_stats(env).st_requests, 3000);
	assert_int_equal(env->pio.bad + env->mmio.bad, 0);
}

static void
log__rate_limited(void **state)
{
	struct h_env *env = *state;
	unsigned i, before = test_log_count();

	for (i = 0; i < 500; i++) {
		struct ioreq resp;

		assert_int_equal(h_do(env, 0, &(struct ioreq){ .type = 0x42,
		    .size = 4, .count = 1, .dir = IOREQ_READ }, &resp), 0);
	}
	assert_int_equal(h_stats(env).st_invalid, 500);
	/* A burst of ten, then about one a second. */
	assert_true(test_log_count() - before <= 15);
	assert_true(test_log_count() - before >= 10);
}

static void
buffered__hostile_ring(void **state)
{
	struct h_env *env = *state;
	struct buffered_iopage *b = ioreq_fake_bufpage(env->fake);
	struct buf_ioreq *slot0;
	unsigned calls = dev_calls(env);

	/* Write pointer far ahead of read: resynchronised, nothing run. */
	b->write_pointer = b->read_pointer + 100000;
	assert_int_equal(ioreq_engine_drain_buffered(env->eng), 0);
	assert_int_equal(b->read_pointer, b->write_pointer);
	assert_true(test_log_seen("buffered ring: buffered ring pointers "
	    "inconsistent"));

	/* Half a quad word published. */
	slot0 = &b->buf_ioreq[b->write_pointer % IOREQ_BUFFER_SLOT_NUM];
	memset(slot0, 0, sizeof(*slot0));
	slot0->type = IOREQ_TYPE_PIO;
	slot0->size = 3;
	slot0->addr = H_PIO_BASE;
	b->write_pointer++;
	assert_int_equal(ioreq_engine_drain_buffered(env->eng), 0);
	assert_int_equal(b->read_pointer, b->write_pointer);
	assert_true(test_log_seen("quad word"));

	/* Unknown type, a read, a port past 0xffff, outside every range. */
	assert_true(b->write_pointer % IOREQ_BUFFER_SLOT_NUM <
	    IOREQ_BUFFER_SLOT_NUM - 4);
	slot0 = &b->buf_ioreq[b->write_pointer % IOREQ_BUFFER_SLOT_NUM];
	memset(slot0, 0, 4 * sizeof(*slot0));
	slot0[0].type = 0x33;
	slot0[1].type = IOREQ_TYPE_PIO;
	slot0[1].dir = IOREQ_READ;
	slot0[1].addr = H_PIO_BASE;
	slot0[2].type = IOREQ_TYPE_COPY;
	slot0[2].addr = 0x12345;
	slot0[3].type = IOREQ_TYPE_PIO;
	slot0[3].size = 1;
	slot0[3].addr = 0xfffff;
	b->write_pointer += 4;
	assert_int_equal(ioreq_engine_drain_buffered(env->eng), 4);
	assert_int_equal(b->read_pointer, b->write_pointer);
	assert_int_equal(dev_calls(env), calls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    sizes__impossible_answered_all_ones, setup1, teardown),
		cmocka_unit_test_setup_teardown(counts__zero_and_huge, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(types__unknown_answered,
		    setup1, teardown),
		cmocka_unit_test_setup_teardown(pointers__outside_guest_ram,
		    setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    spans__crossing_range_ends_are_unclaimed, setup1, teardown),
		cmocka_unit_test_setup_teardown(spans__overflowing_2_64,
		    setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    events__idle_slots_never_answered, setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    race__slot_changed_while_in_process, setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    race__fields_rewritten_between_notify_and_read, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(log__rate_limited, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(buffered__hostile_ring,
		    setup_buf, teardown),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
