#!/usr/bin/env bash
# On the server: helm, then the chart from /vagrant/charts/weft into weft-system, using the
# image each node built (image.sh). Waits for the issuer and the agents, and shows why not
# when they do not come up.
set -euo pipefail
: "${HELM_VERSION:?}"
export KUBECONFIG=/etc/rancher/k3s/k3s.yaml

if [ "$(helm version --short 2>/dev/null | cut -d+ -f1)" != "$HELM_VERSION" ]; then
  arch=$(dpkg --print-architecture)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL "https://get.helm.sh/helm-$HELM_VERSION-linux-$arch.tar.gz" | tar -xz -C "$tmp"
  install -m 0755 "$tmp/linux-$arch/helm" /usr/local/bin/helm
fi

# helm installs crds/ only on first install; apply them so a re-provision updates them.
kubectl apply --server-side -f /vagrant/charts/weft/crds/
helm upgrade --install weft /vagrant/charts/weft --namespace weft-system --create-namespace \
  --set image.pullPolicy=Never

diagnose() {
  kubectl -n weft-system get pods -o wide
  kubectl -n weft-system get events --sort-by=.lastTimestamp | tail -20
  kubectl -n weft-system logs deployment/weft-issuer --tail=30 || true
  kubectl -n weft-system logs daemonset/weft-agent --tail=30 || true
  exit 1
}
kubectl -n weft-system rollout status deployment/weft-issuer --timeout=300s || diagnose
kubectl -n weft-system rollout status daemonset/weft-agent --timeout=300s || diagnose
kubectl -n weft-system get pods -o wide
echo "weft is up. Try it: kubectl apply -f /vagrant/vagrant/shop.yaml (docs/kubernetes.md)"
