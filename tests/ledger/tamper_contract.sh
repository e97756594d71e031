#!/usr/bin/env bash
# The ledger against someone who can write its database: every kind of
# tampering done directly through the database's own client (sqlite3 on a
# SQLite ledger, psql on PostgreSQL) is caught by `flopsmeter ledger verify`,
# with the first bad entry named (--json first_bad_entry, and the text).
#
#   bash tests/ledger/tamper_contract.sh FLOPSMETER_BINARY REPO_ROOT sqlite
#   bash tests/ledger/with_postgres.sh \
#     bash tests/ledger/tamper_contract.sh FLOPSMETER_BINARY REPO_ROOT postgresql
#
# One small ledger is built with the real CLI (a key, a base, a derived
# model, runs metered by `flopsmeter watch`, an annotation, and a model
# appended with its run under one head), its head kept as an auditor would
# (`ledger head > head.json`); each case then tampers with a fresh copy (a
# copied file; on PostgreSQL a database created from the first as its
# template) and runs `ledger verify --head head.json`:
#
#   entries      0 key  1 base  2 acme/sft  3 run  4 run  5 annotation
#                6 acme/dpo and 7 its run (one head)
#   signed heads at sizes 1 2 3 4 5 6 8
#
#   edit a field, an entry's text in a batch     4, 7
#   delete an entry                              2
#   reorder two entries                          3
#   insert a forged entry at the end             8 (its leaf hash right)
#   insert one in the middle, renumbering        3
#   truncate the tail                            5
#   truncate and cover it (heads, tree state)    5 (only the kept head sees it)
#   swap a signature                             3
#   rewrite and re-hash without the key          1, and 6 in a batch
#   rewrite everything under a key of one's own  only the kept head or a
#                                                trusted key exposes it
#
# The re-hashing (leaves, roots, tree state, a forger's signatures) is
# tests/ledger/merkle_rewrite.py, written from RFC 6962, not from flopsmeter.
# Every command runs under `timeout`.
set -uo pipefail

if [[ $# -ne 3 || ( $3 != sqlite && $3 != postgresql ) ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT sqlite|postgresql" >&2
  exit 2
fi
FM=$1
ROOT=$2
BACKEND=$3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -x $FM ]] || { echo "tamper_contract: $FM is not an executable" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "tamper_contract: python3 not found" >&2; exit 1; }
PG_URL=${FLOPSMETER_TEST_PG_URL:-}
if [[ $BACKEND == sqlite ]]; then
  command -v sqlite3 >/dev/null 2>&1 || { echo "tamper_contract: sqlite3 not found (Debian sqlite3)" >&2; exit 1; }
