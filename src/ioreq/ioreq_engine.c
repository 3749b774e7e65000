/* SPDX-License-Identifier: MIT */
/* The request engine: validates and completes Xen-format ioreq slots. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "notify/notify.h"
#include "ioreq/ioreq_impl.h"

struct ioreq_range {
	uint64_t			 r_start;
	uint64_t			 r_end;		/* inclusive */
	const struct ioreq_handler_ops	*r_ops;
	void				*r_opaque;
};

struct ioreq_engine {
	struct ioreq		*e_slots;
	unsigned		 e_nr_vcpus;
	struct buffered_iopage	*e_buf;
	struct notifier		*e_notifier;
	struct ioreq_mem	*e_mem;
	uint32_t		*e_port;	/* per vCPU local port */
	uint32_t		 e_buf_port;
	bool			 e_stopped;
	/* Sorted by r_start, non-overlapping, per space. */
	struct ioreq_range	 e_ranges[2][IOREQ_MAX_RANGES];
	unsigned		 e_nr_ranges[2];
	void			(*e_post)(void *);
	void			*e_post_arg;
	struct ioreq_engine_stats e_stats;
	struct log_ratelimit	 e_rl;		/* guest misbehaviour */
	struct log_ratelimit	 e_rl_debug;	/* unclaimed accesses */
	/* rep / data_is_ptr bounce buffer: count * size never exceeds it. */
	uint8_t			 e_bounce[IOREQ_MAX_COUNT * 8];
};

/* Reads of nothing: the x86 null handler (all-ones, writes dropped). */
static int
null_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	*val = ~(uint64_t)0;
	return 0;
}

static int
null_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	return 0;
}

static const struct ioreq_handler_ops null_ops = {
	.read = null_read,
	.write = null_write,
};

static const struct ioreq_range null_range = {
	.r_start = 0,
	.r_end = UINT64_MAX,
	.r_ops = &null_ops,
};

static uint64_t
size_mask(unsigned size)
{
	return size >= 8 ? ~(uint64_t)0 : (((uint64_t)1 << (size * 8)) - 1);
}

int
ioreq_engine_new(struct ioreq *page, unsigned nr_vcpus,
    struct buffered_iopage *buf, struct notifier *n, struct ioreq_mem *mem,
    struct ioreq_engine **ep)
{
	struct ioreq_engine *e;
	unsigned i;

	*ep = NULL;
	if (page == NULL || nr_vcpus == 0 || nr_vcpus > IOREQ_MAX_VCPUS)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->e_port = calloc(nr_vcpus, sizeof(*e->e_port));
	if (e->e_port == NULL) {
		free(e);
		return -ENOMEM;
	}
	for (i = 0; i < nr_vcpus; i++)
		e->e_port[i] = NOTIFY_PORT_INVALID;
	e->e_slots = page;
	e->e_nr_vcpus = nr_vcpus;
	e->e_buf = buf;
	e->e_buf_port = NOTIFY_PORT_INVALID;
	e->e_notifier = n;
	e->e_mem = mem;
	e->e_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 1);
	e->e_rl_debug = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 1);
	*ep = e;
	return 0;
}

void
ioreq_engine_free(struct ioreq_engine *e)
{
	if (e == NULL)
		return;
	free(e->e_port);
	free(e);
}

int
ioreq_engine_set_port(struct ioreq_engine *e, unsigned vcpu, uint32_t local)
{
	unsigned i;

	if (vcpu >= e->e_nr_vcpus)
		return -EINVAL;
	if (local != NOTIFY_PORT_INVALID) {
		if (local == e->e_buf_port)
			return -EEXIST;
		for (i = 0; i < e->e_nr_vcpus; i++)
			if (i != vcpu && e->e_port[i] == local)
				return -EEXIST;
	}
	e->e_port[vcpu] = local;
	return 0;
}

void
ioreq_engine_set_buf_port(struct ioreq_engine *e, uint32_t local)
{
	e->e_buf_port = local;
}

void
ioreq_engine_set_stopped(struct ioreq_engine *e, bool stopped)
{
	e->e_stopped = stopped;
}

void
ioreq_engine_set_post_hook(struct ioreq_engine *e, void (*fn)(void *arg),
    void *arg)
{
	e->e_post = fn;
	e->e_post_arg = arg;
}

void
ioreq_engine_get_stats(const struct ioreq_engine *e,
    struct ioreq_engine_stats *st)
{
	*st = e->e_stats;
}

