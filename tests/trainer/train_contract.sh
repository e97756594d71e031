#!/usr/bin/env bash
# `flopsmeter train` end to end on a small Llama (4M parameters, the Llama 2
# tokenizer from the test references): the record's executed count against
# the formulas, the weights and the PEFT adapter read back by an independent
# reader (Python's struct and json, and torch), `inspect` and `estimate
# --adapter` agreeing with the trainer to the digit, a SIGKILL mid-run
# resumed to the same weights as an uninterrupted run, packed rows (TRL's
# bfd, padding-free, and wrapped) as the estimate lays them out, the budget
# guard, SIGTERM, and what is refused.
# Usage: train_contract.sh PATH_TO_FLOPSMETER SOURCE_DIR FAKE_NVML_LIBRARY
set -uo pipefail
FM="$1"
SRC="$2"
FAKE_NVML="$3"  # tests/fake_nvml: a scripted libnvidia-ml
WORK="$(mktemp -d)"
job="" interrupted_status=0
trap '[[ -n $job ]] && kill -9 "$job" 2>/dev/null; rm -rf "$WORK"' EXIT
# shellcheck source=../cli/lib/contract.sh
source "$SRC/tests/cli/lib/contract.sh"
isolate_environment "$WORK/env"
PY=/usr/bin/python3  # Debian's, with python3-torch
export FM_CONTRACT_TIMEOUT=300

BASE="$WORK/base"
ROOT="$SRC"
# shellcheck source=../../scripts/tiny_llama.sh
source "$SRC/scripts/tiny_llama.sh"
tiny_llama "$BASE" 64 128 2 512
"$PY" - "$WORK/data.jsonl" <<'PY'
import json, random, sys
r = random.Random(1)
words = "the cat sat on a mat and dog ran far away while birds sang songs in trees".split()
with open(sys.argv[1], "w") as f:
    for _ in range(48):
        prompt = " ".join(r.choice(words) for _ in range(r.randint(3, 12)))
        completion = " ".join(r.choice(words) for _ in range(r.randint(2, 20)))
        f.write(json.dumps({"prompt": "Q: " + prompt + "\nA:", "completion": " " + completion}) + "\n")
PY

recipe() {  # recipe FILE OUTPUT_DIR EXTRA_YAML
  cat >"$1" <<EOF
model_name_or_path: $BASE
dataset_id_or_path: $WORK/data.jsonl
max_seq_length: 64
per_device_train_batch_size: 4
gradient_accumulation_steps: 2
num_train_epochs: 1
learning_rate: 1.0e-3
logging_steps: 1
save_steps: 2
seed: 3
output_dir: $2
compute_flops: true
$3
EOF
}

record() { "$PY" -c "import json,sys; j=json.load(open('$1/flops_meter_run/flops_meter.json')); sys.exit(0 if ($2) else 1)" ||
  { echo "record check failed: $2"; return 1; }; }

# Tensor names and shapes of a safetensors file, read with struct and json.
tensors_of() {
  "$PY" -c "
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h.pop('__metadata__', None)
print(json.dumps({k: v['shape'] for k, v in sorted(h.items())}))" "$1"
}

lora_run() {
  recipe "$WORK/lora.yaml" "$WORK/lora" "use_peft: true
lora_r: 4
lora_alpha: 8
lora_target_modules: [q_proj, v_proj]"
  expect_exit 0 train --recipe "$WORK/lora.yaml" || return 1
  grep -q "formulas vs executed  .*detailed 0%" "$WORK/stdout" || { cat "$WORK/stdout"; return 1; }
  record "$WORK/lora" "j['status'] == 'completed' and j['executed']['formula_error_pct']['detailed'] == 0 and
    int(j['executed']['trained']) == int(j['flops_exact']['detailed']) and j['N_trainable'] == 1792"
}

# The trainer's record, executed count and all, against the published schema.
record_matches_the_schema() {
  "$PY" - "$SRC/schemas/flops_meter.schema.json" "$WORK/lora/flops_meter_run/flops_meter.json" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
record = json.load(open(sys.argv[2]))
jsonschema.Draft202012Validator(schema).validate(record)
assert record["executed"] is not None
PY
}

