//! A juvenile court's system for tests (feature `test-peer`): axum on
//! 127.0.0.1 with a random port, with its own ES256 key pair (generated at
//! start), that
//!
//! - publishes signed orders on `GET /orders?after=&limit=` (the feed the
//!   court connector pulls), with an optional bearer check;
//! - receives the hub's messages on `POST /messages` as the court must
//!   (`docs/outbound.md`): `Content-Type: application/jose`, an
//!   `Idempotency-Key`, a compact JWS (ES256) verified against the hub's
//!   public JWK given at start, `iss` = `rete-hub`, `aud` = the court's
//!   agency id, `jti` = the Idempotency-Key. The first delivery of a key is
//!   recorded and answered 201 `{"receipt": …}`; a delivery of a key already
//!   seen is answered 200 with the same receipt and recorded no more;
//! - fails on demand on both routes: a status for the next requests, a delay
//!   before the next answers, or down altogether (its listener closed, so a
//!   client's connection is refused, then reopened on the same port).
//!
//! Test equipment: never built into the `rete` binary, bound to loopback
//! only. Its own key is generated per peer and never written anywhere but
//! where a test asks (the PUBLIC half, for the connector's config).
//!
//! ```no_run
//! # async fn demo(hub_jwk: jsonwebtoken::jwk::Jwk) {
//! use connectors::court::peer::CourtPeer;
//! let court = CourtPeer::start("tm-torino", hub_jwk).await.expect("court");
//! court.publish(serde_json::json!({"id": "TM-2026-17", "type": "ORDER", "kind": "OTHER",
//!     "docket_number": "V.G. 123/2026", "case_reference": "RETE-DEMO-0001",
//!     "issued_on": "2026-03-01", "summary": "…", "mandates": []}));
//! court.fail_next(2, 503);
//! // point the court connector at court.base_url(), with the key of
//! // court.write_public_key(path) ...
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The issuer of the hub's messages (`docs/outbound.md`).
pub const HUB_ISSUER: &str = "rete-hub";

/// An ES256 key pair for tests: the court's, or the hub's when a test plays
/// the hub towards the court.
pub struct Es256Key {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
    public_pem: String,
}

