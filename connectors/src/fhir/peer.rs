//! A FHIR R4 server for tests (feature `test-peer`): axum on 127.0.0.1 with
//! a random port, serving paged `searchset` Bundles of the resources a test
//! puts in, filtered by `_lastUpdated`, with faults on demand and an optional
//! SMART Backend Services token endpoint that checks client assertions for
//! real (signature against the registered public key, `aud`, `iss`/`sub`,
//! `exp` at most five minutes ahead, `jti` never replayed).
//!
//! Used by this crate's tests and meant for the hub's end-to-end tests
//! (`connectors = { workspace = true, features = ["test-peer"] }`). It is test
//! equipment: never built into the `rete` binary, bound to loopback only.
//!
//! ```no_run
//! # async fn demo() {
//! use connectors::fhir::peer::{FhirPeer, PeerAuth, Fault};
//! let peer = FhirPeer::start(PeerAuth::Open).await.expect("peer");
//! peer.put(serde_json::json!({"resourceType": "Patient", "id": "p1",
//!     "name": [{"family": "Rossi", "given": ["Anna"]}]}));
//! peer.fail_next(Fault::TooManyRequests { retry_after: "3".into() });
//! // point a FhirConnector at peer.base_url() ...
//! # }
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{Value, json};

/// How the peer wants its clients to authenticate.
#[derive(Clone, Debug)]
pub enum PeerAuth {
    /// No authentication.
    Open,
    /// A fixed bearer token.
    Bearer(String),
    /// SMART Backend Services: `client_id` registered with these public keys.
    Smart { client_id: String, jwks: JwkSet },
}

/// A fault the next FHIR request (search or page) answers with; queued in order.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 with this `Retry-After` value (seconds or an HTTP date).
    TooManyRequests { retry_after: String },
    /// 500.
    ServerError,
    /// Any status, with an OperationOutcome body.
    Status(u16),
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// A page cut in the middle of its JSON.
    Truncated,
    /// A body that is not JSON at all.
    InvalidJson,
    /// A normal page whose `next` link points at another host (127.0.0.2).
    ForeignNextLink,
    /// A valid JSON resource that is not a Bundle (an OperationOutcome).
    NotABundle,
}

/// A private key for SMART tests, with its public half as a JWK Set.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    /// PKCS#8 PEM, as the connector's `private_key` file holds it.
    pub pem: String,
    pub jwks: JwkSet,
}

impl TestKey {
    /// A fresh RSA 2048 key for RS384.
    pub fn rs384(kid: &str) -> TestKey {
        let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let der = pair.as_der().expect("RSA key encoding");
        Self::from_pkcs8(kid, Algorithm::RS384, der.as_ref())
    }

    /// A fresh P-384 key for ES384.
    pub fn es384(kid: &str) -> TestKey {
        let pair =
            EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).expect("EC key generation");
        let der = pair.to_pkcs8v1().expect("EC key encoding");
        Self::from_pkcs8(kid, Algorithm::ES384, der.as_ref())
    }

    fn from_pkcs8(kid: &str, alg: Algorithm, der: &[u8]) -> TestKey {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        let enc = match alg {
            Algorithm::RS384 => EncodingKey::from_rsa_pem(pem.as_bytes()),
            _ => EncodingKey::from_ec_pem(pem.as_bytes()),
        }
        .expect("a PEM jsonwebtoken reads");
        let mut jwk = Jwk::from_encoding_key(&enc, alg).expect("public JWK");
        jwk.common.key_id = Some(kid.to_string());
        TestKey {
            kid: kid.to_string(),
            alg,
            pem,
            jwks: JwkSet { keys: vec![jwk] },
        }
    }
}

struct Inner {
    resources: Vec<Value>,
    faults: VecDeque<Fault>,
    requests: Vec<String>,
    auth: PeerAuth,
    issued: HashSet<String>,
    seen_jti: HashSet<String>,
    token_requests: usize,
    refused_assertions: Vec<String>,
    expires_in: u64,
    delay: Option<Duration>,
    /// Added to the real clock: the server's "now".
    clock: chrono::TimeDelta,
}

impl Inner {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock
    }
}

