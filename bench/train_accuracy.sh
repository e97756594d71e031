#!/usr/bin/env bash
# The formulas against what the native trainer executed (docs/train.md):
# full, LoRA and Spectrum training of a small Llama at sequence lengths 128
# to 4096: rows of one length, rows of mixed lengths padded in their batch,
# and the same mixed samples packed (TRL's bfd, padding-free with attention
# per sample; and wrapped blocks), without and with gradient checkpointing
# (reentrant and not). Each
# line is one real run of `flopsmeter train`; its record holds the executed
# count (every matrix product as dispatched) and each formula, and the table
# prints each formula's error against it, and the recompute executed under
# checkpointing against the detailed formula's (reported separately, since
# the rules let it be left out). Hugging Face's figure is the Trainer's
# floating_point_ops: 6 x non-embedding parameters x input positions.
# Usage: bench/train_accuracy.sh [build/flopsmeter] [LENGTHS...]
#   ROWS, METHODS, CHECKPOINTING (space-separated) choose a subset, e.g.
#   ROWS=uniform CHECKPOINTING=none bench/train_accuracy.sh build/flopsmeter 4096
#   (ROWS: uniform padded bfd wrapped)
set -euo pipefail
FM="${1:-build/flopsmeter}"
shift || true
LENGTHS=("${@:-128 512 1024 4096}")
read -r -a LENGTHS <<<"${LENGTHS[*]}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=../scripts/tiny_llama.sh
source "$ROOT/scripts/tiny_llama.sh"
tiny_llama "$WORK/base" 128 352 4 4096

data() {  # data FILE MIN_WORDS MAX_WORDS: text samples of that many words
  "$PY" - "$@" <<'PY'
import json, random, sys
r = random.Random(5)
words = "the whale ship sea captain harpoon boat crew deck wind storm night island voyage ocean".split()
with open(sys.argv[1], "w") as f:
    for _ in range(8):
        f.write(json.dumps({"text": " ".join(r.choice(words) for _ in range(r.randint(int(sys.argv[2]), int(sys.argv[3]))))}) + "\n")
PY
}

printf '%-36s %16s %9s %11s %9s %9s %16s %9s\n' "case" "executed" "eu_6nd" "peft_aware" "hf_6Np" "detailed" \
  "recompute" "detailed"
for len in "${LENGTHS[@]}"; do
  data "$WORK/uniform-$len.jsonl" $((len * 2)) $((len * 2))  # truncated: every row max_length long
  data "$WORK/padded-$len.jsonl" $((len / 16)) $((len / 2))
  for rows in ${ROWS:-uniform padded bfd wrapped}; do
    for method in ${METHODS:-full lora spectrum}; do
      for ckpt in ${CHECKPOINTING:-none reentrant non-reentrant}; do
        out="$WORK/run-$len-$rows-$method-$ckpt"
        data_file="$WORK/$rows-$len.jsonl" packing=""
        case $rows in bfd | wrapped) data_file="$WORK/padded-$len.jsonl" packing="packing: true
packing_strategy: $rows" ;; esac
        cat >"$WORK/recipe.yaml" <<EOF
model_name_or_path: $WORK/base
dataset_id_or_path: $data_file
$packing
max_seq_length: $len
per_device_train_batch_size: 2
max_steps: 2
save_steps: 0
output_dir: $out
compute_flops: true
EOF
        args=(--method "$method")
        [[ $method == lora ]] && args+=(--lora-r 8 --lora-targets q_proj,v_proj)
        [[ $method == spectrum ]] && args+=(--spectrum-fraction 0.25)
        [[ $ckpt != none ]] && args+=(--gradient-checkpointing --checkpoint-mode "$ckpt")
        "$FM" train --recipe "$WORK/recipe.yaml" "${args[@]}" >"$WORK/log" 2>&1 || { cat "$WORK/log"; exit 1; }
        "$PY" - "$out/flops_meter_run/flops_meter.json" "$len-$rows-$method-$ckpt" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
e = j["executed"]
trained = int(e["trained"])
arch = j["model"]
config = json.load(open(j["model"]["ref"] + "/config.json"))
non_embedding = j["N_total"] - config["vocab_size"] * config["hidden_size"]
hf = 6 * non_embedding * int(j["tokens"]["spent"]["positions"])
pct = lambda f, of=trained: f"{100 * (f - of) / of:+.1f}%" if of else ("0" if f == 0 else "inf")
recompute = int(e["recompute"])
recompute_formula = int(j["formulas"]["detailed"]["reported_separately"]["recompute"])
print(f"{sys.argv[2]:36} {trained:16,} {pct(int(j['flops_exact']['eu_6nd'])):>9} "
      f"{pct(int(j['flops_exact']['peft_aware'])):>11} {pct(hf):>9} {pct(int(j['flops_exact']['detailed'])):>9} "
      f"{recompute:16,} {pct(recompute_formula, recompute):>9}")
PY
      done
    done
  done
done
