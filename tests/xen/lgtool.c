/* SPDX-License-Identifier: MIT */
/*
 * Helper of the Linux-guest cases on real Xen, linked statically so that
 * one binary runs in dom0 and in the Linux domU.  The guest side uses
 * AF_VSOCK (only ever inside the emulated machine); the dom0 side serves
 * hcvsockd's per-port sockets.  Prints "HCVS-G ..." (guest) and
 * "HCVS-PEER ..." / "HCVS-PERF ..." (dom0) lines for the harness.
 *
 *   lgtool seq-client CID PORT MSGS SEED    SOCK_SEQPACKET: send messages of
 *                                           seeded sizes, 4 in flight, check
 *                                           each echo is one whole message
 *   lgtool seq-echo PATH SECS               echo each SEQPACKET message once
 *   lgtool gather PATH CONNS SECS           accept CONNS streams, all open at
 *                                           once, then echo each to EOF
 *   lgtool sink PATH SECS                   read one stream to EOF, timed
 *   lgtool echo PATH DIR SECS               echo every stream connection as
 *                                           it reads (a process each), keep
 *                                           what came in DIR/N, shut down
 *                                           writing at EOF; serve SECS
 *   lgtool send CID PORT BYTES              write BYTES to a vsock stream
 *   lgtool multi CID PORT CONNS BYTES       CONNS vsock streams connected at
 *                                           once, each sends BYTES of its own,
 *                                           half-closes and must get them back
 *   lgtool hold CID PORT SECS               keep a vsock stream open (until
 *                                           killed or SECS)
 *   lgtool unix-local BYTES                 the same bytes over a dom0-local
 *                                           AF_UNIX stream, timed
 *   lgtool pattern BYTES TAG                write BYTES of the positional
 *                                           pattern to stdout
 *   lgtool verify FILE TAG                  check FILE holds the pattern;
 *                                           else say where each wrong run
 *                                           of bytes came from
 *   lgtool regs NPROC ROUNDS SPIN           NPROC processes hold a pattern
 *                                           of their own in the vector
 *                                           registers (YMM with AVX, else
 *                                           XMM) while spinning SPIN
 *                                           iterations, ROUNDS times, and
 *                                           check it is still there
 *
 * The positional pattern: byte i is byte i % 8 (little-endian) of the
 * 64-bit word TAG << 32 | i / 8.  Any wrong byte names the stream (TAG)
 * and the offset it was copied from, so a corruption shows whether old,
 * later or another connection's data took its place.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define MSG_MAX		40000u	/* > one 16 KiB slot: messages are split */
#define CHUNK		65536u

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t
crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	size_t i;
	int k;

	crc = ~crc;
	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static uint32_t
lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void
die(const char *what)
{
	fprintf(stderr, "lgtool: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A vsock socket of TYPE and the address CID:PORT in *a. */
static int
vsock_socket(int type, struct sockaddr_vm *a, unsigned cid, unsigned port)
{
	int fd = socket(AF_VSOCK, type, 0);

	if (fd < 0)
		die("socket(AF_VSOCK)");
	memset(a, 0, sizeof(*a));
	a->svm_family = AF_VSOCK;
	a->svm_cid = cid;
	a->svm_port = port;
	return fd;
}

static int
vsock_connect(int type, unsigned cid, unsigned port)
{
	struct sockaddr_vm a;
	int fd = vsock_socket(type, &a, cid, port);

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	return fd;
}

/* Listen on a path hcvsockd (an unprivileged user) can connect to. */
static int
unix_listen(const char *path, int type)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0)
		die("socket(AF_UNIX)");
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 128) < 0)
		die(path);
	return fd;
}

static int
accept_within(int lfd, int secs)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, secs * 1000) != 1) {
		fprintf(stderr, "lgtool: no connection within %d s\n", secs);
		exit(1);
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	return fd;
}

static int
write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static unsigned char buf[CHUNK + 1], rbuf[CHUNK + 1];

