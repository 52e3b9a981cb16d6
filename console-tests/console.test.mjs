// The privacy officers' console, end to end in real Chromium.
//
// Starts the debug `rete` binary with `serve --demo --policy
// policies/network.toml` on a free port in a temp dir (SQLite file rete.db
// there), mints tokens with `rete token`, makes some
// traffic over GraphQL as partner apps would, then drives /console/ in
// headless Chromium (Debian's /usr/bin/chromium, through playwright-core):
// a non-officer is refused, an officer signs in, filters the log to one
// subject, reads an entry's legal basis, approves a break-glass grant,
// verifies the chain, sees a tampered row named, prints the subject's report
// and looks at the chart, at 1280 and 390 px, in Italian and English.
// Screenshots (and the report as PDF) go to output/ (git-ignored).
//
// Environment: RETE_BIN, CHROMIUM (see harness.mjs).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as harness from './harness.mjs';

const { out, bin } = harness;

let dir; let hub; let base; let browser; let page;
const tokens = {};
const seed = {};

const rete = (args) => harness.rete(dir, args);
const gql = (token, query, variables) => harness.gql(base, token, query, variables);

function sql(statement) {
  const db = join(dir, 'rete.db');
  execFileSync('python3', ['-c', 'import sqlite3,sys\nc=sqlite3.connect(sys.argv[1],timeout=30)\nn=c.execute(sys.argv[2]).rowcount\nc.commit()\nprint(n)', db, statement], { encoding: 'utf8' });
}

async function shot(name) {
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
}

async function signIn(token) {
  await page.goto(`${base}/console/`);
  await page.locator('#token').fill(token);
  await page.locator('#signin').click();
}

before(async () => {
  assert.ok(existsSync(bin), `no rete binary at ${bin}: run cargo build -p rete-api first`);
  mkdirSync(out, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'rete-console-'));
  hub = await harness.startHub(dir);
  base = hub.base;
  tokens.officer = rete(['token', '--agency', 'polo-nord', '--role', 'PRIVACY_OFFICER', '--purpose', 'AUDIT', '--operator', 'dpo-nord']);
  tokens.manager = rete(['token', '--agency', 'polo-nord', '--role', 'CASE_MANAGER', '--purpose', 'CASE_MANAGEMENT', '--operator', 'as-bianchi']);
  tokens.er = rete(['token', '--agency', 'ospedale-regina', '--role', 'HEALTH_PROFESSIONAL', '--purpose', 'EMERGENCY', '--operator', 'dr-rossi']);

  // Traffic of partner apps: the case manager reads two cases (entries 1
  // and 2), the ER doctor opens a third in an emergency and reads it.
  const cases = await gql(tokens.manager, 'query Names { cases(first: 3) { edges { node { id reference subjects { role person { id givenName familyName } } } } } }');
  const nodes = cases.cases.edges.map((e) => e.node);
  seed.case = nodes[0].id;
  seed.person = nodes[0].subjects[0].person.id;
  const other = nodes.find((n) => n.id !== seed.case && !n.subjects.some((s) => s.person.id === seed.person));
  assert.ok(other, 'the demo has a second case without that person');
  seed.other = other.id;
  await gql(tokens.manager, 'query Other($id: ID!) { case(id: $id) { reference subjects { person { givenName } } } }', { id: seed.other });
  seed.emergency = nodes[1].id;
  await gql(tokens.er, 'mutation Emergency($i: RequestBreakGlassInput!) { requestBreakGlass(input: $i) { id } }',
    { i: { caseId: seed.emergency, justification: 'Bambina in pronto soccorso con ferite sospette, serve il quadro del caso' } });
  await gql(tokens.er, 'query EmergencyRead($id: ID!) { case(id: $id) { reference status } }', { id: seed.emergency });

  browser = await harness.launch();
  page = await (await harness.newContext(browser)).newPage();
  page.on('pageerror', (e) => { throw e; });
});

