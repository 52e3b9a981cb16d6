// Rete behind a real Apollo gateway.
//
// 1. Starts `rete serve --demo --policy policies/network.toml` (the debug
//    binary) in a temporary directory, on a free port, and the agenda
//    subgraph of agenda-subgraph.mjs.
// 2. Composes Rete's SDL (`rete schema`, which must equal schema.graphql and
//    `_service { sdl }`) with the agenda's, using @apollo/composition: no
//    errors, and no hint that README.md does not explain (EXPLAINED_HINTS).
// 3. Starts @apollo/gateway (supergraphSdl from that composition) inside
//    @apollo/server on 127.0.0.1, forwarding the caller's Authorization header
//    to both subgraphs (willSendRequest).
// 4. Runs queries across both subgraphs with real tokens minted by
//    `rete token`, and the same queries straight to Rete: every field visible;
//    a field withheld by the agreement (null + FIELD_WITHHELD, never the
//    value); a record the caller has no link to (null + NOT_FOUND, the same
//    words as a direct query); no token (refused).
// 5. Stops the hub and reads `rete audit export`: the gateway's reads are in
//    the access log under the original caller; `rete audit verify` passes.
//
// Exits 0 when every check passes, 1 otherwise. Needs no stdin and no TTY.
//   RETE_BIN          the rete binary (default: $CARGO_TARGET_DIR/debug/rete
//                     or ../target/debug/rete)
//   RETE_GATEWAY_LOG  set to see the hub's and the gateway's logs

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { parse } from 'graphql';

import { startAgenda, typeDefs as agendaTypeDefs } from './agenda-subgraph.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const bin =
  process.env.RETE_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'debug', 'rete');
const verbose = Boolean(process.env.RETE_GATEWAY_LOG);

// Composition hints we have looked at and explain in README.md
// ("Composition hints"), by hint code. Any other hint fails the test.
const EXPLAINED_HINTS = new Set([]);

// Whatever happens, never hang a CI run.
const deadline = setTimeout(() => {
  console.error('not ok - the gateway test did not finish within 180 s');
  process.exit(1);
}, 180_000);
deadline.unref();

const cleanups = [];
let failures = 0;

async function step(name, f) {
  try {
    await f();
    console.log(`ok - ${name}`);
  } catch (e) {
    failures += 1;
    console.log(`not ok - ${name}`);
    console.log(String(e?.stack ?? e).replace(/^/gm, '    '));
  }
}

// ---------------------------------------------------------------- the hub

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rete-gateway-'));
cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));

function hubEnv() {
  const env = { ...process.env, RETE_LOG: 'info' };
  for (const k of ['DATABASE_URL', 'RETE_CONFIG', 'RETE_LISTEN', 'RETE_POLICY', 'RETE_LOG_FORMAT']) {
    delete env[k];
  }
  return env;
}

function rete(...args) {
  return execFileSync(bin, args, { cwd: dir, env: hubEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    .toString('utf8');
}

function startHub() {
  const child = spawn(
    bin,
    ['serve', '--demo', '--policy', path.join(root, 'policies', 'network.toml'), '--listen', '127.0.0.1:0'],
    { cwd: dir, env: hubEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  cleanups.push(stop);
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`rete serve did not start:\n${seen}`)), 90_000);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`rete serve exited with ${code}:\n${seen}`)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      if (verbose) process.stderr.write(chunk);
      seen += chunk;
      const m = /addr=(\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve({ url: `http://${m[1]}/graphql`, stop });
      }
    });
  });
}

function token(agency, role, purpose) {
  return rete('token', '--agency', agency, '--role', role, '--purpose', purpose).trim();
}

async function gql(url, query, variables = {}, bearer = undefined) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  if (url === hub?.url && bearer) {
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, 'Rete answers Accept: application/json in kind');
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body, text };
}

const errorsOf = (a) => a.body?.errors ?? [];
const codesOf = (a) => errorsOf(a).map((e) => e.extensions?.code);

// An error as a client compares it: what it says, where, and why.
const essence = (e) => ({
  message: e.message,
  path: e.path,
  code: e.extensions?.code,
  dataClass: e.extensions?.dataClass,
  reason: e.extensions?.reason,
});
const sortErrors = (errs) =>
  errs.map(essence).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

