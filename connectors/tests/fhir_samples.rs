//! The real third-party HL7 FHIR R4 examples (copied from shared/fhir/r4 into
//! tests/fixtures/fhir-r4) and carebundle's transaction Bundles, parsed and
//! mapped by the FHIR connector's mapping.

use std::path::PathBuf;

use chrono::NaiveDate;
use connectors::fhir::{MapContext, bundle_items, map_item};
use connectors::model::{ExternalKey, HealthEventIn, Inbound, PersonIn};
use connectors::{Mapped, RawItem, Record};
use entities::enums::{HealthEventKind, Sex};

const BASE: &str = "https://fhir.ospedale.example/r4";

fn ctx() -> MapContext {
    MapContext::new(BASE, Vec::new())
}

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(dir: &str, file: &str) -> String {
    std::fs::read_to_string(fixture_dir(dir).join(file)).expect("fixture")
}

fn item(payload: String) -> RawItem {
    RawItem {
        resource_type: String::new(),
        external_id: None,
        position: None,
        payload,
    }
}

fn map_file(file: &str) -> Mapped {
    map_item(&ctx(), &item(read("fhir-r4", file)))
}

fn records(m: Mapped) -> Vec<Record> {
    match m {
        Mapped::Records(r) => r,
        other => panic!("records expected, got {other:?}"),
    }
}

fn person(m: Mapped) -> (ExternalKey, PersonIn) {
    let mut r = records(m);
    assert_eq!(r.len(), 1);
    let r = r.remove(0);
    match r.body {
        Inbound::Person(p) => (r.key, p),
        other => panic!("person expected, got {other:?}"),
    }
}

fn health_event(m: Mapped) -> (ExternalKey, HealthEventIn) {
    let mut r = records(m);
    assert_eq!(r.len(), 1, "one health event, no referral without signals");
    let r = r.remove(0);
    match r.body {
        Inbound::HealthEvent(h) => (r.key, h),
        other => panic!("health event expected, got {other:?}"),
    }
}

fn key(rtype: &str, id: &str) -> ExternalKey {
    ExternalKey::new(BASE, rtype, id)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

#[test]
fn every_real_sample_maps_skips_or_is_rejected_with_a_reason_and_none_crashes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir("fhir-r4"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 17, "the 17 shared samples are all there");
    let (mut mapped, mut skipped, mut rejected) = (0, 0, Vec::new());
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let items = if f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("bundle"))
        {
            bundle_items(&text).expect("the collection Bundle reads")
        } else {
            vec![item(text)]
        };
        for i in items {
            match map_item(&ctx(), &i) {
                Mapped::Records(_) => mapped += 1,
                Mapped::Skipped(_) => skipped += 1,
                Mapped::Rejected(why) => rejected.push(format!(
                    "{}: {why}",
                    f.file_name().unwrap_or_default().to_string_lossy()
                )),
            }
        }
    }
    // 3 patients + 6 in the Bundle, 1 encounter, 2 conditions.
    assert_eq!(mapped, 12, "rejected: {rejected:?}");
    // 3 organizations, 3 practitioners, 1 related person.
    assert_eq!(skipped, 7);
    rejected.sort();
    assert_eq!(
        rejected,
        vec![
            "condition-example2.json: Condition: has no date (onsetDateTime, onsetPeriod.start or recordedDate)",
            "encounter-example1.json: Encounter: has no date (period.start or period.end)",
            "encounter-example3.json: Encounter: has no date (period.start or period.end)",
        ]
    );
}

#[test]
fn peter_james_chalmers_becomes_a_person_with_his_birth_date() {
    let (k, p) = person(map_file("patient-example1.json"));
    assert_eq!(k, key("Patient", "example"));
    assert_eq!(
        p.given_name, "Peter James",
        "the official name, not Jim or the maiden name"
    );
    assert_eq!(p.family_name, "Chalmers");
    assert_eq!(p.birth_on, Some(date("1974-12-25")));
    assert_eq!(p.sex, Sex::Male);
    assert_eq!(p.fiscal_code, None);
    assert_eq!(
        p.identifiers,
        vec![ExternalKey::new(
            "urn:oid:1.2.36.146.595.217.0.1",
            "Patient",
            "12345"
        )]
    );
    assert_eq!(
        p.phone.as_deref(),
        Some("(03) 5555 6473"),
        "rank 1, not the old number"
    );
    assert_eq!(p.email, None);
    assert_eq!(
        p.address.as_deref(),
        Some("534 Erewhon St, 3999 PleasantVille")
    );
    assert_eq!(p.municipality.as_deref(), Some("PleasantVille"));
    assert!(p.languages.is_empty());
}

