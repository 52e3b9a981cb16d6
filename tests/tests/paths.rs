//! Every path out of the hub goes through the decision point: lists, nested
//! objects, connections, search and mutation results. And whatever the page size,
//! a page costs a bounded number of SQL statements.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use rete_tests::{TestHub, hub_test};
use serde_json::{Value, json};

const PAGE: &str = r#"query($first: Int!) { cases(first: $first) { totalCount edges { cursor node {
  id reference status riskLevel leadAgency { name }
  subjects { role person { givenName familyName healthEvents { kind } } }
  team { agency { id } operator role }
  placements { startOn facility { name placesFree } guests { givenName } verifications { dueOn } }
  courtOrders { docketNumber mandates { dueOn agency { id } } }
  notes { body } interventions { kind provider { id } }
} } } }"#;

const TEAM_PAGE: &str = r#"query($first: Int!) { cases(first: $first) { edges { node {
  reference subjects { role person { givenName familyName } } team { operator role }
  placements { startOn endOn } courtOrders { docketNumber issuedOn } } } } }"#;

/// SQL statements one query costs (after the per-process agency cache is warm).
async fn statements_of(hub: &TestHub, query: &str, first: usize) -> usize {
    let token = hub.polo_nord();
    hub.gql(&token, "{ me { agency { id } } }", json!({}))
        .await
        .ok();
    hub.take_statements();
    let a = hub.gql(&token, query, json!({"first": first})).await.ok();
    assert_eq!(a.data("/cases/edges").as_array().unwrap().len(), first);
    hub.take_statements()
}

async fn a_page_of_cases_with_subjects_team_placements_and_orders_costs_the_same_for_10_or_100(
    hub: TestHub,
) {
    let s10 = statements_of(&hub, TEAM_PAGE, 10).await;
    let s100 = statements_of(&hub, TEAM_PAGE, 100).await;
    eprintln!("statements: page of 10 = {s10}, page of 100 = {s100}");
    assert_eq!(
        s10, s100,
        "one statement per loader and level, whatever the page size"
    );
    assert!(s100 <= 12, "{s100} statements");
}
hub_test!(
    a_page_of_cases_with_subjects_team_placements_and_orders_costs_the_same_for_10_or_100,
    TestHub::builder().demo()
);

async fn the_richest_page_stays_within_a_fixed_statement_budget(hub: TestHub) {
    // Persons appear at two depths here (subjects and placement guests), so a
    // page whose cases have no placements needs fewer levels; the budget holds
    // for any page size.
    let s10 = statements_of(&hub, PAGE, 10).await;
    let s100 = statements_of(&hub, PAGE, 100).await;
    eprintln!("statements: rich page of 10 = {s10}, of 100 = {s100}");
    assert!(s10 <= 26 && s100 <= 26, "10: {s10}, 100: {s100}");
}
hub_test!(
    the_richest_page_stays_within_a_fixed_statement_budget,
    TestHub::builder().demo()
);

/// The id of a polo-sud case that a hospital referred, and the hospital.
async fn referred_case(hub: &TestHub) -> (String, String) {
    let sud = hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT");
    let a = hub
        .gql(
            &sud,
            "{ cases(first: 100) { edges { node { id leadAgency { id } } } } }",
            json!({}),
        )
        .await
        .ok();
    for e in a.data("/cases/edges").as_array().unwrap() {
        let id = e.pointer("/node/id").and_then(Value::as_str).unwrap();
        // Who referred it? Ask as each reporter: the referrer reaches the case.
        for reporter in ["ospedale-regina", "consultorio-centro"] {
            let t = hub.token(reporter, "HEALTH_PROFESSIONAL", "HEALTHCARE");
            let r = hub
                .gql(
                    &t,
                    "query($id: ID!) { case(id: $id) { myRelationships } }",
                    json!({"id": id}),
                )
                .await;
            if r.data("/case/myRelationships") == &json!(["REFERRER"]) {
                return (id.to_string(), reporter.to_string());
            }
        }
    }
    panic!("no polo-sud case referred by a health agency in the demo");
}

