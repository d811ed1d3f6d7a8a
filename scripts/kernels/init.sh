#!/bin/sh
# /init of the test guest (busybox). The host's /usr and /etc and the project
# arrive read-only on a squashfs disk (/dev/vda); everything written goes to
# tmpfs. Runs the command in the image's meta/run, prints one result line
# for the host to read, and powers off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
/busybox mount -t proc proc /proc
/busybox mount -t sysfs sys /sys
/busybox mount -t devtmpfs dev /dev
say() { echo "weft-guest: $*" >/dev/console; }
done_with() { echo "WEFT-RESULT $1" >/dev/console; /busybox sync; /busybox reboot -f; }

# Drivers the guest needs that this kernel builds as modules, in dependency order.
while read -r mod; do
  [ -n "$mod" ] && /busybox insmod "/modules/$mod" 2>/dev/null
done </modules/order

b=/busybox
$b mkdir -p /img /tmp /run /var /dev/pts /dev/shm
$b mount -t squashfs -o ro /dev/vda /img || done_with "error: cannot mount the root image"
$b mount -t tmpfs tmp /tmp
$b mount -t tmpfs run /run
$b mount -t devpts devpts /dev/pts
$b mount -t tmpfs shm /dev/shm
$b mount -t bpf bpf /sys/fs/bpf
$b mount -t cgroup2 cgroup2 /sys/fs/cgroup
$b mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
$b ln -s /run /var/run
$b mkdir -p /var/tmp /root
# The host's tree replaces the initramfs's: /usr's programs and libraries, /etc, and the
# project at its own path.
$b rm -rf /usr /etc
$b mkdir -p /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu /usr/lib64 /etc
for d in bin sbin lib/x86_64-linux-gnu lib64; do $b mount --bind "/img/${d#lib/}" "/usr/$d"; done
$b mount --bind /img/etc /etc
project=$(cat /img/meta/project)
$b mkdir -p "$project" /tmp/.project/upper /tmp/.project/work
# Tests and vitest write into the project (caches, pins' parents): a tmpfs layer takes it.
$b mount -t overlay overlay -o "lowerdir=/img/$($b basename "$project"),upperdir=/tmp/.project/upper,workdir=/tmp/.project/work" "$project" ||
  done_with "error: cannot mount the project overlay"
for l in bin sbin lib lib64; do $b rm -rf "/$l"; $b ln -s "usr/$l" "/$l"; done
ip link set lo up

cd "$project" || done_with "error: no project at $project"
export HOME=/root TMPDIR=/tmp CI=true
/bin/sh /img/meta/run
done_with "$?"
