/* SPDX-License-Identifier: MIT */
/* Run-time of the PVH test guest (see pvh.h). */
#include <stdarg.h>
#include <stdint.h>

/* Xen's public headers expect the fixed-width types to exist already. */
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/memory.h>
#include <xen/vcpu.h>
#include <xen/sched.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/io/xs_wire.h>

#include "pvh.h"

void	pvh_isr(uint32_t vec);
void	pvh_ap_main(void);
extern char pvh_isr_stubs[];
extern char pvh_ap_entry[];

/* ---- console -------------------------------------------------------- */

static volatile uint32_t con_lock;

static void
lock(volatile uint32_t *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}

static void
unlock(volatile uint32_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/*
 * One console line: Xen passes at most 199 characters of a line written
 * to port 0xE9 before it breaks it; the last byte is kept for the
 * newline, so a line cut short still ends.
 */
struct obuf {
	char	b[200];
	size_t	n;
};

static void
ob_put(struct obuf *o, char c)
{
	if (o->n < sizeof(o->b) - 1 && (c == '\n' || o->n < sizeof(o->b) - 2))
		o->b[o->n++] = c;
}

static void
ob_num(struct obuf *o, uint32_t v, unsigned base, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0 && n < (int)sizeof(tmp));
	while (n < width--)
		ob_put(o, pad);
	while (n > 0)
		ob_put(o, tmp[--n]);
}

/* 64-bit division would need libgcc: print 64-bit values in hex only. */
static void
ob_hex64(struct obuf *o, uint64_t v, int width)
{
	char tmp[17];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	while (n < width--)
		ob_put(o, '0');
	while (n > 0)
		ob_put(o, tmp[--n]);
}

void
con_printf(const char *fmt, ...)
{
	struct obuf o = { .n = 0 };
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	for (; *fmt != '\0'; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';

		if (*fmt != '%') {
			ob_put(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'u':
			ob_num(&o, va_arg(ap, unsigned), 10, width, pad);
			break;
		case 'd': {
			int v = va_arg(ap, int);

			if (v < 0) {
				ob_put(&o, '-');
				v = -v;
			}
			ob_num(&o, (unsigned)v, 10, width, pad);
			break;
		}
		case 'x':
			if (lng >= 2)
				ob_hex64(&o, va_arg(ap, uint64_t), width);
			else
				ob_num(&o, va_arg(ap, unsigned), 16, width, pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			while (*s != '\0')
				ob_put(&o, *s++);
			break;
		}
		case 'c':
			ob_put(&o, (char)va_arg(ap, int));
			break;
		default:
			ob_put(&o, *fmt);
			break;
		}
		if (*fmt == '\0')
			break;
	}
	va_end(ap);
	ob_put(&o, '\n');
	lock(&con_lock);
	for (i = 0; i < o.n; i++)
		hcvg_outb(0xe9, (uint8_t)o.b[i]);
	unlock(&con_lock);
}

/* ---- libc bits --------------------------------------------------------- */

void *
memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *
memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int
memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n > 0; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

bool
str_eq(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

bool
pvh_case_run(const struct pvh_case *tab, size_t n, const char *name, int *rc)
{
	for (size_t i = 0; i < n; i++) {
		if (str_eq(name, tab[i].name)) {
			*rc = tab[i].run();
			return true;
		}
	}
	return false;
}

/* ---- command line ------------------------------------------------------ */

static const char *cmdline = "";
static char cmd_val[64];

const char *
cmdline_str(const char *key, const char *dflt)
{
	const char *p = cmdline;

	while (*p != '\0') {
		const char *k = key;
		size_t n = 0;

		while (*p == ' ')
			p++;
		while (*k != '\0' && *p == *k) {
			p++;
			k++;
		}
		if (*k == '\0' && *p == '=') {
			p++;
			while (*p != '\0' && *p != ' ' && n < sizeof(cmd_val) - 1)
				cmd_val[n++] = *p++;
			cmd_val[n] = '\0';
			return cmd_val;
		}
		while (*p != '\0' && *p != ' ')
			p++;
	}
	return dflt;
}

uint32_t
cmdline_u32(const char *key, uint32_t dflt)
{
	const char *s = cmdline_str(key, NULL);
	uint32_t v = 0, base = 10;

	if (s == NULL || *s == '\0')
		return dflt;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s != '\0'; s++) {
		uint32_t d;

		if (*s >= '0' && *s <= '9')
			d = (uint32_t)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (uint32_t)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (uint32_t)(*s - 'A' + 10);
		else
			return dflt;
		v = v * base + d;
	}
	return v;
}

/* ---- interrupts --------------------------------------------------------- */

#define APIC_BASE	0xfee00000u
#define APIC_ID		0x020
#define APIC_EOI	0x0b0
#define APIC_SVR	0x0f0
#define APIC_LVT_TIMER	0x320
#define APIC_TMR_INIT	0x380
#define APIC_TMR_DIV	0x3e0

struct idt_entry {
	uint16_t	off_lo;
	uint16_t	sel;
	uint8_t		zero;
	uint8_t		type;
	uint16_t	off_hi;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(8)));
