# SPDX-License-Identifier: MIT
# Tests of the notify area: appended to check_PROGRAMS inside if HAVE_CMOCKA where cmocka is used.
if HAVE_CMOCKA
# One contract, every backend this machine has (loop always, kvm if a VM
# can be created).
check_PROGRAMS += tests/unit/test_notify_contract
tests_unit_test_notify_contract_SOURCES = %reldir%/unit/test_notify_contract.c
tests_unit_test_notify_contract_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_notify_contract_LDADD = $(NOTIFY_LIBS) $(TEST_LIBS)
TESTS += tests/unit/test_notify_contract
endif
