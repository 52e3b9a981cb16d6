//! The third-sector connector end to end: a reception community (the test
//! peer, `connectors::third_sector::peer`) sends signed webhooks to a real hub
//! over HTTP. An arrival is recorded and a departure ends the placement, both
//! visible to the lead social service in `Placement.events` and `endOn`; a
//! review completes the open verification; the same event again changes
//! nothing; forged, tampered, stale and replayed requests are refused and
//! write nothing; an event about a placement the community does not host is
//! a dead letter with its reason. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use connectors::config::InstanceConfig;
use connectors::third_sector::peer::CommunityPeer;
use connectors::third_sector::signature;
use entities::enums::VerificationOutcome;
use entities::{access_log_entry, facility, placement, sync_dead_letter, verification};
use rete_tests::{HubBuilder, StatusCode, TestHub, hub_test};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

const SECRET: &str = "comunita-aurora-and-rete-share-this-secret-0123456789";

fn hub() -> HubBuilder {
    TestHub::builder().demo().sync(|db| {
        // The secret is read when the connector is built; the file can go then.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aurora.secret");
        std::fs::write(&file, format!("{SECRET}\n")).unwrap();
        let config: InstanceConfig = toml::from_str(&format!(
            "kind = \"third-sector\"\nagency = \"comunita-aurora\"\nsecret = {{ file = {:?} }}\n",
            file.display().to_string()
        ))
        .unwrap();
        config.validate("aurora").unwrap();
        let instances =
            connectors::instances(&BTreeMap::from([("aurora".to_string(), config)])).unwrap();
        connectors::Engine::new(db, instances)
    })
}

async fn community(hub: &TestHub) -> CommunityPeer {
    let peer = CommunityPeer::start(SECRET).await.unwrap();
    peer.set_hub(hub.url("/connectors/aurora/webhook"));
    peer
}

/// An active placement in a facility that `operator` runs, started before
/// yesterday.
async fn placement_at(hub: &TestHub, operator: &str) -> placement::Model {
    let yesterday = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let facilities: Vec<Uuid> = facility::Entity::find()
        .filter(facility::Column::OperatorAgencyId.eq(operator))
        .all(&hub.db)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    placement::Entity::find()
        .filter(placement::Column::FacilityId.is_in(facilities))
        .filter(placement::Column::EndOn.is_null())
        .filter(placement::Column::StartOn.lt(yesterday))
        .order_by_asc(placement::Column::Id)
        .one(&hub.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("a demo placement at {operator}"))
}

/// The case's lead agency's case manager.
async fn lead_token(hub: &TestHub, case_id: Uuid) -> String {
    let case = entities::case_file::Entity::find_by_id(case_id)
        .one(&hub.db)
        .await
        .unwrap()
        .unwrap();
    hub.token(&case.lead_agency_id, "CASE_MANAGER", "CASE_MANAGEMENT")
}

fn event(id: &str, kind: &str, placement: Uuid, at: &str) -> Value {
    json!({"id": id, "type": kind, "placement_id": placement.to_string(), "occurred_at": at})
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Some(o), Value::Object(extra)) = (v.as_object_mut(), extra) {
        o.extend(extra);
    }
    v
}

/// RFC 3339, UTC, `minutes` ago.
fn ago(minutes: i64) -> (String, chrono::NaiveDate) {
    let at = chrono::Utc::now() - chrono::Duration::minutes(minutes);
    (
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        at.date_naive(),
    )
}

/// The placement's reviews: (open, done).
async fn reviews(
    hub: &TestHub,
    placement: Uuid,
) -> (Vec<verification::Model>, Vec<verification::Model>) {
    verification::Entity::find()
        .filter(verification::Column::PlacementId.eq(placement))
        .all(&hub.db)
        .await
        .unwrap()
        .into_iter()
        .partition(|v| v.done_on.is_none())
}

async fn count(hub: &TestHub, table: &str) -> i64 {
    hub.count(&format!("SELECT COUNT(*) FROM {table}")).await
}

fn code(body: &Value) -> &str {
    body.pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("")
}

