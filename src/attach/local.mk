# SPDX-License-Identifier: MIT
# KVM attach: the protocol by which a VMM hands a guest to hcvsockd.
noinst_LIBRARIES += src/attach/libattach.a
src_attach_libattach_a_SOURCES = \
	%reldir%/attach.h %reldir%/attach_impl.h \
	%reldir%/attach_desc.c \
	%reldir%/attach_state.c \
	%reldir%/attach_wire.c \
	%reldir%/attach_sess.c \
	%reldir%/attach_server.c \
	%reldir%/attach_source.c
# What a program that attaches guests links (the attach module and the
# request source it builds).
ATTACH_LIBS = src/attach/libattach.a src/ioreq/libioreq.a $(NOTIFY_LIBS)

# The hcvsock device behind an attached guest (links the vsock layers).
noinst_LIBRARIES += src/attach/libattach_vsock.a
src_attach_libattach_vsock_a_SOURCES = %reldir%/attach_vsock.c \
	%reldir%/attach_vsock.h
ATTACH_VSOCK_LIBS = src/attach/libattach_vsock.a src/attach/libattach.a \
	$(BINDING_LIBS)

# The VMM's side (attach_vmm.h): what a VMM links, hcvsockd never.
noinst_LIBRARIES += src/attach/libattach_vmm.a
src_attach_libattach_vmm_a_SOURCES = %reldir%/attach_vmm.h \
	%reldir%/attach_vmm.c %reldir%/attach_fwd.c
ATTACH_VMM_LIBS = src/attach/libattach_vmm.a $(ATTACH_LIBS)
