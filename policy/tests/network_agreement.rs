//! The demo network's agreement (policies/network.toml) behaves as the protocol
//! says: the five clauses of issue 4, through `decide`, for every requester the
//! demo network can produce.

use std::collections::BTreeSet;

use policy::{
    AgencyKind, BasisKind, BreakGlassFact, ConsentFact, DataClass, Decision, DenyReason, Facts,
    LegalBasis, MandateFact, Policy, Purpose, Relationship, Requester, Role, decide, diff, explain,
};

const NOW: i64 = 1_770_000_000;

fn network() -> Policy {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/network.toml");
    let text = std::fs::read_to_string(path).expect("policies/network.toml is readable");
    match Policy::from_toml("policies/network.toml", &text) {
        Ok(p) => p,
        Err(e) => panic!("the demo agreement is invalid:\n{e}"),
    }
}

fn requester(agency: &str, role: Role, purpose: Purpose) -> Requester {
    let kind = match agency {
        "polo-nord" | "polo-sud" => AgencyKind::SocialService,
        "ospedale-regina" => AgencyKind::Hospital,
        "consultorio-centro" => AgencyKind::Consultorio,
        "tm-torino" => AgencyKind::JuvenileCourt,
        "comunita-aurora" => AgencyKind::ReceptionCommunity,
        "cav-iris" => AgencyKind::AntiViolenceCentre,
        "coop-ponte" => AgencyKind::Cooperative,
        other => panic!("not a demo agency: {other}"),
    };
    Requester {
        agency: agency.into(),
        agency_kind: kind,
        operator: format!("{agency}-operator"),
        role,
        purpose,
    }
}

fn facts(rels: impl IntoIterator<Item = Relationship>) -> Facts {
    Facts {
        at: NOW,
        ..Facts::with(rels)
    }
}

/// A consent covering every class, every purpose and every agency of the demo.
fn consent_to_everything(p: &Policy) -> ConsentFact {
    ConsentFact {
        id: "consent-all".into(),
        classes: DataClass::ALL.iter().copied().collect(),
        recipient_agencies: p.agencies.iter().map(|a| a.id.clone()).collect(),
        recipient_kinds: AgencyKind::ALL.iter().copied().collect(),
        purposes: Purpose::ALL.iter().copied().collect(),
        valid_from: NOW - 1,
        valid_until: None,
        withdrawn_at: None,
        given_by_protected_from: false,
    }
}

/// Every legal basis the requester could have: consent, a court mandate and an
/// active break-glass grant.
fn every_basis(p: &Policy, req: &Requester, rels: BTreeSet<Relationship>) -> Facts {
    Facts {
        relationships: rels,
        at: NOW,
        consents: vec![consent_to_everything(p)],
        mandates: vec![MandateFact {
            order_id: "order-1".into(),
            agency: req.agency.clone(),
        }],
        break_glass: vec![BreakGlassFact {
            id: "grant-1".into(),
            agency: req.agency.clone(),
            operator: req.operator.clone(),
            expires_at: NOW + 3_600,
        }],
        only_via_protected_from: false,
    }
}

fn relationship_sets() -> Vec<BTreeSet<Relationship>> {
    let all = Relationship::ALL;
    (0..1u32 << all.len())
        .map(|mask| {
            all.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| *r)
                .collect()
        })
        .collect()
}

/// Every requester the demo network can produce: each agency, each role that can
/// exist there, each purpose.
fn every_requester(p: &Policy) -> Vec<Requester> {
    let mut out = Vec::new();
    for a in &p.agencies {
        for role in Role::ALL.iter().filter(|r| r.exists_at(a.kind)) {
            for purpose in Purpose::ALL {
                out.push(requester(&a.id, *role, *purpose));
            }
        }
    }
    out
}

#[test]
fn the_demo_agreement_loads_and_is_stable() {
    let p = network();
    assert_eq!(p.agencies.len(), 8);
    for a in &p.agencies {
        assert_eq!(
            requester(&a.id, Role::Mediator, Purpose::Sync).agency_kind,
            a.kind
        );
    }
    assert!(p.rules.len() >= 7);
    assert_eq!(p.version, network().version);
    assert_eq!(p.version.len(), 64);
}

