//! Rete's access decisions, as a pure function.
//!
//! This crate owns the vocabulary of the network agreement (agency kinds, roles,
//! purposes, data classes, relationships to a case) and the one decision point,
//! [`decide`]: `(policy, requester, facts, data class) -> Decision`. Both the API and
//! the connectors call it, so a field is disclosed by the same rule whichever way it
//! leaves the hub.
//!
//! It must never do I/O: no database, no HTTP, no clock, no async. Everything a
//! decision depends on arrives as an argument, so decisions can be tested for all
//! inputs and explained after the fact.
//!
//! Deny by default: a class that no rule grants is withheld.

mod vocabulary;

use std::collections::BTreeSet;
use std::fmt;

pub use vocabulary::{AgencyKind, DataClass, ParseError, Purpose, Relationship, Role};

/// Who asks, and why: taken from the verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requester {
    pub agency: String,
    pub agency_kind: AgencyKind,
    pub operator: String,
    pub role: Role,
    pub purpose: Purpose,
}

/// What is true of one record for this requester, gathered by the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The requester's agency's relationships to the case (or cases) the record
    /// belongs to. Empty means "no link at all".
    pub relationships: BTreeSet<Relationship>,
}

impl Facts {
    pub fn with(relationships: impl IntoIterator<Item = Relationship>) -> Self {
        Facts {
            relationships: relationships.into_iter().collect(),
        }
    }
}

/// Why a disclosure is lawful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LegalBasis {
    /// The requester's agency works on the case (team member or lead agency) under
    /// the network agreement: the interim basis until consent, orders, legal duties
    /// and break-glass are modelled.
    CaseTeam,
    /// Administrative data needed to coordinate with an agency linked to the case.
    Coordination,
}

impl LegalBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::CaseTeam => "CASE_TEAM",
            LegalBasis::Coordination => "COORDINATION",
        }
    }
}

/// One grant of the agreement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// `None`: any agency kind.
    pub agency_kinds: Option<BTreeSet<AgencyKind>>,
    /// `None`: any role.
    pub roles: Option<BTreeSet<Role>>,
    pub purposes: BTreeSet<Purpose>,
    pub classes: BTreeSet<DataClass>,
    /// The requester must hold at least one of these relationships;
    /// [`Relationship::Any`] means "any relationship at all" (but not none).
    pub relationships: BTreeSet<Relationship>,
    pub basis: LegalBasis,
}

impl Rule {
    fn matches(&self, req: &Requester, facts: &Facts, class: DataClass) -> bool {
        self.classes.contains(&class)
            && self.purposes.contains(&req.purpose)
            && self
                .agency_kinds
                .as_ref()
                .is_none_or(|k| k.contains(&req.agency_kind))
            && self.roles.as_ref().is_none_or(|r| r.contains(&req.role))
            && self.relationship_holds(facts)
    }

    fn relationship_holds(&self, facts: &Facts) -> bool {
        if self.relationships.contains(&Relationship::Any) {
            return !facts.relationships.is_empty();
        }
        self.relationships
            .iter()
            .any(|r| facts.relationships.contains(r))
    }
}

/// A loaded agreement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Identifies the agreement a decision was taken under (logged with it).
    pub version: String,
    pub rules: Vec<Rule>,
}

impl Policy {
    /// The hub's built-in agreement until the network's policy file is loaded:
    /// the case team (its lead agency and team members) sees everything of the
    /// case for the purposes of working on it; agencies otherwise linked to the
    /// case (referrer, court of record, facility operator) see its administrative
    /// data only. Nobody else sees anything.
    pub fn interim() -> Policy {
        let working_purposes: BTreeSet<Purpose> = [
            Purpose::CaseManagement,
            Purpose::Healthcare,
            Purpose::Judicial,
            Purpose::Placement,
        ]
        .into();
        Policy {
            version: "interim-1".to_string(),
            rules: vec![
                Rule {
                    id: "case-team-sees-case".to_string(),
                    agency_kinds: None,
                    roles: None,
                    purposes: working_purposes.clone(),
                    classes: DataClass::ALL.iter().copied().collect(),
                    relationships: [Relationship::TeamMember, Relationship::Lead].into(),
                    basis: LegalBasis::CaseTeam,
                },
                Rule {
                    id: "linked-agency-sees-administrative".to_string(),
                    agency_kinds: None,
                    roles: None,
                    purposes: working_purposes,
                    classes: [DataClass::Administrative].into(),
                    relationships: [Relationship::Any].into(),
                    basis: LegalBasis::Coordination,
                },
            ],
        }
    }
}

/// The outcome for one (request, record, data class).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Disclose {
        class: DataClass,
        rule: String,
        basis: LegalBasis,
    },
    Withhold {
        class: DataClass,
        reason: DenyReason,
    },
}

impl Decision {
    pub fn is_disclosed(&self) -> bool {
        matches!(self, Decision::Disclose { .. })
    }

    pub fn class(&self) -> DataClass {
        match self {
            Decision::Disclose { class, .. } | Decision::Withhold { class, .. } => *class,
        }
    }
}

/// Why nothing applied. Short, safe to show to the requester: it names no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// The requester has no relationship at all with the record.
    NoRelationship,
    /// Related, but no rule of the agreement grants this class for this
    /// role and purpose.
    NoRuleGrants,
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DenyReason::NoRelationship => {
                "the requesting agency has no relationship with this record"
            }
            DenyReason::NoRuleGrants => {
                "no rule of the agreement grants this data class to this role and purpose"
            }
        })
    }
}

