//! The FHIR connector's transport against a real HTTP FHIR server on
//! 127.0.0.1 (`connectors::fhir::peer`): paging across resource types,
//! incremental `_lastUpdated` pulls, every fault and how it is classified,
//! static bearer tokens and SMART Backend Services.

use std::time::Duration;

use chrono::Utc;
use connectors::config::{InstanceConfig, KindConfig};
use connectors::fhir::FhirConnector;
use connectors::fhir::peer::{Fault, FhirPeer, PeerAuth, TestKey};
use connectors::{Connector, FetchError, Mapped, RawItem};
use serde_json::{Value, json};

fn connector(base: &str, extra: &str) -> FhirConnector {
    try_connector(base, extra).expect("valid connector")
}

fn try_connector(
    base: &str,
    extra: &str,
) -> Result<FhirConnector, connectors::config::ConfigError> {
    let page_size = if extra.contains("page_size") {
        ""
    } else {
        "page_size = 2\n"
    };
    let text = format!(
        "kind = \"fhir\"\nagency = \"ospedale-regina\"\nbase_url = \"{base}\"\n{page_size}timeout_ms = 1500\n{extra}"
    );
    let instance: InstanceConfig = toml::from_str(&text).expect("toml");
    let KindConfig::Fhir(cfg) = &instance.kind else {
        panic!("fhir")
    };
    FhirConnector::new("hospital", &instance, cfg)
}

fn patient(id: &str, at: &str) -> Value {
    json!({"resourceType": "Patient", "id": id,
           "meta": {"versionId": "1", "lastUpdated": at},
           "name": [{"family": "Rossi", "given": [id]}]})
}

fn encounter(id: &str, patient: &str, at: &str) -> Value {
    json!({"resourceType": "Encounter", "id": id, "status": "finished",
           "meta": {"versionId": "1", "lastUpdated": at},
           "class": {"code": "EMER"}, "subject": {"reference": format!("Patient/{patient}")},
           "period": {"start": "2026-01-10"}})
}

/// A peer holding 5 patients, 3 encounters and no condition or consent, all
/// written in January.
async fn hospital(auth: PeerAuth) -> FhirPeer {
    let peer = FhirPeer::start(auth).await.expect("peer");
    for i in 1..=5 {
        peer.put_raw(patient(
            &format!("p{i}"),
            &format!("2026-01-0{i}T10:00:00Z"),
        ));
    }
    for i in 1..=3 {
        peer.put_raw(encounter(
            &format!("e{i}"),
            &format!("p{i}"),
            &format!("2026-01-0{i}T12:00:00Z"),
        ));
    }
    peer
}

struct Run {
    items: Vec<RawItem>,
    high_water: Option<String>,
    pages: usize,
    totals: Vec<Option<u64>>,
}

/// Fetches pages the way the engine does until there is no next page.
async fn run(c: &FhirConnector, cursor: Option<&str>) -> Result<Run, FetchError> {
    let mut out = Run {
        items: Vec::new(),
        high_water: None,
        pages: 0,
        totals: Vec::new(),
    };
    let mut next: Option<String> = None;
    loop {
        let page = c.fetch(cursor, next.as_deref()).await?;
        out.pages += 1;
        out.totals.push(page.total);
        out.items.extend(page.items);
        // The engine keeps the last cursor given.
        if page.high_water.is_some() {
            out.high_water = page.high_water;
        }
        match page.next {
            Some(n) => next = Some(n),
            None => return Ok(out),
        }
    }
}

fn ids(items: &[RawItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i.resource_type,
                i.external_id.as_deref().unwrap_or("?")
            )
        })
        .collect()
}

fn transient(e: FetchError) -> (String, Option<Duration>) {
    match e {
        FetchError::Transient {
            reason,
            retry_after,
        } => (reason, retry_after),
        other => panic!("transient expected, got {other:?}"),
    }
}

fn permanent(e: FetchError) -> String {
    match e {
        FetchError::Permanent(reason) => reason,
        other => panic!("permanent expected, got {other:?}"),
    }
}

// --------------------------------------------------------------- paging ----

