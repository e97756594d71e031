#!/usr/bin/env node
// Reference token ids from Hugging Face's Rust tokenizers (npm `tokenizers`,
// pinned in tests/reference/package.json), in the same format as
// `flopsmeter tokens --ids`: one line per sample, ids separated by single
// spaces, an empty line for a sample with no tokens.
//
//   node encode_reference.js TOKENIZER_JSON INPUT... MODE
//       prints the ids for MODE to stdout
//   node encode_reference.js TOKENIZER_JSON INPUT... MODE=OUT [MODE=OUT...] [texts=OUT]
//       one process, several outputs: each MODE's ids to its file; texts=OUT
//       writes every sample's text as a JSON string, one per line (for
//       readable mismatch reports)
//
// MODE is `special` (encode(text, null, {addSpecialTokens: true}): the
// tokenizer's post-processor adds BOS etc.) or `plain` (addSpecialTokens:
// false). Added tokens spelled out in the text (e.g. "<|im_start|>") are
// matched in both modes, as HF does.
//
// Samples, in the order of the INPUT files:
//   *.jsonl  one sample per non-blank line: the record's "text" field
//   *.txt    one sample per line, the way HF `datasets` reads plain text
//            (load_dataset("text"), sample_by="line"): the file is opened in
//            text mode with universal newlines, so "\n", "\r\n" and a lone
//            "\r" each end a line and never reach the text; lines are then
//            split on "\n" only, so U+2028, U+0085, \v, \f stay inside a line;
//            an empty line is an empty sample; a final line terminator does
//            not start another (empty) sample; an empty file has no samples.
//            Bytes that are not UTF-8 become U+FFFD as Node's
//            readFileSync(f, 'utf8') does (datasets itself would raise on
//            them: its default encoding_errors is strict). A leading BOM is
//            kept (Python's "utf-8", not "utf-8-sig").
//   *.inp    llama.cpp tokenizer test vectors: texts separated by (and
//            usually each followed by) "\n__ggml_vocab_test__\n"
'use strict';

const fs = require('fs');
const path = require('path');

function usage(msg) {
  if (msg) process.stderr.write(`encode_reference: ${msg}\n`);
  process.stderr.write('usage: node encode_reference.js TOKENIZER_JSON INPUT... (special|plain)\n' +
                       '       node encode_reference.js TOKENIZER_JSON INPUT... MODE=OUT [MODE=OUT...] [texts=OUT]\n');
  process.exit(2);
}

function loadTokenizers() {
  try {
    return require(path.join(__dirname, 'node_modules', 'tokenizers'));
  } catch (e) {
    process.stderr.write(`encode_reference: cannot load tests/reference/node_modules/tokenizers (${e.message}); ` +
                         'run `bash scripts/install_references.sh`\n');
    process.exit(3);
  }
}

// Lines of a plain-text file as HF datasets' text loader yields them.
function textFileSamples(file) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();  // final terminator, or empty file
  return lines;
}

function jsonlSamples(file) {
  const out = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let rec;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: ${e.message}`);
    }
    if (typeof rec.text !== 'string') throw new Error(`${file}:${i + 1}: no string "text" field`);
    out.push(rec.text);
  });
  return out;
}

function llamaCppSamples(file) {
  const sep = '\n__ggml_vocab_test__\n';
  const parts = fs.readFileSync(file, 'utf8').split(sep);
  // Most files end with the separator; some (gemma-4) omit the last one.
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

function samplesOf(file) {
  if (file.endsWith('.jsonl')) return jsonlSamples(file);
  if (file.endsWith('.txt')) return textFileSamples(file);
  if (file.endsWith('.inp')) return llamaCppSamples(file);
  throw new Error(`${file}: unknown input type (expected .jsonl, .txt or .inp)`);
}

async function encodeAll(tokenizer, texts, addSpecialTokens) {
  const lines = new Array(texts.length);
  const chunk = 256;
  for (let i = 0; i < texts.length; i += chunk) {
    const encs = await tokenizer.encodeBatch(texts.slice(i, i + chunk), { addSpecialTokens });
    for (let j = 0; j < encs.length; j++) lines[i + j] = encs[j].getIds().join(' ');
  }
  return lines;
}

async function main() {
  process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  const args = process.argv.slice(2);
  if (args.length < 3) usage();
  let tokenizerPath = args[0];
  if (fs.existsSync(tokenizerPath) && fs.statSync(tokenizerPath).isDirectory()) {
    tokenizerPath = path.join(tokenizerPath, 'tokenizer.json');
  }
  let k = args.length;
  while (k > 1 && /^(special|plain|texts)(=.+)?$/.test(args[k - 1])) k--;
  const inputs = args.slice(1, k);
  const outs = args.slice(k);
  if (inputs.length === 0 || outs.length === 0) usage();
  const toStdout = outs.length === 1 && !outs[0].includes('=');
  if (!toStdout && outs.some((o) => !o.includes('='))) usage('give either one MODE, or MODE=OUT arguments');
  if (toStdout && outs[0] === 'texts') usage('texts needs =OUT');

  const { Tokenizer } = loadTokenizers();
  const tokenizer = await Tokenizer.fromFile(tokenizerPath);
  const texts = [];
  for (const f of inputs) for (const t of samplesOf(f)) texts.push(t);

  for (const o of outs) {
    const eq = o.indexOf('=');
    const mode = eq < 0 ? o : o.slice(0, eq);
    let body;
    if (mode === 'texts') {
      body = texts.map((t) => JSON.stringify(t));
    } else {
      body = await encodeAll(tokenizer, texts, mode === 'special');
    }
    const data = body.length ? body.join('\n') + '\n' : '';
    if (toStdout) process.stdout.write(data);
    else fs.writeFileSync(o.slice(eq + 1), data);
  }
}

main().catch((e) => {
  process.stderr.write(`encode_reference: ${e.stack || e}\n`);
  process.exit(1);
});
