//! Outbound sync end to end: reports to a test court server and placement
//! messages to a test community server, both real HTTP peers on 127.0.0.1
//! (docs/outbound.md). The hub's outbox ticks are run by the tests.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use connectors::court::peer::CourtPeer;
use connectors::third_sector::peer::CommunityPeer;
use rete_api::config::OutboxConfig;
use rete_api::outbox::{Route, Routes, Tick, Transport};
use std::sync::Arc;

use rete_api::audit::HubKeys;
use rete_tests::{Backend, TestHub, backend_test};
use serde_json::{Value, json};

/// Fast retries and short timeouts, so a test waits milliseconds.
fn quick() -> OutboxConfig {
    OutboxConfig {
        backoff_ms: 1,
        backoff_max_ms: 5,
        timeout_ms: 500,
        lease_seconds: 2,
        max_attempts: 5,
        ..OutboxConfig::default()
    }
}

fn court_route(peer: &CourtPeer) -> (String, Route) {
    (
        "tm-torino".to_string(),
        Route {
            instance: "tribunale".into(),
            transport: Transport::Court {
                url: peer.base_url(),
                audience: "tm-torino".into(),
            },
            timeout_ms: None,
        },
    )
}

/// A demo hub that reports to a test court which knows the hub's key.
async fn court_hub(backend: Backend) -> (TestHub, CourtPeer) {
    let keys = Arc::new(HubKeys::generate().expect("hub keys"));
    let peer = CourtPeer::start("tm-torino", keys.public().expect("jwk").0)
        .await
        .expect("court peer");
    let hub = TestHub::builder()
        .backend(backend)
        .demo()
        .network_agreement()
        .hub_keys(keys)
        .outbound(Routes::new([court_route(&peer)]), quick())
        .start()
        .await
        .expect("hub");
    (hub, peer)
}

/// A polo-nord case with an order of tm-torino mandating polo-nord:
/// (case, order, mandate).
async fn case_before_the_court(hub: &TestHub) -> (String, String, String) {
    let a = hub
        .gql(
            &hub.polo_nord(),
            "{ cases(first: 100) { edges { node { id leadAgency { id }
                courtOrders { id court { id } mandates { id agency { id } fulfilledOn } } } } } }",
            json!({}),
        )
        .await
        .ok();
    for e in a.data("/cases/edges").as_array().into_iter().flatten() {
        let n = &e["node"];
        if n.pointer("/leadAgency/id") != Some(&json!("polo-nord")) {
            continue;
        }
        for o in n["courtOrders"].as_array().into_iter().flatten() {
            for m in o["mandates"].as_array().into_iter().flatten() {
                if m.pointer("/agency/id") == Some(&json!("polo-nord"))
                    && m["fulfilledOn"].is_null()
                {
                    return (
                        n["id"].as_str().expect("a string").to_string(),
                        o["id"].as_str().expect("a string").to_string(),
                        m["id"].as_str().expect("a string").to_string(),
                    );
                }
            }
        }
    }
    panic!("the demo network has no polo-nord case before the court");
}

const SUBMIT: &str = "mutation($input: SubmitCourtReportInput!) {
  submitCourtReport(input: $input) { id title delivery { status attempts } }
}";

async fn submit_report(hub: &TestHub, case: &str, order: &str, mandate: Option<&str>) -> String {
    let a = hub
        .gql(
            &hub.polo_nord(),
            SUBMIT,
            json!({"input": {"caseId": case, "orderId": order, "mandateId": mandate,
                "title": "Relazione di aggiornamento",
                "body": "La madre collabora con il servizio; il minore frequenta la scuola."}}),
        )
        .await
        .ok();
    assert_eq!(
        a.data("/submitCourtReport/delivery/status"),
        &json!("PENDING")
    );
    a.data("/submitCourtReport/id")
        .as_str()
        .unwrap()
        .to_string()
}

async fn tick(hub: &TestHub) -> Tick {
    hub.outbox
        .as_ref()
        .expect("outbox")
        .run_once()
        .await
        .expect("tick")
}