peft_layout() {
  local got
  got=$(tensors_of "$WORK/lora/adapter_model.safetensors") || return 1
  "$PY" - "$got" "$WORK/lora" <<'PY' || return 1
import json, struct, sys, torch
got = json.loads(sys.argv[1])
want = {}
for layer in range(2):
    for proj, out in (("q_proj", 64), ("v_proj", 32)):
        p = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
        want[p + ".lora_A.weight"] = [4, 64]
        want[p + ".lora_B.weight"] = [out, 4]
assert got == want, (got, want)
cfg = json.load(open(sys.argv[2] + "/adapter_config.json"))
assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8 and cfg["task_type"] == "CAUSAL_LM"
assert sorted(cfg["target_modules"]) == ["q_proj", "v_proj"], cfg
# Trained: B moved from its zero initialisation.
b = open(sys.argv[2] + "/adapter_model.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
lo, hi = h["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]["data_offsets"]
t = torch.frombuffer(bytearray(b[8 + n + lo:8 + n + hi]), dtype=torch.float32)
assert t.abs().sum().item() > 0
PY
  # flopsmeter's own PEFT reader takes the adapter as it takes PEFT's: the same trainable count.
  expect_exit 0 estimate --model "$BASE" --adapter "$WORK/lora" --tokens 1000 --json || return 1
  json_has "j['methods'][0]['params_trainable'] == 1792" || { head -c 600 "$WORK/stdout"; return 1; }
}

full_run_checkpointed() {
  recipe "$WORK/full.yaml" "$WORK/full" "gradient_checkpointing: true
gradient_checkpointing_kwargs:
  use_reentrant: false"
  expect_exit 0 train --recipe "$WORK/full.yaml" --method freeze --freeze-layers 1 --freeze-embeddings || return 1
  record "$WORK/full" "j['executed']['formula_error_pct']['detailed'] == 0 and
    j['executed']['recompute'] == j['formulas']['detailed']['reported_separately']['recompute'] and
    j['model']['checkpoint_mode'] == 'non-reentrant'"
}

saved_model_inspects_as_trained() {
  recipe "$WORK/plain.yaml" "$WORK/plain" ""
  expect_exit 0 train --recipe "$WORK/plain.yaml" --max-steps 2 || return 1
  local n
  n=$("$PY" -c "import json; print(json.load(open('$WORK/plain/flops_meter_run/flops_meter.json'))['N_total'])")
  expect_exit 0 inspect "$WORK/plain" --json || return 1
  json_has "j['model']['params_total'] == $n" || { head -c 400 "$WORK/stdout"; return 1; }
  local names
  names=$(tensors_of "$WORK/plain/model.safetensors") || return 1
  "$PY" -c "
import json, sys
names = json.loads(sys.argv[1])
assert names['model.embed_tokens.weight'] == [32000, 64] and names['lm_head.weight'] == [32000, 64]
assert names['model.layers.1.self_attn.k_proj.weight'] == [32, 64] and names['model.norm.weight'] == [64]
assert len(names) == 3 + 2 * 9, len(names)" "$names"
}

# Qwen2 (Llama with q, k and v biases) from the same files: trained with the
# executed count equal to the formula, its biases saved under transformers'
# names, and `inspect` counting the saved model as the trainer did.
qwen2_trains_with_its_biases() {
  mkdir -p "$WORK/qwen2" && cp "$BASE"/tokenizer* "$WORK/qwen2/" &&
    "$PY" -c "
import json, sys
c = json.load(open(sys.argv[1]))
c.update(model_type='qwen2', architectures=['Qwen2ForCausalLM'])
json.dump(c, open(sys.argv[2], 'w'))" "$BASE/config.json" "$WORK/qwen2/config.json" || return 1
  sed "s#$BASE#$WORK/qwen2#" "$WORK/plain.yaml" >"$WORK/qwen2.yaml"
  expect_exit 0 train --recipe "$WORK/qwen2.yaml" --max-steps 2 --output-dir "$WORK/qwen2-out" || return 1
  record "$WORK/qwen2-out" "j['executed']['formula_error_pct']['detailed'] == 0" || return 1
  expect_exit 0 inspect "$WORK/qwen2-out" --json || return 1
  json_has "j['model']['params_total'] == $(
    "$PY" -c "import json; print(json.load(open('$WORK/qwen2-out/flops_meter_run/flops_meter.json'))['N_total'])")" ||
    return 1
  local names
  names=$(tensors_of "$WORK/qwen2-out/model.safetensors") || return 1
  "$PY" -c "
import json, sys
names = json.loads(sys.argv[1])
assert names['model.layers.0.self_attn.q_proj.bias'] == [64] and names['model.layers.1.self_attn.k_proj.bias'] == [32]
assert 'model.layers.0.self_attn.o_proj.bias' not in names, names" "$names"
}

# interrupt_at_checkpoint NAME SIGNAL [FLAGS...]: trains $WORK/NAME.yaml
# (output_dir $WORK/NAME) in the background until its first checkpoint
# (step 2), sends SIGNAL and waits; the exit status is left in
# $interrupted_status, the output in $WORK/NAME.log.
interrupt_at_checkpoint() {
  local name=$1 signal=$2
  shift 2
  "$FM" train --recipe "$WORK/$name.yaml" "$@" >"$WORK/$name.log" 2>&1 &
  job=$!
  for _ in $(seq 1 600); do [[ -f $WORK/$name/checkpoint-2/trainer_state.json ]] && break; sleep 0.05; done
  kill "-$signal" "$job"
  wait "$job" 2>/dev/null
  interrupted_status=$?
  job=""
}

# A run killed (SIGKILL) after its first checkpoint and resumed ends with
# the weights of a run never interrupted, and its record counts both segments.
killed_and_resumed() {
  recipe "$WORK/kill.yaml" "$WORK/kill" "max_steps: 12"
  recipe "$WORK/straight.yaml" "$WORK/straight" "max_steps: 12"
  expect_exit 0 train --recipe "$WORK/straight.yaml" || return 1
  interrupt_at_checkpoint kill KILL
  expect_exit 0 train --recipe "$WORK/kill.yaml" --resume || return 1
  grep -q "resuming after step" "$WORK/stdout" || return 1
  cmp "$WORK/kill/model.safetensors" "$WORK/straight/model.safetensors" || return 1
  record "$WORK/kill" "j['status'] == 'completed' and len(j['segments']) == 2 and
    int(j['exact']['tokens_processed']) >= int(j['tokens']['in_final_weights']['tokens'])"
}

# Packed and padding-free runs execute what the formula counts, and what
# the estimate of the same recipe lays out: for bfd and padding_free
# (order-free rows) the same detailed total to the FLOP.
packed_runs() {
  local how estimated rows
  for how in bfd wrapped free; do
    case $how in
      free) recipe "$WORK/$how.yaml" "$WORK/$how" "padding_free: true" ;;
      *) recipe "$WORK/$how.yaml" "$WORK/$how" "packing: true