#[tokio::test]
async fn a_first_run_pages_through_every_type_in_order() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    let r = run(&c, None).await.expect("run");
    assert_eq!(
        ids(&r.items),
        [
            "Patient/p1",
            "Patient/p2",
            "Patient/p3",
            "Patient/p4",
            "Patient/p5",
            "Encounter/e1",
            "Encounter/e2",
            "Encounter/e3"
        ]
    );
    // Patients: 3 pages of 2; encounters 2; conditions 1; consents 1.
    assert_eq!(r.pages, 7);
    assert_eq!(
        peer.requests()[0],
        "/fhir/Patient?_sort=_lastUpdated&_count=2",
        "no _lastUpdated filter without a cursor"
    );
    assert!(
        peer.requests()[1].contains("_offset=2"),
        "the next link was followed"
    );
    assert!(
        peer.requests()
            .iter()
            .any(|r| r.starts_with("/fhir/Consent?"))
    );
    // The totals grow as types are reached.
    assert_eq!(r.totals.first().copied().flatten(), Some(5));
    assert_eq!(r.totals.last().copied().flatten(), Some(8));
    // The cursor: per type, the highest meta.lastUpdated seen, as written.
    let cursor: Value =
        serde_json::from_str(r.high_water.as_deref().expect("a cursor")).expect("json");
    assert_eq!(
        cursor,
        json!({"Patient": "2026-01-05T10:00:00Z", "Encounter": "2026-01-03T12:00:00Z"}),
        "no entry for the types that had nothing"
    );
    // Every item maps (the payload is the resource).
    for i in &r.items {
        assert!(matches!(c.map(i), Mapped::Records(_)), "{}", i.payload);
    }
}

#[tokio::test]
async fn the_next_run_pulls_only_what_changed_since_the_cursor() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    let first = run(&c, None).await.expect("first run");
    let cursor = first.high_water.expect("cursor");

    peer.put(patient("p6", "ignored"));
    peer.put(encounter("e2", "p2", "ignored"));
    let second = run(&c, Some(&cursor)).await.expect("second run");
    assert_eq!(ids(&second.items), ["Patient/p6", "Encounter/e2"]);
    let e2: Value = serde_json::from_str(&second.items[1].payload).expect("json");
    assert_eq!(e2["meta"]["versionId"], "2", "the new version of e2");
    // Each type asked from its own mark; the types that had nothing, whole.
    let asked: Vec<String> = peer.requests().into_iter().skip(first.pages).collect();
    assert_eq!(
        asked,
        [
            "/fhir/Patient?_lastUpdated=gt2026-01-05T10%3A00%3A00Z&_sort=_lastUpdated&_count=2",
            "/fhir/Encounter?_lastUpdated=gt2026-01-03T12%3A00%3A00Z&_sort=_lastUpdated&_count=2",
            "/fhir/Condition?_sort=_lastUpdated&_count=2",
            "/fhir/Consent?_sort=_lastUpdated&_count=2",
        ]
    );

    // Nothing changed since: a third run pulls nothing.
    let third = run(&c, second.high_water.as_deref())
        .await
        .expect("third run");
    assert!(third.items.is_empty(), "{:?}", ids(&third.items));
    assert_eq!(third.high_water, second.high_water);
}

#[tokio::test]
async fn a_bare_instant_as_cursor_applies_to_every_type() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    let r = run(&c, Some("2026-01-02T11:00:00Z")).await.expect("run");
    assert_eq!(
        ids(&r.items),
        [
            "Patient/p3",
            "Patient/p4",
            "Patient/p5",
            "Encounter/e2",
            "Encounter/e3"
        ]
    );
}

#[tokio::test]
async fn a_patient_written_while_encounters_are_pulled_is_not_lost() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(
        &peer.base_url(),
        "page_size = 10\nresources = [\"Patient\", \"Encounter\"]",
    );
    // The run pulls patients, then a patient is written, then encounters.
    let page = c.fetch(None, None).await.expect("patients");
    assert_eq!(page.items.len(), 5);
    // Time passes on the server between the two searches.
    peer.advance_clock(Duration::from_secs(60));
    peer.put(patient("late", "ignored"));
    peer.put(encounter("e9", "late", "ignored"));
    peer.advance_clock(Duration::from_secs(60));
    let page = c
        .fetch(None, page.next.as_deref())
        .await
        .expect("encounters");
    assert_eq!(
        ids(&page.items).last().map(String::as_str),
        Some("Encounter/e9")
    );
    let cursor = page.high_water.expect("end of run");
    // The patients' mark is their own, so the late patient comes next time.
    let next = run(&c, Some(&cursor)).await.expect("next run");
    assert!(
        ids(&next.items).contains(&"Patient/late".to_string()),
        "{:?}",
        ids(&next.items)
    );
}

#[tokio::test]
async fn a_stored_cursor_that_is_not_an_instant_is_permanent() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    let why = permanent(
        c.fetch(Some("yesterday"), None)
            .await
            .expect_err("bad cursor"),
    );
    assert!(why.contains("not an instant"));
    let why = permanent(
        c.fetch(None, Some("{\"type\":\"Observation\"}"))
            .await
            .expect_err("bad token"),
    );
    assert!(why.contains("next token"));
}

