//! The outbox across real processes: a `rete serve` killed (SIGKILL) while a
//! report to the court is in flight loses nothing: the next process takes
//! the message over once its claim lapses and sends it again with the same
//! idempotency key, and the court records it once. On SQLite, and on
//! PostgreSQL when `DATABASE_URL` points at one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{FreshPostgres, Server, rete, serve_until_listening};
use connectors::court::peer::CourtPeer;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

fn config(dir: &Path, court: &CourtPeer) -> PathBuf {
    court.write_public_key(&dir.join("court.pem")).unwrap();
    let path = dir.join("rete.toml");
    std::fs::write(
        &path,
        format!(
            "[connectors.tribunale]\nkind = \"court\"\nagency = \"tm-torino\"\n\
             base_url = \"{}\"\ncourt_key_file = \"court.pem\"\n\n\
             [outbox]\npoll_ms = 100\nlease_seconds = 3\ntimeout_ms = 2000\n\
             backoff_ms = 50\nbackoff_max_ms = 200\n",
            court.base_url()
        ),
    )
    .unwrap();
    path
}

fn serve(dir: &Path, cfg: &Path, url: &str) -> (Server, String, common::Log) {
    let network = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/network.toml");
    let mut cmd = rete(dir);
    cmd.env("DATABASE_URL", url)
        .arg("--config")
        .arg(cfg)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--policy"])
        .arg(network);
    serve_until_listening(cmd)
}

async fn gql(addr: &str, token: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_while_a_report_is_in_flight_loses_nothing_and_the_court_gets_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let pg = FreshPostgres::create().await;
    let url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}?mode=rwc", dir.path().join("rete.db").display()),
    };
    // The hub's key first (created on first use), so the court can check it.
    let out = rete(dir.path())
        .args(["audit", "public-key"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hub_key = serde_json::from_slice(&out.stdout).unwrap();
    let court = CourtPeer::start("tm-torino", hub_key).await.unwrap();
    let cfg = config(dir.path(), &court);

    let (mut first, addr, _) = serve(dir.path(), &cfg, &url);
    let token = String::from_utf8(
        rete(dir.path())
            .args(["token", "--agency", "polo-nord", "--role", "CASE_MANAGER"])
            .args(["--purpose", "CASE_MANAGEMENT"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let token = token.trim();
    let cases = gql(
        &addr,
        token,
        "{ cases(first: 100) { edges { node { id leadAgency { id } courtOrders { id } } } } }",
        json!({}),
    )
    .await;
    let (case, order) = cases["data"]["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find_map(|n| {
            (n["leadAgency"]["id"] == "polo-nord")
                .then(|| n["courtOrders"][0]["id"].as_str())
                .flatten()
                .map(|o| (n["id"].as_str().unwrap().to_string(), o.to_string()))
        })
        .expect("a polo-nord case before the court");

    // The court takes its time over the first post: the kill lands mid-send.
    court.delay_next(1, Duration::from_secs(10));
    let submitted = gql(
        &addr,
        token,
        "mutation($input: SubmitCourtReportInput!) { submitCourtReport(input: $input) { id } }",
        json!({"input": {"caseId": case, "orderId": order, "title": "Relazione urgente",
            "body": "Aggiornamento sulla situazione del minore."}}),
    )
    .await;
    let report = submitted["data"]["submitCourtReport"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{submitted}"))
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while court.attempts() == 0 {
        assert!(Instant::now() < deadline, "the report was never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();

    let db = rete_api::db::connect(&url, 2).await.unwrap();
    // The only message of this hub (ids are blobs on SQLite: no id in the SQL).
    let status =
        "SELECT COUNT(*) FROM outbox_message WHERE kind = 'COURT_REPORT' AND status = 'DELIVERED'";
    assert_eq!(count(&db, status).await, 0, "killed before the outcome");

    // Another process takes over once the dead one's claim lapses (3 s).
    let (_second, _, log) = serve(dir.path(), &cfg, &url);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&db, status).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the second process never delivered the report: {:#?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = court.received();
    assert_eq!(got.len(), 1, "the court records the report once: {got:#?}");
    assert_eq!(got[0]["data"]["courtReport"]["id"], json!(report));
    assert!(court.attempts() >= 2, "it was sent again");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM outbox_message").await,
        1,
        "one message, sent twice"
    );
    // The operator sees it with `rete outbox list`; a delivered message is
    // not queued again.
    let list = rete(dir.path())
        .env("DATABASE_URL", &url)
        .args(["outbox", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("COURT_REPORT -> tm-torino via tribunale: DELIVERED after 2 attempt(s)"),
        "{text}"
    );
    let again = rete(dir.path())
        .env("DATABASE_URL", &url)
        .args(["outbox", "retry", "--all-dead"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "queued 0 message(s) again\n"
    );
    db.close().await.unwrap();
    if let Some(pg) = pg {
        pg.drop().await;
    }
}
