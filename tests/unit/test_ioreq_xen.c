/* SPDX-License-Identifier: MIT */
/*
 * The Xen IOREQ server against the Xen libraries wrapped at link time
 * (-Wl,--wrap): the call sequence, every failing stage and its mirrored
 * teardown, re-attach, quiesce-before-disable, the foreign-mapping cache.
 * A small model of Xen stands behind the wrappers: it owns the ioreq page,
 * writes vp_eports at enable and checks that no slot is pending when the
 * server is disabled or destroyed.
 */
#include <sys/mman.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xentoolcore.h>

#include "test_common.h"
#include "rec_dev.h"
#include "notify/notify.h"
#include "hcvsock_abi.h"
#include "ioreq/ioreq_impl.h"
#include "ioreq/ioreq_xen.h"

#define DOMID		7
#define NR_VCPUS	2
#define EPORT(i)	(10u + (i))
#define LOCAL(r)	(1000u + (r))
#define BUFPORT		77u
#define RAM_GFN		0x100u
#define RAM_PAGES	(64u * 48u)
#define MAX_LOG		512

/* ---- The model of Xen ------------------------------------------------------ */

static struct {
	char		log[MAX_LOG][64];
	unsigned	nlog;
	const char	*fail;		/* call name to fail */
	unsigned	fail_nth;	/* which occurrence (0: first) */
	unsigned	seen_fail;
	int		fail_errno;
	/* xc_domain_getinfolist */
	int		info_ret;
	uint32_t	info_domid;
	uint32_t	info_flags;
	uint32_t	info_emu;
	unsigned	nr_vcpus;
	bool		write_eports;
	int		create_bufioreq;
	uint8_t		*page;		/* 2 pages: buffered, sync */
	bool		enabled;
	unsigned	pending_at_disable;
	unsigned	pending_at_destroy;
	int		ramfd;
	unsigned	maps, unmaps, dirty;
	unsigned	xs_events;
	/* notifier_next: ports to report, in order */
	uint32_t	next_ports[4];
	unsigned	nr_next;
} X;

static void
xlog(const char *fmt, ...) __printf(1, 2);

static void
xlog(const char *fmt, ...)
{
	va_list ap;

	assert_true(X.nlog < MAX_LOG);
	va_start(ap, fmt);
	vsnprintf(X.log[X.nlog++], sizeof(X.log[0]), fmt, ap);
	va_end(ap);
}

/* True if call `name` must fail now (errno set). */
static bool
failing(const char *name)
{
	if (X.fail != NULL && strcmp(X.fail, name) == 0 &&
	    X.seen_fail++ == X.fail_nth) {
		errno = X.fail_errno;
		return true;
	}
	return false;
}

/* Log a call without arguments; true if it must fail. */
static bool
call(const char *name)
{
	xlog("%s", name);
	return failing(name);
}

/*
 * Make the `nth` (0: next) call `name` fail with `err` from now on; NULL
 * stops failing.
 */
static void
fail_call(const char *name, unsigned nth, int err)
{
	X.fail = name;
	X.fail_nth = nth;
	X.seen_fail = 0;
	X.fail_errno = err;
}

static struct ioreq *
slots(void)
{
	return (struct ioreq *)(X.page + 4096);
}

static unsigned
pending_slots(void)
{
	unsigned i, n = 0;

	for (i = 0; i < X.nr_vcpus; i++) {
		unsigned st = ioreq_slot_state(&slots()[i]);

		if (st == STATE_IOREQ_READY || st == STATE_IOREQ_INPROCESS)
			n++;
	}
	return n;
}

static void
model_reset(void)
{
	uint8_t *page = X.page;
	int ramfd = X.ramfd;

	memset(&X, 0, sizeof(X));
	X.page = page;
	X.ramfd = ramfd;
	memset(X.page, 0, 2 * 4096);
	X.info_ret = 1;
	X.info_domid = DOMID;
	X.info_flags = XEN_DOMINF_hvm_guest;
	X.info_emu = XEN_X86_EMU_LAPIC;		/* PVH */
	X.nr_vcpus = NR_VCPUS;
	X.write_eports = true;
	X.create_bufioreq = -1;
	X.fail_errno = EIO;
}

static unsigned
find_log(const char *s)
{
	unsigned i;

	for (i = 0; i < X.nlog; i++)
		if (strcmp(X.log[i], s) == 0)
			return i;
	return UINT32_MAX;
}

