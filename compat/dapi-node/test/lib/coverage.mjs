// Computes the SDK's public API at runtime and records which methods the
// suite called, so that a method nobody calls fails the suite.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const sdk = require('@dapi-co/dapi-node');
export const SDK_VERSION = require('@dapi-co/dapi-node/package.json').version;
export const DapiApp = sdk.default;

const calls = new Map(); // name -> {count, outcomes: Map(outcome -> n)}

function record(name, outcome) {
  let e = calls.get(name);
  if (!e) calls.set(name, (e = { count: 0, outcomes: new Map() }));
  e.count++;
  if (outcome) e.outcomes.set(outcome, (e.outcomes.get(outcome) || 0) + 1);
}

function outcomeOf(v) {
  if (v === undefined) return 'undefined';
  if (typeof v === 'boolean') return String(v);
  if (v && typeof v === 'object' && typeof v.status === 'string') {
    return v.status === 'failed' ? `failed:${v.type}` : v.status;
  }
  return typeof v;
}

function methodNames(proto) {
  return Object.getOwnPropertyNames(proto).filter(
    (n) => n !== 'constructor' && !n.startsWith('_') && typeof Object.getOwnPropertyDescriptor(proto, n).value === 'function',
  );
}

// products lists the app's product objects (auth, data, ...): own
// properties holding instances of a class with methods.
function products(app) {
  return Object.keys(app).filter((k) => {
    const v = app[k];
    if (!v || typeof v !== 'object') return false;
    const proto = Object.getPrototypeOf(v);
    return proto && proto !== Object.prototype && methodNames(proto).length > 0;
  });
}

// publicAPI returns every public method name: "product.method" for each
// product, "app.method" for the App class's own methods and "module.fn" for
// the package's function exports (helpers).
export function publicAPI() {
  const probe = new DapiApp({ appSecret: 'probe' });
  const names = [];
  for (const p of products(probe)) {
    for (const m of methodNames(Object.getPrototypeOf(probe[p]))) names.push(`${p}.${m}`);
  }
  for (const m of methodNames(DapiApp.prototype)) names.push(`app.${m}`);
  for (const k of Object.keys(sdk)) {
    if (k !== 'default' && typeof sdk[k] === 'function') names.push(`module.${k}`);
  }
  return names.sort();
}

function wrap(name, fn, self) {
  return function wrapped(...args) {
    let out;
    try {
      out = fn.apply(self, args);
    } catch (err) {
      record(name, `threw:${err && (err.type || err.name)}`);
      throw err;
    }
    if (out && typeof out.then === 'function') {
      return out.then(
        (v) => {
          record(name, outcomeOf(v));
          return v;
        },
        (err) => {
          record(name, `rejected:${err && err.name}`);
          throw err;
        },
      );
    }
    record(name, outcomeOf(out));
    return out;
  };
}

// instrument replaces every public method of app (and its products) by a
// recording wrapper on the instance itself.
export function instrument(app) {
  for (const p of products(app)) {
    const obj = app[p];
    for (const m of methodNames(Object.getPrototypeOf(obj))) obj[m] = wrap(`${p}.${m}`, obj[m], obj);
  }
  for (const m of methodNames(DapiApp.prototype)) app[m] = wrap(`app.${m}`, app[m], app);
  return app;
}

// helpers: the package's function exports, recorded.
export const helpers = Object.fromEntries(
  Object.keys(sdk)
    .filter((k) => k !== 'default' && typeof sdk[k] === 'function')
    .map((k) => [k, wrap(`module.${k}`, sdk[k], sdk)]),
);

export function called() {
  return calls;
}

export function summary() {
  const api = publicAPI();
  const rows = api.map((name) => {
    const e = calls.get(name);
    const outs = e ? [...e.outcomes].map(([o, n]) => (n > 1 ? `${o} x${n}` : o)).join(', ') : '';
    return { name, count: e ? e.count : 0, outs };
  });
  const w = Math.max(...rows.map((r) => r.name.length));
  const lines = [
    `@dapi-co/dapi-node ${SDK_VERSION}: ${api.length} public methods, ${rows.filter((r) => r.count).length} called`,
    ...rows.map((r) => `  ${r.count ? 'called' : 'NOT CALLED'.padEnd(6)}  ${r.name.padEnd(w)}  x${r.count}  ${r.outs}`),
  ];
  return { api, missing: rows.filter((r) => !r.count).map((r) => r.name), text: lines.join('\n') };
}
