//! The hub as an Apollo Federation v2 subgraph: `_service` serves the committed
//! SDL, and `_entities` is no side door: the same reachability, the same
//! per-field policy, the same access log and a bounded number of SQL statements
//! for any batch of representations. (The real gateway in front of a real
//! `rete serve` is `federation-tests/`, run by `.ci/run`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use entities::access_log_entry;
use rete_api::audit::trail::LoggedRecord;
use rete_tests::{StatusCode, TestHub, hub_test};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

const COMMITTED: &str = include_str!("../../schema.graphql");

/// What a gateway sends: one `_entities` field, one inline fragment per type.
const ENTITIES: &str = r#"query Entities($r: [_Any!]!) { _entities(representations: $r) {
  __typename
  ... on Case { id reference status riskLevel subjects { role person { id givenName familyName } } }
  ... on Person { id givenName familyName phone }
  ... on Agency { id name kind }
  ... on Facility { id name placesFree address }
} }"#;

const CASE_FIELDS: &str =
    "id reference status riskLevel subjects { role person { id givenName familyName } }";

fn case_rep(id: &str) -> Value {
    json!({"__typename": "Case", "id": id})
}

fn person_rep(id: &str) -> Value {
    json!({"__typename": "Person", "id": id})
}

/// The ids of the cases `agency` leads (as its case manager sees them).
async fn led_cases(hub: &TestHub, agency: &str) -> Vec<String> {
    let t = hub.token(agency, "CASE_MANAGER", "CASE_MANAGEMENT");
    let a = hub
        .gql(
            &t,
            "{ cases(first: 100) { edges { node { id leadAgency { id } } } } }",
            json!({}),
        )
        .await
        .ok();
    a.data("/cases/edges")
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.pointer("/node/leadAgency/id") == Some(&json!(agency)))
        .map(|e| e.pointer("/node/id").unwrap().as_str().unwrap().to_string())
        .collect()
}

async fn entities(hub: &TestHub, token: &str, reps: Vec<Value>) -> rete_tests::Answer {
    hub.gql(token, ENTITIES, json!({ "r": reps })).await
}

async fn service_sdl_is_schema_graphql_and_needs_a_token(hub: TestHub) {
    let a = hub
        .gql(&hub.polo_nord(), "{ _service { sdl } }", json!({}))
        .await
        .ok();
    let sdl = a.data("/_service/sdl").as_str().unwrap();
    assert_eq!(
        sdl, COMMITTED,
        "schema.graphql must be the SDL a gateway composes"
    );
    assert!(sdl.contains("url: \"https://specs.apollo.dev/federation/v2.5\""));
    for t in ["Case", "Person", "Agency", "Facility"] {
        assert!(
            sdl.contains(&format!("type {t} @key(fields: \"id\") {{")),
            "{t} is an entity"
        );
    }

    for query in [
        "{ _service { sdl } }",
        r#"{ _entities(representations: [{__typename: "Agency", id: "polo-nord"}]) { ... on Agency { name } } }"#,
    ] {
        let a = hub
            .post(None, json!({ "query": query }), "application/json")
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{query}");
        assert_eq!(a.codes(), vec!["UNAUTHENTICATED"]);
        assert!(a.body.get("data").is_none());
    }
}
hub_test!(
    service_sdl_is_schema_graphql_and_needs_a_token,
    TestHub::builder().demo()
);

