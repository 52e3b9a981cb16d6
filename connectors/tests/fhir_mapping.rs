//! The FHIR mapping's rules on resources written for the purpose: fiscal
//! codes, encounter classes, signals that raise referrals, consents,
//! references, and Bundle files.

use chrono::{DateTime, NaiveDate, Utc};
use connectors::fhir::map::{AGENCY_KIND_SYSTEM, AGENCY_SYSTEM, DATA_CLASS_SYSTEM};
use connectors::fhir::{BundleError, MapContext, Signal, bundle_items, map_item};
use connectors::model::{ConsentIn, ExternalKey, HealthEventIn, Inbound, PersonIn, ReferralIn};
use connectors::{Mapped, RawItem, Record};
use entities::enums::{ConsentGiver, HealthEventKind, ReferralReason, Sex, SubjectRole, Urgency};
use serde_json::{Value, json};

const BASE: &str = "https://fhir.ospedale.example/r4";
const SNOMED: &str = "http://snomed.info/sct";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

fn ctx() -> MapContext {
    MapContext::new(
        BASE,
        vec![
            Signal {
                system: ICD10.into(),
                code: "T74.1".into(),
                reason: ReferralReason::Maltreatment,
                urgency: Urgency::High,
                subject_role: SubjectRole::Child,
            },
            Signal {
                system: SNOMED.into(),
                code: "95930005".into(),
                reason: ReferralReason::DomesticViolence,
                urgency: Urgency::Immediate,
                subject_role: SubjectRole::Child,
            },
        ],
    )
}

fn map(v: Value) -> Mapped {
    map_item(
        &ctx(),
        &RawItem {
            resource_type: v["resourceType"].as_str().unwrap_or_default().into(),
            external_id: None,
            position: None,
            payload: v.to_string(),
        },
    )
}

fn records(m: Mapped) -> Vec<Record> {
    match m {
        Mapped::Records(r) => r,
        other => panic!("records expected, got {other:?}"),
    }
}

fn rejected(m: Mapped) -> String {
    match m {
        Mapped::Rejected(r) => r,
        other => panic!("rejection expected, got {other:?}"),
    }
}

fn person(v: Value) -> PersonIn {
    match records(map(v)).remove(0).body {
        Inbound::Person(p) => p,
        other => panic!("{other:?}"),
    }
}

fn consent(v: Value) -> ConsentIn {
    match records(map(v)).remove(0).body {
        Inbound::Consent(c) => c,
        other => panic!("{other:?}"),
    }
}

fn key(rtype: &str, id: &str) -> ExternalKey {
    ExternalKey::new(BASE, rtype, id)
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

fn anna() -> Value {
    json!({
        "resourceType": "Patient", "id": "p1",
        "meta": {"versionId": "3", "lastUpdated": "2026-03-01T10:00:00Z"},
        "identifier": [
            {"system": "http://hl7.it/sid/codiceFiscale", "value": "rssnna80a41l219d"},
            {"system": "https://asl.example/mpi/", "value": "MPI-77"}
        ],
        "name": [{"use": "official", "family": "Rossi", "given": ["Anna", "Maria"]}],
        "gender": "female", "birthDate": "1980-01-01",
        "telecom": [{"system": "email", "value": "anna@example.org"}],
        "communication": [
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "ar-MA"}]}},
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "it"}]}, "preferred": true}
        ],
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                       "valueAddress": {"city": "Torino"}}]
    })
}

// -------------------------------------------------------------- Patient ----

#[test]
fn a_codice_fiscale_identifier_becomes_the_fiscal_code_and_others_stay_identifiers() {
    let r = records(map(anna())).remove(0);
    assert_eq!(r.key, key("Patient", "p1"));
    assert_eq!(r.version.as_deref(), Some("3"));
    let Inbound::Person(p) = r.body else { panic!() };
    assert_eq!(p.fiscal_code.as_deref(), Some("RSSNNA80A41L219D"));
    assert_eq!(
        p.identifiers,
        vec![ExternalKey::new(
            "https://asl.example/mpi",
            "Patient",
            "MPI-77"
        )]
    );
    assert_eq!(
        (p.given_name.as_str(), p.family_name.as_str()),
        ("Anna Maria", "Rossi")
    );
    assert_eq!(p.sex, Sex::Female);
    assert_eq!(
        p.languages,
        vec!["it".to_string(), "ar".to_string()],
        "preferred first, ISO 639-1"
    );
    assert_eq!(p.birth_place.as_deref(), Some("Torino"));
    assert_eq!(p.email.as_deref(), Some("anna@example.org"));
}

