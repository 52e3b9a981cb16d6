//! The HTTP face of the hub: `/graphql` (GraphQL over HTTP), `/health`, the
//! privacy officers' console (`/console`, see [`crate::console`]), the
//! connectors' uploads (`/connectors/NAME/upload`, see [`crate::upload`]) and
//! the communities' signed webhooks (`/connectors/NAME/webhook`, see
//! [`crate::webhook`]).
//!
//! This module owns authentication of every request, content negotiation
//! (`application/graphql-response+json` by default, `application/json` when the
//! client asks for it), the GraphQL-over-HTTP status codes, and the limits that
//! async-graphql does not enforce itself (aliases, root fields, batch size, body
//! size, request time), and asks [`crate::rate`] whether a caller may run now
//! (429 with `Retry-After` and `RATE_LIMITED` if not; `/graphql` and the
//! uploads alike). It never logs bodies, query strings or tokens.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::Positioned;
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{BatchRequest, Request, Response};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use entities::agency;
use policy::{AgencyKind, Policy};
use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use crate::audit::chain::query_hash;
use crate::audit::{AuditLog, Draft};
use crate::auth::{AuthError, Caller, Verifier};
use crate::config::{ConsoleConfig, Limits};
use crate::error::ApiError;
use crate::graphql::guard::RequestContext;
use crate::graphql::loaders::Batches;
use crate::graphql::{RSchema, build_schema};
use crate::rate::{Limiter, Refused};

pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

/// The agencies of the network, cached in the process (they change rarely; an
/// unknown id triggers a reload, at most every few seconds).
#[derive(Clone)]
pub struct AgencyDirectory {
    db: DatabaseConnection,
    state: Arc<RwLock<Directory>>,
}

/// The agencies by id, and when they were last read.
type Directory = (HashMap<String, agency::Model>, Option<Instant>);

const DIRECTORY_RELOAD_MIN: Duration = Duration::from_secs(5);

impl AgencyDirectory {
    pub fn new(db: DatabaseConnection) -> Self {
        AgencyDirectory {
            db,
            state: Arc::new(RwLock::new((HashMap::new(), None))),
        }
    }

    async fn reload(&self, force: bool) -> Result<(), ApiError> {
        let mut st = self.state.write().await;
        if !force && st.1.is_some_and(|t| t.elapsed() < DIRECTORY_RELOAD_MIN) {
            return Ok(());
        }
        let rows = agency::Entity::find().all(&self.db).await?;
        st.0 = rows.into_iter().map(|a| (a.id.clone(), a)).collect();
        st.1 = Some(Instant::now());
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<agency::Model>, ApiError> {
        if let Some(a) = self.state.read().await.0.get(id) {
            return Ok(Some(a.clone()));
        }
        self.reload(false).await?;
        Ok(self.state.read().await.0.get(id).cloned())
    }

    pub async fn all(&self) -> Result<Vec<agency::Model>, ApiError> {
        if self.state.read().await.1.is_none() {
            self.reload(true).await?;
        }
        let mut v: Vec<_> = self.state.read().await.0.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }
}

/// Shared state of one hub process (stateless across processes).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    db: DatabaseConnection,
    schema: RSchema,
    verifier: Verifier,
    directory: AgencyDirectory,
    policy: Arc<Policy>,
    limits: Limits,
    /// The rate limits' buckets (`None`: `limits.rate.enabled = false`).
    limiter: Option<Limiter>,
    audit: AuditLog,
    /// The connector engine, when instances are configured.
    sync: Option<Arc<connectors::Engine>>,
    /// Which connector instance delivers to which agency (the outbox).
    outbound: Arc<crate::outbox::Routes>,
    console: Arc<crate::console::Site>,
    /// The webhooks' per-instance turns and nonce pruning.
    webhooks: crate::webhook::Gates,
}

impl AppState {
    /// The hub's state, with its access log's appender (see
    /// [`AuditLog::start`]) and the console's settings.
    pub fn new(
        db: DatabaseConnection,
        verifier: Verifier,
        policy: Policy,
        limits: Limits,
        audit: AuditLog,
        console: &ConsoleConfig,
    ) -> AppState {
        let directory = AgencyDirectory::new(db.clone());
        let verifications = crate::graphql::chain_state::Verifications::new(audit.keys.clone());
        let schema = build_schema(&limits, directory.clone(), verifications);
        AppState(Arc::new(Inner {
            db,
            schema,
            verifier,
            directory,
            policy: Arc::new(policy),
            limiter: Limiter::new(&limits.rate),
            limits,
            audit,
            sync: None,
            outbound: Arc::default(),
            console: Arc::new(crate::console::Site::new(console)),
            webhooks: crate::webhook::Gates::default(),
        }))
    }

