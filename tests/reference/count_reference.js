#!/usr/bin/env node
// Reference token counts for SFT datasets: an independent implementation, in
// Node, of how Hugging Face TRL's SFTTrainer turns a record into token ids,
// using Hugging Face's Rust tokenizers (npm `tokenizers`) and
// @huggingface/jinja (both pinned in tests/reference/package.json).
//
//   node count_reference.js --tokenizer DIR [options] FILE...
//
// DIR holds tokenizer.json and tokenizer_config.json. FILE is JSON lines
// (optionally .gz); every line that is not blank (only whitespace) is a
// record. Prints one line per record, in input order:
//   (default)  the record's token count, or `skipped`
//   --ids      the record's ids separated by single spaces, or `skipped`
//   --render   the exact string handed to the tokenizer as a JSON string,
//              then a tab and `special` or `plain` (add_special_tokens), or
//              `skipped<TAB>reason`
// --out PREFIX writes all three to PREFIX.counts, PREFIX.ids and
// PREFIX.render instead (one pass), printing nothing.
//
// Options:
//   --chat-template FILE     use this Jinja template instead of the config's
//   --special-tokens yes|no  add_special_tokens for text-like records (yes)
//   --append-eos yes|no      append eos_token to text/completions (yes)
//
// The rules (TRL's SFTTrainer; ShareGPT and Alpaca as the usual converters):
//   schema, detected per record in this order:
//     messages                    -> chat
//     conversations (ShareGPT)    -> chat, from human/user -> user,
//                                    gpt/assistant/model -> assistant,
//                                    system -> system; any other speaker is
//                                    kept as the role (TRL's
//                                    maybe_convert_to_chatml renames from ->
//                                    role and keeps every value)
//     prompt + completion         -> text prompt + completion
//     instruction + output        -> Alpaca: chat [user: instruction
//                                    (+ "\n\n" + input when input is not
//                                    empty), assistant: output] when there is
//                                    a chat template, else the Stanford Alpaca
//                                    prompt + output as text
//     text                        -> text
//   text: encode(s + eos_token unless s already ends with it,
//         add_special_tokens) ; for prompt + completion the EOS goes after the
//         completion unless the completion already ends with it (TRL's rule)
//   chat: render the template with {messages, add_generation_prompt: false,
//         bos_token, eos_token, pad_token (those the config has, as strings)}
//         then encode(rendered, add_special_tokens=False)
//   skipped: a line that is not JSON, not an object, no known schema, a field
//         of the wrong type (a message needs a string role; its content may
//         be a string, a list of parts, null or absent: the template sees the
//         message as given), or a template that raises
//
// Limits of @huggingface/jinja 0.5.11 as a stand-in for Python's jinja2
// (which transformers renders with), found on llama.cpp's template
// collection: str.strip/lstrip/rstrip ignore their chars argument (Qwen3's
// and SmolLM3's `content.lstrip('\n')` strips spaces too); `for x in
// undefined` and `undefined | trim` raise instead of giving nothing (Hermes 3
// tool_use's `for tool in tools`). Templates that rely on those are no test
// of flopsmeter here.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const NAME = 'count_reference';
const INSTALL = 'run `bash scripts/install_references.sh`';

function usage(msg) {
  if (msg) process.stderr.write(`${NAME}: ${msg}\n`);
  process.stderr.write('usage: node count_reference.js --tokenizer DIR [--chat-template FILE] ' +
                       '[--special-tokens yes|no] [--append-eos yes|no] [--ids|--render|--out PREFIX] FILE...\n');
  process.exit(2);
}

function load(name) {
  try {
    return require(path.join(__dirname, 'node_modules', name));
  } catch (e) {
    process.stderr.write(`${NAME}: cannot load tests/reference/node_modules/${name} (${e.message}); ${INSTALL}\n`);
    process.exit(3);
  }
}

// Stanford Alpaca's prompts (github.com/tatsu-lab/stanford_alpaca, train.py).
const ALPACA_WITH_INPUT =
  'Below is an instruction that describes a task, paired with an input that provides further context. ' +
  'Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n';
const ALPACA_NO_INPUT =
  'Below is an instruction that describes a task. ' +
  'Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Response:\n';

const SHAREGPT_ROLES = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', model: 'assistant', system: 'system' };

class Skip extends Error {}
const skip = (why) => { throw new Skip(why); };
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

