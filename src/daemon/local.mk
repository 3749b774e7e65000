# SPDX-License-Identifier: MIT
# The daemon: everything but main() and the layer glue (service*.c) lives
# in libdaemon.a so that the tests link the same code against a recording
# service.
noinst_LIBRARIES += src/daemon/libdaemon.a
src_daemon_libdaemon_a_SOURCES = \
	%reldir%/conf.c %reldir%/conf.h \
	%reldir%/conf_tcp.c %reldir%/conf_tcp.h \
	%reldir%/confine.c %reldir%/confine.h \
	%reldir%/ctl.c %reldir%/ctl.h \
	%reldir%/loopback.c %reldir%/loopback.h \
	%reldir%/options.c %reldir%/options.h \
	%reldir%/pidfile.c %reldir%/pidfile.h \
	%reldir%/privdrop.c %reldir%/privdrop.h \
	%reldir%/runtime.c %reldir%/runtime.h \
	%reldir%/sdnotify.c %reldir%/sdnotify.h \
	%reldir%/service.h \
	%reldir%/statefile.c %reldir%/statefile.h \
	%reldir%/status.c %reldir%/status.h \
	%reldir%/xendom.c %reldir%/xendom.h
src_daemon_libdaemon_a_CPPFLAGS = $(AM_CPPFLAGS) $(XEN_CFLAGS) $(JSONC_CFLAGS) \
	$(SECCOMP_CFLAGS) -DSYSCONFDIR='"$(sysconfdir)"'

DAEMON_LIBS = src/daemon/libdaemon.a src/ioreq/libioreq.a $(NOTIFY_LIBS) \
	src/common/libcommon.a $(XEN_LIBS) $(JSONC_LIBS) $(SECCOMP_LIBS)

sbin_PROGRAMS += hcvsockd hcvsockctl
# service.c is the only daemon file that knows the layers (binding.h wires them).
hcvsockd_SOURCES = %reldir%/main.c %reldir%/service.c \
	%reldir%/service_status.c %reldir%/service_status.h
hcvsockd_LDADD = src/daemon/libdaemon.a $(ATTACH_VSOCK_LIBS) $(DAEMON_LIBS)

hcvsockctl_SOURCES = %reldir%/hcvsockctl.c
hcvsockctl_LDADD = $(DAEMON_LIBS)

# The daemon's manual pages: man/local.mk installs them.
