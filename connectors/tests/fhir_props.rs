//! Property tests: the FHIR mapping and the Bundle reader never panic, on
//! arbitrary JSON and on arbitrary mutations of real resources, and mapping
//! is a pure function of its input.

use connectors::fhir::{MapContext, Signal, bundle_items, map_item};
use connectors::{Mapped, RawItem};
use entities::enums::{ReferralReason, SubjectRole, Urgency};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value};

fn ctx() -> MapContext {
    MapContext::new(
        "https://fhir.ospedale.example/r4",
        vec![Signal {
            system: "http://snomed.info/sct".into(),
            code: "248062006".into(),
            reason: ReferralReason::DomesticViolence,
            urgency: Urgency::High,
            subject_role: SubjectRole::Other,
        }],
    )
}

fn item(payload: String) -> RawItem {
    RawItem {
        resource_type: String::new(),
        external_id: None,
        position: None,
        payload,
    }
}

const KEYS: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "versionId",
    "lastUpdated",
    "name",
    "given",
    "family",
    "text",
    "use",
    "identifier",
    "system",
    "value",
    "subject",
    "reference",
    "period",
    "start",
    "end",
    "class",
    "type",
    "code",
    "coding",
    "display",
    "status",
    "scope",
    "provision",
    "patient",
    "actor",
    "role",
    "purpose",
    "securityLabel",
    "gender",
    "birthDate",
    "telecom",
    "address",
    "line",
    "city",
    "communication",
    "language",
    "preferred",
    "reasonCode",
    "reasonReference",
    "diagnosis",
    "condition",
    "contained",
    "onsetDateTime",
    "onsetPeriod",
    "recordedDate",
    "verificationStatus",
    "extension",
    "url",
    "valueAddress",
    "valueCodeableConcept",
    "performer",
    "relationship",
    "dateTime",
    "entry",
    "resource",
    "fullUrl",
    "link",
    "relation",
];

const STRINGS: &[&str] = &[
    "Patient",
    "Encounter",
    "Condition",
    "Consent",
    "Bundle",
    "Organization",
    "RelatedPerson",
    "Patient/p1",
    "Patient/p1/_history/2",
    "Group/g",
    "#c1",
    "urn:uuid:0f9b5a34-0000-4000-8000-000000000001",
    "https://fhir.ospedale.example/r4/Patient/p1",
    "http://x/Patient",
    "/",
    "",
    " ",
    "2026-01-01",
    "2026-02",
    "1980",
    "2026-13-45",
    "2026-01-01T10:00:00Z",
    "2026-01-01T25:61:00+99:00",
    "official",
    "usual",
    "old",
    "female",
    "male",
    "other",
    "unknown",
    "finished",
    "cancelled",
    "active",
    "inactive",
    "draft",
    "permit",
    "deny",
    "patient-privacy",
    "EMER",
    "AMB",
    "IMP",
    "http://hl7.it/sid/codiceFiscale",
    "RSSNNA80A41L219D",
    "http://snomed.info/sct",
    "248062006",
    "http://hl7.org/fhir/sid/icd-10",
    "S06.0",
    "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "TREAT",
    "IRCP",
    "HEALTH",
    "phone",
    "email",
    "ééé",
    "\u{0}",
    "𝔉𝔥𝔦𝔯",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        proptest::sample::select(STRINGS).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |kv| {
                    Value::Object(
                        kv.into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect::<Map<_, _>>(),
                    )
                }
            ),
        ]
    })
}

/// A resource-looking object of a mapped type with arbitrary content.
fn arb_resource() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(&["Patient", "Encounter", "Condition", "Consent", "Bundle"][..]),
        proptest::collection::vec((proptest::sample::select(KEYS), arb_json()), 0..10),
    )
        .prop_map(|(t, kv)| {
            let mut m: Map<String, Value> =
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            m.insert("resourceType".into(), Value::from(t));
            Value::Object(m)
        })
}

fn real_resources() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fhir-r4");
    let mut out: Vec<Value> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|e| {
            let text = std::fs::read_to_string(e.expect("entry").path()).expect("read");
            serde_json::from_str(&text).expect("json")
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

/// Every (parent path, key or index) in a JSON tree.
fn paths(v: &Value, here: Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let mut p = here.clone();
                p.push(PathStep::Key(k.clone()));
                out.push(p.clone());
                paths(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let mut p = here.clone();
                p.push(PathStep::Index(i));
                out.push(p.clone());
                paths(child, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut cur = v;
    for step in path {
        cur = match step {
            PathStep::Key(k) => cur.get_mut(k.as_str())?,
            PathStep::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

fn remove(v: &mut Value, path: &[PathStep]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (at(v, parent), last) {
        (Some(Value::Object(m)), PathStep::Key(k)) => {
            m.remove(k);
        }
        (Some(Value::Array(a)), PathStep::Index(i)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

fn no_panic(payload: String) -> Mapped {
    let c = ctx();
    let i = item(payload);
    let a = map_item(&c, &i);
    assert_eq!(a, map_item(&c, &i), "mapping is pure");
    a
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn mapping_never_panics_on_arbitrary_json(v in arb_json()) {
        no_panic(v.to_string());
    }

    #[test]
    fn mapping_never_panics_on_arbitrary_resources(v in arb_resource()) {
        no_panic(v.to_string());
        let _ = bundle_items(&v.to_string());
    }

    #[test]
    fn mapping_never_panics_on_arbitrary_bytes(s in "\\PC{0,200}") {
        no_panic(s.clone());
        let _ = bundle_items(&s);
    }

    #[test]
    fn mapping_never_panics_on_mutations_of_real_resources(
        which in any::<Index>(),
        where_ in any::<Index>(),
        op in 0u8..4,
        replacement in arb_json(),
        cut in any::<Index>(),
    ) {
        let resources = real_resources();
        let mut v = which.get(&resources).clone();
        let mut all = Vec::new();
        paths(&v, Vec::new(), &mut all);
        match op {
            0 if !all.is_empty() => {
                let p = where_.get(&all).clone();
                if let Some(slot) = at(&mut v, &p) {
                    *slot = replacement;
                }
            }
            1 if !all.is_empty() => remove(&mut v, where_.get(&all).as_slice()),
            2 => {
                let text = v.to_string();
                let mut n = cut.index(text.len().max(1));
                while !text.is_char_boundary(n) {
                    n -= 1;
                }
                no_panic(text[..n].to_string());
                let _ = bundle_items(&text[..n]);
                return Ok(());
            }
            _ => {}
        }
        let text = v.to_string();
        no_panic(text.clone());
        if let Ok(items) = bundle_items(&text) {
            for i in items {
                let _ = map_item(&ctx(), &i);
            }
        }
    }
}
