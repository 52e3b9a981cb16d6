//! A community's webhook body to a placement event record, pure: no I/O, no
//! clock. Whether the placement exists and whether the community runs its
//! facility is the engine's to check ([`crate::apply`]).
//!
//! ```json
//! {"id": "evt-0001", "type": "guest.departed",
//!  "placement_id": "0192f3c5-…", "occurred_at": "2026-11-28T10:00:00+01:00",
//!  "note": "…", "end_reason": "…"}
//! ```
//!
//! Every problem of a body is named (field and problem) in one reason. A
//! reason quotes only the codes (`type`, `outcome`, `placement_id`, `id`,
//! `occurred_at`), never `note` or `end_reason`, which may hold personal data.

use chrono::{DateTime, Utc};
use entities::enums::VerificationOutcome;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{ExternalKey, Inbound, PlacementEventIn, PlacementEventKind, Record};

/// `RawItem::resource_type` of a webhook body.
pub const RESOURCE_TYPE: &str = "third-sector-event";
/// The resource type of an event's external key.
pub const KEY_TYPE: &str = "event";

/// The event types and what they record.
pub const TYPES: [(&str, PlacementEventKind); 6] = [
    ("guest.arrived", PlacementEventKind::Arrival),
    ("guest.present", PlacementEventKind::Presence),
    ("guest.absent", PlacementEventKind::Absence),
    ("guest.departed", PlacementEventKind::Departure),
    ("incident", PlacementEventKind::Incident),
    ("verification.done", PlacementEventKind::Verification),
];

const OUTCOMES: [(&str, VerificationOutcome); 3] = [
    ("ON_TRACK", VerificationOutcome::OnTrack),
    ("CONCERNS", VerificationOutcome::Concerns),
    ("CRITICAL", VerificationOutcome::Critical),
];

/// Longest event id (ids are the community's, kept as they are).
pub const MAX_ID: usize = 128;
/// Longest `note` and `end_reason`, in characters (as `endPlacement`'s reason).
pub const MAX_TEXT: usize = 2000;

/// The event's id, when the body is a JSON object with a usable one: the
/// dead letter of a bad body still names the event.
pub fn event_id(payload: &str) -> Option<String> {
    let v: Value = serde_json::from_str(payload).ok()?;
    v.get("id")
        .and_then(Value::as_str)
        .filter(|id| id_problem(id).is_none())
        .map(str::to_string)
}

fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("is empty")
    } else if id.chars().count() > MAX_ID {
        Some("is longer than 128 characters")
    } else if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some("holds a space or a control character")
    } else {
        None
    }
}

/// Maps a webhook body of instance `system` (the keys' system) to one record,
/// or every problem found, each naming its field.
pub fn map_event(system: &str, payload: &str) -> Result<Record, String> {
    let body = match serde_json::from_str::<Value>(payload) {
        Ok(Value::Object(body)) => body,
        Ok(_) => return Err("the body is not a JSON object".to_string()),
        Err(e) => return Err(format!("the body is not JSON: {e}")),
    };
    let mut problems = Vec::new();
    let id = string(&body, "id", &mut problems).and_then(|id| match id_problem(id) {
        Some(p) => {
            problems.push(format!("id {p}"));
            None
        }
        None => Some(id),
    });
    let kind = string(&body, "type", &mut problems).and_then(|t| {
        let found = TYPES.iter().find(|(name, _)| *name == t).map(|(_, k)| *k);
        if found.is_none() {
            let names: Vec<&str> = TYPES.iter().map(|(n, _)| *n).collect();
            problems.push(format!(
                "type `{}` is not one of {}",
                shorten(t),
                names.join(", ")
            ));
        }
        found
    });
    let placement_id =
        string(&body, "placement_id", &mut problems).and_then(|p| match Uuid::parse_str(p) {
            Ok(u) => Some(u),
            Err(_) => {
                problems.push(format!(
                    "placement_id `{}` is not a Rete placement id (a UUID)",
                    shorten(p)
                ));
                None
            }
        });
    let occurred = string(&body, "occurred_at", &mut problems).and_then(|t| {
        match DateTime::parse_from_rfc3339(t) {
            Ok(at) => Some(at),
            Err(_) => {
                problems.push(format!(
                    "occurred_at `{}` is not an RFC 3339 time with an offset (e.g. 2026-11-28T10:00:00+01:00)",
                    shorten(t)
                ));
                None
            }
        }
    });
    let note = text(&body, "note", &mut problems);
    let end_reason = text(&body, "end_reason", &mut problems);
    let outcome = optional_string(&body, "outcome", &mut problems).and_then(|o| {
        let found = OUTCOMES.iter().find(|(n, _)| *n == o).map(|(_, v)| *v);
        if found.is_none() {
            problems.push(format!(
                "outcome `{}` is not one of ON_TRACK, CONCERNS, CRITICAL",
                shorten(o)
            ));
        }
        found
    });
    let verification = kind == Some(PlacementEventKind::Verification);
    if verification && outcome.is_none() && !named(&problems, "outcome") {
        problems.push("outcome is missing (a verification.done needs it)".to_string());
    }
    if kind.is_some() && !verification && outcome.is_some() {
        problems.push("outcome is only for verification.done".to_string());
    }
    let departure = kind == Some(PlacementEventKind::Departure);
    if departure && end_reason.is_none() && !named(&problems, "end_reason") {
        problems.push("end_reason is missing (a guest.departed ends the placement)".to_string());
    }
    if kind.is_some() && !departure && end_reason.is_some() {
        problems.push("end_reason is only for guest.departed".to_string());
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let (Some(id), Some(kind), Some(placement_id), Some(occurred)) =
        (id, kind, placement_id, occurred)
    else {
        // Each `None` above pushed its problem.
        return Err("the event is incomplete".to_string());
    };
    Ok(Record {
        key: ExternalKey::new(system, KEY_TYPE, id),
        version: None,
        body: Inbound::PlacementEvent(PlacementEventIn {
            placement_id,
            kind,
            occurred_at: occurred.with_timezone(&Utc),
            occurred_on: occurred.date_naive(),
            note,
            end_reason,
            outcome,
        }),
    })
}

/// Whether a problem of `field` is already told.
fn named(problems: &[String], field: &str) -> bool {
    problems.iter().any(|p| {
        p.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(' '))
    })
}

