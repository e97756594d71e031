#!/usr/bin/env bash
# Cross-checks `flopsmeter tokens --ids` against Hugging Face's Rust
# tokenizers (npm `tokenizers`, pinned in tests/reference/package.json), id
# for id, on a corpus of hard texts (tests/reference/hard_texts.js), for six
# real tokenizer.json files (the @lenml packages: Llama 3, Mistral v0.1
# (lenml's "llama2"), Qwen2.5, Gemma 2, GPT-2, GPT-4o), with and without the
# post-processor's special tokens. Then checks llama.cpp's tokenizer test
# vectors for the tokenizers they were made from:
#   ggml-vocab-llama-bpe  = Llama 3    ggml-vocab-qwen2 = Qwen2.5
#   ggml-vocab-gpt-2      = GPT-2
# (made with add_special_tokens=False; the pinned reference agrees with all
# of them).
# lenml's Llama 3 tokenizer.json has a bare ByteLevel post-processor (no
# BOS); a seventh tokenizer, llama3-bos, is derived from it at run time with
# the Sequence[ByteLevel, TemplateProcessing(<|begin_of_text|>)]
# post-processor of Meta's current tokenizer.json, so that the special mode
# also covers a Sequence post-processor.
#
#   bash tests/cli/tokenizer_crosscheck.sh FLOPSMETER_BINARY REPO_ROOT
#
# Needs Node.js and the references installed by
# `bash scripts/install_references.sh`. Every mismatch is reported (the first
# few per tokenizer and mode in full); exits nonzero if there was any.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT" >&2
  exit 2
fi
BIN=$1
ROOT=$2
REF="$ROOT/tests/reference"
LENML="$REF/node_modules/@lenml"
VECTORS="$REF/llama.cpp/models"
LENML_TOKENIZERS=(llama3 llama2 qwen2_5 gemma2 gpt2 gpt4o)
TOKENIZERS=("${LENML_TOKENIZERS[@]}" llama3-bos)
# llama.cpp vector file -> tokenizer it was generated from
declare -A VECTOR_OF=([llama3]=ggml-vocab-llama-bpe.gguf [qwen2_5]=ggml-vocab-qwen2.gguf [gpt2]=ggml-vocab-gpt-2.gguf)
SHOW=5  # mismatches printed in full per tokenizer and mode

die() { echo "tokenizer_crosscheck: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 ||
  die "node not found; install Node.js and run \`bash scripts/install_references.sh\`"
[[ -d "$REF/node_modules/tokenizers" ]] ||
  die "$REF/node_modules/tokenizers missing; run \`bash scripts/install_references.sh\`"
for t in "${LENML_TOKENIZERS[@]}"; do
  [[ -f "$LENML/tokenizer-$t/models/tokenizer.json" ]] ||
    die "$LENML/tokenizer-$t/models/tokenizer.json missing; run \`bash scripts/install_references.sh\`"
done
[[ -d "$VECTORS" ]] || die "$VECTORS missing; run \`bash scripts/install_references.sh\`"
[[ -x "$BIN" ]] || die "$BIN is not an executable"
"$BIN" tokens --help >/dev/null 2>&1 || die "'$BIN tokens --help' failed: this flopsmeter has no tokens command"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokenizer_crosscheck.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout 300)
# ctest may run other tests beside this one: keep the reference to 2 threads.
export RAYON_NUM_THREADS=2

