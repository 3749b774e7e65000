/* SPDX-License-Identifier: MIT */
/*
 * A minimal fake guest for the runtime tests: creates a fake ioreq page
 * with RAM (ioreq_fake.h), offers it on SOCKET to the daemon that
 * connects (the loopback hand-off), prints "LISTENING" and "READY" as
 * those happen, then holds the connection until stdin reaches EOF or the
 * daemon closes it ("DAEMON-CLOSED").
 *
 *   lb_guest SOCKET [NR_VCPUS]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/loopback.h"
#include "ioreq/ioreq_fake.h"

static void
say_listening(void *arg)
{
	(void)arg;
	printf("LISTENING\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct ioreq_fake_cfg cfg = {
		.nr_vcpus = argc > 2 ? (unsigned)atoi(argv[2]) : 1,
		.ram_gpa = 0,
		.ram_size = 1 << 20,
	};
	struct ioreq_fake *f;
	int sock, rc;

	if (argc < 2 || cfg.nr_vcpus == 0 || cfg.nr_vcpus > 64) {
		fprintf(stderr, "usage: lb_guest SOCKET [NR_VCPUS]\n");
		return 64;
	}
	if ((rc = ioreq_fake_new(&cfg, &f)) < 0) {
		fprintf(stderr, "lb_guest: fake page: %s\n", strerror(-rc));
		return 71;
	}
	rc = loopback_offer(argv[1], f, 20000, say_listening, NULL, &sock);
	if (rc < 0) {
		fprintf(stderr, "lb_guest: offer: %s\n", strerror(-rc));
		return 69;
	}
	if ((rc = loopback_wait_ready(sock, 20000)) < 0) {
		fprintf(stderr, "lb_guest: no READY: %s\n", strerror(-rc));
		return 69;
	}
	printf("READY\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = 0, .events = POLLIN },
			{ .fd = sock, .events = POLLIN },
		};
		char buf[64];

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents && read(0, buf, sizeof(buf)) <= 0)
			break;
		if (p[1].revents && read(sock, buf, sizeof(buf)) <= 0) {
			printf("DAEMON-CLOSED\n");
			break;
		}
	}
	close(sock);
	ioreq_fake_free(f);
	return 0;
}
