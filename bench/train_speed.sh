#!/usr/bin/env bash
# Training speed of the native trainer against examples/finetune.py (PyTorch
# eager, metered by the Python package) on the same model (a small Llama with
# the Llama 2 tokenizer's 32,000 tokens), the same token ids (rows of one
# length, so both pad alike) and the same thread count, in one run; and the
# native trainer with and without compute_flops, alternated REPEAT times
# (default 1) so that drift on a shared machine falls on both. Prints
# tokens/s per run.
# Usage: [REPEAT=N] bench/train_speed.sh [build/flopsmeter] [THREADS] [STEPS]
set -euo pipefail
FM="${1:-build/flopsmeter}"
THREADS="${2:-1}"
STEPS="${3:-30}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
LENGTH=256

# shellcheck source=../scripts/tiny_llama.sh
source "$ROOT/scripts/tiny_llama.sh"
tiny_llama "$WORK/base" 128 352 4 512
"$PY" - "$WORK/data.jsonl" <<'PY'
import json, random, sys
r = random.Random(5)
words = "the whale ship sea captain harpoon boat crew deck wind storm night island voyage ocean".split()
with open(sys.argv[1], "w") as f:
    for _ in range(64):
        f.write(json.dumps({"text": " ".join(r.choice(words) for _ in range(600))}) + "\n")
PY
"$FM" tokens --tokenizer "$WORK/base" --max-length "$LENGTH" --ids "$WORK/data.jsonl" >"$WORK/ids.txt" 2>/dev/null
native() {  # native COMPUTE_FLOPS REPETITION
  cat >"$WORK/recipe.yaml" <<YAML
model_name_or_path: $WORK/base
dataset_id_or_path: $WORK/data.jsonl
max_seq_length: $LENGTH
per_device_train_batch_size: 4
gradient_accumulation_steps: 1
max_steps: $STEPS
save_steps: 0
learning_rate: 1.0e-3
logging_steps: 1000
output_dir: $WORK/native-$1-$2
compute_flops: $1
YAML
  OMP_NUM_THREADS=$THREADS "$FM" train --recipe "$WORK/recipe.yaml" | grep "^trained"
}
echo "model: hidden 128, 4 layers, vocab 32,000; rows of $LENGTH tokens, 4 per step, $STEPS steps, $THREADS thread(s)"
for i in $(seq 1 "${REPEAT:-1}"); do
  echo "native trainer, compute_flops: true   $(native true "$i")"
  echo "native trainer, compute_flops: false  $(native false "$i")"
done
echo "examples/finetune.py (eager, metered)  $(FLOPSMETER_LIBRARY="$(cd "$(dirname "$FM")" && pwd)/libflopsmeter.so" \
  PYTHONPATH="$ROOT/python:$ROOT/examples" "$PY" "$ROOT/examples/finetune.py" --ids "$WORK/ids.txt" \
  --config "$WORK/base/config.json" --output "$WORK/eager" --run "$WORK/eager/run" --steps "$STEPS" \
  --micro-batch-size 4 --grad-accum 1 --max-length "$LENGTH" --checkpoint-every 100000 --log-every 100000 \
  --threads "$THREADS" | grep "^trained")"
