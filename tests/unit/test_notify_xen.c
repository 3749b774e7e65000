/* SPDX-License-Identifier: MIT */
/*
 * The "xen" notifier backend against libxenevtchn wrapped at link time
 * (-Wl,--wrap=xenevtchn_*): every call it makes, with which arguments,
 * and what it does with each answer the library can give.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xenevtchn.h>

#include "notify/notify.h"
#include "test_common.h"

/* The library as the backend sees it. */

static char fake_handle_storage;
#define FAKE_XCE	((xenevtchn_handle *)(void *)&fake_handle_storage)

/* Stands in for /dev/xen/evtchn: readable when the test writes to it. */
static int fake_evtchn_fd = -1;

/* Ports passed to xenevtchn_unbind(), in call order. */
static uint32_t unbound[64];
static unsigned nunbound;

xenevtchn_handle *__wrap_xenevtchn_open(struct xentoollog_logger *,
    unsigned int);
int __wrap_xenevtchn_close(xenevtchn_handle *);
int __wrap_xenevtchn_fd(xenevtchn_handle *);
xenevtchn_port_or_error_t __wrap_xenevtchn_bind_interdomain(
    xenevtchn_handle *, uint32_t, evtchn_port_t);
int __wrap_xenevtchn_unbind(xenevtchn_handle *, evtchn_port_t);
xenevtchn_port_or_error_t __wrap_xenevtchn_pending(xenevtchn_handle *);
int __wrap_xenevtchn_unmask(xenevtchn_handle *, evtchn_port_t);
int __wrap_xenevtchn_notify(xenevtchn_handle *, evtchn_port_t);
int __wrap_xenevtchn_restrict(xenevtchn_handle *, domid_t);

/*
 * A mocked return: on -1 the next queued value is errno.  A macro, as
 * mock() keys its queue on the calling function's name.
 */
#define mock_rc() __extension__ ({					\
	int rc_ = mock_type(int);					\
									\
	if (rc_ < 0)							\
		errno = mock_type(int);					\
	rc_;								\
})

xenevtchn_handle *
__wrap_xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
	xenevtchn_handle *h;

	assert_null(logger);
	/* O_CLOEXEC stays on: no XENEVTCHN_NO_CLOEXEC. */
	assert_int_equal(flags, 0);
	h = mock_ptr_type(xenevtchn_handle *);
	if (h == NULL)
		errno = mock_type(int);
	return h;
}

int
__wrap_xenevtchn_close(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, FAKE_XCE);
	function_called();
	return 0;
}

int
__wrap_xenevtchn_fd(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, FAKE_XCE);
	return fake_evtchn_fd;
}

xenevtchn_port_or_error_t
__wrap_xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
    evtchn_port_t remote_port)
{
	assert_ptr_equal(xce, FAKE_XCE);
	check_expected(domid);
	check_expected(remote_port);
	return mock_rc();
}

int
__wrap_xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, FAKE_XCE);
	assert_true(nunbound < ARRAY_SIZE(unbound));
	unbound[nunbound++] = port;
	return mock_rc();
}

xenevtchn_port_or_error_t
__wrap_xenevtchn_pending(xenevtchn_handle *xce)
{
	struct pollfd p = { .fd = fake_evtchn_fd, .events = POLLIN };

	assert_ptr_equal(xce, FAKE_XCE);
	/* The real call can block: only ever made after poll() said so. */
	assert_int_equal(poll(&p, 1, 0), 1);
	return mock_rc();
}

int
__wrap_xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, FAKE_XCE);
	check_expected(port);
	return mock_rc();
}

int
__wrap_xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, FAKE_XCE);
	check_expected(port);
	return mock_rc();
}

int
__wrap_xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	assert_ptr_equal(xce, FAKE_XCE);
	check_expected(domid);
	return mock_rc();
}

/* Helpers. */

#define DOMID	7

static void
evtchn_readable(bool on)
{
	uint64_t v = 1;

	if (on) {
		assert_int_equal(write(fake_evtchn_fd, &v, sizeof(v)),
		    sizeof(v));
	} else {
		/* Non-blocking: EAGAIN when already drained. */
		(void)!read(fake_evtchn_fd, &v, sizeof(v));
	}
}

/* The driver reports `port` pending; the backend unmasks it, which works. */
static void
pending_then_unmasked(uint32_t port)
{
	will_return(__wrap_xenevtchn_pending, port);
	expect_value(__wrap_xenevtchn_unmask, port, port);
	will_return(__wrap_xenevtchn_unmask, 0);
}

