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

# calloc wrapped at link time: allocation failures on demand.
check_PROGRAMS += tests/unit/test_vsock_mux_oom
tests_unit_test_vsock_mux_oom_SOURCES = %reldir%/unit/test_vsock_mux_oom.c
tests_unit_test_vsock_mux_oom_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_mux_oom_LDFLAGS = -Wl,--wrap=calloc
tests_unit_test_vsock_mux_oom_LDADD = src/vsock/libvsock.a $(TEST_LIBS)
TESTS += tests/unit/test_vsock_mux_oom

# The same driver with socat as the host peer; exits 77 without socat.
check_PROGRAMS += tests/unit/test_vsock_socat
tests_unit_test_vsock_socat_SOURCES = %reldir%/unit/test_vsock_mux.c
tests_unit_test_vsock_socat_CFLAGS = $(TEST_CFLAGS) -DTEST_SOCAT
tests_unit_test_vsock_socat_LDADD = $(tests_unit_test_vsock_mux_LDADD)
TESTS += tests/unit/test_vsock_socat
endif

# ---- vsockdev block: the device and the guest driver ------------------------
# Unit tests of the device and the guest driver use a test double of the
# muxer (tests/fakes/fake_vsock_mux.c) and real memfd guest memory; the
# end-to-end test runs the real muxer through the fake ioreq page.
if HAVE_CMOCKA
noinst_LIBRARIES += tests/libvsocktestenv.a
tests_libvsocktestenv_a_SOURCES = %reldir%/fakes/vsock_testenv.c \
	%reldir%/fakes/vsock_testenv.h \
	%reldir%/fakes/fake_vsock_mux.c %reldir%/fakes/fake_vsock_mux.h \
	%reldir%/fakes/guest_prog.c %reldir%/fakes/guest_prog.h
tests_libvsocktestenv_a_CFLAGS = $(TEST_CFLAGS)
VSOCKDEV_TEST_LIBS = tests/libvsocktestenv.a src/vsock/libvsockdev.a \
	guest/libhcvsock_guest.a $(FAKE_GUEST_LIBS) src/ioreq/libioreq.a \
	$(NOTIFY_LIBS) $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_vsock_dev
tests_unit_test_vsock_dev_SOURCES = %reldir%/unit/test_vsock_dev.c
tests_unit_test_vsock_dev_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_dev_LDADD = $(VSOCKDEV_TEST_LIBS)
# Mailbox loads and stores pass through the test (suppression races).
tests_unit_test_vsock_dev_LDFLAGS = -Wl,--wrap=ioreq_mem_write \
	-Wl,--wrap=ioreq_mem_read
TESTS += tests/unit/test_vsock_dev

check_PROGRAMS += tests/unit/test_vsock_guest
tests_unit_test_vsock_guest_SOURCES = %reldir%/unit/test_vsock_guest.c
tests_unit_test_vsock_guest_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_guest_LDADD = $(VSOCKDEV_TEST_LIBS)
TESTS += tests/unit/test_vsock_guest

# A whole binding with the event-channel doorbell: floods, re-binding.
check_PROGRAMS += tests/unit/test_binding_evtchn
tests_unit_test_binding_evtchn_SOURCES = %reldir%/unit/test_binding_evtchn.c
tests_unit_test_binding_evtchn_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_binding_evtchn_LDFLAGS = -Wl,--wrap=notifier_bind \
	-Wl,--wrap=notifier_unbind
tests_unit_test_binding_evtchn_LDADD = tests/libvsocktestenv.a \
	$(BINDING_LIBS) guest/libhcvsock_guest.a $(FAKE_GUEST_LIBS) \
	src/ioreq/libioreq.a $(NOTIFY_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_binding_evtchn

# A whole binding with the doorbell as an event (KVM's ioeventfd): the
# doorbell's pass before the notifier's reads.
check_PROGRAMS += tests/unit/test_binding_doorbell
tests_unit_test_binding_doorbell_SOURCES = %reldir%/unit/test_binding_doorbell.c
tests_unit_test_binding_doorbell_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_binding_doorbell_LDFLAGS = -Wl,--wrap=notifier_next
tests_unit_test_binding_doorbell_LDADD = tests/libvsocktestenv.a \
	$(BINDING_LIBS) guest/libhcvsock_guest.a $(FAKE_GUEST_LIBS) \
	src/ioreq/libioreq.a $(NOTIFY_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_binding_doorbell

# End to end: guest driver -> fake ioreq page -> engine -> device -> muxer
# -> AF_UNIX host programs.
check_PROGRAMS += tests/unit/test_vsock_e2e
tests_unit_test_vsock_e2e_SOURCES = %reldir%/unit/test_vsock_e2e.c \
	%reldir%/fakes/guest_prog.c %reldir%/fakes/guest_prog.h \
	%reldir%/fakes/fake_vsock.c %reldir%/fakes/fake_vsock.h
tests_unit_test_vsock_e2e_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_e2e_LDADD = src/vsock/libvsockdev.a src/vsock/libvsock.a \
	guest/libhcvsock_guest.a $(FAKE_GUEST_LIBS) src/ioreq/libioreq.a \
	$(NOTIFY_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_vsock_e2e

# Protocol MSG (MigTD's calls) end to end through the fake page.
check_PROGRAMS += tests/unit/test_vsock_msg
tests_unit_test_vsock_msg_SOURCES = %reldir%/unit/test_vsock_msg.c \
	%reldir%/fakes/fake_vsock.c %reldir%/fakes/fake_vsock.h
tests_unit_test_vsock_msg_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_vsock_msg_LDADD = src/vsock/libvsockdev.a src/vsock/libvsock.a \
	guest/libhcvsock_guest.a $(FAKE_GUEST_LIBS) src/ioreq/libioreq.a \
	$(NOTIFY_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_vsock_msg
endif

# The device under a hostile guest program (tests/fuzz/README.md): the
# corpus replays under make check; libFuzzer with --enable-fuzzing.
FUZZ_VSOCKDEV_LIBS = src/vsock/libvsockdev.a src/vsock/libvsock.a \
	src/ioreq/libioreq.a $(NOTIFY_LIBS) src/common/libcommon.a
check_PROGRAMS += tests/fuzz/replay_vsock_dev
TESTS += tests/fuzz/replay_vsock_dev
tests_fuzz_replay_vsock_dev_SOURCES = %reldir%/fuzz/fuzz_vsock_dev.c %reldir%/fuzz/fuzz_ram.c $(FUZZ_REPLAY)
tests_fuzz_replay_vsock_dev_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"vsock_dev"'
tests_fuzz_replay_vsock_dev_LDADD = $(FUZZ_VSOCKDEV_LIBS)
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_vsock_dev
tests_fuzz_fuzz_vsock_dev_SOURCES = %reldir%/fuzz/fuzz_vsock_dev.c %reldir%/fuzz/fuzz_ram.c $(FUZZ_COMMON)
tests_fuzz_fuzz_vsock_dev_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_vsock_dev_LDADD = $(FUZZ_VSOCKDEV_LIBS)
endif
# ---- end of vsockdev block ---------------------------------------------------