/* ---- Ranges ------------------------------------------------------------ */

int
ioreq_engine_add_range(struct ioreq_engine *e, enum ioreq_space sp,
    uint64_t start, uint64_t end, const struct ioreq_handler_ops *ops,
    void *opaque)
{
	struct ioreq_range *r;
	unsigned i, n;

	if ((sp != IOREQ_SPACE_PIO && sp != IOREQ_SPACE_MMIO) || end < start ||
	    ops == NULL || ops->read == NULL || ops->write == NULL)
		return -EINVAL;
	if (sp == IOREQ_SPACE_PIO && end > 0xffff)
		return -EINVAL;
	r = e->e_ranges[sp];
	n = e->e_nr_ranges[sp];
	for (i = 0; i < n; i++) {
		if (start <= r[i].r_end && r[i].r_start <= end)
			return -EEXIST;
		if (r[i].r_start > end)
			break;
	}
	if (n == IOREQ_MAX_RANGES)
		return -ENOSPC;
	memmove(&r[i + 1], &r[i], (n - i) * sizeof(*r));
	r[i] = (struct ioreq_range){ start, end, ops, opaque };
	e->e_nr_ranges[sp] = n + 1;
	return 0;
}

int
ioreq_engine_del_range(struct ioreq_engine *e, enum ioreq_space sp,
    uint64_t start)
{
	struct ioreq_range *r;
	unsigned i, n;

	if (sp != IOREQ_SPACE_PIO && sp != IOREQ_SPACE_MMIO)
		return -EINVAL;
	r = e->e_ranges[sp];
	n = e->e_nr_ranges[sp];
	for (i = 0; i < n; i++) {
		if (r[i].r_start == start) {
			memmove(&r[i], &r[i + 1], (n - i - 1) * sizeof(*r));
			e->e_nr_ranges[sp] = n - 1;
			return 0;
		}
	}
	return -ENOENT;
}

/* The range holding all of [first, last], or NULL (Xen: nobody). */
static const struct ioreq_range *
find_range(const struct ioreq_engine *e, enum ioreq_space sp, uint64_t first,
    uint64_t last)
{
	const struct ioreq_range *r = e->e_ranges[sp];
	unsigned lo = 0, hi = e->e_nr_ranges[sp];

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (r[mid].r_end < first)
			lo = mid + 1;
		else if (r[mid].r_start > first)
			hi = mid;
		else
			return last <= r[mid].r_end ? &r[mid] : NULL;
	}
	return NULL;
}

/* ---- One request -------------------------------------------------------- */

/* What validation decided, and why, for the log. */
struct req_plan {
	const struct ioreq_range	*range;
	enum ioreq_space		 sp;
	uint64_t			 first;	/* lowest device byte */
	const char			*why;	/* non-NULL: invalid */
};

