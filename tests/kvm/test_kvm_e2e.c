/* SPDX-License-Identifier: MIT */
/*
 * End to end on KVM: a real vCPU runs the freestanding guest driver in
 * native user mode; its register-window exits are forwarded by the
 * reference VMM through the attach protocol's ioreq page to hcvsockd's
 * KVM listener (attach_vsock_listen: the same device and muxer as on
 * Xen, on an event-loop thread); bytes reach host AF_UNIX sockets and
 * come back.  Skips (77) without /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_common.h"
#include "attach/attach_vsock.h"
#include "common/loop.h"
#include "guest/e2e_params.h"
#include "hcvsock_abi.h"
#include "vmm.h"
#include "kvm_testutil.h"

#define E2E_PORT	5000u
#define E2E_CID		77u

static char guest_path[512];
static char probe_path[512];

/* ---- Host echo server on <uds>_<port> ----------------------------------- */

#define ECHO_MAX	128
/* How long a migration orchestrator waits for each read. */
#define MIG_MS		30000

struct echo_srv {
	int		es_listen;
	pthread_t	es_thread;
	volatile bool	es_stop;
	/* Written by the server thread; read after it is joined. */
	uint64_t	es_bytes;
	uint32_t	es_sum;		/* FNV-1a over everything, in order */
	unsigned	es_accepted;
	unsigned	es_eofs;
	unsigned	es_max_open;
};

static void *
echo_main(void *arg)
{
	struct echo_srv *es = arg;
	struct pollfd pfd[ECHO_MAX + 1];
	static __thread uint8_t buf[65536];
	unsigned n = 1, i;

	pfd[0].fd = es->es_listen;
	pfd[0].events = POLLIN;
	while (!es->es_stop) {
		if (poll(pfd, n, 20) <= 0)
			continue;
		if ((pfd[0].revents & POLLIN) != 0 && n <= ECHO_MAX) {
			int s = accept4(es->es_listen, NULL, NULL, SOCK_CLOEXEC);

			if (s >= 0) {
				pfd[n].fd = s;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				n++;
				es->es_accepted++;
				if (n - 1 > es->es_max_open)
					es->es_max_open = n - 1;
			}
		}
		for (i = 1; i < n; i++) {
			ssize_t r;
			size_t off = 0;

			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				es->es_eofs++;
				close(pfd[i].fd);
				pfd[i] = pfd[--n];
				i--;
				continue;
			}
			es->es_bytes += (uint64_t)r;
			es->es_sum = e2e_fnv(es->es_sum, buf, (size_t)r);
			while (off < (size_t)r) {
				ssize_t w = write(pfd[i].fd, buf + off,
				    (size_t)r - off);

				if (w <= 0)
					break;
				off += (size_t)w;
			}
		}
	}
	for (i = 1; i < n; i++)
		close(pfd[i].fd);
	return NULL;
}

static void
echo_start(struct echo_srv *es, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(es, 0, sizeof(*es));
	es->es_sum = E2E_FNV_INIT;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	es->es_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(es->es_listen >= 0);
	assert_int_equal(bind(es->es_listen, (struct sockaddr *)&sun,
	    sizeof(sun)), 0);
	assert_int_equal(listen(es->es_listen, 128), 0);
	assert_int_equal(pthread_create(&es->es_thread, NULL, echo_main, es), 0);
}

static void
echo_stop(struct echo_srv *es, const char *path)
{
	es->es_stop = true;
	pthread_join(es->es_thread, NULL);
	close(es->es_listen);
	unlink(path);
}

/* ---- hcvsockd's KVM side on a loop thread --------------------------------- */

struct fixture {
	struct loop			*fx_loop;
	struct attach_vsock_server	*fx_srv;
	pthread_t			 fx_thread;
	volatile bool			 fx_stop;
	pthread_mutex_t			 fx_lock;	/* the loop runs under it */
	char				 fx_dir[64];
	char				 fx_attach[100];
	char				 fx_uds[100];
	char				 fx_echo[112];
	unsigned			 fx_attached;	/* hooks */
	unsigned			 fx_detached;
	uint64_t			 fx_last_cid;
};

static void
fx_on_attach(void *arg, const char *name, uint64_t cid)
{
	struct fixture *fx = arg;

	assert_string_equal(name, "e2e");
	fx->fx_attached++;
	fx->fx_last_cid = cid;
}

static void
fx_on_detach(void *arg, const char *name, uint64_t cid)
{
	struct fixture *fx = arg;

	assert_string_equal(name, "e2e");
	assert_int_equal(cid, fx->fx_last_cid);
	fx->fx_detached++;
}

