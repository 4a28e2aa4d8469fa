// Strict shape checks for Dapi v2 responses, after the wire spec
// (/work/shared/spec/dapi-v2-wire.md §3 envelope, §5.5 payloads, §7 MFA).
// Each checker appends human-readable problems "<path>: <what>" to a list
// instead of throwing, so a failure shows every violation at once.

export const STATUSES = ['done', 'failed', 'user_input_required', 'initialized'];
const INPUT_IDS = ['otp', 'secret_question', 'captcha', 'pin', 'confirmation', 'token', 'multiple_choice'];
const ISO_MILLIS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export class Problems {
  constructor() {
    this.list = [];
  }
  add(path, what) {
    this.list.push(`${path}: ${what}`);
  }
  get ok() {
    return this.list.length === 0;
  }
}

function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function show(v) {
  const s = JSON.stringify(v);
  return s && s.length > 80 ? s.slice(0, 77) + '...' : s;
}

export function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Field helpers. `opt` = the key may be absent (never null).
export function str(P, o, k, path, { opt = false, nonEmpty = false, oneOf, pattern } = {}) {
  const p = `${path}.${k}`;
  if (!isObject(o)) return;
  if (!(k in o)) {
    if (!opt) P.add(p, 'missing (want string)');
    return;
  }
  const v = o[k];
  if (typeof v !== 'string') return P.add(p, `want string, got ${typeName(v)} ${show(v)}`);
  if (nonEmpty && v === '') P.add(p, 'empty string');
  if (oneOf && !oneOf.includes(v)) P.add(p, `${show(v)} not one of ${oneOf.join('|')}`);
  if (pattern && !pattern.test(v)) P.add(p, `${show(v)} does not match ${pattern}`);
}

export function num(P, o, k, path, { opt = false, min } = {}) {
  const p = `${path}.${k}`;
  if (!isObject(o)) return;
  if (!(k in o)) {
    if (!opt) P.add(p, 'missing (want number)');
    return;
  }
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) return P.add(p, `want JSON number, got ${typeName(v)} ${show(v)}`);
  if (min !== undefined && v < min) P.add(p, `${v} < ${min}`);
}

export function int(P, o, k, path, { opt = false, min } = {}) {
  const p = `${path}.${k}`;
  if (!isObject(o)) return;
  if (!(k in o)) {
    if (!opt) P.add(p, 'missing (want integer)');
    return;
  }
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v)) return P.add(p, `want integer, got ${typeName(v)} ${show(v)}`);
  if (min !== undefined && v < min) P.add(p, `${v} < ${min}`);
}

export function bool(P, o, k, path, { opt = false } = {}) {
  const p = `${path}.${k}`;
  if (!isObject(o)) return;
  if (!(k in o)) {
    if (!opt) P.add(p, 'missing (want boolean)');
    return;
  }
  if (typeof o[k] !== 'boolean') P.add(p, `want boolean, got ${typeName(o[k])} ${show(o[k])}`);
}

export function obj(P, o, k, path, check, { opt = false } = {}) {
  const p = `${path}.${k}`;
  if (!isObject(o)) return;
  if (!(k in o)) {
    if (!opt) P.add(p, 'missing (want object)');
    return;
  }
  if (!isObject(o[k])) return P.add(p, `want object, got ${typeName(o[k])} ${show(o[k])}`);
  if (check) check(P, o[k], p);
}

export function arr(P, o, k, path, check, { opt = false, nonEmpty = false } = {}) {
  const p = `${path}.${k}`;
  if (!isObject(o)) return;
  if (!(k in o)) {
    if (!opt) P.add(p, 'missing (want array)');
    return;
  }
  const v = o[k];
  if (!Array.isArray(v)) return P.add(p, `want array, got ${typeName(v)} ${show(v)}`);
  if (nonEmpty && v.length === 0) P.add(p, 'empty array');
  if (check) v.forEach((e, i) => check(P, e, `${p}[${i}]`));
}

// noNulls: §3.2 / rule 10 "omit absent values instead of sending null".
export function noNulls(P, v, path, allow = []) {
  if (allow.includes(path)) return;
  if (v === null) return P.add(path, 'null (absent values must be omitted, spec §3.2)');
  if (Array.isArray(v)) v.forEach((e, i) => noNulls(P, e, `${path}[${i}]`, allow));
  else if (isObject(v)) for (const [k, e] of Object.entries(v)) noNulls(P, e, `${path}.${k}`, allow);
}