static unsigned
count_log(const char *prefix)
{
	unsigned i, n = 0;

	for (i = 0; i < X.nlog; i++)
		if (strncmp(X.log[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* ---- Wrapped libraries ---------------------------------------------------- */

#define FAKE_DMOD	((xendevicemodel_handle *)(uintptr_t)0xd0d0)
#define FAKE_FMEM	((xenforeignmemory_handle *)(uintptr_t)0xf0f0)
#define FAKE_XCH	((xc_interface *)(uintptr_t)0xc0c0)
#define FAKE_RES	((xenforeignmemory_resource_handle *)(uintptr_t)0x5e5)
#define FAKE_XS		((struct xs_handle *)(uintptr_t)0x5a5a)
#define FAKE_NOTIFIER	((struct notifier *)(uintptr_t)0x7070)

xendevicemodel_handle *__wrap_xendevicemodel_open(struct xentoollog_logger *,
    unsigned int);
int __wrap_xendevicemodel_close(xendevicemodel_handle *);
int __wrap_xendevicemodel_nr_vcpus(xendevicemodel_handle *, domid_t,
    unsigned int *);
int __wrap_xendevicemodel_create_ioreq_server(xendevicemodel_handle *,
    domid_t, int, ioservid_t *);
int __wrap_xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *,
    domid_t, ioservid_t, xen_pfn_t *, xen_pfn_t *, evtchn_port_t *);
int __wrap_xendevicemodel_map_io_range_to_ioreq_server(
    xendevicemodel_handle *, domid_t, ioservid_t, int, uint64_t, uint64_t);
int __wrap_xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *,
    domid_t, ioservid_t, int);
int __wrap_xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *,
    domid_t, ioservid_t);
int __wrap_xendevicemodel_inject_msi(xendevicemodel_handle *, domid_t,
    uint64_t, uint32_t);
int __wrap_xendevicemodel_restrict(xendevicemodel_handle *, domid_t);
int __wrap_xendevicemodel_modified_memory(xendevicemodel_handle *, domid_t,
    uint64_t, uint32_t);
xenforeignmemory_handle *__wrap_xenforeignmemory_open(
    struct xentoollog_logger *, unsigned int);
int __wrap_xenforeignmemory_close(xenforeignmemory_handle *);
xenforeignmemory_resource_handle *__wrap_xenforeignmemory_map_resource(
    xenforeignmemory_handle *, domid_t, unsigned int, unsigned int,
    unsigned long, unsigned long, void **, int, int);
int __wrap_xenforeignmemory_unmap_resource(xenforeignmemory_handle *,
    xenforeignmemory_resource_handle *);
void *__wrap_xenforeignmemory_map(xenforeignmemory_handle *, uint32_t, int,
    size_t, const xen_pfn_t *, int *);
int __wrap_xenforeignmemory_unmap(xenforeignmemory_handle *, void *, size_t);
int __wrap_xenforeignmemory_restrict(xenforeignmemory_handle *, domid_t);
xc_interface *__wrap_xc_interface_open(xentoollog_logger *,
    xentoollog_logger *, unsigned);
int __wrap_xc_interface_close(xc_interface *);
int __wrap_xc_domain_getinfolist(xc_interface *, uint32_t, unsigned int,
    xc_domaininfo_t *);
int __wrap_xentoolcore_restrict_all(domid_t);
struct xs_handle *__wrap_xs_open(unsigned long);
void __wrap_xs_close(struct xs_handle *);
bool __wrap_xs_watch(struct xs_handle *, const char *, const char *);
bool __wrap_xs_unwatch(struct xs_handle *, const char *, const char *);
int __wrap_xs_fileno(struct xs_handle *);
char **__wrap_xs_check_watch(struct xs_handle *);
int __wrap_notifier_open(const char *, int64_t, struct notifier **);
void __wrap_notifier_close(struct notifier *);
int __wrap_notifier_bind(struct notifier *, const struct notify_bind *,
    uint32_t *);
int __wrap_notifier_unbind(struct notifier *, uint32_t);
int __wrap_notifier_notify(struct notifier *, uint32_t);
int __wrap_notifier_restrict(struct notifier *, uint32_t);
int __wrap_notifier_next(struct notifier *, uint32_t *, uint64_t *);
int __wrap_notifier_fd(const struct notifier *);
int __wrap_notifier_end_cycle(struct notifier *);

xendevicemodel_handle *
__wrap_xendevicemodel_open(struct xentoollog_logger *l, unsigned int f)
{
	return call("dm_open") ? NULL : FAKE_DMOD;
}

int
__wrap_xendevicemodel_close(xendevicemodel_handle *h)
{
	assert_ptr_equal(h, FAKE_DMOD);
	xlog("dm_close");
	return 0;
}

int
__wrap_xendevicemodel_nr_vcpus(xendevicemodel_handle *h, domid_t d,
    unsigned int *n)
{
	assert_int_equal(d, DOMID);
	if (call("nr_vcpus"))
		return -1;
	*n = X.nr_vcpus;
	return 0;
}

int
__wrap_xendevicemodel_create_ioreq_server(xendevicemodel_handle *h,
    domid_t d, int buf, ioservid_t *id)
{
	assert_int_equal(d, DOMID);
	X.create_bufioreq = buf;
	if (call("create"))
		return -1;
	*id = 3;
	return 0;
}

int
__wrap_xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *h,
    domid_t d, ioservid_t id, xen_pfn_t *gfn, xen_pfn_t *bgfn,
    evtchn_port_t *bport)
{
	/* Always the no-GFN form (XEN_DMOP_no_gfns). */
	assert_null(gfn);
	assert_null(bgfn);
	xlog("get_info %u", (unsigned)id);
	if (failing("get_info"))
		return -1;
	if (bport != NULL)
		*bport = BUFPORT;
	return 0;
}

int
__wrap_xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *h,
    domid_t d, ioservid_t id, int mmio, uint64_t s, uint64_t e)
{
	xlog("map_range %d 0x%" PRIx64 " 0x%" PRIx64, mmio, s, e);
	return failing("map_range") ? -1 : 0;
}

int
__wrap_xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *h,
    domid_t d, ioservid_t id, int on)
{
	unsigned i;

	if (call(on ? "set_state 1" : "set_state 0"))
		return -1;
	if (on && X.write_eports)
		for (i = 0; i < X.nr_vcpus; i++)
			slots()[i].vp_eport = EPORT(i);
	if (!on)
		X.pending_at_disable += pending_slots();
	X.enabled = on;
	return 0;
}

int
__wrap_xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *h,
    domid_t d, ioservid_t id)
{
	xlog("destroy %u", (unsigned)id);
	X.pending_at_destroy += pending_slots();
	return failing("destroy") ? -1 : 0;
}

int
__wrap_xendevicemodel_inject_msi(xendevicemodel_handle *h, domid_t d,
    uint64_t a, uint32_t v)
{
	xlog("inject_msi 0x%" PRIx64 " 0x%x", a, v);
	return failing("inject_msi") ? -1 : 0;
}

int
__wrap_xendevicemodel_restrict(xendevicemodel_handle *h, domid_t d)
{
	assert_int_equal(d, DOMID);
	return call("dm_restrict") ? -1 : 0;
}

int
__wrap_xendevicemodel_modified_memory(xendevicemodel_handle *h, domid_t d,
    uint64_t pfn, uint32_t nr)
{
	xlog("dirty 0x%" PRIx64 " %u", pfn, nr);
	X.dirty++;
	return 0;
}

xenforeignmemory_handle *
__wrap_xenforeignmemory_open(struct xentoollog_logger *l, unsigned int f)
{
	return call("fm_open") ? NULL : FAKE_FMEM;
}

