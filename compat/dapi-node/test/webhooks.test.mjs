// Webhooks as a Node app backend receives them: every event type, fired
// through POST /v2/sandbox/webhooks/fire on a real bankgate server, is
// verified with the `svix` npm package (pinned 2.5.0; the Standard
// Webhooks scheme Dapi's server SDKs verify) and its encryptedData
// decrypted as Dapi's helpers do: base64 key and data, the first 16
// bytes the IV, AES-256-CFB. docs/webhooks.md shows the same code.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { Webhook } from 'svix';

import { Bankgate } from './lib/server.mjs';

const TYPES = {
  'transfer.done': { data: ['bankID', 'connectionID', 'operationID', 'reference'], private: ['amount', 'currency', 'endpoint'] },
  'transfer.failed': { data: ['bankID', 'connectionID', 'errorType', 'operationID', 'reference'], private: ['endpoint', 'msg'] },
  'ach_pull.done': { data: ['bankID', 'connectionID', 'operationID', 'reference'], private: ['amount', 'description', 'senderID'] },
  'ach_pull.failed': { data: ['bankID', 'connectionID', 'errorType', 'operationID', 'reference'], private: ['amount', 'description', 'msg', 'senderID'] },
  'connection.delinked': { data: ['bankID', 'connectionID'], private: ['clientUserID', 'delinkedAt'] },
  'tokens.revoked': { data: ['connectionID', 'count', 'scope'], private: ['reason', 'tokenIDs'] },
  'access_code.reused': { data: ['connectionID', 'revokedTokens'], private: ['reason', 'tokenIDs'] },
  'beneficiary.active': { data: ['bankID', 'beneficiaryID', 'connectionID', 'operationID'], private: ['accountNumber', 'activeAt', 'iban', 'name'] },
};

// decryptWebhookData is Dapi's helper's steps in Node.
function decryptWebhookData(aesKey, encryptedData) {
  const key = Buffer.from(aesKey, 'base64');
  const raw = Buffer.from(encryptedData, 'base64');
  const decipher = crypto.createDecipheriv('aes-256-cfb', key, raw.subarray(0, 16));
  return Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]).toString('utf8');
}

const server = new Bankgate();
const received = []; // {id, body, headers}
const problems = [];
let receiver;
let hookURL;
let keys;
let app;

before(async () => {
  await server.start();
  receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        // The headers as Node gives them: svix-* and webhook-* both.
        new Webhook(keys.signingSecret).verify(body, req.headers);
        // And with the Standard Webhooks names alone.
        const std = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !k.startsWith('svix-')));
        new Webhook(keys.signingSecret).verify(body, std);
        received.push({ id: req.headers['webhook-id'], body: JSON.parse(body) });
        res.writeHead(204).end();
      } catch (err) {
        problems.push(`${req.headers['webhook-id']}: ${err.message}`);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookURL = `http://127.0.0.1:${receiver.address().port}/webhooks/bankgate`;
  app = await server.createApp('node-webhooks');
  await server.cli('apps', 'set', '--app-key', app.appKey, '--webhook-url', hookURL);
  const out = (await server.cli('apps', 'webhook-keys', '--app-key', app.appKey, '--json')).trim();
  assert.equal(out.split('\n').length, 1, `webhook-keys --json printed more than one line: ${out}`);
  keys = JSON.parse(out);
  assert.deepEqual(Object.keys(keys).sort(), ['encryptionKey', 'signingSecret']);
  assert.match(keys.signingSecret, /^whsec_/);
  assert.equal(Buffer.from(keys.encryptionKey, 'base64').length, 32);
}, { timeout: 300_000 });

after(async () => {
  receiver?.close();
  await server.stop();
});

test('every event type verifies with svix and decrypts like Dapi', async () => {
  const fired = {};
  for (const type of Object.keys(TYPES)) {
    const res = await fetch(`${server.baseURL}/v2/sandbox/webhooks/fire`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ appSecret: app.appSecret, type }),
    });
    const j = await res.json();
    assert.equal(res.status, 200, JSON.stringify(j));
    assert.equal(j.eventType, type);
    fired[j.webhookID] = type;
  }
  const deadline = Date.now() + 15_000;
  while (Object.keys(fired).some((id) => !received.find((r) => r.id === id)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(problems, []);
  for (const [id, type] of Object.entries(fired)) {
    const got = received.find((r) => r.id === id);
    assert.ok(got, `${type} (${id}) not delivered in 15 s`);
    assert.equal(got.body.id, id);
    assert.equal(got.body.type, type);
    assert.ok(!Number.isNaN(Date.parse(got.body.timestamp)), `timestamp ${got.body.timestamp}`);
    assert.deepEqual(Object.keys(got.body.data).sort(), TYPES[type].data, `${type} data`);
    const plain = JSON.parse(decryptWebhookData(keys.encryptionKey, got.body.encryptedData));
    assert.deepEqual(Object.keys(plain).sort(), TYPES[type].private, `${type} decrypted`);
  }
  // A wrong secret does not verify.
  const other = new Webhook('whsec_' + crypto.randomBytes(24).toString('base64'));
  assert.throws(() => other.verify(JSON.stringify(received[0].body), { 'webhook-id': received[0].id, 'webhook-timestamp': `${Math.floor(Date.now() / 1000)}`, 'webhook-signature': 'v1,AAAA' }));
});
