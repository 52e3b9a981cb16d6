//! Reading a FHIR Bundle (a file a hospital exported, or one page of a search)
//! into raw items, one per entry resource.
//!
//! The envelope (type, links, total, entries) is read from plain JSON, and each
//! entry's resource is kept as its own JSON text: the resources are parsed by
//! the mapping one by one with the `fhir-sdk` types, so one malformed resource
//! is one dead letter, never a lost page or file. Only a file that is not a
//! Bundle at all is an error here.
//!
//! Inside a Bundle, entries may refer to each other by their `fullUrl`
//! (`urn:uuid:...` in transactions, where resources have no id yet). Such
//! references are resolved here, within the Bundle: an entry without an id
//! takes the uuid of its fullUrl as id, and every `reference` equal to a
//! fullUrl of the Bundle is rewritten to `Type/id`. The item's payload is
//! that resolved resource, so a dead letter retried later maps the same way
//! without the Bundle.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::connector::RawItem;

/// Why a Bundle file or page cannot be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BundleError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a FHIR Bundle: {0}")]
    NotABundle(String),
    #[error("Bundle.{field}: {message}")]
    Malformed { field: String, message: String },
}

fn malformed(field: impl Into<String>, message: impl Into<String>) -> BundleError {
    BundleError::Malformed {
        field: field.into(),
        message: message.into(),
    }
}

/// The Bundle types whose entries are resources to import.
const READ_TYPES: &[&str] = &[
    "transaction",
    "batch",
    "collection",
    "searchset",
    "history",
    "document",
];

/// One Bundle as read: its items and what a search page says about paging.
#[derive(Debug, Default)]
pub(crate) struct ReadBundle {
    pub items: Vec<RawItem>,
    /// `link[relation=next].url`, as written.
    pub next: Option<String>,
    pub total: Option<u64>,
    /// The greatest `meta.lastUpdated` of the entries' resources: the instant,
    /// and the text as the server wrote it.
    pub max_last_updated: Option<(DateTime<Utc>, String)>,
}

/// One [`RawItem`] per entry resource of a Bundle file (transaction, batch,
/// collection, searchset, history or document), `position` being the entry's
/// index. Entries without a resource (a DELETE in a transaction) give none.
pub fn bundle_items(json: &str) -> Result<Vec<RawItem>, BundleError> {
    read_bundle(json).map(|b| b.items)
}

pub(crate) fn read_bundle(json: &str) -> Result<ReadBundle, BundleError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| BundleError::NotJson(e.to_string()))?;
    let Value::Object(mut bundle) = value else {
        return Err(BundleError::NotABundle("the JSON is not an object".into()));
    };
    match bundle.get("resourceType") {
        Some(Value::String(t)) if t == "Bundle" => {}
        Some(Value::String(t)) => {
            return Err(BundleError::NotABundle(format!("its resourceType is {t}")));
        }
        _ => return Err(BundleError::NotABundle("it has no resourceType".into())),
    }
    match bundle.get("type") {
        Some(Value::String(t)) if READ_TYPES.contains(&t.as_str()) => {}
        Some(Value::String(t)) => {
            return Err(malformed(
                "type",
                format!(
                    "`{t}` is not read (transaction, batch, collection, searchset, history, document)"
                ),
            ));
        }
        _ => return Err(malformed("type", "missing")),
    }
    let total = match bundle.get("total") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| malformed("total", "not an unsigned integer"))?,
        ),
    };
    let next = match bundle.get("link") {
        None | Some(Value::Null) => None,
        Some(Value::Array(links)) => links.iter().find_map(|l| {
            (l.get("relation")?.as_str()? == "next")
                .then(|| l.get("url")?.as_str().map(str::to_string))
                .flatten()
        }),
        Some(_) => return Err(malformed("link", "not an array")),
    };
    let entries = match bundle.remove("entry") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(malformed("entry", "not an array")),
    };

    // fullUrl (urn:...) -> "Type/id", and the id an entry without one takes.
    let mut targets: HashMap<String, String> = HashMap::new();
    let mut given_ids: Vec<Option<String>> = vec![None; entries.len()];
    for (i, entry) in entries.iter().enumerate() {
        let (Some(full_url), Some(resource)) = (
            entry.get("fullUrl").and_then(Value::as_str),
            entry.get("resource").and_then(Value::as_object),
        ) else {
            continue;
        };
        let Some(rtype) = resource.get("resourceType").and_then(Value::as_str) else {
            continue;
        };
        let id = match resource.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => match urn_id(full_url) {
                Some(id) => {
                    given_ids[i] = Some(id.clone());
                    id
                }
                None => continue,
            },
        };
        if full_url.starts_with("urn:") {
            targets
                .entry(full_url.to_string())
                .or_insert(format!("{rtype}/{id}"));
        }
    }

    let mut out = ReadBundle {
        next,
        total,
        ..ReadBundle::default()
    };
    for (i, entry) in entries.into_iter().enumerate() {
        let Value::Object(mut entry) = entry else {
            // Not an entry at all: kept, so the mapping dead-letters it with a reason.
            out.items.push(RawItem {
                resource_type: "unknown".into(),
                external_id: None,
                position: Some(i as u64),
                payload: entry.to_string(),
            });
            continue;
        };
        let Some(mut resource) = entry.remove("resource") else {
            continue;
        };
        if let (Some(id), Value::Object(r)) = (&given_ids[i], &mut resource) {
            r.insert("id".into(), Value::String(id.clone()));
        }
        if !targets.is_empty() {
            resolve_references(&mut resource, &targets);
        }
        if let Some(t) = last_updated(&resource)
            && out.max_last_updated.as_ref().is_none_or(|(m, _)| t.0 > *m)
        {
            out.max_last_updated = Some(t);
        }
        let field = |k: &str| resource.get(k).and_then(Value::as_str).map(str::to_string);
        out.items.push(RawItem {
            resource_type: field("resourceType").unwrap_or_else(|| "unknown".into()),
            external_id: field("id"),
            position: Some(i as u64),
            payload: resource.to_string(),
        });
    }
    Ok(out)
}

/// The id a `urn:uuid:` or `urn:oid:` fullUrl gives a resource without one.
fn urn_id(full_url: &str) -> Option<String> {
    let id = full_url
        .strip_prefix("urn:uuid:")
        .or_else(|| full_url.strip_prefix("urn:oid:"))?;
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    ok.then(|| id.to_ascii_lowercase())
}

/// Rewrites every `"reference": "<fullUrl>"` below `v` to `Type/id`.
fn resolve_references(v: &mut Value, targets: &HashMap<String, String>) {
    match v {
        Value::Object(map) => resolve_in_object(map, targets),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| resolve_references(i, targets)),
        _ => {}
    }
}

fn resolve_in_object(map: &mut Map<String, Value>, targets: &HashMap<String, String>) {
    for (k, v) in map.iter_mut() {
        match v {
            Value::String(s) if k == "reference" => {
                if let Some(t) = targets.get(s.as_str()) {
                    *s = t.clone();
                }
            }
            other => resolve_references(other, targets),
        }
    }
}

/// `meta.lastUpdated` of a resource, when it is a valid instant, with its text.
fn last_updated(v: &Value) -> Option<(DateTime<Utc>, String)> {
    let s = v.get("meta")?.get("lastUpdated")?.as_str()?;
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    Some((t, s.to_string()))
}
