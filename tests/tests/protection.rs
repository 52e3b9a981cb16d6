//! Protection from a person: in violence cases, what keeps a shelter secret.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use entities::enums::SubjectRole;
use entities::person;
use rete_tests::{TestHub, hub_test};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use uuid::Uuid;

const PROTECT: &str = "mutation($i: RecordProtectionInput!) { recordProtection(input: $i) { id } }";
const CONTACT: &str = "query($id: ID!) { person(id: $id) { givenName phone address } }";

async fn a_protected_child_is_not_reached_through_the_fathers_own_case(hub: TestHub) {
    let f = hub.family_with_father().await;
    let (case, father, child) = (f.case, f.father, f.child);
    hub.case_led_by(
        "polo-sud",
        &[(&father, SubjectRole::Father), (&child, SubjectRole::Child)],
    )
    .await;
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
