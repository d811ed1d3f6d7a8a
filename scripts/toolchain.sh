#!/usr/bin/env bash
# Installs what the build needs, only where it is missing, so `make` works on a
# clean Debian/Ubuntu host and stays quiet on a prepared one.
#   apt: clang, llvm, libbpf-dev, bpftool, libelf-dev, zlib, libuv headers,
#        iproute2, pkg-config, tcpdump, prometheus (tests)
#   node: Node 24 from the npm package node-linux-<arch> (x64, arm64) into .tools/
#         when the system Node is older than 22.18, the first to run .ts sources
#         without flags (the Makefile puts .tools/bin first on PATH).
# Floors it checks and names instead of failing later: libbpf >= 1.0 (the addon
# uses its 1.0 API; Ubuntu 22.04 ships 0.5), Node >= 22.18.
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
need_cmd prometheus prometheus # a real Prometheus scrapes the sandbox's agents in a test
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

# libbpf: the addon calls its 1.0 API (bpf_link_create opts, probes, btf__type_cnt).
libbpf_version=$(pkg-config --modversion libbpf 2>/dev/null || echo 0)
if [ "${libbpf_version%%.*}" -lt 1 ]; then
  say "libbpf $libbpf_version found; weft needs libbpf 1.0 or newer (Ubuntu 22.04 ships 0.5):"
  say "use Debian 12 or Ubuntu 24.04, or install libbpf >= 1.0 where pkg-config finds it"
  exit 1
fi

# Node >= 22.18: the first release that runs TypeScript sources without a flag.
node_ok() {
  local v
  v=$("$1" --version 2>/dev/null) || return 1
  v=${v#v}
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 18 ]; }
}
case $(uname -m) in
x86_64) node_arch=x64 ;;
aarch64 | arm64) node_arch=arm64 ;;
*) say "no Node package for $(uname -m): install Node >= 22.18 yourself and put it on PATH"; exit 1 ;;
esac
node_pkg="node-linux-$node_arch"
sys_node=$(command -v node || true)
if [ -x "$tools/bin/node" ] && node_ok "$tools/bin/node"; then
  : # project-local Node already there
elif [ -n "$sys_node" ] && [ "$sys_node" != "$tools/bin/node" ] && node_ok "$sys_node"; then
  : # system Node is new enough
else
  command -v npm >/dev/null 2>&1 || { say "npm is needed to fetch Node $node_pkg_version (apt-get install npm)"; exit 1; }
  say "installing Node $node_pkg_version into .tools/ (npm package $node_pkg)"
  mkdir -p "$tools/bin"
  npm install --prefix "$tools/node" --no-save --no-audit --no-fund --loglevel=error \
    "$node_pkg@$node_pkg_version" >/dev/null
  ln -sf "../node/node_modules/$node_pkg/bin/node" "$tools/bin/node"
  "$tools/bin/node" --version >/dev/null
fi