/// Tick until nothing is pending (the backoff is a few milliseconds).
async fn drain(hub: &TestHub) {
    for _ in 0..50 {
        tick(hub).await;
        if hub
            .count("SELECT COUNT(*) FROM outbox_message WHERE status = 'PENDING'")
            .await
            == 0
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("messages still pending");
}

async fn delivery(hub: &TestHub, report: &str) -> Value {
    hub.gql(
        &hub.polo_nord(),
        "query($id: ID!) { courtReport(id: $id) { delivery { status attempts lastError statusReason deliveredAt classes } } }",
        json!({"id": report}),
    )
    .await
    .ok()
    .data("/courtReport/delivery")
    .clone()
}

async fn a_report_submitted_on_a_case_arrives_at_the_court_signed_and_its_delivery_shows_on_the_case(
    backend: Backend,
) {
    let (hub, court) = court_hub(backend).await;
    let (case, order, mandate) = case_before_the_court(&hub).await;
    let report = submit_report(&hub, &case, &order, Some(&mandate)).await;

    let t = tick(&hub).await;
    assert_eq!((t.claimed, t.delivered), (1, 1), "{t:?}");

    // The court verified the hub's signature (iss, aud, jti = the key) and got it once.
    let got = court.received();
    assert_eq!(got.len(), 1, "{got:#?}");
    let m = &got[0];
    assert_eq!(m["iss"], "rete-hub");
    assert_eq!(m["aud"], "tm-torino");
    assert_eq!(m["kind"], "COURT_REPORT");
    assert_eq!(m["receiver"], "tm-torino");
    let r = &m["data"]["courtReport"];
    assert_eq!(r["id"], json!(report));
    assert_eq!(r["title"], "Relazione di aggiornamento");
    assert!(r["body"].as_str().expect("a string").contains("collabora"));
    assert_eq!(r["order"]["id"], json!(order));
    assert_eq!(r["case"]["id"], json!(case));
    // The court may see who the case is about: nothing was withheld.
    assert!(
        r["case"]["subjects"][0]["person"]["familyName"].is_string(),
        "{r:#}"
    );
    assert_eq!(m["withheld"], json!([]), "{m:#}");

    // The delivery is on the case, and the mandate it answered is fulfilled.
    let d = delivery(&hub, &report).await;
    assert_eq!(d["status"], "DELIVERED", "{d}");
    assert_eq!(d["attempts"], 1);
    assert!(
        d["statusReason"]
            .as_str()
            .expect("a string")
            .starts_with("receipt "),
        "{d}"
    );
    assert!(
        d["classes"]
            .as_array()
            .unwrap()
            .contains(&json!("JUDICIAL")),
        "{d}"
    );
    let a = hub
        .gql(
            &hub.polo_nord(),
            "query($id: ID!) { case(id: $id) { outbound { kind status receiver { id } }
               courtOrders { mandates { id fulfilledOn } } } }",
            json!({"id": case}),
        )
        .await
        .ok();
    assert_eq!(
        a.data("/case/outbound"),
        &json!([{"kind": "COURT_REPORT", "status": "DELIVERED", "receiver": {"id": "tm-torino"}}])
    );
    let mandates = a.data("/case/courtOrders").to_string();
    assert!(
        mandates.contains(&mandate)
            && !mandates.contains(&format!("\"id\":\"{mandate}\",\"fulfilledOn\":null")),
        "{mandates}"
    );

    // The delivery is in the access log: the court, purpose SYNC, by the outbox.
    let logged = hub
        .count(
            "SELECT COUNT(*) FROM access_log_entry WHERE agency_id = 'tm-torino' \
             AND purpose = 'SYNC' AND operator = 'outbox:tribunale'",
        )
        .await;
    assert_eq!(logged, 1);

    // Nothing is left to send.
    let t = tick(&hub).await;
    assert_eq!(t.claimed, 0, "{t:?}");
}
backend_test!(
    a_report_submitted_on_a_case_arrives_at_the_court_signed_and_its_delivery_shows_on_the_case
);

