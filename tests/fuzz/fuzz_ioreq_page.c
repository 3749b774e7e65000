/* SPDX-License-Identifier: MIT */
/*
 * The ioreq slot engine with the shared page as fuzz input.  The input is
 * the initial contents of every vCPU slot, then a program of events: a
 * vCPU's port fires, the guest rewrites a slot or only its state (also
 * from inside a device handler, i.e. between READY and the engine's
 * copy), the server is stopped, service_all runs (re-attach).
 *
 * Checked beyond the sanitizers, as Xen requires (xen-ioreq.md §5):
 *   - a slot not READY (or INPROCESS for service_all) is never touched;
 *   - a serviced slot ends IORESP_READY and only `data` changed;
 *   - a read answer has no bits above `size`;
 *   - handlers only see size 1/2/4/8 inside their range;
 *   - guest memory is only reached through the accessor (ASan).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "ioreq/ioreq_impl.h"
#include "notify/notify.h"

#define MAX_VCPUS	8
#define RAM_GPA		0x100000ull
#define RAM_SIZE	(64u * 1024)
#define PORT_BASE	10u
#define BUF_PORT	99u

struct dev {
	uint64_t	start, len;
	struct fz	*in;
	struct ioreq	*page;
	unsigned	 nr_vcpus;
	unsigned	 calls;
	bool		 mutated[MAX_VCPUS];
};

static struct ioreq_mem *mem;
static uint8_t *ram_view;

static void
maybe_mutate(struct dev *d, unsigned vcpu)
{
	uint8_t op;

	/* Only the synchronous slot's guest can race its own request. */
	if (vcpu >= d->nr_vcpus || !fz_more(d->in))
		return;
	op = fz_u8(d->in);
	if ((op & 0xf0) != 0xa0)
		return;
	d->mutated[vcpu] = true;
	if (op & 1) {
		/* Rewrite everything but the state byte. */
		uint8_t b[30];

		fz_bytes(d->in, b, sizeof(b));
		memcpy(&d->page[vcpu], b, sizeof(b));
	} else {
		uint8_t *bits = (uint8_t *)&d->page[vcpu] + IOREQ_SLOT_BITS_OFF;

		__atomic_store_n(bits, fz_u8(d->in), __ATOMIC_RELEASE);
	}
}

static void
check_access(struct dev *d, unsigned vcpu, uint64_t off, unsigned size)
{
	fz_check(size == 1 || size == 2 || size == 4 || size == 8);
	fz_check(off < d->len && size <= d->len - off);
	fz_check(vcpu < d->nr_vcpus || vcpu == UINT32_MAX);
	/* rep is bounded by IOREQ_MAX_COUNT per request. */
	fz_check(++d->calls <= 1u << 20);
}

static int
dev_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct dev *d = opaque;

	check_access(d, vcpu, off, size);
	maybe_mutate(d, vcpu);
	/* A full-width value: the engine must mask it. */
	*val = 0xa5a5a5a5a5a5a5a5ull ^ off;
	return (off & 7) == 5 ? -EIO : 0;
}

static int
dev_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct dev *d = opaque;

	(void)val;
	check_access(d, vcpu, off, size);
	maybe_mutate(d, vcpu);
	return 0;
}

static const struct ioreq_handler_ops dev_ops = {
	.read = dev_read,
	.write = dev_write,
};

FZ_GUEST_INITIALIZER(RAM_GPA, RAM_SIZE, &ram_view, &mem, NULL)

static unsigned
state_of(const struct ioreq *s)
{
	return ioreq_slot_state(s);
}

static void
dump_pair(unsigned i, const struct ioreq *b, const struct ioreq *a)
{
	fprintf(stderr, "slot %u before: addr %#llx data %#llx count %u size %u "
	    "state %u ptr %u dir %u df %u type %u\n", i,
	    (unsigned long long)b->addr, (unsigned long long)b->data, b->count,
	    b->size, b->state, b->data_is_ptr, b->dir, b->df, b->type);
	fprintf(stderr, "slot %u after:  addr %#llx data %#llx count %u size %u "
	    "state %u ptr %u dir %u df %u type %u\n", i,
	    (unsigned long long)a->addr, (unsigned long long)a->data, a->count,
	    a->size, a->state, a->data_is_ptr, a->dir, a->df, a->type);
}

/*
 * After an event that may service `vcpu` (or every slot with `all`),
 * compare each slot with its snapshot.
 */
