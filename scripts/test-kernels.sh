#!/usr/bin/env bash
# make test-kernels: boots each kernel in KERNELS under qemu (plain emulation,
# no network) and runs the BPF object loads and the privileged datapath tests
# inside it against this build. One line per kernel:
#   kernel <uname -r>: N passed, N failed
# and a non-zero exit when any kernel failed. docs/kernels.md says how it works.
#
#   KERNELS        Debian cloud kernel releases, e.g. "6.1.0-57-cloud-amd64";
#                  default: the newest 6.1 and 6.12 cloud kernels apt offers.
#   KERNEL_TESTS   test files to run in the guest (default test/integration/datapath).
#   KERNEL_TIMEOUT seconds one guest may run before it is killed (default 2400).
#   KERNEL_SMP, KERNEL_MEM  guest CPUs (default 2) and MiB (default 2048).
#   KERNEL_LOG=1   stream the guest's console instead of showing it on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
cache=$project/build/kernels # kernels and their few modules, kept between runs

say() { printf 'test-kernels: %s\n' "$*" >&2; }

if [ "$(uname -m)" != x86_64 ]; then
  say "the kernel matrix boots x86-64 kernels and runs only on x86-64 hosts"
  exit 1
fi
# The root image holds the host's /etc, parts of which only root can read.
if [ "$(id -u)" -ne 0 ]; then
  say "needs root (it images the host's /etc and installs packages): sudo make test-kernels"
  exit 1
fi

apt_missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2"); }
need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd mksquashfs squashfs-tools
need_cmd depmod kmod
need_cmd cpio cpio
need_cmd xz xz-utils
need_cmd zstd zstd
# The guest's /init is busybox, and it must not need the host's libraries.
if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
  apt_missing+=(busybox-static)
fi
need_cmd file file
if [ "${#apt_missing[@]}" -gt 0 ]; then
  say "installing ${apt_missing[*]} (apt)"
  log=$(mktemp)
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${apt_missing[@]}" || { apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${apt_missing[@]}"; }; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; say "apt-get failed"; exit 1
  fi
  rm -f "$log"
fi

newest() { # newest release whose linux-image package matches the pattern
  apt-cache search --names-only "^linux-image-$1\$" | awk '{print $1}' |
    sed 's/^linux-image-//' | sort -V | tail -n 1
}
if [ -z "${KERNELS:-}" ]; then
  KERNELS="$(newest '6\.1\.0-[0-9]+-cloud-amd64') $(newest '6\.12\.[0-9]+\+deb12-cloud-amd64')"
  if [ -z "${KERNELS// /}" ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    KERNELS="$(newest '6\.1\.0-[0-9]+-cloud-amd64') $(newest '6\.12\.[0-9]+\+deb12-cloud-amd64')"
  fi
fi
read -r -a kernels <<<"$KERNELS"
[ "${#kernels[@]}" -gt 0 ] || { say "no kernels: set KERNELS or check apt's sources"; exit 1; }

tmp=$(mktemp -d /tmp/weft-kernels.XXXXXX)
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Drivers the guest needs before its root image mounts, and for the tests
# (veth pairs for the sandbox, kTLS) and the writable layer over the project;
# built in on some kernels, modules on others.
guest_modules=(virtio_pci virtio_blk squashfs overlay veth tls)

fetch_kernel() { # $1 release → $cache/$1/{vmlinuz,modules/,modules/order}
  local rel=$1 dir=$cache/$1
  [ -f "$dir/vmlinuz" ] && [ "$(cat "$dir/modules/wanted" 2>/dev/null)" = "${guest_modules[*]}" ] &&
    return 0
  say "fetching linux-image-$rel (apt)"
  local dl=$tmp/dl-$rel
  mkdir -p "$dl/x"
  (cd "$dl" && apt-get download "linux-image-$rel" >/dev/null 2>&1) ||
    (cd "$dl" && apt-get update -qq >/dev/null 2>&1 && apt-get download "linux-image-$rel" >/dev/null) || {
    say "apt has no linux-image-$rel"; return 1; }
  dpkg-deb -x "$dl"/linux-image-*.deb "$dl/x"
  depmod -b "$dl/x" "$rel"
  rm -rf "$dir.new" && mkdir -p "$dir.new/modules"
  cp "$dl/x/boot/vmlinuz-$rel" "$dir.new/vmlinuz"
  local path name
  : >"$dir.new/modules/order"
  # Dependencies first; a module already listed (or built in) is not repeated.
  while read -r _ path; do
    name=$(basename "$path")
    grep -qx "${name%%.ko*}.ko" "$dir.new/modules/order" && continue
    case $path in
    *.ko.xz) xz -dc "$path" >"$dir.new/modules/${name%%.ko*}.ko" ;;
    *.ko.zst) zstd -qdc "$path" >"$dir.new/modules/${name%%.ko*}.ko" ;;
    *) cp "$path" "$dir.new/modules/${name%%.ko*}.ko" ;;
    esac
    echo "${name%%.ko*}.ko" >>"$dir.new/modules/order"
  done < <(modprobe -d "$dl/x" -S "$rel" --show-depends -a "${guest_modules[@]}" | grep '^insmod ')
  echo "${guest_modules[*]}" >"$dir.new/modules/wanted"
  rm -rf "$dir" && mv "$dir.new" "$dir"
  rm -rf "$dl"
}

