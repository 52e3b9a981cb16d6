//! The court connector through the real engine and the real hub, against the
//! test court (`connectors::court::peer`) on 127.0.0.1: a signed order lands
//! on its case with its mandates' deadlines, which the lead social service
//! reads over GraphQL; forged, unsigned and misaddressed items land in the
//! dead letters with the reason and write nothing; a replay changes nothing;
//! a changed order is updated (a mandate that remains keeps its
//! `fulfilled_on`). On SQLite and PostgreSQL.

use base64::Engine as _;
use connectors::config::InstanceConfig;
use connectors::court::peer::{CourtPeer, Es256Key};
use connectors::engine::{NoProgress, RunReport, RunStatus, Trigger};
use connectors::{Engine, Instance};
use rete_tests::{TestHub, hub_test};
use serde_json::{Value, json};

const COURT: &str = "tm-torino";

struct Court {
    peer: CourtPeer,
    engine: Engine,
    _dir: tempfile::TempDir,
}

async fn court(hub: &TestHub) -> Court {
    let hub_key = Es256Key::generate("rete-hub-es256");
    let peer = CourtPeer::start(COURT, hub_key.public_jwk())
        .await
        .expect("court");
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("tm-torino.pem");
    // The PEM form of the court's key, as a court would hand it over.
    std::fs::write(&key_file, peer.court_key().public_pem()).expect("key file");
    let text = format!(
        "kind = \"court\"\nagency = \"{COURT}\"\nbase_url = \"{}\"\ncourt_key_file = \"{}\"\npage_size = 2\n",
        peer.base_url(),
        key_file.display()
    );
    let config: InstanceConfig = toml::from_str(&text).expect("config");
    let connector = connectors::build("tribunale", &config).expect("connector");
    let engine = Engine::new(
        hub.db.clone(),
        vec![Instance {
            name: "tribunale".into(),
            config,
            connector,
        }],
    );
    Court {
        peer,
        engine,
        _dir: dir,
    }
}

impl Court {
    async fn sync(&self) -> RunReport {
        let r = self
            .engine
            .run("tribunale", Trigger::Manual, &NoProgress)
            .await
            .expect("run");
        assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.error);
        r
    }
}

/// A new case led by polo-nord; its id and reference.
async fn case(hub: &TestHub) -> (String, String) {
    let id = hub.case_led_by("polo-nord", &[]).await.to_string();
    let a = hub
        .gql(
            &hub.polo_nord(),
            "query($id: ID!) { case(id: $id) { reference } }",
            json!({"id": id}),
        )
        .await
        .ok();
    let reference = a.data("/case/reference").as_str().expect("reference");
    (id, reference.to_string())
}

fn order(reference: &str) -> Value {
    json!({
        "id": "TM-2026-17",
        "type": "ORDER",
        "docket_number": "V.G. 123/2026",
        "case_reference": reference,
        "kind": "CUSTODY_TO_SOCIAL_SERVICE",
        "issued_on": "2026-03-02",
        "summary": "Affidamento del minore al servizio sociale",
        "text": "Il Tribunale per i minorenni di Torino, visti gli atti, dispone …",
        "mandates": [
            {"agency": "polo-nord", "description": "Relazione sulla situazione del minore", "due_on": "2026-05-31"},
            {"agency": "consultorio-centro", "description": "Sostegno psicologico alla madre"}
        ]
    })
}

const ORDERS_OF_CASE: &str = "query($id: ID!) { case(id: $id) { courtOfRecord { id }
    courtOrders { court { id } docketNumber kind issuedOn summary text
      mandates { agency { id } description dueOn fulfilledOn } } } }";

