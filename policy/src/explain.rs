//! Why a decision came out as it did, for privacy officers: the decision, and for
//! every rule of the agreement why it applied or each reason it did not, as data
//! (serialisable) and as text ([`Explanation`]'s `Display`).
//!
//! It runs the very code of [`crate::decide`], with tracing on, so it cannot
//! disagree with it. Unlike a decision's [`crate::DenyReason`], an explanation
//! names consents, orders, grants and agencies: it is for the people who audit
//! access, not for the requester.

use std::fmt;

use serde::Serialize;

use crate::agreement::Policy;
use crate::decision::{Decision, Facts, LegalBasis, Requester, evaluate};
use crate::vocabulary::{AgencyKind, BasisKind, DataClass, Purpose, Relationship, Role};

/// The decision for (requester, facts, class) and the reasons behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub decision: Decision,
    /// The version hash of the agreement the decision was taken under.
    pub policy_version: String,
    pub requester: Requester,
    pub class: DataClass,
    pub at: i64,
    /// The protection override withheld the class (the requester's only link
    /// runs through a person the subject is protected from).
    pub protected: bool,
    /// One entry per rule of the agreement, in its order.
    pub rules: Vec<RuleTrace>,
}

/// One rule, against one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleTrace {
    pub rule: String,
    pub description: String,
    /// Why the rule does not match the request; empty when it matches.
    pub misses: Vec<Miss>,
    /// Each legal basis the rule accepts, in order of preference, and whether it
    /// holds (checked even when the rule does not match, to show what would).
    pub bases: Vec<BasisTrace>,
    /// This rule decided the disclosure.
    pub decided: bool,
}

impl RuleTrace {
    /// The rule matches the request.
    pub fn matches(&self) -> bool {
        self.misses.is_empty()
    }

    /// The rule matches and one of its bases holds.
    pub fn applies(&self) -> bool {
        self.matches() && self.bases.iter().any(|b| b.holds.is_some())
    }
}

/// One legal basis of a rule, against one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BasisTrace {
    pub kind: BasisKind,
    /// What it rests on, when it holds.
    pub holds: Option<LegalBasis>,
    /// Why it does not hold; empty when it does.
    pub failures: Vec<BasisFailure>,
}

/// A reason a rule (or a duty) does not match a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "miss", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Miss {
    /// Not for this agency: it is for `kinds` and `agencies`.
    Agency {
        agency: String,
        kind: AgencyKind,
        kinds: Vec<AgencyKind>,
        agencies: Vec<String>,
    },
    Role {
        role: Role,
        roles: Vec<Role>,
    },
    Purpose {
        purpose: Purpose,
        purposes: Vec<Purpose>,
    },
    Class {
        class: DataClass,
        classes: Vec<DataClass>,
    },
    /// The requester holds none of `needed`.
    Relationship {
        held: Vec<Relationship>,
        needed: Vec<Relationship>,
    },
}

/// A reason a legal basis does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "failure", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BasisFailure {
    /// No consent is recorded for the subject.
    NoConsent,
    ConsentGivenByProtectedFrom {
        consent: String,
    },
    ConsentWithdrawn {
        consent: String,
        withdrawn_at: i64,
    },
    ConsentNotYetValid {
        consent: String,
        valid_from: i64,
    },
    ConsentExpired {
        consent: String,
        valid_until: i64,
    },
    ConsentClassNotCovered {
        consent: String,
        class: DataClass,
    },
    ConsentRecipientNotCovered {
        consent: String,
        agency: String,
        kind: AgencyKind,
    },
    ConsentPurposeNotCovered {
        consent: String,
        purpose: Purpose,
    },
    /// No court order on the case mandates anyone.
    NoCourtOrder,
    MandatesAnotherAgency {
        order: String,
    },
    /// The agreement recognises no legal duty.
    NoDuty,
    DutyDoesNotApply {
        duty: String,
        misses: Vec<Miss>,
    },
    NotAnEmergency {
        purpose: Purpose,
    },
    NoBreakGlassGrant,
    BreakGlassGrantOfAnother {
        grant: String,
    },
    BreakGlassExpired {
        grant: String,
        expires_at: i64,
    },
    BreakGlassExcludesSecretLocation {
        grant: String,
    },
}

/// The decision and its reasons. `explain(..).decision == decide(..)`, always.
pub fn explain(policy: &Policy, req: &Requester, facts: &Facts, class: DataClass) -> Explanation {
    let mut rules = Vec::with_capacity(policy.rules.len());
    let decision = evaluate(policy, req, facts, class, Some(&mut rules));
    Explanation {
        decision,
        policy_version: policy.version.clone(),
        requester: req.clone(),
        class,
        at: facts.at,
        protected: facts.only_via_protected_from
            && DataClass::PROTECTED_FROM_LINKS.contains(&class),
        rules,
    }
}

