// Builds and runs a real bankgate server for the compatibility suite.
//
// By default: `go build -o <tmp>/bankgate ./cmd/bankgate` from the repository
// root, then `<tmp>/bankgate serve --addr 127.0.0.1:0 --data-dir <fresh tmp dir>`.
// For debugging, point the suite at a server you run yourself:
//   BANKGATE_URL=http://127.0.0.1:8080 BANKGATE_DATA_DIR=./bankgate-data npm test
// (the binary is still built to run `apps create`; set BANKGATE_BIN to skip
// the build and use an existing binary).

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const PKG_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_ROOT = path.resolve(PKG_DIR, '..', '..');

const BUILD_TIMEOUT_MS = 240_000;
const START_TIMEOUT_MS = 30_000;

export class Bankgate {
  constructor() {
    this.tmp = null;
    this.bin = null;
    this.dataDir = null;
    this.baseURL = null;
    this.proc = null;
    this.exit = null; // {code, signal} once the server process ended
    this.stdout = '';
    this.stderr = '';
    this.external = false;
    // The model bank (bankgate modelbank) the server serves through
    // --banks-file: {issuer, dir, proc}.
    this.modelBank = null;
  }

  async start() {
    this.tmp = await mkdtemp(path.join(tmpdir(), 'bankgate-compat-node-'));
    this.bin = process.env.BANKGATE_BIN || (await this.build());
    if (process.env.BANKGATE_URL) {
      if (!process.env.BANKGATE_DATA_DIR) {
        throw new Error('BANKGATE_URL needs BANKGATE_DATA_DIR (the server\'s data dir, for `apps create`)');
      }
      this.external = true;
      this.baseURL = process.env.BANKGATE_URL.replace(/\/+$/, '');
      this.dataDir = process.env.BANKGATE_DATA_DIR;
      return;
    }
    this.dataDir = path.join(this.tmp, 'data');
    await this.startModelBank();
    await this.serve();
  }

  // startModelBank runs `bankgate modelbank` (a local Open Banking v3.1
  // bank) and waits until it has written its banks.yaml and answers.
  startModelBank() {
    const dir = path.join(this.tmp, 'modelbank');
    return new Promise((resolve, reject) => {
      const proc = spawn(this.bin, ['modelbank', '--addr', '127.0.0.1:0', '--out', dir, '--page-size', '10', '--log-level', 'error'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.modelBank = { dir, proc, issuer: null, exit: null, stdout: '', stderr: '' };
      const mb = this.modelBank;
      process.once('exit', () => { if (!mb.exit) proc.kill('SIGKILL'); });
      const timer = setTimeout(() => reject(new Error(`bankgate modelbank did not start within ${START_TIMEOUT_MS} ms\n${mb.stderr}`)), START_TIMEOUT_MS);
      proc.stdout.setEncoding('utf8');
      proc.stderr.setEncoding('utf8');
      proc.stdout.on('data', (chunk) => {
        mb.stdout += chunk;
        const m = /model bank at (https:\/\/\S+)/.exec(mb.stdout);
        if (m && !mb.issuer) {
          mb.issuer = m[1];
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr.on('data', (chunk) => { mb.stderr = (mb.stderr + chunk).slice(-(1 << 16)); });
      proc.on('error', (err) => { clearTimeout(timer); reject(err); });
      proc.on('exit', (code, signal) => {
        mb.exit = { code, signal };
        clearTimeout(timer);
        if (!mb.issuer) reject(new Error(`bankgate modelbank exited (code ${code}) before answering\n${mb.stderr}`));
      });
    });
  }

  async build() {
    const out = path.join(this.tmp, 'bankgate');
    try {
      await execFileP('go', ['build', '-o', out, './cmd/bankgate'], {
        cwd: REPO_ROOT,
        timeout: BUILD_TIMEOUT_MS,
        maxBuffer: 16 << 20,
      });
    } catch (err) {
      throw new Error(`go build ./cmd/bankgate failed in ${REPO_ROOT}:\n${err.stderr || err.message}`);
    }
    return out;
  }

  serve() {
    return new Promise((resolve, reject) => {
      const args = ['serve', '--addr', '127.0.0.1:0', '--data-dir', this.dataDir, '--log-level', 'warn'];
      if (this.modelBank) args.push('--banks-file', path.join(this.modelBank.dir, 'banks.yaml'));
      const proc = spawn(this.bin, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BANKGATE_DATABASE_URL: '' },
      });
      this.proc = proc;
      // Never leave a server behind, whatever ends this process.
      const reap = () => {
        if (!this.exit) proc.kill('SIGKILL');
        if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
      };
      process.once('exit', reap);
      for (const sig of ['SIGINT', 'SIGTERM']) {
        process.once(sig, () => {
          reap();
          process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
        });
      }
      const timer = setTimeout(() => {
        reject(new Error(`bankgate did not print its listening address within ${START_TIMEOUT_MS} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, START_TIMEOUT_MS);
      proc.stdout.setEncoding('utf8');
      proc.stderr.setEncoding('utf8');
      proc.stdout.on('data', (chunk) => {
        this.stdout += chunk;
        const m = /bankgate listening on (http:\/\/\S+)/.exec(this.stdout);
        if (m && !this.baseURL) {
          this.baseURL = m[1].replace(/\/+$/, '');
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr.on('data', (chunk) => {
        this.stderr += chunk;
        if (this.stderr.length > 1 << 20) this.stderr = this.stderr.slice(-(1 << 19));
      });
      proc.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        clearTimeout(timer);
        if (!this.baseURL) {
          reject(new Error(`bankgate serve exited (code ${code}, signal ${signal}) before listening\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
        }
      });
    });
  }

  // alive reports whether the server process (when we started it) is still
  // running and answers /healthz.
  async alive() {
    if (this.proc && this.exit) return false;
    try {
      const res = await fetch(this.baseURL + '/healthz', { signal: AbortSignal.timeout(5000) });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  async createApp(name, environment = 'sandbox') {
    const { stdout } = await execFileP(this.bin, ['apps', 'create', '--name', name, '--environment', environment, '--json', '--data-dir', this.dataDir], {
      cwd: this.tmp,
      timeout: 30_000,
      env: { ...process.env, BANKGATE_DATABASE_URL: '' },
    });
    const lines = stdout.trim().split('\n');
    if (lines.length !== 1) throw new Error(`apps create --json printed ${lines.length} lines, want exactly one JSON object:\n${stdout}`);
    const app = JSON.parse(lines[0]);
    for (const k of ['name', 'appKey', 'appSecret']) {
      if (typeof app[k] !== 'string' || app[k] === '') throw new Error(`apps create --json: ${k} missing in ${stdout}`);
    }
    return app;
  }

  // cli runs `bankgate ARGS --data-dir <the server's>` and returns its
  // stdout.
  async cli(...args) {
    const { stdout } = await execFileP(this.bin, [...args, '--data-dir', this.dataDir], {
      cwd: this.tmp,
      timeout: 30_000,
      env: { ...process.env, BANKGATE_DATABASE_URL: '' },
    });
    return stdout;
  }

  async stop() {
    if (this.proc && !this.exit) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    const mb = this.modelBank;
    if (mb && !mb.exit) {
      const exited = new Promise((resolve) => mb.proc.once('exit', resolve));
      mb.proc.kill('SIGTERM');
      await exited;
    }
    if (this.tmp) await rm(this.tmp, { recursive: true, force: true });
  }
}
