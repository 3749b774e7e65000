#!/bin/sh
# SPDX-License-Identifier: MIT
# Dom0 side of the Xen end-to-end cases (busybox sh, inside the emulated
# dom0).  `dom0-cases.sh NAME...` runs each case under a time limit and
# prints "HCVS-CASE NAME BEGIN dom=N" ... "HCVS-CASE NAME END rc=N ms=N";
# the harness checks those and the guest's "(dN) HCVS-G" lines.
GUEST=/hcvs/pvh-guest.elf
BIN=/hcvs/bin
CASE_TIMEOUT=${CASE_TIMEOUT:-90}

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
say() { echo "HCVS-INFO $*"; }
fail() { echo "HCVS-CHECK FAIL $*"; exit 1; }

# mkcfg NAME VCPUS CMDLINE: a PVH guest of the test kernel.
mkcfg() {
	cat >"/tmp/$1.cfg" <<CFG
name = "$1"
type = "pvh"
kernel = "$GUEST"
memory = 32
vcpus = $2
cmdline = "$3"
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
CFG
}

# create NAME: paused; prints the domid.
create() {
	xl create -p "/tmp/$1.cfg" >/tmp/xl-create.log 2>&1 || {
		cat /tmp/xl-create.log; fail "xl create $1"; }
	xl domid "$1"
}

# wait_file FILE SECONDS [PID]: FILE appears (gives up early if PID dies).
wait_file() {
	n=0
	while [ ! -e "$1" ]; do
		n=$((n + 1))
		[ $n -gt $(($2 * 10)) ] && return 1
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && return 1
		sleep 0.1
	done
	return 0
}

# wait_pid PID SECONDS: 0 if it exited in time (its status in $wait_rc).
wait_pid() {
	n=0
	while kill -0 "$1" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt $(($2 * 10)) ]; then
			wait_rc=124
			return 1
		fi
		sleep 0.1
	done
	wait "$1"
	wait_rc=$?
	return 0
}

