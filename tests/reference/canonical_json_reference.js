#!/usr/bin/env node
// Generated JSON documents and their RFC 8785 canonical form according to
// the npm package `canonicalize` (Samuel Erdtman's JCS implementation,
// pinned in package.json), for tests/reference/canonical_json_crosscheck.sh.
//
//   node tests/reference/canonical_json_reference.js DOCS_OUT EXPECTED_OUT [--docs N] [--seed S]
//
// DOCS_OUT gets one JSON text per line, written by this script in a random
// but valid spelling (white space, member order, escapes, number forms);
// EXPECTED_OUT gets, line for line, canonicalize(JSON.parse(line)). The same
// arguments always give the same bytes (a seeded PRNG). Besides N random
// documents (default 3000; nested arrays and objects, Unicode member names
// and strings, numbers of every kind) it writes documents of numbers alone:
// random doubles from random bits, subnormals, every power of ten and of two
// a double holds, the neighbours of 2^53, 1e21 and 1e-6 where ECMAScript's
// notation changes, and integers up to 2^53, each in several spellings. Some
// lines are already canonical, so the checker's is_canonical_json sees both.
//
// Integers are only ever spelled past 2^53 with a fraction or an exponent:
// flopsmeter refuses a JSON integer it could not hold exactly, where
// JSON.parse silently rounds it. Nothing overflows to infinity.
//
// The package is looked up in FM_REFERENCES_DIR/node_modules when that is set
// (a local install), else beside this script (scripts/install_references.sh).
'use strict';

const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

function usage(msg) {
  if (msg) console.error(`canonical_json_reference: ${msg}`);
  console.error('usage: canonical_json_reference.js DOCS_OUT EXPECTED_OUT [--docs N] [--seed S]');
  process.exit(2);
}

// mulberry32: small, fast, and the same everywhere.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  const pick = (list) => list[int(0, list.length - 1)];
  return { next, int, pick };
}

const TWO_53 = 2 ** 53;

function doubleFromBits(hi, lo) {
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  return view.getFloat64(0);
}

function bitsOf(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return [view.getUint32(0), view.getUint32(4)];
}

// The double `steps` units in the last place away from x (x > 0), or x
// itself where that would leave the positive finite doubles.
function ulpsAway(x, steps) {
  const [hi, lo] = bitsOf(x);
  const moved = ((BigInt(hi) << 32n) | BigInt(lo)) + BigInt(steps);
  if (moved <= 0n || moved >= 0x7ff0000000000000n) return x;
  return doubleFromBits(Number(moved >> 32n), Number(moved & 0xffffffffn));
}

const isIntegerSpelling = (text) => /^-?\d+$/.test(text);

// Whether ECMAScript writes a number in v as plain digits past 2^53
// (9007199254740994, 1e19): a JSON parser hands those to flopsmeter as
// integers, which it refuses.
function hasBigIntegerText(v) {
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) > TWO_53 && Math.abs(v) < 1e21;
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasBigIntegerText);
  return false;
}

// The shortest spelling, with an exponent where it would be integer digits
// past 2^53.
const shortest = (x) => (hasBigIntegerText(x) ? x.toExponential() : JSON.stringify(x));

// A JSON spelling of x (or of a double next to it: the text is what both
// sides parse). Never an integer spelling past 2^53, never one that
// overflows.
function numberText(x, r) {
  let text;
  switch (r.int(0, 6)) {
    case 0: text = x.toExponential(r.int(0, 20)); break;
    case 1: text = x.toPrecision(r.int(1, 21)); break;
    case 2: text = Math.abs(x) < 1e21 ? x.toFixed(r.int(0, 30)) : JSON.stringify(x); break;
    case 3: text = x.toExponential().replace('e', r.pick(['E', 'e'])).replace('+', r.pick(['+', ''])); break;
    case 4: text = JSON.stringify(x).replace(/^(-?\d+\.\d+)$/, '$1000'); break; // trailing zeros
    default: text = shortest(x);
  }
  if (!Number.isFinite(Number(text))) text = shortest(x);
  if (isIntegerSpelling(text) && Math.abs(Number(text)) > TWO_53) text = x.toExponential();
  return text;
}

function randomDouble(r) {
  for (;;) {
    const x = doubleFromBits(r.int(0, 0xffffffff), r.int(0, 0xffffffff));
    if (Number.isFinite(x)) return x;
  }
}

