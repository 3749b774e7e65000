# SPDX-License-Identifier: MIT
# Fault injection: servers killed and restarted, host peers
# killed, directories removed, resets, limits, stalled guests, EMFILE.
# docs/SECURITY.md maps each defence to its test.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fault_restart
tests_unit_test_fault_restart_SOURCES = %reldir%/unit/test_fault_restart.c
tests_unit_test_fault_restart_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fault_restart_LDADD = $(FAKE_GUEST_LIBS) src/ioreq/libioreq.a $(NOTIFY_LIBS) \
	$(TEST_LIBS)
TESTS += tests/unit/test_fault_restart
endif

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fault_vsock
tests_unit_test_fault_vsock_SOURCES = %reldir%/unit/test_fault_vsock.c
tests_unit_test_fault_vsock_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fault_vsock_LDADD = tests/libvguest.a src/vsock/libvsock.a \
	$(TEST_LIBS)
TESTS += tests/unit/test_fault_vsock
endif

# memcheck with fd tracking over the loopback end-to-end suites (.ci/run).
VALGRIND_TESTS = tests/unit/test_vsock_mux tests/unit/test_ioreq_shm \
	tests/unit/test_fault_restart tests/unit/test_fault_vsock \
	tests/fuzz/replay_ioreq_page tests/fuzz/replay_vsock_mux \
	tests/fuzz/replay_attach tests/fuzz/replay_conf \
	tests/fuzz/replay_vsock_dev tests/fuzz/replay_vsock_devmux \
	tests/unit/test_binding_evtchn tests/unit/test_binding \
	tests/unit/test_binding_doorbell \
	tests/unit/test_loop
EXTRA_DIST += %reldir%/valgrind-check
check-valgrind: $(check_PROGRAMS) $(sbin_PROGRAMS)
	$(SHELL) $(top_srcdir)/tests/valgrind-check $(abs_top_srcdir) \
	    $(abs_top_builddir) \
	    --daemon-test $(abs_top_srcdir)/tests/faults/daemon-faults.test \
	    --daemon-test $(abs_top_srcdir)/tests/daemon/kvm-restart.test \
	    $(VALGRIND_TESTS)
.PHONY: check-valgrind

# The daemon itself (hcvsockd --loopback, socat peers): SIGKILL/restart,
# lost doorbells, host peers killed, the socket directory emptied.
check_SCRIPTS += %reldir%/faults/daemon-faults.test
EXTRA_DIST += %reldir%/faults/daemon-faults.test
TESTS += %reldir%/faults/daemon-faults.test
