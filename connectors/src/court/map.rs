//! One item of the court's feed to a Rete record: verify its JWS, then read
//! the order in its claims, field by field.
//!
//! Pure: no I/O and no clock of its own (only an `exp`, when an order has
//! one, is compared with the time). What needs the database is left to the
//! engine ([`crate::apply`]): whether the case reference exists, whether the
//! mandated agencies are agencies of the network, whether the docket number
//! is free.
//!
//! Reasons name the field (`order.mandates[1].due_on`) and the problem; they
//! quote only codes and dates (`type`, `kind`, dates, agency ids), never a
//! summary, a text, a description or a docket number.

use chrono::NaiveDate;
use entities::enums::CourtOrderKind;
use serde_json::{Map, Value};

use crate::connector::{Mapped, RawItem};
use crate::model::{CourtOrderIn, ExternalKey, Inbound, MandateIn, Record};

use super::RESOURCE_TYPE;
use super::jws::CourtKeys;

/// What mapping needs: who the court is and its keys.
#[derive(Debug)]
pub struct MapContext {
    /// The court's agency id: the `iss` its orders must carry.
    pub agency: String,
    /// The `system` of the keys (`court:{agency}`).
    pub system: String,
    pub keys: CourtKeys,
}

const KINDS: &str = "CUSTODY_TO_SOCIAL_SERVICE, COMMUNITY_PLACEMENT, PARENTAL_RESPONSIBILITY_LIMITATION, EMERGENCY_REMOVAL_RATIFICATION, REPORT_REQUEST, OTHER";
const MAX_MANDATES: usize = 100;

/// Maps one item of the feed (its payload is the compact JWS).
pub fn map_item(ctx: &MapContext, item: &RawItem) -> Mapped {
    if item.resource_type != RESOURCE_TYPE {
        return Mapped::Skipped(format!(
            "`{}` is not a court order",
            item.resource_type.chars().take(64).collect::<String>()
        ));
    }
    let claims = match ctx.keys.verify(&item.payload, &ctx.agency) {
        Ok(c) => c,
        Err(reason) => return Mapped::Rejected(reason),
    };
    match read_order(&claims) {
        Ok((id, order)) => {
            if let Some(listed) = &item.external_id
                && listed != &id
            {
                return Mapped::Rejected(
                    "order.id differs from the id the court's feed lists the item under".into(),
                );
            }
            Mapped::Records(vec![Record {
                key: ExternalKey::new(ctx.system.clone(), RESOURCE_TYPE, id),
                // The feed's seq changes on every publication; the content
                // hash decides whether an order changed.
                version: None,
                body: Inbound::CourtOrder(order),
            }])
        }
        Err(reason) => Mapped::Rejected(reason),
    }
}

/// Reads `order` from verified claims: the court's id of it, and the order.
pub fn read_order(claims: &Map<String, Value>) -> Result<(String, CourtOrderIn), String> {
    let order = match claims.get("order") {
        Some(Value::Object(o)) => Fields {
            obj: o,
            path: "order".into(),
        },
        Some(_) => return Err("order: is not an object".into()),
        None => return Err("the claims have no order".into()),
    };
    let id = order.text("id", 200)?;
    let report_request = match order.text("type", 64)?.as_str() {
        "ORDER" => false,
        "REPORT_REQUEST" => true,
        other => {
            return Err(format!(
                "order.type: `{}` is not ORDER or REPORT_REQUEST",
                clip(other)
            ));
        }
    };
    let kind = match (order.optional_text("kind", 64)?, report_request) {
        (None, true) => CourtOrderKind::ReportRequest,
        (None, false) => return Err("order.kind: is missing".into()),
        (Some(k), _) => serde_json::from_value::<CourtOrderKind>(Value::String(k.clone()))
            .map_err(|_| {
                format!(
                    "order.kind: `{}` is not a court order kind ({KINDS})",
                    clip(&k)
                )
            })?,
    };
    if report_request && kind != CourtOrderKind::ReportRequest {
        return Err("order.kind: a REPORT_REQUEST has kind REPORT_REQUEST".into());
    }
    if !report_request && kind == CourtOrderKind::ReportRequest {
        return Err(
            "order.kind: REPORT_REQUEST is the kind of an item of type REPORT_REQUEST".into(),
        );
    }
    let docket_number = order.text("docket_number", 100)?;
    let case_reference = order.text("case_reference", 100)?;
    let issued_on = order.date("issued_on")?;
    let summary = order.text("summary", 2000)?;
    let text = order.optional_text("text", 100_000)?;
    let mandates = match order.obj.get("mandates") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err("order.mandates: is not a list".into()),
    };
    if mandates.len() > MAX_MANDATES {
        return Err(format!("order.mandates: more than {MAX_MANDATES} mandates"));
    }
    let mut read = Vec::with_capacity(mandates.len());
    for (i, m) in mandates.iter().enumerate() {
        let path = format!("order.mandates[{i}]");
        let Value::Object(obj) = m else {
            return Err(format!("{path}: is not an object"));
        };
        let m = Fields { obj, path };
        let agency = m.text("agency", 100)?;
        let description = m.text("description", 2000)?;
        let due_on = m.optional_date("due_on")?;
        if let Some(d) = due_on
            && d < issued_on
        {
            return Err(format!(
                "{}.due_on: {d} is before the order was issued ({issued_on})",
                m.path
            ));
        }
        if report_request && due_on.is_none() {
            return Err(format!(
                "{}.due_on: a report request says by when the report is due",
                m.path
            ));
        }
        read.push(MandateIn {
            agency,
            description,
            due_on,
        });
    }
    if report_request && read.is_empty() {
        return Err("order.mandates: a report request names who reports, by when".into());
    }
    Ok((
        id,
        CourtOrderIn {
            case_reference,
            docket_number,
            kind,
            issued_on,
            summary,
            text,
            mandates: read,
        },
    ))
}

/// A code for a reason: at most 64 characters, no control characters.
fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// An object of the claims and its path, for reasons that name the field.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    path: String,
}

impl Fields<'_> {
    fn name(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    /// A required, non-blank string of at most `max` characters, trimmed.
    fn text(&self, field: &str, max: usize) -> Result<String, String> {
        self.optional_text(field, max)?
            .ok_or_else(|| format!("{}: is missing", self.name(field)))
    }

    fn optional_text(&self, field: &str, max: usize) -> Result<Option<String>, String> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    return Err(format!("{}: is empty", self.name(field)));
                }
                if s.chars().count() > max {
                    return Err(format!(
                        "{}: is longer than {max} characters",
                        self.name(field)
                    ));
                }
                Ok(Some(s.to_string()))
            }
            Some(_) => Err(format!("{}: is not a string", self.name(field))),
        }
    }

    fn date(&self, field: &str) -> Result<NaiveDate, String> {
        self.optional_date(field)?
            .ok_or_else(|| format!("{}: is missing", self.name(field)))
    }

    /// A `YYYY-MM-DD` date.
    fn optional_date(&self, field: &str) -> Result<Option<NaiveDate>, String> {
        let Some(s) = self.optional_text(field, 64)? else {
            return Ok(None);
        };
        if s.len() == 10
            && let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        {
            return Ok(Some(d));
        }
        Err(format!(
            "{}: `{}` is not a date (YYYY-MM-DD)",
            self.name(field),
            clip(&s)
        ))
    }
}
