#!/usr/bin/env bash
# Cross-checks the detailed FLOP count against the matmuls PyTorch executes
# (tests/python/matmul_crosscheck.py). Usage:
#   bash tests/cli/torch_crosscheck.sh PATH_TO_FLOPSMETER SOURCE_DIR
# Needs /usr/bin/python3 with torch (Debian python3-torch, installed by the
# project's setup script); a missing torch is a setup error, not a skip.
set -u
if [ "$#" -ne 2 ]; then
  echo "usage: $0 PATH_TO_FLOPSMETER SOURCE_DIR" >&2
  exit 2
fi
bin=$1
src=$2
py=/usr/bin/python3
if [ ! -x "$py" ]; then
  echo "torch_crosscheck: $py not found; the setup script installs python3 and python3-torch" >&2
  exit 1
fi
if ! "$py" -c 'import torch' >/dev/null 2>&1; then
  echo "torch_crosscheck: '$py -c \"import torch\"' failed; install python3-torch (the project's setup script does)" >&2
  "$py" -c 'import torch' 2>&1 | tail -n 3 >&2
  exit 1
fi
# One thread: the models are tiny and ctest may run tests in parallel.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec "$py" "$src/tests/python/matmul_crosscheck.py" "$bin"
