/* SPDX-License-Identifier: MIT */
/* The fake ioreq page over memfds, and passing it to another process. */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/usock.h"
#include "ioreq/ioreq_impl.h"
#include "ioreq/ioreq_fake.h"
#include "ioreq/ioreq_fake_impl.h"

#define FAKE_MAGIC		0x46564348u	/* "HCVF" */
#define FAKE_VERSION		1u
#define FAKE_F_BUF		0x1u
#define FAKE_F_LEGACY		0x2u
#define FAKE_MAX_SEND_VCPUS	124u	/* (SCM_MAX_FD 253 - 4) / 2 */

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
	n = usock_send(sock, &iov, 1, fds, nfds, 0);
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
