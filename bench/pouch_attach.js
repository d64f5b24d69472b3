#!/usr/bin/env node
// PouchDB attachments for bench/attachment_bench.py (issue 17): the reference peer's way of
// carrying a scan. Run from the bench peer's cache (its node_modules: pouchdb, express-pouchdb,
// pouchdb-adapter-memory), never from the repository.
//
//   node pouch_attach.js server --port=P          an express-pouchdb hub on 127.0.0.1:P
//   node pouch_attach.js client --url=U --n=N --size=BYTES --attempts=K --check=URL
//       N docs with one BYTES attachment each (incompressible, like a scan) in a memory PouchDB,
//       one-shot replication to U retried up to K times (a cut fails the replication; PouchDB
//       starts it again from its checkpoint), then counts on --check (the hub directly, not
//       through the proxy) the docs whose attachment arrived whole. Prints one JSON line.
'use strict';

const http = require('http');
const crypto = require('crypto');

function args(argv) {
  const out = {};
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) out[m[1]] = m[2] === undefined ? true : m[2];
  }
  return out;
}

function pouch() {
  return require('pouchdb').plugin(require('pouchdb-adapter-memory'));
}

function server(a) {
  const PouchDB = pouch();
  const Mem = PouchDB.defaults({ adapter: 'memory' });
  const app = require('express-pouchdb')(Mem, { mode: 'minimumForPouchDB', inMemoryConfig: true });
  http.createServer(app).listen(Number(a.port), '127.0.0.1', () => console.log('ready'));
}

async function client(a) {
  const PouchDB = pouch();
  const local = new PouchDB('local', { adapter: 'memory' });
  const n = Number(a.n), size = Number(a.size), attempts = Number(a.attempts || 5);
  const digests = {};
  for (let i = 0; i < n; i++) {
    const data = crypto.randomBytes(size);
    digests[`ho-so-${i}`] = crypto.createHash('md5').update(data).digest('base64');
    await local.put({ _id: `ho-so-${i}`, type: 'dossier', _attachments: {
      'scan.pdf': { content_type: 'application/pdf', data: data.toString('base64') } } });
  }
  const started = Date.now();
  let failures = 0, done = false, lastError = '';
  for (let k = 0; k < attempts && !done; k++) {
    try {
      await local.replicate.to(a.url, { batch_size: 1, retry: false, timeout: 60000 });
      done = true;
    } catch (e) {
      failures += 1;
      lastError = String(e && (e.message || e.name || e)).slice(0, 200);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const remote = new PouchDB(a.check);
  let complete = 0;
  for (const id of Object.keys(digests)) {
    try {
      const doc = await remote.get(id);
      const att = doc._attachments && doc._attachments['scan.pdf'];
      if (att && att.digest === 'md5-' + digests[id] && att.length === size) complete += 1;
    } catch (e) { /* not there */ }
  }
  console.log(JSON.stringify({ seconds, failures, complete, done, lastError }));
}

const a = args(process.argv.slice(3));
if (process.argv[2] === 'server') server(a);
else client(a).catch((e) => { console.error(e); process.exit(1); });
