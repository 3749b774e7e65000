# SPDX-License-Identifier: MIT
# One guest's wiring: request source, device, muxer on the event loop.
noinst_LIBRARIES += src/binding/libbinding.a
src_binding_libbinding_a_SOURCES = %reldir%/binding.c %reldir%/binding.h
# What a program building bindings links (the layers below).
BINDING_LIBS = src/binding/libbinding.a src/vsock/libvsockdev.a \
	src/vsock/libvsock.a src/ioreq/libioreq.a $(NOTIFY_LIBS)
