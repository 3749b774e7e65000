# SPDX-License-Identifier: MIT
# Fuzz harnesses (tests/fuzz/, style.md §8).  Each harness is built twice:
#   tests/fuzz/replay_<name>  plain main() over tests/fuzz/corpus/<name>/,
#                             any compiler, run by make check;
#   tests/fuzz/fuzz_<name>    libFuzzer binary, only with
#                             `CC=clang ./configure --enable-fuzzing`.
# `make fuzz` runs every libFuzzer binary for FUZZ_TIME seconds each; from a
# gcc build it configures a clang build in fuzz-build/ and runs it there.
FUZZ_NAMES = connect_line conf ioreq_page ioreq_bufring vsock_mux vsock_dev \
	vsock_devmux vsock_msg attach attach_state statefile
# (vsock_dev is built by tests/vsock.mk; the others here.)
FUZZ_TIME = 60
FUZZ_COMMON = %reldir%/fuzz/fuzz.h %reldir%/fuzz/fuzz_common.c
FUZZ_REPLAY = $(FUZZ_COMMON) %reldir%/fuzz/replay.c
FUZZ_IOREQ_LIBS = src/ioreq/libioreq.a $(NOTIFY_LIBS) src/common/libcommon.a
FUZZ_VSOCK_LIBS = src/vsock/libvsock.a src/common/libcommon.a
FUZZ_CONF_LIBS = src/daemon/libdaemon.a src/common/libcommon.a
FUZZ_ATTACH_LIBS = src/attach/libattach.a $(FUZZ_IOREQ_LIBS)
FUZZ_DEV_LIBS = src/vsock/libvsockdev.a src/vsock/libvsock.a $(FUZZ_IOREQ_LIBS)

EXTRA_DIST += %reldir%/fuzz/corpus %reldir%/fuzz/fuzz-run
EXTRA_DIST += %reldir%/fuzz/README.md

check_PROGRAMS += tests/fuzz/replay_connect_line tests/fuzz/replay_conf \
	tests/fuzz/replay_ioreq_page tests/fuzz/replay_ioreq_bufring \
	tests/fuzz/replay_vsock_mux tests/fuzz/replay_attach \
	tests/fuzz/replay_vsock_devmux tests/fuzz/replay_vsock_msg tests/fuzz/replay_statefile \
	tests/fuzz/replay_attach_state
TESTS += tests/fuzz/replay_connect_line tests/fuzz/replay_conf \
	tests/fuzz/replay_ioreq_page tests/fuzz/replay_ioreq_bufring \
	tests/fuzz/replay_vsock_mux tests/fuzz/replay_attach \
	tests/fuzz/replay_vsock_devmux tests/fuzz/replay_vsock_msg tests/fuzz/replay_statefile \
	tests/fuzz/replay_attach_state

tests_fuzz_replay_connect_line_SOURCES = %reldir%/fuzz/fuzz_connect_line.c $(FUZZ_REPLAY)
tests_fuzz_replay_connect_line_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"connect_line"'
tests_fuzz_replay_connect_line_LDADD = $(FUZZ_VSOCK_LIBS)
tests_fuzz_replay_conf_SOURCES = %reldir%/fuzz/fuzz_conf.c $(FUZZ_REPLAY)
tests_fuzz_replay_conf_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"conf"'
tests_fuzz_replay_conf_LDADD = $(FUZZ_CONF_LIBS)
tests_fuzz_replay_ioreq_page_SOURCES = %reldir%/fuzz/fuzz_ioreq_page.c %reldir%/fuzz/fuzz_ram.c $(FUZZ_REPLAY)
tests_fuzz_replay_ioreq_page_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"ioreq_page"'
tests_fuzz_replay_ioreq_page_LDADD = $(FUZZ_IOREQ_LIBS)
tests_fuzz_replay_ioreq_bufring_SOURCES = %reldir%/fuzz/fuzz_ioreq_bufring.c $(FUZZ_REPLAY)
tests_fuzz_replay_ioreq_bufring_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"ioreq_bufring"'
tests_fuzz_replay_ioreq_bufring_LDADD = $(FUZZ_IOREQ_LIBS)
tests_fuzz_replay_vsock_mux_SOURCES = %reldir%/fuzz/fuzz_vsock_mux.c $(FUZZ_REPLAY)
tests_fuzz_replay_vsock_mux_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"vsock_mux"'
tests_fuzz_replay_vsock_mux_LDADD = $(FUZZ_VSOCK_LIBS)
tests_fuzz_replay_attach_SOURCES = %reldir%/fuzz/fuzz_attach.c $(FUZZ_REPLAY)
tests_fuzz_replay_attach_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"attach"'
tests_fuzz_replay_attach_LDADD = $(FUZZ_ATTACH_LIBS)
tests_fuzz_replay_attach_state_SOURCES = %reldir%/fuzz/fuzz_attach_state.c $(FUZZ_REPLAY)
tests_fuzz_replay_attach_state_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"attach_state"'
tests_fuzz_replay_attach_state_LDADD = $(FUZZ_ATTACH_LIBS)
tests_fuzz_replay_vsock_devmux_SOURCES = %reldir%/fuzz/fuzz_vsock_devmux.c %reldir%/fuzz/fuzz_ram.c $(FUZZ_REPLAY)
tests_fuzz_replay_vsock_devmux_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"vsock_devmux"'
tests_fuzz_replay_vsock_devmux_LDADD = $(FUZZ_DEV_LIBS)
tests_fuzz_replay_vsock_msg_SOURCES = %reldir%/fuzz/fuzz_vsock_msg.c %reldir%/fuzz/fuzz_ram.c $(FUZZ_REPLAY)
tests_fuzz_replay_vsock_msg_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"vsock_msg"'
tests_fuzz_replay_vsock_msg_LDADD = $(FUZZ_DEV_LIBS)
tests_fuzz_replay_statefile_SOURCES = %reldir%/fuzz/fuzz_statefile.c $(FUZZ_REPLAY)
tests_fuzz_replay_statefile_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"statefile"'
tests_fuzz_replay_statefile_LDADD = $(FUZZ_CONF_LIBS)

