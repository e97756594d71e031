#!/usr/bin/env bash
# The compliance dossier in a real browser: builds dossiers with the real
# command line (a base, two metered runs and a merge in a ledger; a run
# directory; hostile model names; an estimate's --html page), then
# dossier_browser.js opens each HTML page in headless Chromium (Debian's, via
# playwright-core) and checks it against the JSON dossier and the ledger.
#
#   bash tests/browser/dossier_browser.sh FLOPSMETER_BINARY REPO_ROOT FAKE_NVML_LIBRARY
#
# Exits 77 (ctest: skipped) only when chromium or playwright-core is missing;
# scripts/setup.sh installs both.
set -uo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT FAKE_NVML_LIBRARY" >&2
  exit 2
fi
FM=$1
SRC=$2
FAKE_NVML=$3
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PLAYWRIGHT=$SRC/tests/reference/node_modules/playwright-core
skip() {
  printf '\n*** SKIPPED: %s. The dossier is NOT tested in a browser. Run scripts/setup.sh. ***\n\n' "$1" >&2
  exit 77
}
[[ -x $CHROMIUM ]] || skip "no Chromium at $CHROMIUM (Debian package chromium)"
[[ -f $PLAYWRIGHT/package.json ]] || skip "no playwright-core in tests/reference/node_modules"
command -v node >/dev/null || skip "no node"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dossier_browser.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=../cli/lib/contract.sh
source "$SRC/tests/cli/lib/contract.sh"
isolate_environment "$WORK/env"
export FLOPSMETER_LEDGER=$WORK/ledger.sqlite FLOPSMETER_LEDGER_KEY=$WORK/ledger.key FLOPSMETER_ORGANISATION=Acme

# Names that would run script if any form printed them unescaped: one as an
# element, one that breaks out of a double- or single-quoted attribute.
SCRIPT_NAME='<script>window.__pwned=1</script>'
QUOTE_NAME="acme/\"><img src=x onerror=\"window.__pwned=2\"> 'x' onload='window.__pwned=3'"

# fm ARGS: flopsmeter, its notes kept quiet unless it fails.
fm() { "$FM" "$@" 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; echo "FAILED: flopsmeter $*" >&2; exit 1; }; }
# metered RUN FROM PRODUCES TOKENS: a real metered run (watch; the job writes
# its token count) that made PRODUCES from FROM, recorded in the ledger.
metered() {
  fm watch --run "$WORK/$1" --run-id "$1" --n-total 1000000 --n-trainable 1000000 --tokens-from "$WORK/$1.tokens" \
    --ledger-model "$2" --ledger-produces "$3" -- sh -c 'echo "$1" > "$0"' "$WORK/$1.tokens" "$4" >/dev/null
}
fm ledger keygen >/dev/null
fm ledger register meta/base --pretrain-flops 3e20 --pretrain-source "the browser test" --organisation Meta >/dev/null
metered sft "meta/base" "$SCRIPT_NAME" 5000
metered code meta/base "$QUOTE_NAME" 20000
metered sft2 "$SCRIPT_NAME" acme/sft2 7000
fm ledger register acme/merged --parents "acme/sft2,$QUOTE_NAME" --how "merge (weight average)" >/dev/null

# page NAME SOURCE [LEDGER_MODEL]: the HTML and JSON dossier of SOURCE and,
# for a ledger model, its lineage view, listed for dossier_browser.js.
pages=()
page() {
  fm dossier "$2" -o "$WORK/$1.html" >/dev/null
  fm dossier "$2" --format json -o "$WORK/$1.json" >/dev/null
  local lineage=null
  if [[ -n ${3:-} ]]; then
    fm ledger lineage "$3" --json >"$WORK/$1.lineage.json"
    lineage="\"$WORK/$1.lineage.json\""
  fi
  pages+=("{\"name\": \"$1\", \"html\": \"$WORK/$1.html\", \"dossier\": \"$WORK/$1.json\", \"lineage\": $lineage}")
}
page merged acme/merged acme/merged
page single-run "$SCRIPT_NAME" "$SCRIPT_NAME"
page quote-name "$QUOTE_NAME" "$QUOTE_NAME"
page run-dir "$WORK/sft"
# A run NVML sampled (the fake library: one GPU with an energy counter, one
# without), long enough for progress lines between begin and end.
printf '%s\n' "name=NVIDIA A100-SXM4-80GB | uuid=GPU-a | sm_clock=1410 | max_sm_clock=1410 | util=60 | power_mw=300000 | energy_mj_per_s=300000 | cc=8.0 | sm_count=108" \
  "name=NVIDIA H100 80GB HBM3 | uuid=GPU-b | sm_clock=1980 | max_sm_clock=1980 | util=30 | cc=9.0 | sm_count=132" >"$WORK/gpus.txt"
FAKE_NVML_SCRIPT=$WORK/gpus.txt fm watch --run "$WORK/gpu" --run-id gpu --n-total 1000000 --n-trainable 1000000 \
  --tokens-from "$WORK/gpu.tokens" --nvml --nvml-library "$FAKE_NVML" --journal-interval 0.2 \
  -- sh -c 'echo 4000 > "$0"; sleep 6' "$WORK/gpu.tokens" >/dev/null
page gpu-run "$WORK/gpu"
ESTIMATE=(--model meta-llama/Llama-3.2-1B --method full,lora --tokens 1e8)
fm estimate "${ESTIMATE[@]}" --json >"$WORK/plan.json"
page estimate "$WORK/plan.json"
# The page estimate --html writes, checked against the same estimate's JSON dossier.
fm estimate "${ESTIMATE[@]}" --html "$WORK/estimate-html.html" >/dev/null
pages+=("{\"name\": \"estimate --html\", \"html\": \"$WORK/estimate-html.html\", \"dossier\": \"$WORK/estimate.json\", \"lineage\": null, \"same_subject\": false}")

manifest=$WORK/pages.json
{ echo "["; (IFS=,; echo "${pages[*]}"); echo "]"; } >"$manifest"
CHROMIUM=$CHROMIUM node "$SRC/tests/browser/dossier_browser.js" "$SRC" "$manifest"
