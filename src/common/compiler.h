/* SPDX-License-Identifier: MIT */
/* Compiler attributes and tiny helpers shared by every module. */
#ifndef HCVS_COMPILER_H
#define HCVS_COMPILER_H

#include <stddef.h>

#define __must_check	__attribute__((warn_unused_result))
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#define __noreturn	__attribute__((noreturn))
#define __unused	__attribute__((unused))
/* Comment-style markers satisfy gcc only; clang needs the attribute. */
#define FALLTHROUGH	__attribute__((fallthrough))

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/*
 * Shared memory is written by a hostile peer: READ_ONCE makes the single
 * fetch explicit so the compiler cannot re-read a validated value.
 */
#define READ_ONCE(x)	(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/* One turn of a spin-wait: tells the CPU (and a hypervisor) we wait. */
static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

#endif /* HCVS_COMPILER_H */