static void *
fx_main(void *arg)
{
	struct fixture *fx = arg;

	while (!fx->fx_stop) {
		pthread_mutex_lock(&fx->fx_lock);
		(void)loop_run_once(fx->fx_loop, 10);
		pthread_mutex_unlock(&fx->fx_lock);
	}
	return NULL;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct attach_vsock_cfg cfg;

	assert_non_null(fx);
	pthread_mutex_init(&fx->fx_lock, NULL);
	test_tmpdir(fx->fx_dir, sizeof(fx->fx_dir), "e2e");
	snprintf(fx->fx_attach, sizeof(fx->fx_attach), "%s/attach", fx->fx_dir);
	snprintf(fx->fx_uds, sizeof(fx->fx_uds), "%s/vsock", fx->fx_dir);
	snprintf(fx->fx_echo, sizeof(fx->fx_echo), "%s_%u", fx->fx_uds,
	    E2E_PORT);
	assert_int_equal(loop_new(&fx->fx_loop), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = fx->fx_loop;
	snprintf(cfg.mux.uds_path, sizeof(cfg.mux.uds_path), "%s", fx->fx_uds);
	cfg.mux.default_allow = true;
	cfg.mux.max_conns = 256;
	cfg.mux.buf_alloc = 256u << 10;
	cfg.mux.close_timeout_ms = 2000;
	cfg.mux.send_ok_line = true;
	cfg.on_attach = fx_on_attach;
	cfg.on_detach = fx_on_detach;
	cfg.hook_arg = fx;
	assert_int_equal(attach_vsock_listen(&cfg, fx->fx_attach, 4,
	    &fx->fx_srv), 0);
	assert_int_equal(pthread_create(&fx->fx_thread, NULL, fx_main, fx), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	fx->fx_stop = true;
	pthread_join(fx->fx_thread, NULL);
	attach_vsock_unlisten(fx->fx_srv);
	loop_free(fx->fx_loop);
	pthread_mutex_destroy(&fx->fx_lock);
	test_rmtree(fx->fx_dir);
	free(fx);
	return 0;
}

/* Counters of the attached guest, from hcvsockd's status dump. */
struct dump_scan {
	uint64_t	ds_requests;
	uint64_t	ds_kicks;
	uint64_t	ds_irqs;
	unsigned	ds_guests;
};

static void
dump_line(void *arg, const char *line)
{
	struct dump_scan *ds = arg;
	uint64_t r, k, i;

	if (sscanf(line, "kvm guest %*s cid %*u: %" SCNu64 " forwarded "
	    "requests, %" SCNu64 " kicks, %" SCNu64 " irqs", &r, &k, &i) == 3) {
		ds->ds_requests = r;
		ds->ds_kicks = k;
		ds->ds_irqs = i;
		ds->ds_guests++;
	}
}

static void
fx_scan(struct fixture *fx, struct dump_scan *ds)
{
	memset(ds, 0, sizeof(*ds));
	pthread_mutex_lock(&fx->fx_lock);
	attach_vsock_dump(fx->fx_srv, dump_line, ds);
	pthread_mutex_unlock(&fx->fx_lock);
}

static struct vmm *
e2e_vmm(struct fixture *fx, enum ioreq_space sp, uint64_t base,
    enum vmm_notify notify, bool irqchip, uint32_t gsi)
{
	struct vmm_cfg cfg = {
		.name = "e2e",
		.mem_size = 32u << 20,
		.nr_vcpus = 1,
		.cid = E2E_CID,
		.window_space = sp,
		.window_base = base,
		.notify = notify,
		.irqchip = irqchip,
		.irq_gsi = gsi,
		.fwd_timeout_ms = 10000,
	};

	return kt_vmm_attach(&cfg, guest_path, fx->fx_attach);
}

static void
run_guest(struct vmm *m)
{
	struct kvmguest_boot *b = vmm_boot(m);
	uint32_t code = 0xffffffff;
	int rc;

	rc = vmm_run_vcpu(m, 0, 60000, &code);
	if (rc != 0 || code != 0)
		fail_msg("guest: rc %d code 0x%x step 0x%x status %d", rc, code,
		    b->kb_results[E2E_R_STEP], (int)b->kb_results[E2E_R_STATUS]);
	assert_int_equal(b->kb_results[E2E_R_VERSION], HCVS_VERSION);
	assert_int_equal(b->kb_results[E2E_R_CID], E2E_CID);
}

static uint64_t
serial_bytes(uint32_t max)
{
	uint64_t total = 0;
	uint32_t size;

	for (size = 1; size != 0; ) {
		uint32_t n = size < 4 ? size + 1 : size + size / 2 + 1;

		total += size;
		size = size == max ? 0 : (n > max ? max : n);
	}
	return total;
}

/* ---- Tests ---------------------------------------------------------------- */

/*
 * Guest-initiated echo through every doorbell path, one table: what the
 * guest runs (serial: sizes 1 B .. max one after the other on each
 * connection; concurrent: all connections open at once, interleaved) and
 * how its doorbell must have reached hcvsockd.
 */
enum doorbell {
	DB_IOEVENTFD,	/* KVM's ioeventfd: kicks seen, guest kicked */
	DB_FORWARDED,	/* no eventfds: every doorbell a forwarded exit */
};

struct echo_case {
	const char	*ec_name;
	enum ioreq_space ec_space;
	uint64_t	 ec_base;
	enum vmm_notify	 ec_notify;
	uint32_t	 ec_case;	/* E2E_CASE_CLIENT_* */
	uint32_t	 ec_nconn;
	uint32_t	 ec_max_size;
	uint32_t	 ec_rounds;	/* concurrent only */
	uint32_t	 ec_flags;	/* E2E_F_* */
	enum doorbell	 ec_doorbell;
};

static const struct echo_case echo_cases[] = {
	/* Asynchronous doorbell through hcvsockd's ioeventfd (VM fd). */
	{ "pio, async doorbell, hcvsockd's ioeventfd", IOREQ_SPACE_PIO, 0x5a0,
	    VMM_NOTIFY_VM, E2E_CASE_CLIENT_SERIAL, 3, 65536, 0, 0,
	    DB_IOEVENTFD },
	/* The synchronous doorbell (hypercall semantics), no eventfds. */
	{ "mmio, sync doorbell, forwarded", IOREQ_SPACE_MMIO, 0xd0000000ull,
	    VMM_NOTIFY_NONE, E2E_CASE_CLIENT_SERIAL, 2, 20000, 0, E2E_F_SYNC,
	    DB_FORWARDED },
	/* 64 connections open at once through the VMM's eventfds. */
	{ "pio, 64 concurrent connections, VMM's eventfds", IOREQ_SPACE_PIO,
	    0x5a0, VMM_NOTIFY_EVENTFDS, E2E_CASE_CLIENT_CONCURRENT, 64, 3000,
	    4, 0, DB_IOEVENTFD },
};

static void
echo_run(struct fixture *fx, const struct echo_case *ec, uint32_t seed)
{
	struct echo_srv es;
	struct dump_scan ds;
	struct vmm_stats st;
	struct kvmguest_boot *b, res;
	struct vmm *m;
	uint64_t want = ec->ec_case == E2E_CASE_CLIENT_SERIAL ?
	    ec->ec_nconn * serial_bytes(ec->ec_max_size) :
	    (uint64_t)ec->ec_nconn * ec->ec_rounds * ec->ec_max_size;

	printf("# %s\n", ec->ec_name);
	echo_start(&es, fx->fx_echo);
	m = e2e_vmm(fx, ec->ec_space, ec->ec_base, ec->ec_notify, false,
	    ATTACH_GSI_NONE);
	b = vmm_boot(m);
	b->kb_params[E2E_P_CASE] = ec->ec_case;
	b->kb_params[E2E_P_PORT] = E2E_PORT;
	b->kb_params[E2E_P_NCONN] = ec->ec_nconn;
	b->kb_params[E2E_P_MAX_SIZE] = ec->ec_max_size;
	b->kb_params[E2E_P_ROUNDS] = ec->ec_rounds;
	b->kb_params[E2E_P_FLAGS] = ec->ec_flags;
	b->kb_params[E2E_P_SEED] = seed;
	run_guest(m);
	fx_scan(fx, &ds);
	vmm_get_stats(m, &st);
	res = *b;
	b = &res;
	vmm_free(m);
	echo_stop(&es, fx->fx_echo);

	assert_int_equal(b->kb_results[E2E_R_CONNS], ec->ec_nconn);
	assert_int_equal(b->kb_results[E2E_R_RX_BYTES], want);
	assert_int_equal(es.es_bytes, want);
	assert_int_equal(es.es_accepted, ec->ec_nconn);
	if (ec->ec_case == E2E_CASE_CLIENT_SERIAL) {
		/* What the host socket saw is what the guest sent and got back. */
		assert_int_equal(b->kb_results[E2E_R_TX_BYTES], want);
		assert_int_equal(es.es_sum, b->kb_results[E2E_R_SUM]);
	} else {
		assert_int_equal(es.es_max_open, ec->ec_nconn);
	}
	switch (ec->ec_doorbell) {
	case DB_IOEVENTFD:
		assert_int_equal(ds.ds_guests, 1);
		assert_true(ds.ds_kicks > 0);
		break;
	case DB_FORWARDED:
		assert_int_equal(ds.ds_kicks, 0);
		assert_true(st.vs_forwarded >= b->kb_results[E2E_R_KICKS]);
		assert_true(ds.ds_requests >= b->kb_results[E2E_R_KICKS]);
		assert_int_equal(st.vs_fwd_errors, 0);
		break;
	}
	assert_true(b->kb_results[E2E_R_KICKS] > 0);
	printf("# %" PRIu64 " bytes each way; %u guest kicks, %" PRIu64
	    " seen by ioeventfd; %" PRIu64 " forwarded exits\n", want,
	    b->kb_results[E2E_R_KICKS], ds.ds_kicks, st.vs_forwarded);
}

static void
echo__every_doorbell_path(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(echo_cases); i++)
		echo_run(*state, &echo_cases[i], test_seed() + (uint32_t)i);
}

struct host_client {
	const char	*hc_path;
	unsigned	 hc_nconn;
	size_t		 hc_len;
	uint32_t	 hc_seed;
	volatile uint32_t *hc_ready;
	int		 hc_rc;
	uint32_t	 hc_sum;	/* sum of per-connection FNVs */
	char		 hc_err[128];
};

static int
hc_one(struct host_client *hc, unsigned c, uint8_t *tx, uint8_t *rx)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[64];
	size_t off = 0, got = 0, i;
	ssize_t n;
	int s;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", hc->hc_path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return snprintf(hc->hc_err, sizeof(hc->hc_err), "connect"), -1;
	n = snprintf(line, sizeof(line), "CONNECT %u\n", E2E_PORT);
	if (write(s, line, (size_t)n) != n)
		return snprintf(hc->hc_err, sizeof(hc->hc_err), "write"), -1;
	/* "OK <port>\n", byte by byte so no echo data is swallowed. */
	if (!test_read_line(s, line, sizeof(line), 10000))
		return snprintf(hc->hc_err, sizeof(hc->hc_err), "no OK line"),
		    close(s), -1;
	if (strncmp(line, "OK ", 3) != 0)
		return snprintf(hc->hc_err, sizeof(hc->hc_err), "got \"%s\"",
		    line), close(s), -1;
	for (i = 0; i < hc->hc_len; i++)
		tx[i] = (uint8_t)(hc->hc_seed * 31 + c * 7 + i * 13 + (i >> 9));
	/* Write and read interleaved so neither side's buffers fill up. */
	while (got < hc->hc_len) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };

		if (off < hc->hc_len)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 10000) <= 0)
			return snprintf(hc->hc_err, sizeof(hc->hc_err),
			    "stalled at %zu/%zu", got, off), close(s), -1;
		if ((pfd.revents & POLLOUT) != 0) {
			n = write(s, tx + off, MIN(hc->hc_len - off, 8192));
			if (n > 0)
				off += (size_t)n;
			if (off == hc->hc_len)
				shutdown(s, SHUT_WR);
		}
		if ((pfd.revents & (POLLIN | POLLHUP)) != 0) {
			n = read(s, rx + got, hc->hc_len - got);
			if (n <= 0)
				return snprintf(hc->hc_err, sizeof(hc->hc_err),
				    "EOF at %zu", got), close(s), -1;
			got += (size_t)n;
		}
	}
	if (memcmp(tx, rx, hc->hc_len) != 0)
		return snprintf(hc->hc_err, sizeof(hc->hc_err), "mismatch"),
		    close(s), -1;
	/* The guest closes after our SHUT_WR: EOF follows. */
	n = read(s, line, 1);
	close(s);
	if (n != 0)
		return snprintf(hc->hc_err, sizeof(hc->hc_err), "no EOF"), -1;
	hc->hc_sum += e2e_fnv(E2E_FNV_INIT, rx, hc->hc_len);
	return 0;
}