impl Es256Key {
    /// A fresh P-256 key pair.
    pub fn generate(kid: &str) -> Es256Key {
        let pair =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key generation");
        let pkcs8 = pair.to_pkcs8v1().expect("EC key encoding");
        let private_pem = pem("PRIVATE KEY", pkcs8.as_ref());
        let spki = pair.public_key().as_der().expect("EC public key encoding");
        let public_pem = pem("PUBLIC KEY", spki.as_ref());
        let encoding =
            EncodingKey::from_ec_pem(private_pem.as_bytes()).expect("a PEM jsonwebtoken reads");
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).expect("public JWK");
        jwk.common.key_id = Some(kid.to_string());
        Es256Key {
            kid: kid.to_string(),
            encoding,
            jwk,
            public_pem,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK (with `kid` and `alg`).
    pub fn public_jwk(&self) -> Jwk {
        self.jwk.clone()
    }

    /// The public half as a PEM `PUBLIC KEY` (SPKI).
    pub fn public_pem(&self) -> String {
        self.public_pem.clone()
    }

    /// A compact JWS (ES256, with this key's `kid`) of these claims.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    /// A compact JWS of these claims under a header a test makes up (its
    /// `alg` must be ES256 for the signature to be made).
    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("ES256 signing")
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// What the next request (on either route) meets; queued in order.
#[derive(Clone, Debug)]
enum Fault {
    Status(u16),
    Delay(Duration),
}

struct Item {
    id: String,
    seq: u64,
    jws: String,
}

struct Inner {
    items: Vec<Item>,
    bearer: Option<String>,
    faults: VecDeque<Fault>,
    order_requests: Vec<String>,
    /// Verified claims of each distinct message, in arrival order.
    received: Vec<Value>,
    /// Idempotency-Key → receipt.
    receipts: HashMap<String, String>,
    attempts: usize,
    refusals: Vec<String>,
}

struct Shared {
    agency: String,
    court_key: Es256Key,
    hub_key: DecodingKey,
    hub_kid: Option<String>,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock must not hide the next failure.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The listener and its server task, while the peer is up.
struct Running {
    stop: oneshot::Sender<()>,
    /// Fires when the listener is dropped (the port refuses connections).
    closed: oneshot::Receiver<()>,
    task: tokio::task::JoinHandle<()>,
}

/// A TCP listener that says when it is gone.
struct Watched {
    inner: tokio::net::TcpListener,
    _closed: oneshot::Sender<()>,
}

impl axum::serve::Listener for Watched {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    fn accept(&mut self) -> impl Future<Output = (Self::Io, Self::Addr)> + Send {
        axum::serve::Listener::accept(&mut self.inner)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A running test court; stops when dropped.
pub struct CourtPeer {
    shared: Arc<Shared>,
    port: u16,
    running: Mutex<Option<Running>>,
}

impl Drop for CourtPeer {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(r) = running {
            let _ = r.stop.send(());
            r.task.abort();
        }
    }
}

impl CourtPeer {
    /// Starts the court of agency `agency` on 127.0.0.1 with a random port;
    /// it accepts messages signed with the hub's key `hub_key` (ES256).
    pub async fn start(agency: &str, hub_key: Jwk) -> std::io::Result<CourtPeer> {
        let decoding = DecodingKey::from_jwk(&hub_key)
            .map_err(|e| std::io::Error::other(format!("the hub's JWK: {e}")))?;
        let shared = Arc::new(Shared {
            agency: agency.to_string(),
            court_key: Es256Key::generate(&format!("{agency}-es256")),
            hub_key: decoding,
            hub_kid: hub_key.common.key_id.clone(),
            inner: Mutex::new(Inner {
                items: Vec::new(),
                bearer: None,
                faults: VecDeque::new(),
                order_requests: Vec::new(),
                received: Vec::new(),
                receipts: HashMap::new(),
                attempts: 0,
                refusals: Vec::new(),
            }),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let running = serve(shared.clone(), listener);
        Ok(CourtPeer {
            shared,
            port,
            running: Mutex::new(Some(running)),
        })
    }

    /// `http://127.0.0.1:PORT`: the connector's `base_url`, and where the
    /// hub's outbox posts (`{base_url}/messages`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The court's agency id (the `iss` of its orders, the `aud` it wants).
    pub fn agency(&self) -> &str {
        &self.shared.agency
    }

    /// The court's own key pair (to sign claims a test makes up).
    pub fn court_key(&self) -> &Es256Key {
        &self.shared.court_key
    }

    /// The court's public key as a JWK.
    pub fn public_jwk(&self) -> Jwk {
        self.shared.court_key.public_jwk()
    }

    /// Writes the court's public JWK to `path`, for the connector's
    /// `court_key_file`.
    pub fn write_public_key(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.public_jwk())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        std::fs::write(path, text)
    }

    /// Signs an order as the court (`iss` = its agency, `iat` = now, the
    /// order under `order`) and appends it to the feed; its seq.
    pub fn publish(&self, order: Value) -> u64 {
        let claims = json!({
            "iss": self.shared.agency,
            "iat": chrono::Utc::now().timestamp(),
            "order": order,
        });
        let jws = self.shared.court_key.sign(&claims);
        let id = order["id"].as_str().unwrap_or_default().to_string();
        self.append(id, jws)
    }

    /// Appends any text as an item of the feed (a forged or unsigned JWS);
    /// its id in the listing is the payload's `order.id` when one can be
    /// read, else `raw-SEQ`. Its seq.
    pub fn publish_raw(&self, jws: impl Into<String>) -> u64 {
        let jws = jws.into();
        let id = jws
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|c| {
                c.pointer("/order/id")
                    .and_then(Value::as_str)
                    .map(String::from)
            });
        let mut inner = self.shared.lock();
        let seq = inner.items.len() as u64 + 1;
        let id = id.unwrap_or_else(|| format!("raw-{seq}"));
        inner.items.push(Item { id, seq, jws });
        seq
    }

    fn append(&self, id: String, jws: String) -> u64 {
        let mut inner = self.shared.lock();
        let seq = inner.items.len() as u64 + 1;
        inner.items.push(Item { id, seq, jws });
        seq
    }

    /// Asks `GET /orders` for this bearer token (or for none).
    pub fn require_bearer(&self, token: Option<&str>) {
        self.shared.lock().bearer = token.map(str::to_string);
    }

    /// The next `n` requests (either route) are answered `status`, and do
    /// nothing else.
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut inner = self.shared.lock();
        inner
            .faults
            .extend(std::iter::repeat_n(Fault::Status(status), n));
    }

    /// The next `n` requests (either route) are answered after `delay`. A
    /// message is recorded before the wait, as a court whose answer is lost
    /// (a client that timed out sends it again and gets the same receipt).
    pub fn delay_next(&self, n: usize, delay: Duration) {
        let mut inner = self.shared.lock();
        inner
            .faults
            .extend(std::iter::repeat_n(Fault::Delay(delay), n));
    }

    /// Down: the listener is closed, so connections are refused (and idle
    /// ones are closed); up: it listens again on the same port.
    pub async fn set_down(&self, down: bool) {
        if down {
            let running = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(r) = running {
                let _ = r.stop.send(());
                let _ = r.closed.await;
                // Let open connections close before the caller tries again.
                let _ = tokio::time::timeout(Duration::from_secs(2), r.task).await;
            }
            return;
        }
        if self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return;
        }
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 40 => {
                    tries += 1;
                    tracing::debug!("court peer: rebinding port {}: {e}", self.port);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("court peer: cannot listen on port {} again: {e}", self.port),
            }
        };
        let running = serve(self.shared.clone(), listener);
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(running);
    }

    /// Whether the peer is down ([`CourtPeer::set_down`]).
    pub fn is_down(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// The verified claims of each distinct message received, in arrival order.
    pub fn received(&self) -> Vec<Value> {
        self.shared.lock().received.clone()
    }

    /// `POST /messages` requests so far, duplicates, refusals and failures
    /// on demand included.
    pub fn attempts(&self) -> usize {
        self.shared.lock().attempts
    }

    /// Why each refused message was refused, in order.
    pub fn refusals(&self) -> Vec<String> {
        self.shared.lock().refusals.clone()
    }

    /// `path?query` of every `GET /orders`, in order.
    pub fn order_requests(&self) -> Vec<String> {
        self.shared.lock().order_requests.clone()
    }
}

fn serve(shared: Arc<Shared>, listener: tokio::net::TcpListener) -> Running {
    let (stop, stop_rx) = oneshot::channel::<()>();
    let (closed_tx, closed) = oneshot::channel::<()>();
    let app = Router::new()
        .route("/orders", get(orders))
        .route("/messages", post(messages))
        .with_state(shared);
    let listener = Watched {
        inner: listener,
        _closed: closed_tx,
    };
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
    });
    Running { stop, closed, task }
}

