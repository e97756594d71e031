#!/usr/bin/env bash
# The ledger commands' CLI contract: help in the style of the other commands,
# unknown subcommands and flags answered with the closest, where the ledger
# is (--ledger, FLOPSMETER_LEDGER, else the per-user XDG data path),
# refusals that exit non-zero naming what is wrong and leave the database
# byte for byte as it was, and the exit statuses of `ledger verify` and
# `verify-proof` (0 holds, 1 does not, 2 error).
# Usage: ledger_contract.sh PATH_TO_FLOPSMETER SOURCE_DIR
set -uo pipefail
FM="$(realpath "$1")"  # absolute: the script works in its own directory
SRC="$(realpath "$2")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=lib/contract.sh
source "$SRC/tests/cli/lib/contract.sh"
isolate_environment "$WORK"
cd "$WORK" || exit 1  # a relative path some command might create lands here
command -v sqlite3 >/dev/null 2>&1 || { echo "ledger_contract: sqlite3 not found (Debian sqlite3)"; exit 1; }

LEDGER_COMMANDS=(init keygen register add import models show lineage runs head verify prove annotate)
L="$WORK/ledger.sqlite"
KEY="$WORK/ledger.key"
DEFAULT_LEDGER="$XDG_DATA_HOME/flopsmeter/ledger.sqlite"
DEFAULT_KEY="$XDG_CONFIG_HOME/flopsmeter/ledger.key"

# digest FILE: the database's bytes (with its write-ahead log, if any)
digest() { cat "$1" "$1-wal" 2>/dev/null | sha256sum; }
says() { grep -qF -- "$1" "$WORK/stderr" || { echo "stderr does not say: $1"; cat "$WORK/stderr"; return 1; }; }
# metered_run NAME TOKENS: a run metered by `flopsmeter watch`, at $WORK/NAME
metered_run() {
  timeout -k 5 60 "$FM" watch --run "$WORK/$1" --n-total 1000000 --n-trainable 1000000 --tokens-from "$WORK/$1.txt" \
    -- sh -c 'echo "$1" > "$0"' "$WORK/$1.txt" "$2" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr"; return 1; }
}

# ------------------------------------------------------------ help
help_of_every_ledger_command() {
  local c
  for c in "${LEDGER_COMMANDS[@]}"; do
    expect_exit 0 ledger "$c" --help || return 1
    # The summary, usage, a description, the flags with their explanations,
    # the exit status, and last the examples, each a command of its own.
    [[ $(sed -n 3p "$WORK/stdout") == "Usage: flopsmeter ledger $c"* ]] || { echo "$c: no usage line"; return 1; }
    grep -q '^  --ledger PATH|URL$' "$WORK/stdout" || { echo "$c: --ledger is not listed"; return 1; }
    grep -q '^Exit status: ' "$WORK/stdout" || { echo "$c: no exit status"; return 1; }
    # The ledger commands gate on no verdict: no --fail-if-exceeds status in their help.
    if grep -q 'fail-if-exceeds' "$WORK/stdout"; then echo "$c: its exit status is the estimate's"; return 1; fi
    awk '/^Examples:$/ {e = 1; next} e && !/^  flopsmeter ledger / {bad = 1} END {exit !(e && !bad)}' \
      "$WORK/stdout" || { echo "$c: the help does not end with examples of 'ledger $c'"; cat "$WORK/stdout"; return 1; }
    expect_exit 0 ledger "$c" -h || return 1
    grep -q "^Example:" "$WORK/stdout" && grep -q "^Use --help for details.$" "$WORK/stdout" ||
      { echo "$c -h: no example"; return 1; }
  done
  expect_exit 0 verify-proof --help && grep -q '^  --json$' "$WORK/stdout" &&
    grep -q '^Exit status: 0 the proof checks; 1 ' "$WORK/stdout" || return 1
  expect_exit 0 ledger verify --help && grep -q '^Exit status: 0 the ledger verifies' "$WORK/stdout"
}
check "every ledger command's --help describes, lists flags, states its exit status and ends with examples" \
  help_of_every_ledger_command

