#!/usr/bin/env bash
# After `sudo make ...`: gives what the build wrote (build/, node_modules/, .tools/,
# the generated layout header) back to the user who ran sudo, so a later `make
# test` as that user can write there too. Does nothing unless root under sudo.
#   scripts/own.sh [path...]   (default: the build's outputs)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] && [ -n "${SUDO_UID:-}" ] && [ "${SUDO_UID}" != 0 ] || exit 0
[ "$#" -gt 0 ] || set -- build node_modules .tools bpf/include/layout.h
for p in "$@"; do
  [ -e "$p" ] || continue
  # Only what is not theirs yet: a prepared tree costs one walk, no writes.
  find "$p" ! -uid "$SUDO_UID" -exec chown -h "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" {} +
done
