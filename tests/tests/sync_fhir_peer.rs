//! The hospital connector through the real engine, against the FHIR test peer
//! (`connectors::fhir::peer`) on 127.0.0.1: a sync fills the hub with a
//! person, health events, a referral and a consent; a second sync changes
//! nothing; an updated encounter is updated. On SQLite and PostgreSQL.

use connectors::config::InstanceConfig;
use connectors::engine::{NoProgress, RunStatus, Trigger};
use connectors::fhir::peer::{FhirPeer, PeerAuth};
use connectors::{Engine, Instance};
use rete_tests::{TestHub, hub_test};
use serde_json::{Value, json};

fn encounter(reason_display: &str) -> Value {
    json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER", "display": "emergency"},
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2026-02-10T23:30:00+01:00"},
        "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "248062006",
                                    "display": reason_display}]}]})
}

async fn hospital_peer() -> FhirPeer {
    let peer = FhirPeer::start(PeerAuth::Open).await.expect("peer");
    peer.put(json!({"resourceType": "Patient", "id": "p1",
        "identifier": [{"system": "http://hl7.it/sid/codiceFiscale", "value": "RSSNNA80A41L219D"}],
        "name": [{"family": "Rossi", "given": ["Anna"]}], "gender": "female", "birthDate": "1980-01-01"}));
    peer.put(encounter("Self-reported domestic violence"));
    peer.put(json!({"resourceType": "Condition", "id": "c1",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "S06.0", "display": "Concussion"}]},
        "subject": {"reference": "Patient/p1"}, "recordedDate": "2026-02-11"}));
    peer.put(json!({"resourceType": "Consent", "id": "k1", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"text": "privacy"}],
        "patient": {"reference": "Patient/p1"}, "dateTime": "2026-02-11T10:00:00Z",
        "provision": {"type": "permit",
            "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                       "reference": {"identifier": {"system": "https://specs.rete.example/fhir/sid/agency", "value": "polo-nord"}}}],
            "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "CAREMGT"}],
            "class": [{"system": "https://specs.rete.example/fhir/CodeSystem/data-class", "code": "HEALTH"}]}}));
    peer
}

fn engine(hub: &TestHub, peer: &FhirPeer) -> Engine {
    let text = format!(
        "kind = \"fhir\"\nagency = \"ospedale-regina\"\nrefer_to = \"polo-nord\"\nbase_url = \"{}\"\npage_size = 2\n\
         [[signals]]\nsystem = \"http://snomed.info/sct\"\ncode = \"248062006\"\nreason = \"DOMESTIC_VIOLENCE\"\nsubject_role = \"MOTHER\"\n",
        peer.base_url()
    );
    let config: InstanceConfig = toml::from_str(&text).expect("config");
    let connector = connectors::build("hospital", &config).expect("connector");
    Engine::new(
        hub.db.clone(),
        vec![Instance {
            name: "hospital".into(),
            config,
            connector,
        }],
    )
}

async fn a_sync_against_a_fhir_server_fills_the_hub_once(hub: TestHub) {
    let peer = hospital_peer().await;
    let engine = engine(&hub, &peer);
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("run");
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.error);
    assert_eq!(
        (r.fetched, r.created, r.rejected),
        (4, 5, 0),
        "{:?}",
        r.rejections
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM person WHERE fiscal_code = 'RSSNNA80A41L219D'")
            .await,
        1
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM health_event h JOIN person p ON p.id = h.person_id WHERE p.fiscal_code = 'RSSNNA80A41L219D' AND h.kind IN ('ER_VISIT', 'INJURY_REPORT')")
            .await,
        2
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM referral r JOIN referral_subject s ON s.referral_id = r.id JOIN person p ON p.id = s.person_id WHERE p.fiscal_code = 'RSSNNA80A41L219D' AND r.urgency = 'HIGH' AND s.role = 'MOTHER'")
            .await,
        1
    );
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM consent c JOIN person p ON p.id = c.subject_id WHERE p.fiscal_code = 'RSSNNA80A41L219D' AND c.withdrawn_at IS NULL")
            .await,
        1
    );

    // Again: nothing changed, nothing is pulled.
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("run 2");
    assert_eq!((r.fetched, r.created, r.updated), (0, 0, 0));

    // The hospital corrects the encounter: its health event is updated.
    peer.put(encounter("Self-reported domestic violence (confirmed)"));
    let r = engine
        .run("hospital", Trigger::Manual, &NoProgress)
        .await
        .expect("run 3");
    assert_eq!((r.fetched, r.created), (1, 0));
    assert_eq!(r.updated, 2, "the health event and the referral it raised");
    assert_eq!(
        hub.count("SELECT COUNT(*) FROM health_event WHERE summary LIKE '%(confirmed)'")
            .await,
        1
    );
}
hub_test!(
    a_sync_against_a_fhir_server_fills_the_hub_once,
    TestHub::builder().demo()
);
