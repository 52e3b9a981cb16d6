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
    /// `v2:` and the HMAC-SHA-256 (hub secret), hex, of the record's kind and
    /// id, this path and the value's canonical JSON ([`record_digest`]).
    /// Entries written before version 2 hold the HMAC of the value alone,
    /// without a prefix ([`digest`]); [`Digest::matches`] reads both.
    pub hmac: String,
}

/// The prefix of a version-2 digest.
const DIGEST_V2: &str = "v2:";

impl Digest {
    /// Whether `value` is the value this digest was taken of, in the record
    /// `kind`/`id` that holds it.
    pub fn matches(
        &self,
        key: &hmac::Key,
        kind: &str,
        id: Uuid,
        value: &serde_json::Value,
    ) -> bool {
        let expected = if self.hmac.starts_with(DIGEST_V2) {
            record_digest(key, kind, id, &self.path, value)
        } else {
            digest(key, value)
        };
        expected == self.hmac
    }
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
                    (!v.is_null() && !has_object(v)).then(|| {
                        let path = p.join(".");
                        let hmac = record_digest(key, kind, id, &path, v);
                        Digest { path, hmac }
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

/// HMAC-SHA-256 of a value's canonical JSON, hex: the access log's digests
/// before version 2, and the outbox's digest of what it sent.
pub fn digest(key: &hmac::Key, value: &serde_json::Value) -> String {
    hex::encode(hmac::sign(key, canonical_json(value).as_bytes()).as_ref())
}

/// The access log's digest of a value that left at `path` of a record
/// (version 2): `v2:` and the HMAC-SHA-256, hex, of
/// `rete-digest/2`, the record's kind, its id, the path and the value's
/// canonical JSON, separated by NUL bytes (none of the first four can hold
/// one). The hub recomputes it to prove (or disprove) that a given value is
/// the one that left.
///
/// Binding the value to its record and path keeps equal values apart: with
/// the value alone, two siblings' equal family names, or two persons' equal
/// diagnoses, had equal digests, and anyone reading the log could tell.
pub fn record_digest(
    key: &hmac::Key,
    kind: &str,
    id: Uuid,
    path: &str,
    value: &serde_json::Value,
) -> String {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(b"rete-digest/2\0");
    ctx.update(kind.as_bytes());
    ctx.update(b"\0");
    ctx.update(
        id.hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
    ctx.update(b"\0");
    ctx.update(path.as_bytes());
    ctx.update(b"\0");
    ctx.update(canonical_json(value).as_bytes());
    format!("{DIGEST_V2}{}", hex::encode(ctx.sign().as_ref()))
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
    fn record_digests_keep_equal_values_apart() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"one");
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let v = json!("Rossi");
        let path = "case.subjects.0.person.familyName";
        let d = record_digest(&key, "PERSON", a, path, &v);
        assert!(d.starts_with("v2:") && d.len() == 3 + 64);
        // Another record, another path, another kind or another key: another digest.
        assert_ne!(d, record_digest(&key, "PERSON", b, path, &v));
        assert_ne!(
            d,
            record_digest(&key, "PERSON", a, "case.subjects.1.person.familyName", &v)
        );
        assert_ne!(d, record_digest(&key, "CASE", a, path, &v));
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"two");
        assert_ne!(d, record_digest(&other, "PERSON", a, path, &v));
        // Not the digest of the value alone either.
        assert!(!d.ends_with(&digest(&key, &v)));
        // The same record, path and value: the same digest, which proves it.
        let held = Digest {
            path: path.into(),
            hmac: d,
        };
        assert!(held.matches(&key, "PERSON", a, &v));
        assert!(!held.matches(&key, "PERSON", a, &json!("Bianchi")));
        assert!(!held.matches(&key, "PERSON", b, &v));
        assert!(!held.matches(&other, "PERSON", a, &v));
    }

    #[test]
    fn digests_written_before_version_2_still_prove_their_value() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"one");
        let v = json!("1990-01-01");
        let held = Digest {
            path: "person.birthOn".into(),
            hmac: digest(&key, &v),
        };
        assert!(held.matches(&key, "PERSON", Uuid::from_u128(7), &v));
        assert!(!held.matches(&key, "PERSON", Uuid::from_u128(7), &json!("1990-01-02")));
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
