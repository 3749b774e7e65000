# SPDX-License-Identifier: MIT
# Dom0 side of the linux-* cases, sourced by dom0-cases.sh: a Linux PVH
# domU (Debian's kernel, /hcvs/linux/initrd.gz built from linux-init.sh)
# gets AF_VSOCK from hcvsock_vsock.ko, served by hcvsockd started through
# the shipped hcvsock-xl-create.  The guest's console is logged by
# xenconsoled (--log=guest); its "HCVS-G" lines are copied into this
# case's output as "HCVS-LG ...", with dom0's "HCVS-PEER" lines.
LGDIR=/hcvs/linux
# Tens of MiB through an emulated machine: more than the default limit.
CASE_TIMEOUT_linux_vsock=480
CASE_TIMEOUT_linux_restart=200
CASE_TIMEOUT_linux_regs=400
CASE_TIMEOUT_linux_boots=1100
CASE_TIMEOUT_linux_sboots=1300
LGLOG=/var/log/xen/console

# lg_cfg NAME CASE [MODARGS]: the domU's xl config and hcvsockd's conf
# (the kernel: $LGDIR, Debian 12's 6.1 unless a case says otherwise).
lg_cfg() {
	cat >"/tmp/$1.cfg" <<CFG
name = "$1"
type = "pvh"
kernel = "${LGKERNEL:-$LGDIR}/vmlinuz"
ramdisk = "${LGKERNEL:-$LGDIR}/initrd.gz"
extra = "console=hvc0 loglevel=4 hcvs_case=$2 hcvs_mod=${3:-}"
memory = 256
vcpus = 1
tsc_mode = "native"
on_poweroff = "preserve"
on_reboot = "destroy"
on_crash = "preserve"
CFG
	mkdir -p /etc/hcvsock
	cat >"/etc/hcvsock/$1.conf" <<CONF
pio_base = $PIO
guest_cid = 42
socket_dir = /run/hcvsock/$1
default_policy = deny
port 1234 connect
port 1235 connect
port 1236 connect
port 1237 connect
port 2345 listen
notify = none, msi, evtchn
ok_line = yes
log_level = info
user = nobody
group = nogroup
CONF
	mkdir -p "/run/hcvsock/$1"
	rm -f "$LGLOG/guest-$1.log"
}

# lg_wait NAME PATTERN SECONDS: the guest printed a matching HCVS-G line.
lg_wait() {
	wait_until "$3" grep -qs "HCVS-G $2" "$LGLOG/guest-$1.log"
}

# lg_dump NAME: the guest's lines, for the harness.
lg_dump() {
	tr -d '\r' <"$LGLOG/guest-$1.log" 2>/dev/null | grep 'HCVS-G ' |
	    sed 's/^.*HCVS-G /HCVS-LG /'
}

# lg_echo NAME PORT: dom0's echo on the guest's port, a process per
# connection, recording what each brought (/tmp/lgrx/NAME.PORT/N).
lg_echo() {
	mkdir -p "/tmp/lgrx/$1.$2"
	lgtool echo "/run/hcvsock/$1/vsock_$2" "/tmp/lgrx/$1.$2" 600 \
	    2>"/tmp/lgrx/err.$1.$2" &
	echo $! >>/tmp/case.pids
	wait_file "/run/hcvsock/$1/vsock_$2" 10 || fail "echo on port $2 not listening"
}

