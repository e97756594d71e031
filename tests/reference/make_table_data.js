#!/usr/bin/env node
// Writes one dataset as Parquet (by parquet-wasm, the Rust arrow-rs writer
// compiled to WebAssembly), as Arrow IPC (by apache-arrow, the JavaScript
// implementation) and as JSON lines, for tests/cli/table_formats_crosscheck.sh:
// flopsmeter must count every table file exactly as it counts the JSON lines.
//
//   node tests/reference/make_table_data.js OUTDIR [--records N] [--seed S]
//
// The rows are make_chat_data.js's records that fit a typed table (its
// malformed lines are dropped), in one table with a column per field they
// use (messages, conversations, text, prompt, completion, instruction,
// input, output, id, source): each row has nulls in the columns its record
// lacks, as Hugging Face datasets fills them. A few rows are added by hand:
// an empty and a null conversation, a message with null content, an empty
// string, a NUL byte, a lone surrogate, a 200 KB text (many pages), a row
// of nulls only. OUTDIR receives:
//
//   rows.jsonl                         the rows as JSON lines (the reference path)
//   uncompressed_v1_plain.parquet      no compression, PLAIN, data page v1
//   snappy_v1_dict.parquet             SNAPPY, dictionary pages, v1
//   gzip_v1_plain.parquet              GZIP, PLAIN, v1
//   zstd_v2_dict.parquet               ZSTD, dictionary pages, data page v2
//   snappy_v2_plain.parquet            SNAPPY, PLAIN, data page v2
//   zstd_v1_small_pages.parquet        ZSTD, PLAIN, 2 KB pages, 50-row row groups
//   snappy_v1_dict_fallback.parquet    SNAPPY, 4 KB dictionaries: chunks that
//                                      go on in PLAIN once the dictionary is full
//   brotli.parquet                     BROTLI, which flopsmeter refuses by name
//   stream.arrow                       Arrow IPC stream, 100-row record batches
//   file.arrow                         Arrow IPC file (ARROW1)
//   large_utf8.arrow                   the stream with large_utf8 strings
//   saved/                             a save_to_disk directory: state.json,
//                                      dataset_info.json and two .arrow shards
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const arrow = require('apache-arrow');
const pw = require('parquet-wasm/node');

