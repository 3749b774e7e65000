/* SPDX-License-Identifier: MIT */
/* The recording range device (rec_dev.h). */
#include <string.h>

#include "rec_dev.h"

static void
rec_record(struct rec_dev *d, unsigned vcpu, bool write, uint64_t off,
    unsigned size, uint64_t val)
{
	if ((size != 1 && size != 2 && size != 4 && size != 8) ||
	    off >= d->len || size > d->len - off)
		d->bad++;
	if (d->nlog < REC_LOG_MAX)
		d->log[d->nlog++] = (struct rec_access){ vcpu, write, off, size,
		    val };
}

static int
rec_read(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t *val)
{
	struct rec_dev *d = opaque;
	uint64_t v = 0;
	unsigned i;

	if (d->hook != NULL)
		d->hook(d->hook_arg);
	pthread_mutex_lock(&d->lock);
	if (d->counting) {
		v = d->next_read++;
	} else if (off < d->len && size <= d->len - off) {
		for (i = 0; i < size; i++)
			v |= (uint64_t)d->regs[off + i] << (8 * i);
	}
	/* Junk above `size`: the engine must mask it. */
	if (size < 8)
		v |= ~(uint64_t)0 << (8 * size);
	rec_record(d, vcpu, false, off, size, v);
	pthread_mutex_unlock(&d->lock);
	*val = v;
	return 0;
}

static int
rec_write(void *opaque, unsigned vcpu, uint64_t off, unsigned size,
    uint64_t val)
{
	struct rec_dev *d = opaque;
	unsigned i;

	if (d->hook != NULL)
		d->hook(d->hook_arg);
	pthread_mutex_lock(&d->lock);
	if (off < d->len && size <= d->len - off)
		for (i = 0; i < size; i++)
			d->regs[off + i] = (uint8_t)(val >> (8 * i));
	rec_record(d, vcpu, true, off, size, val);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

const struct ioreq_handler_ops rec_dev_ops = {
	.read = rec_read,
	.write = rec_write,
};

void
rec_dev_init(struct rec_dev *d, uint64_t len)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->len = len;
}

void
rec_dev_fini(struct rec_dev *d)
{
	pthread_mutex_destroy(&d->lock);
}
