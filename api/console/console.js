// Rete: the privacy officers' console.
//
// Plain JavaScript, no build step. It talks only to /graphql with the
// officer's token, which lives in one variable of this page (memory only:
// never in local storage, session storage or a cookie; a reload or "Esci"
// forgets it). Nothing read from the hub is written to browser storage.
// Every value from the hub is put in the page as text (textContent), never
// as HTML.
//
// When the hub has an OpenID Connect issuer for the console
// (/console/config.json), the officer can also sign in there: authorization
// code flow with PKCE (S256) as a public client. Only across that redirect
// does session storage hold anything: one entry with the random state, nonce
// and code verifier of the sign-in under way (no token, nothing personal),
// removed as soon as the page is back, before the code is exchanged. The
// access token from the token endpoint then lives in memory like a pasted
// one; the ID token is kept in memory too, only as the hint of the issuer's
// sign-out.
'use strict';

(function () {
  // ---------------------------------------------------------------- words
  const CLASSES = {
    ADMINISTRATIVE: ['Dati amministrativi', 'Administrative data'],
    IDENTITY: ['Identità', 'Identity'],
    CONTACT: ['Recapiti', 'Contact details'],
    SECRET_LOCATION: ['Luogo segreto', 'Secret location'],
    HEALTH: ['Salute', 'Health'],
    JUDICIAL: ['Dati giudiziari', 'Judicial data'],
    SOCIAL: ['Valutazioni sociali', 'Social assessments'],
    MIGRATION: ['Condizione migratoria', 'Migration status'],
    ETHNIC_ORIGIN: ['Origine etnica', 'Ethnic origin'],
    VIOLENCE: ['Violenza subita', 'Violence'],
  };
  const PURPOSES = {
    CASE_MANAGEMENT: ['Gestione del caso', 'Case management'],
    HEALTHCARE: ['Cura della salute', 'Healthcare'],
    JUDICIAL: ['Procedimento giudiziario', 'Judicial proceedings'],
    PLACEMENT: ['Inserimento in struttura', 'Placement'],
    EMERGENCY: ['Emergenza', 'Emergency'],
    STATISTICS: ['Statistica', 'Statistics'],
    AUDIT: ['Controllo (audit)', 'Audit'],
    SYNC: ['Sincronizzazione', 'Synchronisation'],
  };
  const ROLES = {
    CASE_MANAGER: ['Responsabile del caso', 'Case manager'],
    SOCIAL_WORKER: ['Assistente sociale', 'Social worker'],
    PSYCHOLOGIST: ['Psicologo/a', 'Psychologist'],
    HEALTH_PROFESSIONAL: ['Professionista sanitario', 'Health professional'],
    EDUCATOR: ['Educatore/educatrice', 'Educator'],
    MEDIATOR: ['Mediatore culturale', 'Cultural mediator'],
    JUDGE: ['Giudice', 'Judge'],
    COURT_CLERK: ['Cancelliere', 'Court clerk'],
    INTAKE_OPERATOR: ['Operatore di accoglienza', 'Intake operator'],
    PRIVACY_OFFICER: ['Responsabile protezione dati', 'Privacy officer'],
    INTEGRATOR: ['Integratore di sistemi', 'Integrator'],
    ANALYST: ['Analista', 'Analyst'],
  };
  const REASONS = {
    NO_RELATIONSHIP: ["l'ente non ha alcun legame con questo dato", 'the agency has no relationship with this record'],
    NO_RULE_GRANTS: ["nessuna regola dell'accordo concede questa classe a questo ruolo e finalità", 'no rule of the agreement grants this class to this role and purpose'],
    NO_LEGAL_BASIS: ['nessuna base giuridica (provvedimento, obbligo di legge, consenso o emergenza) vale per questa persona', 'no legal basis (court order, duty, consent or break-glass) holds for this subject'],
    BREAK_GLASS_EXCLUDES_SECRET_LOCATION: ["l'accesso di emergenza non apre i luoghi segreti", 'break-glass does not open secret locations'],
    PROTECTED_SUBJECT: ["negato per proteggere la persona: l'unico legame passa da chi ne è tenuto lontano", 'withheld to protect the subject: the only link runs through a person they are protected from'],
  };
  const LINKS = {
    TEAM_MEMBER: ['ente della équipe del caso', 'a member of the case team'],
    LEAD: ['ente titolare del caso', 'the lead agency of the case'],
    REFERRER: ['ente che ha segnalato il caso', 'the agency that referred the case'],
    FACILITY_OPERATOR: ['ente gestore della struttura di inserimento', 'the operator of the placement facility'],
    COURT_OF_RECORD: ['tribunale del procedimento', 'the court of record'],
    ANY: ['qualsiasi ente della rete', 'any agency of the network'],
  };
  const ACCESS = { WRITE: ['scrittura', 'write'], AUDIT_READ: ['lettura di controllo', 'audit read'] };

  const UI = {
    title: ['Rete · Console privacy', 'Rete · Privacy console'],
    skip: ['Salta al contenuto', 'Skip to content'],
    otherLang: ['English', 'Italiano'],
    otherLangCode: ['en', 'it'],
    signout: ['Esci', 'Sign out'],
    nav: ['Sezioni', 'Sections'],
    'nav-registro': ['Registro accessi', 'Access log'],
    'nav-catena': ['Integrità della catena', 'Chain integrity'],
    'nav-emergenze': ['Accessi di emergenza', 'Emergency access'],
    'nav-rapporto': ["Rapporto per l'interessato", 'Subject access report'],
    'nav-grafico': ['Comunicazioni nel tempo', 'Disclosures over time'],
    signinTitle: ['Accesso alla console', 'Sign in to the console'],
    signinIntro: ['Per i responsabili della protezione dei dati (ruolo PRIVACY_OFFICER, finalità AUDIT). Incolla il token di accesso: resta solo in memoria in questa scheda e si cancella con «Esci» o ricaricando la pagina.', 'For privacy officers (role PRIVACY_OFFICER, purpose AUDIT). Paste your access token: it stays in this tab\'s memory only and is forgotten on "Sign out" or reload.'],
    tokenLabel: ['Token di accesso (JWT)', 'Access token (JWT)'],
    tokenHint: ['Con la demo: rete token --agency polo-nord --role PRIVACY_OFFICER --purpose AUDIT', 'With the demo: rete token --agency polo-nord --role PRIVACY_OFFICER --purpose AUDIT'],
    signin: ['Accedi', 'Sign in'],
    signingIn: ['Verifica del token…', 'Checking the token…'],
    refused: ['Accesso negato', 'Access refused'],
    refusedRole: ['Questa console è riservata ai responsabili della protezione dei dati con finalità AUDIT. Il server ha risposto:', 'This console is for privacy officers with purpose AUDIT. The hub answered:'],
    badToken: ['Token non valido o scaduto. Il server ha risposto:', 'The token is invalid or expired. The hub answered:'],
    emptyToken: ['Incolla un token.', 'Paste a token.'],
    signedOut: ['Sei uscito: il token è stato cancellato.', 'Signed out: the token was forgotten.'],
    signinIntroSso: ['Per i responsabili della protezione dei dati (ruolo PRIVACY_OFFICER, finalità AUDIT). Accedi con l\'identità del tuo ente oppure incolla un token di accesso: il token resta solo in memoria in questa scheda e si cancella con «Esci» o ricaricando la pagina.', 'For privacy officers (role PRIVACY_OFFICER, purpose AUDIT). Sign in with your agency\'s identity or paste an access token: the token stays in this tab\'s memory only and is forgotten on "Sign out" or reload.'],
    ssoTitle: ['Con l\'identità del tuo ente', 'With your agency\'s identity'],
    ssoHint: ['Si apre la pagina di accesso di', 'Opens the sign-in page of'],
    sso: ['Accedi con SSO', 'Sign in with SSO'],
    pasteTitle: ['Oppure incolla un token', 'Or paste a token'],
    ssoRedirecting: ['Apertura della pagina di accesso…', 'Opening the sign-in page…'],
    ssoExchanging: ['Accesso in corso: scambio del codice con il fornitore di identità…', 'Signing in: exchanging the code with the identity provider…'],
    ssoFailed: ['Accesso con SSO non riuscito', 'SSO sign-in failed'],
    ssoDenied: ['Accesso annullato: il fornitore di identità non ha concesso l\'autorizzazione (consenso negato o accesso interrotto). Nessun token è stato ricevuto.', 'Sign-in cancelled: the identity provider did not grant authorization (consent denied or sign-in abandoned). No token was received.'],
    ssoProviderError: ['Il fornitore di identità ha risposto con un errore.', 'The identity provider answered with an error.'],
    ssoBadState: ['Risposta di accesso non valida: non corrisponde a un accesso avviato da questa scheda (parametro state o emittente diverso). È stata scartata senza usarla; riprova.', 'Invalid sign-in response: it does not match a sign-in started from this tab (state or issuer differ). It was discarded unused; try again.'],
    ssoExchange: ['Lo scambio del codice con il fornitore di identità non è riuscito: nessun token è stato ricevuto.', 'Exchanging the code with the identity provider failed: no token was received.'],
    ssoIdToken: ['Il token di identità ricevuto non corrisponde a questo accesso (nonce, emittente o destinatario diversi): scartato.', 'The ID token received does not match this sign-in (nonce, issuer or audience differ): discarded.'],
    ssoDiscovery: ['Impossibile leggere la configurazione del fornitore di identità.', 'Cannot read the identity provider\'s configuration.'],
    ssoInsecure: ['L\'accesso con SSO richiede una connessione sicura (HTTPS).', 'SSO sign-in needs a secure connection (HTTPS).'],
    ssoSignout: ['Esci dal fornitore di identità', 'Sign out at the identity provider'],
    signedOutSso: ['Sei uscito: il token è stato cancellato; al fornitore di identità è stato chiesto di chiudere la sessione.', 'Signed out: the token was forgotten; the identity provider was asked to end the session.'],
    signedInAs: ['Accesso come', 'Signed in as'],
    loading: ['Caricamento…', 'Loading…'],
    error: ['Errore', 'Error'],
    none: ['nessuno', 'none'],
    // access log
    logTitle: ['Registro degli accessi', 'Access log'],
    logIntro: ['Chi ha visto quali dati, quando e perché. Le voci più recenti per prime; sono incluse le voci degli operatori del tuo ente e quelle che riguardano i casi a cui il tuo ente è collegato.', 'Who saw which data, when and why, newest first: the entries of your agency\'s operators and those that touched cases your agency is linked to.'],
    filters: ['Filtri', 'Filters'],
    fSubject: ['Persona (id)', 'Person (id)'],
    fCase: ['Caso (id)', 'Case (id)'],
    fAgency: ['Ente', 'Agency'],
    fOperator: ['Operatore', 'Operator'],
    fPurpose: ['Finalità', 'Purpose'],
    fClass: ['Classe di dati', 'Data class'],
    fDecision: ['Esito', 'Decision'],
    fFrom: ['Dal', 'From'],
    fUntil: ['Al (escluso)', 'Until (excluded)'],
    any: ['— tutti —', '— any —'],
    DISCLOSED: ['comunicato', 'disclosed'],
    WITHHELD: ['negato', 'withheld'],
    search: ['Cerca', 'Search'],
    reset: ['Azzera filtri', 'Clear filters'],
    entries: ['voci', 'entries'],
    nEntries: ['Voci trovate', 'Entries found'],
    page: ['Pagina', 'Page'],
    prev: ['← Precedenti', '← Previous'],
    next: ['Successive →', 'Next →'],
    noEntries: ['Nessuna voce corrisponde ai filtri.', 'No entry matches the filters.'],
    cSeq: ['N.', 'No.'],
    cAt: ['Quando', 'When'],
    cWho: ['Chi', 'Who'],
    cPurpose: ['Finalità', 'Purpose'],
    cOperation: ['Operazione', 'Operation'],
    cDisclosed: ['Comunicato', 'Disclosed'],
    cWithheld: ['Negato', 'Withheld'],
    details: ['Dettaglio', 'Details'],
    detailOf: ['Voce n.', 'Entry no.'],
    close: ['Chiudi', 'Close'],
    records: ['Dati toccati', 'Records touched'],
    recordsNotShown: ['Dati di questa voce fuori dal tuo ambito, non mostrati', 'Records of this entry outside your scope, not shown'],
    kind: { CASE: ['Caso', 'Case'], PERSON: ['Persona', 'Person'], REFERRAL: ['Segnalazione', 'Referral'], FACILITY: ['Struttura', 'Facility'] },
    subjects: ['Persone interessate', 'Subjects'],
    filterSubject: ['Filtra il registro su questa persona', 'Filter the log to this person'],
    access: ['Accesso', 'Access'],
    disclosedBy: ['Comunicato in base alla regola', 'Disclosed by rule'],
    basis: ['base giuridica', 'legal basis'],
    withheldBecause: ['Negato perché', 'Withheld because'],
    explainTitle: ["Spiegazione secondo l'accordo in vigore oggi (explainAccess)", 'Explanation under the agreement in force today (explainAccess)'],
    explainNote: ['Il registro riporta la regola e la base giuridica al momento dell\'accesso; la spiegazione qui sotto ricalcola la decisione adesso, regola per regola.', 'The log holds the rule and legal basis at the time of access; the explanation below recomputes the decision now, rule by rule.'],
    explainBtn: ['Spiega regola e base giuridica', 'Explain rule and legal basis'],
    explainNone: ['Nessun caso in questa voce da spiegare.', 'No case in this entry to explain.'],
    wouldDisclose: ['oggi sarebbe comunicato', 'would be disclosed today'],
    wouldWithhold: ['oggi sarebbe negato', 'would be withheld today'],
    fullText: ['Testo completo della valutazione', 'Full evaluation'],
    meta: ['Dati tecnici', 'Technical details'],
    role: ['Ruolo', 'Role'],
    agency: ['Ente', 'Agency'],
    policyVersion: ['Versione dell\'accordo', 'Agreement version'],
    queryHash: ['Impronta della richiesta', 'Query hash'],
    hash: ['Impronta (hash)', 'Hash'],
    prevHash: ['Impronta precedente', 'Previous hash'],
    digests: ['valori sigillati (digest)', 'sealed values (digests)'],
    // chain
    chainTitle: ['Integrità della catena', 'Chain integrity'],
    chainIntro: ['Ogni voce contiene l\'impronta della precedente: una voce modificata, inserita o cancellata interrompe la catena. La verifica ripercorre tutte le voci, come «rete audit verify».', 'Each entry holds the previous entry\'s hash: an edited, inserted or deleted entry breaks the chain. Verifying walks every entry, as "rete audit verify" does.'],
    head: ['Ultima voce (testa)', 'Head (newest entry)'],
    headSeq: ['Numero', 'Number'],
    stored: ['Voci conservate', 'Entries stored'],
    lastVerification: ['Ultima verifica', 'Last verification'],
    never: ['Nessuna verifica da quando questo processo del server è stato avviato.', 'Not verified since this hub process started.'],
    verifyNow: ['Verifica ora', 'Verify now'],
    verifying: ['Verifica in corso…', 'Verifying…'],
    intact: ['Catena integra', 'Chain intact'],
    broken: ['Catena interrotta', 'Chain broken'],
    firstBroken: ['Prima voce non valida', 'First broken entry'],
    checked: ['Voci controllate', 'Entries checked'],
    by: ['da', 'by'],
    fromCheckpoint: ['a partire dal punto di conservazione', 'from the retention checkpoint'],
    // break-glass
    bgTitle: ['Accessi di emergenza da rivedere', 'Emergency accesses to review'],
    bgIntro: ['Accessi «break-glass» ai casi del tuo ente o dei suoi operatori, in attesa di revisione, dal più vecchio.', 'Break-glass grants on your agency\'s cases or by its operators, waiting for review, oldest first.'],
    bgEmpty: ['Nessun accesso di emergenza da rivedere.', 'No emergency access waiting for review.'],
    bgCase: ['Caso', 'Case'],
    bgWho: ['Chi', 'Who'],
    bgWhen: ['Concesso il', 'Granted'],
    bgExpires: ['Scade il', 'Expires'],
    bgJustification: ['Motivazione', 'Justification'],
    bgOpened: ['Cosa è stato aperto', 'What was opened'],
    bgEntries: ['voci del registro durante l\'emergenza', 'log entries while the grant ran'],
    bgNothing: ['nessun dato comunicato', 'no data disclosed'],
    bgSee: ['Vedi le voci nel registro', 'See the entries in the log'],
    note: ['Nota della revisione', 'Review note'],
    noteRequired: ['Scrivi una nota per la revisione.', 'Write a review note.'],
    approve: ['Approva', 'Approve'],
    flag: ['Segnala come improprio', 'Flag as improper'],
    reviewed: ['Revisione registrata', 'Review recorded'],
    // report
    repTitle: ["Rapporto sugli accessi per l'interessato", 'Subject access report'],
    repIntro: ['La risposta a una richiesta di accesso (art. 15 GDPR): chi ha ricevuto quali dati della persona, quando, per quale finalità e su quale base giuridica. I nomi degli operatori non compaiono.', 'The answer to an access request (GDPR art. 15): who received which of the person\'s data, when, for what purpose and on which legal basis. Operators\' names are not included.'],
    repPerson: ['Persona (id)', 'Person (id)'],
    repGenerate: ['Genera il rapporto', 'Generate the report'],
    repPrint: ['Stampa o salva in PDF', 'Print or save as PDF'],
    repHeading: ['Rapporto sugli accessi ai dati personali', 'Report of access to personal data'],
    repGenerated: ['Generato il', 'Generated on'],
    repBy: ['a cura del responsabile della protezione dei dati di', 'by the data protection officer of'],
    repNone: ['Nessun ente ha ricevuto dati di questa persona.', 'No agency received data about this person.'],
    repRecipient: ['Ente destinatario', 'Recipient agency'],
    repClasses: ['Dati comunicati', 'Data disclosed'],
    repBases: ['Base giuridica', 'Legal basis'],
    repWrote: ['ha registrato dati sulla persona', 'recorded data about the person'],
    repRestricted: ['Voci escluse dal rapporto', 'Entries left out of this report'],
    // chart
    chTitle: ['Comunicazioni per ente e classe di dati', 'Disclosures per agency and data class'],
    chIntro: ['Quante voci del registro hanno comunicato ciascuna classe di dati a ciascun ente, per periodo.', 'How many log entries disclosed each class of data to each agency, per period.'],
    chFrom: ['Dal', 'From'],
    chUntil: ['Al', 'Until'],
    chBucket: ['Periodo', 'Period'],
    DAY: ['giorno', 'day'],
    WEEK: ['settimana', 'week'],
    MONTH: ['mese', 'month'],
    chShow: ['Mostra', 'Show'],
    chEmpty: ['Nessuna comunicazione nel periodo.', 'No disclosure in the range.'],
    chTable: ['Totali per ente e classe', 'Totals per agency and class'],
    chTotal: ['Totale', 'Total'],
    chFigure: ['Comunicazioni a', 'Disclosures to'],
  };

  // ---------------------------------------------------------------- state
  // The token lives here only.
  let token = null;
  // OpenID Connect: the hub's public settings (null: paste a token only), the
  // issuer's discovery document once read, and the ID token of an SSO sign-in
  // (the hint of the issuer's sign-out; never sent to the hub).
  let oidc = null;
  let provider = null;
  let idToken = null;
  const PENDING = 'rete-console-oidc';
  let me = null;
  let lang = 0; // 0 = it, 1 = en
  let agencies = {};
  const logState = { filter: {}, cursors: [null], page: 0 };

  function t(key) {
    const v = UI[key];
    return v ? v[lang] : key;
  }
  function word(table, key) {
    const v = table[key];
    return v ? v[lang] : key;
  }
  const cls = (c) => word(CLASSES, c);

  function basisInWords(basis) {
    const i = basis.indexOf(':');
    const kind = i < 0 ? basis : basis.slice(0, i);
    const id = i < 0 ? '' : basis.slice(i + 1);
    const it = lang === 0;
    switch (kind) {
      case 'CONSENT': return (it ? 'consenso registrato della persona' : 'recorded consent of the person') + ` (${id})`;
      case 'COURT_ORDER': return (it ? 'provvedimento del tribunale che incarica l\'ente' : 'a court order mandating the agency') + ` (${id})`;
      case 'DUTY': return (it ? 'obbligo di legge previsto dall\'accordo' : 'a legal duty named by the agreement') + ` «${id}»`;
      case 'BREAK_GLASS': return (it ? 'accesso di emergenza (break-glass)' : 'emergency access (break-glass)') + ` (${id})`;
      case 'RELATIONSHIP': return (it ? 'legame con il caso: ' : 'relationship to the case: ') + word(LINKS, id);
      default: return basis;
    }
  }
  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return d.toLocaleString(lang === 0 ? 'it-IT' : 'en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
  }
  function fmtDate(iso) {
    return new Date(iso).toLocaleDateString(lang === 0 ? 'it-IT' : 'en-GB', { day: '2-digit', month: 'short' });
  }
  function agencyName(id) {
    const a = agencies[id];
    return a ? a.name : id;
  }

  // ---------------------------------------------------------------- DOM
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const $ = (id) => document.getElementById(id);
  function announce(text) {
    const a = $('announce');
    a.textContent = '';
    setTimeout(() => { a.textContent = text; }, 50);
  }
  function errorBox(message) {
    return h('div', { class: 'alert error', role: 'alert' }, h('strong', {}, t('error') + ': '), message);
  }
  let uid = 0;
  function field(label, control, hint) {
    const id = control.id || `f${++uid}`;
    control.id = id;
    return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint' }, hint) : null);
  }
  function select(name, options, value) {
    return h('select', { name },
      h('option', { value: '' }, t('any')),
      options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
  }
  function classChips(list) {
    if (!list.length) return h('span', { class: 'muted' }, '—');
    return h('span', { class: 'chips' }, list.map((c) => h('span', { class: `chip c-${c}` }, cls(c))));
  }

  // ---------------------------------------------------------------- GraphQL
  class GqlError extends Error {
    constructor(message, code, status) { super(message); this.code = code; this.status = status; }
  }
  async function gql(query, variables, withToken) {
    const resp = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        authorization: `Bearer ${withToken || token}`,
      },
      body: JSON.stringify({ query, variables: variables || {} }),
      credentials: 'omit',
      cache: 'no-store',
    });
    let body;
    try { body = await resp.json(); } catch (_) { throw new GqlError(`HTTP ${resp.status}`, 'HTTP', resp.status); }
    if (body.errors && body.errors.length) {
      const e = body.errors[0];
      const code = (e.extensions && e.extensions.code) || 'ERROR';
      if (code === 'UNAUTHENTICATED' && !withToken) { signOut(t('badToken') + ' ' + e.message); }
      throw new GqlError(e.message, code, resp.status);
    }
    return body.data;
  }

  // ---------------------------------------------------------------- shell
  function applyLanguage() {
    document.documentElement.lang = lang === 0 ? 'it' : 'en';
    document.title = t('title');
    $('brand-title').textContent = t('title');
    $('skip').textContent = t('skip');
    $('lang').textContent = t('otherLang');
    $('lang').setAttribute('lang', t('otherLangCode'));
    $('signout').textContent = t('signout');
    $('nav').setAttribute('aria-label', t('nav'));
    for (const a of document.querySelectorAll('#nav a')) a.textContent = t(a.id);
    renderWho();
  }
  function renderWho() {
    const w = $('who');
    w.replaceChildren();
    if (!me) { w.hidden = true; return; }
    w.hidden = false;
    w.append(t('signedInAs') + ' ', h('strong', {}, me.operator), ` · ${me.agency ? me.agency.name : ''} · ${word(ROLES, me.role)}`);
  }
  function signedIn(yes) {
    $('nav').hidden = !yes;
    $('signout').hidden = !yes;
    renderWho();
  }
  function signOut(message) {
    token = null;
    idToken = null;
    me = null;
    agencies = {};
    logState.filter = {};
    logState.cursors = [null];
    logState.page = 0;
    signedIn(false);
    if (location.hash !== '' && location.hash !== '#/') history.replaceState(null, '', '#/');
    renderSignIn(message);
  }

  const SIGNIN_QUERY = 'query ConsoleSignIn { me { operator role purpose agency { id name } } agencies { id name kind } accessLogStatus { head { seq } } }';

  // Check a token with the hub, then keep it: the same for a pasted token and
  // for an access token from the OpenID Connect issuer.
  async function signInWith(value, status) {
    status.replaceChildren(h('p', {}, t('signingIn')));
    try {
      const data = await gql(SIGNIN_QUERY, {}, value);
      token = value;
      me = data.me;
      agencies = Object.fromEntries(data.agencies.map((a) => [a.id, a]));
      signedIn(true);
      if (!location.hash || location.hash === '#/') location.hash = '#/registro';
      else route();
    } catch (e) {
      token = null;
      const why = e.code === 'FORBIDDEN' ? t('refusedRole') : t('badToken');
      const box = h('div', { class: 'alert error', role: 'alert', id: 'refused' },
        h('strong', {}, t('refused')), h('p', {}, why), h('p', { class: 'mono' }, e.message));
      // Signed in at the issuer as someone the console refuses: offer to end
      // that session, or the next "Accedi con SSO" comes back as the same person.
      if (canEndSession()) {
        const hint = idToken;
        box.append(h('p', {}, h('button', { type: 'button', id: 'sso-signout', onclick: () => { idToken = null; endSessionAt(hint); } }, t('ssoSignout'))));
      } else {
        idToken = null;
      }
      status.replaceChildren(box);
    }
  }

  function renderSignIn(message, isError) {
    const main = $('main');
    const area = h('textarea', { id: 'token', name: 'token', rows: '5', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-hint' });
    const status = h('div', { id: 'signin-status', 'aria-live': 'assertive' });
    if (message instanceof Node) status.append(message);
    else if (message) status.append(h('div', { class: isError ? 'alert error' : 'alert', role: isError ? 'alert' : 'status' }, message));
    const form = h('form', { class: 'card signin', onsubmit: async (ev) => {
      ev.preventDefault();
      const value = area.value.trim();
      area.value = '';
      if (!value) { status.replaceChildren(errorBox(t('emptyToken'))); return; }
      idToken = null;
      await signInWith(value, status);
    } },
    h('h1', { tabindex: '-1' }, t('signinTitle')),
    h('p', {}, t(oidc ? 'signinIntroSso' : 'signinIntro')));
    let ssoButton = null;
    if (oidc) {
      ssoButton = h('button', { type: 'button', class: 'primary', id: 'sso', 'aria-describedby': 'sso-hint', onclick: () => startSso(status, ssoButton) }, t('sso'));
      form.append(h('section', { class: 'sso', 'aria-labelledby': 'sso-h' },
        h('h2', { id: 'sso-h' }, t('ssoTitle')),
        h('p', { class: 'hint', id: 'sso-hint' }, `${t('ssoHint')} `, h('code', {}, oidc.issuer)),
        ssoButton),
      h('h2', { id: 'paste-h' }, t('pasteTitle')));
    }
    form.append(
      h('label', { for: 'token' }, t('tokenLabel')), area,
      h('p', { class: 'hint', id: 'token-hint' }, h('code', {}, t('tokenHint'))),
      h('button', { type: 'submit', class: 'primary', id: 'signin' }, t('signin')),
      status);
    main.replaceChildren(form);
    (ssoButton || area).focus();
    return status;
  }

  // ---------------------------------------------------------------- OpenID Connect
  class SsoError extends Error {
    constructor(key, detail) { super(detail || key); this.key = key; this.detail = detail; }
  }
  function ssoErrorBox(e) {
    const key = e instanceof SsoError ? e.key : 'ssoExchange';
    const detail = e instanceof SsoError ? e.detail : e.message;
    return h('div', { class: 'alert error', role: 'alert', id: 'sso-error' },
      h('strong', {}, t('ssoFailed')), h('p', {}, t(key)), detail ? h('p', { class: 'mono' }, detail) : null);
  }
  function b64url(bytes) {
    let s = '';
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function randomString(n) {
    return b64url(crypto.getRandomValues(new Uint8Array(n)));
  }
  function jwtClaims(jwt) {
    const part = String(jwt).split('.')[1] || '';
    const bin = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  }
  function redirectUri() {
    return location.origin + location.pathname;
  }
  function describeOAuthError(body, status) {
    if (body && body.error) return body.error + (body.error_description ? `: ${body.error_description}` : '');
    return `HTTP ${status}`;
  }

  // The issuer's discovery document (OpenID Connect Discovery 1.0), read once
  // per page load and kept in memory.
  async function discover() {
    if (provider) return provider;
    const url = `${oidc.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let resp;
    try {
      resp = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      throw new SsoError('ssoDiscovery', `${url}: ${e.message}`);
    }
    if (!resp.ok) throw new SsoError('ssoDiscovery', `${url}: HTTP ${resp.status}`);
    const d = await resp.json().catch(() => null);
    if (!d || d.issuer !== oidc.issuer) throw new SsoError('ssoDiscovery', `${url}: issuer «${d && d.issuer}» ≠ «${oidc.issuer}»`);
    if (!d.authorization_endpoint || !d.token_endpoint) throw new SsoError('ssoDiscovery', `${url}: no authorization_endpoint or token_endpoint`);
    if (Array.isArray(d.code_challenge_methods_supported) && !d.code_challenge_methods_supported.includes('S256')) {
      throw new SsoError('ssoDiscovery', `${url}: PKCE S256 is not supported`);
    }
    // The page may only call the issuer's origin (the hub's Content-Security-Policy).
    const origin = new URL(oidc.issuer).origin;
    if (new URL(d.token_endpoint).origin !== origin) {
      throw new SsoError('ssoDiscovery', `token_endpoint ${d.token_endpoint} is not on ${origin}`);
    }
    provider = d;
    return d;
  }

  // Off to the issuer: authorization request with PKCE, state and nonce.
  async function startSso(status, button) {
    button.disabled = true;
    status.replaceChildren(h('p', {}, t('ssoRedirecting')));
    try {
      if (!window.isSecureContext || !window.crypto || !crypto.subtle) throw new SsoError('ssoInsecure');
      const p = await discover();
      const verifier = randomString(32);
      const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
      const state = randomString(16);
      const nonce = randomString(16);
      const back = location.hash && location.hash !== '#/' ? location.hash : '';
      sessionStorage.setItem(PENDING, JSON.stringify({ kind: 'login', issuer: oidc.issuer, state, nonce, verifier, redirectUri: redirectUri(), back }));
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: oidc.clientId,
        redirect_uri: redirectUri(),
        scope: oidc.scopes.join(' '),
        state,
        nonce,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ui_locales: lang === 0 ? 'it' : 'en',
      });
      if (oidc.resource) q.set('resource', oidc.resource);
      const sep = p.authorization_endpoint.includes('?') ? '&' : '?';
      location.assign(`${p.authorization_endpoint}${sep}${q}`);
    } catch (e) {
      sessionStorage.removeItem(PENDING);
      status.replaceChildren(ssoErrorBox(e));
      button.disabled = false;
    }
  }

  // Back from the issuer (authorization response or end of its sign-out):
  // the pending entry is read and removed, and the URL cleaned, before
  // anything else, so neither the code nor the verifier outlive this call.
  async function finishSso(params) {
    let pending = null;
    try { pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null'); } catch (_) { pending = null; }
    sessionStorage.removeItem(PENDING);
    history.replaceState(null, '', location.pathname + ((pending && pending.back) || ''));
    const state = params.get('state');
    if (pending && pending.kind === 'logout' && !params.has('code') && !params.has('error')) {
      renderSignIn(state === pending.state ? t('signedOutSso') : null);
      return;
    }
    const status = renderSignIn();
    try {
      if (!oidc || !pending || pending.kind !== 'login' || !state || state !== pending.state || pending.issuer !== oidc.issuer) {
        throw new SsoError('ssoBadState');
      }
      // RFC 9207: an issuer that names itself must be the one we asked.
      if (params.has('iss') && params.get('iss') !== pending.issuer) {
        throw new SsoError('ssoBadState', `iss ${params.get('iss')}`);
      }
      if (params.has('error')) {
        const denied = ['access_denied', 'consent_required', 'login_required', 'interaction_required'].includes(params.get('error'));
        throw new SsoError(denied ? 'ssoDenied' : 'ssoProviderError', describeOAuthError({ error: params.get('error'), error_description: params.get('error_description') }));
      }
      const code = params.get('code');
      if (!code) throw new SsoError('ssoBadState');
      status.replaceChildren(h('p', {}, t('ssoExchanging')));
      const p = await discover();
      const form = new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: pending.redirectUri,
        client_id: oidc.clientId,
        code_verifier: pending.verifier,
      });
      if (oidc.resource) form.set('resource', oidc.resource);
      let resp;
      try {
        resp = await fetch(p.token_endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form,
          credentials: 'omit',
          cache: 'no-store',
        });
      } catch (e) {
        throw new SsoError('ssoExchange', `${p.token_endpoint}: ${e.message} (CORS?)`);
      }
      const body = await resp.json().catch(() => null);
      if (!resp.ok) throw new SsoError('ssoExchange', describeOAuthError(body, resp.status));
      if (!body || !body.access_token || String(body.token_type).toLowerCase() !== 'bearer') {
        throw new SsoError('ssoExchange', 'no Bearer access_token in the answer');
      }
      let claims = null;
      try { claims = body.id_token ? jwtClaims(body.id_token) : null; } catch (_) { claims = null; }
      const aud = claims ? [].concat(claims.aud) : [];
      if (!claims || claims.iss !== oidc.issuer || !aud.includes(oidc.clientId) || claims.nonce !== pending.nonce) {
        throw new SsoError('ssoIdToken');
      }
      idToken = body.id_token;
      await signInWith(body.access_token, status);
    } catch (e) {
      status.replaceChildren(ssoErrorBox(e));
    }
  }

  function canEndSession() {
    return Boolean(idToken && oidc && oidc.endSession && provider && provider.end_session_endpoint);
  }

  // RP-initiated logout: the issuer ends its session and sends the browser
  // back to the console with the state of this request.
  function endSessionAt(hint) {
    const state = randomString(16);
    sessionStorage.setItem(PENDING, JSON.stringify({ kind: 'logout', state }));
    const q = new URLSearchParams({
      client_id: oidc.clientId,
      id_token_hint: hint,
      post_logout_redirect_uri: redirectUri(),
      state,
      ui_locales: lang === 0 ? 'it' : 'en',
    });
    const sep = provider.end_session_endpoint.includes('?') ? '&' : '?';
    location.assign(`${provider.end_session_endpoint}${sep}${q}`);
  }

  // "Esci": forget the token; after an SSO sign-in, also end the issuer's session.
  function signOutButton() {
    const hint = canEndSession() ? idToken : null;
    signOut(t('signedOut'));
    if (hint) endSessionAt(hint);
  }

  async function loadSettings() {
    try {
      const resp = await fetch('/console/config.json', { credentials: 'omit', cache: 'no-store' });
      const body = await resp.json();
      oidc = body && body.oidc ? body.oidc : null;
    } catch (_) {
      oidc = null;
    }
  }

  // ---------------------------------------------------------------- router
  const ROUTES = { registro: renderLog, catena: renderChain, emergenze: renderBreakGlass, rapporto: renderReport, grafico: renderChart };
  function route() {
    if (!token) { renderSignIn(); return; }
    const name = (location.hash.replace(/^#\/?/, '').split('?')[0]) || 'registro';
    const fn = ROUTES[name] || renderLog;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.route === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    const main = $('main');
    main.replaceChildren(h('p', { class: 'muted' }, t('loading')));
    fn(main).then(() => {
      const h1 = main.querySelector('h1');
      if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus(); }
    }).catch((e) => { if (token) main.replaceChildren(errorBox(e.message)); });
  }

  // ---------------------------------------------------------------- access log
  const LOG_QUERY = `query ConsoleAccessLog($f: AccessLogFilter, $first: Int, $after: String) {
    accessLog(filter: $f, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { seq at operator agencyId role purpose operation queryHash policyVersion prevHash hash recordsNotShown
        records { kind id subjectIds access digestCount disclosed { dataClass rule basis } withheld { dataClass reason } } } }
    } }`;
  const PAGE = 20;

  function entryClasses(node, which) {
    const s = new Set();
    for (const r of node.records) for (const d of r[which]) s.add(d.dataClass);
    return [...s].sort();
  }

  async function renderLog(main) {
    const f = logState.filter;
    const input = (name, type, value) => h('input', { name, type: type || 'text', value: value || '', autocomplete: 'off' });
    const toLocal = (iso) => (iso ? iso.slice(0, 16) : '');
    const form = h('form', { class: 'filters card', 'aria-labelledby': 'filters-h', onsubmit: (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const nf = {};
      for (const k of ['subjectId', 'caseId', 'agencyId', 'operator', 'purpose', 'dataClass', 'decision']) {
        const v = String(fd.get(k) || '').trim();
        if (v) nf[k] = v;
      }
      for (const k of ['from', 'until']) {
        const v = String(fd.get(k) || '');
        if (v) nf[k] = new Date(v).toISOString();
      }
      logState.filter = nf;
      logState.cursors = [null];
      logState.page = 0;
      renderLog(main).then(() => { const r = $('log-results'); if (r) r.focus(); });
    } },
    h('h2', { id: 'filters-h' }, t('filters')),
    h('div', { class: 'grid' },
      field(t('fSubject'), input('subjectId', 'text', f.subjectId)),
      field(t('fCase'), input('caseId', 'text', f.caseId)),
      field(t('fAgency'), select('agencyId', Object.values(agencies).map((a) => [a.id, a.name]), f.agencyId)),
      field(t('fOperator'), input('operator', 'text', f.operator)),
      field(t('fPurpose'), select('purpose', Object.keys(PURPOSES).map((p) => [p, word(PURPOSES, p)]), f.purpose)),
      field(t('fClass'), select('dataClass', Object.keys(CLASSES).map((c) => [c, cls(c)]), f.dataClass)),
      field(t('fDecision'), select('decision', [['DISCLOSED', t('DISCLOSED')], ['WITHHELD', t('WITHHELD')]], f.decision)),
      field(t('fFrom'), input('from', 'datetime-local', toLocal(f.from && localIso(f.from)))),
      field(t('fUntil'), input('until', 'datetime-local', toLocal(f.until && localIso(f.until))))),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', id: 'log-search' }, t('search')),
      h('button', { type: 'button', onclick: () => { logState.filter = {}; logState.cursors = [null]; logState.page = 0; renderLog(main); } }, t('reset'))));

    const data = await gql(LOG_QUERY, { f: logState.filter, first: PAGE, after: logState.cursors[logState.page] });
    const conn = data.accessLog;
    const results = h('section', { id: 'log-results', tabindex: '-1', 'aria-labelledby': 'results-h' });
    results.append(h('h2', { id: 'results-h' }, `${t('nEntries')}: `, h('span', { id: 'log-total' }, String(conn.totalCount))));
    if (!conn.edges.length) {
      results.append(h('p', { class: 'muted' }, t('noEntries')));
    } else {
      const rows = conn.edges.map(({ node }) => h('tr', { 'data-seq': node.seq },
        h('td', { 'data-label': t('cSeq') }, String(node.seq)),
        h('td', { 'data-label': t('cAt') }, fmtTime(node.at)),
        h('td', { 'data-label': t('cWho') }, h('span', {}, node.operator), h('br'), h('span', { class: 'muted' }, `${agencyName(node.agencyId)} · ${word(ROLES, node.role)}`)),
        h('td', { 'data-label': t('cPurpose') }, word(PURPOSES, node.purpose)),
        h('td', { 'data-label': t('cOperation') }, h('code', {}, node.operation)),
        h('td', { 'data-label': t('cDisclosed') }, classChips(entryClasses(node, 'disclosed'))),
        h('td', { 'data-label': t('cWithheld') }, classChips(entryClasses(node, 'withheld'))),
        h('td', {}, h('button', { type: 'button', class: 'detail', 'aria-label': `${t('details')} ${t('detailOf')} ${node.seq}`, onclick: (ev) => openEntry(node, ev.currentTarget) }, t('details')))));
      results.append(h('div', { class: 'table-wrap' }, h('table', { class: 'log' },
        h('caption', { class: 'sr-only' }, t('logTitle')),
        h('thead', {}, h('tr', {}, [t('cSeq'), t('cAt'), t('cWho'), t('cPurpose'), t('cOperation'), t('cDisclosed'), t('cWithheld'), ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows))));
    }
    const pages = Math.max(1, Math.ceil(conn.totalCount / PAGE));
    results.append(h('nav', { class: 'pager', 'aria-label': t('page') },
      h('button', { type: 'button', id: 'log-prev', disabled: logState.page === 0, onclick: () => { logState.page -= 1; renderLog(main).then(() => $('log-results').focus()); } }, t('prev')),
      h('span', {}, `${t('page')} ${logState.page + 1} / ${pages}`),
      h('button', { type: 'button', id: 'log-next', disabled: !conn.pageInfo.hasNextPage, onclick: () => {
        logState.cursors[logState.page + 1] = conn.pageInfo.endCursor;
        logState.page += 1;
        renderLog(main).then(() => $('log-results').focus());
      } }, t('next'))));
    main.replaceChildren(h('h1', {}, t('logTitle')), h('p', { class: 'intro' }, t('logIntro')), form, results);
    announce(`${t('nEntries')}: ${conn.totalCount}`);
  }

  function localIso(iso) {
    const d = new Date(iso);
    const off = d.getTimezoneOffset() * 60000;
    return new Date(d.getTime() - off).toISOString();
  }

  function openEntry(node, opener) {
    const dialog = h('dialog', { class: 'entry', 'aria-labelledby': 'entry-h', id: 'entry-dialog' });
    const close = () => { dialog.close(); };
    dialog.addEventListener('close', () => { dialog.remove(); if (opener && opener.isConnected) opener.focus(); });
    const recs = node.records.map((r) => h('section', { class: 'record' },
      h('h3', {}, `${(UI.kind[r.kind] || [r.kind, r.kind])[lang]} `, h('code', {}, r.id)),
      r.subjectIds.length ? h('p', {}, `${t('subjects')}: `, r.subjectIds.map((s) => h('button', { type: 'button', class: 'link mono', title: t('filterSubject'), onclick: () => {
        logState.filter = { subjectId: s }; logState.cursors = [null]; logState.page = 0; close();
        if (location.hash !== '#/registro') location.hash = '#/registro'; else route();
      } }, s))) : null,
      r.access.length ? h('p', {}, `${t('access')}: ${r.access.map((a) => word(ACCESS, a)).join(', ')}`) : null,
      r.disclosed.length ? h('ul', { class: 'decisions' }, r.disclosed.map((d) => h('li', { class: 'ok' },
        h('strong', {}, cls(d.dataClass)), `: ${t('disclosedBy')} «${d.rule}»; ${t('basis')}: `, h('span', { class: 'basis' }, basisInWords(d.basis))))) : null,
      r.withheld.length ? h('ul', { class: 'decisions' }, r.withheld.map((w) => h('li', { class: 'no' },
        h('strong', {}, cls(w.dataClass)), `: ${t('withheldBecause')} ${word(REASONS, w.reason)}`))) : null,
      r.digestCount ? h('p', { class: 'muted' }, `${r.digestCount} ${t('digests')}`) : null));
    const explainOut = h('div', { id: 'explain-out', 'aria-live': 'polite' });
    const explainBtn = h('button', { type: 'button', id: 'explain', class: 'primary', onclick: () => explainEntry(node, explainOut, explainBtn) }, t('explainBtn'));
    dialog.append(...[
      h('div', { class: 'dialog-head' },
        h('h2', { id: 'entry-h' }, `${t('detailOf')} ${node.seq}`),
        h('button', { type: 'button', class: 'close', onclick: close }, t('close'))),
      h('dl', { class: 'kv' },
        h('dt', {}, t('cAt')), h('dd', {}, fmtTime(node.at)),
        h('dt', {}, t('cWho')), h('dd', {}, node.operator),
        h('dt', {}, t('agency')), h('dd', {}, agencyName(node.agencyId)),
        h('dt', {}, t('role')), h('dd', {}, word(ROLES, node.role)),
        h('dt', {}, t('cPurpose')), h('dd', {}, word(PURPOSES, node.purpose)),
        h('dt', {}, t('cOperation')), h('dd', {}, h('code', {}, node.operation))),
      h('h3', {}, t('records')),
      recs,
      node.recordsNotShown ? h('p', { class: 'muted' }, `${t('recordsNotShown')}: ${node.recordsNotShown}`) : null,
      h('section', { class: 'explain' }, h('h3', {}, t('explainTitle')), h('p', { class: 'hint' }, t('explainNote')), explainBtn, explainOut),
      h('details', {}, h('summary', {}, t('meta')), h('dl', { class: 'kv mono' },
        h('dt', {}, t('policyVersion')), h('dd', {}, node.policyVersion),
        h('dt', {}, t('queryHash')), h('dd', {}, node.queryHash),
        h('dt', {}, t('prevHash')), h('dd', {}, node.prevHash),
        h('dt', {}, t('hash')), h('dd', {}, node.hash)))].flat().filter(Boolean));
    document.body.append(dialog);
    dialog.showModal();
    explainBtn.focus();
  }

  // explainAccess for each (case, class) the entry decided: one request of at
  // most ten aliased fields (the hub's root-field limit), so one log entry.
  async function explainEntry(node, out, btn) {
    const cases = node.records.filter((r) => r.kind === 'CASE');
    const pairs = [];
    const seen = new Set();
    for (const r of node.records) {
      let caseId = null;
      if (r.kind === 'CASE') caseId = r.id;
      else {
        const c = cases.find((c) => c.subjectIds.includes(r.id) || r.subjectIds.some((s) => c.subjectIds.includes(s)));
        caseId = c ? c.id : null;
      }
      if (!caseId) continue;
      for (const d of [...r.disclosed, ...r.withheld]) {
        const k = `${caseId}/${d.dataClass}`;
        if (!seen.has(k)) { seen.add(k); pairs.push([caseId, d.dataClass]); }
      }
    }
    if (!pairs.length) { out.replaceChildren(h('p', { class: 'muted' }, t('explainNone'))); return; }
    btn.disabled = true;
    out.replaceChildren(h('p', {}, t('loading')));
    const chosen = pairs.slice(0, 10);
    const vars = { agency: node.agencyId };
    const defs = ['$agency: ID!', '$role: Role!', '$purpose: Purpose!'];
    const fields = chosen.map(([c, k], i) => {
      vars[`c${i}`] = c; vars[`k${i}`] = k;
      defs.push(`$c${i}: ID!`, `$k${i}: DataClass!`);
      return `e${i}: explainAccess(caseId: $c${i}, dataClass: $k${i}, agency: $agency, role: $role, purpose: $purpose) { disclosed rule basis reason text }`;
    });
    vars.role = node.role; vars.purpose = node.purpose;
    try {
      const data = await gql(`query ConsoleExplain(${defs.join(', ')}) { ${fields.join(' ')} }`, vars);
      out.replaceChildren(...chosen.map(([c, k], i) => {
        const e = data[`e${i}`];
        return h('article', { class: `explanation ${e.disclosed ? 'ok' : 'no'}` },
          h('h4', {}, `${cls(k)} · ${t('bgCase')} `, h('code', {}, c)),
          h('p', {}, h('strong', {}, e.disclosed ? t('wouldDisclose') : t('wouldWithhold')), ': ',
            e.disclosed ? `${t('disclosedBy')} «${e.rule}»; ${t('basis')}: ${basisInWords(e.basis)}` : e.reason),
          h('details', {}, h('summary', {}, t('fullText')), h('pre', {}, e.text)));
      }));
    } catch (e) {
      out.replaceChildren(errorBox(e.message));
    } finally {
      btn.disabled = false;
    }
  }

  // ---------------------------------------------------------------- chain
  const VERIFICATION = 'verifiedAt verifiedBy agencyId intact entriesChecked fromCheckpoint head { seq hash stored } firstBroken { seq problem }';
  function verificationView(v) {
    if (!v) return h('p', { class: 'muted', id: 'verification' }, t('never'));
    return h('div', { id: 'verification', class: `alert ${v.intact ? 'ok' : 'error'}`, role: v.intact ? 'status' : 'alert' },
      h('p', { class: 'verdict' }, h('strong', { id: 'verdict' }, v.intact ? `✔ ${t('intact')}` : `✘ ${t('broken')}`)),
      v.firstBroken ? h('p', { id: 'first-broken' }, `${t('firstBroken')}: `, h('strong', {}, `n. ${v.firstBroken.seq}`), ` — ${v.firstBroken.problem}`) : null,
      h('p', {}, `${t('checked')}: ${v.entriesChecked}` + (v.fromCheckpoint ? ` (${t('fromCheckpoint')} ${v.fromCheckpoint})` : '')),
      h('p', { class: 'muted' }, `${fmtTime(v.verifiedAt)} ${t('by')} ${v.verifiedBy}` + (v.agencyId ? ` (${agencyName(v.agencyId)})` : '')));
  }
  async function renderChain(main) {
    const data = await gql(`query ConsoleChain { accessLogStatus { head { seq hash stored } lastVerification { ${VERIFICATION} } } }`);
    const s = data.accessLogStatus;
    const headView = (hd) => h('dl', { class: 'kv', id: 'head' },
      h('dt', {}, t('headSeq')), h('dd', { id: 'head-seq' }, String(hd.seq)),
      h('dt', {}, t('hash')), h('dd', { class: 'mono hash', id: 'head-hash' }, hd.hash),
      h('dt', {}, t('stored')), h('dd', {}, String(hd.stored)));
    const headBox = h('section', { class: 'card', 'aria-labelledby': 'head-h' }, h('h2', { id: 'head-h' }, t('head')), headView(s.head));
    const verBox = h('section', { class: 'card', 'aria-labelledby': 'ver-h' }, h('h2', { id: 'ver-h' }, t('lastVerification')), verificationView(s.lastVerification));
    const btn = h('button', { type: 'button', class: 'primary', id: 'verify', onclick: async () => {
      btn.disabled = true;
      btn.textContent = t('verifying');
      try {
        const d = await gql(`mutation ConsoleVerify { verifyAccessLog { ${VERIFICATION} } }`);
        const v = d.verifyAccessLog;
        verBox.replaceChildren(h('h2', { id: 'ver-h' }, t('lastVerification')), verificationView(v));
        headBox.replaceChildren(h('h2', { id: 'head-h' }, t('head')), headView(v.head));
        announce(v.intact ? t('intact') : `${t('broken')}: ${v.firstBroken ? v.firstBroken.problem : ''}`);
      } catch (e) {
        verBox.append(errorBox(e.message));
      } finally {
        btn.disabled = false;
        btn.textContent = t('verifyNow');
      }
    } }, t('verifyNow'));
    main.replaceChildren(h('h1', {}, t('chainTitle')), h('p', { class: 'intro' }, t('chainIntro')), h('div', { class: 'actions' }, btn), headBox, verBox);
  }

  // ---------------------------------------------------------------- break-glass
  async function renderBreakGlass(main) {
    const data = await gql('query ConsoleBreakGlass { breakGlassReviewQueue(first: 50) { grantId caseId agencyId operator role justification grantedAt expiresAt entriesUnderGrant } }');
    const items = data.breakGlassReviewQueue;
    const list = h('div', { id: 'bg-list' });
    if (!items.length) list.append(h('p', { class: 'muted', id: 'bg-empty' }, t('bgEmpty')));
    for (const g of items) {
      const opened = h('div', { class: 'opened' }, t('loading'));
      const note = h('textarea', { rows: '2', name: 'note', required: true, maxlength: '2000' });
      const status = h('div', { 'aria-live': 'polite' });
      const review = async (decision) => {
        const text = note.value.trim();
        if (!text) { status.replaceChildren(errorBox(t('noteRequired'))); note.focus(); return; }
        for (const b of card.querySelectorAll('button')) b.disabled = true;
        try {
          await gql('mutation ConsoleReview($i: ReviewBreakGlassInput!) { reviewBreakGlass(input: $i) { id } }', { i: { grantId: g.grantId, decision, note: text } });
          card.replaceChildren(h('p', { class: 'alert ok', role: 'status' }, `${t('reviewed')}: ${decision === 'APPROVE' ? t('approve') : t('flag')} · ${t('bgCase')} ${g.caseId}`));
          announce(t('reviewed'));
        } catch (e) {
          status.replaceChildren(errorBox(e.message));
          for (const b of card.querySelectorAll('button')) b.disabled = false;
        }
      };
      const card = h('article', { class: 'card grant', 'data-grant': g.grantId, 'aria-labelledby': `g-${g.grantId}` },
        h('h2', { id: `g-${g.grantId}` }, `${agencyName(g.agencyId)} · ${g.operator}`),
        h('dl', { class: 'kv' },
          h('dt', {}, t('bgCase')), h('dd', {}, h('code', {}, g.caseId)),
          h('dt', {}, t('role')), h('dd', {}, word(ROLES, g.role)),
          h('dt', {}, t('bgWhen')), h('dd', {}, fmtTime(g.grantedAt)),
          h('dt', {}, t('bgExpires')), h('dd', {}, fmtTime(g.expiresAt))),
        h('h3', {}, t('bgJustification')),
        h('blockquote', { class: 'justification' }, g.justification),
        h('h3', {}, t('bgOpened')),
        h('p', {}, `${g.entriesUnderGrant} ${t('bgEntries')}`),
        opened,
        h('p', {}, h('button', { type: 'button', class: 'link', onclick: () => {
          logState.filter = { caseId: g.caseId, operator: g.operator, from: g.grantedAt, until: g.expiresAt };
          logState.cursors = [null]; logState.page = 0; location.hash = '#/registro';
        } }, t('bgSee'))),
        field(t('note'), note),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary approve', onclick: () => review('APPROVE') }, t('approve')),
          h('button', { type: 'button', class: 'danger flag', onclick: () => review('FLAG') }, t('flag'))),
        status);
      list.append(card);
      gql(LOG_QUERY, { f: { caseId: g.caseId, operator: g.operator, from: g.grantedAt, until: g.expiresAt }, first: 50 }).then((d) => {
        const by = new Map();
        for (const { node } of d.accessLog.edges) {
          for (const r of node.records) for (const x of r.disclosed) by.set(x.dataClass, (by.get(x.dataClass) || []).concat(x.basis));
        }
        opened.replaceChildren(by.size ? h('ul', {}, [...by.entries()].map(([c, bases]) => h('li', {}, h('strong', {}, cls(c)), ` — ${[...new Set(bases)].map(basisInWords).join('; ')}`))) : h('p', { class: 'muted' }, t('bgNothing')));
      }).catch((e) => opened.replaceChildren(errorBox(e.message)));
    }
    main.replaceChildren(h('h1', {}, t('bgTitle')), h('p', { class: 'intro' }, t('bgIntro')), list);
  }

  // ---------------------------------------------------------------- report
  async function renderReport(main) {
    const person = h('input', { name: 'personId', id: 'rep-person', autocomplete: 'off', required: true });
    const out = h('div', { id: 'report-out' });
    const form = h('form', { class: 'card no-print', onsubmit: async (ev) => {
      ev.preventDefault();
      const id = person.value.trim();
      if (!id) return;
      out.replaceChildren(h('p', {}, t('loading')));
      try {
        const d = await gql('query ConsoleReport($p: ID!) { subjectAccessReport(personId: $p) { personId generatedAt restricted { count basis } disclosures { seq at agencyId role purpose dataClasses bases wrote } } }', { p: id });
        out.replaceChildren(reportView(d.subjectAccessReport));
        out.querySelector('h2').focus();
      } catch (e) {
        out.replaceChildren(errorBox(e.message));
      }
    } },
    field(t('repPerson'), person),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'rep-generate' }, t('repGenerate'))));
    main.replaceChildren(h('h1', { class: 'no-print' }, t('repTitle')), h('p', { class: 'intro no-print' }, t('repIntro')), form, out);
  }
  function reportView(r) {
    const rows = r.disclosures.map((d) => h('tr', {},
      h('td', { 'data-label': t('cAt') }, fmtTime(d.at)),
      h('td', { 'data-label': t('repRecipient') }, agencyName(d.agencyId), h('br'), h('span', { class: 'muted' }, word(ROLES, d.role))),
      h('td', { 'data-label': t('cPurpose') }, word(PURPOSES, d.purpose)),
      h('td', { 'data-label': t('repClasses') }, d.dataClasses.map(cls).join(', '), d.wrote ? h('div', { class: 'muted' }, t('repWrote')) : null),
      h('td', { 'data-label': t('repBases') }, h('ul', { class: 'plain' }, d.bases.map((b) => h('li', {}, basisInWords(b)))))));
    return h('article', { class: 'report', id: 'report' },
      h('div', { class: 'actions no-print' }, h('button', { type: 'button', class: 'primary', id: 'print', onclick: () => window.print() }, t('repPrint'))),
      h('h2', { tabindex: '-1' }, t('repHeading')),
      h('p', {}, `${t('repPerson')}: `, h('code', {}, r.personId)),
      h('p', {}, `${t('repGenerated')} ${fmtTime(r.generatedAt)} ${t('repBy')} ${me && me.agency ? me.agency.name : ''}.`),
      r.disclosures.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'report-table' },
        h('thead', {}, h('tr', {}, [t('cAt'), t('repRecipient'), t('cPurpose'), t('repClasses'), t('repBases')].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows))) : h('p', {}, t('repNone')),
      r.restricted ? h('p', { class: 'alert' }, h('strong', {}, `${t('repRestricted')}: ${r.restricted.count}. `), r.restricted.basis) : null);
  }

  // ---------------------------------------------------------------- chart
  const chartState = { bucket: 'DAY', from: null, until: null };
  async function renderChart(main) {
    const now = new Date();
    const until = chartState.until ? new Date(chartState.until) : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
    const from = chartState.from ? new Date(chartState.from) : new Date(until.getTime() - 14 * 86400000);
    const day = (d) => d.toISOString().slice(0, 10);
    const fFrom = h('input', { type: 'date', name: 'from', value: day(from) });
    const fUntil = h('input', { type: 'date', name: 'until', value: day(new Date(until.getTime() - 86400000)) });
    const fBucket = h('select', { name: 'bucket' }, ['DAY', 'WEEK', 'MONTH'].map((b) => h('option', { value: b, selected: b === chartState.bucket }, t(b))));
    const form = h('form', { class: 'card filters', onsubmit: (ev) => {
      ev.preventDefault();
      chartState.from = new Date(`${fFrom.value}T00:00:00Z`).toISOString();
      chartState.until = new Date(new Date(`${fUntil.value}T00:00:00Z`).getTime() + 86400000).toISOString();
      chartState.bucket = fBucket.value;
      renderChart(main);
    } }, h('div', { class: 'grid' }, field(t('chFrom'), fFrom), field(t('chUntil'), fUntil), field(t('chBucket'), fBucket)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('chShow'))));
    const d = await gql('query ConsoleStats($from: DateTime!, $until: DateTime!, $b: StatsBucket!) { disclosureStats(from: $from, until: $until, bucket: $b) { periods counts { periodStart agencyId dataClass entries } } }',
      { from: from.toISOString(), until: until.toISOString(), b: chartState.bucket });
    const s = d.disclosureStats;
    const body = h('div', { id: 'charts' });
    if (!s.counts.length) body.append(h('p', { class: 'muted' }, t('chEmpty')));
    const byAgency = new Map();
    for (const c of s.counts) {
      if (!byAgency.has(c.agencyId)) byAgency.set(c.agencyId, []);
      byAgency.get(c.agencyId).push(c);
    }
    const usedClasses = Object.keys(CLASSES).filter((k) => s.counts.some((c) => c.dataClass === k));
    if (usedClasses.length) {
      body.append(h('ul', { class: 'legend', 'aria-label': t('fClass') }, usedClasses.map((k) => h('li', {}, h('span', { class: 'swatch', 'data-class': k }), cls(k)))));
    }
    let max = 1;
    for (const list of byAgency.values()) {
      const per = new Map();
      for (const c of list) per.set(c.periodStart, (per.get(c.periodStart) || 0) + c.entries);
      for (const v of per.values()) max = Math.max(max, v);
    }
    for (const [agency, list] of byAgency) body.append(barChart(agency, list, s.periods, usedClasses, max));
    if (s.counts.length) body.append(totalsTable(byAgency, usedClasses));
    main.replaceChildren(h('h1', {}, t('chTitle')), h('p', { class: 'intro' }, t('chIntro')), form, body);
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }
  function barChart(agency, list, periods, classes, max) {
    const W = 640; const H = 200; const left = 36; const bottom = 28; const top = 8;
    const plotW = W - left - 8; const plotH = H - top - bottom;
    const slot = plotW / Math.max(1, periods.length);
    const barW = Math.max(2, Math.min(40, slot * 0.7));
    const title = `${t('chFigure')} ${agencyName(agency)}`;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'chart' });
    root.append(svg('title', {}, title));
    for (const frac of [0, 0.5, 1]) {
      const y = top + plotH * (1 - frac);
      root.append(svg('line', { x1: left, x2: W - 8, y1: y, y2: y, class: 'gridline' }));
      root.append(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', class: 'axis' }, String(Math.round(max * frac))));
    }
    const step = Math.ceil(periods.length / 8);
    periods.forEach((p, i) => {
      const x = left + i * slot + (slot - barW) / 2;
      let y = top + plotH;
      for (const k of classes) {
        const c = list.find((c) => c.periodStart === p && c.dataClass === k);
        if (!c) continue;
        const hgt = (c.entries / max) * plotH;
        y -= hgt;
        const rect = svg('rect', { x, y, width: barW, height: Math.max(1, hgt), 'data-class': k, class: 'bar' });
        rect.append(svg('title', {}, `${fmtDate(p)} · ${cls(k)}: ${c.entries}`));
        root.append(rect);
      }
      if (i % step === 0) root.append(svg('text', { x: x + barW / 2, y: H - 10, 'text-anchor': 'middle', class: 'axis' }, fmtDate(p)));
    });
    return h('figure', { class: 'card chart-fig' }, root, h('figcaption', {}, title));
  }
  function totalsTable(byAgency, classes) {
    const rows = [...byAgency.entries()].map(([agency, list]) => {
      const tot = (k) => list.filter((c) => !k || c.dataClass === k).reduce((a, c) => a + c.entries, 0);
      return h('tr', {}, h('th', { scope: 'row' }, agencyName(agency)), classes.map((k) => h('td', {}, String(tot(k) || ''))), h('td', {}, h('strong', {}, String(tot()))));
    });
    return h('section', { 'aria-labelledby': 'totals-h' }, h('h2', { id: 'totals-h' }, t('chTable')), h('div', { class: 'table-wrap' }, h('table', { class: 'totals' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('agency')), classes.map((k) => h('th', { scope: 'col' }, cls(k))), h('th', { scope: 'col' }, t('chTotal')))),
      h('tbody', {}, rows))));
  }

  // ---------------------------------------------------------------- start
  document.addEventListener('DOMContentLoaded', async () => {
    $('lang').addEventListener('click', () => { lang = 1 - lang; applyLanguage(); route(); });
    $('signout').addEventListener('click', signOutButton);
    window.addEventListener('hashchange', route);
    applyLanguage();
    await loadSettings();
    const params = new URLSearchParams(location.search);
    if (params.has('code') || params.has('error') || params.has('state')) {
      await finishSso(params);
      return;
    }
    // A sign-in left unfinished (back from the issuer's page without an
    // answer): its entry goes now.
    sessionStorage.removeItem(PENDING);
    route();
  });
})();
