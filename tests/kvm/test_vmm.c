/* SPDX-License-Identifier: MIT */
/*
 * The reference VMM with a real vCPU: attach over the socket, then every
 * register-window access of the guest is forwarded through the ioreq
 * page to a server that answers as hcvsockd's shm source does.  The
 * server here is a minimal stand-in (fixed register values); the
 * end-to-end tests put the real device behind the same page.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stdint.h>
#include <xen/hvm/ioreq.h>

#include "test_common.h"
#include "attach/attach.h"
#include "common/loop.h"
#include "vmm.h"
#include "kvm_testutil.h"

static char probe_path[512];

/* ---- A stand-in server behind the ioreq page ------------------------------ */

struct standin {
	struct attach_desc	 sd_desc;	/* dup'ed fds, owned */
	struct ioreq		*sd_slots;
	pthread_t		 sd_thread;
	volatile bool		 sd_stop;
	bool			 sd_mute;	/* never answer */
	unsigned		 sd_reads;
	unsigned		 sd_writes;
	uint64_t		 sd_write_log[64];	/* off << 32 | value */
	pthread_mutex_t		 sd_lock;
};

static uint32_t
standin_reg(uint64_t off)
{
	return 0x1000u + (uint32_t)off;
}

static void *
standin_main(void *arg)
{
	struct standin *sd = arg;
	struct pollfd pfd[ATTACH_MAX_VCPUS];
	unsigned n = sd->sd_desc.ad_nr_vcpus, i;

	for (i = 0; i < n; i++) {
		pfd[i].fd = sd->sd_desc.ad_vcpus[i].kick_fd;
		pfd[i].events = POLLIN;
	}
	while (!sd->sd_stop) {
		if (poll(pfd, n, 20) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			struct ioreq *q = &sd->sd_slots[i], r;
			uint64_t cnt, one = 1, off;

			if ((pfd[i].revents & POLLIN) == 0)
				continue;
			(void)!read(pfd[i].fd, &cnt, sizeof(cnt));
			if (__atomic_load_n((uint8_t *)q + 30, __ATOMIC_ACQUIRE) %
			    16 != STATE_IOREQ_READY || sd->sd_mute)
				continue;
			memcpy(&r, q, sizeof(r));	/* copy once */
			off = r.addr - sd->sd_desc.ad_window_base;
			pthread_mutex_lock(&sd->sd_lock);
			if (r.dir == IOREQ_READ) {
				q->data = standin_reg(off);
				sd->sd_reads++;
			} else {
				if (sd->sd_writes < 64)
					sd->sd_write_log[sd->sd_writes] =
					    off << 32 | (uint32_t)r.data;
				sd->sd_writes++;
			}
			pthread_mutex_unlock(&sd->sd_lock);
			__atomic_thread_fence(__ATOMIC_RELEASE);
			q->state = STATE_IORESP_READY;
			(void)!write(sd->sd_desc.ad_vcpus[i].done_fd, &one,
			    sizeof(one));
		}
	}
	return NULL;
}

struct server_ctx {
	struct kt_server	 sc_s;
	struct standin		*sc_standin;	/* the attached guest */
	bool			 sc_mute;
	unsigned		 sc_detached;
	bool			 sc_saw_vm_fd;
	bool			 sc_saw_kick_fd;
};

static int
dupfd(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

static int
server_attach(void *arg, struct attach_desc *d, void **guestp, char *err,
    size_t errlen)
{
	struct server_ctx *sc = arg;
	struct standin *sd;
	unsigned i;
	void *p;

	sd = calloc(1, sizeof(*sd));
	assert_non_null(sd);
	attach_desc_init(&sd->sd_desc);
	sd->sd_desc.ad_window_base = d->ad_window_base;
	sd->sd_desc.ad_nr_vcpus = d->ad_nr_vcpus;
	sd->sd_desc.ad_page_fd = dupfd(d->ad_page_fd);
	for (i = 0; i < d->ad_nr_vcpus; i++) {
		sd->sd_desc.ad_vcpus[i].kick_fd = dupfd(d->ad_vcpus[i].kick_fd);
		sd->sd_desc.ad_vcpus[i].done_fd = dupfd(d->ad_vcpus[i].done_fd);
	}
	sc->sc_saw_vm_fd = d->ad_vm_fd >= 0;
	sc->sc_saw_kick_fd = d->ad_kick_fd >= 0;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
	    sd->sd_desc.ad_page_fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		attach_desc_close(&sd->sd_desc);
		free(sd);
		return -ENOMEM;
	}
	sd->sd_slots = p;
	sd->sd_mute = sc->sc_mute;
	pthread_mutex_init(&sd->sd_lock, NULL);
	assert_int_equal(pthread_create(&sd->sd_thread, NULL, standin_main,
	    sd), 0);
	sc->sc_standin = sd;
	*guestp = sd;
	return 0;
}

