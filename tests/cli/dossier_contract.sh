#!/usr/bin/env bash
# The command-line contract of `flopsmeter dossier`: help in the commands'
# style, a ledger model's and a run directory's dossier in the three forms
# (the JSON valid against schemas/dossier.schema.json), a hostile model name
# shown as text, -o written atomically and never through a link or onto
# something that is not a regular file, and errors that name what is wrong.
#
#   bash tests/cli/dossier_contract.sh FLOPSMETER_BINARY REPO_ROOT
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT" >&2
  exit 2
fi
FM=$1
SRC=$2
PY=/usr/bin/python3  # Debian's, with python3-jsonschema (scripts/setup.sh)
[[ -x $PY ]] || PY=python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dossier_contract.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=lib/contract.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/contract.sh"
isolate_environment "$WORK/env"
export FLOPSMETER_LEDGER=$WORK/ledger.sqlite FLOPSMETER_LEDGER_KEY=$WORK/ledger.key FLOPSMETER_ORGANISATION=Acme
HOSTILE='acme/<script>alert(1)</script>'

stdout_has() { grep -qF -- "$1" "$WORK/stdout" || { echo "stdout does not say '$1'"; head -c 1500 "$WORK/stdout"; return 1; }; }
stderr_has() { grep -qF -- "$1" "$WORK/stderr" || { echo "stderr does not say '$1'"; head -c 1500 "$WORK/stderr"; return 1; }; }
valid_dossier() {  # valid_dossier FILE PYTHON_EXPR: valid against the schema, and j satisfies EXPR
  "$PY" - "$SRC/schemas/dossier.schema.json" "$1" "$2" <<'PY'
import json, sys
import jsonschema
schema, doc, expr = sys.argv[1:]
j = json.load(open(doc))
jsonschema.Draft202012Validator(json.load(open(schema))).validate(j)
if not eval("(" + expr + ")"):
    sys.exit(f"check failed: {expr}")
PY
}

# A base and a real metered run (flopsmeter watch, a token file) that made
# the hostile model from it, recorded in the ledger when it ended.
setup() {
  expect_exit 0 ledger keygen &&
    expect_exit 0 ledger register meta/base --pretrain-flops 3e20 --pretrain-source "the test" --organisation Meta &&
    expect_exit 0 watch --run "$WORK/run" --n-total 1000000 --n-trainable 1000000 --tokens-from "$WORK/tokens" \
      --ledger-model meta/base --ledger-produces "$HOSTILE" -- sh -c 'echo 5000 > "$0"' "$WORK/tokens"
}
check "a base and a metered run in the ledger" setup

help_text() {
  expect_exit 0 dossier --help && stdout_has "Usage: flopsmeter dossier MODEL|RUN_DIR|ESTIMATE.json" && stdout_has "-o, --output FILE" &&
    stdout_has "--format F" && stdout_has "Examples:" && stdout_has "flopsmeter dossier acme/llama-sft -o dossier.html" &&
    expect_exit 0 dossier -h && stdout_has "Use --help for details." &&
    expect_exit 0 --help && stdout_has "dossier"
}
check "help describes the command, its flags and examples" help_text

model_json() {
  expect_exit 0 dossier "$HOSTILE" --format json &&
    valid_dossier "$WORK/stdout" 'j["subject"]["name"] == "acme/<script>alert(1)</script>" and
      j["verdict"]["in_force"][0]["regime"] == "eu_modification" and
      [f for f in j["documentation"] if f["id"] == "modification_compute"][0]["value"] == "30000000000" and
      [f for f in j["documentation"] if f["id"] == "energy"][0]["value"] is None and
      j["evidence"]["inclusion_proof"]["index"] == j["lineage"][0]["entry"]' &&
    # The figure is the lineage view's.
    cp "$WORK/stdout" "$WORK/dossier.json" && expect_exit 0 ledger lineage "$HOSTILE" --json &&
    "$PY" -c 'import json, sys
d, v = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
c = [f for f in d["documentation"] if f["id"] == "training_compute"][0]["value"]
sys.exit(0 if c == v["cumulative_compute"]["flop"] == "300000000030000000000" else f"{c} != the view")' \
      "$WORK/dossier.json" "$WORK/stdout"
}
check "a model's JSON dossier: valid, verdict first, the ledger's figures" model_json

