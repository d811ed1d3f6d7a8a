#!/usr/bin/env bash
# The control plane: a k3s server. Its own NetworkPolicy controller is off
# (--disable-network-policy), so weft is what enforces NetworkPolicies in this cluster.
set -euo pipefail
: "${NODE_IP:?}" "${K3S_TOKEN:?run vagrant up or vagrant provision, which make the token}" "${K3S_VERSION:?}"

# flannel must carry pod traffic over the private network, not the NAT interface.
iface=$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) print $2 }')
[ -n "$iface" ] || { echo "no interface has $NODE_IP" >&2; exit 1; }

if ! systemctl is-active --quiet k3s; then
  curl -sfL https://get.k3s.io |
    INSTALL_K3S_VERSION="$K3S_VERSION" K3S_TOKEN="$K3S_TOKEN" sh -s - server \
      --node-ip "$NODE_IP" --flannel-iface "$iface" \
      --disable-network-policy --disable traefik --disable servicelb \
      --write-kubeconfig-mode 0644
fi

export KUBECONFIG=/etc/rancher/k3s/k3s.yaml
until kubectl get node "$(hostname)" >/dev/null 2>&1; do sleep 2; done
kubectl wait --for=condition=Ready "node/$(hostname)" --timeout=300s