#[test]
fn the_referring_hospital_sees_identity_and_health_not_judicial_or_social_data() {
    let p = network();
    let req = requester(
        "ospedale-regina",
        Role::HealthProfessional,
        Purpose::Healthcare,
    );
    let f = facts([Relationship::Referrer]);
    for class in [DataClass::Identity, DataClass::Health] {
        assert_eq!(
            decide(&p, &req, &f, class),
            Decision::Disclose {
                class,
                rule: "hospital-referrer".into(),
                basis: LegalBasis::new(BasisKind::Duty, "hospital-duty-of-care"),
            }
        );
    }
    // Not judicial or social data, for any purpose, even with everyone's consent.
    for purpose in Purpose::ALL {
        let req = requester("ospedale-regina", Role::HealthProfessional, *purpose);
        let mut f = every_basis(&p, &req, [Relationship::Referrer].into());
        f.mandates.clear();
        f.break_glass.clear();
        for class in [DataClass::Judicial, DataClass::Social] {
            assert!(
                !decide(&p, &req, &f, class).is_disclosed(),
                "{purpose} {class}"
            );
        }
    }
    // A hospital that did not refer sees nothing of the subject.
    assert_eq!(
        decide(&p, &req, &facts([]), DataClass::Health),
        Decision::Withhold {
            class: DataClass::Health,
            reason: DenyReason::NoRelationship
        }
    );
}

#[test]
fn the_juvenile_court_sees_judicial_and_social_data_of_its_cases() {
    let p = network();
    for role in [Role::Judge, Role::CourtClerk] {
        let req = requester("tm-torino", role, Purpose::Judicial);
        let f = facts([Relationship::CourtOfRecord]);
        for class in [DataClass::Judicial, DataClass::Social] {
            assert_eq!(
                decide(&p, &req, &f, class),
                Decision::Disclose {
                    class,
                    rule: "court-of-record".into(),
                    basis: LegalBasis::new(BasisKind::Duty, "juvenile-court-jurisdiction"),
                }
            );
        }
        assert!(!decide(&p, &req, &f, DataClass::Health).is_disclosed());
        // Not on cases where it is not the court of record.
        for class in [DataClass::Judicial, DataClass::Social] {
            assert!(!decide(&p, &req, &facts([]), class).is_disclosed());
        }
    }
}

#[test]
fn a_reception_community_sees_its_guests_never_their_health_or_judicial_data() {
    let p = network();
    let req = requester("comunita-aurora", Role::Educator, Purpose::Placement);
    let f = facts([Relationship::FacilityOperator]);
    for class in [
        DataClass::Administrative,
        DataClass::Identity,
        DataClass::Contact,
        DataClass::Social,
    ] {
        assert!(decide(&p, &req, &f, class).is_disclosed(), "{class}");
    }
    // Never health or judicial data, whatever the role, purpose, consent or
    // court order (break-glass aside: an emergency is the agreement's one
    // audited exception, see docs/policy.md).
    for role in Role::ALL
        .iter()
        .filter(|r| r.exists_at(AgencyKind::ReceptionCommunity))
    {
        for purpose in Purpose::ALL {
            let req = requester("comunita-aurora", *role, *purpose);
            let mut f = every_basis(&p, &req, [Relationship::FacilityOperator].into());
            f.break_glass.clear();
            for class in [
                DataClass::Health,
                DataClass::Judicial,
                DataClass::SecretLocation,
            ] {
                assert!(
                    !decide(&p, &req, &f, class).is_disclosed(),
                    "{role} {purpose} {class}"
                );
            }
        }
    }
}

#[test]
fn a_shelter_address_is_seen_only_by_the_centres_staff_and_the_case_manager() {
    let p = network();
    let cav = requester("cav-iris", Role::SocialWorker, Purpose::Placement);
    assert_eq!(
        decide(
            &p,
            &cav,
            &facts([Relationship::FacilityOperator]),
            DataClass::SecretLocation
        ),
        Decision::Disclose {
            class: DataClass::SecretLocation,
            rule: "shelter-address-centre-staff".into(),
            basis: LegalBasis::new(BasisKind::Duty, "shelter-protection"),
        }
    );
    let manager = requester("polo-nord", Role::CaseManager, Purpose::CaseManagement);
    assert!(
        decide(
            &p,
            &manager,
            &facts([Relationship::Lead]),
            DataClass::SecretLocation
        )
        .is_disclosed()
    );
    // Exhaustively: every requester, every combination of links, every basis at
    // once (consent to everything, a court mandate, an active break-glass grant).
    let mut disclosed = 0;
    for req in every_requester(&p) {
        for rels in relationship_sets() {
            let f = every_basis(&p, &req, rels.clone());
            if decide(&p, &req, &f, DataClass::SecretLocation).is_disclosed() {
                disclosed += 1;
                let centre_staff = req.agency_kind == AgencyKind::AntiViolenceCentre
                    && rels.contains(&Relationship::FacilityOperator);
                let case_manager =
                    req.role == Role::CaseManager && rels.contains(&Relationship::Lead);
                assert!(centre_staff || case_manager, "{req:?} {rels:?}");
            }
        }
    }
    assert!(disclosed > 0);
    // The social worker of the lead service, a team member, the shelter's centre
    // as a mere team member, and break-glass do not.
    let worker = requester("polo-nord", Role::SocialWorker, Purpose::CaseManagement);
    assert!(
        !decide(
            &p,
            &worker,
            &facts([Relationship::Lead]),
            DataClass::SecretLocation
        )
        .is_disclosed()
    );
    let team = requester("polo-sud", Role::CaseManager, Purpose::CaseManagement);
    assert!(
        !decide(
            &p,
            &team,
            &facts([Relationship::TeamMember]),
            DataClass::SecretLocation
        )
        .is_disclosed()
    );
    let cav_team = requester("cav-iris", Role::SocialWorker, Purpose::CaseManagement);
    assert!(
        !decide(
            &p,
            &cav_team,
            &facts([Relationship::TeamMember]),
            DataClass::SecretLocation
        )
        .is_disclosed()
    );
    let er = requester(
        "ospedale-regina",
        Role::HealthProfessional,
        Purpose::Emergency,
    );
    let f = every_basis(&p, &er, BTreeSet::new());
    assert_eq!(
        decide(&p, &er, &f, DataClass::SecretLocation),
        Decision::Withhold {
            class: DataClass::SecretLocation,
            reason: DenyReason::NoRuleGrants
        }
    );
    assert!(decide(&p, &er, &f, DataClass::Health).is_disclosed());
}

