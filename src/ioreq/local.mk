# SPDX-License-Identifier: MIT
# The request engine, guest memory, the shm source and fake page, and (with
# Xen) the IOREQ server.
noinst_LIBRARIES += src/ioreq/libioreq.a
src_ioreq_libioreq_a_SOURCES = \
	%reldir%/ioreq.h %reldir%/ioreq_impl.h %reldir%/ioreq_xenabi.h \
	%reldir%/ioreq_engine.c \
	%reldir%/ioreq_mem.c \
	%reldir%/ioreq_source.c \
	%reldir%/ioreq_shm.c \
	%reldir%/ioreq_fake.c %reldir%/ioreq_fake.h
src_ioreq_libioreq_a_CFLAGS = $(AM_CFLAGS)
# Xen files arrive with the server.
