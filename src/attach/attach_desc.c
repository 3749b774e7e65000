/* SPDX-License-Identifier: MIT */
/* The guest description a VMM hands over: checking it, closing its fds. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kcmp.h>

#ifdef HAVE_KVM
#include <linux/kvm.h>
#endif

#include "attach/attach.h"
#include "attach/attach_impl.h"

#define ATTACH_PAGE		4096ull
/* Guest-physical addresses above 2^52 do not exist on x86-64. */
#define ATTACH_GPA_LIMIT	(1ull << 52)

void
attach_desc_init(struct attach_desc *d)
{
	unsigned i;

	memset(d, 0, sizeof(*d));
	d->ad_window_space = IOREQ_SPACE_PIO;
	for (i = 0; i < ATTACH_MAX_REGIONS; i++)
		d->ad_regions[i].ar_fd = -1;
	d->ad_vm_fd = d->ad_kick_fd = d->ad_irq_fd = d->ad_page_fd = -1;
	d->ad_state_fd = -1;
	d->ad_irq_gsi = ATTACH_GSI_NONE;
	for (i = 0; i < ATTACH_MAX_VCPUS; i++)
		d->ad_vcpus[i].kick_fd = d->ad_vcpus[i].done_fd = -1;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void
attach_desc_close(struct attach_desc *d)
{
	unsigned i;

	for (i = 0; i < ATTACH_MAX_REGIONS; i++)
		close_fd(&d->ad_regions[i].ar_fd);
	close_fd(&d->ad_vm_fd);
	close_fd(&d->ad_kick_fd);
	close_fd(&d->ad_irq_fd);
	close_fd(&d->ad_page_fd);
	close_fd(&d->ad_state_fd);
	for (i = 0; i < ATTACH_MAX_VCPUS; i++) {
		close_fd(&d->ad_vcpus[i].kick_fd);
		close_fd(&d->ad_vcpus[i].done_fd);
	}
	attach_desc_init(d);
}

int
attach_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * The kind of an anonymous-inode fd, from /proc/self/fd.  Returns 1 if it
 * matches, 0 if it does not, -errno if /proc cannot tell (then callers
 * accept the fd: the kernel will refuse it later if it is wrong).
 */
static int
attach_fd_is_anon(int fd, const char *kind)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	return strcmp(target, kind) == 0;
}

static int
check_anon(int fd, const char *kind, const char *what, char *err,
    size_t errlen)
{
	int rc;

	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return attach_errf(err, errlen, -EINVAL, "%s: not an open fd",
		    what);
	rc = attach_fd_is_anon(fd, kind);
	if (rc == 0)
		return attach_errf(err, errlen, -EINVAL, "%s: not an %s", what,
		    kind);
	return 0;
}

/*
 * A shared-memory fd we will map: a regular file (memfd) large enough and
 * sealed against shrinking, or a VMM could truncate it under our mapping
 * and kill hcvsockd with SIGBUS.
 */
static int
check_memfd(int fd, uint64_t end, const char *what, char *err, size_t errlen)
{
	struct stat st;
	int seals;

	if (fd < 0 || fstat(fd, &st) < 0)
		return attach_errf(err, errlen, -EINVAL, "%s: not an open fd",
		    what);
	if (!S_ISREG(st.st_mode))
		return attach_errf(err, errlen, -EINVAL,
		    "%s: not a memfd or regular file", what);
	if ((uint64_t)st.st_size < end)
		return attach_errf(err, errlen, -EINVAL,
		    "%s: file has %jd bytes, needs %ju", what,
		    (intmax_t)st.st_size, (uintmax_t)end);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & F_SEAL_SHRINK) == 0)
		return attach_errf(err, errlen, -EINVAL,
		    "%s: memfd must be sealed with F_SEAL_SHRINK", what);
	return 0;
}