# Compares two id files line by line; prints mismatches and one summary line.
# args: NAME EXPECTED GOT TEXTS LABELS(or -) ; exit status 1 on any mismatch.
compare() {
  node - "$@" <<'JS'
'use strict';
const fs = require('fs');
const [name, expFile, gotFile, textsFile, labelsFile] = process.argv.slice(2);
const show = +process.env.SHOW;
const lines = (f) => { const l = fs.readFileSync(f, 'utf8').split('\n'); if (l[l.length - 1] === '') l.pop(); return l; };
const exp = lines(expFile), got = lines(gotFile), texts = lines(textsFile);
const labels = labelsFile === '-' ? [] : lines(labelsFile);
const clip = (s, n) => (s.length > n ? s.slice(0, n) + `... (${s.length} chars)` : s);
const ids = (l) => (l === '' ? [] : l.split(' '));
let bad = 0;
const n = Math.max(exp.length, got.length);
for (let i = 0; i < n; i++) {
  if (exp[i] === got[i]) continue;
  bad++;
  if (bad > show) continue;
  const e = ids(exp[i] ?? ''), g = ids(got[i] ?? '');
  let k = 0;
  while (k < e.length && k < g.length && e[k] === g[k]) k++;
  const from = Math.max(0, k - 4);
  const win = (a) => (from > 0 ? '... ' : '') + a.slice(from, k + 12).join(' ') + (a.length > k + 12 ? ' ...' : '');
  console.log(`MISMATCH ${name} sample ${i + 1}${labels[i] ? ` [${labels[i]}]` : ''}`);
  console.log(`  text:     ${clip(texts[i] ?? '(no such sample)', 240)}`);
  if (texts[i] !== undefined) {
    const cps = [...JSON.parse(texts[i])];
    if (cps.length > 0 && cps.length <= 24 && cps.some((c) => c.codePointAt(0) > 0x7e)) {
      console.log(`  chars:    ${cps.map((c) => 'U+' + c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')).join(' ')}`);
    }
  }
  if (got[i] === undefined) { console.log(`  expected: ${e.length} ids; got: no line (flopsmeter printed ${got.length} lines for ${exp.length} samples)`); continue; }
  if (exp[i] === undefined) { console.log(`  expected: no line (${exp.length} samples); got: ${clip(got[i], 200)}`); continue; }
  console.log(`  first difference at id ${k} (expected ${e.length} ids, got ${g.length})`);
  console.log(`  expected: ${win(e)}`);
  console.log(`  got:      ${win(g)}`);
}
if (bad > show) console.log(`  ... and ${bad - show} more mismatches for ${name}`);
if (exp.length !== got.length) console.log(`  ${name}: expected ${exp.length} lines, got ${got.length}`);
console.log(`${bad ? 'FAIL' : 'ok  '} ${name}: ${exp.length} samples, ${bad} mismatches`);
process.exit(bad ? 1 : 0);
JS
}
export SHOW

# tokenizer name -> directory holding tokenizer.json + tokenizer_config.json
declare -A DIR
for t in "${LENML_TOKENIZERS[@]}"; do DIR[$t]="$LENML/tokenizer-$t/models"; done
DIR[llama3-bos]="$WORK/llama3-bos"
mkdir -p "${DIR[llama3-bos]}"
cp "${DIR[llama3]}/tokenizer_config.json" "${DIR[llama3-bos]}/"
node - "${DIR[llama3]}/tokenizer.json" "${DIR[llama3-bos]}/tokenizer.json" <<'JS'
const fs = require('fs');
const [src, dst] = process.argv.slice(2);
const tok = JSON.parse(fs.readFileSync(src, 'utf8'));
const bos = '<|begin_of_text|>';
const sp = (type_id) => ({ SpecialToken: { id: bos, type_id } });
const seq = (id, type_id) => ({ Sequence: { id, type_id } });
tok.post_processor = {
  type: 'Sequence',
  processors: [
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    { type: 'TemplateProcessing', single: [sp(0), seq('A', 0)], pair: [sp(0), seq('A', 0), sp(1), seq('B', 1)],
      special_tokens: { [bos]: { id: bos, ids: [128000], tokens: [bos] } } },
  ],
};
fs.writeFileSync(dst, JSON.stringify(tok));
JS

# --------------------------------------------------------------- the corpus
node "$REF/hard_texts.js" "$WORK/corpus"
mapfile -t INPUTS <"$WORK/corpus/inputs.list"