/// The one decision point. Pure: the same arguments always give the same answer.
pub fn decide(policy: &Policy, req: &Requester, facts: &Facts, class: DataClass) -> Decision {
    match policy
        .rules
        .iter()
        .find(|rule| rule.matches(req, facts, class))
    {
        Some(rule) => Decision::Disclose {
            class,
            rule: rule.id.clone(),
            basis: rule.basis,
        },
        None => Decision::Withhold {
            class,
            reason: if facts.relationships.is_empty() {
                DenyReason::NoRelationship
            } else {
                DenyReason::NoRuleGrants
            },
        },
    }
}

/// The relationships through which `req` could be granted `class` at all.
///
/// Searching, filtering or ordering by a field is restricted to records reached
/// through one of these, so that a filter can never be used as an oracle on a
/// class the caller may not see.
pub fn links_granting(
    policy: &Policy,
    req: &Requester,
    class: DataClass,
) -> BTreeSet<Relationship> {
    policy
        .rules
        .iter()
        .filter(|r| {
            r.classes.contains(&class)
                && r.purposes.contains(&req.purpose)
                && r.agency_kinds
                    .as_ref()
                    .is_none_or(|k| k.contains(&req.agency_kind))
                && r.roles.as_ref().is_none_or(|x| x.contains(&req.role))
        })
        .flat_map(|r| r.relationships.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn requester(purpose: Purpose) -> Requester {
        Requester {
            agency: "polo-nord".into(),
            agency_kind: AgencyKind::SocialService,
            operator: "op-1".into(),
            role: Role::CaseManager,
            purpose,
        }
    }

    #[test]
    fn team_member_sees_every_class_of_the_case() {
        let policy = Policy::interim();
        let facts = Facts::with([Relationship::TeamMember]);
        for class in DataClass::ALL {
            assert!(
                decide(&policy, &requester(Purpose::CaseManagement), &facts, *class).is_disclosed(),
                "{class:?}"
            );
        }
    }

    #[test]
    fn referrer_sees_only_administrative_data() {
        let policy = Policy::interim();
        let facts = Facts::with([Relationship::Referrer]);
        let req = requester(Purpose::CaseManagement);
        assert!(decide(&policy, &req, &facts, DataClass::Administrative).is_disclosed());
        assert_eq!(
            decide(&policy, &req, &facts, DataClass::Health),
            Decision::Withhold {
                class: DataClass::Health,
                reason: DenyReason::NoRuleGrants
            }
        );
    }

    #[test]
    fn statistics_purpose_sees_nothing_under_the_interim_agreement() {
        let policy = Policy::interim();
        let facts = Facts::with([Relationship::Lead]);
        for class in DataClass::ALL {
            assert!(
                !decide(&policy, &requester(Purpose::Statistics), &facts, *class).is_disclosed()
            );
        }
    }

    proptest! {
        #[test]
        fn links_granting_agrees_with_decide(
            class in proptest::sample::select(DataClass::ALL.to_vec()),
            purpose in proptest::sample::select(Purpose::ALL.to_vec()),
            rels in any_relationships(),
        ) {
            // If a decision discloses, the facts hold one of the granting links.
            let policy = Policy::interim();
            let req = requester(purpose);
            let links = links_granting(&policy, &req, class);
            let facts = Facts { relationships: rels.clone() };
            if decide(&policy, &req, &facts, class).is_disclosed() {
                prop_assert!(links.contains(&Relationship::Any) || rels.iter().any(|r| links.contains(r)));
            }
        }
    }

    fn any_relationships() -> impl Strategy<Value = BTreeSet<Relationship>> {
        proptest::collection::btree_set(proptest::sample::select(Relationship::ALL.to_vec()), 0..4)
    }

    proptest! {
        #[test]
        fn no_relationship_means_nothing_is_disclosed(
            class in proptest::sample::select(DataClass::ALL.to_vec()),
            purpose in proptest::sample::select(Purpose::ALL.to_vec()),
            role in proptest::sample::select(Role::ALL.to_vec()),
            kind in proptest::sample::select(AgencyKind::ALL.to_vec()),
        ) {
            let req = Requester { agency: "x".into(), agency_kind: kind, operator: "o".into(), role, purpose };
            let d = decide(&Policy::interim(), &req, &Facts::default(), class);
            prop_assert_eq!(d, Decision::Withhold { class, reason: DenyReason::NoRelationship });
        }

        #[test]
        fn an_empty_agreement_discloses_nothing(
            class in proptest::sample::select(DataClass::ALL.to_vec()),
            rels in any_relationships(),
        ) {
            let policy = Policy { version: "empty".into(), rules: vec![] };
            let facts = Facts { relationships: rels };
            prop_assert!(!decide(&policy, &requester(Purpose::CaseManagement), &facts, class).is_disclosed());
        }

        #[test]
        fn a_disclosure_names_a_rule_that_grants_that_class(
            class in proptest::sample::select(DataClass::ALL.to_vec()),
            purpose in proptest::sample::select(Purpose::ALL.to_vec()),
            rels in any_relationships(),
        ) {
            let policy = Policy::interim();
            let facts = Facts { relationships: rels };
            if let Decision::Disclose { rule, class: c, .. } = decide(&policy, &requester(purpose), &facts, class) {
                prop_assert_eq!(c, class);
                let granting = policy.rules.iter().find(|r| r.id == rule);
                prop_assert!(granting.is_some_and(|r| r.classes.contains(&class) && r.purposes.contains(&purpose)));
            }
        }
    }
}