static void (*handlers[256])(unsigned);
static volatile uint32_t counters[256];
static volatile uint32_t tick_count;
/* Per vCPU: an interrupt came since its last irq_wait() (see there). */
static volatile uint8_t irq_came[8];

static unsigned this_vcpu(void);

static void tsc_init(void);

static void
apic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(APIC_BASE + reg, v);
}

uint32_t
apic_id(void)
{
	return mmio_read32(APIC_BASE + APIC_ID) >> 24;
}

static void
apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

void
pvh_isr(uint32_t vec)
{
	vec &= 0xff;
	if (vec < 32) {
		say("FAULT vector=%u apic=%u", vec, apic_id());
		halt_forever();
	}
	counters[vec]++;
	irq_came[this_vcpu()] = 1;
	if (vec == VEC_TIMER && apic_id() == 0)
		tick_count++;
	if (handlers[vec] != NULL)
		handlers[vec](vec);
	/* The event-channel callback vector is not an APIC source: no EOI. */
	if (vec != VEC_EVTCHN)
		apic_eoi();
}

static void
idt_load(void)
{
	struct {
		uint16_t	limit;
		uint32_t	base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };

	__asm__ volatile("lidt %0" : : "m"(d));
}

static void
apic_timer_start(void)
{
	/* Software-enable, spurious vector 0xff. */
	apic_write(APIC_SVR, 0x1ff);
	/* Xen's virtual APIC bus runs at 1 GHz: 10 ms periodic. */
	apic_write(APIC_TMR_DIV, 0xb);
	apic_write(APIC_LVT_TIMER, (1u << 17) | VEC_TIMER);
	apic_write(APIC_TMR_INIT, 10000000);
}

void
irq_init(void)
{
	unsigned i;

	for (i = 0; i < 256; i++) {
		uint32_t a = (uint32_t)(uintptr_t)(pvh_isr_stubs + 16 * i);

		idt[i].off_lo = (uint16_t)a;
		idt[i].sel = 0x08;
		idt[i].zero = 0;
		idt[i].type = 0x8e;
		idt[i].off_hi = (uint16_t)(a >> 16);
	}
	idt_load();
	apic_timer_start();
	tsc_init();
	__asm__ volatile("sti");
}

void
irq_init_ap(void)
{
	idt_load();
	apic_timer_start();
	__asm__ volatile("sti");
}

void
irq_set_handler(unsigned vec, void (*fn)(unsigned))
{
	handlers[vec & 0xff] = fn;
}

volatile uint32_t *
irq_counter(unsigned vec)
{
	return &counters[vec & 0xff];
}