#[test]
fn the_fiscal_code_oid_is_read_too() {
    let mut a = anna();
    a["identifier"] =
        json!([{"system": "urn:oid:2.16.840.1.113883.2.9.4.3.2", "value": "RSS NNA 80A41 L219D"}]);
    assert_eq!(person(a).fiscal_code.as_deref(), Some("RSSNNA80A41L219D"));
}

#[test]
fn a_malformed_fiscal_code_is_rejected_not_used_for_matching() {
    let mut a = anna();
    a["identifier"][0]["value"] = json!("RSSNNA80");
    assert_eq!(
        rejected(map(a)),
        "Patient: identifier[0] has the codice fiscale system but is not one: it has 8 characters, not 16"
    );
    let mut a = anna();
    a["identifier"][0]["value"] = json!("RSSNNA80A41L219X");
    assert_eq!(
        rejected(map(a)),
        "Patient: identifier[0] has the codice fiscale system but is not one: it has a wrong check character (the 16th)"
    );
    let mut a = anna();
    a["birthDate"] = json!("1980-01-02");
    assert_eq!(
        rejected(map(a)),
        "Patient: the codice fiscale does not encode birthDate (one of them is wrong)"
    );
}

#[test]
fn a_patient_without_a_name_is_rejected() {
    let mut a = anna();
    a.as_object_mut().expect("object").remove("name");
    assert_eq!(
        rejected(map(a)),
        "Patient: has no name (name.given and name.family, or name.text)"
    );
    let mut a = anna();
    a["name"] = json!([{"given": ["Anna"]}]);
    assert!(rejected(map(a)).contains("no family name"));
}

#[test]
fn a_year_alone_is_not_a_birth_date_and_unknown_gender_is_unknown() {
    let mut a = anna();
    a["birthDate"] = json!("1980");
    a["gender"] = json!("unknown");
    let p = person(a);
    assert_eq!(p.birth_on, None);
    assert_eq!(p.sex, Sex::Unknown);
}

#[test]
fn a_code_outside_the_value_set_is_rejected_with_the_parser_reason() {
    let mut a = anna();
    a["gender"] = json!("F");
    let why = rejected(map(a));
    assert!(
        why.starts_with("Patient: not a valid R4 Patient: Unknown value: F"),
        "{why}"
    );
}

// ------------------------------------------------------------ Encounter ----

fn visit(class: &str) -> Value {
    json!({
        "resourceType": "Encounter", "id": "e1", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class},
        "type": [{"coding": [{"system": SNOMED, "code": "50849002", "display": "Emergency room admission"}]}],
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2026-02-10T23:30:00+01:00"},
        "reasonCode": [{"text": "Says her partner hit her last night"}]
    })
}

fn event(m: &Record) -> &HealthEventIn {
    match &m.body {
        Inbound::HealthEvent(h) => h,
        other => panic!("{other:?}"),
    }
}

#[test]
fn encounter_classes_give_health_event_kinds() {
    for (class, kind) in [
        ("EMER", HealthEventKind::ErVisit),
        ("IMP", HealthEventKind::Hospitalisation),
        ("ACUTE", HealthEventKind::Hospitalisation),
        ("AMB", HealthEventKind::OutpatientVisit),
        ("VR", HealthEventKind::Other),
    ] {
        let r = records(map(visit(class)));
        assert_eq!(r.len(), 1, "no signal, no referral");
        assert_eq!(event(&r[0]).kind, kind, "{class}");
        assert_eq!(
            event(&r[0]).occurred_on,
            NaiveDate::from_ymd_opt(2026, 2, 10).expect("date")
        );
    }
}