function randomNumberText(r) {
  switch (r.int(0, 9)) {
    case 0: return numberText(randomDouble(r), r);
    case 1: return numberText(doubleFromBits(r.int(0, 0xfffff) | (r.int(0, 1) << 31), r.int(0, 0xffffffff)), r); // subnormal
    case 2: return `${r.pick(['', '-'])}1e${r.int(-340, 308)}`;
    case 3: return String(r.int(-1000, 1000));
    case 4: return String((r.next() < 0.5 ? -1 : 1) * Math.floor(r.next() * TWO_53));
    case 5: return numberText(r.next() * 10 ** r.int(-12, 25), r);
    case 6: return `${r.int(0, 999)}.${String(r.int(0, 99999)).padStart(r.int(1, 8), '0')}`;
    case 7: return r.pick(['0', '-0', '0.0', '-0.0', '0e5', '-0E-3']);
    case 8: return numberText(ulpsAway(r.pick([1e21, 1e-6, 1e-7, TWO_53, 1e23, 5e-324]), r.int(-3, 3)), r);
    default: return numberText(2 ** r.int(-1074, 1023) * r.pick([1, -1]), r);
  }
}

// Characters that test escaping and UTF-16 ordering: controls, quote and
// backslash, DEL, the BMP's edges around the surrogates and its end, and
// supplementary characters (surrogate pairs in UTF-16).
const CHARS = [
  'a', 'b', 'z', 'A', 'Z', '0', '9', ' ', '_', '~', '"', '\\', '/', '\b', '\f', '\n', '\r', '\t',
  '\u0000', '\u0001', '\u001f', '\u007f', '\u0080', '\u00e9', '\u00f6', '\u20ac', '\u2028', '\u2029',
  '\ud7ff', '\ue000', '\uf8ff', '\ufb33', '\ufeff', '\ufffd', '\uffff', '\u4e2d', '\u0307',
  '\u{1f600}', '\u{1f602}', '\u{10000}', '\u{10ffff}', '\u{1d11e}',
];

function randomString(r, maxLength) {
  let s = '';
  const n = r.int(0, maxLength);
  for (let i = 0; i < n; i++) s += r.pick(CHARS);
  return s;
}

const hex4 = (unit, r) => {
  const h = unit.toString(16).padStart(4, '0');
  return r.next() < 0.5 ? h : h.toUpperCase();
};

// A JSON string literal for s, each character spelled one of the ways JSON
// allows.
function stringText(s, r) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    const escapeIt = cp < 0x20 || ch === '"' || ch === '\\' || r.next() < 0.15;
    if (!escapeIt) {
      out += ch;
    } else if (ch === '/' && r.next() < 0.5) {
      out += '\\/';
    } else if (r.next() < 0.5 && JSON.stringify(ch).length === 4) {
      out += JSON.stringify(ch).slice(1, -1); // \" \\ \b \f \n \r \t
    } else {
      for (let i = 0; i < ch.length; i++) out += '\\u' + hex4(ch.charCodeAt(i), r);
    }
  }
  return out + '"';
}

const space = (r) => (r.next() < 0.7 ? '' : r.pick([' ', '  ', '\t', ' \t ']));

function valueText(r, depth) {
  const roll = r.int(0, 9);
  if (depth < 5 && roll < 2) return objectText(r, depth + 1);
  if (depth < 5 && roll < 4) return arrayText(r, depth + 1);
  if (roll < 6) return randomNumberText(r);
  if (roll < 8) return stringText(randomString(r, 10), r);
  return r.pick(['true', 'false', 'null']);
}

function objectText(r, depth) {
  const names = new Set();
  const n = r.int(0, 6);
  while (names.size < n) names.add(randomString(r, 4));
  const members = [...names].map((name) => space(r) + stringText(name, r) + space(r) + ':' + space(r) + valueText(r, depth) + space(r));
  return '{' + members.join(',') + space(r) + '}';
}

function arrayText(r, depth) {
  const elements = [];
  for (let n = r.int(0, 6); n > 0; n--) elements.push(space(r) + valueText(r, depth) + space(r));
  return '[' + elements.join(',') + space(r) + ']';
}