/* TSC cycles per 10 ms (from Xen's CPUID leaves), 0 if unknown. */
static uint32_t tsc_per_tick;

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]);
static uint32_t xen_cpuid_base(void);

/*
 * Elapsed time in 10 ms units.  The guest TSC runs at a rate Xen states;
 * counting timer interrupts instead loses time under emulation, where a
 * loop iteration between two halts can take far longer than a tick.
 */
uint32_t
ticks(void)
{
	uint32_t lo, hi, q, r;

	if (tsc_per_tick == 0)
		return tick_count;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	if (hi >= tsc_per_tick)		/* quotient would not fit: give up */
		return tick_count;
	__asm__("divl %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi),
	    "rm"(tsc_per_tick));
	(void)r;
	return q;
}

uint32_t
tsc_khz(void)
{
	return tsc_per_tick / 10;
}

static void
tsc_init(void)
{
	uint32_t r[4], base = xen_cpuid_base();

	if (base == 0)
		return;
	cpuid(base, 0, r);
	if (r[0] - base < 3)
		return;
	/* Leaf base+3, sub-leaf 0: ECX is the guest TSC frequency in kHz. */
	cpuid(base + 3, 0, r);
	if (r[2] >= 1000 && r[2] < 100000000u)
		tsc_per_tick = r[2] * 10;
}

/*
 * Halt until an interrupt, unless one already came since this vCPU's last
 * call: the caller checked its condition before calling, and an interrupt
 * taken between that check and a bare `sti; hlt` would leave the vCPU
 * asleep until the next timer tick.  With interrupts off, the flag is
 * tested and `sti; hlt` halts with no window in between (sti takes effect
 * after hlt has started); whatever arrives after the flag is cleared is
 * seen by the caller's next check.
 */
void
irq_wait(void)
{
	unsigned v = this_vcpu();

	__asm__ volatile("cli" : : : "memory");
	if (!irq_came[v])
		__asm__ volatile("sti; hlt" : : : "memory");
	irq_came[v] = 0;
	__asm__ volatile("sti" : : : "memory");
}

bool
wait_until(bool (*cond)(void *), void *arg, uint32_t timeout_ms)
{
	uint32_t start = ticks();

	for (;;) {
		if (cond(arg))
			return true;
		if ((ticks() - start) * 10 >= timeout_ms)
			return cond(arg);
		irq_wait();
	}
}

static bool
never(void *arg)
{
	(void)arg;
	return false;
}

void
sleep_ms(uint32_t ms)
{
	(void)wait_until(never, NULL, ms);
}

void
halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- Xen --------------------------------------------------------------- */

static uint8_t hypercall_page[4096] __attribute__((aligned(4096)));
static uint8_t shinfo_page[4096] __attribute__((aligned(4096)));
static bool xen_ready;
static uint32_t evtchn_port;
static volatile uint32_t evtchn_upcalls;
static volatile uint64_t evtchn_upcall_tsc;

static void
cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	    : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	    : "a"(leaf), "c"(sub));
}

/* The base of Xen's CPUID leaves ("XenVMMXenVMM"), or 0. */
static uint32_t
xen_cpuid_base(void)
{
	uint32_t r[4], base;

	for (base = 0x40000000; base < 0x40010000; base += 0x100) {
		cpuid(base, 0, r);
		if (r[1] == 0x566e6558 && r[2] == 0x65584d4d &&
		    r[3] == 0x4d4d566e && r[0] - base >= 2)
			return base;
	}
	return 0;
}

static long
hcall3(unsigned nr, uint32_t a1, uint32_t a2, uint32_t a3)
{
	long ret;
	uint32_t b, c, d;

	__asm__ volatile("call *%%esi"
	    : "=a"(ret), "=b"(b), "=c"(c), "=d"(d)
	    : "S"(hypercall_page + nr * 32), "b"(a1), "c"(a2), "d"(a3)
	    : "memory");
	return ret;
}

