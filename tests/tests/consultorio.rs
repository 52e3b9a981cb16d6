//! The consultorio connector end to end: a consultorio's integrator uploads
//! its CSV export to a real hub over HTTP; the good rows go in, each bad row
//! is in the dead letters with its row number and reason, the report says so
//! without a personal value, the same file again changes nothing, a corrected
//! export updates, and nobody but the consultorio's integrators may upload.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use connectors::config::InstanceConfig;
use entities::{access_log_entry, sync_dead_letter, sync_run};
use rete_tests::{HubBuilder, StatusCode, TestHub, hub_test};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

const FIXTURE: &[u8] =
    include_bytes!("../../connectors/tests/fixtures/consultorio/export-2025-q1.csv");

fn hub() -> HubBuilder {
    TestHub::builder().demo().sync(|db| {
        let config: InstanceConfig =
            toml::from_str("kind = \"consultorio\"\nagency = \"consultorio-centro\"\n").unwrap();
        let instances =
            connectors::instances(&BTreeMap::from([("centro".to_string(), config)])).unwrap();
        connectors::Engine::new(db, instances)
    })
}

fn integrator(hub: &TestHub) -> String {
    hub.token("consultorio-centro", "INTEGRATOR", "SYNC")
}

async fn upload(
    hub: &TestHub,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (StatusCode, Value) {
    let mut req = hub
        .client
        .post(hub.url("/connectors/centro/upload"))
        .header("content-type", content_type)
        .body(body.to_vec());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let a = TestHub::answer(req.send().await.unwrap()).await;
    if a.status == StatusCode::OK {
        assert_eq!(a.content_type, "application/json; charset=utf-8");
    }
    (a.status, a.body)
}

fn code(body: &Value) -> &str {
    body.pointer("/errors/0/extensions/code")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Persons in the hub (the demo network's and the imported).
async fn persons(hub: &TestHub) -> i64 {
    hub.count("SELECT COUNT(*) FROM person").await
}

/// Health events in the hub that the instance's rows became.
async fn imported_events(hub: &TestHub) -> i64 {
    hub.count(
        "SELECT COUNT(*) FROM health_event WHERE source_agency_id = 'consultorio-centro' AND id IN \
         (SELECT local_id FROM external_ref WHERE instance = 'centro' AND entity = 'HEALTH_EVENT')",
    )
    .await
}

async fn open_dead_letters(hub: &TestHub) -> Vec<sync_dead_letter::Model> {
    sync_dead_letter::Entity::find()
        .filter(sync_dead_letter::Column::Instance.eq("centro"))
        .filter(sync_dead_letter::Column::ResolvedAt.is_null())
        .order_by_asc(sync_dead_letter::Column::Position)
        .all(&hub.db)
        .await
        .unwrap()
}

const REJECTED: [(u64, &str); 6] = [
    (6, "event_date `31/02/2025` is not a date"),
    (
        9,
        "mother_codice_fiscale is not a codice fiscale: it has a wrong check character (the 16th)",
    ),
    (10, "event `VISITA` is not PREGNANCY, BIRTH or COUNSELLING"),
    (
        11,
        "child_given_name is empty (a BIRTH row needs the child's data); \
         child_family_name is empty (a BIRTH row needs the child's data); \
         child_sex is empty (a BIRTH row needs the child's data)",
    ),
    (12, "counselling_kind is empty (a COUNSELLING row needs it)"),
    (14, "mother_family_name is empty"),
];

async fn an_export_goes_in_row_by_row_and_again_changes_nothing(hub: TestHub) {
    let token = integrator(&hub);
    let demo = persons(&hub).await;
    let (status, report) = upload(&hub, Some(&token), "text/csv", FIXTURE).await;
    assert_eq!(status, StatusCode::OK, "{report:#}");
    assert_eq!(report["instance"], json!("centro"));
    assert_eq!(report["status"], json!("SUCCEEDED"));
    assert_eq!(
        report["rows"],
        json!({"read": 13, "accepted": 7, "rejected": 6})
    );
    // 7 good rows: 5 of a mother and an event, 2 births of four records. Two
    // rows name a mother an earlier row created: linked, so `updated`.
    assert_eq!(
        report["records"],
        json!({"created": 16, "updated": 2, "unchanged": 0})
    );
    let rejections: Vec<(u64, String)> = report["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = REJECTED.iter().map(|(n, r)| (*n, r.to_string())).collect();
    assert_eq!(rejections, expected);
    // No personal value of the file in the answer.
    let text = report.to_string();
    for personal in ["Demo", "DMR", "Giulia", "333 ", "Torino", "1990"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }

    // Seven persons (Giulia and Elena are named twice, by codice fiscale) and
    // nine health events went in.
    assert_eq!(persons(&hub).await - demo, 7);
    assert_eq!(imported_events(&hub).await, 9);
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM person WHERE fiscal_code = 'DMBLRD25B11L219M' AND sex = 'MALE' AND birth_on IS NOT NULL")
            .await,
        1,
        "the child of row 4"
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM health_event WHERE kind = 'OUTPATIENT_VISIT' AND summary LIKE 'Colloquio di consulenza familiare%'")
            .await,
        2,
        "two counselling contacts (rows 5 and 7)"
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM health_event WHERE summary LIKE '%stanchezza%' OR summary LIKE '%mediatrice%'")
            .await,
        0,
        "the operator's notes are not copied"
    );

    // Every bad row is a dead letter with its row number and reason.
    let dead = open_dead_letters(&hub).await;
    let got: Vec<(u64, String)> = dead
        .iter()
        .map(|d| (d.position.unwrap() as u64, d.reason.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(dead.iter().all(|d| d.resource_type == "consultorio-row"));
    assert!(dead.iter().all(|d| !d.payload.contains("note_operatore")));
    assert_eq!(dead[0].external_id.as_deref(), Some("CONS-2025-0005"));

    // The run is in the history, and the access log holds one WRITE of the
    // seven persons, by the integrator, for purpose SYNC.
    let runs = sync_run::Entity::find()
        .filter(sync_run::Column::Instance.eq("centro"))
        .all(&hub.db)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (
            runs[0].trigger.as_str(),
            runs[0].status.as_str(),
            runs[0].rejected
        ),
        ("UPLOAD", "SUCCEEDED", 6)
    );
    let log = access_log_entry::Entity::find()
        .filter(access_log_entry::Column::Operation.eq("upload consultorio centro"))
        .all(&hub.db)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    let entry = &log[0];
    assert_eq!(
        (
            entry.operator.as_str(),
            entry.agency_id.as_str(),
            entry.role.as_str(),
            entry.purpose.as_str()
        ),
        (
            "consultorio-centro-operator",
            "consultorio-centro",
            "INTEGRATOR",
            "SYNC"
        )
    );
    let records: Vec<Value> = serde_json::from_str(&entry.records).unwrap();
    assert_eq!(records.len(), 7);
    assert!(
        records
            .iter()
            .all(|r| r["kind"] == json!("PERSON") && r["access"] == json!(["WRITE"]))
    );
    assert!(!entry.records.contains("Demo"));
    let touched = hub
        .count(&format!(
            "SELECT COUNT(*) FROM access_log_touch WHERE seq = {} AND kind = 'PERSON'",
            entry.seq
        ))
        .await;
    assert_eq!(touched, 7, "the entry is found by each person");
    let chain = rete_api::audit::chain::verify(&hub.db, &hub.audit_keys.public().unwrap())
        .await
        .unwrap();
    assert_eq!(chain.problem, None);

    // The same file again: nothing changes, the bad rows stay parked once.
    let (status, again) = upload(&hub, Some(&token), "text/csv; charset=utf-8", FIXTURE).await;
    assert_eq!(status, StatusCode::OK, "{again:#}");
    assert_eq!(
        again["records"],
        json!({"created": 0, "updated": 0, "unchanged": 18})
    );
    assert_eq!(again["rows"]["rejected"], json!(6));
    assert_eq!(persons(&hub).await - demo, 7);
    assert_eq!(imported_events(&hub).await, 9);
    assert_eq!(open_dead_letters(&hub).await.len(), 6);
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_dead_letter WHERE instance = 'centro'")
            .await,
        6
    );

    // A later export with row 6's date corrected and row 3's week moved:
    // the corrected row goes in and its dead letter is settled; row 3's
    // pregnancy event is updated in place.
    let corrected = String::from_utf8(FIXTURE.to_vec())
        .unwrap()
        .replace("PREGNANCY;31/02/2025", "PREGNANCY;28/02/2025")
        .replace(";20;12/08/2025;", ";21;12/08/2025;");
    let (status, later) = upload(&hub, Some(&token), "text/csv", corrected.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{later:#}");
    assert_eq!(
        later["records"],
        json!({"created": 2, "updated": 1, "unchanged": 17})
    );
    assert_eq!(later["rows"]["rejected"], json!(5));
    assert_eq!(persons(&hub).await - demo, 8);
    assert_eq!(imported_events(&hub).await, 10);
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM health_event WHERE summary = 'Gravidanza seguita al consultorio (settimana 21; parto previsto il 2025-08-12).'")
            .await,
        1
    );
    let open: Vec<Option<i64>> = open_dead_letters(&hub)
        .await
        .iter()
        .map(|d| d.position)
        .collect();
    assert_eq!(open, vec![Some(9), Some(10), Some(11), Some(12), Some(14)]);
}
hub_test!(
    an_export_goes_in_row_by_row_and_again_changes_nothing,
    hub()
);

async fn only_the_consultorios_integrators_may_upload(hub: TestHub) {
    let demo = persons(&hub).await;
    // No token, a bad token.
    let (status, body) = upload(&hub, None, "text/csv", FIXTURE).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
    let (status, body) = upload(&hub, Some("not-a-jwt"), "text/csv", FIXTURE).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
    // Another agency's integrator, the consultorio's health professional, the
    // consultorio's integrator with another purpose.
    for (agency, role, purpose) in [
        ("ospedale-regina", "INTEGRATOR", "SYNC"),
        ("consultorio-centro", "HEALTH_PROFESSIONAL", "SYNC"),
        ("consultorio-centro", "INTEGRATOR", "HEALTHCARE"),
    ] {
        let token = hub.token(agency, role, purpose);
        let (status, body) = upload(&hub, Some(&token), "text/csv", FIXTURE).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "FORBIDDEN"),
            "{agency} {role} {purpose}: {body}"
        );
    }
    // An instance that does not exist.
    let token = integrator(&hub);
    let a = TestHub::answer(
        hub.client
            .post(hub.url("/connectors/nowhere/upload"))
            .header("content-type", "text/csv")
            .bearer_auth(&token)
            .body(FIXTURE.to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (a.status, code(&a.body)),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    // Nothing of the refused uploads went in.
    assert_eq!(persons(&hub).await, demo);
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_run").await,
        0,
        "no run was started"
    );
}
hub_test!(only_the_consultorios_integrators_may_upload, hub());

async fn a_bad_file_is_refused_whole_with_its_problem(hub: TestHub) {
    let token = integrator(&hub);
    let demo = persons(&hub).await;
    let cases: [(&str, &[u8], StatusCode, &str); 5] = [
        ("text/csv", b"", StatusCode::BAD_REQUEST, "the file is empty"),
        (
            "text/csv",
            b"record_id;event\nR1;BIRTH\n",
            StatusCode::BAD_REQUEST,
            "the header lacks the required column(s) event_date, mother_codice_fiscale, mother_given_name, mother_family_name",
        ),
        (
            "text/csv",
            b"record_id;event;event_date;mother_codice_fiscale;mother_given_name;mother_family_name\nR1;BIRTH;2025-01-01;;Nicol\xE0;Demo\n",
            StatusCode::BAD_REQUEST,
            "the file is not UTF-8 text (line 2 holds a byte that is not): export it as \"CSV UTF-8\"",
        ),
        (
            "application/json",
            b"{}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the export with `Content-Type: text/csv`",
        ),
        (
            "text/csv; charset=windows-1252",
            b"x",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the export must be UTF-8, not windows-1252: export it as \"CSV UTF-8\"",
        ),
    ];
    for (content_type, body, want_status, want_message) in cases {
        let (status, answer) = upload(&hub, Some(&token), content_type, body).await;
        assert_eq!(status, want_status, "{answer}");
        assert_eq!(code(&answer), "BAD_USER_INPUT");
        assert_eq!(answer["errors"][0]["message"], json!(want_message));
    }
    assert_eq!(persons(&hub).await, demo);
}
hub_test!(a_bad_file_is_refused_whole_with_its_problem, hub());

async fn a_file_over_the_upload_limit_is_refused(hub: TestHub) {
    let token = integrator(&hub);
    let mut big = FIXTURE.to_vec();
    big.resize(4096, b'\n');
    let (status, answer) = upload(&hub, Some(&token), "text/csv", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(code(&answer), "BAD_USER_INPUT");
    // Within the limit, the same export goes in.
    let (status, _) = upload(&hub, Some(&token), "text/csv", FIXTURE).await;
    assert_eq!(status, StatusCode::OK);
}
hub_test!(
    a_file_over_the_upload_limit_is_refused,
    hub().limits(|l| l.max_upload_bytes = 3000)
);