# lg_rx NAME PORT: size and checksum of everything the echo received.
lg_rx() {
	for f in /tmp/lgrx/$1.$2/*; do
		[ -f "$f" ] || continue
		echo "HCVS-PEER rx port=$2 size=$(wc -c <"$f") sha=$(sha256sum <"$f" | cut -c1-16)"
		# echo_xfer sends the positional pattern tagged with the size:
		# where it differs, say where the wrong bytes came from.
		[ "$(wc -c <"$f")" -ge 16 ] &&
		    lgtool verify "$f" "$(wc -c <"$f")" | grep -v 'wrong_words=0$'
	done
	# Reports only: the guest's checksums are what the case asserts.
	return 0
}

# lg_fail NAME PORT WHY: what the guest and dom0 got so far, then fail.
lg_fail() {
	lg_dump "$1"
	lg_rx "$1" "$2"
	cat /tmp/lg.* 2>/dev/null
	hv_log
	fail "$3"
}

# lg_off NAME SECONDS: the guest has shut down or crashed.  Its domain is
# kept (on_poweroff and on_crash "preserve"): xenconsoled unmaps a dying
# domain's console without reading what is left in it, so a guest that
# printed its last lines and powered off at once could lose them.  A
# triple fault is a reboot to Xen (on_reboot "destroy"): then it is gone.
_lg_down() {
	_lg_st=$(xl list "$1" 2>/dev/null | awk 'NR == 2 { print $5 }')
	[ -z "$_lg_st" ] || case $_lg_st in *[sc]*) true ;; *) false ;; esac
}
lg_off() {
	wait_until "$2" _lg_down "$1"
}

# lg_ended NAME: the guest's END line is in its console log (xenconsoled
# writes it on its own time), then the preserved domain is destroyed.
lg_ended() {
	wait_until 10 grep -qs 'HCVS-G END ' "$LGLOG/guest-$1.log"
	_lg_rc=$?
	xl destroy "$1" >/dev/null 2>&1
	wait_gone "$1" 30
	return $_lg_rc
}

# lg_finish NAME: the guest powers off by itself; hcvsockd follows.
lg_finish() {
	lg_off "$1" 240 || { lg_dump "$1"; hv_log; fail "guest did not finish"; }
	# No END line: it crashed; show why.
	lg_ended "$1" || {
		lg_dump "$1"
		tr -d '\r' <"$LGLOG/guest-$1.log" | tail -n 60 | sed 's/^/HCVS-LGC /'
		hv_log
		fail "guest went away without its END line"
	}
	lg_dump "$1"
	wait_pid_gone "$dpid" 20 || { hv_log; fail "hcvsockd still running after the guest went"; }
	hv_log
	check_no_zombie
}

# The data path: h2g, checksummed g2h from 1 B to 16 MiB, SEQPACKET, 64
# connections at once, throughput against a dom0-local AF_UNIX stream.
case_linux_vsock() {
	name=linux-vsock
	lg_cfg $name vsock
	lg_echo $name 1234
	lgtool seq-echo /run/hcvsock/$name/vsock_1235 340 >/tmp/lg.seq 2>&1 &
	echo $! >>/tmp/case.pids
	lgtool gather /run/hcvsock/$name/vsock_1236 64 340 >/tmp/lg.gather 2>&1 &
	echo $! >>/tmp/case.pids
	lgtool sink /run/hcvsock/$name/vsock_1237 340 >/tmp/lg.sink 2>&1 &
	echo $! >>/tmp/case.pids
	hv_launch $name
	echo "HCVS-INFO dom0 cpu: $(grep -o -w -E 'fsgsbase|avx2|xsaves?' /proc/cpuinfo | sort -u | tr '\n' ' ')"
	lg_wait $name "h2g listening" 60 || lg_fail $name 1234 "guest did not listen"
	# Refused until the guest's listener is up: try again, bounded.
	wait_until 30 echo_peer connect "/run/hcvsock/$name/vsock" 2345 1048576 211 -t 60 ||
	    echo "HCVS-CHECK FAIL host-initiated transfer"
	# Each step bounded on its own, so that a stuck one shows where.
	lg_wait $name "g2h tag=s16777216" 150 || lg_fail $name 1234 "g2h echoes did not finish"
	lg_wait $name "seq msgs=" 60 || lg_fail $name 1234 "SEQPACKET did not finish"
	lg_wait $name "concurrent conns=" 90 || lg_fail $name 1234 "64 connections did not finish"
	lg_wait $name "send bytes=" 90 || lg_fail $name 1234 "throughput run did not finish"
	lg_finish $name
	cat /tmp/lg.seq /tmp/lg.gather /tmp/lg.sink
	lg_rx $name 1234
	# The same number of bytes over AF_UNIX in dom0, now.
	lgtool unix-local 16777216
}

# hcvsockd is SIGKILLed mid-transfer and restarted: it re-attaches, the
# guest's sockets are reset, a new connection works.
case_linux_restart() {
	name=linux-restart
	lg_cfg $name restart
	lg_echo $name 1234
	lgtool sink /run/hcvsock/$name/vsock_1237 120 >/tmp/lg.sink 2>&1 &
	echo $! >>/tmp/case.pids
	hv_launch $name
	lg_wait $name "transfer started" 60 || { lg_dump $name; fail "transfer did not start"; }
	sleep 2
	kill -KILL "$dpid"
	wait_pid_gone "$dpid" 10
	sleep 1
	echo "HCVS-INFO killed; vcpu: $(xl vcpu-list "$name" | awk 'NR == 2 { print $5, $6 }')"
	hv_daemon $name "hcvsockd restart"
	lg_finish $name
	cat /tmp/lg.sink
	lg_rx $name 1234
}

# The 6.12 kernel Debian 12 also ships, with the module built for it: a
# checksummed echo, SEQPACKET, unload.
case_linux_612() {
	name=linux-612
	LGKERNEL=/hcvs/linux612 lg_cfg $name smoke
	lg_echo $name 1234
	lgtool seq-echo /run/hcvsock/$name/vsock_1235 120 >/tmp/lg.seq 2>&1 &
	echo $! >>/tmp/case.pids
	hv_launch $name
	lg_finish $name
	cat /tmp/lg.seq
	lg_rx $name 1234
}

# rmmod while a socket is live (refused: the socket holds the module),
# then idle (works), insmod again, traffic again.
case_linux_rmmod() {
	name=linux-rmmod
	lg_cfg $name rmmod
	lg_echo $name 1234
	hv_launch $name
	lg_finish $name
	lg_rx $name 1234
}

# Vector registers across the emulated machine's vCPU switches: dom0 and
# a Linux guest hold patterns in them at once.  Checks the test machine,
# not hcvsock: docs/TESTING-xen.md says why it exists.
case_linux_regs() {
	name=linux-regs
	lg_cfg $name regs
	hv_launch $name
	lg_wait $name "regs start" 120 || lg_fail $name 1234 "guest did not start its check"
	lgtool regs 2 40 10000000 || echo "HCVS-CHECK FAIL dom0's vector registers changed"
	lg_finish $name
}

# linux_boots SERVED: the Linux guest (no module loaded) booted to its
# init and back twelve times, counting the boots that end in a triple
# fault instead of the guest's END line.  SERVED=0: plain `xl create`, no
# IOREQ server (the test machine alone); SERVED=1: each boot through the
# launch helper with hcvsockd serving it, as the linux-* cases boot.
linux_boots() {
	n=12 crashed=0 i=0
	while [ $i -lt $n ]; do
		name=lboot-$i
		lg_cfg $name boot
		tf0=$(xl dmesg | grep -c 'Triple fault')
		if [ "$1" = 1 ]; then
			hv_launch $name
		else
			xl create -q "/tmp/$name.cfg" || fail "xl create $name"
		fi
		lg_off $name 150 || fail "$name did not finish"
		ended=1
		lg_ended $name || ended=0
		[ "$1" = 0 ] || wait_pid_gone "$dpid" 20 || fail "hcvsockd for $name still running"
		tf=$(( $(xl dmesg | grep -c 'Triple fault') - tf0 ))
		if [ $ended = 0 ] || [ $tf != 0 ]; then
			crashed=$((crashed + 1))
			echo "HCVS-INFO $name: no END line, triple faults $tf"
			xl dmesg | grep -A14 'Triple fault' | tail -n 15 | sed 's/^/HCVS-INFO   /'
			tr -d '\r' <"$LGLOG/guest-$name.log" | tail -n 20 | sed 's/^/HCVS-LGC /'
		fi
		i=$((i + 1))
	done
	echo "HCVS-INFO linux-boots: $n boots, $crashed crashed"
	[ $crashed = 0 ] || echo "HCVS-CHECK FAIL boots crashed: $crashed of $n"
	check_no_zombie
}
case_linux_boots() { linux_boots 0; }
case_linux_sboots() { linux_boots 1; }
