/* SPDX-License-Identifier: MIT */
/*
 * A minimal fake guest for the runtime tests: creates an ioreq page, RAM
 * and per-vCPU eventfds, listens on SOCKET, hands them to the daemon that
 * connects (the loopback hand-off), prints "READY" when the daemon says
 * so, then holds the connection until stdin reaches EOF or it is killed.
 *
 *   lb_guest SOCKET [NR_VCPUS]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/loopback.h"

int
main(int argc, char **argv)
{
	struct ioreq_shm_vcpu vcpus[LOOPBACK_MAX_VCPUS];
	struct ioreq_shm_region region;
	struct ioreq_shm_cfg cfg;
	struct sockaddr_un sun;
	unsigned nr = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
	int lfd, cfd, rc;

	if (argc < 2 || nr == 0 || nr > LOOPBACK_MAX_VCPUS) {
		fprintf(stderr, "usage: lb_guest SOCKET [NR_VCPUS]\n");
		return 64;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.page_fd = memfd_create("ioreq-page", MFD_CLOEXEC);
	region.fd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (cfg.page_fd < 0 || region.fd < 0 ||
	    ftruncate(cfg.page_fd, 4096) < 0 ||
	    ftruncate(region.fd, 1 << 20) < 0) {
		perror("lb_guest: memfd");
		return 71;
	}
	region.gpa = 0;
	region.size = 1 << 20;
	region.offset = 0;
	cfg.bufpage_fd = cfg.buf_kick_fd = -1;
	for (unsigned i = 0; i < nr; i++) {
		vcpus[i].kick_fd = eventfd(0, EFD_CLOEXEC);
		vcpus[i].done_fd = eventfd(0, EFD_CLOEXEC);
	}
	cfg.nr_vcpus = nr;
	cfg.vcpus = vcpus;
	cfg.nr_regions = 1;
	cfg.regions = &region;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(lfd, 1) < 0) {
		perror("lb_guest: listen");
		return 71;
	}
	printf("LISTENING\n");
	fflush(stdout);
	cfd = accept(lfd, NULL, NULL);
	if (cfd < 0) {
		perror("lb_guest: accept");
		return 71;
	}
	if ((rc = loopback_send_hello(cfd, &cfg)) < 0) {
		fprintf(stderr, "lb_guest: hello: %s\n", strerror(-rc));
		return 71;
	}
	if ((rc = loopback_wait_ready(cfd, 20000)) < 0) {
		fprintf(stderr, "lb_guest: no READY: %s\n", strerror(-rc));
		return 69;
	}
	printf("READY\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = 0, .events = POLLIN },
			{ .fd = cfd, .events = POLLIN },
		};
		char buf[64];

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents && read(0, buf, sizeof(buf)) <= 0)
			break;
		if (p[1].revents && read(cfd, buf, sizeof(buf)) <= 0) {
			printf("DAEMON-CLOSED\n");
			break;
		}
	}
	close(cfd);
	unlink(argv[1]);
	return 0;
}
