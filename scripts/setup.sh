#!/usr/bin/env bash
# Installs what flopsmeter needs to build and test on Debian 12, from Debian's
# packages only, then the pinned npm references the tests compare against.
# Idempotent: installs only what is missing.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ make pkg-config
  nlohmann-json3-dev
  libonig-dev libicu-dev zlib1g-dev libzstd-dev libsnappy-dev libyaml-dev libssl-dev
  libgtest-dev libgmock-dev
  libsqlite3-dev libpq-dev libsodium-dev
  # Exports to S3 and DynamoDB: HTTP (libcurl >= 7.85).
  libcurl4-openssl-dev
  python3 python3-torch python3-jinja2 python3-jsonschema
  git openssl ca-certificates
  # The ledger's tests run against a real PostgreSQL server (started and
  # stopped by the test script) and tamper through the databases' own CLIs.
  postgresql sqlite3
  # The dossier's browser test drives this Chromium (playwright-core, no downloaded browser).
  chromium
  # The native trainer (flopsmeter train) links libtorch (CPU, with OpenBLAS);
  # its data-parallel ranks use libtorch's Gloo process group, whose headers need Gloo's.
  libtorch-dev libgloo-dev
)
# Node.js runs the pinned reference implementations (tests/reference); use the
# machine's own when it has one, Debian's otherwise.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)

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

bash "$(dirname "$0")/install_references.sh"
