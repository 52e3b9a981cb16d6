//! What one operation touched: the records, the policy's decisions on them, the
//! paths of the disclosed values, and the records it wrote or audited. The
//! guard fills it while the operation runs; when it ends, [`Trail::finish`]
//! turns it into the entry's canonical `records`, with a keyed digest of each
//! disclosed value taken from the response itself (what left is what is
//! digested), and the cases and persons to index.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use aws_lc_rs::hmac;
use policy::{DataClass, Decision};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::graphql::guard::Record;

/// What the operation did with a record beside reading fields of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Access {
    /// Wrote it (a mutation).
    Write,
    /// Read the access log about it (a privacy officer).
    AuditRead,
    /// Told a partner to forget what it received about the person (a
    /// consent was withdrawn or expired; no field of the person left).
    ForgetNotice,
}

#[derive(Default)]
struct RecordTrail {
    subjects: BTreeSet<Uuid>,
    cases: BTreeSet<Uuid>,
    decisions: BTreeMap<DataClass, Decision>,
    paths: BTreeSet<Vec<String>>,
    access: BTreeSet<Access>,
}

/// One request's trail, shared by every resolver of the operation.
#[derive(Default)]
pub struct Trail {
    records: Mutex<BTreeMap<Record, RecordTrail>>,
    /// Log the operation even if it touched no record (a privacy officer's
    /// read of the log).
    forced: std::sync::atomic::AtomicBool,
}

/// A decision as the log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosed {
    pub class: DataClass,
    pub rule: String,
    /// `KIND:id`, e.g. `CONSENT:0193…` or `RELATIONSHIP:LEAD`.
    pub basis: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withheld {
    pub class: DataClass,
    pub reason: String,
}

/// A keyed digest of a value that left the hub, by response path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub path: String,
    /// HMAC-SHA-256 (hub secret) of the value's canonical JSON, hex.
    pub hmac: String,
}

/// One record of an entry. Field order and the sorting of every list make the
/// JSON canonical.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRecord {
    /// `CASE`, `PERSON`, `REFERRAL` or `FACILITY`.
    pub kind: String,
    pub id: Uuid,
    /// The persons the record is about (a case's or referral's subjects).
    pub subjects: Vec<Uuid>,
    /// The cases a referral belongs to (empty for other records).
    pub cases: Vec<Uuid>,
    pub access: Vec<Access>,
    pub disclosed: Vec<Disclosed>,
    pub withheld: Vec<Withheld>,
    pub digests: Vec<Digest>,
}

impl LoggedRecord {
    /// A record the operation wrote or acted on without disclosing a field
    /// of it (an upload, a webhook, a forget notice).
    pub fn accessed(kind: &str, id: Uuid, subjects: Vec<Uuid>, access: Access) -> LoggedRecord {
        LoggedRecord {
            kind: kind.to_string(),
            id,
            subjects,
            cases: Vec::new(),
            access: vec![access],
            disclosed: Vec::new(),
            withheld: Vec::new(),
            digests: Vec::new(),
        }
    }
}

/// What [`Trail::finish`] gives the appender (which derives the index rows
/// from the records with [`touches_of`], as `verify` does).
pub struct Finished {
    pub records: Vec<LoggedRecord>,
}

pub fn record_kind(r: &Record) -> (&'static str, Uuid) {
    match *r {
        Record::Case(id) => ("CASE", id),
        Record::Person(id) => ("PERSON", id),
        Record::Referral(id) => ("REFERRAL", id),
        Record::Facility(id) => ("FACILITY", id),
    }
}

/// The cases and persons a logged record makes an entry touch.
pub fn touches_of(r: &LoggedRecord) -> BTreeSet<(&'static str, Uuid)> {
    let mut t = BTreeSet::new();
    match r.kind.as_str() {
        "CASE" => {
            t.insert(("CASE", r.id));
        }
        "PERSON" => {
            t.insert(("PERSON", r.id));
        }
        _ => {}
    }
    t.extend(r.subjects.iter().map(|p| ("PERSON", *p)));
    t.extend(r.cases.iter().map(|c| ("CASE", *c)));
    t
}

impl Trail {
    fn with(&self, record: Record, f: impl FnOnce(&mut RecordTrail)) {
        if let Ok(mut m) = self.records.lock() {
            f(m.entry(record).or_default());
        }
    }

    /// The persons a record is about and the cases it belongs to.
    pub fn about(&self, record: Record, subjects: &[Uuid], cases: &[Uuid]) {
        self.with(record, |r| {
            r.subjects.extend(subjects.iter().copied());
            if matches!(record, Record::Referral(_)) {
                r.cases.extend(cases.iter().copied());
            }
        });
    }

