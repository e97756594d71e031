#!/usr/bin/env bash
# Runs COMMAND [ARG...] against fresh test stores on loopback (stores.js):
# S3 (s3rver, bucket "audit" and "audit.dotted") and DynamoDB (dynalite,
# table "flops-runs", keys run_id and record_version) behind a proxy that
# checks every request's SigV4 signature and injects faults, and the ECS
# and EC2 metadata endpoints. The command sees
#
#   FM_TEST_PROXY_PORT      the stores, through the checking proxy
#   FM_TEST_S3_PORT         s3rver itself, FM_TEST_DYNAMODB_PORT dynalite itself
#   FM_TEST_METADATA_PORT   the credential endpoints
#   FM_TEST_STORES_DIR      stores.js's directory: requests.log holds every request
#
#   bash tests/export/with_stores.sh bash tests/export/export_contract.sh build/flopsmeter .
#
# The servers are stopped and their directory removed when the command
# ends, fails or is interrupted; a watchdog does the same if this script is
# killed outright. The command's exit status is this script's.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
modules="$here/../reference/node_modules"
for package in s3rver dynalite aws4 @aws-sdk/client-s3 @aws-sdk/client-dynamodb; do
  [[ -d $modules/$package ]] || { echo "with_stores: npm package $package is missing: run scripts/install_references.sh" >&2; exit 1; }
done
command -v node >/dev/null || { echo "with_stores: node not found (Debian nodejs)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/flopsmeter-stores-XXXXXX")
node "$here/stores.js" "$work" >"$work/stores.log" 2>&1 &
stores=$!
stop_stores() {
  kill "$stores" 2>/dev/null && wait "$stores" 2>/dev/null
  rm -rf "$work"
}
trap stop_stores EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill "$2" 2>/dev/null; rm -rf "$3"' \
  watchdog "$$" "$stores" "$work" </dev/null >/dev/null 2>&1 &

for _ in $(seq 1 300); do
  [[ -f $work/stores.env ]] && break
  kill -0 "$stores" 2>/dev/null || { cat "$work/stores.log" >&2; echo "with_stores: stores.js failed" >&2; exit 1; }
  sleep 0.1
done
[[ -f $work/stores.env ]] || { cat "$work/stores.log" >&2; echo "with_stores: the stores did not start in 30 s" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
source "$work/stores.env"
set +a
export FM_TEST_STORES_DIR="$work"

"$@" &
command_pid=$!
trap 'kill -TERM "$command_pid" 2>/dev/null; wait "$command_pid"; exit 130' INT
trap 'kill -TERM "$command_pid" 2>/dev/null; wait "$command_pid"; exit 143' TERM HUP
status=0
wait "$command_pid" || status=$?
exit "$status"
