//! The access log end to end: entries for every operation that touches
//! personal data, no personal values in them, a chain that catches tampering,
//! fail-closed responses, and the privacy officer's queries.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use entities::enums::SubjectRole;
use entities::{access_log_entry, access_log_touch};
use rete_api::audit::chain::{self, entry_hash, query_hash};
use rete_api::audit::store::{self, ExportFilter};
use rete_api::audit::trail::{self, LoggedRecord};
use rete_api::audit::{HubKeys, PublicKey};
use rete_tests::{StatusCode, TestHub, hub_test};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

async fn entries(hub: &TestHub) -> Vec<access_log_entry::Model> {
    access_log_entry::Entity::find()
        .order_by_asc(access_log_entry::Column::Seq)
        .all(&hub.db)
        .await
        .unwrap()
}

fn public(hub: &TestHub) -> PublicKey {
    hub.audit_keys.public().unwrap()
}

async fn verify(hub: &TestHub) -> chain::VerifyReport {
    chain::verify(&hub.db, &public(hub)).await.unwrap()
}

const NAMES: &str = "query Names { cases(first: 3) { edges { node { id reference subjects { role person { id givenName familyName } } } } } }";

/// `n` reads that each leave one entry.
async fn reads(hub: &TestHub, n: usize) {
    let t = hub.polo_nord();
    for _ in 0..n {
        hub.gql(&t, NAMES, json!({})).await.ok();
    }
}

async fn every_read_leaves_an_entry_without_personal_values(hub: TestHub) {
    let nord = hub.polo_nord();
    // No personal data, no entry.
    hub.gql(&nord, "{ me { operator } agencies { id name } }", json!({}))
        .await
        .ok();
    assert!(entries(&hub).await.is_empty());

    let a = hub.gql(&nord, NAMES, json!({})).await.ok();
    let log = entries(&hub).await;
    assert_eq!(log.len(), 1);
    let e = &log[0];
    assert_eq!(
        (e.seq, e.operator.as_str(), e.agency_id.as_str()),
        (1, "polo-nord-operator", "polo-nord")
    );
    assert_eq!(
        (e.role.as_str(), e.purpose.as_str(), e.operation.as_str()),
        ("CASE_MANAGER", "CASE_MANAGEMENT", "query Names")
    );
    assert_eq!(e.query_hash, query_hash(NAMES));
    assert_eq!(e.prev_hash, chain::GENESIS);
    assert_eq!(e.hash, entry_hash(e));
    assert!(
        e.disclosed_classes.contains(" IDENTITY "),
        "{}",
        e.disclosed_classes
    );
    assert!(e.disclosed_classes.contains(" ADMINISTRATIVE "));

    // Ids and classes, never values: no name that left is in the entry.
    let family = a
        .data("/cases/edges/0/node/subjects/0/person/familyName")
        .as_str()
        .unwrap()
        .to_string();
    assert!(!e.records.contains(&family));
    let records: Vec<LoggedRecord> = serde_json::from_str(&e.records).unwrap();
    let case_id = Uuid::parse_str(a.data("/cases/edges/0/node/id").as_str().unwrap()).unwrap();
    let person_id = Uuid::parse_str(
        a.data("/cases/edges/0/node/subjects/0/person/id")
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let case = records.iter().find(|r| r.id == case_id).unwrap();
    assert_eq!(case.kind, "CASE");
    assert!(case.subjects.contains(&person_id));
    let person = records.iter().find(|r| r.id == person_id).unwrap();
    assert_eq!(person.kind, "PERSON");
    let identity = person
        .disclosed
        .iter()
        .find(|d| d.class == policy::DataClass::Identity)
        .unwrap();
    assert!(!identity.rule.is_empty() && !identity.basis.is_empty());

    // The keyed digest proves which value left, without the log holding it.
    let path = "cases.edges.0.node.subjects.0.person.familyName";
    let held = person.digests.iter().find(|d| d.path == path).unwrap();
    let key = &hub.audit_keys.digest;
    assert_eq!(
        held.hmac,
        trail::record_digest(key, "PERSON", person_id, path, &json!(family))
    );
    assert!(held.matches(key, "PERSON", person_id, &json!(family)));
    assert!(!held.matches(key, "PERSON", person_id, &json!("Demo Altro")));
    // Bound to its record: not the digest of the same value of another person.
    assert!(!held.matches(key, "PERSON", case_id, &json!(family)));
    let other_key = HubKeys::generate().unwrap();
    assert!(!held.matches(&other_key.digest, "PERSON", person_id, &json!(family)));

    // The index rows name the case and its subjects.
    let touches = access_log_touch::Entity::find().all(&hub.db).await.unwrap();
    assert!(touches.iter().any(|t| t.kind == "CASE" && t.id == case_id));
    assert!(
        touches
            .iter()
            .any(|t| t.kind == "PERSON" && t.id == person_id)
    );

    // What is withheld is logged too, with the reason.
    let hospital = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let h = hub
        .gql(
            &hospital,
            "{ cases(first: 1) { edges { node { riskLevel } } } }",
            json!({}),
        )
        .await;
    assert!(h.codes().iter().all(|c| c == "FIELD_WITHHELD"));
    let log = entries(&hub).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].agency_id, "ospedale-regina");
    assert_eq!(log[1].prev_hash, log[0].hash);
    assert!(
        log[1].withheld_classes.contains(" SOCIAL "),
        "{}",
        log[1].withheld_classes
    );

    // A mutation leaves an entry that says what it wrote.
    hub.gql(
        &nord,
        "mutation($i: AddCaseNoteInput!) { addCaseNote(input: $i) { id } }",
        json!({"i": {"caseId": case_id.to_string(), "body": "Colloquio svolto", "dataClass": "SOCIAL"}}),
    )
    .await
    .ok();
    let log = entries(&hub).await;
    assert_eq!(log.len(), 3);
    assert!(log[2].operation.starts_with("mutation"));
    let written: Vec<LoggedRecord> = serde_json::from_str(&log[2].records).unwrap();
    assert!(
        written
            .iter()
            .any(|r| r.id == case_id && r.access.contains(&trail::Access::Write))
    );

    let report = verify(&hub).await;
    assert_eq!(report.problem, None);
    assert_eq!((report.entries, report.head.seq), (3, 3));
}
hub_test!(
    every_read_leaves_an_entry_without_personal_values,
    TestHub::builder().demo()
);

