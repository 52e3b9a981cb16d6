//! Protection from a person: in violence cases, what keeps a shelter secret.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use entities::enums::{CaseStatus, RiskLevel, SubjectRole};
use entities::{case_file, case_subject, person};
use rete_tests::{TestHub, hub_test};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

/// A polo-nord case with a mother, a father and a child: (case, mother, father, child).
async fn family_with_father(hub: &TestHub) -> (String, String, String, String) {
    let a = hub
        .gql(&hub.polo_nord(), "{ cases(first: 100) { edges { node { id leadAgency { id } subjects { role person { id } } } } } }", json!({}))
        .await
        .ok();
    for e in a.data("/cases/edges").as_array().unwrap() {
        let n = &e["node"];
        if n.pointer("/leadAgency/id") != Some(&json!("polo-nord")) {
            continue;
        }
        let s = n["subjects"].as_array().unwrap();
        let find = |r: &str| {
            s.iter()
                .find(|x| x["role"] == r)
                .and_then(|x| x.pointer("/person/id"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let (Some(m), Some(f), Some(c)) = (find("MOTHER"), find("FATHER"), find("CHILD")) {
            return (n["id"].as_str().unwrap().to_string(), m, f, c);
        }
    }
    panic!("no family with a father in the demo");
}

/// The father's own case at polo-sud, with him and the child as subjects.
async fn fathers_own_case(hub: &TestHub, father: &str, child: &str) {
    let now = chrono::Utc::now();
    let id = Uuid::now_v7();
    case_file::ActiveModel {
        id: Set(id),
        reference: Set(format!("RETE-TEST-{}", &id.simple().to_string()[..8])),
        status: Set(CaseStatus::Active),
        lead_agency_id: Set("polo-sud".into()),
        case_manager: Set("polo-sud-operator".into()),
        risk_level: Set(RiskLevel::Medium),
        summary: Set(None),
        court_of_record_id: Set(None),
        opened_on: Set(now.date_naive()),
        closed_on: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&hub.db)
    .await
    .unwrap();
    for (p, role) in [(father, SubjectRole::Father), (child, SubjectRole::Child)] {
        case_subject::ActiveModel {
            case_id: Set(id),
            person_id: Set(Uuid::parse_str(p).unwrap()),
            role: Set(role),
            created_at: Set(now),
        }
        .insert(&hub.db)
        .await
        .unwrap();
    }
}

const PROTECT: &str = "mutation($i: RecordProtectionInput!) { recordProtection(input: $i) { id } }";
const CONTACT: &str = "query($id: ID!) { person(id: $id) { givenName phone address } }";

async fn a_protected_child_is_not_reached_through_the_fathers_own_case(hub: TestHub) {
    let (case, _mother, father, child) = family_with_father(&hub).await;
    fathers_own_case(&hub, &father, &child).await;
    let sud = hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT");
    let nord = hub.polo_nord();
    // Before: the father's social service sees the child's contact.
    assert!(
        hub.gql(&sud, CONTACT, json!({"id": child}))
            .await
            .data("/person/phone")
            .is_string()
    );

    // Validation, then the protection itself.
    let same = hub.gql(&nord, PROTECT, json!({"i": {"caseId": case, "protectedPersonId": child, "fromPersonId": child, "reason": "x"}})).await;
    assert_eq!(
        same.errors()[0].pointer("/extensions/field"),
        Some(&json!("fromPersonId"))
    );
    let not_lead = hub.gql(&sud, PROTECT, json!({"i": {"caseId": case, "protectedPersonId": child, "fromPersonId": father, "reason": "x"}})).await;
    assert_eq!(not_lead.codes(), ["NOT_FOUND"]);
    hub.gql(&nord, PROTECT, json!({"i": {"caseId": case, "protectedPersonId": child, "fromPersonId": father, "reason": "Decreto di limitazione della responsabilità genitoriale"}}))
        .await
        .ok();
    let twice = hub.gql(&nord, PROTECT, json!({"i": {"caseId": case, "protectedPersonId": child, "fromPersonId": father, "reason": "x"}})).await;
    assert_eq!(twice.codes(), ["CONFLICT"]);

    // After: through the father's case, no contact and no location of the child.
    let a = hub.gql(&sud, CONTACT, json!({"id": child})).await;
    assert!(
        a.data("/person/givenName").is_string(),
        "identity is not what protection hides: {:#}",
        a.body
    );
    assert!(a.data("/person/phone").is_null() && a.data("/person/address").is_null());
    let reasons: Vec<&str> = a.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.pointer("/extensions/dataClass").and_then(Value::as_str))
        .collect();
    assert_eq!(reasons, ["CONTACT", "CONTACT"]);
    // The child's own case team still reaches them.
    assert!(
        hub.gql(&nord, CONTACT, json!({"id": child}))
            .await
            .data("/person/phone")
            .is_string()
    );

    // A search on the father finds neither his case nor the child's through him.
    let fiscal = person::Entity::find_by_id(Uuid::parse_str(&father).unwrap())
        .one(&hub.db)
        .await
        .unwrap()
        .unwrap()
        .fiscal_code
        .unwrap();
    let search =
        "query($s: String!) { cases(first: 10, filter: {subjectSearch: $s}) { totalCount } }";
    assert_eq!(
        hub.gql(&sud, search, json!({"s": fiscal}))
            .await
            .ok()
            .data("/cases/totalCount"),
        0
    );
    assert_eq!(
        hub.gql(&nord, search, json!({"s": fiscal}))
            .await
            .ok()
            .data("/cases/totalCount"),
        0
    );
}
hub_test!(
    a_protected_child_is_not_reached_through_the_fathers_own_case,
    TestHub::builder().demo()
);
