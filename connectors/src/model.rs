//! The canonical inbound records every connector maps to, and the keys that tie
//! them to the agency system they came from.
//!
//! A connector turns one raw item (a FHIR resource, a CSV row, a court order)
//! into zero or more [`Record`]s; the engine decides whether each is new,
//! changed or unchanged and writes it. Records refer to each other by
//! [`ExternalKey`] (a health event names its patient's key), never by our ids:
//! the engine resolves keys through the `external_ref` table, so a connector
//! needs no database.
//!
//! Everything here is plain data (serde, no I/O), so mappings stay pure
//! functions that property tests and fuzzers can drive.

use chrono::{DateTime, NaiveDate, Utc};
use entities::enums::{
    ConsentGiver, CourtOrderKind, HealthEventKind, ReferralReason, Sex, SubjectRole, Urgency,
    VerificationOutcome,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Where a record lives in an agency's own system: `(system, resource type, id)`.
/// `system` names the upstream (e.g. the FHIR base URL, or `consultorio:centro`),
/// so the same id in two systems is two keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ExternalKey {
    pub system: String,
    pub resource_type: String,
    pub id: String,
}

impl ExternalKey {
    pub fn new(
        system: impl Into<String>,
        resource_type: impl Into<String>,
        id: impl Into<String>,
    ) -> ExternalKey {
        ExternalKey {
            system: system.into(),
            resource_type: resource_type.into(),
            id: id.into(),
        }
    }
}

impl std::fmt::Display for ExternalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} ({})", self.resource_type, self.id, self.system)
    }
}

/// One mapped record: its key, the upstream's version of it when the upstream
/// has one (FHIR `meta.versionId`), and what it says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    pub key: ExternalKey,
    pub version: Option<String>,
    pub body: Inbound,
}

impl Record {
    /// SHA-256 (hex) of the mapped content: a replay with the same content is
    /// unchanged even when the upstream keeps no versions.
    pub fn content_hash(&self) -> String {
        let bytes = serde_json::to_vec(&self.body).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }

    /// The entity this record becomes.
    pub fn entity(&self) -> EntityKind {
        match self.body {
            Inbound::Person(_) => EntityKind::Person,
            Inbound::HealthEvent(_) => EntityKind::HealthEvent,
            Inbound::Referral(_) => EntityKind::Referral,
            Inbound::Consent(_) => EntityKind::Consent,
            Inbound::CourtOrder(_) => EntityKind::CourtOrder,
            Inbound::PlacementEvent(_) => EntityKind::PlacementEvent,
        }
    }

    /// The person this record is about, when it is not a person itself.
    pub fn subject(&self) -> Option<&ExternalKey> {
        match &self.body {
            Inbound::Person(_) => None,
            Inbound::HealthEvent(h) => Some(&h.subject),
            Inbound::Referral(r) => Some(&r.subject),
            Inbound::Consent(c) => Some(&c.subject),
            // An order is about a case, found by its reference.
            Inbound::CourtOrder(_) => None,
            // It names a placement by our own id, not a person by key.
            Inbound::PlacementEvent(_) => None,
        }
    }
}

/// Which of our tables a record lands in (the `external_ref.entity` column).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityKind {
    Person,
    HealthEvent,
    Referral,
    Consent,
    CourtOrder,
    PlacementEvent,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "PERSON",
            EntityKind::HealthEvent => "HEALTH_EVENT",
            EntityKind::Referral => "REFERRAL",
            EntityKind::Consent => "CONSENT",
            EntityKind::CourtOrder => "COURT_ORDER",
            EntityKind::PlacementEvent => "PLACEMENT_EVENT",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        [
            EntityKind::Person,
            EntityKind::HealthEvent,
            EntityKind::Referral,
            EntityKind::Consent,
            EntityKind::CourtOrder,
            EntityKind::PlacementEvent,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Inbound {
    Person(PersonIn),
    HealthEvent(HealthEventIn),
    Referral(ReferralIn),
    Consent(ConsentIn),
    CourtOrder(CourtOrderIn),
    PlacementEvent(PlacementEventIn),
}

/// A person as an agency's system knows them. Matching (engine): first the
/// record's own key, then `identifiers` (keys of the same person in other
/// systems we already imported), then the fiscal code; never the name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonIn {
    pub given_name: String,
    pub family_name: String,
    pub birth_on: Option<NaiveDate>,
    pub sex: Sex,
    /// Italian codice fiscale, upper case, 16 characters.
    pub fiscal_code: Option<String>,
    pub identifiers: Vec<ExternalKey>,
    pub birth_place: Option<String>,
    pub citizenship: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub municipality: Option<String>,
    /// ISO 639-1 codes.
    pub languages: Vec<String>,
}