static int
seq_client(unsigned cid, unsigned port, unsigned msgs, uint32_t seed)
{
	uint32_t sizes[4], crc = 0, s = seed, fill;
	unsigned i, j, batch, bad = 0;
	unsigned long long bytes = 0;
	int fd = vsock_connect(SOCK_SEQPACKET, cid, port);

	for (i = 0; i < msgs; i += batch) {
		batch = msgs - i < 4 ? msgs - i : 4;
		for (j = 0; j < batch; j++) {
			unsigned char le[4];
			uint32_t k;

			sizes[j] = 1 + lcg(&s) % MSG_MAX;
			fill = seed + i + j;
			for (k = 0; k < sizes[j]; k++)
				buf[k] = (unsigned char)lcg(&fill);
			le[0] = (unsigned char)sizes[j];
			le[1] = (unsigned char)(sizes[j] >> 8);
			le[2] = (unsigned char)(sizes[j] >> 16);
			le[3] = (unsigned char)(sizes[j] >> 24);
			crc = crc32_update(crc, le, 4);
			crc = crc32_update(crc, buf, sizes[j]);
			if (send(fd, buf, sizes[j], 0) != (ssize_t)sizes[j])
				die("send");
			bytes += sizes[j];
		}
		for (j = 0; j < batch; j++) {
			ssize_t r = recv(fd, rbuf, sizeof(rbuf), 0);
			uint32_t k;

			fill = seed + i + j;
			for (k = 0; k < sizes[j]; k++)
				buf[k] = (unsigned char)lcg(&fill);
			if (r != (ssize_t)sizes[j] ||
			    memcmp(rbuf, buf, sizes[j]) != 0) {
				fprintf(stderr, "lgtool: message %u: got %zd "
				    "bytes, want %u\n", i + j, r, sizes[j]);
				bad++;
			}
		}
	}
	close(fd);
	printf("HCVS-G seq msgs=%u bytes=%llu bad=%u crc=%08x\n", msgs, bytes,
	    bad, crc);
	return bad != 0;
}

static int
seq_echo(const char *path, int secs)
{
	int lfd = unix_listen(path, SOCK_SEQPACKET), fd;
	unsigned msgs = 0, trunc = 0;
	unsigned long long bytes = 0;
	uint32_t crc = 0;

	fd = accept_within(lfd, secs);
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		unsigned char le[4];

		if (r < 0)
			die("recv");
		if (r == 0)
			break;
		if ((size_t)r > CHUNK) {
			trunc++;
			r = CHUNK;
		}
		le[0] = (unsigned char)r;
		le[1] = (unsigned char)(r >> 8);
		le[2] = (unsigned char)(r >> 16);
		le[3] = (unsigned char)(r >> 24);
		crc = crc32_update(crc, le, 4);
		crc = crc32_update(crc, buf, (size_t)r);
		msgs++;
		bytes += (unsigned long long)r;
		if (send(fd, buf, (size_t)r, 0) != r)
			die("send");
	}
	printf("HCVS-PEER seq msgs=%u bytes=%llu truncated=%u crc=%08x\n",
	    msgs, bytes, trunc, crc);
	return 0;
}

static int
gather(const char *path, unsigned conns, int secs)
{
	int lfd = unix_listen(path, SOCK_STREAM), *fds;
	unsigned i, ok = 0;
	unsigned long long bytes = 0;

	fds = calloc(conns, sizeof(*fds));
	if (fds == NULL)
		die("calloc");
	for (i = 0; i < conns; i++)
		fds[i] = accept_within(lfd, secs);
	printf("HCVS-PEER gather open_at_once=%u\n", conns);
	fflush(stdout);
	/* Everything is open; now echo each connection to its EOF. */
	for (i = 0; i < conns; i++) {
		unsigned char *all = NULL;
		size_t len = 0;
		ssize_t r;

		while ((r = read(fds[i], buf, CHUNK)) > 0) {
			unsigned char *n = realloc(all, len + (size_t)r);

			if (n == NULL)
				die("realloc");
			all = n;
			memcpy(all + len, buf, (size_t)r);
			len += (size_t)r;
		}
		if (r == 0 && write_all(fds[i], all, len) == 0)
			ok++;
		bytes += len;
		free(all);
		close(fds[i]);
	}
	printf("HCVS-PEER gather conns=%u echoed=%u bytes=%llu\n", conns, ok,
	    bytes);
	free(fds);
	return ok != conns;
}

static int
sink(const char *path, int secs)
{
	int lfd = unix_listen(path, SOCK_STREAM), fd;
	unsigned long long bytes = 0;
	uint64_t t0;
	uint32_t crc = 0;
	ssize_t r;

	fd = accept_within(lfd, secs);
	t0 = now_ms();
	while ((r = read(fd, buf, CHUNK)) > 0) {
		crc = crc32_update(crc, buf, (size_t)r);
		bytes += (unsigned long long)r;
	}
	printf("HCVS-PEER sink bytes=%llu ms=%llu crc=%08x end=%s\n", bytes,
	    (unsigned long long)(now_ms() - t0), crc,
	    r == 0 ? "eof" : strerror(errno));
	return 0;
}