    /// The same state with the connector engine (from `rete serve`'s config).
    pub fn with_sync(mut self, sync: Option<Arc<connectors::Engine>>) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.sync = sync;
        }
        self
    }

    pub fn sync(&self) -> Option<&Arc<connectors::Engine>> {
        self.0.sync.as_ref()
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.0.limits
    }

    /// The rate limits' buckets (`None`: turned off).
    pub(crate) fn limiter(&self) -> Option<&Limiter> {
        self.0.limiter.as_ref()
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.0.db
    }

    /// The same state with the outbound routes (which connector instance
    /// delivers to which agency), from `rete serve`'s config.
    pub fn with_outbound(mut self, routes: Arc<crate::outbox::Routes>) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.outbound = routes;
        }
        self
    }

    pub fn outbound(&self) -> &Arc<crate::outbox::Routes> {
        &self.0.outbound
    }

    /// An agency's kind, from the directory (`None`: no such agency).
    pub(crate) async fn agency_kind(&self, id: &str) -> Result<Option<AgencyKind>, ApiError> {
        match self.0.directory.get(id).await? {
            None => Ok(None),
            Some(a) => a
                .kind
                .parse()
                .map(Some)
                .map_err(|e: policy::ParseError| ApiError::internal(e)),
        }
    }

    /// Run one GraphQL operation as `caller`, under the policy, with the
    /// request's own loaders and trail: HTTP requests and the outbox's
    /// payloads alike. The caller logs the trail before anything leaves
    /// ([`AppState::log_operation`]).
    pub(crate) async fn run_operation(
        &self,
        caller: &Caller,
        req: async_graphql::Request,
    ) -> (Value, Arc<crate::audit::trail::Trail>) {
        let today = chrono::Utc::now().date_naive();
        let batches = Batches::new();
        let rc = RequestContext::new(
            self.0.db.clone(),
            self.0.policy.clone(),
            caller,
            today,
            self.0.limits.max_page_size,
            &batches,
        );
        let trail = rc.trail();
        let exec = self.0.schema.execute(
            req.data(caller.clone())
                .data(rc)
                .data(crate::graphql::sync::SyncEngine(self.0.sync.clone()))
                .data(self.0.outbound.clone()),
        );
        let resp: Response = batches.run(exec).await;
        (finish(resp), trail)
    }

    /// Count an operation under way that may log an entry (see
    /// [`crate::audit::Expecting`]); hand the guard to [`Self::log_operation`].
    pub(crate) fn expect_entry(&self) -> crate::audit::Expecting {
        self.0.audit.expect_entry()
    }

    /// Append the access-log entry of an operation whose response is `data`
    /// (nothing when it touched no record). Returns the entry's records.
    /// `expecting`, if the operation was counted, is released once the entry
    /// is handed over (or at once when there is none).
    pub(crate) async fn log_operation(
        &self,
        caller: &Caller,
        operation: String,
        query_hash: String,
        trail: &crate::audit::trail::Trail,
        data: &Value,
        expecting: Option<crate::audit::Expecting>,
    ) -> Result<Vec<crate::audit::trail::LoggedRecord>, crate::audit::AppendError> {
        if trail.is_empty() || crate::audit::NO_AUDIT {
            return Ok(Vec::new());
        }
        let records = trail.finish(data, &self.0.audit.keys.digest).records;
        self.append_records(caller.into(), operation, query_hash, records, expecting)
            .await
    }

    /// Append an access-log entry of `who` with these records.
    pub(crate) async fn append_entry(
        &self,
        who: crate::audit::Author<'_>,
        operation: String,
        query_hash: String,
        records: Vec<crate::audit::trail::LoggedRecord>,
    ) -> Result<Vec<crate::audit::trail::LoggedRecord>, crate::audit::AppendError> {
        self.append_records(who, operation, query_hash, records, None)
            .await
    }

    async fn append_records(
        &self,
        who: crate::audit::Author<'_>,
        operation: String,
        query_hash: String,
        records: Vec<crate::audit::trail::LoggedRecord>,
        expecting: Option<crate::audit::Expecting>,
    ) -> Result<Vec<crate::audit::trail::LoggedRecord>, crate::audit::AppendError> {
        let draft = Draft {
            at: Draft::now(),
            operator: who.operator.to_string(),
            agency_id: who.agency.to_string(),
            role: who.role.as_str().to_string(),
            purpose: who.purpose.as_str().to_string(),
            operation,
            query_hash,
            records,
            policy_version: self.0.policy.version.clone(),
        };
        self.0
            .audit
            .append(draft, expecting)
            .await
            .map(|(_, records)| records)
    }

    pub(crate) fn digest_key(&self) -> &aws_lc_rs::hmac::Key {
        &self.0.audit.keys.digest
    }

    pub(crate) fn hub_keys(&self) -> &crate::audit::HubKeys {
        &self.0.audit.keys
    }

    pub(crate) fn webhooks(&self) -> &crate::webhook::Gates {
        &self.0.webhooks
    }
}

