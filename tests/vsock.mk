# SPDX-License-Identifier: MIT
# Tests of the vsock area: appended to check_PROGRAMS inside if HAVE_CMOCKA where cmocka is used.
if HAVE_CMOCKA
noinst_LIBRARIES += tests/libvguest.a
tests_libvguest_a_SOURCES = %reldir%/fakes/vguest.h %reldir%/fakes/vguest.c
tests_libvguest_a_CFLAGS = $(TEST_CFLAGS)

check_PROGRAMS += tests/unit/test_vsock_connect_line
tests_unit_test_vsock_connect_line_SOURCES = %reldir%/unit/test_vsock_connect_line.c
tests_unit_test_vsock_connect_line_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_connect_line_LDADD = src/vsock/libvsock.a $(TEST_LIBS)
TESTS += tests/unit/test_vsock_connect_line

check_PROGRAMS += tests/unit/test_vsock_mux
tests_unit_test_vsock_mux_SOURCES = %reldir%/unit/test_vsock_mux.c
tests_unit_test_vsock_mux_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_mux_LDADD = tests/libvguest.a src/vsock/libvsock.a \
	$(TEST_LIBS)
TESTS += tests/unit/test_vsock_mux
endif
