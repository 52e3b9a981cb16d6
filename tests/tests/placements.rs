//! Placements never exceed a facility's places, also under concurrent requests;
//! reviews are recorded and come due.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use entities::enums::{CaseStatus, FacilityKind};
use entities::{case_file, facility, placement, placement_guest, verification};
use futures::future::join_all;
use rete_tests::{TestHub, hub_test};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

const PLACE: &str = "mutation($i: RecordPlacementInput!) { recordPlacement(input: $i) { id startOn guests { id } facility { id placesFree } } }";

/// Active demo cases of polo-nord whose mother is not placed: (case, mother).
async fn unplaced_mothers(hub: &TestHub, n: usize) -> Vec<(String, String)> {
    let a = hub
        .gql(
            &hub.polo_nord(),
            "{ cases(first: 100, filter: {status: [ACTIVE, ASSESSMENT]}) { edges { node { id leadAgency { id } placements { endOn } subjects { role person { id } } } } } }",
            json!({}),
        )
        .await
        .ok();
    a.data("/cases/edges")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|c| c.pointer("/leadAgency/id") == Some(&json!("polo-nord")))
        .filter(|c| {
            c["placements"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| !p["endOn"].is_null())
        })
        .filter_map(|c| {
            let mother = c["subjects"]
                .as_array()?
                .iter()
                .find(|s| s["role"] == "MOTHER")?;
            Some((
                c["id"].as_str()?.to_string(),
                mother.pointer("/person/id")?.as_str()?.to_string(),
            ))
        })
        .take(n)
        .collect()
}

/// A fresh facility with `capacity` places, operated by comunita-aurora.
async fn facility(hub: &TestHub, capacity: i32) -> String {
    let id = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    facility::ActiveModel {
        id: Set(id),
        operator_agency_id: Set("comunita-aurora".into()),
        name: Set(format!("Casa Test {id}")),
        kind: Set(FacilityKind::MotherChildCommunity),
        capacity: Set(capacity),
        address: Set("Via Test 1".into()),
        city: Set(Some("Torino".into())),
        secret: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&hub.db)
    .await
    .unwrap();
    id.to_string()
}

/// Guests in active placements at a facility, read from the database.
async fn guests_in(hub: &TestHub, fid: &str) -> u64 {
    let fid = uuid::Uuid::parse_str(fid).unwrap();
    placement_guest::Entity::find()
        .inner_join(placement::Entity)
        .filter(placement::Column::FacilityId.eq(fid))
        .filter(placement::Column::EndOn.is_null())
        .count(&hub.db)
        .await
        .unwrap()
}

/// Verifications of a placement: (open, done).
async fn reviews_of(hub: &TestHub, pid: &str) -> (usize, usize) {
    let pid = uuid::Uuid::parse_str(pid).unwrap();
    let all = verification::Entity::find()
        .filter(verification::Column::PlacementId.eq(pid))
        .all(&hub.db)
        .await
        .unwrap();
    let open = all.iter().filter(|v| v.done_on.is_none()).count();
    (open, all.len() - open)
}

async fn concurrent_placements_never_exceed_capacity(hub: TestHub) {
    let fid = facility(&hub, 3).await;
    let families = unplaced_mothers(&hub, 10).await;
    assert_eq!(families.len(), 10, "the demo has enough unplaced families");
    let token = hub.polo_nord();
    let answers = join_all(families.iter().map(|(case, mother)| {
        hub.gql(
            &token,
            PLACE,
            json!({"i": {"caseId": case, "facilityId": fid, "personIds": [mother]}}),
        )
    }))
    .await;
    let placed = answers.iter().filter(|a| a.errors().is_empty()).count();
    let full: Vec<_> = answers
        .iter()
        .filter(|a| a.codes() == ["CONFLICT"])
        .collect();
    assert_eq!(
        placed,
        3,
        "exactly the places there are: {:#?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    assert_eq!(full.len(), 7);
    assert!(
        full[0].errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("place(s) free")
    );
    assert_eq!(guests_in(&hub, &fid).await, 3);
    let a = hub
        .gql(
            &token,
            "{ facilities { id capacity placesFree } }",
            json!({}),
        )
        .await
        .ok();
    let f = a
        .data("/facilities")
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == fid.as_str())
        .cloned()
        .unwrap();
    assert_eq!(f["placesFree"], 0);
}
hub_test!(
    concurrent_placements_never_exceed_capacity,
    TestHub::builder().demo()
);

