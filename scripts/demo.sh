#!/usr/bin/env bash
# The README's first command (`make demo`) ends here: a real estimate before a
# fine-tuning job, on a model from the bundled catalog.
set -euo pipefail
FM="${1:-build/flopsmeter}"

run() {
  echo
  echo "\$ flopsmeter $*"
  "$FM" "$@"
}

echo "flopsmeter demo: what would fine-tuning Llama 3.2 3B Instruct cost, and what would it make us?"
run inspect meta-llama/Llama-3.2-3B-Instruct
run estimate --model meta-llama/Llama-3.2-3B-Instruct --method full,lora,qlora,spectrum \
  --lora-r 8 --lora-targets q_proj,v_proj --spectrum-fraction 0.25 \
  --tokens 50000000 --seq-len 2048 --epochs 3 --micro-batch-size 4 --grad-accum 8 \
  --gpu h100-sxm --gpus 8 --hours 6
echo
echo "A base with published compute (Llama 2 7B, 8.4e22 FLOP per Epoch AI): one third of it applies."
run estimate --model meta-llama/Llama-2-7b-hf --method full,lora --lora-targets all-linear \
  --tokens 2e9 --seq-len 4096 --epochs 2 --attention flash