/*
 * One connection: echo while reading, record what came, half-close.  It
 * never stops reading to write: a sender that blocks in write() while its
 * echo piles up (socat does) cannot deadlock against us.
 */
static int
echo_conn(int fd, const char *file)
{
	FILE *rec = fopen(file, "w");
	unsigned char *all = NULL;
	size_t len = 0, cap = 0, out = 0;
	int eof = 0, bad = 0;

	if (rec == NULL)
		return 1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (!bad && (!eof || out < len)) {
		struct pollfd p = { .fd = fd, .events = 0 };
		ssize_t r;

		if (!eof)
			p.events |= POLLIN;
		if (out < len)
			p.events |= POLLOUT;
		if (poll(&p, 1, 120000) != 1) {
			bad = 1;
			break;
		}
		if (!eof && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			if (cap - len < CHUNK) {
				unsigned char *n;

				cap = cap ? cap * 2 : 4 * CHUNK;
				n = realloc(all, cap);
				if (n == NULL)
					die("realloc");
				all = n;
			}
			r = read(fd, all + len, CHUNK);
			if (r > 0) {
				if (fwrite(all + len, 1, (size_t)r, rec) != (size_t)r)
					bad = 1;
				len += (size_t)r;
			} else if (r == 0) {
				eof = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				bad = 1;
			}
		}
		if (out < len && (p.revents & POLLOUT)) {
			r = write(fd, all + out, len - out);
			if (r > 0)
				out += (size_t)r;
			else if (r < 0 && errno != EAGAIN && errno != EINTR)
				bad = 1;
		}
	}
	shutdown(fd, SHUT_WR);
	free(all);
	if (fclose(rec) != 0 || bad)
		return 1;
	/* Until the peer closes: its last reads must not meet a reset. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	while (read(fd, rbuf, CHUNK) > 0)
		;
	return 0;
}

static int
echo_serve(const char *path, const char *dir, int secs)
{
	int lfd = unix_listen(path, SOCK_STREAM);
	uint64_t end = now_ms() + (uint64_t)secs * 1000;
	unsigned n = 0;

	signal(SIGCHLD, SIG_IGN);	/* children reap themselves */
	while (now_ms() < end) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		char file[256];
		pid_t pid;
		int fd;

		if (poll(&p, 1, 1000) != 1)
			continue;
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		snprintf(file, sizeof(file), "%s/%u", dir, n++);
		pid = fork();
		if (pid == 0) {
			close(lfd);
			_exit(echo_conn(fd, file));
		}
		close(fd);
	}
	return 0;
}

static void
pattern(void)
{
	uint32_t s = 1;
	size_t i;

	for (i = 0; i < CHUNK; i++)
		buf[i] = (unsigned char)lcg(&s);
}

static unsigned char
pat_byte(uint32_t tag, uint64_t pos)
{
	uint64_t w = (uint64_t)tag << 32 | (pos / 8);

	return (unsigned char)(w >> (8 * (pos % 8)));
}

static void
pat_fill(unsigned char *p, uint64_t pos, size_t n, uint32_t tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pat_byte(tag, pos + i);
}

/* Where the 8-byte word at the aligned `pos` of `p` came from. */
static void
pat_source(const unsigned char *p, uint32_t *tag, uint64_t *from)
{
	uint64_t w = 0;
	int k;

	for (k = 7; k >= 0; k--)
		w = w << 8 | p[k];
	*tag = (uint32_t)(w >> 32);
	*from = (w & 0xffffffffu) * 8;
}

/*
 * Compare n bytes at stream offset pos against the pattern, aligned
 * word by aligned word; print up to `max` runs of wrong words with the
 * source of each run's first word.  Returns the number of wrong words.
 */