#[test]
fn the_purpose_statistics_never_sees_identity_contact_or_secret_location() {
    let p = network();
    for req in every_requester(&p)
        .into_iter()
        .filter(|r| r.purpose == Purpose::Statistics)
    {
        for rels in relationship_sets() {
            let f = every_basis(&p, &req, rels);
            for class in DataClass::NEVER_FOR_STATISTICS {
                assert!(
                    !decide(&p, &req, &f, *class).is_disclosed(),
                    "{req:?} {class}"
                );
            }
        }
    }
    let analyst = requester("polo-nord", Role::Analyst, Purpose::Statistics);
    assert!(
        decide(
            &p,
            &analyst,
            &facts([Relationship::Lead]),
            DataClass::Administrative
        )
        .is_disclosed()
    );
}

#[test]
fn the_social_services_child_protection_duty_needs_no_consent() {
    let p = network();
    let req = requester("polo-nord", Role::SocialWorker, Purpose::CaseManagement);
    for class in [DataClass::Health, DataClass::Social, DataClass::Violence] {
        assert_eq!(
            decide(&p, &req, &facts([Relationship::TeamMember]), class),
            Decision::Disclose {
                class,
                rule: "social-service-case-team".into(),
                basis: LegalBasis::new(BasisKind::Duty, "child-protection"),
            }
        );
    }
}

#[test]
fn a_mediator_of_a_cooperative_sees_the_family_only_with_consent() {
    let p = network();
    let req = requester("coop-ponte", Role::Mediator, Purpose::CaseManagement);
    let f = facts([Relationship::TeamMember]);
    assert_eq!(
        decide(&p, &req, &f, DataClass::Identity),
        Decision::Withhold {
            class: DataClass::Identity,
            reason: DenyReason::NoLegalBasis
        }
    );
    let with_consent = Facts {
        consents: vec![consent_to_everything(&p)],
        ..f.clone()
    };
    assert!(decide(&p, &req, &with_consent, DataClass::Identity).is_disclosed());
    // Withdrawn: the very next request is refused.
    let mut withdrawn = with_consent.clone();
    withdrawn.consents[0].withdrawn_at = Some(NOW);
    assert!(!decide(&p, &req, &withdrawn, DataClass::Identity).is_disclosed());
    assert!(
        explain(&p, &req, &withdrawn, DataClass::Identity)
            .text()
            .contains("consent consent-all was withdrawn")
    );
}

#[test]
fn protection_from_a_person_keeps_the_shelter_secret_from_the_fathers_social_service() {
    let p = network();
    let manager = requester("polo-sud", Role::CaseManager, Purpose::CaseManagement);
    let f = Facts {
        only_via_protected_from: true,
        ..every_basis(&p, &manager, [Relationship::Lead].into())
    };
    for class in [DataClass::SecretLocation, DataClass::Contact] {
        assert_eq!(
            decide(&p, &manager, &f, class),
            Decision::Withhold {
                class,
                reason: DenyReason::ProtectedSubject
            }
        );
    }
}

#[test]
fn the_diff_from_the_interim_agreement_lists_the_shelter_clause() {
    let changes = diff(&Policy::interim(), &network());
    assert!(
        changes
            .iter()
            .any(|c| c.grant.class == DataClass::SecretLocation
                && c.rules == vec!["shelter-address-centre-staff".to_string()])
    );
    assert!(changes.iter().all(|c| !c.rules.is_empty()));
}