async fn a_community_records_an_arrival_and_its_departure_ends_the_placement(hub: TestHub) {
    let peer = community(&hub).await;
    let p = placement_at(&hub, "comunita-aurora").await;
    let (open_before, done_before) = reviews(&hub, p.id).await;
    assert!(!open_before.is_empty(), "the demo schedules a review");
    // The earliest one due is the one a review completes.
    let earliest = open_before.iter().min_by_key(|v| v.due_on).unwrap().id;

    let (arrived_at, _) = ago(180);
    let arrived = event("evt-0001", "guest.arrived", p.id, &arrived_at);
    let arrived = with(arrived, json!({"note": "Arrivate con la mediatrice"}));
    let r = peer.send(&arrived).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:#}", r.body);
    assert_eq!(
        r.body,
        json!({"accepted": true, "event": "evt-0001", "outcome": "created", "reason": null})
    );

    // The same event again, as a new delivery (fresh nonce): nothing changes.
    let again = peer.send(&arrived).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["outcome"], json!("unchanged"));
    // The same id with other content is refused, never applied.
    let changed = peer
        .send(&with(arrived.clone(), json!({"note": "Altro testo"})))
        .await;
    assert_eq!(changed.body["outcome"], json!("dead-lettered"));
    assert!(
        changed.body["reason"]
            .as_str()
            .unwrap()
            .contains("already recorded with other content"),
        "{:#}",
        changed.body
    );
    assert!(!changed.body.to_string().contains("Altro testo"));

    let (reviewed_at, reviewed_on) = ago(120);
    let review = with(
        event("evt-0002", "verification.done", p.id, &reviewed_at),
        json!({"outcome": "CONCERNS", "note": "Colloquio con l'educatrice"}),
    );
    let r = peer.send(&review).await;
    assert_eq!(r.body["outcome"], json!("created"), "{:#}", r.body);
    let (open, done) = reviews(&hub, p.id).await;
    assert_eq!(
        (open.len(), done.len()),
        (open_before.len() - 1, done_before.len() + 1)
    );
    let completed = done.iter().find(|v| v.id == earliest).expect("completed");
    assert_eq!(
        (
            completed.done_on,
            completed.outcome,
            completed.recorded_by.as_deref(),
            completed.notes.as_deref()
        ),
        (
            Some(reviewed_on),
            Some(VerificationOutcome::Concerns),
            Some("connector:aurora"),
            Some("Colloquio con l'educatrice")
        )
    );

    let (departed_at, departed_on) = ago(60);
    let departed = with(
        event("evt-0003", "guest.departed", p.id, &departed_at),
        json!({"end_reason": "Rientro in famiglia"}),
    );
    let r = peer.send(&departed).await;
    assert_eq!(r.body["outcome"], json!("created"), "{:#}", r.body);

    // The lead social service sees the end and the events.
    let token = lead_token(&hub, p.case_id).await;
    let a = hub
        .gql(
            &token,
            "query($c: ID!) { case(id: $c) { placements { id endOn endReason events { kind occurredAt note reportedBy } } } }",
            json!({"c": p.case_id.to_string()}),
        )
        .await
        .ok();
    let placements = a.data("/case/placements").as_array().unwrap();
    let seen = placements
        .iter()
        .find(|x| x["id"] == json!(p.id.to_string()))
        .expect("the placement");
    assert_eq!(seen["endOn"], json!(departed_on.to_string()));
    assert_eq!(seen["endReason"], json!("Rientro in famiglia"));
    let events = seen["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ARRIVAL", "VERIFICATION", "DEPARTURE"]);
    assert_eq!(events[0]["note"], json!("Arrivate con la mediatrice"));
    assert!(
        events
            .iter()
            .all(|e| e["reportedBy"] == json!("comunita-aurora"))
    );
    let time = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    assert_eq!(
        time(events[0]["occurredAt"].as_str().unwrap()),
        time(&arrived_at)
    );

    // A later departure keeps the first end; the event is kept.
    let late = with(
        event("evt-0004", "guest.departed", p.id, &ago(30).0),
        json!({"end_reason": "Altro"}),
    );
    assert_eq!(peer.send(&late).await.body["outcome"], json!("created"));
    let ended = placement::Entity::find_by_id(p.id)
        .one(&hub.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ended.end_on, ended.end_reason.as_deref()),
        (Some(departed_on), Some("Rientro in famiglia"))
    );

    // Each recorded event is a WRITE of the case by the community's webhook.
    let log = access_log_entry::Entity::find()
        .filter(access_log_entry::Column::Operation.eq("webhook third-sector aurora"))
        .all(&hub.db)
        .await
        .unwrap();
    assert_eq!(log.len(), 5, "arrival twice, review, two departures");
    for entry in &log {
        assert_eq!(
            (
                entry.operator.as_str(),
                entry.agency_id.as_str(),
                entry.role.as_str(),
                entry.purpose.as_str()
            ),
            ("webhook:aurora", "comunita-aurora", "INTEGRATOR", "SYNC")
        );
        assert!(entry.records.contains(&p.case_id.to_string()));
        assert!(entry.records.contains("WRITE"));
    }
    assert_eq!(
        hub.count(
            "SELECT COUNT(*) FROM sync_run WHERE instance = 'aurora' AND trigger = 'UPLOAD' \
             AND status = 'SUCCEEDED' AND source LIKE 'webhook evt-%'"
        )
        .await,
        6
    );
}

