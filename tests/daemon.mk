# SPDX-License-Identifier: MIT
# Tests of the daemon area: appended to check_PROGRAMS inside if HAVE_CMOCKA where cmocka is used.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_conf
tests_unit_test_conf_SOURCES = %reldir%/unit/test_conf.c
tests_unit_test_conf_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_conf_LDADD = src/daemon/libdaemon.a $(TEST_LIBS)
TESTS += tests/unit/test_conf
endif