async fn a_court_that_is_down_or_failing_gets_each_report_once_when_it_comes_back(
    backend: Backend,
) {
    let (hub, court) = court_hub(backend).await;
    let (case, order, _) = case_before_the_court(&hub).await;
    court.set_down(true).await;
    let first = submit_report(&hub, &case, &order, None).await;
    let t = tick(&hub).await;
    assert_eq!((t.claimed, t.retrying), (1, 1), "{t:?}");
    let d = delivery(&hub, &first).await;
    assert_eq!(d["status"], "PENDING");
    assert!(
        d["lastError"]
            .as_str()
            .expect("a string")
            .contains("connection"),
        "{d}"
    );

    // Back up, but answering 503 once and then too slowly once.
    court.set_down(false).await;
    court.fail_next(1, 503);
    court.delay_next(1, Duration::from_millis(1_500));
    let second = submit_report(&hub, &case, &order, None).await;
    drain(&hub).await;

    let got = court.received();
    let ids: Vec<&Value> = got
        .iter()
        .map(|m| &m["data"]["courtReport"]["id"])
        .collect();
    assert_eq!(ids.len(), 2, "each report arrives once: {got:#?}");
    assert!(ids.contains(&&json!(first)) && ids.contains(&&json!(second)));
    // The slow answer was retried: the court saw more posts than messages.
    assert!(court.attempts() > 2, "attempts {}", court.attempts());
    for r in [&first, &second] {
        assert_eq!(delivery(&hub, r).await["status"], "DELIVERED");
    }
}
backend_test!(a_court_that_is_down_or_failing_gets_each_report_once_when_it_comes_back);

async fn a_court_that_refuses_the_hubs_signature_leaves_the_report_dead_with_the_reason(
    backend: Backend,
) {
    // The court trusts another key than the hub's.
    let stranger = HubKeys::generate().expect("keys");
    let court = CourtPeer::start("tm-torino", stranger.public().expect("jwk").0)
        .await
        .expect("court peer");
    let hub = TestHub::builder()
        .backend(backend)
        .demo()
        .network_agreement()
        .outbound(Routes::new([court_route(&court)]), quick())
        .start()
        .await
        .expect("hub");
    let (case, order, _) = case_before_the_court(&hub).await;
    let report = submit_report(&hub, &case, &order, None).await;
    let t = tick(&hub).await;
    assert_eq!(t.dead, 1, "{t:?}");
    let d = delivery(&hub, &report).await;
    assert_eq!(d["status"], "DEAD");
    assert!(
        d["lastError"]
            .as_str()
            .expect("a string")
            .contains("refused"),
        "{d}"
    );
    assert!(court.received().is_empty());
    assert_eq!(court.refusals().len(), 1);
}
backend_test!(a_court_that_refuses_the_hubs_signature_leaves_the_report_dead_with_the_reason);

async fn a_report_needs_a_court_that_has_the_case_and_a_connector_to_it(backend: Backend) {
    let hub = TestHub::builder()
        .backend(backend)
        .demo()
        .network_agreement()
        .start()
        .await
        .expect("hub");
    let (case, order, mandate) = case_before_the_court(&hub).await;
    // No route to the court: refused, nothing recorded.
    let a = hub
        .gql(
            &hub.polo_nord(),
            SUBMIT,
            json!({"input": {"caseId": case, "orderId": order, "title": "Relazione", "body": "Testo"}}),
        )
        .await;
    assert_eq!(a.codes(), vec!["CONFLICT"], "{:#}", a.body);
    assert!(
        a.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("tm-torino")
    );
    assert_eq!(hub.count("SELECT COUNT(*) FROM court_report").await, 0);
    // A mandate without its order, and a title too short, name the field.
    for (input, field) in [
        (
            json!({"caseId": case, "mandateId": mandate, "title": "Relazione", "body": "Testo"}),
            "mandateId",
        ),
        (
            json!({"caseId": case, "orderId": order, "title": "R", "body": "Testo"}),
            "title",
        ),
    ] {
        let a = hub
            .gql(&hub.polo_nord(), SUBMIT, json!({"input": input}))
            .await;
        assert_eq!(a.codes(), vec!["BAD_USER_INPUT"], "{:#}", a.body);
        assert_eq!(a.errors()[0]["extensions"]["field"], field);
    }
    // Another agency's operators may not report on polo-nord's case.
    let sud = hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT");
    let a = hub
        .gql(
            &sud,
            SUBMIT,
            json!({"input": {"caseId": case, "orderId": order, "title": "Relazione", "body": "Testo"}}),
        )
        .await;
    assert!(
        a.codes() == vec!["NOT_FOUND"] || a.codes() == vec!["FORBIDDEN"],
        "{:#}",
        a.body
    );
}
backend_test!(a_report_needs_a_court_that_has_the_case_and_a_connector_to_it);

