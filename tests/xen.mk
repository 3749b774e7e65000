# SPDX-License-Identifier: MIT
# End-to-end tests against the real Xen hypervisor (Xen 4.17 + dom0 under
# QEMU): `make check-xen`, not part of `make check`.  See docs/TESTING-xen.md.

XEN_PVH_SRCS = %reldir%/xen/pvh/start.S %reldir%/xen/pvh/pvh_rt.c \
	%reldir%/xen/pvh/cases.c %reldir%/xen/pvh/vsock_cases.c
XEN_PVH_SRCPATHS = $(top_srcdir)/%reldir%/xen/pvh/start.S \
	$(top_srcdir)/%reldir%/xen/pvh/pvh_rt.c \
	$(top_srcdir)/%reldir%/xen/pvh/cases.c \
	$(top_srcdir)/%reldir%/xen/pvh/vsock_cases.c \
	$(top_srcdir)/guest/hcvsock_guest.c
XEN_PVH_HDRS = %reldir%/xen/pvh/pvh.h %reldir%/xen/xen_testdev.h
XEN_PVH_LDS = %reldir%/xen/pvh/pvh.ld
# The PVH guest is a 32-bit freestanding ELF: it must not pick up the host
# build's flags (sanitizers, -include config.h, 64-bit code).
XEN_PVH_CCFLAGS = -m32 -march=i686 -O2 -g -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables \
	$(GUEST_NOLIBCALL_CFLAGS) -DHCVS_HAVE_GUEST_DRIVER \
	-mgeneral-regs-only -fno-builtin -Wall -Wextra -Werror \
	-D__XEN_INTERFACE_VERSION__=0x00040e00 \
	-I$(top_srcdir)/%reldir%/xen/pvh -I$(top_srcdir)/%reldir%/xen \
	-I$(top_srcdir)/guest/include
XEN_PVH_LINKFLAGS = -nostdlib -static -Wl,--build-id=none \
	-Wl,--no-warn-rwx-segments -Wl,-T,$(top_srcdir)/$(XEN_PVH_LDS)

EXTRA_DIST += $(XEN_PVH_SRCS) $(XEN_PVH_HDRS) $(XEN_PVH_LDS) \
	%reldir%/xen/xen-e2e %reldir%/xen/dom0-init.sh %reldir%/xen/dom0-cases.sh \
	%reldir%/xen/dom0-cases-linux.sh %reldir%/xen/linux-init.sh \
	%reldir%/xen/linux-kernel %reldir%/xen/lgtool.c
CLEANFILES += %reldir%/xen/pvh-guest.elf %reldir%/xen/lgtool

# Helper of the linux-* cases, run in dom0 and in the Linux guest: static,
# and built without the host build's flags (sanitizers cannot be static).
%reldir%/xen/lgtool: $(top_srcdir)/%reldir%/xen/lgtool.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CCLD)$(CC) -static -O2 -Wall -Wextra -Werror -o $@ \
	    $(top_srcdir)/%reldir%/xen/lgtool.c

%reldir%/xen/pvh-guest.elf: $(XEN_PVH_SRCS) $(XEN_PVH_HDRS) $(XEN_PVH_LDS) \
    $(top_srcdir)/guest/hcvsock_guest.c $(top_srcdir)/guest/include/hcvsock_guest.h \
    $(top_srcdir)/guest/include/hcvsock_abi.h $(top_srcdir)/guest/include/hcvsock_guest_x86.h $(top_srcdir)/guest/include/hcvsock_x86_io.h \
    $(top_srcdir)/guest/include/hcvsock_guest_xen.h
	@$(MKDIR_P) $(@D)
	$(AM_V_CCLD)$(CC) $(XEN_PVH_CCFLAGS) $(XEN_PVH_LINKFLAGS) -o $@ \
	    $(XEN_PVH_SRCPATHS)

if HAVE_XEN
# A minimal IOREQ server written straight against Xen's libraries: proves
# the harness independently of hcvsockd (not a test by itself).
check_PROGRAMS += tests/xen/xen_ioserv
tests_xen_xen_ioserv_SOURCES = %reldir%/xen/xen_ioserv.c \
	%reldir%/xen/xen_testdev.c %reldir%/xen/xen_testdev.h
tests_xen_xen_ioserv_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tests_xen_xen_ioserv_LDADD = $(XEN_LIBS)

# The same device served through hcvsock's whole Xen source (ioreq_xen):
# lifecycle, restriction, SIGTERM, crash and re-attach, domain death.
check_PROGRAMS += tests/xen/xen_src_ioserv
tests_xen_xen_src_ioserv_SOURCES = %reldir%/xen/xen_src_ioserv.c \
	%reldir%/xen/xen_testdev.c %reldir%/xen/xen_testdev.h
tests_xen_xen_src_ioserv_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tests_xen_xen_src_ioserv_LDADD = $(IOREQ_LIBS) src/common/libcommon.a $(XEN_LIBS)

# The host-side peer of the hcvsockd cases (echo, CONNECT, CRC-32).
check_PROGRAMS += tests/xen/echo_peer
tests_xen_echo_peer_SOURCES = %reldir%/xen/echo_peer.c \
	%reldir%/xen/xen_testdev.c %reldir%/xen/xen_testdev.h

XEN_E2E_DEPS = tests/xen/xen_ioserv tests/xen/xen_src_ioserv \
	tests/xen/echo_peer tests/xen/lgtool $(sbin_PROGRAMS) $(sbin_SCRIPTS)

check-xen: %reldir%/xen/pvh-guest.elf $(XEN_E2E_DEPS)
	$(SHELL) $(top_srcdir)/%reldir%/xen/xen-e2e --bindir $(abs_top_builddir) \
	    --guest %reldir%/xen/pvh-guest.elf $(XEN_E2E_FLAGS)
else
check-xen:
	@echo "check-xen: hcvsock was configured without Xen (Debian: apt-get install libxen-dev)" >&2
	@exit 1
endif
.PHONY: check-xen