async fn a_court_order_lands_on_its_case_with_the_deadlines_the_lead_service_reads(hub: TestHub) {
    let court = court(&hub).await;
    let (case_id, reference) = case(&hub).await;
    court.peer.publish(order(&reference));
    let r = court.sync().await;
    assert_eq!(
        (r.fetched, r.created, r.rejected),
        (1, 1, 0),
        "{:?}",
        r.rejections
    );
    assert_eq!(r.cursor_after.as_deref(), Some("1"));

    let a = hub
        .gql(&hub.polo_nord(), ORDERS_OF_CASE, json!({"id": case_id}))
        .await
        .ok();
    assert_eq!(a.data("/case/courtOfRecord/id"), &json!(COURT));
    assert_eq!(
        a.data("/case/courtOrders"),
        &json!([{
            "court": {"id": COURT},
            "docketNumber": "V.G. 123/2026",
            "kind": "CUSTODY_TO_SOCIAL_SERVICE",
            "issuedOn": "2026-03-02",
            "summary": "Affidamento del minore al servizio sociale",
            "text": "Il Tribunale per i minorenni di Torino, visti gli atti, dispone …",
            "mandates": [
                {"agency": {"id": "polo-nord"}, "description": "Relazione sulla situazione del minore",
                 "dueOn": "2026-05-31", "fulfilledOn": null},
                {"agency": {"id": "consultorio-centro"}, "description": "Sostegno psicologico alla madre",
                 "dueOn": null, "fulfilledOn": null}
            ]
        }])
    );

    // A report request: the mandate says who reports, by when.
    let mut request = order(&reference);
    request["id"] = json!("TM-2026-18");
    request["type"] = json!("REPORT_REQUEST");
    request["docket_number"] = json!("V.G. 124/2026");
    request.as_object_mut().map(|o| o.remove("kind"));
    request["mandates"] = json!([{"agency": "polo-nord",
        "description": "Indagine psicosociale sul nucleo", "due_on": "2026-04-15"}]);
    court.peer.publish(request);
    let r = court.sync().await;
    assert_eq!((r.fetched, r.created), (1, 1), "{:?}", r.rejections);
    assert_eq!(
        hub.count(&format!(
            "SELECT COUNT(*) FROM court_order o JOIN court_order_mandate m ON m.order_id = o.id \
             JOIN case_file c ON c.id = o.case_id WHERE c.reference = '{reference}' \
             AND o.kind = 'REPORT_REQUEST' AND m.agency_id = 'polo-nord' AND m.due_on = '2026-04-15'"
        ))
        .await,
        1
    );

    // Both are polo-nord's due items, earliest first, with the order and case they come from.
    let due = hub
        .gql(
            &hub.polo_nord(),
            "{ mandatesDue(before: \"2026-06-30\", first: 100) { description dueOn
               order { docketNumber case { id } } } }",
            json!({}),
        )
        .await
        .ok();
    let ours: Vec<&Value> = due
        .data("/mandatesDue")
        .as_array()
        .expect("a list")
        .iter()
        .filter(|m| m.pointer("/order/case/id") == Some(&json!(case_id)))
        .collect();
    assert_eq!(
        ours,
        [
            &json!({"description": "Indagine psicosociale sul nucleo", "dueOn": "2026-04-15",
                    "order": {"docketNumber": "V.G. 124/2026", "case": {"id": case_id}}}),
            &json!({"description": "Relazione sulla situazione del minore", "dueOn": "2026-05-31",
                    "order": {"docketNumber": "V.G. 123/2026", "case": {"id": case_id}}}),
        ]
    );
}
hub_test!(
    a_court_order_lands_on_its_case_with_the_deadlines_the_lead_service_reads,
    TestHub::builder().demo().network_agreement()
);

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn forged_unsigned_and_misaddressed_items_are_dead_letters_and_write_nothing(hub: TestHub) {
    let court = court(&hub).await;
    let (_, reference) = case(&hub).await;
    let orders_before = hub.count("SELECT COUNT(*) FROM court_order").await;
    let claims = |order: Value| json!({"iss": COURT, "iat": 1_772_000_000, "order": order});

    // Signed by someone else, with the court's kid.
    let forger = Es256Key::generate(court.peer.court_key().kid());
    court
        .peer
        .publish_raw(forger.sign(&claims(order(&reference))));
    // Unsigned.
    let mut o = order(&reference);
    o["id"] = json!("TM-UNSIGNED");
    court.peer.publish_raw(format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims(o).to_string().as_bytes())
    ));
    // Signed by the court's key but claiming another court.
    let mut c = claims(order(&reference));
    c["order"]["id"] = json!("TM-MILANO");
    c["iss"] = json!("tm-milano");
    court.peer.publish_raw(court.peer.court_key().sign(&c));
    // Well signed, about a case Rete does not have.
    let mut o = order("RETE-NOPE-0000");
    o["id"] = json!("TM-NOCASE");
    o["docket_number"] = json!("V.G. 999/2026");
    court.peer.publish(o);
    // Well signed, mandating an agency outside the network.
    let mut o = order(&reference);
    o["id"] = json!("TM-STRANGER");
    o["docket_number"] = json!("V.G. 998/2026");
    o["mandates"][1]["agency"] = json!("asl-to5");
    court.peer.publish(o);

    let r = court.sync().await;
    assert_eq!((r.fetched, r.created, r.rejected), (5, 0, 5));
    let reasons: Vec<(Option<u64>, String)> = r
        .rejections
        .iter()
        .map(|x| (x.position, x.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                Some(1),
                "the signature does not verify with the court's key".to_string()
            ),
            (
                Some(2),
                "unsigned: the JWS has alg none or no signature".to_string()
            ),
            (
                Some(3),
                "iss `tm-milano` is not tm-torino, the court this instance reads".to_string()
            ),
            (Some(4), "no case with reference RETE-NOPE-0000".to_string()),
            (
                Some(5),
                "order.mandates[1].agency: `asl-to5` is not an agency of the network".to_string()
            ),
        ]
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_dead_letter WHERE instance = 'tribunale' AND resolved_at IS NULL AND resource_type = 'court-order'")
            .await,
        5
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM sync_dead_letter WHERE external_id = 'TM-NOCASE' AND reason = 'no case with reference RETE-NOPE-0000'")
            .await,
        1
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM court_order").await,
        orders_before
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM external_ref WHERE entity = 'COURT_ORDER'")
            .await,
        0
    );
    // The dead letter keeps the JWS itself: a retry verifies it again, and
    // a forgery stays one.
    let r = court
        .engine
        .retry_dead_letters("tribunale", &[], &NoProgress)
        .await
        .expect("retry");
    assert_eq!((r.created, r.rejected), (0, 5));
}
hub_test!(
    forged_unsigned_and_misaddressed_items_are_dead_letters_and_write_nothing,
    TestHub::builder().demo()
);