async fn two_workers_on_one_database_never_send_a_message_twice(backend: Backend) {
    let (hub, court) = court_hub(backend).await;
    let (case, order, _) = case_before_the_court(&hub).await;
    for _ in 0..12 {
        submit_report(&hub, &case, &order, None).await;
    }
    let config = OutboxConfig {
        batch: 3,
        ..quick()
    };
    let a = Arc::new(rete_api::outbox::Outbox::new(hub.state.clone(), config.clone()).unwrap());
    let b = Arc::new(rete_api::outbox::Outbox::new(hub.state.clone(), config).unwrap());
    let mut delivered = 0;
    for _ in 0..20 {
        let (ta, tb) = tokio::join!(a.run_once(), b.run_once());
        delivered += ta.unwrap().delivered + tb.unwrap().delivered;
        if delivered == 12 {
            break;
        }
    }
    assert_eq!(delivered, 12);
    assert_eq!(court.received().len(), 12);
    assert_eq!(court.attempts(), 12, "no message was sent twice");
}
backend_test!(two_workers_on_one_database_never_send_a_message_twice);

// ---------------------------------------------------------------------------
// Placements to a community, the policy at send time, withdrawals.

/// The HMAC key shared with the test community (a test fixture).
const AURORA_SECRET: &[u8] = b"test-fixture-aurora-shared-secret-0123456789";

async fn community_hub(backend: Backend) -> (TestHub, CommunityPeer) {
    let peer = CommunityPeer::start(AURORA_SECRET.to_vec())
        .await
        .expect("community peer");
    let route = (
        "comunita-aurora".to_string(),
        Route {
            instance: "aurora".into(),
            transport: Transport::ThirdSector {
                url: peer.base_url(),
                secret: AURORA_SECRET.to_vec(),
            },
            timeout_ms: None,
        },
    );
    let hub = TestHub::builder()
        .backend(backend)
        .demo()
        .network_agreement()
        .outbound(Routes::new([route]), quick())
        .start()
        .await
        .expect("hub");
    (hub, peer)
}