int
__wrap_xenforeignmemory_close(xenforeignmemory_handle *h)
{
	assert_ptr_equal(h, FAKE_FMEM);
	xlog("fm_close");
	return 0;
}

xenforeignmemory_resource_handle *
__wrap_xenforeignmemory_map_resource(xenforeignmemory_handle *h, domid_t d,
    unsigned int type, unsigned int id, unsigned long frame,
    unsigned long nr, void **addr, int prot, int flags)
{
	assert_int_equal(type, XENMEM_resource_ioreq_server);
	assert_int_equal(prot, PROT_READ | PROT_WRITE);
	xlog("map_resource %u %lu %lu", id, frame, nr);
	if (failing("map_resource"))
		return NULL;
	/* Frame 0 is the buffered page, frame 1 the synchronous one. */
	*addr = X.page + frame * 4096;
	return FAKE_RES;
}

int
__wrap_xenforeignmemory_unmap_resource(xenforeignmemory_handle *h,
    xenforeignmemory_resource_handle *r)
{
	assert_ptr_equal(r, FAKE_RES);
	xlog("unmap_resource");
	return 0;
}

/* Guest RAM is a memfd; a bucket maps its pages, holes stay PROT_NONE. */
void *
__wrap_xenforeignmemory_map(xenforeignmemory_handle *h, uint32_t d, int prot,
    size_t n, const xen_pfn_t *gfns, int *err)
{
	uint8_t *base;
	size_t i;

	assert_non_null(err);
	if (call("fm_map"))
		return NULL;
	base = mmap(NULL, n * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	assert_true(base != MAP_FAILED);
	for (i = 0; i < n; i++) {
		if (gfns[i] >= RAM_GFN && gfns[i] < RAM_GFN + RAM_PAGES) {
			void *p = mmap(base + i * 4096, 4096, prot,
			    MAP_SHARED | MAP_FIXED, X.ramfd,
			    (off_t)(gfns[i] - RAM_GFN) * 4096);

			assert_true(p != MAP_FAILED);
			err[i] = 0;
		} else {
			err[i] = -EINVAL;
		}
	}
	X.maps++;
	return base;
}

int
__wrap_xenforeignmemory_unmap(xenforeignmemory_handle *h, void *addr,
    size_t n)
{
	xlog("fm_unmap");
	X.unmaps++;
	return munmap(addr, n * 4096);
}

int
__wrap_xenforeignmemory_restrict(xenforeignmemory_handle *h, domid_t d)
{
	assert_int_equal(d, DOMID);
	return call("fm_restrict") ? -1 : 0;
}

xc_interface *
__wrap_xc_interface_open(xentoollog_logger *a, xentoollog_logger *b,
    unsigned f)
{
	return call("xc_open") ? NULL : FAKE_XCH;
}

int
__wrap_xc_interface_close(xc_interface *x)
{
	assert_ptr_equal(x, FAKE_XCH);
	xlog("xc_close");
	return 0;
}

int
__wrap_xc_domain_getinfolist(xc_interface *x, uint32_t first, unsigned int max,
    xc_domaininfo_t *info)
{
	assert_int_equal(first, DOMID);
	assert_int_equal(max, 1);
	if (call("getinfolist"))
		return -1;
	if (X.info_ret > 0) {
		info->domain = (domid_t)X.info_domid;
		info->flags = X.info_flags;
		info->arch_config.emulation_flags = X.info_emu;
	}
	return X.info_ret;
}

int
__wrap_xentoolcore_restrict_all(domid_t d)
{
	assert_int_equal(d, DOMID);
	return call("restrict_all") ? -1 : 0;
}

struct xs_handle *
__wrap_xs_open(unsigned long f)
{
	return call("xs_open") ? NULL : FAKE_XS;
}

void
__wrap_xs_close(struct xs_handle *h)
{
	assert_ptr_equal(h, FAKE_XS);
	xlog("xs_close");
}

bool
__wrap_xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	assert_string_equal(path, "@releaseDomain");
	return !call("xs_watch");
}

bool
__wrap_xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
	assert_string_equal(path, "@releaseDomain");
	xlog("xs_unwatch");
	return true;
}

int
__wrap_xs_fileno(struct xs_handle *h)
{
	return 42;
}

char **
__wrap_xs_check_watch(struct xs_handle *h)
{
	char **v;

	if (X.xs_events == 0) {
		errno = EAGAIN;
		return NULL;
	}
	X.xs_events--;
	v = calloc(1, sizeof(char *) * 2 + 32);
	assert_non_null(v);
	return v;
}

int
__wrap_notifier_open(const char *backend, int64_t target, struct notifier **np)
{
	assert_string_equal(backend, "xen");
	assert_int_equal(target, DOMID);
	if (call("notifier_open"))
		return -X.fail_errno;
	*np = FAKE_NOTIFIER;
	return 0;
}

void
__wrap_notifier_close(struct notifier *n)
{
	assert_ptr_equal(n, FAKE_NOTIFIER);
	xlog("notifier_close");
}

int
__wrap_notifier_bind(struct notifier *n, const struct notify_bind *b,
    uint32_t *local)
{
	assert_int_equal(b->kind, NOTIFY_BIND_EVTCHN);
	xlog("bind %u", b->remote_port);
	if (failing("bind"))
		return -X.fail_errno;
	*local = LOCAL(b->remote_port);
	return 0;
}

int
__wrap_notifier_unbind(struct notifier *n, uint32_t local)
{
	xlog("unbind %u", local);
	return 0;
}

int
__wrap_notifier_notify(struct notifier *n, uint32_t local)
{
	xlog("notify %u", local);
	return 0;
}

int
__wrap_notifier_next(struct notifier *n, uint32_t *local, uint64_t *count)
{
	(void)n;
	if (X.nr_next == 0)
		return 0;
	*local = X.next_ports[0];
	memmove(X.next_ports, X.next_ports + 1,
	    --X.nr_next * sizeof(X.next_ports[0]));
	if (count != NULL)
		*count = 1;
	return 1;
}