struct Shared {
    base: String,
    token_url: String,
    port: u16,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock must not hide the next failure.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running FHIR server; stops when dropped.
pub struct FhirPeer {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FhirPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FhirPeer {
    /// Starts a server on 127.0.0.1 with a random port.
    pub async fn start(auth: PeerAuth) -> std::io::Result<FhirPeer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            base: format!("http://{addr}/fhir"),
            token_url: format!("http://{addr}/auth/token"),
            port: addr.port(),
            inner: Mutex::new(Inner {
                resources: Vec::new(),
                faults: VecDeque::new(),
                requests: Vec::new(),
                auth,
                issued: HashSet::new(),
                seen_jti: HashSet::new(),
                token_requests: 0,
                refused_assertions: Vec::new(),
                expires_in: 300,
                delay: None,
                clock: chrono::TimeDelta::zero(),
            }),
        });
        let app = Router::new()
            .route("/fhir/{rtype}", get(search))
            .route("/auth/token", post(token))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FhirPeer { shared, task })
    }

    /// `http://127.0.0.1:PORT/fhir`.
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    /// The SMART token endpoint.
    pub fn token_url(&self) -> String {
        self.shared.token_url.clone()
    }

    /// Stores a resource as the server would on a create or update: a new
    /// `meta.versionId` and `meta.lastUpdated` = now, replacing the resource
    /// of the same type and id. Returns the stored resource.
    pub fn put(&self, mut resource: Value) -> Value {
        let mut inner = self.shared.lock();
        let rtype = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        let old = inner
            .resources
            .iter()
            .position(|r| r["resourceType"] == rtype.as_str() && r["id"] == id.as_str());
        let version = old
            .and_then(|i| {
                inner.resources[i]["meta"]["versionId"]
                    .as_str()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            + 1;
        // Strictly later than anything stored, as a server's clock would be.
        let mut now = inner.now();
        if let Some(last) = inner.resources.iter().filter_map(last_updated).max()
            && now <= last
        {
            now = last + chrono::Duration::milliseconds(1);
        }
        if !resource["meta"].is_object() {
            resource["meta"] = json!({});
        }
        resource["meta"]["versionId"] = json!(version.to_string());
        resource["meta"]["lastUpdated"] = json!(now.to_rfc3339_opts(SecondsFormat::Millis, true));
        match old {
            Some(i) => inner.resources[i] = resource.clone(),
            None => inner.resources.push(resource.clone()),
        }
        resource
    }

    /// Stores a resource exactly as given (its own `meta.lastUpdated`, if any).
    pub fn put_raw(&self, resource: Value) {
        self.shared.lock().resources.push(resource);
    }

    /// Queues a fault for the next FHIR request.
    pub fn fail_next(&self, fault: Fault) {
        self.shared.lock().faults.push_back(fault);
    }

    /// Delays every FHIR response by this much (or not, with `None`).
    pub fn delay_all(&self, delay: Option<Duration>) {
        self.shared.lock().delay = delay;
    }

    /// `path?query` of every FHIR request so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// How many token requests the token endpoint received.
    pub fn token_requests(&self) -> usize {
        self.shared.lock().token_requests
    }

    /// Why the token endpoint refused each assertion it refused.
    pub fn refused_assertions(&self) -> Vec<String> {
        self.shared.lock().refused_assertions.clone()
    }

    /// Forgets every access token issued (clients must fetch a new one).
    pub fn revoke_tokens(&self) {
        self.shared.lock().issued.clear();
    }

    /// `expires_in` of the tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.shared.lock().expires_in = seconds;
    }

    /// Moves the server's clock (its `meta.lastUpdated` stamps and search
    /// times) forward by `by`, as if that much time had passed.
    pub fn advance_clock(&self, by: Duration) {
        let mut inner = self.shared.lock();
        inner.clock += chrono::TimeDelta::from_std(by).unwrap_or_default();
    }

    /// Changes how clients must authenticate.
    pub fn set_auth(&self, auth: PeerAuth) {
        self.shared.lock().auth = auth;
    }
}

