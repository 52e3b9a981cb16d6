//! GraphQL enums. Each mirrors a storage enum (`entities::enums`) or a policy word
//! (`policy`) through async-graphql's `remote`, which writes the conversions both
//! ways, so a value cannot be spelt differently in the API.

use async_graphql::Enum;

macro_rules! gql_enum {
    ($(#[$meta:meta])* $name:ident = $remote:literal { $($v:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
        #[graphql(remote = $remote)]
        pub enum $name { $($v),+ }
    };
}

gql_enum!(
    /// Where a case stands. Allowed moves: INTAKE→ASSESSMENT|CLOSED,
    /// ASSESSMENT→ACTIVE|CLOSED, ACTIVE→SUSPENDED|CLOSED, SUSPENDED→ACTIVE|CLOSED,
    /// CLOSED→ASSESSMENT (reopening).
    CaseStatus = "entities::enums::CaseStatus" { Intake, Assessment, Active, Suspended, Closed });
gql_enum!(RiskLevel = "entities::enums::RiskLevel" { Low, Medium, High, Critical });
gql_enum!(SubjectRole = "entities::enums::SubjectRole" { Child, Mother, Father, Guardian, Other });
gql_enum!(Sex = "entities::enums::Sex" { Female, Male, Other, Unknown });
gql_enum!(MigrationStatus = "entities::enums::MigrationStatus" {
    ItalianCitizen, EuCitizen, ResidencePermit, PermitPending, AsylumSeeker, Refugee, Undocumented, Unknown
});
gql_enum!(ReferralChannel = "entities::enums::ReferralChannel" { Phone, Email, Pec, InPerson, CallCenter, System });
gql_enum!(ReferralReason = "entities::enums::ReferralReason" {
    Maltreatment, DomesticViolence, Pregnancy, HousingLoss, Neglect, SexualAbuse, Trafficking, Other
});
gql_enum!(Urgency = "entities::enums::Urgency" { Low, Medium, High, Immediate });
gql_enum!(TriageOutcome = "entities::enums::TriageOutcome" { Accepted, Redirected, Dismissed });
gql_enum!(FacilityKind = "entities::enums::FacilityKind" { MotherChildCommunity, Shelter, SocialHousing });
gql_enum!(VerificationOutcome = "entities::enums::VerificationOutcome" { OnTrack, Concerns, Critical });
gql_enum!(CourtOrderKind = "entities::enums::CourtOrderKind" {
    CustodyToSocialService, CommunityPlacement, ParentalResponsibilityLimitation,
    EmergencyRemovalRatification, ReportRequest, Other
});
gql_enum!(HealthEventKind = "entities::enums::HealthEventKind" {
    ErVisit, Pregnancy, Birth, InjuryReport, Hospitalisation, OutpatientVisit, Other
});
gql_enum!(InterventionKind = "entities::enums::InterventionKind" {
    CulturalMediation, PsychologicalSupport, Ethnoclinical, DayService, Housing, Educational, Other
});

gql_enum!(AgencyKind = "policy::AgencyKind" {
    SocialService, SocialDistrict, JuvenileCourt, Hospital, Consultorio, AntiViolenceCentre,
    ReceptionCommunity, Cooperative, Association, LawEnforcement, School
});
gql_enum!(Role = "policy::Role" {
    CaseManager, SocialWorker, Psychologist, HealthProfessional, Educator, Mediator, Judge,
    CourtClerk, IntakeOperator, PrivacyOfficer, Integrator, Analyst
});
gql_enum!(Purpose = "policy::Purpose" {
    CaseManagement, Healthcare, Judicial, Placement, Emergency, Statistics, Audit, Sync
});
gql_enum!(
    /// The protection class of a field of personal data; see `@dataClass`.
    DataClass = "policy::DataClass" {
    Administrative, Identity, Contact, SecretLocation, Health, Judicial, Social, Migration,
    EthnicOrigin, Violence
});
gql_enum!(Relationship = "policy::Relationship" {
    TeamMember, Lead, Referrer, FacilityOperator, CourtOfRecord, Any
});

/// What triage decides.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TriageDecision {
    /// Open a case led by the triaging agency.
    Accept,
    /// Send the referral to another social service.
    Redirect,
    /// Close the referral without a case.
    Dismiss,
}

gql_enum!(
    /// Who gave a consent.
    ConsentGiver = "entities::enums::ConsentGiver" { Subject, Parent, Guardian });
gql_enum!(
    /// Where a break-glass grant stands in its review.
    BreakGlassReview = "entities::enums::BreakGlassReview" { Pending, Approved, Flagged });

/// What a reception community reported of a placement (its webhook's `type`).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PlacementEventKind {
    /// `guest.arrived`: the guests arrived at the facility.
    Arrival,
    /// `guest.present`: the guests are there.
    Presence,
    /// `guest.absent`: the guests are away without leave.
    Absence,
    /// `guest.departed`: the guests left for good; the placement ended.
    Departure,
    /// `incident`: something the case team must know.
    Incident,
    /// `verification.done`: a review took place (see `verifications`).
    Verification,
}

impl PlacementEventKind {
    /// The kind stored in `placement_event.kind`; `None` for a word this
    /// version does not know (the row is then left out, never mislabelled).
    pub fn from_stored(kind: &str) -> Option<PlacementEventKind> {
        Some(match kind {
            "ARRIVAL" => PlacementEventKind::Arrival,
            "PRESENCE" => PlacementEventKind::Presence,
            "ABSENCE" => PlacementEventKind::Absence,
            "DEPARTURE" => PlacementEventKind::Departure,
            "INCIDENT" => PlacementEventKind::Incident,
            "VERIFICATION" => PlacementEventKind::Verification,
            _ => return None,
        })
    }
}

/// A privacy officer's verdict on a break-glass grant.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum BreakGlassDecision {
    Approve,
    Flag,
}