# --------------------------------------------------------------- references
# One node process per tokenizer (both modes), two at a time.
echo "tokenizer_crosscheck: reference ids from tokenizers@$(node -p "require('$REF/node_modules/tokenizers/package.json').version")"
ref_one() {
  local t=$1 extra=()
  [[ $t == "${TOKENIZERS[0]}" ]] && extra=("texts=$WORK/texts")
  node "$REF/encode_reference.js" "${DIR[$t]}/tokenizer.json" "${INPUTS[@]}" \
    "special=$WORK/$t.ref.special" "plain=$WORK/$t.ref.plain" "${extra[@]}"
  if [[ -n ${VECTOR_OF[$t]:-} ]]; then
    node "$REF/encode_reference.js" "${DIR[$t]}/tokenizer.json" "$VECTORS/${VECTOR_OF[$t]}.inp" \
      "plain=$WORK/$t.vec.ref" "texts=$WORK/$t.vec.texts"
  fi
}
pids=()
for t in "${TOKENIZERS[@]}"; do
  if ((${#pids[@]} >= 2)); then wait "${pids[0]}" || die "reference encoding failed"; pids=("${pids[@]:1}"); fi
  ref_one "$t" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "reference encoding failed"; done

# --------------------------------------------------------------- flopsmeter
failures=0
run_ours() {  # TOKENIZER MODE(special|plain) OUT THREADS INPUT...
  local t=$1 mode=$2 out=$3 threads=$4 yn=no rc=0
  shift 4
  [[ $mode == special ]] && yn=yes
  "${TIMEOUT[@]}" "$BIN" tokens --tokenizer "${DIR[$t]}" --special-tokens "$yn" --append-eos no \
    --text-unit line --threads "$threads" --ids "$@" >"$out" 2>"$out.err" || rc=$?
  if ((rc != 0)); then
    echo "FAIL $t $mode: flopsmeter exited with status $rc; stderr:"
    tail -n 5 "$out.err" | sed 's/^/  /'
    return 1
  fi
}
for t in "${TOKENIZERS[@]}"; do
  # special mode on one thread, plain mode on three (checks input order)
  for mode in special plain; do
    threads=1
    [[ $mode == plain ]] && threads=3
    if run_ours "$t" "$mode" "$WORK/$t.got.$mode" "$threads" "${INPUTS[@]}"; then
      compare "$t $mode" "$WORK/$t.ref.$mode" "$WORK/$t.got.$mode" "$WORK/texts" "$WORK/corpus/labels.txt" ||
        failures=$((failures + 1))
    else
      failures=$((failures + 1))
    fi
  done
done

# --------------------------------------------------------------- llama.cpp vectors
for t in "${TOKENIZERS[@]}"; do
  v=${VECTOR_OF[$t]:-}
  [[ -n $v ]] || continue
  # expected: the .out file, one line per text, each id preceded by a space
  sed 's/^ //' "$VECTORS/$v.out" >"$WORK/$t.vec.exp"
  compare "pinned reference vs llama.cpp $v ($t)" "$WORK/$t.vec.exp" "$WORK/$t.vec.ref" "$WORK/$t.vec.texts" - ||
    failures=$((failures + 1))
  sed 's/^/{"text": /; s/$/}/' "$WORK/$t.vec.texts" >"$WORK/$t.vec.jsonl"
  if run_ours "$t" plain "$WORK/$t.vec.got" 2 "$WORK/$t.vec.jsonl"; then
    compare "flopsmeter vs llama.cpp $v ($t)" "$WORK/$t.vec.exp" "$WORK/$t.vec.got" "$WORK/$t.vec.texts" - ||
      failures=$((failures + 1))
  else
    failures=$((failures + 1))
  fi
done

if ((failures)); then
  echo "tokenizer_crosscheck: $failures check(s) failed"
  exit 1
fi
echo "tokenizer_crosscheck: all checks passed"
