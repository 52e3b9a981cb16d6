//! The `rete` command line, run as a real process: the contract scripts rely on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{rete, serve_demo};

const REPO_SCHEMA: &str = include_str!("../../schema.graphql");

#[test]
fn rete_schema_prints_the_committed_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let out = rete(dir.path()).arg("schema").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), REPO_SCHEMA);
}

#[test]
fn rete_token_without_the_demo_key_says_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = rete(dir.path())
        .args([
            "token",
            "--agency",
            "polo-nord",
            "--role",
            "CASE_MANAGER",
            "--purpose",
            "CASE_MANAGEMENT",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("rete serve --demo"), "{err}");
}

#[test]
fn rete_token_refuses_an_unknown_role() {
    let dir = tempfile::tempdir().unwrap();
    let out = rete(dir.path())
        .args([
            "token",
            "--agency",
            "polo-nord",
            "--role",
            "CHEF",
            "--purpose",
            "CASE_MANAGEMENT",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unknown role `CHEF`")
    );
}

#[test]
fn serve_without_an_issuer_and_without_demo_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = rete(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("auth.issuers")
    );
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rete.toml"),
        "listen = \"127.0.0.1:0\"\n[limits]\nmax_dept = 3\n",
    )
    .unwrap();
    let out = rete(dir.path())
        .args(["--config", "rete.toml", "serve", "--demo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr).unwrap().contains("max_dept"));
}

#[test]
fn migrate_creates_the_schema_in_a_new_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = rete(dir.path())
        .args(["--database-url", "sqlite://fresh.db?mode=rwc", "migrate"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("fresh.db").exists());
    // Twice is fine.
    let again = rete(dir.path())
        .args(["--database-url", "sqlite://fresh.db?mode=rwc", "migrate"])
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_answers_a_token_minted_by_rete_token_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr, log) = serve_demo(dir.path());
    assert!(
        dir.path().join("rete.db").exists(),
        "the SQLite file is created in the working directory"
    );
    let out = rete(dir.path())
        .args([
            "token",
            "--agency",
            "polo-nord",
            "--role",
            "CASE_MANAGER",
            "--purpose",
            "CASE_MANAGEMENT",
            "--ttl",
            "5m",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(token.split('.').count(), 3, "stdout holds only the token");

    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let resp = client
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"query":"{ me { operator agency { id } } cases(first: 1) { totalCount } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["me"]["agency"]["id"], "polo-nord");
    assert_eq!(body["data"]["cases"]["totalCount"], 100);

    // SIGTERM: finish in-flight requests, then exit 0.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "rete did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The log has a line per request but no personal value, token or query.
    std::thread::sleep(Duration::from_millis(300));
    let lines = log.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("path=/graphql") && l.contains("status=200")),
        "{lines:#?}"
    );
    // (The demo banner, printed once at start, is not a log line.)
    for l in lines.iter().filter(|l| {
        ["INFO", "WARN", "ERROR", "DEBUG"]
            .iter()
            .any(|lvl| l.contains(lvl))
    }) {
        assert!(
            !l.contains(" Demo R") && !l.contains(" Demo B") && !l.contains(" Demo O"),
            "a family name in the log: {l}"
        );
        assert!(!l.contains("DMO0"), "a fiscal code in the log: {l}");
        assert!(!l.contains(&token[..40]), "the token in the log: {l}");
        assert!(!l.contains("totalCount"), "the query in the log: {l}");
    }

    // A second start reuses the seeded database and the demo key.
    let (_again, addr2, _) = serve_demo(dir.path());
    let resp = client
        .post(format!("http://{addr2}/graphql"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"query":"{ cases(first: 1) { totalCount } }"}"#)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["cases"]["totalCount"], 100, "seeded once");
}

#[test]
fn policy_check_accepts_the_demo_agreement_and_prints_its_version() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = rete(&repo)
        .args(["policy", "check", "policies/network.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("valid") && text.contains("version "),
        "{text}"
    );
}

#[test]
fn policy_check_names_the_file_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[agreement]\nname = \"x\"\nversion = \"1\"\n\n[[rule]]\nid = \"r\"\ndescription = \"d\"\npurposes = [\"CASE_MANAGEMENT\"]\nclasses = [\"HEALTHY\"]\nrelationships = [\"LEAD\"]\n",
    )
    .unwrap();
    let out = rete(dir.path())
        .args(["policy", "check", "bad.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.toml:9:") && err.contains("unknown data class \"HEALTHY\""),
        "{err}"
    );
}