#[test]
fn an_uncoded_reason_is_never_copied_into_the_summary() {
    let r = records(map(visit("EMER")));
    assert_eq!(event(&r[0]).summary, "Emergency room admission");
}

#[test]
fn an_encounter_without_subject_or_date_is_rejected() {
    let mut v = visit("EMER");
    v.as_object_mut().expect("object").remove("subject");
    assert_eq!(rejected(map(v)), "Encounter: has no subject");
    let mut v = visit("EMER");
    v.as_object_mut().expect("object").remove("period");
    assert_eq!(
        rejected(map(v)),
        "Encounter: has no date (period.start or period.end)"
    );
    let mut v = visit("EMER");
    v["subject"] = json!({"reference": "Group/g1"});
    assert_eq!(
        rejected(map(v)),
        "Encounter: subject `Group/g1` is a Group, not a Patient"
    );
}

#[test]
fn cancelled_or_entered_in_error_encounters_are_skipped() {
    for status in ["cancelled", "entered-in-error", "planned"] {
        let mut v = visit("EMER");
        v["status"] = json!(status);
        assert!(matches!(map(v), Mapped::Skipped(_)), "{status}");
    }
}

#[test]
fn an_encounter_with_a_coded_violence_signal_also_raises_a_referral() {
    let mut v = visit("EMER");
    v["reasonCode"] = json!([
        {"coding": [{"system": SNOMED, "code": "95930005", "display": "Victim of domestic violence"}]},
        {"coding": [{"system": ICD10, "code": "T74.1", "display": "Physical abuse, confirmed"}]}
    ]);
    v["meta"] = json!({"versionId": "2"});
    let r = records(map(v));
    assert_eq!(r.len(), 2);
    assert_eq!(
        event(&r[0]).summary,
        "Emergency room admission — reason: Victim of domestic violence; Physical abuse, confirmed"
    );
    assert_eq!(r[1].key, key("Encounter#referral", "e1"));
    assert_eq!(r[1].version.as_deref(), Some("2"));
    let Inbound::Referral(ReferralIn {
        subject,
        subject_role,
        reasons,
        urgency,
        description,
        received_at,
    }) = &r[1].body
    else {
        panic!("referral expected")
    };
    assert_eq!(subject, &key("Patient", "p1"));
    assert_eq!(*subject_role, SubjectRole::Child);
    assert_eq!(
        reasons,
        &vec![
            ReferralReason::DomesticViolence,
            ReferralReason::Maltreatment
        ]
    );
    assert_eq!(
        *urgency,
        Urgency::Immediate,
        "the highest of the matched signals"
    );
    assert_eq!(*received_at, instant("2026-02-10T22:30:00Z"));
    let d = description.as_deref().unwrap_or_default();
    assert!(
        d.contains("ER_VISIT") && d.contains("http://snomed.info/sct|95930005"),
        "{d}"
    );
}

#[test]
fn a_signal_in_a_contained_diagnosis_raises_a_referral_too() {
    let mut v = visit("EMER");
    v["contained"] = json!([{
        "resourceType": "Condition", "id": "dx",
        "code": {"coding": [{"system": ICD10, "code": "T74.1"}]},
        "subject": {"reference": "Patient/p1"}
    }]);
    v["diagnosis"] = json!([{"condition": {"reference": "#dx"}}]);
    let r = records(map(v));
    assert_eq!(r.len(), 2);
    assert!(
        matches!(&r[1].body, Inbound::Referral(x) if x.reasons == vec![ReferralReason::Maltreatment])
    );
}

#[test]
fn a_code_of_another_system_is_not_a_signal() {
    let mut v = visit("EMER");
    v["reasonCode"] = json!([{"coding": [{"system": "http://loinc.org", "code": "95930005"}]}]);
    assert_eq!(records(map(v)).len(), 1);
}

// ------------------------------------------------------------ Condition ----

fn condition(system: &str, code: &str) -> Value {
    json!({
        "resourceType": "Condition", "id": "c1",
        "code": {"coding": [{"system": system, "code": code, "display": "x"}]},
        "subject": {"reference": "Patient/p1"},
        "recordedDate": "2026-02"
    })
}

