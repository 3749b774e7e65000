# SPDX-License-Identifier: MIT
# Tests of the ioreq area: the engine over the fake page, a hostile page,
# guest memory, the shm source across processes, and (with Xen and ld
# --wrap) the Xen server against wrapped libraries.
if HAVE_CMOCKA
# Until src/notify lands, a loop-backend stand-in carries the doorbells.
noinst_LIBRARIES += tests/libnotifystandin.a
tests_libnotifystandin_a_SOURCES = %reldir%/fakes/notify_standin.c
tests_libnotifystandin_a_CFLAGS = $(AM_CFLAGS)
IOREQ_TEST_NOTIFY = tests/libnotifystandin.a

IOREQ_TEST_HARNESS = %reldir%/unit/ioreq_harness.c %reldir%/unit/ioreq_harness.h
IOREQ_TEST_LIBS = src/ioreq/libioreq.a $(IOREQ_TEST_NOTIFY) $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_ioreq_engine
tests_unit_test_ioreq_engine_SOURCES = %reldir%/unit/test_ioreq_engine.c \
	$(IOREQ_TEST_HARNESS)
tests_unit_test_ioreq_engine_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ioreq_engine_LDADD = $(IOREQ_TEST_LIBS)
TESTS += tests/unit/test_ioreq_engine

check_PROGRAMS += tests/unit/test_ioreq_hostile
tests_unit_test_ioreq_hostile_SOURCES = %reldir%/unit/test_ioreq_hostile.c \
	$(IOREQ_TEST_HARNESS)
tests_unit_test_ioreq_hostile_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ioreq_hostile_LDADD = $(IOREQ_TEST_LIBS)
TESTS += tests/unit/test_ioreq_hostile

check_PROGRAMS += tests/unit/test_ioreq_mem
tests_unit_test_ioreq_mem_SOURCES = %reldir%/unit/test_ioreq_mem.c
tests_unit_test_ioreq_mem_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ioreq_mem_LDADD = $(IOREQ_TEST_LIBS)
TESTS += tests/unit/test_ioreq_mem

check_PROGRAMS += tests/unit/test_ioreq_shm
tests_unit_test_ioreq_shm_SOURCES = %reldir%/unit/test_ioreq_shm.c \
	$(IOREQ_TEST_HARNESS)
tests_unit_test_ioreq_shm_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ioreq_shm_LDADD = $(IOREQ_TEST_LIBS)
TESTS += tests/unit/test_ioreq_shm
endif