int
attach_check_region(const struct attach_region *r, unsigned idx, char *err,
    size_t errlen)
{
	char what[32];

	snprintf(what, sizeof(what), "region %u", idx);
	if (r->ar_size == 0 || ((r->ar_gpa | r->ar_size | r->ar_offset) &
	    (ATTACH_PAGE - 1)) != 0)
		return attach_errf(err, errlen, -EINVAL,
		    "%s: gpa, size and offset must be page multiples, size > 0",
		    what);
	if (r->ar_gpa >= ATTACH_GPA_LIMIT ||
	    r->ar_size > ATTACH_GPA_LIMIT - r->ar_gpa)
		return attach_errf(err, errlen, -EINVAL,
		    "%s: [0x%jx, +0x%jx) beyond guest-physical space", what,
		    (uintmax_t)r->ar_gpa, (uintmax_t)r->ar_size);
	if (r->ar_offset > INT64_MAX - r->ar_size)
		return attach_errf(err, errlen, -EINVAL,
		    "%s: offset + size overflows", what);
	return check_memfd(r->ar_fd, r->ar_offset + r->ar_size, what, err,
	    errlen);
}

static bool
ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int
attach_check_device(uint64_t cid, enum ioreq_space space, uint64_t base,
    unsigned nr_vcpus, char *err, size_t errlen)
{
	if (cid < 3 || cid > 0xfffffffeull)
		return attach_errf(err, errlen, -EINVAL,
		    "cid %ju: must be 3..4294967294", (uintmax_t)cid);
	if (space == IOREQ_SPACE_PIO) {
		if ((base & 3) != 0 || base > 0x10000 - ATTACH_WINDOW_SIZE)
			return attach_errf(err, errlen, -EINVAL,
			    "PIO window 0x%jx: must be 4-byte aligned and end "
			    "below 0x10000", (uintmax_t)base);
	} else if (space == IOREQ_SPACE_MMIO) {
		if ((base & (ATTACH_PAGE - 1)) != 0 ||
		    base >= ATTACH_GPA_LIMIT - ATTACH_PAGE)
			return attach_errf(err, errlen, -EINVAL,
			    "MMIO window 0x%jx: must be a page below 2^52",
			    (uintmax_t)base);
	} else {
		return attach_errf(err, errlen, -EINVAL,
		    "window kind %u unknown", (unsigned)space);
	}
	if (nr_vcpus == 0 || nr_vcpus > ATTACH_MAX_VCPUS)
		return attach_errf(err, errlen, -EINVAL,
		    "%u vCPUs: must be 1..%u", nr_vcpus, ATTACH_MAX_VCPUS);
	return 0;
}

int
attach_check_vm_fd(int fd, char *err, size_t errlen)
{
	int rc = check_anon(fd, "anon_inode:kvm-vm", "VM fd", err, errlen);

	if (rc < 0)
		return rc;
#ifdef HAVE_KVM
	rc = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD);
	/*
	 * KVM answers VM ioctls only in the process that created the VM
	 * (its mm): a VM fd passed over a socket is useless here.
	 */
	if (rc < 0 && errno == EIO)
		return attach_errf(err, errlen, -EINVAL,
		    "VM fd: KVM refuses its ioctls outside the VMM's process; "
		    "send NOTIFY_EVENTFDS instead");
	if (rc <= 0)
		return attach_errf(err, errlen, -EINVAL,
		    "VM fd: KVM without ioeventfd support");
	return 0;
#else
	return attach_errf(err, errlen, -EOPNOTSUPP,
	    "VM fd: hcvsockd was built without KVM support");
#endif
}

int
attach_check_eventfd(int fd, const char *what, char *err, size_t errlen)
{
	return check_anon(fd, "anon_inode:[eventfd]", what, err, errlen);
}

/*
 * Two fd numbers for one open eventfd?  kcmp(2) knows; without it (no
 * CONFIG_KCMP, a seccomp filter) only equal numbers are caught.
 */
static bool
same_file(int a, int b)
{
	pid_t me = getpid();
	long rc;

	if (a == b)
		return true;
	rc = syscall(SYS_kcmp, (long)me, (long)me, KCMP_FILE, (long)a, (long)b);
	return rc == 0;
}

/*
 * Every eventfd of a description is a different channel: one shared by
 * two vCPUs, or by a vCPU and the doorbell, would let one consumer eat
 * another's wake-ups and leave a vCPU waiting for ever.
 */
