//! What the privacy officers' console stands on: the chain's state and its
//! verification over GraphQL, the disclosure counts of its chart, and the
//! console's own files with their security headers. (The console itself is
//! driven in real Chromium by `console-tests/`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use rete_api::audit::chain;
use rete_tests::{StatusCode, TestHub, hub_test};
use serde_json::{Value, json};

const NAMES: &str = "query Names { cases(first: 3) { edges { node { id reference subjects { role person { id givenName familyName } } } } } }";
const STATUS: &str = "{ accessLogStatus { head { seq hash stored } lastVerification { intact entriesChecked verifiedBy agencyId firstBroken { seq problem } head { seq } } } }";
const VERIFY: &str = "mutation { verifyAccessLog { intact entriesChecked verifiedBy agencyId fromCheckpoint firstBroken { seq problem } head { seq hash } } }";

fn po(hub: &TestHub, agency: &str) -> String {
    hub.token_as(&format!("{agency}-dpo"), agency, "PRIVACY_OFFICER", "AUDIT")
}

async fn reads(hub: &TestHub, n: usize) {
    let t = hub.polo_nord();
    for _ in 0..n {
        hub.gql(&t, NAMES, json!({})).await.ok();
    }
}

async fn chain_state_and_verification_are_for_privacy_officers_only(hub: TestHub) {
    reads(&hub, 1).await;
    for (role, purpose) in [
        ("CASE_MANAGER", "CASE_MANAGEMENT"),
        ("PRIVACY_OFFICER", "CASE_MANAGEMENT"),
    ] {
        let t = hub.token("polo-nord", role, purpose);
        assert_eq!(hub.gql(&t, STATUS, json!({})).await.codes(), ["FORBIDDEN"]);
        assert_eq!(hub.gql(&t, VERIFY, json!({})).await.codes(), ["FORBIDDEN"]);
        let s = hub
            .gql(
                &t,
                "{ disclosureStats(from: \"2026-01-01T00:00:00Z\", until: \"2026-01-02T00:00:00Z\") { periods } }",
                json!({}),
            )
            .await;
        assert_eq!(s.codes(), ["FORBIDDEN"]);
    }
}
hub_test!(
    chain_state_and_verification_are_for_privacy_officers_only,
    TestHub::builder().demo()
);

async fn verify_now_names_the_first_broken_entry_and_status_keeps_it(hub: TestHub) {
    reads(&hub, 4).await;
    let dpo = po(&hub, "polo-nord");

    // Before any verification: the head as the chain has it, none verified.
    let s = hub.gql(&dpo, STATUS, json!({})).await.ok();
    let head = chain::head(&hub.db).await.unwrap();
    // The status read is itself logged, after its answer was computed.
    assert_eq!(s.data("/accessLogStatus/head/seq"), &json!(head.seq - 1));
    assert_eq!(s.data("/accessLogStatus/lastVerification"), &Value::Null);
    assert_eq!(
        s.data("/accessLogStatus/head/hash").as_str().unwrap().len(),
        64
    );

    let v = hub.gql(&dpo, VERIFY, json!({})).await.ok();
    assert_eq!(v.data("/verifyAccessLog/intact"), true);
    assert_eq!(v.data("/verifyAccessLog/firstBroken"), &Value::Null);
    assert_eq!(v.data("/verifyAccessLog/entriesChecked"), 5);
    assert_eq!(v.data("/verifyAccessLog/verifiedBy"), "polo-nord-dpo");
    assert_eq!(v.data("/verifyAccessLog/agencyId"), "polo-nord");

    hub.sql("UPDATE access_log_entry SET operator = 'someone-else' WHERE seq = 3")
        .await;
    let v = hub.gql(&dpo, VERIFY, json!({})).await.ok();
    assert_eq!(v.data("/verifyAccessLog/intact"), false);
    assert_eq!(v.data("/verifyAccessLog/firstBroken/seq"), 3);
    let what = v
        .data("/verifyAccessLog/firstBroken/problem")
        .as_str()
        .unwrap();
    assert!(what.contains("entry 3 was edited"), "{what}");
    assert_eq!(v.data("/verifyAccessLog/entriesChecked"), 2);

    // Another officer, of another agency, sees the last verification.
    let sud = po(&hub, "polo-sud");
    let s = hub.gql(&sud, STATUS, json!({})).await.ok();
    let last = s.data("/accessLogStatus/lastVerification");
    assert_eq!(last["intact"], false);
    assert_eq!(last["firstBroken"]["seq"], 3);
    assert_eq!(last["verifiedBy"], "polo-nord-dpo");

    // Same verdict as `rete audit verify`'s code.
    let report = chain::verify(&hub.db, &hub.audit_keys.public().unwrap())
        .await
        .unwrap();
    assert_eq!(report.problem.unwrap().seq, 3);
}
hub_test!(
    verify_now_names_the_first_broken_entry_and_status_keeps_it,
    TestHub::builder().demo()
);

const STATS: &str = "query($from: DateTime!, $until: DateTime!, $b: StatsBucket!) { disclosureStats(from: $from, until: $until, bucket: $b) { bucket periods counts { periodStart agencyId dataClass entries } } }";

