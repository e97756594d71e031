#!/usr/bin/env bash
# How `flopsmeter tokens` scales on inputs built to find quadratic paths:
# records with many keys (distinct, repeated, or none that holds text),
# long conversations, messages with many keys, deep nesting and many small
# files. Each input is made at three sizes, each twice the one before, so
# near-linear code shows times that about double and quadratic code times
# that about quadruple. A benchmark, not a test: nothing is asserted.
#
#   bash bench/hostile_inputs_bench.sh [--flopsmeter BIN] [--sizes "N1 N2 N3"]
#
# BIN defaults to build/flopsmeter. The default sizes (50000 100000 200000)
# are keys, messages or nesting-free elements per record; the many-files
# case uses a hundredth of them as the number of files.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
FM="$HERE/../build/flopsmeter"
SIZES="50000 100000 200000"
while [[ $# -gt 0 ]]; do
  case $1 in
    --flopsmeter) FM=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    *) echo "hostile_inputs_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $FM ]] || { echo "hostile_inputs_bench: $FM is not an executable" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostile_inputs_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# A two-token BPE tokenizer with a chat template that reads each message's
# content: tokenizing costs nothing next to reading the records.
mkdir -p "$WORK/tok"
cat >"$WORK/tok/tokenizer.json" <<'JSON'
{"version": "1.0", "normalizer": null, "pre_tokenizer": null, "post_processor": null, "added_tokens": [],
 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}}
JSON
cat >"$WORK/tok/tokenizer_config.json" <<'JSON'
{"chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}
JSON

# make CASE N FILE: writes the input of CASE at size N.
make() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, os, sys
case, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if case == "many-files":
    os.makedirs(path)
    for i in range(n // 100):
        with open(f"{path}/{i:06d}.jsonl", "w") as f:
            f.write('{"text": "ab"}\n')
    sys.exit()
with open(path, "w") as f:
    if case == "distinct-keys":
        f.write("{" + "".join(f'"k{i}": {i}, ' for i in range(n)) + '"text": "ab"}\n')
    elif case == "repeated-key":
        f.write("{" + '"text": "ab", ' * n + '"text": "ab"}\n')
    elif case == "keys-no-text":
        f.write("{" + ", ".join(f'"k{i}": {i}' for i in range(n)) + "}\n")
    elif case == "long-conversation":
        f.write(json.dumps({"messages": [{"role": "user", "content": "ab"}] * n}) + "\n")
    elif case == "message-keys":
        message = {f"k{i}": i for i in range(n)}
        message.update(role="user", content="ab")
        f.write(json.dumps({"messages": [message]}) + "\n")
    elif case == "nested-arrays":
        f.write('{"text": "ab", "x": [' + ", ".join(["[[[[[[[[1]]]]]]]]"] * n) + "]}\n")
PY
}

printf '%-18s %10s %10s  %s\n' case size seconds "file MB"
for case in distinct-keys repeated-key keys-no-text long-conversation message-keys nested-arrays many-files; do
  for n in $SIZES; do
    input="$WORK/$case-$n"
    make "$case" "$n" "$input"
    files=("$input")
    [[ -d $input ]] && files=("$input"/*.jsonl)
    start=$(date +%s.%N)
    "$FM" tokens --tokenizer "$WORK/tok" --no-progress --threads 1 "${files[@]}" >/dev/null 2>"$WORK/stderr" || {
      echo "hostile_inputs_bench: $case $n failed:" >&2; head -5 "$WORK/stderr" >&2; }
    end=$(date +%s.%N)
    mb=$(du -sm "$input" | cut -f1)
    printf '%-18s %10s %10.2f  %s\n' "$case" "$n" "$(echo "$end - $start" | bc -l)" "$mb"
    rm -rf "$input"
  done
done