async fn a_replay_changes_nothing_and_a_changed_order_is_updated(hub: TestHub) {
    let court = court(&hub).await;
    let (case_id, reference) = case(&hub).await;
    court.peer.publish(order(&reference));
    // The court publishes it twice (a resend): one record.
    court.peer.publish(order(&reference));
    let r = court.sync().await;
    assert_eq!((r.fetched, r.created, r.unchanged), (2, 1, 1));

    // The same pages again, from the start: nothing changes.
    hub.sql("DELETE FROM sync_cursor WHERE instance = 'tribunale'")
        .await;
    let r = court.sync().await;
    assert_eq!((r.fetched, r.created, r.updated, r.unchanged), (2, 0, 0, 2));
    let r = court.sync().await;
    assert_eq!(r.fetched, 0, "the cursor is past both");

    // Polo Nord delivers its report; then the court changes the order: a
    // new summary, a later deadline for Polo Nord, the consultorio's
    // mandate dropped, a new one for Polo Sud.
    hub.sql(&format!(
        "UPDATE court_order_mandate SET fulfilled_on = '2026-05-20' WHERE agency_id = 'polo-nord' \
         AND order_id IN (SELECT o.id FROM court_order o JOIN case_file c ON c.id = o.case_id \
         WHERE c.reference = '{reference}')"
    ))
    .await;
    let mut changed = order(&reference);
    changed["summary"] = json!("Affidamento confermato, con proroga");
    changed["mandates"] = json!([
        {"agency": "polo-nord", "description": "Relazione sulla situazione del minore", "due_on": "2026-06-30"},
        {"agency": "polo-sud", "description": "Verifica della residenza del padre", "due_on": "2026-06-30"}
    ]);
    court.peer.publish(changed);
    let r = court.sync().await;
    assert_eq!((r.fetched, r.created, r.updated), (1, 0, 1));

    let a = hub
        .gql(&hub.polo_nord(), ORDERS_OF_CASE, json!({"id": case_id}))
        .await
        .ok();
    let orders = a
        .data("/case/courtOrders")
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["summary"], "Affidamento confermato, con proroga");
    assert_eq!(
        orders[0]["mandates"],
        json!([
            {"agency": {"id": "polo-nord"}, "description": "Relazione sulla situazione del minore",
             "dueOn": "2026-06-30", "fulfilledOn": "2026-05-20"},
            {"agency": {"id": "polo-sud"}, "description": "Verifica della residenza del padre",
             "dueOn": "2026-06-30", "fulfilledOn": null}
        ])
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM external_ref WHERE entity = 'COURT_ORDER'")
            .await,
        1
    );

    // Another order may not take a docket number this court already used.
    let mut clash = order(&reference);
    clash["id"] = json!("TM-2026-40");
    court.peer.publish(clash);
    let r = court.sync().await;
    assert_eq!(r.rejected, 1);
    assert_eq!(
        r.rejections[0].reason,
        "order.docket_number: another order of this court in Rete has this docket number"
    );

    // A new order and its correction in one page: created, then updated.
    let mut first = order(&reference);
    first["id"] = json!("TM-2026-50");
    first["docket_number"] = json!("V.G. 150/2026");
    let mut corrected = first.clone();
    corrected["mandates"] = json!([{"agency": "polo-nord",
        "description": "Relazione sulla situazione del minore", "due_on": "2026-07-15"}]);
    court.peer.publish(first);
    court.peer.publish(corrected);
    let r = court.sync().await;
    assert_eq!(
        (r.fetched, r.created, r.updated, r.rejected),
        (2, 1, 1, 0),
        "{:?}",
        r.rejections
    );
    assert_eq!(
        hub.count(
            "SELECT COUNT(*) FROM court_order_mandate m JOIN court_order o ON o.id = m.order_id \
             WHERE o.docket_number = 'V.G. 150/2026'"
        )
        .await,
        1
    );
    assert_eq!(
        hub.count(
            "SELECT COUNT(*) FROM court_order_mandate m JOIN court_order o ON o.id = m.order_id \
             WHERE o.docket_number = 'V.G. 150/2026' AND m.due_on = '2026-07-15'"
        )
        .await,
        1
    );
}
hub_test!(
    a_replay_changes_nothing_and_a_changed_order_is_updated,
    TestHub::builder().demo()
);

