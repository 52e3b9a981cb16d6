//! `TestHub`: a real Rete hub on 127.0.0.1 with a random port, on a fresh SQLite
//! file or a fresh PostgreSQL database, with a signing key generated for the
//! test. Tests talk to it over HTTP like any partner app.
//!
//! `hub_test!(name, builder)` runs `async fn name(hub: TestHub)` once on SQLite
//! and once on PostgreSQL (when `DATABASE_URL` points at PostgreSQL; otherwise
//! the PostgreSQL variant says it was skipped).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use entities::enums::{CaseStatus, RiskLevel, SubjectRole};
use entities::{case_file, case_subject};
use rete_api::audit::{AuditLog, HubKeys};
use rete_api::auth::Verifier;
use rete_api::auth::keys::SigningKey;
use rete_api::config::{AuthConfig, ConsoleConfig, Limits, OutboxConfig};
use rete_api::{AppState, app};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, Set, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

pub use reqwest::StatusCode;

/// The issuer of test tokens.
pub const TEST_ISSUER: &str = "https://idp.rete.test";
pub const AUDIENCE: &str = "rete";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to start a hub.
pub struct HubBuilder {
    backend: Backend,
    demo: bool,
    agreement: Option<policy::Policy>,
    limits: Limits,
    auth: AuthConfig,
    sync: Option<SyncSetup>,
    console: ConsoleConfig,
    outbound: Option<(rete_api::outbox::Routes, OutboxConfig)>,
    hub_keys: Option<Arc<HubKeys>>,
}

/// Builds the hub's connector engine once the database exists.
type SyncSetup = Box<dyn FnOnce(DatabaseConnection) -> connectors::Engine + Send>;

impl HubBuilder {
    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    /// Decide with the demo network's agreement (`policies/network.toml`)
    /// instead of the built-in interim one.
    pub fn network_agreement(mut self) -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/network.toml");
        let text = std::fs::read_to_string(path).expect("policies/network.toml");
        self.agreement = Some(
            policy::Policy::from_toml("policies/network.toml", &text).expect("valid agreement"),
        );
        self
    }

    pub fn limits(mut self, f: impl FnOnce(&mut Limits)) -> Self {
        f(&mut self.limits);
        self
    }

    pub fn auth(mut self, f: impl FnOnce(&mut AuthConfig)) -> Self {
        f(&mut self.auth);
        self
    }

    /// Run a connector engine in the hub (its GraphQL status, uploads).
    pub fn sync(
        mut self,
        setup: impl FnOnce(DatabaseConnection) -> connectors::Engine + Send + 'static,
    ) -> Self {
        self.sync = Some(Box::new(setup));
        self
    }

    /// Deliver outbound messages through these routes. The hub's outbox is
    /// in `TestHub::outbox`; tests run its ticks themselves (`run_once`).
    pub fn outbound(mut self, routes: rete_api::outbox::Routes, config: OutboxConfig) -> Self {
        self.outbound = Some((routes, config));
        self
    }

    /// The hub's own keys (access-log digests, signed statements, outbound
    /// JWS), when a peer must know the public key before the hub starts.
    pub fn hub_keys(mut self, keys: Arc<HubKeys>) -> Self {
        self.hub_keys = Some(keys);
        self
    }

    /// The console's settings (`[console]`), e.g. its OpenID Connect client.
    pub fn console(mut self, f: impl FnOnce(&mut ConsoleConfig)) -> Self {
        f(&mut self.console);
        self
    }

    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Start the hub; `None` when the backend is PostgreSQL and `DATABASE_URL`
    /// does not point at one.
    pub async fn start(self) -> Option<TestHub> {
        let (url, dir, pg) = match self.backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("rete.db");
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Some(dir),
                    None,
                )
            }
            Backend::Postgres => {
                let admin = postgres_url()?;
                let name = format!("rete_t_{}", uuid::Uuid::new_v4().simple());
                let db = rete_api::db::connect(&admin, 1)
                    .await
                    .expect("connect to PostgreSQL");
                db.execute_raw(Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    format!("CREATE DATABASE \"{name}\""),
                ))
                .await
                .expect("create test database");
                db.close().await.expect("close admin connection");
                (
                    with_database(&admin, &name),
                    None,
                    Some(PgDrop { admin, name }),
                )
            }
        };
        let mut db = rete_api::db::connect(&url, 8).await.expect("connect");
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        let echo = std::env::var("RETE_TEST_ECHO_SQL").is_ok();
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::SeqCst);
            if echo {
                let sql = info.statement.to_string();
                eprintln!("SQL {}", sql.chars().take(110).collect::<String>());
            }
        });
        rete_api::db::migrate(&db).await.expect("migrate");
        if self.demo {
            rete_api::demo::seed(&db).await.expect("seed demo network");
        }
        let key = SigningKey::generate_es256("test-es256").expect("key");
        let mut verifier = Verifier::from_config(&self.auth).expect("verifier");
        verifier.add_static_issuer(TEST_ISSUER, key.verifying_keys().expect("jwk"));
        let agreement = self.agreement.unwrap_or_else(policy_interim);
        // The appender has a pool of its own: statement counts measure the
        // query, the log's cost is the benchmark's business.
        let audit_keys = match self.hub_keys {
            Some(k) => k,
            None => Arc::new(HubKeys::generate().expect("hub keys")),
        };
        let defaults = rete_api::config::AuditConfig::default();
        let audit = AuditLog::start(
            &url,
            audit_keys.clone(),
            defaults.max_batch,
            std::time::Duration::from_micros(defaults.linger_us),
        )
        .await
        .expect("access log");
        let engine = self.sync.map(|setup| Arc::new(setup(db.clone())));
        let state = AppState::new(
            db.clone(),
            verifier,
            agreement,
            self.limits,
            audit,
            &self.console,
        )
        .with_sync(engine.clone());
        let (state, outbox) = match self.outbound {
            Some((routes, config)) => {
                let state = state.with_outbound(Arc::new(routes));
                let outbox = rete_api::outbox::Outbox::new(state.clone(), config).expect("outbox");
                (state, Some(Arc::new(outbox)))
            }
            None => (state, None),
        };
        let hub_state = state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
        });
        Some(TestHub {
            engine,
            outbox,
            state: hub_state,
            base: format!("http://{addr}"),
            db,
            key,
            audit_keys,
            statements,
            client: reqwest::Client::new(),
            server,
            _dir: dir,
            _pg: pg,
            backend: self.backend,
        })
    }
}