static struct notifier *
open_ok(uint32_t domid)
{
	struct notifier *n = NULL;

	will_return(__wrap_xenevtchn_open, FAKE_XCE);
	assert_int_equal(notifier_open("xen", domid, &n), 0);
	assert_non_null(n);
	assert_string_equal(notifier_backend(n), "xen");
	return n;
}

static void
close_ok(struct notifier *n, unsigned ports)
{
	unsigned i;

	for (i = 0; i < ports; i++)
		will_return(__wrap_xenevtchn_unbind, 0);
	expect_function_call(__wrap_xenevtchn_close);
	nunbound = 0;
	notifier_close(n);
	assert_int_equal(nunbound, ports);
}

static uint32_t
bind_ok(struct notifier *n, uint32_t domid, uint32_t remote, int local)
{
	struct notify_bind b = { .kind = NOTIFY_BIND_EVTCHN,
	    .remote_port = remote, .rx_fd = -1, .tx_fd = -1 };
	uint32_t l = NOTIFY_PORT_INVALID;

	expect_value(__wrap_xenevtchn_bind_interdomain, domid, domid);
	expect_value(__wrap_xenevtchn_bind_interdomain, remote_port, remote);
	will_return(__wrap_xenevtchn_bind_interdomain, local);
	assert_int_equal(notifier_bind(n, &b, &l), 0);
	assert_int_equal(l, (uint32_t)local);
	return l;
}

static int
setup(void **state)
{
	(void)state;
	fake_evtchn_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(fake_evtchn_fd >= 0);
	nunbound = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	close(fake_evtchn_fd);
	fake_evtchn_fd = -1;
	return 0;
}

/* Cases. */

static void
open__errors(void **state)
{
	struct notifier *n = NULL;

	(void)state;
	will_return(__wrap_xenevtchn_open, NULL);
	will_return(__wrap_xenevtchn_open, ENOENT);
	assert_int_equal(notifier_open("xen", DOMID, &n), -ENODEV);
	will_return(__wrap_xenevtchn_open, NULL);
	will_return(__wrap_xenevtchn_open, EACCES);
	assert_int_equal(notifier_open("xen", DOMID, &n), -EACCES);
	assert_null(n);
	/* Not a domid: refused before the library is asked. */
	assert_int_equal(notifier_open("xen", -1, &n), -EINVAL);
	assert_int_equal(notifier_open("xen", 0x7ff0, &n), -EINVAL);
	assert_int_equal(notifier_open("xen", 0x100000000LL, &n), -EINVAL);
	assert_null(n);
}

static void
bind__maps_remote_to_local(void **state)
{
	struct notifier *n;
	struct notify_bind b = { .kind = NOTIFY_BIND_EVTCHN, .rx_fd = -1,
	    .tx_fd = -1 };
	uint32_t l;

	(void)state;
	n = open_ok(DOMID);
	assert_int_equal(bind_ok(n, DOMID, 5, 42), 42);
	assert_int_equal(bind_ok(n, DOMID, 6, 43), 43);
	/* The same guest port twice: ours to refuse, no library call. */
	b.remote_port = 5;
	l = NOTIFY_PORT_INVALID;
	assert_int_equal(notifier_bind(n, &b, &l), -EEXIST);
	assert_int_equal(l, NOTIFY_PORT_INVALID);
	/* Port 0 is a real local port number. */
	assert_int_equal(bind_ok(n, DOMID, 9, 0), 0);
	/* Many ports: the table grows. */
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(bind_ok(n, DOMID, 100 + i, 200 + (int)i),
		    200 + i);
	close_ok(n, 43);
}

