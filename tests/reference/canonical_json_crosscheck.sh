#!/usr/bin/env bash
# Canonical JSON (RFC 8785) byte for byte like the npm package
# `canonicalize` (Samuel Erdtman's implementation, pinned in package.json),
# on ~3,000 generated documents and ~25,000 numbers
# (canonical_json_reference.js says which), through canonical_json_main.
#
#   canonical_json_crosscheck.sh CANONICAL_JSON_MAIN SOURCE_DIR
#
# Needs Node.js and the references installed by scripts/install_references.sh;
# FM_REFERENCES_DIR=DIR takes canonicalize from DIR/node_modules instead
# (e.g. `npm install --prefix DIR canonicalize@VERSION` while the shared
# install lacks it).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 CANONICAL_JSON_MAIN SOURCE_DIR" >&2
  exit 2
fi
driver=$1
ref="$2/tests/reference"
modules="${FM_REFERENCES_DIR:-$ref}/node_modules"

missing() {
  echo "canonical_json_crosscheck: $1 is missing; run scripts/install_references.sh" >&2
  exit 1
}
command -v node >/dev/null || missing "node (Node.js)"
[[ -f "$modules/canonicalize/package.json" ]] || missing "$modules/canonicalize"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node "$ref/canonical_json_reference.js" "$tmp/docs.jsonl" "$tmp/expected.txt"
"$driver" "$tmp/docs.jsonl" "$tmp/expected.txt"
