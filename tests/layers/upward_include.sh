#!/usr/bin/env bash
# The layers are real: each layer's target compiles with an include path that
# holds only its own directory and the layers below it (CMakeLists.txt,
# fm_layer). For each layer, a file that includes a header of a layer above
# it must fail to compile with the layer's own command line, and one that
# includes a header of a layer below it (or its own) must compile.
#
#   bash tests/layers/upward_include.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD="$1"
SRC="$2"
COMMANDS="$BUILD/compile_commands.json"
[[ -f $COMMANDS ]] || { echo "no $COMMANDS (CMAKE_EXPORT_COMPILE_COMMANDS)"; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# layer:a header it may include:a header above it that it must not
cases=(
  "core:core/merkle.h:adapters/files.h"
  "core:core/lineage.h:api/ledger_internal.h"
  "tokenizer:core/json_doc.h:template/lexer.h"
  "adapters:core/canonical_json.h:api/meter_ledger.h"
  "adapters:adapters/ledger_store.h:dataset/record_reader.h"
  "dataset:adapters/files.h:api/journal.h"
  "api:dataset/record_reader.h:cli/flags.h"
  "capi:api/ledger_text.h:cli/commands.h"
)

# The compile command of one source of LAYER, with the source replaced by
# FILE and only a syntax check (no object written).
command_for() {
  local layer="$1" file="$2"
  python3 - "$COMMANDS" "$SRC/src/$layer/" "$file" <<'PY'
import json, shlex, sys
commands, prefix, replacement = sys.argv[1:]
for entry in json.load(open(commands)):
    if entry["file"].startswith(prefix):
        args = shlex.split(entry["command"]) if "command" in entry else entry["arguments"]
        out, skip = [], False
        for a in args:
            if skip:
                skip = False
                continue
            if a in ("-o", "-MF", "-MT", "-c"):
                skip = a != "-c"
                continue
            if a == entry["file"] or a.endswith(entry["file"].split("/")[-1]) and a.endswith(".cc"):
                continue
            if a in ("-MD",) or a == "ccache":
                continue
            out.append(a)
        print(entry["directory"])
        print(shlex.join(out + ["-fsyntax-only", replacement]))
        break
else:
    sys.exit("no compile command for a source under " + prefix)
PY
}

failed=0
for c in "${cases[@]}"; do
  IFS=: read -r layer allowed forbidden <<<"$c"
  [[ -f $SRC/src/$allowed && -f $SRC/src/$forbidden ]] || { echo "FAIL: $c names a header that does not exist"; failed=1; continue; }
  for kind in allowed forbidden; do
    header="${!kind}"
    file="$WORK/$layer-$kind.cc"
    printf '#include "%s"\n' "$header" >"$file"
    mapfile -t cmd < <(command_for "$layer" "$file")
    if (cd "${cmd[0]}" && eval "${cmd[1]}") >"$WORK/out" 2>&1; then compiled=1; else compiled=0; fi
    if [[ $kind == allowed && $compiled == 0 ]]; then
      echo "FAIL: $layer cannot include $header:"; sed 's/^/  | /' "$WORK/out" | head -5; failed=1
    elif [[ $kind == forbidden && $compiled == 1 ]]; then
      echo "FAIL: $layer includes $header, a layer above it, and it compiled"; failed=1
    elif [[ $kind == forbidden ]] && ! grep -q "No such file" "$WORK/out"; then
      echo "FAIL: $layer including $header failed, but not for want of the file:"; sed 's/^/  | /' "$WORK/out" | head -5
      failed=1
    else
      echo "ok: $layer $([[ $kind == allowed ]] && echo may || echo may not) include $header"
    fi
  done
done
exit $failed