/* As the xen backend: it takes one event per call, so holds none back. */
int
__wrap_notifier_end_cycle(struct notifier *n)
{
	(void)n;
	return 0;
}

int
__wrap_notifier_fd(const struct notifier *n)
{
	(void)n;
	return -1;
}

int
__wrap_notifier_restrict(struct notifier *n, uint32_t domid)
{
	assert_int_equal(domid, DOMID);
	return call("notifier_restrict") ? -X.fail_errno : 0;
}

/* ---- A device ------------------------------------------------------------- */

static struct rec_dev dev;

/* ---- Fixtures ------------------------------------------------------------- */

static int
group_setup(void **state)
{
	X.page = aligned_alloc(4096, 2 * 4096);
	X.ramfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (X.page == NULL || X.ramfd < 0 ||
	    ftruncate(X.ramfd, (off_t)RAM_PAGES * 4096) < 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	free(X.page);
	close(X.ramfd);
	return 0;
}

static int
setup(void **state)
{
	model_reset();
	rec_dev_init(&dev, REC_DEV_MAX);
	test_log_capture_start();
	return 0;
}

static int
teardown(void **state)
{
	test_log_capture_stop();
	rec_dev_fini(&dev);
	return 0;
}

static const struct ioreq_xen_cfg cfg_create = { .domid = DOMID,
	.reattach_id = -1, .watch_death = true };

/* The bring-up sequence of ioreq_xen_open, creating with a watch. */
static const char *const open_seq[] = {
	"dm_open", "fm_open", "xc_open", "getinfolist", "xc_close",
	"notifier_open", "nr_vcpus", "create", "get_info 3",
	"map_resource 3 1 1", "xs_open", "xs_watch",
};

/* What undoes each call (NULL: nothing). */
static const char *
undo_of(const char *c)
{
	static const char *const pairs[][2] = {
		{ "dm_open", "dm_close" }, { "fm_open", "fm_close" },
		{ "xc_open", "xc_close" }, { "notifier_open", "notifier_close" },
		{ "create", "destroy 3" }, { "map_resource", "unmap_resource" },
		{ "xs_open", "xs_close" }, { "xs_watch", "xs_unwatch" },
	};
	size_t n = strcspn(c, " ");
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(pairs); i++)
		if (strlen(pairs[i][0]) == n && strncmp(pairs[i][0], c, n) == 0)
			return pairs[i][1];
	return NULL;
}

static void
assert_log_from(unsigned at, const char *const *want, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (at + i >= X.nlog || strcmp(X.log[at + i], want[i]) != 0) {
			print_error("log[%u]: want \"%s\", have \"%s\"\n",
			    at + i, want[i], at + i < X.nlog ?
			    X.log[at + i] : "(end)");
			fail();
		}
	}
	if (at + n != X.nlog) {
		print_error("log has %u extra entries from \"%s\"\n",
		    X.nlog - at - n, X.log[at + n]);
		fail();
	}
}

/* ---- Tests ---------------------------------------------------------------- */

static void
open__sequence_and_close(void **state)
{
	struct ioreq_source *s;
	static const char *const close_seq[] = {
		"xs_unwatch", "xs_close", "unmap_resource", "destroy 3",
		"notifier_close", "fm_close", "dm_close",
	};

	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	assert_log_from(0, open_seq, ARRAY_SIZE(open_seq));
	assert_int_equal(X.create_bufioreq, HVM_IOREQSRV_BUFIOREQ_OFF);
	assert_string_equal(ioreq_source_kind(s), "xen");
	assert_int_equal(ioreq_source_nr_vcpus(s), NR_VCPUS);
	assert_int_equal(ioreq_source_server_id(s), 3);
	assert_int_equal(ioreq_xen_death_fd(s), 42);
	X.nlog = 0;
	/* Never enabled: nothing to disable or unbind. */
	ioreq_source_close(s, true);
	assert_log_from(0, close_seq, ARRAY_SIZE(close_seq));
}

/* Fail each call of the bring-up in turn: the undo mirrors what was done. */
static void
open__every_failure_unwinds_in_mirror(void **state)
{
	unsigned k, i;

	for (k = 0; k < ARRAY_SIZE(open_seq); k++) {
		const char *undo[ARRAY_SIZE(open_seq)];
		unsigned nundo = 0;
		struct ioreq_source *s;
		char name[32];

		/* Closes never fail. */
		if (strcmp(open_seq[k], "xc_close") == 0)
			continue;
		model_reset();
		snprintf(name, sizeof(name), "%.*s",
		    (int)strcspn(open_seq[k], " "), open_seq[k]);
		fail_call(name, 0, EIO);
		assert_true(ioreq_xen_open(&cfg_create, &s) < 0);
		assert_null(s);
		for (i = k; i-- > 0;) {
			const char *u = undo_of(open_seq[i]);

			/* xc is closed right after use, failure or not. */
			if (u != NULL && strcmp(u, "xc_close") == 0 && k > 4)
				continue;
			if (u != NULL)
				undo[nundo++] = u;
		}
		for (i = 0; i <= k; i++)
			assert_string_equal(X.log[i], open_seq[i]);
		assert_log_from(k + 1, undo, nundo);
	}
}

/*
 * ioreq_xen_open(&cfg_create) on the model as the caller left it fails
 * with `want`, leaves no source and, unless `says` is NULL, logs `says`.
 */
static void
open_fails(int want, const char *says)
{
	struct ioreq_source *s;

	test_log_capture_start();	/* only this open's messages count */
	assert_int_equal(ioreq_xen_open(&cfg_create, &s), want);
	assert_null(s);
	if (says != NULL)
		assert_true(test_log_seen(says));
}

