// A bank customer's browser, headless, at the model bank (bankgate
// modelbank): it trusts the bank's CA, follows no redirect by itself, signs
// in with the login form and approves the consent, and returns where the
// bank sends it back to (bankgate's /connect/callback).

import https from 'node:https';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';

function request(url, { method = 'GET', form, ca } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const body = form ? new URLSearchParams(form).toString() : null;
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {
      method,
      ca,
      headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {},
      timeout: 20_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

export class PSU {
  constructor(modelBank) {
    this.issuer = modelBank.issuer;
    this.ca = readFileSync(path.join(modelBank.dir, 'ca.pem'));
    this.users = JSON.parse(readFileSync(path.join(modelBank.dir, 'psus.json'), 'utf8'));
  }

  // authorise walks the bank's pages and returns the callback URL.
  async authorise(redirectURL, { username, password }, decision = 'approve') {
    const ca = this.ca;
    let r = await request(redirectURL, { ca });
    if (r.status !== 302) throw new Error(`authorize answered ${r.status}: ${r.text}`);
    r = await request(new URL(r.location, this.issuer).href, { ca });
    const id = /name="id" value="([^"]+)"/.exec(r.text)?.[1];
    if (!id || !r.text.includes('name="username"') || !r.text.includes('name="password"')) throw new Error(`no login form: ${r.status} ${r.text}`);
    r = await request(this.issuer + '/psu/login', { method: 'POST', form: { id, username, password }, ca });
    if (r.status !== 303) throw new Error(`sign-in answered ${r.status}: ${r.text}`);
    r = await request(new URL(r.location, this.issuer).href, { ca });
    if (!r.text.includes('name="decision" value="approve"')) throw new Error(`no consent form: ${r.status} ${r.text}`);
    r = await request(this.issuer + '/psu/consent', { method: 'POST', form: { id, decision }, ca });
    if (r.status !== 303) throw new Error(`consent answered ${r.status}: ${r.text}`);
    return r.location;
  }

  // arrive is the browser arriving at bankgate's callback.
  async arrive(callbackURL) {
    return request(callbackURL);
  }
}
