# SPDX-License-Identifier: MIT
# Shared by the daemon's shell tests: paths, assertions, cleanup.
: "${top_srcdir:=.}" "${top_builddir:=.}"
srcdir_abs=$(cd "$top_srcdir" && pwd)
builddir_abs=$(cd "$top_builddir" && pwd)
HCVSOCKD="$builddir_abs/hcvsockd"
HCVSOCKCTL="$builddir_abs/hcvsockctl"
FAKED="$builddir_abs/tests/daemon/hcvsockd-fake"
LB_GUEST="$builddir_abs/tests/daemon/lb_guest"
failures=0
checks=0

pass() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*"; }
check() {	# check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
skip() { echo "SKIP: $*"; exit 77; }

# Wait until COMMAND succeeds, up to $1 tenths of a second.
wait_for() {
	local n=$1; shift
	while [ "$n" -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

finish() {
	echo "$((checks - failures)) passed, $failures failed"
	[ "$failures" -eq 0 ]
}
