#!/usr/bin/env bash
# Builds a libFuzzer target with clang in build-fuzz/ and runs it.
#
#   fuzz/run.sh [SECONDS] [TARGET]   # default 60 s, parsers_fuzz; or text_fuzz, meter_fuzz, tables_fuzz, recipe_fuzz
#
# New inputs that reach new code go to build-fuzz/fuzz-corpus-TARGET/ (the seeds in
# fuzz/corpus/TARGET/ are only read); a crashing input is written to
# build-fuzz/fuzz-artifacts/ and the script exits non-zero. Replay one with
#   build-fuzz/fuzz/TARGET build-fuzz/fuzz-artifacts/crash-...
# and add it as a test in tests/unit/ once fixed.
set -euo pipefail

seconds="${1:-60}"
target="${2:-parsers_fuzz}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
case "$target" in
  parsers_fuzz | text_fuzz | meter_fuzz | tables_fuzz | recipe_fuzz) ;;
  *) echo "usage: fuzz/run.sh [SECONDS] [parsers_fuzz|text_fuzz|meter_fuzz|tables_fuzz|recipe_fuzz]" >&2; exit 2 ;;
esac
# A target's own dictionary (meter.dict for meter_fuzz) when it has one.
dict="$root/fuzz/${target%_fuzz}.dict"
[[ -f "$dict" ]] || dict="$root/fuzz/parsers.dict"

cmake -S "$root" -B "$build" -G Ninja \
  -DFM_BUILD_FUZZ=ON -DFM_BUILD_TESTS=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
ninja -C "$build" -j"${FM_FUZZ_JOBS:-2}" "$target"

mkdir -p "$build/fuzz-corpus-$target" "$build/fuzz-artifacts"
"$build/fuzz/$target" \
  -max_total_time="$seconds" \
  -max_len=16384 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -dict="$dict" \
  -artifact_prefix="$build/fuzz-artifacts/" \
  -print_final_stats=1 \
  "$build/fuzz-corpus-$target" "$root/fuzz/corpus/$target"