static void *
hc_main(void *arg)
{
	struct host_client *hc = arg;
	uint8_t *tx = malloc(hc->hc_len), *rx = malloc(hc->hc_len);
	unsigned c, i;

	hc->hc_rc = -1;
	for (i = 0; i < 3000 && *hc->hc_ready == 0; i++)
		usleep(10000);
	if (*hc->hc_ready == 0) {
		snprintf(hc->hc_err, sizeof(hc->hc_err), "guest never listened");
		goto out;
	}
	for (c = 0; c < hc->hc_nconn; c++)
		if (hc_one(hc, c, tx, rx) < 0)
			goto out;
	hc->hc_rc = 0;
out:
	free(tx);
	free(rx);
	return NULL;
}

/* Host-initiated: CONNECT <port> on the host socket, the guest echoes. */
static void
host_connect__guest_echoes(void **state)
{
	struct fixture *fx = *state;
	struct host_client hc;
	struct kvmguest_boot *b;
	pthread_t th;
	struct vmm *m;

	m = e2e_vmm(fx, IOREQ_SPACE_PIO, 0x5a0, VMM_NOTIFY_VM, false,
	    ATTACH_GSI_NONE);
	b = vmm_boot(m);
	b->kb_params[E2E_P_CASE] = E2E_CASE_SERVER_ECHO;
	b->kb_params[E2E_P_PORT] = E2E_PORT;
	b->kb_params[E2E_P_NCONN] = 4;
	memset(&hc, 0, sizeof(hc));
	hc.hc_path = fx->fx_uds;
	hc.hc_nconn = 4;
	hc.hc_len = 100000;
	hc.hc_seed = test_seed();
	hc.hc_ready = &b->kb_results[E2E_R_READY];
	assert_int_equal(pthread_create(&th, NULL, hc_main, &hc), 0);
	run_guest(m);
	pthread_join(th, NULL);
	if (hc.hc_rc != 0)
		fail_msg("host client: %s", hc.hc_err);
	assert_int_equal(b->kb_results[E2E_R_CONNS], 4);
	assert_int_equal(b->kb_results[E2E_R_RX_BYTES], 400000);
	assert_int_equal(b->kb_results[E2E_R_SUM], hc.hc_sum);
	vmm_free(m);
}

