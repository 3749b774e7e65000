# SPDX-License-Identifier: MIT
# Tests of the vsock area: appended to check_PROGRAMS inside if HAVE_CMOCKA where cmocka is used.

# ---- vsockdev block: the device and the guest driver ------------------------
# Until the real muxer and ioreq memory are on main, these tests link small
# test doubles (tests/fakes/fake_vsock_mux.c, fake_ioreq_mem.c).
if HAVE_CMOCKA
noinst_LIBRARIES += tests/libvsocktestenv.a
tests_libvsocktestenv_a_SOURCES = %reldir%/fakes/vsock_testenv.c \
	%reldir%/fakes/vsock_testenv.h \
	%reldir%/fakes/fake_vsock_mux.c %reldir%/fakes/fake_vsock_mux.h \
	%reldir%/fakes/fake_ioreq_mem.c
tests_libvsocktestenv_a_CFLAGS = $(TEST_CFLAGS)
VSOCKDEV_TEST_LIBS = tests/libvsocktestenv.a src/vsock/libvsockdev.a \
	guest/libhcvsock_guest.a $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_vsock_dev
tests_unit_test_vsock_dev_SOURCES = %reldir%/unit/test_vsock_dev.c
tests_unit_test_vsock_dev_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_dev_LDADD = $(VSOCKDEV_TEST_LIBS)
TESTS += tests/unit/test_vsock_dev

check_PROGRAMS += tests/unit/test_vsock_guest
tests_unit_test_vsock_guest_SOURCES = %reldir%/unit/test_vsock_guest.c
tests_unit_test_vsock_guest_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_guest_LDADD = $(VSOCKDEV_TEST_LIBS)
TESTS += tests/unit/test_vsock_guest
endif
# ---- end of vsockdev block ---------------------------------------------------
