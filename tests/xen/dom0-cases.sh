#!/bin/sh
# SPDX-License-Identifier: MIT
# Dom0 side of the Xen end-to-end cases (busybox sh, inside the emulated
# dom0).  `dom0-cases.sh NAME...` runs each case under a time limit and
# prints "HCVS-CASE NAME BEGIN dom=N" ... "HCVS-CASE NAME END rc=N ms=N";
# the harness checks those and the guest's "(dN) HCVS-G" lines.
GUEST=/hcvs/pvh-guest.elf
BIN=/hcvs/bin
CASE_TIMEOUT=${CASE_TIMEOUT:-150}
# Six transfers of 256 KiB a round, two rounds, on a loaded machine.
CASE_TIMEOUT_hv_perf=240
CASE_TIMEOUT_hv_perf_poll=240
CASE_TIMEOUT_hv_perf_pin=240
CASE_TIMEOUT_hv_perf_ring=240

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
${HV_CPUS:+cpus = "$HV_CPUS"}
cmdline = "$3"
on_poweroff = "destroy"
on_reboot = "${ON_REBOOT:-destroy}"
on_crash = "destroy"
CFG
}

# create NAME: paused; prints the domid.
create() {
	xl create -p "/tmp/$1.cfg" >/tmp/xl-create.log 2>&1 || {
		cat /tmp/xl-create.log; fail "xl create $1"; }
	xl domid "$1"
}

# wait_until SECONDS COMMAND...: COMMAND every 0.1 s until it succeeds (0),
# or SECONDS have passed (1).
wait_until() {
	_wu_max=$(($1 * 10))
	shift
	_wu_n=0
	until "$@"; do
		_wu_n=$((_wu_n + 1))
		[ $_wu_n -gt $_wu_max ] && return 1
		sleep 0.1
	done
	return 0
}

_file_or_dead() { [ -e "$1" ] || { [ -n "$2" ] && ! kill -0 "$2" 2>/dev/null; }; }
_not_alive() { ! kill -0 "$1" 2>/dev/null; }
_no_domain() { ! xl domid "$1" >/dev/null 2>&1; }

# wait_file FILE SECONDS [PID]: FILE appears (gives up early if PID dies).
wait_file() {
	wait_until "$2" _file_or_dead "$1" "${3:-}" && [ -e "$1" ]
}

# wait_pid PID SECONDS: 0 if it exited in time (its status in $wait_rc).
wait_pid() {
	if ! wait_until "$2" _not_alive "$1"; then
		wait_rc=124
		return 1
	fi
	wait "$1"
	wait_rc=$?
	return 0
}

