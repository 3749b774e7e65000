# SPDX-License-Identifier: MIT
# The kvm area: the attach protocol's tests, the kvmvm mini-VM library,
# freestanding test guests, and the tests that run them on a real vCPU
# (they skip without /dev/kvm).
if HAVE_CMOCKA
check_PROGRAMS += tests/kvm/test_attach
tests_kvm_test_attach_SOURCES = %reldir%/kvm/test_attach.c
tests_kvm_test_attach_CFLAGS = $(TEST_CFLAGS)
tests_kvm_test_attach_LDADD = src/attach/libattach_vmm.a $(ATTACH_VSOCK_LIBS) $(TEST_LIBS)
TESTS += tests/kvm/test_attach
endif

if HAVE_KVM
noinst_LIBRARIES += tests/libkvmvm.a
tests_libkvmvm_a_SOURCES = %reldir%/kvm/kvmvm.c %reldir%/kvm/kvmvm.h \
	%reldir%/kvm/vmm.c %reldir%/kvm/vmm.h %reldir%/kvm/guest/kvmguest.h
tests_libkvmvm_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/kvm

# Freestanding guests: flat binaries loaded at KVMVM_CODE_GPA.  Built with
# their own flags (never the sanitizer or warning flags of the host code).
# Other fragments may reuse the recipe, e.g.:
#   tests/x/guest.elf: $(top_srcdir)/tests/x/guest.c $(KVM_GUEST_DEPS)
#   	$(AM_V_CC)$(KVM_GUEST_LINK) $(top_srcdir)/tests/x/guest.c $(KVM_GUEST_RT)
#   tests/x/guest.bin: tests/x/guest.elf
#   	$(AM_V_GEN)$(KVM_GUEST_BIN) tests/x/guest.elf $@
# and make their test depend on it (EXTRA_<prog>_DEPENDENCIES).
KVM_GUEST_CCFLAGS = -ffreestanding -nostdlib -fno-pic -fno-pie \
	-mno-red-zone -m64 -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-builtin -fcf-protection=none \
	-O2 -Wall -Wextra -I$(top_srcdir)/tests/kvm/guest \
	-I$(top_srcdir)/guest/include
KVM_GUEST_LINKFLAGS = -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,--no-warn-rwx-segments \
	-Wl,-T,$(top_srcdir)/tests/kvm/guest/guest.ld
KVM_GUEST_DEPS = $(top_srcdir)/tests/kvm/guest/guest.ld \
	$(top_srcdir)/tests/kvm/guest/kvmguest.h $(top_srcdir)/guest/include/hcvsock_x86_io.h \
	$(top_srcdir)/tests/kvm/guest/kvmguest.c
KVM_GUEST_RT = $(top_srcdir)/tests/kvm/guest/kvmguest.c
KVM_OBJCOPY = objcopy
# $(call)-free so that automake sees plain rules: one elf + bin per guest.
KVM_GUEST_LINK = $(MKDIR_P) $(@D) && $(CC) $(KVM_GUEST_CCFLAGS) $(KVM_GUEST_LINKFLAGS) -o $@
KVM_GUEST_BIN = $(KVM_OBJCOPY) -O binary

tests/kvm/guest/hello.elf: $(top_srcdir)/tests/kvm/guest/hello.c $(KVM_GUEST_DEPS)
	$(AM_V_CC)$(KVM_GUEST_LINK) $(top_srcdir)/tests/kvm/guest/hello.c $(KVM_GUEST_RT)
tests/kvm/guest/hello.bin: tests/kvm/guest/hello.elf
	$(AM_V_GEN)$(KVM_GUEST_BIN) tests/kvm/guest/hello.elf $@

tests/kvm/guest/probe.elf: $(top_srcdir)/tests/kvm/guest/probe.c $(KVM_GUEST_DEPS)
	$(AM_V_CC)$(KVM_GUEST_LINK) $(top_srcdir)/tests/kvm/guest/probe.c $(KVM_GUEST_RT)
tests/kvm/guest/probe.bin: tests/kvm/guest/probe.elf
	$(AM_V_GEN)$(KVM_GUEST_BIN) tests/kvm/guest/probe.elf $@

# The end-to-end guest: the freestanding driver from guest/ inside.
tests/kvm/guest/vsock_e2e.elf: $(top_srcdir)/tests/kvm/guest/vsock_e2e.c \
    $(top_srcdir)/tests/kvm/guest/e2e_params.h \
    $(top_srcdir)/guest/hcvsock_guest.c \
    $(top_srcdir)/guest/include/hcvsock_guest.h \
    $(top_srcdir)/guest/include/hcvsock_guest_x86.h $(top_srcdir)/guest/include/hcvsock_x86_io.h \
    $(top_srcdir)/guest/include/hcvsock_abi.h $(KVM_GUEST_DEPS)
	$(AM_V_CC)$(KVM_GUEST_LINK) $(top_srcdir)/tests/kvm/guest/vsock_e2e.c \
	    $(top_srcdir)/guest/hcvsock_guest.c $(KVM_GUEST_RT)
