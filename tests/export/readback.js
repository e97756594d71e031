// Reads back what an export wrote, with the AWS SDK for JavaScript's own
// clients (through the test proxy, which checks their signatures too):
//
//   node readback.js get-object BUCKET KEY OUT        the object's bytes into OUT
//   node readback.js get-objects BUCKET PREFIX DIR NAME...   PREFIX+NAME into DIR/NAME, each
//   node readback.js list BUCKET PREFIX               its keys, one a line
//   node readback.js item TABLE RUN_ID VERSION        the item, unmarshalled, as JSON
//   node readback.js count TABLE RUN_ID               how many items the run has
//   node readback.js compare-item TABLE RUN_ID VERSION RECORD_FILE
//       the item against the record, attribute by attribute: the key, the
//       record's bytes, its SHA-256, every AWS toolkit name the record has
//       (exact figures as exact numbers) and flopsmeter's own; prints what
//       differs and exits 1
'use strict';
// The AWS SDK warns on stderr that its future versions need Node 22; the
// tests' output is no place for it.
process.removeAllListeners('warning');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const ref = path.join(__dirname, '..', 'reference', 'node_modules');
const { S3Client, GetObjectCommand, ListObjectsV2Command } = require(path.join(ref, '@aws-sdk/client-s3'));
const { DynamoDBClient, GetItemCommand, QueryCommand } = require(path.join(ref, '@aws-sdk/client-dynamodb'));
const { KEYS } = require('./test_keys.js');

const endpoint = `http://127.0.0.1:${process.env.FM_TEST_PROXY_PORT}`;
const credentials = { accessKeyId: 'AKIAFLOPSENV0000TEST', secretAccessKey: KEYS.AKIAFLOPSENV0000TEST.secret };
const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
const dynamo = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });

const AWS_NAMES = ['N_total', 'N_trainable', 'tokens_processed', 'Flops_architecture', 'Flops_hardware', 'pct_of_pretrain',
  'exceeds_30pct', 'model_name', 'num_epochs', 'training_duration_seconds', 'gpu_size', 'gpu_rank', 'Flops_original',
  'threshold_type', 'threshold_value', 'training_job_name', 'training_id', 'recipe_config', 'recipe_config_details',
  'gpu_name', 'instance_type', 'model_package_group_name'];

// An attribute value as JSON, numbers kept as their exact text.
function plain(v) {
  if ('S' in v) return v.S;
  if ('N' in v) return { number: v.N };
  if ('BOOL' in v) return v.BOOL;
  if ('NULL' in v) return null;
  if ('L' in v) return v.L.map(plain);
  if ('M' in v) return Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, plain(x)]));
  throw new Error('unexpected attribute type ' + JSON.stringify(v));
}

// Whether attribute `got` holds the record's value `want` (`exact`: the record's exact decimal for it).
function same(got, want, exact) {
  if (got && typeof got === 'object' && 'number' in got) {
    if (exact !== undefined) return got.number === exact;
    return typeof want === 'number' && Number(got.number) === want;
  }
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => same(got[i], w));
  if (want && typeof want === 'object') {
    return got && typeof got === 'object' && Object.keys(want).length === Object.keys(got).length &&
           Object.keys(want).every(k => same(got[k], want[k]));
  }
  return got === want;
}

async function item(table, runId, version) {
  const r = await dynamo.send(new GetItemCommand({ TableName: table, ConsistentRead: true,
    Key: { run_id: { S: runId }, record_version: { N: String(version) } } }));
  return r.Item;
}

async function main() {
  const [command, ...a] = process.argv.slice(2);
  if (command === 'get-object') {
    const r = await s3.send(new GetObjectCommand({ Bucket: a[0], Key: a[1] }));
    fs.writeFileSync(a[2], Buffer.from(await r.Body.transformToByteArray()));
  } else if (command === 'get-objects') {
    const [bucket, prefix, dir, ...names] = a;
    fs.mkdirSync(dir, { recursive: true });
    for (const name of names) {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + name }));
      fs.writeFileSync(path.join(dir, name), Buffer.from(await r.Body.transformToByteArray()));
    }
  } else if (command === 'list') {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: a[0], Prefix: a[1] }));
    for (const o of r.Contents || []) console.log(o.Key);
  } else if (command === 'item') {
    const i = await item(a[0], a[1], a[2]);
    console.log(JSON.stringify(i ? Object.fromEntries(Object.entries(i).map(([k, v]) => [k, plain(v)])) : null));
  } else if (command === 'count') {
    const r = await dynamo.send(new QueryCommand({ TableName: a[0], ConsistentRead: true,
      KeyConditionExpression: 'run_id = :r', ExpressionAttributeValues: { ':r': { S: a[1] } } }));
    console.log(r.Count);
  } else if (command === 'compare-item') {
    const [table, runId, version, file] = a;
    const text = fs.readFileSync(file);
    const record = JSON.parse(text.toString('utf8'));
    const raw = await item(table, runId, version);
    if (!raw) throw new Error(`no item ${runId} ${version}`);
    const got = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, plain(v)]));
    const problems = [];
    const expect = (name, want, exact) => { if (!same(got[name], want, exact)) problems.push(`${name}: item ${JSON.stringify(got[name])}, record ${JSON.stringify(want)}${exact ? ' (exact ' + exact + ')' : ''}`); };
    if (got.record !== text.toString('utf8')) problems.push('record: not the record\'s bytes');
    expect('record_sha256', crypto.createHash('sha256').update(text).digest('hex'));
    const lines = Object.values(record.provenance.journals).reduce((n, j) => n + j.lines, 0);
    expect('record_version', lines, String(lines));
    expect('run_id', record.run_id);
    for (const name of AWS_NAMES) {
      if (!(name in record)) continue;
      const exact = record.exact && /^\d+$/.test(record.exact[name] || '') ? record.exact[name] : undefined;
      expect(name, record[name], exact);
    }
    for (const name of ['schema', 'status', 'complete', 'started_at', 'ended_at', 'written_at']) expect(name, record[name]);
    expect('compliance_flop', null, record.compliance.exact);
    expect('compliance_formula', record.compliance.formula);
    expect('verdict_determined', record.verdict.determined);
    expect('verdict_headlines', record.verdict.headlines);
    expect('tool_version', record.tool.version);
    if (problems.length) { console.log(problems.join('\n')); process.exit(1); }
    console.log(`item ${runId} ${version}: ${Object.keys(got).length} attributes, as the record says`);
  } else {
    throw new Error('unknown command ' + command);
  }
}

main().catch(e => { console.error('readback.js:', e.name, e.message); process.exit(1); });
