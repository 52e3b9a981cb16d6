//! A message's data, built at send time as the receiver would see it.
//!
//! Each kind has one GraphQL document. It runs through the hub's own schema
//! with the receiving agency as the caller (role INTEGRATOR, purpose SYNC,
//! operator `outbox:<instance>`), so every field is decided by the guard and
//! the network agreement exactly as for a partner's query, at this moment.
//! What the policy withholds is `null` in the data and named (path and class,
//! never the value) in `withheld`. When the data the message exists for is
//! withheld altogether, the message is not worth sending: [`Built::Drop`].
//!
//! It must never add a value to the payload that did not come out of the
//! GraphQL response, and never send errors' messages to the receiver.

use std::sync::Arc;

use entities::outbox_message;
use policy::{Purpose, Requester, Role};
use serde::Serialize;
use serde_json::{Value, json};

use super::Kind;
use crate::audit::trail::Trail;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::AppState;

/// The placement, as the facility's operator may see it.
pub const PLACEMENT: &str = "query OutboxPlacement($id: ID!) {
  placement(id: $id) {
    id startOn plannedEndOn endOn endReason emergency
    case { id reference status }
    guests { id givenName familyName birthOn sex phone email languages mediatorNeeded }
    verifications { dueOn doneOn outcome }
  }
}";

/// The report, and the case as the court may see it.
pub const COURT_REPORT: &str = "query OutboxCourtReport($id: ID!) {
  courtReport(id: $id) {
    id title body submittedAt
    author { id name }
    order { id docketNumber kind issuedOn }
    case {
      id reference status openedOn summary riskLevel
      leadAgency { id name }
      subjects { role person { id givenName familyName birthOn sex fiscalCode } }
    }
  }
}";

/// A field the policy kept out of the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WithheldField {
    pub path: String,
    pub class: String,
}

/// What the document gave.
pub enum Built {
    /// Send `data`; log `trail` first.
    Send {
        data: Value,
        withheld: Vec<WithheldField>,
        trail: Arc<Trail>,
        operation: String,
        query_hash: String,
    },
    /// Nothing worth sending: the reason, for the message's `status_reason`.
    Drop(String),
}

/// The caller a message's document runs as.
pub async fn receiver(state: &AppState, m: &outbox_message::Model) -> Result<Caller, ApiError> {
    let kind = state
        .agency_kind(&m.receiver_agency_id)
        .await?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "outbox message {}: no agency {}",
                m.id, m.receiver_agency_id
            ))
        })?;
    Ok(Caller {
        requester: Requester {
            agency: m.receiver_agency_id.clone(),
            agency_kind: kind,
            operator: format!("outbox:{}", m.instance),
            role: Role::Integrator,
            purpose: Purpose::Sync,
        },
        token_id: m.id.to_string(),
        issuer: "rete-outbox".to_string(),
    })
}

