//! `rete sync run` against a FHIR server on 127.0.0.1, as real processes: a
//! full sync, a second process refused while the first holds the instance,
//! and a sync killed mid-run (SIGKILL, not a graceful stop) and run again,
//! which must leave no record lost or duplicated. On SQLite, and on
//! PostgreSQL when `DATABASE_URL` points at one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{FreshPostgres, Server, rete};
use connectors::fhir::peer::{FhirPeer, PeerAuth};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;

const PATIENTS: usize = 60;
const ENCOUNTERS: usize = 120;

/// A fresh database with the demo network (the instance's agencies).
async fn database(dir: &Path) -> (String, DatabaseConnection, Option<FreshPostgres>) {
    let pg = FreshPostgres::create().await;
    let url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}?mode=rwc", dir.join("rete.db").display()),
    };
    let db = rete_api::db::connect(&url, 2).await.unwrap();
    rete_api::db::migrate(&db).await.unwrap();
    rete_api::demo::seed(&db).await.unwrap();
    (url, db, pg)
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn peer() -> FhirPeer {
    let peer = FhirPeer::start(PeerAuth::Open).await.unwrap();
    for i in 0..PATIENTS {
        peer.put(json!({
            "resourceType": "Patient", "id": format!("k{i}"),
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.9.4.3.7", "value": format!("MRN-K{i}")}],
            "name": [{"family": format!("DemoKill{i}"), "given": ["Anna"]}],
            "gender": "female", "birthDate": "1990-01-01"
        }));
    }
    for i in 0..ENCOUNTERS {
        peer.put(json!({
            "resourceType": "Encounter", "id": format!("ke{i}"), "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
            "subject": {"reference": format!("Patient/k{}", i % PATIENTS)},
            "period": {"start": "2026-11-01T10:00:00Z"}
        }));
    }
    peer
}

fn config(dir: &Path, base_url: &str) -> std::path::PathBuf {
    let path = dir.join("rete.toml");
    std::fs::write(
        &path,
        format!(
            "[connectors.hospital]\nkind = \"fhir\"\nagency = \"ospedale-regina\"\nrefer_to = \"polo-nord\"\n\
             base_url = \"{base_url}\"\npage_size = 10\nlease_seconds = 2\nresources = [\"Patient\", \"Encounter\"]\n"
        ),
    )
    .unwrap();
    path
}

fn sync_run(dir: &Path, cfg: &Path, url: &str) -> std::process::Command {
    let mut c = rete(dir);
    c.env("DATABASE_URL", url)
        .arg("--config")
        .arg(cfg)
        .args(["sync", "run", "hospital"]);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_run_and_run_again_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (url, db, pg) = database(dir.path()).await;
    let peer = peer().await;
    // Slow pages, so the kill lands mid-run.
    peer.delay_all(Some(Duration::from_millis(150)));
    let cfg = config(dir.path(), &peer.base_url());
    let persons_before = count(&db, "SELECT COUNT(*) FROM person").await;

    let mut first = Server(
        sync_run(dir.path(), &cfg, &url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until some pages are in, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let in_ = count(&db, "SELECT COUNT(*) FROM external_ref").await;
        if in_ >= 20 {
            break;
        }
        assert!(Instant::now() < deadline, "the first sync wrote nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let partial = count(&db, "SELECT COUNT(*) FROM external_ref").await;
    assert!(
        partial < (PATIENTS + ENCOUNTERS) as i64,
        "killed before the end ({partial} in)"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM sync_run WHERE status = 'RUNNING'"
        )
        .await,
        1,
        "the killed run is left open"
    );

    // At once, the dead process still holds the instance: a second run says so.
    let out = sync_run(dir.path(), &cfg, &url).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(1) {
        assert!(err.contains("is being synced by"), "{err}");
    }

    // Its lease expires (2 s); the next run takes over and completes.
    peer.delay_all(None);
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = sync_run(dir.path(), &cfg, &url).output().unwrap();
        if out.status.success() {
            break out;
        }
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(err.contains("is being synced by"), "{err}");
        assert!(Instant::now() < deadline, "the lease never expired: {err}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.starts_with("SUCCEEDED"), "{report}");

    // Nothing lost, nothing twice.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM external_ref").await,
        (PATIENTS + ENCOUNTERS) as i64
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM person").await,
        persons_before + PATIENTS as i64
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM person WHERE family_name LIKE 'DemoKill%'"
        )
        .await,
        PATIENTS as i64
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM health_event h JOIN external_ref x ON x.local_id = h.id WHERE x.resource_type = 'Encounter'"
        )
        .await,
        ENCOUNTERS as i64
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM sync_run WHERE status = 'INTERRUPTED'"
        )
        .await,
        1
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM sync_dead_letter").await, 0);

    // And a later run brings only what changed.
    peer.put(json!({
        "resourceType": "Patient", "id": "k0",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.9.4.3.7", "value": "MRN-K0"}],
        "name": [{"family": "DemoKill0", "given": ["Anna", "Maria"]}],
        "gender": "female", "birthDate": "1990-01-01"
    }));
    let out = sync_run(dir.path(), &cfg, &url).output().unwrap();
    assert!(out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("fetched 1, created 0, updated 1"),
        "{report}"
    );
    db.close().await.unwrap();
    if let Some(pg) = pg {
        pg.drop().await;
    }
}