    pub fn decided(&self, record: Record, decision: &Decision) {
        self.with(record, |r| {
            r.decisions.insert(decision.class(), decision.clone());
        });
    }

    /// A value of the record left at this response path.
    pub fn disclosed_at(&self, record: Record, path: Vec<String>) {
        self.with(record, |r| {
            r.paths.insert(path);
        });
    }

    pub fn access(&self, record: Record, access: Access) {
        self.with(record, |r| {
            r.access.insert(access);
        });
    }

    pub fn force(&self) {
        self.forced
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Nothing to log: no record touched, nothing forced.
    pub fn is_empty(&self) -> bool {
        !self.forced.load(std::sync::atomic::Ordering::Relaxed)
            && self.records.lock().map(|m| m.is_empty()).unwrap_or(false)
    }

    /// The entry's records, digesting each disclosed value found in `data`.
    pub fn finish(&self, data: &serde_json::Value, key: &hmac::Key) -> Finished {
        let records = match self.records.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let mut out = Vec::with_capacity(records.len());
        for (record, t) in records.iter() {
            let (kind, id) = record_kind(record);
            let mut disclosed = Vec::new();
            let mut withheld = Vec::new();
            for d in t.decisions.values() {
                match d {
                    Decision::Disclose { class, rule, basis } => disclosed.push(Disclosed {
                        class: *class,
                        rule: rule.clone(),
                        basis: basis.to_string(),
                    }),
                    Decision::Withhold { class, reason } => withheld.push(Withheld {
                        class: *class,
                        reason: reason.as_str().to_string(),
                    }),
                }
            }
            let digests = t
                .paths
                .iter()
                .filter_map(|p| {
                    let v = value_at(data, p)?;
                    // Scalars and lists of scalars: an object's values are
                    // digested at their own paths.
                    (!v.is_null() && !has_object(v)).then(|| Digest {
                        path: p.join("."),
                        hmac: digest(key, v),
                    })
                })
                .collect();
            let logged = LoggedRecord {
                kind: kind.to_string(),
                id,
                subjects: t.subjects.iter().copied().collect(),
                cases: t.cases.iter().copied().collect(),
                access: t.access.iter().copied().collect(),
                disclosed,
                withheld,
                digests,
            };
            out.push(logged);
        }
        Finished { records: out }
    }
}

fn has_object(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(_) => true,
        serde_json::Value::Array(a) => a.iter().any(has_object),
        _ => false,
    }
}

/// The value at a response path (`["cases", "edges", "0", "node", "id"]`).
fn value_at<'a>(data: &'a serde_json::Value, path: &[String]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(data, |v, seg| match v {
        serde_json::Value::Object(o) => o.get(seg),
        serde_json::Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// HMAC-SHA-256 of a value's canonical JSON, hex. The hub recomputes it to
/// prove (or disprove) that a given value is the one that left.
pub fn digest(key: &hmac::Key, value: &serde_json::Value) -> String {
    hex::encode(hmac::sign(key, canonical_json(value).as_bytes()).as_ref())
}

/// JSON with object keys sorted at every level and no whitespace.
pub fn canonical_json(value: &serde_json::Value) -> String {
    if !matches!(
        value,
        serde_json::Value::Object(_) | serde_json::Value::Array(_)
    ) {
        // A scalar, the common case: nothing to sort, nothing to copy.
        return value.to_string();
    }
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(o) => {
                let mut keys: Vec<_> = o.keys().collect();
                keys.sort();
                serde_json::Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&o[k])))
                        .collect(),
                )
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": "x"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"x","d":[{"y":2,"z":1}]},"b":1}"#
        );
    }

    #[test]
    fn values_are_found_by_path_through_lists() {
        let data = json!({"cases": {"edges": [{"node": {"id": "a"}}, {"node": {"id": "b"}}]}});
        let path: Vec<String> = ["cases", "edges", "1", "node", "id"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(value_at(&data, &path), Some(&json!("b")));
        assert_eq!(
            value_at(&data, &path[..2]).map(|v| v.is_array()),
            Some(true)
        );
        let bad: Vec<String> = vec!["cases".into(), "edges".into(), "x".into()];
        assert_eq!(value_at(&data, &bad), None);
    }

    #[test]
    fn digests_depend_on_key_and_value_not_key_order() {
        let k1 = hmac::Key::new(hmac::HMAC_SHA256, b"one");
        let k2 = hmac::Key::new(hmac::HMAC_SHA256, b"two");
        let v = json!({"a": 1, "b": 2});
        let w = json!({"b": 2, "a": 1});
        assert_eq!(digest(&k1, &v), digest(&k1, &w));
        assert_ne!(digest(&k1, &v), digest(&k2, &v));
        assert_ne!(digest(&k1, &v), digest(&k1, &json!({"a": 1, "b": 3})));
    }
}
