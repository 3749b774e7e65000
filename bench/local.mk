# SPDX-License-Identifier: MIT
# hcvsock-bench: floors and hcvsock figures in one run (`make bench`).
# Built with the check programs; a --quick smoke run validates the JSON
# shape in make check, never the numbers.
check_PROGRAMS += bench/hcvsock-bench
# The guest driver is compiled in (hosted) with the settings of
# bguest_cfg.h, as bench/kvm_guest.bin is: force-included, so that a
# change rebuilds both.
BENCH_CONN_BUF = -include $(top_srcdir)/bench/bguest_cfg.h
bench_hcvsock_bench_SOURCES = %reldir%/bench.c %reldir%/bench.h \
	%reldir%/floors.c %reldir%/figures.c %reldir%/fig_ioreq.c \
	%reldir%/fig_mux.c %reldir%/fig_vsock.c \
	%reldir%/vsenv.c %reldir%/vsenv.h \
	%reldir%/bguest.c %reldir%/bguest.h %reldir%/bguest_cfg.h \
	guest/hcvsock_guest.c
BENCH_KVM_LIBS =
bench_hcvsock_bench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests \
	$(BENCH_CONN_BUF) \
	-DBENCH_KVM_GUEST='"$(abs_top_builddir)/bench/kvm_guest.bin"'
if HAVE_KVM
bench_hcvsock_bench_SOURCES += %reldir%/kvm_floors.c
BENCH_KVM_LIBS += tests/libkvmvm.a src/attach/libattach_vmm.a \
	src/attach/libattach_vsock.a src/attach/libattach.a \
	src/binding/libbinding.a
EXTRA_bench_hcvsock_bench_DEPENDENCIES = bench/kvm_guest.bin

# The KVM guest: bench workloads + the freestanding driver, flat binary
# (recipe variables from tests/kvm.mk).
BENCH_GUEST_SRCS = $(top_srcdir)/bench/kvm_guest.c \
	$(top_srcdir)/bench/bguest.c $(top_srcdir)/guest/hcvsock_guest.c
bench/kvm_guest.elf: $(BENCH_GUEST_SRCS) $(top_srcdir)/bench/bguest.h \
    $(top_srcdir)/bench/bguest_cfg.h \
    $(top_srcdir)/guest/include/hcvsock_guest.h $(KVM_GUEST_DEPS)
	$(AM_V_CC)$(KVM_GUEST_LINK) $(BENCH_CONN_BUF) -I$(top_srcdir) \
	    $(GUEST_NOLIBCALL_CFLAGS) $(BENCH_GUEST_SRCS) $(KVM_GUEST_RT)
bench/kvm_guest.bin: bench/kvm_guest.elf
	$(AM_V_GEN)$(KVM_GUEST_BIN) bench/kvm_guest.elf $@
CLEANFILES += bench/kvm_guest.elf bench/kvm_guest.bin
else
bench_hcvsock_bench_SOURCES += %reldir%/kvm_none.c
endif
EXTRA_DIST += %reldir%/kvm_none.c %reldir%/kvm_guest.c
bench_hcvsock_bench_LDADD = $(BENCH_KVM_LIBS) src/vsock/libvsockdev.a \
	src/vsock/libvsock.a tests/libfakeguest.a src/ioreq/libioreq.a \
	$(NOTIFY_LIBS) src/common/libcommon.a -lm

EXTRA_DIST += %reldir%/smoke.sh %reldir%/json-check %reldir%/json-check.jq
TESTS += %reldir%/smoke.sh

BENCH_ARGS =
.PHONY: bench
bench: bench/hcvsock-bench
	bench/hcvsock-bench --json bench-results.json $(BENCH_ARGS)
	$(top_srcdir)/bench/json-check bench-results.json
CLEANFILES += bench-results.json bench/smoke-results.json bench/smoke-bad.json
