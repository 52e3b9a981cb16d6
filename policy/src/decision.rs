//! The one decision point: `(policy, requester, facts, data class) -> Decision`.
//!
//! A class is disclosed iff some rule of the agreement matches the request
//! (agency or its kind, role, purpose, class, a relationship the requester holds)
//! AND one of that rule's legal bases holds for the subject (a court order, a
//! legal duty of the agreement, a consent in force, or an active break-glass
//! grant). Protection from a person overrides both. [`decide`] and
//! [`crate::explain`] run the same code ([`evaluate`]), so an explanation can
//! never disagree with the decision it explains.
//!
//! Everything arrives as an argument, the time included (`Facts::at`).

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::agreement::{Duty, Policy, Rule};
use crate::explain::{BasisFailure, BasisTrace, Miss, RuleTrace};
use crate::vocabulary::{AgencyKind, BasisKind, DataClass, Purpose, Relationship, Role};

/// Who asks, and why: taken from the verified token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requester {
    pub agency: String,
    pub agency_kind: AgencyKind,
    pub operator: String,
    pub role: Role,
    pub purpose: Purpose,
}

/// What is true of one record for this requester at the time of the request,
/// gathered by the caller (the hub reads it from the database).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// The requester's agency's relationships to the case (or cases) the record
    /// belongs to. Empty means "no link at all".
    pub relationships: BTreeSet<Relationship>,
    /// The time of the request, in Unix seconds: consents, grants and their
    /// expiry are judged at this instant.
    pub at: i64,
    /// The consents recorded for the record's subject (in force or not: the
    /// decision checks validity, withdrawal and coverage itself).
    pub consents: Vec<ConsentFact>,
    /// Court-order mandates on the record's case.
    pub mandates: Vec<MandateFact>,
    /// Break-glass grants on the record's case (active or not, any operator).
    pub break_glass: Vec<BreakGlassFact>,
    /// The requester's only link to this subject runs through a person the
    /// subject is protected from (for example the social service that follows
    /// the father's own case). CONTACT and SECRET_LOCATION are then withheld
    /// whatever else holds.
    pub only_via_protected_from: bool,
}

impl Facts {
    /// Facts holding these relationships and nothing else.
    pub fn with(relationships: impl IntoIterator<Item = Relationship>) -> Self {
        Facts {
            relationships: relationships.into_iter().collect(),
            ..Facts::default()
        }
    }

    /// The break-glass grant of this requester (agency and operator) in force at
    /// `at`, if any. It counts only for requests made with purpose EMERGENCY.
    pub fn active_break_glass(&self, req: &Requester) -> Option<&BreakGlassFact> {
        if req.purpose != Purpose::Emergency {
            return None;
        }
        self.break_glass.iter().find(|g| {
            g.agency == req.agency && g.operator == req.operator && self.at < g.expires_at
        })
    }

    /// Does the requester have any link at all: a relationship, or an active
    /// break-glass grant (what `ANY` in a rule means)?
    pub fn is_linked(&self, req: &Requester) -> bool {
        !self.relationships.is_empty() || self.active_break_glass(req).is_some()
    }

    /// Does the requester hold one of `needed` (with `ANY`: any link)?
    pub fn holds_one_of(&self, req: &Requester, needed: &BTreeSet<Relationship>) -> bool {
        if needed.contains(&Relationship::Any) && self.is_linked(req) {
            return true;
        }
        needed.iter().any(|r| self.relationships.contains(r))
    }
}

/// A consent recorded for the subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsentFact {
    pub id: String,
    pub classes: BTreeSet<DataClass>,
    /// Recipients: these agencies, and every agency of these kinds. Both empty:
    /// nobody (a consent names its recipients).
    pub recipient_agencies: BTreeSet<String>,
    pub recipient_kinds: BTreeSet<AgencyKind>,
    pub purposes: BTreeSet<Purpose>,
    /// In force from `valid_from` (inclusive) until `valid_until` (exclusive),
    /// Unix seconds.
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    /// Withdrawn from this instant on (a withdrawal at or before the request
    /// counts).
    pub withdrawn_at: Option<i64>,
    /// Given by a person the subject is protected from: it never counts.
    pub given_by_protected_from: bool,
}

