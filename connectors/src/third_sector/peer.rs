//! A reception community's server for tests (feature `test-peer`), both
//! directions of `docs/connectors-third-sector.md`:
//!
//! - it **sends** webhooks to a hub, signed with the shared secret
//!   ([`CommunityPeer::send`]), and the wrong ones a test needs: another
//!   secret, a timestamp six minutes old, a nonce already used, a body
//!   changed after signing;
//! - it **receives** the hub's messages on `POST /messages` (the envelope of
//!   `docs/outbound.md`) as a careful community would: the signature checked
//!   with [`signature::verify`] (401 when bad), each nonce once (409), each
//!   `Idempotency-Key` applied once (201 the first time, 200 after);
//! - it **fails** on demand: the next requests answer a status or wait, or
//!   the whole server is down (connections refused) until it comes back on
//!   the same port.
//!
//! Test equipment: never built into the `rete` binary, bound to loopback.
//!
//! ```no_run
//! # async fn demo() {
//! use connectors::third_sector::peer::CommunityPeer;
//! let peer = CommunityPeer::start(b"a shared secret of at least 32 bytes!".to_vec())
//!     .await
//!     .expect("peer");
//! peer.set_hub("http://127.0.0.1:8080/connectors/aurora/webhook");
//! let reply = peer.send(&serde_json::json!({"id": "evt-1", "type": "guest.present",
//!     "placement_id": "…", "occurred_at": "2026-11-28T10:00:00Z"})).await;
//! assert_eq!(reply.status.as_u16(), 202);
//! // the hub's instance: endpoint = peer.base_url()
//! # }
//! ```

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::signature::{self, NONCE_HEADER, SIGNATURE_HEADER, SignedHeaders, TIMESTAMP_HEADER};

/// The signature window the peer accepts, as the hub's default.
const WINDOW_SECONDS: u64 = 300;
/// How old [`CommunityPeer::send_with_old_timestamp`] makes a timestamp.
const OLD_BY_SECONDS: i64 = 6 * 60;
/// How long going down waits for requests in flight before cutting them.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The hub's answer to a webhook.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: reqwest::StatusCode,
    /// The JSON body (a JSON string of the text when it is not JSON).
    pub body: Value,
}

/// One `POST /messages` request the peer received, and its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub idempotency_key: Option<String>,
    pub status: u16,
}

struct Inner {
    hub: Option<String>,
    /// Distinct envelopes, in arrival order.
    received: Vec<Value>,
    keys: HashSet<String>,
    /// Nonces of the hub's messages seen.
    nonces: HashSet<String>,
    attempts: Vec<Attempt>,
    fail: VecDeque<u16>,
    delay: VecDeque<Duration>,
    /// The nonce of the last webhook sent.
    last_nonce: Option<String>,
}

struct Shared {
    secret: Vec<u8>,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock must not hide the next failure.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The listening half: stopped by its shutdown signal.
struct Server {
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// A running community server; stops when dropped.
pub struct CommunityPeer {
    shared: Arc<Shared>,
    port: u16,
    server: tokio::sync::Mutex<Option<Server>>,
    client: reqwest::Client,
}

impl Drop for CommunityPeer {
    fn drop(&mut self) {
        if let Some(server) = self.server.get_mut().take() {
            server.task.abort();
        }
    }
}

async fn serve(shared: Arc<Shared>, port: u16) -> std::io::Result<(Server, u16)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let app = Router::new()
        .route("/messages", post(messages))
        .with_state(shared);
    let (shutdown, signal) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = signal.await;
            })
            .await;
    });
    Ok((Server { shutdown, task }, addr.port()))
}

/// 128 random bits, hex: a fresh nonce.
fn fresh_nonce() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random generator");
    hex::encode(bytes)
}

