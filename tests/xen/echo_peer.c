/* SPDX-License-Identifier: MIT */
/*
 * Host-side peer for the Xen end-to-end cases, run in dom0 next to
 * hcvsockd.  Prints "HCVS-PEER ..." lines with byte counts and CRC-32s
 * that the harness compares with the guest's.
 *
 *   echo_peer serve PATH [-n CONNS] [-t SECS] [-s]
 *       listen on PATH (a guest port's socket); echo each connection's
 *       bytes back until EOF, one connection after another.  -s: a sink,
 *       read to EOF and echo nothing.
 *   echo_peer connect PATH PORT BYTES SEED [-t SECS]
 *       connect through hcvsockd's listener (CONNECT PORT), send BYTES of
 *       a seeded stream, half-close, read the echo to EOF and compare.
 *   echo_peer migtd PATH MID [-t SECS]
 *       the migration orchestrator: START a session with request id MID on
 *       hcvsockd's <name>_migtd listener, echo the session's bytes until
 *       hcvsockd ends it, then print the guest's ReportStatus.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xen_testdev.h"

/* The stream both sides generate: a 32-bit LCG, low byte of each step. */
static void
stream_fill(uint32_t *state, unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		*state = *state * 1103515245u + 12345u;
		buf[i] = (unsigned char)(*state >> 16);
	}
}

static int
unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "echo_peer: path too long: %s\n", path);
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

static int
wait_fd(int fd, short ev, int timeout_s)
{
	struct pollfd p = { fd, ev, 0 };
	int rc;

	do {
		rc = poll(&p, 1, timeout_s * 1000);
	} while (rc < 0 && errno == EINTR);
	return rc;
}

static int
serve(const char *path, int conns, int timeout_s, int sink)
{
	struct sockaddr_un sa;
	int ls, i, fails = 0;

	if (unix_addr(path, &sa) != 0)
		return 2;
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(ls, 16) != 0) {
		printf("HCVS-PEER listen %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* The daemon connects as its unprivileged user. */
	(void)chmod(path, 0666);
	printf("HCVS-PEER listening %s\n", path);
	for (i = 0; conns <= 0 || i < conns; i++) {
		unsigned char buf[16384];
		uint32_t crc = 0;
		uint64_t bytes = 0;
		int fd;
		ssize_t n;

		if (wait_fd(ls, POLLIN, timeout_s) <= 0) {
			printf("HCVS-PEER no connection within %d s\n", timeout_s);
			fails++;
			break;
		}
		fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		for (;;) {
			if (wait_fd(fd, POLLIN, timeout_s) <= 0) {
				printf("HCVS-PEER conn=%d stalled\n", i);
				fails++;
				break;
			}
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n < 0)
					printf("HCVS-PEER conn=%d read: %s\n", i,
					    strerror(errno));
				break;
			}
			crc = xtd_crc32_update(crc, buf, (size_t)n);
			bytes += (uint64_t)n;
			if (!sink && send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
				printf("HCVS-PEER conn=%d write: %s\n", i,
				    strerror(errno));
				break;
			}
		}
		printf("HCVS-PEER conn=%d %s bytes=%llu crc=%08x\n", i,
		    sink ? "sank" : "echoed", (unsigned long long)bytes, crc);
		close(fd);
	}
	close(ls);
	unlink(path);
	return fails ? 1 : 0;
}