after(async () => {
  if (browser) await browser.close();
  if (hub) await hub.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the console is served with a strict Content-Security-Policy', async () => {
  const r = await fetch(`${base}/console/`);
  assert.equal(r.status, 200);
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
  assert.equal(redirect.headers.get('location'), '/console/');
});

test('a token that is not a privacy officer\'s is refused', async () => {
  await signIn(tokens.manager);
  const refused = page.locator('#refused');
  await refused.waitFor();
  assert.match(await refused.innerText(), /Accesso negato/);
  assert.match(await refused.innerText(), /PRIVACY_OFFICER/);
  assert.equal(await page.locator('#nav').isHidden(), true);
  await shot('01-refused');
  // A token that is no token at all is refused too.
  await page.locator('#token').fill('not-a-token');
  await page.locator('#signin').click();
  await page.getByText('Token non valido o scaduto').waitFor();
});

test('an officer signs in with the keyboard and sees the access log', async () => {
  await page.goto(`${base}/console/`);
  await page.locator('#token').waitFor();
  // No OpenID Connect issuer is configured: pasting is the only way in.
  assert.equal(await page.locator('#sso').count(), 0);
  await page.locator('#token').focus();
  await page.keyboard.insertText(tokens.officer);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'signin');
  await page.keyboard.press('Enter');
  await page.locator('#log-total').waitFor();
  assert.match(await page.locator('#who').innerText(), /dpo-nord/);
  assert.equal(await page.locator('h1').innerText(), 'Registro degli accessi');
  const rows = page.locator('table.log tbody tr');
  assert.ok(await rows.count() >= 3);
  await shot('02-access-log');
});

test('filtering the log to one subject shows the entries that touched them', async () => {
  await page.locator('input[name="subjectId"]').fill(seed.person);
  await page.locator('#log-search').click();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'log-results');
  const text = await page.locator('table.log tbody').innerText();
  assert.match(text, /query Names/);
  assert.match(text, /as-bianchi/);
  assert.doesNotMatch(text, /query Other/);
  assert.doesNotMatch(text, /EmergencyRead/);
  // Exactly the case manager's read: the officer's own reads so far named no person.
  assert.equal(await page.locator('#log-total').innerText(), '1');
  const ops = await page.locator('table.log tbody tr td:nth-child(5)').allInnerTexts();
  assert.deepEqual(ops, ['query Names']);
  await shot('03-access-log-filtered');
});

test('an entry shows the rule and legal basis of each class, in words', async () => {
  const row = page.locator('table.log tbody tr', { hasText: 'query Names' });
  await row.getByRole('button').click();
  const dialog = page.locator('#entry-dialog');
  await dialog.waitFor();
  const text = await dialog.innerText();
  assert.match(text, /Comunicato in base alla regola/);
  assert.match(text, /base giuridica: (legame con il caso|obbligo di legge|consenso|provvedimento)/);
  await page.locator('#explain').click();
  await dialog.locator('article.explanation').first().waitFor();
  const explained = await dialog.locator('#explain-out').innerText();
  assert.match(explained, /oggi sarebbe (comunicato|negato)/);
  assert.match(explained, /base giuridica: /);
  await shot('04-entry-detail');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
});

test('the officer approves a break-glass grant with a note', async () => {
  await page.locator('#nav-emergenze').click();
  const card = page.locator('article.grant').first();
  await card.waitFor();
  const text = await card.innerText();
  assert.match(text, /Bambina in pronto soccorso/);
  assert.match(text, /dr-rossi/);
  await card.locator('.opened ul, .opened p').first().waitFor();
  await shot('05-break-glass-queue');
  // No note: refused in the page.
  await card.locator('button.approve').click();
  await card.getByText('Scrivi una nota').waitFor();
  await card.locator('textarea[name="note"]').fill('Accesso giustificato: verificato con il pronto soccorso');
  await card.locator('button.approve').click();
  await page.getByText('Revisione registrata').waitFor();
  const q = await gql(tokens.officer, '{ breakGlassReviewQueue { grantId } }');
  assert.deepEqual(q.breakGlassReviewQueue, []);
});

