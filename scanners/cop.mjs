// graphql-cop's checks, against a live hub.
//
// graphql-cop (github.com/dolevf/graphql-cop, Python, MIT) cannot be fetched
// by CI, which reaches package registries only, and is not on PyPI; its code is
// not copied into this repository either. This file sends the requests that
// graphql-cop 1.15 (upstream commit 2b7e086efae672f28b419c7fcdfe6b48d846c9dc)
// sends and judges the answers by the same conditions, under the same names,
// titles and severities, so that its findings and ours can be compared one to
// one: `bash scanners/run.sh` with GRAPHQL_COP set runs the real graphql-cop
// too and judges its JSON output here (`--judge`).
//
// A finding above INFO fails the run unless IGNORED names it, for the profile
// scanned, with the reason (scanners/README.md says the same at more length).
// Before any check, the hub must answer `{ __typename }` with data: a wrong
// token would otherwise make every check pass by refusal.
//
//   node cop.mjs scan  URL TOKEN PROFILE [REPORT.json]
//   node cop.mjs judge FILE PROFILE          (graphql-cop's own `-o json` output)
//
// PROFILE is `demo` (`rete serve --demo` as shipped) or `production-limits`
// (the same with scanners/production-limits.toml: the limits of a production
// hub). Exits 0 when nothing above INFO is left, 1 otherwise. Needs no stdin.

import fs from 'node:fs';

const SEVERITY_RANK = { INFO: 0, LOW: 1, MEDIUM: 2, HIGH: 3 };

// Findings that are not a fault of the hub, by graphql-cop's test name and by
// profile, each with its reason. Nothing else above INFO may be found.
const BOTH = {
  get_method_support:
    'GET runs queries only (a mutation over GET is 405) and needs `Authorization: Bearer` like POST: ' +
    'the hub takes no cookie or other ambient credential, and a browser adds no Authorization header ' +
    'to a cross-site request, so a forged GET carries no identity and gets 401. No CSRF.',
  batch_query:
    'a batch holds at most limits.max_batch (10) operations; each one passes the same depth, ' +
    'complexity, alias and root-field limits, is charged to the rate limits as one request, and the ' +
    'whole batch shares one time limit: 10 operations in a batch cost what 10 requests cost.',
};
const PRODUCTION_FINDS_NONE = 'the production-limits profile scans the same hub with introspection off and does not find it.';
const IGNORED = {
  demo: {
    ...BOTH,
    introspection:
      `on only with --demo, for its GraphiQL; a hub without --demo has it off unless limits.introspection_in_production says otherwise: ${PRODUCTION_FINDS_NONE}`,
    detect_graphiql: `GraphiQL is served only where introspection is on (with --demo): ${PRODUCTION_FINDS_NONE}`,
    field_suggestions:
      `suggestions are given only where introspection is on (with --demo), where they tell nothing introspection does not: ${PRODUCTION_FINDS_NONE}`,
  },
  'production-limits': { ...BOTH },
};

// graphql-cop's test names, titles, severities and descriptions (lib/tests/).
const TESTS = {
  alias_overloading: ['Alias Overloading', 'HIGH', 'Alias Overloading with 100+ aliases is allowed', 'Denial of Service'],
  batch_query: ['Array-based Query Batching', 'HIGH', 'Batch queries allowed with 10+ simultaneous queries', 'Denial of Service'],
  directive_overloading: ['Directive Overloading', 'HIGH', 'Multiple duplicated directives allowed in a query', 'Denial of Service'],
  field_duplication: ['Field Duplication', 'HIGH', 'Queries are allowed with 500 of the same repeated field', 'Denial of Service'],
  field_suggestions: ['Field Suggestions', 'LOW', 'Field Suggestions are Enabled', 'Information Leakage'],
  get_method_support: ['GET Method Query Support', 'MEDIUM', 'GraphQL queries allowed using the GET method', 'Possible Cross Site Request Forgery (CSRF)'],
  detect_graphiql: ['GraphQL IDE', 'LOW', 'GraphiQL Explorer/Playground Enabled', 'Information Leakage'],
  introspection: ['Introspection', 'HIGH', 'Introspection Query Enabled', 'Information Leakage'],
  circular_query_introspection: ['Introspection-based Circular Query', 'HIGH', 'Circular-query using Introspection', 'Denial of Service'],
  get_based_mutation: ['Mutation is allowed over GET (possible CSRF)', 'MEDIUM', 'GraphQL mutations allowed using the GET method', 'Possible Cross Site Request Forgery'],
  post_based_csrf: ['POST based url-encoded query (possible CSRF)', 'MEDIUM', 'GraphQL accepts non-JSON queries over POST', 'Possible Cross Site Request Forgery'],
  trace_mode: ['Trace Mode', 'INFO', 'Tracing is Enabled', 'Information Leakage'],
  unhandled_error_detection: ['Unhandled Errors Detection', 'INFO', 'Exception errors are not handled', 'Information Leakage'],
};
const NAME_BY_TITLE = Object.fromEntries(Object.entries(TESTS).map(([name, [title]]) => [title, name]));