static int
connect_port(const char *path, unsigned port, uint64_t total, uint32_t seed,
    int timeout_s)
{
	struct sockaddr_un sa;
	char line[64];
	unsigned char out[8192], in[16384];
	uint32_t st = seed, tx_crc = 0, rx_crc = 0;
	uint64_t sent = 0, got = 0;
	size_t ln = 0, pend = 0, off = 0;
	int fd, wr_open = 1;

	if (unix_addr(path, &sa) != 0)
		return 2;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		printf("HCVS-PEER connect %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
		return 1;
	/* "OK <port>\n", byte by byte so that no payload is swallowed. */
	while (ln < sizeof(line) - 1) {
		if (wait_fd(fd, POLLIN, timeout_s) <= 0 || read(fd, line + ln, 1) != 1)
			break;
		if (line[ln++] == '\n')
			break;
	}
	line[ln] = '\0';
	if (strncmp(line, "OK ", 3) != 0) {
		printf("HCVS-PEER CONNECT %u refused: '%.*s'\n", port,
		    (int)strcspn(line, "\n"), line);
		close(fd);
		return 1;
	}
	printf("HCVS-PEER connected port=%u\n", port);
	for (;;) {
		struct pollfd p = { fd, POLLIN | (wr_open ? POLLOUT : 0), 0 };
		ssize_t n;

		if (poll(&p, 1, timeout_s * 1000) <= 0) {
			printf("HCVS-PEER port=%u stalled sent=%llu got=%llu\n", port,
			    (unsigned long long)sent, (unsigned long long)got);
			close(fd);
			return 1;
		}
		if (wr_open && (p.revents & POLLOUT)) {
			if (pend == 0 && sent < total) {
				pend = sizeof(out) < total - sent ? sizeof(out) :
				    (size_t)(total - sent);
				stream_fill(&st, out, pend);
				tx_crc = xtd_crc32_update(tx_crc, out, pend);
				off = 0;
			}
			if (pend > 0) {
				n = send(fd, out + off, pend, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (n > 0) {
					off += (size_t)n;
					pend -= (size_t)n;
					sent += (uint64_t)n;
				}
			}
			if (pend == 0 && sent == total) {
				shutdown(fd, SHUT_WR);
				wr_open = 0;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, in, sizeof(in));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;
			rx_crc = xtd_crc32_update(rx_crc, in, (size_t)n);
			got += (uint64_t)n;
		}
	}
	close(fd);
	printf("HCVS-PEER port=%u sent=%llu tx_crc=%08x got=%llu rx_crc=%08x %s\n",
	    port, (unsigned long long)sent, tx_crc, (unsigned long long)got,
	    rx_crc, sent == total && got == sent && rx_crc == tx_crc ?
	    "MATCH" : "MISMATCH");
	return sent == total && got == sent && rx_crc == tx_crc ? 0 : 1;
}

/* One line, byte by byte so that no stream byte is swallowed. */
static int
read_line(int fd, char *line, size_t size, int timeout_s)
{
	size_t n = 0;

	while (n < size - 1) {
		if (wait_fd(fd, POLLIN, timeout_s) <= 0 || read(fd, line + n, 1) != 1)
			break;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	return n > 0 && line[n - 1] == '\n' ? 0 : -1;
}

static int
mig_dial(const char *path, int timeout_s)
{
	struct sockaddr_un sa;
	int fd, i;

	if (unix_addr(path, &sa) != 0)
		return -1;
	/* The listener appears once hcvsockd serves the guest. */
	for (i = 0; i < timeout_s * 10; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa,
		    sizeof(sa)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		usleep(100000);
	}
	return -1;
}

static int
migtd(const char *path, uint64_t mid, int timeout_s)
{
	unsigned char req[56], buf[16384], data[4] = { 0 };
	char line[96];
	uint32_t crc = 0;
	uint64_t bytes = 0;
	int fd = -1, rfd, tries;
	ssize_t n;

	memset(req, 0, sizeof(req));
	memcpy(req, &mid, sizeof(mid));	/* little-endian, as x86 */
	/* A guest still booting lets the request time out: start again. */
	for (tries = 0; tries < timeout_s / 2 + 1; tries++) {
		line[0] = '\0';
		fd = mig_dial(path, timeout_s);
		if (fd < 0) {
			printf("HCVS-PEER migtd connect %s failed\n", path);
			return 1;
		}
		if (send(fd, "START 1 56\n", 11, MSG_NOSIGNAL) == 11 &&
		    send(fd, req, sizeof(req), MSG_NOSIGNAL) ==
		    (ssize_t)sizeof(req) &&
		    read_line(fd, line, sizeof(line), timeout_s) == 0 &&
		    strncmp(line, "OK ", 3) == 0)
			break;
		close(fd);
		fd = -1;
		if (strcmp(line, "ERR timeout\n") != 0)
			break;
	}
	if (fd < 0) {
		printf("HCVS-PEER migtd START refused: '%.*s'\n",
		    (int)strcspn(line, "\n"), line);
		return 1;
	}
	printf("HCVS-PEER migtd session %.*s\n", (int)strcspn(line, "\n"), line);
	rfd = mig_dial(path, timeout_s);
	snprintf(line, sizeof(line), "REPORT %llu\n", (unsigned long long)mid);
	if (rfd < 0 || send(rfd, line, strlen(line), MSG_NOSIGNAL) < 0)
		return 1;
	for (;;) {
		if (wait_fd(fd, POLLIN, timeout_s) <= 0) {
			printf("HCVS-PEER migtd stalled\n");
			return 1;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		crc = xtd_crc32_update(crc, buf, (size_t)n);
		bytes += (uint64_t)n;
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	}
	close(fd);
	if (read_line(rfd, line, sizeof(line), timeout_s) != 0 ||
	    wait_fd(rfd, POLLIN, timeout_s) <= 0 || read(rfd, data, 4) != 4) {
		printf("HCVS-PEER migtd no report\n");
		return 1;
	}
	close(rfd);
	printf("HCVS-PEER migtd echoed bytes=%llu crc=%08x report='%.*s' "
	    "data=%02x%02x%02x%02x\n", (unsigned long long)bytes, crc,
	    (int)strcspn(line, "\n"), line, data[3], data[2], data[1], data[0]);
	return 0;
}

int
main(int argc, char **argv)
{
	int timeout_s = 60, conns = 1, sink = 0, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-s") == 0)
			sink = 1;
	for (i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "-t") == 0)
			timeout_s = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-n") == 0)
			conns = atoi(argv[i + 1]);
	}
	if (argc >= 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], conns, timeout_s, sink);
	if (argc >= 6 && strcmp(argv[1], "connect") == 0)
		return connect_port(argv[2], (unsigned)strtoul(argv[3], NULL, 0),
		    strtoull(argv[4], NULL, 0), (uint32_t)strtoul(argv[5], NULL, 0),
		    timeout_s);
	if (argc >= 4 && strcmp(argv[1], "migtd") == 0)
		return migtd(argv[2], strtoull(argv[3], NULL, 0), timeout_s);
	fprintf(stderr, "usage: echo_peer serve PATH [-n CONNS] [-t SECS] [-s]\n"
	    "       echo_peer connect PATH PORT BYTES SEED [-t SECS]\n"
	    "       echo_peer migtd PATH MID [-t SECS]\n");
	return 2;
}
