//! Authentication end to end: a real hub on 127.0.0.1, real HTTP requests, tokens
//! signed with keys generated here (never committed). Every refusal is a 401 (or a
//! 503 when the issuer's keys cannot be fetched) with `extensions.code`
//! `UNAUTHENTICATED` and a message that names the problem.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rete_api::auth::keys::SigningKey;
use rete_api::config::{IssuerConfig, PemKeyConfig};
use rete_tests::{AUDIENCE, HubBuilder, StatusCode, TEST_ISSUER, TestHub};
use serde_json::{Value, json};

const ME: &str = "{ me { operator role purpose tokenId agency { id } } }";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A SQLite hub with one agency, `polo-nord`, so that a token that gets past the
/// verifier is accepted: a refusal below is the verifier's, not "unknown agency".
async fn start(builder: HubBuilder) -> TestHub {
    let hub = builder.start().await.expect("sqlite hub");
    hub.sql(
        "INSERT INTO agency (id, name, kind, city, created_at) \
         VALUES ('polo-nord', 'Polo Sociale Territoriale Nord', 'SOCIAL_SERVICE', 'Milano', CURRENT_TIMESTAMP)",
    )
    .await;
    hub
}

async fn hub() -> TestHub {
    start(TestHub::builder()).await
}

/// What the hub answered: status, headers, JSON body.
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.body
            .pointer("/errors/0/extensions/code")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn message(&self) -> &str {
        self.body
            .pointer("/errors/0/message")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Assert a refusal: this status, code UNAUTHENTICATED, a message naming `what`.
    fn assert_refused(&self, status: StatusCode, what: &str) {
        assert_eq!(self.status, status, "body: {:#}", self.body);
        assert_eq!(self.code(), "UNAUTHENTICATED", "body: {:#}", self.body);
        assert!(
            self.message().contains(what),
            "the message should name the problem ({what:?}), got {:?}",
            self.message()
        );
        assert!(
            self.body.get("data").is_none_or(Value::is_null),
            "a refused request carries no data: {:#}",
            self.body
        );
        if status == StatusCode::UNAUTHORIZED {
            let challenge = self
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert!(
                challenge.starts_with("Bearer"),
                "401 without a Bearer challenge"
            );
        }
    }

    fn assert_unauthorized(&self, what: &str) {
        self.assert_refused(StatusCode::UNAUTHORIZED, what);
    }

    /// Assert success and return `data`.
    fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {:#}", self.body);
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {:#}",
            self.body
        );
        &self.body["data"]
    }
}

