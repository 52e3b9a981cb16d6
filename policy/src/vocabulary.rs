//! The words of the network agreement. Each enum reads and writes its values as
//! the SCREAMING_SNAKE_CASE strings used in tokens, the database, the policy file
//! and the GraphQL schema, so there is one spelling everywhere.

use std::fmt;
use std::str::FromStr;

/// A value that is not one of an enum's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}` (expected one of: {expected})")]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseError {
                        what: $what,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

vocabulary!(
    /// What kind of agency an agency is.
    AgencyKind, "agency kind" {
        SocialService => "SOCIAL_SERVICE",
        SocialDistrict => "SOCIAL_DISTRICT",
        JuvenileCourt => "JUVENILE_COURT",
        Hospital => "HOSPITAL",
        Consultorio => "CONSULTORIO",
        AntiViolenceCentre => "ANTI_VIOLENCE_CENTRE",
        ReceptionCommunity => "RECEPTION_COMMUNITY",
        Cooperative => "COOPERATIVE",
        Association => "ASSOCIATION",
        LawEnforcement => "LAW_ENFORCEMENT",
        School => "SCHOOL",
    }
);

vocabulary!(
    /// An operator's role, from the token.
    Role, "role" {
        CaseManager => "CASE_MANAGER",
        SocialWorker => "SOCIAL_WORKER",
        Psychologist => "PSYCHOLOGIST",
        HealthProfessional => "HEALTH_PROFESSIONAL",
        Educator => "EDUCATOR",
        Mediator => "MEDIATOR",
        Judge => "JUDGE",
        CourtClerk => "COURT_CLERK",
        IntakeOperator => "INTAKE_OPERATOR",
        PrivacyOfficer => "PRIVACY_OFFICER",
        Integrator => "INTEGRATOR",
        Analyst => "ANALYST",
    }
);

vocabulary!(
    /// Why the request is made, from the token (a PDND voucher's purposeId).
    Purpose, "purpose" {
        CaseManagement => "CASE_MANAGEMENT",
        Healthcare => "HEALTHCARE",
        Judicial => "JUDICIAL",
        Placement => "PLACEMENT",
        Emergency => "EMERGENCY",
        Statistics => "STATISTICS",
        Audit => "AUDIT",
        Sync => "SYNC",
    }
);

vocabulary!(
    /// The protection class of a field of personal data.
    DataClass, "data class" {
        Administrative => "ADMINISTRATIVE",
        Identity => "IDENTITY",
        Contact => "CONTACT",
        SecretLocation => "SECRET_LOCATION",
        Health => "HEALTH",
        Judicial => "JUDICIAL",
        Social => "SOCIAL",
        Migration => "MIGRATION",
        EthnicOrigin => "ETHNIC_ORIGIN",
        Violence => "VIOLENCE",
    }
);

vocabulary!(
    /// How the requesting agency is linked to the case a record belongs to.
    Relationship, "relationship" {
        TeamMember => "TEAM_MEMBER",
        Lead => "LEAD",
        Referrer => "REFERRER",
        FacilityOperator => "FACILITY_OPERATOR",
        CourtOfRecord => "COURT_OF_RECORD",
        Any => "ANY",
    }
);

vocabulary!(
    /// The kinds of legal basis a rule can rest on. The order is the order of
    /// preference when several hold: a court order, then a legal duty, then
    /// consent, and break-glass last, so that an access that had another basis is
    /// never recorded as an emergency.
    BasisKind, "legal basis" {
        CourtOrder => "COURT_ORDER",
        Duty => "DUTY",
        Consent => "CONSENT",
        BreakGlass => "BREAK_GLASS",
    }
);

impl DataClass {
    /// The classes that a person a subject is protected from must never open:
    /// where the subject is and how to reach them.
    pub const PROTECTED_FROM_LINKS: &'static [DataClass] =
        &[DataClass::Contact, DataClass::SecretLocation];

    /// The classes the purpose STATISTICS may never see: they identify or locate
    /// a person.
    pub const NEVER_FOR_STATISTICS: &'static [DataClass] = &[
        DataClass::Identity,
        DataClass::Contact,
        DataClass::SecretLocation,
    ];
}

use AgencyKind as K;

/// Every agency kind, for roles found at any agency.
const EVERY_KIND: &[AgencyKind] = AgencyKind::ALL;