static int
check_distinct_eventfds(const struct attach_desc *d, char *err, size_t errlen)
{
	int fds[2 + 2 * ATTACH_MAX_VCPUS];
	const char *what[2 + 2 * ATTACH_MAX_VCPUS];
	unsigned n = 0, i, j;

	if (d->ad_kick_fd >= 0) {
		what[n] = "kick fd";
		fds[n++] = d->ad_kick_fd;
	}
	if (d->ad_irq_fd >= 0) {
		what[n] = "irq fd";
		fds[n++] = d->ad_irq_fd;
	}
	for (i = 0; i < d->ad_nr_vcpus && i < ATTACH_MAX_VCPUS; i++) {
		what[n] = "a vCPU's kick fd";
		fds[n++] = d->ad_vcpus[i].kick_fd;
		what[n] = "a vCPU's done fd";
		fds[n++] = d->ad_vcpus[i].done_fd;
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (same_file(fds[i], fds[j]))
				return attach_errf(err, errlen, -EINVAL,
				    "%s and %s are one eventfd: every channel "
				    "needs its own", what[i], what[j]);
	return 0;
}

int
attach_desc_check(const struct attach_desc *d, char *err, size_t errlen)
{
	unsigned i, j;
	int rc;

	rc = attach_check_device(d->ad_cid, d->ad_window_space,
	    d->ad_window_base, d->ad_nr_vcpus, err, errlen);
	if (rc < 0)
		return rc;
	if (d->ad_nr_regions == 0 || d->ad_nr_regions > ATTACH_MAX_REGIONS)
		return attach_errf(err, errlen, -EINVAL,
		    "%u memory regions: must be 1..%u", d->ad_nr_regions,
		    ATTACH_MAX_REGIONS);
	for (i = 0; i < d->ad_nr_regions; i++) {
		const struct attach_region *r = &d->ad_regions[i];

		rc = attach_check_region(r, i, err, errlen);
		if (rc < 0)
			return rc;
		for (j = 0; j < i; j++) {
			const struct attach_region *q = &d->ad_regions[j];

			if (ranges_overlap(r->ar_gpa, r->ar_size, q->ar_gpa,
			    q->ar_size))
				return attach_errf(err, errlen, -EINVAL,
				    "region %u overlaps region %u", i, j);
		}
		if (d->ad_window_space == IOREQ_SPACE_MMIO &&
		    ranges_overlap(r->ar_gpa, r->ar_size, d->ad_window_base,
		    ATTACH_PAGE))
			return attach_errf(err, errlen, -EINVAL,
			    "MMIO window 0x%jx lies in RAM region %u",
			    (uintmax_t)d->ad_window_base, i);
	}
	if (d->ad_vm_fd >= 0 && (d->ad_kick_fd >= 0 || d->ad_irq_fd >= 0))
		return attach_errf(err, errlen, -EINVAL,
		    "both a VM fd and eventfds: choose one");
	if (d->ad_vm_fd >= 0) {
		rc = attach_check_vm_fd(d->ad_vm_fd, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (d->ad_kick_fd >= 0) {
		rc = attach_check_eventfd(d->ad_kick_fd, "kick fd", err, errlen);
		if (rc < 0)
			return rc;
	}
	if ((d->ad_irq_fd >= 0) != (d->ad_irq_gsi != ATTACH_GSI_NONE))
		return attach_errf(err, errlen, -EINVAL,
		    "an irq fd needs its GSI and a GSI needs its irq fd");
	if (d->ad_irq_fd >= 0) {
		if (d->ad_irq_gsi > ATTACH_GSI_MAX)
			return attach_errf(err, errlen, -EINVAL,
			    "GSI %u: must be 0..%u", d->ad_irq_gsi,
			    ATTACH_GSI_MAX);
		rc = attach_check_eventfd(d->ad_irq_fd, "irq fd", err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = check_memfd(d->ad_page_fd, ATTACH_PAGE, "ioreq page", err,
	    errlen);
	if (rc < 0)
		return rc;
	if (d->ad_state_fd >= 0) {
		rc = check_memfd(d->ad_state_fd, ATTACH_STATE_PAGE,
		    "state page", err, errlen);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < d->ad_nr_vcpus; i++) {
		char what[48];

		snprintf(what, sizeof(what), "vCPU %u kick fd", i);
		rc = attach_check_eventfd(d->ad_vcpus[i].kick_fd, what, err,
		    errlen);
		if (rc < 0)
			return rc;
		snprintf(what, sizeof(what), "vCPU %u done fd", i);
		rc = attach_check_eventfd(d->ad_vcpus[i].done_fd, what, err,
		    errlen);
		if (rc < 0)
			return rc;
	}
	return check_distinct_eventfds(d, err, errlen);
}