static bool
size_ok(unsigned size, bool pio)
{
	if (pio && size > 4)
		return false;
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/*
 * [first, last] of a span of `count` elements of `size` bytes starting
 * at `base` and walking down (df) or up.  False on overflow.
 */
static bool
span(uint64_t base, uint32_t count, unsigned size, bool df, uint64_t *first,
    uint64_t *last)
{
	uint64_t step = (uint64_t)(count - 1) * size;

	if (df) {
		if (base < step || base > UINT64_MAX - (size - 1))
			return false;
		*first = base - step;
		*last = base + size - 1;
	} else {
		if (base > UINT64_MAX - step - (size - 1))
			return false;
		*first = base;
		*last = base + step + size - 1;
	}
	return true;
}

static void
plan_request(const struct ioreq_engine *e, const struct ioreq *rq,
    struct req_plan *pl)
{
	bool pio = rq->type == IOREQ_TYPE_PIO;
	uint64_t first, last, bfirst, blast;

	pl->range = NULL;
	pl->why = NULL;
	pl->sp = pio ? IOREQ_SPACE_PIO : IOREQ_SPACE_MMIO;
	if (!size_ok(rq->size, pio)) {
		pl->why = "bad size";
		return;
	}
	if (rq->count == 0 || rq->count > IOREQ_MAX_COUNT) {
		pl->why = "bad count";
		return;
	}
	/* A PIO rep targets one port; MMIO elements walk with df. */
	if (pio)
		first = rq->addr, last = rq->addr + rq->size - 1;
	if (pio ? rq->addr > 0xffff || last > 0xffff :
	    !span(rq->addr, rq->count, rq->size, rq->df, &first, &last)) {
		pl->why = "address out of range";
		return;
	}
	if (rq->data_is_ptr &&
	    !span(rq->data, rq->count, rq->size, rq->df, &bfirst, &blast)) {
		pl->why = "buffer address overflows";
		return;
	}
	pl->first = first;
	pl->range = find_range(e, pl->sp, first, last);
}

static void
note_invalid(struct ioreq_engine *e, unsigned vcpu, const struct ioreq *rq,
    const char *why)
{
	char who[24];

	e->e_stats.st_invalid++;
	if (vcpu == UINT32_MAX)
		snprintf(who, sizeof(who), "buffered ring");
	else
		snprintf(who, sizeof(who), "vcpu %u", vcpu);
	log_ratelimited(&e->e_rl, LOG_WARNING,
	    "ioreq: %s: %s (type %u size %u count %u addr 0x%" PRIx64
	    " ptr %u dir %u df %u)", who, why, rq->type, rq->size, rq->count,
	    rq->addr, rq->data_is_ptr, rq->dir, rq->df);
}

/* Element i's device address (MMIO walks; a PIO rep stays on its port). */
static uint64_t
elem_addr(const struct ioreq *rq, uint32_t i)
{
	uint64_t step = (uint64_t)i * rq->size;

	if (rq->type == IOREQ_TYPE_PIO)
		return rq->addr;
	return rq->df ? rq->addr - step : rq->addr + step;
}

/*
 * Element i's offset in the bounce buffer, which mirrors guest memory
 * from the lowest buffer byte: with df the first element is the highest.
 */
static size_t
bounce_off(const struct ioreq *rq, uint32_t i)
{
	uint32_t k = rq->df ? rq->count - 1 - i : i;

	return (size_t)k * rq->size;
}

static uint64_t
load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void
store_le(uint8_t *p, unsigned size, uint64_t v)
{
	unsigned i;

	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
dev_read(const struct ioreq_range *r, unsigned vcpu, uint64_t addr,
    unsigned size)
{
	uint64_t v = 0;

	if (r->r_ops->read(r->r_opaque, vcpu, addr - r->r_start, size, &v) < 0)
		v = ~(uint64_t)0;
	return v & size_mask(size);
}

/*
 * Carry out a validated PIO/COPY request.  Returns the value for `data`
 * (reads without a pointer) through *data; *set_data tells whether to
 * write it back.
 */
static void
execute(struct ioreq_engine *e, unsigned vcpu, const struct ioreq *rq,
    const struct ioreq_range *r, uint64_t *data, bool *set_data)
{
	size_t len = (size_t)rq->count * rq->size;
	uint64_t lo = rq->df ? rq->data - (uint64_t)(rq->count - 1) * rq->size :
	    rq->data;
	uint32_t i;
	int rc;

	*set_data = false;
	if (!rq->data_is_ptr) {
		uint64_t v = rq->data & size_mask(rq->size);

		for (i = 0; i < rq->count; i++) {
			if (rq->dir == IOREQ_READ)
				v = dev_read(r, vcpu, elem_addr(rq, i),
				    rq->size);
			else
				(void)r->r_ops->write(r->r_opaque, vcpu,
				    elem_addr(rq, i) - r->r_start, rq->size, v);
		}
		if (rq->dir == IOREQ_READ) {
			*data = v;
			*set_data = true;
		}
		return;
	}

	/*
	 * The whole buffer is checked before the device sees anything, so a
	 * bad pointer has no device side effects.
	 */
	rc = ioreq_mem_read(e->e_mem, lo, e->e_bounce, len);
	if (rc < 0) {
		note_invalid(e, vcpu, rq, rc == -EFAULT ?
		    "data pointer outside guest RAM" : "data pointer unusable");
		return;
	}
	if (rq->dir == IOREQ_WRITE) {
		for (i = 0; i < rq->count; i++) {
			uint64_t v = load_le(e->e_bounce + bounce_off(rq, i),
			    rq->size);

			(void)r->r_ops->write(r->r_opaque, vcpu,
			    elem_addr(rq, i) - r->r_start, rq->size, v);
		}
		return;
	}
	for (i = 0; i < rq->count; i++)
		store_le(e->e_bounce + bounce_off(rq, i), rq->size,
		    dev_read(r, vcpu, elem_addr(rq, i), rq->size));
	rc = ioreq_mem_write(e->e_mem, lo, e->e_bounce, len);
	if (rc < 0)
		note_invalid(e, vcpu, rq, "data pointer not writable");
}

/*
 * Decide the answer for a copied request.  Returns true and *data when
 * `data` must be written back.
 */
static bool
handle_request(struct ioreq_engine *e, unsigned vcpu, const struct ioreq *rq,
    uint64_t *data)
{
	struct req_plan pl;
	bool set = false;

	switch (rq->type) {
	case IOREQ_TYPE_PIO:
	case IOREQ_TYPE_COPY:
		plan_request(e, rq, &pl);
		if (pl.why != NULL) {
			note_invalid(e, vcpu, rq, pl.why);
			break;
		}
		if (pl.range == NULL) {
			e->e_stats.st_unclaimed++;
			log_ratelimited(&e->e_rl_debug, LOG_DEBUG,
			    "ioreq: vcpu %u: unclaimed %s 0x%" PRIx64, vcpu,
			    pl.sp == IOREQ_SPACE_PIO ? "port" : "address",
			    rq->addr);
			pl.range = &null_range;
		}
		execute(e, vcpu, rq, pl.range, data, &set);
		return set;
	case IOREQ_TYPE_INVALIDATE:
		if (e->e_mem != NULL)
			ioreq_mem_invalidate(e->e_mem);
		return false;
	case IOREQ_TYPE_TIMEOFFSET:
		return false;
	case IOREQ_TYPE_PCI_CONFIG:
		/* No PCI device is registered: like an empty slot, all-ones. */
		e->e_stats.st_unclaimed++;
		break;
	default:
		note_invalid(e, vcpu, rq, "unknown type");
		break;
	}
	if (rq->dir == IOREQ_READ && !rq->data_is_ptr) {
		*data = ~(uint64_t)0;
		return true;
	}
	return false;
}

/*
 * The one read of a slot: volatile word loads, so the compiler can neither
 * re-read a field after validation nor tear it differently.
 */
static void
copy_slot(struct ioreq *dst, const struct ioreq *slot)
{
	const volatile uint64_t *src = (const volatile uint64_t *)slot;
	uint64_t w[4];
	unsigned i;

	for (i = 0; i < 4; i++)
		w[i] = src[i];
	memcpy(dst, w, sizeof(w));
}

static void
notify_vcpu(struct ioreq_engine *e, unsigned vcpu)
{
	if (e->e_port[vcpu] != NOTIFY_PORT_INVALID && e->e_notifier != NULL)
		(void)notifier_notify(e->e_notifier, e->e_port[vcpu]);
}

/*
 * Claim, copy, handle and complete one slot.  `inprocess_ok`: after a
 * re-attach a slot the dead process had claimed is ours to finish.
 */
static int
service_slot(struct ioreq_engine *e, unsigned vcpu, bool inprocess_ok)
{
	struct ioreq *slot = &e->e_slots[vcpu];
	struct ioreq rq;
	uint64_t data = 0;
	unsigned st;

	st = ioreq_slot_state(slot);
	if (st == STATE_IOREQ_READY) {
		if (!ioreq_slot_cas_state(slot, STATE_IOREQ_READY,
		    STATE_IOREQ_INPROCESS))
			return 0;
	} else if (st == STATE_IORESP_READY && inprocess_ok) {
		/*
		 * Answered, not yet retired: the dead process may have died
		 * between its answer and its notification, and a vCPU Xen
		 * blocked on the slot wakes on the event only, never on the
		 * state.  Notify again; a vCPU that is not waiting ignores it.
		 */
		notify_vcpu(e, vcpu);
		return 0;
	} else if (!(st == STATE_IOREQ_INPROCESS && inprocess_ok)) {
		return 0;
	}
	/* See READY, then read the contents (Xen wrote them before). */
	atomic_thread_fence(memory_order_acquire);
	copy_slot(&rq, slot);

	if (e->e_buf != NULL)
		(void)ioreq_engine_drain_buffered(e);

	if (handle_request(e, vcpu, &rq, &data)) {
		/* Bits above size read as zero (Arm relies on it). */
		if (size_ok(rq.size, false))
			data &= size_mask(rq.size);
		__atomic_store_n(&slot->data, data, __ATOMIC_RELAXED);
	}
	atomic_thread_fence(memory_order_release);
	if (!ioreq_slot_cas_state(slot, STATE_IOREQ_INPROCESS,
	    STATE_IORESP_READY)) {
		/*
		 * Only we move a claimed slot: Xen never does.  Whoever did is
		 * broken; never move the state backwards to fix it up.
		 */
		note_invalid(e, vcpu, &rq, "slot state changed while in process");
		return 1;
	}
	e->e_stats.st_requests++;
	notify_vcpu(e, vcpu);
	if (e->e_post != NULL)
		e->e_post(e->e_post_arg);
	return 1;
}

int
ioreq_engine_service_vcpu(struct ioreq_engine *e, unsigned vcpu)
{
	if (vcpu >= e->e_nr_vcpus || e->e_stopped)
		return 0;
	return service_slot(e, vcpu, false);
}

unsigned
ioreq_engine_service_ready(struct ioreq_engine *e)
{
	unsigned i, n = 0;

	if (e->e_stopped)
		return 0;
	for (i = 0; i < e->e_nr_vcpus; i++)
		n += (unsigned)service_slot(e, i, false);
	return n;
}

bool
ioreq_engine_any_ready(const struct ioreq_engine *e)
{
	unsigned i;

	if (e->e_stopped)
		return false;
	for (i = 0; i < e->e_nr_vcpus; i++)
		if (ioreq_slot_state(&e->e_slots[i]) == STATE_IOREQ_READY)
			return true;
	return false;
}

int
ioreq_engine_service_all(struct ioreq_engine *e)
{
	unsigned i;
	int n = 0;

	if (e->e_buf != NULL)
		(void)ioreq_engine_drain_buffered(e);
	for (i = 0; i < e->e_nr_vcpus; i++)
		n += service_slot(e, i, true);
	return n;
}

int
ioreq_engine_handle_port(struct ioreq_engine *e, uint32_t local)
{
	unsigned i;

	if (local == NOTIFY_PORT_INVALID)
		return 0;
	if (local == e->e_buf_port) {
		if (!e->e_stopped && e->e_buf != NULL)
			(void)ioreq_engine_drain_buffered(e);
		return 1;
	}
	for (i = 0; i < e->e_nr_vcpus; i++) {
		if (e->e_port[i] != local)
			continue;
		if (e->e_stopped || service_slot(e, i, false) == 0)
			e->e_stats.st_spurious++;
		return 1;
	}
	return 0;
}

/* ---- The buffered ring --------------------------------------------------- */

static void
buffered_one(struct ioreq_engine *e, const struct ioreq *rq)
{
	struct req_plan pl;

	if (rq->type != IOREQ_TYPE_PIO && rq->type != IOREQ_TYPE_COPY) {
		if (rq->type != IOREQ_TYPE_TIMEOFFSET &&
		    rq->type != IOREQ_TYPE_INVALIDATE)
			note_invalid(e, UINT32_MAX, rq, "unknown buffered type");
		return;
	}
	if (rq->dir == IOREQ_READ) {
		/* Nobody waits for a buffered read's answer. */
		note_invalid(e, UINT32_MAX, rq, "buffered read");
		return;
	}
	plan_request(e, rq, &pl);
	if (pl.why != NULL) {
		note_invalid(e, UINT32_MAX, rq, pl.why);
		return;
	}
	if (pl.range == NULL) {
		e->e_stats.st_unclaimed++;
		return;
	}
	(void)pl.range->r_ops->write(pl.range->r_opaque, UINT32_MAX,
	    rq->addr - pl.range->r_start, rq->size, rq->data);
}

/*
 * Xen (ATOMIC mode) may cmpxchg both pointers down by a multiple of the
 * ring size at any time, so read_pointer is advanced only atomically and
 * a snapshot is retried if it moved; slot = pointer % 511 is invariant
 * under that.  The loop is bounded: a producer that never stops cannot
 * keep us here.
 */
unsigned
ioreq_engine_drain_buffered(struct ioreq_engine *e)
{
	struct buffered_iopage *b = e->e_buf;
	uint32_t *rdp, *wrp;
	unsigned done = 0, budget = IOREQ_BUFFER_SLOT_NUM;

	if (b == NULL)
		return 0;
	rdp = &b->read_pointer;
	wrp = &b->write_pointer;
	while (budget-- > 0) {
		struct buf_ioreq s0, s1;
		struct ioreq rq;
		uint32_t rd, wr;
		unsigned qw;

		rd = __atomic_load_n(rdp, __ATOMIC_ACQUIRE);
		wr = __atomic_load_n(wrp, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(rdp, __ATOMIC_ACQUIRE) != rd)
			continue;
		if (rd == wr)
			break;
		if (wr - rd > IOREQ_BUFFER_SLOT_NUM) {
			/* Impossible from Xen: skip what we cannot trust. */
			note_invalid(e, UINT32_MAX, &(struct ioreq){ .count = 1 },
			    "buffered ring pointers inconsistent");
			(void)__atomic_compare_exchange_n(rdp, &rd, wr, false,
			    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
			break;
		}
		memcpy(&s0, (const void *)&b->buf_ioreq[rd %
		    IOREQ_BUFFER_SLOT_NUM], sizeof(s0));
		memset(&rq, 0, sizeof(rq));
		rq.type = s0.type;
		rq.dir = s0.dir;
		rq.size = 1u << s0.size;
		rq.addr = s0.addr;
		rq.data = s0.data;
		rq.count = 1;
		qw = rq.size == 8;
		if (qw) {
			if (wr - rd < 2) {
				/* Xen publishes both halves at once. */
				note_invalid(e, UINT32_MAX, &rq,
				    "incomplete buffered quad word");
				(void)__atomic_compare_exchange_n(rdp, &rd, wr,
				    false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
				break;
			}
			memcpy(&s1, (const void *)&b->buf_ioreq[(rd + 1) %
			    IOREQ_BUFFER_SLOT_NUM], sizeof(s1));
			rq.data |= (uint64_t)s1.data << 32;
		}
		atomic_thread_fence(memory_order_acquire);
		buffered_one(e, &rq);
		__atomic_fetch_add(rdp, qw + 1, __ATOMIC_ACQ_REL);
		e->e_stats.st_buffered++;
		done++;
	}
	return done;
}

/* ---- Introspection ------------------------------------------------------- */

static const char *
state_name(unsigned st)
{
	static const char *const names[] = { "NONE", "READY", "INPROCESS",
	    "IORESP_READY" };

	return st < ARRAY_SIZE(names) ? names[st] : "BAD";
}

void
ioreq_engine_dump(const struct ioreq_engine *e,
    void (*cb)(void *arg, const char *line), void *arg)
{
	char line[200];
	unsigned i;

	for (i = 0; i < e->e_nr_vcpus; i++) {
		struct ioreq rq;

		copy_slot(&rq, &e->e_slots[i]);
		snprintf(line, sizeof(line), "vcpu %u: state %s type %u addr "
		    "0x%" PRIx64 " size %u count %u dir %s port %" PRIu32
		    " eport %" PRIu32, i, state_name(rq.state), rq.type,
		    rq.addr, rq.size, rq.count, rq.dir ? "read" : "write",
		    e->e_port[i], rq.vp_eport);
		cb(arg, line);
	}
	if (e->e_buf != NULL) {
		snprintf(line, sizeof(line), "buffered: read %" PRIu32
		    " write %" PRIu32,
		    __atomic_load_n(&e->e_buf->read_pointer, __ATOMIC_RELAXED),
		    __atomic_load_n(&e->e_buf->write_pointer, __ATOMIC_RELAXED));
		cb(arg, line);
	}
	snprintf(line, sizeof(line), "stats: requests %" PRIu64 " buffered %"
	    PRIu64 " invalid %" PRIu64 " unclaimed %" PRIu64 " spurious %"
	    PRIu64, e->e_stats.st_requests, e->e_stats.st_buffered,
	    e->e_stats.st_invalid, e->e_stats.st_unclaimed,
	    e->e_stats.st_spurious);
	cb(arg, line);
}

unsigned
ioreq_engine_nr_vcpus(const struct ioreq_engine *e)
{
	return e->e_nr_vcpus;
}

int
ioreq_engine_slot_info(const struct ioreq_engine *e, unsigned vcpu,
    struct ioreq_slot_info *si)
{
	struct ioreq rq;

	if (vcpu >= e->e_nr_vcpus)
		return -EINVAL;
	copy_slot(&rq, &e->e_slots[vcpu]);
	si->sl_state = state_name(rq.state);
	si->sl_state_raw = rq.state;
	si->sl_type = rq.type;
	si->sl_dir = rq.dir;
	si->sl_size = rq.size;
	si->sl_count = rq.count;
	si->sl_addr = rq.addr;
	si->sl_port = e->e_port[vcpu];
	si->sl_eport = rq.vp_eport;
	return 0;
}
