#!/usr/bin/env bash
# Meter overhead: what the runtime meter and the GPU sampler cost a training
# job, each figure beside the same work without the meter, from one run.
#
#   bash bench/meter_bench.sh [--build DIR] [--reps N] [--quick]
#
#   --build DIR   a CMake build directory of this checkout (default:
#                 $FLOPSMETER_BUILD, else build/); configure it Release:
#                 cmake -S . -B DIR -G Ninja -DCMAKE_BUILD_TYPE=Release
#                 Missing targets (flopsmeter, flopsmeter_c, fake_nvml) are
#                 built with -j2.
#   --reps N      repetitions of each timed run (default 5); medians reported
#   --quick       fewer steps and a shorter sampler window (a smoke run)
#   PYTHON        a python3 with torch (default: /usr/bin/python3, Debian's
#                 python3-torch, else the first python3 on PATH with torch)
#
# Sections (bench/meter_bench.cc and bench/meter_bench.py say exactly what
# each runs; docs/meter-overhead.md has figures and their reading):
#   1 hot path     Meter::add + add_sequences, ns per call, 1 and 2 threads,
#                  against the same arithmetic into volatile locals and a
#                  minimal lock-free counter (the floor for any meter)
#   2 training loop (C++)  ~10 ms steps of fixed CPU work, 4 micro-batches,
#                  step() per step, journal every 10 s and every 0.5 s,
#                  against the same loop without the meter (and with the
#                  minimal counter)
#   3 torch loop (Python)  a real torch CPU training loop with and without
#                  flopsmeter.Meter (ctypes on the C ABI if the package is
#                  missing, and the table says so)
#   4 GPU sampler  the sampler thread's CPU at 10 Hz on 8 fake GPUs (the fake
#                  NVML of tests/fake_nvml), against an idle 10 Hz thread
#   5 meter calls  step(), flush(), end(), Begin() on their own
#
# A benchmark, not a test: nothing is asserted. On a shared machine the
# end-to-end differences in sections 2 and 3 are dominated by noise (the
# table prints their spread); the "time inside meter calls" rows measure the
# meter directly.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${FLOPSMETER_BUILD:-$ROOT/build}
REPS=5
STEPS=60
PY_STEPS=40
SAMPLER_SECONDS=5
STEP_SECONDS=2
while (($#)); do
  case $1 in
    --build) BUILD=${2:?--build needs a directory}; shift 2 ;;
    --reps) REPS=${2:?--reps needs a number}; shift 2 ;;
    --quick) REPS=3; STEPS=50; PY_STEPS=20; SAMPLER_SECONDS=2; STEP_SECONDS=1; shift ;;
    -h|--help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "meter_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
die() { echo "meter_bench: $*" >&2; exit 1; }
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build directory $BUILD (cmake -S $ROOT -B DIR -G Ninja -DCMAKE_BUILD_TYPE=Release)"

# ------------------------------------------------------------------ binaries
LIB_A="$BUILD/libflopsmeter.a"
LIB_SO="$BUILD/libflopsmeter.so"
FAKE_NVML="$BUILD/tests/fake_nvml/libnvidia-ml-fake.so"
if [[ ! -f $LIB_A || ! -e $LIB_SO || ! -f $FAKE_NVML ]]; then
  [[ -f "$BUILD/CMakeCache.txt" ]] || die "$BUILD is not a CMake build directory"
  grep -q '^FM_BUILD_TESTS:BOOL=ON' "$BUILD/CMakeCache.txt" ||
    die "$BUILD was configured with FM_BUILD_TESTS=OFF: the fake NVML library (a test target) is needed"
  echo "meter_bench: building flopsmeter, flopsmeter_c, fake_nvml in $BUILD" >&2
  cmake --build "$BUILD" -j2 --target flopsmeter flopsmeter_c fake_nvml >&2