/*
 * Notification mode GSI in a native guest that
 * polls: the device raises the interrupt and KVM's 8259 latches it (the
 * delivery itself is tested in real mode in test_attach_guest).
 */
static void
gsi_run(struct fixture *fx, enum vmm_notify notify, uint32_t vmm_gsi)
{
	struct kvm_irqchip chip;
	struct echo_srv es;
	struct dump_scan ds;
	struct kvmguest_boot *b, res;
	struct vmm *m;

	echo_start(&es, fx->fx_echo);
	m = e2e_vmm(fx, IOREQ_SPACE_PIO, 0x5a0, notify, true, vmm_gsi);
	b = vmm_boot(m);
	b->kb_params[E2E_P_CASE] = E2E_CASE_CLIENT_SERIAL;
	b->kb_params[E2E_P_PORT] = E2E_PORT;
	b->kb_params[E2E_P_NCONN] = 1;
	b->kb_params[E2E_P_MAX_SIZE] = 5000;
	b->kb_params[E2E_P_FLAGS] = E2E_F_GSI;
	b->kb_params[E2E_P_GSI] = 5;
	b->kb_params[E2E_P_SEED] = test_seed() + 3;
	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
	assert_int_equal(ioctl(kvmvm_vm_fd(vmm_vm(m)), KVM_GET_IRQCHIP, &chip),
	    0);
	assert_int_equal(chip.chip.pic.irr & (1u << 5), 0);
	run_guest(m);
	fx_scan(fx, &ds);
	/*
	 * KVM injects an irqfd's event from a kernel work item, after the
	 * eventfd write returned: give it a bounded moment to land.
	 */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(ioctl(kvmvm_vm_fd(vmm_vm(m)), KVM_GET_IRQCHIP,
		    &chip), 0);
		if (chip.chip.pic.irr & (1u << 5))
			break;
		usleep(10000);
	}
	res = *b;
	b = &res;
	vmm_free(m);
	echo_stop(&es, fx->fx_echo);

	assert_int_equal(es.es_sum, b->kb_results[E2E_R_SUM]);
	assert_true(ds.ds_irqs > 0);
	assert_int_equal(chip.chip.pic.irr & (1u << 5), 1u << 5);
}