// async-graphql 7.2 leaves the key of a nullable field that failed out of
// `data` (the error names its path); a gateway writes it as `null`, as the
// GraphQL spec says. Compare the two with the nulls filled in.
function withErrorNulls(body) {
  const data = structuredClone(body.data ?? null);
  for (const e of body.errors ?? []) {
    const p = e.path ?? [];
    let at = data;
    for (const seg of p.slice(0, -1)) at = at?.[seg];
    const last = p[p.length - 1];
    if (at && typeof at === 'object' && !Array.isArray(at) && !(last in at)) at[last] = null;
  }
  return data;
}

// `value` without the agenda's own fields, to compare with Rete's answer.
function withoutAgenda(value) {
  if (Array.isArray(value)) return value.map(withoutAgenda);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (k !== 'appointments' && k !== 'consultorioFileNumber') out[k] = withoutAgenda(v);
    }
    return out;
  }
  return value;
}

// ---------------------------------------------------------------- queries

const CASE_WITH_AGENDA = `query CaseWithAgenda($id: ID!) {
  case(id: $id) {
    id reference status riskLevel
    appointments { id service at }
    subjects { role person { id givenName familyName consultorioFileNumber } }
  }
}`;
const CASE_DIRECT = `query CaseWithAgenda($id: ID!) {
  case(id: $id) {
    id reference status riskLevel
    subjects { role person { id givenName familyName } }
  }
}`;
const AGENDA = (name) => `query ${name} {
  agenda {
    id service
    case { id reference status riskLevel }
    person { id givenName familyName consultorioFileNumber }
  }
}`;

// ---------------------------------------------------------------- the run

let hub;
let gateway;
const reteContentTypes = [];
const forwarded = [];

