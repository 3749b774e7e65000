# SPDX-License-Identifier: MIT
noinst_LIBRARIES += src/vsock/libvsock.a
src_vsock_libvsock_a_SOURCES = \
	%reldir%/vsock_wire.h %reldir%/vsock_mux.h %reldir%/vsock_impl.h \
	%reldir%/vsock_backend.h %reldir%/vsock_mux.c %reldir%/vsock_conn.c %reldir%/vsock_host.c \
	%reldir%/vsock_connect_line.c %reldir%/vsock_mig.c %reldir%/vsock_mig.h

# ---- vsockdev: the guest-visible device: the register window and its
# protocols.  It reaches packets only through vsock_backend.h, so it links
# without the muxer.
noinst_LIBRARIES += src/vsock/libvsockdev.a
src_vsock_libvsockdev_a_SOURCES = \
	%reldir%/vsock_dev.c %reldir%/vsock_dev.h %reldir%/vsock_proto.h \
	%reldir%/vsock_ring.c %reldir%/vsock_msg.c %reldir%/vsock_backend.h \
	%reldir%/vsock_wire.h