int
xen_init(void)
{
	uint32_t r[4], base;

	if (xen_ready)
		return 0;
	base = xen_cpuid_base();
	if (base == 0) {
		say("xen: no Xen CPUID leaves");
		return -1;
	}
	cpuid(base + 2, 0, r);
	__asm__ volatile("wrmsr" : : "c"(r[1]),
	    "a"((uint32_t)(uintptr_t)hypercall_page), "d"(0) : "memory");
	xen_ready = true;
	return 0;
}

static void
evtchn_upcall(unsigned vec)
{
	struct shared_info *s = (struct shared_info *)shinfo_page;
	unsigned w = evtchn_port / 32, b = evtchn_port % 32;

	(void)vec;
	s->vcpu_info[0].evtchn_upcall_pending = 0;
	__atomic_and_fetch(&s->vcpu_info[0].evtchn_pending_sel, ~(1ul << w),
	    __ATOMIC_SEQ_CST);
	if (__atomic_fetch_and(&s->evtchn_pending[w], ~(1ul << b),
	    __ATOMIC_SEQ_CST) & (1ul << b)) {
		uint32_t lo, hi;

		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		evtchn_upcall_tsc = ((uint64_t)hi << 32) | lo;
		evtchn_upcalls++;
	}
}

const void *
xen_hypercall_page(void)
{
	return hypercall_page;
}

int
xen_evtchn_setup(uint32_t remote, uint32_t *port)
{
	struct xen_add_to_physmap xatp;
	struct xen_hvm_param p;
	struct evtchn_alloc_unbound au;
	long rc;

	if (xen_init() != 0)
		return -1;
	memset(&xatp, 0, sizeof(xatp));
	xatp.domid = DOMID_SELF;
	xatp.space = XENMAPSPACE_shared_info;
	xatp.idx = 0;
	xatp.gpfn = (uint32_t)(uintptr_t)shinfo_page >> 12;
	rc = hcall3(__HYPERVISOR_memory_op, XENMEM_add_to_physmap,
	    (uint32_t)(uintptr_t)&xatp, 0);
	if (rc != 0) {
		say("xen: add_to_physmap(shared_info) rc=%d", (int)rc);
		return -1;
	}
	irq_set_handler(VEC_EVTCHN, evtchn_upcall);
	memset(&p, 0, sizeof(p));
	p.domid = DOMID_SELF;
	p.index = HVM_PARAM_CALLBACK_IRQ;
	p.value = (2ull << 56) | VEC_EVTCHN;
	rc = hcall3(__HYPERVISOR_hvm_op, HVMOP_set_param,
	    (uint32_t)(uintptr_t)&p, 0);
	if (rc != 0) {
		say("xen: set CALLBACK_IRQ rc=%d", (int)rc);
		return -1;
	}
	memset(&au, 0, sizeof(au));
	au.dom = DOMID_SELF;
	au.remote_dom = (domid_t)remote;
	rc = hcall3(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound,
	    (uint32_t)(uintptr_t)&au, 0);
	if (rc != 0) {
		say("xen: alloc_unbound rc=%d", (int)rc);
		return -1;
	}
	evtchn_port = au.port;
	*port = au.port;
	return 0;
}

volatile uint32_t *
xen_evtchn_count(void)
{
	return &evtchn_upcalls;
}

uint64_t
xen_evtchn_last_tsc(void)
{
	return evtchn_upcall_tsc;
}

static uint8_t ap_stacks[8][8192] __attribute__((aligned(16)));
static void (*ap_fn[8])(void);

/*
 * Which vCPU runs this: secondary vCPUs run on ap_stacks, interrupts
 * included (same privilege level, no stack switch).  Cheaper than
 * reading the APIC ID, which exits to Xen.
 */
static unsigned
this_vcpu(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	unsigned i;

	for (i = 1; i < 8; i++)
		if (sp >= (uintptr_t)ap_stacks[i] &&
		    sp < (uintptr_t)ap_stacks[i] + sizeof(ap_stacks[i]))
			return i;
	return 0;
}