tests/kvm/guest/vsock_e2e.bin: tests/kvm/guest/vsock_e2e.elf
	$(AM_V_GEN)$(KVM_GUEST_BIN) tests/kvm/guest/vsock_e2e.elf $@

KVM_GUESTS = tests/kvm/guest/hello.bin tests/kvm/guest/probe.bin \
	tests/kvm/guest/vsock_e2e.bin
CLEANFILES += $(KVM_GUESTS) $(KVM_GUESTS:.bin=.elf)
EXTRA_DIST += %reldir%/kvm/guest/guest.ld %reldir%/kvm/guest/kvmguest.c \
	%reldir%/kvm/guest/hello.c %reldir%/kvm/guest/probe.c \
	%reldir%/kvm/guest/vsock_e2e.c %reldir%/kvm/guest/e2e_params.h

# The reference VMM (not installed: a model for VMM authors and the tests).
check_PROGRAMS += tests/kvm/hcvsock-vmm
tests_kvm_hcvsock_vmm_SOURCES = %reldir%/kvm/hcvsock-vmm.c
tests_kvm_hcvsock_vmm_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/kvm
tests_kvm_hcvsock_vmm_LDADD = tests/libkvmvm.a src/attach/libattach_vmm.a \
	src/attach/libattach.a src/common/libcommon.a

if HAVE_CMOCKA
check_PROGRAMS += tests/kvm/test_kvmvm
tests_kvm_test_kvmvm_SOURCES = %reldir%/kvm/test_kvmvm.c
tests_kvm_test_kvmvm_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/tests/kvm
tests_kvm_test_kvmvm_LDADD = tests/libkvmvm.a $(TEST_LIBS)
EXTRA_tests_kvm_test_kvmvm_DEPENDENCIES = tests/kvm/guest/hello.bin
TESTS += tests/kvm/test_kvmvm

# Shared set-up of the tests that drive the reference VMM.
KVM_TESTUTIL_SRCS = %reldir%/kvm/kvm_testutil.c %reldir%/kvm/kvm_testutil.h

check_PROGRAMS += tests/kvm/test_vmm
tests_kvm_test_vmm_SOURCES = %reldir%/kvm/test_vmm.c \
	$(KVM_TESTUTIL_SRCS)
tests_kvm_test_vmm_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/tests/kvm
tests_kvm_test_vmm_LDADD = tests/libkvmvm.a $(ATTACH_VMM_LIBS) $(TEST_LIBS)
EXTRA_tests_kvm_test_vmm_DEPENDENCIES = tests/kvm/guest/probe.bin
TESTS += tests/kvm/test_vmm

check_PROGRAMS += tests/kvm/test_attach_guest
tests_kvm_test_attach_guest_SOURCES = %reldir%/kvm/test_attach_guest.c \
	$(KVM_TESTUTIL_SRCS)
tests_kvm_test_attach_guest_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/tests/kvm
tests_kvm_test_attach_guest_LDADD = tests/libkvmvm.a $(ATTACH_VMM_LIBS) $(TEST_LIBS)
EXTRA_tests_kvm_test_attach_guest_DEPENDENCIES = tests/kvm/guest/probe.bin
TESTS += tests/kvm/test_attach_guest

# End to end: guest driver <-> hcvsockd's device and muxer <-> AF_UNIX.
check_PROGRAMS += tests/kvm/test_kvm_e2e
tests_kvm_test_kvm_e2e_SOURCES = %reldir%/kvm/test_kvm_e2e.c \
	$(KVM_TESTUTIL_SRCS)
tests_kvm_test_kvm_e2e_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/tests/kvm
tests_kvm_test_kvm_e2e_LDADD = tests/libkvmvm.a src/attach/libattach_vmm.a \
	$(ATTACH_VSOCK_LIBS) $(TEST_LIBS)
EXTRA_tests_kvm_test_kvm_e2e_DEPENDENCIES = tests/kvm/guest/vsock_e2e.bin \
	tests/kvm/guest/probe.bin
TESTS += tests/kvm/test_kvm_e2e
endif

# hcvsockd's KVM side as a plain process, and the reference VMM program
# driven by a shell test with socat as the host program.
check_PROGRAMS += tests/kvm/kvm-host
tests_kvm_kvm_host_SOURCES = %reldir%/kvm/kvm-host.c
tests_kvm_kvm_host_LDADD = $(ATTACH_VSOCK_LIBS) src/common/libcommon.a
check_SCRIPTS += %reldir%/kvm/vmm.test
EXTRA_DIST += %reldir%/kvm/vmm.test
TESTS += %reldir%/kvm/vmm.test
EXTRA_tests_kvm_kvm_host_DEPENDENCIES = tests/kvm/guest/vsock_e2e.bin
endif
