// Records every HTTP exchange (the SDK's axios calls and the suite's own
// fetch calls) so that a failing assertion can show the exact request and
// response. Secrets are replaced by labels in what is printed.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The axios instance the SDK itself uses (resolved from the SDK's location).
const sdkRequire = createRequire(require.resolve('@dapi-co/dapi-node'));
const axios = sdkRequire('axios');

export const REQUEST_TIMEOUT_MS = 20_000;

const log = [];
const secrets = new Map(); // value -> label

export function secret(value, label) {
  if (typeof value === 'string' && value.length >= 6) secrets.set(value, `<${label}>`);
  return value;
}

export function redact(v) {
  let s = typeof v === 'string' ? v : JSON.stringify(v);
  if (s === undefined) return 'undefined';
  // Longest first, so that a value containing another is replaced whole.
  for (const [val, label] of [...secrets].sort((a, b) => b[0].length - a[0].length)) {
    s = s.split(val).join(label);
  }
  return s;
}

export function mark() {
  return log.length;
}

export function since(m) {
  return log.slice(m);
}

export function last() {
  return log[log.length - 1];
}

export function formatExchange(x) {
  if (!x) return '(no HTTP exchange recorded)';
  const hdrs = Object.entries(x.reqHeaders || {})
    .filter(([k]) => /^(authorization|host|content-type)$/i.test(k))
    .map(([k, v]) => `${k}: ${v}`)
    .join(' | ');
  return [
    `  request:  POST ${x.path}${hdrs ? '   [' + redact(hdrs) + ']' : ''}`,
    `            ${redact(x.reqBody)}`,
    `  response: HTTP ${x.status ?? '(none)'}${x.error ? ' error=' + x.error : ''}`,
    `            ${x.resBody === undefined ? '(no body)' : redact(x.resBody)}`,
  ].join('\n');
}

export function formatSince(m) {
  const xs = since(m);
  return xs.length ? xs.map(formatExchange).join('\n') : '(no HTTP exchange recorded)';
}

function pathOf(url, base) {
  try {
    const u = new URL(url, base || 'http://x');
    return u.pathname;
  } catch {
    return String(url);
  }
}

function flatHeaders(h) {
  const out = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
  }
  return out;
}

let installed = false;

// installAxios hooks the SDK's axios: a per-request timeout (so a hung
// server cannot hang the suite) and the exchange log.
export function installAxios() {
  if (installed) return axios;
  installed = true;
  axios.defaults.timeout = REQUEST_TIMEOUT_MS;
  axios.interceptors.request.use((config) => {
    const x = {
      via: 'sdk',
      path: pathOf(config.url),
      reqHeaders: flatHeaders(config.headers),
      reqBody: config.data,
    };
    log.push(x);
    config.__trace = x;
    return config;
  });
  axios.interceptors.response.use(
    (res) => {
      const x = res.config && res.config.__trace;
      if (x) {
        x.status = res.status;
        x.resBody = res.data;
      }
      return res;
    },
    (err) => {
      const x = err.config && err.config.__trace;
      if (x) {
        x.status = err.response ? err.response.status : undefined;
        x.resBody = err.response ? err.response.data : undefined;
        x.error = err.response ? undefined : err.code || err.message;
      }
      return Promise.reject(err);
    },
  );
  return axios;
}

// post sends a JSON POST with fetch and records it. It returns
// {status, body, text}; body is the parsed JSON or undefined.
export async function post(base, p, body, headers = {}) {
  const x = { via: 'fetch', path: p, reqHeaders: { 'content-type': 'application/json', ...headers }, reqBody: body };
  log.push(x);
  let res;
  try {
    res = await fetch(base + p, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    x.error = err.name + ': ' + err.message;
    throw new Error(`POST ${p} failed: ${x.error}`);
  }
  const text = await res.text();
  x.status = res.status;
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  x.resBody = parsed === undefined ? text : parsed;
  return { status: res.status, body: parsed, text };
}