// ---------------------------------------------------------------- requests

function client(url, token) {
  const base = { 'user-agent': 'rete-scanners (graphql-cop 1.15 checks)', authorization: `Bearer ${token}` };
  const answer = async (res) => {
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { ok: res.ok, status: res.status, text, json };
  };
  return {
    // graphql-cop's graph_query: a JSON POST with operationName `cop`, or a
    // batch of 10 copies without it.
    async graph(query, { batch = false } = {}) {
      const body = batch ? Array.from({ length: 10 }, () => ({ query })) : { query, operationName: 'cop' };
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...base, accept: '*/*', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return answer(res);
    },
    // graphql-cop's request: GET with `?query=`, or a form-encoded POST.
    async get(params, headers = {}) {
      const u = new URL(url);
      for (const [k, v] of Object.entries(params ?? {})) u.searchParams.set(k, v);
      return answer(await fetch(u, { headers: { ...base, accept: '*/*', ...headers } }));
    },
    async postForm(params) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...base, accept: '*/*' },
        body: new URLSearchParams(params),
      });
      return answer(res);
    },
  };
}

// graphql-cop's `try: ... except: pass`: a missing key is "not found".
const probe = (f) => {
  try {
    return Boolean(f());
  } catch {
    return false;
  }
};

// Python's len() of a parsed JSON value.
const pyLen = (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0);

// graphql-cop's `"'extensions': {'KEY':" in str(json).lower()`: an
// `extensions` object anywhere whose first key is KEY.
function extensionsStartWith(value, key) {
  if (Array.isArray(value)) return value.some((v) => extensionsStartWith(v, key));
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.toLowerCase() === 'extensions' && v && typeof v === 'object' && !Array.isArray(v)) {
        const first = Object.keys(v)[0];
        if (first?.toLowerCase() === key) return true;
      }
      if (extensionsStartWith(v, key)) return true;
    }
  }
  return false;
}

const CHECKS = {
  async field_suggestions(c) {
    const r = await c.graph('query cop { __schema { directive } }');
    return probe(() => r.json.errors[0].message.includes('Did you mean'));
  },
  async introspection(c) {
    const r = await c.graph('query cop { __schema { types { name fields { name } } } }');
    return probe(() => r.json.data.__schema.types.length > 0);
  },
  async detect_graphiql(c) {
    const r = await c.get(undefined, { accept: 'text/html' });
    const marks = ['graphiql.min.css', 'GraphQL Playground', 'GraphiQL', 'graphql-playground'];
    return r.ok && marks.some((m) => r.text.includes(m));
  },
  async get_method_support(c) {
    const r = await c.get({ query: 'query cop {__typename}' });
    return r.ok && probe(() => r.json.data.__typename);
  },
  async alias_overloading(c) {
    let aliases = '';
    for (let i = 0; i <= 100; i += 1) aliases += `alias${i}:__typename \n`;
    const r = await c.graph(`query cop { ${aliases} }`);
    return probe(() => r.json.data.alias100);
  },
  async batch_query(c) {
    const r = await c.graph('query cop { __typename }', { batch: true });
    return probe(() => pyLen(r.json) >= 10);
  },
  async trace_mode(c) {
    const r = await c.graph('query cop { __typename }');
    return probe(() => r.json.errors[0].extensions.tracing) || extensionsStartWith(r.json, 'tracing');
  },
  async directive_overloading(c) {
    const r = await c.graph('query cop { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }');
    return probe(() => r.json.errors.length === 10);
  },
  async circular_query_introspection(c) {
    const r = await c.graph(
      'query cop { __schema { types { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } }',
    );
    return probe(() => r.json.data.__schema.types.length > 25);
  },
  async get_based_mutation(c) {
    const r = await c.get({ query: 'mutation cop {__typename}' });
    return r.ok && probe(() => r.json.data.__typename);
  },
  async post_based_csrf(c) {
    const r = await c.postForm({ query: 'query cop { __typename }' });
    return r.ok && probe(() => r.json.data.__typename);
  },
  async unhandled_error_detection(c) {
    const r = await c.graph('qwerty cop { abc }');
    return probe(() => r.json.errors[0].extensions.exception) || extensionsStartWith(r.json, 'exception');
  },
  // Switched off upstream (graphql-cop issue #43: false positives on servers
  // that merge duplicate fields); run here because the hub refuses it anyway.
  async field_duplication(c) {
    const r = await c.graph(`query cop { ${'__typename \n'.repeat(500)}} `);
    return probe(() => r.json.data.__typename);
  },
};

