#!/usr/bin/env bash
# Each link of the AWS credential chain through `flopsmeter export`, end to
# end: the credentials it finds sign a real export, and the test proxy
# (stores.js), which knows each link's key and secret, checks the signature
# and logs which key signed. The environment, a profile of the shared
# credentials file, a profile of the config file, the container endpoint
# (with its authorization token file) and EC2 IMDSv2, each shadowing the
# ones after it; a profile named that does not exist; nothing found. The
# unit tests (tests/unit/aws_credentials_test.cc) take each link apart.
# Usage: with_stores.sh bash credentials_contract.sh PATH_TO_FLOPSMETER SOURCE_DIR
set -uo pipefail
FM="$(realpath "$1")"
SRC="$(realpath "$2")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=../cli/lib/contract.sh
source "$SRC/tests/cli/lib/contract.sh"
isolate_environment "$WORK"
cd "$WORK" || exit 1
[[ -n ${FM_TEST_PROXY_PORT:-} ]] || { echo "credentials_contract: run it under tests/export/with_stores.sh"; exit 1; }
HERE="$SRC/tests/export"
P="http://127.0.0.1:$FM_TEST_PROXY_PORT"
M="http://127.0.0.1:$FM_TEST_METADATA_PORT"
key() { node "$HERE/test_keys.js" "$@"; }
export AWS_EC2_METADATA_DISABLED=true
export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials" AWS_CONFIG_FILE="$WORK/aws-config"
timeout -k 5 60 "$FM" watch --run run --n-total 1000 --n-trainable 1000 --tokens-from tokens.txt \
  -- sh -c 'echo 500 > tokens.txt' >/dev/null 2>&1 || { echo "no run to export"; exit 1; }
printf '[default]\naws_access_key_id = AKIAFLOPSPROFILETEST\naws_secret_access_key = %s\n' \
  "$(key AKIAFLOPSPROFILETEST secret)" >aws-credentials
printf '[profile from-config]\naws_access_key_id = AKIAFLOPSCONFIG0TEST\naws_secret_access_key = %s\nregion = eu-west-1\n' \
  "$(key AKIAFLOPSCONFIG0TEST secret)" >aws-config
key ecs-authorization >ecs-token

# signed_by KEY_ID ARGS...: `export` succeeds, its requests signed with KEY_ID
signed_by() {
  local want=$1 prefix
  shift
  prefix="chain-$RANDOM$RANDOM"
  expect_exit 0 export run --to "s3://audit/$prefix" --endpoint-url "$P" "$@" || return 1
  grep -F "\"label\":\"PUT /audit/$prefix/" "$FM_TEST_STORES_DIR/requests.log" | grep -F "Credential=$want/" >/dev/null ||
    { echo "not signed by $want"; grep -F "/audit/$prefix/" "$FM_TEST_STORES_DIR/requests.log" | head -c 600; return 1; }
}
says() { grep -qF -- "$1" "$WORK/stderr" || { echo "stderr does not say: $1"; cat "$WORK/stderr"; return 1; }; }

instance_metadata() {
  AWS_EC2_METADATA_DISABLED= AWS_EC2_METADATA_SERVICE_ENDPOINT="$M" AWS_SHARED_CREDENTIALS_FILE="$WORK/none" \
    signed_by ASIAFLOPSIMDS000TEST && grep -qF "credentials from the EC2 instance metadata service at $M, role" "$WORK/stdout"
}
check "EC2 instance metadata (IMDSv2): a token, the role, its credentials" instance_metadata

container() {
  AWS_CONTAINER_CREDENTIALS_FULL_URI="$M/ecs/credentials" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$WORK/ecs-token" \
    AWS_EC2_METADATA_DISABLED= AWS_EC2_METADATA_SERVICE_ENDPOINT="$M" AWS_SHARED_CREDENTIALS_FILE="$WORK/none" \
    signed_by ASIAFLOPSECS0000TEST || return 1
  AWS_CONTAINER_CREDENTIALS_FULL_URI="$M/ecs/credentials" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong \
    AWS_SHARED_CREDENTIALS_FILE="$WORK/none" expect_exit 2 export run --to s3://audit/x --endpoint-url "$P" &&
    says "HTTP 401 (the authorization token is refused)"
}
check "the container endpoint (FULL_URI, its token file) before instance metadata; a wrong token refused" container

profiles() {
  AWS_CONTAINER_CREDENTIALS_FULL_URI="$M/ecs/credentials" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$WORK/ecs-token" \
    signed_by AKIAFLOPSPROFILETEST &&
    AWS_PROFILE=from-config signed_by AKIAFLOPSCONFIG0TEST &&
    signed_by AKIAFLOPSCONFIG0TEST --profile from-config && grep -qF "region eu-west-1" "$WORK/stdout" &&
    AWS_PROFILE=nope expect_exit 2 export run --to s3://audit/x --endpoint-url "$P" &&
    says "AWS profile 'nope' is in neither $WORK/aws-credentials nor $WORK/aws-config"
}
check "the shared files' profiles (credentials, then config) before the container; a named profile must exist" profiles

environment() {
  AWS_ACCESS_KEY_ID=AKIAFLOPSENV0000TEST AWS_SECRET_ACCESS_KEY="$(key AKIAFLOPSENV0000TEST secret)" \
    signed_by AKIAFLOPSENV0000TEST &&
    AWS_ACCESS_KEY_ID=AKIAFLOPSTOKEN00TEST AWS_SECRET_ACCESS_KEY="$(key AKIAFLOPSTOKEN00TEST secret)" \
      AWS_SESSION_TOKEN="$(key AKIAFLOPSTOKEN00TEST token)" signed_by AKIAFLOPSTOKEN00TEST
}
check "the environment's keys (and session token) before everything" environment

nothing_found() {
  AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" expect_exit 2 export run --to s3://audit/x \
    --endpoint-url "$P" && says "no AWS credentials found; tried the environment (AWS_ACCESS_KEY_ID is not set); profile 'default'" &&
    says "the EC2 instance metadata service (AWS_EC2_METADATA_DISABLED=true)"
}
check "nothing found: what was tried, link by link" nothing_found

no_secret_in_output() {
  local id
  for id in AKIAFLOPSENV0000TEST AKIAFLOPSTOKEN00TEST AKIAFLOPSPROFILETEST AKIAFLOPSCONFIG0TEST ASIAFLOPSECS0000TEST ASIAFLOPSIMDS000TEST; do
    ! grep -aqF -- "$(key $id secret)" "$WORK/stdout" "$WORK/stderr" run/flops_meter.json || { echo "$id's secret shown"; return 1; }
  done
}
check "no secret in the last outputs" no_secret_in_output

report_checks credentials_contract
