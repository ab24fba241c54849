#!/usr/bin/env bash
# Installs the system packages Conclave's tests need, on Debian. Called by `npm test`.
# As root it uses apt-get; otherwise it prints what is missing and how to install it.
set -euo pipefail

# Binary to check  ->  Debian package that provides it.
# `--server` checks only what running the server needs (nothing today); the default is everything
# the tests need.
declare -A NEEDS=()
if [[ "${1:-}" != "--server" ]]; then
  NEEDS[chromium]=chromium
fi

missing=()
for bin in ${!NEEDS[@]+"${!NEEDS[@]}"}; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${NEEDS[$bin]}")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-system-deps: missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