static void
bind__errors_propagate(void **state)
{
	struct notifier *n;
	struct notify_bind b = { .kind = NOTIFY_BIND_EVTCHN, .rx_fd = -1,
	    .tx_fd = -1 };
	static const int errs[] = { EINVAL, ESRCH, EPERM, ENOSPC };
	uint32_t l = NOTIFY_PORT_INVALID;
	unsigned i;

	(void)state;
	n = open_ok(3);
	for (i = 0; i < ARRAY_SIZE(errs); i++) {
		b.remote_port = 11 + i;
		expect_value(__wrap_xenevtchn_bind_interdomain, domid, 3);
		expect_value(__wrap_xenevtchn_bind_interdomain, remote_port,
		    b.remote_port);
		will_return(__wrap_xenevtchn_bind_interdomain, -1);
		will_return(__wrap_xenevtchn_bind_interdomain, errs[i]);
		assert_int_equal(notifier_bind(n, &b, &l), -errs[i]);
		assert_int_equal(l, NOTIFY_PORT_INVALID);
	}
	/* A failed bind is not a bound port. */
	assert_int_equal(notifier_unbind(n, 11), -ENOENT);
	/* Kinds of the eventfd backends: refused without a call. */
	b.kind = NOTIFY_BIND_IOEVENTFD;
	assert_int_equal(notifier_bind(n, &b, &l), -EINVAL);
	b.kind = NOTIFY_BIND_IRQFD;
	assert_int_equal(notifier_bind(n, &b, &l), -EINVAL);
	b.kind = NOTIFY_BIND_LOOP;
	assert_int_equal(notifier_bind(n, &b, &l), -EINVAL);
	b.kind = NOTIFY_BIND_EVENTFDS;
	assert_int_equal(notifier_bind(n, &b, &l), -EINVAL);
	close_ok(n, 0);
}

static void
next__pending_then_unmask(void **state)
{
	struct notifier *n;
	uint32_t l;
	uint64_t count = 0;

	(void)state;
	n = open_ok(DOMID);
	bind_ok(n, DOMID, 5, 42);
	bind_ok(n, DOMID, 6, 43);
	assert_int_equal(notifier_fd(n), fake_evtchn_fd);

	/* Nothing readable: pending() would block, so it is not called. */
	assert_int_equal(notifier_next(n, &l, &count), 0);
	assert_int_equal(notifier_wait(n, 10), 0);

	evtchn_readable(true);
	assert_int_equal(notifier_wait(n, 10), 1);
	/* Every port returned is unmasked in the same call. */
	pending_then_unmasked(43);
	assert_int_equal(notifier_next(n, &l, &count), 1);
	assert_int_equal(l, 43);
	assert_int_equal(count, 1);
	pending_then_unmasked(42);
	assert_int_equal(notifier_next(n, &l, NULL), 1);
	assert_int_equal(l, 42);
	pending_then_unmasked(42);
	assert_int_equal(notifier_next(n, &l, &count), 1);
	assert_int_equal(l, 42);
	/* Drained: the driver says EAGAIN. */
	will_return(__wrap_xenevtchn_pending, -1);
	will_return(__wrap_xenevtchn_pending, EAGAIN);
	assert_int_equal(notifier_next(n, &l, &count), 0);
	close_ok(n, 2);
}

static void
next__pending_minus_one_is_an_error(void **state)
{
	struct notifier *n;
	uint32_t l = 12345;
	uint64_t count = 0;

	(void)state;
	n = open_ok(DOMID);
	bind_ok(n, DOMID, 5, 42);
	evtchn_readable(true);
	/*
	 * -1 is not port 0xffffffff: no unmask (strict mocks would fail),
	 * nothing returned, errno passed up.
	 */
	will_return(__wrap_xenevtchn_pending, -1);
	will_return(__wrap_xenevtchn_pending, EIO);
	assert_int_equal(notifier_next(n, &l, &count), -EIO);
	assert_int_equal(l, 12345);
	assert_int_equal(count, 0);
	/* An unmask failure too: the port would never fire again. */
	will_return(__wrap_xenevtchn_pending, 42);
	expect_value(__wrap_xenevtchn_unmask, port, 42);
	will_return(__wrap_xenevtchn_unmask, -1);
	will_return(__wrap_xenevtchn_unmask, EINVAL);
	assert_int_equal(notifier_next(n, &l, &count), -EINVAL);
	close_ok(n, 1);
}

static void
next__unknown_port_skipped(void **state)
{
	struct notifier *n;
	uint32_t l;
	uint64_t count;

	(void)state;
	n = open_ok(DOMID);
	bind_ok(n, DOMID, 5, 42);
	evtchn_readable(true);
	/* Not ours (unbound while pending): no unmask, no report. */
	will_return(__wrap_xenevtchn_pending, 99);
	pending_then_unmasked(42);
	assert_int_equal(notifier_next(n, &l, &count), 1);
	assert_int_equal(l, 42);
	/* A flood of strangers ends the call, it does not spin. */
	will_return_count(__wrap_xenevtchn_pending, 98, 3);
	assert_int_equal(notifier_next(n, &l, &count), 0);
	close_ok(n, 1);
}