static void
server_detach(void *arg, void *guest)
{
	struct server_ctx *sc = arg;
	struct standin *sd = guest;

	sd->sd_stop = true;
	pthread_join(sd->sd_thread, NULL);
	sc->sc_detached++;
	/* Keep the stand-in's counters for the test; free the rest. */
	munmap(sd->sd_slots, 4096);
	attach_desc_close(&sd->sd_desc);
}

static const struct attach_server_ops server_ops = {
	.attach = server_attach,
	.detach = server_detach,
};

static int
server_setup(void **state)
{
	struct server_ctx *sc = calloc(1, sizeof(*sc));

	assert_non_null(sc);
	kt_server_start(&sc->sc_s, "vmm", &server_ops, sc);
	*state = sc;
	return 0;
}

static int
server_teardown(void **state)
{
	struct server_ctx *sc = *state;

	kt_server_finish(&sc->sc_s);
	if (sc->sc_standin != NULL) {
		pthread_mutex_destroy(&sc->sc_standin->sd_lock);
		free(sc->sc_standin);
	}
	free(sc);
	return 0;
}

static void
wait_detached(struct server_ctx *sc, unsigned n)
{
	unsigned i;

	for (i = 0; i < 500 && __atomic_load_n(&sc->sc_detached,
	    __ATOMIC_ACQUIRE) < n; i++)
		usleep(10000);
	assert_int_equal(sc->sc_detached, n);
}

static struct vmm *
new_vmm(enum ioreq_space sp, uint64_t base, unsigned nr_vcpus,
    enum vmm_notify notify)
{
	struct vmm_cfg cfg = {
		.name = "test-vmm",
		.mem_size = 16u << 20,
		.nr_vcpus = nr_vcpus,
		.cid = 9,
		.window_space = sp,
		.window_base = base,
		.notify = notify,
		.irq_gsi = ATTACH_GSI_NONE,
		.fwd_timeout_ms = 5000,
	};
	struct vmm *m;

	assert_int_equal(vmm_new(&cfg, &m), 0);
	assert_int_equal(vmm_load(m, probe_path), 0);
	return m;
}

/* ---- Tests ---------------------------------------------------------------- */

static void
pio_window__reads_and_writes_forwarded(void **state)
{
	struct server_ctx *sc = *state;
	struct kvmguest_boot *b;
	struct vmm_stats st;
	struct vmm *m;
	char err[256] = "";
	uint32_t code = 0, sum = 0, i;
	int rc;

	m = new_vmm(IOREQ_SPACE_PIO, 0x5a0, 1, VMM_NOTIFY_VM);
	b = vmm_boot(m);
	b->kb_params[0] = 8;
	b->kb_params[1] = 0x100;
	rc = vmm_attach(m, sc->sc_s.ks_path, err, sizeof(err));
	if (rc != 0)
		fail_msg("attach: %s", err);
	assert_true(sc->sc_saw_vm_fd);
	assert_int_equal(vmm_run_vcpu(m, 0, 10000, &code), 0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(b->kb_results[i], standin_reg(4 * i));
		sum += standin_reg(4 * i);
	}
	assert_int_equal(code, sum);
	assert_int_equal(sc->sc_standin->sd_reads, 8);
	assert_int_equal(sc->sc_standin->sd_writes, 2);
	assert_int_equal(sc->sc_standin->sd_write_log[0], 0x20ull << 32 | 0x100);
	/* The synchronous doorbell went through the page like everything else. */
	assert_int_equal(sc->sc_standin->sd_write_log[1], 0x3cull << 32 | 1);
	vmm_get_stats(m, &st);
	assert_int_equal(st.vs_forwarded, 10);
	assert_int_equal(st.vs_fwd_errors, 0);
	/* Closing the VMM's socket detaches the guest in the server. */
	vmm_detach(m);
	wait_detached(sc, 1);
	vmm_free(m);
}