group_help() {
  expect_exit 0 ledger --help || return 1
  local c
  for c in "${LEDGER_COMMANDS[@]}"; do
    grep -qE "^  $c +[A-Z]" "$WORK/stdout" || { echo "ledger --help does not list $c"; return 1; }
  done
  # `ledger` alone is a usage error: the same list, on stderr.
  expect_exit 2 ledger && grep -q "^Commands:" "$WORK/stderr" && [[ ! -s $WORK/stdout ]]
}
check "ledger --help lists every subcommand; ledger alone is a usage error" group_help

closest_names() {
  expect_exit 2 ledger verfy && says "unknown ledger command 'verfy'; did you mean 'ledger verify'?" &&
    expect_exit 2 ledger lineag acme/x && says "did you mean 'ledger lineage'?" &&
    expect_exit 2 ledger frobnicate && says "unknown ledger command 'frobnicate' (flopsmeter ledger --help" &&
    expect_exit 2 ledger add run --ledger-produce acme/x && says "'ledger add' has no option --ledger-produce; did you mean --ledger-produces" &&
    expect_exit 2 ledger verify --trusted-keys k && says "did you mean --trusted-key" &&
    expect_exit 2 verify-proof p.json --trusted k && says "did you mean --trusted-key" &&
    expect_exit 2 ledger prove seven && says "ENTRY 'seven': expected an entry number" &&
    expect_exit 2 ledger annotate 7x --note n && says "ENTRY '7x': expected an entry number"
}
check "unknown subcommands and flags name the closest" closest_names

# ------------------------------------------------------------ where the ledger is
where_the_ledger_is() {
  # Neither: the per-user XDG data path, with a key made at the XDG config path.
  expect_exit 0 ledger register ex/default --pretrain-unknown --organisation X || return 1
  [[ -f $DEFAULT_LEDGER && -f $DEFAULT_KEY ]] || { echo "no ledger at $DEFAULT_LEDGER or key at $DEFAULT_KEY"; return 1; }
  grep -qF "made a new signing key" "$WORK/stdout" || { cat "$WORK/stdout"; return 1; }
  # FLOPSMETER_LEDGER, and --ledger over it.
  FLOPSMETER_LEDGER="$WORK/env.sqlite" expect_exit 0 ledger register ex/env --pretrain-unknown --organisation X &&
    FLOPSMETER_LEDGER="$WORK/env.sqlite" expect_exit 0 ledger register ex/flag --pretrain-unknown \
      --organisation X --ledger "$WORK/flag.sqlite" || return 1
  local where models
  for where in "$DEFAULT_LEDGER:ex/default" "$WORK/env.sqlite:ex/env" "$WORK/flag.sqlite:ex/flag"; do
    expect_exit 0 ledger models --json --ledger "${where%%:*}" || return 1
    models=$(python3 -c 'import json, sys; print(" ".join(m["name"] for m in json.load(open(sys.argv[1]))["models"]))' \
      "$WORK/stdout")
    [[ $models == "${where##*:}" ]] || { echo "${where%%:*} holds '$models', wanted ${where##*:}"; return 1; }
  done
  FLOPSMETER_LEDGER="$WORK/env.sqlite" expect_exit 0 ledger verify --json &&
    grep -qF "\"location\": \"$WORK/env.sqlite\"" "$WORK/stdout" || { cat "$WORK/stdout"; return 1; }
  # A relative XDG_DATA_HOME is invalid (the XDG spec): refused by name, not taken relative to the directory.
  XDG_DATA_HOME=relative expect_exit 2 ledger models && says "XDG_DATA_HOME is a relative path" &&
    [[ ! -e relative ]] || return 1
  # Unset, it is ~/.local/share.
  (unset XDG_DATA_HOME && expect_exit 0 ledger register ex/home --pretrain-unknown --organisation X) &&
    [[ -f $HOME/.local/share/flopsmeter/ledger.sqlite ]] || { echo "no ledger under ~/.local/share"; return 1; }
}
check "--ledger, then FLOPSMETER_LEDGER, else the XDG data path" where_the_ledger_is

