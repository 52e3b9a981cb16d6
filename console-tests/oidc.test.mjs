// OpenID Connect sign-in to the console, end to end in real Chromium against
// a real OpenID provider.
//
// The provider is panva's `oidc-provider` on 127.0.0.1 with a random port,
// with its development login and consent pages (any login name, any
// password). It knows two people: dpo-nord, privacy officer of polo-nord, and
// as-bianchi, a case manager there. Its access tokens are JWTs (RFC 9068,
// ES256) for the resource indicator the console sends, with `aud` = "rete"
// and the claims the hub needs (`agency`, `role`, `purpose`; `sub` is the
// operator). The console is a public client (no secret, PKCE S256 required).
//
// `rete serve --demo` gets a config file that trusts the provider
// (`[[auth.issuers]]` with its `jwks_url`) and names it in `[console.oidc]`.
// In Chromium: "Accedi con SSO", log in at the provider, consent, back to the
// console, the access log under the provider's subject; nothing in browser
// storage; "Esci" ends the session at the provider too. A case manager from
// the same provider is refused; cancelling at the provider, a forged state and
// an unusable code each give their own message. Screenshots go to output/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Provider, { errors } from 'oidc-provider';
import * as harness from './harness.mjs';

const { out, bin } = harness;

const CLIENT_ID = 'rete-console';
// The hub's resource indicator: its tokens get the hub's audience.
const RESOURCE = 'https://rete.test/graphql';
const PEOPLE = {
  'dpo-nord': { agency: 'polo-nord', role: 'PRIVACY_OFFICER', purpose: 'AUDIT' },
  'as-bianchi': { agency: 'polo-nord', role: 'CASE_MANAGER', purpose: 'CASE_MANAGEMENT' },
};

let dir; let hub; let base; let issuer; let opServer; let browser;
const opLog = [];

function listen(server) {
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server.address().port)));
}

function signingKeys() {
  const jwk = (pair, kid, alg) => ({ ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' });
  return [
    jwk(generateKeyPairSync('rsa', { modulusLength: 2048 }), 'op-rs256', 'RS256'),
    jwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'op-es256', 'ES256'),
  ];
}

function provider(redirect) {
  const p = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [redirect],
      post_logout_redirect_uris: [redirect],
    }],
    jwks: { keys: signingKeys() },
    cookies: { keys: ['rete-console-test-cookie-key'] },
    ttl: { AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    // The console calls the token endpoint from the hub's page: CORS for the
    // hub's origin only.
    clientBasedCORS: (_ctx, origin) => origin === new URL(redirect).origin,
    async findAccount(_ctx, sub) {
      return { accountId: sub, async claims() { return { sub }; } };
    },
    // The hub's claims, in the access token only.
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken') return undefined;
      return PEOPLE[token.accountId];
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, indicator) {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return { scope: 'openid', audience: 'rete', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
  });
  p.on('server_error', (_ctx, err) => opLog.push(`server_error ${err.message}`));
  p.on('grant.error', (_ctx, err) => opLog.push(`grant.error ${err.message} ${err.error_description || ''}`));
  return p;
}

before(async () => {
  assert.ok(existsSync(bin), `no rete binary at ${bin}: run cargo build -p rete-api first`);
  mkdirSync(out, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'rete-oidc-'));
  // The provider's socket first: its address is the issuer the hub trusts.
  opServer = createServer();
  const port = await listen(opServer);
  issuer = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'rete.toml'), [
    '[[auth.issuers]]',
    `issuer = "${issuer}"`,
    `jwks_url = "${issuer}/jwks"`,
    '',
    '[console.oidc]',
    `issuer = "${issuer}"`,
    `client_id = "${CLIENT_ID}"`,
    'scopes = ["openid"]',
    `resource = "${RESOURCE}"`,
    '',
  ].join('\n'));
  hub = await harness.startHub(dir, ['--config', join(dir, 'rete.toml')]);
  base = hub.base;
  // Then the provider, with the console's redirect URI on the hub's address.
  opServer.on('request', provider(`${base}/console/`).callback());

  // A partner app's read, for the log to show.
  const manager = harness.rete(dir, ['token', '--agency', 'polo-nord', '--role', 'CASE_MANAGER', '--purpose', 'CASE_MANAGEMENT', '--operator', 'as-bianchi']);
  await harness.gql(base, manager, 'query Names { cases(first: 2) { edges { node { reference } } } }');

  browser = await harness.launch();
});