export function currency(P, c, path) {
  if (!isObject(c)) return P.add(path, `want {code,name}, got ${typeName(c)}`);
  str(P, c, 'code', path, { nonEmpty: true, pattern: /^[A-Z]{3}$/ });
  str(P, c, 'name', path, { nonEmpty: true });
}

// envelope: §3.1, §3.2, the "What a compatible server must do" list 8-12.
export function envelope(P, r, path = 'response') {
  if (!isObject(r)) {
    P.add(path, `not a JSON object envelope: ${typeName(r)} ${show(r)}`);
    return;
  }
  bool(P, r, 'success', path);
  str(P, r, 'status', path, { oneOf: STATUSES });
  str(P, r, 'operationID', path);
  if (typeof r.success === 'boolean' && typeof r.status === 'string') {
    if (r.status === 'failed' && r.success !== false) P.add(`${path}.success`, 'status "failed" with success true');
    if (r.status !== 'failed' && r.success !== true) P.add(`${path}.success`, `status "${r.status}" with success false`);
  }
  int(P, r, 'code', path, { opt: true });
  if (r.status === 'failed') {
    str(P, r, 'type', path, { nonEmpty: true });
    str(P, r, 'msg', path);
    if ('userInputs' in r) P.add(`${path}.userInputs`, 'present on a failed response');
  } else {
    if ('type' in r) P.add(`${path}.type`, `present (${show(r.type)}) on a ${r.status} response; only failures carry type`);
  }
  if (r.status === 'user_input_required') {
    arr(P, r, 'userInputs', path, userInput, { nonEmpty: true });
    str(P, r, 'operationID', path, { nonEmpty: true });
  } else if ('userInputs' in r && r.status !== 'failed') {
    P.add(`${path}.userInputs`, `present on a ${r.status} response`);
  }
}

export function userInput(P, u, path) {
  if (!isObject(u)) return P.add(path, `want object, got ${typeName(u)}`);
  str(P, u, 'id', path, { oneOf: INPUT_IDS });
  int(P, u, 'index', path, { min: 0 });
  str(P, u, 'query', path);
  str(P, u, 'queryType', path, { opt: true });
  str(P, u, 'answer', path, { opt: true });
}

// Checks the envelope and that status is `want` (and, for failures, type
// is one of `types`).
export function expectStatus(P, r, want, { types } = {}) {
  envelope(P, r);
  if (!isObject(r)) return;
  if (r.status !== want) {
    const extra = r.status === 'failed' ? ` (type ${show(r.type)}, msg ${show(r.msg)})` : '';
    P.add('response.status', `want ${show(want)}, got ${show(r.status)}${extra}`);
  }
  if (types && r.status === 'failed' && !types.includes(r.type)) {
    P.add('response.type', `want ${types.join(' or ')}, got ${show(r.type)}`);
  }
}

// ---- §5.5 payloads ----

export function exchange(P, r) {
  str(P, r, 'accessToken', 'response', { nonEmpty: true });
  str(P, r, 'tokenID', 'response', { nonEmpty: true });
  str(P, r, 'userID', 'response', { nonEmpty: true });
}

export function identity(P, id, path) {
  str(P, id, 'name', path, { nonEmpty: true });
  str(P, id, 'nationality', path);
  str(P, id, 'dateOfBirth', path);
  str(P, id, 'emailAddress', path);
  arr(P, id, 'numbers', path, (P, n, p) => {
    str(P, n, 'type', p, { oneOf: ['mobile', 'home', 'office', 'fax'] });
    str(P, n, 'value', p, { nonEmpty: true });
  });
  obj(P, id, 'address', path, (P, a, p) => {
    for (const k of ['flat', 'building', 'full', 'area', 'poBox', 'city', 'state', 'country']) str(P, a, k, p);
  });
  arr(P, id, 'identification', path, (P, n, p) => {
    str(P, n, 'type', p, { oneOf: ['passport', 'national_id', 'visa_number'] });
    str(P, n, 'value', p, { nonEmpty: true });
  });
}

export function accountBalance(P, b, path) {
  num(P, b, 'amount', path);
  obj(P, b, 'currency', path, currency);
  str(P, b, 'accountNumber', path, { nonEmpty: true });
}

