#!/usr/bin/env bash
# A worker: a k3s agent joining the server at SERVER_IP.
set -euo pipefail
: "${NODE_IP:?}" "${SERVER_IP:?}" "${K3S_TOKEN:?run vagrant up or vagrant provision, which make the token}" "${K3S_VERSION:?}"

iface=$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')
[ -n "$iface" ] || { echo "no interface has $NODE_IP" >&2; exit 1; }

if ! systemctl is-active --quiet k3s-agent; then
  # The server may still be starting (providers that boot machines in parallel).
  until curl -sk -o /dev/null "https://$SERVER_IP:6443/"; do sleep 5; done
  curl -sfL https://get.k3s.io |
    INSTALL_K3S_VERSION="$K3S_VERSION" K3S_URL="https://$SERVER_IP:6443" K3S_TOKEN="$K3S_TOKEN" \
      sh -s - agent --node-ip "$NODE_IP" --flannel-iface "$iface"
fi