html_to_file() {
  mkdir -p "$WORK/out" && expect_exit 0 dossier "$HOSTILE" -o "$WORK/out/dossier.html" &&
    [[ $(cat "$WORK/stdout") == "$WORK/out/dossier.html" ]] || { echo "stdout is not the path"; return 1; }
  grep -q '^<!DOCTYPE html>' "$WORK/out/dossier.html" || { echo "not HTML"; return 1; }
  ! grep -qi '<script' "$WORK/out/dossier.html" || { echo "a script element"; return 1; }
  grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$WORK/out/dossier.html" || { echo "the name is not shown as text"; return 1; }
  # Again over it: replaced whole, nothing left beside it.
  expect_exit 0 dossier "$HOSTILE" -o "$WORK/out/dossier.html" &&
    [[ $(ls -A "$WORK/out") == dossier.html ]] || { echo "left beside it: $(ls -A "$WORK/out")"; return 1; }
}
check "-o writes the HTML (a hostile name as text) and prints its path" html_to_file

markdown() {
  expect_exit 0 dossier "$HOSTILE" -o "$WORK/out/dossier.md" && grep -q '^# Compliance dossier' "$WORK/out/dossier.md" &&
    grep -q '^## Verdict' "$WORK/out/dossier.md" && ! grep -q '<script' "$WORK/out/dossier.md" &&
    expect_exit 0 dossier "$HOSTILE" --format md && stdout_has "## EU AI Act Annex XI"
}
check "Markdown by --format md or a .md file" markdown

refused_outputs() {
  echo kept >"$WORK/target" && ln -s "$WORK/target" "$WORK/link.html" &&
    expect_exit 2 dossier "$HOSTILE" -o "$WORK/link.html" && stderr_has "$WORK/link.html: is a symbolic link" &&
    [[ $(cat "$WORK/target") == kept && -L $WORK/link.html ]] || { echo "the link or its target changed"; return 1; }
  expect_exit 2 dossier "$HOSTILE" -o "$WORK/out" && stderr_has "$WORK/out: is a directory" &&
    mkfifo "$WORK/fifo" && expect_exit 2 dossier "$HOSTILE" -o "$WORK/fifo" && stderr_has "$WORK/fifo: is a FIFO"
}
check "-o refuses a symbolic link, a directory and a FIFO, changing nothing" refused_outputs

errors() {
  expect_exit 2 dossier acme/nope && stderr_has "model 'acme/nope' is not in the ledger" &&
    expect_exit 2 dossier "$HOSTILE" --format pdf && stderr_has "--format 'pdf'" &&
    expect_exit 2 dossier && stderr_has "usage: flopsmeter dossier" &&
    echo '{"schema": "other/1"}' >"$WORK/other.json" && expect_exit 2 dossier "$WORK/other.json" &&
    stderr_has "$WORK/other.json: not a flopsmeter run record"
}
check "errors name the model, the format, the file" errors

model_named_like_a_path() {
  # A directory named like the ledger's model: read as a path, then, asked, as the model.
  mkdir -p "$WORK/cwd/meta/base" && cd "$WORK/cwd" &&
    expect_exit 2 dossier meta/base && stderr_has "give --from-ledger" &&
    expect_exit 0 dossier meta/base --from-ledger --format json &&
    valid_dossier "$WORK/stdout" 'j["subject"]["kind"] == "model" and j["subject"]["name"] == "meta/base"'
}
check "a model named like a local directory is read with --from-ledger" model_named_like_a_path

run_dir() {
  expect_exit 0 dossier "$WORK/run" --format json &&
    valid_dossier "$WORK/stdout" 'j["subject"]["kind"] == "run" and j["evidence"]["signed_head"] is None and
      j["runs"][0]["compliance_flop"] == "30000000000"' &&
    expect_exit 0 dossier "$WORK/run/flops_meter.json" -o "$WORK/run.html" && grep -q '<svg' "$WORK/run.html"
}
check "a run directory's dossier, from its record" run_dir

estimate_plan() {
  expect_exit 0 estimate --model meta-llama/Llama-3.2-1B --method full,lora --tokens 1e8 --json &&
    cp "$WORK/stdout" "$WORK/plan.json" && expect_exit 0 dossier "$WORK/plan.json" --format json &&
    cp "$WORK/stdout" "$WORK/plan-dossier.json" &&
    valid_dossier "$WORK/plan-dossier.json" 'j["subject"]["kind"] == "estimate" and
      [r["status"] for r in j["runs"]] == ["planned", "planned"] and
      [r["compliance_flop"] for r in j["runs"]] == [m["compliance_exact"] for m in json.load(open(doc.replace("plan-dossier", "plan")))["methods"]] and
      [f for f in j["documentation"] if f["id"] == "energy"][0]["value"] is None' &&
    expect_exit 0 dossier "$WORK/plan.json" -o "$WORK/plan.html" && grep -q 'chart-formulas' "$WORK/plan.html"
}
check "a recorded estimate's dossier: each method a planned run" estimate_plan

