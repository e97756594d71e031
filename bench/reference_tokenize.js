#!/usr/bin/env node
// Times Hugging Face's Rust tokenizers (npm `tokenizers`, from
// tests/reference/node_modules) on whole files, one sample per file, for
// bench/tokens_bench.sh.
//
//   node bench/reference_tokenize.js [--special yes|no] [--reps N] TOKENIZER_JSON FILE...
//
// Each FILE is one sample: its whole content, decoded as UTF-8, with "\r\n"
// and "\r" turned into "\n" (what HF datasets' text loader does with
// sample_by="document", and what `flopsmeter tokens --text-unit document`
// follows). All samples go to one encodeBatch call; the call is repeated
// --reps times (default 3) and the fastest is reported. Timing covers
// encodeBatch only: not loading the tokenizer, not reading the files.
// Threads: RAYON_NUM_THREADS (unset: all cores).
//
// Prints one JSON object: tokens, samples, bytes (UTF-8 bytes of the
// samples), load_seconds, count_seconds (fastest repetition), runs (all).
'use strict';

const fs = require('fs');
const path = require('path');

function usage() {
  process.stderr.write('usage: node reference_tokenize.js [--special yes|no] [--reps N] TOKENIZER_JSON FILE...\n');
  process.exit(2);
}

async function main() {
  const args = process.argv.slice(2);
  let special = true;
  let reps = 3;
  while (args.length && args[0].startsWith('--')) {
    const opt = args.shift();
    const val = args.shift();
    if (opt === '--special' && (val === 'yes' || val === 'no')) special = val === 'yes';
    else if (opt === '--reps' && /^[1-9][0-9]*$/.test(val || '')) reps = +val;
    else usage();
  }
  if (args.length < 2) usage();
  let tokPath = args.shift();
  if (fs.statSync(tokPath).isDirectory()) tokPath = path.join(tokPath, 'tokenizer.json');

  let Tokenizer;
  try {
    ({ Tokenizer } = require(path.join(__dirname, '..', 'tests', 'reference', 'node_modules', 'tokenizers')));
  } catch (e) {
    process.stderr.write(`reference_tokenize: ${e.message}; run \`bash scripts/install_references.sh\`\n`);
    process.exit(3);
  }

  const texts = args.map((f) => fs.readFileSync(f, 'utf8').replace(/\r\n?/g, '\n'));
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);

  const t0 = process.hrtime.bigint();
  const tokenizer = await Tokenizer.fromFile(tokPath);
  const loadSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

  const runs = [];
  let tokens = -1;
  for (let r = 0; r < reps; r++) {
    const start = process.hrtime.bigint();
    const encs = await tokenizer.encodeBatch(texts, { addSpecialTokens: special });
    runs.push(Number(process.hrtime.bigint() - start) / 1e9);
    let n = 0;
    for (const e of encs) n += e.getLength();
    if (tokens >= 0 && n !== tokens) throw new Error(`token count changed between repetitions: ${tokens} then ${n}`);
    tokens = n;
  }
  const out = {
    tokens,
    samples: texts.length,
    bytes,
    load_seconds: +loadSeconds.toFixed(4),
    count_seconds: +Math.min(...runs).toFixed(4),
    runs: runs.map((s) => +s.toFixed(4)),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`reference_tokenize: ${e.stack || e}\n`);
  process.exit(1);
});
