#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the dom0 initramfs built by tests/xen/xen-e2e: bring up the Xen
# tool stack (modules, xenstored, xen-init-dom0, xenconsoled), run the
# cases, then power the whole machine off.  Lines starting with "HCVS-"
# are read by the harness from the serial log.
export PATH=/hcvs/bin:/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
# The launch helper, as shipped, without systemd.
export HCVSOCKD=/hcvs/bin/hcvsockd HCVSOCK_NO_SYSTEMD=1 XL=xl HCVSOCK_RUNDIR=/run/hcvsock
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib

step() { echo "HCVS-STEP $1"; }
die() {
	echo "HCVS-FATAL $*"
	echo o >/proc/sysrq-trigger
	sleep 30
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /var/run/xen /var/lib/xen /var/log/xen /var/run/xenstored /run/hcvsock
echo 1 >/proc/sys/kernel/sysrq
step dom0-up
echo "HCVS-DOM0 kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"

for m in xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc; do
	insmod "/lib/modules/$m.ko" || die "insmod $m"
done
mount -t xenfs xenfs /proc/xen || die "mount xenfs"
step modules

xenstored --pid-file /var/run/xenstored.pid || die "xenstored"
n=0
until xenstore-exists /local 2>/dev/null || xenstore-read /local/domain/0/name >/dev/null 2>&1 \
    || [ -S /var/run/xenstored/socket ]; do
	n=$((n + 1)); [ $n -gt 100 ] && die "xenstored did not come up"
	sleep 0.1
done
xen-init-dom0 >/tmp/xen-init-dom0.log 2>&1 || { cat /tmp/xen-init-dom0.log; die "xen-init-dom0"; }
# Guests' consoles are logged (/var/log/xen/console/guest-NAME.log): the
# Linux guests of the linux-* cases report there.
mkdir -p /var/log/xen/console
xenconsoled --pid-file=/var/run/xenconsoled.pid --log=guest || die "xenconsoled"
# hcvsockd logs to syslog once in the background.
syslogd -O /tmp/syslog
step toolstack
echo "HCVS-DOM0 toolstack up uptime=$(cut -d' ' -f1 /proc/uptime)"

sh /hcvs/dom0-cases.sh $(cat /hcvs/cases.list)
echo "HCVS-DONE rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
echo o >/proc/sysrq-trigger
sleep 30