packing_strategy: $how" ;;
    esac
    expect_exit 0 train --recipe "$WORK/$how.yaml" || return 1
    rows="packed-$how"
    [[ $how == free ]] && rows=unpadded
    grep -q "samples in [0-9,]* $rows rows" "$WORK/stdout" || { head -3 "$WORK/stdout"; return 1; }
    record "$WORK/$how" "j['status'] == 'completed' and j['executed']['formula_error_pct']['detailed'] == 0" || return 1
    [[ $how == wrapped ]] && continue
    expect_exit 0 estimate --recipe "$WORK/$how.yaml" --json || return 1
    estimated=$("$PY" -c "import json; print(json.load(open('$WORK/stdout'))['methods'][0]['flops_exact']['detailed'])") ||
      { head -c 800 "$WORK/stdout"; return 1; }
    record "$WORK/$how" "int(j['flops_exact']['detailed']) == $estimated" || return 1
  done
}

# Two data-parallel ranks (--nproc-per-node 2, torchrun's variables) train
# what one process accumulating both ranks' micro-batches trains: the same
# weights byte for byte (the ranks' summed gradients are the step's), the same tokens and
# executed FLOP, journaled by both ranks into one record; bfd rows equal the
# estimate with --data-parallel 2 to the FLOP; SIGTERM reaches both ranks,
# which stop at the same step with one checkpoint, and the run resumed on
# both ends with the uninterrupted run's weights; ranks whose launcher is
# killed outright stop as after SIGTERM.
data_parallel_ranks() {
  recipe "$WORK/dp.yaml" "$WORK/dp" "max_steps: 4"
  recipe "$WORK/dp1.yaml" "$WORK/dp1" "max_steps: 4"
  expect_exit 0 train --recipe "$WORK/dp.yaml" --nproc-per-node 2 --grad-accum 1 || return 1
  grep -q "on the CPU, 2 data-parallel ranks: 4 steps" "$WORK/stdout" || { head -3 "$WORK/stdout"; return 1; }
  [[ $(grep -c "^training " "$WORK/stdout") -eq 1 ]] || { echo "more than rank 0 spoke"; return 1; }
  grep -o "step [0-9]*/4  loss [0-9.]*" "$WORK/stdout" >"$WORK/dp.losses"
  expect_exit 0 train --recipe "$WORK/dp1.yaml" --grad-accum 2 || return 1
  # The step's loss over both ranks is the one process's (as printed, to 4 decimals).
  grep -o "step [0-9]*/4  loss [0-9.]*" "$WORK/stdout" >"$WORK/dp1.losses"
  "$PY" -c "
import sys
a, b = ([float(l.split()[-1]) for l in open(f)] for f in sys.argv[1:])
sys.exit(0 if len(a) == len(b) == 4 and max(abs(x - y) for x, y in zip(a, b)) <= 2e-4 else 1)" \
    "$WORK/dp.losses" "$WORK/dp1.losses" || { paste "$WORK/dp.losses" "$WORK/dp1.losses"; return 1; }
  # Two ranks' gradients summed are the accumulated two micro-batches' (a sum of two floats has one order).
  cmp "$WORK/dp/model.safetensors" "$WORK/dp1/model.safetensors" || return 1
  local single
  single=$("$PY" -c "import json; j=json.load(open('$WORK/dp1/flops_meter_run/flops_meter.json')); print(j['exact']['tokens_processed'], j['executed']['trained'])")
  record "$WORK/dp" "j['status'] == 'completed' and j['ranks']['world_size'] == 2 and j['ranks']['journals'] == 2 and
    not j['ranks']['missing'] and f\"{j['exact']['tokens_processed']} {j['executed']['trained']}\" == '$single' and
    j['executed']['formula_error_pct']['detailed'] == 0" || return 1
  recipe "$WORK/dpbfd.yaml" "$WORK/dpbfd" "packing: true"
  expect_exit 0 train --recipe "$WORK/dpbfd.yaml" --nproc-per-node 2 || return 1
  expect_exit 0 estimate --recipe "$WORK/dpbfd.yaml" --data-parallel 2 --json || return 1
  local estimated
  estimated=$("$PY" -c "import json; print(json.load(open('$WORK/stdout'))['methods'][0]['flops_exact']['detailed'])") || return 1
  record "$WORK/dpbfd" "int(j['flops_exact']['detailed']) == $estimated and j['executed']['formula_error_pct']['detailed'] == 0" ||
    return 1
  recipe "$WORK/dpterm.yaml" "$WORK/dpterm" "max_steps: 12"
  recipe "$WORK/dpstraight.yaml" "$WORK/dpstraight" "max_steps: 12"
  expect_exit 0 train --recipe "$WORK/dpstraight.yaml" --nproc-per-node 2 || return 1
  interrupt_at_checkpoint dpterm TERM --nproc-per-node 2
  [[ $interrupted_status -eq 0 ]] || { echo "exit $interrupted_status"; cat "$WORK/dpterm.log"; return 1; }
  record "$WORK/dpterm" "j['status'] == 'interrupted' and j['ranks']['journals'] == 2 and j['tokens']['optimizer_steps'] < 12" ||
    return 1
  local steps
  steps=$("$PY" -c "import json; print(json.load(open('$WORK/dpterm/flops_meter_run/flops_meter.json'))['tokens']['optimizer_steps'])")
  [[ -f $WORK/dpterm/checkpoint-$steps/trainer_state.json ]] || { echo "no checkpoint at step $steps"; return 1; }
  # Resumed on both ranks: the uninterrupted run's weights, byte for byte.
  expect_exit 0 train --recipe "$WORK/dpterm.yaml" --nproc-per-node 2 --resume || return 1
  cmp "$WORK/dpterm/model.safetensors" "$WORK/dpstraight/model.safetensors" || return 1
  record "$WORK/dpterm" "j['status'] == 'completed' and
    sorted((s['rank'], s['segment']) for s in j['segments']) == [(0, 1), (0, 2), (1, 1), (1, 2)]" || return 1
  # The launcher killed outright: its ranks stop as after SIGTERM, leaving nothing behind.
  recipe "$WORK/dpkill.yaml" "$WORK/dpkill" "max_steps: 200"
  interrupt_at_checkpoint dpkill KILL --nproc-per-node 2
  for _ in $(seq 1 600); do pgrep -f "$WORK/dpkill.yaml" >/dev/null || break; sleep 0.1; done
  ! pgrep -f "$WORK/dpkill.yaml" >/dev/null || { echo "ranks outlived their launcher"; pkill -9 -f "$WORK/dpkill.yaml"; return 1; }
  record "$WORK/dpkill" "j['status'] == 'interrupted' and j['ranks']['journals'] == 2" || return 1
  # Under a launcher (RANK set) the launcher starts the ranks; a rank of several needs the meeting point.
  RANK=0 LOCAL_WORLD_SIZE=4 expect_exit 2 train --recipe "$WORK/dp.yaml" --nproc-per-node 2 &&
    grep -q "the launcher starts the ranks; leave --nproc-per-node out" "$WORK/stderr" || return 1
  RANK=1 WORLD_SIZE=2 MASTER_ADDR='' expect_exit 2 train --recipe "$WORK/dp.yaml" &&
    grep -q "rank 1: environment MASTER_ADDR is not set" "$WORK/stderr"
}