# wait_gone NAME SECONDS: the domain has gone (the guest powered off).
wait_gone() {
	wait_until "$2" _no_domain "$1"
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

# The emulated machine, not hcvsock: guests read an absent port in a tight
# loop (as Linux's early PIT calibration does), nothing serving them; count
# the runs that end in a triple fault instead of the guest's END line.
CASE_TIMEOUT_emu_pio=1100
case_emu_pio() {
	n=0 crashed=0
	while [ $n -lt 8 ]; do
		name=emu-pio-$n
		mkcfg $name 1 "case=pio-loop n=200000"
		tf0=$(xl dmesg | grep -c 'Triple fault')
		dom=$(create $name) || exit 1
		echo "HCVS-CASE-DOM emu-pio dom=$dom"
		xl unpause "$dom"
		wait_gone $name 130 || { xl destroy $name; echo "HCVS-INFO $name: still running"; }
		tf=$(( $(xl dmesg | grep -c 'Triple fault') - tf0 ))
		[ $tf = 0 ] || { crashed=$((crashed + 1)); xl dmesg | grep -A8 'Triple fault' | tail -n 9 | sed 's/^/HCVS-INFO   /'; }
		n=$((n + 1))
	done
	echo "HCVS-INFO emu-pio: $n guests of 200000 reads, $crashed triple faults"
	[ $crashed = 0 ] || echo "HCVS-CHECK FAIL triple faults: $crashed of $n"
	check_no_zombie
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
_guest_said() { xl dmesg | grep -q "(d$1) HCVS-G $2"; }
wait_guest() {
	wait_until "$3" _guest_said "$1" "$2"
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

# SIGKILL mid-traffic at a fixed point: the server stops answering after
# 200 requests with the guest's next one already posted, and is killed
# there (the guest cannot finish first).  Its vCPU stays blocked in Xen; a
# new server re-attaches to the recorded id, answers the request the dead
# one left, and the guest carries on, losing nothing.
case_src_restart() {
	rm -f /tmp/src.state /tmp/stalled
	start_src src-restart 1 "case=ioserv-echo n=400 seed=41" --state /tmp/src.state \
	    --stall-after 200 --stalled /tmp/stalled
	wait_file /tmp/stalled 60 $spid || fail "server never reached its stall point"
	kill -KILL $spid
	wait_pid $spid 10
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

# ---- hcvsockd itself, started the way hcvsock-xl-create does ------------
# Guest ports: 1234 (guest connects to dom0's echo peer), 2345 (dom0
# connects to the guest).  The daemon drops to nobody after set-up.
PIO=0x5a0

hv_conf() {
	mkdir -p /etc/hcvsock
	cat >"/etc/hcvsock/$1.conf" <<CONF
pio_base = $PIO
${HV_MMIO:+mmio_base = $HV_MMIO}
guest_cid = 42
socket_dir = /run/hcvsock/$1
default_policy = deny
port 1234 connect
port 2345 listen
notify = none, msi, evtchn
${HV_EXTRA_CONF:-}
ok_line = yes
log_level = info
user = nobody
group = nogroup
CONF
}

# Dump what the daemon logged (syslog) since the last call.
# A daemon its own seccomp filter killed fails the case, whenever it happened.
hv_log() {
	[ -f /tmp/syslog ] || return 0
	pos=$(cat /tmp/syslog.pos 2>/dev/null || echo 0)
	tail -n +"$((pos + 1))" /tmp/syslog | grep hcvsockd | sed 's/^.*hcvsockd\[/HCVS-LOG hcvsockd[/' >/tmp/hv.log
	wc -l </tmp/syslog >/tmp/syslog.pos
	cat /tmp/hv.log
	if grep -q 'seccomp: forbidden system call' /tmp/hv.log; then
		fail "hcvsockd was killed by its seccomp filter: $(grep -o 'forbidden system call [0-9]*' /tmp/hv.log | head -n1)"
	fi
}

# peer_serve NAME CONNS: dom0's echo peer on the guest's port 1234.
peer_serve() {
	mkdir -p "/run/hcvsock/$1"
	"$BIN/echo_peer" serve "/run/hcvsock/$1/vsock_1234" -n "$2" -t 150 &
	ppid=$!
	echo $ppid >>/tmp/case.pids
	wait_file "/run/hcvsock/$1/vsock_1234" 10 $ppid || fail "echo peer not listening"
}

# hv_start NAME VCPUS CMDLINE: the shipped launch helper creates the guest
# paused, starts hcvsockd, waits for it to be ready, unpauses.
hv_start() {
	mkcfg "$1" "$2" "$3"
	hv_conf "$1"
	hv_launch "$1"
}

# hv_daemon NAME WHAT: hcvsockd started by hand for domain NAME, its pid in
# $dpid and /tmp/case.pids; WHAT names the step if it fails.
hv_daemon() {
	hcvsockd --domain "$1" --config "/etc/hcvsock/$1.conf" \
	    --pidfile "/run/hcvsock/$1.pid" || { hv_log; fail "$2"; }
	dpid=$(cat "/run/hcvsock/$1.pid")
	echo "$dpid" >>/tmp/case.pids
}

# hv_launch NAME: as hv_start, with /tmp/NAME.cfg and its conf written.
hv_launch() {
	name=$1
	hv_log >/dev/null
	rm -f "/run/hcvsock/$name.pid" /tmp/dpid
	# The daemon may be done before the helper returns: catch its pid early.
	( n=0; while [ ! -s "/run/hcvsock/$name.pid" ] && [ $n -lt 1200 ]; do
		n=$((n + 1)); sleep 0.05; done
	  cat "/run/hcvsock/$name.pid" >/tmp/dpid 2>/dev/null ) &
	catcher=$!
	if [ -n "${HV_IMAGE:-}" ]; then
		HCVS_TEST_ARGS="--config /etc/hcvsock/$name.conf" \
		    hcvsock-xl-create -t 60 -r "$HV_IMAGE" "$name" || { hv_log; fail "hcvsock-xl-create -r"; }
	else
		HCVS_TEST_ARGS="--config /etc/hcvsock/$name.conf" \
		    hcvsock-xl-create -t 60 "$name" "/tmp/$name.cfg" || { hv_log; fail "hcvsock-xl-create"; }
	fi
	wait $catcher
	# A quick guest may be gone already: then its daemon's log names it.
	dom=$(xl domid "$name" 2>/dev/null) || dom=$(tail -n +"$(($(cat /tmp/syslog.pos 2>/dev/null || echo 0) + 1))" \
	    /tmp/syslog 2>/dev/null | sed -n "s/.*hcvsockd\[[0-9]*\]: $name: domain $name is dom\([0-9]*\)$/\1/p" | tail -n1)
	echo "HCVS-CASE-DOM $name dom=$dom"
	dpid=$(cat /tmp/dpid 2>/dev/null)
	[ -n "$dpid" ] || fail "no hcvsockd pid"
	echo $dpid >>/tmp/case.pids
	echo "HCVS-INFO hcvsockd pid=$dpid"
	hv_confined "$dpid"
}

# hv_confined PID: serving under the seccomp filter, no capability left
# (the helper returns once the daemon is ready, i.e. confined; a guest
# that already finished took its daemon with it: nothing to look at).
hv_confined() {
	st=$(awk '/^(Seccomp|CapBnd|CapEff|NoNewPrivs):/ { printf "%s%s ", $1, $2 }' \
	    "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] || { echo "HCVS-INFO hcvsockd already gone, confinement not seen"; return 0; }
	echo "HCVS-INFO confinement: $st"
	case "$st" in
	*"Seccomp:2 "*) ;;
	*) hv_log; fail "hcvsockd serves without its seccomp filter ($st)" ;;
	esac
	case "$st" in
	*"CapBnd:0000000000000000 "*) ;;
	*) fail "hcvsockd kept capabilities in its bounding set ($st)" ;;
	esac
}

# privs PID: the daemon's credentials, as the kernel sees them.
privs() {
	awk '/^(Uid|Gid):/ { printf "%s%s %s %s %s ", $1, $2, $3, $4, $5 }
	    /^Cap(Eff|Prm):/ { printf "%s%s ", $1, $2 }' "/proc/$1/status"
}

# hv_end NAME: the guest powers off; hcvsockd must notice and exit 0.
hv_end() {
	wait_gone "$1" 60 || { hv_log; fail "guest did not finish"; }
	wait_pid_gone "$dpid" 20 || { hv_log; fail "hcvsockd still running after the guest went"; }
	hv_log
	check_no_zombie
}

# hv_counters NAME: the serving daemon's doorbell counters, as
# `hcvsockctl status --json` gives them (hcvsockctl(8)).
hv_counters() {
	j=$(hcvsockctl status --json "$1" 2>&1) || { hv_log; fail "hcvsockctl status: $j"; }
	line=
	for k in doorbells sync_doorbells evtchn_doorbells evtchn_events_ignored passes; do
		v=$(echo "$j" | tr ',{}' '\n\n\n' | sed -n "s/^\"$k\"://p" | head -n1)
		line="$line $k=${v:-missing}"
	done
	echo "HCVS-INFO counters:$line"
}

# Not our child (it daemonised): poll /proc.
_pid_gone() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
wait_pid_gone() {
	wait_until "$2" _pid_gone "$1"
}

hv_g2h() {
	name=$1 cmd=$2 conns=$3
	peer_serve "$name" "$conns"
	hv_start "$name" 1 "case=g2h port=$PIO vport=1234 $cmd conns=$conns"
	wait_pid $ppid 120 || fail "echo peer did not finish"
	[ "$wait_rc" -eq 0 ] || fail "echo peer exit $wait_rc"
	hv_end "$name"
}

# Guest-initiated, checksummed both ways, for each doorbell and interrupt.
case_hv_g2h_sync() { hv_g2h hv-g2h-sync "irq=none sync=1 bytes=65536 seed=101" 2; }
# The same with hcvsockd's sync_poll_us window: each answered doorbell keeps
# the loop polling, while the echo peer's socket is served between looks.
case_hv_g2h_window() {
	HV_EXTRA_CONF="sync_poll_us = 200"
	hv_g2h hv-g2h-window "irq=none sync=1 bytes=65536 seed=104" 2
}
# The same with busy_poll_us: while the window is open hcvsockd keeps
# TX_NO_KICK up and looks at TX on every turn, so the guest, which skips
# even the synchronous doorbell under the flag, rings seldom.
case_hv_g2h_busy() {
	HV_EXTRA_CONF="busy_poll_us = 100000"
	hv_g2h hv-g2h-busy "irq=none sync=1 bytes=65536 seed=108" 2
}
case_hv_g2h_msi() { hv_g2h hv-g2h-msi "irq=msi sync=0 bytes=65536 seed=102" 1; }
case_hv_g2h_evtchn() { hv_g2h hv-g2h-evtchn "irq=evtchn sync=0 bytes=65536 seed=103" 1; }

# The event-channel doorbell (EVTCHN_KICK): every kick an EVTCHNOP_send on
# the notification port; both directions, 1 and 2 vCPUs, a daemon restart.
case_hv_ekick_g2h() { hv_g2h hv-ekick-g2h "irq=evtchn ekick=1 sync=0 bytes=65536 seed=105" 1; }
# The host withholds EVTCHN_KICK (evtchn_kick = no): a guest that asks
# falls back to the register doorbell.
case_hv_ekick_withheld() {
	HV_EXTRA_CONF="evtchn_kick = no"
	hv_g2h hv-ekick-withheld "irq=evtchn ekick=1 ekick_expect=0 sync=0 bytes=65536 seed=106" 1
}
case_hv_ekick_h2g() { hv_h2g hv-ekick-h2g "irq=evtchn ekick=1" 202; }
case_hv_ekick_smp() { hv_smp hv-ekick-smp "irq=evtchn ekick=1 bytes=32768 seed=302"; }
# The three doorbells measured by the guest's TSC in one boot, two rounds
# (echo peer: one echo and one stream connection per doorbell and round;
# a sink on port 1235: one guest-to-host stream per doorbell and round).
# hv_perf NAME [CONF-LINE]; HV_CPUS=1: the guest on pCPU 1, dom0 on pCPU 0
# (cleanup undoes dom0's pinning).
hv_perf() {
	name=$1
	HV_EXTRA_CONF="port 1235 connect
${2:-}"
	if [ -n "${HV_CPUS:-}" ]; then
		xl vcpu-pin 0 all 0 || fail "xl vcpu-pin 0 all 0"
		echo "HCVS-INFO pinned: dom0 on pCPU 0, the guest on pCPU $HV_CPUS"
	fi
	peer_serve $name 12
	"$BIN/echo_peer" serve "/run/hcvsock/$name/vsock_1235" -n 6 -t 150 -s &
	spid=$!
	echo $spid >>/tmp/case.pids
	wait_file "/run/hcvsock/$name/vsock_1235" 10 $spid || fail "sink not listening"
	hv_start $name 1 "case=perf port=$PIO vport=1234 sink=1235 irq=evtchn bytes=262144 rounds=2${HV_PERF_ARGS:+ $HV_PERF_ARGS}"
	[ -n "${HV_CPUS:-}" ] && xl vcpu-list | sed 's/^/HCVS-INFO vcpu-list /'
	wait_pid $ppid 240 || fail "echo peer did not finish"
	wait_pid $spid 60 || fail "sink did not finish"
	hv_end $name
}
case_hv_perf() { hv_perf hv-perf; }
# The same with the device's TX poll window (hcvsockd.conf(5) tx_poll_us).
case_hv_perf_poll() { hv_perf hv-perf-poll "tx_poll_us = 500"; }
# The same with dom0 and the guest on pCPUs of their own.
case_hv_perf_pin() { HV_CPUS=1; hv_perf hv-perf-pin; }
# The same with the TX ring of the Linux module's defaults (32 slots of
# 16 KiB payload) instead of 8 of 4 KiB: a 256 KiB stream fits in it.
case_hv_perf_ring() { HV_PERF_ARGS="tx_slots=32 slot_size=16428"; hv_perf hv-perf-ring; }

case_hv_ekick_restart() { hv_restart hv-ekick-restart "irq=evtchn ekick=1"; }

# The register window as MMIO (port I/O claimed too, unused by the guest).
case_hv_mmio() {
	HV_MMIO=0xfe000000
	hv_g2h hv-mmio "mmio=$HV_MMIO irq=msi sync=0 bytes=65536 seed=104" 1
}

# Protocol MSG (MigTD's calls): dom0 starts a migration session on the
# daemon's _migtd listener, echoes 1 B..64 KiB each way, reads the report.
case_hv_msg() {
	name=hv-msg
	hv_start $name 1 "case=msg port=$PIO seed=77"
	"$BIN/echo_peer" migtd "/run/hcvsock/$name/vsock_migtd" 77 -t 120 ||
	    fail "migration session"
	hv_end $name
}

# Host-initiated: dom0 connects through the daemon's listener.
# hv_h2g NAME IRQ-ARGS SEED
hv_h2g() {
	name=$1
	hv_start $name 1 "case=h2g port=$PIO vport=2345 $2"
	wait_guest "$dom" "listening" 30 || fail "guest did not listen"
	"$BIN/echo_peer" connect "/run/hcvsock/$name/vsock" 2345 65536 $3 -t 60 ||
	    fail "host-initiated transfer"
	hv_end $name
}
case_hv_h2g() { hv_h2g hv-h2g "irq=msi" 201; }

# hv_smp NAME ARGS
hv_smp() {
	name=$1
	peer_serve $name 1
	hv_start $name 2 "case=smp port=$PIO vport=1234 $2"
	wait_pid $ppid 120 || fail "echo peer did not finish"
	hv_end $name
}
case_hv_smp() { hv_smp hv-smp "irq=msi bytes=32768 seed=301"; }

# The guest runs before hcvsockd: it reads all-ones, retries, then works.
case_hv_probe() {
	name=hv-probe
	peer_serve $name 1
	mkcfg $name 1 "case=g2h port=$PIO vport=1234 irq=none sync=1 bytes=4096 seed=401 probe_ms=60000"
	hv_conf $name
	hv_log >/dev/null
	xl create "/tmp/$name.cfg" >/dev/null 2>&1 || fail "xl create"
	dom=$(xl domid $name)
	echo "HCVS-CASE-DOM $name dom=$dom"
	sleep 3
	hv_daemon $name "hcvsockd start"
	wait_pid $ppid 120 || fail "echo peer did not finish"
	hv_end $name
}

# SIGTERM mid-transfer: the guest sees the device go away, does not hang.
case_hv_sigterm() {
	name=hv-sigterm
	peer_serve $name 1
	hv_start $name 1 "case=gone port=$PIO vport=1234 irq=msi bytes=67108864"
	wait_guest "$dom" "transfer started" 30 || fail "transfer did not start"
	sleep 2
	t0=$(now_ms)
	kill -TERM "$dpid"
	wait_pid_gone "$dpid" 20 || fail "hcvsockd ignored SIGTERM"
	echo "HCVS-INFO hcvsockd gone after SIGTERM ($(( $(now_ms) - t0 )) ms)"
	wait_gone $name 60 || { hv_log; fail "guest hung after SIGTERM"; }
	echo "HCVS-INFO guest gone $(( $(now_ms) - t0 )) ms after SIGTERM"
	hv_log
	check_no_zombie
}

# SIGKILL mid-transfer, restart: re-attach, the connection is reset, a new
# one carries a checksummed transfer.
# hv_restart NAME IRQ-ARGS
hv_restart() {
	name=$1
	peer_serve $name 2
	hv_start $name 1 "case=restart port=$PIO vport=1234 $2 bytes=67108864 bytes2=65536"
	wait_guest "$dom" "transfer started" 30 || fail "transfer did not start"
	sleep 2
	hv_counters $name
	kill -KILL "$dpid"
	wait_pid_gone "$dpid" 10
	sleep 1
	echo "HCVS-INFO killed; vcpu: $(xl vcpu-list "$dom" | awk 'NR == 2 { print $5, $6 }')"
	hv_daemon $name "hcvsockd restart"
	hv_confined "$dpid"
	wait_pid $ppid 120 || fail "echo peer did not finish"
	hv_end $name
}
case_hv_restart() { hv_restart hv-restart "irq=msi"; }

# The guest is destroyed with a connection open: hcvsockd unmaps and exits.
case_hv_destroy() {
	name=hv-destroy
	peer_serve $name 1
	hv_start $name 1 "case=hold port=$PIO vport=1234 irq=msi"
	wait_guest "$dom" "holding connection open" 30 || fail "guest did not connect"
	echo "HCVS-INFO serving: $(privs "$dpid")"
	xl destroy "$dom"
	wait_pid_gone "$dpid" 20 || { hv_log; fail "hcvsockd did not exit after xl destroy"; }
	echo "HCVS-INFO hcvsockd exited after xl destroy"
	wait_pid $ppid 20 || fail "echo peer did not see EOF"
	hv_log
	check_no_zombie
}

# xl_gone COMMAND ARGS...: the xl command that takes the served domain
# away (its output logged, it must succeed), then its hcvsockd exits.
xl_gone() {
	t0=$(now_ms)
	timeout 100 xl "$@" >/tmp/xl-$1.log 2>&1
	rc=$?
	echo "HCVS-INFO xl $1 rc=$rc ms=$(( $(now_ms) - t0 ))"
	grep -v 'xc: progress' /tmp/xl-$1.log | sed "s/^/HCVS-INFO xl $1: /" | tail -n 20
	[ $rc -eq 0 ] || { hv_log; fail "xl $1 rc=$rc"; }
	wait_pid_gone "$dpid" 20 || { hv_log; fail "hcvsockd still running after xl $1"; }
}

# xl save, then xl restore -p of the image: the old daemon exits with
# its domain; a new one serves the restored domain (a new domid) before
# it runs.  The guest acknowledged the suspend; resumed in the new domain
# it sets its (new) device up again and transfers.
case_hv_save() {
	name=hv-save
	peer_serve $name 2
	hv_start $name 1 "case=ctl port=$PIO vport=1234 bytes=65536 bytes2=65536"
	wait_guest "$dom" "waiting for the toolstack" 60 || fail "guest not ready to save"
	old=$dom
	xl_gone save "$dom" /tmp/hv-save.img
	echo "HCVS-INFO hcvsockd exited after the save"
	hv_log
	check_no_zombie
	HV_IMAGE=/tmp/hv-save.img hv_launch $name
	echo "HCVS-INFO restored dom=$dom (was $old)"
	wait_pid $ppid 120 || fail "echo peer did not finish"
	hv_end $name
	rm -f /tmp/hv-save.img
}

# xl reboot with on_reboot = "restart": libxl makes a new domain and runs
# it; the daemon exits with the old one, a new daemon attaches to the
# running new domain, whose guest probes until it is served.
case_hv_reboot() {
	name=hv-reboot
	peer_serve $name 2
	ON_REBOOT=restart hv_start $name 1 "case=ctl port=$PIO vport=1234 bytes=65536 probe_ms=60000"
	wait_guest "$dom" "waiting for the toolstack" 60 || fail "guest not ready to reboot"
	old=$dom
	xl_gone reboot "$dom"
	echo "HCVS-INFO hcvsockd exited when its domain rebooted"
	n=0
	while dom=$(xl domid $name 2>/dev/null); [ -z "$dom" ] || [ "$dom" = "$old" ]; do
		n=$((n + 1)); [ $n -gt 200 ] && fail "no new domain after the reboot"
		sleep 0.1
	done
	echo "HCVS-INFO rebooted dom=$dom (was $old)"
	echo "HCVS-CASE-DOM $name dom=$dom"
	hv_daemon $name "hcvsockd for the new domain"
	wait_guest "$dom" "waiting for the toolstack" 90 || { hv_log; fail "the rebooted guest did not transfer"; }
	xl destroy "$dom"
	wait_pid_gone "$dpid" 20 || { hv_log; fail "hcvsockd still running after xl destroy"; }
	wait_pid $ppid 20 || fail "echo peer did not finish"
	hv_log
	check_no_zombie
}

# Cases with a Linux guest, when the harness shipped them.
[ -f /hcvs/dom0-cases-linux.sh ] && . /hcvs/dom0-cases-linux.sh

# ---- driver --------------------------------------------------------------

cleanup() {
	[ -f /tmp/case.pids ] && for p in $(cat /tmp/case.pids); do
		kill -KILL "$p" 2>/dev/null
	done
	rm -f /tmp/case.pids
	# A crashed program leaves a line in the kernel log: show it.
	dmesg -c 2>/dev/null | grep -E 'segfault|traps:|general protection|Oops|BUG|type=1326|seccomp' |
	    sed 's/^/HCVS-DMESG /'
	for d in $(xl list | awk 'NR > 2 { print $2 }'); do
		xl destroy "$d" >/dev/null 2>&1
	done
	xl vcpu-pin 0 all all >/dev/null 2>&1
}

# A case killed by its time limit printed nothing after its last step:
# show what each side was doing then, so one run is enough to see why.
timeout_report() {
	( hv_log )
	for p in $(grep -lx hcvsockd /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3); do
		echo "HCVS-INFO hcvsockd pid=$p state: $(awk '/^State:/ { print $2, $3 }' /proc/$p/status 2>/dev/null)" \
		    "wchan: $(cat /proc/$p/wchan 2>/dev/null)"
	done
	timeout 10 hcvsockctl status "$1" 2>&1 | sed 's/^/HCVS-INFO status /'
	xl vcpu-list 2>&1 | sed 's/^/HCVS-INFO vcpu-list /'
	# Xen's own view of the guest's event channels and vCPUs (the (XEN) lines).
	xl debug-keys e >/dev/null 2>&1
	xl debug-keys q >/dev/null 2>&1
	sleep 1
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
	# A case may set a longer limit: CASE_TIMEOUT_<name with _ for ->.
	ct=$(eval echo "\${CASE_TIMEOUT_$(echo "$c" | tr '-' '_'):-$CASE_TIMEOUT}")
	timeout -s KILL "$ct" sh "$0" --one "$c"
	rc=$?
	[ $rc -eq 137 ] && { echo "HCVS-CHECK FAIL $c: timed out after $ct s"; timeout_report "$c"; }
	# A Linux guest's console tells how far it got.
	[ $rc -ne 0 ] && [ -f "/var/log/xen/console/guest-$c.log" ] &&
	    tr -d '\r' <"/var/log/xen/console/guest-$c.log" | tail -n 40 | sed 's/^/HCVS-LGC /'
	echo "HCVS-CASE $c END rc=$rc ms=$(( $(now_ms) - t0 ))"
	[ $rc -eq 0 ] || overall=1
	cleanup
done
exit $overall
