#!/usr/bin/env node
// Writes the small Parquet and Arrow IPC files under tests/data/tables/ that
// the unit tests (tests/unit/table_reader_test.cc) read, by parquet-wasm and
// apache-arrow. Run again only to change them:
//
//   NODE_PATH=tests/reference/node_modules node tests/reference/make_table_fixtures.js tests/data/tables
//
// rows*: four rows over a string, a list<struct<role, content>>
// ("messages"), a list<string>, int64, float64, bool and binary columns,
// with nulls at every level: a null list, an empty list, a null struct
// field, a null list element.
// nested*: lists of lists, a struct holding a list, a list of such structs,
// uint8 and float32, nulls and empties at each level (v1 with dictionaries,
// v2 PLAIN, two rows per row group).
'use strict';

const fs = require('fs');
const path = require('path');
const arrow = require('apache-arrow');
const pw = require('parquet-wasm/node');

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: node make_table_fixtures.js OUTDIR\n');
  process.exit(2);
}
const turn = new arrow.Struct([new arrow.Field('role', new arrow.Utf8(), true),
  new arrow.Field('content', new arrow.Utf8(), true)]);
const schema = new arrow.Schema([
  new arrow.Field('text', new arrow.Utf8(), true),
  new arrow.Field('messages', new arrow.List(new arrow.Field('item', turn, true)), true),
  new arrow.Field('tags', new arrow.List(new arrow.Field('item', new arrow.Utf8(), true)), true),
  new arrow.Field('n', new arrow.Int64(), true),
  new arrow.Field('score', new arrow.Float64(), true),
  new arrow.Field('ok', new arrow.Bool(), true),
  new arrow.Field('blob', new arrow.Binary(), true),
]);
const rows = [
  { text: 'hello', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null }],
    tags: ['a', null, 'b'], n: 1n, score: 0.5, ok: true, blob: new Uint8Array([0, 1]) },
  { text: null, messages: [], tags: [], n: null, score: null, ok: null, blob: null },
  { text: 'x', messages: null, tags: null, n: -3n, score: -1e300, ok: false, blob: new Uint8Array([]) },
  { text: '\u00fcn\u00ef "q"\n\t\\', messages: [{ role: 'system', content: '' }], tags: ['c'],
    n: 1099511627776n, score: 3, ok: true, blob: null },
];
const columns = {};
for (const f of schema.fields) columns[f.name] = arrow.vectorFromArray(rows.map((r) => r[f.name]), f.type);
const table = new arrow.Table(schema, columns);
const ipc = arrow.tableToIPC(table, 'stream');
fs.writeFileSync(path.join(out, 'rows.arrows'), ipc);
fs.writeFileSync(path.join(out, 'rows.arrow'), arrow.tableToIPC(table, 'file'));
const C = pw.Compression;
const V = pw.WriterVersion;
const variants = {
  snappy_v1_dict: [C.SNAPPY, V.V1, true],
  zstd_v2_dict: [C.ZSTD, V.V2, true],
  gzip_v1_plain: [C.GZIP, V.V1, false],
  uncompressed_v2_plain: [C.UNCOMPRESSED, V.V2, false],
};
for (const [name, [compression, version, dictionary]] of Object.entries(variants)) {
  let props = new pw.WriterPropertiesBuilder().setCompression(compression).setWriterVersion(version)
    .setDictionaryEnabled(dictionary).setMaxRowGroupSize(3).setStatisticsEnabled(pw.EnabledStatistics.None);
  if (!dictionary) props = props.setEncoding(pw.Encoding.PLAIN);
  fs.writeFileSync(path.join(out, `rows_${name}.parquet`), pw.writeParquet(pw.Table.fromIPCStream(ipc), props.build()));
}

// ------------------------------------------------------------ nested
const U = () => new arrow.Utf8();
const named = new arrow.Struct([new arrow.Field('names', new arrow.List(new arrow.Field('item', U(), true)), true),
  new arrow.Field('k', new arrow.Int32(), true)]);
const nestedSchema = new arrow.Schema([
  new arrow.Field('ll', new arrow.List(new arrow.Field('item', new arrow.List(new arrow.Field('item', U(), true)), true)), true),
  new arrow.Field('s', named, true),
  new arrow.Field('ls', new arrow.List(new arrow.Field('item', named, true)), true),
  new arrow.Field('u8', new arrow.Uint8(), true),
  new arrow.Field('f32', new arrow.Float32(), true),
]);
const nestedRows = [
  { ll: [['a', 'b'], [], null, ['c']], s: { names: ['x', null], k: 1 },
    ls: [{ names: [], k: null }, null, { names: null, k: 2 }], u8: 255, f32: 1.5 },
  { ll: [], s: null, ls: [], u8: null, f32: null },
  { ll: null, s: { names: null, k: null }, ls: null, u8: 0, f32: -0.25 },
  { ll: [[null]], s: { names: [], k: -5 }, ls: [{ names: ['q'], k: 7 }], u8: 7, f32: 3 },
];
const nestedColumns = {};
for (const f of nestedSchema.fields) {
  nestedColumns[f.name] = arrow.vectorFromArray(nestedRows.map((r) => r[f.name]), f.type);
}
const nestedIpc = arrow.tableToIPC(new arrow.Table(nestedSchema, nestedColumns), 'stream');
fs.writeFileSync(path.join(out, 'nested.arrows'), nestedIpc);
for (const [name, version, dictionary] of [['v1_dict', V.V1, true], ['v2_plain', V.V2, false]]) {
  let props = new pw.WriterPropertiesBuilder().setWriterVersion(version).setDictionaryEnabled(dictionary)
    .setMaxRowGroupSize(2).setStatisticsEnabled(pw.EnabledStatistics.None);
  if (!dictionary) props = props.setEncoding(pw.Encoding.PLAIN);
  fs.writeFileSync(path.join(out, `nested_${name}.parquet`),
    pw.writeParquet(pw.Table.fromIPCStream(nestedIpc), props.build()));
}