static void
open__clear_messages(void **state)
{
	struct ioreq_source *s;

	fail_call("dm_open", 0, ENOENT);
	open_fails(-ENODEV, "no Xen");

	model_reset();
	fail_call("dm_open", 0, EACCES);
	open_fails(-EACCES, "no permission");

	model_reset();
	X.info_ret = 0;
	open_fails(-ESRCH, "no such domain");

	/* getinfolist answers with the next domain: still "no such". */
	model_reset();
	X.info_domid = DOMID + 1;
	open_fails(-ESRCH, "no such domain");

	model_reset();
	X.info_flags = XEN_DOMINF_hvm_guest | XEN_DOMINF_dying;
	open_fails(-ESRCH, "dying");

	model_reset();
	X.info_flags = 0;
	open_fails(-EOPNOTSUPP, "PV domain");
	assert_int_equal(find_log("create"), UINT32_MAX);

	model_reset();
	fail_call("create", 0, ENOSPC);
	open_fails(-ENOSPC, "too many IOREQ servers");

	model_reset();
	fail_call("map_resource", 0, EOPNOTSUPP);
	open_fails(-EOPNOTSUPP, "IOCTL_PRIVCMD_MMAP_RESOURCE");

	model_reset();
	X.nr_vcpus = 129;
	open_fails(-E2BIG, NULL);
	model_reset();
	X.nr_vcpus = 0;
	open_fails(-E2BIG, NULL);
	assert_int_equal(ioreq_xen_open(NULL, &s), -EINVAL);
	assert_int_equal(ioreq_xen_open(&(struct ioreq_xen_cfg){
	    .domid = DOMID_FIRST_RESERVED, .reattach_id = -1 }, &s), -EINVAL);

	/* Even a guest with the emulated PIC is offered no line interrupt. */
	model_reset();
	X.info_emu = XEN_X86_EMU_ALL;
	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	assert_int_equal(ioreq_source_irq_modes(s) & (1u << HCVS_IRQ_ISA), 0);
	ioreq_source_close(s, true);
}

static void
enable__binds_after_enable_and_serves(void **state)
{
	struct ioreq_source *s;
	struct ioreq *sl = slots();
	unsigned at;
	static const char *const enable_seq[] = {
		"map_range 1 0xfe000000 0xfe000fff",
		"map_range 0 0x500 0x507",
		"set_state 1", "bind 10", "bind 11",
	};

	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	at = X.nlog;
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_MMIO,
	    0xfe000000, 0xfe000fff, &rec_dev_ops, &dev), 0);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_PIO, 0x500,
	    0x507, &rec_dev_ops, &dev), 0);
	assert_int_equal(ioreq_source_enable(s), 0);
	assert_log_from(at, enable_seq, ARRAY_SIZE(enable_seq));

	/* The guest writes to MMIO on vCPU 1. */
	sl[1] = (struct ioreq){ .addr = 0xfe000010, .data = 0xabcd, .count = 1,
	    .size = 2, .dir = IOREQ_WRITE, .type = IOREQ_TYPE_COPY,
	    .vp_eport = EPORT(1), .state = STATE_IOREQ_READY };
	at = X.nlog;
	assert_int_equal(ioreq_engine_handle_port(ioreq_source_engine(s),
	    LOCAL(EPORT(1))), 1);
	assert_int_equal(sl[1].state, STATE_IORESP_READY);
	assert_int_equal(sl[1].vp_eport, EPORT(1));
	assert_int_equal(dev.regs[0x10], 0xcd);
	assert_string_equal(X.log[at], "notify 1011");
	/* Not an engine port. */
	assert_int_equal(ioreq_engine_handle_port(ioreq_source_engine(s),
	    12345), 0);

	/* MSI and restriction (the watch is open: handle by handle). */
	assert_int_equal(ioreq_source_irq_modes(s), 1u << HCVS_IRQ_NONE |
	    1u << HCVS_IRQ_MSI | 1u << HCVS_IRQ_EVTCHN);
	assert_int_equal(ioreq_source_irq_raise(s), -ENOENT);
	assert_int_equal(ioreq_source_irq_setup(s, &(struct ioreq_irq){
	    .mode = HCVS_IRQ_MSI, .msi_addr = 0xfee00000, .msi_data = 0x41 }),
	    0);
	assert_int_equal(ioreq_source_irq_raise(s), 0);
	assert_int_not_equal(find_log("inject_msi 0xfee00000 0x41"),
	    UINT32_MAX);
	fail_call("inject_msi", 0, EINVAL);
	assert_int_equal(ioreq_source_irq_raise(s), -EINVAL);
	fail_call(NULL, 0, 0);
	assert_int_equal(ioreq_source_irq_setup(s, &(struct ioreq_irq){
	    .mode = HCVS_IRQ_ISA }), -EOPNOTSUPP);
	assert_int_equal(ioreq_source_irq_setup(s, &(struct ioreq_irq){
	    .mode = HCVS_IRQ_GSI, .gsi = 5 }), -EOPNOTSUPP);
	/*
	 * EVTCHN: an interdomain channel to the guest's port; a raise is a
	 * notify on it, and the guest's own sends on it are its events.
	 */
	assert_int_equal(ioreq_source_irq_setup(s, &(struct ioreq_irq){
	    .mode = HCVS_IRQ_EVTCHN, .evtchn_port = 77 }), 0);
	assert_int_not_equal(find_log("bind 77"), UINT32_MAX);
	at = X.nlog;
	assert_int_equal(ioreq_source_irq_raise(s), 0);
	assert_string_equal(X.log[at], "notify 1077");
	{
		struct ioreq_source_events ev = { 0, 0, 0 };

		X.next_ports[0] = LOCAL(77);
		X.next_ports[1] = 12345;
		X.next_ports[2] = LOCAL(77);
		X.nr_next = 3;
		assert_int_equal(ioreq_source_run(s, 2, &ev), 2);
		assert_int_equal(ev.guest_events, 1);
		assert_int_equal(ioreq_source_run(s, 8, &ev), 1);
		assert_int_equal(ev.guest_events, 2);
		assert_int_equal(ev.doorbells, 0);
		assert_int_equal(ioreq_source_run(s, 8, &ev), 0);
	}
	/* Back to NONE: the channel is closed, nothing to raise. */
	at = X.nlog;
	assert_int_equal(ioreq_source_irq_setup(s, &(struct ioreq_irq){
	    .mode = HCVS_IRQ_NONE }), 0);
	assert_string_equal(X.log[at], "unbind 1077");
	assert_int_equal(ioreq_source_irq_raise(s), -ENOENT);
	assert_int_equal(ioreq_source_restrict(s), 0);
	assert_int_not_equal(find_log("dm_restrict"), UINT32_MAX);
	assert_int_not_equal(find_log("fm_restrict"), UINT32_MAX);
	assert_int_not_equal(find_log("notifier_restrict"), UINT32_MAX);
	assert_int_equal(find_log("restrict_all"), UINT32_MAX);
	ioreq_source_close(s, true);
}

