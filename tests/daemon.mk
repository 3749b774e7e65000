# SPDX-License-Identifier: MIT
# Tests of the daemon area: appended to check_PROGRAMS inside if HAVE_CMOCKA where cmocka is used.

# The runtime against a recording service, and a minimal fake guest for
# the loopback hand-off: helpers, not tests.
check_PROGRAMS += tests/daemon/hcvsockd-fake tests/daemon/lb_guest \
	tests/daemon/e2e_guest
tests_daemon_hcvsockd_fake_SOURCES = src/daemon/main.c \
	%reldir%/daemon/fake_service.c
tests_daemon_hcvsockd_fake_LDADD = $(DAEMON_LIBS)
tests_daemon_lb_guest_SOURCES = %reldir%/daemon/lb_guest.c
tests_daemon_lb_guest_LDADD = $(DAEMON_LIBS)
# The real guest driver over a fake ioreq page, in its own process.
tests_daemon_e2e_guest_SOURCES = %reldir%/daemon/e2e_guest.c
tests_daemon_e2e_guest_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_daemon_e2e_guest_LDADD = $(FAKE_GUEST_LIBS) $(DAEMON_LIBS) \
	guest/libhcvsock_guest.a

DAEMON_SHELL_TESTS = \
	%reldir%/daemon/conf.test \
	%reldir%/daemon/cli.test \
	%reldir%/daemon/runtime.test \
	%reldir%/daemon/e2e.test \
	%reldir%/daemon/status.test \
	%reldir%/daemon/seqpacket.test \
	%reldir%/daemon/tcp.test \
	%reldir%/daemon/kvm.test \
	%reldir%/daemon/kvm-restart.test \
	%reldir%/daemon/init.test \
	%reldir%/daemon/man.test \
	%reldir%/daemon/demo.test \
	%reldir%/daemon/running.test
check_SCRIPTS += $(DAEMON_SHELL_TESTS)
EXTRA_DIST += $(DAEMON_SHELL_TESTS) %reldir%/daemon/lib.sh tools/demo
TESTS += $(DAEMON_SHELL_TESTS)
EXTRA_DIST += %reldir%/conf

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_conf tests/unit/test_daemon

# The per-guest binding over the fake ioreq page (its poll windows).
check_PROGRAMS += tests/unit/test_binding
tests_unit_test_binding_SOURCES = %reldir%/unit/test_binding.c
tests_unit_test_binding_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_binding_LDADD = $(FAKE_GUEST_LIBS) $(BINDING_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_binding
tests_unit_test_conf_SOURCES = %reldir%/unit/test_conf.c
tests_unit_test_conf_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_conf_LDADD = src/daemon/libdaemon.a $(TEST_LIBS)
tests_unit_test_daemon_SOURCES = %reldir%/unit/test_daemon.c \
	%reldir%/daemon/fake_service.c
tests_unit_test_daemon_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_daemon_LDADD = $(DAEMON_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_conf tests/unit/test_daemon

# The shared AF_UNIX plumbing under every listener that uses it; bind() is
# wrapped so that a test can race a symlink in right after it.
check_PROGRAMS += tests/unit/test_usock
tests_unit_test_usock_SOURCES = %reldir%/unit/test_usock.c
tests_unit_test_usock_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_usock_LDFLAGS = -Wl,--wrap=bind
tests_unit_test_usock_LDADD = $(ATTACH_VSOCK_LIBS) $(DAEMON_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_usock
endif