/* hcvsockd's own irqfd, bound on the GSI the guest chose (in-process). */
static void
gsi_mode__hcvsockd_irqfd_reaches_the_irqchip(void **state)
{
	gsi_run(*state, VMM_NOTIFY_VM, ATTACH_GSI_NONE);
}

/* The VMM's irqfd on the GSI it chose, handed over as an eventfd. */
static void
gsi_mode__vmm_irqfd_reaches_the_irqchip(void **state)
{
	gsi_run(*state, VMM_NOTIFY_EVENTFDS, 5);
}

/*
 * The VMM goes away with a connection open: hcvsockd detaches the guest
 * and the host peer sees EOF; a second VMM with the same CID is refused
 * while the first is attached.
 */
static void
vmm_disconnect__host_peer_sees_eof(void **state)
{
	struct fixture *fx = *state;
	struct vmm_cfg cfg2 = {
		.mem_size = 32u << 20, .nr_vcpus = 1, .cid = E2E_CID,
		.window_space = IOREQ_SPACE_PIO, .window_base = 0x5a0,
		.notify = VMM_NOTIFY_NONE, .irq_gsi = ATTACH_GSI_NONE,
	};
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct kt_vcpu_bg vr;
	struct kvmguest_boot *b;
	struct dump_scan ds;
	struct pollfd pfd;
	struct vmm *m, *m2;
	char buf[64], err[256] = "";
	unsigned i;
	ssize_t n;
	int s;

	m = e2e_vmm(fx, IOREQ_SPACE_PIO, 0x5a0, VMM_NOTIFY_VM, false,
	    ATTACH_GSI_NONE);
	b = vmm_boot(m);
	b->kb_params[E2E_P_CASE] = E2E_CASE_SERVER_ECHO;
	b->kb_params[E2E_P_PORT] = E2E_PORT;
	b->kb_params[E2E_P_NCONN] = 1;

	/* Same CID twice: refused with the reason. */
	assert_int_equal(vmm_new(&cfg2, &m2), 0);
	test_log_capture_start();
	assert_int_equal(vmm_attach(m2, fx->fx_attach, err, sizeof(err)),
	    -EADDRINUSE);
	test_log_capture_stop();
	assert_non_null(strstr(err, "already attached"));
	vmm_free(m2);

	kt_vcpu_bg_start(&vr, m, 60000);
	for (i = 0; i < 3000 && b->kb_results[E2E_R_READY] == 0; i++)
		usleep(1000);
	assert_int_equal(b->kb_results[E2E_R_READY], 1);

	/* A host program connects and gets an echo. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx->fx_uds);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	n = snprintf(buf, sizeof(buf), "CONNECT %u\n", E2E_PORT);
	assert_int_equal(write(s, buf, (size_t)n), n);
	pfd.fd = s;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	n = read(s, buf, sizeof(buf) - 1);
	assert_true(n > 3);
	buf[n] = '\0';
	assert_int_equal(strncmp(buf, "OK ", 3), 0);
	assert_int_equal(write(s, "ping", 4), 4);
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(read(s, buf, 4), 4);
	assert_memory_equal(buf, "ping", 4);

	/* The VMM stops its vCPU and hangs up. */
	vmm_stop(m);
	kt_vcpu_bg_join(&vr);
	assert_int_equal(vr.vb_rc, -ECANCELED);
	vmm_detach(m);

	/* The host peer sees the end of the stream, not a hang. */
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	n = read(s, buf, sizeof(buf));
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	close(s);
	for (i = 0; i < 1000; i++) {
		fx_scan(fx, &ds);
		if (ds.ds_guests == 0)
			break;
		usleep(1000);
	}
	assert_int_equal(ds.ds_guests, 0);
	pthread_mutex_lock(&fx->fx_lock);
	assert_int_equal(fx->fx_attached, 1);
	assert_int_equal(fx->fx_detached, 1);
	assert_int_equal(fx->fx_last_cid, E2E_CID);
	/* New policy reaches later guests; nothing attached now. */
	{
		struct vsock_mux_cfg mux;

		memset(&mux, 0, sizeof(mux));
		snprintf(mux.uds_path, sizeof(mux.uds_path), "%s", fx->fx_uds);
		mux.max_conns = 8;
		mux.buf_alloc = 65536;
		assert_int_equal(attach_vsock_reconfigure(fx->fx_srv, &mux), 0);
	}
	pthread_mutex_unlock(&fx->fx_lock);
	vmm_free(m);
}