# ------------------------------------------------------------ the ledger refusals work on
setup_ledger() {
  metered_run r1 100000 && metered_run r2 200000 || return 1
  expect_exit 0 ledger keygen --ledger "$L" --ledger-key "$KEY" &&
    expect_exit 0 ledger register ex/base --pretrain-flops 3e22 --pretrain-source "a paper" --organisation BaseCo \
      --ledger "$L" --ledger-key "$KEY" &&
    expect_exit 0 ledger add "$WORK/r1" --ledger-produces acme/sft --ledger-model ex/base --organisation Acme \
      --ledger "$L" --ledger-key "$KEY"
}
check "a ledger to refuse things on" setup_ledger

# refused WANT_TEXT ARGS...: exits 2, says WANT_TEXT, and the ledger is as it was
refused() {
  local want=$1 before
  shift
  before=$(digest "$L")
  expect_exit 2 "$@" --ledger "$L" && says "$want" || return 1
  [[ $(digest "$L") == "$before" ]] || { echo "the ledger changed: flopsmeter $*"; return 1; }
}

refusals_write_nothing() {
  local K=(--ledger-key "$KEY")
  refused "model 'acme/nope' is not in the ledger; closest: acme/sft" ledger show acme/nope &&
    refused "model 'acme/sf' is not in the ledger" ledger lineage acme/sf &&
    refused "model 'acme/nope' is not in the ledger" ledger runs acme/nope &&
    refused "model 'ghost/base' is not in the ledger" ledger add "$WORK/r2" --ledger-produces acme/x \
      --ledger-model ghost/base --organisation Acme "${K[@]}" &&
    refused "its parent 'ghost' is not in the ledger" ledger register acme/merged --parents acme/sft,ghost \
      --organisation Acme "${K[@]}" &&
    refused "$WORK/missing.key: no such file" ledger register acme/m2 --parents acme/sft --organisation Acme \
      --ledger-key "$WORK/missing.key" &&
    refused "entry 99 is not in the ledger" ledger annotate 99 --note "about nothing" "${K[@]}" &&
    refused "entry 99 is not under the ledger's latest signed head" ledger prove 99 &&
    refused "model 'acme/sft' is already in the ledger (entry 2) with other figures" ledger register acme/sft \
      --parents ex/base --organisation Other "${K[@]}" &&
    refused "r1.txt: the record is not a JSON object" ledger add "$WORK/r1.txt" --ledger-produces acme/x --ledger-model ex/base \
      --organisation Acme "${K[@]}"
}
check "refusals (unknown model, unknown parent, missing key, ...) name it and write nothing" refusals_write_nothing

journals_that_do_not_match() {
  # A record whose journal went on after the record was written.
  cp -r "$WORK/r2" "$WORK/r2-moved" && printf '{"kind":"note"}\n' >>"$WORK/r2-moved/journal-rank0.jsonl" &&
    refused "journal-rank0.jsonl ends in a line the record did not see" ledger add "$WORK/r2-moved" \
      --ledger-produces acme/x --ledger-model ex/base --organisation Acme --ledger-key "$KEY" &&
    says "report the run again" || return 1
  # A record edited after the fact: its journals no longer end where it says.
  cp -r "$WORK/r2" "$WORK/r2-edited" &&
    python3 - "$WORK/r2-edited/flops_meter.json" <<'PY' || return 1
import json, sys
record = json.load(open(sys.argv[1]))
for journal in record["provenance"]["journals"].values():
    journal["last_sha256"] = "0" * 64
json.dump(record, open(sys.argv[1], "w"), indent=2)
PY
  refused "the record and its journals disagree" ledger add "$WORK/r2-edited" --ledger-produces acme/x \
    --ledger-model ex/base --organisation Acme --ledger-key "$KEY"
}
check "a record whose journals do not match is refused, naming the journal" journals_that_do_not_match

