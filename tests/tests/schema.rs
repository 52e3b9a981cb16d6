//! The exported SDL is the contract integrators read: it must match what the hub
//! serves, and it must show the data class of every personal field.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

const COMMITTED: &str = include_str!("../../schema.graphql");

#[test]
fn schema_graphql_matches_rete_schema() {
    let live = rete_api::graphql::sdl();
    if live != COMMITTED {
        let first = live
            .lines()
            .zip(COMMITTED.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(live.lines().count().min(COMMITTED.lines().count()));
        panic!(
            "schema.graphql is out of date (first difference at line {}); regenerate it with `cargo run -p rete-api --bin rete -- schema > schema.graphql`",
            first + 1
        );
    }
}

/// Fields of record types that are not personal data, each for a reason.
const NOT_PERSONAL: &[(&str, &str)] = &[
    ("Case", "id"),
    ("Case", "myRelationships"), // the caller's own links
    ("Person", "id"),
    ("Referral", "id"),
    ("Placement", "id"),
    ("Verification", "id"),
    ("CourtOrder", "id"),
    ("Mandate", "id"),
    ("TeamMember", "id"),
    ("CaseNote", "id"),
    ("CaseNote", "dataClass"), // the class itself
    ("Intervention", "id"),
    ("HealthEvent", "id"),
    ("Consent", "id"),
    ("BreakGlassGrant", "id"),
    ("CaseSubject", "person"), // a Person, whose own fields carry classes
    ("ReferralSubject", "person"),
    // The network's facility directory: names, kinds and free places are
    // public within the network; only the location is protected.
    ("Facility", "id"),
    ("Facility", "name"),
    ("Facility", "kind"),
    ("Facility", "operator"),
    ("Facility", "secret"),
    ("Facility", "capacity"),
    ("Facility", "placesFree"),
];

/// The types that hold records about families.
const RECORD_TYPES: &[&str] = &[
    "Case",
    "Person",
    "Referral",
    "Placement",
    "Verification",
    "CourtOrder",
    "Mandate",
    "TeamMember",
    "CaseNote",
    "Intervention",
    "HealthEvent",
    "CaseSubject",
    "ReferralSubject",
    "Facility",
    "Consent",
    "BreakGlassGrant",
];

#[test]
fn every_personal_field_carries_a_data_class() {
    let doc = parse_schema(COMMITTED).expect("schema.graphql parses");
    let allowed: BTreeSet<(&str, &str)> = NOT_PERSONAL.iter().copied().collect();
    let mut seen_types = BTreeSet::new();
    let mut missing = Vec::new();
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let name = t.node.name.node.as_str();
        let TypeKind::Object(obj) = &t.node.kind else {
            continue;
        };
        if !RECORD_TYPES.contains(&name) {
            continue;
        }
        seen_types.insert(name.to_string());
        for f in &obj.fields {
            let field = f.node.name.node.as_str();
            let classed = f
                .node
                .directives
                .iter()
                .any(|d| d.node.name.node == "dataClass");
            if !classed && !allowed.contains(&(name, field)) {
                missing.push(format!("{name}.{field}"));
            }
        }
    }
    assert_eq!(
        seen_types.len(),
        RECORD_TYPES.len(),
        "record types missing from the SDL: {seen_types:?}"
    );
    assert!(
        missing.is_empty(),
        "personal fields without @dataClass: {missing:?}"
    );
}

#[test]
fn every_record_type_of_the_design_is_in_the_schema() {
    for t in [
        "Agency",
        "Person",
        "Case",
        "TeamMember",
        "Referral",
        "Facility",
        "Placement",
        "Verification",
        "CourtOrder",
        "HealthEvent",
        "Intervention",
        "CaseNote",
    ] {
        assert!(
            COMMITTED.contains(&format!("type {t} ")),
            "type {t} missing"
        );
    }
}
