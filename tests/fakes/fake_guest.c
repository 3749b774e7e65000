/* SPDX-License-Identifier: MIT */
/* The fake guest: Xen's side of a request on the fake page, as the guest's vCPU would cause it. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/mono.h"
#include "ioreq/ioreq_fake_impl.h"
#include "fake_guest.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax()	__builtin_ia32_pause()
#else
#define cpu_relax()	atomic_signal_fence(memory_order_seq_cst)
#endif

void
ioreq_fake_set_spin(struct ioreq_fake *f, uint64_t ns)
{
	atomic_store(&f->f_spin_ns, ns);
}

static int
fake_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		return errno == EAGAIN ? 0 : -errno;	/* counter saturated */
	return 0;
}

int
ioreq_fake_kick(struct ioreq_fake *f, unsigned vcpu)
{
	if (vcpu >= f->f_nr_vcpus)
		return -EINVAL;
	return fake_signal(f->f_vcpus[vcpu].fv_kick);
}

/* Xen's ioreq_send(): the slot must be NONE; fill, fence, READY, kick. */
static int
fake_publish(struct ioreq_fake *f, unsigned vcpu, const struct ioreq *req)
{
	struct ioreq *slot = &f->f_slots[vcpu];
	uint8_t bits;

	if (ioreq_slot_state(slot) != STATE_IOREQ_NONE)
		return -EBUSY;
	WRITE_ONCE(slot->addr, req->addr);
	WRITE_ONCE(slot->data, req->data);
	WRITE_ONCE(slot->count, req->count);
	WRITE_ONCE(slot->size, req->size);
	WRITE_ONCE(slot->type, req->type);
	bits = (uint8_t)((req->data_is_ptr ? IOREQ_BIT_DATA_IS_PTR : 0) |
	    (req->dir ? IOREQ_BIT_DIR : 0) | (req->df ? IOREQ_BIT_DF : 0) |
	    STATE_IOREQ_READY);
	__atomic_store_n((uint8_t *)slot + IOREQ_SLOT_BITS_OFF, bits,
	    __ATOMIC_RELEASE);
	return fake_signal(f->f_vcpus[vcpu].fv_kick);
}

/*
 * Xen's wait_for_io(): keep waiting while READY or INPROCESS; at
 * IORESP_READY take the slot and set NONE.  A backwards or unknown state,
 * or a rewritten vp_eport, would crash a real domain.
 */
static int
fake_wait(struct ioreq_fake *f, unsigned vcpu, struct ioreq *resp)
{
	struct ioreq *slot = &f->f_slots[vcpu];
	uint64_t spin = atomic_load(&f->f_spin_ns), start = 0, deadline = 0;
	int fd = f->f_vcpus[vcpu].fv_done;

	if (f->f_timeout_ms >= 0)
		deadline = mono_ns() + (uint64_t)f->f_timeout_ms * 1000000u;
	if (spin > 0)
		start = mono_ns();
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		unsigned st = ioreq_slot_state(slot);
		uint64_t cnt;
		int tmo, rc;

		if (st == STATE_IORESP_READY)
			break;
		if (st != STATE_IOREQ_READY && st != STATE_IOREQ_INPROCESS)
			return -EPROTO;
		if (spin > 0 && mono_ns() - start < spin) {
			cpu_relax();
			continue;
		}
		if (f->f_timeout_ms < 0) {
			tmo = -1;
		} else {
			uint64_t t = mono_ns();

			if (t >= deadline)
				return -ETIMEDOUT;
			tmo = (int)((deadline - t + 999999) / 1000000);
		}
		rc = poll(&pfd, 1, tmo);
		if (rc < 0 && errno != EINTR)
			return -errno;
		/* Stale counts from earlier answers are harmless: recheck. */
		if (rc > 0 && read(fd, &cnt, sizeof(cnt)) < 0 &&
		    errno != EAGAIN)
			return -errno;
	}
	atomic_thread_fence(memory_order_acquire);
	memcpy(resp, (const void *)slot, sizeof(*resp));
	if (resp->vp_eport != vcpu + 1) {
		/* Xen: "device model set bad event channel"; domain crashed. */
		ioreq_slot_cas_state(slot, STATE_IORESP_READY, STATE_IOREQ_NONE);
		return -EPROTO;
	}
	if (!ioreq_slot_cas_state(slot, STATE_IORESP_READY, STATE_IOREQ_NONE))
		return -EPROTO;
	return 0;
}