void
pvh_ap_main(void)
{
	uint32_t id = apic_id() / 2;

	if (id < 8 && ap_fn[id] != NULL)
		ap_fn[id]();
	halt_forever();
}

int
xen_vcpu_up(unsigned id, void (*fn)(void))
{
	static struct vcpu_hvm_context ctx;
	long rc;

	if (id == 0 || id >= 8 || xen_init() != 0)
		return -1;
	ap_fn[id] = fn;
	memset(&ctx, 0, sizeof(ctx));
	ctx.mode = VCPU_HVM_MODE_32B;
	ctx.cpu_regs.x86_32.eip = (uint32_t)(uintptr_t)pvh_ap_entry;
	ctx.cpu_regs.x86_32.esp = (uint32_t)(uintptr_t)(ap_stacks[id] + 8192);
	ctx.cpu_regs.x86_32.eflags = 0x2;
	ctx.cpu_regs.x86_32.cr0 = 0x11;	/* PE | ET */
	ctx.cpu_regs.x86_32.cs_limit = 0xffffffff;
	ctx.cpu_regs.x86_32.ds_limit = 0xffffffff;
	ctx.cpu_regs.x86_32.ss_limit = 0xffffffff;
	ctx.cpu_regs.x86_32.es_limit = 0xffffffff;
	ctx.cpu_regs.x86_32.tr_limit = 0x67;
	ctx.cpu_regs.x86_32.cs_ar = 0xc9b;
	ctx.cpu_regs.x86_32.ds_ar = 0xc93;
	ctx.cpu_regs.x86_32.ss_ar = 0xc93;
	ctx.cpu_regs.x86_32.es_ar = 0xc93;
	ctx.cpu_regs.x86_32.tr_ar = 0x8b;
	rc = hcall3(__HYPERVISOR_vcpu_op, VCPUOP_initialise, id,
	    (uint32_t)(uintptr_t)&ctx);
	if (rc != 0) {
		say("xen: VCPUOP_initialise(%u) rc=%d", id, (int)rc);
		return -1;
	}
	rc = hcall3(__HYPERVISOR_vcpu_op, VCPUOP_up, id, 0);
	if (rc != 0) {
		say("xen: VCPUOP_up(%u) rc=%d", id, (int)rc);
		return -1;
	}
	return 0;
}

/* ---- The toolstack's control node (xenstore) ------------------------------ */

static uint32_t xs_req_id;

static int
xen_get_param(uint32_t index, uint64_t *v)
{
	struct xen_hvm_param p;
	long rc;

	memset(&p, 0, sizeof(p));
	p.domid = DOMID_SELF;
	p.index = index;
	rc = hcall3(__HYPERVISOR_hvm_op, HVMOP_get_param,
	    (uint32_t)(uintptr_t)&p, 0);
	*v = p.value;
	return rc == 0 ? 0 : -1;
}

static void
xs_kick(uint32_t port)
{
	struct evtchn_send es = { .port = port };

	(void)hcall3(__HYPERVISOR_event_channel_op, EVTCHNOP_send,
	    (uint32_t)(uintptr_t)&es, 0);
}

static void
xs_put(struct xenstore_domain_interface *xs, uint32_t port, const void *p,
    uint32_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		XENSTORE_RING_IDX prod = xs->req_prod;

		if (prod - __atomic_load_n(&xs->req_cons, __ATOMIC_ACQUIRE) >=
		    XENSTORE_RING_SIZE) {
			xs_kick(port);
			cpu_relax();
			continue;
		}
		xs->req[MASK_XENSTORE_IDX(prod)] = (char)*b++;
		n--;
		__atomic_store_n(&xs->req_prod, prod + 1, __ATOMIC_RELEASE);
	}
}

