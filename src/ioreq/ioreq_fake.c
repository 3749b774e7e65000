/* SPDX-License-Identifier: MIT */
/* The fake ioreq page: Xen's producer side and a guest, over memfds. */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/usock.h"
#include "ioreq/ioreq_impl.h"
#include "ioreq/ioreq_fake.h"

#define FAKE_MAGIC		0x46564348u	/* "HCVF" */
#define FAKE_VERSION		1u
#define FAKE_F_BUF		0x1u
#define FAKE_F_LEGACY		0x2u
#define FAKE_MAX_SEND_VCPUS	124u	/* (SCM_MAX_FD 253 - 4) / 2 */
#define FAKE_DEFAULT_TIMEOUT	5000

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax()	__builtin_ia32_pause()
#else
#define cpu_relax()	atomic_signal_fence(memory_order_seq_cst)
#endif

struct fake_vcpu {
	pthread_mutex_t	fv_lock;
	int		fv_kick;	/* guest writes: slot READY */
	int		fv_done;	/* server writes: IORESP_READY */
};

struct ioreq_fake {
	unsigned		 f_nr_vcpus;
	bool			 f_legacy;
	int			 f_timeout_ms;
	_Atomic uint64_t	 f_spin_ns;
	int			 f_page_fd;
	int			 f_buf_fd;
	int			 f_buf_kick;
	int			 f_ram_fd;
	struct ioreq		*f_slots;
	struct buffered_iopage	*f_buf;
	uint8_t			*f_ram;
	uint64_t		 f_ram_gpa;
	uint64_t		 f_ram_size;
	pthread_mutex_t		 f_buf_lock;
	struct fake_vcpu	*f_vcpus;
	struct ioreq_shm_vcpu	*f_shm_vcpus;
	struct ioreq_shm_region	 f_shm_region;
	struct ioreq_shm_cfg	 f_shm_cfg;
};

/* The wire header of ioreq_fake_send(); fds ride along. */
struct fake_wire {
	uint32_t	fw_magic;
	uint32_t	fw_version;
	uint32_t	fw_nr_vcpus;
	uint32_t	fw_flags;
	uint64_t	fw_ram_gpa;
	uint64_t	fw_ram_size;
};

static struct ioreq_fake *
fake_alloc(unsigned nr_vcpus)
{
	struct ioreq_fake *f;
	unsigned i;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->f_vcpus = calloc(nr_vcpus, sizeof(*f->f_vcpus));
	f->f_shm_vcpus = calloc(nr_vcpus, sizeof(*f->f_shm_vcpus));
	if (f->f_vcpus == NULL || f->f_shm_vcpus == NULL) {
		free(f->f_vcpus);
		free(f->f_shm_vcpus);
		free(f);
		return NULL;
	}
	f->f_nr_vcpus = nr_vcpus;
	f->f_page_fd = f->f_buf_fd = f->f_buf_kick = f->f_ram_fd = -1;
	f->f_timeout_ms = FAKE_DEFAULT_TIMEOUT;
	pthread_mutex_init(&f->f_buf_lock, NULL);
	for (i = 0; i < nr_vcpus; i++) {
		pthread_mutex_init(&f->f_vcpus[i].fv_lock, NULL);
		f->f_vcpus[i].fv_kick = f->f_vcpus[i].fv_done = -1;
	}
	return f;
}

void
ioreq_fake_free(struct ioreq_fake *f)
{
	unsigned i;

	if (f == NULL)
		return;
	if (f->f_slots != NULL)
		munmap(f->f_slots, IOREQ_PAGE_SIZE);
	if (f->f_buf != NULL)
		munmap(f->f_buf, IOREQ_PAGE_SIZE);
	if (f->f_ram != NULL)
		munmap(f->f_ram, (size_t)f->f_ram_size);
	if (f->f_page_fd >= 0)
		close(f->f_page_fd);
	if (f->f_buf_fd >= 0)
		close(f->f_buf_fd);
	if (f->f_buf_kick >= 0)
		close(f->f_buf_kick);
	if (f->f_ram_fd >= 0)
		close(f->f_ram_fd);
	for (i = 0; i < f->f_nr_vcpus; i++) {
		if (f->f_vcpus[i].fv_kick >= 0)
			close(f->f_vcpus[i].fv_kick);
		if (f->f_vcpus[i].fv_done >= 0)
			close(f->f_vcpus[i].fv_done);
		pthread_mutex_destroy(&f->f_vcpus[i].fv_lock);
	}
	pthread_mutex_destroy(&f->f_buf_lock);
	free(f->f_vcpus);
	free(f->f_shm_vcpus);
	free(f);
}

/* A sealed memfd: the server maps it, so it must never shrink (SIGBUS). */
static int
fake_memfd(const char *name, uint64_t size)
{
	int fd, rc;

	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * A mapping of a file its owner can shrink SIGBUSes us: whatever came
 * from another process must be a memfd sealed against shrinking.
 */
static int
fake_map(int fd, uint64_t size, void **pp)
{
	struct stat st;
	void *p;
	int seals;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EPROTO;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size < size || size > SIZE_MAX)
		return -EPROTO;
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*pp = p;
	return 0;
}