int
ioreq_fake_submit(struct ioreq_fake *f, unsigned vcpu, const struct ioreq *req)
{
	int rc;

	if (vcpu >= f->f_nr_vcpus)
		return -EINVAL;
	pthread_mutex_lock(&f->f_vcpus[vcpu].fv_lock);
	rc = fake_publish(f, vcpu, req);
	pthread_mutex_unlock(&f->f_vcpus[vcpu].fv_lock);
	return rc;
}

int
ioreq_fake_complete(struct ioreq_fake *f, unsigned vcpu, struct ioreq *resp)
{
	int rc;

	if (vcpu >= f->f_nr_vcpus)
		return -EINVAL;
	pthread_mutex_lock(&f->f_vcpus[vcpu].fv_lock);
	rc = fake_wait(f, vcpu, resp);
	pthread_mutex_unlock(&f->f_vcpus[vcpu].fv_lock);
	return rc;
}

int
ioreq_fake_raw(struct ioreq_fake *f, unsigned vcpu, const struct ioreq *req,
    struct ioreq *resp)
{
	int rc;

	if (vcpu >= f->f_nr_vcpus)
		return -EINVAL;
	pthread_mutex_lock(&f->f_vcpus[vcpu].fv_lock);
	rc = fake_publish(f, vcpu, req);
	if (rc == 0)
		rc = fake_wait(f, vcpu, resp);
	pthread_mutex_unlock(&f->f_vcpus[vcpu].fv_lock);
	return rc;
}

void
ioreq_fake_reset_slot(struct ioreq_fake *f, unsigned vcpu)
{
	uint8_t *p;

	if (vcpu >= f->f_nr_vcpus)
		return;
	p = (uint8_t *)&f->f_slots[vcpu] + IOREQ_SLOT_BITS_OFF;
	__atomic_store_n(p, 0, __ATOMIC_RELEASE);
}

static int
fake_access(struct ioreq_fake *f, unsigned vcpu, uint8_t type, uint64_t addr,
    unsigned size, uint32_t count, int dir, bool df, bool ptr, uint64_t *data)
{
	struct ioreq req = { .addr = addr, .data = dir == IOREQ_READ && !ptr ?
	    0 : *data, .count = count, .size = size, .dir = dir ? 1 : 0,
	    .df = df, .data_is_ptr = ptr, .type = type };
	struct ioreq resp;
	int rc;

	rc = ioreq_fake_raw(f, vcpu, &req, &resp);
	if (rc == 0 && dir == IOREQ_READ && !ptr)
		*data = resp.data;
	return rc;
}

int
ioreq_fake_pio(struct ioreq_fake *f, unsigned vcpu, uint16_t port,
    unsigned size, int dir, uint64_t *data)
{
	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	return fake_access(f, vcpu, IOREQ_TYPE_PIO, port, size, 1, dir, false,
	    false, data);
}

int
ioreq_fake_mmio(struct ioreq_fake *f, unsigned vcpu, uint64_t gpa,
    unsigned size, int dir, uint64_t *data)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -EINVAL;
	return fake_access(f, vcpu, IOREQ_TYPE_COPY, gpa, size, 1, dir, false,
	    false, data);
}

int
ioreq_fake_rep(struct ioreq_fake *f, unsigned vcpu, uint8_t type,
    uint64_t addr, unsigned size, uint32_t count, int dir, bool df,
    bool data_is_ptr, uint64_t *data)
{
	if ((type != IOREQ_TYPE_PIO && type != IOREQ_TYPE_COPY) ||
	    (size != 1 && size != 2 && size != 4 && size != 8) ||
	    (type == IOREQ_TYPE_PIO && size == 8) || count == 0)
		return -EINVAL;
	return fake_access(f, vcpu, type, addr, size, count, dir, df,
	    data_is_ptr, data);
}

