# SPDX-License-Identifier: MIT
noinst_LIBRARIES += src/common/libcommon.a
src_common_libcommon_a_SOURCES = \
	%reldir%/compiler.h %reldir%/mono.h \
	%reldir%/log.c %reldir%/log.h \
	%reldir%/loop.c %reldir%/loop.h \
	%reldir%/peer.c %reldir%/peer.h \
	%reldir%/usock.c %reldir%/usock.h
