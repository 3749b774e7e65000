/* SPDX-License-Identifier: MIT */
/* The ioreq suites' shared fixture: fake page, shm source, two recording devices. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"
#include "notify/notify.h"
#include "ioreq_harness.h"

struct h_env *
h_env_new(unsigned nr_vcpus, bool bufioreq, bool legacy)
{
	struct ioreq_fake_cfg cfg = { .nr_vcpus = nr_vcpus,
	    .bufioreq = bufioreq, .buf_legacy = legacy, .ram_gpa = H_RAM_GPA,
	    .ram_size = H_RAM_SIZE, .timeout_ms = 5000 };
	struct h_env *env;
	unsigned i;
	uint32_t p;
	uint64_t cnt;

	env = calloc(1, sizeof(*env));
	assert_non_null(env);
	rec_dev_init(&env->pio, H_PIO_LEN);
	rec_dev_init(&env->mmio, H_MMIO_LEN);
	assert_int_equal(ioreq_fake_new(&cfg, &env->fake), 0);
	assert_int_equal(ioreq_shm_open(ioreq_fake_shm_cfg(env->fake),
	    &env->src), 0);
	assert_string_equal(ioreq_source_kind(env->src), "shm");
	assert_int_equal(ioreq_source_nr_vcpus(env->src), nr_vcpus);
	env->eng = ioreq_source_engine(env->src);
	env->n = ioreq_source_notifier(env->src);
	assert_int_equal(ioreq_source_add_range(env->src, IOREQ_SPACE_PIO,
	    H_PIO_BASE, H_PIO_BASE + H_PIO_LEN - 1, &rec_dev_ops, &env->pio), 0);
	assert_int_equal(ioreq_source_add_range(env->src, IOREQ_SPACE_MMIO,
	    H_MMIO_BASE, H_MMIO_BASE + H_MMIO_LEN - 1, &rec_dev_ops,
	    &env->mmio), 0);
	assert_int_equal(ioreq_source_enable(env->src), 0);

	/* Learn which local port carries each doorbell. */
	for (i = 0; i < nr_vcpus; i++) {
		assert_int_equal(ioreq_fake_kick(env->fake, i), 0);
		assert_int_equal(notifier_next(env->n, &p, &cnt), 1);
		env->vport[i] = p;
		/* The slot is idle: the engine must count it spurious. */
		assert_int_equal(ioreq_engine_handle_port(env->eng, p), 1);
		/* Drained to 0, as the contract asks before the next kick. */
		assert_int_equal(notifier_next(env->n, &p, &cnt), 0);
	}
	env->bport = NOTIFY_PORT_INVALID;
	if (bufioreq) {
		uint32_t before = h_stats(env).st_buffered;

		assert_int_equal(ioreq_fake_buffered_write(env->fake,
		    IOREQ_TYPE_PIO, 0x80, 1, 0), 0);
		assert_int_equal(notifier_next(env->n, &p, &cnt), 1);
		env->bport = p;
		assert_int_equal(ioreq_engine_handle_port(env->eng, p), 1);
		assert_int_equal(h_stats(env).st_buffered, before + 1);
		assert_int_equal(notifier_next(env->n, &p, &cnt), 0);
	}
	assert_int_equal(notifier_next(env->n, &p, &cnt), 0);
	return env;
}

void
h_env_free(struct h_env *env)
{
	if (env == NULL)
		return;
	if (env->server_running)
		h_server_stop(env);
	ioreq_source_close(env->src, true);
	ioreq_fake_free(env->fake);
	rec_dev_fini(&env->pio);
	rec_dev_fini(&env->mmio);
	free(env);
}

unsigned
h_pump(struct h_env *env)
{
	unsigned handled = 0;
	uint32_t p;

	while (notifier_next(env->n, &p, NULL) == 1) {
		if (ioreq_engine_handle_port(env->eng, p) == 1)
			handled++;
	}
	return handled;
}

static void *
h_server_main(void *arg)
{
	struct h_env *env = arg;

	while (!__atomic_load_n(&env->server_stop, __ATOMIC_ACQUIRE)) {
		if (notifier_wait(env->n, 20) > 0)
			(void)h_pump(env);
	}
	return NULL;
}

void
h_server_start(struct h_env *env)
{
	env->server_stop = 0;
	assert_int_equal(pthread_create(&env->server, NULL, h_server_main,
	    env), 0);
	env->server_running = true;
}

void
h_server_stop(struct h_env *env)
{
	__atomic_store_n(&env->server_stop, 1, __ATOMIC_RELEASE);
	pthread_join(env->server, NULL);
	env->server_running = false;
}

int
h_do(struct h_env *env, unsigned vcpu, const struct ioreq *rq,
    struct ioreq *resp)
{
	int rc;

	rc = ioreq_fake_submit(env->fake, vcpu, rq);
	if (rc < 0)
		return rc;
	(void)h_pump(env);
	return ioreq_fake_complete(env->fake, vcpu, resp);
}

struct ioreq_engine_stats
h_stats(struct h_env *env)
{
	struct ioreq_engine_stats st;

	ioreq_engine_get_stats(env->eng, &st);
	return st;
}

void
h_assert_only_data_written(const struct ioreq *rq, const struct ioreq *resp)
{
	assert_int_equal(resp->addr, rq->addr);
	assert_int_equal(resp->count, rq->count);
	assert_int_equal(resp->size, rq->size);
	assert_int_equal(resp->type, rq->type);
	assert_int_equal(resp->dir, rq->dir);
	assert_int_equal(resp->df, rq->df);
	assert_int_equal(resp->data_is_ptr, rq->data_is_ptr);
	assert_int_equal(resp->_pad0, 0);
	assert_int_equal(resp->_pad1, 0);
}