impl ConsentFact {
    /// Is the consent in force at `at` (started, not expired, not withdrawn)?
    pub fn in_force(&self, at: i64) -> bool {
        self.valid_from <= at
            && self.valid_until.is_none_or(|u| at < u)
            && self.withdrawn_at.is_none_or(|w| at < w)
    }
}

/// A court order on the case that mandates an agency (a mandate is a legal
/// basis for the mandated agency).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MandateFact {
    pub order_id: String,
    /// The mandated agency's id.
    pub agency: String,
}

/// A break-glass grant on the case: one operator of one agency, until
/// `expires_at` (exclusive, Unix seconds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BreakGlassFact {
    pub id: String,
    pub agency: String,
    pub operator: String,
    pub expires_at: i64,
}

/// Why a disclosure is lawful: the kind of basis and the id of what it rests on
/// (the consent, the court order, the duty of the agreement, the break-glass
/// grant).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LegalBasis {
    pub kind: BasisKind,
    pub id: String,
}

impl LegalBasis {
    pub fn new(kind: BasisKind, id: impl Into<String>) -> LegalBasis {
        LegalBasis {
            kind,
            id: id.into(),
        }
    }
}

impl fmt::Display for LegalBasis {
    /// `KIND:id`, for the access log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// The outcome for one (request, record, data class).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    Disclose {
        class: DataClass,
        /// The id of the rule that granted it.
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

/// Why a class is withheld. Short and safe to show to the requester: it names
/// no value, no person and no other agency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DenyReason {
    /// The requester has no relationship at all with the record.
    NoRelationship,
    /// Related, but no rule of the agreement grants this class to this
    /// agency, role, purpose and relationship.
    NoRuleGrants,
    /// A rule grants it, but no legal basis (court order, legal duty, consent,
    /// break-glass) holds for this subject now.
    NoLegalBasis,
    /// Break-glass was the only basis, and it never opens a secret location
    /// unless the agreement says so.
    BreakGlassExcludesSecretLocation,
    /// The requester's only link to the subject runs through a person the
    /// subject is protected from.
    ProtectedSubject,
}

impl DenyReason {
    /// A stable code for logs and error extensions.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::NoRelationship => "NO_RELATIONSHIP",
            DenyReason::NoRuleGrants => "NO_RULE_GRANTS",
            DenyReason::NoLegalBasis => "NO_LEGAL_BASIS",
            DenyReason::BreakGlassExcludesSecretLocation => "BREAK_GLASS_EXCLUDES_SECRET_LOCATION",
            DenyReason::ProtectedSubject => "PROTECTED_SUBJECT",
        }
    }
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
            DenyReason::NoLegalBasis => {
                "no legal basis (court order, legal duty, consent or break-glass) holds for this subject"
            }
            DenyReason::BreakGlassExcludesSecretLocation => {
                "break-glass does not open secret locations"
            }
            DenyReason::ProtectedSubject => {
                "withheld to protect the subject: the request's only link to them runs through a person they are protected from"
            }
        })
    }
}

/// The one decision point. Pure: the same arguments always give the same answer.
///
/// When several (rule, basis) pairs hold, the decision names the strongest basis
/// (court order, duty, consent, break-glass, in that order) and, among equals,
/// the first rule of the agreement.
pub fn decide(policy: &Policy, req: &Requester, facts: &Facts, class: DataClass) -> Decision {
    evaluate(policy, req, facts, class, None)
}

/// The relationships through which `req` could be granted `class` at all: those
/// of every rule for the requester's agency, role and purpose that covers the
/// class and has a basis that could ever hold for it ([`Relationship::Any`]
/// included, meaning any link).
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
                && r.covers_agency(&req.agency, req.agency_kind)
                && r.roles.as_ref().is_none_or(|x| x.contains(&req.role))
                && r.bases
                    .iter()
                    .any(|b| basis_possible(policy, r, *b, req, class))
        })
        .flat_map(|r| r.relationships.iter().copied())
        .collect()
}

/// Could this basis ever hold for (requester, class) under this rule, whatever
/// the facts?
fn basis_possible(
    policy: &Policy,
    rule: &Rule,
    basis: BasisKind,
    req: &Requester,
    class: DataClass,
) -> bool {
    match basis {
        BasisKind::Consent | BasisKind::CourtOrder => true,
        BasisKind::Duty => policy.duties.iter().any(|d| {
            d.agency_kinds.contains(&req.agency_kind)
                && d.roles.as_ref().is_none_or(|r| r.contains(&req.role))
                && d.purposes.contains(&req.purpose)
                && d.classes.contains(&class)
        }),
        BasisKind::BreakGlass => {
            req.purpose == Purpose::Emergency
                && (class != DataClass::SecretLocation || rule.break_glass_opens_secret_location)
        }
    }
}