/// POST `{ me ... }` with this raw `Authorization` header value (or none).
async fn ask(hub: &TestHub, authorization: Option<&str>) -> Reply {
    let mut req = hub
        .client
        .post(hub.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .body(json!({ "query": ME }).to_string());
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

async fn ask_with(hub: &TestHub, token: &str) -> Reply {
    ask(hub, Some(&format!("Bearer {token}"))).await
}

/// The normal claim set of a test token for `polo-nord`, as JSON to alter.
fn claims(issuer: &str) -> Value {
    let c = SigningKey::claims(
        issuer,
        AUDIENCE,
        "polo-nord-operator",
        "polo-nord",
        "CASE_MANAGER",
        "CASE_MANAGEMENT",
        600,
    );
    serde_json::to_value(c).expect("claims as JSON")
}

/// Sign `claims` with `key` under a header naming its alg and kid.
fn sign(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
}

/// Sign a test-issuer claim set altered by `f` with the hub's own key.
fn hub_token(hub: &TestHub, f: impl FnOnce(&mut Value)) -> String {
    let mut c = claims(TEST_ISSUER);
    f(&mut c);
    sign(&hub.key, &c)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn b64url(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// The public half of an RS256 key as a PEM SPKI (`BEGIN PUBLIC KEY`).
fn rsa_public_pem(key: &SigningKey) -> String {
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&key.pkcs8).expect("RSA PKCS#8");
    let der = pair.public_key().as_der().expect("SPKI DER");
    let b64 = STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write key file");
}

/// A tiny JWKS endpoint: serves whatever set it holds, counts its hits, and can be
/// told to fail with 503.
struct JwksServer {
    url: String,
    set: Arc<Mutex<JwkSet>>,
    hits: Arc<AtomicUsize>,
    down: Arc<Mutex<bool>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct JwksState {
    set: Arc<Mutex<JwkSet>>,
    hits: Arc<AtomicUsize>,
    down: Arc<Mutex<bool>>,
}

async fn jwks_handler(State(s): State<JwksState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    s.hits.fetch_add(1, Ordering::SeqCst);
    if *s.down.lock().expect("lock") {
        return (AxumStatus::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let set = s.set.lock().expect("lock").clone();
    axum::Json(set).into_response()
}

impl JwksServer {
    async fn start(set: JwkSet) -> JwksServer {
        let state = JwksState {
            set: Arc::new(Mutex::new(set)),
            hits: Arc::new(AtomicUsize::new(0)),
            down: Arc::new(Mutex::new(false)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .route("/jwks", get(jwks_handler))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        JwksServer {
            url: format!("http://{addr}/jwks"),
            set: state.set,
            hits: state.hits,
            down: state.down,
            task,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn serve(&self, set: JwkSet) {
        *self.set.lock().expect("lock") = set;
    }

    fn set_down(&self, down: bool) {
        *self.down.lock().expect("lock") = down;
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn jwk_set(keys: &[&SigningKey]) -> JwkSet {
    JwkSet {
        keys: keys
            .iter()
            .map(|k| k.public_jwk().expect("public JWK"))
            .collect(),
    }
}

fn jwks_issuer(issuer: &str, url: &str) -> IssuerConfig {
    IssuerConfig {
        issuer: issuer.to_string(),
        jwks_url: Some(url.to_string()),
        keys: Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// Without a usable token
// ---------------------------------------------------------------------------

#[tokio::test]
async fn health_answers_without_a_token() {
    let hub = hub().await;
    let resp = hub
        .client
        .get(hub.url("/health"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn a_request_without_an_authorization_header_is_refused() {
    let hub = hub().await;
    ask(&hub, None)
        .await
        .assert_unauthorized("missing `Authorization: Bearer <token>` header");
}

#[tokio::test]
async fn an_authorization_header_that_is_not_bearer_is_refused() {
    let hub = hub().await;
    let token = hub.polo_nord();
    ask(&hub, Some("Basic dXNlcjpwYXNz"))
        .await
        .assert_unauthorized("must be `Bearer <token>`");
    // A valid token under another scheme is no better.
    ask(&hub, Some(&format!("Token {token}")))
        .await
        .assert_unauthorized("must be `Bearer <token>`");
}

#[tokio::test]
async fn a_garbage_token_is_refused_as_malformed() {
    let hub = hub().await;
    ask_with(&hub, "not-a-jwt")
        .await
        .assert_unauthorized("malformed token");
    ask_with(&hub, "a.b.c")
        .await
        .assert_unauthorized("malformed token");
}

// ---------------------------------------------------------------------------
// Signature and algorithm
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_token_signed_by_another_key_with_the_same_kid_is_refused_for_its_signature() {
    let hub = hub().await;
    let impostor = SigningKey::generate_es256(&hub.key.kid).expect("key");
    let token = sign(&impostor, &claims(TEST_ISSUER));
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("bad signature");
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let hub = hub().await;
    let header = json!({"alg": "none", "typ": "JWT"});
    let token = format!("{}.{}.", b64url(&header), b64url(&claims(TEST_ISSUER)));
    let reply = ask_with(&hub, &token).await;
    reply.assert_unauthorized("algorithm `none` is not accepted");
    assert!(
        !reply.message().contains("HS256"),
        "the refusal must not suggest HMAC algorithms: {:?}",
        reply.message()
    );
    // Same with a kid naming a trusted key and a made-up signature.
    let header = json!({"alg": "none", "typ": "JWT", "kid": hub.key.kid});
    let token = format!("{}.{}.AAAA", b64url(&header), b64url(&claims(TEST_ISSUER)));
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("algorithm `none` is not accepted");
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rsa = SigningKey::generate_rs256("pem-rsa").expect("key");
    let pem = rsa_public_pem(&rsa);
    let file = dir.path().join("pem-rsa.pub.pem");
    write(&file, &pem);
    let issuer = "https://pem.idp.test";
    let hub = start(TestHub::builder().auth(|a| {
        a.issuers.push(IssuerConfig {
            issuer: issuer.into(),
            jwks_url: None,
            keys: vec![PemKeyConfig {
                kid: "pem-rsa".into(),
                alg: "RS256".into(),
                file: file.clone(),
            }],
        });
    }))
    .await;

    // The classic confusion: the public PEM text as the HMAC secret.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("pem-rsa".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims(issuer),
        &EncodingKey::from_secret(pem.as_bytes()),
    )
    .expect("sign");
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("algorithm HS256 is not accepted");

    // And the test issuer's public JWK text as the secret.
    let jwk = serde_json::to_string(&hub.key.public_jwk().expect("jwk")).expect("jwk text");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(hub.key.kid.clone());
    let token = jsonwebtoken::encode(
        &header,
        &claims(TEST_ISSUER),
        &EncodingKey::from_secret(jwk.as_bytes()),
    )
    .expect("sign");
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("algorithm HS256 is not accepted");
}

#[tokio::test]
async fn a_token_whose_kid_the_issuer_does_not_have_is_refused() {
    let hub = hub().await;
    let other = SigningKey::generate_es256("rotated-away").expect("key");
    let token = sign(&other, &claims(TEST_ISSUER));
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("token key id `rotated-away` is not among the issuer's keys");
}

// ---------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_expired_token_is_refused() {
    let hub = hub().await;
    let token = hub_token(&hub, |c| {
        c["iat"] = json!(now() - 3600);
        c["nbf"] = json!(now() - 3600);
        c["exp"] = json!(now() - 120);
    });
    ask_with(&hub, &token).await.assert_unauthorized("expired");
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_is_still_accepted() {
    let hub = hub().await;
    let token = hub_token(&hub, |c| {
        c["iat"] = json!(now() - 600);
        c["nbf"] = json!(now() - 600);
        c["exp"] = json!(now() - 5);
    });
    ask_with(&hub, &token).await.assert_ok();
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let hub = hub().await;
    let token = hub_token(&hub, |c| {
        c["nbf"] = json!(now() + 300);
        c["exp"] = json!(now() + 900);
    });
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("not yet valid");
}

#[tokio::test]
async fn a_token_without_nbf_is_accepted_as_an_oidc_access_token_comes() {
    // RFC 9068's JWT access tokens (an OpenID provider's, for the console) carry
    // no `nbf` and are typed `at+jwt`; `nbf` is checked only when present.
    let hub = hub().await;
    let mut c = claims(TEST_ISSUER);
    c.as_object_mut().expect("object").remove("nbf");
    c["client_id"] = json!("rete-console");
    c["scope"] = json!("openid");
    let mut header = Header::new(hub.key.alg);
    header.kid = Some(hub.key.kid.clone());
    header.typ = Some("at+jwt".into());
    let token = jsonwebtoken::encode(&header, &c, &hub.key.encoding).expect("sign");
    ask_with(&hub, &token).await.assert_ok();
}

#[tokio::test]
async fn a_token_without_iat_is_refused() {
    let hub = hub().await;
    let token = hub_token(&hub, |c| {
        c.as_object_mut().expect("object").remove("iat");
    });
    ask_with(&hub, &token).await.assert_unauthorized("iat");
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let hub = hub().await;
    let token = hub_token(&hub, |c| c["aud"] = json!("some-other-service"));
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("wrong audience");
}

#[tokio::test]
async fn a_token_from_an_untrusted_issuer_is_refused() {
    let hub = hub().await;
    // Signed with a trusted key: the issuer alone is wrong.
    let token = hub_token(&hub, |c| c["iss"] = json!("https://evil.example"));
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("issuer `https://evil.example` is not trusted");
}

#[tokio::test]
async fn a_token_without_a_jti_is_refused() {
    let hub = hub().await;
    let token = hub_token(&hub, |c| {
        c.as_object_mut().expect("object").remove("jti");
    });
    ask_with(&hub, &token).await.assert_unauthorized("`jti`");
    let token = hub_token(&hub, |c| c["jti"] = json!("  "));
    ask_with(&hub, &token).await.assert_unauthorized("`jti`");
}

#[tokio::test]
async fn a_token_for_an_unknown_agency_is_refused() {
    let hub = hub().await;
    let token = hub.token("nowhere", "CASE_MANAGER", "CASE_MANAGEMENT");
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("unknown agency `nowhere`");
}

#[tokio::test]
async fn a_token_with_an_unknown_role_is_refused() {
    let hub = hub().await;
    let token = hub.token("polo-nord", "SUPERUSER", "CASE_MANAGEMENT");
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("unknown role `SUPERUSER`");
}

#[tokio::test]
async fn a_token_with_an_unknown_purpose_is_refused() {
    let hub = hub().await;
    let token = hub.token("polo-nord", "CASE_MANAGER", "CURIOSITY");
    ask_with(&hub, &token)
        .await
        .assert_unauthorized("unknown purpose `CURIOSITY`");
}

// ---------------------------------------------------------------------------
// Accepted tokens
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_valid_es256_token_is_accepted_and_me_returns_its_claims() {
    let hub = hub().await;
    let c = SigningKey::claims(
        TEST_ISSUER,
        AUDIENCE,
        "anna.rossi",
        "polo-nord",
        "SOCIAL_WORKER",
        "PLACEMENT",
        600,
    );
    let token = hub.key.sign(&c).expect("sign");
    let reply = ask_with(&hub, &token).await;
    let data = reply.assert_ok();
    assert_eq!(data["me"]["operator"], "anna.rossi");
    assert_eq!(data["me"]["role"], "SOCIAL_WORKER");
    assert_eq!(data["me"]["purpose"], "PLACEMENT");
    assert_eq!(data["me"]["agency"]["id"], "polo-nord");
    assert_eq!(data["me"]["tokenId"], c.jti.as_str());
}

#[tokio::test]
async fn a_valid_rs256_token_is_accepted_from_an_issuer_with_a_pem_key_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rsa = SigningKey::generate_rs256("pem-rsa").expect("key");
    let file = dir.path().join("pem-rsa.pub.pem");
    write(&file, &rsa_public_pem(&rsa));
    let issuer = "https://pem.idp.test";
    let hub = start(TestHub::builder().auth(|a| {
        a.issuers.push(IssuerConfig {
            issuer: issuer.into(),
            jwks_url: None,
            keys: vec![PemKeyConfig {
                kid: "pem-rsa".into(),
                alg: "RS256".into(),
                file: file.clone(),
            }],
        });
    }))
    .await;
    let c = SigningKey::claims(
        issuer,
        AUDIENCE,
        "rsa-operator",
        "polo-nord",
        "PSYCHOLOGIST",
        "HEALTHCARE",
        600,
    );
    let token = rsa.sign(&c).expect("sign");
    let reply = ask_with(&hub, &token).await;
    let data = reply.assert_ok();
    assert_eq!(data["me"]["operator"], "rsa-operator");
    assert_eq!(data["me"]["role"], "PSYCHOLOGIST");
    assert_eq!(data["me"]["purpose"], "HEALTHCARE");
    assert_eq!(data["me"]["agency"]["id"], "polo-nord");

    // The PEM issuer's key does not vouch for the test issuer, nor the reverse.
    let crossed = sign(&rsa, &claims(TEST_ISSUER));
    ask_with(&hub, &crossed)
        .await
        .assert_unauthorized("token key id `pem-rsa` is not among the issuer's keys");
}

// ---------------------------------------------------------------------------
// JWKS
// ---------------------------------------------------------------------------

#[tokio::test]
async fn jwks_keys_are_fetched_once_cached_and_refreshed_for_a_new_kid() {
    let first = SigningKey::generate_es256("jwks-1").expect("key");
    let jwks = JwksServer::start(jwk_set(&[&first])).await;
    let issuer = "https://jwks.idp.test";
    let url = jwks.url.clone();
    let hub = start(TestHub::builder().auth(|a| a.issuers.push(jwks_issuer(issuer, &url)))).await;
    assert_eq!(
        jwks.hits(),
        0,
        "keys are fetched on first use, not at start"
    );

    ask_with(&hub, &sign(&first, &claims(issuer)))
        .await
        .assert_ok();
    let fetched = Instant::now();
    assert_eq!(jwks.hits(), 1, "the first token fetches the set");

    ask_with(&hub, &sign(&first, &claims(issuer)))
        .await
        .assert_ok();
    assert_eq!(jwks.hits(), 1, "the second token uses the cached set");

    // The issuer rotates: it publishes a new (RS256) key next to the old one.
    let second = SigningKey::generate_rs256("jwks-2").expect("key");
    jwks.serve(jwk_set(&[&first, &second]));

    // Within the refresh interval (10 s) an unknown kid does not call the issuer:
    // a flood of made-up kids cannot turn the hub into a traffic generator.
    let made_up = SigningKey::generate_es256("made-up").expect("key");
    ask_with(&hub, &sign(&made_up, &claims(issuer)))
        .await
        .assert_unauthorized("token key id `made-up` is not among the issuer's keys");
    assert_eq!(jwks.hits(), 1, "no refetch within the refresh interval");

    let wait = Duration::from_millis(10_500).saturating_sub(fetched.elapsed());
    tokio::time::sleep(wait).await;

    let reply = ask_with(&hub, &sign(&second, &claims(issuer))).await;
    reply.assert_ok();
    assert_eq!(jwks.hits(), 2, "the new kid triggers exactly one refresh");

    ask_with(&hub, &sign(&second, &claims(issuer)))
        .await
        .assert_ok();
    ask_with(&hub, &sign(&first, &claims(issuer)))
        .await
        .assert_ok();
    assert_eq!(jwks.hits(), 2, "both keys are now cached");
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_clear_503_and_other_issuers_keep_working() {
    let url = "http://127.0.0.1:9/jwks";
    let issuer = "https://down.idp.test";
    let hub = start(TestHub::builder().auth(|a| a.issuers.push(jwks_issuer(issuer, url)))).await;
    let key = SigningKey::generate_es256("down-1").expect("key");

    let reply = ask_with(&hub, &sign(&key, &claims(issuer))).await;
    reply.assert_refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "cannot fetch the issuer's signing keys",
    );
    assert!(
        reply.message().contains(url),
        "the message names the URL: {:?}",
        reply.message()
    );

    // The hub is still up and serves the tokens of other issuers.
    ask_with(&hub, &hub.polo_nord()).await.assert_ok();
    // And keeps answering the unreachable issuer's tokens the same way.
    ask_with(&hub, &sign(&key, &claims(issuer)))
        .await
        .assert_refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "cannot fetch the issuer's signing keys",
        );
    ask_with(&hub, &hub.polo_nord()).await.assert_ok();
    let health = hub
        .client
        .get(hub.url("/health"))
        .send()
        .await
        .expect("send");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_failing_jwks_endpoint_is_not_called_again_for_every_token() {
    let key = SigningKey::generate_es256("jwks-1").expect("key");
    let jwks = JwksServer::start(jwk_set(&[&key])).await;
    jwks.set_down(true);
    let issuer = "https://flaky.idp.test";
    let url = jwks.url.clone();
    let hub = start(TestHub::builder().auth(|a| a.issuers.push(jwks_issuer(issuer, &url)))).await;

    for _ in 0..5 {
        ask_with(&hub, &sign(&key, &claims(issuer)))
            .await
            .assert_refused(StatusCode::SERVICE_UNAVAILABLE, "HTTP 503");
    }
    assert_eq!(
        jwks.hits(),
        1,
        "a failed fetch is not retried for every token"
    );

    // Made-up kids while the issuer is down do not call it either.
    for n in 0..5 {
        let made_up = SigningKey::generate_es256(&format!("made-up-{n}")).expect("key");
        ask_with(&hub, &sign(&made_up, &claims(issuer)))
            .await
            .assert_refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot fetch the issuer's signing keys",
            );
    }
    assert_eq!(jwks.hits(), 1);

    // Once the issuer is back, the next attempt after the interval succeeds.
    jwks.set_down(false);
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    ask_with(&hub, &sign(&key, &claims(issuer)))
        .await
        .assert_ok();
    assert_eq!(jwks.hits(), 2);
}
