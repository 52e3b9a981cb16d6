//! The connector engine's own rules, on SQLite and PostgreSQL, through a
//! scripted upstream: a connector whose pages and failures the test sets, and
//! whose mapping reads a tiny JSON shape. (The real connectors are tested
//! against real peers in `sync_fhir.rs` and `sync_consultorio.rs`; this file
//! tests what they share: idempotency, matching, dead letters, leases,
//! retries, the breaker, cursors.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use connectors::config::InstanceConfig;
use connectors::engine::{NoProgress, RunStatus, Trigger};
use connectors::model::{ConsentIn, HealthEventIn, PersonIn};
use connectors::{
    Connector, Engine, EngineError, ExternalKey, FetchError, Inbound, Instance, Mapped, Page,
    RawItem, Record,
};
use entities::enums::{ConsentGiver, HealthEventKind, Sex};
use futures::future::BoxFuture;
use rete_tests::{TestHub, hub_test};
use serde_json::{Value, json};

const SYSTEM: &str = "https://fhir.test/r4";

/// A scripted upstream: a queue of fetch answers, and a mapping of
/// `{"t": "person"|"event"|"consent", "id": ..., ...}` items.
struct Scripted {
    answers: Mutex<VecDeque<Result<Page, FetchError>>>,
    fetches: Mutex<Vec<(Option<String>, Option<String>)>>,
    /// Hand the instance's lease to another holder on this fetch (1-based).
    steal_on: Option<(usize, sea_orm::DatabaseConnection)>,
}

impl Scripted {
    fn new(answers: Vec<Result<Page, FetchError>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers: Mutex::new(answers.into()),
            fetches: Mutex::new(Vec::new()),
            steal_on: None,
        })
    }

    fn fetches(&self) -> Vec<(Option<String>, Option<String>)> {
        self.fetches.lock().expect("lock").clone()
    }
}

fn key(kind: &str, id: &str) -> ExternalKey {
    ExternalKey::new(SYSTEM, kind, id)
}

impl Connector for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    fn upstream(&self) -> String {
        SYSTEM.to_string()
    }

    fn fetch<'a>(
        &'a self,
        cursor: Option<&'a str>,
        next: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, FetchError>> {
        let n = {
            let mut f = self.fetches.lock().expect("lock");
            f.push((cursor.map(String::from), next.map(String::from)));
            f.len()
        };
        let answer = self
            .answers
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or_else(|| Ok(Page::default()));
        let steal = self
            .steal_on
            .as_ref()
            .filter(|(on, _)| *on == n)
            .map(|(_, db)| db.clone());
        Box::pin(async move {
            if let Some(db) = steal {
                use sea_orm::ConnectionTrait;
                db.execute_unprepared("UPDATE sync_lease SET holder = 'thief'")
                    .await
                    .expect("steal the lease");
            }
            answer
        })
    }

    fn map(&self, item: &RawItem) -> Mapped {
        let Ok(v) = serde_json::from_str::<Value>(&item.payload) else {
            return Mapped::Rejected("not JSON".into());
        };
        let s = |k: &str| v[k].as_str().map(String::from);
        let id = s("id").unwrap_or_default();
        let version = s("v");
        let body = match v["t"].as_str() {
            Some("person") => Inbound::Person(PersonIn {
                given_name: s("given").unwrap_or_default(),
                family_name: s("family").unwrap_or_default(),
                birth_on: None,
                sex: Sex::Female,
                fiscal_code: s("fc"),
                identifiers: v["also"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str())
                    .map(|a| ExternalKey::new("urn:other", "Patient", a))
                    .collect(),
                birth_place: None,
                citizenship: None,
                phone: s("phone"),
                email: None,
                address: None,
                municipality: None,
                languages: vec![],
            }),
            Some("event") => Inbound::HealthEvent(HealthEventIn {
                subject: key("Patient", &s("subject").unwrap_or_default()),
                kind: HealthEventKind::ErVisit,
                occurred_on: NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
                summary: s("summary").unwrap_or_else(|| "ER visit".into()),
            }),
            Some("consent") => Inbound::Consent(ConsentIn {
                subject: key("Patient", &s("subject").unwrap_or_default()),
                given_by: ConsentGiver::Subject,
                data_classes: vec![s("class").unwrap_or_else(|| "HEALTH".into())],
                recipient_agencies: vec!["polo-nord".into()],
                recipient_kinds: vec![],
                purposes: vec!["CASE_MANAGEMENT".into()],
                valid_from: Utc
                    .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                    .single()
                    .expect("t"),
                valid_until: None,
                withdrawn_at: None,
                evidence_ref: None,
            }),
            Some("other") => return Mapped::Skipped("not mapped".into()),
            _ => return Mapped::Rejected("unknown item".into()),
        };
        let resource_type = match &body {
            Inbound::Person(_) => "Patient",
            Inbound::HealthEvent(_) => "Encounter",
            _ => "Consent",
        };
        let system = v["sys"].as_str().unwrap_or(SYSTEM);
        Mapped::Records(vec![Record {
            key: ExternalKey::new(system, resource_type, &id),
            version,
            body,
        }])
    }
}

