#!/usr/bin/env bash
# Every node: the packages the rig uses, and what the weft agent needs from the host kernel
# (BTF, cgroup v2, bpffs at /sys/fs/bpf). Fails with the reason when the host lacks one.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
# podman builds the image on the node (image.sh); curl fetches k3s and helm.
apt-get install -y -qq --no-install-recommends ca-certificates curl podman >/dev/null

fail() { echo "$(hostname): $*" >&2; exit 1; }
[ -r /sys/kernel/btf/vmlinux ] || fail "kernel $(uname -r) has no BTF (/sys/kernel/btf/vmlinux)"
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || fail "/sys/fs/cgroup is not cgroup v2"
# systemd mounts bpffs on both distributions; the agent's pod relies on the host's mount.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

. /etc/os-release
echo "$(hostname): $PRETTY_NAME, kernel $(uname -r)"