export function account(P, a, path) {
  if (!isObject(a)) return P.add(path, `want object, got ${typeName(a)}`);
  str(P, a, 'id', path, { nonEmpty: true });
  str(P, a, 'name', path, { nonEmpty: true });
  str(P, a, 'type', path, { oneOf: ['current', 'savings', 'loan', 'credit', 'deposit', 'other'] });
  str(P, a, 'iban', path, { opt: true, nonEmpty: true });
  str(P, a, 'number', path, { nonEmpty: true });
  obj(P, a, 'currency', path, currency);
  bool(P, a, 'isFavourite', path);
  obj(P, a, 'balance', path, accountBalance);
}

export function cardBalance(P, b, path) {
  str(P, b, 'cardNumber', path, { nonEmpty: true });
  num(P, b, 'availableBalance', path);
  num(P, b, 'outstandingBalance', path);
  num(P, b, 'amountDue', path);
  str(P, b, 'dueDate', path);
  obj(P, b, 'currency', path, currency);
}

export function card(P, c, path) {
  if (!isObject(c)) return P.add(path, `want object, got ${typeName(c)}`);
  str(P, c, 'id', path, { nonEmpty: true });
  str(P, c, 'name', path);
  str(P, c, 'cardNumber', path, { nonEmpty: true });
  num(P, c, 'creditLimit', path);
  obj(P, c, 'currency', path, currency);
  str(P, c, 'type', path, { oneOf: ['credit'] });
  str(P, c, 'expiryDate', path);
  str(P, c, 'status', path, { oneOf: ['active', 'disabled', 'blocked'] });
  obj(P, c, 'balance', path, cardBalance);
}

export function transaction(P, t, path) {
  if (!isObject(t)) return P.add(path, `want object, got ${typeName(t)}`);
  num(P, t, 'amount', path);
  str(P, t, 'date', path, { pattern: ISO_MILLIS_UTC });
  str(P, t, 'type', path, { oneOf: ['credit', 'debit'] });
  str(P, t, 'description', path);
  str(P, t, 'details', path);
  obj(P, t, 'currency', path, currency);
  num(P, t, 'beforeAmount', path);
  num(P, t, 'afterAmount', path);
  str(P, t, 'reference', path);
}

export function beneficiary(P, b, path) {
  if (!isObject(b)) return P.add(path, `want object, got ${typeName(b)}`);
  str(P, b, 'id', path, { nonEmpty: true });
  str(P, b, 'name', path, { nonEmpty: true });
  str(P, b, 'iban', path);
  str(P, b, 'accountNumber', path);
  str(P, b, 'type', path, { oneOf: ['same', 'local', 'intl', 'own'] });
  str(P, b, 'status', path, {
    oneOf: ['approved', 'rejected', 'cancelled', 'waiting_for_confirmation', 'modified_for_pending_approval'],
  });
}

export function coolDown(P, c, path) {
  int(P, c, 'value', path, { min: 0 });
  str(P, c, 'unit', path, { nonEmpty: true });
}

export function transferResult(P, r) {
  str(P, r, 'reference', 'response', { nonEmpty: true });
  obj(P, r, 'coolDownPeriod', 'response', coolDown, { opt: true });
}

function validatorProps(P, v, path) {
  if (!isObject(v)) return P.add(path, `want ValidatorProps object, got ${typeName(v)}`);
  bool(P, v, 'required', path);
  bool(P, v, 'optional', path);
  int(P, v, 'length', path, { min: 0 });
  str(P, v, 'allowedCharacters', path);
  arr(P, v, 'attributes', path);
  allowedCharacters(P, v.allowedCharacters, `${path}.allowedCharacters`);
}

// allowedCharacters: spec §5.5 "a regex character class; Go wraps it as
// ^(<allowed>)*$" (dapi-go ValidatorProps.IsValid); dapi-node's helpers use it
// as a JS regex with String.match and compare match[0] with the whole value.
// So: empty, or a bracketed class (optionally quantified) valid in JS.
function allowedCharacters(P, a, path) {
  if (typeof a !== 'string' || a === '') return;
  try {
    new RegExp(a);
  } catch (err) {
    return P.add(path, `${show(a)} is not a valid regular expression (${err.message})`);
  }
  if (!/^\[(?:\\.|[^\]\\])+\][*+]?$/.test(a)) {
    P.add(path, `${show(a)} is not a regex character class (want e.g. "[a-zA-Z0-9 ]+"); dapi-go matches ^(${a})*$, which accepts only the literal text ${show(a)}`);
  }
}