fn item(v: Value) -> RawItem {
    RawItem {
        resource_type: v["t"].as_str().unwrap_or("?").to_string(),
        external_id: v["id"].as_str().map(String::from),
        position: None,
        payload: v.to_string(),
    }
}

fn page(
    items: Vec<Value>,
    next: Option<&str>,
    high_water: Option<&str>,
) -> Result<Page, FetchError> {
    Ok(Page {
        items: items.into_iter().map(item).collect(),
        next: next.map(String::from),
        high_water: high_water.map(String::from),
        total: None,
    })
}

fn config(lease_seconds: u64) -> InstanceConfig {
    toml::from_str(&format!(
        "kind = \"consultorio\"\nagency = \"ospedale-regina\"\nlease_seconds = {lease_seconds}\nmax_attempts = 3\n"
    ))
    .expect("config")
}

fn engine(hub: &TestHub, upstream: Arc<Scripted>) -> Engine {
    Engine::new(
        hub.db.clone(),
        vec![Instance {
            name: "hospital".into(),
            config: config(30),
            connector: upstream,
        }],
    )
    .with_retry_delays(Duration::from_millis(5), Duration::from_millis(20))
}

fn person(id: &str, family: &str, fc: Option<&str>) -> Value {
    json!({"t": "person", "id": id, "given": "Anna", "family": family, "fc": fc})
}

async fn ingest(engine: &Engine, items: Vec<Value>) -> connectors::RunReport {
    engine
        .ingest(
            "hospital",
            Trigger::Import,
            "test",
            items.into_iter().map(item).collect(),
            &NoProgress,
        )
        .await
        .expect("ingest")
}

async fn replaying_a_batch_changes_nothing(hub: TestHub) {
    let engine = engine(&hub, Scripted::new(vec![]));
    let batch = vec![
        person("p1", "Demo Rossi", Some("RSSNNA80A41L219X")),
        json!({"t": "event", "id": "e1", "subject": "p1"}),
        json!({"t": "consent", "id": "c1", "subject": "p1"}),
        json!({"t": "other", "id": "o1"}),
    ];
    let persons = hub.count("SELECT COUNT(*) FROM person").await;
    let events = hub.count("SELECT COUNT(*) FROM health_event").await;
    let consents = hub.count("SELECT COUNT(*) FROM consent").await;
    let first = ingest(&engine, batch.clone()).await;
    assert_eq!(first.status, RunStatus::Succeeded);
    assert_eq!(
        (first.fetched, first.created, first.skipped, first.rejected),
        (4, 3, 1, 0)
    );
    assert_eq!(hub.count("SELECT COUNT(*) FROM person").await, persons + 1);
    let again = ingest(&engine, batch).await;
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    assert_eq!(hub.count("SELECT COUNT(*) FROM person").await, persons + 1);
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM health_event").await,
        events + 1
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM consent").await,
        consents + 1
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM consent WHERE recorded_by_operator = 'connector:hospital'")
            .await,
        1
    );
    // A changed record is an update, in place.
    let changed = ingest(
        &engine,
        vec![json!({"t": "event", "id": "e1", "subject": "p1", "summary": "ER visit, revised"})],
    )
    .await;
    assert_eq!((changed.created, changed.updated), (0, 1));
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM health_event WHERE summary = 'ER visit, revised'")
            .await,
        1
    );
    // Runs are kept with their counts.
    assert_eq!(
        hub.count(
            "SELECT COUNT(*) FROM sync_run WHERE instance = 'hospital' AND status = 'SUCCEEDED'"
        )
        .await,
        3
    );
}
hub_test!(replaying_a_batch_changes_nothing, TestHub::builder().demo());

