// The stores an export goes to, on loopback, for the tests: S3 (s3rver)
// and DynamoDB (dynalite) behind a proxy that checks every request's AWS
// Signature Version 4 with an independent signer (aws4: neither emulator
// checks signatures) and injects the faults a test asks for; and the
// endpoints that hand out credentials (ECS container, EC2 IMDSv2).
//
//   node stores.js WORKDIR      writes WORKDIR/stores.env (the ports) once listening,
//                               logs every request to WORKDIR/requests.log, runs until SIGTERM
//
// The proxy's control API (unsigned, loopback only):
//   POST /__fault  {"kind": K, "match": "substring of METHOD PATH or X-Amz-Target", "times": N, ...}
//     K = "reset" (close the connection after "after" body bytes, or at once),
//         "status" (answer "status" with S3's or DynamoDB's error "code", and "retry_after"),
//         "slow" (wait "ms" before forwarding), "skew" (the store's clock-skew refusal),
//         "etag" (forward, then answer with another ETag), "crc" (forward, then damage x-amz-crc32),
//         "answer" (answer "status" with "body" as it is: a malformed or hostile answer),
//         "header" (forward, then set the answer's header "name" to "value"; "$sha256" is the
//         base64 SHA-256 of the request's body, as S3 echoes x-amz-checksum-sha256)
//   POST /__clear              no faults
//   GET  /__count?match=TEXT   how many requests matched TEXT so far
// The metadata server's control: POST /__imds {"role": NAME|null, "token_status": 200|403|...}
'use strict';
// The AWS SDK warns on stderr that its future versions need Node 22; the
// tests' output is no place for it.
process.removeAllListeners('warning');
const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const ref = path.join(__dirname, '..', 'reference', 'node_modules');
const S3rver = require(path.join(ref, 's3rver'));
const dynalite = require(path.join(ref, 'dynalite'));
const aws4 = require(path.join(ref, 'aws4'));
const { DynamoDBClient, CreateTableCommand } = require(path.join(ref, '@aws-sdk/client-dynamodb'));

const work = process.argv[2];
if (!work) { console.error('usage: node stores.js WORKDIR'); process.exit(2); }

const { KEYS, ECS_AUTHORIZATION } = require('./test_keys.js');
// Written synchronously: a test reads it as soon as its command returns.
const requestLog = path.join(work, 'requests.log');
let faults = [];
const seen = [];
let imds = { role: 'flopsmeter-test-role', token_status: 200 };

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isDynamo(req) { return 'x-amz-target' in req.headers; }

function errorAnswer(res, req, status, code, message, extra = {}) {
  const headers = { date: new Date().toUTCString(), ...extra };
  if (isDynamo(req)) {
    const body = JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#' + code, message });
    res.writeHead(status, { ...headers, 'content-type': 'application/x-amz-json-1.0' });
    res.end(body);
  } else {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    res.writeHead(status, { ...headers, 'content-type': 'application/xml' });
    res.end(body);
  }
}

// The request's signature, recomputed by aws4 from what arrived: null when
// it holds, else what is wrong.
function signatureProblem(req, body) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return ['MissingAuthenticationToken', 'no SigV4 Authorization header'];
  const [, keyId, , region, service, signedHeaders, signature] = m;
  const key = KEYS[keyId];
  if (!key) return ['InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'];
  if (key.token && req.headers['x-amz-security-token'] !== key.token) return ['InvalidToken', 'The provided token is malformed or otherwise invalid.'];
  const headers = {};
  for (const name of signedHeaders.split(';')) {
    const values = req.headersDistinct[name];
    if (values === undefined) return ['SignatureDoesNotMatch', `signed header ${name} is missing`];
    headers[name] = values.join(',');
  }
  const signer = new aws4.RequestSigner({ method: req.method, host: req.headers.host, path: req.url, headers, body,
                                          service, region, doNotModifyHeaders: true },
                                        { accessKeyId: keyId, secretAccessKey: key.secret });
  // Left to itself (doNotModifyHeaders), aws4 signs at its own clock, not at the request's x-amz-date.
  signer.datetime = req.headers['x-amz-date'];
  if (signer.signedHeaders() !== signedHeaders) return ['SignatureDoesNotMatch', 'signed headers differ: ' + signer.signedHeaders()];
  if (signer.signature() !== signature) {
    return ['SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'];
  }
  return null;
}

function takeFault(label) {
  const f = faults.find(f => label.includes(f.match || '') && f.times !== 0);
  if (f && f.times > 0) f.times -= 1;
  return f;
}

function forward(req, body, target, res, fault) {
  const headers = { ...req.headers, host: `127.0.0.1:${target}` };
  // s3rver knows one account, S3RVER, and checks nothing but its key id;
  // the signature was checked above.
  if (!isDynamo(req)) headers.authorization = headers.authorization.replace(/Credential=[^/]+\//, 'Credential=S3RVER/');
  const out = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers }, answer => {
    const h = { ...answer.headers };
    if (fault && fault.kind === 'etag' && h.etag) h.etag = '"00000000000000000000000000000000"';
    if (fault && fault.kind === 'crc' && h['x-amz-crc32']) h['x-amz-crc32'] = '12345';
    if (fault && fault.kind === 'header') {
      h[fault.name] = fault.value === '$sha256' ? crypto.createHash('sha256').update(body).digest('base64') : fault.value;
    }
    res.writeHead(answer.statusCode, h);
    answer.pipe(res);
  });
  out.on('error', e => { res.destroy(); });
  out.end(body);
}