fn answer(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn refuse(shared: &Shared, status: StatusCode, reason: &str) -> Response {
    shared.lock().refusals.push(reason.to_string());
    answer(status, json!({ "error": reason }))
}

fn fault_status(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
    answer(status, json!({ "error": "as asked" }))
}

async fn orders(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let fault = {
        let mut inner = shared.lock();
        inner.order_requests.push(
            uri.path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        );
        if let Some(t) = &inner.bearer
            && bearer(&headers).as_deref() != Some(t.as_str())
        {
            return answer(
                StatusCode::UNAUTHORIZED,
                json!({"error": "a valid bearer token is required"}),
            );
        }
        inner.faults.pop_front()
    };
    match fault {
        Some(Fault::Status(s)) => return fault_status(s),
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let after = match params.get("after").map(|a| a.parse::<u64>()) {
        None => 0,
        Some(Ok(a)) => a,
        Some(Err(_)) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "after must be a seq"}),
            );
        }
    };
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let inner = shared.lock();
    let rest: Vec<&Item> = inner.items.iter().filter(|i| i.seq > after).collect();
    let page: Vec<Value> = rest
        .iter()
        .take(limit)
        .map(|i| json!({"id": i.id, "seq": i.seq, "jws": i.jws}))
        .collect();
    let next = if rest.len() > limit {
        rest.get(limit - 1)
            .map(|i| Value::String(i.seq.to_string()))
    } else {
        None
    };
    answer(
        StatusCode::OK,
        json!({"items": page, "next": next.unwrap_or(Value::Null)}),
    )
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = {
        let mut inner = shared.lock();
        inner.attempts += 1;
        inner.faults.pop_front()
    };
    let delay = match fault {
        Some(Fault::Status(s)) => return fault_status(s),
        Some(Fault::Delay(d)) => Some(d),
        None => None,
    };
    let response = receive(&shared, &headers, &body);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    response
}

