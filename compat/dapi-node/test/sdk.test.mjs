// Compatibility suite: the official @dapi-co/dapi-node SDK (pinned 2.3.2)
// against a real bankgate server, built from this repository.
//
// Spec: /work/shared/spec/dapi-v2-wire.md (§3 envelope, §5 endpoints and
// payloads, §7 MFA, §8 SDK forwarding, §9.2 pointing the SDK at a local URL,
// §15 bankgate's own error rules). Run with `npm test` (or ./run.sh).
//
// Every public method of the SDK is called at least once; the list is
// computed from the SDK objects at runtime and the last test fails if any
// method was not called. Failures print the exact request and response.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { Bankgate } from './lib/server.mjs';
import { PSU } from './lib/psu.mjs';
import { installAxios, post, secret, mark, since, formatSince, redact } from './lib/trace.mjs';
import { DapiApp, SDK_VERSION, helpers, instrument, publicAPI, summary } from './lib/coverage.mjs';
import * as S from './lib/shape.mjs';

const require = createRequire(import.meta.url);
// §9.2: the SDK has no base-URL option; patch the shared constants object.
const { DAPI_URL } = require('@dapi-co/dapi-node/lib/constants/url');

const GLOBAL_TIMEOUT_MS = 120_000;
const SETUP_TIMEOUT_MS = 300_000; // go build on a cold cache
const BANK = 'SANDBOX_AE_ENBD';
const PASSWORD = 'pass_good';
const ANSWERS = { otp: '123456', secret_question: 'sandbox', pin: '1234' };

const server = new Bankgate();
const st = {}; // state shared between tests, in file order
let app; // instrumented DapiApp with the right appSecret
let watchdog;

// ---------------------------------------------------------------- helpers

function need(v, what) {
  if (v === undefined || v === null) throw new Error(`prerequisite missing: ${what} (an earlier test failed)`);
  return v;
}

// check runs the envelope + payload checks on an SDK result and throws with
// every violation plus the recorded HTTP exchange(s).
// HTTP status per type: spec §4.1 (documented table) and §15.1 (bankgate's
// choices). The SDK ignores it (§6.3); third-party clients do not.
const HTTP_STATUS = {
  INVALID_TOKEN: 401, USER_DELINKED: 401, INVALID_APP_CREDENTIALS: 401, INVALID_USER_SECRET: 401,
  INVALID_ACCESS_CODE: 401, INVALID_CREDENTIALS: 401, INVALID_MFA: 401, INACTIVE_ACCOUNT: 401,
  INVALID_ACCOUNT_ID: 404, INVALID_CARD_ID: 404, INVALID_DATE_RANGE: 400, PARAMETER_ERROR: 400,
  PARAMETER_MISSING: 422, INSUFFICIENT_BALANCE: 400, BENEFICIARY_NOT_ACTIVATED: 400,
  BENEFICIARY_COOL_DOWN_PERIOD: 400, BENEFICIARY_ALREADY_EXISTS: 400, RATE_LIMIT_EXCEEDED: 429, UNKNOWN_ERROR: 500,
};

function check(label, m, res, want, { types, payload, allowNull = [] } = {}) {
  const P = new S.Problems();
  S.expectStatus(P, res, want, { types });
  const x = since(m).at(-1);
  if (x && S.isObject(res) && typeof x.status === 'number') {
    const wantHTTP = res.status === 'failed' ? HTTP_STATUS[res.type] : 200;
    if (wantHTTP && x.status !== wantHTTP) {
      P.add('HTTP status', `${x.status} for ${res.status === 'failed' ? res.type : res.status}, want ${wantHTTP} (spec §3.3/§4.1/§15.1)`);
    }
  }
  if (S.isObject(res)) {
    if (payload && res.status === want && want !== 'failed') payload(P, res);
    S.noNulls(P, res, 'response', allowNull);
  }
  S.report(P, `${label}\n${formatSince(m)}`);
  return res;
}

async function call(label, fn, want = 'done', opts = {}) {
  const m = mark();
  const res = await fn();
  return check(label, m, res, want, opts);
}

function answersFor(userInputs, override = {}) {
  return userInputs.map((u) => ({ id: u.id, index: u.index, answer: override[u.id] ?? ANSWERS[u.id] ?? '' }));
}

// login logs a sandbox user in through the Connect JSON API (plain fetch).
async function login(username, { bankID = BANK } = {}) {
  const m = mark();
  const appKey = st.appInfo.appKey;
  let r = await post(server.baseURL, '/v2/connect/login', { appKey, bankID, username, password: PASSWORD });
  if (r.body && r.body.status === 'user_input_required' && Array.isArray(r.body.userInputs)) {
    r = await post(server.baseURL, '/v2/connect/login', {
      appKey,
      bankID,
      operationID: r.body.operationID,
      userInputs: answersFor(r.body.userInputs),
    });
  }
  const P = new S.Problems();
  S.expectStatus(P, r.body, 'done');
  for (const k of ['accessCode', 'userSecret', 'connectionID', 'userID', 'tokenID']) {
    S.str(P, r.body, k, 'response', { nonEmpty: true });
  }
  S.report(P, `Connect login ${username}@${bankID}\n${formatSince(m)}`);
  secret(r.body.accessCode, `accessCode:${username}`);
  secret(r.body.userSecret, `userSecret:${username}`);
  return r.body;
}

// connect = login + SDK exchangeToken.
async function connect(username, opts) {
  const l = await login(username, opts);
  const ex = await call(`auth.exchangeToken(${username})`, () => app.auth.exchangeToken(l.accessCode, l.connectionID), 'done', {
    payload: S.exchange,
  });
  secret(ex.accessToken, `accessToken:${username}`);
  return { username, login: l, token: ex.accessToken, userSecret: l.userSecret, tokenID: ex.tokenID, userID: ex.userID };
}

// UTC calendar dates as local-midnight Date objects, so that moment's local
// formatting in the SDK yields exactly these days.
function utcDay(offsetDays = 0) {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + offsetDays * 86400_000);
  return new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

