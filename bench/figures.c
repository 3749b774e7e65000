/* SPDX-License-Identifier: MIT */
/* The run order: each hcvsock figure soon after the floors it is compared with. */
#include "bench/bench.h"

/*
 * The load on a shared machine drifts within a minute; measuring a figure
 * right after its floor keeps the two under the same conditions.
 */
void
bench_figures(bool floors)
{
	if (floors)
		bench_floors_cpu();
	else
		bench_note("floors not measured (--no-floors): no ratios");
	bench_fig_ioreq();
	if (floors) {
		bench_floors_unix();
		bench_floors_kvm();
	}
	bench_fig_vsock();
	bench_fig_mux();
}