# A base pretrained by a metered run: its measured figure (the compute in
# its final weights), with the run and its record's digest as the source,
# read back against the record with python and sha256sum.
base_from_its_pretraining_run() {
  local K=(--ledger-key "$KEY")
  metered_run pre 500000 || return 1
  refused "the record and its journals disagree" ledger register ex/edited --pretrain-run "$WORK/r2-edited" \
    --organisation Ex "${K[@]}" &&
    refused "--pretrain-run is its own source" ledger register ex/pre --pretrain-run "$WORK/pre" --pretrain-source x \
      --organisation Ex "${K[@]}" &&
    refused "pre.txt: not a flopsmeter run record" ledger register ex/pre --pretrain-run "$WORK/pre.txt" \
      --organisation Ex "${K[@]}" &&
    refused "one of --pretrain-flops F (with --pretrain-source), --pretrain-run RUN and --pretrain-unknown" \
      ledger register ex/pre --pretrain-run "$WORK/pre" --pretrain-unknown --organisation Ex "${K[@]}" || return 1
  expect_exit 0 ledger register ex/pre --pretrain-run "$WORK/pre" --organisation Ex --ledger "$L" "${K[@]}" || return 1
  expect_exit 0 ledger show ex/pre --ledger "$L" --json || return 1
  python3 - "$WORK/stdout" "$WORK/pre/flops_meter.json" "$(sha256sum <"$WORK/pre/flops_meter.json" | cut -c1-64)" <<'PY'
import json, sys
shown = json.load(open(sys.argv[1]))["model"]["pretraining"]
record = json.load(open(sys.argv[2]))
assert shown["status"] == "measured", shown
assert shown["flop"] == record["compliance"]["in_final_weights_exact"], (shown, record["compliance"])
assert record["run_id"] in shown["source"] and sys.argv[3] in shown["source"], shown["source"]
PY
}
check "a base registered from its metered pretraining run: the measured figure, the run and its digest" \
  base_from_its_pretraining_run

foreign_and_corrupt_files() {
  head -c 8192 /dev/urandom >"$WORK/corrupt.sqlite"
  sqlite3 "$WORK/foreign.sqlite" "CREATE TABLE t (x); INSERT INTO t VALUES (1);" || return 1
  local f before c
  for f in corrupt foreign; do
    before=$(digest "$WORK/$f.sqlite")
    for c in "register ex/b --pretrain-unknown --organisation B --ledger-key $KEY" "init --ledger-key $KEY" models \
      verify head; do
      # shellcheck disable=SC2086  # the command's words
      expect_exit 2 ledger $c --ledger "$WORK/$f.sqlite" && says "$WORK/$f.sqlite: not a" || return 1
      [[ $(digest "$WORK/$f.sqlite") == "$before" ]] || { echo "ledger $c changed $f.sqlite"; return 1; }
      [[ ! -e $WORK/$f.sqlite-wal ]] || { echo "ledger $c left a write-ahead log beside $f.sqlite"; return 1; }
    done
  done
}
check "a corrupt or foreign database file is refused by name and left untouched" foreign_and_corrupt_files

no_key_file_from_a_refusal() {
  # A fresh user (no key yet) whose first command is refused gets no key file.
  local home="$WORK/fresh" before
  mkdir -p "$home"
  before=$(digest "$L")
  XDG_CONFIG_HOME="$home/config" expect_exit 2 ledger register acme/y --parents ghost --organisation Acme \
    --ledger "$L" && says "its parent 'ghost' is not in the ledger" || return 1
  [[ ! -e $home/config/flopsmeter/ledger.key ]] || { echo "a refused register made a signing key"; return 1; }
  [[ $(digest "$L") == "$before" ]] || { echo "the ledger changed"; return 1; }
}
check "a refused append makes no signing key" no_key_file_from_a_refusal

no_ledger_from_a_refusal() {
  # Where there is no ledger yet, a refused append creates none (nor its directory).
  expect_exit 2 ledger register acme/y --parents ghost --organisation Acme --ledger "$WORK/new/ledger.sqlite" \
    --ledger-key "$KEY" && says "its parent 'ghost' is not in the ledger" &&
    expect_exit 2 ledger add "$WORK/r1" --ledger-produces acme/y --ledger-model ghost --organisation Acme \
      --ledger "$WORK/new/ledger.sqlite" --ledger-key "$KEY" && says "model 'ghost' is not in the ledger" &&
    expect_exit 2 ledger add "$WORK/r2-moved" --ledger-produces acme/y --ledger-model gpt2 --organisation Acme \
      --ledger "$WORK/new/ledger.sqlite" --ledger-key "$KEY" && says "the record and its journals disagree" || return 1
  [[ ! -e $WORK/new ]] || { echo "a refused append created $WORK/new"; ls -la "$WORK/new"; return 1; }
  # The first append that succeeds creates it.
  expect_exit 0 ledger register ex/x --pretrain-unknown --organisation X --ledger "$WORK/new/ledger.sqlite" \
    --ledger-key "$KEY" && [[ -f $WORK/new/ledger.sqlite ]] &&
    expect_exit 0 ledger verify --ledger "$WORK/new/ledger.sqlite"
}
check "a refused append where there is no ledger yet creates none" no_ledger_from_a_refusal

