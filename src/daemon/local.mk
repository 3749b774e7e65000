# SPDX-License-Identifier: MIT
sbin_PROGRAMS += hcvsockd
hcvsockd_SOURCES = %reldir%/main.c
hcvsockd_LDADD = src/common/libcommon.a
