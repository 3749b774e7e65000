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

# uds_listening PATH: a socket bound at PATH listens.  socat binds (the path
# appears) before it listens, and a connect in between is refused: the path
# existing is not the condition to wait for.
uds_listening() {
	awk -v p="$1" '$8 == p && $4 == "00010000" { f = 1 } END { exit !f }' \
	    /proc/net/unix
}

# check_confined LABEL PID LOG: the seccomp filter is installed (Seccomp: 2)
# and no capability is left in the bounding set, or the daemon's log says
# why the filter was skipped (a sanitizer or valgrind build).
check_confined() {
	local label=$1 pid=$2 log=$3
	if grep -q 'seccomp: no filter: \(built with\|running under\)' "$log"; then
		pass "$label: seccomp skipped, reason logged: $(grep -o 'no filter: .*' "$log" | head -n1)"
		return
	fi
	check "$label: seccomp filter installed (Seccomp: 2)" \
	    grep -Eq '^Seccomp:[[:space:]]+2$' "/proc/$pid/status"
	check "$label: capability bounding set empty" \
	    grep -Eq '^CapBnd:[[:space:]]+0+$' "/proc/$pid/status"
	check "$label: no effective capability" \
	    grep -Eq '^CapEff:[[:space:]]+0+$' "/proc/$pid/status"
}

finish() {
	echo "$((checks - failures)) passed, $failures failed"
	[ "$failures" -eq 0 ]
}
