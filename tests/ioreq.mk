# SPDX-License-Identifier: MIT
# Tests of the ioreq area: the engine over the fake page, a hostile page,
# guest memory, the shm source across processes, and (with Xen and ld
# --wrap) the Xen server against wrapped libraries.
if HAVE_CMOCKA
IOREQ_TEST_HARNESS = %reldir%/unit/ioreq_harness.c %reldir%/unit/ioreq_harness.h
IOREQ_TEST_LIBS = $(FAKE_GUEST_LIBS) $(IOREQ_LIBS) $(TEST_LIBS)

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

check_PROGRAMS += tests/unit/test_ioreq_mem_word
tests_unit_test_ioreq_mem_word_SOURCES = %reldir%/unit/test_ioreq_mem_word.c
tests_unit_test_ioreq_mem_word_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ioreq_mem_word_LDADD = $(IOREQ_TEST_LIBS)
TESTS += tests/unit/test_ioreq_mem_word

check_PROGRAMS += tests/unit/test_ioreq_shm
tests_unit_test_ioreq_shm_SOURCES = %reldir%/unit/test_ioreq_shm.c \
	$(IOREQ_TEST_HARNESS)
tests_unit_test_ioreq_shm_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ioreq_shm_LDADD = $(IOREQ_TEST_LIBS)
TESTS += tests/unit/test_ioreq_shm

# The Xen server against the Xen libraries wrapped at link time: every
# library entry point it uses is replaced, and the real libraries are not
# linked, so a missed wrapper is a link error, never a real hypercall.
if HAVE_XEN
if HAVE_LD_WRAP
IOREQ_XEN_WRAP = -Wl,--wrap=xendevicemodel_open,--wrap=xendevicemodel_close \
	-Wl,--wrap=xendevicemodel_nr_vcpus \
	-Wl,--wrap=xendevicemodel_create_ioreq_server \
	-Wl,--wrap=xendevicemodel_get_ioreq_server_info \
	-Wl,--wrap=xendevicemodel_map_io_range_to_ioreq_server \
	-Wl,--wrap=xendevicemodel_set_ioreq_server_state \
	-Wl,--wrap=xendevicemodel_destroy_ioreq_server \
	-Wl,--wrap=xendevicemodel_inject_msi \
	-Wl,--wrap=xendevicemodel_restrict \
	-Wl,--wrap=xendevicemodel_modified_memory \
	-Wl,--wrap=xenforeignmemory_open,--wrap=xenforeignmemory_close \
	-Wl,--wrap=xenforeignmemory_map_resource \
	-Wl,--wrap=xenforeignmemory_unmap_resource \
	-Wl,--wrap=xenforeignmemory_map,--wrap=xenforeignmemory_unmap \
	-Wl,--wrap=xenforeignmemory_restrict \
	-Wl,--wrap=xc_interface_open,--wrap=xc_interface_close \
	-Wl,--wrap=xc_domain_getinfolist \
	-Wl,--wrap=xentoolcore_restrict_all \
	-Wl,--wrap=xs_open,--wrap=xs_close,--wrap=xs_watch,--wrap=xs_unwatch \
	-Wl,--wrap=xs_fileno,--wrap=xs_check_watch \
	-Wl,--wrap=notifier_open,--wrap=notifier_close \
	-Wl,--wrap=notifier_bind,--wrap=notifier_unbind \
	-Wl,--wrap=notifier_notify,--wrap=notifier_restrict \
	-Wl,--wrap=notifier_next,--wrap=notifier_fd \
	-Wl,--wrap=notifier_end_cycle

check_PROGRAMS += tests/unit/test_ioreq_xen
tests_unit_test_ioreq_xen_SOURCES = %reldir%/unit/test_ioreq_xen.c
tests_unit_test_ioreq_xen_CFLAGS = $(TEST_CFLAGS) $(XEN_CFLAGS)
tests_unit_test_ioreq_xen_LDFLAGS = $(AM_LDFLAGS) $(IOREQ_XEN_WRAP)
tests_unit_test_ioreq_xen_LDADD = src/ioreq/libioreq.a $(TEST_LIBS)
TESTS += tests/unit/test_ioreq_xen
endif
endif
endif