/// A health event (class HEALTH) of a person, reported by the instance's agency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthEventIn {
    pub subject: ExternalKey,
    pub kind: HealthEventKind,
    pub occurred_on: NaiveDate,
    pub summary: String,
}

/// A referral into the triage queue of the social service the instance is
/// configured to refer to, reported by the instance's agency (channel SYSTEM).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferralIn {
    pub subject: ExternalKey,
    pub subject_role: SubjectRole,
    pub reasons: Vec<ReferralReason>,
    pub urgency: Urgency,
    pub description: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// A consent recorded by the instance's agency. The lists hold the policy's
/// values (data classes, agency ids, agency kinds, purposes); the engine
/// checks them before writing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsentIn {
    pub subject: ExternalKey,
    pub given_by: ConsentGiver,
    pub data_classes: Vec<String>,
    pub recipient_agencies: Vec<String>,
    pub recipient_kinds: Vec<String>,
    pub purposes: Vec<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub evidence_ref: Option<String>,
}

/// An order (decreto) of the instance's juvenile court about a case, or a
/// report request (kind `REPORT_REQUEST`, whose mandates say who reports by
/// when). The case is named by its Rete `reference`; the engine checks the
/// mandated agencies against the network before writing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CourtOrderIn {
    pub case_reference: String,
    pub docket_number: String,
    pub kind: CourtOrderKind,
    pub issued_on: NaiveDate,
    pub summary: String,
    pub text: Option<String>,
    pub mandates: Vec<MandateIn>,
}

/// What an order asks of an agency, and by when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MandateIn {
    /// The mandated agency's id in the network (`polo-nord`).
    pub agency: String,
    pub description: String,
    pub due_on: Option<NaiveDate>,
}

/// What a reception community reports of a placement (the `placement_event`
/// table's `kind`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlacementEventKind {
    /// The guests arrived at the facility.
    Arrival,
    /// The guests are present (a periodic confirmation).
    Presence,
    /// The guests are away (left without notice, did not come back at night).
    Absence,
    /// The guests left for good: the placement ends.
    Departure,
    /// Something happened that the case team must know.
    Incident,
    /// A review of the placement took place: a verification is recorded.
    Verification,
}

impl PlacementEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlacementEventKind::Arrival => "ARRIVAL",
            PlacementEventKind::Presence => "PRESENCE",
            PlacementEventKind::Absence => "ABSENCE",
            PlacementEventKind::Departure => "DEPARTURE",
            PlacementEventKind::Incident => "INCIDENT",
            PlacementEventKind::Verification => "VERIFICATION",
        }
    }
}

/// An event of a placement reported by the instance's agency, which must run
/// the placement's facility (the engine checks). The placement is named by
/// Rete's own id: the community learnt it from the hub's placement request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlacementEventIn {
    pub placement_id: Uuid,
    pub kind: PlacementEventKind,
    pub occurred_at: DateTime<Utc>,
    /// The day it happened where it happened (the date of `occurred_at` in
    /// the offset the community wrote): a departure ends the placement on it.
    pub occurred_on: NaiveDate,
    pub note: Option<String>,
    /// A departure's reason, for the placement's `end_reason`.
    pub end_reason: Option<String>,
    /// A verification's outcome.
    pub outcome: Option<VerificationOutcome>,
}