function ymd(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function round2(n) {
  return Math.round(n * 100) / 100;
}

// makeIBAN builds a mod-97 valid IBAN.
function makeIBAN(cc, bban) {
  const digits = (bban + cc + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  const check = 98n - (BigInt(digits) % 97n);
  return cc + String(check).padStart(2, '0') + bban;
}

// Beneficiary numbers: fixed on a fresh server; unique per run against an
// external one (where earlier runs' beneficiaries still exist).
let benSeq = 0;
function newBeneficiary(name) {
  // UAE: 13-digit account number; IBAN = AE + check + 3-digit bank code + 16
  // digits (the account number left-padded with zeros).
  const run = server.external ? String(Date.now() % 1e6).padStart(6, '0') : '100000';
  const account = run + String(4711000 + ++benSeq).padStart(7, '0');
  const iban = makeIBAN('AE', '035' + account.padStart(16, '0'));
  return {
    name,
    nickname: name.split(' ')[0],
    iban,
    accountNumber: account,
    swiftCode: 'NBADAEAA',
    type: 'local',
    address: { line1: 'Baniyas Road', line2: 'Dubai', line3: 'United Arab Emirates' },
    country: 'UNITED ARAB EMIRATES',
    branchAddress: 'Deira Dubai',
    branchName: 'Main Branch',
  };
}

function minimumFor(type, currencyCode) {
  const bounds = st.meta?.transferBounds || [];
  const b = bounds.find((x) => x.type === type && x.currency?.code === currencyCode) || bounds.find((x) => x.type === type);
  return b && Number.isFinite(b.minimum) ? b.minimum : 0;
}

async function balanceOf(u, accountID, label) {
  const r = await call(`${label}: data.getAccountBalance`, () => app.data.getAccountBalance(u.token, u.userSecret, accountID), 'done', {
    payload: (P, r) => S.obj(P, r, 'balance', 'response', S.accountBalance),
  });
  return r.balance.amount;
}

// pickSender: an account in `currency` with room for `atLeast`.
function pickSender(accounts, atLeast = 0) {
  return (
    accounts.find((a) => a.balance && a.balance.amount >= atLeast && ['current', 'savings'].includes(a.type)) ||
    accounts.find((a) => a.balance && a.balance.amount >= atLeast) ||
    accounts[0]
  );
}

// ---------------------------------------------------------------- setup

before(
  async () => {
    installAxios();
    await server.start();
    watchdog = setTimeout(() => {
      console.error(`\nglobal timeout: the suite ran longer than ${GLOBAL_TIMEOUT_MS / 1000} s; killing the server`);
      if (server.proc && !server.exit) server.proc.kill('SIGKILL');
      process.exit(1);
    }, GLOBAL_TIMEOUT_MS);
    watchdog.unref();

    DAPI_URL.BASE_URL = server.baseURL + '/v2';
    DAPI_URL.DEPLOY_WITH_DAPI_URL = server.baseURL + '/';

    st.appInfo = await server.createApp('sdk');
    secret(st.appInfo.appSecret, 'appSecret');
    secret(st.appInfo.appKey, 'appKey');
    app = instrument(new DapiApp({ appSecret: st.appInfo.appSecret }));
  },
  { timeout: SETUP_TIMEOUT_MS },
);

after(async () => {
  clearTimeout(watchdog);
  if (process.env.COMPAT_TRACE) {
    // Every recorded exchange, secrets replaced, one JSON object a line.
    const lines = since(0).map((x) => redact({ path: x.path, status: x.status, request: x.reqBody, response: x.resBody }));
    writeFileSync(process.env.COMPAT_TRACE, lines.join('\n') + '\n');
  }
  const s = summary();
  console.log('\n' + s.text + '\n');
  if (server.stderr.trim()) {
    const tail = server.stderr.trim().split('\n').slice(-20).join('\n');
    console.log(`bankgate stderr (last lines):\n${redact(tail)}\n`);
  }
  await server.stop();
});

// ---------------------------------------------------------------- tests

test(`the SDK is @dapi-co/dapi-node 2.3.2 and its public API is known`, () => {
  assert.equal(SDK_VERSION, '2.3.2');
  const api = publicAPI();
  console.log(`public API (${api.length}): ${api.join(', ')}`);
  // The documented surface must be part of what we enumerate, so that the
  // runtime enumeration cannot silently miss a product.
  for (const m of [
    'auth.exchangeToken', 'auth.delinkUser',
    'data.getIdentity', 'data.getAccounts', 'data.getAccountBalance', 'data.getAccountTransactions',
    'data.getCards', 'data.getCardBalance', 'data.getCardTransactions',
    'payment.getBeneficiaries', 'payment.createBeneficiary', 'payment.createTransfer', 'payment.transferAutoFlow',
    'metadata.getAccountsMetadata', 'operation.getOperationStatus',
    'batch.getMetadata', 'batch.getTransfers', 'batch.getItems', 'batch.createFile', 'batch.createTransfer',
    'app.handleSDKDapiRequests', 'app.verifyWebhookSignature',
  ]) {
    assert.ok(api.includes(m), `${m} not found in the runtime API list`);
  }
});

test('connect: user_good logs in through the Connect JSON API', async () => {
  st.goodLogin = await login('user_good');
});

test('auth.exchangeToken: accessToken, tokenID, userID (§5.1 #1)', async () => {
  const l = need(st.goodLogin, 'user_good login');
  const r = await call('auth.exchangeToken', () => app.auth.exchangeToken(l.accessCode, l.connectionID), 'done', {
    payload: S.exchange,
  });
  secret(r.accessToken, 'accessToken:user_good');
  assert.equal(r.tokenID, l.tokenID, 'tokenID differs from the one Connect returned');
  assert.equal(r.userID, l.userID, 'userID differs from the one Connect returned');
  st.good = { username: 'user_good', login: l, token: r.accessToken, userSecret: l.userSecret, tokenID: r.tokenID, userID: r.userID };
});

test('data.getIdentity (§5.5 identity)', async () => {
  const u = need(st.good, 'user_good token');
  await call('data.getIdentity', () => app.data.getIdentity(u.token, u.userSecret), 'done', {
    payload: (P, r) => S.obj(P, r, 'identity', 'response', S.identity),
  });
});

test('data.getAccounts (§5.5 accounts)', async (t) => {
  const u = need(st.good, 'user_good token');
  const r = await call('data.getAccounts', () => app.data.getAccounts(u.token, u.userSecret), 'done', {
    payload: (P, r) => S.arr(P, r, 'accounts', 'response', S.account, { nonEmpty: true }),
  });
  st.accounts = r.accounts;
  await t.test('operationID "" and userInputs [] mean a new operation (rule 6, §6.5)', async () => {
    const r2 = await call('data.getAccounts with operationID "" and userInputs []', () => app.data.getAccounts(u.token, u.userSecret, '', []), 'done', {
      payload: (P, r) => S.arr(P, r, 'accounts', 'response', S.account, { nonEmpty: true }),
    });
    assert.deepEqual(r2.accounts.map((a) => a.id), r.accounts.map((a) => a.id), 'a different account list');
  });
});

test('data.getAccountBalance (§5.5 balance)', async () => {
  const u = need(st.good, 'user_good token');
  const acc = need(st.accounts?.[0], 'an account from getAccounts');
  const r = await call('data.getAccountBalance', () => app.data.getAccountBalance(u.token, u.userSecret, acc.id), 'done', {
    payload: (P, r) => S.obj(P, r, 'balance', 'response', S.accountBalance),
  });
  assert.equal(r.balance.currency.code, acc.currency.code, 'balance currency differs from the account currency');
});

test('data.getAccountTransactions: one month (§5.5 transactions)', async () => {
  const u = need(st.good, 'user_good token');
  const acc = need(st.accounts?.[0], 'an account from getAccounts');
  const from = utcDay(-30);
  const to = utcDay(0);
  const r = await call(
    `data.getAccountTransactions ${ymd(from)}..${ymd(to)}`,
    () => app.data.getAccountTransactions(u.token, u.userSecret, acc.id, from, to),
    'done',
    { payload: (P, r) => S.arr(P, r, 'transactions', 'response', S.transaction) },
  );
  for (const t of r.transactions) {
    const day = t.date.slice(0, 10);
    assert.ok(day >= ymd(utcDay(-31)) && day <= ymd(utcDay(1)), `transaction dated ${t.date} outside ${ymd(from)}..${ymd(to)}`);
  }
  st.goodTransactions = r.transactions;
});

test('model bank (Open Banking v3.1): a redirect login, then the SDK\'s data calls on that connection', async (t) => {
  if (!server.modelBank) {
    t.skip('the server was started elsewhere (BANKGATE_URL): no model bank');
    return;
  }
  const BANK_OB = 'MODELBANK_AE_OB31';
  const prod = await server.createApp('sdk-production', 'production');
  secret(prod.appSecret, 'appSecret:production');
  secret(prod.appKey, 'appKey:production');
  const papp = instrument(new DapiApp({ appSecret: prod.appSecret }));
  const psu = new PSU(server.modelBank);
  const m = mark();
  const start = await post(server.baseURL, '/v2/connect/login', { appKey: prod.appKey, bankID: BANK_OB, clientUserID: 'node-1' });
  const P = new S.Problems();
  if (start.body?.status !== 'redirect_required' || typeof start.body.redirectURL !== 'string' || !start.body.operationID) {
    P.add('Connect login at a redirect bank', `want status redirect_required with redirectURL and operationID, got ${JSON.stringify(start.body)}`);
  }
  S.report(P, `Connect login @${BANK_OB}\n${formatSince(m)}`);
  const back = await psu.authorise(start.body.redirectURL, psu.users[0]);
  const arrived = await psu.arrive(back);
  assert.equal(arrived.status, 200, `callback answered ${arrived.status}: ${arrived.text}`);
  const done = await post(server.baseURL, '/v2/connect/login', { appKey: prod.appKey, bankID: BANK_OB, operationID: start.body.operationID });
  const P2 = new S.Problems();
  S.expectStatus(P2, done.body, 'done');
  for (const k of ['accessCode', 'userSecret', 'connectionID', 'userID', 'tokenID']) S.str(P2, done.body, k, 'response', { nonEmpty: true });
  S.report(P2, `Connect login resumed @${BANK_OB}\n${formatSince(m)}`);
  secret(done.body.accessCode, 'accessCode:modelbank');
  secret(done.body.userSecret, 'userSecret:modelbank');
  const ex = await call('auth.exchangeToken (model bank)', () => papp.auth.exchangeToken(done.body.accessCode, done.body.connectionID), 'done', {
    payload: S.exchange,
  });
  secret(ex.accessToken, 'accessToken:modelbank');
  const us = done.body.userSecret;
  await call('data.getIdentity (model bank)', () => papp.data.getIdentity(ex.accessToken, us), 'done', {
    payload: (P, r) => S.obj(P, r, 'identity', 'response', S.identity),
  });
  const accts = await call('data.getAccounts (model bank)', () => papp.data.getAccounts(ex.accessToken, us), 'done', {
    payload: (P, r) => S.arr(P, r, 'accounts', 'response', S.account, { nonEmpty: true }),
  });
  const acc = accts.accounts[0];
  const bal = await call('data.getAccountBalance (model bank)', () => papp.data.getAccountBalance(ex.accessToken, us, acc.id), 'done', {
    payload: (P, r) => S.obj(P, r, 'balance', 'response', S.accountBalance),
  });
  assert.equal(bal.balance.currency.code, acc.currency.code, 'balance currency differs from the account currency');
  const from = utcDay(-30);
  const to = utcDay(0);
  const txs = await call(`data.getAccountTransactions ${ymd(from)}..${ymd(to)} (model bank, pages of 10)`,
    () => papp.data.getAccountTransactions(ex.accessToken, us, acc.id, from, to), 'done',
    { payload: (P, r) => S.arr(P, r, 'transactions', 'response', S.transaction) });
  assert.ok(txs.transactions.length > 10, `${txs.transactions.length} transactions in a month: want more than one page of 10`);
  for (const tx of txs.transactions) {
    const day = tx.date.slice(0, 10);
    assert.ok(day >= ymd(utcDay(-31)) && day <= ymd(utcDay(1)), `transaction dated ${tx.date} outside ${ymd(from)}..${ymd(to)}`);
  }
  await call('payment.getBeneficiaries (model bank: not offered)', () => papp.payment.getBeneficiaries(ex.accessToken, us), 'failed', {
    types: ['NOT_IMPLEMENTED'],
  });
});

test('data.getCards (§5.5 cards)', async () => {
  const u = need(st.good, 'user_good token');
  const r = await call('data.getCards', () => app.data.getCards(u.token, u.userSecret), 'done', {
    payload: (P, r) => S.arr(P, r, 'cards', 'response', S.card, { nonEmpty: true }),
  });
  st.cards = r.cards;
});

test('data.getCardBalance (§5.5 card balance)', async () => {
  const u = need(st.good, 'user_good token');
  const cardID = st.cards?.[0]?.id ?? 'no-card-from-getCards';
  await call(`data.getCardBalance`, () => app.data.getCardBalance(u.token, u.userSecret, cardID), 'done', {
    payload: (P, r) => S.obj(P, r, 'balance', 'response', S.cardBalance),
  });
  need(st.cards?.[0], 'a card from getCards');
});

test('data.getCardTransactions: one month (§5.5 transactions)', async () => {
  const u = need(st.good, 'user_good token');
  const cardID = st.cards?.[0]?.id ?? 'no-card-from-getCards';
  await call(
    'data.getCardTransactions',
    () => app.data.getCardTransactions(u.token, u.userSecret, cardID, utcDay(-30), utcDay(0)),
    'done',
    { payload: (P, r) => S.arr(P, r, 'transactions', 'response', S.transaction) },
  );
  need(st.cards?.[0], 'a card from getCards');
});

test('metadata.getAccountsMetadata (§5.5 accountsMetadata)', async () => {
  const u = need(st.good, 'user_good token');
  const m = mark();
  const r = await app.metadata.getAccountsMetadata(u.token, u.userSecret);
  // Kept even if the checks below fail: the helper tests feed the server's
  // validators to the SDK's own validation helpers.
  st.meta = S.isObject(r?.accountsMetadata) ? r.accountsMetadata : undefined;
  check('metadata.getAccountsMetadata', m, r, 'done', {
    payload: (P, r) => S.obj(P, r, 'accountsMetadata', 'response', S.accountsMetadata),
  });
});

test('SDK helpers accept the server\'s validators (module exports)', async (t) => {
  await t.test('validateCreateTransferRemarks (a no-op in 2.3.2)', () => {
    assert.equal(helpers.validateCreateTransferRemarks(), undefined);
  });
  const validators = st.meta?.validators;
  await t.test('validateCreateBeneficiary: a valid local beneficiary passes', () => {
    need(validators, 'accountsMetadata.validators');
    const b = newBeneficiary('Jane Doe');
    try {
      helpers.validateCreateBeneficiary(validators, b);
    } catch (err) {
      assert.fail(
        `validateCreateBeneficiary threw ${err.type || err.name}: ${err.message}\n` +
          `validators.createBeneficiary.local = ${JSON.stringify(validators.createBeneficiary?.local)}\n` +
          `beneficiary = ${JSON.stringify(b)}`,
      );
    }
    // ...and the validators mean something: a special character is refused.
    assert.throws(
      () => helpers.validateCreateBeneficiary(validators, { ...newBeneficiary('Jane #Doe'), address: { ...b.address } }),
      (err) => err.type === 'PARAMETER_ERROR',
      'a name with "#" passed validateCreateBeneficiary (or failed with something else than PARAMETER_ERROR)',
    );
  });
  await t.test('truncateCreateBeneficiary: an over-long name is cut to validators.local.name.length', () => {
    need(validators, 'accountsMetadata.validators');
    const max = validators.createBeneficiary.local.name.length;
    assert.ok(Number.isInteger(max) && max > 0, `validators.createBeneficiary.local.name.length = ${max}`);
    const b = newBeneficiary('Abcdefghij Klmnopqrst Uvwxyzabcd Efghijklmn Opqrstuvwx Yzabcdefgh Ijklmnopqr');
    let out;
    try {
      out = helpers.truncateCreateBeneficiary(validators, b);
    } catch (err) {
      assert.fail(
        `truncateCreateBeneficiary threw ${err.type || err.name}: ${err.message}\n` +
          `validators.createBeneficiary.local = ${JSON.stringify(validators.createBeneficiary?.local)}`,
      );
    }
    assert.ok(out.name.length <= max, `name still ${out.name.length} > ${max} characters`);
  });
});

test('payment.getBeneficiaries (§5.5 beneficiaries)', async () => {
  const u = need(st.good, 'user_good token');
  const r = await call('payment.getBeneficiaries', () => app.payment.getBeneficiaries(u.token, u.userSecret), 'done', {
    payload: (P, r) => S.arr(P, r, 'beneficiaries', 'response', S.beneficiary),
  });
  st.beneficiaries = r.beneficiaries;
});

test('payment.createBeneficiary: created, listed, duplicate refused (§5.1 #13, §4.1)', async (t) => {
  const u = need(st.good, 'user_good token');
  const b = newBeneficiary('John Smith');
  st.createdBen = b;
  await call('payment.createBeneficiary', () => app.payment.createBeneficiary({ ...b, address: { ...b.address } }, u.token, u.userSecret));
  await t.test('the new beneficiary is listed', async () => {
    const r = await call('payment.getBeneficiaries after create', () => app.payment.getBeneficiaries(u.token, u.userSecret), 'done', {
      payload: (P, r) => S.arr(P, r, 'beneficiaries', 'response', S.beneficiary),
    });
    const found = r.beneficiaries.find((x) => x.iban === b.iban || x.accountNumber === b.accountNumber);
    assert.ok(found, `created beneficiary (iban ${b.iban}) not in getBeneficiaries`);
    assert.equal(found.name, b.name);
  });
  await t.test('creating it again: BENEFICIARY_ALREADY_EXISTS', async () => {
    await call('payment.createBeneficiary duplicate', () => app.payment.createBeneficiary({ ...b, address: { ...b.address } }, u.token, u.userSecret), 'failed', {
      types: ['BENEFICIARY_ALREADY_EXISTS'],
    });
  });
});

test('payment.createTransfer to an existing beneficiary: balance drops by the amount', async () => {
  const u = need(st.good, 'user_good token');
  const accounts = st.accounts || [];
  const ben = (st.beneficiaries || []).find((b) => b.status === 'approved');
  const sender = pickSender(accounts, 100) || { id: 'no-account-from-getAccounts', currency: { code: 'AED' } };
  const amount = round2(minimumFor(ben?.type || 'local', sender.currency.code) + 10.25);
  // The transfer is made even if the balance read fails, so that the
  // transfer endpoint is exercised (and reported) on its own.
  let before, beforeErr;
  try {
    before = await balanceOf(u, sender.id, 'before transfer');
  } catch (err) {
    beforeErr = err;
  }
  const r = await call(
    `payment.createTransfer ${amount} ${sender.currency.code}`,
    () => app.payment.createTransfer({ senderID: sender.id, receiverID: ben?.id ?? 'no-approved-beneficiary', amount, remark: 'compat test' }, u.token, u.userSecret),
    'done',
    { payload: S.transferResult },
  );
  need(st.accounts, 'accounts from getAccounts');
  if (beforeErr) throw beforeErr;
  assert.ok(ben, `user_good has no approved beneficiary to pay (getBeneficiaries returned ${JSON.stringify(st.beneficiaries)})`);
  st.transferOp = r.operationID;
  st.transferRef = r.reference;
  const afterBal = await balanceOf(u, sender.id, 'after transfer');
  assert.equal(round2(before - afterBal), amount, `balance ${before} -> ${afterBal}: dropped by ${round2(before - afterBal)}, want ${amount}`);
});

test('operation.getOperationStatus after a transfer (§5.1 #24, no Authorization)', async (t) => {
  const opID = st.transferOp ?? 'no-operation-from-createTransfer';
  const m = mark();
  const r = await app.operation.getOperationStatus(opID);
  const xs = since(m);
  check('operation.getOperationStatus', m, r, 'done', {
    allowNull: ['response.opInfo.transferDetails'],
    payload: (P, r) => {
      S.obj(P, r, 'opInfo', 'response', (P, o, p) => {
        S.str(P, o, 'type', p, { nonEmpty: true });
        S.str(P, o, 'status', p, { oneOf: S.STATUSES });
        S.str(P, o, 'startDate', p);
        S.str(P, o, 'endDate', p, { opt: true });
        S.str(P, o, 'errorType', p, { opt: true });
      }, { opt: true });
    },
  });
  need(st.transferOp, 'operationID of createTransfer');
  assert.equal(r.operationID, opID, 'operationID differs from the one asked for');
  assert.ok(!Object.keys(xs[0]?.reqHeaders || {}).some((h) => /^authorization$/i.test(h)), 'the SDK sent Authorization');
  await t.test('unknown operationID: a failed envelope', async () => {
    await call('operation.getOperationStatus unknown', () => app.operation.getOperationStatus('EBILAEAD:00000000-0000-0000-0000-000000000000'), 'failed');
  });
});

test('payment.transferAutoFlow (§5.1 #15)', async (t) => {
  const u = need(st.good, 'user_good token');
  const accounts = need(st.accounts, 'accounts from getAccounts');
  const sender = pickSender(accounts, 100);
  await t.test('to the details of an existing approved beneficiary: done, balance drops', async () => {
    const ben = (st.beneficiaries || []).find((b) => b.status === 'approved');
    const amount = round2(minimumFor(ben?.type || 'local', sender.currency.code) + 5.5);
    const before = await balanceOf(u, sender.id, 'before autoflow');
    const beneficiary = {
      name: ben?.name ?? 'Missing Beneficiary',
      iban: ben?.iban ?? '',
      accountNumber: ben?.accountNumber ?? '',
      country: 'UNITED ARAB EMIRATES',
      branchAddress: 'Deira Dubai',
      branchName: 'Main Branch',
      address: { line1: 'Baniyas Road', line2: 'Dubai', line3: 'United Arab Emirates' },
    };
    await call(
      `payment.transferAutoFlow ${amount} to existing`,
      () => app.payment.transferAutoFlow({ senderID: sender.id, amount, beneficiary }, u.token, u.userSecret),
      'done',
      { payload: S.transferResult },
    );
    need(ben, 'an approved beneficiary from getBeneficiaries');
    const afterBal = await balanceOf(u, sender.id, 'after autoflow');
    assert.equal(round2(before - afterBal), amount, `balance ${before} -> ${afterBal}, want a drop of ${amount}`);
  });
  await t.test('to a new beneficiary: done with reference, or BENEFICIARY_COOL_DOWN_PERIOD with coolDownPeriod', async () => {
    const b = newBeneficiary('Autoflow Payee');
    delete b.type;
    delete b.nickname;
    const amount = round2(minimumFor('local', sender.currency.code) + 3);
    const m = mark();
    const r = await app.payment.transferAutoFlow({ senderID: sender.id, amount, beneficiary: b }, u.token, u.userSecret);
    if (r && r.status === 'failed' && r.type === 'BENEFICIARY_COOL_DOWN_PERIOD') {
      check('payment.transferAutoFlow new beneficiary (cool-down)', m, r, 'failed', {
        payload: () => {},
      });
      const P = new S.Problems();
      S.obj(P, r, 'coolDownPeriod', 'response', S.coolDown);
      S.report(P, `payment.transferAutoFlow cool-down answer (§4.1: coolDownPeriod{value,unit} next to the type)\n${formatSince(m)}`);
    } else {
      check('payment.transferAutoFlow new beneficiary', m, r, 'done', { payload: S.transferResult });
    }
    t.diagnostic(`transferAutoFlow to a new beneficiary: ${r.status}${r.type ? ' ' + r.type : ''}`);
  });
});

test('batch product (§5.3): well-formed envelopes; payload shapes when done', async (t) => {
  const u = need(st.good, 'user_good token');
  const acc = st.accounts?.[0] ?? { id: 'no-account', iban: 'AE070331234567890123456', number: '1234567890123456' };
  const item = {
    type: 'local',
    amount: 12.5,
    currency: acc.currency?.code || 'AED',
    remark: 'compat test',
    beneficiary: { name: 'Batch Payee', iban: makeIBAN('AE', '0350000000047119999'), accountNumber: '0000000047119999', country: 'AE', swiftCode: 'NBADAEAA' },
  };
  // A batch endpoint may answer a clear failed envelope (NOT_IMPLEMENTED)
  // until the server implements it.
  async function batchCall(label, fn, payload) {
    const m = mark();
    const r = await fn();
    const want = S.isObject(r) && r.status === 'failed' ? 'failed' : 'done';
    check(label, m, r, want, { payload });
    if (want === 'failed') t.diagnostic(`${label}: failed ${r.type}: ${r.msg}`);
    return r;
  }
  await t.test('batch.getMetadata', () =>
    batchCall('batch.getMetadata', () => app.batch.getMetadata(u.token, u.userSecret), (P, r) => S.obj(P, r, 'metadata', 'response', S.batchMetadata)));
  let ref = 'no-batch-reference';
  await t.test('batch.getTransfers', async () => {
    const r = await batchCall('batch.getTransfers', () => app.batch.getTransfers(u.token, u.userSecret, utcDay(-30), utcDay(0)), (P, r) =>
      S.arr(P, r, 'transfers', 'response', S.batchTransfer));
    if (r.transfers?.[0]?.reference) ref = r.transfers[0].reference;
  });
  await t.test('batch.createFile', () =>
    batchCall('batch.createFile', () => app.batch.createFile(u.token, u.userSecret, { iban: acc.iban, accountNumber: acc.number }, 'local', [item]), (P, r) => {
      S.str(P, r, 'fileContent', 'response');
      S.str(P, r, 'fileExtension', 'response');
      S.obj(P, r, 'details', 'response', S.batchDetails);
    }));
  await t.test('batch.createTransfer', async () => {
    const r = await batchCall('batch.createTransfer', () => app.batch.createTransfer(u.token, u.userSecret, acc.id, 'local', [item], 'compat test'), (P, r) =>
      S.obj(P, r, 'details', 'response', (P, d, p) => {
        S.batchDetails(P, d, p);
        S.str(P, d, 'stage', p, { oneOf: S.BATCH_STAGES });
        S.str(P, d, 'reference', p);
      }));
    if (r.details?.reference) ref = r.details.reference;
  });
  await t.test('batch.getItems', () =>
    batchCall('batch.getItems', () => app.batch.getItems(u.token, u.userSecret, ref), (P, r) =>
      S.obj(P, r, 'transfers', 'response', (P, d, p) => {
        S.str(P, d, 'stage', p, { oneOf: S.BATCH_STAGES });
        S.arr(P, d, 'items', p);
        S.str(P, d, 'reference', p);
      })));
});

test('app.handleSDKDapiRequests: DD forwarding to POST / (§8)', async (t) => {
  // Until POST / exists the server answers a failed envelope (e.g.
  // ENDPOINT_NOT_FOUND); the SDK then returns that body. Once forwarding
  // answers, the results are checked strictly.
  let forwarding = true;
  function notServed(r) {
    return S.isObject(r) && r.status === 'failed' && ['ENDPOINT_NOT_FOUND', 'NOT_IMPLEMENTED'].includes(r.type);
  }
  await t.test('Bearer header + action /data/identity/get (the §8.1 example shape)', async () => {
    const u = need(st.good, 'user_good token');
    const m = mark();
    const r = await app.handleSDKDapiRequests(
      { action: '/data/identity/get', userSecret: u.userSecret },
      { Authorization: `Bearer ${u.token}`, 'X-Custom': 'c' },
    );
    const xs = since(m);
    assert.equal(xs[0]?.path, '/', 'the SDK did not POST to DEPLOY_WITH_DAPI_URL');
    if (notServed(r)) {
      forwarding = false;
      check('app.handleSDKDapiRequests (not served yet)', m, r, 'failed');
      t.diagnostic(`POST / is not served: ${r.type}: ${r.msg}`);
      return;
    }
    check('app.handleSDKDapiRequests identity', m, r, 'done', { payload: (P, r) => S.obj(P, r, 'identity', 'response', S.identity) });
  });
  await t.test('tokenID custody: exchange through DD (no accessToken returned), then accounts by tokenID', async () => {
    const l = await login('user_good');
    const m = mark();
    const ex = await app.handleSDKDapiRequests(
      { action: '/auth/ExchangeToken', appKey: st.appInfo.appKey, accessCode: l.accessCode, connectionID: l.connectionID },
      {},
    );
    if (!forwarding || notServed(ex)) {
      check('app.handleSDKDapiRequests exchange (not served yet)', m, ex, 'failed');
      t.diagnostic(`POST / is not served: ${ex.type}`);
      return;
    }
    check('app.handleSDKDapiRequests /auth/ExchangeToken', m, ex, 'done', {
      payload: (P, r) => {
        S.str(P, r, 'tokenID', 'response', { nonEmpty: true });
        S.str(P, r, 'userID', 'response', { nonEmpty: true });
        if ('accessToken' in r) P.add('response.accessToken', 'present: DD keeps the token server-side (§8.2 Token custody)');
      },
    });
    const r = await call(
      'app.handleSDKDapiRequests /data/accounts/get by tokenID',
      () => app.handleSDKDapiRequests({ action: '/data/accounts/get', tokenID: ex.tokenID, userID: ex.userID, userSecret: l.userSecret }, {}),
      'done',
      { payload: (P, r) => S.arr(P, r, 'accounts', 'response', S.account, { nonEmpty: true }) },
    );
    assert.ok(r.accounts.length > 0);
  });
});

test('app.verifyWebhookSignature (client-side HMAC helper, §13)', () => {
  const secretKey = 'whsec_compat';
  const body = JSON.stringify({ event: 'transfer.done', operationID: 'op-1' });
  const ts = '1700000000';
  const sig = crypto.createHmac('sha256', secretKey).update(ts + body).digest('base64');
  assert.equal(app.verifyWebhookSignature(body, { 'dapi-ts': ts, 'dapi-signature': sig }, secretKey), true);
  assert.equal(app.verifyWebhookSignature(body + ' ', { 'dapi-ts': ts, 'dapi-signature': sig }, secretKey), false);
});

test('auth.delinkUser is a no-op in the SDK: returns undefined, sends nothing, token keeps working', async () => {
  const u = need(st.good, 'user_good token');
  const m = mark();
  const r = await app.auth.delinkUser(u.userSecret, st.appInfo.appSecret);
  assert.equal(r, undefined);
  assert.equal(since(m).length, 0, `delinkUser sent ${since(m).length} request(s)`);
  await call('data.getIdentity after SDK delinkUser', () => app.data.getIdentity(u.token, u.userSecret), 'done', {
    payload: (P, r) => S.obj(P, r, 'identity', 'response', S.identity),
  });
});

test('MFA on a data call (user_data_mfa): user_input_required, resumed with the otp (§7)', async (t) => {
  const u = await connect('user_data_mfa');
  const first = await call('data.getAccounts user_data_mfa', () => app.data.getAccounts(u.token, u.userSecret), 'user_input_required');
  const otp = first.userInputs.find((x) => x.id === 'otp');
  assert.ok(otp, `no otp among userInputs ${JSON.stringify(first.userInputs)}`);
  assert.equal(otp.index, 0);
  const r = await call(
    'data.getAccounts resume',
    () => app.data.getAccounts(u.token, u.userSecret, first.operationID, answersFor(first.userInputs)),
    'done',
    { payload: (P, r) => S.arr(P, r, 'accounts', 'response', S.account, { nonEmpty: true }) },
  );
  assert.equal(r.operationID, first.operationID, 'the resumed call should keep the operationID');
  await t.test('transactions: otp asked (at most once) and answered', async () => {
    const acc = r.accounts[0];
    const from = utcDay(-30);
    const to = utcDay(0);
    let m = mark();
    let res = await app.data.getAccountTransactions(u.token, u.userSecret, acc.id, from, to);
    if (S.isObject(res) && res.status === 'user_input_required') {
      check('data.getAccountTransactions user_data_mfa', m, res, 'user_input_required');
      const opID = res.operationID;
      m = mark();
      res = await app.data.getAccountTransactions(u.token, u.userSecret, acc.id, from, to, opID, answersFor(res.userInputs));
    }
    check('data.getAccountTransactions user_data_mfa (resumed)', m, res, 'done', {
      payload: (P, r) => S.arr(P, r, 'transactions', 'response', S.transaction),
    });
  });
  await t.test('a wrong otp: INVALID_MFA', async () => {
    const u2 = await connect('user_data_mfa');
    const q = await call('data.getAccounts user_data_mfa (2)', () => app.data.getAccounts(u2.token, u2.userSecret), 'user_input_required');
    await call(
      'data.getAccounts resume with a wrong otp',
      () => app.data.getAccounts(u2.token, u2.userSecret, q.operationID, answersFor(q.userInputs, { otp: '000000' })),
      'failed',
      { types: ['INVALID_MFA'] },
    );
  });
});

test('MFA on payments (user_transfer_mfa): transfer and beneficiary creation ask an otp (§7)', async (t) => {
  const u = await connect('user_transfer_mfa');
  const accounts = (
    await call('data.getAccounts user_transfer_mfa', () => app.data.getAccounts(u.token, u.userSecret), 'done', {
      payload: (P, r) => S.arr(P, r, 'accounts', 'response', S.account, { nonEmpty: true }),
    })
  ).accounts;
  const sender = pickSender(accounts, 100);
  await t.test('createBeneficiary: otp, then done', async () => {
    const b = newBeneficiary('Mfa Payee');
    const q = await call('payment.createBeneficiary user_transfer_mfa', () => app.payment.createBeneficiary({ ...b }, u.token, u.userSecret), 'user_input_required');
    await call(
      'payment.createBeneficiary resume',
      () => app.payment.createBeneficiary({ ...b }, u.token, u.userSecret, q.operationID, answersFor(q.userInputs)),
      'done',
    );
  });
  await t.test('createTransfer to an existing beneficiary: otp, then done; balance drops; operation status done', async () => {
    const bens = (
      await call('payment.getBeneficiaries user_transfer_mfa', () => app.payment.getBeneficiaries(u.token, u.userSecret), 'done', {
        payload: (P, r) => S.arr(P, r, 'beneficiaries', 'response', S.beneficiary),
      })
    ).beneficiaries;
    const ben = bens.find((b) => b.status === 'approved');
    assert.ok(ben, `user_transfer_mfa has no approved beneficiary (got ${JSON.stringify(bens)})`);
    const amount = round2(minimumFor(ben.type, sender.currency.code) + 7.75);
    const before = await balanceOf(u, sender.id, 'user_transfer_mfa before');
    const transfer = { senderID: sender.id, receiverID: ben.id, amount, remark: 'compat mfa' };
    const q = await call('payment.createTransfer user_transfer_mfa', () => app.payment.createTransfer({ ...transfer }, u.token, u.userSecret), 'user_input_required');
    const mid = await balanceOf(u, sender.id, 'user_transfer_mfa while the otp is pending');
    assert.equal(mid, before, 'money moved before the otp was answered');
    const r = await call(
      'payment.createTransfer resume',
      () => app.payment.createTransfer({ ...transfer }, u.token, u.userSecret, q.operationID, answersFor(q.userInputs)),
      'done',
      { payload: S.transferResult },
    );
    assert.equal(r.operationID, q.operationID, 'the resumed transfer should keep the operationID');
    const afterBal = await balanceOf(u, sender.id, 'user_transfer_mfa after');
    assert.equal(round2(before - afterBal), amount, `balance ${before} -> ${afterBal}, want a drop of ${amount}`);
    const s = await call('operation.getOperationStatus (MFA transfer)', () => app.operation.getOperationStatus(q.operationID), 'done', {
      allowNull: ['response.opInfo.transferDetails'],
    });
    assert.equal(s.operationID, q.operationID);
  });
  await t.test('transferAutoFlow: otp, then done (or cool-down)', async () => {
    const b = newBeneficiary('Mfa Autoflow');
    delete b.type;
    const transfer = { senderID: sender.id, amount: round2(minimumFor('local', sender.currency.code) + 2.5), beneficiary: b };
    const q = await call('payment.transferAutoFlow user_transfer_mfa', () => app.payment.transferAutoFlow({ ...transfer }, u.token, u.userSecret), 'user_input_required');
    const m = mark();
    const r = await app.payment.transferAutoFlow({ ...transfer }, u.token, u.userSecret, q.operationID, answersFor(q.userInputs));
    if (S.isObject(r) && r.status === 'failed' && r.type === 'BENEFICIARY_COOL_DOWN_PERIOD') {
      check('payment.transferAutoFlow resume (cool-down)', m, r, 'failed');
      const P = new S.Problems();
      S.obj(P, r, 'coolDownPeriod', 'response', S.coolDown);
      S.report(P, formatSince(m));
    } else {
      check('payment.transferAutoFlow resume', m, r, 'done', { payload: S.transferResult });
    }
  });
});

test('errors (§15.1, §4.1)', async (t) => {
  await t.test('wrong appSecret: INVALID_APP_CREDENTIALS (data call, exchange, operation status)', async () => {
    const u = need(st.good, 'user_good token');
    const bad = instrument(new DapiApp({ appSecret: 'bgas_' + 'x'.repeat(43) }));
    await call('data.getAccounts with a wrong appSecret', () => bad.data.getAccounts(u.token, u.userSecret), 'failed', {
      types: ['INVALID_APP_CREDENTIALS'],
    });
    const l = await login('user_good');
    await call('auth.exchangeToken with a wrong appSecret', () => bad.auth.exchangeToken(l.accessCode, l.connectionID), 'failed', {
      types: ['INVALID_APP_CREDENTIALS'],
    });
    await call('operation.getOperationStatus with a wrong appSecret', () => bad.operation.getOperationStatus(st.transferOp ?? 'op-1'), 'failed', {
      types: ['INVALID_APP_CREDENTIALS'],
    });
  });
  await t.test('garbage token: INVALID_TOKEN', async () => {
    const u = need(st.good, 'user_good token');
    await call('data.getIdentity with a garbage token', () => app.data.getIdentity('garbage-token', u.userSecret), 'failed', {
      types: ['INVALID_TOKEN'],
    });
  });
  await t.test('wrong userSecret: INVALID_USER_SECRET', async () => {
    const u = need(st.good, 'user_good token');
    await call('data.getAccounts with a wrong userSecret', () => app.data.getAccounts(u.token, 'bgus_' + 'y'.repeat(43)), 'failed', {
      types: ['INVALID_USER_SECRET'],
    });
  });
  await t.test('access code reused: INVALID_ACCESS_CODE, and the first token is revoked (§15.2)', async () => {
    const u = await connect('user_good');
    await call('auth.exchangeToken reused code', () => app.auth.exchangeToken(u.login.accessCode, u.login.connectionID), 'failed', {
      types: ['INVALID_ACCESS_CODE'],
    });
    await call('data.getIdentity with the revoked token', () => app.data.getIdentity(u.token, u.userSecret), 'failed', {
      types: ['INVALID_TOKEN'],
    });
  });
  await t.test('delinked user (raw POST /v2/users/DelinkUser): USER_DELINKED', async () => {
    const u = await connect('user_good');
    const m = mark();
    const d = await post(server.baseURL, '/v2/users/DelinkUser', { appSecret: st.appInfo.appSecret, userSecret: u.userSecret }, {
      Authorization: `Bearer ${u.token}`,
    });
    check('POST /v2/users/DelinkUser', m, d.body, 'done');
    await call('data.getAccounts after delink', () => app.data.getAccounts(u.token, u.userSecret), 'failed', { types: ['USER_DELINKED'] });
    await call('data.getIdentity after delink', () => app.data.getIdentity(u.token, u.userSecret), 'failed', { types: ['USER_DELINKED'] });
  });
  await t.test('insufficient balance: INSUFFICIENT_BALANCE', async () => {
    const u = need(st.good, 'user_good token');
    const accounts = need(st.accounts, 'accounts from getAccounts');
    const ben = need((st.beneficiaries || []).find((b) => b.status === 'approved'), 'an approved beneficiary');
    const sender = pickSender(accounts, 0);
    const bal = await balanceOf(u, sender.id, 'before an over-balance transfer');
    const amount = round2(Math.floor(bal) + 1000.5);
    await call(
      `payment.createTransfer ${amount} (balance ${bal})`,
      () => app.payment.createTransfer({ senderID: sender.id, receiverID: ben.id, amount, remark: 'too much' }, u.token, u.userSecret),
      'failed',
      { types: ['INSUFFICIENT_BALANCE'] },
    );
    assert.equal(await balanceOf(u, sender.id, 'after a refused transfer'), bal, 'a refused transfer moved money');
  });
  await t.test('date range: fromDate after toDate → INVALID_DATE_RANGE or PARAMETER_ERROR', async () => {
    const u = need(st.good, 'user_good token');
    const acc = need(st.accounts?.[0], 'an account');
    await call('data.getAccountTransactions from > to', () => app.data.getAccountTransactions(u.token, u.userSecret, acc.id, utcDay(0), utcDay(-30)), 'failed', {
      types: ['INVALID_DATE_RANGE', 'PARAMETER_ERROR'],
    });
  });
  await t.test('date range beyond metadata transactionRange → INVALID_DATE_RANGE (§11)', async () => {
    const u = need(st.good, 'user_good token');
    const acc = need(st.accounts?.[0], 'an account');
    const days = Number.isInteger(st.meta?.transactionRange?.value) ? st.meta.transactionRange.value : 3650;
    await call(
      `data.getAccountTransactions over ${days + 40} days (transactionRange ${days})`,
      () => app.data.getAccountTransactions(u.token, u.userSecret, acc.id, utcDay(-(days + 40)), utcDay(0)),
      'failed',
      { types: ['INVALID_DATE_RANGE'] },
    );
  });
  await t.test('moment "Invalid date" in fromDate/toDate: a failed envelope, and the server survives (§5.3)', async () => {
    const u = need(st.good, 'user_good token');
    const acc = st.accounts?.[0]?.id ?? 'no-account';
    const m = mark();
    const r = await app.data.getAccountTransactions(u.token, u.userSecret, acc, '31/12/2024', 'yesterday');
    const sent = since(m)[0]?.reqBody;
    assert.equal(sent?.fromDate, 'Invalid date', 'the SDK did not send moment\'s "Invalid date"');
    check('data.getAccountTransactions "Invalid date"', m, r, 'failed', { types: ['PARAMETER_ERROR', 'INVALID_DATE_RANGE'] });
    const m2 = mark();
    const c = await app.data.getCardTransactions(u.token, u.userSecret, st.cards?.[0]?.id ?? 'no-card', 'not a date', new Date(NaN));
    check('data.getCardTransactions "Invalid date"', m2, c, 'failed', { types: ['PARAMETER_ERROR', 'INVALID_DATE_RANGE'] });
    const m3 = mark();
    const b = await app.batch.getTransfers(u.token, u.userSecret, 'garbage', 'garbage');
    check('batch.getTransfers "Invalid date"', m3, b, 'failed');
    assert.ok(await server.alive(), 'the server is not answering /healthz after "Invalid date" requests');
    await call('data.getIdentity after "Invalid date"', () => app.data.getIdentity(u.token, u.userSecret), 'done');
  });
  await t.test('unknown accountID / cardID: INVALID_ACCOUNT_ID / INVALID_CARD_ID', async () => {
    const u = need(st.good, 'user_good token');
    await call('data.getAccountBalance unknown account', () => app.data.getAccountBalance(u.token, u.userSecret, 'no-such-account'), 'failed', {
      types: ['INVALID_ACCOUNT_ID'],
    });
    await call('data.getCardBalance unknown card', () => app.data.getCardBalance(u.token, u.userSecret, 'no-such-card'), 'failed', {
      types: ['INVALID_CARD_ID'],
    });
  });
  await t.test('user_empty: accounts is an empty array', async () => {
    const u = await connect('user_empty');
    const r = await call('data.getAccounts user_empty', () => app.data.getAccounts(u.token, u.userSecret), 'done', {
      payload: (P, r) => S.arr(P, r, 'accounts', 'response'),
    });
    assert.deepEqual(r.accounts, []);
  });
});

test('every public SDK method was called', () => {
  const s = summary();
  assert.deepEqual(s.missing, [], `public SDK methods never called: ${s.missing.join(', ')}`);
});