static void
unbind__known_and_unknown(void **state)
{
	struct notifier *n;
	uint32_t l;
	uint64_t count;

	(void)state;
	n = open_ok(DOMID);
	bind_ok(n, DOMID, 5, 42);
	bind_ok(n, DOMID, 6, 43);
	bind_ok(n, DOMID, 8, 45);
	assert_int_equal(notifier_unbind(n, 44), -ENOENT);
	assert_int_equal(notifier_unbind(n, NOTIFY_PORT_INVALID), -ENOENT);
	assert_int_equal(nunbound, 0);

	will_return(__wrap_xenevtchn_unbind, 0);
	assert_int_equal(notifier_unbind(n, 42), 0);
	assert_int_equal(nunbound, 1);
	assert_int_equal(unbound[0], 42);
	assert_int_equal(notifier_unbind(n, 42), -ENOENT);
	assert_int_equal(notifier_notify(n, 42), -ENOENT);
	/* Its guest port may be bound again. */
	bind_ok(n, DOMID, 5, 46);

	/* The library refuses: reported, and the port is gone anyway. */
	will_return(__wrap_xenevtchn_unbind, -1);
	will_return(__wrap_xenevtchn_unbind, EINVAL);
	assert_int_equal(notifier_unbind(n, 43), -EINVAL);
	assert_int_equal(notifier_unbind(n, 43), -ENOENT);

	/* An event for an unbound port after unbind is skipped. */
	evtchn_readable(true);
	will_return(__wrap_xenevtchn_pending, 43);
	will_return(__wrap_xenevtchn_pending, -1);
	will_return(__wrap_xenevtchn_pending, EAGAIN);
	assert_int_equal(notifier_next(n, &l, &count), 0);

	/* close unbinds exactly what is left: 45 and 46. */
	will_return_count(__wrap_xenevtchn_unbind, 0, 2);
	expect_function_call(__wrap_xenevtchn_close);
	nunbound = 0;
	notifier_close(n);
	assert_int_equal(nunbound, 2);
	assert_true((unbound[0] == 45 && unbound[1] == 46) ||
	    (unbound[0] == 46 && unbound[1] == 45));
}

static void
notify__bound_only(void **state)
{
	struct notifier *n;

	(void)state;
	n = open_ok(DOMID);
	bind_ok(n, DOMID, 5, 42);
	expect_value(__wrap_xenevtchn_notify, port, 42);
	will_return(__wrap_xenevtchn_notify, 0);
	assert_int_equal(notifier_notify(n, 42), 0);
	assert_int_equal(notifier_notify(n, 5), -ENOENT);
	expect_value(__wrap_xenevtchn_notify, port, 42);
	will_return(__wrap_xenevtchn_notify, -1);
	will_return(__wrap_xenevtchn_notify, ENOTCONN);
	assert_int_equal(notifier_notify(n, 42), -ENOTCONN);
	close_ok(n, 1);
}

static void
restrict__passes_domid(void **state)
{
	struct notifier *n;

	(void)state;
	n = open_ok(DOMID);
	expect_value(__wrap_xenevtchn_restrict, domid, DOMID);
	will_return(__wrap_xenevtchn_restrict, 0);
	assert_int_equal(notifier_restrict(n, DOMID), 0);
	expect_value(__wrap_xenevtchn_restrict, domid, 12);
	will_return(__wrap_xenevtchn_restrict, -1);
	will_return(__wrap_xenevtchn_restrict, EPERM);
	assert_int_equal(notifier_restrict(n, 12), -EPERM);
	/* DOMID_SELF and above are not domains to confine to. */
	assert_int_equal(notifier_restrict(n, 0x7ff0), -EINVAL);
	assert_int_equal(notifier_restrict(n, UINT32_MAX), -EINVAL);
	close_ok(n, 0);
}

static void
misc__no_busy_poll_no_peer(void **state)
{
	struct notifier *n;
	int k, i;

	(void)state;
	n = open_ok(DOMID);
	assert_int_equal(notifier_set_busy_poll(n, 0), 0);
	assert_int_equal(notifier_set_busy_poll(n, 1000), -EOPNOTSUPP);
	assert_int_equal(notifier_loop_peer(n, 0, &k, &i), -EINVAL);
	close_ok(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(open__errors, setup, teardown),
		cmocka_unit_test_setup_teardown(bind__maps_remote_to_local,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(bind__errors_propagate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(next__pending_then_unmask,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    next__pending_minus_one_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(next__unknown_port_skipped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(unbind__known_and_unknown,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(notify__bound_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(restrict__passes_domid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(misc__no_busy_poll_no_peer,
		    setup, teardown),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests_name("notify xen (wrapped libxenevtchn)",
	    tests, NULL, NULL);
}