# wait_gone NAME SECONDS: the domain has gone (the guest powered off).
wait_gone() {
	n=0
	while xl domid "$1" >/dev/null 2>&1; do
		n=$((n + 1))
		[ $n -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# No domain but dom0 may remain, not even a dying "(null)" one.
check_no_zombie() {
	others=$(xl list | awk 'NR > 2 { print $1 "/" $2 "/" $5 }' | tr '\n' ' ')
	echo "HCVS-CHECK domains-left=[${others}]"
	[ -z "$others" ] || fail "domains left after the case: $others"
}

# ---- cases against the small test server (tests/xen/xen_ioserv.c) -----

# ioserv_run NAME VCPUS CMDLINE [SERVER ARGS]: attach before unpause.
ioserv_run() {
	name=$1 vcpus=$2 cmdline=$3
	shift 3
	mkcfg "$name" "$vcpus" "$cmdline"
	dom=$(create "$name") || exit 1
	echo "HCVS-CASE-DOM $name dom=$dom"
	rm -f /tmp/ready
	"$BIN/${SERVER:-xen_ioserv}" --domid "$dom" --ready /tmp/ready --timeout 90 "$@" &
	spid=$!
	echo $spid >>/tmp/case.pids
	wait_file /tmp/ready 20 $spid || fail "server not ready"
	xl unpause "$dom"
	wait_pid $spid 100 || { kill $spid; fail "server did not finish"; }
	[ "$wait_rc" -eq 0 ] || fail "server exit $wait_rc"
	wait_gone "$name" 30 || fail "guest did not power off"
	check_no_zombie
}

case_ioserv_echo() {
	ioserv_run ioserv-echo 1 "case=ioserv-echo n=300 seed=7"
}

case_ioserv_msi() {
	ioserv_run ioserv-msi 1 "case=ioserv-msi n=5"
}

case_ioserv_evtchn() {
	ioserv_run ioserv-evtchn 1 "case=ioserv-evtchn n=5"
}

case_ioserv_smp() {
	ioserv_run ioserv-smp 2 "case=ioserv-smp n=200 seed=11"
}

# The server drops privilege first: dom0 and other domains are out of reach.
case_ioserv_restrict() {
	ioserv_run ioserv-restrict 1 "case=ioserv-echo n=50 seed=3" \
	    --check-restrict 65534
}

# The guest runs before anyone serves its range: all-ones, then the server.
case_ioserv_probe() {
	name=ioserv-probe
	mkcfg $name 1 "case=ioserv-echo n=20 seed=5 probe_ms=30000"
	dom=$(create $name) || exit 1
	echo "HCVS-CASE-DOM $name dom=$dom"
	xl unpause "$dom"
	sleep 2
	"$BIN/${SERVER:-xen_ioserv}" --domid "$dom" --timeout 60 &
	spid=$!
	echo $spid >>/tmp/case.pids
	wait_pid $spid 70 || { kill $spid; fail "server did not finish"; }
	[ "$wait_rc" -eq 0 ] || fail "server exit $wait_rc"
	wait_gone $name 30 || fail "guest did not power off"
	check_no_zombie
}

# ---- the same device served by hcvsock's engine and notifier -----------
case_proj_echo() { SERVER=xen_proj_ioserv ioserv_run proj-echo 1 "case=ioserv-echo n=300 seed=17"; }
case_proj_msi() { SERVER=xen_proj_ioserv ioserv_run proj-msi 1 "case=ioserv-msi n=5"; }
case_proj_evtchn() { SERVER=xen_proj_ioserv ioserv_run proj-evtchn 1 "case=ioserv-evtchn n=5"; }
case_proj_smp() { SERVER=xen_proj_ioserv ioserv_run proj-smp 2 "case=ioserv-smp n=200 seed=21"; }
case_proj_restrict() {
	SERVER=xen_proj_ioserv ioserv_run proj-restrict 1 "case=ioserv-echo n=50 seed=23" \
	    --check-restrict 65534
}

# ---- the same device through hcvsock's Xen source (ioreq_xen) ---------
case_src_echo() { SERVER=xen_src_ioserv ioserv_run src-echo 1 "case=ioserv-echo n=300 seed=31"; }
case_src_msi() { SERVER=xen_src_ioserv ioserv_run src-msi 1 "case=ioserv-msi n=5"; }
case_src_evtchn() { SERVER=xen_src_ioserv ioserv_run src-evtchn 1 "case=ioserv-evtchn n=5"; }
case_src_smp() { SERVER=xen_src_ioserv ioserv_run src-smp 2 "case=ioserv-smp n=200 seed=33"; }
case_src_restrict() {
	SERVER=xen_src_ioserv ioserv_run src-restrict 1 "case=ioserv-echo n=50 seed=35" \
	    --check-restrict 65534
}

# wait_guest DOM PATTERN SECONDS: the guest printed a line (Xen's console ring).
wait_guest() {
	n=0
	until xl dmesg | grep -q "(d$1) HCVS-G $2"; do
		n=$((n + 1))
		[ $n -gt $(($3 * 5)) ] && return 1
		sleep 0.2
	done
	return 0
}

# start_src NAME VCPUS CMDLINE [ARGS]: guest created paused, server attached,
# guest unpaused; sets $dom and $spid.
start_src() {
	name=$1
	mkcfg "$name" "$2" "$3"
	shift 3
	dom=$(create "$name") || exit 1
	echo "HCVS-CASE-DOM $name dom=$dom"
	rm -f /tmp/ready
	"$BIN/xen_src_ioserv" --domid "$dom" --ready /tmp/ready --timeout 120 "$@" &
	spid=$!
	echo $spid >>/tmp/case.pids
	wait_file /tmp/ready 20 $spid || fail "server not ready"
	xl unpause "$dom"
}

# SIGTERM mid-transfer: the server answers what is pending and goes; the
# guest comes out of its loop and sees the window unclaimed.
case_src_sigterm() {
	start_src src-sigterm 1 "case=ioserv-gone"
	wait_guest "$dom" "echo running" 30 || fail "guest never got going"
	kill -TERM $spid
	wait_pid $spid 20 || fail "server ignored SIGTERM"
	echo "HCVS-INFO server exit=$wait_rc after SIGTERM"
	[ "$wait_rc" -eq 0 ] || fail "server exit $wait_rc"
	wait_gone src-sigterm 30 || fail "guest hung after the server went away"
	check_no_zombie
}

# SIGKILL mid-transfer: the guest's vCPU blocks in Xen; a new server
# re-attaches to the recorded id and the guest carries on, losing nothing.
case_src_restart() {
	rm -f /tmp/src.state
	start_src src-restart 1 "case=ioserv-echo n=400 seed=41" --state /tmp/src.state
	wait_guest "$dom" "echo running" 30 || fail "guest never got going"
	kill -KILL $spid
	wait_pid $spid 10
	sleep 1
	echo "HCVS-INFO killed; vcpu: $(xl vcpu-list "$dom" | awk 'NR == 2 { print $5, $6 }')"
	"$BIN/xen_src_ioserv" --domid "$dom" --state /tmp/src.state --reattach --timeout 120 &
	spid=$!
	echo $spid >>/tmp/case.pids
	wait_pid $spid 80 || fail "re-attached server did not finish"
	[ "$wait_rc" -eq 0 ] || fail "re-attached server exit $wait_rc"
	wait_gone src-restart 30 || fail "guest did not power off"
	check_no_zombie
}

# The guest is destroyed under the server: the death watch fires, the
# server unmaps and exits, and no "(null)" domain lingers.
case_src_destroy() {
	start_src src-destroy 1 "case=ioserv-gone"
	wait_guest "$dom" "echo running" 30 || fail "guest never got going"
	xl destroy "$dom"
	wait_pid $spid 20 || fail "server did not notice the domain's death"
	echo "HCVS-INFO server exit=$wait_rc after xl destroy"
	[ "$wait_rc" -eq 0 ] || fail "server exit $wait_rc"
	check_no_zombie
}

[ -f /hcvs/dom0-cases-hcvsockd.sh ] && . /hcvs/dom0-cases-hcvsockd.sh

# ---- driver --------------------------------------------------------------

cleanup() {
	[ -f /tmp/case.pids ] && for p in $(cat /tmp/case.pids); do
		kill -KILL "$p" 2>/dev/null
	done
	rm -f /tmp/case.pids
	for d in $(xl list | awk 'NR > 2 { print $2 }'); do
		xl destroy "$d" >/dev/null 2>&1
	done
}

if [ "$1" = "--one" ]; then
	fn=case_$(echo "$2" | tr '-' '_')
	"$fn"
	exit $?
fi

overall=0
for c in "$@"; do
	echo "HCVS-CASE $c BEGIN"
	t0=$(now_ms)
	timeout -s KILL "$CASE_TIMEOUT" sh "$0" --one "$c"
	rc=$?
	[ $rc -eq 137 ] && echo "HCVS-CHECK FAIL $c: timed out after ${CASE_TIMEOUT} s"
	echo "HCVS-CASE $c END rc=$rc ms=$(( $(now_ms) - t0 ))"
	[ $rc -eq 0 ] || overall=1
	cleanup
done
exit $overall