else
  command -v psql >/dev/null 2>&1 || { echo "tamper_contract: psql not found (Debian postgresql-client)" >&2; exit 1; }
  [[ $PG_URL == postgresql://*/* ]] ||
    { echo "tamper_contract: run under tests/ledger/with_postgres.sh (FLOPSMETER_TEST_PG_URL)" >&2; exit 1; }
fi

D=$(mktemp -d "${TMPDIR:-/tmp}/tamper_contract.XXXXXX")
trap 'rm -rf "$D"' EXIT
WORK=$D
FM_CONTRACT_TIMEOUT=60
# shellcheck source=../cli/lib/contract.sh
source "$ROOT/tests/cli/lib/contract.sh"
# The signing key is made on first use at its default path, under $D/config.
isolate_environment "$D"

# ------------------------------------------------------------ the database
# location NAME: where the ledger copy NAME lives
location() {
  if [[ $BACKEND == sqlite ]]; then echo "$D/$1.sqlite"; else echo "${PG_URL%/*}/$1"; fi
}
# sql LOCATION: runs the SQL on stdin with the database's own client
sql() {
  if [[ $BACKEND == sqlite ]]; then
    timeout -k 5 60 sqlite3 -bail "$1"
  else
    timeout -k 5 60 psql -X -q -At -v ON_ERROR_STOP=1 "$1" >/dev/null
  fi
}
# query LOCATION SQL: prints the rows
query() {
  if [[ $BACKEND == sqlite ]]; then
    timeout -k 5 60 sqlite3 -bail "$1" "$2"
  else
    timeout -k 5 60 psql -X -q -At -v ON_ERROR_STOP=1 "$1" -c "$2"
  fi
}
# hex COLUMN: the column's bytes (a text column's UTF-8) in hex
hex() {
  if [[ $BACKEND == sqlite ]]; then echo "hex(CAST($1 AS BLOB))"; else echo "encode(convert_to($1, 'UTF8'), 'hex')"; fi
}
hex_bytes() {
  if [[ $BACKEND == sqlite ]]; then echo "lower(hex($1))"; else echo "encode($1, 'hex')"; fi
}
# rows LOCATION: the ledger as merkle_rewrite.py reads it
rows() {
  query "$1" "SELECT 'E|' || entry_index || '|' || $(hex entry) FROM ledger_entries ORDER BY entry_index" &&
  query "$1" "SELECT 'H|' || tree_size || '|' || time FROM ledger_heads ORDER BY tree_size" &&
  query "$1" "SELECT 'M|' || value FROM ledger_meta WHERE key = 'ledger_id'"
}
# digest LOCATION: every stored byte that verify reads, hashed
digest() {
  { rows "$1" &&
    query "$1" "SELECT tree_size || $(hex_bytes root) || key_id || $(hex_bytes signature) FROM ledger_heads ORDER BY tree_size" &&
    query "$1" "SELECT tree_size || $(hex_bytes subtrees) FROM ledger_state" &&
    query "$1" "SELECT entry_index || $(hex_bytes leaf_hash) FROM ledger_entries ORDER BY entry_index"; } | sha256sum
}
# rewrite LOCATION MODE [KEY]: merkle_rewrite.py's SQL run on the copy
rewrite() {
  local loc=$1
  shift
  rows "$loc" >"$D/rows" && python3 "$HERE/merkle_rewrite.py" "$BACKEND" "$@" <"$D/rows" >"$D/fix.sql" &&
    sql "$loc" <"$D/fix.sql"
}
# copy NAME: a fresh copy of the ledger built below, at $(location NAME)
copy() {
  if [[ $BACKEND == sqlite ]]; then
    rm -f "$(location "$1")" && query "$BASE" ".backup '$(location "$1")'"
  else
    query "$PG_URL" "CREATE DATABASE $1 TEMPLATE tamper_base" >/dev/null
  fi
}

# ------------------------------------------------------------ the ledger
setup() {
  if [[ $BACKEND == postgresql ]]; then
    query "$PG_URL" "CREATE DATABASE tamper_base" >/dev/null || return 1
  fi
  BASE=$(location tamper_base)
  local L=(--ledger "$BASE")
  # Runs metered by watch, with no ledger of their own.
  for r in r1 r2 r3; do
    timeout -k 5 60 "$FM" watch --run "$D/$r" --n-total 1000000 --n-trainable 1000000 --tokens-from "$D/$r.txt" \
      -- sh -c 'echo 100000 > "$0"' "$D/$r.txt" >/dev/null 2>"$D/stderr" ||
      { echo "watch $r failed"; cat "$D/stderr"; return 1; }
  done
  expect_exit 0 ledger init "${L[@]}" &&
  expect_exit 0 ledger register example/base --pretrain-flops 3e22 --pretrain-source "a paper" \
    --organisation BaseCo "${L[@]}" &&
  expect_exit 0 ledger register acme/sft --parents example/base --organisation Acme "${L[@]}" &&
  expect_exit 0 ledger add "$D/r1" --ledger-produces acme/sft "${L[@]}" &&
  expect_exit 0 ledger add "$D/r2" --ledger-produces acme/sft "${L[@]}" &&
  expect_exit 0 ledger annotate 3 --note "checked by QA" "${L[@]}" &&
  expect_exit 0 ledger add "$D/r3" --ledger-produces acme/dpo --ledger-model acme/sft --organisation Acme "${L[@]}" &&
  grep -qF "as entry 7; signed head of 8 entries" "$WORK/stdout" || { echo "unexpected layout"; cat "$WORK/stdout"; return 1; }
  [[ $(query "$BASE" "SELECT count(*) FROM ledger_entries") == 8 ]] || { echo "not 8 entries"; return 1; }
  [[ $(query "$BASE" "SELECT tree_size FROM ledger_heads ORDER BY tree_size" | tr '\n' ' ') == "1 2 3 4 5 6 8 " ]] ||
    { echo "heads not at 1 2 3 4 5 6 8"; return 1; }
  timeout -k 5 60 "$FM" ledger head "${L[@]}" >"$D/head.json" || return 1
  # The public key an auditor would pin (--trusted-key), from the kept head.
  PUBLIC_KEY=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["public_key"])' "$D/head.json") || return 1
  BASE_DIGEST=$(digest "$BASE")
}

# ------------------------------------------------------------ the checks
# verify_fails LOCATION N [ARGS...]: verify exits 1, the JSON's
# first_bad_entry is N and the text says so, with a line about entry N
verify_fails() {
  local loc=$1 n=$2
  shift 2
  expect_exit 1 ledger verify --ledger "$loc" "$@" --json || return 1
  python3 - "$n" "$WORK/stdout" <<'PY' || return 1
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
j = json.load(open(path))
if j["schema"] != "flopsmeter.ledger_verify/1" or j["ok"] is not False or j["first_bad_entry"] != n:
    sys.exit(f"wanted ok false, first_bad_entry {n}: {json.dumps(j)[:3000]}")
PY
  expect_exit 1 ledger verify --ledger "$loc" "$@" || return 1
  grep -qxF "FAILED: the ledger has been changed or damaged; the first bad entry is $n" "$WORK/stdout" &&
    grep -qE "^  (held head: .*)?entry $n( |$)" "$WORK/stdout" ||
    { echo "the text does not name entry $n:"; cat "$WORK/stdout"; return 1; }
}
# verify_passes LOCATION [ARGS...]
verify_passes() {
  local loc=$1
  shift
  expect_exit 0 ledger verify --ledger "$loc" "$@" || { cat "$WORK/stdout"; return 1; }
  grep -q "^VERIFIED: " "$WORK/stdout" || { cat "$WORK/stdout"; return 1; }
}
# tampered NAME: the copy differs from the ledger built (the SQL did something)
tampered() {
  [[ $(digest "$(location "$1")") != "$BASE_DIGEST" ]] || { echo "the tampering changed nothing"; return 1; }
}
# caught NAME N: tampered, and verify names N with the kept head and without
caught() {
  tampered "$1" && verify_fails "$(location "$1")" "$2" --head "$D/head.json" && verify_fails "$(location "$1")" "$2"
}
says() { grep -qF -- "$1" "$WORK/stdout" || { echo "verify does not say: $1"; cat "$WORK/stdout"; return 1; }; }

# ------------------------------------------------------------ the cases
untouched_control() {
  copy control && verify_passes "$(location control)" --head "$D/head.json" &&
    says "extends the head you hold (8 entries" &&
    verify_passes "$(location control)" --trusted-key "$PUBLIC_KEY" &&
    [[ $(digest "$(location control)") == "$BASE_DIGEST" ]]
}

edit_a_field() {
  copy edit_field && sql "$(location edit_field)" <<'SQL' &&
UPDATE ledger_entries SET entry = replace(entry, '"imported":false', '"imported":true') WHERE entry_index = 4;
SQL
  caught edit_field 4 && says "entry 4 its text does not hash to its stored leaf"
}

edit_an_entry_in_a_batch() {
  # The run appended with its model under one head: the leaf names it.
  copy edit_batch && sql "$(location edit_batch)" <<'SQL' &&
UPDATE ledger_entries SET entry = replace(entry, '"model":"acme/dpo"', '"model":"acme/sft"') WHERE entry_index = 7;
SQL
  caught edit_batch 7
}

delete_an_entry() {
  copy delete_entry && sql "$(location delete_entry)" <<<"DELETE FROM ledger_entries WHERE entry_index = 2;" &&
    caught delete_entry 2 && says "entry 2 is missing"
}

reorder_two_entries() {
  copy reorder && sql "$(location reorder)" <<'SQL' &&
UPDATE ledger_entries SET entry_index = entry_index + 1000 WHERE entry_index IN (3, 4);
UPDATE ledger_entries SET entry_index = 4 WHERE entry_index = 1003;
UPDATE ledger_entries SET entry_index = 3 WHERE entry_index = 1004;
SQL
  caught reorder 3 && says "entry 3 differs from what the head signed at size 4"
}

insert_at_the_end() {
  # A forged note with a correct leaf hash and tree state: covered by no head.
  copy insert_end && sql "$(location insert_end)" <<'SQL' &&
INSERT INTO ledger_entries (entry_index, entry, leaf_hash, kind, subject)
  SELECT 8, replace(entry, 'checked by QA', 'approved by legal'), leaf_hash, kind, subject
  FROM ledger_entries WHERE entry_index = 5;
SQL
    rewrite "$(location insert_end)" leaves && caught insert_end 8 && says "covered by no signed head"
}

insert_in_the_middle() {
  copy insert_middle && sql "$(location insert_middle)" <<'SQL' &&
UPDATE ledger_entries SET entry_index = entry_index + 1000 WHERE entry_index >= 3;
UPDATE ledger_entries SET entry_index = entry_index - 999 WHERE entry_index >= 1000;
INSERT INTO ledger_entries (entry_index, entry, leaf_hash, kind, subject)
  SELECT 3, replace(entry, 'checked by QA', 'approved by legal'), leaf_hash, kind, subject
  FROM ledger_entries WHERE entry_index = 6;
SQL
    rewrite "$(location insert_middle)" leaves && caught insert_middle 3 &&
    says "entry 3 differs from what the head signed at size 4"
}

truncate_the_tail() {
  copy truncate && sql "$(location truncate)" <<<"DELETE FROM ledger_entries WHERE entry_index >= 5;" &&
    caught truncate 5 && says "entry 5 and the entries after it up to 7 are gone"
}

truncate_and_cover_it() {
  # The heads past the cut deleted and the tree state rewound: the ledger
  # is consistent in itself, and only the head kept earlier shows the cut.
  copy truncate_covered && sql "$(location truncate_covered)" <<'SQL' &&
DELETE FROM ledger_entries WHERE entry_index >= 5;
DELETE FROM ledger_heads WHERE tree_size > 5;
SQL
    rewrite "$(location truncate_covered)" all && tampered truncate_covered &&
    verify_passes "$(location truncate_covered)" &&
    verify_fails "$(location truncate_covered)" 5 --head "$D/head.json" &&
    says "held head: the ledger holds 5 entries, but the head you hold" && says "it was truncated, entry 5"
}

swap_a_signature() {
  copy swap_signature && sql "$(location swap_signature)" <<'SQL' &&
UPDATE ledger_heads SET signature = (SELECT signature FROM ledger_heads WHERE tree_size = 5) WHERE tree_size = 4;
SQL
    caught swap_signature 3 && says "whose signature does not verify"
}

rehash_without_the_key() {
  # The base's compute made 100 times larger (a larger fine-tune then stays
  # below a third of it), every leaf, root and the tree state recomputed:
  # only the signatures, and the kept head's consistency proof, hold.
  copy rehash && sql "$(location rehash)" <<'SQL' &&
UPDATE ledger_entries SET entry = replace(entry, '"flop":"30000000000000000000000"', '"flop":"3000000000000000000000000"')
  WHERE entry_index = 1;
SQL
    rewrite "$(location rehash)" all && caught rehash 1 &&
    says "entry 1 is covered by a head (size 2) whose signature does not verify" &&
    verify_fails "$(location rehash)" 1 --head "$D/head.json" &&
    says "held head: the ledger does not extend the head you hold (size 8"
}

rehash_in_a_batch() {
  # The model appended with its run under one head: the head's failure names
  # the first entry only it vouches for (6), not the last (7).
  copy rehash_batch && sql "$(location rehash_batch)" <<'SQL' &&
UPDATE ledger_entries SET entry = replace(entry, '"how":"fine-tune"', '"how":"merge"') WHERE entry_index = 6;
SQL
    rewrite "$(location rehash_batch)" all && caught rehash_batch 6 &&
    says "entry 6 is covered (with the entries after it up to 7) by a head (size 8) whose signature does not verify"
}

rewrite_under_another_key() {
  # Everything re-signed by a key of the forger's own, registered in place of
  # the ledger's: a ledger that verifies by itself. The head kept earlier is
  # signed by a key the ledger no longer registers; pinning the ledger's
  # public key (--trusted-key) names the first entry under a foreign head.
  command -v openssl >/dev/null 2>&1 || { echo "openssl not found"; return 1; }
  timeout -k 5 60 openssl genpkey -algorithm ed25519 -out "$D/forger.pem" 2>"$D/stderr" || { cat "$D/stderr"; return 1; }
  copy forged_key && rewrite "$(location forged_key)" forge "$D/forger.pem" && tampered forged_key &&
    verify_passes "$(location forged_key)" &&
    expect_exit 1 ledger verify --ledger "$(location forged_key)" --head "$D/head.json" &&
    says "held head: the head you hold does not verify under a key of this ledger" &&
    verify_fails "$(location forged_key)" 0 --trusted-key "$PUBLIC_KEY" &&
    says "which is not among the trusted keys"
}

check "building the ledger ($BACKEND)" setup
((failed == 0)) || { report_checks "tamper_contract ($BACKEND)"; exit 1; }
check "untouched: verify passes" untouched_control
check "edit a field" edit_a_field
check "edit an entry appended in a batch" edit_an_entry_in_a_batch
check "delete an entry" delete_an_entry
check "reorder two entries" reorder_two_entries
check "insert a forged entry at the end" insert_at_the_end
check "insert a forged entry in the middle, renumbering" insert_in_the_middle
check "truncate the tail" truncate_the_tail
check "truncate the tail and cover it" truncate_and_cover_it
check "swap a signature" swap_a_signature
check "rewrite and re-hash without the key" rehash_without_the_key
check "rewrite and re-hash in a batch" rehash_in_a_batch
check "rewrite everything under another key" rewrite_under_another_key
report_checks "tamper_contract ($BACKEND)"
