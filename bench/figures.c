/* SPDX-License-Identifier: MIT */
/* The hcvsock figures (issue 9, list 1-5), each against its floor. */
#include "bench/bench.h"

void
bench_figures(void)
{
	bench_fig_ioreq();
	bench_fig_vsock();
	bench_fig_mux();
}
