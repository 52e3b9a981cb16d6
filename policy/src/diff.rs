//! What-if before signing: every grant a new agreement adds or removes.
//!
//! Each agreement is expanded into grant tuples (recipient, role, purpose, data
//! class, relationship, legal basis), with the ids of the rules (and, for DUTY,
//! the duties) behind each; the diff is the difference of the two sets. A rule
//! rewritten without changing what it grants (split in two, words reordered,
//! renamed) gives no change.
//!
//! The expansion follows the decision's semantics: break-glass only for purpose
//! EMERGENCY and never for SECRET_LOCATION unless the rule opts in; DUTY only
//! where a duty of the same agreement covers the recipient's kind, the role, the
//! purpose, the class and the relationship; roles only at agency kinds where
//! they can exist. A grant that needs two relationships at once (the rule's
//! through one, its duty's through another) says so (`also_relationship`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::agreement::{Duty, Policy, Rule};
use crate::vocabulary::{AgencyKind, BasisKind, DataClass, Purpose, Relationship, Role};

/// Who a grant is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(
    tag = "recipient",
    content = "value",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum Recipient {
    AnyAgency,
    Kind(AgencyKind),
    Agency(String),
}

/// One grant: `recipient` operators with `role` (`None`: any role) may see
/// `class` for `purpose` through `relationship`, on `basis`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Grant {
    pub recipient: Recipient,
    pub role: Option<Role>,
    pub purpose: Purpose,
    pub class: DataClass,
    pub relationship: Relationship,
    /// For a DUTY grant whose duty holds through another relationship than the
    /// rule's: the requester must hold this one too.
    pub also_relationship: Option<Relationship>,
    pub basis: BasisKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Change {
    Added,
    Removed,
}

/// A grant that the new agreement adds or removes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrantChange {
    pub change: Change,
    pub grant: Grant,
    /// The rules granting it: of the new agreement for an added grant, of the old
    /// one for a removed grant.
    pub rules: Vec<String>,
    /// For a DUTY grant, the duties it rests on (same agreement as `rules`).
    pub duties: Vec<String>,
}

/// Every grant `new` adds to or removes from `old`, removals first, each list in
/// the order of the grants.
pub fn diff(old: &Policy, new: &Policy) -> Vec<GrantChange> {
    let before = grants(old);
    let after = grants(new);
    let mut out = Vec::new();
    for (grant, (rules, duties)) in &before {
        if !after.contains_key(grant) {
            out.push(GrantChange {
                change: Change::Removed,
                grant: grant.clone(),
                rules: rules.iter().cloned().collect(),
                duties: duties.iter().cloned().collect(),
            });
        }
    }
    for (grant, (rules, duties)) in &after {
        if !before.contains_key(grant) {
            out.push(GrantChange {
                change: Change::Added,
                grant: grant.clone(),
                rules: rules.iter().cloned().collect(),
                duties: duties.iter().cloned().collect(),
            });
        }
    }
    out
}

type Sources = (BTreeSet<String>, BTreeSet<String>);