function addressValidator(P, v, path) {
  if (!isObject(v)) return P.add(path, `want object, got ${typeName(v)}`);
  int(P, v, 'length', path, { min: 0 });
  for (const k of ['line1', 'line2', 'line3']) obj(P, v, k, path, validatorProps);
}

function beneficiaryValidators(P, v, path) {
  obj(P, v, 'name', path, validatorProps);
  for (const [k, e] of Object.entries(v)) {
    if (k === 'name') continue;
    if (k === 'address') addressValidator(P, e, `${path}.address`);
    else validatorProps(P, e, `${path}.${k}`);
  }
}

export function accountsMetadata(P, m, path) {
  str(P, m, 'swiftCode', path, { nonEmpty: true });
  str(P, m, 'sortCode', path, { opt: true });
  str(P, m, 'bankName', path, { nonEmpty: true });
  str(P, m, 'branchName', path);
  str(P, m, 'branchAddress', path);
  obj(P, m, 'address', path, (P, a, p) => {
    for (const k of ['line1', 'line2', 'line3']) str(P, a, k, p);
  });
  obj(P, m, 'country', path, (P, c, p) => {
    str(P, c, 'code', p, { nonEmpty: true });
    str(P, c, 'name', p, { nonEmpty: true });
  });
  bool(P, m, 'isCreateBeneficiaryEndpointRequired', path);
  bool(P, m, 'willNewlyAddedBeneficiaryExistBeforeCoolDownPeriod', path);
  arr(P, m, 'transferBounds', path, (P, b, p) => {
    int(P, b, 'minimum', p, { min: 0 });
    obj(P, b, 'currency', p, currency);
    str(P, b, 'type', p, { oneOf: ['same', 'local', 'intl'] });
  }, { nonEmpty: true });
  obj(P, m, 'beneficiaryCoolDownPeriod', path, (P, c, p) => {
    int(P, c, 'value', p, { min: 0 });
    str(P, c, 'unit', p, { oneOf: ['hrs'] });
  });
  obj(P, m, 'transactionRange', path, (P, c, p) => {
    int(P, c, 'value', p, { min: 1 });
    str(P, c, 'unit', p, { oneOf: ['days'] });
  });
  obj(P, m, 'validators', path, (P, v, p) => {
    obj(P, v, 'createBeneficiary', p, (P, cb, p2) => {
      obj(P, cb, 'local', p2, beneficiaryValidators);
      obj(P, cb, 'same', p2, beneficiaryValidators);
    });
    obj(P, v, 'createTransfer', p, (P, ct, p2) => {
      for (const t of ['local', 'same']) {
        obj(P, ct, t, p2, (P, x, p3) => obj(P, x, 'remarks', p3, validatorProps, { opt: true }));
      }
    });
  });
}

export const BATCH_STAGES = ['na', 'pending', 'waiting_for_verification', 'waiting_for_authorization', 'waiting_for_release', 'releasing', 'done', 'failed'];

export function batchMetadata(P, m, path) {
  for (const k of ['maxTotalTransferAmount', 'minTotalTransferAmount']) num(P, m, k, path);
  for (const k of ['filenameMaxChars', 'maxBatchTransfers']) int(P, m, k, path);
  obj(P, m, 'validators', path);
}

export function batchTransfer(P, t, path) {
  str(P, t, 'stage', path, { oneOf: BATCH_STAGES });
  str(P, t, 'date', path);
  str(P, t, 'reference', path);
  str(P, t, 'fileName', path);
}

export function batchDetails(P, d, path) {
  for (const k of ['numFailedItems', 'numPendingItems', 'numSucceededItems']) int(P, d, k, path, { min: 0 });
  arr(P, d, 'items', path, (P, it, p) => {
    str(P, it, 'status', p, { oneOf: ['na', 'failed', 'pending', 'succeeded'] });
    num(P, it, 'amount', p);
  });
}

// assertNoProblems throws an AssertionError-like error with the problems and
// the recorded exchange(s).
export function report(P, context) {
  if (P.ok) return;
  const err = new Error(`${P.list.length} spec violation(s):\n  - ${P.list.join('\n  - ')}\n${context}`);
  err.name = 'SpecViolation';
  err.stack = `${err.name}: ${err.message}`; // the exchange says more than a stack
  throw err;
}