async fn an_instance_of_an_agency_that_is_not_a_court_imports_no_order(hub: TestHub) {
    let hub_key = Es256Key::generate("rete-hub-es256");
    let peer = CourtPeer::start("polo-sud", hub_key.public_jwk())
        .await
        .expect("court");
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("k.jwk");
    peer.write_public_key(&key_file).expect("key");
    let text = format!(
        "kind = \"court\"\nagency = \"polo-sud\"\nbase_url = \"{}\"\ncourt_key_file = \"{}\"\n",
        peer.base_url(),
        key_file.display()
    );
    let config: InstanceConfig = toml::from_str(&text).expect("config");
    let connector = connectors::build("finto", &config).expect("connector");
    let engine = Engine::new(
        hub.db.clone(),
        vec![Instance {
            name: "finto".into(),
            config,
            connector,
        }],
    );
    let (_, reference) = case(&hub).await;
    peer.publish(order(&reference));
    let r = engine
        .run("finto", Trigger::Manual, &NoProgress)
        .await
        .expect("run");
    assert_eq!((r.created, r.rejected), (0, 1));
    assert_eq!(
        r.rejections[0].reason,
        "instance finto speaks for polo-sud, a SOCIAL_SERVICE: only a juvenile court issues orders"
    );
}
hub_test!(
    an_instance_of_an_agency_that_is_not_a_court_imports_no_order,
    TestHub::builder().demo()
);
