# SPDX-License-Identifier: MIT
# The freestanding guest driver.  Built hosted as a library for the tests,
# and compiled freestanding for -m64 and -m32 as a build check (the KVM and
# Xen end-to-end guests link the same source into their own images).
noinst_LIBRARIES += guest/libhcvsock_guest.a
guest_libhcvsock_guest_a_SOURCES = %reldir%/hcvsock_guest.c \
	%reldir%/include/hcvsock_guest.h %reldir%/include/hcvsock_abi.h \
	%reldir%/include/hcvsock_guest_x86.h \
	%reldir%/include/hcvsock_guest_xen.h \
	%reldir%/include/hcvsock_x86_io.h
EXTRA_DIST += %reldir%/README.md %reldir%/hcvsock_guest_xen_check.c

# Guest writers build the driver into their own images: install its source
# and headers (the source includes the headers by their plain names).
hcvsockguestincdir = $(includedir)/hcvsock
hcvsockguestinc_HEADERS = %reldir%/include/hcvsock_guest.h \
	%reldir%/include/hcvsock_abi.h %reldir%/include/hcvsock_guest_x86.h \
	%reldir%/include/hcvsock_guest_xen.h %reldir%/include/hcvsock_x86_io.h
hcvsockguestsrcdir = $(prefix)/src/hcvsock-guest
hcvsockguestsrc_DATA = %reldir%/hcvsock_guest.c

GUEST_FREESTANDING_CFLAGS = -std=gnu11 -O2 -ffreestanding -nostdlib \
	-fno-builtin -fno-stack-protector \
	-fno-pic -Wall -Wextra -Werror -I$(top_srcdir)/guest/include
GUEST_FREESTANDING_OBJS = guest/hcvsock_guest-fs64.o guest/hcvsock_guest-fs32.o
noinst_DATA = $(GUEST_FREESTANDING_OBJS)
CLEANFILES += $(GUEST_FREESTANDING_OBJS)

# A compiler without -m32 support (non-x86 host) skips that check, loudly.
# gcc may turn copy loops into memcpy calls unless told not to (clang has
# no such flag); the object must not need any symbol from outside.
guest/hcvsock_guest-fs64.o guest/hcvsock_guest-fs32.o: \
    $(top_srcdir)/guest/hcvsock_guest.c $(top_srcdir)/guest/include/hcvsock_guest.h \
    $(top_srcdir)/guest/include/hcvsock_abi.h $(top_srcdir)/guest/include/hcvsock_guest_x86.h $(top_srcdir)/guest/include/hcvsock_x86_io.h \
    $(top_srcdir)/guest/include/hcvsock_guest_xen.h $(top_srcdir)/guest/hcvsock_guest_xen_check.c
	@$(MKDIR_P) guest
	$(AM_V_CC)m=`case $@ in *fs32.o) echo -m32;; *) echo -m64;; esac`; \
	if echo 'int x;' | $(CC) $$m -ffreestanding -c -x c - -o /dev/null 2>/dev/null; then \
		x=; if echo 'int x;' | $(CC) -Werror -fno-tree-loop-distribute-patterns \
		    -c -x c - -o /dev/null 2>/dev/null; then \
			x=-fno-tree-loop-distribute-patterns; fi; \
		$(CC) $$m $(GUEST_FREESTANDING_CFLAGS) $$x -c $(top_srcdir)/guest/hcvsock_guest.c -o $@ && \
		printf '#include "hcvsock_guest_x86.h"\n' | \
		$(CC) $$m $(GUEST_FREESTANDING_CFLAGS) -c -x c - -o /dev/null && \
		$(CC) $$m $(GUEST_FREESTANDING_CFLAGS) -c \
		    $(top_srcdir)/guest/hcvsock_guest_xen_check.c -o /dev/null && \
		if command -v nm >/dev/null 2>&1 && nm $@ | grep ' U '; then \
			echo "$@: needs symbols from outside (above)"; rm -f $@; exit 1; fi; \
	else echo "SKIP: $(CC) cannot build $$m objects"; : > $@; fi

# The Linux kernel module (GPL-2.0): built with kbuild against a kernel's
# headers, not by this build (docs/LINUX-GUEST.md; check-xen builds it).
EXTRA_DIST += %reldir%/linux/hcvsock_vsock.c %reldir%/linux/Kbuild \
	%reldir%/linux/Makefile %reldir%/linux/dkms.conf.in
