/* SPDX-License-Identifier: MIT */
/*
 * Guest driver settings for the benchmark, force-included (-include) into
 * every file that sees struct hcvg_conn - the hosted driver, the workloads
 * and the KVM guest - so that all agree on its size.  A 256 KiB receive
 * window (the muxer's buf_alloc too) keeps credit round trips from
 * capping host -> guest throughput at window / RTT.
 */
#ifndef HCVS_BENCH_BGUEST_CFG_H
#define HCVS_BENCH_BGUEST_CFG_H

#define HCVG_CONN_BUF	(256u * 1024u)

#endif /* HCVS_BENCH_BGUEST_CFG_H */