#[test]
fn injury_and_pregnancy_chapters_give_their_kinds() {
    for (system, code, kind) in [
        (ICD10, "S06.0", HealthEventKind::InjuryReport),
        (ICD10, "T74.1", HealthEventKind::InjuryReport),
        (ICD10, "T81.4", HealthEventKind::Other),
        (ICD10, "X85", HealthEventKind::InjuryReport),
        (ICD10, "O80", HealthEventKind::Pregnancy),
        (ICD10, "Z34.0", HealthEventKind::Pregnancy),
        (ICD10, "I10", HealthEventKind::Other),
        (
            "http://hl7.org/fhir/sid/icd-9-cm",
            "995.54",
            HealthEventKind::InjuryReport,
        ),
        (
            "http://hl7.org/fhir/sid/icd-9-cm",
            "850.0",
            HealthEventKind::InjuryReport,
        ),
        (
            "http://hl7.org/fhir/sid/icd-9-cm",
            "650",
            HealthEventKind::Pregnancy,
        ),
        (SNOMED, "77386006", HealthEventKind::Pregnancy),
    ] {
        let r = records(map(condition(system, code)));
        assert_eq!(event(&r[0]).kind, kind, "{system}|{code}");
        assert_eq!(
            event(&r[0]).occurred_on,
            NaiveDate::from_ymd_opt(2026, 2, 1).expect("date")
        );
    }
}

#[test]
fn refuted_conditions_are_skipped_and_uncoded_ones_rejected() {
    let mut c = condition(ICD10, "S06.0");
    c["verificationStatus"] = json!({"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "refuted"}]});
    assert!(matches!(map(c), Mapped::Skipped(_)));
    let mut c = condition(ICD10, "S06.0");
    c.as_object_mut().expect("object").remove("code");
    assert_eq!(rejected(map(c)), "Condition: has no code");
}

// ---------------------------------------------------------- references ----

#[test]
fn references_resolve_relative_absolute_and_versioned() {
    for (reference, expected) in [
        ("Patient/p1", key("Patient", "p1")),
        ("Patient/p1/_history/4", key("Patient", "p1")),
        (
            "https://FHIR.ospedale.example:443/r4/Patient/p1",
            key("Patient", "p1"),
        ),
        (
            "https://other.example/fhir/Patient/9",
            ExternalKey::new("https://other.example/fhir", "Patient", "9"),
        ),
    ] {
        let mut c = condition(ICD10, "I10");
        c["subject"] = json!({"reference": reference});
        assert_eq!(event(&records(map(c))[0]).subject, expected, "{reference}");
    }
}

#[test]
fn unresolved_urn_and_contained_subjects_are_rejected() {
    let mut c = condition(ICD10, "I10");
    c["subject"] = json!({"reference": "urn:uuid:4b1f0f0e-0000-0000-0000-000000000000"});
    assert!(rejected(map(c)).contains("was not resolved"));
    let mut c = condition(ICD10, "I10");
    c["subject"] = json!({"reference": "#p"});
    assert!(rejected(map(c)).contains("contained resource"));
}

// -------------------------------------------------------------- Consent ----

fn privacy_consent() -> Value {
    json!({
        "resourceType": "Consent", "id": "k1",
        "meta": {"versionId": "1", "lastUpdated": "2026-03-05T09:00:00Z"},
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/p1"},
        "dateTime": "2026-03-01T08:00:00Z",
        "contained": [
            {"resourceType": "Organization", "id": "cv", "type": [{"coding": [
                {"system": AGENCY_KIND_SYSTEM, "code": "ANTI_VIOLENCE_CENTRE"}]}]}
        ],
        "provision": {
            "type": "permit",
            "period": {"start": "2026-03-01", "end": "2027-03-01"},
            "actor": [
                {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                 "reference": {"identifier": {"system": AGENCY_SYSTEM, "value": "polo-nord"}}},
                {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                 "reference": {"reference": "#cv"}},
                {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "AUT"}]},
                 "reference": {"identifier": {"system": AGENCY_SYSTEM, "value": "ospedale-regina"}}}
            ],
            "purpose": [
                {"system": ACT_REASON, "code": "TREAT"},
                {"system": ACT_REASON, "code": "CAREMGT"},
                {"system": ACT_REASON, "code": "HMARKT"}
            ],
            "class": [{"system": DATA_CLASS_SYSTEM, "code": "HEALTH"}],
            "securityLabel": [{"system": DATA_CLASS_SYSTEM, "code": "SOCIAL"},
                              {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]
        }
    })
}