# ------------------------------------------------------------ verify and verify-proof
exit_statuses_of_verify() {
  expect_exit 0 ledger verify --ledger "$L" && grep -q "^VERIFIED: " "$WORK/stdout" || return 1
  expect_exit 0 ledger head --ledger "$L" && cp "$WORK/stdout" "$WORK/head.json" || return 1
  expect_exit 0 ledger verify --ledger "$L" --head "$WORK/head.json" || return 1
  # Tampered through sqlite3: exit 1, the entry named.
  cp "$L" "$WORK/tampered.sqlite" &&
    sqlite3 "$WORK/tampered.sqlite" "UPDATE ledger_entries SET entry = replace(entry, 'a paper', 'a pamphlet')
                                     WHERE entry_index = 1" || return 1
  expect_exit 1 ledger verify --ledger "$WORK/tampered.sqlite" &&
    grep -qxF "FAILED: the ledger has been changed or damaged; the first bad entry is 1" "$WORK/stdout" || return 1
  expect_exit 1 ledger verify --ledger "$WORK/tampered.sqlite" --json &&
    grep -q '"ok": false' "$WORK/stdout" || return 1
  # Not a head at all: an error, not a verdict.
  echo '{}' >"$WORK/nohead.json"
  expect_exit 2 ledger verify --ledger "$L" --head "$WORK/nohead.json" && says "not a tree head" &&
    expect_exit 2 ledger verify --ledger "$WORK/absent.sqlite" && says "no ledger here"
}
check "ledger verify exits 0 when it verifies, 1 when tampered, 2 on an error" exit_statuses_of_verify

exit_statuses_of_verify_proof() {
  expect_exit 0 ledger prove 3 --ledger "$L" && cp "$WORK/stdout" "$WORK/proof.json" || return 1
  expect_exit 0 verify-proof "$WORK/proof.json" && grep -q "^entry 3 is in ledger " "$WORK/stdout" || return 1
  python3 - "$WORK/proof.json" "$WORK/altered.json" "$WORK/control.json" <<'PY' || return 1
import json, sys
proof = json.load(open(sys.argv[1]))
proof["entry"] = proof["entry"].replace("acme/sft", "acme/sfu", 1)
json.dump(proof, open(sys.argv[2], "w"))
proof = json.load(open(sys.argv[1]))
proof["head"]["key_id"] = "ed25519:\u001b[2J" + proof["head"]["key_id"][8:]
json.dump(proof, open(sys.argv[3], "w"))
PY
  expect_exit 1 verify-proof "$WORK/altered.json" &&
    grep -q "^FAILED: inclusion proof: the entry is not in the tree the head signs" "$WORK/stdout" || return 1
  expect_exit 1 verify-proof "$WORK/altered.json" --json && grep -q '"ok": false' "$WORK/stdout" || return 1
  # A stranger's trusted key: the check fails, naming both keys.
  expect_exit 1 verify-proof "$WORK/proof.json" --trusted-key "ed25519:$(printf '0%.0s' {1..32})" &&
    grep -q "not by the trusted key ed25519:0000" "$WORK/stdout" || return 1
  # Control characters in a head's names make it no head: an error, printed escaped.
  expect_exit 2 verify-proof "$WORK/control.json" && says "not of the ledger's form" &&
    ! grep -q $'\e' "$WORK/stderr" "$WORK/stdout" || return 1
  echo '{"schema": "flopsmeter.tree_head/1"}' >"$WORK/notproof.json"
  expect_exit 2 verify-proof "$WORK/notproof.json" && says "not an inclusion proof"
}
check "verify-proof exits 0 when the proof checks, 1 when altered, 2 when it is none" exit_statuses_of_verify_proof

report_checks "ledger_contract"