after(async () => {
  if (opLog.length) console.log(opLog.join('\n'));
  if (browser) await browser.close();
  if (hub) await hub.stop();
  if (opServer) { opServer.closeAllConnections(); await new Promise((r) => opServer.close(r)); }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function freshPage() {
  const context = await harness.newContext(browser);
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
}

async function storage(page) {
  return page.evaluate(() => ({
    local: Object.fromEntries(Object.entries(localStorage)),
    session: Object.fromEntries(Object.entries(sessionStorage)),
    cookies: document.cookie,
  }));
}

// From the console's "Accedi con SSO" to the provider's login page.
async function toProvider(page) {
  await page.goto(`${base}/console/`);
  await page.locator('#sso').click();
  await page.waitForURL((u) => u.origin === issuer);
  await page.locator('input[name="login"]').waitFor();
}

// Log in and consent at the provider's development pages.
async function logIn(page, login) {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.origin === base);
}

test('the hub tells the console its issuer and lets it reach only that origin', async () => {
  const r = await fetch(`${base}/console/config.json`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { oidc: { issuer, clientId: CLIENT_ID, scopes: ['openid'], resource: RESOURCE, endSession: true } });
  const csp = (await fetch(`${base}/console/`)).headers.get('content-security-policy');
  assert.match(csp, new RegExp(`connect-src 'self' ${issuer.replace(/\./g, '\\.')};`));
});

test('an officer signs in at the provider, sees the access log, and nothing is kept in browser storage', async () => {
  const page = await freshPage();
  await page.goto(`${base}/console/`);
  const sso = page.locator('#sso');
  await sso.waitFor();
  // Offered with a label and reachable with the keyboard: focus starts on it.
  assert.equal(await sso.innerText(), 'Accedi con SSO');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'sso');
  assert.match(await page.locator('#sso-hint').innerText(), new RegExp(issuer.replace(/\./g, '\\.')));
  await shot(page, 'oidc-01-signin');

  const authorize = page.waitForRequest((r) => r.url().startsWith(`${issuer}/auth`));
  await page.keyboard.press('Enter');
  const request = new URL((await authorize).url());
  const q = request.searchParams;
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('client_id'), CLIENT_ID);
  assert.equal(q.get('redirect_uri'), `${base}/console/`);
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.ok(q.get('state') && q.get('nonce'));
  assert.equal(q.get('resource'), RESOURCE);
  assert.equal(q.get('scope'), 'openid');
  // While away, the tab holds the pending sign-in (no token) in session storage.
  await page.locator('input[name="login"]').waitFor();
  await shot(page, 'oidc-02-provider-login');

  const exchanged = page.waitForResponse((r) => r.url() === `${issuer}/token`);
  await logIn(page, 'dpo-nord');
  const tokenResponse = await (await exchanged).json();
  const accessToken = tokenResponse.access_token;
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString());
  assert.equal(claims.aud, 'rete');
  assert.equal(claims.role, 'PRIVACY_OFFICER');

  await page.locator('#log-total').waitFor();
  assert.match(await page.locator('#who').innerText(), /dpo-nord/);
  assert.equal(await page.locator('h1').innerText(), 'Registro degli accessi');
  // The code, state and issuer are gone from the address bar and its history.
  assert.equal(new URL(page.url()).search, '');
  assert.equal(new URL(page.url()).hash, '#/registro');
  // The officer's own sign-in is logged under the provider's subject.
  const text = await page.locator('table.log tbody').innerText();
  assert.match(text, /query Names/);
  assert.match(text, /ConsoleSignIn/);
  assert.match(text, /dpo-nord/);
  await shot(page, 'oidc-03-access-log');

  const stored = await storage(page);
  assert.deepEqual(stored, { local: {}, session: {}, cookies: '' });
  assert.ok(!JSON.stringify(stored).includes(accessToken));

  // "Esci": the token is forgotten and the provider ends its session.
  await page.locator('#signout').click();
  await page.waitForURL((u) => u.origin === issuer);
  await shot(page, 'oidc-04-provider-logout');
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL((u) => u.origin === base);
  await page.locator('#signin-status').getByText('token è stato cancellato').waitFor();
  assert.match(await page.locator('#signin-status').innerText(), /chiudere la sessione/);
  assert.equal(new URL(page.url()).search, '');
  assert.equal(await page.locator('#nav').isHidden(), true);
  assert.deepEqual(await storage(page), { local: {}, session: {}, cookies: '' });
  await shot(page, 'oidc-05-signed-out');

  // The provider's session is over: signing in again asks for the login.
  await page.locator('#sso').click();
  await page.waitForURL((u) => u.origin === issuer);
  await page.locator('input[name="login"]').waitFor();
  await page.context().close();
});

