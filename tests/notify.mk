# SPDX-License-Identifier: MIT
# Tests of the notify area: appended to check_PROGRAMS inside if HAVE_CMOCKA where cmocka is used.
if HAVE_CMOCKA
# One contract, every backend this machine has (loop always, kvm if a VM
# can be created).
check_PROGRAMS += tests/unit/test_notify_contract
tests_unit_test_notify_contract_SOURCES = %reldir%/unit/test_notify_contract.c
tests_unit_test_notify_contract_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_notify_contract_LDADD = $(NOTIFY_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_notify_contract
endif

if HAVE_CMOCKA
if HAVE_XEN
if HAVE_LD_WRAP
# The evtchn backend with libxenevtchn replaced at link time.
check_PROGRAMS += tests/unit/test_notify_xen
tests_unit_test_notify_xen_SOURCES = %reldir%/unit/test_notify_xen.c
tests_unit_test_notify_xen_CFLAGS = $(TEST_CFLAGS) $(XEN_CFLAGS)
tests_unit_test_notify_xen_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=xenevtchn_open,--wrap=xenevtchn_close,--wrap=xenevtchn_fd \
	-Wl,--wrap=xenevtchn_bind_interdomain,--wrap=xenevtchn_unbind \
	-Wl,--wrap=xenevtchn_pending,--wrap=xenevtchn_unmask \
	-Wl,--wrap=xenevtchn_notify,--wrap=xenevtchn_restrict
tests_unit_test_notify_xen_LDADD = $(NOTIFY_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_notify_xen
endif
endif
endif

if HAVE_CMOCKA
if HAVE_KVM
# Real vCPUs: ioeventfd kicks from a native user-mode guest, irqfd into an
# emulated real-mode one.  Exits 77 where /dev/kvm is absent.
check_PROGRAMS += tests/unit/test_notify_kvm_vcpu
tests_unit_test_notify_kvm_vcpu_SOURCES = %reldir%/unit/test_notify_kvm_vcpu.c \
	%reldir%/unit/notify_kvm_guest.c
tests_unit_test_notify_kvm_vcpu_CFLAGS = $(TEST_CFLAGS) \
	-I$(top_srcdir)/tests/kvm
tests_unit_test_notify_kvm_vcpu_LDADD = tests/libkvmvm.a $(NOTIFY_LIBS) \
	$(TEST_LIBS)
TESTS += tests/unit/test_notify_kvm_vcpu
endif
endif