/// The hub's router. Tests call it directly or bind it to 127.0.0.1:0.
pub fn app(state: AppState) -> Router {
    let body_limit = state.0.limits.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .merge(crate::console::routes(state.0.console.clone()))
        .route(
            "/connectors/{instance}/upload",
            // An export is larger than a GraphQL request: its own limit.
            post(crate::upload::upload)
                .layer(DefaultBodyLimit::max(state.0.limits.max_upload_bytes)),
        )
        // Signed by the community, not by a token: see `crate::webhook`.
        .route(
            "/connectors/{instance}/webhook",
            post(crate::webhook::webhook),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(access_line))
        .with_state(state)
}

/// The peer's address, when the server was started with connect info
/// (`into_make_service_with_connect_info`); the failed-authentication limit
/// applies only then.
pub struct Peer(pub Option<IpAddr>);

impl Peer {
    /// The peer of a request whose parts are not extracted one by one.
    pub fn of(extensions: &axum::http::Extensions) -> Peer {
        Peer(
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer::of(&parts.extensions))
    }
}

/// One log line per request: method, path, status, time. No query string, no
/// body, no headers: they can carry personal data or tokens.
async fn access_line(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    tracing::info!(%method, %path, status = resp.status().as_u16(), ms = start.elapsed().as_millis() as u64, "request");
    resp
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.0.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({"status": "ok", "database": "ok"})),
        ),
        Err(e) => {
            tracing::error!(detail = %crate::db::describe_db_error(&e), "health check: database down");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}

/// The response media type the client accepts, or `None` (406).
fn negotiate(headers: &HeaderMap) -> Option<&'static str> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        // GraphQL over HTTP: no Accept header means application/json.
        return Some(JSON);
    };
    let mut best: Option<(&'static str, f32)> = None;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let media = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        let candidate = match media.as_str() {
            GRAPHQL_RESPONSE | "application/*" | "*/*" => GRAPHQL_RESPONSE,
            JSON => JSON,
            _ => continue,
        };
        // Prefer the higher q; on a tie, prefer graphql-response+json.
        let better = match best {
            None => true,
            Some((m, bq)) => {
                q > bq || (q == bq && candidate == GRAPHQL_RESPONSE && m != GRAPHQL_RESPONSE)
            }
        };
        if better {
            best = Some((candidate, q));
        }
    }
    best.map(|(m, _)| m)
}

/// A JSON error body with one error.
pub(crate) fn error_response(
    status: StatusCode,
    media: &'static str,
    code: &str,
    message: &str,
) -> axum::response::Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_with_charset(media)),
    );
    resp
}

fn media_with_charset(media: &'static str) -> &'static str {
    if media == JSON {
        "application/json; charset=utf-8"
    } else {
        "application/graphql-response+json; charset=utf-8"
    }
}

/// Verify the bearer token and find the agency it speaks for.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Caller, (StatusCode, String)> {
    let unauth = |m: String| (StatusCode::UNAUTHORIZED, m);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauth("missing `Authorization: Bearer <token>` header".into()))?
        .to_str()
        .map_err(|_| unauth("the Authorization header is not text".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| unauth("the Authorization header must be `Bearer <token>`".into()))?
        .trim();
    let claims = state.0.verifier.verify(token).await.map_err(|e| match e {
        AuthError::Rejected(m) => unauth(m),
        AuthError::KeysUnavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
    })?;
    let agency = state
        .0
        .directory
        .get(&claims.agency)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.message()))?;
    let Some(agency) = agency else {
        return Err(unauth(format!(
            "token claim `agency`: unknown agency `{}`",
            claims.agency
        )));
    };
    let kind: AgencyKind = agency
        .kind
        .parse()
        .map_err(|e: policy::ParseError| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(claims.into_caller(kind))
}

