/* SPDX-License-Identifier: MIT */
/*
 * kvm-host: hcvsockd's KVM side as a plain process, for the shell tests
 * of the reference VMM: listen for VMMs on ATTACH_SOCKET (attach
 * protocol), give each guest the hcvsock device and muxer with host
 * sockets at UDS_PATH (Firecracker convention), and exit 0 after the
 * first guest detaches (-1) or on SIGTERM/SIGINT.
 *
 *   kvm-host [-1] [-v] ATTACH_SOCKET UDS_PATH
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "attach/attach_vsock.h"
#include "common/log.h"
#include "common/loop.h"

struct host {
	struct loop	*h_loop;
	bool		 h_once;
	unsigned	 h_detached;
};

static void
on_attach(void *arg, const char *name, uint64_t cid)
{
	(void)arg;
	printf("attached %s cid %ju\n", name, (uintmax_t)cid);
	fflush(stdout);
}

static void
on_detach(void *arg, const char *name, uint64_t cid)
{
	struct host *h = arg;

	printf("detached %s cid %ju\n", name, (uintmax_t)cid);
	fflush(stdout);
	h->h_detached++;
	if (h->h_once)
		loop_quit(h->h_loop);
}

static void
on_signal(struct loop *l, int fd, unsigned events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		loop_quit(l);
}

int
main(int argc, char **argv)
{
	struct attach_vsock_server *srv;
	struct attach_vsock_cfg cfg;
	struct host h;
	sigset_t ss;
	int c, rc, sfd, verbose = 0;

	memset(&h, 0, sizeof(h));
	while ((c = getopt(argc, argv, "1v")) != -1) {
		switch (c) {
		case '1':
			h.h_once = true;
			break;
		case 'v':
			verbose++;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	log_init(true, verbose, "kvm-host");
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || loop_new(&h.h_loop) < 0 ||
	    loop_add_fd(h.h_loop, sfd, LOOP_IN, on_signal, &h) < 0) {
		fprintf(stderr, "kvm-host: cannot set up the event loop\n");
		return 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.loop = h.h_loop;
	if (strlen(argv[optind + 1]) >= sizeof(cfg.mux.uds_path)) {
		fprintf(stderr, "kvm-host: %s: path too long\n", argv[optind + 1]);
		return 64;
	}
	snprintf(cfg.mux.uds_path, sizeof(cfg.mux.uds_path), "%s",
	    argv[optind + 1]);
	cfg.mux.default_allow = true;
	cfg.mux.max_conns = 1023;
	cfg.mux.buf_alloc = 256u << 10;
	cfg.mux.close_timeout_ms = 8000;
	cfg.mux.send_ok_line = true;
	cfg.on_attach = on_attach;
	cfg.on_detach = on_detach;
	cfg.hook_arg = &h;
	rc = attach_vsock_listen(&cfg, argv[optind], 4, &srv);
	if (rc < 0) {
		fprintf(stderr, "kvm-host: %s: %s\n", argv[optind],
		    strerror(-rc));
		return 1;
	}
	printf("listening on %s\n", argv[optind]);
	fflush(stdout);
	rc = loop_run(h.h_loop);
	attach_vsock_unlisten(srv);
	loop_free(h.h_loop);
	close(sfd);
	return rc < 0 ? 1 : 0;

usage:
	fprintf(stderr, "usage: kvm-host [-1] [-v] ATTACH_SOCKET UDS_PATH\n");
	return 64;
}