/// Build the payload of a message (not a forget notice: those carry their body).
pub async fn build(state: &AppState, m: &outbox_message::Model) -> Result<Built, ApiError> {
    let kind = Kind::parse(&m.kind)
        .ok_or_else(|| ApiError::internal(format!("outbox message {}: kind {}", m.id, m.kind)))?;
    let (document, root) = match kind {
        Kind::PlacementRequest | Kind::PlacementUpdate => (PLACEMENT, "placement"),
        Kind::CourtReport => (COURT_REPORT, "courtReport"),
        Kind::Forget => {
            return Err(ApiError::internal(
                "a forget notice has no document: it carries its body",
            ));
        }
    };
    let caller = receiver(state, m).await?;
    let request = async_graphql::Request::new(document).variables(
        async_graphql::Variables::from_json(json!({"id": m.record_id})),
    );
    let (body, trail) = state.run_operation(&caller, request).await;
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    let errors = body
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let code = |e: &Value| {
        e.pointer("/extensions/code")
            .and_then(Value::as_str)
            .unwrap_or("INTERNAL")
            .to_string()
    };
    let mut withheld = Vec::new();
    for e in &errors {
        match code(e).as_str() {
            "FIELD_WITHHELD" => withheld.push(WithheldField {
                path: path_of(e),
                class: e
                    .pointer("/extensions/dataClass")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            }),
            "NOT_FOUND" => {
                return Ok(Built::Drop(format!(
                    "{} has no link to the {} any more",
                    m.receiver_agency_id,
                    root_name(root)
                )));
            }
            other => {
                return Err(ApiError::internal(format!(
                    "outbox message {}: the {root} document failed ({other} at {})",
                    m.id,
                    path_of(e)
                )));
            }
        }
    }
    let record = data.get(root).unwrap_or(&Value::Null);
    if let Some(reason) = missing_essentials(kind, record, &withheld) {
        return Ok(Built::Drop(format!("{}: {reason}", m.receiver_agency_id)));
    }
    Ok(Built::Send {
        data,
        withheld,
        trail,
        operation: format!("outbox {} {} attempt {}", kind.as_str(), m.id, m.attempts),
        query_hash: crate::audit::chain::query_hash(document),
    })
}

fn root_name(root: &str) -> &'static str {
    match root {
        "placement" => "placement",
        _ => "case of the report",
    }
}

/// `placement.guests.0.phone`.
fn path_of(e: &Value) -> String {
    e.get("path")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .map(|s| match s {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default()
}

/// Why the message is not worth sending, when what it exists for is withheld:
/// a placement whose guests the receiver may not identify, a report whose
/// text the court may not read.
pub fn missing_essentials(
    kind: Kind,
    record: &Value,
    withheld: &[WithheldField],
) -> Option<String> {
    if record.is_null() {
        return Some("the record is withheld".into());
    }
    match kind {
        Kind::PlacementRequest | Kind::PlacementUpdate => {
            let guests = record.get("guests").and_then(Value::as_array);
            let identified = guests.is_some_and(|g| {
                g.iter()
                    .any(|p| p.get("givenName").is_some_and(|n| !n.is_null()))
            });
            if identified {
                None
            } else {
                let classes: std::collections::BTreeSet<&str> =
                    withheld.iter().map(|w| w.class.as_str()).collect();
                Some(format!(
                    "no legal basis holds any more to identify the guests (withheld: {})",
                    classes.into_iter().collect::<Vec<_>>().join(", ")
                ))
            }
        }
        Kind::CourtReport => record
            .get("body")
            .is_none_or(Value::is_null)
            .then(|| "the court may not read the report (JUDICIAL withheld)".to_string()),
        Kind::Forget => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(class: &str) -> WithheldField {
        WithheldField {
            path: "placement.guests.0.givenName".into(),
            class: class.into(),
        }
    }

    #[test]
    fn a_placement_is_worth_sending_while_one_guest_can_be_identified() {
        let some = json!({"guests": [{"givenName": null}, {"givenName": "Anna"}]});
        assert_eq!(missing_essentials(Kind::PlacementUpdate, &some, &[]), None);
        let none = json!({"guests": [{"givenName": null}]});
        let why = missing_essentials(Kind::PlacementRequest, &none, &[w("IDENTITY")]);
        assert!(why.is_some_and(|m| m.contains("IDENTITY")));
        let hidden = json!({"guests": null});
        assert!(missing_essentials(Kind::PlacementRequest, &hidden, &[]).is_some());
    }

    #[test]
    fn a_report_is_worth_sending_only_with_its_text() {
        assert_eq!(
            missing_essentials(Kind::CourtReport, &json!({"body": "Relazione"}), &[]),
            None
        );
        assert!(missing_essentials(Kind::CourtReport, &json!({"body": null}), &[]).is_some());
        assert!(missing_essentials(Kind::CourtReport, &Value::Null, &[]).is_some());
    }
}
