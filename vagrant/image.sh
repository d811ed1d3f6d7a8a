#!/usr/bin/env bash
# Builds the weft image from the checkout in /vagrant with podman and hands it to k3s's
# containerd. No registry: every node builds its own (the chart runs with pullPolicy Never),
# compiling the BPF objects against its own kernel's BTF.
set -euo pipefail
cd /vagrant
tag=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/weft/Chart.yaml)
[ -n "$tag" ] || { echo "no appVersion in charts/weft/Chart.yaml" >&2; exit 1; }
image="localhost/weft:$tag"

echo "$(hostname): building $image (a few minutes: npm ci, clang, the addon)"
podman build --quiet --tag "$image" --file Containerfile . >/dev/null

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
podman save --quiet --format docker-archive --output "$dir/weft.tar" "$image"
until [ -S /run/k3s/containerd/containerd.sock ]; do sleep 2; done
k3s ctr --namespace k8s.io images import "$dir/weft.tar" >/dev/null
echo "$(hostname): $image imported into k3s"