fn policy_interim() -> policy::Policy {
    policy::Policy::interim()
}

/// The PostgreSQL admin URL from `DATABASE_URL`, if it is one.
pub fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// The same server URL with another database name.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_end..].find('/').map(|i| i + authority_end);
    let root = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// Drops the test's PostgreSQL database when the hub goes away.
struct PgDrop {
    admin: String,
    name: String,
}

impl Drop for PgDrop {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // A fresh runtime on a plain thread: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(db) = rete_api::db::connect(&admin, 1).await {
                        let _ = db
                            .execute_raw(Statement::from_string(
                                sea_orm::DatabaseBackend::Postgres,
                                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                            ))
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

/// A running hub.
pub struct TestHub {
    /// The connector engine, when the builder was given one.
    pub engine: Option<Arc<connectors::Engine>>,
    /// The outbox, when the builder was given outbound routes.
    pub outbox: Option<Arc<rete_api::outbox::Outbox>>,
    /// The hub's state (a second outbox worker on the same database, say).
    pub state: AppState,
    pub base: String,
    pub db: DatabaseConnection,
    pub key: SigningKey,
    /// The hub's access-log secrets (digest key, signing key).
    pub audit_keys: Arc<HubKeys>,
    statements: Arc<AtomicUsize>,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDrop>,
    pub backend: Backend,
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A GraphQL answer: HTTP status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Answer {
    /// `data` at a JSON pointer such as `/case/reference`.
    pub fn data(&self, pointer: &str) -> &Value {
        self.body
            .pointer(&format!("/data{pointer}"))
            .unwrap_or(&Value::Null)
    }

    pub fn errors(&self) -> Vec<Value> {
        self.body
            .get("errors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The `extensions.code` of every error.
    pub fn codes(&self) -> Vec<String> {
        self.errors()
            .iter()
            .filter_map(|e| {
                e.pointer("/extensions/code")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect()
    }

    /// Panic with the body unless there are no errors.
    pub fn ok(self) -> Self {
        assert!(
            self.errors().is_empty(),
            "unexpected errors: {:#}",
            self.body
        );
        self
    }
}

impl TestHub {
    pub fn builder() -> HubBuilder {
        HubBuilder {
            backend: Backend::Sqlite,
            demo: false,
            agreement: None,
            limits: Limits::default(),
            auth: AuthConfig::default(),
            sync: None,
            console: ConsoleConfig::default(),
            outbound: None,
            hub_keys: None,
        }
    }

    /// A hub with the demo network on SQLite.
    pub async fn with_demo() -> TestHub {
        Self::builder().demo().start().await.expect("sqlite hub")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A valid token for an operator of `agency`.
    pub fn token(&self, agency: &str, role: &str, purpose: &str) -> String {
        self.token_as(&format!("{agency}-operator"), agency, role, purpose)
    }

    pub fn token_as(&self, operator: &str, agency: &str, role: &str, purpose: &str) -> String {
        let claims =
            SigningKey::claims(TEST_ISSUER, AUDIENCE, operator, agency, role, purpose, 3600);
        self.key.sign(&claims).expect("sign")
    }

    /// The case manager of Polo Nord (leads half the demo cases).
    pub fn polo_nord(&self) -> String {
        self.token("polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT")
    }

    /// POST a GraphQL operation with `Accept: application/graphql-response+json`.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Answer {
        self.post(
            Some(token),
            json!({"query": query, "variables": variables}),
            "application/graphql-response+json",
        )
        .await
    }

    pub async fn post(&self, token: Option<&str>, body: Value, accept: &str) -> Answer {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::answer(req.send().await.expect("send")).await
    }

    pub async fn answer(resp: reqwest::Response) -> Answer {
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// SQL statements run since the last call.
    pub fn take_statements(&self) -> usize {
        self.statements.swap(0, Ordering::SeqCst)
    }

    /// Run raw SQL (for setting up or inspecting state).
    pub async fn sql(&self, sql: &str) {
        self.db
            .execute_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .expect("sql");
    }

    /// One value of a one-row query, as i64.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .expect("query")
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("an integer")
    }
}

/// A demo family of a polo-nord case with a mother, a father and a child (ids).
pub struct Family {
    pub case: String,
    pub mother: String,
    pub father: String,
    pub child: String,
}

impl TestHub {
    /// The first demo case led by polo-nord with a mother, a father and a child.
    pub async fn family_with_father(&self) -> Family {
        let a = self
            .gql(
                &self.polo_nord(),
                "{ cases(first: 100) { edges { node { id leadAgency { id } subjects { role person { id } } } } } }",
                json!({}),
            )
            .await
            .ok();
        let edges = a
            .data("/cases/edges")
            .as_array()
            .cloned()
            .unwrap_or_default();
        for e in edges {
            let n = &e["node"];
            if n.pointer("/leadAgency/id") != Some(&json!("polo-nord")) {
                continue;
            }
            let s = n["subjects"].as_array().cloned().unwrap_or_default();
            let find = |r: &str| {
                s.iter()
                    .find(|x| x["role"] == r)
                    .and_then(|x| x.pointer("/person/id"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            if let (Some(mother), Some(father), Some(child), Some(case)) = (
                find("MOTHER"),
                find("FATHER"),
                find("CHILD"),
                n["id"].as_str().map(str::to_string),
            ) {
                return Family {
                    case,
                    mother,
                    father,
                    child,
                };
            }
        }
        panic!("no family with a father in the demo");
    }

    /// A new ACTIVE case led by `agency` with these subjects (the father's own
    /// case at another social service, say); returns its id.
    pub async fn case_led_by(&self, agency: &str, subjects: &[(&str, SubjectRole)]) -> Uuid {
        let now = chrono::Utc::now();
        let id = Uuid::now_v7();
        case_file::ActiveModel {
            id: Set(id),
            reference: Set(format!("RETE-TEST-{}", &id.simple().to_string()[..8])),
            status: Set(CaseStatus::Active),
            lead_agency_id: Set(agency.into()),
            case_manager: Set(format!("{agency}-operator")),
            risk_level: Set(RiskLevel::Medium),
            summary: Set(None),
            court_of_record_id: Set(None),
            opened_on: Set(now.date_naive()),
            closed_on: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.db)
        .await
        .expect("insert case");
        for (p, role) in subjects {
            case_subject::ActiveModel {
                case_id: Set(id),
                person_id: Set(Uuid::parse_str(p).expect("a person id")),
                role: Set(*role),
                created_at: Set(now),
            }
            .insert(&self.db)
            .await
            .expect("insert subject");
        }
        id
    }
}

/// `backend_test!(name)` runs `async fn name(backend: Backend)` once on
/// SQLite and once on PostgreSQL (skipped when `DATABASE_URL` does not point
/// at one), for tests that start their peers before the hub.
#[macro_export]
macro_rules! backend_test {
    ($name:ident) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::postgres_url().is_none() {
                    eprintln!("skipped: DATABASE_URL does not point at PostgreSQL");
                    return;
                }
                super::$name($crate::Backend::Postgres).await;
            }
        }
    };
}

/// Run `async fn $name(hub: TestHub)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! hub_test {
    ($name:ident, $builder:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let hub = ($builder)
                    .backend($crate::Backend::Sqlite)
                    .start()
                    .await
                    .expect("sqlite hub");
                super::$name(hub).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match ($builder).backend($crate::Backend::Postgres).start().await {
                    Some(hub) => super::$name(hub).await,
                    None => eprintln!("skipped: DATABASE_URL does not point at PostgreSQL"),
                }
            }
        }
    };
}