/* A daemon configured for one CID refuses a VMM that brings another. */
static void
require_cid__other_cid_refused(void **state)
{
	struct fixture *fx = *state;
	struct attach_vsock_server *srv2;
	struct attach_vsock_cfg cfg;
	struct vmm_cfg vc = {
		.mem_size = 32u << 20, .nr_vcpus = 1, .cid = E2E_CID,
		.window_space = IOREQ_SPACE_PIO, .window_base = 0x5a0,
		.notify = VMM_NOTIFY_NONE, .irq_gsi = ATTACH_GSI_NONE,
	};
	char path[128], err[256] = "";
	struct vmm *m;

	snprintf(path, sizeof(path), "%s/attach2", fx->fx_dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = fx->fx_loop;
	cfg.require_cid = E2E_CID + 1;
	cfg.mux.max_conns = 4;
	cfg.mux.buf_alloc = 65536;
	pthread_mutex_lock(&fx->fx_lock);
	assert_int_equal(attach_vsock_listen(&cfg, path, 1, &srv2), 0);
	pthread_mutex_unlock(&fx->fx_lock);
	assert_int_equal(vmm_new(&vc, &m), 0);
	test_log_capture_start();
	assert_int_equal(vmm_attach(m, path, err, sizeof(err)), -EPERM);
	test_log_capture_stop();
	assert_non_null(strstr(err, "not the configured guest_cid 78"));
	vmm_free(m);
	pthread_mutex_lock(&fx->fx_lock);
	assert_int_equal(attach_vsock_nr_guests(srv2), 0);
	attach_vsock_unlisten(srv2);
	pthread_mutex_unlock(&fx->fx_lock);
}

/*
 * busy_poll_ns on a KVM guest's binding.  The probe guest's exits come one
 * after the other (its vCPU waits for each answer): without a window each
 * one wakes the loop; with one, the binding polls for the next exit and
 * takes nearly all of them in its first wake.
 */
static void
take_stats(void *arg, const struct attach_vsock_guest_info *gi)
{
	*(struct binding_stats *)arg = gi->gi_stats;
}

static void
busy_poll__kvm_binding_polls_for_the_next_exits(void **state)
{
	struct fixture *fx = *state;
	const uint64_t windows[2] = { 0, 1000000000ull };
	struct vmm_cfg vc = {
		.name = "busy", .mem_size = 16u << 20, .nr_vcpus = 1,
		.cid = E2E_CID, .window_space = IOREQ_SPACE_PIO,
		.window_base = 0x5a0, .notify = VMM_NOTIFY_NONE,
		.irq_gsi = ATTACH_GSI_NONE, .fwd_timeout_ms = 10000,
	};
	unsigned k;

	for (k = 0; k < 2; k++) {
		struct attach_vsock_server *srv;
		struct attach_vsock_cfg cfg;
		struct binding_stats st;
		struct kvmguest_boot *b;
		char path[128];
		uint32_t code = 0;
		struct vmm *m;

		snprintf(path, sizeof(path), "%s/attach-busy", fx->fx_dir);
		memset(&cfg, 0, sizeof(cfg));
		cfg.loop = fx->fx_loop;
		cfg.mux.max_conns = 4;
		cfg.mux.buf_alloc = 65536;
		cfg.busy_poll_ns = windows[k];
		pthread_mutex_lock(&fx->fx_lock);
		assert_int_equal(attach_vsock_listen(&cfg, path, 1, &srv), 0);
		pthread_mutex_unlock(&fx->fx_lock);
		m = kt_vmm_attach(&vc, probe_path, path);
		b = vmm_boot(m);
		/* MAGIC and VERSION, two writes, then MAGIC 200 times. */
		b->kb_params[0] = 2;
		b->kb_params[1] = 0;
		b->kb_params[2] = 200;
		assert_int_equal(vmm_run_vcpu(m, 0, 30000, &code), 0);
		assert_int_equal(code, HCVS_MAGIC + HCVS_VERSION);
		memset(&st, 0, sizeof(st));
		pthread_mutex_lock(&fx->fx_lock);
		attach_vsock_foreach_guest(srv, take_stats, &st);
		pthread_mutex_unlock(&fx->fx_lock);
		vmm_free(m);
		pthread_mutex_lock(&fx->fx_lock);
		attach_vsock_unlisten(srv);
		pthread_mutex_unlock(&fx->fx_lock);
		print_message("busy_poll_ns %" PRIu64 ": %" PRIu64 " requests, %"
		    PRIu64 " wake-ups\n", windows[k], st.bs_requests,
		    st.bs_wakeups);
		assert_int_equal(st.bs_requests, 204);
		if (k == 0)
			assert_true(st.bs_wakeups * 10 >= st.bs_requests);
		else
			assert_true(st.bs_wakeups * 10 < st.bs_requests);
	}
}

/* ---- Protocol MSG: the migration orchestrator on a host thread ------------ */

struct orch {
	struct fixture		*o_fx;
	struct vmm		*o_vmm;
	uint32_t		 o_case;
	uint32_t		 o_n;		/* sessions */
	pthread_t		 o_th;
	/* Results, read after the join. */
	char			 o_fail[160];
	uint32_t		 o_sum[E2E_MSG_MAX];	/* FNV of the guest's bytes */
	uint64_t		 o_bytes;
	char			 o_report[E2E_MSG_MAX][96];
	uint32_t		 o_report_data[E2E_MSG_MAX];
	char			 o_start_reply[96];
};

#define OCHECK(o, c) do { \
	if (!(c)) { \
		snprintf((o)->o_fail, sizeof((o)->o_fail), "%s:%d: %s", \
		    __FILE__, __LINE__, #c); \
		return NULL; \
	} \
} while (0)

/* The listener appears when the VMM attached the guest. */
static int
mig_dial(struct orch *o)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[160];
	int fd, i;

	/* One guest per server here: its listener is the server's uds_path. */
	snprintf(path, sizeof(path), "%s_migtd", o->o_fx->fx_uds);
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	for (i = 0; i < 500; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		close(fd);
		(void)poll(NULL, 0, 10);
	}
	return -1;
}

static int mig_start_once(struct orch *o, uint64_t mid, char *reply,
    size_t size);

/*
 * START 1 56 with the session's mid; returns the connection.  With
 * `retry`, a request the booting guest did not take in time ("ERR
 * timeout") is started again, as an orchestrator does.
 */