/// A polo-nord case whose mother is in no active placement, Aurora's
/// facility, and the mother's phone as the lead sees it: (case, mother,
/// facility, phone).
async fn mother_to_place(hub: &TestHub) -> (String, String, String, String) {
    let a = hub
        .gql(
            &hub.polo_nord(),
            "{ facilities { id operator { id } }
               cases(first: 100) { edges { node { id status leadAgency { id }
                 placements { endOn guests { id } }
                 subjects { role person { id phone } } } } } }",
            json!({}),
        )
        .await
        .ok();
    let facility = a
        .data("/facilities")
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f.pointer("/operator/id") == Some(&json!("comunita-aurora")))
        .and_then(|f| f["id"].as_str())
        .expect("Aurora's facility")
        .to_string();
    for e in a.data("/cases/edges").as_array().into_iter().flatten() {
        let n = &e["node"];
        if n.pointer("/leadAgency/id") != Some(&json!("polo-nord")) || n["status"] == "CLOSED" {
            continue;
        }
        let placed: Vec<&Value> = n["placements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["endOn"].is_null())
            .flat_map(|p| p["guests"].as_array().into_iter().flatten())
            .map(|g| &g["id"])
            .collect();
        for s in n["subjects"].as_array().into_iter().flatten() {
            let person = &s["person"];
            if s["role"] == "MOTHER"
                && person["phone"].is_string()
                && !placed.contains(&&person["id"])
            {
                return (
                    n["id"].as_str().unwrap().to_string(),
                    person["id"].as_str().unwrap().to_string(),
                    facility,
                    person["phone"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    panic!("the demo network has no mother to place");
}

/// The mother's consent for the community's system: these classes, purpose SYNC.
async fn consent_for_the_community(
    hub: &TestHub,
    mother: &str,
    classes: &[&str],
    valid_until: Option<String>,
) -> String {
    hub.gql(
        &hub.polo_nord(),
        "mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }",
        json!({"input": {"subjectId": mother, "givenBy": "SUBJECT", "dataClasses": classes,
            "recipientKinds": ["RECEPTION_COMMUNITY"], "purposes": ["SYNC"],
            "validUntil": valid_until, "evidenceRef": "prot. 1/2026"}}),
    )
    .await
    .ok()
    .data("/recordConsent/id")
    .as_str()
    .unwrap()
    .to_string()
}

async fn place(hub: &TestHub, case: &str, mother: &str, facility: &str) -> String {
    hub.gql(
        &hub.polo_nord(),
        "mutation($input: RecordPlacementInput!) { recordPlacement(input: $input) { id } }",
        json!({"input": {"caseId": case, "facilityId": facility, "personIds": [mother]}}),
    )
    .await
    .ok()
    .data("/recordPlacement/id")
    .as_str()
    .unwrap()
    .to_string()
}

async fn outbound_of(hub: &TestHub, case: &str) -> Value {
    hub.gql(
        &hub.polo_nord(),
        "query($id: ID!) { case(id: $id) { outbound { id kind status statusReason receiver { id } } } }",
        json!({"id": case}),
    )
    .await
    .ok()
    .data("/case/outbound")
    .clone()
}

async fn an_outbound_message_never_carries_a_field_the_receivers_policy_withholds(
    backend: Backend,
) {
    let (hub, aurora) = community_hub(backend).await;
    let (case, mother, facility, phone) = mother_to_place(&hub).await;
    // The mother lets the community's system know who she is, not how to reach her.
    let consent = consent_for_the_community(&hub, &mother, &["IDENTITY"], None).await;
    let placement = place(&hub, &case, &mother, &facility).await;
    let t = tick(&hub).await;
    assert_eq!(t.delivered, 1, "{t:?}");

    let got = aurora.received();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["kind"], "PLACEMENT_REQUEST");
    assert_eq!(m["receiver"], "comunita-aurora");
    let p = &m["data"]["placement"];
    assert_eq!(p["id"], json!(placement));
    let guest = &p["guests"][0];
    assert_eq!(guest["id"], json!(mother));
    assert!(guest["familyName"].is_string(), "{p:#}");
    // CONTACT is withheld: null, listed by path and class, and the value is nowhere.
    assert!(
        guest["phone"].is_null() && guest["email"].is_null(),
        "{p:#}"
    );
    let withheld = m["withheld"].as_array().unwrap();
    assert!(
        withheld.contains(&json!({"path": "placement.guests.0.phone", "class": "CONTACT"})),
        "{withheld:?}"
    );
    assert!(!m.to_string().contains(&phone), "the phone left the hub");
    // Where the facility is stays out too (SECRET_LOCATION is no facility's by SYNC).
    assert!(
        withheld.iter().any(|w| w["class"] == "SECRET_LOCATION") || p.get("facility").is_none()
    );

    // What it rested on is kept: IDENTITY on the consent.
    let bases = hub
        .count(&format!(
            "SELECT COUNT(*) FROM outbox_message WHERE status = 'DELIVERED' \
             AND CAST(bases AS TEXT) LIKE '%CONSENT:{consent}%'"
        ))
        .await;
    assert_eq!(bases, 1);
    // The delivery is the community's access-log entry, purpose SYNC.
    let logged = hub
        .count(
            "SELECT COUNT(*) FROM access_log_entry WHERE agency_id = 'comunita-aurora' \
             AND purpose = 'SYNC' AND operator = 'outbox:aurora'",
        )
        .await;
    assert_eq!(logged, 1);
}
backend_test!(an_outbound_message_never_carries_a_field_the_receivers_policy_withholds);

async fn a_withdrawal_stops_queued_messages_and_reaches_every_partner_that_had_the_data(
    backend: Backend,
) {
    let (hub, aurora) = community_hub(backend).await;
    let (case, mother, facility, _) = mother_to_place(&hub).await;
    let consent =
        consent_for_the_community(&hub, &mother, &["IDENTITY", "CONTACT", "SOCIAL"], None).await;
    let placement = place(&hub, &case, &mother, &facility).await;
    assert_eq!(tick(&hub).await.delivered, 1);

    // The community's system goes down; the placement ends: an update waits.
    aurora.set_down(true).await.unwrap();
    hub.gql(
        &hub.polo_nord(),
        "mutation($input: EndPlacementInput!) { endPlacement(input: $input) { id } }",
        json!({"input": {"placementId": placement, "reason": "Rientro a casa"}}),
    )
    .await
    .ok();
    assert_eq!(tick(&hub).await.retrying, 1);

    // The mother withdraws her consent while the update is queued.
    hub.gql(
        &hub.polo_nord(),
        "mutation($input: WithdrawConsentInput!) { withdrawConsent(input: $input) { id } }",
        json!({"input": {"consentId": consent}}),
    )
    .await
    .ok();
    let t = tick(&hub).await;
    assert_eq!(t.propagated, 1, "{t:?}");
    let out = outbound_of(&hub, &case).await;
    let update = out
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "PLACEMENT_UPDATE")
        .expect("the update");
    assert_eq!(update["status"], "DROPPED", "{out:#}");
    assert!(
        update["statusReason"]
            .as_str()
            .unwrap()
            .contains(&format!("consent {consent} withdrawn")),
        "{update}"
    );

    // Back up: the forget notice arrives; the update never does.
    aurora.set_down(false).await.unwrap();
    drain(&hub).await;
    let got = aurora.received();
    let kinds: Vec<&str> = got.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PLACEMENT_REQUEST", "FORGET"], "{got:#?}");
    let forget = &got[1]["data"];
    assert_eq!(forget["subject"]["id"], json!(mother));
    assert_eq!(forget["consent"], json!(consent));
    assert_eq!(forget["reason"], "WITHDRAWN");
    assert_eq!(forget["messages"][0], got[0]["id"]);
    let classes = forget["classes"].as_array().unwrap();
    for c in ["IDENTITY", "CONTACT"] {
        assert!(classes.contains(&json!(c)), "{classes:?}");
    }
    // The notice is in the access log, naming the person and no field.
    let logged = hub
        .count(&format!(
            "SELECT COUNT(*) FROM access_log_entry WHERE agency_id = 'comunita-aurora' \
             AND operation LIKE 'outbox FORGET%' AND records LIKE '%{mother}%' \
             AND records LIKE '%FORGET_NOTICE%'"
        ))
        .await;
    // One entry per attempt (an attempt while the system was down may be one).
    assert!(logged >= 1, "{logged}");
    // A second sweep sends nothing more.
    let t = tick(&hub).await;
    assert_eq!((t.propagated, t.claimed), (0, 0), "{t:?}");
}
backend_test!(a_withdrawal_stops_queued_messages_and_reaches_every_partner_that_had_the_data);

async fn a_consent_that_runs_out_is_forgotten_like_a_withdrawn_one(backend: Backend) {
    let (hub, aurora) = community_hub(backend).await;
    let (case, mother, facility, _) = mother_to_place(&hub).await;
    let until = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let consent = consent_for_the_community(&hub, &mother, &["IDENTITY"], Some(until)).await;
    place(&hub, &case, &mother, &facility).await;
    assert_eq!(tick(&hub).await.delivered, 1);
    assert_eq!(tick(&hub).await.propagated, 0, "still in force");
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let t = tick(&hub).await;
    assert_eq!(t.propagated, 1, "{t:?}");
    drain(&hub).await;
    let got = aurora.received();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[1]["kind"], "FORGET");
    assert_eq!(got[1]["data"]["reason"], "EXPIRED");
    assert_eq!(got[1]["data"]["consent"], json!(consent));
    assert_eq!(got[1]["data"]["classes"], json!(["IDENTITY"]));
}
backend_test!(a_consent_that_runs_out_is_forgotten_like_a_withdrawn_one);
