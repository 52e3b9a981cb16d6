//! Properties of the decision that must hold for every agreement, every set of
//! consents, mandates and break-glass grants, and every request.
//!
//! Agreements here are generated with `Policy::new` (not validated), so the
//! properties also hold for agreements the loader would refuse.

use std::collections::BTreeSet;

use policy::{
    AgencyKind, Agreement, BasisKind, BreakGlassFact, ConsentFact, DataClass, Decision, Duty,
    Facts, MandateFact, Policy, Purpose, Relationship, Requester, Role, Rule, decide, diff,
    explain, grants, links_granting,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

const AGENCIES: [&str; 3] = ["a1", "a2", "a3"];
const OPERATORS: [&str; 2] = ["o1", "o2"];
const AT: i64 = 1_000_000;

// Few words of each kind, so that rules, requests and facts often meet; the
// classes and purposes with special treatment are all among them.
const KINDS: &[AgencyKind] = &[
    AgencyKind::SocialService,
    AgencyKind::Hospital,
    AgencyKind::AntiViolenceCentre,
];
const ROLES: &[Role] = &[
    Role::CaseManager,
    Role::SocialWorker,
    Role::HealthProfessional,
];
const PURPOSES: &[Purpose] = &[
    Purpose::CaseManagement,
    Purpose::Emergency,
    Purpose::Statistics,
];
const CLASSES: &[DataClass] = &[
    DataClass::Health,
    DataClass::Contact,
    DataClass::SecretLocation,
    DataClass::Identity,
];

// ---------------------------------------------------------------------------
// Generators. Small vocabularies, so that rules, consents and grants often meet.

fn set_of<T: Clone + Ord + std::fmt::Debug + 'static>(
    all: &'static [T],
    max: usize,
) -> impl Strategy<Value = BTreeSet<T>> {
    subsequence(all.to_vec(), 0..=max.min(all.len())).prop_map(|v| v.into_iter().collect())
}

fn non_empty<T: Clone + Ord + std::fmt::Debug + 'static>(
    all: &'static [T],
    max: usize,
) -> impl Strategy<Value = BTreeSet<T>> {
    subsequence(all.to_vec(), 1..=max.min(all.len())).prop_map(|v| v.into_iter().collect())
}

fn agency_ids() -> impl Strategy<Value = BTreeSet<String>> {
    subsequence(AGENCIES.to_vec(), 1..=2).prop_map(|v| v.into_iter().map(String::from).collect())
}

fn relationships() -> impl Strategy<Value = BTreeSet<Relationship>> {
    prop_oneof![
        1 => Just([Relationship::Any].into()),
        4 => non_empty(Relationship::ALL, 2),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::weighted(0.4, non_empty(KINDS, 2)),
        proptest::option::weighted(0.2, agency_ids()),
        proptest::option::weighted(0.3, non_empty(ROLES, 2)),
        non_empty(PURPOSES, 3),
        non_empty(CLASSES, 4),
        relationships(),
        non_empty(BasisKind::ALL, 4),
        any::<bool>(),
    )
        .prop_map(
            |(agency_kinds, agencies, roles, purposes, classes, relationships, bases, opens)| {
                Rule {
                    id: String::new(),
                    description: "generated".into(),
                    agency_kinds,
                    agencies,
                    roles,
                    purposes,
                    classes,
                    relationships,
                    bases,
                    break_glass_opens_secret_location: opens,
                }
            },
        )
}

fn duty() -> impl Strategy<Value = Duty> {
    (
        non_empty(KINDS, 3),
        proptest::option::weighted(0.3, non_empty(ROLES, 3)),
        non_empty(PURPOSES, 3),
        non_empty(CLASSES, 4),
        relationships(),
    )
        .prop_map(
            |(agency_kinds, roles, purposes, classes, relationships)| Duty {
                id: String::new(),
                description: "generated".into(),
                agency_kinds,
                roles,
                purposes,
                classes,
                relationships,
            },
        )
}

fn agreement() -> impl Strategy<Value = Policy> {
    (
        proptest::collection::vec(rule(), 0..6),
        proptest::collection::vec(duty(), 0..3),
    )
        .prop_map(|(mut rules, mut duties)| {
            for (i, r) in rules.iter_mut().enumerate() {
                r.id = format!("r{i}");
            }
            for (i, d) in duties.iter_mut().enumerate() {
                d.id = format!("d{i}");
            }
            Policy::new(
                Agreement {
                    name: "generated".into(),
                    version: "1".into(),
                },
                Vec::new(),
                duties,
                rules,
            )
        })
}