#[test]
fn pieter_van_de_heuvel_speaks_dutch_and_has_an_email() {
    let (k, p) = person(map_file("patient-example2.json"));
    assert_eq!(k, key("Patient", "f001"));
    assert_eq!(
        (p.given_name.as_str(), p.family_name.as_str()),
        ("Pieter", "van de Heuvel")
    );
    assert_eq!(p.birth_on, Some(date("1944-11-17")));
    assert_eq!(p.languages, vec!["nl".to_string()]);
    assert_eq!(p.email.as_deref(), Some("p.heuvel@gmail.com"));
    assert_eq!(p.phone.as_deref(), Some("0648352638"));
    assert_eq!(
        p.address.as_deref(),
        Some("Van Egmondkade 23, 1024 RJ Amsterdam")
    );
    // The second identifier has no value: it names nobody.
    assert_eq!(
        p.identifiers,
        vec![ExternalKey::new(
            "urn:oid:2.16.840.1.113883.2.4.6.3",
            "Patient",
            "738472983"
        )]
    );
}

#[test]
fn a_deceased_patient_still_maps() {
    let (_, p) = person(map_file("patient-example3.json"));
    assert_eq!(
        (p.given_name.as_str(), p.family_name.as_str()),
        ("Simon", "Notsowell")
    );
    assert_eq!(p.birth_on, Some(date("1982-01-23")));
}

#[test]
fn the_home_visit_encounter_is_a_health_event_of_patient_example() {
    let (k, h) = health_event(map_file("encounter-example2.json"));
    assert_eq!(k, key("Encounter", "home"));
    assert_eq!(h.subject, key("Patient", "example"));
    assert_eq!(
        h.kind,
        HealthEventKind::Other,
        "home health (HH) is not one of the mapped classes"
    );
    assert_eq!(
        h.occurred_on,
        date("2015-01-17"),
        "the date as written, in its own offset"
    );
    assert_eq!(h.summary, "home health");
}

#[test]
fn conditions_keep_their_coded_name_and_onset_but_not_free_text() {
    let (k, h) = health_event(map_file("condition-example1.json"));
    assert_eq!(k, key("Condition", "example"));
    assert_eq!(h.subject, key("Patient", "example"));
    assert_eq!(h.occurred_on, date("2012-05-24"));
    assert_eq!(h.summary, "Burn of ear");
    assert_eq!(
        h.kind,
        HealthEventKind::Other,
        "SNOMED hierarchies are not walked"
    );

    let (_, h) = health_event(map_file("condition-example3.json"));
    assert_eq!(h.subject, key("Patient", "f201"));
    assert_eq!(h.summary, "Fever");
    assert_eq!(h.occurred_on, date("2013-04-02"));
}

#[test]
fn organizations_practitioners_and_related_persons_are_skipped_not_errors() {
    for f in [
        "organization-example1.json",
        "organization-example2.json",
        "organization-example3.json",
        "practitioner-example1.json",
        "practitioner-example2.json",
        "practitioner-example3.json",
        "relatedPerson-example1.json",
    ] {
        assert!(matches!(map_file(f), Mapped::Skipped(_)), "{f}");
    }
}

#[test]
fn the_collection_bundle_patients_have_no_id_and_are_keyed_by_their_identifier() {
    let items = bundle_items(&read("fhir-r4", "bundle-collection-patients.json")).expect("bundle");
    assert_eq!(items.len(), 6);
    assert_eq!(
        items.iter().filter_map(|i| i.position).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 5]
    );
    let (k, p) = person(map_item(&ctx(), &items[0]));
    assert_eq!(
        k,
        key(
            "Patient",
            "http://hospital.smarthealthit.org|3c7a1e79-163e-b362-4c8d-699c205019e6"
        )
    );
    // Only name.text: split at its last space.
    assert_eq!(
        (p.given_name.as_str(), p.family_name.as_str()),
        ("Mauricio81", "Pouros728")
    );
    assert_eq!(
        p.identifiers,
        vec![ExternalKey::new(
            "http://hospital.smarthealthit.org",
            "Patient",
            "3c7a1e79-163e-b362-4c8d-699c205019e6"
        )]
    );
}

