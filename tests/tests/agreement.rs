//! The demo network's agreement (`policies/network.toml`), clause by clause,
//! through real HTTP requests with real tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use rete_tests::{Answer, TestHub, hub_test};
use serde_json::{Value, json};

/// Errors of an answer by path (as `a/b/0/c`) with their data class.
fn withheld(a: &Answer) -> Vec<(String, String)> {
    a.errors()
        .iter()
        .map(|e| {
            assert_eq!(
                e.pointer("/extensions/code"),
                Some(&json!("FIELD_WITHHELD")),
                "{e:#}"
            );
            let path = e["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join("/");
            (
                path,
                e.pointer("/extensions/dataClass")
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

fn classes(a: &Answer) -> std::collections::BTreeSet<String> {
    withheld(a).into_iter().map(|(_, c)| c).collect()
}

/// A case referred by `reporter`, found through the lead's view.
async fn case_referred_by(
    hub: &TestHub,
    reporter: &str,
    role: &str,
    purpose: &str,
) -> Option<String> {
    for lead in ["polo-nord", "polo-sud"] {
        let t = hub.token(lead, "CASE_MANAGER", "CASE_MANAGEMENT");
        let a = hub
            .gql(
                &t,
                "{ cases(first: 100) { edges { node { id } } } }",
                json!({}),
            )
            .await
            .ok();
        for e in a.data("/cases/edges").as_array().unwrap() {
            let id = e.pointer("/node/id").unwrap().as_str().unwrap();
            let r = hub
                .gql(
                    &hub.token(reporter, role, purpose),
                    "query($id: ID!) { case(id: $id) { myRelationships } }",
                    json!({"id": id}),
                )
                .await;
            if r.data("/case/myRelationships") == &json!(["REFERRER"]) {
                return Some(id.to_string());
            }
        }
    }
    None
}

async fn the_referring_hospital_sees_identity_and_health_not_social_or_judicial(hub: TestHub) {
    let case = case_referred_by(&hub, "ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE")
        .await
        .expect("a referred case");
    let t = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let a = hub
        .gql(&t, "query($id: ID!) { case(id: $id) { reference riskLevel summary courtOrders { id } subjects { person { givenName familyName healthEvents { kind } } } } }", json!({"id": case}))
        .await;
    assert!(
        a.data("/case/subjects/0/person/givenName").is_string(),
        "{:#}",
        a.body
    );
    assert!(a.data("/case/subjects/0/person/healthEvents").is_array());
    assert!(a.data("/case/riskLevel").is_null());
    assert!(a.data("/case/courtOrders").is_null());
    assert_eq!(
        classes(&a),
        ["JUDICIAL".to_string(), "SOCIAL".to_string()].into()
    );
}
hub_test!(
    the_referring_hospital_sees_identity_and_health_not_social_or_judicial,
    TestHub::builder().demo().network_agreement()
);

async fn the_court_of_record_sees_judicial_and_social_data_not_health(hub: TestHub) {
    let judge = hub.token("tm-torino", "JUDGE", "JUDICIAL");
    let a = hub
        .gql(
            &judge,
            "{ cases(first: 100) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await
        .ok();
    assert!(
        a.data("/cases/totalCount").as_u64().unwrap() > 0,
        "the court reaches the cases it ordered on"
    );
    let id = a
        .data("/cases/edges/0/node/id")
        .as_str()
        .unwrap()
        .to_string();
    let b = hub
        .gql(&judge, "query($id: ID!) { case(id: $id) { riskLevel summary courtOrders { docketNumber mandates { dueOn } } subjects { person { givenName healthEvents { kind } phone } } } }", json!({"id": id}))
        .await;
    assert!(b.data("/case/riskLevel").is_string(), "{:#}", b.body);
    assert!(b.data("/case/courtOrders/0/docketNumber").is_string());
    assert!(b.data("/case/subjects/0/person/givenName").is_string());
    let c = classes(&b);
    assert!(
        c.contains("HEALTH") && !c.contains("JUDICIAL") && !c.contains("SOCIAL"),
        "{c:?}"
    );
    // Not the court of record: nothing at all.
    let other = hub
        .gql(&judge, "{ cases(first: 100) { totalCount } }", json!({}))
        .await
        .ok();
    assert!(other.data("/cases/totalCount").as_u64().unwrap() < 200);
}
hub_test!(
    the_court_of_record_sees_judicial_and_social_data_not_health,
    TestHub::builder().demo().network_agreement()
);

async fn a_community_sees_its_guests_identity_contact_and_placement_never_health_or_judicial(
    hub: TestHub,
) {
    let educator = hub.token("comunita-aurora", "EDUCATOR", "PLACEMENT");
    let f = hub
        .gql(
            &educator,
            "{ facilities(kind: MOTHER_CHILD_COMMUNITY) { id operator { id } } }",
            json!({}),
        )
        .await
        .ok();
    let aurora = f
        .data("/facilities")
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f.pointer("/operator/id") == Some(&json!("comunita-aurora")))
        .unwrap()["id"]
        .clone();
    let a = hub
        .gql(&educator, "query($f: ID!) { placements(active: true, facility: $f) { startOn verifications { dueOn } guests { givenName phone healthEvents { kind } } authorisingOrder { docketNumber } } }", json!({"f": aurora}))
        .await;
    let placements = a.data("/placements").as_array().unwrap();
    assert!(!placements.is_empty(), "{:#}", a.body);
    assert!(
        placements
            .iter()
            .all(|p| p["guests"][0]["givenName"].is_string() && p["verifications"].is_array())
    );
    assert!(
        placements
            .iter()
            .all(|p| p["guests"][0]["healthEvents"].is_null())
    );
    let c = classes(&a);
    assert!(c.contains("HEALTH"), "{c:?}");
    assert!(c.iter().all(|k| k == "HEALTH" || k == "JUDICIAL"), "{c:?}");
}
hub_test!(
    a_community_sees_its_guests_identity_contact_and_placement_never_health_or_judicial,
    TestHub::builder().demo().network_agreement()
);

const SHELTER: &str = "{ facilities(kind: SHELTER) { name address } }";

fn shelter_address(a: &Answer) -> Value {
    a.data("/facilities/0/address").clone()
}

async fn the_shelter_address_reaches_only_the_centre_and_the_case_manager(hub: TestHub) {
    let centre = hub.token("cav-iris", "SOCIAL_WORKER", "PLACEMENT");
    assert!(shelter_address(&hub.gql(&centre, SHELTER, json!({})).await).is_string());
    // The case manager of a case placed there (polo-nord or polo-sud).
    let managers = [
        hub.gql(
            &hub.token("polo-nord", "CASE_MANAGER", "CASE_MANAGEMENT"),
            SHELTER,
            json!({}),
        )
        .await,
        hub.gql(
            &hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT"),
            SHELTER,
            json!({}),
        )
        .await,
    ];
    assert!(managers.iter().any(|a| shelter_address(a).is_string()));
    // The same social services' other roles, the hospital, the community: never.
    for t in [
        hub.token("polo-nord", "SOCIAL_WORKER", "CASE_MANAGEMENT"),
        hub.token("polo-sud", "PSYCHOLOGIST", "CASE_MANAGEMENT"),
        hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE"),
        hub.token("comunita-aurora", "EDUCATOR", "PLACEMENT"),
        hub.token("polo-nord", "CASE_MANAGER", "EMERGENCY"),
    ] {
        let a = hub.gql(&t, SHELTER, json!({})).await;
        assert!(shelter_address(&a).is_null(), "{:#}", a.body);
        assert!(!a.body.to_string().contains("Ciliegio"));
    }
}
hub_test!(
    the_shelter_address_reaches_only_the_centre_and_the_case_manager,
    TestHub::builder().demo().network_agreement()
);

async fn statistics_never_sees_identity_contact_or_location(hub: TestHub) {
    let analyst = hub.token("polo-nord", "ANALYST", "STATISTICS");
    let a = hub
        .gql(&analyst, "{ cases(first: 20) { edges { node { status subjects { person { givenName fiscalCode phone address migrationStatus } } placements { facility { address } } } } } }", json!({}))
        .await;
    let text = a.body.to_string();
    assert!(
        !text.contains("Demo ") && !text.contains("DMO0") && !text.contains("+39"),
        "{text}"
    );
    let c = classes(&a);
    assert!(c.contains("IDENTITY") && c.contains("CONTACT"), "{c:?}");
    assert!(
        a.data("/cases/edges/0/node/status").is_string(),
        "administrative data is there"
    );
    assert!(
        a.data("/cases/edges/0/node/subjects/0/person/migrationStatus")
            .is_string()
    );
    // Search by name is refused to this purpose: it would be an oracle.
    let s = hub
        .gql(
            &analyst,
            "{ cases(first: 5, filter: {subjectSearch: \"demo\"}) { totalCount } }",
            json!({}),
        )
        .await
        .ok();
    assert_eq!(s.data("/cases/totalCount"), 0);
}
hub_test!(
    statistics_never_sees_identity_contact_or_location,
    TestHub::builder().demo().network_agreement()
);

const EXPLAIN: &str = "query($c: ID!, $k: DataClass!) { explainAccess(caseId: $c, dataClass: $k, agency: \"ospedale-regina\", role: HEALTH_PROFESSIONAL, purpose: HEALTHCARE) { disclosed rule basis reason policyVersion text } }";

async fn a_privacy_officer_can_explain_why_an_agency_may_or_may_not_see_a_class(hub: TestHub) {
    let case = case_referred_by(&hub, "ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE")
        .await
        .expect("a referred case");
    let officer = hub.token("polo-nord", "PRIVACY_OFFICER", "AUDIT");
    let yes = hub
        .gql(&officer, EXPLAIN, json!({"c": case, "k": "HEALTH"}))
        .await
        .ok();
    assert_eq!(yes.data("/explainAccess/disclosed"), true, "{:#}", yes.body);
    assert_eq!(yes.data("/explainAccess/rule"), "hospital-referrer");
    assert!(
        yes.data("/explainAccess/basis")
            .as_str()
            .unwrap()
            .starts_with("DUTY:")
    );
    let no = hub
        .gql(&officer, EXPLAIN, json!({"c": case, "k": "JUDICIAL"}))
        .await
        .ok();
    assert_eq!(no.data("/explainAccess/disclosed"), false);
    assert!(no.data("/explainAccess/reason").is_string());
    assert!(
        no.data("/explainAccess/text")
            .as_str()
            .unwrap()
            .contains("hospital-referrer")
    );
    // Only privacy officers, for audit.
    let a = hub
        .gql(&hub.polo_nord(), EXPLAIN, json!({"c": case, "k": "HEALTH"}))
        .await;
    assert_eq!(a.codes(), ["FORBIDDEN"]);
}
hub_test!(
    a_privacy_officer_can_explain_why_an_agency_may_or_may_not_see_a_class,
    TestHub::builder().demo().network_agreement()
);