// Arrays of numbers: the cases named in the header, several spellings each.
function numberDocuments(r) {
  const numbers = [];
  for (let i = 0; i < 20000; i++) numbers.push(randomNumberText(r));
  for (let k = -340; k <= 308; k++) numbers.push(`1e${k}`, `-1E${k}`);
  for (let k = -1074; k <= 1023; k++) numbers.push(shortest(2 ** k), numberText(2 ** k, r));
  for (let d = -4; d <= 0; d++) numbers.push(String(TWO_53 + d), String(-TWO_53 - d));
  for (const t of ['9007199254740993.0', '9007199254740993e0', '-9007199254740995.0', '9.007199254740993e15']) numbers.push(t);
  for (const x of [1e21, 1e-6, 1e-7, TWO_53, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308]) {
    for (let s = -4; s <= 4; s++) {
      const y = ulpsAway(x, s);
      numbers.push(shortest(y), numberText(y, r), numberText(-y, r));
    }
  }
  const docs = [];
  for (let i = 0; i < numbers.length; i += 100) docs.push('[' + numbers.slice(i, i + 100).join(',') + ']');
  return docs;
}

// A ledger-like record, about 4 KB: a run's figures and hashes.
function recordDocument(r) {
  const hash = () => Array.from({ length: 64 }, () => r.pick([...'0123456789abcdef'])).join('');
  const steps = Array.from({ length: 40 }, (_, i) => ({ step: i, flop: r.next() * 1e18, tokens: r.int(0, 1e6), loss: r.next() * 4 }));
  return jsonText({
    kind: 'run', run_id: hash().slice(0, 32), model: { id: 'meta-llama/Llama-3.2-1B', parameters: 1235814400 },
    flop: { total: 3.1e21, exact: '3100000000000000000000', method: 'peft_aware' }, steps,
    previous: hash(), note: randomString(r, 20),
  }, r);
}

// A JSON spelling of a JavaScript value, numbers as numberText spells them.
function jsonText(v, r) {
  if (typeof v === 'number') return numberText(v, r);
  if (typeof v === 'string') return stringText(v, r);
  if (Array.isArray(v)) return '[' + v.map((e) => space(r) + jsonText(e, r)).join(',') + ']';
  if (v !== null && typeof v === 'object') {
    return '{' + Object.entries(v).map(([k, e]) => stringText(k, r) + ':' + space(r) + jsonText(e, r)).join(',') + '}';
  }
  return JSON.stringify(v);
}

// The ES module `canonicalize` exports for import (it has no CommonJS entry,
// and NODE_PATH does not reach ES module imports), from DIR/node_modules.
function canonicalizeEntry(dir) {
  const packageDir = path.join(dir, 'node_modules', 'canonicalize');
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  } catch (e) {
    throw new Error(`${packageDir} is missing or unreadable (run scripts/install_references.sh): ${e.message}`);
  }
  const exported = manifest.exports && manifest.exports['.'];
  const relative = typeof exported === 'string' ? exported : (exported && (exported.import || exported.default)) || manifest.main;
  return { entry: path.join(packageDir, relative), version: manifest.version };
}

async function main() {
  const args = process.argv.slice(2);
  let docsCount = 3000;
  let seed = 8785;
  const files = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--docs') docsCount = Number(args[++i]);
    else if (args[i] === '--seed') seed = Number(args[++i]);
    else if (args[i].startsWith('--')) usage(`unknown option ${args[i]}`);
    else files.push(args[i]);
  }
  if (files.length !== 2 || !(docsCount >= 0) || !Number.isInteger(seed)) usage();

  const { entry, version } = canonicalizeEntry(process.env.FM_REFERENCES_DIR || __dirname);
  const { default: canonicalize } = await import(pathToFileURL(entry).href);

  const r = rng(seed);
  const docs = numberDocuments(r);
  for (let i = 0; i < docsCount; i++) {
    const roll = r.int(0, 19);
    docs.push(roll === 0 ? recordDocument(r) : roll < 14 ? objectText(r, 1) : roll < 18 ? arrayText(r, 1) : valueText(r, 5));
  }
  let deep = '1';
  for (let i = 0; i < 256; i++) deep = i % 2 ? `{"d":${deep}}` : `[${deep}]`; // kMaxJsonDepth levels
  docs.push(deep);

  const expected = docs.map((text, i) => {
    const value = JSON.parse(text);
    const canonical = canonicalize(value);
    if (r.next() < 0.1 && !hasBigIntegerText(value)) docs[i] = canonical; // already canonical
    return canonical;
  });
  fs.writeFileSync(files[0], docs.join('\n') + '\n');
  fs.writeFileSync(files[1], expected.join('\n') + '\n');
  console.error(`canonical_json_reference: ${docs.length} documents, canonicalize ${version} (${entry})`);
}

main().catch((e) => {
  console.error(`canonical_json_reference: ${e.stack || e}`);
  process.exit(1);
});