#[test]
fn serve_refuses_to_start_on_an_invalid_agreement() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "[agreement]\nname = \"x\"\nversion = \"1\"\n[[rule]]\nid = \"r\"\n",
    )
    .unwrap();
    let out = rete(dir.path())
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "p.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("p.toml:"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_explain_reads_the_database_and_names_the_rule_and_basis() {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr, _) = serve_demo(dir.path());
    let token = String::from_utf8(
        rete(dir.path())
            .args([
                "token",
                "--agency",
                "polo-nord",
                "--role",
                "CASE_MANAGER",
                "--purpose",
                "CASE_MANAGEMENT",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token.trim())
        .header("content-type", "application/json")
        .body(r#"{"query":"{ cases(first: 1) { edges { node { id } } } }"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    drop(server);
    let case = body["data"]["cases"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let explain = |agency: &str, role: &str, purpose: &str| {
        rete(dir.path())
            .args([
                "policy",
                "explain",
                "--case",
                &case,
                "--agency",
                agency,
                "--role",
                role,
                "--purpose",
                purpose,
                "--class",
                "HEALTH",
            ])
            .output()
            .unwrap()
    };
    let yes = explain("polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT");
    assert!(
        yes.status.success(),
        "{}",
        String::from_utf8_lossy(&yes.stderr)
    );
    let text = String::from_utf8(yes.stdout).unwrap();
    assert!(
        text.contains("DISCLOSED by rule \"case-team-sees-case\"") && text.contains("DUTY"),
        "{text}"
    );
    let no =
        String::from_utf8(explain("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT").stdout).unwrap();
    assert!(no.contains("WITHHELD"), "{no}");
}

/// `policies/network.toml` without its court-of-record rule (3.4).
/// The agreement without the rules that show the court its cases (the
/// judges' and the court system's).
fn agreement_without_the_court_rule(dir: &std::path::Path) -> std::path::PathBuf {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut text = std::fs::read_to_string(repo.join("policies/network.toml")).unwrap();
    for id in ["court-of-record", "court-system-reports"] {
        let at = text.find(&format!("id = \"{id}\"")).unwrap();
        let start = text[..at].rfind("[[rule]]").unwrap();
        let end = text[at..].find("[[rule]]").map_or(text.len(), |e| at + e);
        text = format!("{}{}", &text[..start], &text[end..]);
    }
    let path = dir.join("no-court.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_diff_against_the_database_counts_what_the_court_would_lose() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let network = repo.join("policies/network.toml");
    let new = agreement_without_the_court_rule(dir.path());

    // The cases the court is linked to, as the hub itself counts them.
    let (server, addr, _) = serve_demo(dir.path());
    let token = String::from_utf8(
        rete(dir.path())
            .args([
                "token",
                "--agency",
                "tm-torino",
                "--role",
                "JUDGE",
                "--purpose",
                "JUDICIAL",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token.trim())
        .header("content-type", "application/json")
        .body(r#"{"query":"{ cases(first: 1) { totalCount } }"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    drop(server);
    let court_cases = body["data"]["cases"]["totalCount"].as_u64().unwrap() as usize;
    assert!(court_cases > 0, "{body}");

    let diff = |extra: &[&str]| {
        let out = rete(dir.path())
            .args(["policy", "diff"])
            .arg(&network)
            .arg(&new)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    let json: serde_json::Value = serde_json::from_str(&diff(&["--against-db", "--json"])).unwrap();
    assert!(json["impact"]["cases"].as_u64().unwrap() as usize >= court_cases);
    let changes = json["impact"]["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for c in changes {
        assert_eq!(c["agency"], "tm-torino", "only the court changes: {c}");
        assert_eq!(c["cases_gained"], 0, "{c}");
        assert_eq!(c["subjects_gained"], 0, "{c}");
    }
    let judicial = changes
        .iter()
        .find(|c| c["class"] == "JUDICIAL")
        .expect("the court loses JUDICIAL");
    assert_eq!(
        judicial["cases_lost"].as_u64().unwrap() as usize,
        court_cases
    );
    assert_eq!(judicial["cases_before"], judicial["cases_lost"]);
    assert_eq!(judicial["cases_after"], 0);
    assert!(
        judicial["subjects_lost"].as_u64().unwrap() > 0,
        "{judicial}"
    );
    // Nothing of the rules' classes survives for the court; other classes are untouched.
    let classes: Vec<&str> = changes.iter().filter_map(|c| c["class"].as_str()).collect();
    assert!(
        classes
            .iter()
            .all(|c| ["ADMINISTRATIVE", "IDENTITY", "JUDICIAL", "SOCIAL"].contains(c)),
        "{classes:?}"
    );
    // The grants the rule gave are listed as removed.
    let grants = json["grants"].as_array().unwrap();
    assert!(
        grants.iter().all(|g| g["change"] == "REMOVED"
            && ["court-of-record", "court-system-reports"]
                .contains(&g["rules"][0].as_str().unwrap_or(""))),
        "{grants:?}"
    );

    // The text form says the same for the people who sign.
    let text = diff(&["--against-db"]);
    assert!(text.contains("tm-torino (JUVENILE_COURT)"), "{text}");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("JUDICIAL"))
        .unwrap();
    assert!(
        line.contains(&format!("cases {court_cases:>5} -> 0"))
            && line.contains(&format!("(loses {court_cases})")),
        "{line}"
    );
    assert!(!text.contains("gains"), "{text}");

    // Without --against-db the database is not read (none exists here).
    let elsewhere = tempfile::tempdir().unwrap();
    let out = rete(elsewhere.path())
        .args(["policy", "diff"])
        .arg(&network)
        .arg(&new)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        !String::from_utf8(out.stdout)
            .unwrap()
            .contains("In the database")
    );
    assert!(!elsewhere.path().join("rete.db").exists());
}