/* Map what the fds hold and fill in the shm configuration. */
static int
fake_finish(struct ioreq_fake *f)
{
	unsigned i;
	void *p;
	int rc;

	rc = fake_map(f->f_page_fd, IOREQ_PAGE_SIZE, &p);
	if (rc < 0)
		return rc;
	f->f_slots = p;
	if (f->f_buf_fd >= 0) {
		rc = fake_map(f->f_buf_fd, IOREQ_PAGE_SIZE, &p);
		if (rc < 0)
			return rc;
		f->f_buf = p;
	}
	if (f->f_ram_fd >= 0) {
		rc = fake_map(f->f_ram_fd, f->f_ram_size, &p);
		if (rc < 0)
			return rc;
		f->f_ram = p;
	}
	for (i = 0; i < f->f_nr_vcpus; i++) {
		f->f_shm_vcpus[i].kick_fd = f->f_vcpus[i].fv_kick;
		f->f_shm_vcpus[i].done_fd = f->f_vcpus[i].fv_done;
	}
	f->f_shm_region = (struct ioreq_shm_region){ .fd = f->f_ram_fd,
	    .gpa = f->f_ram_gpa, .size = f->f_ram_size, .offset = 0 };
	f->f_shm_cfg = (struct ioreq_shm_cfg){
		.page_fd = f->f_page_fd,
		.bufpage_fd = f->f_buf_fd,
		.buf_kick_fd = f->f_buf_kick,
		.nr_vcpus = f->f_nr_vcpus,
		.vcpus = f->f_shm_vcpus,
		.nr_regions = f->f_ram_fd >= 0 ? 1 : 0,
		.regions = &f->f_shm_region,
	};
	return 0;
}

int
ioreq_fake_new(const struct ioreq_fake_cfg *cfg, struct ioreq_fake **fp)
{
	struct ioreq_fake *f;
	unsigned i;
	int rc;

	*fp = NULL;
	if (cfg == NULL || cfg->nr_vcpus == 0 ||
	    cfg->nr_vcpus > IOREQ_SHM_MAX_VCPUS ||
	    cfg->ram_gpa % IOREQ_PAGE_SIZE != 0 ||
	    cfg->ram_size % IOREQ_PAGE_SIZE != 0 ||
	    (cfg->ram_size > 0 && cfg->ram_gpa > UINT64_MAX - (cfg->ram_size - 1)))
		return -EINVAL;
	f = fake_alloc(cfg->nr_vcpus);
	if (f == NULL)
		return -ENOMEM;
	f->f_legacy = cfg->buf_legacy;
	if (cfg->timeout_ms != 0)
		f->f_timeout_ms = cfg->timeout_ms;
	f->f_ram_gpa = cfg->ram_gpa;
	f->f_ram_size = cfg->ram_size;
	rc = f->f_page_fd = fake_memfd("hcvsock-ioreq", IOREQ_PAGE_SIZE);
	if (rc < 0)
		goto err_free;
	if (cfg->bufioreq) {
		rc = f->f_buf_fd = fake_memfd("hcvsock-bufioreq",
		    IOREQ_PAGE_SIZE);
		if (rc < 0)
			goto err_free;
		rc = f->f_buf_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (rc < 0) {
			rc = -errno;
			goto err_free;
		}
	}
	if (cfg->ram_size > 0) {
		rc = f->f_ram_fd = fake_memfd("hcvsock-ram", cfg->ram_size);
		if (rc < 0)
			goto err_free;
	}
	/* Non-blocking: the server's notifier shares these file descriptions. */
	for (i = 0; i < cfg->nr_vcpus; i++) {
		f->f_vcpus[i].fv_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->f_vcpus[i].fv_done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->f_vcpus[i].fv_kick < 0 || f->f_vcpus[i].fv_done < 0) {
			rc = -errno;
			goto err_free;
		}
	}
	rc = fake_finish(f);
	if (rc < 0)
		goto err_free;
	/* As Xen does at enable: each slot names its event channel. */
	for (i = 0; i < cfg->nr_vcpus; i++)
		f->f_slots[i].vp_eport = i + 1;
	*fp = f;
	return 0;

err_free:
	ioreq_fake_free(f);
	return rc;
}

const struct ioreq_shm_cfg *
ioreq_fake_shm_cfg(const struct ioreq_fake *f)
{
	return &f->f_shm_cfg;
}

unsigned
ioreq_fake_nr_vcpus(const struct ioreq_fake *f)
{
	return f->f_nr_vcpus;
}

void *
ioreq_fake_ram(const struct ioreq_fake *f, uint64_t *gpa, size_t *size)
{
	if (gpa != NULL)
		*gpa = f->f_ram_gpa;
	if (size != NULL)
		*size = (size_t)f->f_ram_size;
	return f->f_ram;
}

void
ioreq_fake_set_spin(struct ioreq_fake *f, uint64_t ns)
{
	atomic_store(&f->f_spin_ns, ns);
}