/* ---- The buffered ring (Xen's producer) ----------------------------------- */

int
ioreq_fake_buffered_set_pointers(struct ioreq_fake *f, uint32_t ptr)
{
	struct buffered_iopage *b = f->f_buf;
	int rc = 0;

	if (b == NULL)
		return -ENODEV;
	pthread_mutex_lock(&f->f_buf_lock);
	if (__atomic_load_n(&b->read_pointer, __ATOMIC_ACQUIRE) !=
	    __atomic_load_n(&b->write_pointer, __ATOMIC_ACQUIRE))
		rc = -EBUSY;
	else {
		__atomic_store_n(&b->write_pointer, ptr, __ATOMIC_RELEASE);
		__atomic_store_n(&b->read_pointer, ptr, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&f->f_buf_lock);
	return rc;
}

static unsigned
size_code(unsigned size)
{
	return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

int
ioreq_fake_buffered_write(struct ioreq_fake *f, uint8_t type, uint32_t addr,
    unsigned size, uint64_t data)
{
	struct buffered_iopage *b = f->f_buf;
	struct buf_ioreq bp;
	uint64_t *full;
	uint32_t rd, wr;
	unsigned qw, tries;

	if (b == NULL)
		return -ENODEV;
	if ((type != IOREQ_TYPE_PIO && type != IOREQ_TYPE_COPY) ||
	    addr >= (1u << 20) || (size != 1 && size != 2 && size != 4 &&
	    size != 8) || (type == IOREQ_TYPE_PIO && size == 8))
		return -EINVAL;
	memset(&bp, 0, sizeof(bp));
	bp.type = type;
	bp.dir = IOREQ_WRITE;
	bp.size = size_code(size) & 3;
	bp.addr = addr & 0xfffff;
	bp.data = (uint32_t)data;
	qw = size == 8;

	pthread_mutex_lock(&f->f_buf_lock);
	rd = __atomic_load_n(&b->read_pointer, __ATOMIC_ACQUIRE);
	wr = __atomic_load_n(&b->write_pointer, __ATOMIC_RELAXED);
	if (wr - rd >= IOREQ_BUFFER_SLOT_NUM - qw) {
		pthread_mutex_unlock(&f->f_buf_lock);
		return -EAGAIN;
	}
	memcpy(&b->buf_ioreq[wr % IOREQ_BUFFER_SLOT_NUM], &bp, sizeof(bp));
	if (qw) {
		bp.data = (uint32_t)(data >> 32);
		memcpy(&b->buf_ioreq[(wr + 1) % IOREQ_BUFFER_SLOT_NUM], &bp,
		    sizeof(bp));
	}
	__atomic_store_n(&b->write_pointer, wr + 1 + qw, __ATOMIC_RELEASE);

	/*
	 * HVM_IOREQSRV_BUFIOREQ_ATOMIC: pull both pointers down by whole
	 * rings with one 64-bit cmpxchg, racing the consumer's atomic add.
	 */
	full = (uint64_t *)(void *)b;
	for (tries = 0; !f->f_legacy && tries < IOREQ_BUFFER_SLOT_NUM; tries++) {
		uint64_t old = __atomic_load_n(full, __ATOMIC_ACQUIRE), nv;
		uint32_t ord = (uint32_t)old, owr = (uint32_t)(old >> 32), n;

		if (ord < IOREQ_BUFFER_SLOT_NUM)
			break;
		n = ord / IOREQ_BUFFER_SLOT_NUM;
		nv = (uint64_t)(ord - n * IOREQ_BUFFER_SLOT_NUM) |
		    ((uint64_t)(owr - n * IOREQ_BUFFER_SLOT_NUM) << 32);
		if (__atomic_compare_exchange_n(full, &old, nv, false,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	pthread_mutex_unlock(&f->f_buf_lock);
	return fake_signal(f->f_buf_kick);
}