// --------------------------------------------------------------- faults ----

#[tokio::test]
async fn too_many_requests_is_transient_with_the_servers_retry_after_in_seconds() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    peer.fail_next(Fault::TooManyRequests {
        retry_after: "7".into(),
    });
    let (reason, wait) = transient(c.fetch(None, None).await.expect_err("429"));
    assert!(reason.contains("429"), "{reason}");
    assert_eq!(wait, Some(Duration::from_secs(7)));
    // Retried, it succeeds.
    assert_eq!(c.fetch(None, None).await.expect("retry").items.len(), 2);
}

#[tokio::test]
async fn too_many_requests_with_an_http_date_waits_until_that_date() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    let at = (Utc::now() + chrono::TimeDelta::seconds(90))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    peer.fail_next(Fault::TooManyRequests { retry_after: at });
    let (_, wait) = transient(c.fetch(None, None).await.expect_err("429"));
    let wait = wait.expect("retry-after");
    assert!(
        wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
        "{wait:?}"
    );
}

#[tokio::test]
async fn server_errors_timeouts_and_bad_json_are_transient() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    for (fault, expected) in [
        (Fault::ServerError, "500"),
        (Fault::Status(503), "503"),
        (Fault::Slow(Duration::from_secs(4)), "timed out"),
        (Fault::Truncated, "invalid or truncated JSON"),
        (Fault::InvalidJson, "invalid or truncated JSON"),
    ] {
        peer.fail_next(fault.clone());
        let (reason, wait) = transient(c.fetch(None, None).await.expect_err("fault"));
        assert!(reason.contains(expected), "{fault:?}: {reason}");
        assert_eq!(wait, None);
        assert_eq!(
            c.fetch(None, None)
                .await
                .expect("then it works")
                .items
                .len(),
            2,
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn a_fault_on_a_later_page_leaves_the_run_resumable_from_that_page() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    let first = c.fetch(None, None).await.expect("page 1");
    peer.fail_next(Fault::ServerError);
    transient(
        c.fetch(None, first.next.as_deref())
            .await
            .expect_err("page 2 fails"),
    );
    let second = c
        .fetch(None, first.next.as_deref())
        .await
        .expect("page 2 again");
    assert_eq!(ids(&second.items), ["Patient/p3", "Patient/p4"]);
}

#[tokio::test]
async fn client_errors_and_a_non_bundle_are_permanent() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    for (fault, expected) in [
        (Fault::Status(404), "404"),
        (Fault::Status(400), "400"),
        (Fault::Status(410), "410"),
        (Fault::NotABundle, "resourceType is OperationOutcome"),
    ] {
        peer.fail_next(fault.clone());
        let why = permanent(c.fetch(None, None).await.expect_err("fault"));
        assert!(why.contains(expected), "{fault:?}: {why}");
    }
}

#[tokio::test]
async fn a_next_link_to_another_host_is_never_followed() {
    let peer = hospital(PeerAuth::Open).await;
    let c = connector(&peer.base_url(), "");
    peer.fail_next(Fault::ForeignNextLink);
    let why = permanent(c.fetch(None, None).await.expect_err("foreign link"));
    assert!(why.contains("another origin (http://127.0.0.2:"), "{why}");
    // A forged token pointing elsewhere is refused as well, before any request.
    let before = peer.requests().len();
    let forged =
        json!({"type": "Patient", "url": "http://127.0.0.2:9/fhir/Patient?_offset=2"}).to_string();
    permanent(c.fetch(None, Some(&forged)).await.expect_err("forged"));
    assert_eq!(peer.requests().len(), before);
}

#[tokio::test]
async fn a_server_that_is_down_is_transient() {
    let peer = FhirPeer::start(PeerAuth::Open).await.expect("peer");
    let base = peer.base_url();
    drop(peer);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let c = connector(&base, "");
    let (reason, _) = transient(c.fetch(None, None).await.expect_err("down"));
    assert!(
        reason.contains("cannot connect") || reason.contains("failed"),
        "{reason}"
    );
}

// -------------------------------------------------------- bearer tokens ----