static void
enable__failures_unwind(void **state)
{
	struct ioreq_source *s;
	unsigned at;
	static const char *const bind_fail[] = {
		"set_state 1", "bind 10", "bind 11",
		"set_state 0", "unbind 1010",
	};

	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	/* The second vCPU's bind fails: disable, then unbind the first. */
	fail_call("bind", 1, EIO);
	at = X.nlog;
	assert_true(ioreq_source_enable(s) < 0);
	assert_log_from(at, bind_fail, ARRAY_SIZE(bind_fail));
	assert_true(test_log_seen("bind vCPU 1"));
	assert_false(X.enabled);

	/* Enable itself fails: nothing bound. */
	fail_call("set_state 1", 0, EIO);
	at = X.nlog;
	assert_true(ioreq_source_enable(s) < 0);
	assert_int_equal(X.nlog, at + 1);

	/* Xen left vp_eport 0: refused, unwound. */
	fail_call(NULL, 0, 0);
	X.write_eports = false;
	memset(X.page, 0, 2 * 4096);
	assert_int_equal(ioreq_source_enable(s), -EPROTO);
	assert_false(X.enabled);

	/* And a retry that works. */
	X.write_eports = true;
	assert_int_equal(ioreq_source_enable(s), 0);
	assert_true(X.enabled);
	ioreq_source_close(s, true);
	assert_int_equal(X.pending_at_disable + X.pending_at_destroy, 0);
}

static void
ranges__failures(void **state)
{
	struct ioreq_source *s;

	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	fail_call("map_range", 0, EEXIST);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_MMIO, 0x1000,
	    0x1fff, &rec_dev_ops, &dev), -EEXIST);
	assert_true(test_log_seen("already claimed"));
	/* The engine forgot it too: a later add of the same range works. */
	fail_call(NULL, 0, 0);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_MMIO, 0x1000,
	    0x1fff, &rec_dev_ops, &dev), 0);
	fail_call("map_range", 0, ENOSPC);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_MMIO, 0x3000,
	    0x3fff, &rec_dev_ops, &dev), -ENOSPC);
	ioreq_source_close(s, true);
}

/* Fill a slot as Xen does. */
static void
xen_send(unsigned vcpu, unsigned st, uint64_t addr, int dir, uint64_t data)
{
	struct ioreq *sl = &slots()[vcpu];
	uint32_t ep = sl->vp_eport;

	*sl = (struct ioreq){ .addr = addr, .data = data, .count = 1,
	    .size = 4, .dir = dir, .type = IOREQ_TYPE_PIO, .vp_eport = ep,
	    .state = st };
}

static void
quiesce__answers_before_disable(void **state)
{
	struct ioreq_source *s;
	unsigned i_notify, i_off;
	static const char *const close_seq[] = {
		"unbind 1010", "unbind 1011", "xs_unwatch", "xs_close",
		"unmap_resource", "destroy 3", "notifier_close", "fm_close",
		"dm_close",
	};

	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_PIO, 0x500,
	    0x507, &rec_dev_ops, &dev), 0);
	assert_int_equal(ioreq_source_enable(s), 0);
	memcpy(dev.regs, "\x11\x22\x33\x44", 4);
	xen_send(0, STATE_IOREQ_READY, 0x500, IOREQ_READ, 0);
	xen_send(1, STATE_IOREQ_READY, 0x504, IOREQ_WRITE, 9);
	assert_int_equal(ioreq_source_quiesce(s), 0);
	/* Both answered and woken before the disable. */
	i_notify = find_log("notify 1011");
	i_off = find_log("set_state 0");
	assert_true(i_notify < i_off);
	assert_true(find_log("notify 1010") < i_off);
	assert_int_equal(X.pending_at_disable, 0);
	assert_int_equal(slots()[0].state, STATE_IORESP_READY);
	assert_int_equal(slots()[0].data, 0x44332211);
	/* Quiesced: events are no longer served. */
	xen_send(0, STATE_IOREQ_NONE, 0, 0, 0);
	xen_send(0, STATE_IOREQ_READY, 0x500, IOREQ_READ, 0);
	assert_int_equal(ioreq_engine_handle_port(ioreq_source_engine(s),
	    LOCAL(EPORT(0))), 1);
	assert_int_equal(slots()[0].state, STATE_IOREQ_READY);
	/* Enable again: no rebinding, the waiting slot is served. */
	X.nlog = 0;
	assert_int_equal(ioreq_source_enable(s), 0);
	assert_string_equal(X.log[0], "set_state 1");
	assert_int_equal(count_log("bind"), 0);
	assert_int_equal(slots()[0].state, STATE_IORESP_READY);
	assert_int_equal(ioreq_source_quiesce(s), 0);
	xen_send(0, STATE_IOREQ_NONE, 0, 0, 0);
	X.nlog = 0;
	ioreq_source_close(s, true);
	assert_log_from(0, close_seq, ARRAY_SIZE(close_seq));
	assert_int_equal(X.pending_at_destroy, 0);
}