# With NVML (here the scripted fake: one H100, no real GPU) the record sets
# the hardware bound beside the executed count: their ratio, from one
# sampler for the node (local rank 0) though two ranks train.
hardware_bound_beside_executed() {
  recipe "$WORK/nvml.yaml" "$WORK/nvml" "max_steps: 2"
  printf '%s\n' "name=NVIDIA H100 80GB HBM3 | uuid=GPU-aaaa | sm_clock=1755 | max_sm_clock=1980 | util=80 |" \
    "power_mw=650000 | energy_mj_per_s=650000 | pids=self | cc=9.0 | sm_count=132" | paste -sd ' ' >"$WORK/gpus.txt"
  FAKE_NVML_SCRIPT="$WORK/gpus.txt" expect_exit 0 train --recipe "$WORK/nvml.yaml" --nproc-per-node 2 --nvml \
    --nvml-library "$FAKE_NVML" || return 1
  grep -q "^  bound / executed  .* (an upper bound is at least 1)" "$WORK/stdout" || { grep -A3 "hardware" "$WORK/stdout"; return 1; }
  record "$WORK/nvml" "len(j['hardware']['gpus']) == 1 and j['hardware']['bound_covers_run'] and
    abs(j['executed']['hardware_bound_over_executed'] * (int(j['executed']['trained']) + int(j['executed']['recompute']))
        - j['hardware']['bound_flop']) <= 1e-9 * j['hardware']['bound_flop'] and j['executed']['hardware_bound_over_executed'] > 1"
}

