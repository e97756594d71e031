#!/usr/bin/env bash
# `flopsmeter export` against real stores on loopback (with_stores.sh):
# what it writes is read back with the AWS SDK for JavaScript and compared
# byte for byte (objects) and attribute by attribute (items); every request
# it sends has its SigV4 signature checked by an independent signer (the
# proxy, aws4); the ledger records an export only once the store confirmed
# it, and `ledger show` lists it. Then every fault the issue names, each
# with a clear error, bounded retries where the request is safe to repeat,
# and no export recorded: the server down, a connection reset mid-upload,
# HTTP 500 and 503 with Retry-After, a server slower than the timeout, bad
# credentials (403), a missing bucket or table, a clock the store says is
# off, an answer that contradicts what was sent. Last, no secret in any
# output, record, ledger or request. The meter's own export (watch
# --export, FLOPS_METER_EXPORT) and a failure of it that stays a warning.
# Usage: with_stores.sh bash export_contract.sh PATH_TO_FLOPSMETER SOURCE_DIR
set -uo pipefail
FM="$(realpath "$1")"
SRC="$(realpath "$2")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=../cli/lib/contract.sh
source "$SRC/tests/cli/lib/contract.sh"
isolate_environment "$WORK"
cd "$WORK" || exit 1
[[ -n ${FM_TEST_PROXY_PORT:-} ]] || { echo "export_contract: run it under tests/export/with_stores.sh"; exit 1; }
HERE="$SRC/tests/export"
P="http://127.0.0.1:$FM_TEST_PROXY_PORT"
KEY_ID=AKIAFLOPSENV0000TEST
SECRET=$(node "$HERE/test_keys.js" $KEY_ID secret)
TOKEN_KEY_ID=AKIAFLOPSTOKEN00TEST
TOKEN_SECRET=$(node "$HERE/test_keys.js" $TOKEN_KEY_ID secret)
TOKEN=$(node "$HERE/test_keys.js" $TOKEN_KEY_ID token)
# No shared files, no instance metadata (whose probe waits a second): the environment's keys.
export AWS_SHARED_CREDENTIALS_FILE="$WORK/no-credentials" AWS_CONFIG_FILE="$WORK/no-config" AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET
export FLOPSMETER_LEDGER="$WORK/ledger.sqlite" FLOPSMETER_LEDGER_KEY="$WORK/ledger.key" FLOPSMETER_ORGANISATION=Acme
S3=(--endpoint-url "$P")
PYTHON=/usr/bin/python3  # Debian's: starts in a tenth of the time of a version manager's shim

# Every command's output is kept for the secrets check at the end. (No `grep -q` at the end
# of a pipe: under pipefail the grep before it may die of SIGPIPE and fail the pipe.)
fm() {
  local want=$1
  shift
  expect_exit "$want" "$@"
  local status=$?
  cat "$WORK/stdout" "$WORK/stderr" >>"$WORK/all-output"
  return $status
}
says() { grep -qF -- "$1" "$WORK/stderr" || { echo "stderr does not say: $1"; cat "$WORK/stderr"; return 1; }; }
readback() { node "$HERE/readback.js" "$@"; }
fault() { curl -sf -X POST "$P/__fault" -d "$1" >/dev/null; }
clear_faults() { curl -sf -X POST "$P/__clear" >/dev/null; }
requests() { curl -sf "$P/__count?match=$($PYTHON -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1")" |
  $PYTHON -c 'import json, sys; print(json.load(sys.stdin)["count"])'; }
