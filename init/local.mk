# SPDX-License-Identifier: MIT
# How a dom0 runs hcvsockd: a systemd template unit, a sysvinit script,
# /etc/default/hcvsockd, the launch helper and example xl configurations.
# The .in files get their paths from configure's directories at make time.

hcvs_subst = sed -e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

systemdsystemunit_DATA = init/systemd/hcvsockd@.service
initddir = $(sysconfdir)/init.d
initd_SCRIPTS = init/sysv/hcvsockd
hcvsdefaultdir = $(sysconfdir)/default
dist_hcvsdefault_DATA = %reldir%/default/hcvsockd
sbin_SCRIPTS = xl-cfg/hcvsock-xl-create
xlcfgdir = $(docdir)/examples
dist_xlcfg_DATA = xl-cfg/pvh-guest.cfg xl-cfg/pvh-guest-mmio-2vcpu.cfg \
	xl-cfg/hcvsockd.conf.pvh xl-cfg/hcvsockd.conf.mmio

EXTRA_DIST += %reldir%/systemd/hcvsockd@.service.in \
	%reldir%/sysv/hcvsockd.in xl-cfg/hcvsock-xl-create.in
CLEANFILES += init/systemd/hcvsockd@.service init/sysv/hcvsockd \
	xl-cfg/hcvsock-xl-create

init/systemd/hcvsockd@.service: $(srcdir)/init/systemd/hcvsockd@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(hcvs_subst) <$(srcdir)/init/systemd/hcvsockd@.service.in >$@
init/sysv/hcvsockd: $(srcdir)/init/sysv/hcvsockd.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(hcvs_subst) <$(srcdir)/init/sysv/hcvsockd.in >$@ && chmod +x $@
xl-cfg/hcvsock-xl-create: $(srcdir)/xl-cfg/hcvsock-xl-create.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(hcvs_subst) <$(srcdir)/xl-cfg/hcvsock-xl-create.in >$@ && chmod +x $@

# The unit directory is absolute (/lib/systemd/system): distcheck must
# install it under its own prefix.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir=$$dc_install_base/$(systemdsystemunitdir)
