#!/usr/bin/env bash
# The command line against hostile files and names: a FIFO, a device or a
# symbolic link where a file is expected is refused at once with an error
# naming the path and what it is (never a command that hangs or a device
# replaced by a regular file), and names holding control characters are
# printed escaped, so that none can move the cursor or forge a line.
#
#   bash tests/cli/hostile_files_contract.sh FLOPSMETER_BINARY REPO_ROOT
#
# Every command runs under `timeout 20` (then SIGKILL: a watch blocked in
# its begin ignored SIGTERM): before the fix the FIFO cases
# blocked forever; the checks assert the error text, not the time.
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT" >&2
  exit 2
fi
FM=$1
ROOT=$2
[[ -x $FM ]] || { echo "hostile_files_contract: $FM is not an executable" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "hostile_files_contract: python3 not found" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostile_files_contract.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FM_CONTRACT_TIMEOUT=20
# shellcheck source=lib/contract.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/contract.sh"
ESC=$'\e'

# has FILE TEXT: FILE (stdout or stderr) contains TEXT
has() {
  grep -qF -- "$2" "$WORK/$1" || { echo "$1 lacks: $2"; head -c 2000 "$WORK/$1"; return 1; }
}

# no_escape FILE: FILE holds no ESC byte
no_escape() {
  if grep -q "$ESC" "$WORK/$1"; then echo "$1 holds a raw ESC"; cat -v "$WORK/$1" | head -20; return 1; fi
}

# A two-token BPE tokenizer, enough to count "ab".
mkdir -p "$WORK/tok"
cat >"$WORK/tok/tokenizer.json" <<'JSON'
{"version": "1.0", "normalizer": null, "pre_tokenizer": null, "post_processor": null, "added_tokens": [],
 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}}
JSON
printf '{"text": "ab"}\n' >"$WORK/data.jsonl"
mkfifo "$WORK/fifo"
MODEL=(--model openai-community/gpt2)

tokens_fifos() {
  expect_exit 2 tokens --tokenizer "$WORK/fifo" "$WORK/data.jsonl" &&
  has stderr "flopsmeter: $WORK/fifo: is a FIFO, expected a file" &&
  expect_exit 2 tokens --tokenizer "$WORK/tok" "$WORK/fifo" &&
  has stderr "flopsmeter: $WORK/fifo: is a FIFO, expected a file" &&
  expect_exit 2 tokens --tokenizer "$WORK/tok" /dev/zero &&
  has stderr "flopsmeter: /dev/zero: is a character device, expected a file" &&
  expect_exit 2 tokens --tokenizer "$WORK/tok" --chat-template "$WORK/fifo" "$WORK/data.jsonl" &&
  has stderr "is a FIFO, expected a file"
}
check "tokens refuses a FIFO or device as tokenizer, dataset or chat template, at once" tokens_fifos

tokens_stdin_pipe() {
  printf '{"text": "ab"}\n' | timeout -k 5 20 "$FM" tokens --tokenizer "$WORK/tok" --json - >"$WORK/stdout" 2>"$WORK/stderr" &&
  python3 -c "import json,sys; j=json.load(open('$WORK/stdout')); sys.exit(0 if j['tokens'] == 2 else 1)"
}
check "a dataset may still come from standard input as -, a pipe" tokens_stdin_pipe

estimate_fifo() {
  expect_exit 2 estimate "${MODEL[@]}" --dataset "$WORK/fifo" --tokenizer "$WORK/tok" &&
  has stderr "flopsmeter: $WORK/fifo: is a FIFO, expected a file" &&
  expect_exit 2 inspect "$WORK/fifo" &&
  has stderr "flopsmeter: $WORK/fifo: is a FIFO, expected a file"
}
check "estimate --dataset and inspect refuse a FIFO at once" estimate_fifo

watch_fifos() {
  # The meter hashes --dataset files at begin; a FIFO there used to block it
  # (and watch then ignored SIGTERM). The record names the error.
  # No token source: the compute is undetermined (exit 3), but the record is written.
  expect_exit 3 watch --run "$WORK/run" "${MODEL[@]}" --dataset "$WORK/fifo" --json -- true &&
  python3 - "$WORK/stdout" "$WORK/fifo" <<'PY' &&
import json, sys
provenance = json.load(open(sys.argv[1]))["provenance"]
want = sys.argv[2] + ": is a FIFO, expected a file"
assert provenance["datasets"][0]["error"] == want, provenance["datasets"]
PY
  # A recipe is read for the run's settings before the job starts: a FIFO
  # there is refused at once, and the job does not run.
  expect_exit 2 watch --run "$WORK/run-recipe" "${MODEL[@]}" --recipe "$WORK/fifo" -- touch "$WORK/ran" &&
  has stderr "flopsmeter: $WORK/fifo: is a FIFO, expected a file" &&
  [[ ! -e "$WORK/ran" ]]
}
check "watch: a --dataset FIFO is named in the record, a --recipe FIFO refused before the job" watch_fifos

watch_tokens_fifo() {
  expect_exit 3 watch --run "$WORK/run-tokens" "${MODEL[@]}" --tokens-from "$WORK/fifo" -- true &&
  has stderr "flopsmeter: watch: note: $WORK/fifo: is a FIFO, expected a file; not read"
}
check "watch --tokens-from FIFO is noted, never read" watch_tokens_fifo