fi
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt")
[[ $BUILD_TYPE == Release ]] ||
  echo "meter_bench: warning: $BUILD is a '${BUILD_TYPE:-no type}' build; the figures are for Release" >&2

CXX=${CXX:-g++}
BIN="$BUILD/bench/meter_bench"
if [[ ! -x $BIN || $BIN -ot "$HERE/meter_bench.cc" || $BIN -ot $LIB_A ]]; then
  echo "meter_bench: compiling bench/meter_bench.cc" >&2
  mkdir -p "$BUILD/bench"
  "$CXX" -std=gnu++20 -O2 -DNDEBUG -I"$ROOT/include" -I"$ROOT/src" "$HERE/meter_bench.cc" "$LIB_A" \
    -lonig -licuuc -lz -lzstd -lcrypto -ldl -pthread -o "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
fi

PY=${PYTHON:-}
if [[ -z $PY ]]; then
  for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch' >/dev/null 2>&1; then
      PY=$candidate
      break
    fi
  done
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/meter_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROWS="$WORK/rows.tsv"
: >"$ROWS"

# ------------------------------------------------------------------ run
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$SECONDS
"$BIN" hot --reps "$REPS" --tmp "$WORK" | grep '^ROW' >>"$ROWS"
"$BIN" loop --reps "$REPS" --steps "$STEPS" --step-ms 10 --tmp "$WORK" | grep '^ROW' >>"$ROWS"
if [[ -n $PY ]]; then
  echo "meter_bench: torch loop ($PY)" >&2
  FLOPSMETER_LIBRARY="$LIB_SO" PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" \
    "$PY" "$HERE/meter_bench.py" --reps "$REPS" --steps "$PY_STEPS" --tmp "$WORK" | grep '^ROW' >>"$ROWS" ||
    echo "meter_bench: the torch loop failed (see above); its rows are missing" >&2
else
  printf 'ROW\t3 torch loop (Python)\tskipped: no python3 with torch (apt install python3-torch, or PYTHON=...)\t\t\t\t\t\n' >>"$ROWS"
fi
"$BIN" sampler --library "$FAKE_NVML" --gpus 8 --seconds "$SAMPLER_SECONDS" --tmp "$WORK" | grep '^ROW' >>"$ROWS"
"$BIN" step --seconds "$STEP_SECONDS" --tmp "$WORK" | grep '^ROW' >>"$ROWS"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ table
echo
echo "meter_bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1))"
echo "  load average (1/5/15 min): $LOAD_BEFORE before, $LOAD_AFTER after; ${BUILD_TYPE:-?} build, $("$CXX" --version | head -1)"
echo "  run directories on $(df -T "$WORK" | awk 'NR == 2 {print $2 " (" $1 ")"}') in $WORK; $REPS runs per figure; $((SECONDS - T0)) s"
echo
awk -F'\t' '
  BEGIN { printf "%-58s %14s %9s %11s %20s\n", "measure", "ours (meter)", "minimal", "no meter", "ours - no meter" }
  $1 == "ROW" {
    if ($2 != section) { section = $2; printf "\n%s\n", section }
    printf "  %-56s %14s %9s %11s %20s\n", $3, $4, $5, $6, $7
    if ($8 != "") printf "      %s\n", $8
  }' "$ROWS"
echo
cat <<'EOF'
ours: flopsmeter's Meter (C++ or Python package) and GpuSampler. no meter: the same work without it, from
the same run (sections 1-3), or an idle thread waking at the same rate (section 4). minimal: a minimal
lock-free counter (the same atomic adds, compact table, in the caller's binary): the floor for any
thread-safe meter. Overhead %: of the no-meter step time. On a shared machine the end-to-end rows are
noise-dominated (see their spreads); the "inside meter calls" rows measure the meter itself. The fake
NVML answers from memory: a real driver's queries cost more per sample (run tests/fake_nvml's
gpu_sampler_probe on a GPU machine for that figure).
EOF