async fn disclosure_stats_count_entries_per_agency_class_and_period(hub: TestHub) {
    reads(&hub, 3).await;
    let now = chrono::Utc::now();
    let today = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let from = today - chrono::Duration::days(6);
    let until = today + chrono::Duration::days(1);
    let dpo = po(&hub, "polo-nord");
    let s = hub
        .gql(
            &dpo,
            STATS,
            json!({"from": from, "until": until, "b": "DAY"}),
        )
        .await
        .ok();
    let periods = s.data("/disclosureStats/periods").as_array().unwrap();
    assert_eq!(periods.len(), 7);
    let counts = s.data("/disclosureStats/counts").as_array().unwrap();
    let get = |agency: &str, class: &str| {
        counts
            .iter()
            .filter(|c| c["agencyId"] == agency && c["dataClass"] == class)
            .map(|c| c["entries"].as_u64().unwrap())
            .sum::<u64>()
    };
    // Three reads of references and names by the case manager of Polo Nord.
    assert_eq!(get("polo-nord", "ADMINISTRATIVE"), 3);
    assert_eq!(get("polo-nord", "IDENTITY"), 3);
    assert_eq!(get("polo-nord", "HEALTH"), 0);
    for c in counts {
        assert_eq!(
            c["periodStart"].as_str().unwrap(),
            periods[6].as_str().unwrap()
        );
    }

    // An officer of an agency with no link to those cases counts nothing.
    let coop = po(&hub, "coop-ponte");
    let s = hub
        .gql(
            &coop,
            STATS,
            json!({"from": from, "until": until, "b": "WEEK"}),
        )
        .await
        .ok();
    let theirs = s.data("/disclosureStats/counts").as_array().unwrap();
    assert!(
        theirs.iter().all(|c| c["agencyId"] != "polo-nord"),
        "{theirs:#?}"
    );

    // A range with too many periods, or backwards, is named.
    let bad = hub
        .gql(
            &dpo,
            STATS,
            json!({"from": "2000-01-01T00:00:00Z", "until": until, "b": "DAY"}),
        )
        .await;
    assert_eq!(bad.codes(), ["BAD_USER_INPUT"]);
    let bad = hub
        .gql(
            &dpo,
            STATS,
            json!({"from": until, "until": from, "b": "DAY"}),
        )
        .await;
    assert_eq!(bad.codes(), ["BAD_USER_INPUT"]);
}
hub_test!(
    disclosure_stats_count_entries_per_agency_class_and_period,
    TestHub::builder().demo()
);

#[tokio::test]
async fn the_console_is_served_with_a_strict_content_security_policy() {
    let hub = TestHub::with_demo().await;
    let get = |path: &str| {
        hub.client
            .get(hub.url(path))
            .header("accept", "text/html")
            .send()
    };
    let page = get("/console/").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let h = page.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"it\">"));
    assert!(html.contains("src=\"console.js\""));
    // No inline script: every script is a file of the console.
    assert!(!html.contains("<script>"));

    let js = get("/console/console.js").await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.headers().contains_key("content-security-policy"));
    let body = js.text().await.unwrap();
    assert!(body.contains("accessLogStatus"));
    assert!(!body.contains("localStorage."), "the token stays in memory");

    let missing = get("/console/secrets.txt").await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(hub.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers()["location"], "/console/");
}

#[tokio::test]
async fn without_an_oidc_issuer_the_console_offers_only_a_pasted_token() {
    let hub = TestHub::with_demo().await;
    let r = hub
        .client
        .get(hub.url("/console/config.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({ "oidc": null }));
}

#[tokio::test]
async fn with_an_oidc_issuer_the_console_gets_its_public_settings_and_may_reach_the_issuer() {
    let issuer = "https://idp.example.it/realms/rete";
    let hub = TestHub::builder()
        .demo()
        .console(|c| {
            c.oidc = Some(rete_api::config::ConsoleOidcConfig {
                issuer: issuer.into(),
                client_id: "rete-console".into(),
                scopes: vec!["openid".into(), "rete".into()],
                resource: Some("https://rete.example.it/graphql".into()),
                end_session: false,
            });
        })
        .start()
        .await
        .unwrap();
    let r = hub
        .client
        .get(hub.url("/console/config.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "oidc": {
            "issuer": issuer,
            "clientId": "rete-console",
            "scopes": ["openid", "rete"],
            "resource": "https://rete.example.it/graphql",
            "endSession": false,
        } })
    );
    // The page may call the issuer's discovery and token endpoints, nothing else.
    assert!(
        csp.contains("connect-src 'self' https://idp.example.it;"),
        "{csp}"
    );
    // Every console response carries the same policy.
    let page = hub.client.get(hub.url("/console/")).send().await.unwrap();
    assert_eq!(page.headers()["content-security-policy"], csp.as_str());
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
}

#[tokio::test]
async fn the_hub_refuses_to_start_when_the_console_issuer_is_not_a_trusted_one() {
    use rete_api::config::{ConsoleOidcConfig, IssuerConfig};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rete.db");
    let mut config = rete_api::Config {
        database_url: format!("sqlite://{}?mode=rwc", db.display()),
        ..Default::default()
    };
    config.auth.issuers.push(IssuerConfig {
        issuer: "https://idp.example.it/realms/rete".into(),
        jwks_url: Some("https://idp.example.it/realms/rete/certs".into()),
        keys: Vec::new(),
    });
    config.console.oidc = Some(ConsoleOidcConfig {
        issuer: "https://idp.example.it/realms/other".into(),
        client_id: "rete-console".into(),
        scopes: vec!["openid".into()],
        resource: None,
        end_session: true,
    });
    let err = rete_api::cli::prepare(&config).await.err().unwrap();
    assert!(
        err.starts_with("invalid config key `console.oidc.issuer`"),
        "{err}"
    );
    // Refused before anything was opened: no database file.
    assert!(!db.exists());
}
