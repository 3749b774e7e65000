/* SPDX-License-Identifier: MIT */
/* The muxer when allocations fail: calloc is wrapped at link time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_common.h"
#include "common/loop.h"
#include "vsock/vsock_impl.h"

void	*__real_calloc(size_t nmemb, size_t size);
void	*__wrap_calloc(size_t nmemb, size_t size);

/* The next calloc of a connection fails. */
static bool fail_conn_alloc;

void *
__wrap_calloc(size_t nmemb, size_t size)
{
	if (fail_conn_alloc && nmemb == 1 &&
	    size == sizeof(struct vsock_conn)) {
		fail_conn_alloc = false;
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(nmemb, size);
}

/*
 * The host socket is already connected when the connection record cannot
 * be allocated: the guest gets its RST and the socket is closed, not kept.
 */
static void
oom__guest_request_no_conn__rst_and_host_fd_closed(void **state)
{
	char dir[64];
	struct vsock_mux_cfg cfg;
	struct vsock_mux_stats st;
	struct vsock_pkt_hdr h, out;
	struct sockaddr_un sa;
	struct vsock_mux *m;
	struct loop *l;
	uint8_t buf[16];
	int lfd, afd, before;

	(void)state;
	test_tmpdir(dir, sizeof(dir), "oom");
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/v_5000", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);

	memset(&cfg, 0, sizeof(cfg));
	cfg.guest_cid = 3;
	cfg.default_allow = true;
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s/v", dir);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(vsock_mux_new(l, &cfg, &m), 0);

	before = test_count_fds();
	memset(&h, 0, sizeof(h));
	h.src_cid = 3;
	h.dst_cid = VSOCK_CID_HOST;
	h.src_port = 1000;
	h.dst_port = 5000;
	h.type = VSOCK_TYPE_STREAM;
	h.op = VSOCK_OP_REQUEST;
	h.buf_alloc = 65536;
	fail_conn_alloc = true;
	vsock_mux_from_guest(m, &h, NULL);
	assert_false(fail_conn_alloc);

	vsock_mux_get_stats(m, &st);
	assert_int_equal(st.ms_connect_failed, 1);
	assert_int_equal(st.ms_conns_open, 0);
	assert_int_equal(vsock_mux_to_guest(m, &out, buf, sizeof(buf)), 1);
	assert_int_equal(out.op, VSOCK_OP_RST);
	assert_int_equal(out.dst_port, 1000);
	assert_int_equal(out.src_port, 5000);
	assert_int_equal(test_count_fds(), before);
	/* The host program sees the connection end, not a silent peer. */
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(recv(afd, buf, sizeof(buf), MSG_DONTWAIT), 0);

	close(afd);
	vsock_mux_free(m);
	loop_free(l);
	close(lfd);
	test_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    oom__guest_request_no_conn__rst_and_host_fd_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
