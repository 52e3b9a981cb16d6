// What the browser tests share: where the rete binary and Chromium are, how
// to run `rete` and start `rete serve --demo` on a free port in a temp dir,
// and a browser that reaches nothing beyond this machine.
//
// Environment: RETE_BIN (default ../target/debug/rete, or
// $CARGO_TARGET_DIR/debug/rete), CHROMIUM (default /usr/bin/chromium).

import { spawn, execFileSync } from 'node:child_process';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const here = dirname(fileURLToPath(import.meta.url));
export const out = join(here, 'output');
export const bin = process.env.RETE_BIN
  || join(process.env.CARGO_TARGET_DIR ? resolve(here, '..', process.env.CARGO_TARGET_DIR) : join(here, '..', 'target'), 'debug', 'rete');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
// The demo network's own agreement (policies/network.toml): it has the
// emergency article that lets a break-glass grant open a case.
export const agreement = join(here, '..', 'policies', 'network.toml');

function env() {
  const e = { ...process.env, RETE_LOG: 'info' };
  delete e.DATABASE_URL; delete e.RETE_CONFIG; delete e.RETE_LISTEN; delete e.RETE_POLICY;
  return e;
}

/** Run `rete ARGS` in `dir` and return what it printed. */
export function rete(dir, args) {
  return execFileSync(bin, args, { cwd: dir, env: env(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * Start `rete serve --demo --policy policies/network.toml --listen 127.0.0.1:0
 * ARGS` in `dir` (SQLite file rete.db there); resolves to { base, stop }.
 */
export function startHub(dir, args = []) {
  const server = spawn(bin, ['serve', '--demo', '--policy', agreement, '--listen', '127.0.0.1:0', ...args],
    { cwd: dir, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = async () => {
    if (server.exitCode !== null) return;
    server.kill('SIGTERM');
    await new Promise((r) => { server.on('exit', r); setTimeout(r, 5000); });
  };
  return new Promise((ok, fail) => {
    let seen = '';
    let base;
    const timer = setTimeout(() => fail(new Error(`rete serve --demo did not start:\n${seen}`)), 120000);
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (chunk) => {
      if (base) return;
      seen += chunk;
      const m = seen.match(/addr=(127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); base = `http://${m[1]}`; ok({ base, stop }); }
    });
    server.on('exit', (code) => { if (!base) { clearTimeout(timer); fail(new Error(`rete serve exited with ${code}:\n${seen}`)); } });
  });
}

/** POST a GraphQL operation as a partner app would; throws on errors. */
export async function gql(base, token, query, variables) {
  const r = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables: variables || {} }),
  });
  const body = await r.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Headless Debian Chromium. */
export function launch() {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/**
 * A context in Italian, Rome's time zone, 1280 x 900, whose requests to any
 * host but this machine's loopback are aborted (a test page that links a web
 * font or an image elsewhere stays here).
 */
export async function newContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'it-IT', timezoneId: 'Europe/Rome' });
  await context.route((url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname), (route) => route.abort());
  return context;
}
