/* SPDX-License-Identifier: MIT */
/* The VMM side of the ioreq page: forward one vCPU exit the way Xen sends an ioreq. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xen/hvm/ioreq.h>

#include "attach/attach_vmm.h"
#include "common/mono.h"

#define FWD_PAGE	4096u

_Static_assert(sizeof(struct ioreq) == 32, "Xen's ioreq is 32 bytes");
_Static_assert(ATTACH_MAX_VCPUS * sizeof(struct ioreq) <= FWD_PAGE,
    "every vCPU slot fits in one page");

struct attach_fwd {
	int		 fw_page_fd;
	struct ioreq	*fw_slots;
	unsigned	 fw_nr_vcpus;
	uint64_t	 fw_spin_ns;
	int		 fw_peer_fd;	/* the attach socket, or -1 */
	bool		 fw_peer_gone;
	bool		 fw_is_write[ATTACH_MAX_VCPUS];	/* the slot's request */
	/* Bumped by every vCPU thread: atomics. */
	uint64_t	 fw_requests;
	uint64_t	 fw_unkicked;
	struct ioreq_shm_vcpu fw_vcpus[ATTACH_MAX_VCPUS];
};

int
attach_fwd_new(unsigned nr_vcpus, struct attach_fwd **fp)
{
	struct attach_fwd *f;
	unsigned i;
	void *p;
	int rc;

	if (nr_vcpus == 0 || nr_vcpus > ATTACH_MAX_VCPUS)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->fw_nr_vcpus = nr_vcpus;
	f->fw_peer_fd = -1;
	for (i = 0; i < ATTACH_MAX_VCPUS; i++)
		f->fw_vcpus[i].kick_fd = f->fw_vcpus[i].done_fd = -1;
	f->fw_page_fd = memfd_create("hcvsock-ioreq", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING);
	if (f->fw_page_fd < 0) {
		rc = -errno;
		goto err_free;
	}
	/* hcvsockd insists on the seal: it maps the page too. */
	if (ftruncate(f->fw_page_fd, FWD_PAGE) < 0 ||
	    fcntl(f->fw_page_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		rc = -errno;
		goto err_free;
	}
	p = mmap(NULL, FWD_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    f->fw_page_fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto err_free;
	}
	f->fw_slots = p;
	for (i = 0; i < nr_vcpus; i++) {
		f->fw_slots[i].vp_eport = i;
		f->fw_vcpus[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->fw_vcpus[i].done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->fw_vcpus[i].kick_fd < 0 || f->fw_vcpus[i].done_fd < 0) {
			rc = -errno;
			goto err_free;
		}
	}
	*fp = f;
	return 0;

err_free:
	attach_fwd_free(f);
	return rc;
}

void
attach_fwd_free(struct attach_fwd *f)
{
	unsigned i;

	if (f == NULL)
		return;
	for (i = 0; i < ATTACH_MAX_VCPUS; i++) {
		if (f->fw_vcpus[i].kick_fd >= 0)
			close(f->fw_vcpus[i].kick_fd);
		if (f->fw_vcpus[i].done_fd >= 0)
			close(f->fw_vcpus[i].done_fd);
	}
	if (f->fw_slots != NULL)
		munmap(f->fw_slots, FWD_PAGE);
	if (f->fw_page_fd >= 0)
		close(f->fw_page_fd);
	free(f);
}

void
attach_fwd_fill(const struct attach_fwd *f, struct attach_desc *d)
{
	unsigned i;

	d->ad_page_fd = f->fw_page_fd;
	d->ad_nr_vcpus = f->fw_nr_vcpus;
	for (i = 0; i < f->fw_nr_vcpus; i++)
		d->ad_vcpus[i] = f->fw_vcpus[i];
}

void
attach_fwd_set_spin(struct attach_fwd *f, uint64_t ns)
{
	f->fw_spin_ns = ns;
}

void
attach_fwd_set_peer(struct attach_fwd *f, int sock)
{
	__atomic_store_n(&f->fw_peer_fd, sock, __ATOMIC_RELEASE);
	__atomic_store_n(&f->fw_peer_gone, false, __ATOMIC_RELEASE);
}

static bool
fwd_peer_gone(const struct attach_fwd *f)
{
	return __atomic_load_n(&f->fw_peer_gone, __ATOMIC_ACQUIRE);
}

/*
 * hcvsockd never sends anything after RESULT: a readable or hung-up
 * attach socket means it is gone (or going), and nobody will answer.
 */
static bool
fwd_peer_check(struct attach_fwd *f, short revents)
{
	if ((revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0)
		__atomic_store_n(&f->fw_peer_gone, true, __ATOMIC_RELEASE);
	return fwd_peer_gone(f);
}

/*
 * The state nibble lives in byte 30 of the slot together with
 * data_is_ptr, dir and df (x86 bitfields fill from the low bit).  It is
 * read and written as that byte so that each access is one atomic load
 * or store with the ordering Xen's barriers give.
 */
static uint8_t *
slot_state_byte(struct ioreq *slot)
{
	return (uint8_t *)slot + 30;
}

static unsigned
slot_state(struct ioreq *slot)
{
	return __atomic_load_n(slot_state_byte(slot), __ATOMIC_ACQUIRE) & 0xf;
}

/*
 * Wait for the answer to the request in vCPU `vcpu`'s slot, take it and
 * free the slot.  *data gets a read's value.
 */
static int
fwd_wait(struct attach_fwd *f, unsigned vcpu, uint64_t *data, int timeout_ms)
{
	struct ioreq *slot = &f->fw_slots[vcpu];
	uint64_t start, deadline = 0;
	int done_fd = f->fw_vcpus[vcpu].done_fd;
	unsigned st;

	start = mono_ns();
	if (timeout_ms >= 0)
		deadline = start + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = done_fd, .events = POLLIN },
			{ .fd = __atomic_load_n(&f->fw_peer_fd, __ATOMIC_ACQUIRE),
			  .events = POLLIN },
		};
		uint64_t cnt, now;
		int wait_ms;

		st = slot_state(slot);
		if (st == STATE_IORESP_READY)
			break;
		if (st != STATE_IOREQ_READY && st != STATE_IOREQ_INPROCESS)
			return -EPROTO;
		now = mono_ns();
		if (now - start < f->fw_spin_ns) {
			cpu_relax();
			continue;
		}
		if (timeout_ms >= 0 && now >= deadline)
			return -ETIMEDOUT;
		wait_ms = timeout_ms < 0 ? -1 :
		    (int)((deadline - now + 999999) / 1000000);
		if (poll(pfd, pfd[1].fd >= 0 ? 2 : 1, wait_ms) < 0 &&
		    errno != EINTR)
			return -errno;
		/* Consume the notification; the slot state is the truth. */
		(void)!read(done_fd, &cnt, sizeof(cnt));
		if (pfd[1].fd >= 0 && fwd_peer_check(f, pfd[1].revents) &&
		    slot_state(slot) != STATE_IORESP_READY)
			return -ECONNRESET;
	}
	if (!f->fw_is_write[vcpu])
		*data = __atomic_load_n(&slot->data, __ATOMIC_RELAXED);
	__atomic_store_n(slot_state_byte(slot), STATE_IOREQ_NONE,
	    __ATOMIC_RELEASE);
	return 0;
}

