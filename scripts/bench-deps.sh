#!/usr/bin/env bash
# Installs what `make bench` needs beyond the build, only where it is missing:
#   apt: wrk (HTTP load generator), nginx and haproxy (the mTLS proxy pairs weft is
#        compared with), openssl (their certificates), iperf3 (the kernel's direct
#        TCP figure, make bench-footprint).
# nginx's and haproxy's packages would start system services; the benchmark runs its own
# instances inside sandbox pods only, so service starts are refused during the install.
set -euo pipefail

say() { printf 'bench-deps: %s\n' "$*" >&2; }

missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || missing+=("$2"); }
need_cmd wrk wrk
need_cmd nginx nginx
need_cmd haproxy haproxy
need_cmd iperf3 iperf3
need_cmd openssl openssl
need_cmd nsenter util-linux

[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  say "missing: ${missing[*]}; run as root (sudo make bench) or: apt-get install ${missing[*]}"
  exit 1
fi
say "installing ${missing[*]} (apt)"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# A policy-rc.d of our own (only when the host has none) keeps invoke-rc.d from
# starting the packaged nginx or haproxy; removed on every exit path.
policy=/usr/sbin/policy-rc.d
ours=
cleanup() {
  rm -f "$log"
  [ -n "$ours" ] && rm -f "$policy"
  return 0
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=1
fi
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  say "apt-get failed"
  exit 1
fi