async fn a_version_decides_before_the_content(hub: TestHub) {
    let engine = engine(&hub, Scripted::new(vec![]));
    let v1 = json!({"t": "person", "id": "p9", "given": "Anna", "family": "Demo Neri", "v": "1"});
    ingest(&engine, vec![v1.clone()]).await;
    let v2 = json!({"t": "person", "id": "p9", "given": "Anna", "family": "Demo Neri", "phone": "+39 1", "v": "2"});
    let r = ingest(&engine, vec![v2]).await;
    assert_eq!(r.updated, 1);
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM external_ref WHERE external_id = 'p9' AND version = '2'")
            .await,
        1
    );
}
hub_test!(
    a_version_decides_before_the_content,
    TestHub::builder().demo()
);

async fn a_person_is_matched_by_fiscal_code_or_identifier_never_by_name(hub: TestHub) {
    let engine = engine(&hub, Scripted::new(vec![]));
    // A demo person, known to the social services, by fiscal code.
    let fc = "DMO0000000000001";
    let before = hub.count("SELECT COUNT(*) FROM person").await;
    let r = ingest(&engine, vec![person("h1", "Whatever", Some(fc))]).await;
    assert_eq!((r.created, r.updated), (0, 1), "linked, not created");
    assert_eq!(hub.count("SELECT COUNT(*) FROM person").await, before);
    // Linking fills only what the person lacks: the social service's name stays.
    assert_eq!(
        hub.count(&format!(
            "SELECT COUNT(*) FROM person WHERE fiscal_code = '{fc}' AND family_name = 'Whatever'"
        ))
        .await,
        0
    );
    // The same name without a fiscal code is somebody else.
    let family: String = {
        use sea_orm::{ConnectionTrait, Statement};
        let row = hub
            .db
            .query_one_raw(Statement::from_string(
                hub.db.get_database_backend(),
                format!("SELECT family_name FROM person WHERE fiscal_code = '{fc}'"),
            ))
            .await
            .expect("query")
            .expect("row");
        row.try_get("", "family_name").expect("family_name")
    };
    let r = ingest(
        &engine,
        vec![json!({"t": "person", "id": "h2", "given": "Anna", "family": family})],
    )
    .await;
    assert_eq!(r.created, 1, "a name alone never matches");
    // Another key of a known person (`identifiers`): a record of another
    // system names the person's key there, and links to them.
    ingest(
        &engine,
        vec![json!({"t": "person", "id": "x1", "sys": "urn:other", "given": "Anna", "family": "Demo Verdi"})],
    )
    .await;
    let before = hub.count("SELECT COUNT(*) FROM person").await;
    let r = ingest(
        &engine,
        vec![json!({"t": "person", "id": "h4", "given": "Anna", "family": "Demo Verdi", "also": ["x1"]})],
    )
    .await;
    assert_eq!(
        (r.created, r.updated),
        (0, 1),
        "linked through the other key"
    );
    assert_eq!(hub.count("SELECT COUNT(*) FROM person").await, before);
    assert_eq!(
        hub.count(
            "SELECT COUNT(DISTINCT local_id) FROM external_ref WHERE external_id IN ('x1', 'h4')"
        )
        .await,
        1
    );
}
hub_test!(
    a_person_is_matched_by_fiscal_code_or_identifier_never_by_name,
    TestHub::builder().demo()
);