budget_stops_with_a_checkpoint() {
  recipe "$WORK/budget.yaml" "$WORK/budget" ""
  expect_exit 0 train --recipe "$WORK/budget.yaml" --budget 5e9 || return 1
  grep -q "the budget guard stops the run" "$WORK/stdout" || return 1
  record "$WORK/budget" "j['status'] == 'stopped_by_budget' and int(j['exact']['compliance_flop']) <= 5 * 10**9"
  local steps
  steps=$("$PY" -c "import json; print(json.load(open('$WORK/budget/flops_meter_run/flops_meter.json'))['tokens']['optimizer_steps'])")
  [[ -f $WORK/budget/checkpoint-$steps/trainer_state.json ]] || { echo "no checkpoint at step $steps"; return 1; }
}

sigterm_stops_with_a_checkpoint() {
  recipe "$WORK/term.yaml" "$WORK/term" "max_steps: 40"
  interrupt_at_checkpoint term TERM
  [[ $interrupted_status -eq 0 ]] || { echo "exit $interrupted_status"; cat "$WORK/term.log"; return 1; }
  grep -q "saving a checkpoint and stopping" "$WORK/term.log" || return 1
  record "$WORK/term" "j['status'] == 'interrupted' and j['tokens']['optimizer_steps'] < 40"
}

