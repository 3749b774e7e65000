/* SPDX-License-Identifier: MIT */
/* The run order: each hcvsock figure soon after the floors it is compared with. */
#include <sys/resource.h>

#include "bench/bench.h"

/*
 * unix_conns_1024, fake_conns_1024 and idle_conn_memory hold a socket (or
 * a pair) per connection.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The load on a shared machine drifts within a minute; measuring a figure
 * right after its floor keeps the two under the same conditions.
 */
void
bench_figures(bool floors)
{
	raise_nofile();
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