json_at() { $PYTHON -c 'import json, sys; d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[int(k)] if k.isdigit() else d[k]
print(d if not isinstance(d, (dict, list)) else json.dumps(d))' "$1" "$2"; }
exports_recorded() { "$FM" ledger show acme/sft --json | $PYTHON -c 'import json, sys; print(len(json.load(sys.stdin)["exports"]))'; }
metered_run() {  # metered_run NAME TOKENS: a run metered by `flopsmeter watch`, at $WORK/NAME
  timeout -k 5 60 "$FM" watch --run "$WORK/$1" --n-total 1000000 --n-trainable 1000000 --tokens-from "$WORK/$1.txt" \
    -- sh -c 'echo "$1" > "$0"' "$WORK/$1.txt" "$2" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr"; return 1; }
}

setup() {
  metered_run runA 50000 && metered_run runB 70000 && fm 0 ledger keygen || return 1
  fm 0 ledger add runA --ledger-produces acme/sft --ledger-model openai-community/gpt2
}
check "a metered run in the ledger" setup
RUN_A=$(json_at runA/flops_meter.json run_id)
RUN_B=$(json_at runB/flops_meter.json run_id)

help_and_usage() {
  fm 0 export --help && grep -q '^Usage: flopsmeter export (RUN_DIR | MODEL | --ledger-head) --to URL' "$WORK/stdout" &&
    grep -q '^Exit status: 0 everything exported and confirmed by the store' "$WORK/stdout" &&
    grep -q '^  --sse-kms-key-id ID$' "$WORK/stdout" && fm 0 export -h && grep -q '^Example:' "$WORK/stdout" || return 1
  fm 2 export runA --to s3://audit/x --endpoint http://x && says "did you mean --endpoint-url" &&
    fm 2 export runA --to s3://audit/x --sse aes && says "--sse aes: expected one of none, AES256, aws:kms" &&
    fm 2 export runA --to s3://audit/x --export-attempts 11 && says "export-attempts must be between 1 and 10" &&
    fm 2 export runA --to s3://audit/x --endpoint-url "https://AKIA:$SECRET@minio.example" &&
    says "endpoint URL: it holds a user name or password" &&
    fm 2 export runA --to s3://audit/x --region 'eu west' && says "region 'eu west': expected an AWS region"
}
check "export --help and -h; usage errors name the flag" help_and_usage

# ------------------------------------------------------------ S3
s3_run_directory() {
  fm 0 dossier runA -o runA/dossier.html && fm 0 dossier runA -o runA/dossier.md || return 1
  fm 0 export runA --to s3://audit/flops "${S3[@]}" --json && cp "$WORK/stdout" report.json || return 1
  local keys i url key
  keys=$(readback list audit "flops/$RUN_A/" | sort | tr '\n' ' ')
  [[ $keys == "flops/$RUN_A/dossier.html flops/$RUN_A/dossier.md flops/$RUN_A/flops_meter.json flops/$RUN_A/journal-rank0.jsonl flops/$RUN_A/ledger-head.json " ]] ||
    { echo "the bucket holds: $keys"; return 1; }
  # The record last: a record in the store means what it pins is there.
  [[ $(json_at report.json exported.0.objects.4.what) == record ]] || { cat report.json; return 1; }
  readback get-objects audit "flops/$RUN_A/" flops journal-rank0.jsonl dossier.html dossier.md flops_meter.json \
    ledger-head.json || return 1
  for name in journal-rank0.jsonl dossier.html dossier.md flops_meter.json; do
    cmp "flops/$name" "runA/$name" || { echo "$name differs"; return 1; }
  done
  # The head that went with it is one the ledger still extends.
  fm 0 ledger verify --head flops/ledger-head.json || return 1
  # Each object's ETag was checked against the MD5 of what was sent.
  for i in 0 1 2 3 4; do
    [[ $(json_at report.json "exported.0.objects.$i.check") == "ETag is the MD5 of the bytes sent" ]] || return 1
  done
  # The ledger records the record's URL and ETag, and `ledger show` lists it.
  url=$(json_at report.json exported.0.objects.4.url)
  fm 0 ledger show acme/sft --json || return 1
  [[ $(json_at "$WORK/stdout" exports.0.url) == "$url" ]] &&
    [[ $(json_at "$WORK/stdout" exports.0.version) == "ETag $(json_at report.json exported.0.objects.4.etag)" ]] &&
    [[ $(json_at "$WORK/stdout" exports.0.about) == $(json_at report.json exported.0.about) ]] || { cat "$WORK/stdout"; return 1; }
  fm 0 ledger show acme/sft && grep -qF "$url (ETag" "$WORK/stdout" || { cat "$WORK/stdout"; return 1; }
}
check "a run directory to S3: journals, dossier files, the head, the record last; read back byte for byte; in the ledger" \
  s3_run_directory

s3_multipart() {
  # A journal past 8 MiB goes up in parts (not a journal the run wrote: the export sends what is there).
  head -c 15000000 /dev/urandom | base64 -w 1000 >>runB/journal-rank0.jsonl
  fm 0 export runB --to s3://audit/big "${S3[@]}" --json && cp "$WORK/stdout" big.json || return 1
  [[ $(json_at big.json exported.0.objects.0.what) == journal && $(json_at big.json exported.0.objects.0.parts) == 3 ]] ||
    { head -c 2000 big.json; return 1; }
  [[ $(requests "partNumber=") == 3 ]] || { echo "$(requests "partNumber=") part requests"; return 1; }
  readback get-object audit "$(json_at big.json exported.0.objects.0.url | sed 's|s3://audit/||')" got &&
    cmp got runB/journal-rank0.jsonl
}
check "a journal above 8 MiB goes up as a multipart upload of 3 parts, read back byte for byte" s3_multipart

s3_encryption_headers() {
  fm 0 export runB --to s3://audit/kms "${S3[@]}" --sse aws:kms --sse-kms-key-id alias/flops-audit &&
    fm 0 export runB --to s3://audit/aes "${S3[@]}" --sse AES256 || return 1
  # s3rver stores without encrypting; what matters is what was asked (and signed).
  grep -F '"label":"PUT /audit/kms/' "$FM_TEST_STORES_DIR/requests.log" | grep -F 'flops_meter.json' |
    grep -F '"x-amz-server-side-encryption":"aws:kms"' | grep -F '"x-amz-server-side-encryption-aws-kms-key-id":"alias/flops-audit"' >/dev/null &&
    grep -F '"label":"POST /audit/kms/' "$FM_TEST_STORES_DIR/requests.log" | grep -F '"x-amz-server-side-encryption":"aws:kms"' >/dev/null &&
    grep -F '"label":"PUT /audit/aes/' "$FM_TEST_STORES_DIR/requests.log" | grep -F '"x-amz-server-side-encryption":"AES256"' >/dev/null ||
    { echo "no encryption headers"; return 1; }
  fm 2 export runA --to dynamodb://flops-runs "${S3[@]}" --sse AES256 && says "sse applies to objects in S3" &&
    fm 2 export runA --to s3://audit/x "${S3[@]}" --sse-kms-key-id k && says "sse-kms-key-id names the key of sse aws:kms"
}
check "SSE-S3 and SSE-KMS (with a key id) are asked on every put and the multipart start" s3_encryption_headers

# ------------------------------------------------------------ DynamoDB
dynamodb_run() {
  local before
  before=$(exports_recorded)
  fm 0 export runA --to dynamodb://flops-runs "${S3[@]}" --json && cp "$WORK/stdout" item.json || return 1
  readback compare-item flops-runs "$RUN_A" "$(json_at item.json exported.0.item.record_version)" runA/flops_meter.json ||
    return 1
  [[ $(exports_recorded) == $((before + 1)) ]] || { echo "not recorded"; return 1; }
  # Again (a retry): the same record is found there; no second item.
  fm 0 export runA --to dynamodb://flops-runs "${S3[@]}" --json &&
    [[ $(json_at "$WORK/stdout" exported.0.item.already_there) == True ]] &&
    [[ $(readback count flops-runs "$RUN_A") == 1 ]] || { cat "$WORK/stdout"; return 1; }
  # Another record of the same journal lines (written again) is not put over it.
  cp -r runA runA-again && fm 0 report --run runA-again --write || return 1
  fm 2 export runA-again --to dynamodb://flops-runs "${S3[@]}" && says "holds another record" &&
    says "not overwritten" && [[ $(readback count flops-runs "$RUN_A") == 1 ]] &&
    readback compare-item flops-runs "$RUN_A" "$(json_at item.json exported.0.item.record_version)" runA/flops_meter.json
}
check "a run to DynamoDB: one item, attribute by attribute as the record; a retry finds it; another record never overwrites it" \
  dynamodb_run

dynamodb_later_version() {
  # A resumed run's later record has more journal lines: a newer item beside the old.
  timeout -k 5 60 "$FM" watch --run runA-more --resume --n-total 1000000 --n-trainable 1000000 --tokens-from runA.txt \
    -- true >/dev/null 2>&1; cp -r runA runA-more 2>/dev/null
  rm -rf runA-more && cp -r runA runA-more &&
    timeout -k 5 60 "$FM" watch --run runA-more --resume --n-total 1000000 --n-trainable 1000000 \
      --tokens-from runA-more.txt -- sh -c 'echo 80000 > runA-more.txt' >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr"; return 1; }
  fm 0 export runA-more --to dynamodb://flops-runs "${S3[@]}" --json || return 1
  local version
  version=$(json_at "$WORK/stdout" exported.0.item.record_version)
  [[ $version -gt $(json_at item.json exported.0.item.record_version) ]] &&
    [[ $(readback count flops-runs "$RUN_A") == 2 ]] &&
    readback compare-item flops-runs "$RUN_A" "$version" runA-more/flops_meter.json
}
check "a later record of the run (resumed) is a newer item beside the older" dynamodb_later_version

# ------------------------------------------------------------ a model, the head
model_and_head() {
  fm 0 export acme/sft --to s3://audit/models "${S3[@]}" --json && cp "$WORK/stdout" model.json || return 1
  local keys id size
  keys=$(readback list audit models/ | sort | tr '\n' ' ')
  [[ $keys == "models/$RUN_A/flops_meter.json models/models/acme/sft/dossier.html models/models/acme/sft/dossier.json models/models/acme/sft/ledger-head.json " ]] ||
    { echo "the bucket holds: $keys"; return 1; }
  readback get-object audit "models/$RUN_A/flops_meter.json" got && cmp got runA/flops_meter.json || return 1
  [[ $(json_at model.json exported.1.kind) == dossier && $(json_at model.json exported.1.ledger_entry) =~ ^[0-9]+$ ]] ||
    return 1
  fm 0 export acme/sft --to dynamodb://flops-runs "${S3[@]}" --json &&
    [[ $(json_at "$WORK/stdout" exported.0.item.already_there) == True ]] &&
    grep -qF "goes to S3 only" "$WORK/stdout" || { cat "$WORK/stdout"; return 1; }
  # The head alone, kept per size; to DynamoDB as an item of its own.
  fm 0 export --ledger-head --to s3://audit/heads "${S3[@]}" --json && cp "$WORK/stdout" head-report.json || return 1
  id=$("$FM" ledger head | $PYTHON -c 'import json, sys; print(json.load(sys.stdin)["ledger_id"])')
  size=$(json_at head-report.json exported.0.id >/dev/null; readback list audit "heads/ledger-heads/$id/" | head -n 1)
  [[ $size =~ /0000000000000000[0-9]{4}\.json$ ]] || { echo "head key: $size"; return 1; }
  readback get-object audit "$size" head.json && fm 0 ledger verify --head head.json || return 1
  fm 0 export --ledger-head --to dynamodb://flops-runs "${S3[@]}" --json &&
    [[ $(readback count flops-runs "ledger-head:$id") == 1 ]] || return 1
  fm 2 export acme/nope --to s3://audit/x "${S3[@]}" && says "model 'acme/nope' is not in the ledger" &&
    fm 2 export runA --ledger-head --to s3://audit/x "${S3[@]}" && says "(one of them)" &&
    fm 2 export runA "${S3[@]}" && says "say where to: --to"
}
check "a model (its runs as the ledger holds them, its dossier) and the ledger's head, to S3 and DynamoDB" model_and_head

# ------------------------------------------------------------ faults
# failed WANT_TEXT ARGS...: exits 2, says WANT_TEXT, and no export is recorded
failed() {
  local want=$1 before
  shift
  before=$(exports_recorded)
  fm 2 export "$@" && says "$want" || return 1
  [[ $(exports_recorded) == "$before" ]] || { echo "an export was recorded: flopsmeter export $*"; return 1; }
}
elapsed_since() { $PYTHON -c 'import sys, time; print(int((time.time() - float(sys.argv[1])) * 1000))' "$1"; }
now() { $PYTHON -c 'import time; print(time.time())'; }

server_down() {
  local t
  t=$(now)
  failed "Couldn't connect" runA --to s3://audit/down --endpoint-url http://127.0.0.1:1 --export-attempts 3 &&
    says "(after 3 attempts" || return 1
  [[ $(elapsed_since "$t") -lt 5000 ]] || { echo "took $(elapsed_since "$t") ms"; return 1; }
  failed "Couldn't connect" runA --to dynamodb://flops-runs --endpoint-url http://127.0.0.1:1 --export-attempts 2
}
check "the server down: tried again with backoff, then a clear error; nothing recorded" server_down

connection_reset() {
  clear_faults
  fault '{"kind": "reset", "match": "/audit/reset/", "after": 1000, "times": 1}'
  fm 0 export runA --to s3://audit/reset "${S3[@]}" || return 1
  # Reset mid-upload (the journal's PUT): sent again, and stored.
  [[ $(requests "PUT /audit/reset/$RUN_A/journal-rank0.jsonl") == 2 ]] || return 1
  fault '{"kind": "reset", "match": "PUT /audit/reset2/'"$RUN_A"'/flops_meter.json", "after": 1000, "times": -1}'
  failed "after 2 attempts" runA --to s3://audit/reset2 "${S3[@]}" --export-attempts 2 &&
    says "object(s) stored before this failure, none recorded as exported (s3://audit/reset2/$RUN_A/journal-rank0.jsonl" ||
    return 1
  clear_faults
  # A multipart start is not safe to repeat once it left: not repeated.
  fault '{"kind": "reset", "match": "POST /audit/reset3/", "times": -1}'
  failed "not tried again: the request is not safe to repeat" runB --to s3://audit/reset3 "${S3[@]}"
  clear_faults
}
check "a connection reset mid-upload: the put is sent again; reset every time, a clear error, nothing recorded" \
  connection_reset

server_errors() {
  clear_faults
  fault '{"kind": "status", "status": 500, "code": "InternalError", "match": "PUT /audit/e500/", "times": 1}'
  fm 0 export runA --to s3://audit/e500 "${S3[@]}" || return 1
  local t
  fault '{"kind": "status", "status": 503, "code": "SlowDown", "retry_after": 1, "match": "PUT /audit/e503/", "times": 1}'
  t=$(now)
  fm 0 export runA --to s3://audit/e503 "${S3[@]}" || return 1
  [[ $(elapsed_since "$t") -ge 1000 ]] || { echo "Retry-After: 1 not waited for ($(elapsed_since "$t") ms)"; return 1; }
  fault '{"kind": "status", "status": 503, "code": "SlowDown", "retry_after": 1, "match": "PUT /audit/e503b/", "times": -1}'
  failed "HTTP 503 SlowDown: injected by the test (after 2 attempts)" runA --to s3://audit/e503b "${S3[@]}" \
    --export-attempts 2 || return 1
  fault '{"kind": "status", "status": 503, "code": "SlowDown", "retry_after": 120, "match": "PUT /audit/e503c/", "times": -1}'
  failed "asks to wait 120 s, longer than flopsmeter waits" runA --to s3://audit/e503c "${S3[@]}" || return 1
  fault '{"kind": "status", "status": 400, "code": "ThrottlingException", "match": "PutItem", "times": 1}'
  fm 0 export runB --to dynamodb://flops-runs "${S3[@]}" || return 1
  clear_faults
}
check "HTTP 500 and 503 (Retry-After waited for), DynamoDB throttling: tried again; past the attempts, a clear error" \
  server_errors

slow_server() {
  clear_faults
  local t
  fault '{"kind": "slow", "ms": 4000, "match": "/audit/slow/", "times": -1}'
  t=$(now)
  failed "no answer within 1 s" runA --to s3://audit/slow "${S3[@]}" --export-timeout 1 --export-attempts 2 || return 1
  [[ $(elapsed_since "$t") -lt 8000 ]] || { echo "took $(elapsed_since "$t") ms"; return 1; }
  clear_faults
}
check "a server slower than the timeout: each attempt ends at the timeout; nothing recorded" slow_server

bad_credentials() {
  AWS_SECRET_ACCESS_KEY="$SECRET-wrong" failed "HTTP 403 SignatureDoesNotMatch" runA --to s3://audit/x "${S3[@]}" &&
    says "(credentials from the environment)" &&
    AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000000 failed "HTTP 403 InvalidAccessKeyId" runA --to s3://audit/x "${S3[@]}" &&
    AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000000 failed "UnrecognizedClientException" runA --to dynamodb://flops-runs "${S3[@]}" &&
    AWS_ACCESS_KEY_ID=$TOKEN_KEY_ID AWS_SECRET_ACCESS_KEY=$TOKEN_SECRET AWS_SESSION_TOKEN="$TOKEN-stale" \
      failed "HTTP 403 InvalidToken" runA --to s3://audit/x "${S3[@]}" &&
    # The right session token signs (it is a signed header).
    AWS_ACCESS_KEY_ID=$TOKEN_KEY_ID AWS_SECRET_ACCESS_KEY=$TOKEN_SECRET AWS_SESSION_TOKEN="$TOKEN" \
      fm 0 export runA --to s3://audit/token "${S3[@]}"
}
check "bad credentials (403): refused with the store's code and where the credentials came from" bad_credentials

missing_bucket_or_table() {
  failed "s3://nosuchbucket/x/$RUN_A/journal-rank0.jsonl: HTTP 404 NoSuchBucket" runA --to s3://nosuchbucket/x "${S3[@]}" &&
    failed "dynamodb://no-such-table: HTTP 400 ResourceNotFoundException" runA --to dynamodb://no-such-table "${S3[@]}"
}
check "a missing bucket or table: a clear error naming it" missing_bucket_or_table

clock_skew() {
  clear_faults
  fault '{"kind": "skew", "match": "/audit/skew/", "times": -1}'
  failed "RequestTimeTooSkewed" runA --to s3://audit/skew "${S3[@]}" && says "s behind the store's: correct it, with NTP)" ||
    return 1
  fault '{"kind": "skew", "match": "PutItem", "times": -1}'
  failed "Signature expired" runA --to dynamodb://flops-runs "${S3[@]}" && says "correct it, with NTP"
  clear_faults
}
check "a clock the store says is off: refused, with the offset and what to do" clock_skew

contradicting_answers() {
  clear_faults
  fault '{"kind": "etag", "match": "PUT /audit/etag/'"$RUN_A"'/flops_meter.json", "times": -1}'
  failed "not the MD5 of the bytes sent" runA --to s3://audit/etag "${S3[@]}" && says "not confirmed" || return 1
  clear_faults
  fault '{"kind": "crc", "match": "PutItem", "times": -1}'
  failed "CRC-32" runB --to dynamodb://flops-runs "${S3[@]}" || return 1
  clear_faults
  # Malformed answers: no UploadId, garbage where JSON is due, an error inside a 200, an ETag with a line of its own.
  fault '{"kind": "answer", "status": 200, "body": "<InitiateMultipartUploadResult><UploadId>", "match": "POST /audit/bad/", "times": -1}'
  failed "the store started a multipart upload without an UploadId" runB --to s3://audit/bad "${S3[@]}" || return 1
  fault '{"kind": "answer", "status": 200, "body": "\u0000\u001b[2J not json", "match": "PutItem", "times": -1}'
  failed "the answer is not a JSON object: not confirmed" runA --to dynamodb://flops-runs "${S3[@]}" || return 1
  clear_faults
  fault '{"kind": "answer", "status": 200, "body": "<Error><Code>InternalError</Code><Message>inside a 200</Message></Error>", "match": "POST /audit/bad2/'"$RUN_B"'/journal-rank0.jsonl?uploadId", "times": -1}'
  failed "HTTP 200 InternalError: inside a 200" runB --to s3://audit/bad2 "${S3[@]}" && ! grep -q $'\x1b' "$WORK/stderr"
  clear_faults
  # What real S3 sends and s3rver does not: its SHA-256 checksum, the encryption it applied.
  fault '{"kind": "header", "name": "x-amz-checksum-sha256", "value": "$sha256", "match": "PUT /audit/sum/", "times": -1}'
  fm 0 export runA --to s3://audit/sum "${S3[@]}" --json &&
    [[ $(json_at "$WORK/stdout" exported.0.objects.0.check) == "the store's SHA-256 checksum matches" ]] || return 1
  clear_faults
  fault '{"kind": "header", "name": "x-amz-checksum-sha256", "value": "AAAA", "match": "PUT /audit/sum2/", "times": -1}'
  failed "the store's SHA-256 checksum AAAA is not that of the bytes sent" runA --to s3://audit/sum2 "${S3[@]}" || return 1
  clear_faults
  fault '{"kind": "header", "name": "x-amz-server-side-encryption", "value": "AES256", "match": "PUT /audit/sse/", "times": -1}'
  failed "the store applied encryption 'AES256', not aws:kms" runA --to s3://audit/sse "${S3[@]}" --sse aws:kms ||
    return 1
  clear_faults
  # SSE-KMS: an ETag that is not the MD5 is what S3 answers; the store's own Content-MD5 check stands.
  fault '{"kind": "etag", "match": "PUT /audit/kms2/", "times": -1}'
  fm 0 export runA --to s3://audit/kms2 "${S3[@]}" --sse aws:kms --json &&
    [[ $(json_at "$WORK/stdout" exported.0.objects.0.check) == "Content-MD5, checked by the store" ]]
  clear_faults
}
check "an answer that contradicts what was sent (ETag, checksum, encryption, CRC-32) or is malformed: not confirmed" \
  contradicting_answers

# ------------------------------------------------------------ the meter's export
meter_export() {
  timeout -k 5 60 "$FM" watch --run runC --n-total 1000000 --n-trainable 1000000 --tokens-from runC.txt \
    --ledger-model openai-community/gpt2 --ledger-produces acme/auto --export s3://audit/auto "${S3[@]}" \
    -- sh -c 'echo 30000 > runC.txt' >"$WORK/stdout" 2>"$WORK/stderr" || { cat "$WORK/stderr"; return 1; }
  cat "$WORK/stdout" "$WORK/stderr" >>"$WORK/all-output"
  says "exported to s3://audit/auto, confirmed by the store; the ledger's entry" || return 1
  local run
  run=$(json_at runC/flops_meter.json run_id)
  readback get-object audit "auto/$run/flops_meter.json" got && cmp got runC/flops_meter.json &&
    fm 0 ledger show acme/auto --json && [[ $(json_at "$WORK/stdout" exports.0.url) == "s3://audit/auto/$run/flops_meter.json" ]] ||
    return 1
  # FLOPS_METER_EXPORT, to DynamoDB; no ledger.
  FLOPS_METER_EXPORT=dynamodb://flops-runs AWS_ENDPOINT_URL="$P" FLOPSMETER_LEDGER= timeout -k 5 60 "$FM" watch --run runD \
    --n-total 1000000 --n-trainable 1000000 --tokens-from runD.txt -- sh -c 'echo 30000 > runD.txt' \
    >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr"; return 1; }
  says "exported to dynamodb://flops-runs" &&
    readback compare-item flops-runs "$(json_at runD/flops_meter.json run_id)" 2 runD/flops_meter.json
}
check "the meter exports at the end (watch --export, FLOPS_METER_EXPORT) and the ledger records it" meter_export

meter_export_fails() {
  local status=0
  timeout -k 5 60 "$FM" watch --run runE --n-total 1000000 --n-trainable 1000000 --tokens-from runE.txt \
    --ledger-model openai-community/gpt2 --ledger-produces acme/down --export s3://audit/down \
    --endpoint-url http://127.0.0.1:1 --export-attempts 1 -- sh -c 'echo 30000 > runE.txt' >"$WORK/stdout" \
    2>"$WORK/stderr" || status=$?
  cat "$WORK/stdout" "$WORK/stderr" >>"$WORK/all-output"
  [[ $status == 0 ]] || { echo "watch exited $status"; cat "$WORK/stderr"; return 1; }
  says "the run could not be exported to s3://audit/down" &&
    grep -qF "could not be exported" runE/flops_meter.json || return 1
  # The ledger holds the record as it now is (with the warning), and no export.
  fm 0 ledger show acme/down --json &&
    [[ $(json_at "$WORK/stdout" exports) == "[]" ]] &&
    fm 0 ledger add runE --ledger-produces acme/down && grep -qF "No change" "$WORK/stdout" ||
    { cat "$WORK/stdout"; return 1; }
  # A bad URL is refused before the run starts.
  FLOPS_METER_EXPORT=s3://Bad_Bucket fm 2 watch --run runF --n-total 1 --n-trainable 1 -- true &&
    says "environment FLOPS_METER_EXPORT: export target 's3://Bad_Bucket'" && [[ ! -e runF/journal-rank0.jsonl ]]
}
check "the meter's export failing: a warning in the record (and the ledger's copy), the job's status kept" \
  meter_export_fails

# ------------------------------------------------------------ secrets
no_secrets_anywhere() {
  local where
  for where in "$WORK/all-output" "$WORK"/run*/flops_meter.json "$WORK"/*.json "$WORK/ledger.sqlite" \
    "$FM_TEST_STORES_DIR/requests.log"; do
    if grep -aqF -- "$SECRET" "$where" || grep -aqF -- "$TOKEN_SECRET" "$where"; then
      echo "a secret key in $where"
      return 1
    fi
  done
  # The session token travels in its header (requests.log); nowhere else.
  for where in "$WORK/all-output" "$WORK"/run*/flops_meter.json "$WORK/ledger.sqlite"; do
    if grep -aqF -- "$TOKEN" "$where"; then echo "the session token in $where"; return 1; fi
  done
  [[ -s $WORK/all-output ]]
}
check "no secret key or session token in any output, record, ledger or request" no_secrets_anywhere

report_checks export_contract
