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
	%reldir%/ioreq_fake.c %reldir%/ioreq_fake.h %reldir%/ioreq_fake_impl.h
src_ioreq_libioreq_a_CFLAGS = $(AM_CFLAGS)
src_ioreq_libioreq_a_SOURCES += %reldir%/ioreq_xen.h
if HAVE_XEN
src_ioreq_libioreq_a_SOURCES += \
	%reldir%/ioreq_mem_xen.c \
	%reldir%/ioreq_xen.c
src_ioreq_libioreq_a_CFLAGS += $(XEN_CFLAGS)
endif

# What a program linking libioreq.a also needs: the notifier (and with
# Xen the Xen libraries, which NOTIFY_LIBS carries).
IOREQ_LIBS = src/ioreq/libioreq.a $(NOTIFY_LIBS)
