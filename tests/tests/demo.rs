//! The demo network answers a partner app's first query.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use rete_tests::{TestHub, hub_test};
use serde_json::json;

async fn first_query_lists_the_leads_cases_with_subjects(hub: TestHub) {
    let a = hub
        .gql(
            &hub.polo_nord(),
            "{ me { operator agency { id } } cases(first: 5) { totalCount edges { node { reference lead: leadAgency { id } subjects { role person { givenName familyName } } } } } }",
            json!({}),
        )
        .await
        .ok();
    assert_eq!(a.status, 200);
    assert_eq!(a.data("/me/agency/id"), "polo-nord");
    assert_eq!(
        a.data("/cases/totalCount"),
        100,
        "polo-nord leads half of 200 cases"
    );
    let edges = a
        .data("/cases/edges")
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(edges.len(), 5);
    for e in edges {
        assert_eq!(e.pointer("/node/lead/id").unwrap(), "polo-nord");
        let subjects = e
            .pointer("/node/subjects")
            .and_then(|s| s.as_array())
            .unwrap();
        assert!(subjects.iter().any(|s| s["role"] == "MOTHER"));
        assert!(subjects.iter().all(|s| {
            s["person"]["familyName"]
                .as_str()
                .unwrap()
                .starts_with("Demo ")
        }));
    }
}
hub_test!(
    first_query_lists_the_leads_cases_with_subjects,
    TestHub::builder().demo()
);

async fn the_demo_has_waiting_referrals_placements_reviews_and_orders(hub: TestHub) {
    assert!(
        hub.count("SELECT COUNT(*) FROM referral WHERE triage_outcome IS NULL")
            .await
            >= 10
    );
    assert!(
        hub.count("SELECT COUNT(*) FROM placement WHERE end_on IS NULL")
            .await
            >= 3
    );
    assert!(
        hub.count("SELECT COUNT(*) FROM verification WHERE done_on IS NULL")
            .await
            >= 3
    );
    assert!(
        hub.count("SELECT COUNT(*) FROM court_order_mandate WHERE due_on IS NOT NULL")
            .await
            >= 5
    );
    assert_eq!(hub.count("SELECT COUNT(*) FROM case_file").await, 200);
    // Seeding twice changes nothing.
    assert!(!rete_api::demo::seed(&hub.db).await.unwrap());
    assert_eq!(hub.count("SELECT COUNT(*) FROM case_file").await, 200);
}
hub_test!(
    the_demo_has_waiting_referrals_placements_reviews_and_orders,
    TestHub::builder().demo()
);