static uint64_t
pat_check(const char *who, const unsigned char *p, uint64_t pos, size_t n,
    uint32_t tag, unsigned max)
{
	unsigned char want[8];
	uint64_t bad = 0, run_at = 0, run_len = 0, src = 0;
	uint32_t src_tag = 0;
	unsigned runs = 0;
	size_t i, k;

	for (i = 0; i <= n; i += k ? k : 1) {
		int wrong = 0;

		k = 8 - (size_t)((pos + i) % 8);
		if (k > n - i)
			k = n - i;

		if (i < n) {
			pat_fill(want, pos + i, k, tag);
			wrong = memcmp(p + i, want, k) != 0;
		}
		if (wrong) {
			bad++;
			if (run_len++ == 0) {
				run_at = pos + i;
				if (k == 8)
					pat_source(p + i, &src_tag, &src);
				else
					src_tag = 0, src = UINT64_MAX;
			}
			continue;
		}
		if (run_len == 0)
			continue;
		if (runs++ < max) {
			const unsigned char *w = p + (run_at - pos);
			size_t d, dn = run_len * 8 < 64 ? run_len * 8 : 64;
			char hex[3 * 64 + 1], asc[64 + 1];

			for (d = 0; d < dn && run_at - pos + d < n; d++) {
				snprintf(hex + 3 * d, 4, "%02x.", w[d]);
				asc[d] = w[d] >= 0x21 && w[d] < 0x7f ? (char)w[d] : '.';
			}
			hex[3 * d] = asc[d] = '\0';
			printf("%s wrong run at=%llu bytes=%llu from tag=%#x "
			    "at=%lld hex=%s ascii=%s\n", who,
			    (unsigned long long)run_at,
			    (unsigned long long)run_len * 8, src_tag,
			    src == UINT64_MAX ? -1LL : (long long)src, hex, asc);
		}
		run_len = 0;
	}
	if (runs > max)
		printf("%s ... %u wrong runs in all\n", who, runs);
	return bad;
}

static int
pattern_out(unsigned long long n, uint32_t tag)
{
	unsigned long long pos = 0;

	while (pos < n) {
		size_t c = n - pos < CHUNK ? (size_t)(n - pos) : CHUNK;

		pat_fill(buf, pos, c, tag);
		if (write_all(1, buf, c) < 0)
			return 1;
		pos += c;
	}
	return 0;
}

static int
verify(const char *file, uint32_t tag)
{
	int fd = open(file, O_RDONLY);
	uint64_t pos = 0, bad = 0;
	size_t have = 0;
	ssize_t r;

	if (fd < 0)
		die(file);
	/* Whole chunks, so that words never straddle two reads. */
	for (;;) {
		r = read(fd, rbuf + have, CHUNK - have);
		if (r > 0)
			have += (size_t)r;
		if (have == CHUNK || (r <= 0 && have > 0)) {
			bad += pat_check("HCVS-PEER verify", rbuf, pos, have,
			    tag, 8);
			pos += have;
			have = 0;
		}
		if (r <= 0)
			break;
	}
	close(fd);
	printf("HCVS-PEER verify file=%s tag=%#x size=%llu wrong_words=%llu\n",
	    file, tag, (unsigned long long)pos, (unsigned long long)bad);
	return bad != 0;
}

/*
 * The vector registers must survive whatever takes the CPU meanwhile:
 * interrupts, the kernel's scheduler, the hypervisor's vCPU switches.
 */
#define REG_LOAD(i)	"vmovdqa " #i "*32(%[p]), %%ymm" #i "\n\t"
#define REG_STORE(i)	"vmovdqa %%ymm" #i ", " #i "*32(%[o])\n\t"
#define SSE_LOAD(i)	"movdqa " #i "*32(%[p]), %%xmm" #i "\n\t"
#define SSE_STORE(i)	"movdqa %%xmm" #i ", " #i "*32(%[o])\n\t"
#define ALL16(m)	m(0) m(1) m(2) m(3) m(4) m(5) m(6) m(7) m(8) m(9) \
			m(10) m(11) m(12) m(13) m(14) m(15)
#define VCLOBBER	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", \
			"xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
			"xmm12", "xmm13", "xmm14", "xmm15", "memory"

__attribute__((target("avx")))
static void
regs_avx(const uint32_t *pat, uint32_t *out, unsigned long n)
{
	__asm__ volatile(ALL16(REG_LOAD)
	    "1:\n\tdec %[n]\n\tjnz 1b\n\t"
	    ALL16(REG_STORE) "vzeroupper\n\t"
	    : [n] "+r" (n) : [p] "r" (pat), [o] "r" (out) : VCLOBBER);
}

static void
regs_sse(const uint32_t *pat, uint32_t *out, unsigned long n)
{
	__asm__ volatile(ALL16(SSE_LOAD)
	    "1:\n\tdec %[n]\n\tjnz 1b\n\t"
	    ALL16(SSE_STORE)
	    : [n] "+r" (n) : [p] "r" (pat), [o] "r" (out) : VCLOBBER);
}