#[tokio::test]
async fn a_static_bearer_token_is_sent_and_reread_after_a_401() {
    let peer = hospital(PeerAuth::Bearer("s3cret-1".into())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cret-1\n").expect("write");
    let c = connector(
        &peer.base_url(),
        &format!(
            "[auth]\ntype = \"bearer\"\ntoken = {{ file = \"{}\" }}\n",
            file.display()
        ),
    );
    assert_eq!(
        c.fetch(None, None).await.expect("authorized").items.len(),
        2
    );

    // The server rotates its token and so does the file: one 401, then it works.
    peer.set_auth(PeerAuth::Bearer("s3cret-2".into()));
    std::fs::write(&file, "s3cret-2").expect("write");
    assert_eq!(c.fetch(None, None).await.expect("reread").items.len(), 2);

    // A token that stays wrong is permanent after one retry.
    peer.set_auth(PeerAuth::Bearer("s3cret-3".into()));
    let why = permanent(c.fetch(None, None).await.expect_err("refused"));
    assert!(why.contains("401") && why.contains("fresh token"), "{why}");
}

#[tokio::test]
async fn without_credentials_a_401_is_permanent_at_once() {
    let peer = hospital(PeerAuth::Bearer("x".into())).await;
    let c = connector(&peer.base_url(), "");
    let why = permanent(c.fetch(None, None).await.expect_err("refused"));
    assert!(why.contains("401"), "{why}");
    assert_eq!(
        peer.requests().len(),
        1,
        "no retry without a token to renew"
    );
}

// ---------------------------------------------------------------- SMART ----

fn smart_config(peer: &FhirPeer, key_file: &std::path::Path, kid: &str, alg: &str) -> String {
    format!(
        "[auth]\ntype = \"smart-backend\"\ntoken_url = \"{}\"\nclient_id = \"rete-hub\"\nprivate_key = {{ file = \"{}\" }}\nkey_id = \"{kid}\"\nalg = \"{alg}\"\n",
        peer.token_url(),
        key_file.display()
    )
}

async fn smart_peer(key: &TestKey) -> FhirPeer {
    hospital(PeerAuth::Smart {
        client_id: "rete-hub".into(),
        jwks: key.jwks.clone(),
    })
    .await
}

#[tokio::test]
async fn smart_backend_services_with_rs384_gets_a_token_and_caches_it() {
    let key = TestKey::rs384("k1");
    let peer = smart_peer(&key).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("key.pem");
    std::fs::write(&file, &key.pem).expect("write");
    let c = connector(&peer.base_url(), &smart_config(&peer, &file, "k1", "RS384"));

    let r = run(&c, None).await.expect("run with a token");
    assert_eq!(r.items.len(), 8);
    assert_eq!(peer.token_requests(), 1, "one token for the whole run");
    assert!(peer.refused_assertions().is_empty());

    // The server forgets its tokens: one 401, a new assertion, a new token.
    peer.revoke_tokens();
    assert_eq!(c.fetch(None, None).await.expect("renewed").items.len(), 2);
    assert_eq!(peer.token_requests(), 2);
}

#[tokio::test]
async fn smart_backend_services_with_es384_works_and_renews_before_expiry() {
    let key = TestKey::es384("ec-1");
    let peer = smart_peer(&key).await;
    peer.set_token_lifetime(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("key.pem");
    std::fs::write(&file, &key.pem).expect("write");
    let c = connector(
        &peer.base_url(),
        &smart_config(&peer, &file, "ec-1", "ES384"),
    );
    c.fetch(None, None).await.expect("first");
    c.fetch(None, None).await.expect("cached");
    assert_eq!(peer.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    c.fetch(None, None).await.expect("renewed before expiry");
    assert_eq!(
        peer.token_requests(),
        2,
        "renewed shortly before expires_in"
    );
}

#[tokio::test]
async fn an_assertion_signed_with_an_unregistered_key_is_refused_and_permanent() {
    let registered = TestKey::rs384("k1");
    let impostor = TestKey::rs384("k1");
    let peer = smart_peer(&registered).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("key.pem");
    std::fs::write(&file, &impostor.pem).expect("write");
    let c = connector(&peer.base_url(), &smart_config(&peer, &file, "k1", "RS384"));
    let why = permanent(c.fetch(None, None).await.expect_err("refused"));
    assert!(
        why.contains("token endpoint refused the client") && why.contains("invalid_client"),
        "{why}"
    );
    assert!(
        peer.refused_assertions()[0].contains("InvalidSignature"),
        "{:?}",
        peer.refused_assertions()
    );
    assert!(
        peer.requests().is_empty(),
        "no FHIR request without a token"
    );
}

/// The peer's checks are real: a hand-made assertion with a wrong audience,
/// issuer, a far expiry or a replayed jti is refused.
#[tokio::test]
async fn the_peer_checks_audience_issuer_expiry_and_replay() {
    use jsonwebtoken::{EncodingKey, Header};
    let key = TestKey::rs384("k1");
    let peer = smart_peer(&key).await;
    let enc = EncodingKey::from_rsa_pem(key.pem.as_bytes()).expect("key");
    let http = reqwest::Client::new();
    let now = Utc::now().timestamp();
    let ask = |claims: Value| {
        let mut h = Header::new(jsonwebtoken::Algorithm::RS384);
        h.kid = Some("k1".into());
        let jwt = jsonwebtoken::encode(&h, &claims, &enc).expect("sign");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &jwt)
            .finish();
        let req = http
            .post(peer.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        async move { req.send().await.expect("send").status().as_u16() }
    };
    let good = json!({"iss": "rete-hub", "sub": "rete-hub", "aud": peer.token_url(), "exp": now + 200, "jti": "a"});
    assert_eq!(ask(good.clone()).await, 200);
    assert_eq!(ask(good).await, 401, "jti replayed");
    let mut bad = json!({"iss": "rete-hub", "sub": "rete-hub", "aud": "https://elsewhere/token", "exp": now + 200, "jti": "b"});
    assert_eq!(ask(bad.clone()).await, 401, "audience");
    bad["aud"] = json!(peer.token_url());
    bad["iss"] = json!("someone");
    bad["jti"] = json!("c");
    assert_eq!(ask(bad.clone()).await, 401, "issuer");
    bad["iss"] = json!("rete-hub");
    bad["exp"] = json!(now + 3600);
    bad["jti"] = json!("d");
    assert_eq!(ask(bad.clone()).await, 401, "expiry too far");
    bad["exp"] = json!(now - 60);
    bad["jti"] = json!("e");
    assert_eq!(ask(bad).await, 401, "expired");
    assert_eq!(peer.refused_assertions().len(), 5);
}

// --------------------------------------------------------------- config ----

#[tokio::test]
async fn signals_must_name_real_reasons_urgencies_and_roles() {
    let extra = "refer_to = \"polo-nord\"\n[[signals]]\nsystem = \"http://snomed.info/sct\"\ncode = \"95930005\"\nreason = \"DOMESTIC_VIOLENCE\"\nurgency = \"SOON\"\n";
    let err = try_connector("http://127.0.0.1:1/fhir", extra)
        .err()
        .expect("bad urgency");
    assert_eq!(err.key, "connectors.hospital.signals[0].urgency");
    let extra = extra
        .replace("SOON", "IMMEDIATE")
        .replace("DOMESTIC_VIOLENCE", "VIOLENCE");
    let err = try_connector("http://127.0.0.1:1/fhir", &extra)
        .err()
        .expect("bad reason");
    assert_eq!(err.key, "connectors.hospital.signals[0].reason");
    let ok = extra.replace(
        "VIOLENCE\"",
        "DOMESTIC_VIOLENCE\"\nsubject_role = \"MOTHER\"",
    );
    assert!(try_connector("http://127.0.0.1:1/fhir", &ok).is_ok());
}

#[tokio::test]
async fn a_missing_or_wrong_private_key_is_named_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("absent.pem");
    let auth = format!(
        "[auth]\ntype = \"smart-backend\"\ntoken_url = \"http://127.0.0.1:1/token\"\nclient_id = \"c\"\nprivate_key = {{ file = \"{}\" }}\nkey_id = \"k\"\nalg = \"ES384\"\n",
        file.display()
    );
    let err = try_connector("http://127.0.0.1:1/fhir", &auth)
        .err()
        .expect("missing key");
    assert_eq!(err.key, "connectors.hospital.auth.private_key");
    assert!(err.message.contains("absent.pem"));
    // An RSA key where ES384 is configured.
    std::fs::write(&file, TestKey::rs384("k").pem).expect("write");
    let err = try_connector("http://127.0.0.1:1/fhir", &auth)
        .err()
        .expect("wrong kind of key");
    assert_eq!(err.key, "connectors.hospital.auth.private_key");
    assert!(!err.message.contains("BEGIN"), "never the key itself");
}

#[tokio::test]
async fn the_upstream_is_the_normalised_base_url() {
    let c = connector("http://LocalHost:80/fhir/", "");
    assert_eq!(c.upstream(), "http://localhost/fhir");
    assert_eq!(c.kind(), "fhir");
}

#[tokio::test]
async fn a_resource_type_named_twice_is_refused() {
    let err = try_connector(
        "http://127.0.0.1:1/fhir",
        "resources = [\"Patient\", \"Encounter\", \"Patient\"]",
    )
    .err()
    .expect("twice");
    assert_eq!(err.key, "connectors.hospital.resources[2]");
}
