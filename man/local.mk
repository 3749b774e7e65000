# SPDX-License-Identifier: MIT
# The guest ABI summary (docs/PROTOCOL.md is normative).
dist_man_MANS += %reldir%/hcvsock.7

# The daemon's pages.  Those naming hcvsock's configuration files say
# /etc (a --sysconfdir=/etc install) in the source; what is installed says
# configure's sysconfdir.  Xen's own files (/etc/xen) and /run keep theirs.
dist_man_MANS += %reldir%/hcvsockctl.8
HCVS_MAN_SRC = %reldir%/hcvsockd.8 %reldir%/hcvsockd.conf.5 \
	%reldir%/hcvsock-xl-create.8
HCVS_MAN_OUT = %reldir%/out/hcvsockd.8 %reldir%/out/hcvsockd.conf.5 \
	%reldir%/out/hcvsock-xl-create.8
EXTRA_DIST += $(HCVS_MAN_SRC)
man_MANS = $(HCVS_MAN_OUT)
CLEANFILES += $(HCVS_MAN_OUT)
hcvs_man_subst = $(MKDIR_P) %reldir%/out && sed \
	-e 's|/etc/hcvsock/|$(sysconfdir)/hcvsock/|g' \
	-e 's|/etc/default/hcvsockd|$(sysconfdir)/default/hcvsockd|g'
%reldir%/out/hcvsockd.8: %reldir%/hcvsockd.8
	$(AM_V_GEN)$(hcvs_man_subst) $(top_srcdir)/%reldir%/hcvsockd.8 >$@
%reldir%/out/hcvsockd.conf.5: %reldir%/hcvsockd.conf.5
	$(AM_V_GEN)$(hcvs_man_subst) $(top_srcdir)/%reldir%/hcvsockd.conf.5 >$@
%reldir%/out/hcvsock-xl-create.8: %reldir%/hcvsock-xl-create.8
	$(AM_V_GEN)$(hcvs_man_subst) $(top_srcdir)/%reldir%/hcvsock-xl-create.8 >$@