async fn a_referrer_sees_administrative_data_and_the_rest_is_withheld(hub: TestHub) {
    let (case, reporter) = referred_case(&hub).await;
    let t = hub.token(&reporter, "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let a = hub
        .gql(&t, "query($id: ID!) { case(id: $id) { reference status riskLevel summary subjects { role person { givenName phone } } } }", json!({"id": case}))
        .await;
    assert_eq!(a.status, 200);
    assert!(a.data("/case/reference").is_string());
    assert!(a.data("/case/status").is_string());
    assert!(a.data("/case/riskLevel").is_null());
    assert!(a.data("/case/summary").is_null());
    assert!(a.data("/case/subjects/0/person/givenName").is_null());
    assert!(a.data("/case/subjects/0/person/phone").is_null());
    let errors = a.errors();
    assert!(
        errors
            .iter()
            .all(|e| e.pointer("/extensions/code") == Some(&json!("FIELD_WITHHELD")))
    );
    let classes: Vec<&str> = errors
        .iter()
        .filter_map(|e| e.pointer("/extensions/dataClass").and_then(Value::as_str))
        .collect();
    assert!(
        classes.contains(&"SOCIAL")
            && classes.contains(&"IDENTITY")
            && classes.contains(&"CONTACT")
    );
    let risk = errors
        .iter()
        .find(|e| e["path"] == json!(["case", "riskLevel"]))
        .expect("riskLevel's error");
    assert!(
        risk["message"]
            .as_str()
            .unwrap()
            .contains("no rule of the agreement grants")
    );
    // No withheld value appears anywhere in the answer.
    let text = a.body.to_string();
    assert!(!text.contains("Demo "), "a family name leaked: {text}");
}
hub_test!(
    a_referrer_sees_administrative_data_and_the_rest_is_withheld,
    TestHub::builder().demo()
);

async fn an_unrelated_agency_cannot_tell_a_case_exists(hub: TestHub) {
    let (case, _) = referred_case(&hub).await;
    let nord = hub.polo_nord();
    let a = hub
        .gql(
            &nord,
            "query($id: ID!) { case(id: $id) { reference } }",
            json!({"id": case}),
        )
        .await;
    assert_eq!(a.codes(), ["NOT_FOUND"]);
    let nobody = uuid::Uuid::now_v7().to_string();
    let missing = hub
        .gql(
            &nord,
            "query($id: ID!) { case(id: $id) { reference } }",
            json!({"id": nobody}),
        )
        .await;
    // The same answer as for a case that does not exist.
    let msg = |a: &rete_tests::Answer, id: &str| {
        a.errors()[0]["message"]
            .as_str()
            .unwrap()
            .replace(id, "<id>")
    };
    assert_eq!(msg(&a, &case), msg(&missing, &nobody));
    assert_eq!(a.status, missing.status);
    // Nor through the list, nor through a person, nor through orders.
    let list = hub
        .gql(
            &nord,
            "{ cases(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await
        .ok();
    assert!(!list.body.to_string().contains(&case));
    let orders = hub
        .gql(
            &nord,
            "query($id: ID!) { courtOrders(caseId: $id) { id } }",
            json!({"id": case}),
        )
        .await;
    assert_eq!(orders.codes(), ["NOT_FOUND"]);
}
hub_test!(
    an_unrelated_agency_cannot_tell_a_case_exists,
    TestHub::builder().demo()
);

async fn subject_search_only_finds_cases_whose_identities_the_caller_sees(hub: TestHub) {
    let nord = hub.polo_nord();
    let q = "query($s: String!) { cases(first: 100, filter: {subjectSearch: $s}) { totalCount edges { node { leadAgency { id } subjects { person { familyName } } } } } }";
    let a = hub.gql(&nord, q, json!({"s": "demo"})).await.ok();
    assert_eq!(
        a.data("/cases/totalCount"),
        100,
        "every polo-nord case, none of polo-sud's"
    );
    assert!(
        a.data("/cases/edges")
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.pointer("/node/leadAgency/id") == Some(&json!("polo-nord")))
    );
    // A referrer may reach a case but not its identities: search finds nothing.
    let hospital = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let all = hub
        .gql(&hospital, "{ cases(first: 1) { totalCount } }", json!({}))
        .await
        .ok();
    assert!(all.data("/cases/totalCount").as_u64().unwrap() > 0);
    let found = hub.gql(&hospital, q, json!({"s": "demo"})).await.ok();
    assert_eq!(found.data("/cases/totalCount"), 0);
    // Filtering by risk level is limited the same way (risk is SOCIAL).
    let risky = hub
        .gql(
            &hospital,
            "{ cases(first: 5, filter: {riskLevel: [HIGH, CRITICAL]}) { totalCount } }",
            json!({}),
        )
        .await
        .ok();
    assert_eq!(risky.data("/cases/totalCount"), 0);
    let bad = hub.gql(&nord, q, json!({"s": "x"})).await;
    assert_eq!(
        bad.errors()[0].pointer("/extensions/field"),
        Some(&json!("filter.subjectSearch"))
    );
}
hub_test!(
    subject_search_only_finds_cases_whose_identities_the_caller_sees,
    TestHub::builder().demo()
);

async fn pages_follow_cursors_without_gaps_or_repeats(hub: TestHub) {
    let nord = hub.polo_nord();
    let q = "query($after: String) { cases(first: 30, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }";
    let mut seen = std::collections::BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let a = hub.gql(&nord, q, json!({"after": after})).await.ok();
        for e in a.data("/cases/edges").as_array().unwrap() {
            assert!(seen.insert(e.pointer("/node/id").unwrap().as_str().unwrap().to_string()));
        }
        if a.data("/cases/pageInfo/hasNextPage") != &json!(true) {
            break;
        }
        after = a.data("/cases/pageInfo/endCursor").clone();
    }
    assert_eq!(seen.len(), 100);
    let bad = hub.gql(&nord, q, json!({"after": "bm9wZQ"})).await;
    assert_eq!(
        bad.errors()[0].pointer("/extensions/field"),
        Some(&json!("after"))
    );
    let big = hub
        .gql(&nord, "{ cases(first: 1000) { totalCount } }", json!({}))
        .await;
    assert_eq!(
        big.errors()[0].pointer("/extensions/field"),
        Some(&json!("first"))
    );
}
hub_test!(
    pages_follow_cursors_without_gaps_or_repeats,
    TestHub::builder().demo()
);

async fn a_secret_shelter_address_reaches_only_the_case_team_and_its_operator(hub: TestHub) {
    // The shelter's address is SECRET_LOCATION: the facility directory shows the
    // shelter, never where it is, to an agency with no placement there.
    let nord = hub.polo_nord();
    let hospital = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let q = "{ facilities(kind: SHELTER) { name secret address city } }";
    let a = hub.gql(&hospital, q, json!({})).await;
    assert_eq!(a.data("/facilities/0/secret"), true);
    assert!(a.data("/facilities/0/address").is_null());
    assert!(a.codes().iter().all(|c| c == "FIELD_WITHHELD"));
    assert!(!a.body.to_string().contains("Ciliegio"));
    // The lead of a case with a guest there sees it (interim agreement: the case team).
    let b = hub.gql(&nord, q, json!({})).await;
    let c = hub
        .gql(
            &hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT"),
            q,
            json!({}),
        )
        .await;
    assert!(
        b.data("/facilities/0/address").is_string() || c.data("/facilities/0/address").is_string()
    );
}
hub_test!(
    a_secret_shelter_address_reaches_only_the_case_team_and_its_operator,
    TestHub::builder().demo()
);