async fn a_fiscal_code_of_another_person_is_rejected_not_merged(hub: TestHub) {
    let engine = engine(&hub, Scripted::new(vec![]));
    ingest(
        &engine,
        vec![person("a", "Demo Uno", Some("UNOAAA80A41L219X"))],
    )
    .await;
    ingest(
        &engine,
        vec![person("b", "Demo Due", Some("DUEBBB80A41L219X"))],
    )
    .await;
    // `b` now claims `a`'s code: refused, with a reason that does not spell it out.
    let r = ingest(
        &engine,
        vec![person("b", "Demo Due", Some("UNOAAA80A41L219X"))],
    )
    .await;
    assert_eq!(r.rejected, 1);
    let reason = &r.rejections[0].reason;
    assert!(reason.contains("belongs to another person"), "{reason}");
    assert!(
        !reason.contains("UNOAAA80A41L219X"),
        "the code is masked: {reason}"
    );
}
hub_test!(
    a_fiscal_code_of_another_person_is_rejected_not_merged,
    TestHub::builder().demo()
);

async fn an_item_that_cannot_go_in_is_parked_and_a_retry_takes_it(hub: TestHub) {
    let engine = engine(&hub, Scripted::new(vec![]));
    let orphan = json!({"t": "event", "id": "e7", "subject": "p7"});
    let bad_consent = json!({"t": "consent", "id": "c7", "subject": "p7", "class": "GOSSIP"});
    let r = ingest(&engine, vec![orphan.clone(), json!({"t": "???"})]).await;
    assert_eq!((r.fetched, r.rejected), (2, 2));
    assert!(
        r.rejections[0].reason.contains("not known to Rete"),
        "{:?}",
        r.rejections
    );
    assert_eq!(r.rejections[1].reason, "unknown item");
    // The same payload again: one dead letter, two attempts.
    ingest(&engine, vec![orphan]).await;
    let letters = engine
        .dead_letters("hospital", false, 10)
        .await
        .expect("letters");
    assert_eq!(letters.len(), 2);
    let e7 = letters
        .iter()
        .find(|d| d.external_id.as_deref() == Some("e7"))
        .expect("e7");
    assert_eq!(e7.attempts, 2);
    assert!(
        e7.payload.contains("\"subject\":\"p7\""),
        "the raw payload is kept"
    );
    // The person arrives; a retry takes the event in and resolves its letter.
    ingest(&engine, vec![person("p7", "Demo Sette", None), bad_consent]).await;
    let retry = engine
        .retry_dead_letters("hospital", &[], &NoProgress)
        .await
        .expect("retry");
    assert_eq!(retry.trigger, Trigger::Retry);
    assert_eq!(
        (retry.created, retry.rejected),
        (1, 2),
        "{:?}",
        retry.rejections
    );
    let open = engine
        .dead_letters("hospital", false, 10)
        .await
        .expect("open");
    let reasons: Vec<&str> = open.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(open.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("GOSSIP")), "{reasons:?}");
    let all = engine
        .dead_letters("hospital", true, 10)
        .await
        .expect("all");
    let resolved = all
        .iter()
        .find(|d| d.external_id.as_deref() == Some("e7"))
        .expect("e7");
    assert!(resolved.resolved_at.is_some());
    assert!(
        resolved
            .resolution
            .as_deref()
            .is_some_and(|r| r.starts_with("accepted by run"))
    );
}
hub_test!(
    an_item_that_cannot_go_in_is_parked_and_a_retry_takes_it,
    TestHub::builder().demo()
);

async fn a_run_follows_pages_and_moves_the_cursor_only_when_it_completes(hub: TestHub) {
    let upstream = Scripted::new(vec![
        page(
            vec![person("p1", "Demo A", None)],
            Some("page-2"),
            Some("t1"),
        ),
        page(vec![person("p2", "Demo B", None)], None, Some("t2")),
        // Second run: fails on its second page.
        page(
            vec![person("p3", "Demo C", None)],
            Some("page-2b"),
            Some("t3"),
        ),
        Err(FetchError::Permanent("404 on the next link".into())),
        // Third run: completes.
        page(
            vec![person("p3", "Demo C", None), person("p4", "Demo D", None)],
            None,
            Some("t4"),
        ),
    ]);
    let engine = engine(&hub, upstream.clone());
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("run");
    assert_eq!((r.status, r.created), (RunStatus::Succeeded, 2));
    assert_eq!(r.cursor_after.as_deref(), Some("t2"));
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("run 2");
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("404 on the next link")),
        "{:?}",
        r.error
    );
    assert_eq!(r.created, 1, "the first page went in");
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("run 3");
    assert_eq!(
        (r.status, r.created, r.unchanged),
        (RunStatus::Succeeded, 1, 1)
    );
    let fetches = upstream.fetches();
    assert_eq!(
        fetches,
        vec![
            (None, None),
            (None, Some("page-2".into())),
            (Some("t2".into()), None),
            (Some("t2".into()), Some("page-2b".into())),
            (Some("t2".into()), None),
        ],
        "the failed run did not move the cursor"
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_cursor WHERE cursor = 't4'")
            .await,
        1
    );
}
hub_test!(
    a_run_follows_pages_and_moves_the_cursor_only_when_it_completes,
    TestHub::builder().demo()
);