async fn graphql_get(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    uri: Uri,
) -> axum::response::Response {
    let query = uri.query().unwrap_or("");
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    // The GraphiQL page holds no data (its queries carry the token), but it
    // is an IDE built on introspection: it is served only where introspection
    // is on (the demo), never by a hub that hides its schema.
    if wants_html
        && state.0.limits.introspection_enabled()
        && !query.split('&').any(|kv| kv.starts_with("query="))
    {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let request = match async_graphql::http::parse_query_string(query) {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_REQUEST",
                &format!("invalid GraphQL GET request: {e}"),
            );
        }
    };
    execute(
        state,
        peer,
        headers,
        media,
        Method::GET,
        vec![request],
        false,
    )
    .await
}

async fn graphql_post(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> axum::response::Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    // Too large (413) or unreadable: answer in GraphQL form, with a code, not
    // with axum's plain-text rejection.
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "the body exceeds the limit of {} bytes",
                    state.0.limits.max_body_bytes
                )
            } else {
                format!("cannot read the body: {}", rejection.body_text())
            };
            return error_response(status, media, "BAD_REQUEST", &message);
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with(JSON) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "BAD_REQUEST",
            "POST /graphql needs `Content-Type: application/json`",
        );
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_REQUEST",
                &format!("the body is not a GraphQL request in JSON: {e}"),
            );
        }
    };
    let (requests, is_batch) = match batch {
        BatchRequest::Single(r) => (vec![r], false),
        BatchRequest::Batch(v) => (v, true),
    };
    execute(
        state,
        peer,
        headers,
        media,
        Method::POST,
        requests,
        is_batch,
    )
    .await
}

fn not_acceptable() -> axum::response::Response {
    error_response(
        StatusCode::NOT_ACCEPTABLE,
        JSON,
        "BAD_REQUEST",
        "accept application/graphql-response+json or application/json",
    )
}

/// 429 with `Retry-After`: nothing ran.
pub(crate) fn rate_limited(media: &'static str, refused: &Refused) -> axum::response::Response {
    let mut resp = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        media,
        "RATE_LIMITED",
        &refused.message(),
    );
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(refused.retry_after_secs),
    );
    resp
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    state: AppState,
    peer: Option<IpAddr>,
    headers: HeaderMap,
    media: &'static str,
    method: Method,
    requests: Vec<Request>,
    is_batch: bool,
) -> axum::response::Response {
    let limiter = state.0.limiter.as_ref();
    if let Some(Err(refused)) = limiter.map(|l| l.blocked(peer)) {
        return rate_limited(media, &refused);
    }
    let caller = match authenticate(&state, &headers).await {
        Ok(c) => c,
        Err((status, message)) => {
            if status == StatusCode::UNAUTHORIZED
                && let Some(l) = limiter
            {
                l.failed_authentication(peer);
            }
            let mut resp = error_response(status, media, "UNAUTHENTICATED", &message);
            if status == StatusCode::UNAUTHORIZED {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            return resp;
        }
    };
    let limits = &state.0.limits;
    if requests.is_empty() || requests.len() > limits.max_batch {
        return error_response(
            StatusCode::BAD_REQUEST,
            media,
            "BAD_REQUEST",
            &format!(
                "a batch holds 1 to {} operations, got {}",
                limits.max_batch,
                requests.len()
            ),
        );
    }
    if let Some(Err(refused)) = limiter.map(|l| l.admit(&caller, requests.len())) {
        return rate_limited(media, &refused);
    }
    let deadline = Duration::from_millis(limits.request_timeout_ms);
    let run = async {
        let mut out = Vec::with_capacity(requests.len());
        for mut req in requests {
            let operation = match precheck(&mut req, &method, limits) {
                Err(Reject::MethodNotAllowed(m)) => {
                    return Err((StatusCode::METHOD_NOT_ALLOWED, m));
                }
                Err(Reject::Invalid(code, m)) => {
                    out.push(json!({"errors": [{"message": m, "extensions": {"code": code}}]}));
                    continue;
                }
                Ok(label) => label,
            };
            let query_hash = query_hash(&req.query);
            let expecting = state.expect_entry();
            let (body, trail) = state.run_operation(&caller, req).await;
            // The access log, before anything leaves: no entry, no data.
            let data = body.get("data").unwrap_or(&Value::Null);
            if let Err(e) = state
                .log_operation(
                    &caller,
                    operation,
                    query_hash,
                    &trail,
                    data,
                    Some(expecting),
                )
                .await
            {
                return Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string()));
            }
            out.push(body);
        }
        Ok(out)
    };
    let bodies = match tokio::time::timeout(deadline, run).await {
        Err(_) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                media,
                "TIMEOUT",
                &format!(
                    "the request exceeded the time limit of {} ms",
                    limits.request_timeout_ms
                ),
            );
        }
        Ok(Err((StatusCode::SERVICE_UNAVAILABLE, m))) => {
            tracing::error!(error = %m, "response withheld: the access log cannot be written");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                media,
                "ACCESS_LOG_UNAVAILABLE",
                "the access log cannot be written, so no data is returned; try again later",
            );
        }
        Ok(Err((status, m))) => {
            let mut resp = error_response(status, media, "BAD_REQUEST", &m);
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return resp;
        }
        Ok(Ok(b)) => b,
    };
    let status =
        if !is_batch && media == GRAPHQL_RESPONSE && bodies.first().is_some_and(did_not_run) {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
    let body = if is_batch {
        Value::Array(bodies)
    } else {
        bodies.into_iter().next().unwrap_or(Value::Null)
    };
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_with_charset(media)),
    );
    resp
}