function tokenString(v) {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

class Rules {
  constructor(config, template, opts) {
    this.template = template;  // a @huggingface/jinja Template, or null
    this.special = opts.special;
    this.appendEos = opts.appendEos;
    this.tokens = {};
    for (const k of ['bos_token', 'eos_token', 'pad_token']) {
      const s = tokenString(config[k]);
      if (s !== undefined) this.tokens[k] = s;
    }
    this.eos = this.tokens.eos_token;
  }

  withEos(s) {
    if (!this.appendEos || this.eos === undefined || this.eos === '' || s.endsWith(this.eos)) return s;
    return s + this.eos;
  }

  chat(messages) {
    if (this.template === null) skip('chat record but no chat template');
    let rendered;
    try {
      rendered = this.template.render({ messages, add_generation_prompt: false, ...this.tokens });
    } catch (e) {
      skip(`template raised: ${e.message ?? e}`);
    }
    if (typeof rendered !== 'string') skip('template did not render a string');
    return { text: rendered, special: false };
  }

  // -> {text, special}; throws Skip
  prepare(rec) {
    if (!isObject(rec)) skip('not a JSON object');
    if (has(rec, 'messages')) {
      const m = rec.messages;
      if (!Array.isArray(m)) skip('messages is not an array');
      for (const x of m) {
        if (!isObject(x) || typeof x.role !== 'string') skip('a message without a string role');
        // as given to the template: a string, a list of parts, null or absent
        const c = x.content;
        if (!(c === undefined || c === null || typeof c === 'string' || Array.isArray(c))) {
          skip('a message content that is not a string, list or null');
        }
      }
      return this.chat(m);
    }
    if (has(rec, 'conversations')) {
      const c = rec.conversations;
      if (!Array.isArray(c)) skip('conversations is not an array');
      const messages = c.map((x) => {
        if (!isObject(x) || typeof x.from !== 'string' || typeof x.value !== 'string') {
          skip('a turn without string from and value');
        }
        return { role: has(SHAREGPT_ROLES, x.from) ? SHAREGPT_ROLES[x.from] : x.from, content: x.value };
      });
      return this.chat(messages);
    }
    if (has(rec, 'prompt') && has(rec, 'completion')) {
      if (typeof rec.prompt !== 'string' || typeof rec.completion !== 'string') skip('prompt/completion not strings');
      return { text: rec.prompt + this.withEos(rec.completion), special: this.special };
    }
    if (has(rec, 'instruction') && has(rec, 'output')) {
      const { instruction, output } = rec;
      const input = rec.input ?? '';
      if (typeof instruction !== 'string' || typeof output !== 'string' || typeof input !== 'string') {
        skip('instruction/input/output not strings');
      }
      if (this.template !== null) {
        const user = input === '' ? instruction : `${instruction}\n\n${input}`;
        return this.chat([{ role: 'user', content: user }, { role: 'assistant', content: output }]);
      }
      const prompt = (input === '' ? ALPACA_NO_INPUT : ALPACA_WITH_INPUT)
        .replace('{instruction}', () => instruction).replace('{input}', () => input);
      return { text: this.withEos(prompt + output), special: this.special };
    }
    if (has(rec, 'text')) {
      if (typeof rec.text !== 'string') skip('text is not a string');
      return { text: this.withEos(rec.text), special: this.special };
    }
    skip('no known schema');
  }
}

function readLines(file) {
  let buf = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  const lines = buf.toString('utf8').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

async function main() {
  process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  const args = process.argv.slice(2);
  let dir = null, templateFile = null, mode = 'counts', out = null;
  const opts = { special: true, appendEos: true };
  const files = [];
  const yesNo = (flag, v) => {
    if (v !== 'yes' && v !== 'no') usage(`${flag} takes yes or no`);
    return v === 'yes';
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => { if (i + 1 >= args.length) usage(`${a} needs a value`); return args[++i]; };
    if (a === '--tokenizer') dir = val();
    else if (a === '--chat-template') templateFile = val();
    else if (a === '--special-tokens') opts.special = yesNo(a, val());
    else if (a === '--append-eos') opts.appendEos = yesNo(a, val());
    else if (a === '--ids') mode = 'ids';
    else if (a === '--render') mode = 'render';
    else if (a === '--out') out = val();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else files.push(a);
  }
  if (dir === null || files.length === 0) usage();
  if (fs.existsSync(dir) && fs.statSync(dir).isFile()) dir = path.dirname(dir);

  const { Tokenizer } = load('tokenizers');
  const { Template } = load('@huggingface/jinja');
  const configPath = path.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, 'utf8')) : {};
  let source = templateFile !== null ? fs.readFileSync(templateFile, 'utf8') : config.chat_template;
  if (Array.isArray(source)) {  // [{name, template}]: the default one
    source = (source.find((t) => t && t.name === 'default') || {}).template;
  }
  const template = typeof source === 'string' ? new Template(source) : null;
  const rules = new Rules(config, template, opts);
  const tokenizer = await Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));

  // prepare every record
  const recs = [];  // {text, special} or {skip: reason}
  for (const f of files) {
    for (const line of readLines(f)) {
      if (line.trim() === '') continue;
      let rec;
      try {
        rec = JSON.parse(line);
      } catch (e) {
        recs.push({ skip: `not JSON: ${e.message}` });
        continue;
      }
      try {
        recs.push(rules.prepare(rec));
      } catch (e) {
        if (!(e instanceof Skip)) throw e;
        recs.push({ skip: e.message });
      }
    }
  }

  // encode, in batches of the same add_special_tokens
  const ids = new Array(recs.length);
  for (const special of [true, false]) {
    const idx = [];
    recs.forEach((r, i) => { if (r.skip === undefined && r.special === special) idx.push(i); });
    const chunk = 256;
    for (let k = 0; k < idx.length; k += chunk) {
      const part = idx.slice(k, k + chunk);
      const encs = await tokenizer.encodeBatch(part.map((i) => recs[i].text), { addSpecialTokens: special });
      encs.forEach((e, j) => { ids[part[j]] = e.getIds(); });
    }
  }

  const render = {
    counts: () => recs.map((r, i) => (r.skip !== undefined ? 'skipped' : String(ids[i].length))),
    ids: () => recs.map((r, i) => (r.skip !== undefined ? 'skipped' : ids[i].join(' '))),
    render: () => recs.map((r) => (r.skip !== undefined ? `skipped\t${r.skip.replace(/\s+/g, ' ')}`
      : `${JSON.stringify(r.text)}\t${r.special ? 'special' : 'plain'}`)),
  };
  const text = (lines) => (lines.length ? lines.join('\n') + '\n' : '');
  if (out !== null) {
    for (const m of Object.keys(render)) fs.writeFileSync(`${out}.${m}`, text(render[m]()));
  } else {
    process.stdout.write(text(render[mode]()));
  }
}

main().catch((e) => {
  process.stderr.write(`${NAME}: ${e.stack || e}\n`);
  process.exit(1);
});