#[test]
fn an_active_privacy_consent_becomes_a_rete_consent() {
    let r = records(map(privacy_consent())).remove(0);
    assert_eq!(r.key, key("Consent", "k1"));
    let Inbound::Consent(c) = r.body else {
        panic!()
    };
    assert_eq!(c.subject, key("Patient", "p1"));
    assert_eq!(c.given_by, ConsentGiver::Subject);
    assert_eq!(c.data_classes, vec!["HEALTH", "SOCIAL"]);
    assert_eq!(
        c.purposes,
        vec!["CASE_MANAGEMENT", "HEALTHCARE"],
        "HMARKT has no Rete purpose"
    );
    assert_eq!(
        c.recipient_agencies,
        vec!["polo-nord"],
        "the author is not a recipient"
    );
    assert_eq!(c.recipient_kinds, vec!["ANTI_VIOLENCE_CENTRE"]);
    assert_eq!(c.valid_from, instant("2026-03-01T00:00:00Z"));
    assert_eq!(c.valid_until, Some(instant("2027-03-01T00:00:00Z")));
    assert_eq!(c.withdrawn_at, None);
    assert_eq!(
        c.evidence_ref.as_deref(),
        Some("https://fhir.ospedale.example/r4/Consent/k1")
    );
}

#[test]
fn an_inactive_or_rejected_consent_is_withdrawn_when_it_was_last_updated() {
    for status in ["inactive", "rejected", "entered-in-error"] {
        let mut v = privacy_consent();
        v["status"] = json!(status);
        assert_eq!(
            consent(v).withdrawn_at,
            Some(instant("2026-03-05T09:00:00Z")),
            "{status}"
        );
    }
}

#[test]
fn draft_and_treatment_consents_are_skipped() {
    let mut v = privacy_consent();
    v["status"] = json!("draft");
    assert!(matches!(map(v), Mapped::Skipped(_)));
    let mut v = privacy_consent();
    v["scope"]["coding"][0]["code"] = json!("treatment");
    assert!(matches!(map(v), Mapped::Skipped(_)));
}

#[test]
fn a_consent_given_by_a_parent_says_so() {
    let mut v = privacy_consent();
    v["contained"].as_array_mut().expect("array").push(json!({
        "resourceType": "RelatedPerson", "id": "mum", "patient": {"reference": "Patient/p1"},
        "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}]}]
    }));
    v["performer"] = json!([{"reference": "#mum"}]);
    assert_eq!(consent(v).given_by, ConsentGiver::Parent);
}

#[test]
fn consents_that_would_grant_more_or_less_than_written_are_rejected() {
    let mut v = privacy_consent();
    v["provision"]["type"] = json!("deny");
    assert!(rejected(map(v)).contains("deny"));

    let mut v = privacy_consent();
    v["provision"]["provision"] =
        json!([{"type": "deny", "class": [{"system": DATA_CLASS_SYSTEM, "code": "SOCIAL"}]}]);
    assert!(rejected(map(v)).contains("nested provisions"));

    let mut v = privacy_consent();
    v["provision"]["class"] = json!([{"system": DATA_CLASS_SYSTEM, "code": "EVERYTHING"}]);
    assert_eq!(
        rejected(map(v)),
        "Consent: provision.class has codes that are not Rete data classes: EVERYTHING"
    );

    let mut v = privacy_consent();
    v["provision"]["purpose"] = json!([]);
    assert!(rejected(map(v)).contains("provision.purpose names no purpose"));

    let mut v = privacy_consent();
    v["provision"]["actor"] = json!([]);
    assert!(rejected(map(v)).contains("names no recipient"));

    let mut v = privacy_consent();
    v["provision"]["period"]["end"] = json!("2025-01-01");
    assert_eq!(
        rejected(map(v)),
        "Consent: provision.period ends before it starts"
    );
}