// ---------------------------------------------------------------- judging

function judge(findings, profile) {
  const ignored = IGNORED[profile];
  if (!ignored) {
    console.error(`unknown profile \`${profile}\`: ${Object.keys(IGNORED).join(' or ')}`);
    process.exit(2);
  }
  let failed = 0;
  const counts = {};
  for (const f of [...findings].sort((a, b) => a.title.localeCompare(b.title))) {
    const name = f.name ?? NAME_BY_TITLE[f.title] ?? f.title;
    const above = (SEVERITY_RANK[f.severity] ?? SEVERITY_RANK.HIGH) > SEVERITY_RANK.INFO;
    let mark = f.result ? 'found' : 'no   ';
    let note = '';
    if (f.result) {
      counts[f.severity] = (counts[f.severity] ?? 0) + 1;
      if (above && ignored[name]) {
        mark = 'ignored';
        f.ignored = ignored[name];
        note = `\n          ignored: ${f.ignored}`;
      } else if (above) {
        mark = 'FAIL ';
        failed += 1;
      }
    }
    console.log(`${mark.padEnd(7)} [${f.severity}] ${name}: ${f.title} — ${f.description}${note}`);
  }
  for (const name of Object.keys(ignored)) {
    const f = findings.find((x) => (x.name ?? NAME_BY_TITLE[x.title]) === name);
    if (f && !f.result) console.log(`note: ${name} is no longer found on ${profile}; remove it from IGNORED and scanners/README.md`);
  }
  const found = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ') || 'none';
  console.log(`\ngraphql-cop checks (${profile}): ${findings.length} run; found: ${found}; ${failed} above INFO not explained`);
  return failed;
}

const [command, ...args] = process.argv.slice(2);

if (command === 'judge') {
  const [file, profile] = args;
  const findings = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(findings) || findings.length === 0) {
    console.log(`not ok - ${file} holds no graphql-cop findings (did it detect GraphQL at the URL?)`);
    process.exit(1);
  }
  const failed = judge(findings, profile);
  console.log(failed ? `not ok - graphql-cop: ${failed} finding(s) above INFO` : 'ok - graphql-cop: nothing above INFO left');
  process.exit(failed ? 1 : 0);
} else if (command === 'scan') {
  const [url, token, profile, report] = args;
  if (!url || !token || !IGNORED[profile]) {
    console.error('usage: node cop.mjs scan URL TOKEN demo|production-limits [REPORT.json]');
    process.exit(2);
  }
  const c = client(url, token);
  // graphql-cop's is_graphql, stricter: the token must be accepted.
  const first = await c.graph('query cop { __typename }');
  if (!probe(() => first.json.data.__typename === 'Query')) {
    console.log(`not ok - ${url} does not answer { __typename } with this token: ${first.status} ${first.text.slice(0, 300)}`);
    process.exit(1);
  }
  const findings = [];
  for (const [name, check] of Object.entries(CHECKS)) {
    const [title, severity, description, impact] = TESTS[name];
    findings.push({ name, title, severity, description, impact: `${impact} - /graphql`, result: await check(c) });
  }
  const failed = judge(findings, profile);
  if (report) fs.writeFileSync(report, JSON.stringify(findings, null, 2) + '\n');
  console.log(failed ? `not ok - graphql-cop checks: ${failed} finding(s) above INFO` : 'ok - graphql-cop checks: nothing above INFO left');
  process.exit(failed ? 1 : 0);
} else {
  console.error('usage: node cop.mjs scan URL TOKEN PROFILE [REPORT.json] | node cop.mjs judge FILE PROFILE');
  process.exit(2);
}
