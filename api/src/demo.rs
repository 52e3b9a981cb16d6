//! The demo network: eight agencies of a synthetic Turin network, three
//! facilities, about 200 cases with obviously synthetic names (every family name
//! carries "Demo"), referrals waiting in the queue, active placements, reviews
//! due and court orders with deadlines. Seeded once, in one transaction, only
//! into an empty database. Dates are relative to the day of seeding.

use chrono::{Duration, NaiveDate, Utc};
use entities::enums::*;
use entities::{
    agency, case_file, case_note, case_subject, case_team_member, court_order, court_order_mandate,
    facility, health_event, intervention, person, placement, placement_guest, referral,
    referral_reason, referral_subject, verification,
};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, Set, TransactionTrait,
};
use uuid::Uuid;

/// The agencies of the demo network: (id, name, kind).
pub const AGENCIES: [(&str, &str, &str); 8] = [
    (
        "polo-nord",
        "Polo Sociale Territoriale Nord",
        "SOCIAL_SERVICE",
    ),
    (
        "polo-sud",
        "Polo Sociale Territoriale Sud",
        "SOCIAL_SERVICE",
    ),
    (
        "ospedale-regina",
        "Ospedale Regina Margherita (demo)",
        "HOSPITAL",
    ),
    (
        "consultorio-centro",
        "Consultorio familiare Centro",
        "CONSULTORIO",
    ),
    (
        "tm-torino",
        "Tribunale per i minorenni di Torino (demo)",
        "JUVENILE_COURT",
    ),
    (
        "comunita-aurora",
        "Comunità madre-bambino Aurora",
        "RECEPTION_COMMUNITY",
    ),
    (
        "cav-iris",
        "Centro antiviolenza Iris",
        "ANTI_VIOLENCE_CENTRE",
    ),
    (
        "coop-ponte",
        "Cooperativa Ponte (mediatori culturali)",
        "COOPERATIVE",
    ),
];

/// How many cases the demo seeds.
pub const CASES: usize = 200;

/// A tiny deterministic generator (splitmix64): the same network every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const MOTHERS_IT: [&str; 10] = [
    "Giulia",
    "Sara",
    "Martina",
    "Chiara",
    "Francesca",
    "Elena",
    "Valentina",
    "Alessia",
    "Federica",
    "Ilaria",
];
const MOTHERS_FOREIGN: [(&str, &str, &str); 10] = [
    ("Amina", "ar", "Marocco"),
    ("Fatima", "ar", "Egitto"),
    ("Ioana", "ro", "Romania"),
    ("Blessing", "en", "Nigeria"),
    ("Mei", "zh", "Cina"),
    ("Oksana", "uk", "Ucraina"),
    ("Yasmin", "ar", "Tunisia"),
    ("Joy", "en", "Nigeria"),
    ("Ana", "es", "Perù"),
    ("Mariam", "fr", "Senegal"),
];
const CHILDREN: [&str; 14] = [
    "Luca", "Matteo", "Sofia", "Aurora", "Leonardo", "Emma", "Omar", "Nour", "Andrei", "Grace",
    "Lin", "Mykola", "Lucía", "Awa",
];
const FATHERS: [&str; 6] = ["Marco", "Paolo", "Samir", "Chidi", "Ionut", "Wei"];
const FAMILIES: [&str; 12] = [
    "Demo Rossi",
    "Demo Bianchi",
    "Demo Esposito",
    "Demo Romano",
    "Demo Colombo",
    "Demo Ricci",
    "Demo El Amrani",
    "Demo Okafor",
    "Demo Popescu",
    "Demo Chen",
    "Demo Kovalenko",
    "Demo Diallo",
];