function usage(msg) {
  if (msg) process.stderr.write(`make_table_data: ${msg}\n`);
  process.stderr.write('usage: node make_table_data.js OUTDIR [--records N] [--seed S]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length < 1) usage();
const out = args[0];
let records = 1000;
let seed = 7;
for (let i = 1; i < args.length; i += 2) {
  if (args[i] === '--records') records = Number(args[i + 1]);
  else if (args[i] === '--seed') seed = Number(args[i + 1]);
  else usage(`unknown argument ${args[i]}`);
}
fs.mkdirSync(out, { recursive: true });

const STRING_COLUMNS = ['text', 'prompt', 'completion', 'instruction', 'input', 'output', 'source'];
const TURNS = { messages: ['role', 'content'], conversations: ['from', 'value'] };
const COLUMNS = ['messages', 'conversations', ...STRING_COLUMNS, 'id'];

const isTurnList = (v, keys) => Array.isArray(v) && v.every((t) => t !== null && typeof t === 'object' &&
  !Array.isArray(t) && Object.keys(t).every((k) => keys.includes(k)) &&
  keys.every((k) => typeof t[k] === 'string'));

// A record that a typed table can hold, as a row, or null.
function rowOf(rec) {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return null;
  const row = {};
  for (const key of Object.keys(rec)) if (!COLUMNS.includes(key)) return null;
  for (const c of COLUMNS) {
    const v = rec[c];
    if (v === undefined) { row[c] = null; continue; }
    if (STRING_COLUMNS.includes(c) && typeof v !== 'string') return null;
    if (c === 'id' && !Number.isInteger(v)) return null;
    if (TURNS[c] && !isTurnList(v, TURNS[c])) return null;
    row[c] = v;
  }
  return row;
}

const tmp = path.join(out, 'records.jsonl');
execFileSync(process.execPath, [path.join(__dirname, 'make_chat_data.js'), tmp, '--records', String(records),
  '--seed', String(seed)], { stdio: ['ignore', 'ignore', 'inherit'] });
const rows = [];
for (const line of fs.readFileSync(tmp, 'utf8').split('\n')) {
  let rec;
  try { rec = JSON.parse(line); } catch { continue; }
  const row = rowOf(rec);
  if (row) rows.push(row);
}
fs.unlinkSync(tmp);
const blank = () => Object.fromEntries(COLUMNS.map((c) => [c, null]));
const byHand = [
  { messages: [] },
  { messages: [{ role: 'user', content: null }, { role: 'assistant', content: 'answer' }] },
  { text: '' },
  { text: 'a\u0000b\u001fc "quoted" back\\slash' },
  { text: 'lone \ud800 surrogate' },
  { text: 'long '.repeat(40000) + 'end' },
  { id: 3 },
  {},
];
for (const extra of byHand) rows.splice(Math.floor(rows.length / 2), 0, { ...blank(), ...extra });
fs.writeFileSync(path.join(out, 'rows.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

// ------------------------------------------------------------ Arrow tables
function schemaOf(stringType) {
  const turn = (a, b) => new arrow.Struct([new arrow.Field(a, stringType(), true), new arrow.Field(b, stringType(), true)]);
  return new arrow.Schema([
    new arrow.Field('messages', new arrow.List(new arrow.Field('item', turn('role', 'content'), true)), true),
    new arrow.Field('conversations', new arrow.List(new arrow.Field('item', turn('from', 'value'), true)), true),
    ...STRING_COLUMNS.map((c) => new arrow.Field(c, stringType(), true)),
    new arrow.Field('id', new arrow.Int64(), true),
  ]);
}

// Record batches of `batchRows` rows.
function tableOf(schema, part, batchRows) {
  let table = null;
  for (let at = 0; at < part.length; at += batchRows) {
    const slice = part.slice(at, at + batchRows);
    const columns = {};
    for (const f of schema.fields) {
      const values = slice.map((r) => (f.name === 'id' && r.id !== null ? BigInt(r.id) : r[f.name]));
      columns[f.name] = arrow.vectorFromArray(values, f.type);
    }
    const batch = new arrow.Table(schema, columns);
    table = table === null ? batch : table.concat(batch);
  }
  return table;
}

const utf8 = schemaOf(() => new arrow.Utf8());
const table = tableOf(utf8, rows, 100);
fs.writeFileSync(path.join(out, 'stream.arrow'), arrow.tableToIPC(table, 'stream'));
fs.writeFileSync(path.join(out, 'file.arrow'), arrow.tableToIPC(table, 'file'));
fs.writeFileSync(path.join(out, 'large_utf8.arrow'),
  arrow.tableToIPC(tableOf(schemaOf(() => new arrow.LargeUtf8()), rows, 100), 'stream'));

// save_to_disk: shards named and listed as datasets writes them.
const saved = path.join(out, 'saved');
fs.mkdirSync(saved, { recursive: true });
const half = Math.ceil(rows.length / 2);
const shards = ['data-00000-of-00002.arrow', 'data-00001-of-00002.arrow'];
shards.forEach((name, i) => fs.writeFileSync(path.join(saved, name),
  arrow.tableToIPC(tableOf(utf8, rows.slice(i * half, (i + 1) * half), 100), 'stream')));
fs.writeFileSync(path.join(saved, 'state.json'), JSON.stringify({
  _data_files: shards.map((filename) => ({ filename })), _fingerprint: 'f00d', _format_columns: null,
  _format_kwargs: {}, _format_type: null, _output_all_columns: false, _split: 'train' }, null, 2));
fs.writeFileSync(path.join(saved, 'dataset_info.json'), JSON.stringify({ citation: '', description: '', features: {} }));

// ------------------------------------------------------------ Parquet
const ipc = arrow.tableToIPC(table, 'stream');
const C = pw.Compression;
const V = pw.WriterVersion;
const variants = {
  uncompressed_v1_plain: { compression: C.UNCOMPRESSED, version: V.V1, dictionary: false },
  snappy_v1_dict: { compression: C.SNAPPY, version: V.V1, dictionary: true },
  gzip_v1_plain: { compression: C.GZIP, version: V.V1, dictionary: false },
  zstd_v2_dict: { compression: C.ZSTD, version: V.V2, dictionary: true },
  snappy_v2_plain: { compression: C.SNAPPY, version: V.V2, dictionary: false },
  zstd_v1_small_pages: { compression: C.ZSTD, version: V.V1, dictionary: false, pageBytes: 2048, groupRows: 50 },
  snappy_v1_dict_fallback: { compression: C.SNAPPY, version: V.V1, dictionary: true, pageBytes: 4096, dictBytes: 4096 },
  brotli: { compression: C.BROTLI, version: V.V1, dictionary: true },
};
for (const [name, v] of Object.entries(variants)) {
  let props = new pw.WriterPropertiesBuilder().setCompression(v.compression).setWriterVersion(v.version)
    .setDictionaryEnabled(v.dictionary).setMaxRowGroupSize(v.groupRows || 400);
  // PLAIN explicitly: arrow-rs's v2 writer would otherwise pick DELTA encodings.
  if (!v.dictionary) props = props.setEncoding(pw.Encoding.PLAIN);
  if (v.pageBytes) props = props.setDataPageSizeLimit(v.pageBytes).setWriteBatchSize(16);
  if (v.dictBytes) props = props.setDictionaryPageSizeLimit(v.dictBytes);
  // writeParquet takes the table's memory: a fresh copy for each file.
  fs.writeFileSync(path.join(out, `${name}.parquet`), pw.writeParquet(pw.Table.fromIPCStream(ipc), props.build()));
}
process.stderr.write(`make_table_data: ${rows.length} rows\n`);