async fn a_placement_is_reviewed_ended_and_frees_its_place(hub: TestHub) {
    let fid = facility(&hub, 1).await;
    let families = unplaced_mothers(&hub, 2).await;
    let token = hub.polo_nord();
    let (case, mother) = &families[0];
    let a = hub
        .gql(&token, PLACE, json!({"i": {"caseId": case, "facilityId": fid, "personIds": [mother], "startOn": "2026-01-10", "firstVerificationOn": "2026-02-10"}}))
        .await
        .ok();
    let placement = a.data("/recordPlacement/id").as_str().unwrap().to_string();
    assert_eq!(a.data("/recordPlacement/facility/placesFree"), 0);

    // Placing the same person again, or a non-subject, is refused.
    let twice = hub
        .gql(
            &token,
            PLACE,
            json!({"i": {"caseId": case, "facilityId": fid, "personIds": [mother]}}),
        )
        .await;
    assert_eq!(twice.codes(), ["CONFLICT"]);
    let stranger = hub
        .gql(
            &token,
            PLACE,
            json!({"i": {"caseId": case, "facilityId": fid, "personIds": [families[1].1]}}),
        )
        .await;
    assert_eq!(
        stranger.errors()[0].pointer("/extensions/field"),
        Some(&json!("personIds[0]"))
    );

    // The first review is due; the team member of the lead sees it.
    let due = hub
        .gql(&token, "{ verificationsDue(before: \"2026-03-01\", first: 100) { id dueOn placement { id } } }", json!({}))
        .await
        .ok();
    assert!(
        due.data("/verificationsDue")
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.pointer("/placement/id") == Some(&json!(placement)))
    );

    // The facility's operator records it and schedules the next one.
    let community = hub.token("comunita-aurora", "EDUCATOR", "PLACEMENT");
    let review = "mutation($i: RecordVerificationInput!) { recordVerification(input: $i) { id } }";
    let bad = hub
        .gql(&community, review, json!({"i": {"placementId": placement, "outcome": "ON_TRACK", "doneOn": "2026-02-11", "nextDueOn": "2026-02-01"}}))
        .await;
    assert_eq!(
        bad.errors()[0].pointer("/extensions/field"),
        Some(&json!("nextDueOn"))
    );
    hub.gql(&community, review, json!({"i": {"placementId": placement, "outcome": "ON_TRACK", "doneOn": "2026-02-11", "notes": "Bene", "nextDueOn": "2026-05-11"}}))
        .await
        .ok();
    assert_eq!(reviews_of(&hub, &placement).await, (1, 1));

    let end = "mutation($i: EndPlacementInput!) { endPlacement(input: $i) { endOn endReason facility { placesFree } } }";
    let early = hub
        .gql(
            &token,
            end,
            json!({"i": {"placementId": placement, "endOn": "2025-12-31", "reason": "x"}}),
        )
        .await;
    assert_eq!(
        early.errors()[0].pointer("/extensions/field"),
        Some(&json!("endOn"))
    );
    let a = hub
        .gql(
            &token,
            end,
            json!({"i": {"placementId": placement, "reason": "Autonomia abitativa"}}),
        )
        .await
        .ok();
    assert_eq!(a.data("/endPlacement/facility/placesFree"), 1);
    assert_eq!(
        hub.gql(
            &token,
            end,
            json!({"i": {"placementId": placement, "reason": "x"}})
        )
        .await
        .codes(),
        ["CONFLICT"]
    );
}
hub_test!(
    a_placement_is_reviewed_ended_and_frees_its_place,
    TestHub::builder().demo()
);

async fn only_the_lead_places_and_a_closed_case_takes_no_placement(hub: TestHub) {
    let fid = facility(&hub, 5).await;
    let families = unplaced_mothers(&hub, 1).await;
    let (case, mother) = &families[0];
    let member = hub.token("consultorio-centro", "PSYCHOLOGIST", "CASE_MANAGEMENT");
    let a = hub
        .gql(
            &member,
            PLACE,
            json!({"i": {"caseId": case, "facilityId": fid, "personIds": [mother]}}),
        )
        .await;
    assert!(
        matches!(a.codes().as_slice(), [c] if c == "FORBIDDEN" || c == "NOT_FOUND"),
        "{:#}",
        a.body
    );
    let mut closed: case_file::ActiveModel =
        case_file::Entity::find_by_id(uuid::Uuid::parse_str(case).unwrap())
            .one(&hub.db)
            .await
            .unwrap()
            .unwrap()
            .into();
    closed.status = Set(CaseStatus::Closed);
    closed.update(&hub.db).await.unwrap();
    let a = hub
        .gql(
            &hub.polo_nord(),
            PLACE,
            json!({"i": {"caseId": case, "facilityId": fid, "personIds": [mother]}}),
        )
        .await;
    assert_eq!(a.codes(), ["CONFLICT"]);
    let none: Value = a.data("/recordPlacement").clone();
    assert!(none.is_null());
}
hub_test!(
    only_the_lead_places_and_a_closed_case_takes_no_placement,
    TestHub::builder().demo()
);
