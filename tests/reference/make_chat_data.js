#!/usr/bin/env node
// Deterministic generator of mixed-schema JSON lines datasets for the
// dataset cross-check (tests/cli/dataset_crosscheck.sh).
//
//   node tests/reference/make_chat_data.js OUT.jsonl [--records N] [--seed S]
//
// Writes N records (default 3000), one per line, drawn from a seeded PRNG so
// the same arguments always give the same bytes:
//   messages          multi-turn chats, some with a system prompt, some ending
//                     on a user turn, a few with roles out of order (templates
//                     that insist on alternation raise on those)
//   conversations     ShareGPT (from: human/gpt/system, user/assistant/model)
//   prompt/completion plain strings
//   instruction/input/output  Alpaca, with and without input
//   text              plain text samples
// Content mixes English, other scripts, emoji (ZWJ sequences, flags,
// combining marks), code with tabs and braces, Jinja-looking text, strings
// that spell special tokens (<|im_end|>, </s>, <eos>, [INST], ...), empty
// strings, whitespace runs, \r\n, and texts that already end with an EOS
// token. About 4% of the lines are malformed or odd: not JSON, wrong types,
// unknown schema, a JSON value that is not an object, or ShareGPT turns with
// an unknown speaker. Some records carry extra metadata fields. About 5% of
// the lines end in \r\n, and about 1% of the records are followed by a blank
// (or whitespace-only) line, which is no record.
//
// Messages without content, or with null content, are left out on purpose:
// templates then see an undefined or none value, and Python's jinja2 (what
// transformers renders with) and @huggingface/jinja treat those differently
// (e.g. `undefined | trim` is "" in jinja2 but an error in
// @huggingface/jinja), so the Node reference is no judge of them.
//
// Also prints a one-line summary (record counts per kind) to stderr.
'use strict';

const fs = require('fs');

function usage(msg) {
  if (msg) process.stderr.write(`make_chat_data: ${msg}\n`);
  process.stderr.write('usage: node make_chat_data.js OUT.jsonl [--records N] [--seed S]\n');
  process.exit(2);
}

// mulberry32: small, fast, deterministic.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let R = rng(1);
const chance = (p) => R() < p;
const int = (lo, hi) => lo + Math.floor(R() * (hi - lo + 1));  // inclusive
const pick = (a) => a[Math.floor(R() * a.length)];

const WORDS = ('the quick brown fox jumps over lazy dog model token training data compute budget ' +
  'gradient batch layer attention weight learning rate epoch loss step sample sequence length ' +
  'please explain why how what when where which could would should answer question example ' +
  'simple function value number list string python rust memory cache server request').split(' ');

const SENTENCES = [
  'What is the capital of France?',
  'The capital of France is Paris.',
  'Explain gradient descent in two sentences.',
  'Write a haiku about autumn leaves.',
  "I'm not sure, but I think it's about 42.",
  'Can you summarise the following paragraph?',
  'Sure! Here is a short summary.',
  'Translate "good morning" into Japanese.',
  'List three prime numbers greater than 100.',
  '101, 103 and 107.',
];

const UNICODE = [
  'Réponds en français, s\'il te plaît : « déjà vu » — ça va ?',
  '日本語のテキストです。東京は日本の首都です。',
  '中文测试：你好，世界！今天天气很好。',
  '한국어 문장입니다. 안녕하세요!',
  'Ελληνικά: Καλημέρα κόσμε.',
  'עברית: שלום עולם',
  'العربية: مرحبا بالعالم',
  'हिन्दी: नमस्ते दुनिया',
  'Emoji: 😀 🎉 👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 👍🏽 ❤️',
  'Combining: e\u0301 a\u0308 n\u0303 — precomposed: é ä ñ',
  'Math: ∀x∈ℝ, x² ≥ 0; ∑ᵢ aᵢ = ∫ f(t) dt ≈ π',
  'Zero width: a\u200bb\u200cc\u200dd \ufeffBOM inside',
  'Fullwidth ＡＢＣ１２３ and halfwidth ｶﾀｶﾅ',
  'Old Italic 𐌀𐌁𐌂 and musical 𝄞 outside the BMP',
];