async fn transient_failures_are_retried_then_the_run_fails_and_the_circuit_opens(hub: TestHub) {
    let transient = || {
        Err(FetchError::Transient {
            reason: "503 from upstream".into(),
            retry_after: Some(Duration::from_millis(10)),
        })
    };
    let mut answers = vec![
        transient(),
        transient(),
        page(vec![person("p1", "Demo A", None)], None, None),
    ];
    // Then failures only: three attempts per run.
    answers.extend((0..30).map(|_| transient()));
    let upstream = Scripted::new(answers);
    let engine = engine(&hub, upstream.clone());
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("run");
    assert_eq!(
        (r.status, r.created),
        (RunStatus::Succeeded, 1),
        "two retries, then it went in"
    );
    let mut failed = 0;
    let open = loop {
        match engine.run("hospital", Trigger::Manual, &NoProgress).await {
            Ok(r) => {
                assert_eq!(r.status, RunStatus::Failed);
                assert!(
                    r.error
                        .as_deref()
                        .is_some_and(|e| e.contains("after 3 attempt(s): 503")
                            || e.contains("circuit is open")),
                    "{:?}",
                    r.error
                );
                failed += 1;
                assert!(failed < 10, "the circuit never opened");
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(open, EngineError::CircuitOpen { .. }), "{open}");
    assert!(open.to_string().contains("circuit is open"), "{open}");
    let status = engine.status().await.expect("status");
    assert!(status[0].circuit_open_for.is_some());
    assert_eq!(
        status[0].last_run.as_ref().map(|r| r.status.as_str()),
        Some("FAILED")
    );
}
hub_test!(
    transient_failures_are_retried_then_the_run_fails_and_the_circuit_opens,
    TestHub::builder().demo()
);

async fn one_process_at_a_time_and_a_dead_one_loses_its_lease(hub: TestHub) {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let engine = engine(&hub, Scripted::new(vec![]));
    // Another process holds the instance.
    let now = Utc::now();
    entities::sync_lease::Entity::insert(entities::sync_lease::ActiveModel {
        instance: Set("hospital".into()),
        holder: Set("other-host:4242:abc".into()),
        acquired_at: Set(now),
        expires_at: Set(now + chrono::Duration::seconds(60)),
    })
    .exec_without_returning(&hub.db)
    .await
    .expect("lease");
    let busy = engine.run("hospital", Trigger::Manual, &NoProgress).await;
    let Err(EngineError::Busy { holder, .. }) = &busy else {
        panic!("expected busy, got {:?}", busy.map(|r| r.status))
    };
    assert_eq!(holder, "other-host:4242:abc");
    assert!(busy.as_ref().err().is_some_and(|e| {
        e.to_string()
            .contains("is being synced by other-host:4242:abc")
    }),);
    // That process dies mid-run: its lease expires, its run stays RUNNING.
    hub.sql(&format!(
        "UPDATE sync_lease SET expires_at = '{}'",
        (now - chrono::Duration::seconds(1)).format("%Y-%m-%d %H:%M:%S%.6f+00:00")
    ))
    .await;
    hub.sql(&format!(
        "INSERT INTO sync_run (id, instance, kind, trigger, holder, status, started_at, fetched, created, updated, unchanged, skipped, rejected) \
         VALUES ('{}', 'hospital', 'scripted', 'MANUAL', 'other-host:4242:abc', 'RUNNING', '{}', 0, 0, 0, 0, 0, 0)",
        uuid::Uuid::now_v7(),
        (now - chrono::Duration::seconds(5)).format("%Y-%m-%d %H:%M:%S%.6f+00:00")
    ))
    .await;
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("taken over");
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_run WHERE status = 'INTERRUPTED' AND holder = 'other-host:4242:abc'")
            .await,
        1
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_lease").await,
        0,
        "released"
    );
}
hub_test!(
    one_process_at_a_time_and_a_dead_one_loses_its_lease,
    TestHub::builder().demo()
);

async fn a_process_that_lost_its_lease_cannot_write(hub: TestHub) {
    // Each page is written with the lease renewed in the same transaction: once
    // another process has the instance, this one writes nothing more.
    let upstream = Arc::new(Scripted {
        answers: Mutex::new(
            vec![
                page(vec![person("p1", "Demo A", None)], Some("2"), None),
                page(vec![person("p2", "Demo B", None)], None, Some("t2")),
            ]
            .into(),
        ),
        fetches: Mutex::new(Vec::new()),
        steal_on: Some((2, hub.db.clone())),
    });
    let engine = engine(&hub, upstream);
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("run");
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(
        r.error.as_deref(),
        Some("instance `hospital` lost its lease to another process; the run stopped")
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM external_ref WHERE external_id = 'p1'")
            .await,
        1
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM external_ref WHERE external_id = 'p2'")
            .await,
        0
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_cursor").await,
        0,
        "no cursor moved"
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_lease WHERE holder = 'thief'")
            .await,
        1,
        "the thief's lease stays"
    );
}
hub_test!(
    a_process_that_lost_its_lease_cannot_write,
    TestHub::builder().demo()
);

async fn an_unknown_instance_is_named(hub: TestHub) {
    let engine = engine(&hub, Scripted::new(vec![]));
    let err = engine
        .run("hospitl", Trigger::Manual, &NoProgress)
        .await
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("no connector instance named `hospitl` (configured: hospital)")
    );
}
hub_test!(an_unknown_instance_is_named, TestHub::builder().demo());