/// The decision, and with `trace` the reasons of every rule (for
/// [`crate::explain`]). Without a trace it stops as soon as the answer is known.
pub(crate) fn evaluate(
    policy: &Policy,
    req: &Requester,
    facts: &Facts,
    class: DataClass,
    mut trace: Option<&mut Vec<RuleTrace>>,
) -> Decision {
    let protected =
        facts.only_via_protected_from && DataClass::PROTECTED_FROM_LINKS.contains(&class);
    if protected && trace.is_none() {
        return Decision::Withhold {
            class,
            reason: DenyReason::ProtectedSubject,
        };
    }
    let tracing = trace.is_some();
    let mut best: Option<(usize, LegalBasis)> = None;
    let mut any_rule_matched = false;
    for (index, rule) in policy.rules.iter().enumerate() {
        let mut misses = Vec::new();
        let matched = rule_matches(rule, req, facts, class, tracing.then_some(&mut misses));
        if !matched && !tracing {
            continue;
        }
        any_rule_matched |= matched;
        let mut held = None;
        let mut bases = Vec::new();
        for kind in &rule.bases {
            let mut failures = Vec::new();
            let holds = basis_holds(
                policy,
                rule,
                *kind,
                req,
                facts,
                class,
                tracing.then_some(&mut failures),
            );
            if held.is_none() {
                held.clone_from(&holds);
            }
            if tracing {
                bases.push(BasisTrace {
                    kind: *kind,
                    holds,
                    failures,
                });
            } else if held.is_some() {
                break;
            }
        }
        if matched
            && let Some(basis) = held
            && best.as_ref().is_none_or(|(_, b)| basis.kind < b.kind)
        {
            best = Some((index, basis));
        }
        if let Some(t) = trace.as_deref_mut() {
            t.push(RuleTrace {
                rule: rule.id.clone(),
                description: rule.description.clone(),
                misses,
                bases,
                decided: false,
            });
        }
        if !tracing
            && best
                .as_ref()
                .is_some_and(|(_, b)| b.kind == BasisKind::CourtOrder)
        {
            break; // nothing later can be preferred
        }
    }

    if protected {
        return Decision::Withhold {
            class,
            reason: DenyReason::ProtectedSubject,
        };
    }
    match best {
        Some((index, basis)) => {
            if let Some(t) = trace
                && let Some(r) = t.get_mut(index)
            {
                r.decided = true;
            }
            Decision::Disclose {
                class,
                rule: policy.rules[index].id.clone(),
                basis,
            }
        }
        None => Decision::Withhold {
            class,
            reason: if !any_rule_matched {
                if facts.is_linked(req) {
                    DenyReason::NoRuleGrants
                } else {
                    DenyReason::NoRelationship
                }
            } else if break_glass_blocked_by_secret_location(policy, req, facts, class) {
                DenyReason::BreakGlassExcludesSecretLocation
            } else {
                DenyReason::NoLegalBasis
            },
        },
    }
}

/// Would break-glass have opened the class under a matching rule, but for the
/// secret-location restriction?
fn break_glass_blocked_by_secret_location(
    policy: &Policy,
    req: &Requester,
    facts: &Facts,
    class: DataClass,
) -> bool {
    class == DataClass::SecretLocation
        && facts.active_break_glass(req).is_some()
        && policy.rules.iter().any(|r| {
            r.bases.contains(&BasisKind::BreakGlass)
                && !r.break_glass_opens_secret_location
                && rule_matches(r, req, facts, class, None)
        })
}

/// Does the rule match the request? With `misses`, every reason it does not.
fn rule_matches(
    rule: &Rule,
    req: &Requester,
    facts: &Facts,
    class: DataClass,
    misses: Option<&mut Vec<Miss>>,
) -> bool {
    let scope = Scope {
        agency_ok: rule.covers_agency(&req.agency, req.agency_kind),
        agency_miss: &|| Miss::Agency {
            agency: req.agency.clone(),
            kind: req.agency_kind,
            kinds: rule.agency_kinds.iter().flatten().copied().collect(),
            agencies: rule.agencies.iter().flatten().cloned().collect(),
        },
        roles: rule.roles.as_ref(),
        purposes: &rule.purposes,
        classes: &rule.classes,
        relationships: &rule.relationships,
    };
    scope.matches(req, facts, class, misses)
}