try {
  await step('the debug binary exists', () => {
    assert.ok(fs.existsSync(bin), `${bin} is missing: run \`cargo build -p rete-api --bin rete\` first`);
  });
  if (failures) throw new Error('cannot run without the binary');

  hub = await startHub();
  const nord = token('polo-nord', 'CASE_MANAGER', 'CASE_MANAGEMENT');
  const sud = token('polo-sud', 'CASE_MANAGER', 'CASE_MANAGEMENT');
  const hospital = token('ospedale-regina', 'HEALTH_PROFESSIONAL', 'HEALTHCARE');

  const sdl = rete('schema');
  await step("rete schema is schema.graphql and Rete's _service { sdl }", async () => {
    assert.equal(sdl, fs.readFileSync(path.join(root, 'schema.graphql'), 'utf8'));
    const a = await gql(hub.url, '{ _service { sdl } }', {}, nord);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.body.data._service.sdl, sdl);
    const anon = await gql(hub.url, '{ _service { sdl } }');
    assert.equal(anon.status, 401, 'the SDL needs a token too');
  });

  // Fixtures from the demo network, as each agency sees it.
  const LIST = `{ cases(first: 100) { edges { node { id leadAgency { id } myRelationships subjects { person { id } } } } } }`;
  const list = async (t) => (await gql(hub.url, LIST, {}, t)).body.data.cases.edges.map((e) => e.node);
  const nordCase = (await list(nord)).find((c) => c.leadAgency?.id === 'polo-nord');
  const referred = (await list(hospital)).find(
    (c) => JSON.stringify(c.myRelationships) === '["REFERRER"]' && c.leadAgency?.id === 'polo-sud',
  );
  const nordReach = new Set((await list(nord)).map((c) => c.id));
  const sudCase = (await list(sud)).find((c) => c.leadAgency?.id === 'polo-sud' && !nordReach.has(c.id));
  await step('the demo network has the cases the test needs', () => {
    assert.ok(nordCase, 'a case led by polo-nord');
    assert.ok(referred, 'a polo-sud case referred by ospedale-regina');
    assert.ok(sudCase, 'a polo-sud case polo-nord has no link to');
  });
  const sudPerson = (
    await gql(hub.url, 'query($id: ID!) { case(id: $id) { subjects { person { id } } } }', { id: sudCase.id }, sud)
  ).body.data.case.subjects[0].person.id;
  // What the lead agency sees of the referred case: the values that must
  // never reach the hospital.
  const referredInFull = (await gql(hub.url, CASE_DIRECT, { id: referred.id }, sud)).body.data.case;

  const agenda = await startAgenda([
    {
      id: 'A1', at: '2026-03-02T09:30:00+01:00', service: 'PSYCHOLOGICAL_SUPPORT',
      caseId: nordCase.id, personId: nordCase.subjects[0].person.id, agencies: ['polo-nord', 'consultorio-centro'],
    },
    {
      id: 'A2', at: '2026-03-02T11:00:00+01:00', service: 'PRENATAL_VISIT',
      caseId: referred.id, personId: referred.subjects[0].person.id, agencies: ['ospedale-regina', 'consultorio-centro'],
    },
    {
      id: 'A3', at: '2026-03-03T10:00:00+01:00', service: 'MEDIATION',
      caseId: sudCase.id, personId: sudPerson, agencies: ['polo-sud'],
    },
  ]);
  cleanups.push(agenda.stop);

  // ------------------------------------------------------------ composition
  let supergraphSdl;
  await step('composition of rete and agenda: no errors, no unexplained hints', () => {
    const result = composeServices([
      { name: 'rete', url: hub.url, typeDefs: parse(sdl) },
      { name: 'agenda', url: agenda.url, typeDefs: agendaTypeDefs },
    ]);
    assert.deepEqual((result.errors ?? []).map((e) => e.message), [], 'composition errors');
    for (const h of result.hints ?? []) {
      console.log(`    hint ${h.definition.code}: ${h.message}`);
    }
    const unexplained = (result.hints ?? []).filter((h) => !EXPLAINED_HINTS.has(h.definition.code));
    assert.deepEqual(unexplained.map((h) => h.definition.code), [], 'hints not explained in README.md');
    supergraphSdl = result.supergraphSdl;
    // The data classes reach the supergraph (@composeDirective).
    assert.match(supergraphSdl, /riskLevel: RiskLevel[^\n]*@dataClass\(class: SOCIAL\)/);
  });
  if (!supergraphSdl) throw new Error('cannot start a gateway without a supergraph');

  // ------------------------------------------------------------ the gateway
  const gw = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource({
        url,
        // The caller's token goes to every subgraph, unchanged: Rete decides
        // on the caller, never on the gateway.
        willSendRequest({ request, context }) {
          if (context.authorization) request.http.headers.set('authorization', context.authorization);
          forwarded.push({ name, authorization: Boolean(context.authorization) });
        },
        didReceiveResponse({ response }) {
          if (name === 'rete') reteContentTypes.push(response.http?.headers.get('content-type'));
          return response;
        },
      }),
  });
  const server = new ApolloServer({
    gateway: gw,
    includeStacktraceInErrorResponses: false,
    logger: verbose ? console : { debug() {}, info() {}, warn() {}, error: console.error },
  });
  const { url: gatewayUrl } = await startStandaloneServer(server, {
    listen: { host: '127.0.0.1', port: 0 },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  gateway = server;
  cleanups.push(() => server.stop());
  console.log(`    rete at ${hub.url}, agenda at ${agenda.url}, gateway at ${gatewayUrl}`);

  // ------------------------------------------------------------ every field visible
  await step('polo-nord through the gateway: every field visible, the same as straight from Rete', async () => {
    const via = await gql(gatewayUrl, CASE_WITH_AGENDA, { id: nordCase.id }, nord);
    const direct = await gql(hub.url, CASE_DIRECT, { id: nordCase.id }, nord);
    assert.deepEqual(errorsOf(via), [], via.text);
    assert.deepEqual(errorsOf(direct), [], direct.text);
    assert.deepEqual(withoutAgenda(via.body.data), direct.body.data);
    assert.equal(typeof via.body.data.case.riskLevel, 'string');
    assert.deepEqual(via.body.data.case.appointments.map((a) => a.id), ['A1']);
    for (const s of via.body.data.case.subjects) {
      assert.match(s.person.consultorioFileNumber, /^CC-/);
    }

    // From the agenda to Rete: the gateway asks Rete's _entities.
    const a = await gql(gatewayUrl, AGENDA('NordAgenda'), {}, nord);
    assert.deepEqual(errorsOf(a), [], a.text);
    assert.equal(a.body.data.agenda.length, 1);
    const [appt] = a.body.data.agenda;
    const c = await gql(hub.url, 'query($id: ID!) { case(id: $id) { id reference status riskLevel } }', { id: nordCase.id }, nord);
    const p = await gql(hub.url, 'query($id: ID!) { person(id: $id) { id givenName familyName } }', { id: appt.person.id }, nord);
    assert.deepEqual(appt.case, c.body.data.case);
    assert.deepEqual(withoutAgenda(appt.person), p.body.data.person);
    assert.equal(typeof appt.person.givenName, 'string');
  });

  // ------------------------------------------------------------ a field withheld
  await step('the hospital through the gateway: riskLevel is null with FIELD_WITHHELD, as straight from Rete', async () => {
    const via = await gql(gatewayUrl, CASE_WITH_AGENDA, { id: referred.id }, hospital);
    const direct = await gql(hub.url, CASE_DIRECT, { id: referred.id }, hospital);
    assert.equal(via.body.data.case.riskLevel, null);
    assert.equal(typeof via.body.data.case.reference, 'string');
    assert.deepEqual(withoutAgenda(via.body.data), withErrorNulls(direct.body));
    assert.deepEqual(sortErrors(errorsOf(via)), sortErrors(errorsOf(direct)));
    const withheld = errorsOf(via).find((e) => e.path?.join('.') === 'case.riskLevel');
    assert.ok(withheld, via.text);
    assert.equal(withheld.extensions.code, 'FIELD_WITHHELD');
    assert.equal(withheld.extensions.dataClass, 'SOCIAL');
    assert.ok(!via.text.includes(`"riskLevel":"${referredInFull.riskLevel}"`), 'the value never leaves');

    // Through _entities, from the agenda.
    const a = await gql(gatewayUrl, AGENDA('HospitalAgenda'), {}, hospital);
    assert.equal(a.body.data.agenda.length, 1, a.text);
    const [appt] = a.body.data.agenda;
    assert.equal(appt.case.id, referred.id);
    assert.equal(appt.case.reference, referredInFull.reference);
    assert.equal(appt.case.riskLevel, null);
    const e = errorsOf(a).find((x) => x.path?.join('.') === 'agenda.0.case.riskLevel');
    assert.ok(e, `FIELD_WITHHELD at agenda.0.case.riskLevel: ${a.text}`);
    assert.equal(e.extensions.code, 'FIELD_WITHHELD');
    assert.equal(e.extensions.dataClass, 'SOCIAL');
    assert.ok(!a.text.includes(`"riskLevel":"${referredInFull.riskLevel}"`), 'the value never leaves');
    const direct2 = await gql(hub.url, 'query($id: ID!) { case(id: $id) { id reference status riskLevel } }', { id: referred.id }, hospital);
    assert.deepEqual(appt.case, withErrorNulls(direct2.body).case);
  });

  // ------------------------------------------------------------ no link at all
  await step('a record the caller has no link to: null with NOT_FOUND, in the words of a direct query', async () => {
    const q = 'query Other { appointment(id: "A3") { id case { id reference } person { id givenName } } }';
    const a = await gql(gatewayUrl, q, {}, nord);
    assert.equal(a.body.data.appointment.id, 'A3', a.text);
    // The gateway keeps what the agenda itself said (the id it holds) and
    // gets nothing from Rete: every field Rete would add is null.
    assert.equal(a.body.data.appointment.case?.reference ?? null, null);
    assert.equal(a.body.data.appointment.person?.givenName ?? null, null);
    const direct = await gql(hub.url, 'query($id: ID!) { case(id: $id) { id } }', { id: sudCase.id }, nord);
    const notFound = errorsOf(a).filter((e) => e.extensions?.code === 'NOT_FOUND').map((e) => e.message);
    assert.ok(notFound.includes(errorsOf(direct)[0].message), a.text);
    assert.ok(notFound.includes(`person ${sudPerson} not found`), a.text);
    const theirs = (await gql(hub.url, CASE_DIRECT, { id: sudCase.id }, sud)).body.data.case;
    assert.ok(!a.text.includes(theirs.reference), 'nothing of the case leaves');
  });

  // ------------------------------------------------------------ no token
  await step('no token: the gateway forwards none, Rete and the agenda refuse', async () => {
    const direct = await gql(hub.url, CASE_DIRECT, { id: nordCase.id });
    assert.equal(direct.status, 401);
    assert.deepEqual(codesOf(direct), ['UNAUTHENTICATED']);

    const q = 'query NoToken($id: ID!) { case(id: $id) { id reference } }';
    const via = await gql(gatewayUrl, q, { id: nordCase.id });
    assert.equal(via.body.data?.case ?? null, null, via.text);
    assert.ok(codesOf(via).includes('UNAUTHENTICATED'), via.text);
    assert.ok(!via.text.includes('"reference":"'), 'no data');

    const viaAgenda = await gql(gatewayUrl, AGENDA('NoTokenAgenda'), {});
    assert.equal(viaAgenda.body.data ?? null, null, viaAgenda.text);
    assert.ok(codesOf(viaAgenda).includes('UNAUTHENTICATED'), viaAgenda.text);
  });

  await step('the gateway forwarded the caller\'s token and Rete answered it in application/json', () => {
    assert.ok(forwarded.some((f) => f.name === 'rete' && f.authorization));
    assert.ok(reteContentTypes.length > 0);
    // @apollo/gateway sends no Accept header of its own (its fetch adds
    // `*/*`), so Rete answers in its default type, which the gateway parses
    // as well; Apollo's tools that ask for application/json get it (every
    // direct query of this test asks for it, see gql()).
    for (const t of reteContentTypes) {
      assert.match(t ?? '', /^application\/(json|graphql-response\+json)/);
    }
  });

  // ------------------------------------------------------------ the access log
  await hub.stop();
  await step('the access log holds the gateway\'s reads under the original caller', () => {
    const entries = rete('audit', 'export', '--format', 'jsonl')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
    const byOp = (re) => entries.filter((e) => re.test(e.operation));
    const touches = (e, id) => e.recordsParsed.some((r) => r.id === id);

    const nordReads = byOp(/^query (CaseWithAgenda|NordAgenda)__rete__\d+$/).filter((e) => e.agencyId === 'polo-nord');
    assert.ok(nordReads.length >= 2, JSON.stringify(entries.map((e) => e.operation)));
    for (const e of nordReads) {
      assert.deepEqual([e.operator, e.agencyId, e.role, e.purpose], ['polo-nord-operator', 'polo-nord', 'CASE_MANAGER', 'CASE_MANAGEMENT']);
    }
    // The _entities read of the agenda query (the second fetch) names the case.
    const viaEntities = byOp(/^query NordAgenda__rete__\d+$/);
    assert.ok(viaEntities.some((e) => touches(e, nordCase.id) && e.disclosedClasses.includes(' SOCIAL ')));

    const hospitalReads = entries.filter((e) => e.agencyId === 'ospedale-regina');
    for (const e of hospitalReads) {
      assert.deepEqual([e.operator, e.role, e.purpose], ['ospedale-regina-operator', 'HEALTH_PROFESSIONAL', 'HEALTHCARE']);
      for (const r of e.recordsParsed) {
        assert.ok(r.digests.every((d) => !d.path.endsWith('riskLevel')), 'no digest of a withheld value');
      }
    }
    // The root read and the _entities read of the case, each with SOCIAL withheld.
    for (const op of [/^query CaseWithAgenda__rete__\d+$/, /^query HospitalAgenda__rete__\d+$/]) {
      const read = hospitalReads.find(
        (e) => op.test(e.operation) && e.recordsParsed.some((r) => r.id === referred.id && r.withheld.some((w) => w.class === 'SOCIAL')),
      );
      assert.ok(read, `${op}: ${JSON.stringify(hospitalReads.map((e) => e.operation))}`);
    }
    assert.equal(byOp(/NoToken/).length, 0, 'a refused request reads nothing');
    const verify = rete('audit', 'verify');
    if (verbose) console.log(verify);
  });
} catch (e) {
  failures += 1;
  console.log(`not ok - ${String(e?.stack ?? e)}`);
} finally {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      // best effort
    }
  }
}

console.log(failures ? `${failures} check(s) failed` : 'all gateway checks passed');
process.exit(failures ? 1 : 0);
