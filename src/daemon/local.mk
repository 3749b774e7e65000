# SPDX-License-Identifier: MIT
# The daemon: everything but main() lives in libdaemon.a so that the tests
# can link the same code.
noinst_LIBRARIES += src/daemon/libdaemon.a
src_daemon_libdaemon_a_SOURCES = \
	%reldir%/conf.c %reldir%/conf.h

sbin_PROGRAMS += hcvsockd
hcvsockd_SOURCES = %reldir%/main.c
hcvsockd_LDADD = src/daemon/libdaemon.a src/common/libcommon.a