async fn an_edited_entry_is_named(hub: TestHub) {
    reads(&hub, 5).await;
    assert_eq!(verify(&hub).await.problem, None);
    hub.sql("UPDATE access_log_entry SET operator = 'someone-else' WHERE seq = 3")
        .await;
    let p = verify(&hub).await.problem.unwrap();
    assert_eq!(p.seq, 3);
    assert!(p.what.contains("edited"), "{}", p.what);
}
hub_test!(an_edited_entry_is_named, TestHub::builder().demo());

async fn a_deleted_entry_is_named(hub: TestHub) {
    reads(&hub, 5).await;
    hub.sql("DELETE FROM access_log_touch WHERE seq = 4").await;
    hub.sql("DELETE FROM access_log_entry WHERE seq = 4").await;
    let p = verify(&hub).await.problem.unwrap();
    assert_eq!(p.seq, 5);
    assert!(p.what.contains("entry 4 is missing"), "{}", p.what);
}
hub_test!(a_deleted_entry_is_named, TestHub::builder().demo());

async fn an_inserted_entry_is_caught(hub: TestHub) {
    reads(&hub, 5).await;
    // Make room at 4 and forge an entry there that links to 3 and hashes
    // right: the real entry 4, now 5, no longer follows.
    hub.sql("DELETE FROM access_log_touch WHERE seq >= 4").await;
    hub.sql("UPDATE access_log_entry SET seq = seq + 1000000 WHERE seq >= 4")
        .await;
    hub.sql("UPDATE access_log_entry SET seq = seq - 999999 WHERE seq >= 1000000")
        .await;
    let log = entries(&hub).await;
    let mut forged = log[2].clone();
    forged.seq = 4;
    forged.operator = "nobody".into();
    forged.records = "[]".into();
    forged.prev_hash = log[2].hash.clone();
    forged.hash = entry_hash(&forged);
    forged.into_active_model().insert(&hub.db).await.unwrap();
    let p = verify(&hub).await.problem.unwrap();
    assert_eq!(p.seq, 5);
    assert!(p.what.contains("does not follow entry 4"), "{}", p.what);
}
hub_test!(an_inserted_entry_is_caught, TestHub::builder().demo());