struct vcpu_run {
	struct vmm	*vr_vmm;
	unsigned	 vr_idx;
	uint32_t	 vr_code;
	int		 vr_rc;
};

static void *
vcpu_run_main(void *arg)
{
	struct vcpu_run *vr = arg;

	vr->vr_rc = vmm_run_vcpu(vr->vr_vmm, vr->vr_idx, 10000, &vr->vr_code);
	return NULL;
}

static void
mmio_window__two_vcpus_concurrently(void **state)
{
	struct server_ctx *sc = *state;
	struct vcpu_run vr[2];
	pthread_t th[2];
	struct vmm *m;
	char err[256] = "";
	uint32_t sum = 0;
	unsigned i;

	m = new_vmm(IOREQ_SPACE_MMIO, 0xd0000000, 2, VMM_NOTIFY_EVENTFDS);
	vmm_boot(m)->kb_params[0] = 4;
	vmm_boot(m)->kb_params[1] = 0x200;
	if (vmm_attach(m, sc->sc_s.ks_path, err, sizeof(err)) != 0)
		fail_msg("attach: %s", err);
	assert_false(sc->sc_saw_vm_fd);
	assert_true(sc->sc_saw_kick_fd);
	for (i = 0; i < 2; i++) {
		vr[i].vr_vmm = m;
		vr[i].vr_idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, vcpu_run_main,
		    &vr[i]), 0);
	}
	for (i = 0; i < 4; i++)
		sum += standin_reg(4 * i);
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(vr[i].vr_rc, 0);
		assert_int_equal(vr[i].vr_code, sum);
	}
	assert_int_equal(sc->sc_standin->sd_reads, 8);
	assert_int_equal(sc->sc_standin->sd_writes, 4);
	vmm_free(m);
	wait_detached(sc, 1);
}

/* A write of 1 to DOORBELL completes in the kernel (ioeventfd): no exit. */
static void
eventfds__async_doorbell_stays_in_kernel(void **state)
{
	/* mov dx,0x5d8; mov eax,1; out dx,eax (x3); mov dx,0x500; out dx,eax */
	static const uint8_t prog[] = {
		0x66, 0xba, 0xd8, 0x05, 0xb8, 0x01, 0x00, 0x00, 0x00,
		0xef, 0xef, 0xef,
		0x66, 0xba, 0x00, 0x05, 0xef, 0xeb, 0xfe,
	};
	struct server_ctx *sc = *state;
	struct attach_desc d;
	struct vmm_stats st;
	struct vmm *m;
	char err[256] = "";
	uint32_t code;
	uint64_t cnt = 0;

	m = new_vmm(IOREQ_SPACE_PIO, 0x5a0, 1, VMM_NOTIFY_EVENTFDS);
	assert_int_equal(kvmvm_load(vmm_vm(m), KVMVM_CODE_GPA, prog,
	    sizeof(prog)), 0);
	if (vmm_attach(m, sc->sc_s.ks_path, err, sizeof(err)) != 0)
		fail_msg("attach: %s", err);
	assert_int_equal(vmm_run_vcpu(m, 0, 10000, &code), 0);
	assert_int_equal(code, 1);
	vmm_get_stats(m, &st);
	assert_int_equal(st.vs_forwarded, 0);
	vmm_fill_desc(m, &d);
	assert_int_equal(read(d.ad_kick_fd, &cnt, sizeof(cnt)), 8);
	assert_int_equal(cnt, 3);
	vmm_free(m);
	wait_detached(sc, 1);
}

/* A server that never answers: the vCPU gets all ones and the run fails. */
static void
mute_server__forward_times_out(void **state)
{
	struct server_ctx *sc = *state;
	struct vmm_cfg cfg = {
		.mem_size = 16u << 20, .nr_vcpus = 1, .cid = 11,
		.window_space = IOREQ_SPACE_PIO, .window_base = 0x5a0,
		.notify = VMM_NOTIFY_NONE, .irq_gsi = ATTACH_GSI_NONE,
		.fwd_timeout_ms = 100,
	};
	struct vmm_stats st;
	struct vmm *m;
	char err[256] = "";
	uint32_t code;

	sc->sc_mute = true;
	assert_int_equal(vmm_new(&cfg, &m), 0);
	assert_int_equal(vmm_load(m, probe_path), 0);
	vmm_boot(m)->kb_params[0] = 1;
	if (vmm_attach(m, sc->sc_s.ks_path, err, sizeof(err)) != 0)
		fail_msg("attach: %s", err);
	assert_int_equal(vmm_run_vcpu(m, 0, 10000, &code), -ETIMEDOUT);
	vmm_get_stats(m, &st);
	assert_int_equal(st.vs_fwd_errors, 1);
	vmm_free(m);
	wait_detached(sc, 1);
}

