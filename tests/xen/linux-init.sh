#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the Linux domU of the linux-* cases (tests/xen/dom0-cases-linux.sh):
# Debian's kernel, busybox, socat, the vsock modules and hcvsock_vsock.ko.
# Reads hcvs_case= (and hcvs_mod= module arguments) from the kernel command
# line, runs that case's guest side and powers off.  "HCVS-G" lines go to
# the console, which dom0's xenconsoled logs to a file.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp
exec >/dev/console 2>&1

# Each line ends with the guest's uptime (read by the shell: no process).
g() {
	read -r up _ </proc/uptime
	echo "HCVS-G $* t=$up"
}
bye() {
	g "END case=$case result=$1"
	sync
	poweroff -f
	sleep 30
}
for a in $(cat /proc/cmdline); do
	case $a in
	hcvs_case=*) case=${a#hcvs_case=} ;;
	hcvs_mod=*) modargs=$(echo "${a#hcvs_mod=}" | tr ',' ' ') ;;
	esac
done
g "BEGIN case=$case kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"
g "cpu $(grep -o -w -E 'fsgsbase|avx2|xsaves?' /proc/cpuinfo | sort -u | tr '\n' ' ')"

# Kernel lines of the transport, once each.
klog() {
	dmesg | grep 'hcvsock:' | while read -r l; do
		grep -qxF "$l" /tmp/klog.seen 2>/dev/null && continue
		echo "$l" >>/tmp/klog.seen
		g "kmsg ${l#*] }"
	done
}
load() {
	insmod /lib/modules/vsock.ko 2>/dev/null
	insmod /lib/modules/vmw_vsock_virtio_transport_common.ko 2>/dev/null
	insmod /lib/modules/hcvsock_vsock.ko $modargs
	rc=$?
	klog
	return $rc
}
refcnt() { cat /sys/module/hcvsock_vsock/refcnt 2>/dev/null || echo gone; }
# counters TAG: the module's counters now (debugfs); dom0 takes the
# difference of TAG-0 and TAG-1 over one transfer.
counters() {
	g "counters tag=$1 $(cat /sys/kernel/debug/hcvsock_vsock/counters 2>/dev/null || echo none)"
}
# reap PID TENTHS: wait for a background job, at most TENTHS/10 s (then
# it is killed); its exit status.
reap() {
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt "$2" ]; do
		sleep 0.1; n=$((n + 1))
	done
	kill "$1" 2>/dev/null
	wait "$1"
}
# Closed sockets hold the module until their close completes (the peer's
# RST or Linux's close timeout): wait for that, bounded, then unload.
rmmod_idle() {
	n=0
	while [ "$(refcnt)" != 0 ] && [ $n -lt 200 ]; do
		sleep 0.1; n=$((n + 1))
	done
	rmmod hcvsock_vsock
	g "rmmod-idle rc=$? after_ms=$((n * 100)) module=$(refcnt)"
	klog
}

# echo_xfer PORT BYTES TAG: send BYTES random bytes to dom0's echo on PORT,
# half-close, read the echo to EOF; print both checksums.
echo_xfer() {
	# Positional bytes (lgtool.c): dom0 can tell where a wrong byte came from.
	lgtool pattern "$2" "$2" >/tmp/in.$3
	socat -t 60 -T 60 -b 65536 "OPEN:/tmp/in.$3,rdonly!!CREATE:/tmp/out.$3" \
	    "VSOCK-CONNECT:2:$1" 2>/tmp/socat.$3
	rc=$?
	g "g2h tag=$3 size=$2 rc=$rc sent=$(sha256sum </tmp/in.$3 | cut -c1-16)" \
	    "got=$(sha256sum </tmp/out.$3 | cut -c1-16) got_size=$(wc -c </tmp/out.$3)" \
	    "err=$(head -c 120 /tmp/socat.$3 | tr ' \n' '_ ')" \
	    "cmp=$(cmp /tmp/in.$3 /tmp/out.$3 2>&1 | head -c 80 | tr ' \n' '_ ')"
	rm -f /tmp/in.$3 /tmp/out.$3
	return $rc
}

# A bare boot: no module, nothing served (linux-boots counts these).
[ "$case" = boot ] && bye PASS

load || bye FAIL

case $case in
vsock)
	# Host to guest first: dom0 connects through hcvsockd's listener.
	# dom0 retries its CONNECT until this listener is up.
	socat -t 60 VSOCK-LISTEN:2345 EXEC:cat &
	lpid=$!
	g "h2g listening"
	reap $lpid 650
	g "h2g done rc=$?"

	for s in 1 4095 65537 1048576; do
		echo_xfer 1234 $s s$s
	done
	# The long transfers alone: steady-state notifications.
	counters echo16m-0
	echo_xfer 1234 16777216 s16777216
	counters echo16m-1

	lgtool seq-client 2 1235 200 77

	lgtool multi 2 1236 64 65536

	counters send16m-0
	lgtool send 2 1237 16777216
	counters send16m-1
	klog
	rmmod_idle
	bye PASS ;;
restart)
	# A long transfer that the daemon's SIGKILL and restart cut short.
	lgtool send 2 1237 1073741824 >/tmp/first.out 2>&1 &
	spid=$!
	sleep 0.5
	g "transfer started"
	reap $spid 900
	g "first transfer rc=$? $(sed 's/HCVS-G //' /tmp/first.out | tr '\n' ' ')"
	klog
	echo_xfer 1234 1048576 after
	klog
	bye PASS ;;
smoke)
	echo_xfer 1234 1048576 smoke
	lgtool seq-client 2 1235 50 99
	rmmod_idle
	bye PASS ;;
regs)
	# The emulated machine keeps vector registers while dom0 and this
	# guest share its CPUs (dom0 runs the same check meanwhile).
	g "regs start"
	if lgtool regs 2 40 10000000 >/tmp/regs.out; then r=PASS; else r=FAIL; fi
	sed 's/^/HCVS-G /' /tmp/regs.out
	bye $r
	bye FAIL ;;
rmmod)
	# A live connection pins the module: rmmod is refused, data still flows.
	lgtool hold 2 1234 120 &
	cpid=$!
	sleep 1
	g "live connection refcnt=$(refcnt)"
	rmmod hcvsock_vsock 2>/tmp/rmmod.err
	g "rmmod-live rc=$? refcnt=$(refcnt) err=$(tr ' \n' '_ ' </tmp/rmmod.err)"
	echo_xfer 1234 65536 while-pinned
	kill $cpid
	wait $cpid
	rmmod_idle
	# Loaded again, told to ring by register only: the fallback.
	modargs="$modargs evtchn_kick=0"
	load
	g "insmod-again rc=$?"
	echo_xfer 1234 1048576 reloaded
	rmmod_idle
	bye PASS ;;
*)
	g "unknown case $case"
	bye FAIL ;;
esac