async fn reordered_entries_are_caught(hub: TestHub) {
    reads(&hub, 5).await;
    hub.sql("DELETE FROM access_log_touch WHERE seq IN (2, 3)")
        .await;
    hub.sql("UPDATE access_log_entry SET seq = 1000002 WHERE seq = 2")
        .await;
    hub.sql("UPDATE access_log_entry SET seq = 2 WHERE seq = 3")
        .await;
    hub.sql("UPDATE access_log_entry SET seq = 3 WHERE seq = 1000002")
        .await;
    let p = verify(&hub).await.problem.unwrap();
    assert_eq!(p.seq, 2);
    assert!(p.what.contains("does not follow"), "{}", p.what);
}
hub_test!(reordered_entries_are_caught, TestHub::builder().demo());

async fn a_changed_index_row_is_caught(hub: TestHub) {
    reads(&hub, 3).await;
    // Hide entry 2 from a subject's report by removing its index row.
    let t = access_log_touch::Entity::find().all(&hub.db).await.unwrap();
    let row = t.iter().find(|t| t.seq == 2 && t.kind == "PERSON").unwrap();
    access_log_touch::Entity::delete_by_id((row.seq, row.kind.clone(), row.id))
        .exec(&hub.db)
        .await
        .unwrap();
    let p = verify(&hub).await.problem.unwrap();
    assert_eq!(p.seq, 2);
    assert!(p.what.contains("index rows"), "{}", p.what);
}
hub_test!(a_changed_index_row_is_caught, TestHub::builder().demo());

async fn no_data_leaves_when_the_log_cannot_be_written(hub: TestHub) {
    let nord = hub.polo_nord();
    hub.sql("ALTER TABLE access_log_entry RENAME TO access_log_entry_away")
        .await;
    let body = json!({"query": NAMES});
    let a = hub
        .post(Some(&nord), body.clone(), "application/json")
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.codes(), ["ACCESS_LOG_UNAVAILABLE"]);
    assert!(a.body.get("data").is_none(), "{:#}", a.body);
    assert!(!a.body.to_string().contains("Demo"));
    // Queries without personal data are not logged, so they still work.
    let me = hub.gql(&nord, "{ me { operator } }", json!({})).await;
    assert!(me.errors().is_empty());
    hub.sql("ALTER TABLE access_log_entry_away RENAME TO access_log_entry")
        .await;
    hub.gql(&nord, NAMES, json!({})).await.ok();
    assert_eq!(entries(&hub).await.len(), 1);
}
hub_test!(
    no_data_leaves_when_the_log_cannot_be_written,
    TestHub::builder().demo()
);

