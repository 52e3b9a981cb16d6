//! `rete audit ...` run as real processes, and the chain under two `rete
//! serve` processes writing to one PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{FreshPostgres, Server, serve_demo_on};

fn rete(dir: &Path, database_url: Option<&str>) -> Command {
    let mut c = common::rete(dir);
    if let Some(url) = database_url {
        c.env("DATABASE_URL", url);
    }
    c
}

fn run(dir: &Path, db: Option<&str>, args: &[&str]) -> Output {
    rete(dir, db).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// `rete serve --demo` on a free port; returns the process and its address.
fn serve(dir: &Path, db: Option<&str>) -> (Server, String) {
    let (server, addr, _) = serve_demo_on(dir, db);
    (server, addr)
}

fn token(dir: &Path, agency: &str, role: &str, purpose: &str) -> String {
    let o = run(
        dir,
        None,
        &[
            "token",
            "--agency",
            agency,
            "--role",
            role,
            "--purpose",
            purpose,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

async fn query(client: &reqwest::Client, addr: &str, token: &str, q: &str) -> serde_json::Value {
    client
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .json(&serde_json::json!({ "query": q }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

const NAMES: &str =
    "{ cases(first: 2) { edges { node { id subjects { person { familyName } } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_commands_verify_sign_export_bundle_and_prove() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (server, addr) = serve(d, None);
    let t = token(d, "polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT");
    let client = reqwest::Client::new();
    let mut first = serde_json::Value::Null;
    for i in 0..4 {
        let body = query(&client, &addr, &t, NAMES).await;
        if i == 0 {
            first = body;
        }
    }
    drop(server);
    assert!(
        d.join("rete-audit-secret").exists() && d.join("rete-hub-key.pem").exists(),
        "the hub's audit secrets are created beside the database"
    );

    let v = run(d, None, &["audit", "verify"]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(
        stdout(&v).contains("chain OK: 4 entries verified"),
        "{}",
        stdout(&v)
    );

    // A signed head, checked later against the chain.
    let head = run(d, None, &["audit", "head", "--sign"]);
    assert!(head.status.success(), "{}", stderr(&head));
    let jws = stdout(&head).trim().to_string();
    assert_eq!(jws.split('.').count(), 3);
    let v = run(d, None, &["audit", "verify", "--head", &jws]);
    assert!(v.status.success(), "{}", stderr(&v));
    let plain = run(d, None, &["audit", "head"]);
    let h: serde_json::Value = serde_json::from_str(stdout(&plain).trim()).unwrap();
    assert_eq!(
        (h["seq"].as_i64(), h["stored"].as_i64()),
        (Some(4), Some(4))
    );

    // CSV and JSON Lines.
    let csv = run(d, None, &["audit", "export", "--format", "csv"]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let text = stdout(&csv);
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.starts_with("seq,at,operator,agency_id"));
    assert!(!text.contains("Demo "), "no personal value in an export");
    let jsonl = run(
        d,
        None,
        &["audit", "export", "--agency", "polo-nord", "--to", "2"],
    );
    let lines: Vec<serde_json::Value> = stdout(&jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["prevHash"], lines[0]["hash"]);

    // A bundle, checked in another directory with the public key only.
    let pk = run(d, None, &["audit", "public-key"]);
    assert!(pk.status.success());
    let elsewhere = tempfile::tempdir().unwrap();
    let e = elsewhere.path();
    std::fs::write(e.join("hub.jwk"), pk.stdout).unwrap();
    let b = run(
        d,
        None,
        &[
            "audit", "export", "--from", "2", "--to", "4", "--bundle", "b.json",
        ],
    );
    assert!(b.status.success(), "{}", stderr(&b));
    std::fs::copy(d.join("b.json"), e.join("b.json")).unwrap();
    let ok = run(
        e,
        None,
        &[
            "audit",
            "verify",
            "--bundle",
            "b.json",
            "--public-key",
            "hub.jwk",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("entries 2..=4"), "{}", stdout(&ok));
    assert!(!e.join("rete.db").exists(), "offline: no database opened");
    let mut bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.join("b.json")).unwrap()).unwrap();
    bundle["entries"][1]["operator"] = "someone-else".into();
    std::fs::write(e.join("b.json"), bundle.to_string()).unwrap();
    let bad = run(
        e,
        None,
        &[
            "audit",
            "verify",
            "--bundle",
            "b.json",
            "--public-key",
            "hub.jwk",
        ],
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("BROKEN at entry 3"),
        "{}",
        stderr(&bad)
    );

    // The digest proves which value left at a path of entry 1.
    let family = first["data"]["cases"]["edges"][0]["node"]["subjects"][0]["person"]["familyName"]
        .as_str()
        .unwrap();
    let path = "cases.edges.0.node.subjects.0.person.familyName";
    let subjects = serde_json::Value::from(family).to_string();
    let yes = run(
        d,
        None,
        &[
            "audit", "prove", "--seq", "1", "--path", path, "--value", &subjects,
        ],
    );
    assert!(yes.status.success(), "{}", stderr(&yes));
    assert!(stdout(&yes).contains("MATCH"));
    let forged = serde_json::Value::from("Demo Altro").to_string();
    let no = run(
        d,
        None,
        &[
            "audit", "prove", "--seq", "1", "--path", path, "--value", &forged,
        ],
    );
    assert!(!no.status.success());
    assert!(stderr(&no).contains("NO MATCH"), "{}", stderr(&no));

    // Retention: prune what is before now; the chain still verifies.
    let p = run(
        d,
        None,
        &[
            "audit",
            "prune",
            "--before",
            &chrono::Utc::now().to_rfc3339(),
        ],
    );
    assert!(p.status.success(), "{}", stderr(&p));
    let v = run(d, None, &["audit", "verify"]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(
        stdout(&v).contains("from the retention checkpoint at entry 4"),
        "{}",
        stdout(&v)
    );
    let no_retention = run(d, None, &["audit", "prune"]);
    assert!(!no_retention.status.success());
    assert!(stderr(&no_retention).contains("retention_days"));
}

/// Two hub processes on one PostgreSQL database, under concurrent load: one
/// linear chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hub_processes_on_one_postgres_keep_one_linear_chain() {
    let Some(pg) = FreshPostgres::create().await else {
        eprintln!("skipped: DATABASE_URL does not point at PostgreSQL");
        return;
    };
    let url = pg.url.clone();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (one, addr1) = serve(d, Some(&url));
    let (two, addr2) = serve(d, Some(&url));
    let tokens = [
        token(d, "polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT"),
        token(d, "polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT"),
    ];
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let addr = if worker % 2 == 0 {
            addr1.clone()
        } else {
            addr2.clone()
        };
        let t = tokens[worker % 2].clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let body = query(&client, &addr, &t, NAMES).await;
                assert!(body["data"]["cases"].is_object(), "{body}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(one);
    drop(two);

    let v = run(d, Some(&url), &["audit", "verify"]);
    let out = stdout(&v);
    // Each process wrote its half (one agency's operators talk to each).
    let by_agency = |a: &str| {
        let o = run(d, Some(&url), &["audit", "export", "--agency", a]);
        stdout(&o).lines().count()
    };
    let halves = (by_agency("polo-nord"), by_agency("polo-sud"));
    pg.drop().await;
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(out.contains("chain OK: 200 entries verified"), "{out}");
    assert_eq!(halves, (100, 100));
}