data_dir_fifo() {
  mkdir -p "$WORK/data" && mkfifo "$WORK/data/rules.json" &&
  expect_exit 2 rules --data-dir "$WORK/data" &&
  has stderr "flopsmeter: $WORK/data/rules.json: is a FIFO, expected a file"
}
check "a --data-dir override that is a FIFO is an error, not skipped or blocking" data_dir_fifo

out_not_replaced() {
  expect_exit 3 watch --run "$WORK/run-out" "${MODEL[@]}" -- true || return 1
  expect_exit 2 report --run "$WORK/run-out" --out "$WORK/fifo" &&
  has stderr "flopsmeter: $WORK/fifo: is a FIFO, expected a file" &&
  [[ -p $WORK/fifo ]] || { echo "the FIFO was replaced"; return 1; }
  printf 'theirs' >"$WORK/target.json" && ln -s "$WORK/target.json" "$WORK/link.json" &&
  expect_exit 2 report --run "$WORK/run-out" --out "$WORK/link.json" &&
  has stderr "flopsmeter: $WORK/link.json: is a symbolic link, expected a file" &&
  [[ -L $WORK/link.json && $(cat "$WORK/target.json") == theirs ]] || { echo "the link or its target changed"; return 1; }
  expect_exit 3 report --run "$WORK/run-out" --out "$WORK/flops_meter.json" && [[ -f $WORK/flops_meter.json ]]
}
check "report --out refuses to replace a FIFO or a symbolic link" out_not_replaced

escaped_error_names() {
  expect_exit 2 inspect "no-such$ESC[2J"$'\nflopsmeter: forged line' &&
  no_escape stderr && [[ $(wc -l <"$WORK/stderr") -eq 1 ]] || { echo "the error spans lines"; return 1; }
  has stderr '\x1b[2J\x0aflopsmeter: forged line' &&
  expect_exit 2 tokens --tokenizer "$WORK/tok" "$WORK/missing$ESC]0;title"$'\a.jsonl' &&
  no_escape stderr && has stderr 'missing\x1b]0;title\x07.jsonl: no such file or directory'
}
check "error messages print file names and arguments escaped, on one line" escaped_error_names

escaped_dataset_names() {
  local name="$WORK/bad$ESC[31m"$'\nname.jsonl'
  printf '{"text": "ab"}\n{"text": 5}\n' >"$name" &&
  expect_exit 0 tokens --tokenizer "$WORK/tok" "$name" &&
  no_escape stdout && has stdout 'bad\x1b[31m\x0aname.jsonl:2: field '"'"'text'"'"': expected a string, got number' &&
  expect_exit 0 tokens --tokenizer "$WORK/tok" --json "$name" &&
  python3 -c "import json,sys; j=json.load(open('$WORK/stdout')); sys.exit(0 if j['files'][0].endswith('\x1b[31m\nname.jsonl') else 1)"
}
check "tokens prints dataset names escaped in text, exact in JSON" escaped_dataset_names

json_invalid_utf8_name() {
  # nlohmann's dump() threw on such a name: the command aborted (exit 134).
  local name="$WORK/bad"$'\xff'".jsonl"
  printf '{"text": "ab"}\n' >"$name" &&
  expect_exit 0 tokens --tokenizer "$WORK/tok" --json "$name" &&
  python3 -c "import json,sys; j=json.load(open('$WORK/stdout')); sys.exit(0 if j['files'][0].endswith('bad\ufffd.jsonl') else 1)" &&
  expect_exit 0 estimate "${MODEL[@]}" --dataset "$name" --tokenizer "$WORK/tok" --json &&
  python3 -c "import json; json.load(open('$WORK/stdout'))"
}
check "--json survives a file name that is not UTF-8" json_invalid_utf8_name

escaped_catalog_names() {
  mkdir -p "$WORK/names" &&
  python3 - "$WORK/names" "$ROOT/data" <<'PY'
import json, sys
d, data = sys.argv[1], sys.argv[2]
gpus = json.load(open(data + "/gpus.json"))
gpus["gpus"][0]["name"] = "Forged\x1b[2J\nh100 line"
json.dump(gpus, open(d + "/gpus.json", "w"))
rules = json.load(open(data + "/rules.json"))
rules["regimes"][0]["name"] = "EU\x1b]0;t\x07\nforged: regime"
json.dump(rules, open(d + "/rules.json", "w"))
PY
  [[ $? -eq 0 ]] || return 1
  expect_exit 0 gpus --data-dir "$WORK/names" && no_escape stdout && has stdout 'Forged\x1b[2J\x0ah100 line' &&
  expect_exit 0 rules --data-dir "$WORK/names" && no_escape stdout && has stdout 'EU\x1b]0;t\x07\x0aforged: regime'
}
check "gpus and rules print catalog override names escaped" escaped_catalog_names

escaped_watch_messages() {
  expect_exit 127 watch --run "$WORK/run-cmd" "${MODEL[@]}" -- "no-such-command$ESC[2J"$'\nforged' &&
  no_escape stderr && has stderr 'no-such-command\x1b[2J\x0aforged'
}
check "watch prints the command's name escaped" escaped_watch_messages

report_checks hostile_files_contract
