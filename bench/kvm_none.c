/* SPDX-License-Identifier: MIT */
/* Builds without <linux/kvm.h>: the KVM floors are reported as skipped. */
#include "bench/bench.h"

void
bench_floors_kvm(void)
{
	bench_note("built without KVM support: KVM floors and figures skipped");
}

bool
bench_have_kvm(void)
{
	return false;
}
