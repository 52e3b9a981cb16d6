//! Enumerations stored as TEXT columns holding the SCREAMING_SNAKE_CASE value.
//!
//! The database restricts every one of these columns with a `CHECK (col IN (...))`,
//! so the variants here must stay in step with the migration's value lists.
//! Agency kind, role, purpose and data class are deliberately absent: they are
//! plain `String` columns here and their enums belong to the policy crate.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The case status enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaseStatus {
    #[sea_orm(string_value = "INTAKE")]
    Intake,
    #[sea_orm(string_value = "ASSESSMENT")]
    Assessment,
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "SUSPENDED")]
    Suspended,
    #[sea_orm(string_value = "CLOSED")]
    Closed,
}

/// The risk level enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RiskLevel {
    #[sea_orm(string_value = "LOW")]
    Low,
    #[sea_orm(string_value = "MEDIUM")]
    Medium,
    #[sea_orm(string_value = "HIGH")]
    High,
    #[sea_orm(string_value = "CRITICAL")]
    Critical,
}

/// The subject role enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubjectRole {
    #[sea_orm(string_value = "CHILD")]
    Child,
    #[sea_orm(string_value = "MOTHER")]
    Mother,
    #[sea_orm(string_value = "FATHER")]
    Father,
    #[sea_orm(string_value = "GUARDIAN")]
    Guardian,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// The sex enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Sex {
    #[sea_orm(string_value = "FEMALE")]
    Female,
    #[sea_orm(string_value = "MALE")]
    Male,
    #[sea_orm(string_value = "OTHER")]
    Other,
    #[sea_orm(string_value = "UNKNOWN")]
    Unknown,
}

/// The migration status enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MigrationStatus {
    #[sea_orm(string_value = "ITALIAN_CITIZEN")]
    ItalianCitizen,
    #[sea_orm(string_value = "EU_CITIZEN")]
    EuCitizen,
    #[sea_orm(string_value = "RESIDENCE_PERMIT")]
    ResidencePermit,
    #[sea_orm(string_value = "PERMIT_PENDING")]
    PermitPending,
    #[sea_orm(string_value = "ASYLUM_SEEKER")]
    AsylumSeeker,
    #[sea_orm(string_value = "REFUGEE")]
    Refugee,
    #[sea_orm(string_value = "UNDOCUMENTED")]
    Undocumented,
    #[sea_orm(string_value = "UNKNOWN")]
    Unknown,
}

/// The referral channel enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReferralChannel {
    #[sea_orm(string_value = "PHONE")]
    Phone,
    #[sea_orm(string_value = "EMAIL")]
    Email,
    #[sea_orm(string_value = "PEC")]
    Pec,
    #[sea_orm(string_value = "IN_PERSON")]
    InPerson,
    #[sea_orm(string_value = "CALL_CENTER")]
    CallCenter,
    #[sea_orm(string_value = "SYSTEM")]
    System,
}

/// The referral reason enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReferralReason {
    #[sea_orm(string_value = "MALTREATMENT")]
    Maltreatment,
    #[sea_orm(string_value = "DOMESTIC_VIOLENCE")]
    DomesticViolence,
    #[sea_orm(string_value = "PREGNANCY")]
    Pregnancy,
    #[sea_orm(string_value = "HOUSING_LOSS")]
    HousingLoss,
    #[sea_orm(string_value = "NEGLECT")]
    Neglect,
    #[sea_orm(string_value = "SEXUAL_ABUSE")]
    SexualAbuse,
    #[sea_orm(string_value = "TRAFFICKING")]
    Trafficking,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// The urgency enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Urgency {
    #[sea_orm(string_value = "LOW")]
    Low,
    #[sea_orm(string_value = "MEDIUM")]
    Medium,
    #[sea_orm(string_value = "HIGH")]
    High,
    #[sea_orm(string_value = "IMMEDIATE")]
    Immediate,
}

/// The triage outcome enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TriageOutcome {
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    #[sea_orm(string_value = "REDIRECTED")]
    Redirected,
    #[sea_orm(string_value = "DISMISSED")]
    Dismissed,
}

/// The facility kind enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FacilityKind {
    #[sea_orm(string_value = "MOTHER_CHILD_COMMUNITY")]
    MotherChildCommunity,
    #[sea_orm(string_value = "SHELTER")]
    Shelter,
    #[sea_orm(string_value = "SOCIAL_HOUSING")]
    SocialHousing,
}

/// The verification outcome enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationOutcome {
    #[sea_orm(string_value = "ON_TRACK")]
    OnTrack,
    #[sea_orm(string_value = "CONCERNS")]
    Concerns,
    #[sea_orm(string_value = "CRITICAL")]
    Critical,
}

/// The court order kind enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CourtOrderKind {
    #[sea_orm(string_value = "CUSTODY_TO_SOCIAL_SERVICE")]
    CustodyToSocialService,
    #[sea_orm(string_value = "COMMUNITY_PLACEMENT")]
    CommunityPlacement,
    #[sea_orm(string_value = "PARENTAL_RESPONSIBILITY_LIMITATION")]
    ParentalResponsibilityLimitation,
    #[sea_orm(string_value = "EMERGENCY_REMOVAL_RATIFICATION")]
    EmergencyRemovalRatification,
    #[sea_orm(string_value = "REPORT_REQUEST")]
    ReportRequest,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// The health event kind enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthEventKind {
    #[sea_orm(string_value = "ER_VISIT")]
    ErVisit,
    #[sea_orm(string_value = "PREGNANCY")]
    Pregnancy,
    #[sea_orm(string_value = "BIRTH")]
    Birth,
    #[sea_orm(string_value = "INJURY_REPORT")]
    InjuryReport,
    #[sea_orm(string_value = "HOSPITALISATION")]
    Hospitalisation,
    #[sea_orm(string_value = "OUTPATIENT_VISIT")]
    OutpatientVisit,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// The intervention kind enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InterventionKind {
    #[sea_orm(string_value = "CULTURAL_MEDIATION")]
    CulturalMediation,
    #[sea_orm(string_value = "PSYCHOLOGICAL_SUPPORT")]
    PsychologicalSupport,
    #[sea_orm(string_value = "ETHNOCLINICAL")]
    Ethnoclinical,
    #[sea_orm(string_value = "DAY_SERVICE")]
    DayService,
    #[sea_orm(string_value = "HOUSING")]
    Housing,
    #[sea_orm(string_value = "EDUCATIONAL")]
    Educational,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// The consent giver enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentGiver {
    #[sea_orm(string_value = "SUBJECT")]
    Subject,
    #[sea_orm(string_value = "PARENT")]
    Parent,
    #[sea_orm(string_value = "GUARDIAN")]
    Guardian,
}

/// The break-glass review enumeration of the data model.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakGlassReview {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "FLAGGED")]
    Flagged,
}