async fn entities_resolve_as_the_root_queries_do(hub: TestHub) {
    let nord = hub.polo_nord();
    let case = led_cases(&hub, "polo-nord").await.remove(0);
    let direct = hub
        .gql(
            &nord,
            &format!("query($id: ID!) {{ case(id: $id) {{ {CASE_FIELDS} }} }}"),
            json!({ "id": case }),
        )
        .await
        .ok();
    let person = direct
        .data("/case/subjects/0/person/id")
        .as_str()
        .unwrap()
        .to_string();
    let direct_person = hub
        .gql(
            &nord,
            "query($id: ID!) { person(id: $id) { id givenName familyName phone } }",
            json!({ "id": person }),
        )
        .await
        .ok();
    let facilities = hub
        .gql(&nord, "{ facilities { id name placesFree } }", json!({}))
        .await
        .ok();
    let facility = facilities.data("/facilities/0/id").as_str().unwrap();

    // Apollo's gateway asks for application/json: that is what it gets.
    let a = hub
        .post(
            Some(&nord),
            json!({ "query": ENTITIES, "variables": { "r": [
                case_rep(&case),
                person_rep(&person),
                {"__typename": "Agency", "id": "polo-nord"},
                {"__typename": "Facility", "id": facility},
            ] } }),
            "application/json",
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.content_type.starts_with("application/json"),
        "{}",
        a.content_type
    );
    let a = a.ok();

    let mut want_case = direct.data("/case").clone();
    want_case["__typename"] = json!("Case");
    assert_eq!(a.data("/_entities/0"), &want_case);
    let mut want_person = direct_person.data("/person").clone();
    want_person["__typename"] = json!("Person");
    assert_eq!(a.data("/_entities/1"), &want_person);
    assert_eq!(
        a.data("/_entities/2"),
        &json!({"__typename": "Agency", "id": "polo-nord", "name": "Polo Sociale Territoriale Nord", "kind": "SOCIAL_SERVICE"})
    );
    assert_eq!(a.data("/_entities/3/id"), &json!(facility));
    assert_eq!(
        a.data("/_entities/3/name"),
        facilities.data("/facilities/0/name")
    );
}
hub_test!(
    entities_resolve_as_the_root_queries_do,
    TestHub::builder().demo()
);

