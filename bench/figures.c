/* SPDX-License-Identifier: MIT */
/* The hcvsock figures (issue 9, list 1-5), each against its floor. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

void
bench_figures(void)
{
	bench_skip("ioreq_rtt_block", "src/ioreq fake page not built yet");
	bench_skip("ioreq_rtt_busy", "src/ioreq fake page not built yet");
}