test('a case manager signed in at the same provider is refused', async () => {
  const page = await freshPage();
  await toProvider(page);
  await logIn(page, 'as-bianchi');
  const refused = page.locator('#refused');
  await refused.waitFor();
  assert.match(await refused.innerText(), /Accesso negato/);
  assert.match(await refused.innerText(), /PRIVACY_OFFICER/);
  assert.equal(await page.locator('#nav').isHidden(), true);
  assert.deepEqual(await storage(page), { local: {}, session: {}, cookies: '' });
  await shot(page, 'oidc-06-refused');
  // They can end the provider's session from there, to sign in as someone else.
  await page.locator('#sso-signout').click();
  await page.waitForURL((u) => u.origin === issuer);
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL((u) => u.origin === base);
  await page.locator('#sso').waitFor();
  await page.context().close();
});

test('cancelling at the provider comes back as a denied sign-in', async () => {
  const page = await freshPage();
  await toProvider(page);
  await page.getByRole('link', { name: '[ Cancel ]' }).click();
  await page.waitForURL((u) => u.origin === base);
  const error = page.locator('#sso-error');
  await error.waitFor();
  assert.match(await error.innerText(), /Accesso annullato/);
  assert.match(await error.innerText(), /access_denied/);
  assert.equal(new URL(page.url()).search, '');
  assert.deepEqual((await storage(page)).session, {});
  await shot(page, 'oidc-07-denied');
  // The same page in English, and at 390 px.
  await page.locator('#lang').click();
  await page.locator('#sso').getByText('Sign in with SSO').waitFor();
  assert.equal(await page.locator('#paste-h').innerText(), 'Or paste a token');
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the sign-in page overflows 390 px by ${overflow} px`);
  await shot(page, 'oidc-07-signin-mobile-en');
  await page.context().close();
});

test('an answer with a forged state is discarded without exchanging its code', async () => {
  const page = await freshPage();
  await toProvider(page);
  let exchanged = false;
  page.on('request', (r) => { if (r.url() === `${issuer}/token`) exchanged = true; });
  await page.goto(`${base}/console/?code=stolen-code&state=forged&iss=${encodeURIComponent(issuer)}`);
  const error = page.locator('#sso-error');
  await error.waitFor();
  assert.match(await error.innerText(), /Risposta di accesso non valida/);
  assert.equal(exchanged, false);
  assert.equal(new URL(page.url()).search, '');
  assert.deepEqual((await storage(page)).session, {}, 'the pending sign-in is gone');
  await shot(page, 'oidc-08-bad-state');
  await page.context().close();
});

test('a code the provider will not exchange gives the provider\'s reason', async () => {
  const page = await freshPage();
  const authorize = page.waitForRequest((r) => r.url().startsWith(`${issuer}/auth`));
  await toProvider(page);
  const state = new URL((await authorize).url()).searchParams.get('state');
  // The right state, a code the provider never issued.
  await page.goto(`${base}/console/?code=not-a-code&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(issuer)}`);
  const error = page.locator('#sso-error');
  await error.waitFor();
  assert.match(await error.innerText(), /scambio del codice/);
  assert.match(await error.innerText(), /invalid_grant/);
  assert.deepEqual((await storage(page)).session, {});
  await shot(page, 'oidc-09-exchange-failed');
  await page.context().close();
});