fn requester() -> impl Strategy<Value = Requester> {
    (
        select(AGENCIES.to_vec()),
        select(KINDS.to_vec()),
        select(OPERATORS.to_vec()),
        select(ROLES.to_vec()),
        select(PURPOSES.to_vec()),
    )
        .prop_map(|(agency, agency_kind, operator, role, purpose)| Requester {
            agency: agency.into(),
            agency_kind,
            operator: operator.into(),
            role,
            purpose,
        })
}

fn instant() -> impl Strategy<Value = i64> {
    (AT - 20)..(AT + 20)
}

fn consent() -> impl Strategy<Value = ConsentFact> {
    (
        non_empty(CLASSES, 4),
        set_of(&AGENCIES, 2),
        set_of(KINDS, 2),
        non_empty(PURPOSES, 3),
        instant(),
        proptest::option::of(instant()),
        proptest::option::weighted(0.3, instant()),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(
                classes,
                agencies,
                kinds,
                purposes,
                valid_from,
                valid_until,
                withdrawn_at,
                protected,
            )| {
                ConsentFact {
                    id: String::new(),
                    classes,
                    recipient_agencies: agencies.into_iter().map(String::from).collect(),
                    recipient_kinds: kinds,
                    purposes,
                    valid_from: valid_from - 10,
                    valid_until: valid_until.map(|u| u + 10),
                    withdrawn_at,
                    given_by_protected_from: protected,
                }
            },
        )
}

fn facts() -> impl Strategy<Value = Facts> {
    (
        set_of(Relationship::ALL, 3),
        proptest::collection::vec(consent(), 0..4),
        proptest::collection::vec(select(AGENCIES.to_vec()), 0..3),
        proptest::collection::vec(
            (
                select(AGENCIES.to_vec()),
                select(OPERATORS.to_vec()),
                instant(),
            ),
            0..3,
        ),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(relationships, mut consents, mandated, grants, protected)| {
                for (i, c) in consents.iter_mut().enumerate() {
                    c.id = format!("c{i}");
                }
                Facts {
                    relationships,
                    at: AT,
                    consents,
                    mandates: mandated
                        .into_iter()
                        .enumerate()
                        .map(|(i, agency)| MandateFact {
                            order_id: format!("m{i}"),
                            agency: agency.into(),
                        })
                        .collect(),
                    break_glass: grants
                        .into_iter()
                        .enumerate()
                        .map(|(i, (agency, operator, expires_at))| BreakGlassFact {
                            id: format!("g{i}"),
                            agency: agency.into(),
                            operator: operator.into(),
                            expires_at,
                        })
                        .collect(),
                    only_via_protected_from: protected,
                }
            },
        )
}

fn class() -> impl Strategy<Value = DataClass> {
    select(CLASSES.to_vec())
}

// ---------------------------------------------------------------------------
// An independent reading of DESIGN.md section 3, to check `decide` against.

fn active_grant<'a>(req: &Requester, f: &'a Facts) -> Option<&'a BreakGlassFact> {
    f.break_glass.iter().find(|g| {
        req.purpose == Purpose::Emergency
            && g.agency == req.agency
            && g.operator == req.operator
            && f.at < g.expires_at
    })
}

fn holds(needed: &BTreeSet<Relationship>, req: &Requester, f: &Facts) -> bool {
    needed.iter().any(|r| match r {
        Relationship::Any => !f.relationships.is_empty() || active_grant(req, f).is_some(),
        r => f.relationships.contains(r),
    })
}

fn rule_matches(rule: &Rule, req: &Requester, f: &Facts, class: DataClass) -> bool {
    let for_agency = match (&rule.agency_kinds, &rule.agencies) {
        (None, None) => true,
        (k, a) => {
            k.as_ref().is_some_and(|k| k.contains(&req.agency_kind))
                || a.as_ref().is_some_and(|a| a.contains(&req.agency))
        }
    };
    for_agency
        && rule.roles.as_ref().is_none_or(|r| r.contains(&req.role))
        && rule.purposes.contains(&req.purpose)
        && rule.classes.contains(&class)
        && holds(&rule.relationships, req, f)
}