// -------------------------------------------------------------- Bundles ----

#[test]
fn a_transaction_bundle_resolves_urn_uuid_references_within_itself() {
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:0f9b5a34-1111-4c1e-8a65-000000000001",
             "resource": {"resourceType": "Patient", "name": [{"family": "Bianchi", "given": ["Sara"]}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:0f9b5a34-1111-4c1e-8a65-000000000002",
             "resource": {"resourceType": "Encounter", "status": "finished",
                          "class": {"code": "EMER"},
                          "subject": {"reference": "urn:uuid:0f9b5a34-1111-4c1e-8a65-000000000001"},
                          "period": {"start": "2026-01-05"}},
             "request": {"method": "POST", "url": "Encounter"}},
            {"request": {"method": "DELETE", "url": "Patient/old"}},
            {"fullUrl": "urn:uuid:0f9b5a34-1111-4c1e-8a65-000000000003",
             "resource": {"resourceType": "Observation", "status": "final"}}
        ]
    });
    let items = bundle_items(&bundle.to_string()).expect("bundle");
    assert_eq!(items.len(), 3, "the DELETE has no resource");
    assert_eq!(
        items.iter().map(|i| i.position).collect::<Vec<_>>(),
        vec![Some(0), Some(1), Some(3)]
    );
    assert_eq!(
        items[0].external_id.as_deref(),
        Some("0f9b5a34-1111-4c1e-8a65-000000000001")
    );
    let patient = records(map_item(&ctx(), &items[0])).remove(0);
    let visit = records(map_item(&ctx(), &items[1])).remove(0);
    assert_eq!(
        patient.key,
        key("Patient", "0f9b5a34-1111-4c1e-8a65-000000000001")
    );
    assert_eq!(event(&visit).subject, patient.key);
    assert_eq!(
        event(&visit).kind,
        HealthEventKind::ErVisit,
        "a class without system is read as v3-ActCode"
    );
    assert!(matches!(map_item(&ctx(), &items[2]), Mapped::Skipped(_)));
    // The payload stands alone: a dead letter retried later maps the same way.
    assert!(
        items[1]
            .payload
            .contains("\"Patient/0f9b5a34-1111-4c1e-8a65-000000000001\"")
    );
}

#[test]
fn a_broken_file_is_an_error_that_names_the_problem() {
    assert!(matches!(
        bundle_items("{\"resourceType\": \"Bundle\", \"type\": "),
        Err(BundleError::NotJson(_))
    ));
    assert_eq!(
        bundle_items(&json!({"resourceType": "Patient"}).to_string()),
        Err(BundleError::NotABundle(
            "its resourceType is Patient".into()
        ))
    );
    assert_eq!(
        bundle_items("[1, 2]"),
        Err(BundleError::NotABundle("the JSON is not an object".into()))
    );
    let err = bundle_items(&json!({"resourceType": "Bundle", "type": "message"}).to_string())
        .expect_err("message bundles are not read");
    assert!(
        err.to_string()
            .starts_with("Bundle.type: `message` is not read"),
        "{err}"
    );
    let err =
        bundle_items(&json!({"resourceType": "Bundle", "type": "batch", "entry": {}}).to_string())
            .expect_err("entry must be an array");
    assert_eq!(err.to_string(), "Bundle.entry: not an array");
}

#[test]
fn a_bad_entry_is_one_rejected_item_not_a_lost_file() {
    let bundle = json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "ok", "name": [{"family": "Verdi", "given": ["Luca"]}]}},
            {"resource": {"resourceType": "Patient", "id": "bad", "gender": 42}},
            "not an entry"
        ]
    });
    let items = bundle_items(&bundle.to_string()).expect("bundle");
    assert_eq!(items.len(), 3);
    assert!(matches!(map_item(&ctx(), &items[0]), Mapped::Records(_)));
    assert!(rejected(map_item(&ctx(), &items[1])).starts_with("Patient: not a valid R4 Patient"));
    assert_eq!(
        rejected(map_item(&ctx(), &items[2])),
        "not a FHIR resource: the JSON is not an object"
    );
}