async fn concurrent_requests_keep_one_linear_chain(hub: TestHub) {
    let hub = std::sync::Arc::new(hub);
    let tokens = [
        hub.polo_nord(),
        hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT"),
        hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE"),
    ];
    let mut tasks = Vec::new();
    for i in 0..60 {
        let hub = hub.clone();
        let t = tokens[i % tokens.len()].clone();
        tasks.push(tokio::spawn(async move {
            hub.gql(&t, NAMES, json!({})).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = entries(&hub).await;
    assert_eq!(log.len(), 60);
    assert!(log.iter().enumerate().all(|(i, e)| e.seq == i as i64 + 1));
    let report = verify(&hub).await;
    assert_eq!(report.problem, None);
    assert_eq!(report.entries, 60);
}
hub_test!(
    concurrent_requests_keep_one_linear_chain,
    TestHub::builder().demo()
);

async fn pruning_leaves_a_signed_checkpoint_and_a_verifiable_chain(hub: TestHub) {
    reads(&hub, 5).await;
    let log = entries(&hub).await;
    let cp = store::prune(&hub.db, &hub.audit_keys, log[2].at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((cp.seq, cp.hash.as_str()), (2, log[1].hash.as_str()));
    assert_eq!(entries(&hub).await.len(), 3);
    let report = verify(&hub).await;
    assert_eq!(report.problem, None);
    assert_eq!(
        (report.entries, report.from_checkpoint, report.head.stored),
        (3, Some(2), 3)
    );
    // The chain goes on from the checkpoint.
    reads(&hub, 1).await;
    assert_eq!(verify(&hub).await.problem, None);
    // A checkpoint moved by hand no longer matches its signature.
    hub.sql("UPDATE access_log_checkpoint SET hash = 'forged'")
        .await;
    let p = verify(&hub).await.problem.unwrap();
    assert!(p.what.contains("signature"), "{}", p.what);
}
hub_test!(
    pruning_leaves_a_signed_checkpoint_and_a_verifiable_chain,
    TestHub::builder().demo()
);

async fn a_bundle_verifies_offline_with_the_public_key_only(hub: TestHub) {
    reads(&hub, 5).await;
    let filter = ExportFilter {
        from_seq: Some(2),
        to_seq: Some(4),
        ..ExportFilter::default()
    };
    let b = store::bundle(&hub.db, &hub.audit_keys, &filter)
        .await
        .unwrap();
    assert_eq!(b.entries.len(), 3);
    // Through a file and back, as an auditor receives it.
    let text = serde_json::to_string(&b).unwrap();
    let b: store::Bundle = serde_json::from_str(&text).unwrap();
    let claims = store::verify_bundle(&b, &public(&hub)).unwrap();
    assert_eq!(
        (claims.first_seq, claims.last_seq, claims.head_seq),
        (2, 4, 5)
    );
    // Another key, an edited entry, a dropped last entry: each caught.
    let stranger = HubKeys::generate().unwrap().public().unwrap();
    assert!(store::verify_bundle(&b, &stranger).is_err());
    let mut edited = b.clone();
    edited.entries[1].purpose = "STATISTICS".into();
    assert_eq!(
        store::verify_bundle(&edited, &public(&hub))
            .unwrap_err()
            .seq,
        3
    );
    let mut short = b.clone();
    short.entries.pop();
    assert!(
        store::verify_bundle(&short, &public(&hub))
            .unwrap_err()
            .what
            .contains("removed from the end")
    );
    // A filtered (non-contiguous) export cannot be a bundle.
    let filtered = ExportFilter {
        agency: Some("polo-nord".into()),
        ..ExportFilter::default()
    };
    assert!(
        store::bundle(&hub.db, &hub.audit_keys, &filtered)
            .await
            .is_err()
    );
}
hub_test!(
    a_bundle_verifies_offline_with_the_public_key_only,
    TestHub::builder().demo()
);

const LOG: &str = "query($f: AccessLogFilter) { accessLog(filter: $f, first: 20) { totalCount edges { node { seq operator agencyId purpose operation records { kind id access disclosed { dataClass rule basis } withheld { dataClass } } recordsNotShown } } } }";

fn po(hub: &TestHub, agency: &str) -> String {
    hub.token_as(&format!("{agency}-dpo"), agency, "PRIVACY_OFFICER", "AUDIT")
}

async fn privacy_officers_query_the_log(hub: TestHub) {
    let nord = hub.polo_nord();
    let a = hub.gql(&nord, NAMES, json!({})).await.ok();
    let case = a
        .data("/cases/edges/0/node/id")
        .as_str()
        .unwrap()
        .to_string();
    let person = a
        .data("/cases/edges/0/node/subjects/0/person/id")
        .as_str()
        .unwrap()
        .to_string();

    // Only privacy officers with purpose AUDIT.
    for (role, purpose) in [
        ("CASE_MANAGER", "CASE_MANAGEMENT"),
        ("PRIVACY_OFFICER", "CASE_MANAGEMENT"),
    ] {
        let t = hub.token("polo-nord", role, purpose);
        assert_eq!(hub.gql(&t, LOG, json!({})).await.codes(), ["FORBIDDEN"]);
        let r = hub
            .gql(
                &t,
                "query($p: ID!) { subjectAccessReport(personId: $p) { personId } }",
                json!({"p": person}),
            )
            .await;
        assert_eq!(r.codes(), ["FORBIDDEN"]);
        let q = hub
            .gql(&t, "{ breakGlassReviewQueue { grantId } }", json!({}))
            .await;
        assert_eq!(q.codes(), ["FORBIDDEN"]);
    }

    let dpo = po(&hub, "polo-nord");
    let l = hub
        .gql(&dpo, LOG, json!({"f": {"caseId": case}}))
        .await
        .ok();
    assert_eq!(l.data("/accessLog/totalCount"), 1);
    let node = l.data("/accessLog/edges/0/node");
    assert_eq!(node["operator"], "polo-nord-operator");
    assert_eq!(node["operation"], "query Names");
    let recs = node["records"].as_array().unwrap();
    assert!(recs.iter().any(|r| r["id"] == json!(case)));

    // Filters by class and decision, purpose, agency, subject.
    let by = |f: Value| {
        let hub = &hub;
        let dpo = dpo.clone();
        async move {
            hub.gql(&dpo, LOG, json!({"f": f}))
                .await
                .ok()
                .data("/accessLog/totalCount")
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(
        by(json!({"caseId": case, "dataClass": "IDENTITY", "decision": "DISCLOSED"})).await,
        1
    );
    assert_eq!(
        by(json!({"caseId": case, "dataClass": "HEALTH", "decision": "DISCLOSED"})).await,
        0
    );
    assert_eq!(
        by(json!({"caseId": case, "purpose": "HEALTHCARE"})).await,
        0
    );
    assert_eq!(
        by(json!({"subjectId": person, "agencyId": "polo-nord"})).await,
        1
    );

    // The privacy officer's own reads are logged.
    let mine = by(json!({"operator": "polo-nord-dpo"})).await;
    assert!(mine >= 5, "{mine}");
    let own = hub
        .gql(
            &dpo,
            LOG,
            json!({"f": {"operator": "polo-nord-dpo", "caseId": case}}),
        )
        .await
        .ok();
    let reads = own.data("/accessLog/edges").as_array().unwrap();
    assert!(!reads.is_empty());
    assert!(reads.iter().all(|e| e["node"]["purpose"] == "AUDIT"));
    assert!(
        reads[0]["node"]["records"][0]["access"]
            .as_array()
            .unwrap()
            .contains(&json!("AUDIT_READ"))
    );

    // Another agency's privacy officer, with no link to the case, sees none of it.
    let other = po(&hub, "coop-ponte");
    let none = hub
        .gql(&other, LOG, json!({"f": {"caseId": case}}))
        .await
        .ok();
    assert_eq!(none.data("/accessLog/totalCount"), 0);
    let report = hub
        .gql(
            &other,
            "query($p: ID!) { subjectAccessReport(personId: $p) { personId } }",
            json!({"p": person}),
        )
        .await;
    assert_eq!(report.codes(), ["NOT_FOUND"]);

    // The subject access report: who saw which classes, when, why, on which basis.
    let r = hub
        .gql(
            &dpo,
            "query($p: ID!) { subjectAccessReport(personId: $p) { personId disclosures { seq agencyId role purpose dataClasses bases wrote } restricted { count basis } } }",
            json!({"p": person}),
        )
        .await
        .ok();
    let d = r
        .data("/subjectAccessReport/disclosures")
        .as_array()
        .unwrap();
    let first = d.iter().find(|x| x["seq"] == 1).unwrap();
    assert_eq!(first["agencyId"], "polo-nord");
    assert_eq!(first["purpose"], "CASE_MANAGEMENT");
    assert!(
        first["dataClasses"]
            .as_array()
            .unwrap()
            .contains(&json!("IDENTITY"))
    );
    assert!(!first["bases"].as_array().unwrap().is_empty());
    assert!(r.data("/subjectAccessReport/restricted").is_null());
    // No personal value in the report.
    assert!(!r.body.to_string().contains("Demo"));
}
hub_test!(privacy_officers_query_the_log, TestHub::builder().demo());

async fn break_glass_grants_wait_in_the_review_queue(hub: TestHub) {
    let nord = hub.polo_nord();
    let a = hub.gql(&nord, NAMES, json!({})).await.ok();
    let case = a
        .data("/cases/edges/0/node/id")
        .as_str()
        .unwrap()
        .to_string();
    let er = hub.token_as(
        "dr-rossi",
        "ospedale-regina",
        "HEALTH_PROFESSIONAL",
        "EMERGENCY",
    );
    hub.gql(
        &er,
        "mutation($i: RequestBreakGlassInput!) { requestBreakGlass(input: $i) { id } }",
        json!({"i": {"caseId": case, "justification": "Paziente incosciente in pronto soccorso, serve il quadro del caso"}}),
    )
    .await
    .ok();
    hub.gql(
        &er,
        "query($id: ID!) { case(id: $id) { reference } }",
        json!({"id": case}),
    )
    .await;
    let dpo = po(&hub, "polo-nord");
    let q = hub
        .gql(
            &dpo,
            "{ breakGlassReviewQueue { grantId caseId agencyId operator justification entriesUnderGrant } }",
            json!({}),
        )
        .await
        .ok();
    let items = q.data("/breakGlassReviewQueue").as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["caseId"], json!(case));
    assert_eq!(items[0]["operator"], "dr-rossi");
    assert!(items[0]["entriesUnderGrant"].as_u64().unwrap() >= 1);
    let grant = items[0]["grantId"].clone();
    hub.gql(
        &dpo,
        "mutation($i: ReviewBreakGlassInput!) { reviewBreakGlass(input: $i) { id } }",
        json!({"i": {"grantId": grant, "decision": "APPROVE", "note": "Accesso giustificato"}}),
    )
    .await
    .ok();
    let after = hub
        .gql(&dpo, "{ breakGlassReviewQueue { grantId } }", json!({}))
        .await
        .ok();
    assert_eq!(after.data("/breakGlassReviewQueue"), &json!([]));
}
hub_test!(
    break_glass_grants_wait_in_the_review_queue,
    TestHub::builder().demo()
);

async fn a_report_on_the_person_a_child_is_protected_from_is_restricted(hub: TestHub) {
    let f = hub.family_with_father().await;
    let (case, father, child) = (f.case, f.father, f.child);
    hub.case_led_by("polo-sud", &[(&father, SubjectRole::Father)])
        .await;
    let nord = hub.polo_nord();
    hub.gql(
        &nord,
        "mutation($i: RecordProtectionInput!) { recordProtection(input: $i) { id } }",
        json!({"i": {"caseId": case, "protectedPersonId": child, "fromPersonId": father, "reason": "Decreto di limitazione della responsabilità genitoriale"}}),
    )
    .await
    .ok();
    // The child's case team reads the family; the father's own service reads him.
    hub.gql(
        &nord,
        "query($id: ID!) { case(id: $id) { subjects { person { id givenName } } } }",
        json!({"id": case}),
    )
    .await
    .ok();
    hub.gql(
        &nord,
        "query($id: ID!) { person(id: $id) { givenName } }",
        json!({"id": father}),
    )
    .await
    .ok();
    let sud = hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT");
    hub.gql(
        &sud,
        "query($id: ID!) { person(id: $id) { givenName familyName } }",
        json!({"id": father}),
    )
    .await
    .ok();

    // The father's agency's privacy officer answers his art. 15 request.
    let dpo = po(&hub, "polo-sud");
    let r = hub
        .gql(
            &dpo,
            "query($p: ID!) { subjectAccessReport(personId: $p) { disclosures { seq agencyId dataClasses } restricted { count basis } } }",
            json!({"p": father}),
        )
        .await
        .ok();
    let d = r
        .data("/subjectAccessReport/disclosures")
        .as_array()
        .unwrap();
    assert!(d.iter().any(|x| x["agencyId"] == "polo-sud"));
    assert!(
        d.iter().all(|x| x["agencyId"] != "polo-nord"),
        "the protective agency's reads are not in the report: {:#}",
        r.body
    );
    let restricted = r.data("/subjectAccessReport/restricted");
    assert!(restricted["count"].as_u64().unwrap() >= 1);
    assert!(restricted["basis"].as_str().unwrap().contains("art. 23"));
    // Neither the child nor the protective case is named.
    let text = r.body.to_string();
    assert!(!text.contains(&child) && !text.contains(&case));

    // The same officer's log view: the protective agency's reads of the
    // father, direct or through the child's case, are not there either.
    let l = hub
        .gql(&dpo, LOG, json!({"f": {"subjectId": father}}))
        .await
        .ok();
    let agencies: Vec<&Value> = l
        .data("/accessLog/edges")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["agencyId"])
        .collect();
    assert!(agencies.contains(&&json!("polo-sud")), "{agencies:?}");
    assert!(!agencies.contains(&&json!("polo-nord")), "{agencies:?}");
    // The child's own case team's officer sees them all.
    let nord_dpo = po(&hub, "polo-nord");
    let l = hub
        .gql(
            &nord_dpo,
            LOG,
            json!({"f": {"subjectId": father, "agencyId": "polo-nord"}}),
        )
        .await
        .ok();
    assert!(l.data("/accessLog/totalCount").as_u64().unwrap() >= 2);
}
hub_test!(
    a_report_on_the_person_a_child_is_protected_from_is_restricted,
    TestHub::builder().demo()
);

/// The group commit's linger. Under load (entries coming faster than one per
/// linger) a batch waits for the operations still under way, and goes as soon
/// as every one of them has handed its entry over: a closed loop of clients
/// all waiting for their commit must not wait out the linger as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_lingers_only_for_operations_still_under_way() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("log.db").display());
    let db = rete_api::db::connect(&url, 2).await.unwrap();
    rete_api::db::migrate(&db).await.unwrap();
    // A linger far longer than any commit here, so that waiting it out shows.
    let linger = Duration::from_secs(3);
    let log = rete_api::audit::AuditLog::start(
        &url,
        std::sync::Arc::new(HubKeys::generate().unwrap()),
        256,
        linger,
    )
    .await
    .unwrap();
    let draft = || rete_api::audit::Draft {
        at: rete_api::audit::Draft::now(),
        operator: "op-1".into(),
        agency_id: "polo-nord".into(),
        role: "CASE_MANAGER".into(),
        purpose: "CASE_MANAGEMENT".into(),
        operation: "query CaseById".into(),
        query_hash: query_hash("{ case }"),
        records: Vec::new(),
        policy_version: "v1".into(),
    };

    // A lone entry never waits.
    let t = Instant::now();
    log.append(draft(), None).await.unwrap();
    assert!(
        t.elapsed() < linger / 2,
        "a lone entry waited {:?}",
        t.elapsed()
    );

    // A burst: entries now come faster than one per linger.
    let burst: Vec<_> = (0..20).map(|_| log.append(draft(), None)).collect();
    for r in futures::future::join_all(burst).await {
        r.unwrap();
    }

    // Four operations under way, all handing over: nothing is left to wait for.
    let t = Instant::now();
    let ops: Vec<_> = (0..4)
        .map(|_| {
            let expecting = log.expect_entry();
            log.append(draft(), Some(expecting))
        })
        .collect();
    for r in futures::future::join_all(ops).await {
        r.unwrap();
    }
    assert!(
        t.elapsed() < linger / 2,
        "the batch waited {:?} with no operation left under way",
        t.elapsed()
    );

    // One more operation under way: the batch waits for it, and goes when it
    // ends (here without an entry) rather than at the end of the linger.
    let busy = log.expect_entry();
    let t = Instant::now();
    let ends = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        drop(busy);
    });
    let expecting = log.expect_entry();
    log.append(draft(), Some(expecting)).await.unwrap();
    ends.await.unwrap();
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "the batch did not wait for the operation under way ({waited:?})"
    );
    assert!(
        waited < linger,
        "the batch waited out the linger ({waited:?}) after the last operation ended"
    );
    // Every entry is in the chain, in order.
    let head = chain::head(&db).await.unwrap();
    assert_eq!(head.seq, 1 + 20 + 4 + 1);
}