const CODE = [
  'def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n',
  'for (int i = 0; i < n; ++i) {\n\tsum += v[i];\n}\n',
  '```python\nimport json\nwith open("x.json") as f:\n    data = json.load(f)\n```',
  'fn main() {\n    let v: Vec<u32> = (0..10).collect();\n    println!("{:?}", v);\n}',
  'SELECT name, COUNT(*) FROM users WHERE age > 30 GROUP BY name;',
  '{{ user.name }} {% if x %}yes{% endif %} {# comment #} {%- raw -%}',
  '<div class="a">&amp; &lt;tag&gt;</div>\n<script>alert("x")</script>',
  '$ ls -la | grep "\\.jsonl$" && echo \'done\'\r\n',
  '{"nested": {"json": [1, 2, 3], "s": "quote \\" inside"}}',
  '    leading spaces\n\n\n\ntrailing spaces    \t\t',
];

const SPECIALS = [
  '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|begin_of_text|>', '<|end_of_text|>',
  '<|eot_id|>', '<|start_header_id|>user<|end_header_id|>', '<s>', '</s>', '<unk>', '<pad>',
  '<bos>', '<eos>', '<start_of_turn>', '<end_of_turn>', '[INST]', '[/INST]', '<<SYS>>',
];

// EOS tokens of the tokenizers the cross-check uses (gpt2's too).
const EOS = ['<|im_end|>', '<|end_of_text|>', '<eos>', '</s>', '<|endoftext|>'];

function words(n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(pick(WORDS));
  return out.join(' ');
}

function content() {
  const r = R();
  if (r < 0.04) return '';
  if (r < 0.06) return pick([' ', '\n', '  \n\t ', '\r\n']);
  if (r < 0.30) return pick(SENTENCES);
  if (r < 0.45) return pick(UNICODE);
  if (r < 0.58) return pick(CODE);
  if (r < 0.68) return `${words(int(1, 6))} ${pick(SPECIALS)} ${words(int(0, 6))}`.trim();
  if (r < 0.71) return pick(SPECIALS);
  if (r < 0.73) {  // long
    const parts = [];
    const n = int(20, 120);
    for (let i = 0; i < n; i++) parts.push(chance(0.2) ? pick(UNICODE) : chance(0.2) ? pick(CODE) : words(int(3, 20)));
    return parts.join(chance(0.5) ? '\n' : ' ');
  }
  if (r < 0.76) return ` ${words(int(1, 8))}  \n`;  // surrounding whitespace
  // a few sentences, sometimes mixed
  const parts = [];
  const n = int(1, 4);
  for (let i = 0; i < n; i++) {
    const s = R();
    parts.push(s < 0.5 ? pick(SENTENCES) : s < 0.7 ? words(int(2, 15)) : s < 0.85 ? pick(UNICODE) : pick(CODE));
  }
  return parts.join(pick([' ', '\n', '\n\n']));
}

function maybeEos(s) {
  return chance(0.05) ? s + pick(EOS) : s;
}

function chatTurns() {
  const msgs = [];
  if (chance(0.3)) msgs.push({ role: 'system', content: chance(0.5) ? 'You are a helpful assistant.' : content() });
  const pairs = int(1, 4);
  for (let i = 0; i < pairs; i++) {
    msgs.push({ role: 'user', content: content() });
    if (i < pairs - 1 || !chance(0.1)) msgs.push({ role: 'assistant', content: maybeEos(content()) });
  }
  if (chance(0.04)) {  // out of order: two user turns, or an assistant first
    if (chance(0.5)) msgs.splice(msgs.length, 0, { role: 'user', content: content() }, { role: 'user', content: 'again' });
    else msgs.unshift({ role: 'assistant', content: 'I speak first.' });
  }
  return msgs;
}

function extra(rec) {
  if (chance(0.1)) rec.id = int(0, 1e6);
  if (chance(0.05)) rec.source = pick(['web', 'synthetic', 'manual']);
  return rec;
}

function messagesRecord() {
  return extra({ messages: chatTurns() });
}