#[test]
fn a_file_import_and_a_rest_sync_of_the_same_hospital_use_the_same_keys() {
    let file = MapContext::new("HTTPS://FHIR.Ospedale.example:443/r4/", Vec::new());
    let (k, _) = person(map_item(
        &file,
        &item(read("fhir-r4", "patient-example1.json")),
    ));
    assert_eq!(k, key("Patient", "example"));
}

#[test]
fn mapping_the_same_resource_twice_gives_the_same_records() {
    for f in [
        "patient-example1.json",
        "encounter-example2.json",
        "condition-example3.json",
    ] {
        let a = records(map_file(f));
        let b = records(map_file(f));
        assert_eq!(a, b);
        assert_eq!(
            a.iter().map(Record::content_hash).collect::<Vec<_>>(),
            b.iter().map(Record::content_hash).collect::<Vec<_>>()
        );
    }
}

// ------------------------------------------------------------ carebundle ----

fn carebundle_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir("carebundle"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn carebundle_transactions_map_with_their_urn_uuid_references_resolved() {
    let files = carebundle_files();
    assert_eq!(files.len(), 4);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let items = bundle_items(&text).expect("a transaction Bundle");
        let (mut persons, mut events, mut skipped) = (Vec::new(), Vec::new(), 0);
        for i in &items {
            match map_item(&ctx(), i) {
                Mapped::Records(rs) => {
                    for r in rs {
                        match r.body {
                            Inbound::Person(p) => persons.push((r.key, p)),
                            Inbound::HealthEvent(h) => events.push((r.key, h)),
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                }
                Mapped::Skipped(_) => skipped += 1,
                Mapped::Rejected(why) => panic!("{}: rejected: {why}", f.display()),
            }
        }
        assert_eq!(persons.len(), 1, "{}", f.display());
        let (patient_key, p) = &persons[0];
        // The patient had no id: it took the uuid of its urn:uuid fullUrl.
        assert_eq!(patient_key.system, BASE);
        assert_eq!(patient_key.id.len(), 36, "a uuid: {}", patient_key.id);
        assert!(p.birth_on.is_some() && p.sex != Sex::Unknown);
        assert_eq!(p.identifiers.len(), 1);
        // One encounter and its conditions, all about that patient.
        assert!(events.len() >= 2, "{}", f.display());
        for (_, h) in &events {
            assert_eq!(
                &h.subject, patient_key,
                "urn:uuid subject resolved to the patient"
            );
        }
        let visits: Vec<_> = events
            .iter()
            .filter(|(k, _)| k.resource_type == "Encounter")
            .collect();
        assert_eq!(visits.len(), 1);
        assert_eq!(
            visits[0].1.kind,
            HealthEventKind::OutpatientVisit,
            "class AMB"
        );
        assert_eq!(visits[0].1.occurred_on, date("2026-01-01"));
        assert_eq!(visits[0].1.summary, "Ambulatory visit");
        // Practitioner, Observations, DiagnosticReports, MedicationRequests.
        assert_eq!(skipped, items.len() - 1 - events.len());
    }
}

#[test]
fn the_first_carebundle_has_a_hypertension_condition_on_the_second_of_january_2024() {
    let files = carebundle_files();
    let items = bundle_items(&std::fs::read_to_string(&files[0]).expect("read")).expect("bundle");
    let conditions: Vec<HealthEventIn> = items
        .iter()
        .filter(|i| i.resource_type == "Condition")
        .flat_map(|i| records(map_item(&ctx(), i)))
        .map(|r| match r.body {
            Inbound::HealthEvent(h) => h,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0].summary, "Essential (primary) hypertension");
    assert_eq!(conditions[0].occurred_on, date("2024-01-02"));
    assert_eq!(conditions[0].kind, HealthEventKind::Other);
}
