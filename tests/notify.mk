# SPDX-License-Identifier: MIT
# Tests of the notify area: appended to check_PROGRAMS inside if HAVE_CMOCKA where cmocka is used.
