# SPDX-License-Identifier: MIT
# The notifier layer: one interface (notify.h), backends behind an ops table.
noinst_LIBRARIES += src/notify/libnotify.a
src_notify_libnotify_a_SOURCES = \
	%reldir%/notify.h %reldir%/notify_impl.h %reldir%/notify.c \
	%reldir%/notify_efd.h %reldir%/notify_efd.c \
	%reldir%/notify_loop.c
src_notify_libnotify_a_CFLAGS = $(AM_CFLAGS)
if HAVE_KVM
src_notify_libnotify_a_SOURCES += %reldir%/notify_kvm.c
endif
if HAVE_XEN
src_notify_libnotify_a_SOURCES += %reldir%/notify_xen.c
src_notify_libnotify_a_CFLAGS += $(XEN_CFLAGS)
endif

# What a program linking libnotify.a also needs.
NOTIFY_LIBS = src/notify/libnotify.a
if HAVE_XEN
NOTIFY_LIBS += $(XEN_LIBS)
endif
