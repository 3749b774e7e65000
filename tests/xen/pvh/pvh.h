/* SPDX-License-Identifier: MIT */
/*
 * Run-time of the PVH test guest: port and MMIO access, a console on Xen's
 * debug port 0xE9, the command line, interrupts (IDT, local APIC, timer),
 * and the few Xen interfaces the tests need (hypercall page, shared_info,
 * event channel upcalls, a second vCPU).  32-bit protected mode, paging
 * off, no libc.  Output lines start with "HCVS-G" so the harness can find
 * them in Xen's serial log as "(dN) HCVS-G ...".
 */
#ifndef HCVS_PVH_H
#define HCVS_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcvsock_x86_io.h"
/* The test device, and the CRC-32 the dom0 side computes (xtd_crc32_update). */
#include "xen_testdev.h"

struct hvm_start_info;

/* Port and MMIO access. */
static inline uint32_t
mmio_read32(uintptr_t a)
{
	return *(volatile uint32_t *)a;
}

static inline void
mmio_write32(uintptr_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static inline void
cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

/* Console (port 0xE9), one line per call, serialised between vCPUs. */
void	con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define say(...)	con_printf("HCVS-G " __VA_ARGS__)

/* Command line "k=v k=v": the value of key, or dflt. */
const char *cmdline_str(const char *key, const char *dflt);
uint32_t cmdline_u32(const char *key, uint32_t dflt);
bool	str_eq(const char *a, const char *b);

/* A guest case, by the name the command line's case= gives it. */
struct pvh_case {
	const char	*name;
	int		(*run)(void);
};
#define PVH_NCASES(tab)	(sizeof(tab) / sizeof((tab)[0]))
/* Run the case of tab called name: true and its result in *rc, or false. */
bool	pvh_case_run(const struct pvh_case *tab, size_t n, const char *name,
	    int *rc);

/* Memory helpers (the compiler may emit calls to these). */
void	*memset(void *d, int c, size_t n);
void	*memcpy(void *d, const void *s, size_t n);
int	memcmp(const void *a, const void *b, size_t n);

/* Interrupts: IDT, local APIC, a 10 ms periodic timer on vector 0x20. */
#define VEC_TIMER	0x20
#define VEC_MSI		0x40
#define VEC_EVTCHN	0x41

void	irq_init(void);			/* IDT + APIC + timer, on this vCPU */
void	irq_init_ap(void);		/* APIC + timer on a secondary vCPU */
uint32_t apic_id(void);
void	irq_set_handler(unsigned vec, void (*fn)(unsigned vec));
volatile uint32_t *irq_counter(unsigned vec);
/* Ticks of 10 ms since irq_init on vCPU 0. */
uint32_t ticks(void);
/* The guest TSC's rate as Xen states it (CPUID), 0 if unknown. */
uint32_t tsc_khz(void);
/*
 * After a check found nothing to do: halt until an interrupt, or return
 * at once if one came since this vCPU's previous call (no lost wake-up).
 */
void	irq_wait(void);
/* irq_wait until *cond(arg) or timeout_ms passes; returns cond's value. */
bool	wait_until(bool (*cond)(void *), void *arg, uint32_t timeout_ms);
void	sleep_ms(uint32_t ms);

/* Xen. */
int	xen_init(void);			/* find CPUID leaves, hypercall page */
/* shared_info, callback, a port unbound for domain `remote` */
int	xen_evtchn_setup(uint32_t remote, uint32_t *port);
const void *xen_hypercall_page(void);	/* installed by xen_init() */
volatile uint32_t *xen_evtchn_count(void);	/* upcalls seen for the port */
uint64_t xen_evtchn_last_tsc(void);	/* guest TSC at the last such upcall */
int	xen_vcpu_up(unsigned id, void (*fn)(void));
/*
 * The toolstack's request in xenstore's control/shutdown ("suspend",
 * "reboot", ...): 1 with it in req (the node then emptied: acknowledged),
 * 0 when there is none, -1 on error.
 */
int	xen_control_request(char *req, uint32_t size);
/*
 * SCHEDOP_shutdown, suspend: returns when the domain runs again, 0 in a
 * restored (new) domain, 1 when the suspend was cancelled.
 */
int	xen_suspend(void);
int	xen_reboot(void);		/* SCHEDOP_shutdown, reboot */

/* Every vCPU halts for ever: Xen then powers the PVH domain off. */
void	halt_forever(void) __attribute__((noreturn));

#endif /* HCVS_PVH_H */
