//! Mutation inputs. Services validate them and name the offending field.

use async_graphql::{ID, InputObject};
use chrono::NaiveDate;

use super::enums;

#[derive(InputObject, Clone)]
pub struct SubmitReferralInput {
    /// The social service (SOCIAL_SERVICE or SOCIAL_DISTRICT) that should triage it.
    pub addressed_to: ID,
    pub channel: enums::ReferralChannel,
    pub urgency: enums::Urgency,
    /// At least one reason.
    pub reasons: Vec<enums::ReferralReason>,
    /// What the reporter saw (up to 4000 characters).
    pub description: Option<String>,
    /// 1 to 10 persons.
    pub subjects: Vec<ReferralSubjectInput>,
}

/// A person named in a referral: either one the caller already reaches
/// (`personId`) or a new one (`newPerson`), not both.
#[derive(InputObject, Clone)]
pub struct ReferralSubjectInput {
    pub role: enums::SubjectRole,
    pub person_id: Option<ID>,
    pub new_person: Option<NewPersonInput>,
}

#[derive(InputObject, Clone)]
pub struct NewPersonInput {
    pub given_name: String,
    pub family_name: String,
    pub birth_on: Option<NaiveDate>,
    #[graphql(default_with = "enums::Sex::Unknown")]
    pub sex: enums::Sex,
    /// Codice fiscale (16 characters). A person already known by it is reused.
    pub fiscal_code: Option<String>,
    pub birth_place: Option<String>,
    pub citizenship: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub municipality: Option<String>,
    #[graphql(default)]
    pub languages: Vec<String>,
    #[graphql(default)]
    pub mediator_needed: bool,
    #[graphql(default_with = "enums::MigrationStatus::Unknown")]
    pub migration_status: enums::MigrationStatus,
}

#[derive(InputObject, Clone)]
pub struct TriageReferralInput {
    pub referral_id: ID,
    pub decision: enums::TriageDecision,
    /// Why (required, up to 2000 characters).
    pub reason: String,
    /// REDIRECT only: the social service to send it to.
    pub redirect_to: Option<ID>,
    /// ACCEPT only: the case manager's operator id (default: the caller).
    pub case_manager: Option<String>,
    /// ACCEPT only (default MEDIUM).
    pub risk_level: Option<enums::RiskLevel>,
}

#[derive(InputObject, Clone)]
pub struct AddTeamMemberInput {
    pub case_id: ID,
    pub agency_id: ID,
    pub operator: String,
    pub role: enums::Role,
    /// Default: today.
    pub from_on: Option<NaiveDate>,
}

#[derive(InputObject, Clone)]
pub struct EndTeamMembershipInput {
    pub membership_id: ID,
    /// Default: today.
    pub until_on: Option<NaiveDate>,
}

#[derive(InputObject, Clone)]
pub struct RecordPlacementInput {
    pub case_id: ID,
    pub facility_id: ID,
    /// Subjects of the case to place (at least one).
    pub person_ids: Vec<ID>,
    /// Default: today.
    pub start_on: Option<NaiveDate>,
    pub planned_end_on: Option<NaiveDate>,
    #[graphql(default)]
    pub emergency: bool,
    /// A court order of the same case.
    pub authorising_order_id: Option<ID>,
    /// When the first review is due.
    pub first_verification_on: Option<NaiveDate>,
}

#[derive(InputObject, Clone)]
pub struct EndPlacementInput {
    pub placement_id: ID,
    /// Default: today.
    pub end_on: Option<NaiveDate>,
    pub reason: String,
}

#[derive(InputObject, Clone)]
pub struct RecordVerificationInput {
    pub placement_id: ID,
    /// Default: today.
    pub done_on: Option<NaiveDate>,
    pub outcome: enums::VerificationOutcome,
    pub notes: Option<String>,
    /// When the next review is due (after `doneOn`).
    pub next_due_on: Option<NaiveDate>,
}

#[derive(InputObject, Clone)]
pub struct RecordCourtOrderInput {
    pub case_id: ID,
    /// The issuing court. A court's own operators may omit it.
    pub court_id: Option<ID>,
    pub docket_number: String,
    pub kind: enums::CourtOrderKind,
    pub issued_on: NaiveDate,
    pub summary: String,
    pub text: Option<String>,
    #[graphql(default)]
    pub mandates: Vec<MandateInput>,
}

/// A report to the juvenile court on a case (case managers and social
/// workers of the agency leading it). It goes to the court that issued
/// `orderId`, or to the court of the case's latest order.
#[derive(InputObject, Clone)]
pub struct SubmitCourtReportInput {
    pub case_id: ID,
    /// The order the report answers, if any.
    pub order_id: Option<ID>,
    /// The mandate of that order (to your agency) the report fulfils.
    pub mandate_id: Option<ID>,
    /// 3 to 300 characters.
    pub title: String,
    /// The report's text, up to 100,000 characters.
    pub body: String,
}

#[derive(InputObject, Clone)]
pub struct MandateInput {
    pub agency_id: ID,
    pub description: String,
    pub due_on: Option<NaiveDate>,
}

#[derive(InputObject, Clone)]
pub struct AddCaseNoteInput {
    pub case_id: ID,
    /// 1 to 10000 characters.
    pub body: String,
    /// The note's class (default SOCIAL; never ADMINISTRATIVE).
    pub data_class: Option<enums::DataClass>,
}

#[derive(InputObject, Clone)]
pub struct ChangeCaseStatusInput {
    pub case_id: ID,
    pub status: enums::CaseStatus,
    /// Why; kept as a note on the case.
    pub reason: String,
}

#[derive(InputObject, Clone)]
pub struct RecordConsentInput {
    /// The person the data is about.
    pub subject_id: ID,
    pub given_by: enums::ConsentGiver,
    /// The parent or guardian who gave it (not for SUBJECT).
    pub given_by_person_id: Option<ID>,
    pub data_classes: Vec<enums::DataClass>,
    /// Recipients by agency id and/or by agency kind (at least one).
    #[graphql(default)]
    pub recipient_agencies: Vec<ID>,
    #[graphql(default)]
    pub recipient_kinds: Vec<enums::AgencyKind>,
    pub purposes: Vec<enums::Purpose>,
    /// Default: now.
    pub valid_from: Option<chrono::DateTime<chrono::Utc>>,
    pub valid_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Where the signed form is kept (protocol number, document id).
    pub evidence_ref: Option<String>,
}

#[derive(InputObject, Clone)]
pub struct WithdrawConsentInput {
    pub consent_id: ID,
}

#[derive(InputObject, Clone)]
pub struct RequestBreakGlassInput {
    pub case_id: ID,
    /// Why this emergency needs the case now (20 to 2000 characters); reviewed
    /// afterwards by a privacy officer.
    pub justification: String,
}

#[derive(InputObject, Clone)]
pub struct ReviewBreakGlassInput {
    pub grant_id: ID,
    pub decision: enums::BreakGlassDecision,
    pub note: String,
}

#[derive(InputObject, Clone)]
pub struct RecordProtectionInput {
    pub case_id: ID,
    /// A subject of the case.
    pub protected_person_id: ID,
    /// The person they must be protected from (a subject of this or another
    /// case the caller works on).
    pub from_person_id: ID,
    pub reason: String,
    /// The court order that limits that person's responsibility, if any.
    pub order_id: Option<ID>,
}