function sharegptRecord() {
  const names = chance(0.8) ? { user: 'human', assistant: 'gpt' } : { user: 'user', assistant: pick(['assistant', 'model']) };
  const conv = chatTurns().map((m) => ({
    from: m.role === 'system' ? 'system' : names[m.role],
    value: m.content,
  }));
  return extra({ conversations: conv });
}

function promptCompletionRecord() {
  const rec = { prompt: content(), completion: maybeEos(content()) };
  if (chance(0.03)) { rec.prompt = maybeEos(content()) + pick(EOS); rec.completion = ''; }
  return extra(rec);
}

function alpacaRecord() {
  const rec = { instruction: chance(0.7) ? pick(SENTENCES) : content() };
  const r = R();
  if (r < 0.45) rec.input = content();
  else if (r < 0.8) rec.input = '';
  // else: no input field
  rec.output = maybeEos(content());
  return extra(rec);
}

function textRecord() {
  return extra({ text: maybeEos(content()) });
}

const MALFORMED = [
  () => 'this line is not JSON',
  () => '{"text": "unterminated',
  () => '{"messages": [{"role": "user", "content": "hi"}',
  () => "{'text': 'single quotes'}",
  () => JSON.stringify({ text: 42 }),
  () => JSON.stringify({ text: null }),
  () => JSON.stringify({ text: ['a', 'b'] }),
  () => JSON.stringify({ messages: 'hello' }),
  () => JSON.stringify({ messages: [{ role: 'user', content: 7 }] }),
  () => JSON.stringify({ messages: ['just a string'] }),
  () => JSON.stringify({ conversations: { from: 'human', value: 'hi' } }),
  () => JSON.stringify({ conversations: [{ from: 'human', value: 3 }] }),
  // a speaker outside the ShareGPT names: kept as the role (TRL), which some
  // templates render and others raise on
  () => JSON.stringify({ conversations: [{ from: 'tool', value: 'result' }, { from: 'gpt', value: 'ok' }] }),
  () => JSON.stringify({ prompt: 1, completion: 'x' }),
  () => JSON.stringify({ prompt: 'x', completion: null }),
  () => JSON.stringify({ instruction: ['x'], output: 'y' }),
  () => JSON.stringify({ instruction: 'x', input: 5, output: 'y' }),
  () => JSON.stringify({ instruction: 'x', output: 5 }),
  () => JSON.stringify({ foo: 'bar' }),
  () => JSON.stringify({ prompt: 'only a prompt' }),
  () => JSON.stringify({ instruction: 'no output' }),
  () => '{}',
  () => '[]',
  () => '[{"text": "an array, not an object"}]',
  () => '"a bare string"',
  () => '42',
  () => 'null',
  () => 'true',
];

function main() {
  const args = process.argv.slice(2);
  let out = null;
  let n = 3000;
  let seed = 20251123;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--records') n = parseInt(args[++i], 10);
    else if (args[i] === '--seed') seed = parseInt(args[++i], 10);
    else if (args[i].startsWith('--')) usage(`unknown option ${args[i]}`);
    else if (out === null) out = args[i];
    else usage('one output file');
  }
  if (out === null || !(n >= 0)) usage();
  R = rng(seed);
  const kinds = [
    [0.38, 'messages', messagesRecord],
    [0.50, 'sharegpt', sharegptRecord],
    [0.63, 'prompt-completion', promptCompletionRecord],
    [0.78, 'alpaca', alpacaRecord],
    [0.96, 'text', textRecord],
    [1.00, 'malformed', null],
  ];
  const counts = {};
  let body = '';
  for (let i = 0; i < n; i++) {
    const r = R();
    const [, kind, make] = kinds.find(([p]) => r < p);
    counts[kind] = (counts[kind] || 0) + 1;
    const line = make ? JSON.stringify(make()) : pick(MALFORMED)();
    // a few CRLF line ends, and blank lines (not records) between records
    body += line + (chance(0.05) ? '\r\n' : '\n');
    if (chance(0.01)) body += pick(['', '   ', '\t', '\r']) + '\n';
  }
  fs.writeFileSync(out, body);
  process.stderr.write(`make_chat_data: ${n} records: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
}

main();
