# SPDX-License-Identifier: MIT
# cmocka suites: one driver per module, all linked against the module
# libraries the daemon uses.

# The fake guest that produces requests on a fake ioreq page (test-only:
# the daemon only serves pages).  Link it before src/ioreq/libioreq.a.
noinst_LIBRARIES += tests/libfakeguest.a
tests_libfakeguest_a_SOURCES = %reldir%/fakes/fake_guest.c \
	%reldir%/fakes/fake_guest.h %reldir%/fakes/fake_plat.c \
	%reldir%/fakes/fake_plat.h %reldir%/fakes/fake_srv.c \
	%reldir%/fakes/fake_srv.h
FAKE_GUEST_LIBS = tests/libfakeguest.a

if HAVE_CMOCKA
noinst_LIBRARIES += tests/libtestfakes.a
tests_libtestfakes_a_SOURCES = %reldir%/fakes/test_common.h \
	%reldir%/fakes/test_common.c %reldir%/fakes/rec_dev.c \
	%reldir%/fakes/rec_dev.h %reldir%/fakes/pic8259_asm.h
tests_libtestfakes_a_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)

TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -I$(top_srcdir)/tests/fakes
TEST_LIBS = tests/libtestfakes.a src/common/libcommon.a $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_log
tests_unit_test_log_SOURCES = %reldir%/unit/test_log.c
tests_unit_test_log_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_log_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_log

check_PROGRAMS += tests/unit/test_loop
tests_unit_test_loop_SOURCES = %reldir%/unit/test_loop.c
tests_unit_test_loop_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_loop_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_loop
endif

include %reldir%/notify.mk
include %reldir%/ioreq.mk
include %reldir%/vsock.mk
include %reldir%/daemon.mk
include %reldir%/kvm.mk
include %reldir%/xen.mk
include %reldir%/fuzz.mk
include %reldir%/faults.mk