test('verifying an intact chain, then a tampered one names the broken entry', async () => {
  await page.locator('#nav-catena').click();
  await page.locator('#head-hash').waitFor();
  assert.match(await page.locator('#head-hash').innerText(), /^[0-9a-f]{64}$/);
  await page.locator('#verify').click();
  await page.locator('#verdict').getByText('Catena integra').waitFor();
  await shot('06-chain-intact');

  sql("UPDATE access_log_entry SET operator = 'qualcun-altro' WHERE seq = 2");
  await page.locator('#verify').click();
  await page.locator('#verdict').getByText('Catena interrotta').waitFor();
  const broken = await page.locator('#first-broken').innerText();
  assert.match(broken, /n\. 2/);
  assert.match(broken, /entry 2 was edited/);
  await shot('07-chain-broken');
  // The state page shows the same last verification after a reload of the page.
  await page.locator('#nav-registro').click();
  await page.locator('#nav-catena').click();
  await page.locator('#first-broken').waitFor();
  sql("UPDATE access_log_entry SET operator = 'as-bianchi' WHERE seq = 2");
});

test('the subject access report is printable and saved as PDF', async () => {
  await page.locator('#nav-rapporto').click();
  await page.locator('#rep-person').fill(seed.person);
  await page.locator('#rep-generate').click();
  const report = page.locator('#report');
  await report.waitFor();
  const text = await report.innerText();
  assert.match(text, /Rapporto sugli accessi ai dati personali/);
  assert.match(text, /Polo Sociale|polo-nord/i);
  assert.doesNotMatch(text, /as-bianchi/, 'operators are not named in the report');
  await shot('08-subject-report');
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('header.top').isHidden(), true);
  assert.equal(await page.locator('#print').isHidden(), true);
  await page.pdf({ path: join(out, 'subject-report.pdf'), format: 'A4' });
  await page.emulateMedia({ media: 'screen' });
});

test('the chart shows disclosures per agency and data class', async () => {
  await page.locator('#nav-grafico').click();
  await page.locator('figure.chart-fig').first().waitFor();
  const captions = await page.locator('figure.chart-fig figcaption').allInnerTexts();
  assert.ok(captions.some((c) => /Comunicazioni a /.test(c)), captions.join());
  assert.ok(await page.locator('svg.chart rect.bar').count() > 0);
  assert.match(await page.locator('table.totals').innerText(), /Identità|Dati amministrativi/);
  await shot('09-chart');
});

test('English is available and the pages fit 390 px', async () => {
  await page.locator('#lang').click();
  assert.equal(await page.locator('#nav-registro').innerText(), 'Access log');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await page.setViewportSize({ width: 390, height: 844 });
  for (const route of ['registro', 'catena', 'emergenze', 'rapporto', 'grafico']) {
    await page.locator(`#nav-${route}`).click();
    await page.locator('main h1').waitFor();
    await page.waitForLoadState('networkidle');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${route} overflows 390 px by ${overflow} px`);
    await shot(`10-mobile-${route}`);
  }
  await page.locator('#lang').click();
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('signing out forgets the token and nothing is kept in browser storage', async () => {
  const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookies: document.cookie }));
  assert.deepEqual(stored, { local: 0, session: 0, cookies: '' });
  await page.locator('#signout').click();
  await page.locator('#token').waitFor();
  assert.match(await page.locator('#signin-status').innerText(), /token è stato cancellato/);
  assert.equal(await page.locator('#nav').isHidden(), true);
  // Back to a page of the console: still signed out.
  await page.evaluate(() => { location.hash = '#/registro'; });
  await page.locator('#token').waitFor();
  assert.equal(await page.locator('table.log').count(), 0);
});
