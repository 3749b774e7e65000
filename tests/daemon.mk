# SPDX-License-Identifier: MIT
# Tests of the daemon area: appended to check_PROGRAMS inside if HAVE_CMOCKA where cmocka is used.
