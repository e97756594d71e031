#!/usr/bin/env node
// Writes a deterministic corpus of texts that are hard for tokenizers, for
// checking flopsmeter's tokenizer against HF tokenizers id for id.
//
//   node hard_texts.js OUTDIR
//
// Writes into OUTDIR:
//   inputs.list        the corpus files, one path a line, in the order both
//                      sides must read them (samples are numbered across them)
//   hard.jsonl         {"text": ...} records (most of the corpus)
//   hard.txt           raw bytes, one text per line: invalid UTF-8 (which JSON
//                      cannot carry), a leading BOM, \v \f U+0085 U+2028 NUL
//                      inside lines, empty lines, mixed \n / \r\n / \r endings
//   edge_*.txt/.jsonl  small files for line-splitting edge cases (no final
//                      newline, lone \r, an empty file, CRLF JSONL, JSON escapes)
//   labels.txt         one short label per sample, aligned with the samples
//                      of the files in inputs.list (for mismatch reports)
//
// Real prose comes from the llama.cpp checkout installed by
// scripts/install_references.sh (README.md, CONTRIBUTING.md, docs/build.md,
// read from its git objects at run time), and every text of llama.cpp's
// tokenizer test inputs (models/*.inp) is included too. Nothing random is
// unseeded: two runs write identical files.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const outDir = process.argv[2];
if (!outDir) {
  process.stderr.write('usage: node hard_texts.js OUTDIR\n');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
const LLAMA = path.join(__dirname, 'llama.cpp');

// ---------------------------------------------------------------- helpers
function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(0x5eed1234);
const randInt = (n) => Math.floor(rand() * n);
const pick = (arr) => arr[randInt(arr.length)];

const samples = [];  // [label, text] for hard.jsonl
function add(label, ...texts) {
  for (const t of texts) samples.push([label, t]);
}

function gitShow(rel) {
  try {
    return execFileSync('git', ['-C', LLAMA, 'show', `HEAD:${rel}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    process.stderr.write(`hard_texts: warning: cannot read ${rel} from ${LLAMA} (${e.message.split('\n')[0]}); ` +
                         'skipping it (run `bash scripts/install_references.sh`)\n');
    return null;
  }
}

// ---------------------------------------------------------------- basics
add('basic', '', ' ', '  ', '   ', 'a', 'A', '.', 'Hello world', ' Hello world', 'Hello World',
    ' Hello World', ' Hello World!', 'Hello, world!', ' this is 🦙.cpp', 'HELLO WORLD', 'hello   world',
    'The quick brown fox jumps over the lazy dog.', 'I saw a girl with a telescope.');

// ------------------------------------------------- Latin, NFC and NFD forms
const latin = ['café', 'naïve façade coöperate', 'Ångström', 'Tiếng Việt có dấu', 'Zażółć gęślą jaźń',
  'Straße ÄÖÜ äöü ß ẞ', 'İstanbul ıi Iı', 'Árvíztűrő tükörfúrógép', 'crème brûlée à la carte',
  'Dvořák Škoda Čeština', 'ñandú pingüino', 'Ærøskøbing Œuvre', 'résumé', 'ǅ ǈ ǋ ǲ'];
for (const t of latin) {
  add('latin-nfc', t.normalize('NFC'));
  add('latin-nfd', t.normalize('NFD'));
}
add('latin-nfd', 'e\u0301', 'E\u0301\u0301\u0301', 'a\u0323\u0302', 'a\u0302\u0323', 'o\u0308\u0304 u\u0308\u030c');

// ---------------------------------------------------------------- scripts
add('cyrillic', 'Привет, мир!', 'Съешь же ещё этих мягких французских булок, да выпей чаю.',
    'ПРИВЕТ МИР', 'Ёлка ёжик', 'Україна: ї, є, ґ', 'Беларусь: ў');
add('greek', 'Σίσυφος ΟΔΥΣΣΕΥΣ ὀδυσσεύς', 'λόγος σοφός ἄνθρωπος', 'ΣΊΣΥΦΟΣ σίσυφος Σ ς σ',
    'Γειά σου Κόσμε', 'ᾅ ᾯ ῼ');
add('arabic', 'مرحبا بالعالم', 'العَرَبِيَّة', 'السلام عليكم ورحمة الله', 'عدد ١٢٣٤٥٦٧٨٩٠',
    'فارسی: گچپژ ۱۲۳۴', 'mixed English وعربي text');
add('hebrew', 'שלום עולם', 'שָׁלוֹם עוֹלָם', 'עברית 123 English', 'ﬠﬡ');
add('indic', 'नमस्ते दुनिया', 'क्षत्रिय हिन्दी भाषा', 'संस्कृतम्', 'বাংলা ভাষা', 'தமிழ் மொழி',
    'ಕನ್ನಡ', 'ગુજરાતી', 'ਪੰਜਾਬੀ', 'മലയാളം', 'తెలుగు', '१२३४ ০১২৩');
add('thai', 'สวัสดีชาวโลก', 'ภาษาไทยเป็นภาษาที่ไม่มีช่องว่างระหว่างคำ', 'ລາວ', 'ខ្មែរ', 'မြန်မာ');
add('cjk', '你好，世界。', '我爱自然语言处理。', '漢字と仮名の混在した文章です。', '𠀀𠀁𪚥𰻞', '繁體中文測試',
    '中文English混合123', '「引用」『二重』【括弧】', '一二三四五六七八九十百千万亿');
add('japanese', 'こんにちは世界', 'カタカナ ｶﾀｶﾅ ｶﾞｷﾞｸﾞ', 'ひらがな・カタカナ・漢字', 'ヴァイオリン',
    'が'.normalize('NFD') + 'ぱ'.normalize('NFD'), 'ｱｲｳｴｵ', '〜ー～');
add('hangul', '안녕하세요 세계', '한국어 텍스트', '안녕하세요'.normalize('NFD'), '한'.normalize('NFD') + '글',
    'ㅎㅏㄴㄱㅡㄹ', '\u1112\u1161\u11ab', '\u1100\u1161', '가\u11a8');
add('mixed-script', 'Helloпривет你好こんにちは안녕مرحبا', 'ABCабвαβγ', 'wordслово', 'αβγ123абв',
    'x' + '\u0301' + 'я' + '\u0308');

// ---------------------------------------------------------------- emoji
add('emoji', '👍', '👍🏽', '👍🏿👍🏻', '👨\u200d👩\u200d👧\u200d👦', '🏳️\u200d🌈', '🇺🇸🇯🇵🇩🇪',
    '🇺', '❤️', '❤', '✌🏿', '🧑🏻\u200d💻', '1️⃣ #️⃣ *️⃣', 'emoji🙂in🙃words', '🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}',
    '😀😃😄😁😆😅😂🤣', ' 🦙', '🦙🦙🦙', 'I ❤️ NY', '👩\u200d❤️\u200d💋\u200d👨', '🫠🫥🫶', '\u200d', '\ufe0f');

// ---------------------------------------------------------------- combining marks
add('combining', '\u0301', ' \u0301', 'a\u20dd', 'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗͕̓', 'e\u0301\u0301\u0301\u0301\u0301',
    '\u0300\u0301\u0302\u0303\u0304', 'x\u0336y\u0336', 'ก\u0e49\u0e33', '1\u20e3', 'a\u034fb');

// ---------------------------------------------------------------- digits
const digits = '1234567890';
for (let n = 1; n <= 40; n++) add('digits', digits.repeat(4).slice(0, n));
for (let n = 1; n <= 12; n++) add('digits', ' ' + '9'.repeat(n), 'x' + '7'.repeat(n) + 'y');
add('digits-sep', '1,234,567', '1 234 567', '1.234.567,89', '3.14159265358979', '-42', '+1 (555) 123-4567',
    '1e10', '6.022e23', '0x1F', '0b1010', '12:30:45', '2024-01-02T03:04:05Z', '100%', '$1,000,000.00', '€5 £10 ¥100',
    '3 333 33 333', '33 333 3333 33333', '1_000_000', 'v1.2.3-rc.4', '192.168.0.1', 'IPv6 ::1 fe80::1%eth0');
add('digits-unicode', '٣٤٥', '१२३', '①②③', '½¾⅓', '１２３', 'Ⅻ ⅻ Ⅳ', 'x²³ H₂O', '𝟏𝟐𝟑', '߁߂', '〇〡〢');

// ---------------------------------------------------------------- whitespace
add('whitespace', '\t', '\t\t', '\n', '\n\n', '\n\n\n', '\t\n', '\r', '\r\n', '\r\r\n', ' \n', '\n ', '  \n  ',
    'a  b', 'a   b', 'a\tb', 'a\t\tb', 'a\r\nb', 'a\n\n\nb', 'a\u00a0b', 'a\u3000b', 'a\u2028b', 'a\u2029b',
    'trailing   ', '   leading', '   both   ', '\u000b\u000c', 'a\u200bb', 'a\u0085b', 'a\u1680b', 'a\u2000\u2001\u2002\u2003b',
    'a\u2009\u200ab', 'a\u202fb', 'a\u205fb', 'a\ufeffb', '\ufeff', ' \t \n \r\n \u00a0 \u3000 ',
    'line1\nline2\r\nline3\rline4', 'para one.\n\npara two.\n\n\npara three.\n', 'x\n \n y', '\n\n\n\n\n\nend');
for (let n = 1; n <= 20; n++) add('spaces', 'x' + ' '.repeat(n) + 'y');
for (let n = 1; n <= 10; n++) add('newlines', '\n'.repeat(n), 'a' + '\n'.repeat(n) + 'b', ' '.repeat(n) + '\n');
add('spaces', ' '.repeat(17), ' '.repeat(100), '\t'.repeat(9), 'x' + '\t '.repeat(8) + 'y', ' ' + '\u00a0'.repeat(5) + ' ');

// ---------------------------------------------------------------- contractions
add('contractions', "I'm", "I'M", "you'll", "YOU'LL", "You'Ll", "we're", "WE'RE", "We'Re", "He'S", "it's", "IT'S",
    "'s", "'S", "'ll", "'LL", "'Re", "'re", "'ve", "'VE", "'m", "'d", "'D", "'t", "'T", "don't", "DON'T", "Don'T",
    "she'd", "they've", "I've", "'tis", "rock 'n' roll", "O'Neil", "the dog's bone", "the dogs' bones",
    "it’s curly’s", "''''", "'", "' s", "'S'LL'RE", "x'sy", "'s's's", "l'homme d'affaires", "I'd've",
    " 's", "123's", "ÉCOLE'S", "naïve's", "🙂's", "\t'll");

// ---------------------------------------------------------------- punctuation
add('punctuation', '!!!', '?!?!', '...', '…', '—', '–', '--', '---', '=====', '***', '#####', '@@@', '$$$', '%%%',
    '^^^', '&&&', '||', '<<>>', '{{}}', '[[]]', '((()))', '~~~', '```', '"""', 'a!!b', 'hello!!!\n\n', ' ?!\r\n',
    '，。！？、；：', '«»‹›„“”‘’', '¿¡Hola!', '#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~', ' ...\n\n\n', '-->', '<!--',
    '.\n.\n.\n', ':-) ;-) :D', '¯\\_(ツ)_/¯', '→ ← ↑ ↓ ⇒ ∀ ∃ ∑ ∫ ≠ ≤ ≥ ∞', '©®™', '•·°§¶†‡');

// ---------------------------------------------------------------- code
add('code-python', 'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n',
    'class Foo:\n\tdef __init__(self):\n\t\tself.x = {"a": [1, 2, 3]}  # comment\n',
    'if __name__ == "__main__":\n    print(f"{x!r:>10}")\n', '    \n        pass\n', 'x=[i**2 for i in range(10)if i%2]');
add('code-cpp', '#include <iostream>\n\nint main(int argc, char** argv) {\n    std::cout << "Hello, world!" << std::endl;\n    return 0;\n}\n',
    'template <typename T>\nauto f(T&& t) -> decltype(auto) { return std::forward<T>(t); }',
    'for (size_t i = 0; i < n; ++i) {\n\tif (a[i] != b[i]) { ++diff; }\n}', 'x->y = *p++ & 0xFF; // bit twiddling\n',
    '/* block\n * comment\n */');
add('code-json', '{"name": "flopsmeter", "version": "1.0.0", "nested": {"a": [1, 2.5, null, true, false]}}',
    '{\n  "key": "value",\n  "arr": [\n    1,\n    2\n  ]\n}', '[{"a":1},{"b":"\\u00e9\\n"}]');
add('code-html', '<!DOCTYPE html>\n<html>\n  <head><title>Test &amp; more</title></head>\n  <body class="x">\n    <p>Hi&nbsp;there</p>\n  </body>\n</html>',
    '<div><span style="color:red">red</span></div>', '&lt;&gt;&quot;&#39;&#x1F600;');
add('code-shell', '#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n  wc -l "$f" | awk \'{print $1}\'\ndone\n',
    'cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build -j$(nproc)',
    'echo "${HOME:-/root}" 2>&1 >/dev/null | tee -a log.txt');
add('code-misc', 'SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;',
    'all: build\n\tgcc -O2 -o app main.c\n', '--- a/file.c\n+++ b/file.c\n@@ -1,3 +1,4 @@\n-old\n+new\n',
    '| col1 | col2 |\n|------|------|\n| a    | b    |', '\\begin{equation} E = mc^2 \\end{equation}',
    'fn main() { let v: Vec<u8> = vec![0; 16]; println!("{:?}", v); }', 'package main\n\nfunc main() {}\n');

// ---------------------------------------------------------------- URLs and paths
add('urls', 'https://www.example.com/path/to/page?query=1&b=two#frag', 'http://例子.测试/路径',
    'user.name+tag@example.co.uk', 'C:\\Windows\\System32\\drivers\\etc\\hosts', '/usr/local/bin/flopsmeter',
    'git@github.com:huggingface/tokenizers.git', 'www.llama.cpp.org', 'ftp://x:y@host:21/a%20b',
    'https://huggingface.co/meta-llama/Meta-Llama-3-8B/resolve/main/tokenizer.json', 'file:///tmp/a.txt');

// ---------------------------------------------------------------- special-token spellings
const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>',
  '<|reserved_special_token_0|>', '<|reserved_special_token_250|>', '<s>', '</s>', '<unk>', '<bos>', '<eos>',
  '<pad>', '<mask>', '<start_of_turn>', '<end_of_turn>', '<unused0>', '<unused98>', '[@BOS@]', '<2mass>',
  '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|endofprompt|>', '<|vision_pad|>', '<tool_call>',
  '</tool_call>', '<|fim_prefix|>', '<|file_sep|>'];
for (const s of specials) {
  add('special', s, `hello${s}world`, ` ${s} `, `${s}${s}`, `word ${s}\n`, `\n${s}`, `  ${s}x`);
}
add('special-partial', '<|im_sta', '<|im_start', '<|im_start|', 'im_start|>', '<|im_start |>', '<s', 's>', '</s',
    '<<s>>', '<s><s></s>', '<S>', '<|IM_START|>', '< s >', '<bo', '<bos', 'bos>', '<start_of_turn', '<|begin_of_text',
    '<|endoftext|', '|endoftext|>', '<|reserved_special_token_|>', '<|reserved_special_token_251|>', '<unused99>',
    '<|<|endoftext|>|>', '<<|im_start|>>', '<s>>', '<<bos>');
add('special-chat', '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>',
    '<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    '<bos><start_of_turn>user\nWrite a poem<end_of_turn>\n<start_of_turn>model\n', '<s>[INST] Hi [/INST] Hello</s>',
    'text<|endoftext|>more text<|endoftext|>', '<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>');

// ---------------------------------------------------------------- NFKC / NFC-relevant
add('compat', 'Ｈｅｌｌｏ　Ｗｏｒｌｄ！', 'ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ', 'ℌ ℍ ℕ ℝ ℤ', '① ⑩ ⑳', '㎏ ㎞ ㏄ ㍿', 'ｶﾞ ﾊﾟ', 'Ⅳ ⅳ', 'ſ ẛ',
    'µ μ', '™ ℠', '¼ ½', 'ｱｲｳ', '⁰¹²³⁴⁵', 'ᵃᵇᶜ', '𝐀𝐁𝐂 𝒜 𝔄 𝕬', '︷︸', '﹏﹐', '＂＃＄％＆');
add('nfc-singletons', '\u212b', '\u2126', '\u212a', '\uf900\uf901', '\u0387', '\u1fee', '\u0344', '\u0958',
    '\u1e9b\u0323', '\u0340\u0341', 'A\u030a', '\u2000', '\u037e', '\u1f71', '\u0f73', '\u2adc', '\ufb1d');

// ---------------------------------------------------------------- SentencePiece marker and oddities
add('sp-marker', '▁', '▁▁', '▁hello', 'hello▁world', ' ▁ ', '▁ ▁', '▁\n▁', '__init__', '_▁_');
add('controls', '\u0000', 'a\u0000b', '\u0001\u001f\u007f', '\u0080\u009f', '\ue000\uf8ff', '\u{f0000}', '\ufffd',
    '\ufffe', '\u{10ffff}', '\u{1d11e}', '\u{1f9ff}', '\u00ad', 'soft\u00adhyphen', '\u2060\u2061', '\u202e\u202d rtl');

// ---------------------------------------------------------------- long texts
const letters = 'abcdefghijklmnopqrstuvwxyz';
let randWord = '';
for (let i = 0; i < 5000; i++) randWord += letters[randInt(26)];
add('long-word', 'a'.repeat(5000), randWord, 'ab'.repeat(2500), 'Supercalifragilistic'.repeat(250),
    'я'.repeat(5000), '字'.repeat(5000), '1'.repeat(5000), ' '.repeat(5000), '\n'.repeat(2000), '!'.repeat(5000),
    '🦙'.repeat(1000), ('▁' + 'x').repeat(2000), 'é'.normalize('NFD').repeat(2000), ('ab' + ' '.repeat(7)).repeat(500));

// ---------------------------------------------------------------- real prose
const docs = ['README.md', 'CONTRIBUTING.md', 'docs/build.md'];
const prose = [];
for (const d of docs) {
  const t = gitShow(d);
  if (t === null) continue;
  add(`doc:${d}`, t);  // the whole document as one sample
  const lines = t.split('\n');
  lines.forEach((l) => add(`prose:${d}`, l));
  prose.push(lines.filter((l) => l.trim() !== '').join(' '));
}
if (prose.length) add('long-line', prose.join(' '));  // ~60 KB on one line

// ------------------------------------------------ llama.cpp tokenizer test inputs
const modelsDir = path.join(LLAMA, 'models');
const inpFiles = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).filter((f) => f.endsWith('.inp')).sort() : [];
const seen = new Set();
for (const f of inpFiles) {
  const parts = fs.readFileSync(path.join(modelsDir, f), 'utf8').split('\n__ggml_vocab_test__\n');
  if (parts[parts.length - 1] === '') parts.pop();
  for (const p of parts) {
    if (seen.has(p)) continue;
    seen.add(p);
    add(`llama.cpp:${f}`, p);
  }
}

// ---------------------------------------------------------------- seeded random strings
const atoms = [
  'a', 'b', 'Z', 'the', ' the', 'The', 'ing', 'tion', ' ', '  ', '   ', '\t', '\n', '\r\n', '\r', '\n\n', '\u00a0',
  '\u3000', '\u2028', '\u0085', '0', '7', '42', '123', '2024', '3.14', '1,000', "'", "'s", "'S", "'ll", "'re", "'ve",
  "'M", "'d", "'T", '!', '?', '.', ',', '...', '-', '_', '/', '\\', '"', '<', '>', '|', '{', '}', '[', ']', '(', ')',
  '#', '@', '$', '%', '^', '&', '*', '=', '+', '~', '`', ';', ':', 'é', 'e\u0301', '\u0301', '\u0308', 'ß', 'ñ', 'Å',
  '\u212b', 'ø', 'я', 'Ж', 'σ', 'ς', 'Σ', 'ά', 'ع', 'ש', 'क्ष', 'ि', 'ก', '่', '中', '文', '語', 'の', 'カ', 'ｶ', '한',
  '\u1112', '\u1161', '\u11ab', '👍', '🏽', '\u200d', '\ufe0f', '🇯', '🇵', '🦙', '😀', '▁', '＿', 'Ａ', '１', 'ﬁ',
  '①', '²', '½', '٣', '\u0000', '\u0001', '\u007f', '\ufeff', '\u200b', '\uffff', '\u{10000}', '\u{20000}', '\ue000',
  '<s>', '</s>', '<bos>', '<eos>', '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|begin_of_text|>', '<|eot_id|>',
  '<start_of_turn>', '<unused0>', '<mask>', '<|', '|>', '<|im_', 'endoftext', 'http://', '.com', 'def ', '    ',
  '\t\t', 'return', '();', '{\n', '}\n', '==', '!=', '->', '::', '&&', '||', '//', '/*', '*/', '<=>', '...\n'];
for (let i = 0; i < 400; i++) {
  const n = 1 + randInt(i < 300 ? 12 : 60);
  let s = '';
  for (let j = 0; j < n; j++) s += pick(atoms);
  add('random', s);
}

// ---------------------------------------------------------------- write hard.jsonl
// Every third record is written with all non-ASCII as \uXXXX escapes (JSON
// surrogate pairs for astral characters), the rest as raw UTF-8.
function jsonAsciiOnly(s) {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
const labels = [];
const jsonl = samples.map(([label, text], i) => {
  labels.push(label);
  return i % 3 === 2 ? `{"text": ${jsonAsciiOnly(text)}}` : JSON.stringify({ text });
});
fs.writeFileSync(path.join(outDir, 'hard.jsonl'), jsonl.join('\n') + '\n');

// ---------------------------------------------------------------- write hard.txt
// Lines are raw bytes; line terminators cycle through \n, \r\n, \r. The
// file starts with a UTF-8 BOM (kept as U+FEFF in the first sample).
const B = (...bytes) => Buffer.from(bytes);
const U = (s) => Buffer.from(s, 'utf8');
const txtLines = [
  [U('\ufeffBOM at the start of the file'), 'txt:bom'],
  [B(0xff), 'invalid:ff'],
  [Buffer.concat([U('abc'), B(0xfe), U('def')]), 'invalid:fe'],
  [B(0xc3), 'invalid:truncated-2'],
  [B(0xc3, 0x28), 'invalid:bad-continuation'],
  [Buffer.concat([U('x'), B(0xe2, 0x82), U(' y')]), 'invalid:truncated-3'],
  [B(0xe2, 0x28, 0xa1), 'invalid:e2-28-a1'],
  [Buffer.concat([U('emoji '), B(0xf0, 0x9f, 0x98), U(' cut')]), 'invalid:truncated-4'],
  [B(0xc0, 0xaf, 0x20, 0xc1, 0xbf), 'invalid:overlong-2'],
  [B(0xe0, 0x80, 0xaf), 'invalid:overlong-3'],
  [B(0xf0, 0x80, 0x80, 0xaf), 'invalid:overlong-4'],
  [B(0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf), 'invalid:surrogates'],
  [B(0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80), 'invalid:cesu8-pair'],
  [B(0xf4, 0x90, 0x80, 0x80), 'invalid:above-10ffff'],
  [B(0xf8, 0x88, 0x80, 0x80, 0x80), 'invalid:5-byte'],
  [B(0xfc, 0x84, 0x80, 0x80, 0x80, 0x80), 'invalid:6-byte'],
  [B(0x80, 0x80, 0x80, 0xbf), 'invalid:lone-continuations'],
  [Buffer.concat([U('caf'), B(0xe9), U(' na'), B(0xef), U('ve')]), 'invalid:latin1'],
  [Buffer.concat([B(0x93), U('quoted'), B(0x94), U(' it'), B(0x92), U('s')]), 'invalid:cp1252'],
  [Buffer.concat([U('ok '), B(0xe4, 0xbd), U('中'), B(0xa0)]), 'invalid:mixed-cjk'],
  [Buffer.concat([U(' '), B(0xff), U('  '), B(0xfe), U('\t'), B(0xc2)]), 'invalid:with-spaces'],
  [B(0xc2, 0x85), 'txt:U+0085-not-a-line-break'],
  [U('a\u2028b\u2029c'), 'txt:U+2028-not-a-line-break'],
  [U('a\u000bb\u000cc\u001cd\u001de\u001ef'), 'txt:vt-ff-fs-gs-rs-not-line-breaks'],
  [B(0x61, 0x00, 0x62), 'txt:nul'],
  [U(''), 'txt:empty-line'],
  [U(''), 'txt:empty-line'],
  [U('   '), 'txt:spaces-only'],
  [U('\t'), 'txt:tab-only'],
  [U('<|endoftext|> <s> <bos> <|im_start|>'), 'txt:specials'],
  [U('trailing spaces   '), 'txt:trailing-spaces'],
];
// a few valid hard texts without line breaks
for (const [label, text] of samples) {
  if (txtLines.length >= 200) break;
  if (/[\r\n]/.test(text) || text.length > 300 || label.startsWith('prose') || label.startsWith('llama.cpp')) continue;
  if (randInt(3) === 0) txtLines.push([U(text), `txt:${label}`]);
}
// random bytes: mostly fragments of valid UTF-8, sometimes arbitrary bytes
const frags = [U('a'), U(' '), U('é'), U('中'), U('🦙'), U('\t'), U("'s"), U('1'), U('<s>'), U('▁'), B(0x80), B(0xc3),
  B(0xe2, 0x82), B(0xf0, 0x9f), B(0xff), B(0xc0), B(0xed, 0xa0), B(0xbf)];
for (let i = 0; i < 60; i++) {
  const parts = [];
  const n = 1 + randInt(30);
  for (let j = 0; j < n; j++) {
    if (rand() < 0.25) {
      let b = randInt(256);
      if (b === 0x0a || b === 0x0d) b = 0x20;
      parts.push(B(b));
    } else {
      parts.push(pick(frags));
    }
  }
  txtLines.push([Buffer.concat(parts), 'txt:random-bytes']);
}
const terms = [B(0x0a), B(0x0d, 0x0a), B(0x0d)];
const txtBufs = [];
txtLines.forEach(([buf, label], i) => {
  txtBufs.push(buf, i === txtLines.length - 1 ? B(0x0d, 0x0a) : terms[i % 3]);
  labels.push(label);
});
fs.writeFileSync(path.join(outDir, 'hard.txt'), Buffer.concat(txtBufs));

// ---------------------------------------------------------------- edge files
const edges = [
  // no final line terminator: the last line is still a sample
  ['edge_noeol.txt', U('alpha\r\n\r\nbeta\rgamma'), ['txt:noeol', 'txt:noeol-empty', 'txt:noeol', 'txt:noeol-last']],
  // lone CRs and a final CR: no trailing empty sample
  ['edge_cr.txt', U('\r\r\n\n x \r'), ['txt:cr-empty', 'txt:cr-empty', 'txt:cr-empty', 'txt:cr-text']],
  // an empty file has no samples
  ['edge_empty.txt', Buffer.alloc(0), []],
  // JSONL with CRLF line ends, other fields, whitespace, escapes
  ['edge_crlf.jsonl',
   U('{"text": "crlf line one"}\r\n' +
     '{"id": 7, "meta": {"text": "not this"}, "text": "second \\"quoted\\" \\/ \\b\\f\\n\\r\\t \\u00e9\\ud83e\\udd99"}\r\n' +
     '  { "text" : "  spaced keys  " , "z": [1, 2] }  \r\n'),
   ['jsonl:crlf', 'jsonl:escapes', 'jsonl:whitespace']],
];
for (const [name, buf, lbls] of edges) {
  fs.writeFileSync(path.join(outDir, name), buf);
  for (const l of lbls) labels.push(l);
}

fs.writeFileSync(path.join(outDir, 'labels.txt'), labels.join('\n') + '\n');
const inputs = ['hard.jsonl', 'hard.txt', ...edges.map((e) => e[0])].map((f) => path.join(outDir, f));
fs.writeFileSync(path.join(outDir, 'inputs.list'), inputs.join('\n') + '\n');
process.stderr.write(`hard_texts: ${labels.length} samples (${samples.length} JSONL records, ` +
                     `${txtLines.length} raw text lines, edge files) in ${outDir}\n`);
