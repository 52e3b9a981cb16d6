//! One FHIR resource (JSON text) through the hospital mapping
//! (`fhir::map_item`, what `Connector::map` of a `fhir` instance calls for
//! each Bundle entry or search result), with a referral signal configured.
//! The Bundle target reaches the mapping too; this one starts at a resource,
//! so the fuzzer spends its time inside Patient, Encounter, Condition and
//! Consent.
//!
//! No panic; the outcome is the same when mapped twice (the mapping is pure),
//! a rejection or a skip says why, and records carry keys and content hashes.
#![no_main]

use std::sync::LazyLock;

use connectors::fhir::{MapContext, Signal, map_item};
use connectors::{Mapped, RawItem};
use libfuzzer_sys::fuzz_target;

/// A word of the data model (`DOMESTIC_VIOLENCE`, `HIGH`...), as the
/// instance's config gives it.
fn word<T: serde::de::DeserializeOwned>(w: &str) -> T {
    serde_json::from_value(serde_json::Value::String(w.into())).expect("a word of the data model")
}

static CONTEXT: LazyLock<MapContext> = LazyLock::new(|| {
    MapContext::new(
        "https://fhir.ospedale.example/r4",
        vec![Signal {
            system: "http://snomed.info/sct".into(),
            code: "248062006".into(),
            reason: word("DOMESTIC_VIOLENCE"),
            urgency: word("HIGH"),
            subject_role: word("MOTHER"),
        }],
    )
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // Bundle items are JSON text
    };
    let item = RawItem {
        resource_type: "fuzz".into(),
        external_id: None,
        position: Some(0),
        payload: text.to_string(),
    };
    let mapped = map_item(&CONTEXT, &item);
    assert_eq!(mapped, map_item(&CONTEXT, &item), "the mapping is pure");
    match mapped {
        Mapped::Records(records) => {
            for r in records {
                assert!(!r.key.system.is_empty() && !r.key.id.is_empty());
                assert_eq!(r.content_hash().len(), 64);
            }
        }
        Mapped::Skipped(why) | Mapped::Rejected(why) => assert!(!why.is_empty()),
    }
});
