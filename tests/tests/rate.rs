//! Rate limits over real HTTP: an operator's bucket, the agency's bucket its
//! operators share, and the failed-authentication bucket of a peer address.
//! A refused request is a 429 with `Retry-After` and `RATE_LIMITED`, and runs
//! nothing: no data, no access-log entry. The buckets are small and refill at
//! one request a minute, so no assertion depends on timing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use rete_tests::{StatusCode, TestHub, hub_test};
use serde_json::{Value, json};

const NAMES: &str =
    "{ cases(first: 1) { edges { node { id subjects { person { familyName } } } } } }";

/// Status, `Retry-After` and body of one POST.
async fn post(hub: &TestHub, token: &str, body: Value) -> (StatusCode, Option<u64>, Value) {
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.parse::<u64>().expect("Retry-After in whole seconds"));
    (status, retry, resp.json().await.expect("json body"))
}

async fn names(hub: &TestHub, token: &str) -> (StatusCode, Option<u64>, Value) {
    post(hub, token, json!({ "query": NAMES })).await
}

fn assert_rate_limited(answer: &(StatusCode, Option<u64>, Value), who: &str) {
    let (status, retry, body) = answer;
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body:#}");
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After: {retry:?}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(who)),
        "{body:#}"
    );
    assert!(body.get("data").is_none(), "no data: {body:#}");
}

fn assert_served(answer: &(StatusCode, Option<u64>, Value)) {
    let (status, retry, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body:#}");
    assert_eq!(*retry, None);
    assert!(body["data"]["cases"]["edges"].is_array(), "{body:#}");
}

async fn entries(hub: &TestHub) -> i64 {
    hub.count("SELECT COUNT(*) FROM access_log_entry").await
}

fn small_buckets() -> rete_tests::HubBuilder {
    TestHub::builder().demo().limits(|l| {
        l.rate.operator_per_minute = 1;
        l.rate.operator_burst = 3;
        l.rate.agency_per_minute = 1;
        l.rate.agency_burst = 5;
    })
}

hub_test!(
    an_operator_past_their_bucket_gets_429_while_a_colleague_passes_until_the_agency_is_spent,
    small_buckets()
);
async fn an_operator_past_their_bucket_gets_429_while_a_colleague_passes_until_the_agency_is_spent(
    hub: TestHub,
) {
    let anna = hub.token_as("anna", "polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT");
    let bruno = hub.token_as("bruno", "polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT");
    let sud = hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT");

    for _ in 0..3 {
        assert_served(&names(&hub, &anna).await);
    }
    let logged = entries(&hub).await;
    assert!(logged >= 3, "every served read is logged: {logged}");

    // Anna's bucket is spent: 429, nothing read, nothing logged.
    let refused = names(&hub, &anna).await;
    assert_rate_limited(&refused, "this operator");
    assert_eq!(entries(&hub).await, logged);

    // Bruno, same agency, still passes: the agency has spent 3 of 5.
    assert_served(&names(&hub, &bruno).await);
    assert_served(&names(&hub, &bruno).await);
    // Now the agency's bucket is spent, for Bruno too, though his own is not.
    assert_rate_limited(&names(&hub, &bruno).await, "this agency");
    assert_rate_limited(&names(&hub, &anna).await, "this operator");
    assert_eq!(entries(&hub).await, logged + 2);

    // Another agency has buckets of its own.
    assert_served(&names(&hub, &sud).await);
}

hub_test!(each_operation_of_a_batch_costs_one_request, small_buckets());
async fn each_operation_of_a_batch_costs_one_request(hub: TestHub) {
    let anna = hub.token_as("anna", "polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT");
    let one = json!({ "query": NAMES });
    let (status, _, body) = post(&hub, &anna, json!([one, one])).await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    // Two of three spent: a batch of two no longer fits, a single does.
    assert_rate_limited(&post(&hub, &anna, json!([one, one])).await, "this operator");
    assert_served(&names(&hub, &anna).await);
}

hub_test!(
    turned_off_the_limits_never_refuse,
    TestHub::builder().demo().limits(|l| {
        l.rate.enabled = false;
        l.rate.operator_per_minute = 1;
        l.rate.operator_burst = 1;
    })
);
async fn turned_off_the_limits_never_refuse(hub: TestHub) {
    let anna = hub.token_as("anna", "polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT");
    for _ in 0..5 {
        assert_served(&names(&hub, &anna).await);
    }
}

hub_test!(
    a_peer_flooding_bad_tokens_is_refused_before_its_tokens_are_checked,
    TestHub::builder().demo().limits(|l| {
        l.rate.failed_auth_per_minute = 1;
        l.rate.failed_auth_burst = 3;
    })
);
async fn a_peer_flooding_bad_tokens_is_refused_before_its_tokens_are_checked(hub: TestHub) {
    let good = hub.polo_nord();
    // A valid token passes, and does not count as a failure.
    assert_served(&names(&hub, &good).await);
    for _ in 0..3 {
        let (status, _, body) = names(&hub, "not-a-token").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body:#}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    // The fourth failure empties the bucket; from then on this address waits,
    // whatever token it sends (it is not checked).
    let (status, _, _) = names(&hub, "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_rate_limited(&names(&hub, "not-a-token").await, "failed authentications");
    assert_rate_limited(&names(&hub, &good).await, "failed authentications");
}

#[test]
fn a_bad_rate_limit_is_named_and_an_unknown_key_too() {
    let mut config: rete_api::Config =
        toml::from_str("[demo]\nenabled = true\n[limits.rate]\noperator_burst = 0\n")
            .expect("parses");
    let err = config.validate().expect_err("refused").to_string();
    assert!(
        err.starts_with("invalid config key `limits.rate.operator_burst`: must be at least 1"),
        "{err}"
    );
    config.limits.rate.enabled = false;
    assert!(config.validate().is_ok());
    let err = toml::from_str::<rete_api::Config>("[limits.rate]\nper_minute = 10\n")
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("per_minute"), "{err}");
}

fn consultorio_with_small_buckets() -> rete_tests::HubBuilder {
    TestHub::builder()
        .demo()
        .limits(|l| {
            l.rate.operator_per_minute = 1;
            l.rate.operator_burst = 1;
        })
        .sync(|db| {
            let config: connectors::config::InstanceConfig =
                toml::from_str("kind = \"consultorio\"\nagency = \"consultorio-centro\"\n")
                    .unwrap();
            let instances = connectors::instances(&std::collections::BTreeMap::from([(
                "centro".to_string(),
                config,
            )]))
            .unwrap();
            connectors::Engine::new(db, instances)
        })
}

hub_test!(
    uploads_are_charged_to_the_same_buckets,
    consultorio_with_small_buckets()
);
async fn uploads_are_charged_to_the_same_buckets(hub: TestHub) {
    let integrator = hub.token("consultorio-centro", "INTEGRATOR", "SYNC");
    let send = || {
        hub.client
            .post(hub.url("/connectors/centro/upload"))
            .bearer_auth(&integrator)
            .header("content-type", "text/csv")
            .body("not;a;consultorio;export\n")
            .send()
    };
    // The first upload runs (a 400 on a file that is not an export, or its
    // report); the second is refused before the file is read.
    let first = send().await.unwrap();
    assert_ne!(first.status(), StatusCode::TOO_MANY_REQUESTS);
    let runs = hub.count("SELECT COUNT(*) FROM sync_run").await;
    let second = send().await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers().get("retry-after").is_some());
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(hub.count("SELECT COUNT(*) FROM sync_run").await, runs);
}
