/* SPDX-License-Identifier: MIT */
/*
 * The buffered ioreq ring (xen-ioreq.md §5.6) with the page as fuzz
 * input: arbitrary read/write pointers (past 2^32, inconsistent), slot
 * contents, quad words split across the end, drains from the ring's
 * doorbell and before synchronous requests.
 *
 * Checked: the engine never writes write_pointer; read_pointer moves
 * forward, never past write_pointer, and a drain ends with the ring
 * empty; every entry reaches the device as one write inside its range,
 * never a read; a drain is bounded by the ring size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ioreq/ioreq_impl.h"

#define BUF_PORT	7u
#define VCPU_PORT	3u

struct dev {
	uint64_t	len;
	unsigned	writes;
	unsigned	reads;
};

static int
dev_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct dev *d = opaque;

	fz_check(off < d->len && size <= d->len - off);
	/* Only the synchronous slot reads. */
	fz_check(vcpu == 0);
	d->reads++;
	*val = 0;
	return 0;
}

static int
dev_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct dev *d = opaque;

	(void)val;
	fz_check(size == 1 || size == 2 || size == 4 || size == 8);
	fz_check(off < d->len && size <= d->len - off);
	if (vcpu == UINT32_MAX)
		d->writes++;
	return 0;
}

static const struct ioreq_handler_ops dev_ops = {
	.read = dev_read,
	.write = dev_write,
};

/* One drain from whatever entry point; checks the pointer rules. */
static void
drain_checked(struct ioreq_engine *e, struct buffered_iopage *b,
    struct dev *pio, struct dev *mmio, int how, struct ioreq *slot)
{
	uint32_t rd = b->read_pointer, wr = b->write_pointer;
	unsigned w0 = pio->writes + mmio->writes, got;

	switch (how) {
	case 0:
		(void)ioreq_engine_drain_buffered(e);
		break;
	case 1:
		fz_check(ioreq_engine_handle_port(e, BUF_PORT) == 1);
		break;
	default:
		/* A synchronous request drains the ring first. */
		memset(slot, 0, sizeof(*slot));
		slot->type = IOREQ_TYPE_PIO;
		slot->addr = 0x60;
		slot->size = 1;
		slot->count = 1;
		slot->dir = IOREQ_READ;
		slot->state = STATE_IOREQ_READY;
		fz_check(ioreq_engine_handle_port(e, VCPU_PORT) == 1);
		fz_check(slot->state == STATE_IORESP_READY);
		break;
	}
	got = pio->writes + mmio->writes - w0;
	fz_check(b->write_pointer == wr);
	fz_check(b->read_pointer - rd <= (wr - rd <= IOREQ_BUFFER_SLOT_NUM ?
	    wr - rd : UINT32_MAX));
	fz_check(b->read_pointer == wr);
	fz_check(got <= IOREQ_BUFFER_SLOT_NUM);
	if (wr - rd <= IOREQ_BUFFER_SLOT_NUM)
		fz_check(got <= wr - rd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	struct buffered_iopage *b;
	struct ioreq *page;
	struct ioreq_engine *e;
	struct dev pio = { .len = 0x100 }, mmio = { .len = 0x20000 };
	unsigned steps = 0;

	page = aligned_alloc(4096, 4096);
	b = aligned_alloc(4096, 4096);
	fz_check(page != NULL && b != NULL);
	memset(page, 0, 4096);
	memset(b, 0, 4096);
	fz_check(ioreq_engine_new(page, 1, b, NULL, NULL, &e) == 0);
	ioreq_engine_set_buf_port(e, BUF_PORT);
	fz_check(ioreq_engine_set_port(e, 0, VCPU_PORT) == 0);
	/* A PIO device and stdvga's window, the ring's usual producers. */
	fz_check(ioreq_engine_add_range(e, IOREQ_SPACE_PIO, 0, pio.len - 1,
	    &dev_ops, &pio) == 0);
	fz_check(ioreq_engine_add_range(e, IOREQ_SPACE_MMIO, 0xa0000,
	    0xa0000 + mmio.len - 1, &dev_ops, &mmio) == 0);

	while (fz_more(&in) && steps++ < 64) {
		uint8_t op = fz_u8(&in);

		switch (op % 4) {
		case 0: {
			/* Publish n entries as a producer would (or not). */
			unsigned n = fz_u8(&in) % 64, i;
			uint32_t wr = b->write_pointer;

			for (i = 0; i < n; i++)
				fz_bytes(&in, &b->buf_ioreq[(wr + i) %
				    IOREQ_BUFFER_SLOT_NUM], sizeof(b->buf_ioreq[0]));
			__atomic_store_n(&b->write_pointer, wr + n,
			    __ATOMIC_RELEASE);
			break;
		}
		case 1:
			/* Hostile pointers. */
			b->read_pointer = fz_u32(&in);
			b->write_pointer = fz_u32(&in);
			break;
		case 2:
			/* Raw slot bytes anywhere in the ring. */
			fz_bytes(&in, &b->buf_ioreq[fz_u16(&in) %
			    IOREQ_BUFFER_SLOT_NUM], sizeof(b->buf_ioreq[0]));
			break;
		case 3:
			drain_checked(e, b, &pio, &mmio, fz_u8(&in) % 3, page);
			break;
		}
	}
	drain_checked(e, b, &pio, &mmio, 0, page);
	ioreq_engine_free(e);
	free(b);
	free(page);
	return 0;
}