if ENABLE_FUZZING
FUZZ_LD = -fsanitize=fuzzer
noinst_PROGRAMS += tests/fuzz/fuzz_connect_line tests/fuzz/fuzz_conf \
	tests/fuzz/fuzz_ioreq_page tests/fuzz/fuzz_ioreq_bufring \
	tests/fuzz/fuzz_vsock_mux tests/fuzz/fuzz_attach tests/fuzz/fuzz_vsock_devmux \
	tests/fuzz/fuzz_vsock_msg tests/fuzz/fuzz_statefile tests/fuzz/fuzz_attach_state
tests_fuzz_fuzz_connect_line_SOURCES = %reldir%/fuzz/fuzz_connect_line.c $(FUZZ_COMMON)
tests_fuzz_fuzz_connect_line_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_connect_line_LDADD = $(FUZZ_VSOCK_LIBS)
tests_fuzz_fuzz_conf_SOURCES = %reldir%/fuzz/fuzz_conf.c $(FUZZ_COMMON)
tests_fuzz_fuzz_conf_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_conf_LDADD = $(FUZZ_CONF_LIBS)
tests_fuzz_fuzz_ioreq_page_SOURCES = %reldir%/fuzz/fuzz_ioreq_page.c %reldir%/fuzz/fuzz_ram.c $(FUZZ_COMMON)
tests_fuzz_fuzz_ioreq_page_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_ioreq_page_LDADD = $(FUZZ_IOREQ_LIBS)
tests_fuzz_fuzz_ioreq_bufring_SOURCES = %reldir%/fuzz/fuzz_ioreq_bufring.c $(FUZZ_COMMON)
tests_fuzz_fuzz_ioreq_bufring_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_ioreq_bufring_LDADD = $(FUZZ_IOREQ_LIBS)
tests_fuzz_fuzz_vsock_mux_SOURCES = %reldir%/fuzz/fuzz_vsock_mux.c $(FUZZ_COMMON)
tests_fuzz_fuzz_vsock_mux_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_vsock_mux_LDADD = $(FUZZ_VSOCK_LIBS)
tests_fuzz_fuzz_attach_SOURCES = %reldir%/fuzz/fuzz_attach.c $(FUZZ_COMMON)
tests_fuzz_fuzz_attach_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_attach_LDADD = $(FUZZ_ATTACH_LIBS)
tests_fuzz_fuzz_attach_state_SOURCES = %reldir%/fuzz/fuzz_attach_state.c $(FUZZ_COMMON)
tests_fuzz_fuzz_attach_state_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_attach_state_LDADD = $(FUZZ_ATTACH_LIBS)
tests_fuzz_fuzz_vsock_devmux_SOURCES = %reldir%/fuzz/fuzz_vsock_devmux.c %reldir%/fuzz/fuzz_ram.c $(FUZZ_COMMON)
tests_fuzz_fuzz_vsock_devmux_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_vsock_devmux_LDADD = $(FUZZ_DEV_LIBS)
tests_fuzz_fuzz_vsock_msg_SOURCES = %reldir%/fuzz/fuzz_vsock_msg.c %reldir%/fuzz/fuzz_ram.c $(FUZZ_COMMON)
tests_fuzz_fuzz_vsock_msg_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_vsock_msg_LDADD = $(FUZZ_DEV_LIBS)
tests_fuzz_fuzz_statefile_SOURCES = %reldir%/fuzz/fuzz_statefile.c $(FUZZ_COMMON)
tests_fuzz_fuzz_statefile_LDFLAGS = $(FUZZ_LD)
tests_fuzz_fuzz_statefile_LDADD = $(FUZZ_CONF_LIBS)
FUZZ_MODE = run
FUZZ_PROGS = $(FUZZ_NAMES:%=tests/fuzz/fuzz_%)
else
FUZZ_MODE = delegate
FUZZ_PROGS =
endif

# Bounded runs: FUZZ_TIME seconds per harness, one at a time.
# Only the harnesses: the rest of `all` need not build with clang.
fuzz: $(FUZZ_PROGS)
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_NAMES="$(FUZZ_NAMES)" \
	    $(SHELL) $(top_srcdir)/tests/fuzz/fuzz-run $(FUZZ_MODE) \
	    $(abs_top_srcdir) $(abs_top_builddir)
.PHONY: fuzz