int
attach_fwd_access(struct attach_fwd *f, unsigned vcpu, enum ioreq_space space,
    uint64_t addr, unsigned size, bool is_write, uint64_t *data, int timeout_ms)
{
	struct ioreq *slot;
	uint8_t byte;

	if (vcpu >= f->fw_nr_vcpus || (size != 1 && size != 2 && size != 4 &&
	    size != 8) || (space == IOREQ_SPACE_PIO && size == 8))
		return -EINVAL;
	slot = &f->fw_slots[vcpu];
	if (fwd_peer_gone(f))
		return -ECONNRESET;
	if (slot_state(slot) != STATE_IOREQ_NONE)
		return -EBUSY;
	f->fw_is_write[vcpu] = is_write;
	slot->addr = addr;
	slot->data = is_write ? *data : 0;
	slot->count = 1;
	slot->size = size;
	slot->vp_eport = vcpu;
	slot->type = space == IOREQ_SPACE_PIO ? IOREQ_TYPE_PIO :
	    IOREQ_TYPE_COPY;
	/* state READY, data_is_ptr 0, dir, df 0: published with release. */
	byte = STATE_IOREQ_READY | (uint8_t)((is_write ? IOREQ_WRITE : IOREQ_READ)
	    << 5);
	__atomic_store_n(slot_state_byte(slot), byte, __ATOMIC_RELEASE);
	__atomic_fetch_add(&f->fw_requests, 1, __ATOMIC_RELAXED);
	/*
	 * READY, full barrier, then the mark: hcvsockd clears the mark,
	 * full barrier, then looks at the states, so if we see the mark it
	 * sees our READY (IOREQ_SHM_WATCHED).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&slot->_pad0, __ATOMIC_RELAXED) &
	    IOREQ_SHM_WATCHED) {
		__atomic_fetch_add(&f->fw_unkicked, 1, __ATOMIC_RELAXED);
	} else {
		uint64_t one = 1;

		if (write(f->fw_vcpus[vcpu].kick_fd, &one, sizeof(one)) !=
		    (ssize_t)sizeof(one))
			return -errno;
	}
	return fwd_wait(f, vcpu, data, timeout_ms);
}

void
attach_fwd_get_stats(const struct attach_fwd *f, struct attach_fwd_stats *st)
{
	st->fs_requests = __atomic_load_n(&f->fw_requests, __ATOMIC_RELAXED);
	st->fs_unkicked = __atomic_load_n(&f->fw_unkicked, __ATOMIC_RELAXED);
}

int
attach_fwd_resume(struct attach_fwd *f, unsigned vcpu, uint64_t *data,
    int timeout_ms)
{
	unsigned st;

	if (vcpu >= f->fw_nr_vcpus)
		return -EINVAL;
	st = slot_state(&f->fw_slots[vcpu]);
	if (st == STATE_IOREQ_NONE)
		return -ENOENT;
	if (fwd_peer_gone(f))
		return -ECONNRESET;
	return fwd_wait(f, vcpu, data, timeout_ms);
}

void
attach_fwd_abandon(struct attach_fwd *f, unsigned vcpu)
{
	if (vcpu < f->fw_nr_vcpus)
		__atomic_store_n(slot_state_byte(&f->fw_slots[vcpu]),
		    STATE_IOREQ_NONE, __ATOMIC_RELEASE);
}