hub_test!(
    a_community_records_an_arrival_and_its_departure_ends_the_placement,
    hub()
);

async fn forged_stale_and_replayed_webhooks_are_refused_and_write_nothing(hub: TestHub) {
    let peer = community(&hub).await;
    let p = placement_at(&hub, "comunita-aurora").await;
    let now = chrono::Utc::now().to_rfc3339();
    let e = event("evt-1", "guest.present", p.id, &now);

    let r = peer.send_with_wrong_secret(&e).await;
    assert_eq!(
        (r.status, code(&r.body)),
        (StatusCode::UNAUTHORIZED, "BAD_SIGNATURE")
    );
    let r = peer.send_tampered(&e).await;
    assert_eq!(
        (r.status, code(&r.body)),
        (StatusCode::UNAUTHORIZED, "BAD_SIGNATURE")
    );
    let r = peer.send_with_old_timestamp(&e).await;
    assert_eq!(
        (r.status, code(&r.body)),
        (StatusCode::UNAUTHORIZED, "STALE_TIMESTAMP"),
        "{:#}",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("before")
    );
    let r = peer.send_raw(e.to_string().into_bytes(), Vec::new()).await;
    assert_eq!(
        (r.status, code(&r.body)),
        (StatusCode::UNAUTHORIZED, "MISSING_SIGNATURE")
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(signature::TIMESTAMP_HEADER)
    );
    let ts = chrono::Utc::now().timestamp();
    let r = peer
        .send_signed(e.to_string().as_bytes(), SECRET.as_bytes(), ts, "short")
        .await;
    assert_eq!(
        (r.status, code(&r.body)),
        (StatusCode::UNAUTHORIZED, "BAD_SIGNATURE")
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-Rete-Nonce")
    );
    for table in [
        "placement_event",
        "webhook_nonce",
        "sync_run",
        "sync_dead_letter",
    ] {
        assert_eq!(count(&hub, table).await, 0, "{table}: nothing written");
    }

    // Another instance name, or one that takes no webhooks: not found.
    let other = CommunityPeer::start(SECRET).await.unwrap();
    other.set_hub(hub.url("/connectors/nowhere/webhook"));
    let r = other.send(&e).await;
    assert_eq!(
        (r.status, code(&r.body)),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );

    // The same nonce twice: the second is a replay.
    let r = peer.send(&e).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:#}", r.body);
    let r = peer.send_with_replayed_nonce(&e).await;
    assert_eq!(
        (r.status, code(&r.body)),
        (StatusCode::CONFLICT, "REPLAYED")
    );
    let r = peer
        .send_with_replayed_nonce(&event("evt-2", "guest.absent", p.id, &now))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "whatever the body");
    assert_eq!(count(&hub, "placement_event").await, 1);
    assert_eq!(count(&hub, "webhook_nonce").await, 1);

    // Too large for the hub (`limits.max_body_bytes`, 8 KiB here): 413.
    let big = with(e.clone(), json!({"note": "x".repeat(9 * 1024)}));
    let r = peer.send(&big).await;
    assert_eq!(
        (r.status, code(&r.body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE")
    );
}

hub_test!(
    forged_stale_and_replayed_webhooks_are_refused_and_write_nothing,
    hub().limits(|l| l.max_body_bytes = 8 * 1024)
);

async fn an_event_about_another_agencys_placement_is_a_dead_letter_with_its_reason(hub: TestHub) {
    let peer = community(&hub).await;
    let elsewhere = placement_at(&hub, "coop-ponte").await;
    let now = chrono::Utc::now().to_rfc3339();
    let e = with(
        event("evt-77", "incident", elsewhere.id, &now),
        json!({"note": "Litigio in cucina"}),
    );
    let r = peer.send(&e).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:#}", r.body);
    let reason = format!(
        "placement_id {} is not a placement in a facility that comunita-aurora runs",
        elsewhere.id
    );
    assert_eq!(
        r.body,
        json!({"accepted": true, "event": "evt-77", "outcome": "dead-lettered", "reason": reason})
    );
    // A placement that does not exist reads the same: nothing to probe.
    let nowhere = Uuid::now_v7();
    let r = peer
        .send(&event("evt-78", "guest.present", nowhere, &now))
        .await;
    assert_eq!(
        r.body["reason"],
        json!(format!(
            "placement_id {nowhere} is not a placement in a facility that comunita-aurora runs"
        ))
    );
    // A body that is no event at all is kept too, with every problem named.
    let r = peer
        .send(&json!({"id": "evt-79", "type": "guest.left", "occurred_at": "ieri"}))
        .await;
    assert_eq!(r.body["outcome"], json!("dead-lettered"));
    let reason = r.body["reason"].as_str().unwrap();
    for field in [
        "type `guest.left`",
        "placement_id is missing",
        "occurred_at `ieri`",
    ] {
        assert!(reason.contains(field), "{field} in {reason}");
    }

    assert_eq!(count(&hub, "placement_event").await, 0);
    let dead = sync_dead_letter::Entity::find()
        .filter(sync_dead_letter::Column::Instance.eq("aurora"))
        .order_by_asc(sync_dead_letter::Column::CreatedAt)
        .all(&hub.db)
        .await
        .unwrap();
    let ids: Vec<Option<&str>> = dead.iter().map(|d| d.external_id.as_deref()).collect();
    assert_eq!(ids, [Some("evt-77"), Some("evt-78"), Some("evt-79")]);
    assert!(dead.iter().all(|d| d.resource_type == "third-sector-event"));
    assert!(dead[0].reason.contains("is not a placement in a facility"));
    assert_eq!(
        serde_json::from_str::<Value>(&dead[0].payload).unwrap(),
        e,
        "kept verbatim"
    );
    // No entry in the access log: nothing of a case was written.
    let log = access_log_entry::Entity::find()
        .filter(access_log_entry::Column::Operator.eq("webhook:aurora"))
        .all(&hub.db)
        .await
        .unwrap();
    assert!(log.is_empty());
}

hub_test!(
    an_event_about_another_agencys_placement_is_a_dead_letter_with_its_reason,
    hub()
);

async fn webhooks_sent_at_once_all_go_in_and_old_nonces_are_pruned(hub: TestHub) {
    let peer = community(&hub).await;
    let p = placement_at(&hub, "comunita-aurora").await;
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    for (nonce, at) in [
        ("stale-nonce-0000000000", long_ago),
        ("fresh-nonce-0000000000", chrono::Utc::now()),
    ] {
        entities::webhook_nonce::Entity::insert(entities::webhook_nonce::ActiveModel {
            instance: sea_orm::Set("aurora".to_string()),
            nonce: sea_orm::Set(nonce.to_string()),
            received_at: sea_orm::Set(at),
        })
        .exec_without_returning(&hub.db)
        .await
        .unwrap();
    }
    // 64 events, eight at a time: each instance's webhooks take turns in the
    // engine, none is turned away; the 64th nonce prunes the old ones.
    let (at, _) = ago(10);
    for batch in 0..8 {
        let sends = (0..8).map(|i| {
            let e = event(&format!("evt-{batch}-{i}"), "guest.present", p.id, &at);
            let peer = &peer;
            async move { peer.send(&e).await }
        });
        for r in futures::future::join_all(sends).await {
            assert_eq!(r.status, StatusCode::ACCEPTED, "{:#}", r.body);
            assert_eq!(r.body["outcome"], json!("created"));
        }
    }
    assert_eq!(count(&hub, "placement_event").await, 64);
    let nonces: Vec<String> = entities::webhook_nonce::Entity::find()
        .all(&hub.db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.nonce)
        .collect();
    assert_eq!(nonces.len(), 65, "the 64 sent and the fresh one");
    assert!(!nonces.contains(&"stale-nonce-0000000000".to_string()));
    assert!(nonces.contains(&"fresh-nonce-0000000000".to_string()));
}

hub_test!(
    webhooks_sent_at_once_all_go_in_and_old_nonces_are_pruned,
    hub()
);