/// Every grant of an agreement, with the rules and duties behind it.
pub fn grants(policy: &Policy) -> BTreeMap<Grant, Sources> {
    let mut out: BTreeMap<Grant, Sources> = BTreeMap::new();
    for rule in &policy.rules {
        for (recipient, role) in audience(policy, rule) {
            for purpose in &rule.purposes {
                for class in &rule.classes {
                    for relationship in &rule.relationships {
                        for basis in &rule.bases {
                            let base = Grant {
                                recipient: recipient.clone(),
                                role,
                                purpose: *purpose,
                                class: *class,
                                relationship: *relationship,
                                also_relationship: None,
                                basis: *basis,
                            };
                            if *basis == BasisKind::Duty {
                                for (grant, duty) in through_duties(policy, base) {
                                    let e = out.entry(grant).or_default();
                                    e.0.insert(rule.id.clone());
                                    e.1.insert(duty);
                                }
                            } else if basis_open(rule, &base) {
                                out.entry(base).or_default().0.insert(rule.id.clone());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn basis_open(rule: &Rule, g: &Grant) -> bool {
    match g.basis {
        BasisKind::BreakGlass => {
            g.purpose == Purpose::Emergency
                && (g.class != DataClass::SecretLocation || rule.break_glass_opens_secret_location)
        }
        _ => true,
    }
}

/// The kind of a recipient, when known.
fn kind_of(policy: &Policy, r: &Recipient) -> Option<AgencyKind> {
    match r {
        Recipient::AnyAgency => None,
        Recipient::Kind(k) => Some(*k),
        Recipient::Agency(id) => policy.signatory(id).map(|s| s.kind),
    }
}

fn role_can_exist(policy: &Policy, r: &Recipient, role: Option<Role>) -> bool {
    match (kind_of(policy, r), role) {
        (Some(k), Some(role)) => role.exists_at(k),
        _ => true,
    }
}

/// The (recipient, role) pairs a rule is for, with "every kind" and "every
/// role" written as any.
fn audience(policy: &Policy, rule: &Rule) -> Vec<(Recipient, Option<Role>)> {
    let every_kind = rule
        .agency_kinds
        .as_ref()
        .is_some_and(|k| k.len() == AgencyKind::ALL.len());
    let recipients: Vec<Recipient> =
        if every_kind || (rule.agency_kinds.is_none() && rule.agencies.is_none()) {
            vec![Recipient::AnyAgency]
        } else {
            let kinds = rule
                .agency_kinds
                .iter()
                .flatten()
                .map(|k| Recipient::Kind(*k));
            let ids = rule
                .agencies
                .iter()
                .flatten()
                .map(|a| Recipient::Agency(a.clone()));
            kinds.chain(ids).collect()
        };
    let roles: Vec<Option<Role>> = match &rule.roles {
        Some(r) if r.len() < Role::ALL.len() => r.iter().map(|r| Some(*r)).collect(),
        _ => vec![None],
    };
    recipients
        .iter()
        .flat_map(|rec| roles.iter().map(move |role| (rec.clone(), *role)))
        .filter(|(rec, role)| role_can_exist(policy, rec, *role))
        .collect()
}

/// A DUTY grant narrowed to each duty that covers it.
fn through_duties(policy: &Policy, g: Grant) -> Vec<(Grant, String)> {
    let mut out = Vec::new();
    for d in &policy.duties {
        if !d.purposes.contains(&g.purpose) || !d.classes.contains(&g.class) {
            continue;
        }
        for recipient in narrow_recipient(policy, &g.recipient, d) {
            for role in narrow_role(g.role, d) {
                if !role_can_exist(policy, &recipient, role) {
                    continue;
                }
                for (relationship, also_relationship) in narrow_relationship(g.relationship, d) {
                    out.push((
                        Grant {
                            recipient: recipient.clone(),
                            role,
                            relationship,
                            also_relationship,
                            ..g.clone()
                        },
                        d.id.clone(),
                    ));
                }
            }
        }
    }
    out
}

fn narrow_recipient(policy: &Policy, r: &Recipient, d: &Duty) -> Vec<Recipient> {
    match r {
        Recipient::AnyAgency if d.agency_kinds.len() == AgencyKind::ALL.len() => {
            vec![Recipient::AnyAgency]
        }
        Recipient::AnyAgency => d.agency_kinds.iter().map(|k| Recipient::Kind(*k)).collect(),
        other => match kind_of(policy, other) {
            Some(k) if !d.agency_kinds.contains(&k) => Vec::new(),
            _ => vec![other.clone()],
        },
    }
}

fn narrow_role(role: Option<Role>, d: &Duty) -> Vec<Option<Role>> {
    match (role, &d.roles) {
        (_, None) => vec![role],
        (None, Some(rs)) => rs.iter().map(|r| Some(*r)).collect(),
        (Some(r), Some(rs)) if rs.contains(&r) => vec![Some(r)],
        _ => Vec::new(),
    }
}

/// The relationships through which both the rule's and the duty's hold.
fn narrow_relationship(rel: Relationship, d: &Duty) -> Vec<(Relationship, Option<Relationship>)> {
    if d.relationships.contains(&Relationship::Any) || d.relationships.contains(&rel) {
        vec![(rel, None)]
    } else if rel == Relationship::Any {
        d.relationships.iter().map(|r| (*r, None)).collect()
    } else {
        d.relationships.iter().map(|r| (rel, Some(*r))).collect()
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::AnyAgency => f.write_str("any agency"),
            Recipient::Kind(k) => write!(f, "{k}"),
            Recipient::Agency(a) => write!(f, "agency {a}"),
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · ", self.recipient)?;
        match self.role {
            Some(r) => write!(f, "{r}")?,
            None => f.write_str("any role")?,
        }
        write!(
            f,
            " · {} · {} · through {}",
            self.purpose, self.class, self.relationship
        )?;
        if let Some(also) = self.also_relationship {
            write!(f, " and {also}")?;
        }
        write!(f, " · on {}", self.basis)
    }
}

impl fmt::Display for GrantChange {
    /// `+ HOSPITAL · HEALTH_PROFESSIONAL · HEALTHCARE · HEALTH · through REFERRER · on DUTY (rules: …; duties: …)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.change {
            Change::Added => '+',
            Change::Removed => '-',
        };
        write!(f, "{sign} {} (rules: {}", self.grant, self.rules.join(", "))?;
        if !self.duties.is_empty() {
            write!(f, "; duties: {}", self.duties.join(", "))?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r#"
[agreement]
name = "Diff tests"
version = "1"

[[duty]]
id = "care"
description = "Hospitals care for the people they refer."
agency_kinds = ["HOSPITAL"]
roles = ["HEALTH_PROFESSIONAL"]
purposes = ["HEALTHCARE"]
classes = ["IDENTITY", "HEALTH"]
relationships = ["REFERRER"]

[[rule]]
id = "hospital-referrer"
description = "The referring hospital sees identity and health."
agency_kinds = ["HOSPITAL"]
roles = ["HEALTH_PROFESSIONAL"]
relationships = ["REFERRER"]
purposes = ["HEALTHCARE"]
classes = ["IDENTITY", "HEALTH"]
bases = ["DUTY", "CONSENT"]
"#;

    fn load(text: &str) -> Policy {
        Policy::from_toml("t", text).unwrap()
    }

    #[test]
    fn an_unchanged_or_merely_rewritten_agreement_changes_no_grant() {
        let old = load(OLD);
        assert!(diff(&old, &old).is_empty());
        let renamed = load(
            &OLD.replace("id = \"hospital-referrer\"", "id = \"referral\"")
                .replace(
                    "[\"IDENTITY\", \"HEALTH\"]\nbases",
                    "[\"HEALTH\", \"IDENTITY\"]\nbases",
                ),
        );
        assert!(diff(&old, &renamed).is_empty());
        let split = load(&format!(
            "{}\n[[rule]]\nid = \"split\"\ndescription = \"d\"\nagency_kinds = [\"HOSPITAL\"]\n\
             roles = [\"HEALTH_PROFESSIONAL\"]\nrelationships = [\"REFERRER\"]\npurposes = [\"HEALTHCARE\"]\n\
             classes = [\"HEALTH\"]\nbases = [\"CONSENT\", \"DUTY\"]\n",
            OLD.replace(
                "classes = [\"IDENTITY\", \"HEALTH\"]\nbases",
                "classes = [\"IDENTITY\"]\nbases"
            )
        ));
        assert!(diff(&old, &split).is_empty());
    }

    #[test]
    fn a_new_class_adds_its_grants_with_the_rule_id() {
        let old = load(OLD);
        let new = load(&OLD.replace(
            "[\"IDENTITY\", \"HEALTH\"]\nbases",
            "[\"IDENTITY\", \"HEALTH\", \"SOCIAL\"]\nbases",
        ));
        let changes = diff(&old, &new);
        // SOCIAL on CONSENT only: the duty does not cover SOCIAL.
        assert_eq!(
            changes,
            vec![GrantChange {
                change: Change::Added,
                grant: Grant {
                    recipient: Recipient::Kind(AgencyKind::Hospital),
                    role: Some(Role::HealthProfessional),
                    purpose: Purpose::Healthcare,
                    class: DataClass::Social,
                    relationship: Relationship::Referrer,
                    also_relationship: None,
                    basis: BasisKind::Consent,
                },
                rules: vec!["hospital-referrer".into()],
                duties: vec![],
            }]
        );
        assert_eq!(
            changes[0].to_string(),
            "+ HOSPITAL · HEALTH_PROFESSIONAL · HEALTHCARE · SOCIAL · through REFERRER · on CONSENT (rules: hospital-referrer)"
        );
    }

    #[test]
    fn removing_a_duty_removes_the_grants_that_rested_on_it() {
        let old = load(OLD);
        let without_duty = OLD.replace("bases = [\"DUTY\", \"CONSENT\"]", "bases = [\"CONSENT\"]");
        let changes = diff(&old, &load(&without_duty));
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| c.change == Change::Removed
            && c.grant.basis == BasisKind::Duty
            && c.duties == vec!["care".to_string()]));
    }

    #[test]
    fn break_glass_grants_only_emergencies_and_no_secret_location() {
        let text = r#"
[agreement]
name = "t"
version = "1"

[[rule]]
id = "emergency"
description = "d"
relationships = ["ANY"]
purposes = ["EMERGENCY"]
classes = ["HEALTH", "SECRET_LOCATION"]
bases = ["BREAK_GLASS"]
"#;
        let g = grants(&load(text));
        let classes: Vec<DataClass> = g.keys().map(|k| k.class).collect();
        assert_eq!(classes, vec![DataClass::Health]);
        let opening = text.replace(
            "bases = [\"BREAK_GLASS\"]",
            "bases = [\"BREAK_GLASS\"]\nbreak_glass_opens_secret_location = true",
        );
        assert_eq!(grants(&load(&opening)).len(), 2);
    }

    #[test]
    fn roles_expand_only_where_they_can_exist() {
        let text = r#"
[agreement]
name = "t"
version = "1"

[[rule]]
id = "r"
description = "d"
agency_kinds = ["HOSPITAL", "JUVENILE_COURT"]
roles = ["JUDGE", "HEALTH_PROFESSIONAL"]
relationships = ["ANY"]
purposes = ["JUDICIAL"]
classes = ["ADMINISTRATIVE"]
bases = ["COURT_ORDER"]
"#;
        let pairs: Vec<(Recipient, Option<Role>)> = grants(&load(text))
            .keys()
            .map(|g| (g.recipient.clone(), g.role))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (
                    Recipient::Kind(AgencyKind::JuvenileCourt),
                    Some(Role::Judge)
                ),
                (
                    Recipient::Kind(AgencyKind::Hospital),
                    Some(Role::HealthProfessional)
                ),
            ]
        );
    }

    #[test]
    fn a_duty_through_another_relationship_needs_both() {
        let text = OLD.replace(
            "relationships = [\"REFERRER\"]\n\n[[rule]]",
            "relationships = [\"TEAM_MEMBER\"]\n\n[[rule]]",
        );
        let g = grants(&load(&text));
        let duty: Vec<&Grant> = g.keys().filter(|g| g.basis == BasisKind::Duty).collect();
        assert_eq!(duty.len(), 2);
        assert!(duty.iter().all(|g| g.relationship == Relationship::Referrer
            && g.also_relationship == Some(Relationship::TeamMember)));
        assert!(
            duty[0]
                .to_string()
                .contains("through REFERRER and TEAM_MEMBER · on DUTY")
        );
    }
}