async fn a_representation_the_caller_cannot_reach_is_null_and_says_nothing(hub: TestHub) {
    let nord = hub.polo_nord();
    let mine = led_cases(&hub, "polo-nord").await.remove(0);
    // Polo Sud's case exists; Polo Nord has no link to it.
    let theirs = led_cases(&hub, "polo-sud").await.remove(0);
    let sud = hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT");
    let their_person = hub
        .gql(
            &sud,
            "query($id: ID!) { case(id: $id) { subjects { person { id } } } }",
            json!({ "id": theirs }),
        )
        .await
        .ok()
        .data("/case/subjects/0/person/id")
        .as_str()
        .unwrap()
        .to_string();
    let nobody = Uuid::new_v4().to_string();

    let a = entities(
        &hub,
        &nord,
        vec![
            case_rep(&theirs),
            case_rep(&mine),
            case_rep(&nobody),
            case_rep(&theirs),
            person_rep(&their_person),
            case_rep("not-a-uuid"),
            json!({"__typename": "Agency", "id": "no-such-agency"}),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    // The caller's own case still resolves, whatever else is in the batch.
    assert_eq!(a.data("/_entities/1/id"), &json!(mine));
    assert!(a.data("/_entities/1/reference").is_string());
    for i in [0, 2, 3, 4, 5, 6] {
        assert!(
            a.data(&format!("/_entities/{i}")).is_null(),
            "representation {i}: {:#}",
            a.body
        );
    }

    // One NOT_FOUND per refused representation, at its own path.
    let errors = a.errors();
    let mut at: Vec<(i64, String, String)> = errors
        .iter()
        .map(|e| {
            assert_eq!(e.pointer("/path/0"), Some(&json!("_entities")), "{e}");
            assert_eq!(
                e.get("extensions"),
                Some(&json!({"code": "NOT_FOUND"})),
                "nothing but the code: {e}"
            );
            (
                e.pointer("/path/1").and_then(Value::as_i64).unwrap(),
                e["message"].as_str().unwrap().to_string(),
                e["path"].to_string(),
            )
        })
        .collect();
    at.sort();
    let positions: Vec<i64> = at.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(positions, vec![0, 2, 3, 4, 5, 6]);

    // An existing case the caller has no link to and a case that does not
    // exist are refused in the same words.
    let message = |i: usize| {
        at.iter()
            .find(|(p, _, _)| *p == i as i64)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(message(0), format!("case {theirs} not found"));
    assert_eq!(message(2), format!("case {nobody} not found"));
    assert_eq!(
        message(0).replace(&theirs, "ID"),
        message(2).replace(&nobody, "ID")
    );
    assert_eq!(message(4), format!("person {their_person} not found"));

    // The same answer as the root query gives.
    let root = hub
        .gql(
            &nord,
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": theirs }),
        )
        .await;
    assert_eq!(root.codes(), vec!["NOT_FOUND"]);
    assert_eq!(root.errors()[0]["message"], json!(message(0)));
}
hub_test!(
    a_representation_the_caller_cannot_reach_is_null_and_says_nothing,
    TestHub::builder().demo()
);

/// The id of a polo-sud case that the hospital referred (so it reaches the
/// case's administrative data and nothing else, under the interim agreement).
async fn case_referred_by_the_hospital(hub: &TestHub) -> String {
    let t = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let a = hub
        .gql(
            &t,
            "{ cases(first: 100) { edges { node { id myRelationships } } } }",
            json!({}),
        )
        .await
        .ok();
    a.data("/cases/edges")
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e.pointer("/node/myRelationships") == Some(&json!(["REFERRER"])))
        .and_then(|e| e.pointer("/node/id"))
        .and_then(Value::as_str)
        .expect("a case the hospital referred")
        .to_string()
}

async fn withheld_fields_are_withheld_through_entities_too(hub: TestHub) {
    let hospital = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let case = case_referred_by_the_hospital(&hub).await;
    let direct = hub
        .gql(
            &hospital,
            "query($id: ID!) { case(id: $id) { id reference status riskLevel } }",
            json!({ "id": case }),
        )
        .await;
    let via = hub
        .gql(
            &hospital,
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Case { id reference status riskLevel } } }",
            json!({ "r": [case_rep(&case)] }),
        )
        .await;
    assert_eq!(via.data("/_entities/0"), direct.data("/case"));
    assert!(via.data("/_entities/0/reference").is_string());
    assert!(via.data("/_entities/0/riskLevel").is_null());
    let strip_path = |mut e: Value| {
        e.as_object_mut().unwrap().remove("path");
        e.as_object_mut().unwrap().remove("locations");
        e
    };
    let (d, v) = (direct.errors(), via.errors());
    assert_eq!(v.len(), 1, "{:#}", via.body);
    assert_eq!(v[0]["path"], json!(["_entities", 0, "riskLevel"]));
    assert_eq!(
        v[0].pointer("/extensions/code"),
        Some(&json!("FIELD_WITHHELD"))
    );
    assert_eq!(
        v[0].pointer("/extensions/dataClass"),
        Some(&json!("SOCIAL"))
    );
    assert_eq!(strip_path(v[0].clone()), strip_path(d[0].clone()));

    // The access log holds the read, with the caller who made it.
    let log = access_log_entry::Entity::find()
        .order_by_desc(access_log_entry::Column::Seq)
        .all(&hub.db)
        .await
        .unwrap();
    let e = &log[0];
    assert_eq!(
        (
            e.operator.as_str(),
            e.agency_id.as_str(),
            e.role.as_str(),
            e.purpose.as_str(),
            e.operation.as_str()
        ),
        (
            "ospedale-regina-operator",
            "ospedale-regina",
            "HEALTH_PROFESSIONAL",
            "HEALTHCARE",
            "query (anonymous)"
        )
    );
    let records: Vec<LoggedRecord> = serde_json::from_str(&e.records).unwrap();
    let rec = records
        .iter()
        .find(|r| r.id.to_string() == case)
        .expect("the case is in the entry");
    assert_eq!(rec.kind, "CASE");
    assert!(
        rec.disclosed
            .iter()
            .any(|d| d.class == policy::DataClass::Administrative)
    );
    assert!(
        rec.withheld
            .iter()
            .any(|w| w.class == policy::DataClass::Social)
    );
    let digest = rec
        .digests
        .iter()
        .find(|d| d.path == "_entities.0.reference")
        .expect("a digest of the reference that left");
    assert!(digest.matches(
        &hub.audit_keys.digest,
        &rec.kind,
        rec.id,
        via.data("/_entities/0/reference")
    ));
    assert!(!digest.matches(
        &hub.audit_keys.digest,
        &rec.kind,
        rec.id,
        &json!("another reference")
    ));
}
hub_test!(
    withheld_fields_are_withheld_through_entities_too,
    TestHub::builder().demo()
);