fn last_updated(r: &Value) -> Option<DateTime<Utc>> {
    let s = r["meta"]["lastUpdated"].as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn fhir_json(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .body(Body::from(body))
        .unwrap_or_default()
}

fn outcome(status: StatusCode, text: &str) -> Response {
    fhir_json(
        status,
        json!({"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "processing", "diagnostics": text}]})
        .to_string(),
    )
}

async fn search(
    State(shared): State<Arc<Shared>>,
    Path(rtype): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let (fault, delay) = {
        let mut inner = shared.lock();
        inner.requests.push(
            uri.path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        );
        let authorized = match &inner.auth {
            PeerAuth::Open => true,
            PeerAuth::Bearer(t) => bearer(&headers).is_some_and(|b| b == *t),
            PeerAuth::Smart { .. } => bearer(&headers).is_some_and(|b| inner.issued.contains(&b)),
        };
        if !authorized {
            return outcome(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        }
        (inner.faults.pop_front(), inner.delay)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let mut foreign_next = false;
    match fault {
        Some(Fault::TooManyRequests { retry_after }) => {
            let mut r = outcome(StatusCode::TOO_MANY_REQUESTS, "slow down");
            if let Ok(v) = retry_after.parse() {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Some(Fault::ServerError) => return outcome(StatusCode::INTERNAL_SERVER_ERROR, "boom"),
        Some(Fault::Status(s)) => {
            return outcome(
                StatusCode::from_u16(s).unwrap_or(StatusCode::IM_A_TEAPOT),
                "as asked",
            );
        }
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::InvalidJson) => {
            return fhir_json(
                StatusCode::OK,
                "<html><body>Service temporarily unavailable</body></html>".into(),
            );
        }
        Some(Fault::NotABundle) => return outcome(StatusCode::OK, "not a bundle"),
        Some(Fault::ForeignNextLink) => foreign_next = true,
        Some(Fault::Truncated) | None => {}
    }
    let truncated = matches!(fault, Some(Fault::Truncated));

    let count: usize = params
        .get("_count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let offset: usize = params
        .get("_offset")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let filter = params.get("_lastUpdated").cloned();
    let since = match filter.as_deref() {
        None => None,
        Some(f) => {
            let Some(t) = f
                .strip_prefix("gt")
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            else {
                return outcome(StatusCode::BAD_REQUEST, "_lastUpdated must be gt<instant>");
            };
            Some(t.with_timezone(&Utc))
        }
    };
    let bundle = {
        let inner = shared.lock();
        let now = inner.now();
        let mut matches: Vec<&Value> = inner
            .resources
            .iter()
            .filter(|r| r["resourceType"] == rtype.as_str())
            .filter(|r| since.is_none_or(|s| last_updated(r).is_some_and(|t| t > s)))
            .collect();
        matches.sort_by(|a, b| {
            (last_updated(a), a["id"].as_str()).cmp(&(last_updated(b), b["id"].as_str()))
        });
        let total = matches.len();
        let entries: Vec<Value> = matches
            .iter()
            .skip(offset)
            .take(count)
            .map(|r| {
                json!({
                    "fullUrl": format!("{}/{}/{}", shared.base, rtype, r["id"].as_str().unwrap_or_default()),
                    "resource": r,
                    "search": {"mode": "match"}
                })
            })
            .collect();
        let page_url = |offset: usize, host: &str| {
            let mut u = format!("http://{host}:{}/fhir/{rtype}?", shared.port);
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if let Some(f) = &filter {
                q.append_pair("_lastUpdated", f);
            }
            q.append_pair("_sort", "_lastUpdated");
            q.append_pair("_count", &count.to_string());
            q.append_pair("_offset", &offset.to_string());
            u.push_str(&q.finish());
            u
        };
        let mut links = vec![json!({"relation": "self", "url": page_url(offset, "127.0.0.1")})];
        if offset + count < total {
            let host = if foreign_next {
                "127.0.0.2"
            } else {
                "127.0.0.1"
            };
            links.push(json!({"relation": "next", "url": page_url(offset + count, host)}));
        } else if foreign_next {
            links.push(json!({"relation": "next", "url": page_url(offset, "127.0.0.2")}));
        }
        json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "meta": {"lastUpdated": now.to_rfc3339_opts(SecondsFormat::Millis, true)},
            "total": total,
            "link": links,
            "entry": entries,
        })
    };
    let mut text = bundle.to_string();
    if truncated {
        let mut cut = text.len() / 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    fhir_json(StatusCode::OK, text)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    jti: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"error": error}).to_string()))
        .unwrap_or_default()
}

async fn token(State(shared): State<Arc<Shared>>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut inner = shared.lock();
    inner.token_requests += 1;
    let PeerAuth::Smart { client_id, jwks } = inner.auth.clone() else {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let Some(assertion) = form.get("client_assertion") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    match check_assertion(assertion, &client_id, &jwks, &shared.token_url) {
        Ok(jti) if inner.seen_jti.insert(jti.clone()) => {
            let token = uuid::Uuid::new_v4().to_string();
            inner.issued.insert(token.clone());
            let expires_in = inner.expires_in;
            let scope = form.get("scope").cloned().unwrap_or_default();
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"access_token": token, "token_type": "bearer",
                           "expires_in": expires_in, "scope": scope})
                    .to_string(),
                ))
                .unwrap_or_default()
        }
        Ok(jti) => {
            inner.refused_assertions.push(format!("jti {jti} replayed"));
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client")
        }
        Err(why) => {
            inner.refused_assertions.push(why);
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client")
        }
    }
}

/// Checks a client assertion as a SMART server must; its `jti` when valid.
fn check_assertion(jwt: &str, client_id: &str, jwks: &JwkSet, aud: &str) -> Result<String, String> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| format!("bad header: {e}"))?;
    if !matches!(
        header.alg,
        Algorithm::RS384 | Algorithm::ES384 | Algorithm::RS256 | Algorithm::ES256
    ) {
        return Err(format!("alg {:?} not accepted", header.alg));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("unknown kid {kid}"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("bad registered key: {e}"))?;
    let mut v = Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[client_id]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.leeway = 5;
    let claims = jsonwebtoken::decode::<AssertionClaims>(jwt, &key, &v)
        .map_err(|e| format!("rejected: {e}"))?
        .claims;
    if claims.sub != client_id || claims.iss != client_id {
        return Err("iss and sub must be the client_id".into());
    }
    if claims.exp > Utc::now().timestamp() + 300 + 5 {
        return Err("exp is more than five minutes ahead".into());
    }
    claims
        .jti
        .filter(|j| !j.is_empty())
        .ok_or_else(|| "no jti".into())
}