static int
regs_one(unsigned id, unsigned long rounds, unsigned long spin, int avx)
{
	static uint32_t pat[16][8] __attribute__((aligned(32)));
	static uint32_t out[16][8] __attribute__((aligned(32)));
	unsigned long r, bad = 0;
	unsigned i, k, w = avx ? 8 : 4;

	for (i = 0; i < 16; i++)
		for (k = 0; k < 8; k++)
			pat[i][k] = id << 24 | i << 16 | k << 8 | 0x5a;
	for (r = 0; r < rounds; r++) {
		memset(out, 0, sizeof(out));
		if (avx)
			regs_avx(&pat[0][0], &out[0][0], spin);
		else
			regs_sse(&pat[0][0], &out[0][0], spin);
		for (i = 0; i < 16; i++)
			for (k = 0; k < w; k++)
				if (out[i][k] != pat[i][k] && bad++ < 4)
					printf("HCVS-REGS proc %u round %lu %smm%u[%u] = "
					    "%08x, want %08x\n", id, r, avx ? "y" : "x",
					    i, k, out[i][k], pat[i][k]);
	}
	return bad != 0;
}

static int
regs(unsigned nproc, unsigned long rounds, unsigned long spin)
{
	int avx = __builtin_cpu_supports("avx"), st;
	unsigned i, failed = 0;

	for (i = 0; i < nproc; i++)
		if (fork() == 0)
			_exit(regs_one(i + 1, rounds, spin, avx));
	while (wait(&st) > 0)
		failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	printf("HCVS-REGS %s: %u processes x %lu rounds of %lu: %u saw a "
	    "register change\n", avx ? "ymm" : "xmm", nproc, rounds, spin,
	    failed);
	return failed != 0;
}

static int
send_bytes(int fd, unsigned long long n)
{
	while (n > 0) {
		size_t c = n < CHUNK ? (size_t)n : CHUNK;

		if (write_all(fd, buf, c) < 0)
			return -1;
		n -= c;
	}
	return 0;
}

static int
vsend(unsigned cid, unsigned port, unsigned long long n)
{
	int fd = vsock_connect(SOCK_STREAM, cid, port);
	uint64_t t0 = now_ms();
	int rc;

	pattern();
	rc = send_bytes(fd, n);
	shutdown(fd, SHUT_WR);
	while (rc == 0 && read(fd, rbuf, CHUNK) > 0)
		;
	printf("HCVS-G send bytes=%llu ms=%llu rc=%d\n", n,
	    (unsigned long long)(now_ms() - t0), rc);
	close(fd);
	return rc != 0;
}

/*
 * All connections first, then every one written, half-closed and read
 * back at once (non-blocking, one poll over all): no order between them
 * is assumed, and none waits for another.
 */
static int
multi(unsigned cid, unsigned port, unsigned conns, size_t bytes)
{
	struct mconn {
		int		 fd;
		size_t		 sent, got;
		int		 shut, eof, bad;
		unsigned char	*data;
	} *m = calloc(conns, sizeof(*m));
	struct pollfd *p = calloc(conns, sizeof(*p));
	uint64_t end;
	unsigned i, ok = 0, left = conns;
	char why[80] = "";

	if (m == NULL || p == NULL)
		die("calloc");
	for (i = 0; i < conns; i++) {
		m[i].data = malloc(bytes);
		if (m[i].data == NULL)
			die("malloc");
		pat_fill(m[i].data, 0, bytes, 1000 + i);
		m[i].fd = vsock_connect(SOCK_STREAM, cid, port);
	}
	for (i = 0; i < conns; i++)
		fcntl(m[i].fd, F_SETFL, fcntl(m[i].fd, F_GETFL) | O_NONBLOCK);
	end = now_ms() + 120000;
	while (left > 0 && now_ms() < end) {
		for (i = 0; i < conns; i++) {
			p[i].fd = m[i].eof || m[i].bad ? -1 : m[i].fd;
			p[i].events = POLLIN | (m[i].sent < bytes ? POLLOUT : 0);
		}
		if (poll(p, conns, 1000) < 0 && errno != EINTR)
			die("poll");
		for (i = 0; i < conns; i++) {
			struct mconn *c = &m[i];
			ssize_t r;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			if (c->sent < bytes && (p[i].revents & POLLOUT)) {
				r = write(c->fd, c->data + c->sent, bytes - c->sent);
				if (r > 0)
					c->sent += (size_t)r;
				else if (r < 0 && errno != EAGAIN) {
					snprintf(why, sizeof(why), "write: %s", strerror(errno));
					c->bad = 1;
				}
			}
			if (c->sent == bytes && !c->shut) {
				shutdown(c->fd, SHUT_WR);
				c->shut = 1;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				r = read(c->fd, rbuf, CHUNK);
				if (r > 0) {
					if (c->got + (size_t)r > bytes ||
					    memcmp(rbuf, c->data + c->got, (size_t)r) != 0) {
						snprintf(why, sizeof(why), "conn %u: wrong bytes at %zu", i, c->got);
						(void)pat_check("HCVS-G multi", rbuf,
						    c->got, (size_t)r, 1000 + i, 4);
						c->bad = 1;
					}
					c->got += (size_t)r;
				} else if (r == 0) {
					c->eof = 1;
				} else if (errno != EAGAIN) {
					snprintf(why, sizeof(why), "read: %s", strerror(errno));
					c->bad = 1;
				}
			}
			if (c->eof || c->bad) {
				left--;
				if (!c->bad && c->got == bytes)
					ok++;
			}
		}
	}
	for (i = 0; i < conns; i++) {
		close(m[i].fd);
		free(m[i].data);
	}
	for (i = 0; why[i]; i++)
		if (why[i] == ' ')
			why[i] = '_';
	printf("HCVS-G concurrent conns=%u ok=%u err=%s\n", conns, ok,
	    left ? "timeout" : why);
	free(m);
	free(p);
	return ok != conns;
}