/// Does the duty apply to the request? With `misses`, every reason it does not.
fn duty_matches(
    duty: &Duty,
    req: &Requester,
    facts: &Facts,
    class: DataClass,
    misses: Option<&mut Vec<Miss>>,
) -> bool {
    let scope = Scope {
        agency_ok: duty.agency_kinds.contains(&req.agency_kind),
        agency_miss: &|| Miss::Agency {
            agency: req.agency.clone(),
            kind: req.agency_kind,
            kinds: duty.agency_kinds.iter().copied().collect(),
            agencies: Vec::new(),
        },
        roles: duty.roles.as_ref(),
        purposes: &duty.purposes,
        classes: &duty.classes,
        relationships: &duty.relationships,
    };
    scope.matches(req, facts, class, misses)
}

/// What rules and duties both constrain: who (agency, role), why (purpose),
/// what (class) and through which link.
struct Scope<'a> {
    agency_ok: bool,
    agency_miss: &'a dyn Fn() -> Miss,
    roles: Option<&'a BTreeSet<Role>>,
    purposes: &'a BTreeSet<Purpose>,
    classes: &'a BTreeSet<DataClass>,
    relationships: &'a BTreeSet<Relationship>,
}

impl Scope<'_> {
    fn matches(
        &self,
        req: &Requester,
        facts: &Facts,
        class: DataClass,
        misses: Option<&mut Vec<Miss>>,
    ) -> bool {
        let tracing = misses.is_some();
        let mut out = Vec::new();
        macro_rules! require {
            ($cond:expr, $miss:expr) => {
                if !$cond {
                    if !tracing {
                        return false;
                    }
                    out.push($miss);
                }
            };
        }
        require!(self.agency_ok, (self.agency_miss)());
        require!(
            self.roles.is_none_or(|r| r.contains(&req.role)),
            Miss::Role {
                role: req.role,
                roles: self.roles.into_iter().flatten().copied().collect(),
            }
        );
        require!(
            self.purposes.contains(&req.purpose),
            Miss::Purpose {
                purpose: req.purpose,
                purposes: self.purposes.iter().copied().collect(),
            }
        );
        require!(
            self.classes.contains(&class),
            Miss::Class {
                class,
                classes: self.classes.iter().copied().collect(),
            }
        );
        require!(
            facts.holds_one_of(req, self.relationships),
            Miss::Relationship {
                held: facts.relationships.iter().copied().collect(),
                needed: self.relationships.iter().copied().collect(),
            }
        );
        let ok = out.is_empty();
        if let Some(m) = misses {
            m.extend(out);
        }
        ok
    }
}

/// Does the consent cover this request now? With `failures`, every reason not.
fn consent_covers(
    c: &ConsentFact,
    req: &Requester,
    at: i64,
    class: DataClass,
    failures: Option<&mut Vec<BasisFailure>>,
) -> bool {
    let tracing = failures.is_some();
    let mut out = Vec::new();
    let consent = || c.id.clone();
    macro_rules! require {
        ($cond:expr, $failure:expr) => {
            if !$cond {
                if !tracing {
                    return false;
                }
                out.push($failure);
            }
        };
    }
    require!(
        !c.given_by_protected_from,
        BasisFailure::ConsentGivenByProtectedFrom { consent: consent() }
    );
    require!(
        c.withdrawn_at.is_none_or(|w| at < w),
        BasisFailure::ConsentWithdrawn {
            consent: consent(),
            withdrawn_at: c.withdrawn_at.unwrap_or_default(),
        }
    );
    require!(
        c.valid_from <= at,
        BasisFailure::ConsentNotYetValid {
            consent: consent(),
            valid_from: c.valid_from,
        }
    );
    require!(
        c.valid_until.is_none_or(|u| at < u),
        BasisFailure::ConsentExpired {
            consent: consent(),
            valid_until: c.valid_until.unwrap_or_default(),
        }
    );
    require!(
        c.classes.contains(&class),
        BasisFailure::ConsentClassNotCovered {
            consent: consent(),
            class,
        }
    );
    require!(
        c.recipient_agencies.contains(&req.agency) || c.recipient_kinds.contains(&req.agency_kind),
        BasisFailure::ConsentRecipientNotCovered {
            consent: consent(),
            agency: req.agency.clone(),
            kind: req.agency_kind,
        }
    );
    require!(
        c.purposes.contains(&req.purpose),
        BasisFailure::ConsentPurposeNotCovered {
            consent: consent(),
            purpose: req.purpose,
        }
    );
    let ok = out.is_empty();
    if let Some(f) = failures {
        f.extend(out);
    }
    ok
}

