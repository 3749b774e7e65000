/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz harness shares: the libFuzzer entry points and a cursor
 * that turns the input into bounded choices.  A harness is built twice:
 * with clang and -fsanitize=fuzzer (make fuzz), and with replay.c as a
 * plain main() that runs the saved corpus under make check with any
 * compiler.
 *
 * Harnesses abort (fz_check) when the code under test breaks a contract
 * the sanitizers cannot see (a slot moved backwards, a field other than
 * `data` written, memory unbounded): libFuzzer reports that as a crash.
 */
#ifndef HCVS_FUZZ_H
#define HCVS_FUZZ_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

/* Consumes the input front to back; past the end everything reads 0. */
struct fz {
	const uint8_t	*p;
	size_t		 n;
};

static inline bool
fz_more(const struct fz *f)
{
	return f->n > 0;
}

static inline void
fz_bytes(struct fz *f, void *out, size_t len)
{
	size_t k = len < f->n ? len : f->n;

	memcpy(out, f->p, k);
	memset((uint8_t *)out + k, 0, len - k);
	f->p += k;
	f->n -= k;
}

static inline uint8_t
fz_u8(struct fz *f)
{
	uint8_t v;

	fz_bytes(f, &v, 1);
	return v;
}

static inline uint16_t
fz_u16(struct fz *f)
{
	uint16_t v;

	fz_bytes(f, &v, 2);
	return v;
}

static inline uint32_t
fz_u32(struct fz *f)
{
	uint32_t v;

	fz_bytes(f, &v, 4);
	return v;
}

static inline uint64_t
fz_u64(struct fz *f)
{
	uint64_t v;

	fz_bytes(f, &v, 8);
	return v;
}

/* Little-endian fields of guest RAM at base + off, as the guest sees them. */
static inline uint32_t
fz_rd32(const uint8_t *base, uint32_t off)
{
	uint32_t v;

	memcpy(&v, base + off, sizeof(v));
	return le32toh(v);
}

static inline void
fz_wr32(uint8_t *base, uint32_t off, uint32_t v)
{
	v = htole32(v);
	memcpy(base + off, &v, sizeof(v));
}

static inline void
fz_wr64(uint8_t *base, uint32_t off, uint64_t v)
{
	v = htole64(v);
	memcpy(base + off, &v, sizeof(v));
}

/* Abort with a message: a broken invariant is a finding. */
void	fz_fail(const char *file, int line, const char *what)
	    __attribute__((noreturn));
#define fz_check(cond) \
	do { if (!(cond)) fz_fail(__FILE__, __LINE__, #cond); } while (0)

/* The lowest free fd: equal before and after an iteration = no fd leaked. */
int	fz_lowest_fd(void);

/* Silence the library's logging (guest errors are logged on purpose). */
void	fz_quiet(void);

struct ioreq_mem;
/*
 * Guest RAM for a harness: a memfd of `size` bytes mapped at `gpa` in a new
 * *mem, and returned as a shared view for the harness to write as the
 * guest.  Aborts on failure (set-up, not fuzz input).
 */
uint8_t	*fz_guest_ram(uint64_t gpa, size_t size, struct ioreq_mem **mem);

/*
 * Guest RAM the code under test may write (what it accepted), forgotten
 * by fz_allow_reset() before each input; fz_allow() is false when the
 * table is full.  fz_check_canary() checks that every byte of
 * ram[from, to) outside those ranges and outside [skip_lo, skip_hi)
 * still holds `canary`.
 */
#define FZ_MAX_RANGES	256
void	fz_allow_reset(void);
bool	fz_allow(uint64_t lo, uint64_t hi);
void	fz_check_canary(const uint8_t *ram, uint64_t from, uint64_t to,
	    uint64_t skip_lo, uint64_t skip_hi, uint8_t canary);

struct loop;
/*
 * The start-up of a harness that drives guest memory: quiet logs, its
 * guest RAM (fz_guest_ram) and, when lp is not NULL, an event loop, all
 * released at exit.  FZ_GUEST_INITIALIZER is that harness's
 * LLVMFuzzerInitialize.
 */
void	fz_guest_init(uint64_t gpa, size_t size, uint8_t **ram,
	    struct ioreq_mem **mem, struct loop **lp);
#define FZ_GUEST_INITIALIZER(gpa, size, ram, mem, lp)			\
int									\
LLVMFuzzerInitialize(int *argc, char ***argv)				\
{									\
	(void)argc;							\
	(void)argv;							\
	fz_guest_init(gpa, size, ram, mem, lp);				\
	return 0;							\
}

#endif /* HCVS_FUZZ_H */