/// SQL statements of one `_entities` request for the first `n` of `cases`
/// and one subject of each (after the agency cache is warm).
async fn statements_for(hub: &TestHub, token: &str, cases: &[String], persons: &[String]) -> usize {
    hub.gql(token, "{ me { agency { id } } }", json!({}))
        .await
        .ok();
    let reps: Vec<Value> = cases
        .iter()
        .map(|c| case_rep(c))
        .chain(persons.iter().map(|p| person_rep(p)))
        .collect();
    hub.take_statements();
    let a = entities(hub, token, reps).await.ok();
    assert_eq!(
        a.data("/_entities").as_array().unwrap().len(),
        cases.len() + persons.len()
    );
    hub.take_statements()
}

async fn a_batch_of_representations_stays_within_a_fixed_statement_budget(hub: TestHub) {
    let nord = hub.polo_nord();
    let cases = led_cases(&hub, "polo-nord").await;
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut persons = Vec::new();
    for c in &cases[..50] {
        let a = hub
            .gql(
                &nord,
                "query($id: ID!) { case(id: $id) { subjects { person { id } } } }",
                json!({ "id": c }),
            )
            .await
            .ok();
        persons.push(
            a.data("/case/subjects/0/person/id")
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let s5 = statements_for(&hub, &nord, &cases[..5], &persons[..5]).await;
    let s50 = statements_for(&hub, &nord, &cases[..50], &persons[..50]).await;
    eprintln!("statements: 5+5 representations = {s5}, 50+50 = {s50}");
    // One statement per loader and level, whatever the batch: how the loads
    // of the two record kinds fall into levels can differ by one or two, the
    // budget does not grow with the batch.
    assert!(s5 <= 14 && s50 <= 14, "5+5: {s5}, 50+50: {s50}");
}
hub_test!(
    a_batch_of_representations_stays_within_a_fixed_statement_budget,
    TestHub::builder().demo()
);

async fn a_batch_larger_than_a_page_is_refused(hub: TestHub) {
    let nord = hub.polo_nord();
    let page = hub
        .gql(
            &nord,
            "{ cases(first: 3) { edges { node { id } } } }",
            json!({}),
        )
        .await
        .ok();
    let mut cases: Vec<String> = page
        .data("/cases/edges")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.pointer("/node/id").unwrap().as_str().unwrap().to_string())
        .collect();
    cases.push(cases[0].clone());
    let a = entities(
        &hub,
        &nord,
        cases[..4].iter().map(|c| case_rep(c)).collect(),
    )
    .await;
    assert_eq!(a.codes(), vec!["BAD_USER_INPUT"], "{:#}", a.body);
    assert!(
        a.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3 representations"),
        "{:#}",
        a.body
    );
    let a = entities(
        &hub,
        &nord,
        cases[..3].iter().map(|c| case_rep(c)).collect(),
    )
    .await;
    a.ok();
}
hub_test!(
    a_batch_larger_than_a_page_is_refused,
    TestHub::builder().demo().limits(|l| l.max_page_size = 3)
);
