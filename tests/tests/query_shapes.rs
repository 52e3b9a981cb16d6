//! Generated query shapes through the hub, under the demo network's agreement.
//!
//! A small network is written straight into the database, with a marker value in
//! every field that carries a class we watch: `SECRET-LOC-F<n>` in facility `n`'s
//! address and city (SECRET_LOCATION), `HEALTH-P<n>` in person `n`'s health events
//! and `HEALTH-N<n>` in a HEALTH note of case `n` (HEALTH), `CONTACT-P<n>` and
//! `CONTACT-A<n>` in person `n`'s phone and address (CONTACT). The test keeps its
//! own model of that network ([`Net`]) and derives from it, independently of the
//! hub's loaders, the facts of each (agency, record); the oracle is
//! `policy::decide` over those facts.
//!
//! Properties, over generated query shapes (lists, connections with first/after,
//! filters and search, nesting case → subjects → person → cases → ..., placements
//! → facility / guests / case, aliases, inline and named fragments) and generated
//! requesters (agency, role, purpose), over real HTTP with real tokens:
//! 1. a marker appears anywhere in an answer only if the oracle grants its class
//!    to that requester for its record;
//! 2. a protected subject's contact and location never reach a requester whose
//!    only link to them runs through the person they are protected from (checked
//!    on its own, from the model's links, not through `decide`);
//! 3. after a consent is recorded and after it is withdrawn, the very next answer
//!    shows exactly what the oracle says (and it does change).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{NaiveDate, Utc};
use entities::enums::{
    CaseStatus, FacilityKind, HealthEventKind, MigrationStatus, ReferralChannel, RiskLevel, Sex,
    SubjectRole, Urgency,
};
use entities::{
    agency, case_file, case_note, case_protection, case_subject, case_team_member, consent,
    facility, health_event, person, placement, placement_guest, referral, referral_subject,
};
use policy::{
    AgencyKind, ConsentFact, DataClass, Facts, Policy, Purpose, Relationship, Requester, Role,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rete_tests::{TestHub, hub_test};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

static AGENCIES: &[(&str, AgencyKind)] = &[
    ("ss-a", AgencyKind::SocialService),
    ("ss-b", AgencyKind::SocialService),
    ("hosp", AgencyKind::Hospital),
    ("cons", AgencyKind::Consultorio),
    ("court", AgencyKind::JuvenileCourt),
    ("cav", AgencyKind::AntiViolenceCentre),
    ("comm", AgencyKind::ReceptionCommunity),
    ("coop", AgencyKind::Cooperative),
];

/// Families in the fixture; family `f` has case `f`.
const FAMILIES: usize = 6;

// ---------------------------------------------------------------------------
// The model of the fixture network.

#[derive(Clone, Debug)]
struct NCase {
    id: Uuid,
    lead: &'static str,
    court: Option<&'static str>,
    /// Team members now (ended memberships are written too, but give no link).
    team: Vec<&'static str>,
    subjects: Vec<usize>,
    /// (facility, active)
    placements: Vec<(usize, bool)>,
}

#[derive(Clone, Debug)]
struct NReferral {
    reporter: &'static str,
    addressed_to: &'static str,
    case: Option<usize>,
    subjects: Vec<usize>,
}

#[derive(Clone, Debug)]
struct NProtection {
    case: usize,
    protected: usize,
    from: usize,
}

#[derive(Clone, Debug)]
struct NConsent {
    subject: usize,
    given_by: Option<usize>,
    fact: ConsentFact,
}

#[derive(Default)]
struct Net {
    persons: Vec<Uuid>,
    /// Given names (for searches).
    names: Vec<String>,
    facilities: Vec<(Uuid, &'static str)>,
    cases: Vec<NCase>,
    referrals: Vec<NReferral>,
    protections: Vec<NProtection>,
    consents: Mutex<Vec<NConsent>>,
    /// Person index -> the family's mother, child, father.
    mothers: Vec<usize>,
    children: Vec<usize>,
    fathers: BTreeMap<usize, usize>,
}

/// A record and a class, as a marker names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rec {
    Case(usize),
    Person(usize),
    Facility(usize),
}

impl Net {
    fn kind(agency: &str) -> AgencyKind {
        AGENCIES.iter().find(|(a, _)| *a == agency).unwrap().1
    }

    fn cases_of(&self, p: usize) -> Vec<usize> {
        (0..self.cases.len())
            .filter(|c| self.cases[*c].subjects.contains(&p))
            .collect()
    }

    fn case_links(&self, agency: &str, c: usize) -> BTreeSet<Relationship> {
        let case = &self.cases[c];
        let mut out = BTreeSet::new();
        if case.lead == agency {
            out.insert(Relationship::Lead);
        }
        if case.court == Some(agency) {
            out.insert(Relationship::CourtOfRecord);
        }
        if case.team.contains(&agency) {
            out.insert(Relationship::TeamMember);
        }
        if self
            .referrals
            .iter()
            .any(|r| r.reporter == agency && r.case == Some(c))
        {
            out.insert(Relationship::Referrer);
        }
        if case
            .placements
            .iter()
            .any(|(f, active)| *active && self.facilities[*f].1 == agency)
        {
            out.insert(Relationship::FacilityOperator);
        }
        out
    }

    fn person_links(&self, agency: &str, p: usize) -> BTreeSet<Relationship> {
        let mut out: BTreeSet<Relationship> = self
            .cases_of(p)
            .into_iter()
            .flat_map(|c| self.case_links(agency, c))
            .collect();
        for r in self.referrals.iter().filter(|r| r.subjects.contains(&p)) {
            if r.reporter == agency {
                out.insert(Relationship::Referrer);
            }
            if r.addressed_to == agency {
                out.insert(Relationship::Lead);
            }
        }
        out
    }

    fn facility_links(&self, agency: &str, f: usize) -> BTreeSet<Relationship> {
        let mut out = BTreeSet::new();
        if self.facilities[f].1 == agency {
            out.insert(Relationship::FacilityOperator);
        }
        for (c, case) in self.cases.iter().enumerate() {
            if case.placements.contains(&(f, true)) {
                out.extend(
                    self.case_links(agency, c)
                        .into_iter()
                        .filter(|r| matches!(r, Relationship::Lead | Relationship::TeamMember)),
                );
            }
        }
        out
    }

    /// The persons `p` is protected from (protections in force).
    fn protected_from(&self, persons: &[usize]) -> BTreeSet<usize> {
        self.protections
            .iter()
            .filter(|x| persons.contains(&x.protected))
            .map(|x| x.from)
            .collect()
    }

    /// Does every link of `agency` to person `p` run through the records of a
    /// person `p` is protected from (a case where that person is a subject and
    /// which does not itself record the protection)?
    fn only_via_protected_from(&self, agency: &str, p: usize) -> bool {
        let mine: Vec<&NProtection> = self
            .protections
            .iter()
            .filter(|x| x.protected == p)
            .collect();
        if mine.is_empty() || self.person_links(agency, p).is_empty() {
            return false;
        }
        let cases = self.cases_of(p);
        let through_cases: BTreeSet<Relationship> = cases
            .iter()
            .flat_map(|c| self.case_links(agency, *c))
            .collect();
        if self
            .person_links(agency, p)
            .iter()
            .any(|r| !through_cases.contains(r))
        {
            return false;
        }
        let mut any = false;
        for c in cases {
            if self.case_links(agency, c).is_empty() {
                continue;
            }
            any = true;
            let theirs = mine
                .iter()
                .any(|x| self.cases[c].subjects.contains(&x.from) && x.case != c);
            if !theirs {
                return false;
            }
        }
        any
    }

    fn consents_of(&self, persons: &[usize]) -> Vec<ConsentFact> {
        let from = self.protected_from(persons);
        self.consents
            .lock()
            .unwrap()
            .iter()
            .filter(|c| persons.contains(&c.subject))
            .map(|c| ConsentFact {
                given_by_protected_from: c.given_by.is_some_and(|g| from.contains(&g)),
                ..c.fact.clone()
            })
            .collect()
    }

    /// The facts of (agency, record) at `at`, from the model alone.
    fn facts(&self, agency: &str, rec: Rec, at: i64) -> Facts {
        match rec {
            Rec::Case(c) => Facts {
                relationships: self.case_links(agency, c),
                at,
                consents: self.consents_of(&self.cases[c].subjects),
                ..Facts::default()
            },
            Rec::Person(p) => Facts {
                relationships: self.person_links(agency, p),
                at,
                consents: self.consents_of(&[p]),
                only_via_protected_from: self.only_via_protected_from(agency, p),
                ..Facts::default()
            },
            Rec::Facility(f) => Facts {
                relationships: self.facility_links(agency, f),
                at,
                ..Facts::default()
            },
        }
    }
}

/// The marker a string value is, if it is one: its class and record.
fn marker(s: &str) -> Option<(DataClass, Rec, String)> {
    let num = |rest: &str| rest.parse::<usize>().ok();
    let (class, rec) = if let Some(n) = s.strip_prefix("SECRET-LOC-F").and_then(num) {
        (DataClass::SecretLocation, Rec::Facility(n))
    } else if let Some(n) = s.strip_prefix("HEALTH-P").and_then(num) {
        (DataClass::Health, Rec::Person(n))
    } else if let Some(n) = s.strip_prefix("HEALTH-N").and_then(num) {
        (DataClass::Health, Rec::Case(n))
    } else if let Some(n) = s
        .strip_prefix("CONTACT-P")
        .or_else(|| s.strip_prefix("CONTACT-A"))
        .and_then(num)
    {
        (DataClass::Contact, Rec::Person(n))
    } else {
        return None;
    };
    Some((class, rec, s.to_string()))
}

fn markers(v: &Value, out: &mut Vec<(DataClass, Rec, String)>) {
    match v {
        Value::String(s) => out.extend(marker(s)),
        Value::Array(a) => a.iter().for_each(|x| markers(x, out)),
        Value::Object(o) => o.values().for_each(|x| markers(x, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Writing the fixture.

async fn build(hub: &TestHub) -> Net {
    let db = &hub.db;
    let now = Utc::now();
    let today = now.date_naive();
    let long_ago = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    for (id, kind) in AGENCIES {
        agency::ActiveModel {
            id: Set((*id).into()),
            name: Set(format!("Agency {id}")),
            kind: Set(kind.to_string()),
            city: Set(Some("Torino".into())),
            created_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
    }
    let mut net = Net::default();
    for (k, (operator, kind)) in [
        ("cav", FacilityKind::Shelter),
        ("comm", FacilityKind::MotherChildCommunity),
        ("cav", FacilityKind::Shelter),
    ]
    .into_iter()
    .enumerate()
    {
        let id = Uuid::now_v7();
        facility::ActiveModel {
            id: Set(id),
            operator_agency_id: Set(operator.into()),
            name: Set(format!("Facility {k}")),
            kind: Set(kind),
            capacity: Set(20),
            address: Set(format!("SECRET-LOC-F{k}")),
            city: Set(Some(format!("SECRET-LOC-F{k}"))),
            secret: Set(kind == FacilityKind::Shelter),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        net.facilities.push((id, operator));
    }

    let add_person = |net: &mut Net, first: &str| -> usize {
        let n = net.persons.len();
        net.persons.push(Uuid::now_v7());
        net.names.push(format!("{first}{n}x"));
        n
    };
    for f in 0..FAMILIES {
        let m = add_person(&mut net, "Madre");
        let c = add_person(&mut net, "Figlio");
        net.mothers.push(m);
        net.children.push(c);
        let mut subjects = vec![m, c];
        if f < 2 {
            let p = add_person(&mut net, "Padre");
            net.fathers.insert(f, p);
            subjects.push(p);
        }
        let mut team = Vec::new();
        if f % 2 == 0 {
            team.push("cons");
        }
        if f % 3 == 1 {
            team.push("hosp");
        }
        if f % 3 == 2 {
            team.push("coop");
        }
        if f == 3 {
            team.push("cav");
        }
        let mut placements = Vec::new();
        if f % 3 == 2 || f == 0 {
            placements.push((0, true));
        }
        if f % 3 == 1 {
            placements.push((1, true));
        }
        if f == 4 {
            placements.push((2, false));
        }
        net.cases.push(NCase {
            id: Uuid::now_v7(),
            lead: if f % 2 == 0 { "ss-a" } else { "ss-b" },
            court: (f % 3 == 0).then_some("court"),
            team,
            subjects,
            placements,
        });
    }
    // The fathers' own cases, both at ss-b: for family 0 it is ss-b's only link
    // to the child; family 1's case is ss-b's own too.
    for f in 0..2 {
        let p = net.fathers[&f];
        net.cases.push(NCase {
            id: Uuid::now_v7(),
            lead: "ss-b",
            court: None,
            team: vec![],
            subjects: vec![p, net.children[f]],
            placements: vec![],
        });
    }
    net.protections = vec![
        NProtection {
            case: 0,
            protected: net.children[0],
            from: net.fathers[&0],
        },
        NProtection {
            case: 0,
            protected: net.mothers[0],
            from: net.fathers[&0],
        },
        NProtection {
            case: 1,
            protected: net.children[1],
            from: net.fathers[&1],
        },
    ];
    net.referrals = (0..FAMILIES)
        .filter(|f| f % 3 == 1)
        .map(|f| NReferral {
            reporter: "hosp",
            addressed_to: net.cases[f].lead,
            case: Some(f),
            subjects: vec![net.mothers[f]],
        })
        .chain([NReferral {
            reporter: "cons",
            addressed_to: "ss-a",
            case: None,
            subjects: vec![net.children[2]],
        }])
        .collect();
    let ts = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let consent = |subject: usize,
                   given_by: Option<usize>,
                   classes: &[DataClass],
                   kinds: &[AgencyKind],
                   purposes: &[Purpose],
                   until: Option<NaiveDate>| NConsent {
        subject,
        given_by,
        fact: ConsentFact {
            id: Uuid::now_v7().to_string(),
            classes: classes.iter().copied().collect(),
            recipient_agencies: BTreeSet::new(),
            recipient_kinds: kinds.iter().copied().collect(),
            purposes: purposes.iter().copied().collect(),
            valid_from: ts(long_ago).timestamp(),
            valid_until: until.map(|u| ts(u).timestamp()),
            withdrawn_at: None,
            given_by_protected_from: false,
        },
    };
    *net.consents.lock().unwrap() = vec![
        // The mediator of family 2's team, with the mother's consent.
        consent(
            net.mothers[2],
            None,
            &[
                DataClass::Identity,
                DataClass::Contact,
                DataClass::Migration,
            ],
            &[AgencyKind::Cooperative],
            &[Purpose::CaseManagement],
            None,
        ),
        // Given by the father the child is protected from: never counts.
        consent(
            net.children[0],
            Some(net.fathers[&0]),
            &[DataClass::Identity, DataClass::Contact, DataClass::Health],
            &[AgencyKind::Hospital, AgencyKind::Cooperative],
            &[Purpose::Healthcare, Purpose::CaseManagement],
            None,
        ),
        // Expired.
        consent(
            net.mothers[5],
            None,
            &[DataClass::Identity, DataClass::Contact],
            &[AgencyKind::Cooperative],
            &[Purpose::CaseManagement],
            Some(NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()),
        ),
    ];

    // Write it all.
    for (n, id) in net.persons.iter().enumerate() {
        let adult = net.mothers.contains(&n) || net.fathers.values().any(|p| *p == n);
        person::ActiveModel {
            id: Set(*id),
            given_name: Set(net.names[n].clone()),
            family_name: Set(format!("Prova{n}")),
            birth_on: Set(Some(if adult {
                NaiveDate::from_ymd_opt(1990, 3, 1).unwrap()
            } else {
                NaiveDate::from_ymd_opt(2018, 5, 1).unwrap()
            })),
            sex: Set(if net.fathers.values().any(|p| *p == n) {
                Sex::Male
            } else {
                Sex::Female
            }),
            fiscal_code: Set(None),
            birth_place: Set(None),
            citizenship: Set(None),
            phone: Set(Some(format!("CONTACT-P{n}"))),
            email: Set(None),
            address: Set(Some(format!("CONTACT-A{n}"))),
            municipality: Set(None),
            languages: Set(json!(["it"])),
            mediator_needed: Set(false),
            migration_status: Set(MigrationStatus::ItalianCitizen),
            permit_expires_on: Set(None),
            ethnic_origin: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        if !net.fathers.values().any(|p| *p == n) {
            health_event::ActiveModel {
                id: Set(Uuid::now_v7()),
                person_id: Set(*id),
                case_id: Set(None),
                source_agency_id: Set("hosp".into()),
                kind: Set(HealthEventKind::OutpatientVisit),
                occurred_on: Set(long_ago),
                summary: Set(format!("HEALTH-P{n}")),
                created_at: Set(now),
            }
            .insert(db)
            .await
            .unwrap();
        }
    }
    for (c, case) in net.cases.iter().enumerate() {
        case_file::ActiveModel {
            id: Set(case.id),
            reference: Set(format!("RETE-SHAPE-{c:02}")),
            status: Set(CaseStatus::Active),
            lead_agency_id: Set(case.lead.into()),
            case_manager: Set(format!("{}-operator", case.lead)),
            risk_level: Set(if c % 2 == 0 {
                RiskLevel::High
            } else {
                RiskLevel::Low
            }),
            summary: Set(Some(format!("Summary {c}"))),
            court_of_record_id: Set(case.court.map(str::to_string)),
            opened_on: Set(long_ago),
            closed_on: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        for (i, p) in case.subjects.iter().enumerate() {
            case_subject::ActiveModel {
                case_id: Set(case.id),
                person_id: Set(net.persons[*p]),
                role: Set([SubjectRole::Mother, SubjectRole::Child, SubjectRole::Father][i.min(2)]),
                created_at: Set(now),
            }
            .insert(db)
            .await
            .unwrap();
        }
        let member = |agency: &str, until: Option<NaiveDate>| case_team_member::ActiveModel {
            id: Set(Uuid::now_v7()),
            case_id: Set(case.id),
            agency_id: Set(agency.into()),
            operator: Set(format!("{agency}-operator")),
            role: Set("SOCIAL_WORKER".into()),
            from_on: Set(long_ago),
            until_on: Set(until),
            created_at: Set(now),
        };
        for agency in &case.team {
            member(agency, None).insert(db).await.unwrap();
        }
        if c < FAMILIES && c % 2 == 1 {
            // An ended membership: no link.
            member("cons", Some(today - chrono::Days::new(30)))
                .insert(db)
                .await
                .unwrap();
        }
        for (f, active) in &case.placements {
            let id = Uuid::now_v7();
            placement::ActiveModel {
                id: Set(id),
                case_id: Set(case.id),
                facility_id: Set(net.facilities[*f].0),
                start_on: Set(long_ago),
                planned_end_on: Set(None),
                end_on: Set((!active).then(|| today - chrono::Days::new(10))),
                end_reason: Set((!active).then(|| "ended".to_string())),
                emergency: Set(false),
                authorising_order_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await
            .unwrap();
            for p in &case.subjects[..2.min(case.subjects.len())] {
                placement_guest::ActiveModel {
                    placement_id: Set(id),
                    person_id: Set(net.persons[*p]),
                }
                .insert(db)
                .await
                .unwrap();
            }
        }
        case_note::ActiveModel {
            id: Set(Uuid::now_v7()),
            case_id: Set(case.id),
            author_agency_id: Set(case.lead.into()),
            author_operator: Set(format!("{}-operator", case.lead)),
            data_class: Set("HEALTH".into()),
            body: Set(format!("HEALTH-N{c}")),
            created_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
    }
    for x in &net.protections {
        case_protection::ActiveModel {
            id: Set(Uuid::now_v7()),
            case_id: Set(net.cases[x.case].id),
            protected_person_id: Set(net.persons[x.protected]),
            from_person_id: Set(net.persons[x.from]),
            reason: Set("Decreto".into()),
            order_id: Set(None),
            recorded_by_agency_id: Set(net.cases[x.case].lead.into()),
            recorded_by_operator: Set("op".into()),
            created_at: Set(now),
            ended_at: Set(None),
        }
        .insert(db)
        .await
        .unwrap();
    }
    for r in &net.referrals {
        let id = Uuid::now_v7();
        referral::ActiveModel {
            id: Set(id),
            reporter_agency_id: Set(r.reporter.into()),
            reporter_kind: Set(Net::kind(r.reporter).to_string()),
            reporter_operator: Set(format!("{}-operator", r.reporter)),
            addressed_to_id: Set(r.addressed_to.into()),
            channel: Set(ReferralChannel::Email),
            urgency: Set(Urgency::Medium),
            description: Set(None),
            received_at: Set(now),
            triage_outcome: Set(None),
            triage_reason: Set(None),
            triaged_at: Set(None),
            triaged_by: Set(None),
            redirected_to_id: Set(None),
            case_id: Set(r.case.map(|c| net.cases[c].id)),
            created_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        for p in &r.subjects {
            referral_subject::ActiveModel {
                referral_id: Set(id),
                person_id: Set(net.persons[*p]),
                role: Set(SubjectRole::Mother),
            }
            .insert(db)
            .await
            .unwrap();
        }
    }
    let initial = net.consents.lock().unwrap().clone();
    for c in &initial {
        let words = |v: Vec<String>| json!(v);
        consent::ActiveModel {
            id: Set(Uuid::parse_str(&c.fact.id).unwrap()),
            subject_id: Set(net.persons[c.subject]),
            given_by: Set(if c.given_by.is_some() {
                entities::enums::ConsentGiver::Parent
            } else {
                entities::enums::ConsentGiver::Subject
            }),
            given_by_person_id: Set(c.given_by.map(|g| net.persons[g])),
            data_classes: Set(words(
                c.fact.classes.iter().map(|x| x.to_string()).collect(),
            )),
            recipient_agencies: Set(json!([])),
            recipient_kinds: Set(words(
                c.fact
                    .recipient_kinds
                    .iter()
                    .map(|x| x.to_string())
                    .collect(),
            )),
            purposes: Set(words(
                c.fact.purposes.iter().map(|x| x.to_string()).collect(),
            )),
            valid_from: Set(chrono::DateTime::from_timestamp(c.fact.valid_from, 0).unwrap()),
            valid_until: Set(c
                .fact
                .valid_until
                .map(|u| chrono::DateTime::from_timestamp(u, 0).unwrap())),
            withdrawn_at: Set(None),
            evidence_ref: Set(None),
            recorded_by_agency_id: Set("ss-a".into()),
            recorded_by_operator: Set("ss-a-operator".into()),
            created_at: Set(now),
            propagated_at: Set(None),
        }
        .insert(db)
        .await
        .unwrap();
    }
    net
}

// ---------------------------------------------------------------------------
// Query shapes.

#[derive(Clone, Debug)]
struct Style {
    alias: bool,
    /// 0: inline, 1: inline fragment, 2: named fragment.
    fragment: u8,
}

#[derive(Clone, Debug)]
struct CaseSel {
    style: Style,
    summary: bool,
    notes: bool,
    subjects: Option<Box<PersonSel>>,
    placements: Option<Box<PlacementSel>>,
}

#[derive(Clone, Debug)]
struct PersonSel {
    style: Style,
    name: bool,
    contact: bool,
    health: bool,
    cases: Option<Box<CaseSel>>,
}

#[derive(Clone, Debug)]
struct PlacementSel {
    style: Style,
    facility: bool,
    guests: Option<Box<PersonSel>>,
    case: Option<Box<CaseSel>>,
}

#[derive(Clone, Debug)]
enum Filter {
    Search(usize),
    Risk,
    Lead(usize),
    Status,
}

#[derive(Clone, Debug)]
enum Root {
    Case(usize, CaseSel),
    Cases {
        first: i32,
        after: Option<i32>,
        filter: Option<Filter>,
        edges: bool,
        sel: CaseSel,
    },
    Person(usize, PersonSel),
    Facilities,
    Placements {
        first: i32,
        active: Option<bool>,
        sel: PlacementSel,
    },
}

fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), 0u8..3).prop_map(|(alias, fragment)| Style { alias, fragment })
}

fn case_sel(depth: u32) -> BoxedStrategy<CaseSel> {
    let person = if depth == 0 {
        Just(None).boxed()
    } else {
        proptest::option::of(person_sel(depth - 1).prop_map(Box::new)).boxed()
    };
    let placement = if depth == 0 {
        Just(None).boxed()
    } else {
        proptest::option::of(placement_sel(depth - 1).prop_map(Box::new)).boxed()
    };
    (style(), any::<bool>(), any::<bool>(), person, placement)
        .prop_map(|(style, summary, notes, subjects, placements)| CaseSel {
            style,
            summary,
            notes,
            subjects,
            placements,
        })
        .boxed()
}

fn person_sel(depth: u32) -> BoxedStrategy<PersonSel> {
    let cases = if depth == 0 {
        Just(None).boxed()
    } else {
        proptest::option::of(case_sel(depth - 1).prop_map(Box::new)).boxed()
    };
    (style(), any::<bool>(), any::<bool>(), any::<bool>(), cases)
        .prop_map(|(style, name, contact, health, cases)| PersonSel {
            style,
            name,
            contact,
            health,
            cases,
        })
        .boxed()
}

fn placement_sel(depth: u32) -> BoxedStrategy<PlacementSel> {
    let guests = if depth == 0 {
        Just(None).boxed()
    } else {
        proptest::option::of(person_sel(depth - 1).prop_map(Box::new)).boxed()
    };
    let case = if depth == 0 {
        Just(None).boxed()
    } else {
        proptest::option::of(case_sel(depth - 1).prop_map(Box::new)).boxed()
    };
    (style(), any::<bool>(), guests, case)
        .prop_map(|(style, facility, guests, case)| PlacementSel {
            style,
            facility,
            guests,
            case,
        })
        .boxed()
}

fn root(cases: usize, persons: usize) -> impl Strategy<Value = Root> {
    let filter = prop_oneof![
        (0..persons).prop_map(Filter::Search),
        Just(Filter::Risk),
        (0..AGENCIES.len()).prop_map(Filter::Lead),
        Just(Filter::Status),
    ];
    prop_oneof![
        (0..cases, case_sel(3)).prop_map(|(c, s)| Root::Case(c, s)),
        (
            1i32..6,
            proptest::option::of(1i32..4),
            proptest::option::of(filter),
            any::<bool>(),
            case_sel(3)
        )
            .prop_map(|(first, after, filter, edges, sel)| Root::Cases {
                first,
                after,
                filter,
                edges,
                sel
            }),
        (0..persons, person_sel(3)).prop_map(|(p, s)| Root::Person(p, s)),
        Just(Root::Facilities),
        (
            1i32..10,
            proptest::option::of(any::<bool>()),
            placement_sel(2)
        )
            .prop_map(|(first, active, sel)| Root::Placements { first, active, sel }),
    ]
}

/// A requester: agency, a role that exists at its kind, a purpose.
fn requester(agencies: &'static [(&'static str, AgencyKind)]) -> impl Strategy<Value = Requester> {
    (
        0..agencies.len(),
        any::<prop::sample::Index>(),
        0..Purpose::ALL.len(),
    )
        .prop_map(move |(a, role, purpose)| {
            let (agency, kind) = agencies[a];
            let roles: Vec<Role> = Role::ALL
                .iter()
                .copied()
                .filter(|r| r.exists_at(kind))
                .collect();
            Requester {
                agency: agency.into(),
                agency_kind: kind,
                operator: format!("{agency}-operator"),
                role: *role.get(&roles),
                purpose: Purpose::ALL[purpose],
            }
        })
}

/// Half the time any requester, half the time one the agreement gives much to
/// (so that granted values show up, not only withheld ones).
fn some_requester() -> impl Strategy<Value = Requester> {
    prop_oneof![requester(AGENCIES), prop::sample::select(insiders())]
}

/// Requesters the agreement gives much to.
fn insiders() -> Vec<Requester> {
    let insider = |agency: &str, role: Role, purpose: Purpose| Requester {
        agency: agency.into(),
        agency_kind: Net::kind(agency),
        operator: format!("{agency}-operator"),
        role,
        purpose,
    };
    vec![
        insider("ss-a", Role::CaseManager, Purpose::CaseManagement),
        insider("ss-b", Role::CaseManager, Purpose::Placement),
        insider("ss-a", Role::SocialWorker, Purpose::CaseManagement),
        insider("cav", Role::SocialWorker, Purpose::Placement),
        insider("hosp", Role::HealthProfessional, Purpose::Healthcare),
        insider("cons", Role::Psychologist, Purpose::CaseManagement),
        insider("comm", Role::Educator, Purpose::Placement),
        insider("court", Role::Judge, Purpose::Judicial),
    ]
}

/// Every field this test watches, `depth` levels down.
fn full_case(depth: u32) -> CaseSel {
    let plain = Style {
        alias: false,
        fragment: 0,
    };
    CaseSel {
        style: plain.clone(),
        summary: true,
        notes: true,
        subjects: (depth > 0).then(|| Box::new(full_person(depth - 1))),
        placements: (depth > 0).then(|| {
            Box::new(PlacementSel {
                style: plain.clone(),
                facility: true,
                guests: Some(Box::new(full_person(0))),
                case: None,
            })
        }),
    }
}

fn full_person(depth: u32) -> PersonSel {
    PersonSel {
        style: Style {
            alias: false,
            fragment: 0,
        },
        name: true,
        contact: true,
        health: true,
        cases: (depth > 0).then(|| Box::new(full_case(depth - 1))),
    }
}

/// Renders shapes into a GraphQL document.
struct Render<'a> {
    net: &'a Net,
    fragments: Vec<String>,
    n: usize,
}

impl Render<'_> {
    fn next(&mut self) -> usize {
        self.n += 1;
        self.n
    }

    fn field(&mut self, style: &Style, name: &str) -> String {
        if style.alias {
            let n = self.next();
            format!("a{n}_{name}: {name}")
        } else {
            name.to_string()
        }
    }

    fn wrap(&mut self, style: &Style, on: &str, body: String) -> String {
        match style.fragment {
            1 => format!("... on {on} {{ {body} }}"),
            2 => {
                let n = self.next();
                self.fragments
                    .push(format!("fragment F{n} on {on} {{ {body} }}"));
                format!("...F{n}")
            }
            _ => body,
        }
    }

    fn case(&mut self, s: &CaseSel) -> String {
        let mut b = vec!["id".to_string()];
        if s.summary {
            b.push(self.field(&s.style, "summary"));
        }
        if s.notes {
            let f = self.field(&s.style, "notes");
            b.push(format!("{f} {{ dataClass body }}"));
        }
        if let Some(p) = &s.subjects {
            let inner = self.person(p);
            let f = self.field(&s.style, "subjects");
            b.push(format!("{f} {{ role person {{ {inner} }} }}"));
        }
        if let Some(p) = &s.placements {
            let inner = self.placement(p);
            let f = self.field(&s.style, "placements");
            b.push(format!("{f} {{ {inner} }}"));
        }
        self.wrap(&s.style, "Case", b.join(" "))
    }

    fn person(&mut self, s: &PersonSel) -> String {
        let mut b = vec!["id".to_string()];
        if s.name {
            b.push(self.field(&s.style, "givenName"));
        }
        if s.contact {
            b.push(self.field(&s.style, "phone"));
            b.push(self.field(&s.style, "address"));
        }
        if s.health {
            let f = self.field(&s.style, "healthEvents");
            b.push(format!("{f} {{ summary kind }}"));
        }
        if let Some(c) = &s.cases {
            let inner = self.case(c);
            let f = self.field(&s.style, "cases");
            b.push(format!("{f} {{ {inner} }}"));
        }
        self.wrap(&s.style, "Person", b.join(" "))
    }

    fn placement(&mut self, s: &PlacementSel) -> String {
        let mut b = vec!["id".to_string()];
        if s.facility {
            let f = self.field(&s.style, "facility");
            b.push(format!("{f} {{ id name address city }}"));
        }
        if let Some(p) = &s.guests {
            let inner = self.person(p);
            let f = self.field(&s.style, "guests");
            b.push(format!("{f} {{ {inner} }}"));
        }
        if let Some(c) = &s.case {
            let inner = self.case(c);
            let f = self.field(&s.style, "case");
            b.push(format!("{f} {{ {inner} }}"));
        }
        self.wrap(&s.style, "Placement", b.join(" "))
    }

    fn root(&mut self, r: &Root, after_cursor: Option<&str>) -> String {
        match r {
            Root::Case(c, s) => {
                let inner = self.case(s);
                format!("case(id: \"{}\") {{ {inner} }}", self.net.cases[*c].id)
            }
            Root::Cases {
                first,
                filter,
                edges,
                sel,
                ..
            } => {
                let inner = self.case(sel);
                let mut args = vec![format!("first: {first}")];
                if let Some(c) = after_cursor {
                    args.push(format!("after: \"{c}\""));
                }
                if let Some(f) = filter {
                    args.push(format!(
                        "filter: {{ {} }}",
                        match f {
                            Filter::Search(p) =>
                                format!("subjectSearch: \"{}\"", self.net.names[*p]),
                            Filter::Risk => "riskLevel: [HIGH]".into(),
                            Filter::Lead(a) => format!("leadAgency: \"{}\"", AGENCIES[*a].0),
                            Filter::Status => "status: [ACTIVE]".into(),
                        }
                    ));
                }
                let list = if *edges {
                    format!("edges {{ cursor node {{ {inner} }} }}")
                } else {
                    format!("nodes {{ {inner} }}")
                };
                format!(
                    "cases({}) {{ totalCount pageInfo {{ endCursor hasNextPage }} {list} }}",
                    args.join(", ")
                )
            }
            Root::Person(p, s) => {
                let inner = self.person(s);
                format!("person(id: \"{}\") {{ {inner} }}", self.net.persons[*p])
            }
            Root::Facilities => "facilities { id name address city }".into(),
            Root::Placements { first, active, sel } => {
                let inner = self.placement(sel);
                let active = active.map_or(String::new(), |a| format!(", active: {a}"));
                format!("placements(first: {first}{active}) {{ {inner} }}")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The properties.

fn network_agreement() -> Policy {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/network.toml");
    Policy::from_toml(
        "policies/network.toml",
        &std::fs::read_to_string(path).unwrap(),
    )
    .unwrap()
}

fn token(hub: &TestHub, r: &Requester) -> String {
    hub.token_as(&r.operator, &r.agency, r.role.as_str(), r.purpose.as_str())
}

/// What the runs saw, so that a property cannot hold by never looking.
#[derive(Default, Debug)]
struct Seen {
    answers_with_data: usize,
    markers: BTreeMap<DataClass, usize>,
    withheld: BTreeMap<String, usize>,
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    })
}

/// A placement object in `v` that lists one of `persons` among its guests and
/// shows its facility (under any alias).
fn placement_revealing(v: &Value, persons: &[String]) -> Option<String> {
    match v {
        Value::Array(a) => a.iter().find_map(|x| placement_revealing(x, persons)),
        Value::Object(o) => {
            let facility = o
                .iter()
                .any(|(k, x)| k.ends_with("facility") && !x.is_null());
            let guest = o
                .iter()
                .filter(|(k, _)| k.ends_with("guests"))
                .filter_map(|(_, g)| g.as_array())
                .flatten()
                .filter_map(|g| g.get("id").and_then(Value::as_str))
                .find(|id| persons.iter().any(|p| p == id));
            match guest {
                Some(p) if facility => Some(p.to_string()),
                _ => o.values().find_map(|x| placement_revealing(x, persons)),
            }
        }
        _ => None,
    }
}

/// Run one query shape for one requester and check every marker in the answer.
async fn check_shape(
    hub: &TestHub,
    net: &Net,
    agreement: &Policy,
    req: &Requester,
    roots: &[Root],
    seen: &Mutex<Seen>,
) -> Result<(), TestCaseError> {
    let t = token(hub, req);
    let mut render = Render {
        net,
        fragments: vec![],
        n: 0,
    };
    let mut fields = Vec::new();
    for r in roots {
        // A page after the first `after` cases, by the cursor the hub gave.
        let cursor = match r {
            Root::Cases {
                after: Some(k),
                filter: None,
                ..
            } => {
                let a = hub
                    .gql(
                        &t,
                        &format!("{{ cases(first: {k}) {{ pageInfo {{ endCursor }} }} }}"),
                        json!({}),
                    )
                    .await;
                a.data("/cases/pageInfo/endCursor")
                    .as_str()
                    .map(str::to_string)
            }
            _ => None,
        };
        let body = render.root(r, cursor.as_deref());
        let n = render.next();
        fields.push(format!("r{n}: {body}"));
    }
    let query = format!(
        "query {{ {} }} {}",
        fields.join(" "),
        render.fragments.join(" ")
    );
    let answer = hub.gql(&t, &query, json!({})).await;
    let at = Utc::now().timestamp();
    let mut found = Vec::new();
    markers(&answer.body, &mut found);
    {
        let mut s = seen.lock().unwrap();
        if answer.body.get("data").is_some_and(|d| !d.is_null()) {
            s.answers_with_data += 1;
        }
        for e in answer.errors() {
            if let Some(c) = e.pointer("/extensions/dataClass").and_then(Value::as_str) {
                *s.withheld.entry(c.to_string()).or_default() += 1;
            }
        }
        for (class, _, _) in &found {
            *s.markers.entry(*class).or_default() += 1;
        }
    }
    // 2b. No placement that holds a protected subject shows its facility to a
    //     requester who reaches them only through that person.
    let protected: Vec<String> = net
        .protections
        .iter()
        .map(|x| x.protected)
        .filter(|p| net.only_via_protected_from(&req.agency, *p))
        .map(|p| net.persons[p].to_string())
        .collect();
    if let Some(p) = placement_revealing(&answer.body, &protected) {
        prop_assert!(
            false,
            "the facility of a placement of protected person {p} reached {req:?}\nquery: {query}\nanswer: {:#}",
            answer.body
        );
    }
    for (class, rec, value) in found {
        // 1. Only what the policy grants, on facts taken from the model.
        let facts = net.facts(&req.agency, rec, at);
        let decision = policy::decide(agreement, req, &facts, class);
        prop_assert!(
            decision.is_disclosed(),
            "{value} ({class} of {rec:?}) reached {req:?}, but the policy says {decision:?}\nfacts: {facts:?}\nquery: {query}\nanswer: {:#}",
            answer.body
        );
        // 2. Protection, on its own: no contact or location of a protected
        //    subject through the person they are protected from.
        let protected_here = |p: usize| net.only_via_protected_from(&req.agency, p);
        match rec {
            Rec::Person(p) if class == DataClass::Contact => {
                prop_assert!(
                    !protected_here(p),
                    "{value}: contact of protected person {p} reached {req:?} through the person they are protected from\nquery: {query}"
                );
            }
            _ => {}
        }
    }
    Ok(())
}

fn run_prop<S: Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    tokio::task::block_in_place(|| {
        let mut runner = runner(cases);
        if let Err(e) = runner.run(&strategy, test) {
            panic!("{e}");
        }
    });
}

async fn generated_query_shapes_reveal_only_what_the_policy_grants(hub: TestHub) {
    let net = build(&hub).await;
    let agreement = network_agreement();
    let rt = tokio::runtime::Handle::current();
    let seen = Mutex::new(Seen::default());

    // First the plain shapes, for the requesters the agreement gives most to:
    // the same check, and granted values do show up.
    for req in insiders() {
        let roots = vec![
            Root::Facilities,
            Root::Cases {
                first: 20,
                after: None,
                filter: None,
                edges: true,
                sel: full_case(2),
            },
        ];
        check_shape(&hub, &net, &agreement, &req, &roots, &seen)
            .await
            .unwrap();
    }

    // Any requester of the network, any shape.
    let shapes = (
        some_requester(),
        proptest::collection::vec(root(net.cases.len(), net.persons.len()), 1..3),
    );
    run_prop(24, shapes, |(req, roots)| {
        rt.block_on(check_shape(&hub, &net, &agreement, &req, &roots, &seen))
    });

    // The father's social service: shapes that start from the protected
    // child and mother, from the father, and from searches on the father.
    let father = net.fathers[&0];
    let near = vec![net.children[0], net.mothers[0], father];
    let protected_shapes = (
        requester(&AGENCIES[1..2]),
        prop_oneof![
            (prop::sample::select(near), person_sel(3)).prop_map(|(p, s)| Root::Person(p, s)),
            case_sel(3).prop_map(move |sel| Root::Cases {
                first: 5,
                after: None,
                filter: Some(Filter::Search(father)),
                edges: true,
                sel
            }),
            (FAMILIES..FAMILIES + 1, case_sel(3)).prop_map(|(c, s)| Root::Case(c, s)),
        ],
    );
    run_prop(16, protected_shapes, |(req, root)| {
        rt.block_on(check_shape(&hub, &net, &agreement, &req, &[root], &seen))
    });

    // The runs looked at something: answers with data, markers of each
    // watched class shown, and each class withheld somewhere.
    let seen = seen.into_inner().unwrap();
    assert!(seen.answers_with_data > 20, "{seen:?}");
    for class in [
        DataClass::SecretLocation,
        DataClass::Health,
        DataClass::Contact,
    ] {
        assert!(
            seen.markers.get(&class).copied().unwrap_or(0) > 0,
            "{class} never shown: {seen:?}"
        );
        assert!(
            seen.withheld.get(class.as_str()).copied().unwrap_or(0) > 0,
            "{class} never withheld: {seen:?}"
        );
    }

    // The protections in the fixture are really exercised: the father's social
    // service reaches the protected child only through the father's case.
    assert!(net.only_via_protected_from("ss-b", net.children[0]));
    assert!(!net.only_via_protected_from("ss-b", net.children[1]));
    assert!(!net.only_via_protected_from("ss-a", net.children[0]));
}
hub_test!(
    generated_query_shapes_reveal_only_what_the_policy_grants,
    TestHub::builder().network_agreement().limits(|l| {
        l.max_depth = 16;
        l.max_complexity = 100_000;
        l.max_aliases = 200;
    })
);

const WHO: &str = "query($id: ID!) { person(id: $id) { givenName phone migrationStatus healthEvents { summary } } }";

/// What a requester sees of a person, by class (a non-null field = shown).
async fn shown(hub: &TestHub, req: &Requester, person: Uuid) -> BTreeSet<DataClass> {
    let a = hub
        .gql(&token(hub, req), WHO, json!({"id": person.to_string()}))
        .await;
    [
        ("/person/givenName", DataClass::Identity),
        ("/person/phone", DataClass::Contact),
        ("/person/migrationStatus", DataClass::Migration),
        ("/person/healthEvents", DataClass::Health),
    ]
    .into_iter()
    .filter(|(p, _)| !a.data(p).is_null())
    .map(|(_, c)| c)
    .collect()
}

fn expected(net: &Net, agreement: &Policy, req: &Requester, p: usize) -> BTreeSet<DataClass> {
    let facts = net.facts(&req.agency, Rec::Person(p), Utc::now().timestamp());
    [
        DataClass::Identity,
        DataClass::Contact,
        DataClass::Migration,
        DataClass::Health,
    ]
    .into_iter()
    .filter(|c| policy::decide(agreement, req, &facts, *c).is_disclosed())
    .collect()
}

#[derive(Clone, Debug)]
struct GivenConsent {
    family: usize,
    classes: Vec<DataClass>,
    to_agency: bool,
    kinds: Vec<AgencyKind>,
    purposes: Vec<Purpose>,
}

async fn recording_and_withdrawing_a_consent_changes_the_very_next_answer(hub: TestHub) {
    let net = build(&hub).await;
    let agreement = network_agreement();
    let rt = tokio::runtime::Handle::current();
    let changed = Mutex::new(0usize);

    // Mostly the cooperative's mediators on the teams of families 2 and 5 (the
    // rule that rests on consent alone), sometimes anyone.
    let coop = AGENCIES.iter().position(|(a, _)| *a == "coop").unwrap();
    let req = prop_oneof![
        3 => (prop::sample::select(vec![Role::Mediator, Role::Educator]), 0..2usize).prop_map(move |(role, p)| Requester {
            agency: "coop".into(),
            agency_kind: AGENCIES[coop].1,
            operator: "coop-operator".into(),
            role,
            purpose: [Purpose::CaseManagement, Purpose::Placement][p],
        }),
        1 => requester(AGENCIES),
    ];
    let consent = (
        prop::sample::select(vec![2usize, 5, 1, 3]),
        prop::sample::subsequence(
            vec![
                DataClass::Identity,
                DataClass::Contact,
                DataClass::Migration,
                DataClass::Health,
            ],
            1..=4,
        ),
        any::<bool>(),
        prop::sample::subsequence(
            vec![
                AgencyKind::Cooperative,
                AgencyKind::Hospital,
                AgencyKind::Consultorio,
            ],
            0..=2,
        ),
        prop::sample::subsequence(
            vec![
                Purpose::CaseManagement,
                Purpose::Healthcare,
                Purpose::Placement,
            ],
            1..=3,
        ),
    )
        .prop_map(
            |(family, classes, to_agency, kinds, purposes)| GivenConsent {
                family,
                classes,
                to_agency,
                kinds,
                purposes,
            },
        );

    // Half the cases: the mediator and a consent that names them for what the
    // consent-only rule grants (family 5's own consent has expired), so the
    // answer must change; the other half: anything.
    let mediator = Requester {
        agency: "coop".into(),
        agency_kind: AgencyKind::Cooperative,
        operator: "coop-operator".into(),
        role: Role::Mediator,
        purpose: Purpose::CaseManagement,
    };
    let relevant = (
        prop::sample::subsequence(vec![DataClass::Contact, DataClass::Migration], 0..=2),
        any::<bool>(),
    )
        .prop_map(move |(more, to_agency)| {
            (
                mediator.clone(),
                GivenConsent {
                    family: 5,
                    classes: [DataClass::Identity].into_iter().chain(more).collect(),
                    to_agency,
                    kinds: if to_agency {
                        vec![]
                    } else {
                        vec![AgencyKind::Cooperative]
                    },
                    purposes: vec![Purpose::CaseManagement],
                },
            )
        });
    let cases = prop_oneof![relevant, (req, consent)];
    run_prop(24, cases, |(req, given)| {
        rt.block_on(async {
            let mother = net.mothers[given.family];
            let lead = net.cases[given.family].lead;
            let lead_token = hub.token(lead, "CASE_MANAGER", "CASE_MANAGEMENT");
            let agencies: Vec<&str> = if given.to_agency || given.kinds.is_empty() {
                vec![req.agency.as_str()]
            } else {
                vec![]
            };
            let before = shown(&hub, &req, net.persons[mother]).await;
            prop_assert_eq!(&before, &expected(&net, &agreement, &req, mother));

            let a = hub
                .gql(
                    &lead_token,
                    "mutation($i: RecordConsentInput!) { recordConsent(input: $i) { id } }",
                    json!({"i": {
                        "subjectId": net.persons[mother].to_string(),
                        "givenBy": "SUBJECT",
                        "dataClasses": given.classes.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                        "recipientAgencies": agencies,
                        "recipientKinds": given.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                        "purposes": given.purposes.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                        "evidenceRef": "prot. 1/2026",
                    }}),
                )
                .await
                .ok();
            let id = a.data("/recordConsent/id").as_str().unwrap().to_string();
            let row = consent::Entity::find_by_id(Uuid::parse_str(&id).unwrap())
                .one(&hub.db)
                .await
                .unwrap()
                .unwrap();
            let fact = ConsentFact {
                id: id.clone(),
                classes: given.classes.iter().copied().collect(),
                recipient_agencies: agencies.iter().map(|a| a.to_string()).collect(),
                recipient_kinds: given.kinds.iter().copied().collect(),
                purposes: given.purposes.iter().copied().collect(),
                valid_from: row.valid_from.timestamp(),
                valid_until: None,
                withdrawn_at: None,
                given_by_protected_from: false,
            };
            net.consents.lock().unwrap().push(NConsent {
                subject: mother,
                given_by: None,
                fact,
            });
            let with = shown(&hub, &req, net.persons[mother]).await;
            prop_assert_eq!(&with, &expected(&net, &agreement, &req, mother), "with consent");

            hub.gql(
                &lead_token,
                "mutation($i: WithdrawConsentInput!) { withdrawConsent(input: $i) { withdrawnAt } }",
                json!({"i": {"consentId": id}}),
            )
            .await
            .ok();
            let row = consent::Entity::find_by_id(Uuid::parse_str(&id).unwrap())
                .one(&hub.db)
                .await
                .unwrap()
                .unwrap();
            for c in net.consents.lock().unwrap().iter_mut() {
                if c.fact.id == id {
                    c.fact.withdrawn_at = row.withdrawn_at.map(|w| w.timestamp());
                }
            }
            let after = shown(&hub, &req, net.persons[mother]).await;
            prop_assert_eq!(&after, &expected(&net, &agreement, &req, mother), "after withdrawal");
            prop_assert_eq!(&after, &before, "withdrawn: back to what it was");
            if with != after {
                *changed.lock().unwrap() += 1;
            }
            Ok(())
        })
    });
    let changed = changed.into_inner().unwrap();
    assert!(changed > 0, "no generated consent changed any answer");
}
hub_test!(
    recording_and_withdrawing_a_consent_changes_the_very_next_answer,
    TestHub::builder().network_agreement()
);