fn consent_holds(c: &ConsentFact, req: &Requester, f: &Facts, class: DataClass) -> bool {
    c.valid_from <= f.at
        && c.valid_until.is_none_or(|u| f.at < u)
        && c.withdrawn_at.is_none_or(|w| f.at < w)
        && !c.given_by_protected_from
        && c.classes.contains(&class)
        && (c.recipient_agencies.contains(&req.agency)
            || c.recipient_kinds.contains(&req.agency_kind))
        && c.purposes.contains(&req.purpose)
}

fn duty_holds(d: &Duty, req: &Requester, f: &Facts, class: DataClass) -> bool {
    d.agency_kinds.contains(&req.agency_kind)
        && d.roles.as_ref().is_none_or(|r| r.contains(&req.role))
        && d.purposes.contains(&req.purpose)
        && d.classes.contains(&class)
        && holds(&d.relationships, req, f)
}

/// The ids through which a basis of this kind holds for this rule.
fn basis_ids(
    p: &Policy,
    rule: &Rule,
    kind: BasisKind,
    req: &Requester,
    f: &Facts,
    class: DataClass,
) -> Vec<String> {
    match kind {
        BasisKind::Consent => f
            .consents
            .iter()
            .filter(|c| consent_holds(c, req, f, class))
            .map(|c| c.id.clone())
            .collect(),
        BasisKind::CourtOrder => f
            .mandates
            .iter()
            .filter(|m| m.agency == req.agency)
            .map(|m| m.order_id.clone())
            .collect(),
        BasisKind::Duty => p
            .duties
            .iter()
            .filter(|d| duty_holds(d, req, f, class))
            .map(|d| d.id.clone())
            .collect(),
        BasisKind::BreakGlass => active_grant(req, f)
            .filter(|_| {
                class != DataClass::SecretLocation || rule.break_glass_opens_secret_location
            })
            .map(|g| vec![g.id.clone()])
            .unwrap_or_default(),
    }
}

fn oracle_discloses(p: &Policy, req: &Requester, f: &Facts, class: DataClass) -> bool {
    if f.only_via_protected_from && matches!(class, DataClass::Contact | DataClass::SecretLocation)
    {
        return false;
    }
    p.rules.iter().any(|r| {
        rule_matches(r, req, f, class)
            && r.bases
                .iter()
                .any(|b| !basis_ids(p, r, *b, req, f, class).is_empty())
    })
}

// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn an_empty_agreement_discloses_nothing(
        mut p in agreement(), req in requester(), f in facts(), class in class(),
    ) {
        p.rules.clear();
        prop_assert!(!decide(&p, &req, &f, class).is_disclosed());
        prop_assert!(links_granting(&p, &req, class).is_empty());
    }

    #[test]
    fn a_class_is_disclosed_iff_a_rule_matches_and_one_of_its_bases_holds(
        p in agreement(), req in requester(), f in facts(), class in class(),
    ) {
        let d = decide(&p, &req, &f, class);
        prop_assert_eq!(d.class(), class);
        prop_assert_eq!(d.is_disclosed(), oracle_discloses(&p, &req, &f, class));
    }

    #[test]
    fn a_disclosure_names_a_rule_that_matches_and_a_basis_that_holds(
        p in agreement(), req in requester(), f in facts(), class in class(),
    ) {
        if let Decision::Disclose { rule, basis, .. } = decide(&p, &req, &f, class) {
            let r = p.rules.iter().find(|r| r.id == rule);
            prop_assert!(r.is_some());
            let r = r.unwrap();
            prop_assert!(rule_matches(r, &req, &f, class));
            prop_assert!(r.bases.contains(&basis.kind));
            prop_assert!(basis_ids(&p, r, basis.kind, &req, &f, class).contains(&basis.id));
        }
    }

    #[test]
    fn withdrawing_a_consent_never_adds_a_disclosure_and_removes_those_resting_only_on_it(
        p in agreement(), req in requester(), f in facts(), class in class(),
        pick in any::<prop::sample::Index>(), before in 0i64..30,
    ) {
        prop_assume!(!f.consents.is_empty());
        let i = pick.index(f.consents.len());
        let mut withdrawn = f.clone();
        withdrawn.consents[i].withdrawn_at = Some(f.at - before);
        let mut without = f.clone();
        without.consents.remove(i);

        let was = decide(&p, &req, &f, class);
        let now = decide(&p, &req, &withdrawn, class);
        prop_assert!(!now.is_disclosed() || was.is_disclosed());
        // A withdrawn consent is as good as none.
        prop_assert_eq!(now.is_disclosed(), decide(&p, &req, &without, class).is_disclosed());
        if let Decision::Disclose { basis, .. } = &now {
            prop_assert!(!(basis.kind == BasisKind::Consent && basis.id == f.consents[i].id));
        }
    }

    #[test]
    fn protection_never_discloses_contact_or_secret_location(
        p in agreement(), req in requester(), mut f in facts(),
    ) {
        f.only_via_protected_from = true;
        for class in [DataClass::Contact, DataClass::SecretLocation] {
            prop_assert!(!decide(&p, &req, &f, class).is_disclosed());
        }
    }

    #[test]
    fn break_glass_never_opens_a_secret_location_unless_the_rule_opts_in(
        mut p in agreement(), req in requester(), f in facts(), opt_in in any::<bool>(),
    ) {
        if !opt_in {
            for r in &mut p.rules {
                r.break_glass_opens_secret_location = false;
            }
        }
        if let Decision::Disclose { rule, basis, .. } = decide(&p, &req, &f, DataClass::SecretLocation)
            && basis.kind == BasisKind::BreakGlass
        {
            let r = p.rules.iter().find(|r| r.id == rule);
            prop_assert!(r.is_some_and(|r| r.break_glass_opens_secret_location));
        }
        // With only break-glass to rest on (no consent, mandate or duty), nothing
        // that does not opt in opens a secret location.
        let mut only_grants = f.clone();
        only_grants.consents.clear();
        only_grants.mandates.clear();
        let mut no_duties = p.clone();
        no_duties.duties.clear();
        if !opt_in {
            prop_assert!(!decide(&no_duties, &req, &only_grants, DataClass::SecretLocation).is_disclosed());
        }
    }

    #[test]
    fn decide_is_deterministic_and_explain_agrees_with_it(
        p in agreement(), req in requester(), f in facts(), class in class(),
    ) {
        let d = decide(&p, &req, &f, class);
        prop_assert_eq!(&d, &decide(&p.clone(), &req.clone(), &f.clone(), class));
        let e = explain(&p, &req, &f, class);
        prop_assert_eq!(&e.decision, &d);
        prop_assert_eq!(e.rules.len(), p.rules.len());
        prop_assert_eq!(e.rules.iter().filter(|r| r.decided).count(), usize::from(d.is_disclosed()));
        for (trace, rule) in e.rules.iter().zip(&p.rules) {
            prop_assert_eq!(trace.matches(), rule_matches(rule, &req, &f, class));
        }
    }

    #[test]
    fn links_granting_agrees_with_decide(
        p in agreement(), req in requester(), f in facts(), class in class(),
    ) {
        let links = links_granting(&p, &req, class);
        if let Decision::Disclose { rule, .. } = decide(&p, &req, &f, class) {
            let r = p.rules.iter().find(|r| r.id == rule).unwrap();
            prop_assert!(r.relationships.is_subset(&links));
            prop_assert!(holds(&links, &req, &f));
        }
        if links.is_empty() {
            prop_assert!(!decide(&p, &req, &f, class).is_disclosed());
        }
    }

    #[test]
    fn every_disclosure_is_among_the_agreements_grants_and_diff_lists_them_all(
        p in agreement(), req in requester(), f in facts(), class in class(),
    ) {
        prop_assert!(diff(&p, &p).is_empty());
        let mut empty = p.clone();
        empty.rules.clear();
        let added = diff(&empty, &p);
        prop_assert_eq!(added.len(), grants(&p).len());
        prop_assert_eq!(diff(&p, &empty).len(), added.len());
        // Whatever is disclosed is covered by some grant tuple of the agreement
        // (for the requester's kind or agency, role, purpose, class and basis).
        if let Decision::Disclose { rule, basis, .. } = decide(&p, &req, &f, class)
            && req.role.exists_at(req.agency_kind)
        {
            let covered = grants(&p).iter().any(|(g, (rules, _))| {
                rules.contains(&rule)
                    && g.purpose == req.purpose
                    && g.class == class
                    && g.basis == basis.kind
                    && g.role.is_none_or(|r| r == req.role)
                    && match &g.recipient {
                        policy::Recipient::AnyAgency => true,
                        policy::Recipient::Kind(k) => *k == req.agency_kind,
                        policy::Recipient::Agency(a) => *a == req.agency,
                    }
            });
            prop_assert!(covered);
        }
    }
}