/*
 * hcvsockd goes away while a vCPU waits for an answer: the wait ends at
 * once (not at the forwarding timeout) and the guest sees no backend
 * (all ones) for that access and every later one.
 */
static void
daemon_gone__guest_sees_no_backend(void **state)
{
	struct server_ctx *sc = *state;
	struct vmm_cfg cfg = {
		.mem_size = 16u << 20, .nr_vcpus = 1, .cid = 12,
		.window_space = IOREQ_SPACE_PIO, .window_base = 0x5a0,
		.notify = VMM_NOTIFY_NONE, .irq_gsi = ATTACH_GSI_NONE,
		.fwd_timeout_ms = 15000,
	};
	struct kvmguest_boot *b;
	struct kt_vcpu_bg vb;
	struct vmm_stats st;
	struct timespec t0, t1;
	struct vmm *m;
	char err[256] = "";
	unsigned i;

	sc->sc_mute = true;
	assert_int_equal(vmm_new(&cfg, &m), 0);
	assert_int_equal(vmm_load(m, probe_path), 0);
	b = vmm_boot(m);
	b->kb_params[0] = 4;
	if (vmm_attach(m, sc->sc_s.ks_path, err, sizeof(err)) != 0)
		fail_msg("attach: %s", err);
	kt_vcpu_bg_start(&vb, m, 20000);
	/* Wait until the first read is stuck in the page. */
	for (i = 0; i < 500; i++) {
		vmm_get_stats(m, &st);
		if (st.vs_forwarded == 1)
			break;
		usleep(2000);
	}
	assert_int_equal(st.vs_forwarded, 1);
	usleep(50000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kt_server_kill(&sc->sc_s);
	kt_vcpu_bg_join(&vb);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(vb.vb_rc, 0);
	/* Four reads of all ones, then two writes that went nowhere. */
	assert_int_equal(vb.vb_code, (uint32_t)(4u * 0xffffffffu));
	for (i = 0; i < 4; i++)
		assert_int_equal(b->kb_results[i], 0xffffffffu);
	vmm_get_stats(m, &st);
	assert_int_equal(st.vs_fwd_errors, 6);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000 < 3000);
	vmm_free(m);
}

/* The daemon's checks reach the VMM: a CID of 2 is refused. */
static void
bad_cid__attach_refused(void **state)
{
	struct server_ctx *sc = *state;
	struct vmm_cfg cfg = {
		.mem_size = 16u << 20, .nr_vcpus = 1, .cid = 2,
		.window_space = IOREQ_SPACE_PIO, .window_base = 0x5a0,
		.notify = VMM_NOTIFY_VM, .irq_gsi = ATTACH_GSI_NONE,
	};
	struct vmm *m;
	char err[256] = "";

	test_log_capture_start();
	assert_int_equal(vmm_new(&cfg, &m), 0);
	assert_int_equal(vmm_attach(m, sc->sc_s.ks_path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cid 2"));
	vmm_free(m);
	assert_int_equal(sc->sc_detached, 0);
	test_log_capture_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    pio_window__reads_and_writes_forwarded, server_setup,
		    server_teardown),
		cmocka_unit_test_setup_teardown(
		    mmio_window__two_vcpus_concurrently, server_setup,
		    server_teardown),
		cmocka_unit_test_setup_teardown(
		    eventfds__async_doorbell_stays_in_kernel, server_setup,
		    server_teardown),
		cmocka_unit_test_setup_teardown(
		    mute_server__forward_times_out, server_setup,
		    server_teardown),
		cmocka_unit_test_setup_teardown(bad_cid__attach_refused,
		    server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(
		    daemon_gone__guest_sees_no_backend, server_setup,
		    server_teardown),
	};

	if (kt_start(probe_path, sizeof(probe_path), "probe.bin") != 0)
		return TEST_EXIT_SKIP;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