/// Seed the demo network into an empty database; `false` if agencies exist.
pub async fn seed(db: &DatabaseConnection) -> Result<bool, DbErr> {
    if agency::Entity::find().count(db).await? > 0 {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let now = Utc::now();
    let today = now.date_naive();
    let mut rng = Rng(0x5EED_2026);

    for (id, name, kind) in AGENCIES {
        agency::ActiveModel {
            id: Set(id.to_string()),
            name: Set(name.to_string()),
            kind: Set(kind.to_string()),
            city: Set(Some("Torino".to_string())),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }

    let facilities = [
        (
            "comunita-aurora",
            "Comunità Aurora",
            FacilityKind::MotherChildCommunity,
            8,
            "Via dei Glicini 12 (demo), Torino",
            false,
        ),
        (
            "cav-iris",
            "Casa rifugio Iris",
            FacilityKind::Shelter,
            6,
            "Indirizzo riservato: Strada del Ciliegio 3 (demo), Torino",
            true,
        ),
        (
            "coop-ponte",
            "Alloggi Ponte",
            FacilityKind::SocialHousing,
            10,
            "Corso Esempio 45 (demo), Torino",
            false,
        ),
    ];
    let mut facility_ids = Vec::new();
    for (op, name, kind, capacity, address, secret) in facilities {
        let id = Uuid::now_v7();
        facility::ActiveModel {
            id: Set(id),
            operator_agency_id: Set(op.to_string()),
            name: Set(name.to_string()),
            kind: Set(kind),
            capacity: Set(capacity),
            address: Set(address.to_string()),
            city: Set(Some("Torino".to_string())),
            secret: Set(secret),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        facility_ids.push((id, capacity as usize, op));
    }
    let mut occupancy = vec![0usize; facility_ids.len()];
    let mut fiscal_seq = 0u32;

    for n in 0..CASES {
        let lead = if n % 2 == 0 { "polo-nord" } else { "polo-sud" };
        let foreign = rng.chance(45);
        let family = if foreign {
            FAMILIES[6 + rng.below(6)]
        } else {
            FAMILIES[rng.below(6)]
        };
        let (mother_name, lang, citizenship) = if foreign {
            *rng.pick(&MOTHERS_FOREIGN)
        } else {
            (*rng.pick(&MOTHERS_IT), "it", "Italia")
        };
        let mut new_person = |given: &str, sex: Sex, age_years: i64, rng: &mut Rng| {
            fiscal_seq += 1;
            let birth = today - Duration::days(age_years * 365 + rng.below(300) as i64);
            person::ActiveModel {
                id: Set(Uuid::now_v7()),
                given_name: Set(given.to_string()),
                family_name: Set(family.to_string()),
                birth_on: Set(Some(birth)),
                sex: Set(sex),
                fiscal_code: Set(Some(format!("DMO{fiscal_seq:013}"))),
                birth_place: Set(Some(if foreign {
                    citizenship.to_string()
                } else {
                    "Torino".to_string()
                })),
                citizenship: Set(Some(citizenship.to_string())),
                phone: Set(Some(format!("+39 333 000 {:04}", fiscal_seq % 10_000))),
                email: Set(None),
                address: Set(Some(format!(
                    "Via Esempio {} (demo), Torino",
                    1 + rng.below(200)
                ))),
                municipality: Set(Some("Torino".to_string())),
                languages: Set(serde_json::json!([lang])),
                mediator_needed: Set(foreign && rng.chance(60)),
                migration_status: Set(if foreign {
                    *rng.pick(&[
                        MigrationStatus::ResidencePermit,
                        MigrationStatus::PermitPending,
                        MigrationStatus::AsylumSeeker,
                        MigrationStatus::Refugee,
                        MigrationStatus::EuCitizen,
                    ])
                } else {
                    MigrationStatus::ItalianCitizen
                }),
                permit_expires_on: Set(
                    foreign.then(|| today + Duration::days(30 + rng.below(700) as i64))
                ),
                ethnic_origin: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
        };
        let mother = new_person(
            mother_name,
            Sex::Female,
            22 + rng.below(18) as i64,
            &mut rng,
        )
        .insert(&txn)
        .await?;
        let mut subjects = vec![(mother.id, SubjectRole::Mother)];
        for _ in 0..1 + rng.below(3) {
            let sex = if rng.chance(50) {
                Sex::Female
            } else {
                Sex::Male
            };
            let name = *rng.pick(&CHILDREN);
            let child = new_person(name, sex, rng.below(14) as i64, &mut rng)
                .insert(&txn)
                .await?;
            subjects.push((child.id, SubjectRole::Child));
        }
        let violence = rng.chance(35);
        if rng.chance(25) {
            let name = *rng.pick(&FATHERS);
            let father = new_person(name, Sex::Male, 25 + rng.below(20) as i64, &mut rng)
                .insert(&txn)
                .await?;
            subjects.push((father.id, SubjectRole::Father));
        }

        let opened = today - Duration::days(20 + rng.below(700) as i64);
        let status = match rng.below(100) {
            0..=9 => CaseStatus::Intake,
            10..=29 => CaseStatus::Assessment,
            30..=84 => CaseStatus::Active,
            85..=89 => CaseStatus::Suspended,
            _ => CaseStatus::Closed,
        };
        let case_id = Uuid::now_v7();
        let manager = format!("{lead}-operator");
        case_file::ActiveModel {
            id: Set(case_id),
            reference: Set(format!("RETE-DEMO-{:04}", n + 1)),
            status: Set(status),
            lead_agency_id: Set(lead.to_string()),
            case_manager: Set(manager.clone()),
            risk_level: Set(*rng.pick(&[RiskLevel::Low, RiskLevel::Medium, RiskLevel::Medium, RiskLevel::High, RiskLevel::Critical])),
            summary: Set(Some(if violence {
                "Madre con figli, violenza domestica riferita; valutazione in corso (dati sintetici).".to_string()
            } else {
                "Nucleo monogenitoriale in difficoltà abitativa; progetto di sostegno (dati sintetici).".to_string()
            })),
            court_of_record_id: Set(None),
            opened_on: Set(opened),
            closed_on: Set((status == CaseStatus::Closed).then(|| opened + Duration::days(10 + rng.below(10) as i64))),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        for (pid, role) in &subjects {
            case_subject::ActiveModel {
                case_id: Set(case_id),
                person_id: Set(*pid),
                role: Set(*role),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        let mut team = vec![(lead, manager.clone(), "CASE_MANAGER")];
        if rng.chance(50) {
            team.push((
                "consultorio-centro",
                "consultorio-centro-operator".into(),
                "PSYCHOLOGIST",
            ));
        }
        if foreign {
            team.push(("coop-ponte", "coop-ponte-operator".into(), "MEDIATOR"));
        }
        if violence {
            team.push(("cav-iris", "cav-iris-operator".into(), "SOCIAL_WORKER"));
        }
        for (agency_id, op, role) in team {
            case_team_member::ActiveModel {
                id: Set(Uuid::now_v7()),
                case_id: Set(case_id),
                agency_id: Set(agency_id.to_string()),
                operator: Set(op),
                role: Set(role.to_string()),
                from_on: Set(opened),
                until_on: Set(None),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }

        // The referral the case came from.
        let reporter = if violence {
            *rng.pick(&["cav-iris", "ospedale-regina"])
        } else {
            *rng.pick(&["ospedale-regina", "consultorio-centro"])
        };
        let reasons: Vec<ReferralReason> = if violence {
            vec![ReferralReason::DomesticViolence]
        } else {
            vec![*rng.pick(&[
                ReferralReason::HousingLoss,
                ReferralReason::Pregnancy,
                ReferralReason::Neglect,
            ])]
        };
        insert_referral(
            &txn,
            &mut rng,
            reporter,
            lead,
            &subjects,
            &reasons,
            Some((case_id, opened, &manager)),
            now,
        )
        .await?;

        // Health events of the mother.
        if rng.chance(40) {
            health_event::ActiveModel {
                id: Set(Uuid::now_v7()),
                person_id: Set(mother.id),
                case_id: Set(Some(case_id)),
                source_agency_id: Set(if violence {
                    "ospedale-regina"
                } else {
                    "consultorio-centro"
                }
                .to_string()),
                kind: Set(if violence {
                    HealthEventKind::InjuryReport
                } else {
                    HealthEventKind::Pregnancy
                }),
                occurred_on: Set(opened - Duration::days(3)),
                summary: Set(if violence {
                    "Accesso in PS per contusioni (dati sintetici)."
                } else {
                    "Gravidanza seguita al consultorio (dati sintetici)."
                }
                .to_string()),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        if foreign && rng.chance(70) {
            intervention::ActiveModel {
                id: Set(Uuid::now_v7()),
                case_id: Set(case_id),
                person_id: Set(Some(mother.id)),
                kind: Set(InterventionKind::CulturalMediation),
                provider_agency_id: Set("coop-ponte".to_string()),
                start_on: Set(opened + Duration::days(7)),
                end_on: Set(None),
                notes: Set(Some(format!(
                    "Mediazione linguistica ({lang}) (dati sintetici)."
                ))),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        case_note::ActiveModel {
            id: Set(Uuid::now_v7()),
            case_id: Set(case_id),
            author_agency_id: Set(lead.to_string()),
            author_operator: Set(manager.clone()),
            data_class: Set(if violence { "VIOLENCE" } else { "SOCIAL" }.to_string()),
            body: Set("Colloquio di presa in carico svolto (nota sintetica).".to_string()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;

        // Court orders on about one case in five.
        let mut order_id = None;
        if status != CaseStatus::Intake && rng.chance(20) {
            let id = Uuid::now_v7();
            let issued = opened + Duration::days(5 + rng.below(15) as i64);
            let kind = *rng.pick(&[
                CourtOrderKind::CustodyToSocialService,
                CourtOrderKind::CommunityPlacement,
                CourtOrderKind::ReportRequest,
                CourtOrderKind::ParentalResponsibilityLimitation,
            ]);
            court_order::ActiveModel {
                id: Set(id),
                case_id: Set(case_id),
                court_id: Set("tm-torino".to_string()),
                docket_number: Set(format!("{}/{} V.G. (demo)", 100 + n, 2026)),
                kind: Set(kind),
                issued_on: Set(issued.min(today)),
                summary: Set("Decreto sintetico per la demo.".to_string()),
                text: Set(None),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            court_order_mandate::ActiveModel {
                id: Set(Uuid::now_v7()),
                order_id: Set(id),
                agency_id: Set(lead.to_string()),
                description: Set("Relazione aggiornata al Tribunale".to_string()),
                due_on: Set(Some(today + Duration::days(rng.below(60) as i64 - 10))),
                fulfilled_on: Set(None),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            let mut am: case_file::ActiveModel = case_file::Entity::find_by_id(case_id)
                .one(&txn)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("demo case".into()))?
                .into();
            am.court_of_record_id = Set(Some("tm-torino".to_string()));
            am.update(&txn).await?;
            order_id = Some(id);
        }

        // Placements: fill facilities up to a few places short of capacity.
        if matches!(status, CaseStatus::Active) && rng.chance(30) {
            let f = if violence { 1 } else { *rng.pick(&[0usize, 2]) };
            let (fid, capacity, _) = facility_ids[f];
            let guests: Vec<Uuid> = subjects
                .iter()
                .filter(|(_, r)| matches!(r, SubjectRole::Mother | SubjectRole::Child))
                .map(|(p, _)| *p)
                .take(2)
                .collect();
            if occupancy[f] + guests.len() <= capacity.saturating_sub(2) {
                occupancy[f] += guests.len();
                let pid = Uuid::now_v7();
                let start = opened + Duration::days(10);
                placement::ActiveModel {
                    id: Set(pid),
                    case_id: Set(case_id),
                    facility_id: Set(fid),
                    start_on: Set(start),
                    planned_end_on: Set(Some(start + Duration::days(365))),
                    end_on: Set(None),
                    end_reason: Set(None),
                    emergency: Set(violence),
                    authorising_order_id: Set(order_id),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
                for g in guests {
                    placement_guest::ActiveModel {
                        placement_id: Set(pid),
                        person_id: Set(g),
                    }
                    .insert(&txn)
                    .await?;
                }
                verification(
                    &txn,
                    pid,
                    start + Duration::days(30),
                    Some((start + Duration::days(30), VerificationOutcome::OnTrack)),
                    now,
                )
                .await?;
                verification(
                    &txn,
                    pid,
                    today + Duration::days(rng.below(40) as i64 - 10),
                    None,
                    now,
                )
                .await?;
            }
        }
    }

    // Referrals still waiting in the queues.
    for i in 0..16 {
        let lead = if i % 2 == 0 { "polo-nord" } else { "polo-sud" };
        let reporter = *rng.pick(&["ospedale-regina", "consultorio-centro", "cav-iris"]);
        let foreign = rng.chance(50);
        let family = if foreign {
            FAMILIES[6 + rng.below(6)]
        } else {
            FAMILIES[rng.below(6)]
        };
        let given = if foreign {
            rng.pick(&MOTHERS_FOREIGN).0
        } else {
            *rng.pick(&MOTHERS_IT)
        };
        let p = person::ActiveModel {
            id: Set(Uuid::now_v7()),
            given_name: Set(given.to_string()),
            family_name: Set(family.to_string()),
            birth_on: Set(None),
            sex: Set(Sex::Female),
            fiscal_code: Set(None),
            birth_place: Set(None),
            citizenship: Set(None),
            phone: Set(None),
            email: Set(None),
            address: Set(None),
            municipality: Set(Some("Torino".to_string())),
            languages: Set(serde_json::json!([])),
            mediator_needed: Set(foreign),
            migration_status: Set(MigrationStatus::Unknown),
            permit_expires_on: Set(None),
            ethnic_origin: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let reason = *rng.pick(&[
            ReferralReason::DomesticViolence,
            ReferralReason::Pregnancy,
            ReferralReason::HousingLoss,
            ReferralReason::Maltreatment,
        ]);
        insert_referral(
            &txn,
            &mut rng,
            reporter,
            lead,
            &[(p.id, SubjectRole::Mother)],
            &[reason],
            None,
            now - Duration::hours(i as i64 * 7),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
async fn insert_referral<C: sea_orm::ConnectionTrait>(
    txn: &C,
    rng: &mut Rng,
    reporter: &str,
    addressed_to: &str,
    subjects: &[(Uuid, SubjectRole)],
    reasons: &[ReferralReason],
    accepted: Option<(Uuid, NaiveDate, &str)>,
    received: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    let id = Uuid::now_v7();
    let kind = AGENCIES
        .iter()
        .find(|a| a.0 == reporter)
        .map_or("HOSPITAL", |a| a.2);
    let received = match accepted {
        Some((_, opened, _)) => {
            opened
                .and_hms_opt(9, 0, 0)
                .map_or(received, |d| d.and_utc())
                - Duration::days(2)
        }
        None => received,
    };
    referral::ActiveModel {
        id: Set(id),
        reporter_agency_id: Set(reporter.to_string()),
        reporter_kind: Set(kind.to_string()),
        reporter_operator: Set(format!("{reporter}-operator")),
        addressed_to_id: Set(addressed_to.to_string()),
        channel: Set(*rng.pick(&[
            ReferralChannel::Phone,
            ReferralChannel::Pec,
            ReferralChannel::CallCenter,
            ReferralChannel::Email,
        ])),
        urgency: Set(*rng.pick(&[
            Urgency::Low,
            Urgency::Medium,
            Urgency::High,
            Urgency::Immediate,
        ])),
        description: Set(Some("Segnalazione sintetica per la demo.".to_string())),
        received_at: Set(received),
        triage_outcome: Set(accepted.map(|_| TriageOutcome::Accepted)),
        triage_reason: Set(accepted.map(|_| "Presa in carico".to_string())),
        triaged_at: Set(accepted.map(|_| received + Duration::days(1))),
        triaged_by: Set(accepted.map(|(_, _, m)| m.to_string())),
        redirected_to_id: Set(None),
        case_id: Set(accepted.map(|(c, _, _)| c)),
        created_at: Set(received),
    }
    .insert(txn)
    .await?;
    for r in reasons {
        referral_reason::ActiveModel {
            referral_id: Set(id),
            reason: Set(*r),
        }
        .insert(txn)
        .await?;
    }
    for (pid, role) in subjects {
        referral_subject::ActiveModel {
            referral_id: Set(id),
            person_id: Set(*pid),
            role: Set(*role),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

async fn verification<C: sea_orm::ConnectionTrait>(
    txn: &C,
    placement_id: Uuid,
    due: NaiveDate,
    done: Option<(NaiveDate, VerificationOutcome)>,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    verification::ActiveModel {
        id: Set(Uuid::now_v7()),
        placement_id: Set(placement_id),
        due_on: Set(due),
        done_on: Set(done.map(|d| d.0)),
        outcome: Set(done.map(|d| d.1)),
        notes: Set(done.map(|_| "Verifica regolare (dati sintetici).".to_string())),
        recorded_by: Set(done.map(|_| "comunita-operator".to_string())),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// What `serve --demo` prints: how to mint a token and run a first query.
pub fn banner(addr: &str) -> String {
    let exe = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "rete".to_string());
    format!(
        "\nRete demo hub: http://{addr}/graphql (GraphiQL in a browser; health at /health)\n\
         Demo agencies: {agencies}\n\n\
         Mint a token (1 hour) for the case manager of Polo Nord:\n  \
         TOKEN=$({exe} token --agency polo-nord --role CASE_MANAGER --purpose CASE_MANAGEMENT)\n\
         First query:\n  \
         curl -s http://{addr}/graphql -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n    \
         -d '{{\"query\":\"{{ me {{ operator agency {{ name }} }} cases(first: 2) {{ totalCount edges {{ node {{ reference status subjects {{ role person {{ givenName familyName }} }} }} }} }} }}\"}}'\n\n\
         Privacy officers' console: http://{addr}/console/ ; paste a token from:\n  \
         {exe} token --agency polo-nord --role PRIVACY_OFFICER --purpose AUDIT\n",
        agencies = AGENCIES.iter().map(|a| a.0).collect::<Vec<_>>().join(", ")
    )
}
