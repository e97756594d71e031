#!/usr/bin/env bash
# Installs what flopsmeter needs to build and test on Debian 12, from Debian's
# packages only. Idempotent: installs only what is missing.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ make pkg-config
  nlohmann-json3-dev
  libgtest-dev libgmock-dev
  python3 python3-torch
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present" >&2
fi