/// Does this kind of basis hold for a request the rule matches? With
/// `failures`, every reason it does not.
fn basis_holds(
    policy: &Policy,
    rule: &Rule,
    kind: BasisKind,
    req: &Requester,
    facts: &Facts,
    class: DataClass,
    failures: Option<&mut Vec<BasisFailure>>,
) -> Option<LegalBasis> {
    let mut sink = failures;
    let basis = |id: &str| Some(LegalBasis::new(kind, id));
    match kind {
        BasisKind::Consent => {
            for c in &facts.consents {
                if consent_covers(c, req, facts.at, class, sink.as_deref_mut()) {
                    return basis(&c.id);
                }
            }
            if facts.consents.is_empty()
                && let Some(f) = sink
            {
                f.push(BasisFailure::NoConsent);
            }
            None
        }
        BasisKind::CourtOrder => {
            if let Some(m) = facts.mandates.iter().find(|m| m.agency == req.agency) {
                return basis(&m.order_id);
            }
            if let Some(f) = sink {
                if facts.mandates.is_empty() {
                    f.push(BasisFailure::NoCourtOrder);
                }
                for m in &facts.mandates {
                    f.push(BasisFailure::MandatesAnotherAgency {
                        order: m.order_id.clone(),
                    });
                }
            }
            None
        }
        BasisKind::Duty => {
            for d in &policy.duties {
                let mut misses = Vec::new();
                let tracing = sink.is_some();
                if duty_matches(d, req, facts, class, tracing.then_some(&mut misses)) {
                    return basis(&d.id);
                }
                if let Some(f) = sink.as_deref_mut() {
                    f.push(BasisFailure::DutyDoesNotApply {
                        duty: d.id.clone(),
                        misses,
                    });
                }
            }
            if policy.duties.is_empty()
                && let Some(f) = sink
            {
                f.push(BasisFailure::NoDuty);
            }
            None
        }
        BasisKind::BreakGlass => {
            if req.purpose != Purpose::Emergency {
                if let Some(f) = sink {
                    f.push(BasisFailure::NotAnEmergency {
                        purpose: req.purpose,
                    });
                }
                return None;
            }
            if let Some(g) = facts.active_break_glass(req) {
                if class == DataClass::SecretLocation && !rule.break_glass_opens_secret_location {
                    if let Some(f) = sink {
                        f.push(BasisFailure::BreakGlassExcludesSecretLocation {
                            grant: g.id.clone(),
                        });
                    }
                    return None;
                }
                return basis(&g.id);
            }
            if let Some(f) = sink {
                if facts.break_glass.is_empty() {
                    f.push(BasisFailure::NoBreakGlassGrant);
                }
                for g in &facts.break_glass {
                    if g.agency != req.agency || g.operator != req.operator {
                        f.push(BasisFailure::BreakGlassGrantOfAnother {
                            grant: g.id.clone(),
                        });
                    } else {
                        f.push(BasisFailure::BreakGlassExpired {
                            grant: g.id.clone(),
                            expires_at: g.expires_at,
                        });
                    }
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small agreement exercising each basis.
    const AGREEMENT: &str = r#"
[agreement]
name = "Decision tests"
version = "1"

[[duty]]
id = "protection"
description = "The lead social service protects the subjects of its cases."
agency_kinds = ["SOCIAL_SERVICE"]
purposes = ["CASE_MANAGEMENT", "EMERGENCY"]
classes = ["SOCIAL", "CONTACT", "SECRET_LOCATION", "HEALTH"]
relationships = ["LEAD"]

[[rule]]
id = "team-with-consent"
description = "Team members see health data with consent."
relationships = ["TEAM_MEMBER"]
purposes = ["CASE_MANAGEMENT"]
classes = ["HEALTH"]
bases = ["CONSENT"]

[[rule]]
id = "lead"
description = "The lead agency sees the social side and where the subjects are."
relationships = ["LEAD"]
purposes = ["CASE_MANAGEMENT"]
classes = ["SOCIAL", "CONTACT", "SECRET_LOCATION"]
bases = ["CONSENT", "DUTY", "COURT_ORDER"]

[[rule]]
id = "mandated"
description = "An agency mandated by the court sees the judicial file."
relationships = ["ANY"]
purposes = ["CASE_MANAGEMENT"]
classes = ["JUDICIAL"]
bases = ["COURT_ORDER"]

[[rule]]
id = "emergency"
description = "Break-glass opens health data and (here) where the subjects are."
relationships = ["ANY"]
purposes = ["EMERGENCY"]
classes = ["HEALTH", "CONTACT", "SECRET_LOCATION"]
bases = ["BREAK_GLASS"]
"#;

    const NOW: i64 = 1_770_000_000;
    const HOUR: i64 = 3_600;

    fn agreement() -> Policy {
        Policy::from_toml("decision-tests.toml", AGREEMENT).unwrap()
    }

    fn requester(purpose: Purpose) -> Requester {
        Requester {
            agency: "polo-nord".into(),
            agency_kind: AgencyKind::SocialService,
            operator: "op-1".into(),
            role: Role::CaseManager,
            purpose,
        }
    }

    fn facts(rels: impl IntoIterator<Item = Relationship>) -> Facts {
        Facts {
            at: NOW,
            ..Facts::with(rels)
        }
    }

    fn health_consent() -> ConsentFact {
        ConsentFact {
            id: "consent-1".into(),
            classes: [DataClass::Health].into(),
            recipient_agencies: ["polo-nord".to_string()].into(),
            recipient_kinds: BTreeSet::new(),
            purposes: [Purpose::CaseManagement].into(),
            valid_from: NOW - HOUR,
            valid_until: Some(NOW + HOUR),
            withdrawn_at: None,
            given_by_protected_from: false,
        }
    }

    fn grant(expires_at: i64) -> BreakGlassFact {
        BreakGlassFact {
            id: "grant-1".into(),
            agency: "polo-nord".into(),
            operator: "op-1".into(),
            expires_at,
        }
    }

    fn withheld(class: DataClass, reason: DenyReason) -> Decision {
        Decision::Withhold { class, reason }
    }

    fn disclosed(class: DataClass, rule: &str, kind: BasisKind, id: &str) -> Decision {
        Decision::Disclose {
            class,
            rule: rule.into(),
            basis: LegalBasis::new(kind, id),
        }
    }

    #[test]
    fn the_interim_case_team_sees_every_class_of_the_case() {
        let policy = Policy::interim();
        for class in DataClass::ALL {
            let d = decide(
                &policy,
                &requester(Purpose::CaseManagement),
                &facts([Relationship::TeamMember]),
                *class,
            );
            assert_eq!(
                d,
                disclosed(*class, "case-team-sees-case", BasisKind::Duty, "case-team")
            );
        }
    }

    #[test]
    fn an_interim_referrer_sees_only_administrative_data() {
        let policy = Policy::interim();
        let f = facts([Relationship::Referrer]);
        let req = requester(Purpose::CaseManagement);
        assert!(decide(&policy, &req, &f, DataClass::Administrative).is_disclosed());
        assert_eq!(
            decide(&policy, &req, &f, DataClass::Health),
            withheld(DataClass::Health, DenyReason::NoRuleGrants)
        );
    }

    #[test]
    fn the_interim_statistics_purpose_sees_nothing() {
        let policy = Policy::interim();
        for class in DataClass::ALL {
            assert!(
                !decide(
                    &policy,
                    &requester(Purpose::Statistics),
                    &facts([Relationship::Lead]),
                    *class
                )
                .is_disclosed()
            );
        }
    }

    #[test]
    fn no_relationship_means_nothing_is_disclosed() {
        let d = decide(
            &agreement(),
            &requester(Purpose::CaseManagement),
            &facts([]),
            DataClass::Social,
        );
        assert_eq!(d, withheld(DataClass::Social, DenyReason::NoRelationship));
    }

    #[test]
    fn a_consent_in_force_is_a_basis() {
        let f = Facts {
            consents: vec![health_consent()],
            ..facts([Relationship::TeamMember])
        };
        assert_eq!(
            decide(
                &agreement(),
                &requester(Purpose::CaseManagement),
                &f,
                DataClass::Health
            ),
            disclosed(
                DataClass::Health,
                "team-with-consent",
                BasisKind::Consent,
                "consent-1"
            )
        );
    }

    #[test]
    fn a_consent_to_the_requesters_kind_of_agency_counts() {
        let consent = ConsentFact {
            recipient_agencies: BTreeSet::new(),
            recipient_kinds: [AgencyKind::SocialService].into(),
            ..health_consent()
        };
        let f = Facts {
            consents: vec![consent],
            ..facts([Relationship::TeamMember])
        };
        assert!(
            decide(
                &agreement(),
                &requester(Purpose::CaseManagement),
                &f,
                DataClass::Health
            )
            .is_disclosed()
        );
    }

    #[test]
    fn a_consent_withdrawn_expired_not_yet_valid_or_not_covering_does_not_count() {
        let broken = [
            ConsentFact {
                withdrawn_at: Some(NOW),
                ..health_consent()
            },
            ConsentFact {
                valid_until: Some(NOW),
                ..health_consent()
            },
            ConsentFact {
                valid_from: NOW + 1,
                ..health_consent()
            },
            ConsentFact {
                classes: [DataClass::Social].into(),
                ..health_consent()
            },
            ConsentFact {
                purposes: [Purpose::Healthcare].into(),
                ..health_consent()
            },
            ConsentFact {
                recipient_agencies: ["polo-sud".to_string()].into(),
                ..health_consent()
            },
            ConsentFact {
                given_by_protected_from: true,
                ..health_consent()
            },
        ];
        for consent in broken {
            let f = Facts {
                consents: vec![consent.clone()],
                ..facts([Relationship::TeamMember])
            };
            assert_eq!(
                decide(
                    &agreement(),
                    &requester(Purpose::CaseManagement),
                    &f,
                    DataClass::Health
                ),
                withheld(DataClass::Health, DenyReason::NoLegalBasis),
                "{consent:?}"
            );
        }
    }

    #[test]
    fn a_withdrawal_takes_effect_at_its_instant_not_before() {
        let consent = ConsentFact {
            withdrawn_at: Some(NOW + 1),
            ..health_consent()
        };
        let f = Facts {
            consents: vec![consent],
            ..facts([Relationship::TeamMember])
        };
        let req = requester(Purpose::CaseManagement);
        assert!(decide(&agreement(), &req, &f, DataClass::Health).is_disclosed());
        let later = Facts { at: NOW + 1, ..f };
        assert!(!decide(&agreement(), &req, &later, DataClass::Health).is_disclosed());
    }

    #[test]
    fn a_mandate_naming_the_requesters_agency_is_a_basis() {
        let mandate = MandateFact {
            order_id: "order-7".into(),
            agency: "polo-nord".into(),
        };
        let f = Facts {
            mandates: vec![mandate],
            ..facts([Relationship::Referrer])
        };
        assert_eq!(
            decide(
                &agreement(),
                &requester(Purpose::CaseManagement),
                &f,
                DataClass::Judicial
            ),
            disclosed(
                DataClass::Judicial,
                "mandated",
                BasisKind::CourtOrder,
                "order-7"
            )
        );
        let other = MandateFact {
            order_id: "order-7".into(),
            agency: "polo-sud".into(),
        };
        let f = Facts {
            mandates: vec![other],
            ..facts([Relationship::Referrer])
        };
        assert_eq!(
            decide(
                &agreement(),
                &requester(Purpose::CaseManagement),
                &f,
                DataClass::Judicial
            ),
            withheld(DataClass::Judicial, DenyReason::NoLegalBasis)
        );
    }

    #[test]
    fn a_duty_of_the_agreement_is_a_basis() {
        let d = decide(
            &agreement(),
            &requester(Purpose::CaseManagement),
            &facts([Relationship::Lead]),
            DataClass::Social,
        );
        assert_eq!(
            d,
            disclosed(DataClass::Social, "lead", BasisKind::Duty, "protection")
        );
    }

    #[test]
    fn the_strongest_basis_is_named() {
        let mandate = MandateFact {
            order_id: "order-7".into(),
            agency: "polo-nord".into(),
        };
        let consent = ConsentFact {
            classes: [DataClass::Social].into(),
            ..health_consent()
        };
        let f = Facts {
            mandates: vec![mandate],
            consents: vec![consent],
            ..facts([Relationship::Lead])
        };
        let d = decide(
            &agreement(),
            &requester(Purpose::CaseManagement),
            &f,
            DataClass::Social,
        );
        assert_eq!(
            d,
            disclosed(DataClass::Social, "lead", BasisKind::CourtOrder, "order-7")
        );
    }

    #[test]
    fn an_active_break_glass_grant_is_a_link_and_a_basis_in_an_emergency() {
        let f = Facts {
            break_glass: vec![grant(NOW + HOUR)],
            ..facts([])
        };
        let d = decide(
            &agreement(),
            &requester(Purpose::Emergency),
            &f,
            DataClass::Health,
        );
        assert_eq!(
            d,
            disclosed(
                DataClass::Health,
                "emergency",
                BasisKind::BreakGlass,
                "grant-1"
            )
        );
        // Not for another purpose, not once expired, not for another operator.
        let d = decide(
            &agreement(),
            &requester(Purpose::CaseManagement),
            &f,
            DataClass::Health,
        );
        assert_eq!(d, withheld(DataClass::Health, DenyReason::NoRelationship));
        let expired = Facts {
            break_glass: vec![grant(NOW)],
            ..facts([])
        };
        assert!(
            !decide(
                &agreement(),
                &requester(Purpose::Emergency),
                &expired,
                DataClass::Health
            )
            .is_disclosed()
        );
        let mut req = requester(Purpose::Emergency);
        req.operator = "op-2".into();
        assert!(!decide(&agreement(), &req, &f, DataClass::Health).is_disclosed());
    }

    #[test]
    fn break_glass_never_opens_a_secret_location_unless_the_rule_says_so() {
        let f = Facts {
            break_glass: vec![grant(NOW + HOUR)],
            ..facts([])
        };
        let req = requester(Purpose::Emergency);
        assert_eq!(
            decide(&agreement(), &req, &f, DataClass::SecretLocation),
            withheld(
                DataClass::SecretLocation,
                DenyReason::BreakGlassExcludesSecretLocation
            )
        );
        let opening = AGREEMENT.replace(
            "bases = [\"BREAK_GLASS\"]",
            "bases = [\"BREAK_GLASS\"]\nbreak_glass_opens_secret_location = true",
        );
        let policy = Policy::from_toml("t", &opening).unwrap();
        assert!(decide(&policy, &req, &f, DataClass::SecretLocation).is_disclosed());
    }

    #[test]
    fn protection_withholds_contact_and_location_whatever_else_holds() {
        let f = Facts {
            only_via_protected_from: true,
            ..facts([Relationship::Lead])
        };
        let req = requester(Purpose::CaseManagement);
        for class in [DataClass::Contact, DataClass::SecretLocation] {
            assert_eq!(
                decide(&agreement(), &req, &f, class),
                withheld(class, DenyReason::ProtectedSubject)
            );
        }
        assert!(decide(&agreement(), &req, &f, DataClass::Social).is_disclosed());
    }

    #[test]
    fn links_granting_lists_the_relationships_of_rules_that_could_grant() {
        let policy = agreement();
        let req = requester(Purpose::CaseManagement);
        assert_eq!(
            links_granting(&policy, &req, DataClass::Health),
            [Relationship::TeamMember].into()
        );
        assert_eq!(
            links_granting(&policy, &req, DataClass::Judicial),
            [Relationship::Any].into()
        );
        let emergency = requester(Purpose::Emergency);
        assert_eq!(
            links_granting(&policy, &emergency, DataClass::Health),
            [Relationship::Any].into()
        );
        assert_eq!(
            links_granting(&policy, &emergency, DataClass::SecretLocation),
            BTreeSet::new()
        );
    }

    #[test]
    fn a_legal_basis_prints_kind_and_id() {
        assert_eq!(
            LegalBasis::new(BasisKind::Consent, "c-1").to_string(),
            "CONSENT:c-1"
        );
        assert_eq!(DenyReason::ProtectedSubject.as_str(), "PROTECTED_SUBJECT");
    }
}