static int
mig_start(struct orch *o, uint64_t mid, char *reply, size_t size, bool retry)
{
	int fd, tries;

	for (tries = 0; tries < 20; tries++) {
		fd = mig_start_once(o, mid, reply, size);
		if (fd < 0 || !retry || strcmp(reply, "ERR timeout") != 0)
			return fd;
		close(fd);
	}
	return fd;
}

static int
mig_start_once(struct orch *o, uint64_t mid, char *reply, size_t size)
{
	uint8_t req[56];
	int fd = mig_dial(o);

	if (fd < 0)
		return -1;
	memset(req, 0, sizeof(req));
	memcpy(req, &mid, 8);
	req[8] = 1;	/* migration_source */
	if (write(fd, "START 1 56\n", 11) != 11 ||
	    write(fd, req, sizeof(req)) != (ssize_t)sizeof(req) ||
	    !test_read_line(fd, reply, size, MIG_MS)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
mig_report_conn(struct orch *o, uint64_t mid)
{
	char line[64];
	int fd = mig_dial(o);

	snprintf(line, sizeof(line), "REPORT %" PRIu64 "\n", mid);
	if (fd >= 0 && write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *
orch_echo(struct orch *o)
{
	static uint8_t buf[65536];
	struct pollfd pfd[E2E_MSG_MAX];
	int fd[E2E_MSG_MAX], rfd[E2E_MSG_MAX];
	char line[96], want[64];
	unsigned open = o->o_n;

	for (uint32_t s = 0; s < o->o_n; s++) {
		fd[s] = mig_start(o, E2E_MSG_MID0 + s, line, sizeof(line), true);
		OCHECK(o, fd[s] >= 0);
		snprintf(want, sizeof(want), "OK %" PRIu64, E2E_MSG_MID0 + s);
		OCHECK(o, strcmp(line, want) == 0);
		rfd[s] = mig_report_conn(o, E2E_MSG_MID0 + s);
		OCHECK(o, rfd[s] >= 0);
		o->o_sum[s] = E2E_FNV_INIT;
		pfd[s].fd = fd[s];
		pfd[s].events = POLLIN;
	}
	/* Echo every session until hcvsockd ends it after the report. */
	while (open > 0) {
		OCHECK(o, poll(pfd, o->o_n, 30000) > 0);
		for (uint32_t s = 0; s < o->o_n; s++) {
			ssize_t r;

			if (pfd[s].fd < 0 || pfd[s].revents == 0)
				continue;
			r = read(pfd[s].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(pfd[s].fd);
				pfd[s].fd = -1;
				open--;
				continue;
			}
			o->o_bytes += (uint64_t)r;
			o->o_sum[s] = e2e_fnv(o->o_sum[s], buf, (size_t)r);
			OCHECK(o, write(pfd[s].fd, buf, (size_t)r) == r);
		}
	}
	for (uint32_t s = 0; s < o->o_n; s++) {
		OCHECK(o, test_read_line(rfd[s], o->o_report[s],
		    sizeof(o->o_report[s]), MIG_MS));
		OCHECK(o, test_read_full(rfd[s], &o->o_report_data[s], 4,
		    MIG_MS));
		close(rfd[s]);
	}
	return NULL;
}

static void *
orch_dies(struct orch *o)
{
	char line[96];
	uint8_t b[3];
	int fd, rfd;

	fd = mig_start(o, E2E_MSG_MID0, line, sizeof(line), true);
	OCHECK(o, fd >= 0 && strncmp(line, "OK ", 3) == 0);
	rfd = mig_report_conn(o, E2E_MSG_MID0);
	OCHECK(o, rfd >= 0);
	OCHECK(o, test_read_full(fd, b, 3, MIG_MS) && memcmp(b, "bye", 3) == 0);
	close(fd);	/* the orchestrator dies mid-session */
	OCHECK(o, test_read_line(rfd, o->o_report[0], sizeof(o->o_report[0]),
	    MIG_MS));
	OCHECK(o, test_read_full(rfd, &o->o_report_data[0], 4, MIG_MS));
	close(rfd);
	return NULL;
}

static void *
orch_unanswered(struct orch *o)
{
	struct kvmguest_boot *b = vmm_boot(o->o_vmm);
	volatile uint32_t *ready = &b->kb_results[E2E_R_READY];
	int fd, i;

	for (i = 0; i < 3000 && *ready == 0; i++)
		(void)poll(NULL, 0, 10);
	OCHECK(o, *ready != 0);
	/* The guest is up but takes no request: the START times out. */
	fd = mig_start(o, E2E_MSG_MID0, o->o_start_reply,
	    sizeof(o->o_start_reply), false);
	OCHECK(o, fd >= 0);
	close(fd);
	__atomic_store_n(&b->kb_params[E2E_P_ROUNDS], 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *
orch_main(void *arg)
{
	struct orch *o = arg;

	switch (o->o_case) {
	case E2E_CASE_MSG_ECHO:
		return orch_echo(o);
	case E2E_CASE_MSG_HOST_DIES:
		return orch_dies(o);
	default:
		return orch_unanswered(o);
	}
}

/* Run an MSG case: the guest on this thread's vCPU, the orchestrator beside. */
static void
msg_run(struct fixture *fx, struct orch *o, enum ioreq_space sp, uint64_t base,
    enum vmm_notify notify, uint32_t flags, uint32_t max,
    struct kvmguest_boot *res)
{
	struct kvmguest_boot *b;
	uint32_t code = 0xffffffff;
	int rc;

	o->o_fx = fx;
	o->o_vmm = e2e_vmm(fx, sp, base, notify, false, ATTACH_GSI_NONE);
	b = vmm_boot(o->o_vmm);
	b->kb_params[E2E_P_CASE] = o->o_case;
	b->kb_params[E2E_P_NCONN] = o->o_n;
	b->kb_params[E2E_P_MAX_SIZE] = max;
	b->kb_params[E2E_P_FLAGS] = flags;
	b->kb_params[E2E_P_SEED] = test_seed();
	assert_int_equal(pthread_create(&o->o_th, NULL, orch_main, o), 0);
	rc = vmm_run_vcpu(o->o_vmm, 0, 60000, &code);
	pthread_join(o->o_th, NULL);
	*res = *b;
	vmm_free(o->o_vmm);
	if (o->o_fail[0] != '\0')
		fail_msg("orchestrator: %s", o->o_fail);
	if (rc != 0 || code != 0)
		fail_msg("guest: rc %d code 0x%x step 0x%x status %d", rc, code,
		    res->kb_results[E2E_R_STEP],
		    (int)res->kb_results[E2E_R_STATUS]);
	assert_int_equal(res->kb_results[E2E_R_VERSION], HCVS_VERSION);
}

static void
msg_check_echo(const struct orch *o, const struct kvmguest_boot *b,
    uint32_t max)
{
	char want[96];
	uint32_t x = 0;

	assert_int_equal(b->kb_results[E2E_R_CONNS], o->o_n);
	assert_int_equal(b->kb_results[E2E_R_TX_BYTES], o->o_n *
	    serial_bytes(max));
	assert_int_equal(b->kb_results[E2E_R_RX_BYTES], o->o_n *
	    serial_bytes(max));
	assert_int_equal(o->o_bytes, o->o_n * serial_bytes(max));
	for (uint32_t s = 0; s < o->o_n; s++) {
		/* The guest's checksum came in its report; the host's matches. */
		snprintf(want, sizeof(want), "REPORT %" PRIu64 " 0 0 4",
		    E2E_MSG_MID0 + s);
		assert_string_equal(o->o_report[s], want);
		assert_int_equal(o->o_report_data[s], o->o_sum[s]);
		x ^= o->o_sum[s];
	}
	assert_int_equal(b->kb_results[E2E_R_SUM], x);
}

/*
 * MigTD's calls, two sessions at once, 1 B to 64 KiB each way, async
 * doorbell through hcvsockd's ioeventfd.
 */
static void
msg_echo__two_sessions_ioeventfd(void **state)
{
	struct orch o = { .o_case = E2E_CASE_MSG_ECHO, .o_n = 2 };
	struct kvmguest_boot b;

	msg_run(*state, &o, IOREQ_SPACE_PIO, 0x5a0, VMM_NOTIFY_VM, 0, 65536,
	    &b);
	msg_check_echo(&o, &b, 65536);
}

/* One session through forwarded exits only (DOORBELL_SYNC), MMIO window. */
static void
msg_echo__sync_doorbell_mmio(void **state)
{
	struct orch o = { .o_case = E2E_CASE_MSG_ECHO, .o_n = 1 };
	struct kvmguest_boot b;

	msg_run(*state, &o, IOREQ_SPACE_MMIO, 0xd0000000ull, VMM_NOTIFY_NONE,
	    E2E_F_SYNC, 65536, &b);
	msg_check_echo(&o, &b, 65536);
}

/* The orchestrator dies mid-session: the guest's Receive gets CANCEL. */
static void
msg__host_program_dies(void **state)
{
	struct orch o = { .o_case = E2E_CASE_MSG_HOST_DIES, .o_n = 1 };
	struct kvmguest_boot b;
	char want[96];

	msg_run(*state, &o, IOREQ_SPACE_PIO, 0x5a0, VMM_NOTIFY_VM, 0, 0, &b);
	assert_int_equal(b.kb_results[E2E_R_CONNS], 1);
	snprintf(want, sizeof(want), "REPORT %" PRIu64 " 1 5 4", E2E_MSG_MID0);
	assert_string_equal(o.o_report[0], want);
}

/* The guest never takes the request: ERR timeout; its own wait times out. */
static void
msg__guest_never_answers(void **state)
{
	struct orch o = { .o_case = E2E_CASE_MSG_UNANSWERED, .o_n = 1 };
	struct kvmguest_boot b;

	msg_run(*state, &o, IOREQ_SPACE_PIO, 0x5a0, VMM_NOTIFY_VM, 0, 0, &b);
	assert_string_equal(o.o_start_reply, "ERR timeout");
	assert_int_equal(b.kb_results[E2E_R_CONNS], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    msg_echo__two_sessions_ioeventfd, setup, teardown),
		cmocka_unit_test_setup_teardown(msg_echo__sync_doorbell_mmio,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(msg__host_program_dies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(msg__guest_never_answers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(echo__every_doorbell_path,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(host_connect__guest_echoes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    gsi_mode__hcvsockd_irqfd_reaches_the_irqchip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    gsi_mode__vmm_irqfd_reaches_the_irqchip, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    vmm_disconnect__host_peer_sees_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(require_cid__other_cid_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    busy_poll__kvm_binding_polls_for_the_next_exits, setup,
		    teardown),
	};

	if (kt_start(guest_path, sizeof(guest_path), "vsock_e2e.bin") != 0 ||
	    kt_start(probe_path, sizeof(probe_path), "probe.bin") != 0)
		return TEST_EXIT_SKIP;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