enum Reject {
    MethodNotAllowed(String),
    Invalid(&'static str, String),
}

/// Parse and check the limits async-graphql does not enforce itself. Returns
/// the operation's label for the access log (`query CaseById`).
fn precheck(req: &mut Request, method: &Method, limits: &Limits) -> Result<String, Reject> {
    let op_name = req.operation_name.clone();
    let doc = match req.parsed_query() {
        Ok(d) => d,
        Err(e) => return Err(Reject::Invalid("GRAPHQL_PARSE_FAILED", e.message)),
    };
    let found = find_operation(doc, op_name.as_deref());
    let label = match found {
        Some((name, op)) => operation_label(name.or(op_name.as_deref()), &op.node),
        None => "(unknown operation)".to_string(),
    };
    let selected =
        found.map(|(_, op)| (op.node.ty, root_fields(&op.node.selection_set.node, doc, 0)));
    if method == Method::GET
        && selected
            .as_ref()
            .is_some_and(|(ty, _)| *ty != OperationType::Query)
    {
        return Err(Reject::MethodNotAllowed(
            "GET runs queries only; send mutations with POST".into(),
        ));
    }
    // With introspection disabled async-graphql answers `__schema` / `__type`
    // with a silent null; refuse them instead, so the client knows why.
    if !limits.introspection_enabled() && uses_introspection(doc) {
        return Err(Reject::Invalid(
            "GRAPHQL_VALIDATION_FAILED",
            "introspection (`__schema`, `__type`) is disabled on this hub".into(),
        ));
    }
    let aliases = count_aliases(doc);
    if aliases > limits.max_aliases {
        return Err(Reject::Invalid(
            "GRAPHQL_VALIDATION_FAILED",
            format!(
                "the query uses {aliases} aliases; the limit is {}",
                limits.max_aliases
            ),
        ));
    }
    if let Some((_, roots)) = selected
        && roots > limits.max_root_fields
    {
        return Err(Reject::Invalid(
            "GRAPHQL_VALIDATION_FAILED",
            format!(
                "the operation selects {roots} root fields; the limit is {}",
                limits.max_root_fields
            ),
        ));
    }
    Ok(label)
}

/// The operation that will run, with its name, if the document names it
/// unambiguously.
fn find_operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&'d str>,
) -> Option<(Option<&'d str>, &'d Positioned<OperationDefinition>)> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some((None, op)),
        (DocumentOperations::Multiple(ops), Some(n)) => ops.get(n).map(|op| (Some(n), op)),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.iter().next().map(|(n, op)| (Some(n.as_str()), op))
        }
        _ => None,
    }
}

/// `query CaseById`, `mutation (anonymous)`: the operation for the access log.
fn operation_label(name: Option<&str>, op: &OperationDefinition) -> String {
    let ty = match op.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    format!("{ty} {}", name.unwrap_or("(anonymous)"))
}

fn root_fields(set: &SelectionSet, doc: &ExecutableDocument, depth: usize) -> usize {
    if depth > 8 {
        return 0;
    }
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(f) => root_fields(&f.node.selection_set.node, doc, depth + 1),
            Selection::FragmentSpread(fs) => doc
                .fragments
                .get(&fs.node.fragment_name.node)
                .map_or(0, |f| {
                    root_fields(&f.node.selection_set.node, doc, depth + 1)
                }),
        })
        .sum()
}