static void
check_slots(const struct dev *pd, const struct dev *md,
    const struct ioreq *before, const struct ioreq *page, unsigned nr,
    int vcpu, bool all, bool stopped)
{
	unsigned i;

	for (i = 0; i < nr; i++) {
		const struct ioreq *b = &before[i], *a = &page[i];
		unsigned sb = state_of(b);
		bool target = !stopped && (all || (int)i == vcpu);
		bool served = target && (sb == STATE_IOREQ_READY ||
		    (all && sb == STATE_IOREQ_INPROCESS));

		if (pd->mutated[i] || md->mutated[i])
			continue;
		if (!served) {
			if (memcmp(a, b, sizeof(*a)) != 0)
				dump_pair(i, b, a);
			fz_check(memcmp(a, b, sizeof(*a)) == 0);
			continue;
		}
		if (getenv("HCVS_FUZZ_LOG") != NULL)
			dump_pair(i, b, a);
		fz_check(state_of(a) == STATE_IORESP_READY);
		/* Only data and the state nibble moved (XSA-197). */
		fz_check(a->addr == b->addr && a->count == b->count &&
		    a->size == b->size && a->vp_eport == b->vp_eport &&
		    a->type == b->type && a->data_is_ptr == b->data_is_ptr &&
		    a->dir == b->dir && a->df == b->df);
		/* INVALIDATE and TIMEOFFSET carry no answer: data untouched. */
		if (b->type == IOREQ_TYPE_INVALIDATE ||
		    b->type == IOREQ_TYPE_TIMEOFFSET) {
			fz_check(a->data == b->data);
			continue;
		}
		if (b->dir == IOREQ_READ && !b->data_is_ptr &&
		    (b->size == 1 || b->size == 2 || b->size == 4 ||
		    b->size == 8) && b->size < 8)
			fz_check((a->data >> (b->size * 8)) == 0);
		if (b->dir == IOREQ_WRITE || b->data_is_ptr)
			fz_check(a->data == b->data);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	struct ioreq *page, before[MAX_VCPUS];
	struct ioreq_engine *e;
	struct dev pio, mmio;
	unsigned nr, i, steps = 0;
	bool stopped = false;

	nr = 1 + fz_u8(&in) % MAX_VCPUS;
	page = aligned_alloc(4096, 4096);
	fz_check(page != NULL);
	memset(page, 0, 4096);
	fz_bytes(&in, page, nr * sizeof(*page));
	memset(ram_view, 0x5a, RAM_SIZE);

	fz_check(ioreq_engine_new(page, nr, NULL, NULL, mem, &e) == 0);
	pio = (struct dev){ .start = 0x500, .len = 0x20, .in = &in,
	    .page = page, .nr_vcpus = nr };
	mmio = (struct dev){ .start = 0xfe000000, .len = 0x1000, .in = &in,
	    .page = page, .nr_vcpus = nr };
	fz_check(ioreq_engine_add_range(e, IOREQ_SPACE_PIO, pio.start,
	    pio.start + pio.len - 1, &dev_ops, &pio) == 0);
	fz_check(ioreq_engine_add_range(e, IOREQ_SPACE_MMIO, mmio.start,
	    mmio.start + mmio.len - 1, &dev_ops, &mmio) == 0);
	/* Overlaps are refused. */
	fz_check(ioreq_engine_add_range(e, IOREQ_SPACE_MMIO, mmio.start + 8,
	    mmio.start + 8, &dev_ops, &mmio) == -EEXIST);
	for (i = 0; i < nr; i++)
		fz_check(ioreq_engine_set_port(e, i, PORT_BASE + i) == 0);

	while (fz_more(&in) && steps++ < 256) {
		uint8_t op = fz_u8(&in);
		unsigned v = fz_u8(&in) % (nr + 1);
		int target = -1;
		bool all = false;

		memcpy(before, page, nr * sizeof(*page));
		memset(pio.mutated, 0, sizeof(pio.mutated));
		memset(mmio.mutated, 0, sizeof(mmio.mutated));
		switch (op % 7) {
		case 0:
			(void)ioreq_engine_service_vcpu(e, v);
			target = (int)v;
			break;
		case 1:
			fz_check(ioreq_engine_handle_port(e, PORT_BASE + v) ==
			    (v < nr ? 1 : 0));
			target = (int)v;
			break;
		case 2:
			(void)ioreq_engine_service_all(e);
			all = true;
			/* service_all ignores stopped: re-attach and teardown. */
			check_slots(&pio, &mmio, before, page, nr, -1, true,
			    false);
			continue;
		case 3:
			/* The guest issues a new request in slot v. */
			if (v < nr)
				fz_bytes(&in, &page[v], sizeof(page[v]));
			continue;
		case 4:
			/* Only the state (and flag bits) change. */
			if (v < nr)
				((uint8_t *)&page[v])[IOREQ_SLOT_BITS_OFF] =
				    fz_u8(&in);
			continue;
		case 5:
			stopped = !stopped;
			ioreq_engine_set_stopped(e, stopped);
			continue;
		case 6:
			/* A port nobody owns. */
			fz_check(ioreq_engine_handle_port(e, 1000 + v) == 0);
			break;
		}
		check_slots(&pio, &mmio, before, page, nr, target, all, stopped);
	}
	ioreq_engine_free(e);
	free(page);
	return 0;
}