impl Role {
    /// The agency kinds at which an operator can hold this role. The policy file
    /// is checked against this table: a rule or duty naming a role that cannot
    /// exist at any of its agency kinds could never apply. Kept here, once, and
    /// documented in docs/policy.md.
    pub fn agency_kinds(self) -> &'static [AgencyKind] {
        match self {
            Role::CaseManager => &[K::SocialService, K::SocialDistrict],
            Role::IntakeOperator => &[K::SocialService, K::SocialDistrict, K::AntiViolenceCentre],
            Role::SocialWorker => &[
                K::SocialService,
                K::SocialDistrict,
                K::Hospital,
                K::Consultorio,
                K::AntiViolenceCentre,
                K::ReceptionCommunity,
                K::Cooperative,
                K::Association,
            ],
            Role::Psychologist => &[
                K::SocialService,
                K::SocialDistrict,
                K::Hospital,
                K::Consultorio,
                K::AntiViolenceCentre,
                K::ReceptionCommunity,
                K::Cooperative,
                K::Association,
                K::School,
            ],
            Role::HealthProfessional => &[K::Hospital, K::Consultorio],
            Role::Educator => &[
                K::SocialService,
                K::SocialDistrict,
                K::AntiViolenceCentre,
                K::ReceptionCommunity,
                K::Cooperative,
                K::Association,
                K::School,
            ],
            Role::Judge | Role::CourtClerk => &[K::JuvenileCourt],
            Role::Mediator | Role::PrivacyOfficer | Role::Integrator | Role::Analyst => EVERY_KIND,
        }
    }

    /// Can an operator of an agency of `kind` hold this role?
    pub fn exists_at(self, kind: AgencyKind) -> bool {
        self.agency_kinds().contains(&kind)
    }
}

impl Relationship {
    /// The agency kinds that can hold this relationship to a case. Only the court
    /// of record is restricted (to the juvenile court); the others follow from
    /// the case's own records.
    pub fn agency_kinds(self) -> &'static [AgencyKind] {
        match self {
            Relationship::CourtOfRecord => &[K::JuvenileCourt],
            _ => EVERY_KIND,
        }
    }
}

/// A code of the HL7 v3 PurposeOfUse value set
/// (`http://terminology.hl7.org/ValueSet/v3-PurposeOfUse`), as the FHIR side
/// writes it in `Consent.provision.purpose` or an AuditEvent's `purposeOfEvent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PurposeOfUse {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
}

/// The code system of every [`PurposeOfUse`] code.
pub const ACT_REASON_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

impl Purpose {
    /// The HL7 v3 PurposeOfUse code of this purpose: written once here, and
    /// documented (with the reason for each choice) in docs/policy.md.
    pub fn purpose_of_use(self) -> PurposeOfUse {
        let (code, display) = match self {
            Purpose::CaseManagement => ("CAREMGT", "care management"),
            Purpose::Healthcare => ("TREAT", "treatment"),
            Purpose::Judicial => ("HLEGAL", "legal"),
            Purpose::Placement => ("COC", "coordination of care"),
            Purpose::Emergency => ("BTG", "break the glass"),
            Purpose::Statistics => ("HRESCH", "healthcare research"),
            Purpose::Audit => ("HCOMPL", "health compliance"),
            Purpose::Sync => ("RECORDMGT", "records management"),
        };
        PurposeOfUse {
            system: ACT_REASON_SYSTEM,
            code,
            display,
        }
    }

    /// The purpose whose PurposeOfUse code is `code`, if any.
    pub fn from_purpose_of_use(code: &str) -> Option<Purpose> {
        Purpose::ALL
            .iter()
            .copied()
            .find(|p| p.purpose_of_use().code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself() {
        for c in DataClass::ALL {
            assert_eq!(c.as_str().parse::<DataClass>(), Ok(*c));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
        for p in Purpose::ALL {
            assert_eq!(p.as_str().parse::<Purpose>(), Ok(*p));
        }
        for k in AgencyKind::ALL {
            assert_eq!(k.as_str().parse::<AgencyKind>(), Ok(*k));
        }
        for b in BasisKind::ALL {
            assert_eq!(b.as_str().parse::<BasisKind>(), Ok(*b));
        }
    }

    #[test]
    fn every_purpose_has_its_own_purpose_of_use_code() {
        let codes: std::collections::BTreeSet<_> = Purpose::ALL
            .iter()
            .map(|p| p.purpose_of_use().code)
            .collect();
        assert_eq!(codes.len(), Purpose::ALL.len());
        for p in Purpose::ALL {
            assert_eq!(
                Purpose::from_purpose_of_use(p.purpose_of_use().code),
                Some(*p)
            );
        }
        assert_eq!(Purpose::Healthcare.purpose_of_use().code, "TREAT");
        assert_eq!(Purpose::Emergency.purpose_of_use().code, "BTG");
        assert_eq!(Purpose::Statistics.purpose_of_use().code, "HRESCH");
    }

    #[test]
    fn judges_and_clerks_exist_only_at_the_juvenile_court() {
        for role in [Role::Judge, Role::CourtClerk] {
            assert_eq!(role.agency_kinds(), &[AgencyKind::JuvenileCourt]);
        }
        assert!(Role::Mediator.exists_at(AgencyKind::School));
        assert!(!Role::CaseManager.exists_at(AgencyKind::Hospital));
    }

    #[test]
    fn an_unknown_word_is_named_in_the_error() {
        let err = "CHEF".parse::<Role>().err().map(|e| e.to_string());
        assert!(
            err.is_some_and(|e| e.contains("unknown role `CHEF`") && e.contains("CASE_MANAGER"))
        );
    }
}
