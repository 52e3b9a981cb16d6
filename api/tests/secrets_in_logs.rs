//! No personal value and no token in the logs: a full `rete serve --demo` run
//! as a real process at `RETE_LOG=debug` (case reads with names, a referral,
//! an access-log read by a privacy officer, a refused token), then its whole
//! output (stderr and stdout) is searched for every personal value the
//! queries returned or sent and for every bearer token used.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;

use common::{FreshPostgres, rete, serve_until_listening};
use serde_json::{Value, json};

fn token(dir: &Path, operator: &str, agency: &str, role: &str, purpose: &str) -> String {
    let out = rete(dir)
        .args([
            "token",
            "--agency",
            agency,
            "--role",
            role,
            "--purpose",
            purpose,
            "--operator",
            operator,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn gql(addr: &str, token: &str, query: &str, variables: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

/// Every string under the given keys, anywhere in `v`.
fn strings_under(v: &Value, keys: &[&str], out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match x {
                    Value::String(s) if keys.contains(&k.as_str()) => out.push(s.clone()),
                    _ => strings_under(x, keys, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| strings_under(x, keys, out)),
        _ => {}
    }
}

const PERSONAL: [&str; 6] = [
    "givenName",
    "familyName",
    "fiscalCode",
    "phone",
    "address",
    "description",
];

const CASES: &str = "{ cases(first: 30) { edges { node { id reference subjects { person { givenName familyName fiscalCode phone address } } } } } }";

const SUBMIT: &str = r#"mutation($input: SubmitReferralInput!) {
  submitReferral(input: $input) { id urgency } }"#;

const ACCESS_LOG: &str =
    "{ accessLog(first: 20) { edges { node { seq operator operation records { __typename } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_run_at_debug_logs_no_personal_value_and_no_token() {
    demo_run_logs_nothing_secret(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_run_on_postgres_at_debug_logs_no_personal_value_and_no_token() {
    let Some(pg) = FreshPostgres::create().await else {
        eprintln!("skipped: DATABASE_URL does not point at PostgreSQL");
        return;
    };
    demo_run_logs_nothing_secret(Some(&pg.url)).await;
    pg.drop().await;
}

async fn demo_run_logs_nothing_secret(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut cmd = rete(d);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.env("RETE_LOG", "debug")
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"]);
    let (mut server, addr, log) = serve_until_listening(cmd);

    let manager = token(d, "anna", "polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT");
    let hospital = token(
        d,
        "dott-bruno",
        "ospedale-regina",
        "HEALTH_PROFESSIONAL",
        "HEALTHCARE",
    );
    let officer = token(d, "dpo-carla", "polo-nord", "PRIVACY_OFFICER", "AUDIT");
    let forged = format!("{manager}x");
    let mut secrets = vec![
        manager.clone(),
        hospital.clone(),
        officer.clone(),
        forged.clone(),
    ];

    let cases = gql(&addr, &manager, CASES, json!({})).await;
    assert!(cases.get("errors").is_none(), "{cases:#}");
    strings_under(&cases, &PERSONAL, &mut secrets);
    assert!(
        secrets.iter().any(|s| s.starts_with("Demo ")),
        "the read returned demo family names: {cases:#}"
    );
    let before = secrets.len();

    let referral = json!({"input": {
        "addressedTo": "polo-nord",
        "channel": "PHONE",
        "urgency": "IMMEDIATE",
        "reasons": ["MALTREATMENT"],
        "description": "Lividi sul braccio sinistro, riferiti dalla maestra (log test).",
        "subjects": [
            {"role": "CHILD", "newPerson": {"givenName": "Ottavina", "familyName": "Demo Logprova",
              "fiscalCode": "LGPTVN18A41L219K", "birthOn": "2018-01-01", "phone": "+39 347 555 0199",
              "address": "Via Segreta 17, Torino"}},
        ]
    }});
    strings_under(&referral, &PERSONAL, &mut secrets);
    let submitted = gql(&addr, &hospital, SUBMIT, referral).await;
    assert!(submitted.get("errors").is_none(), "{submitted:#}");
    assert_eq!(submitted["data"]["submitReferral"]["urgency"], "IMMEDIATE");

    let log_page = gql(&addr, &officer, ACCESS_LOG, json!({})).await;
    assert!(log_page.get("errors").is_none(), "{log_page:#}");
    let entries = log_page["data"]["accessLog"]["edges"].as_array().unwrap();
    assert!(!entries.is_empty(), "{log_page:#}");

    let refused = gql(&addr, &forged, CASES, json!({})).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    // Stop it as an operator would (SIGTERM), so shutdown lines are in too.
    let pid = server.0.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    // The reader threads drain the pipes once the process is gone.
    let lines = {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let lines = log.lock().unwrap().clone();
            if lines.iter().any(|l| l.contains("rete stopped"))
                || std::time::Instant::now() > deadline
            {
                break lines;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    assert!(
        lines.iter().any(|l| l.contains("rete stopped")),
        "the whole run was read"
    );
    assert!(
        lines.iter().any(|l| l.contains("DEBUG")),
        "the run logged at debug"
    );
    assert!(
        secrets.len() > before + 4,
        "the referral's values are checked"
    );

    secrets.sort();
    secrets.dedup();
    for secret in &secrets {
        // A token's signature alone would identify it as well.
        let needles: Vec<&str> = std::iter::once(secret.as_str())
            .chain(secret.rsplit('.').next().filter(|s| s.len() > 20))
            .collect();
        for needle in needles {
            if let Some(line) = lines.iter().find(|l| l.contains(needle)) {
                panic!("`{needle}` appears in the log: {line}");
            }
        }
    }
}