static int
xs_get(struct xenstore_domain_interface *xs, uint32_t port, void *p,
    uint32_t n)
{
	uint8_t *b = p;
	uint32_t spins = 0;

	while (n > 0) {
		XENSTORE_RING_IDX cons = xs->rsp_cons;

		if (__atomic_load_n(&xs->rsp_prod, __ATOMIC_ACQUIRE) == cons) {
			if (++spins > 2000)
				return -1;
			xs_kick(port);
			sleep_ms(1);
			continue;
		}
		*b++ = (uint8_t)xs->rsp[MASK_XENSTORE_IDX(cons)];
		n--;
		__atomic_store_n(&xs->rsp_cons, cons + 1, __ATOMIC_RELEASE);
	}
	xs_kick(port);
	return 0;
}

/*
 * One request: `type` with the two payload parts (b may be NULL), the
 * answer's payload into out (NUL-terminated).  Returns the answer's type
 * or -1.
 */
static int
xs_call(uint32_t type, const char *a, uint32_t alen, const char *b,
    uint32_t blen, char *out, uint32_t outlen)
{
	struct xenstore_domain_interface *xs;
	struct xsd_sockmsg m;
	uint64_t pfn, port;
	uint32_t i;
	char c;

	if (xen_init() != 0 || xen_get_param(HVM_PARAM_STORE_PFN, &pfn) != 0 ||
	    xen_get_param(HVM_PARAM_STORE_EVTCHN, &port) != 0 || pfn == 0 ||
	    pfn >= (1ull << 20))
		return -1;
	xs = (struct xenstore_domain_interface *)(uintptr_t)(pfn << 12);
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.req_id = ++xs_req_id;
	m.len = alen + blen;
	xs_put(xs, (uint32_t)port, &m, sizeof(m));
	xs_put(xs, (uint32_t)port, a, alen);
	if (b != NULL)
		xs_put(xs, (uint32_t)port, b, blen);
	xs_kick((uint32_t)port);
	if (xs_get(xs, (uint32_t)port, &m, sizeof(m)) != 0)
		return -1;
	for (i = 0; i < m.len; i++) {
		if (xs_get(xs, (uint32_t)port, &c, 1) != 0)
			return -1;
		if (i + 1 < outlen)
			out[i] = c;
	}
	out[m.len < outlen ? m.len : outlen - 1] = '\0';
	return (int)m.type;
}

int
xen_control_request(char *req, uint32_t size)
{
	static const char node[] = "control/shutdown";
	char ack[16];
	int t;

	t = xs_call(XS_READ, node, sizeof(node), NULL, 0, req, size);
	if (t != XS_READ || req[0] == '\0')
		return 0;
	/* Acknowledged by emptying the node, as the toolstack expects. */
	if (xs_call(XS_WRITE, node, sizeof(node), "", 0, ack, sizeof(ack)) !=
	    XS_WRITE)
		return -1;
	return 1;
}

static int
xen_shutdown(uint32_t reason)
{
	struct sched_shutdown sd = { .reason = reason };

	if (xen_init() != 0)
		return -1;
	return (int)hcall3(__HYPERVISOR_sched_op, SCHEDOP_shutdown,
	    (uint32_t)(uintptr_t)&sd, 0);
}

int
xen_suspend(void)
{
	return xen_shutdown(SHUTDOWN_suspend);
}

int
xen_reboot(void)
{
	return xen_shutdown(SHUTDOWN_reboot);
}

/* ---- entry ------------------------------------------------------------- */

int	pvh_test_main(void);

void	pvh_main(const struct hvm_start_info *si);

void
pvh_main(const struct hvm_start_info *si)
{
	const uint32_t *w = (const void *)si;

	/* struct hvm_start_info: magic, version, flags, nr_modules, modlist, cmdline. */
	if (w != NULL && w[0] == 0x336ec578 && w[6] != 0 && w[7] == 0)
		cmdline = (const char *)(uintptr_t)w[6];
	irq_init();
	(void)pvh_test_main();
	halt_forever();
}
