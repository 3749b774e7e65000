# SPDX-License-Identifier: MIT
# hcvsock-bench: floors and hcvsock figures in one run (`make bench`).
# Built with the check programs; a --quick smoke run validates the JSON
# shape in make check, never the numbers.
check_PROGRAMS += bench/hcvsock-bench bench/bench-json-check
bench_hcvsock_bench_SOURCES = %reldir%/bench.c %reldir%/bench.h \
	%reldir%/floors.c %reldir%/figures.c %reldir%/fig_ioreq.c \
	%reldir%/fig_mux.c
BENCH_KVM_LIBS =
bench_hcvsock_bench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
if HAVE_KVM
bench_hcvsock_bench_SOURCES += %reldir%/kvm_floors.c
BENCH_KVM_LIBS += tests/libkvmvm.a
else
bench_hcvsock_bench_SOURCES += %reldir%/kvm_none.c
endif
EXTRA_DIST += %reldir%/kvm_none.c
bench_hcvsock_bench_LDADD = $(BENCH_KVM_LIBS) src/vsock/libvsock.a \
	src/ioreq/libioreq.a \
	$(NOTIFY_LIBS) src/common/libcommon.a -lm

bench_bench_json_check_SOURCES = %reldir%/json_check.c

EXTRA_DIST += %reldir%/smoke.sh
TESTS += %reldir%/smoke.sh

BENCH_ARGS =
.PHONY: bench
bench: bench/hcvsock-bench bench/bench-json-check
	bench/hcvsock-bench --json bench-results.json $(BENCH_ARGS)
	bench/bench-json-check bench-results.json
CLEANFILES += bench-results.json bench/smoke-results.json bench/smoke-bad.json