/// A required string field.
fn string<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    problems: &mut Vec<String>,
) -> Option<&'a str> {
    match body.get(field) {
        None | Some(Value::Null) => {
            problems.push(format!("{field} is missing"));
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            problems.push(format!("{field} is empty"));
            None
        }
        Some(Value::String(s)) => Some(s.trim()),
        Some(_) => {
            problems.push(format!("{field} is not a string"));
            None
        }
    }
}

/// An optional string field (absent, null or empty: none).
fn optional_string<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    problems: &mut Vec<String>,
) -> Option<&'a str> {
    match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim()),
        Some(_) => {
            problems.push(format!("{field} is not a string"));
            None
        }
    }
}

/// An optional free text: at most [`MAX_TEXT`] characters, line breaks and
/// tabs allowed, no other control character. Never quoted in a reason.
fn text(body: &Map<String, Value>, field: &str, problems: &mut Vec<String>) -> Option<String> {
    let v = optional_string(body, field, problems)?;
    if v.chars().count() > MAX_TEXT {
        problems.push(format!("{field} is longer than {MAX_TEXT} characters"));
        return None;
    }
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        problems.push(format!("{field} holds a control character"));
        return None;
    }
    Some(v.to_string())
}

/// A code quoted in a reason, cut short.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use serde_json::json;

    const SYSTEM: &str = "third-sector:aurora";
    const PLACEMENT: &str = "0192f3c5-6b2a-7d4e-8f00-000000000001";

    fn event(extra: Value) -> String {
        let mut v = json!({
            "id": "evt-1",
            "type": "guest.arrived",
            "placement_id": PLACEMENT,
            "occurred_at": "2026-11-28T10:00:00+01:00",
        });
        if let (Some(o), Value::Object(extra)) = (v.as_object_mut(), extra) {
            for (k, x) in extra {
                o.insert(k, x);
            }
        }
        v.to_string()
    }

    fn mapped(payload: &str) -> PlacementEventIn {
        match map_event(SYSTEM, payload) {
            Ok(Record {
                body: Inbound::PlacementEvent(e),
                ..
            }) => e,
            other => panic!("a placement event expected, got {other:?}"),
        }
    }

    #[test]
    fn an_arrival_maps_to_an_event_keyed_by_the_community_id() {
        let r = map_event(SYSTEM, &event(json!({"note": "Arrivate alle 10"}))).expect("maps");
        assert_eq!(r.key, ExternalKey::new(SYSTEM, "event", "evt-1"));
        let Inbound::PlacementEvent(e) = r.body else {
            panic!("event expected")
        };
        assert_eq!(e.kind, PlacementEventKind::Arrival);
        assert_eq!(e.placement_id.to_string(), PLACEMENT);
        assert_eq!(e.occurred_at.to_rfc3339(), "2026-11-28T09:00:00+00:00");
        assert_eq!(e.note.as_deref(), Some("Arrivate alle 10"));
    }

    #[test]
    fn every_type_has_its_kind() {
        for (name, kind) in TYPES {
            let extra = match kind {
                PlacementEventKind::Departure => json!({"type": name, "end_reason": "rientro"}),
                PlacementEventKind::Verification => json!({"type": name, "outcome": "CONCERNS"}),
                _ => json!({"type": name}),
            };
            assert_eq!(mapped(&event(extra)).kind, kind, "{name}");
        }
    }

    #[test]
    fn the_day_of_an_event_is_the_day_where_it_happened() {
        let e = mapped(&event(json!({"occurred_at": "2026-11-29T00:30:00+01:00"})));
        assert_eq!(
            e.occurred_on,
            NaiveDate::from_ymd_opt(2026, 11, 29).expect("date")
        );
        assert_eq!(
            e.occurred_at.date_naive(),
            NaiveDate::from_ymd_opt(2026, 11, 28).expect("date")
        );
    }

    #[test]
    fn a_departure_needs_its_reason_and_a_verification_its_outcome() {
        let err = map_event(SYSTEM, &event(json!({"type": "guest.departed"}))).expect_err("bad");
        assert_eq!(
            err,
            "end_reason is missing (a guest.departed ends the placement)"
        );
        let err = map_event(SYSTEM, &event(json!({"type": "verification.done"}))).expect_err("bad");
        assert_eq!(err, "outcome is missing (a verification.done needs it)");
        let err = map_event(
            SYSTEM,
            &event(json!({"type": "verification.done", "outcome": "FINE"})),
        )
        .expect_err("bad");
        assert_eq!(
            err,
            "outcome `FINE` is not one of ON_TRACK, CONCERNS, CRITICAL"
        );
        let e = mapped(&event(
            json!({"type": "verification.done", "outcome": "CRITICAL"}),
        ));
        assert_eq!(e.outcome, Some(VerificationOutcome::Critical));
        let err = map_event(
            SYSTEM,
            &event(json!({"outcome": "ON_TRACK", "end_reason": "x"})),
        )
        .expect_err("bad");
        assert_eq!(
            err,
            "outcome is only for verification.done; end_reason is only for guest.departed"
        );
    }

    #[test]
    fn every_problem_is_named_with_its_field() {
        let payload = json!({
            "id": "",
            "type": "guest.left",
            "placement_id": "P-17",
            "occurred_at": "28/11/2026",
            "note": 5,
        })
        .to_string();
        let err = map_event(SYSTEM, &payload).expect_err("bad");
        assert_eq!(
            err,
            "id is empty; \
             type `guest.left` is not one of guest.arrived, guest.present, guest.absent, guest.departed, incident, verification.done; \
             placement_id `P-17` is not a Rete placement id (a UUID); \
             occurred_at `28/11/2026` is not an RFC 3339 time with an offset (e.g. 2026-11-28T10:00:00+01:00); \
             note is not a string"
        );
        let err = map_event(SYSTEM, "{}").expect_err("bad");
        assert_eq!(
            err,
            "id is missing; type is missing; placement_id is missing; occurred_at is missing"
        );
        assert_eq!(
            map_event(SYSTEM, "[1]").expect_err("bad"),
            "the body is not a JSON object"
        );
        assert!(
            map_event(SYSTEM, "evt")
                .expect_err("bad")
                .starts_with("the body is not JSON")
        );
    }

    #[test]
    fn a_note_is_bounded_and_never_quoted() {
        let long = "è".repeat(MAX_TEXT + 1);
        let err = map_event(SYSTEM, &event(json!({"note": long}))).expect_err("bad");
        assert_eq!(err, "note is longer than 2000 characters");
        let ok = "è".repeat(MAX_TEXT);
        assert_eq!(
            mapped(&event(json!({"note": ok})))
                .note
                .map(|n| n.chars().count()),
            Some(MAX_TEXT)
        );
        let err =
            map_event(SYSTEM, &event(json!({"note": "Maria\u{0007}Rossi"}))).expect_err("bad");
        assert_eq!(err, "note holds a control character");
        assert!(!err.contains("Maria"));
    }

    #[test]
    fn the_event_id_is_read_even_from_a_bad_body() {
        assert_eq!(
            event_id(r#"{"id":"evt-9","type":"?"}"#).as_deref(),
            Some("evt-9")
        );
        assert_eq!(event_id(r#"{"id":"evt 9"}"#), None);
        assert_eq!(event_id("not json"), None);
    }

    proptest! {
        #[test]
        fn any_body_maps_or_is_rejected_without_panicking(payload in ".{0,300}") {
            let _ = map_event(SYSTEM, &payload);
            let _ = event_id(&payload);
        }

        #[test]
        fn the_same_body_maps_to_the_same_content(note in "[a-zà-ù .,]{0,100}", id in "[a-z0-9-]{1,40}") {
            let payload = event(json!({"id": id, "note": note}));
            let a = map_event(SYSTEM, &payload).map(|r| r.content_hash());
            let b = map_event(SYSTEM, &payload).map(|r| r.content_hash());
            prop_assert_eq!(a, b);
        }
    }
}
