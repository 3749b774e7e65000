#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test of hcvsock-bench: a --quick run must finish and write JSON of
# the right shape.  It checks shapes, never numbers (those are for `make bench`).
b=${top_builddir:-.}/bench
check=${top_srcdir:-.}/bench/json-check
out=$b/smoke-results.json
rm -f "$out"
t=; command -v timeout >/dev/null && t="timeout 600"
$t "$b/hcvsock-bench" --quick --json "$out" || { echo "FAIL: hcvsock-bench exited $?"; exit 1; }
req="--require-floor cacheline --require-floor eventfd_busy --require-floor eventfd_block"
req="$req --require-floor unix_pingpong --require-floor unix_stream_64k"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	req="$req --require-floor kvm_kick_rpc_busy --require-floor kvm_kick_rpc_block"
	req="$req --require-floor kvm_exit_io"
else
	echo "note: no /dev/kvm, KVM floors not required"
fi
# shellcheck disable=SC2086
"$check" $req "$out"
rc=$?
[ $rc -eq 0 ] || exit $rc
# The server's poll windows are part of what a run measured.
grep -q 'sync_poll_us 200, tx_poll_us 50' "$out" ||
	{ echo "FAIL: the poll windows are not in \"machine\""; exit 1; }
"$b/hcvsock-bench" --sync-poll-us 100001 --json "$b/smoke-none.json" >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: a window above 100000 us accepted"; exit 1; }
# The checker must reject what breaks the schema, or the line above proves nothing.
bad=$b/smoke-bad.json
printf '{"machine": "m", "floors": {"f": {"median_ns": 1, "p99_ns": 2}},\n "results": [{"name": "r", "median_ns": 1, "p99_ns": 2, "mb_per_s": null, "floor": "f", "ratio": 1, "target": 1.5}]}\n' >"$bad"
if "$check" "$bad" 2>/dev/null; then echo "FAIL: missing \"met\" accepted"; exit 1; fi
printf '{"machine": "m", "floors": {"f": {"median_ns": 1, "p99_ns": 2}},\n "results": [{"name": "r", "median_ns": 1, "p99_ns": 2, "mb_per_s": null, "floor": "nope", "ratio": 1, "target": 1.5, "met": true}]}\n' >"$bad"
if "$check" "$bad" 2>/dev/null; then echo "FAIL: unknown floor accepted"; exit 1; fi
printf '{"machine": "m", "floors": {"f": {"median_ns": 1, "p99_ns": 2}}, "results": [' >"$bad"
if "$check" "$bad" 2>/dev/null; then echo "FAIL: truncated JSON accepted"; exit 1; fi
printf '{"machine": "m", "floors": {"f": {"median_ns": 1, "p99_ns": 2}},\n "results": [{"name": "r", "median_ns": 1, "p99_ns": 2, "mb_per_s": null, "floor": "f", "ratio": 1, "target": 1.5, "met": true}]}\n' >"$bad"
"$check" "$bad" >/dev/null || { echo "FAIL: a valid document rejected"; exit 1; }
rm -f "$bad"
echo "PASS: smoke run and checker"