impl CommunityPeer {
    /// Starts a server on 127.0.0.1 with a random port, sharing `secret`
    /// with the hub.
    pub async fn start(secret: impl Into<Vec<u8>>) -> std::io::Result<CommunityPeer> {
        let shared = Arc::new(Shared {
            secret: secret.into(),
            inner: Mutex::new(Inner {
                hub: None,
                received: Vec::new(),
                keys: HashSet::new(),
                nonces: HashSet::new(),
                attempts: Vec::new(),
                fail: VecDeque::new(),
                delay: VecDeque::new(),
                last_nonce: None,
            }),
        });
        let (server, port) = serve(shared.clone(), 0).await?;
        Ok(CommunityPeer {
            shared,
            port,
            server: tokio::sync::Mutex::new(Some(server)),
            client: reqwest::Client::new(),
        })
    }

    /// `http://127.0.0.1:PORT`: the instance's `endpoint` (messages go to
    /// `{endpoint}/messages`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where the webhooks go: the hub's `…/connectors/NAME/webhook`.
    pub fn set_hub(&self, webhook_url: impl Into<String>) {
        self.shared.lock().hub = Some(webhook_url.into());
    }

    /// Sends an event as a community must: signed with the shared secret,
    /// a fresh nonce, the time now.
    pub async fn send(&self, event: &Value) -> Reply {
        let body = event.to_string().into_bytes();
        let nonce = fresh_nonce();
        let secret = self.shared.secret.clone();
        self.send_signed(&body, &secret, Utc::now().timestamp(), &nonce)
            .await
    }

    /// Signed with another secret than the shared one.
    pub async fn send_with_wrong_secret(&self, event: &Value) -> Reply {
        let body = event.to_string().into_bytes();
        let mut wrong = self.shared.secret.clone();
        wrong.iter_mut().for_each(|b| *b ^= 0x5a);
        self.send_signed(&body, &wrong, Utc::now().timestamp(), &fresh_nonce())
            .await
    }

    /// Signed rightly, six minutes ago.
    pub async fn send_with_old_timestamp(&self, event: &Value) -> Reply {
        let body = event.to_string().into_bytes();
        let secret = self.shared.secret.clone();
        let at = Utc::now().timestamp() - OLD_BY_SECONDS;
        self.send_signed(&body, &secret, at, &fresh_nonce()).await
    }

    /// Signed rightly now, with the nonce of the last webhook sent (a fresh
    /// one when none was sent yet).
    pub async fn send_with_replayed_nonce(&self, event: &Value) -> Reply {
        let body = event.to_string().into_bytes();
        let nonce = self
            .shared
            .lock()
            .last_nonce
            .clone()
            .unwrap_or_else(fresh_nonce);
        let secret = self.shared.secret.clone();
        self.send_signed(&body, &secret, Utc::now().timestamp(), &nonce)
            .await
    }

    /// Signed rightly, then changed on the way (a field added to the body).
    pub async fn send_tampered(&self, event: &Value) -> Reply {
        let signed_body = event.to_string().into_bytes();
        let timestamp = Utc::now().timestamp();
        let nonce = fresh_nonce();
        let sig = signature::sign(&self.shared.secret, timestamp, &nonce, &signed_body);
        let mut changed = event.clone();
        if let Some(o) = changed.as_object_mut() {
            o.insert("note".to_string(), json!("changed on the way"));
        } else {
            changed = json!([changed]);
        }
        let headers = vec![
            (TIMESTAMP_HEADER.to_string(), timestamp.to_string()),
            (NONCE_HEADER.to_string(), nonce),
            (SIGNATURE_HEADER.to_string(), sig),
        ];
        self.send_raw(changed.to_string().into_bytes(), headers)
            .await
    }

    /// Signs `body` with `secret` at `timestamp` with `nonce`, and sends it.
    pub async fn send_signed(
        &self,
        body: &[u8],
        secret: &[u8],
        timestamp: i64,
        nonce: &str,
    ) -> Reply {
        let sig = signature::sign(secret, timestamp, nonce, body);
        let headers = vec![
            (TIMESTAMP_HEADER.to_string(), timestamp.to_string()),
            (NONCE_HEADER.to_string(), nonce.to_string()),
            (SIGNATURE_HEADER.to_string(), sig),
        ];
        self.send_raw(body.to_vec(), headers).await
    }