impl Explanation {
    /// The explanation as readable text (the same as `to_string()`).
    pub fn text(&self) -> String {
        self.to_string()
    }
}

fn words<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.requester;
        writeln!(
            f,
            "{} for {} ({}), operator {} as {}, purpose {} ({}), at {} under agreement {}",
            self.class,
            r.agency,
            r.agency_kind,
            r.operator,
            r.role,
            r.purpose,
            r.purpose.purpose_of_use().code,
            timestamp(self.at),
            self.policy_version,
        )?;
        match &self.decision {
            Decision::Disclose { rule, basis, .. } => writeln!(
                f,
                "DISCLOSED by rule \"{rule}\" on the basis of {} {}",
                basis.kind, basis.id
            )?,
            Decision::Withhold { reason, .. } => writeln!(f, "WITHHELD: {reason}")?,
        }
        if self.protected {
            writeln!(
                f,
                "  protection: the subject is protected from the person through whom the only link runs; {} is withheld whatever else holds",
                self.class
            )?;
        }
        if self.rules.is_empty() {
            writeln!(f, "  the agreement has no rules")?;
        }
        for rule in &self.rules {
            let verdict = if rule.decided {
                "decided"
            } else if rule.applies() {
                "applies"
            } else if rule.matches() {
                "matches, but no legal basis holds"
            } else {
                "does not apply"
            };
            let description = rule.description.split_whitespace().collect::<Vec<_>>();
            writeln!(
                f,
                "  rule \"{}\" {verdict}: {}",
                rule.rule,
                description.join(" ")
            )?;
            for miss in &rule.misses {
                writeln!(f, "    - {miss}")?;
            }
            // The bases of a rule that does not match are in the data; in the
            // text they would only bury the reasons that matter.
            if !rule.matches() {
                continue;
            }
            for basis in &rule.bases {
                match &basis.holds {
                    Some(b) => writeln!(f, "    {}: holds ({})", basis.kind, b.id)?,
                    None => {
                        writeln!(f, "    {}: does not hold", basis.kind)?;
                        write_failures(f, &basis.failures)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A basis's failures, with the duties meant for other purposes or classes
/// counted rather than listed.
fn write_failures(f: &mut fmt::Formatter<'_>, failures: &[BasisFailure]) -> fmt::Result {
    let mut elsewhere = 0;
    for failure in failures {
        if let BasisFailure::DutyDoesNotApply { misses, .. } = failure
            && misses
                .iter()
                .any(|m| matches!(m, Miss::Purpose { .. } | Miss::Class { .. }))
        {
            elsewhere += 1;
            continue;
        }
        writeln!(f, "      - {failure}")?;
    }
    match elsewhere {
        0 => Ok(()),
        1 => writeln!(f, "      - 1 other duty is for other purposes or classes"),
        n => writeln!(
            f,
            "      - {n} other duties are for other purposes or classes"
        ),
    }
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::Agency {
                agency,
                kind,
                kinds,
                agencies,
            } => {
                write!(f, "wrong agency: it is for ")?;
                match (kinds.is_empty(), agencies.is_empty()) {
                    (false, false) => write!(f, "{} and {}", words(kinds), words(agencies))?,
                    (false, true) => write!(f, "{}", words(kinds))?,
                    _ => write!(f, "{}", words(agencies))?,
                }
                write!(f, "; the requester is {agency} ({kind})")
            }
            Miss::Role { role, roles } => {
                write!(
                    f,
                    "wrong role: it is for {}; the requester is {role}",
                    words(roles)
                )
            }
            Miss::Purpose { purpose, purposes } => write!(
                f,
                "wrong purpose: it is for {}; the request is for {purpose}",
                words(purposes)
            ),
            Miss::Class { class, classes } => {
                write!(f, "wrong class: it covers {}, not {class}", words(classes))
            }
            Miss::Relationship { held, needed } => write!(
                f,
                "no relationship: it needs {} (ANY: any link); the requester holds {}",
                words(needed),
                words(held)
            ),
        }
    }
}

impl fmt::Display for BasisFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BasisFailure::NoConsent => write!(f, "no consent is recorded for this subject"),
            BasisFailure::ConsentGivenByProtectedFrom { consent } => write!(
                f,
                "consent {consent} was given by a person the subject is protected from, so it does not count"
            ),
            BasisFailure::ConsentWithdrawn {
                consent,
                withdrawn_at,
            } => write!(
                f,
                "consent {consent} was withdrawn at {}",
                timestamp(*withdrawn_at)
            ),
            BasisFailure::ConsentNotYetValid {
                consent,
                valid_from,
            } => write!(
                f,
                "consent {consent} is valid only from {}",
                timestamp(*valid_from)
            ),
            BasisFailure::ConsentExpired {
                consent,
                valid_until,
            } => write!(
                f,
                "consent {consent} expired at {}",
                timestamp(*valid_until)
            ),
            BasisFailure::ConsentClassNotCovered { consent, class } => {
                write!(f, "consent {consent} does not cover {class}")
            }
            BasisFailure::ConsentRecipientNotCovered {
                consent,
                agency,
                kind,
            } => write!(
                f,
                "consent {consent} names neither {agency} nor {kind} as recipient"
            ),
            BasisFailure::ConsentPurposeNotCovered { consent, purpose } => {
                write!(f, "consent {consent} does not cover the purpose {purpose}")
            }
            BasisFailure::NoCourtOrder => {
                write!(f, "no court order on the case mandates any agency")
            }
            BasisFailure::MandatesAnotherAgency { order } => {
                write!(f, "court order {order} mandates another agency")
            }
            BasisFailure::NoDuty => write!(f, "the agreement recognises no legal duty"),
            BasisFailure::DutyDoesNotApply { duty, misses } => {
                let why: Vec<String> = misses.iter().map(|m| m.to_string()).collect();
                write!(f, "duty \"{duty}\" does not apply ({})", why.join("; "))
            }
            BasisFailure::NotAnEmergency { purpose } => write!(
                f,
                "break-glass holds only for purpose EMERGENCY; the request is for {purpose}"
            ),
            BasisFailure::NoBreakGlassGrant => write!(f, "no break-glass grant on the case"),
            BasisFailure::BreakGlassGrantOfAnother { grant } => {
                write!(f, "break-glass grant {grant} is another operator's")
            }
            BasisFailure::BreakGlassExpired { grant, expires_at } => {
                write!(
                    f,
                    "break-glass grant {grant} expired at {}",
                    timestamp(*expires_at)
                )
            }
            BasisFailure::BreakGlassExcludesSecretLocation { grant } => write!(
                f,
                "break-glass grant {grant} is active, but break-glass does not open SECRET_LOCATION under this rule"
            ),
        }
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp (proleptic Gregorian calendar).
pub fn timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{BreakGlassFact, ConsentFact, decide};
    use crate::vocabulary::Relationship;

    const AGREEMENT: &str = r#"
[agreement]
name = "Explain tests"
version = "1"

[[duty]]
id = "protection"
description = "The lead social service protects the subjects of its cases."
agency_kinds = ["SOCIAL_SERVICE"]
purposes = ["CASE_MANAGEMENT"]
classes = ["SOCIAL", "CONTACT"]
relationships = ["LEAD"]

[[rule]]
id = "hospital-referrer"
description = "The referring hospital sees health data."
agency_kinds = ["HOSPITAL"]
relationships = ["REFERRER"]
purposes = ["HEALTHCARE"]
classes = ["HEALTH"]

[[rule]]
id = "team-with-consent"
description = "Team members see health data with consent."
relationships = ["TEAM_MEMBER"]
purposes = ["CASE_MANAGEMENT"]
classes = ["HEALTH"]
bases = ["CONSENT"]

[[rule]]
id = "lead"
description = "The lead agency sees the social side."
relationships = ["LEAD"]
purposes = ["CASE_MANAGEMENT"]
classes = ["SOCIAL", "CONTACT"]
bases = ["DUTY"]
"#;

    const NOW: i64 = 1_770_000_000;

    fn requester() -> Requester {
        Requester {
            agency: "polo-nord".into(),
            agency_kind: AgencyKind::SocialService,
            operator: "op-1".into(),
            role: Role::SocialWorker,
            purpose: Purpose::CaseManagement,
        }
    }

    fn withdrawn_consent() -> ConsentFact {
        ConsentFact {
            id: "consent-9".into(),
            classes: [DataClass::Health].into(),
            recipient_kinds: [AgencyKind::SocialService].into(),
            purposes: [Purpose::CaseManagement].into(),
            valid_from: NOW - 100,
            withdrawn_at: Some(NOW - 10),
            ..ConsentFact::default()
        }
    }

    #[test]
    fn an_explanation_gives_the_decision_and_every_rules_reasons() {
        let policy = Policy::from_toml("t", AGREEMENT).unwrap();
        let facts = Facts {
            at: NOW,
            consents: vec![withdrawn_consent()],
            ..Facts::with([Relationship::TeamMember])
        };
        let e = explain(&policy, &requester(), &facts, DataClass::Health);
        assert_eq!(
            e.decision,
            decide(&policy, &requester(), &facts, DataClass::Health)
        );
        assert!(!e.decision.is_disclosed());
        assert_eq!(e.rules.len(), 3);

        let hospital = &e.rules[0];
        assert!(!hospital.matches());
        assert!(matches!(hospital.misses[0], Miss::Agency { .. }));
        assert!(
            hospital
                .misses
                .iter()
                .any(|m| matches!(m, Miss::Purpose { .. }))
        );
        assert!(
            hospital
                .misses
                .iter()
                .any(|m| matches!(m, Miss::Relationship { .. }))
        );

        let team = &e.rules[1];
        assert!(team.matches() && !team.applies());
        assert_eq!(
            team.bases[0].failures,
            vec![BasisFailure::ConsentWithdrawn {
                consent: "consent-9".into(),
                withdrawn_at: NOW - 10
            }]
        );

        let lead = &e.rules[2];
        assert_eq!(
            lead.misses,
            vec![
                Miss::Class {
                    class: DataClass::Health,
                    classes: vec![DataClass::Contact, DataClass::Social]
                },
                Miss::Relationship {
                    held: vec![Relationship::TeamMember],
                    needed: vec![Relationship::Lead]
                },
            ]
        );

        let text = e.text();
        assert!(text.contains("WITHHELD: no legal basis"), "{text}");
        assert!(
            text.contains("consent consent-9 was withdrawn at 2026-02-02T02:39:50Z"),
            "{text}"
        );
        assert!(
            text.contains(
                "wrong agency: it is for HOSPITAL; the requester is polo-nord (SOCIAL_SERVICE)"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "no relationship: it needs LEAD (ANY: any link); the requester holds TEAM_MEMBER"
            ),
            "{text}"
        );
        assert!(
            text.contains("rule \"team-with-consent\" matches, but no legal basis holds"),
            "{text}"
        );
        // The data keeps the bases of rules that do not match.
        assert!(matches!(
            &lead.bases[0].failures[..],
            [BasisFailure::DutyDoesNotApply { duty, .. }] if duty == "protection"
        ));
    }

    #[test]
    fn the_deciding_rule_is_marked() {
        let policy = Policy::from_toml("t", AGREEMENT).unwrap();
        let facts = Facts {
            at: NOW,
            ..Facts::with([Relationship::Lead])
        };
        let e = explain(&policy, &requester(), &facts, DataClass::Social);
        assert!(e.decision.is_disclosed());
        let decided: Vec<_> = e
            .rules
            .iter()
            .filter(|r| r.decided)
            .map(|r| r.rule.as_str())
            .collect();
        assert_eq!(decided, vec!["lead"]);
        assert!(
            e.text()
                .contains("DISCLOSED by rule \"lead\" on the basis of DUTY protection")
        );
    }

    #[test]
    fn protection_and_break_glass_are_explained() {
        let policy = Policy::from_toml("t", AGREEMENT).unwrap();
        let facts = Facts {
            at: NOW,
            only_via_protected_from: true,
            break_glass: vec![BreakGlassFact {
                id: "g".into(),
                agency: "polo-nord".into(),
                operator: "someone-else".into(),
                expires_at: NOW + 1,
            }],
            ..Facts::with([Relationship::Lead])
        };
        let e = explain(&policy, &requester(), &facts, DataClass::Contact);
        assert!(e.protected);
        assert_eq!(
            e.decision,
            decide(&policy, &requester(), &facts, DataClass::Contact)
        );
        assert!(e.text().contains("protection: the subject is protected"));
        // The lead rule would have applied but for the protection.
        assert!(e.rules[2].applies() && !e.rules[2].decided);
        // The hospital rule accepts every basis; break-glass fails for the purpose.
        let bg = e.rules[0]
            .bases
            .iter()
            .find(|b| b.kind == BasisKind::BreakGlass);
        assert_eq!(
            bg.map(|b| b.failures.clone()),
            Some(vec![BasisFailure::NotAnEmergency {
                purpose: Purpose::CaseManagement
            }])
        );
    }

    #[test]
    fn an_explanation_serialises_as_data() {
        let policy = Policy::from_toml("t", AGREEMENT).unwrap();
        let e = explain(
            &policy,
            &requester(),
            &Facts::with([Relationship::Lead]),
            DataClass::Social,
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["decision"]["outcome"], "DISCLOSE");
        assert_eq!(json["decision"]["basis"]["kind"], "DUTY");
        assert_eq!(json["rules"][0]["misses"][0]["miss"], "AGENCY");
    }

    #[test]
    fn timestamps_read_as_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(-1), "1969-12-31T23:59:59Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(1_770_000_000), "2026-02-02T02:40:00Z");
    }
}