refusals() {
  recipe "$WORK/typo.yaml" "$WORK/typo" "lerning_rate: 0.1"
  expect_exit 2 train --recipe "$WORK/typo.yaml" && grep -q "did you mean 'learning_rate'" "$WORK/stderr" || return 1
  printf 'base_model: %s\nsequence_len: 64\ndatasets:\n  - path: %s\n    type: completion\noutput_dir: %s\n' "$BASE" \
    "$WORK/data.jsonl" "$WORK/ax" >"$WORK/axolotl.yaml"
  expect_exit 2 train --recipe "$WORK/axolotl.yaml" && grep -q "Axolotl" "$WORK/stderr" || return 1
  mkdir -p "$WORK/scaled" && sed 's/"hidden_act"/"rope_scaling": {"rope_type": "llama3", "factor": 8.0}, "hidden_act"/' \
    "$BASE/config.json" >"$WORK/scaled/config.json" && cp "$BASE"/tokenizer* "$WORK/scaled/"
  sed "s#$BASE#$WORK/scaled#" "$WORK/plain.yaml" >"$WORK/scaled.yaml"
  expect_exit 2 train --recipe "$WORK/scaled.yaml" && grep -q "rope_scaling" "$WORK/stderr" || return 1
  mkdir -p "$WORK/torn" && cp "$WORK/plain/config.json" "$WORK/plain/tokenizer"* "$WORK/torn/" &&
    head -c 5000 "$WORK/plain/model.safetensors" >"$WORK/torn/model.safetensors"
  sed "s#$BASE#$WORK/torn#" "$WORK/plain.yaml" >"$WORK/torn.yaml"
  expect_exit 2 train --recipe "$WORK/torn.yaml" && grep -q "torn/model.safetensors" "$WORK/stderr" || return 1
  expect_exit 2 train --recipe "$WORK/plain.yaml" --output-dir "$WORK/fresh" --resume &&
    grep -q "no checkpoint-N to resume from" "$WORK/stderr" || return 1
  # A flag the train command does not take is the CLI's own error, with the flag table's spelling.
  expect_exit 2 train --recipe "$WORK/plain.yaml" --lora-rr 4 && grep -q -- "--lora-r" "$WORK/stderr"
}

check "a LoRA run's record: executed equals the detailed formula" lora_run
check "the trainer's record matches the schema" record_matches_the_schema
check "the adapter in PEFT's layout, read back independently and by estimate --adapter" peft_layout
check "non-reentrant checkpointing under a freeze: executed and recompute equal the formula" full_run_checkpointed
check "the full model saved: inspect counts what the trainer trained" saved_model_inspects_as_trained
check "Qwen2: trained with its q, k and v biases, saved under transformers' names, inspected alike" \
  qwen2_trains_with_its_biases
check "SIGKILL after a checkpoint, resumed: the uninterrupted run's weights" killed_and_resumed
check "packed and padding-free rows: executed equals detailed; bfd and padding_free equal the estimate" packed_runs
check "two data-parallel ranks: one process's weights, tokens and FLOP; bfd equals the estimate; SIGTERM, resume" \
  data_parallel_ranks
check "NVML (a scripted H100): the hardware bound beside the executed count, one sampler for two ranks" \
  hardware_bound_beside_executed
check "the budget guard stops before the budget, with a checkpoint" budget_stops_with_a_checkpoint
check "SIGTERM stops after the step, with a checkpoint" sigterm_stops_with_a_checkpoint
check "refused: a mistyped key, Axolotl, rope_scaling, torn weights, resume without a checkpoint" refusals
report_checks "train contract"