static int
hold(unsigned cid, unsigned port, unsigned secs)
{
	int fd = vsock_connect(SOCK_STREAM, cid, port);

	if (write_all(fd, (const unsigned char *)"hello\n", 6) < 0)
		die("write");
	printf("HCVS-G holding a connection\n");
	sleep(secs);
	close(fd);
	return 0;
}

static int
unix_local(unsigned long long n)
{
	char path[64];
	int lfd, fd, st;
	unsigned long long bytes = 0;
	uint64_t t0;
	pid_t pid;
	ssize_t r;

	snprintf(path, sizeof(path), "/tmp/lgtool.%d", (int)getpid());
	lfd = unix_listen(path, SOCK_STREAM);
	pattern();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct sockaddr_un a;

		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		memset(&a, 0, sizeof(a));
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(1);
		_exit(send_bytes(fd, n) == 0 ? 0 : 1);
	}
	fd = accept_within(lfd, 30);
	t0 = now_ms();
	while ((r = read(fd, rbuf, CHUNK)) > 0)
		bytes += (unsigned long long)r;
	printf("HCVS-PERF unix bytes=%llu ms=%llu\n", bytes,
	    (unsigned long long)(now_ms() - t0));
	waitpid(pid, &st, 0);
	unlink(path);
	return bytes != n;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 6 && strcmp(argv[1], "seq-client") == 0)
		return seq_client((unsigned)atoi(argv[2]),
		    (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]),
		    (uint32_t)strtoul(argv[5], NULL, 0));
	if (argc == 4 && strcmp(argv[1], "seq-echo") == 0)
		return seq_echo(argv[2], atoi(argv[3]));
	if (argc == 5 && strcmp(argv[1], "gather") == 0)
		return gather(argv[2], (unsigned)atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "echo") == 0)
		return echo_serve(argv[2], argv[3], atoi(argv[4]));
	if (argc == 4 && strcmp(argv[1], "sink") == 0)
		return sink(argv[2], atoi(argv[3]));
	if (argc == 5 && strcmp(argv[1], "send") == 0)
		return vsend((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
		    strtoull(argv[4], NULL, 0));
	if (argc == 6 && strcmp(argv[1], "multi") == 0)
		return multi((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
		    (unsigned)atoi(argv[4]), (size_t)strtoull(argv[5], NULL, 0));
	if (argc == 5 && strcmp(argv[1], "hold") == 0)
		return hold((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
		    (unsigned)atoi(argv[4]));
	if (argc == 4 && strcmp(argv[1], "pattern") == 0)
		return pattern_out(strtoull(argv[2], NULL, 0),
		    (uint32_t)strtoul(argv[3], NULL, 0));
	if (argc == 4 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
	if (argc == 5 && strcmp(argv[1], "regs") == 0)
		return regs((unsigned)atoi(argv[2]), strtoul(argv[3], NULL, 0),
		    strtoul(argv[4], NULL, 0));
	if (argc == 3 && strcmp(argv[1], "unix-local") == 0)
		return unix_local(strtoull(argv[2], NULL, 0));
	fprintf(stderr, "usage: see the comment at the top of lgtool.c\n");
	return 2;
}