async fn integrators_see_their_agencys_instances_and_nothing_of_the_payloads(hub: TestHub) {
    let engine = hub.engine.clone().expect("engine");
    engine
        .ingest(
            "hospital",
            Trigger::Import,
            "bundle.json",
            vec![item(json!({"t": "event", "id": "e1", "subject": "nobody", "summary": "Demo secret summary"}))],
            &NoProgress,
        )
        .await
        .expect("ingest");
    let q = "{ syncStatus { name kind agencyId openDeadLetters lastRun { trigger status source fetched rejected } } \
               syncDeadLetters(instance: \"hospital\") { resourceType externalId reason attempts } }";
    let integrator = hub.token("ospedale-regina", "INTEGRATOR", "SYNC");
    let a = hub.gql(&integrator, q, json!({})).await.ok();
    assert_eq!(a.data("/syncStatus/0/name"), "hospital");
    assert_eq!(a.data("/syncStatus/0/openDeadLetters"), 1);
    assert_eq!(a.data("/syncStatus/0/lastRun/source"), "bundle.json");
    assert_eq!(a.data("/syncDeadLetters/0/externalId"), "e1");
    let body = a.body.to_string();
    assert!(
        !body.contains("Demo secret summary"),
        "no payload leaves: {body}"
    );
    // Another agency's integrator: no instances, and the name is not found.
    let other = hub.token("polo-nord", "INTEGRATOR", "SYNC");
    let a = hub
        .gql(
            &other,
            "{ syncDeadLetters(instance: \"hospital\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(a.codes(), vec!["NOT_FOUND"]);
    let a = hub
        .gql(&other, "{ syncStatus { name } }", json!({}))
        .await
        .ok();
    assert_eq!(a.data("/syncStatus"), &json!([]));
    // Not an integrator: FORBIDDEN.
    let a = hub
        .gql(
            &hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE"),
            "{ syncStatus { name } }",
            json!({}),
        )
        .await;
    assert_eq!(a.codes(), vec!["FORBIDDEN"]);
}
hub_test!(
    integrators_see_their_agencys_instances_and_nothing_of_the_payloads,
    TestHub::builder().demo().sync(|db| Engine::new(
        db,
        vec![Instance {
            name: "hospital".into(),
            config: config(30),
            connector: Scripted::new(vec![]),
        }],
    ))
);