static void
close__destroy_answers_pending_first(void **state)
{
	struct ioreq_source *s;

	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	assert_int_equal(ioreq_source_enable(s), 0);
	xen_send(1, STATE_IOREQ_READY, 0x60, IOREQ_READ, 0);
	X.nlog = 0;
	ioreq_source_close(s, true);
	/* Answered (all-ones, unclaimed), woken, disabled, then unbound. */
	assert_int_equal(slots()[1].data, 0xffffffffu);
	assert_true(find_log("notify 1011") < find_log("set_state 0"));
	assert_true(find_log("set_state 0") < find_log("unbind 1010"));
	assert_true(find_log("unmap_resource") < find_log("destroy 3"));
	assert_int_equal(X.pending_at_disable + X.pending_at_destroy, 0);
}

static void
close__keep_leaves_server_enabled(void **state)
{
	struct ioreq_source *s;
	static const char *const keep_seq[] = {
		"unbind 1010", "unbind 1011", "unmap_resource", "notifier_close",
		"fm_close", "dm_close",
	};
	struct ioreq_xen_cfg c = cfg_create;

	c.watch_death = false;
	assert_int_equal(ioreq_xen_open(&c, &s), 0);
	assert_int_equal(ioreq_xen_death_fd(s), -1);
	assert_int_equal(ioreq_source_enable(s), 0);
	/* Without the watch, one call restricts every handle. */
	assert_int_equal(ioreq_source_restrict(s), 0);
	assert_int_not_equal(find_log("restrict_all"), UINT32_MAX);
	fail_call("restrict_all", 0, EIO);
	assert_int_equal(ioreq_source_restrict(s), -EIO);
	fail_call(NULL, 0, 0);
	X.nlog = 0;
	ioreq_source_close(s, false);
	assert_log_from(0, keep_seq, ARRAY_SIZE(keep_seq));
	assert_true(X.enabled);
}

static void
reattach__serves_ready_and_inprocess(void **state)
{
	struct ioreq_xen_cfg c = { .domid = DOMID, .reattach_id = 5,
	    .watch_death = false };
	struct ioreq_source *s;
	unsigned i;
	static const char *const seq[] = {
		"dm_open", "fm_open", "xc_open", "getinfolist", "xc_close",
		"notifier_open", "nr_vcpus", "get_info 5",
		"map_resource 5 1 1",
	};

	/* The dead process enabled the server and claimed vCPU 0's slot. */
	for (i = 0; i < NR_VCPUS; i++)
		slots()[i].vp_eport = EPORT(i);
	X.enabled = true;
	xen_send(0, STATE_IOREQ_INPROCESS, 0x504, IOREQ_READ, 0);
	xen_send(1, STATE_IOREQ_READY, 0x500, IOREQ_WRITE, 0x01020304);
	dev.nlog = 0;

	assert_int_equal(ioreq_xen_open(&c, &s), 0);
	assert_log_from(0, seq, ARRAY_SIZE(seq));
	assert_int_equal(ioreq_source_server_id(s), 5);
	/* Its ranges are still mapped: EEXIST is expected and fine. */
	fail_call("map_range", 0, EEXIST);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_PIO, 0x500,
	    0x507, &rec_dev_ops, &dev), 0);
	fail_call(NULL, 0, 0);
	assert_int_equal(ioreq_source_enable(s), 0);
	assert_int_not_equal(find_log("bind 10"), UINT32_MAX);
	assert_int_not_equal(find_log("notify 1010"), UINT32_MAX);
	assert_int_not_equal(find_log("notify 1011"), UINT32_MAX);
	assert_int_equal(slots()[0].state, STATE_IORESP_READY);
	assert_int_equal(slots()[1].state, STATE_IORESP_READY);
	assert_int_equal(dev.nlog, 2);
	assert_memory_equal(dev.regs, "\x04\x03\x02\x01", 4);
	assert_int_equal(slots()[0].data, 0);
	X.nlog = 0;
	/* Crashing again (close without destroy) keeps the server. */
	ioreq_source_close(s, false);
	assert_int_equal(find_log("destroy 5"), UINT32_MAX);
	assert_int_equal(find_log("set_state 0"), UINT32_MAX);
}

static void
reattach__missing_server(void **state)
{
	struct ioreq_xen_cfg c = { .domid = DOMID, .reattach_id = 9 };
	struct ioreq_source *s;

	fail_call("get_info", 0, ENOENT);
	assert_int_equal(ioreq_xen_open(&c, &s), -ENOENT);
	assert_true(test_log_seen("no IOREQ server 9"));
	/* Not ours to destroy. */
	assert_int_equal(count_log("destroy"), 0);
	assert_int_equal(count_log("create"), 0);
}

static void
bufioreq__ring_mapped_bound_and_drained(void **state)
{
	struct ioreq_xen_cfg c = { .domid = DOMID, .reattach_id = -1,
	    .bufioreq = true };
	struct buffered_iopage *b = (struct buffered_iopage *)X.page;
	struct ioreq_source *s;

	assert_int_equal(ioreq_xen_open(&c, &s), 0);
	assert_int_equal(X.create_bufioreq, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
	assert_int_not_equal(find_log("map_resource 3 0 2"), UINT32_MAX);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_PIO, 0x500,
	    0x507, &rec_dev_ops, &dev), 0);
	assert_int_equal(ioreq_source_enable(s), 0);
	assert_int_not_equal(find_log("bind 77"), UINT32_MAX);
	b->buf_ioreq[0] = (struct buf_ioreq){ .type = IOREQ_TYPE_PIO,
	    .size = 0, .addr = 0x506, .data = 0x5a };
	b->write_pointer = 1;
	assert_int_equal(ioreq_engine_handle_port(ioreq_source_engine(s),
	    LOCAL(BUFPORT)), 1);
	assert_int_equal(dev.regs[6], 0x5a);
	assert_int_equal(b->read_pointer, 1);
	ioreq_source_close(s, true);
	assert_int_not_equal(find_log("unbind 1077"), UINT32_MAX);
}