/// Whether any operation or fragment selects `__schema` or `__type` (they
/// exist only on the query root, so scanning every selection set is enough).
fn uses_introspection(doc: &ExecutableDocument) -> bool {
    fn in_set(set: &SelectionSet) -> bool {
        set.items.iter().any(|s| match &s.node {
            Selection::Field(f) => {
                matches!(f.node.name.node.as_str(), "__schema" | "__type")
                    || in_set(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => in_set(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    doc.operations
        .iter()
        .any(|(_, op)| in_set(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| in_set(&f.node.selection_set.node))
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    fn in_set(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some()) + in_set(&f.node.selection_set.node)
                }
                Selection::InlineFragment(f) => in_set(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| in_set(&op.node.selection_set.node))
        .sum();
    let frags: usize = doc
        .fragments
        .values()
        .map(|f| in_set(&f.node.selection_set.node))
        .sum();
    ops + frags
}

/// At most this many errors answer a request that cannot run, then one that
/// says how many were left out, as graphql-js's `validate` does (`maxErrors`).
/// Without it a 150 KB document carrying an unknown directive 20 times on each
/// of 3000 fields got a 7.7 MB answer of 60 000 errors.
const MAX_REQUEST_ERRORS: usize = 100;

/// Serialise a response, giving every error an `extensions.code`.
fn finish(resp: Response) -> Value {
    let mut v = serde_json::to_value(&resp).unwrap_or_else(|_| json!({"data": null}));
    let ran = !matches!(resp.data, async_graphql::Value::Null)
        || resp.errors.iter().any(|e| !e.path.is_empty());
    if let Some(errors) = v.get_mut("errors").and_then(Value::as_array_mut) {
        for e in errors {
            let has_path = e.get("path").is_some();
            let ext = e
                .as_object_mut()
                .map(|o| o.entry("extensions").or_insert_with(|| json!({})));
            if let Some(Value::Object(ext)) = ext
                && !ext.contains_key("code")
            {
                let code = if has_path || ran {
                    "INTERNAL"
                } else {
                    "GRAPHQL_VALIDATION_FAILED"
                };
                ext.insert("code".into(), Value::String(code.into()));
            }
        }
    }
    // A request error (the operation never ran) has no `data` entry: GraphQL
    // over HTTP ties `data` to execution (and to a 2xx status).
    if !ran
        && !resp.errors.is_empty()
        && let Some(o) = v.as_object_mut()
    {
        o.remove("data");
    }
    // Errors of a run operation (a withheld field each) are the answer itself
    // and bounded by the page size; a request error's are not bounded at all.
    if !ran
        && let Some(errors) = v.get_mut("errors").and_then(Value::as_array_mut)
        && errors.len() > MAX_REQUEST_ERRORS
    {
        let total = errors.len();
        errors.truncate(MAX_REQUEST_ERRORS);
        errors.push(json!({
            "message": format!("too many errors: the first {MAX_REQUEST_ERRORS} of {total} are shown"),
            "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
        }));
    }
    v
}

/// A response whose operation never ran (parse or validation failure).
fn did_not_run(body: &Value) -> bool {
    let data_null = body.get("data").is_none_or(Value::is_null);
    let errors = body.get("errors").and_then(Value::as_array);
    data_null
        && errors.is_some_and(|es| !es.is_empty() && es.iter().all(|e| e.get("path").is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("*/*")),
        );
        h
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(JSON));
        assert_eq!(negotiate(&accept("application/json")), Some(JSON));
        assert_eq!(negotiate(&accept("*/*")), Some(GRAPHQL_RESPONSE));
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(GRAPHQL_RESPONSE)
        );
        assert_eq!(
            negotiate(&accept(
                "application/json, application/graphql-response+json;q=0.5"
            )),
            Some(JSON)
        );
        assert_eq!(negotiate(&accept("text/plain")), None);
    }

    #[test]
    fn aliases_are_counted_everywhere() -> Result<(), String> {
        let doc = async_graphql::parser::parse_query(
            "query { a: me { b: operator } ...F } fragment F on Query { c: me { operator } }",
        )
        .map_err(|e| e.to_string())?;
        assert_eq!(count_aliases(&doc), 3);
        assert_eq!(
            find_operation(&doc, None).map(|(_, op)| root_fields(
                &op.node.selection_set.node,
                &doc,
                0
            )),
            Some(2)
        );
        Ok(())
    }
}
