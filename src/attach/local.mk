# SPDX-License-Identifier: MIT
# KVM attach: the protocol by which a VMM hands a guest to hcvsockd.
noinst_LIBRARIES += src/attach/libattach.a
src_attach_libattach_a_SOURCES = \
	%reldir%/attach.h %reldir%/attach_impl.h \
	%reldir%/attach_desc.c \
	%reldir%/attach_proto.c \
	%reldir%/attach_fwd.c \
	%reldir%/attach_server.c \
	%reldir%/attach_guest.c
# What a program that attaches guests links (the attach module and the
# layers attach_guest builds on).
ATTACH_LIBS = src/attach/libattach.a src/ioreq/libioreq.a $(NOTIFY_LIBS)