async function proxy(req, res, ports) {
  if (req.url === '/__fault' || req.url === '/__clear' || req.url.startsWith('/__count')) {
    const body = await readBody(req);
    if (req.url === '/__fault') faults.push(JSON.parse(body.toString()));
    if (req.url === '/__clear') faults = [];
    let count = 0;
    if (req.url.startsWith('/__count')) {
      const match = decodeURIComponent(req.url.split('match=')[1] || '');
      count = seen.filter(s => s.includes(match)).length;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, count }));
    return;
  }
  const label = `${req.method} ${req.url} ${req.headers['x-amz-target'] || ''}`;
  const fault = takeFault(label);
  if (fault && fault.kind === 'reset' && !fault.after) { req.socket.resetAndDestroy(); return; }
  if (fault && fault.kind === 'reset') {
    let received = 0;
    req.on('data', c => { received += c.length; if (received >= fault.after) req.socket.resetAndDestroy(); });
  }
  const body = await readBody(req);
  seen.push(label);
  fs.appendFileSync(requestLog, JSON.stringify({ label, headers: req.headers, body: body.length < 65536 ? body.toString('latin1') : `(${body.length} bytes)` }) + '\n');
  if (fault && fault.kind === 'slow') await new Promise(r => setTimeout(r, fault.ms));
  if (fault && fault.kind === 'status') {
    return errorAnswer(res, req, fault.status, fault.code, 'injected by the test',
                       fault.retry_after !== undefined ? { 'retry-after': String(fault.retry_after) } : {});
  }
  if (fault && fault.kind === 'answer') {
    res.writeHead(fault.status, { 'content-type': 'application/octet-stream' });
    return res.end(fault.body);
  }
  if (fault && fault.kind === 'skew') {
    const date = new Date(Date.now() + 3600e3).toUTCString();
    return isDynamo(req)
      ? errorAnswer(res, req, 400, 'InvalidSignatureException', 'Signature expired: 20261207T090000Z is now earlier than 20261207T100000Z (20261207T100000Z - 15 min.)', { date })
      : errorAnswer(res, req, 403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', { date });
  }
  const problem = signatureProblem(req, body);
  if (problem) return errorAnswer(res, req, isDynamo(req) && problem[0] === 'InvalidAccessKeyId' ? 400 : 403,
                                  isDynamo(req) && problem[0] === 'InvalidAccessKeyId' ? 'UnrecognizedClientException' : problem[0], problem[1]);
  forward(req, body, isDynamo(req) ? ports.dynamodb : ports.s3, res, fault);
}

// ECS: GET /ecs/credentials with the authorization token; IMDSv2: a token, the role, its credentials.
function metadata(req, res) {
  const send = (status, body, type = 'application/json') => { res.writeHead(status, { 'content-type': type }); res.end(body); };
  readBody(req).then(body => {
    seen.push(`METADATA ${req.method} ${req.url}`);
    if (req.url === '/__imds') { imds = { ...imds, ...JSON.parse(body.toString()) }; return send(200, '{}'); }
    const keys = id => JSON.stringify({ Code: 'Success', AccessKeyId: id, SecretAccessKey: KEYS[id].secret, Token: KEYS[id].token,
                                        Expiration: new Date(Date.now() + 3600e3).toISOString() });
    if (req.url === '/ecs/credentials') {
      if (req.headers.authorization !== ECS_AUTHORIZATION) return send(401, '{"message":"unauthorized"}');
      return send(200, keys('ASIAFLOPSECS0000TEST'));
    }
    if (req.url === '/latest/api/token' && req.method === 'PUT') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return send(400, 'missing ttl', 'text/plain');
      return send(imds.token_status, imds.token_status === 200 ? 'imds-session-token-for-tests' : 'refused', 'text/plain');
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session-token-for-tests') return send(401, 'no token', 'text/plain');
    const prefix = '/latest/meta-data/iam/security-credentials/';
    if (req.url === prefix) return imds.role ? send(200, imds.role, 'text/plain') : send(404, 'none', 'text/plain');
    if (req.url === prefix + imds.role) return send(200, keys('ASIAFLOPSIMDS000TEST'));
    send(404, 'not found', 'text/plain');
  });
}

function listen(server) {
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function main() {
  const s3dir = path.join(work, 's3');
  fs.mkdirSync(s3dir, { recursive: true });
  const s3 = new S3rver({ port: 0, address: '127.0.0.1', directory: s3dir, silent: true,
                          configureBuckets: [{ name: 'audit' }, { name: 'audit.dotted' }] });
  const ports = { s3: (await s3.run()).port };
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  ports.dynamodb = await listen(dynamo);
  const client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${ports.dynamodb}`, region: 'us-east-1',
                                      credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await client.send(new CreateTableCommand({
    TableName: 'flops-runs', BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'run_id', AttributeType: 'S' }, { AttributeName: 'record_version', AttributeType: 'N' }],
    KeySchema: [{ AttributeName: 'run_id', KeyType: 'HASH' }, { AttributeName: 'record_version', KeyType: 'RANGE' }],
  }));
  ports.proxy = await listen(http.createServer((req, res) => proxy(req, res, ports).catch(e => { console.error(e); res.destroy(); })));
  ports.metadata = await listen(http.createServer(metadata));
  const env = Object.entries(ports).map(([k, v]) => `FM_TEST_${k.toUpperCase()}_PORT=${v}`).join('\n') + '\n';
  fs.writeFileSync(path.join(work, 'stores.env.tmp'), env);
  fs.renameSync(path.join(work, 'stores.env.tmp'), path.join(work, 'stores.env'));
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(e => { console.error('stores.js:', e); process.exit(1); });