make_initramfs() { # $1 release → $tmp/initrd-$1
  local rel=$1 root=$tmp/initrd-root-$1
  mkdir -p "$root"/{bin,dev,proc,sys,modules}
  cp /bin/busybox "$root/busybox"
  ln -s ../busybox "$root/bin/sh"
  cp scripts/kernels/init.sh "$root/init" && chmod 755 "$root/init"
  cp "$cache/$rel/modules/"* "$root/modules/"
  (cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$tmp/initrd-$rel"
  rm -rf "$root"
}

# The guest's root: the host's /usr and /etc and this project, read-only and
# uncompressed (quick to make; nothing but the tests reads it).
make_image() {
  local tests=${KERNEL_TESTS:-test/integration/datapath}
  mkdir -p "$tmp/meta"
  echo "$project" >"$tmp/meta/project"
  cat >"$tmp/meta/run" <<EOF
echo "WEFT-UNAME \$(uname -r)"
echo "WEFT-BOOTED \$(cut -d' ' -f1 /proc/uptime)"
export PATH=$project/.tools/bin:/usr/local/bin:/usr/bin:/usr/sbin
WEFT_TEST_RESULTS=/tmp/test-results.json node scripts/run-tests.ts --project integration $tests
EOF
  # Only what the tests run: binaries, the libraries beside them, /etc, the project.
  local base
  base=$(basename "$project")
  mksquashfs /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu /usr/lib64 /etc "$project" "$tmp/meta" \
    "$tmp/root.img" -no-progress -quiet -noI -noD -noF -noX -no-xattrs -wildcards \
    -e '.git' 'build/kernels' 'bench/results' 'dri' 'libLLVM*' 'libclang*' >/dev/null
}

run_kernel() { # $1 release; prints the result line; returns non-zero on failure
  local rel=$1 log=$tmp/console-$1.log start
  start=$(date +%s)
  qemu-system-x86_64 -accel tcg -cpu max -smp "${KERNEL_SMP:-2}" -m "${KERNEL_MEM:-2048}" \
    -nographic -no-reboot -nic none \
    -kernel "$cache/$rel/vmlinuz" -initrd "$tmp/initrd-$rel" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
    -drive "file=$tmp/root.img,if=virtio,format=raw,readonly=on" \
    </dev/null >"$log" 2>&1 &
  qemu_pid=$!
  if [ "${KERNEL_LOG:-}" = 1 ]; then tail -f "$log" --pid "$qemu_pid" & fi
  local waited=0
  while kill -0 "$qemu_pid" 2>/dev/null; do
    sleep 2
    waited=$((waited + 2))
    if [ "$waited" -ge "${KERNEL_TIMEOUT:-2400}" ]; then
      say "$rel: no result after ${waited}s; stopping the guest"
      kill "$qemu_pid" 2>/dev/null || true
    fi
  done
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=
  local took=$(($(date +%s) - start)) uname counts rc booted
  uname=$(sed -n 's/^WEFT-UNAME \([^[:space:]]*\).*/\1/p' "$log" | tail -n 1)
  counts=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | grep -aoE '^[0-9]+ passed, [0-9]+ failed' |
    tail -n 1 || true)
  rc=$(sed -n 's/^WEFT-RESULT \([^[:space:]]*\).*/\1/p' "$log" | tail -n 1)
  [ -n "$counts" ] || counts="0 passed, 1 failed"
  booted=$(sed -n 's/^WEFT-BOOTED \([0-9.]*\).*/\1/p' "$log" | tail -n 1)
  echo "kernel ${uname:-$rel}: $counts"
  say "$rel: ${took}s in all, the guest at its tests after ${booted:-?}s"
  if [ "$rc" != 0 ]; then
    [ "${KERNEL_LOG:-}" = 1 ] || tail -n 60 "$log" | tr -d '\r' | sed 's/^/  | /' >&2
    return 1
  fi
}

mkdir -p "$cache"
for rel in "${kernels[@]}"; do fetch_kernel "$rel"; done
t0=$(date +%s)
make_image
say "root image $(du -m "$tmp/root.img" | cut -f1) MiB in $(($(date +%s) - t0))s"
failed=0
for rel in "${kernels[@]}"; do
  make_initramfs "$rel"
  run_kernel "$rel" || failed=1
done
exit "$failed"