    /// Sends `body` with exactly these extra headers (none: unsigned).
    pub async fn send_raw(&self, body: Vec<u8>, headers: Vec<(String, String)>) -> Reply {
        let hub = {
            let mut inner = self.shared.lock();
            if let Some((_, nonce)) = headers.iter().find(|(k, _)| k == NONCE_HEADER) {
                inner.last_nonce = Some(nonce.clone());
            }
            inner.hub.clone()
        };
        let hub = hub.expect("CommunityPeer::set_hub before sending");
        let mut req = self
            .client
            .post(&hub)
            .header(header::CONTENT_TYPE.as_str(), "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.expect("the hub answers");
        let status = resp.status();
        let text = resp.text().await.expect("the hub's answer body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    /// The distinct envelopes received (one per `Idempotency-Key`), in
    /// arrival order.
    pub fn received(&self) -> Vec<Value> {
        self.shared.lock().received.clone()
    }

    /// Every `POST /messages` request and its answer, in order.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.shared.lock().attempts.clone()
    }

    /// The next `n` messages are answered with `status` (and not applied).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared
            .lock()
            .fail
            .extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` messages wait `duration` before they are handled.
    pub fn delay_next(&self, n: usize, duration: Duration) {
        self.shared
            .lock()
            .delay
            .extend(std::iter::repeat_n(duration, n));
    }

    /// Down: the listener is closed and open connections are shut, so a
    /// client's connection is refused. Up again: it listens on the same
    /// port, with everything it received kept.
    pub async fn set_down(&self, down: bool) -> std::io::Result<()> {
        let mut server = self.server.lock().await;
        match (down, server.take()) {
            (true, Some(s)) => {
                let _ = s.shutdown.send(());
                let abort = s.task.abort_handle();
                if tokio::time::timeout(SHUTDOWN_WAIT, s.task).await.is_err() {
                    abort.abort();
                }
            }
            (false, None) => {
                *server = Some(serve(self.shared.clone(), self.port).await?.0);
            }
            (_, s) => *server = s,
        }
        Ok(())
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    answer(status, json!({"error": {"code": code, "message": message}}))
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (delay, fail) = {
        let mut inner = shared.lock();
        (inner.delay.pop_front(), inner.fail.pop_front())
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let resp = handle(&shared, &headers, &body, key.as_deref(), fail);
    shared.lock().attempts.push(Attempt {
        idempotency_key: key,
        status: resp.status().as_u16(),
    });
    resp
}

fn handle(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    key: Option<&str>,
    fail: Option<u16>,
) -> Response {
    if let Some(status) = fail {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = error(status, "FAULT", "a fault the test asked for");
        if status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        return resp;
    }
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\0"));
    let signed = SignedHeaders {
        timestamp: text(TIMESTAMP_HEADER),
        nonce: text(NONCE_HEADER),
        signature: text(SIGNATURE_HEADER),
    };
    if let Err(e) = signature::verify(
        &shared.secret,
        &signed,
        body,
        Utc::now().timestamp(),
        WINDOW_SECONDS,
    ) {
        return error(StatusCode::UNAUTHORIZED, e.code(), &e.to_string());
    }
    let Some(key) = key else {
        return error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the message has no Idempotency-Key header",
        );
    };
    let envelope: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "the body is not a JSON envelope",
            );
        }
    };
    if envelope.get("id").and_then(Value::as_str) != Some(key) {
        return error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the envelope's id is not the Idempotency-Key",
        );
    }
    let mut inner = shared.lock();
    // `verify` accepted it, so the nonce is there.
    let nonce = signed.nonce.unwrap_or_default().trim().to_string();
    if !inner.nonces.insert(nonce) {
        return error(
            StatusCode::CONFLICT,
            "REPLAYED",
            "this X-Rete-Nonce was already used",
        );
    }
    if !inner.keys.insert(key.to_string()) {
        return answer(StatusCode::OK, json!({"id": key, "duplicate": true}));
    }
    inner.received.push(envelope);
    answer(StatusCode::CREATED, json!({"id": key, "duplicate": false}))
}