planned_energy() {
  expect_exit 0 estimate --model meta-llama/Llama-3.2-1B --method lora --tokens 1e8 --gpu h100-sxm --gpus 8 \
    --hours 10 --json && cp "$WORK/stdout" "$WORK/plan-gpu.json" &&
    json_has 'j["hardware_estimate"]["energy"]["joules"] == 8 * 10 * 3600 * 700 and
      j["hardware_estimate"]["energy"]["formula"] == "E = P x t = 700 W x 288000 s = 2.02e+08 J"' &&
    expect_exit 0 dossier "$WORK/plan-gpu.json" --format json &&
    valid_dossier "$WORK/stdout" '[f for f in j["documentation"] if f["id"] == "energy"][0]["value"] == 8 * 10 * 3600 * 700 / 3.6e9 and
      "at most" in [f for f in j["documentation"] if f["id"] == "energy"][0]["text"]' &&
    expect_exit 0 estimate --model meta-llama/Llama-3.2-1B --method lora --tokens 1e8 --peak-flops 1e15 --gpus 8 \
      --hours 10 --json && cp "$WORK/stdout" "$WORK/plan-peak.json" &&
    json_has 'j["hardware_estimate"]["energy"]["joules"] is None and "board power is unknown" in j["hardware_estimate"]["energy"]["reason"]' &&
    expect_exit 0 dossier "$WORK/plan-peak.json" --format json &&
    valid_dossier "$WORK/stdout" '[f for f in j["documentation"] if f["id"] == "energy"][0]["value"] is None and
      "board power is unknown" in [f for f in j["documentation"] if f["id"] == "energy"][0]["reason"]'
}
check "a plan on catalog GPUs gives its energy at board power, an upper estimate; a bare peak gives none, and why" planned_energy

estimate_html() {
  expect_exit 0 estimate --model meta-llama/Llama-3.2-1B --method full,lora --tokens 1e8 --html "$WORK/est.html" &&
    stdout_has "eu_modification" && stderr_has "the comparison is at $WORK/est.html" &&
    grep -q 'chart-cumulative' "$WORK/est.html" && grep -q 'method lora' "$WORK/est.html" &&
    ln -s "$WORK/est.html" "$WORK/est-link.html" &&
    expect_exit 2 estimate --model meta-llama/Llama-3.2-1B --method lora --tokens 1e8 --html "$WORK/est-link.html" &&
    stderr_has "$WORK/est-link.html: is a symbolic link"
}
check "estimate --html writes the comparison page, never through a link" estimate_html

damaged_record() {
  # Fields of the wrong type everywhere: the dossier says what it lacks, and is still valid.
  mkdir -p "$WORK/damaged" && cat >"$WORK/damaged/flops_meter.json" <<'JSON'
{"schema": "flopsmeter.run/3", "run_id": 7, "status": ["x"], "compliance": {"exact": 12, "formula": {"a": 1}},
 "segments": "x", "hardware": {"gpus": [1, {"rank": -1, "energy_method": "counter", "energy_j": "9"}], "sampler": 3},
 "formulas": {"eu_6nd": {"assumptions": [1, 2]}}, "provenance": {"command": "str", "journals": [1, 2]},
 "regimes": [1, {"id": 5}], "verdict": {"headlines": [1]}, "tokens": {"source": 1}, "N_total": -5,
 "training_duration_seconds": "3", "energy": {"mwh": -1}}
JSON
  expect_exit 0 dossier "$WORK/damaged" --format json &&
    valid_dossier "$WORK/stdout" '[f for f in j["documentation"] if f["id"] == "modification_compute"][0]["value"] is None and
      any("is not a regime result" in w for w in j["warnings"]) and j["runs"][0]["compliance_flop"] is None and
      all(f["value"] is None for f in j["documentation"] if f["id"] in ("energy", "parameters", "training_time_wall_clock"))' &&
    expect_exit 0 dossier "$WORK/damaged" --format html && expect_exit 0 dossier "$WORK/damaged" --format md
}
check "a damaged record: a valid dossier that says what it lacks" damaged_record

report_checks dossier_contract