static void
death__watch_and_check(void **state)
{
	struct ioreq_source *s;

	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	X.xs_events = 2;
	assert_int_equal(ioreq_xen_domain_gone(s), 0);
	assert_int_equal(X.xs_events, 0);
	fail_call("get_info", 0, ENOENT);
	assert_int_equal(ioreq_xen_domain_gone(s), 1);
	fail_call("get_info", 0, ESRCH);
	assert_int_equal(ioreq_xen_domain_gone(s), 1);
	fail_call("get_info", 0, EIO);
	assert_int_equal(ioreq_xen_domain_gone(s), -EIO);
	fail_call(NULL, 0, 0);
	ioreq_source_close(s, true);
}

/* ---- Guest memory through foreign mappings ---------------------------------- */

/* Xen hands `r` to vCPU 0's slot and kicks: the engine takes it. */
static void
xen_kick0(struct ioreq_engine *e, struct ioreq r)
{
	r.vp_eport = EPORT(0);
	r.state = STATE_IOREQ_READY;
	slots()[0] = r;
	assert_int_equal(ioreq_engine_handle_port(e, LOCAL(EPORT(0))), 1);
}

static void
mem__rep_through_mapcache(void **state)
{
	struct ioreq_source *s;
	struct ioreq_engine *e;
	uint8_t *ram;
	uint64_t gpa = (uint64_t)RAM_GFN * 4096 + 4096 - 4;

	ram = mmap(NULL, (size_t)RAM_PAGES * 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED, X.ramfd, 0);
	assert_true(ram != MAP_FAILED);
	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	e = ioreq_source_engine(s);
	assert_int_equal(ioreq_source_add_range(s, IOREQ_SPACE_MMIO,
	    0xfe000000, 0xfe000fff, &rec_dev_ops, &dev), 0);
	assert_int_equal(ioreq_source_enable(s), 0);

	/* REP MOVSB of 8 bytes straddling a page: guest RAM -> device. */
	memcpy(ram + 4096 - 4, "ABCDEFGH", 8);
	xen_kick0(e, (struct ioreq){ .addr = 0xfe000100, .data = gpa,
	    .count = 8, .size = 1, .dir = IOREQ_WRITE, .data_is_ptr = 1,
	    .type = IOREQ_TYPE_COPY });
	assert_memory_equal(dev.regs + 0x100, "ABCDEFGH", 8);
	assert_int_equal(X.maps, 1);

	/* And back, into RAM: the pages are reported dirty. */
	memcpy(dev.regs + 0x200, "12345678", 8);
	xen_kick0(e, (struct ioreq){ .addr = 0xfe000200, .data = gpa + 16,
	    .count = 8, .size = 1, .dir = IOREQ_READ, .data_is_ptr = 1,
	    .type = IOREQ_TYPE_COPY });
	assert_memory_equal(ram + 4096 + 12, "12345678", 8);
	assert_int_not_equal(find_log("dirty 0x101 1"), UINT32_MAX);
	assert_int_equal(X.maps, 1);	/* same bucket, cached */

	/* A buffer running into a hole after guest RAM: nothing copied. */
	dev.nlog = 0;
	xen_kick0(e, (struct ioreq){ .addr = 0xfe000000,
	    .data = (uint64_t)(RAM_GFN + RAM_PAGES) * 4096 - 2, .count = 4,
	    .size = 1, .dir = IOREQ_WRITE, .data_is_ptr = 1,
	    .type = IOREQ_TYPE_COPY });
	assert_int_equal(dev.nlog, 0);
	assert_int_equal(slots()[0].state, STATE_IORESP_READY);

	/* INVALIDATE drops every mapping. */
	xen_kick0(e, (struct ioreq){ .type = IOREQ_TYPE_INVALIDATE,
	    .size = 4, .count = 1, .data = ~0ull });
	assert_int_equal(X.unmaps, X.maps);
	ioreq_source_close(s, true);
	assert_int_equal(X.unmaps, X.maps);
	munmap(ram, (size_t)RAM_PAGES * 4096);
}

static void
mem__lru_bounded(void **state)
{
	struct ioreq_source *s;
	struct ioreq_mem *m;
	uint8_t b;
	unsigned i;

	assert_int_equal(ioreq_xen_open(&cfg_create, &s), 0);
	m = ioreq_source_mem(s);
	/* 40 buckets touched: at most 32 stay mapped. */
	for (i = 0; i < 40; i++)
		assert_int_equal(ioreq_mem_read(m, ((uint64_t)RAM_GFN +
		    i * IOREQ_XEN_BUCKET_PAGES) * 4096, &b, 1), 0);
	assert_int_equal(X.maps, 40);
	assert_int_equal(X.unmaps, 40 - IOREQ_XEN_MAX_BUCKETS);
	/* The newest is cached, the oldest was evicted. */
	assert_int_equal(ioreq_mem_read(m, ((uint64_t)RAM_GFN +
	    39 * IOREQ_XEN_BUCKET_PAGES) * 4096, &b, 1), 0);
	assert_int_equal(X.maps, 40);
	assert_int_equal(ioreq_mem_read(m, (uint64_t)RAM_GFN * 4096, &b, 1),
	    0);
	assert_int_equal(X.maps, 41);
	/* A failed map is an error, not a crash. */
	fail_call("fm_map", 0, EIO);
	assert_int_equal(ioreq_mem_read(m, 0x40000000000ull, &b, 1), -EFAULT);
	fail_call(NULL, 0, 0);
	/* Below guest RAM: a hole in a mapped bucket. */
	assert_int_equal(ioreq_mem_read(m, 0, &b, 1), -EFAULT);
	ioreq_source_close(s, true);
	assert_int_equal(X.unmaps, X.maps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(open__sequence_and_close),
		T(open__every_failure_unwinds_in_mirror),
		T(open__clear_messages),
		T(enable__binds_after_enable_and_serves),
		T(enable__failures_unwind),
		T(ranges__failures),
		T(quiesce__answers_before_disable),
		T(close__destroy_answers_pending_first),
		T(close__keep_leaves_server_enabled),
		T(reattach__serves_ready_and_inprocess),
		T(reattach__missing_server),
		T(bufioreq__ring_mapped_bound_and_drained),
		T(death__watch_and_check),
		T(mem__rep_through_mapcache),
		T(mem__lru_bounded),
#undef T
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