void
ioreq_fake_set_timeout(struct ioreq_fake *f, int timeout_ms)
{
	f->f_timeout_ms = timeout_ms == 0 ? FAKE_DEFAULT_TIMEOUT : timeout_ms;
}

struct ioreq *
ioreq_fake_slots(const struct ioreq_fake *f)
{
	return f->f_slots;
}

struct buffered_iopage *
ioreq_fake_bufpage(const struct ioreq_fake *f)
{
	return f->f_buf;
}

/* ---- Passing the fake to another process ---------------------------------- */

int
ioreq_fake_send(const struct ioreq_fake *f, int sock)
{
	struct fake_wire w = { .fw_magic = FAKE_MAGIC,
	    .fw_version = FAKE_VERSION, .fw_nr_vcpus = f->f_nr_vcpus,
	    .fw_ram_gpa = f->f_ram_gpa, .fw_ram_size = f->f_ram_size };
	int fds[4 + 2 * FAKE_MAX_SEND_VCPUS];
	struct iovec iov = { .iov_base = &w, .iov_len = sizeof(w) };
	unsigned i, nfds = 0;
	ssize_t n;

	if (f->f_nr_vcpus > FAKE_MAX_SEND_VCPUS)
		return -E2BIG;
	fds[nfds++] = f->f_page_fd;
	if (f->f_ram_fd >= 0)
		fds[nfds++] = f->f_ram_fd;
	if (f->f_buf_fd >= 0) {
		w.fw_flags |= FAKE_F_BUF;
		fds[nfds++] = f->f_buf_fd;
		fds[nfds++] = f->f_buf_kick;
	}
	if (f->f_legacy)
		w.fw_flags |= FAKE_F_LEGACY;
	for (i = 0; i < f->f_nr_vcpus; i++) {
		fds[nfds++] = f->f_vcpus[i].fv_kick;
		fds[nfds++] = f->f_vcpus[i].fv_done;
	}
	n = usock_send(sock, &iov, 1, fds, nfds);
	if (n < 0)
		return (int)n;
	return n == (ssize_t)sizeof(w) ? 0 : -EPROTO;
}

int
ioreq_fake_recv(int sock, struct ioreq_fake **fp)
{
	struct fake_wire w;
	int fds[4 + 2 * FAKE_MAX_SEND_VCPUS];
	struct ioreq_fake *f = NULL;
	unsigned i, nfds, what, want, k = 0;
	ssize_t n;
	int rc = -EPROTO;

	*fp = NULL;
	n = usock_recv(sock, &w, sizeof(w), 0, fds, ARRAY_SIZE(fds), &nfds,
	    &what);
	if (n < 0)
		return (int)n;
	if (n != (ssize_t)sizeof(w) || what != 0 ||
	    w.fw_magic != FAKE_MAGIC || w.fw_version != FAKE_VERSION ||
	    w.fw_nr_vcpus == 0 || w.fw_nr_vcpus > FAKE_MAX_SEND_VCPUS ||
	    (w.fw_flags & ~(FAKE_F_BUF | FAKE_F_LEGACY)) != 0 ||
	    w.fw_ram_size % IOREQ_PAGE_SIZE != 0)
		goto err_close;
	want = 1 + (w.fw_ram_size > 0) + 2 * !!(w.fw_flags & FAKE_F_BUF) +
	    2 * w.fw_nr_vcpus;
	if (nfds != want)
		goto err_close;
	f = fake_alloc(w.fw_nr_vcpus);
	if (f == NULL) {
		rc = -ENOMEM;
		goto err_close;
	}
	f->f_legacy = !!(w.fw_flags & FAKE_F_LEGACY);
	f->f_ram_gpa = w.fw_ram_gpa;
	f->f_ram_size = w.fw_ram_size;
	/* From here on the fake owns every fd: free closes them. */
	f->f_page_fd = fds[k++];
	if (w.fw_ram_size > 0)
		f->f_ram_fd = fds[k++];
	if (w.fw_flags & FAKE_F_BUF) {
		f->f_buf_fd = fds[k++];
		f->f_buf_kick = fds[k++];
	}
	for (i = 0; i < w.fw_nr_vcpus; i++) {
		f->f_vcpus[i].fv_kick = fds[k++];
		f->f_vcpus[i].fv_done = fds[k++];
	}
	nfds = 0;
	rc = fake_finish(f);
	if (rc < 0)
		goto err_close;
	*fp = f;
	return 0;

err_close:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	ioreq_fake_free(f);
	return rc;
}

/* ---- The guest ------------------------------------------------------------ */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
		deadline = now_ns() + (uint64_t)f->f_timeout_ms * 1000000u;
	if (spin > 0)
		start = now_ns();
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		unsigned st = ioreq_slot_state(slot);
		uint64_t cnt;
		int tmo, rc;

		if (st == STATE_IORESP_READY)
			break;
		if (st != STATE_IOREQ_READY && st != STATE_IOREQ_INPROCESS)
			return -EPROTO;
		if (spin > 0 && now_ns() - start < spin) {
			cpu_relax();
			continue;
		}
		if (f->f_timeout_ms < 0) {
			tmo = -1;
		} else {
			uint64_t t = now_ns();

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