/// Checks and records one message; the answer.
fn receive(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.split(';').next().map(str::trim) != Some("application/jose") {
        return refuse(
            shared,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/jose",
        );
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
    else {
        return refuse(shared, StatusCode::BAD_REQUEST, "no Idempotency-Key header");
    };
    let Ok(jws) = std::str::from_utf8(body) else {
        return refuse(shared, StatusCode::BAD_REQUEST, "the body is not text");
    };
    let jws = jws.trim();
    let header = match jsonwebtoken::decode_header(jws) {
        Ok(h) => h,
        Err(_) => {
            return refuse(
                shared,
                StatusCode::BAD_REQUEST,
                "the body is not a compact JWS",
            );
        }
    };
    if header.alg != Algorithm::ES256 {
        return refuse(
            shared,
            StatusCode::UNAUTHORIZED,
            &format!("alg {:?} is not accepted (ES256)", header.alg),
        );
    }
    if let Some(kid) = &shared.hub_kid
        && header.kid.as_ref() != Some(kid)
    {
        return refuse(
            shared,
            StatusCode::UNAUTHORIZED,
            "the JWS's kid is not the hub's key",
        );
    }
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[HUB_ISSUER]);
    validation.set_audience(&[shared.agency.as_str()]);
    validation.set_required_spec_claims(&["iss", "aud"]);
    let claims = match jsonwebtoken::decode::<Value>(jws, &shared.hub_key, &validation) {
        Ok(d) => d.claims,
        Err(e) => {
            let (status, reason) = match e.kind() {
                ErrorKind::InvalidSignature => (
                    StatusCode::UNAUTHORIZED,
                    "the signature does not verify with the hub's key".to_string(),
                ),
                ErrorKind::InvalidIssuer => {
                    (StatusCode::BAD_REQUEST, format!("iss is not {HUB_ISSUER}"))
                }
                ErrorKind::InvalidAudience => (
                    StatusCode::BAD_REQUEST,
                    format!("aud is not {}", shared.agency),
                ),
                ErrorKind::ExpiredSignature => {
                    (StatusCode::UNAUTHORIZED, "the JWS has expired".to_string())
                }
                other => (
                    StatusCode::BAD_REQUEST,
                    format!("the JWS is refused: {other:?}"),
                ),
            };
            return refuse(shared, status, &reason);
        }
    };
    if claims.get("iat").and_then(Value::as_i64).is_none() {
        return refuse(shared, StatusCode::BAD_REQUEST, "the claims have no iat");
    }
    if claims.get("jti").and_then(Value::as_str) != Some(key.as_str()) {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "jti is not the Idempotency-Key",
        );
    }
    let mut inner = shared.lock();
    if let Some(receipt) = inner.receipts.get(&key) {
        return answer(StatusCode::OK, json!({ "receipt": receipt }));
    }
    let receipt = format!("{}-receipt-{}", shared.agency, inner.receipts.len() + 1);
    inner.receipts.insert(key, receipt.clone());
    inner.received.push(claims);
    answer(StatusCode::CREATED, json!({ "receipt": receipt }))
}
