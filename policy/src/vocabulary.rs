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
    }

    #[test]
    fn an_unknown_word_is_named_in_the_error() {
        let err = "CHEF".parse::<Role>().err().map(|e| e.to_string());
        assert!(
            err.is_some_and(|e| e.contains("unknown role `CHEF`") && e.contains("CASE_MANAGER"))
        );
    }
}
