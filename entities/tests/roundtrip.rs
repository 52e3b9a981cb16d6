//! The entities agree with the migrated schema: one row per table is inserted
//! through its `ActiveModel`, read back through its `Entity` and compared, and
//! a few relations are followed. Runs on a temporary SQLite file and, when
//! `DATABASE_URL` starts with `postgres`, on a fresh PostgreSQL database.

use chrono::{DateTime, NaiveDate, Utc};
use entities::enums::*;
use entities::*;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, IntoActiveModel, ModelTrait, Statement,
};
use serde_json::json;
use uuid::Uuid;

type TestResult = Result<(), String>;

fn date(y: i32, m: u32, d: u32) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| format!("bad date {y}-{m}-{d}"))
}

/// Whole seconds: PostgreSQL keeps microseconds, so nanoseconds would not
/// round-trip.
fn at(secs: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| format!("bad timestamp {secs}"))
}

fn db_err(context: &'static str) -> impl FnOnce(DbErr) -> String {
    move |e| format!("{context}: {e}")
}

/// Inserts `model` through its active model and checks it reads back equal.
macro_rules! roundtrip {
    ($db:expr, $module:ident, $model:expr, $id:expr) => {{
        let model: $module::Model = $model;
        let inserted = model
            .clone()
            .into_active_model()
            .insert($db)
            .await
            .map_err(|e| format!("insert {}: {e}", stringify!($module)))?;
        if inserted != model {
            return Err(format!(
                "{}: insert returned {inserted:?}, expected {model:?}",
                stringify!($module)
            ));
        }
        let found = $module::Entity::find_by_id($id)
            .one($db)
            .await
            .map_err(|e| format!("find {}: {e}", stringify!($module)))?;
        if found.as_ref() != Some(&model) {
            return Err(format!(
                "{}: read back {found:?}, expected {model:?}",
                stringify!($module)
            ));
        }
        model
    }};
}

async fn roundtrip_every_table(db: &DatabaseConnection) -> TestResult {
    Migrator::up(db, None).await.map_err(db_err("migrate"))?;
    let t0 = at(1_795_860_000)?;
    let t1 = at(1_795_863_600)?;

    let social = roundtrip!(
        db,
        agency,
        agency::Model {
            id: "polo-nord".into(),
            name: "Polo Nord".into(),
            kind: "SOCIAL_SERVICE".into(),
            city: Some("Milano".into()),
            created_at: t0,
        },
        "polo-nord".to_owned()
    );
    let court = roundtrip!(
        db,
        agency,
        agency::Model {
            id: "tm-milano".into(),
            name: "Tribunale per i Minorenni di Milano".into(),
            kind: "JUVENILE_COURT".into(),
            city: None,
            created_at: t0,
        },
        "tm-milano".to_owned()
    );

    let mother_id = Uuid::now_v7();
    let mother = roundtrip!(
        db,
        person,
        person::Model {
            id: mother_id,
            given_name: "Amina".into(),
            family_name: "Diallo".into(),
            birth_on: Some(date(1995, 3, 14)?),
            sex: Sex::Female,
            fiscal_code: Some("DLLMNA95C54Z343X".into()),
            birth_place: Some("Dakar".into()),
            citizenship: Some("SN".into()),
            phone: Some("+39 333 0000000".into()),
            email: None,
            address: Some("via Roma 1".into()),
            municipality: Some("Milano".into()),
            languages: json!(["fr", "wo"]),
            mediator_needed: true,
            migration_status: MigrationStatus::ResidencePermit,
            permit_expires_on: Some(date(2027, 6, 30)?),
            ethnic_origin: None,
            created_at: t0,
            updated_at: t1,
        },
        mother_id
    );
    let child_id = Uuid::now_v7();
    let child = roundtrip!(
        db,
        person,
        person::Model {
            id: child_id,
            given_name: "Awa".into(),
            family_name: "Diallo".into(),
            birth_on: None,
            sex: Sex::Unknown,
            fiscal_code: None,
            birth_place: None,
            citizenship: None,
            phone: None,
            email: None,
            address: None,
            municipality: None,
            languages: json!([]),
            mediator_needed: false,
            migration_status: MigrationStatus::Unknown,
            permit_expires_on: None,
            ethnic_origin: None,
            created_at: t0,
            updated_at: t0,
        },
        child_id
    );

    let case_id = Uuid::now_v7();
    let case = roundtrip!(
        db,
        case_file,
        case_file::Model {
            id: case_id,
            reference: "PN-2026-0001".into(),
            status: CaseStatus::Active,
            lead_agency_id: social.id.clone(),
            case_manager: "op-1".into(),
            risk_level: RiskLevel::Critical,
            summary: Some("summary".into()),
            court_of_record_id: Some(court.id.clone()),
            opened_on: date(2026, 11, 1)?,
            closed_on: None,
            created_at: t0,
            updated_at: t1,
        },
        case_id
    );
    for (person_id, role) in [
        (mother.id, SubjectRole::Mother),
        (child.id, SubjectRole::Child),
    ] {
        roundtrip!(
            db,
            case_subject,
            case_subject::Model {
                case_id,
                person_id,
                role,
                created_at: t0,
            },
            (case_id, person_id)
        );
    }
    let member_id = Uuid::now_v7();
    roundtrip!(
        db,
        case_team_member,
        case_team_member::Model {
            id: member_id,
            case_id,
            agency_id: social.id.clone(),
            operator: "op-2".into(),
            role: "SOCIAL_WORKER".into(),
            from_on: date(2026, 11, 1)?,
            until_on: Some(date(2027, 11, 1)?),
            created_at: t0,
        },
        member_id
    );

    let referral_id = Uuid::now_v7();
    roundtrip!(
        db,
        referral,
        referral::Model {
            id: referral_id,
            reporter_agency_id: social.id.clone(),
            reporter_kind: "HOSPITAL".into(),
            reporter_operator: "op-9".into(),
            addressed_to_id: social.id.clone(),
            channel: ReferralChannel::Pec,
            urgency: Urgency::Immediate,
            description: None,
            received_at: t0,
            triage_outcome: Some(TriageOutcome::Accepted),
            triage_reason: Some("risk confirmed".into()),
            triaged_at: Some(t1),
            triaged_by: Some("op-1".into()),
            redirected_to_id: None,
            case_id: Some(case_id),
            created_at: t0,
        },
        referral_id
    );
    roundtrip!(
        db,
        referral_reason,
        referral_reason::Model {
            referral_id,
            reason: ReferralReason::DomesticViolence,
        },
        (referral_id, ReferralReason::DomesticViolence)
    );
    roundtrip!(
        db,
        referral_subject,
        referral_subject::Model {
            referral_id,
            person_id: child.id,
            role: SubjectRole::Child,
        },
        (referral_id, child.id)
    );

    let facility_id = Uuid::now_v7();
    roundtrip!(
        db,
        facility,
        facility::Model {
            id: facility_id,
            operator_agency_id: social.id.clone(),
            name: "Casa Aurora".into(),
            kind: FacilityKind::MotherChildCommunity,
            capacity: 8,
            address: "via Segreta 1".into(),
            city: Some("Milano".into()),
            secret: true,
            created_at: t0,
            updated_at: t0,
        },
        facility_id
    );

    let order_id = Uuid::now_v7();
    roundtrip!(
        db,
        court_order,
        court_order::Model {
            id: order_id,
            case_id,
            court_id: court.id.clone(),
            docket_number: "123/2026".into(),
            kind: CourtOrderKind::CommunityPlacement,
            issued_on: date(2026, 11, 10)?,
            summary: "placement in community".into(),
            text: None,
            created_at: t0,
        },
        order_id
    );
    let mandate_id = Uuid::now_v7();
    roundtrip!(
        db,
        court_order_mandate,
        court_order_mandate::Model {
            id: mandate_id,
            order_id,
            agency_id: social.id.clone(),
            description: "report in 90 days".into(),
            due_on: Some(date(2027, 2, 8)?),
            fulfilled_on: None,
            created_at: t0,
        },
        mandate_id
    );

    let placement_id = Uuid::now_v7();
    roundtrip!(
        db,
        placement,
        placement::Model {
            id: placement_id,
            case_id,
            facility_id,
            start_on: date(2026, 11, 15)?,
            planned_end_on: Some(date(2027, 5, 15)?),
            end_on: None,
            end_reason: None,
            emergency: false,
            authorising_order_id: Some(order_id),
            created_at: t0,
            updated_at: t0,
        },
        placement_id
    );
    for person_id in [mother.id, child.id] {
        roundtrip!(
            db,
            placement_guest,
            placement_guest::Model {
                placement_id,
                person_id,
            },
            (placement_id, person_id)
        );
    }
    let verification_id = Uuid::now_v7();
    roundtrip!(
        db,
        verification,
        verification::Model {
            id: verification_id,
            placement_id,
            due_on: date(2026, 12, 15)?,
            done_on: Some(date(2026, 12, 14)?),
            outcome: Some(VerificationOutcome::OnTrack),
            notes: None,
            recorded_by: Some("op-2".into()),
            created_at: t0,
        },
        verification_id
    );

    let health_id = Uuid::now_v7();
    roundtrip!(
        db,
        health_event,
        health_event::Model {
            id: health_id,
            person_id: child.id,
            case_id: Some(case_id),
            source_agency_id: social.id.clone(),
            kind: HealthEventKind::ErVisit,
            occurred_on: date(2026, 10, 30)?,
            summary: "minor injury".into(),
            created_at: t0,
        },
        health_id
    );
    let intervention_id = Uuid::now_v7();
    roundtrip!(
        db,
        intervention,
        intervention::Model {
            id: intervention_id,
            case_id,
            person_id: Some(mother.id),
            kind: InterventionKind::CulturalMediation,
            provider_agency_id: social.id.clone(),
            start_on: date(2026, 11, 20)?,
            end_on: None,
            notes: None,
            created_at: t0,
        },
        intervention_id
    );
    let note_id = Uuid::now_v7();
    roundtrip!(
        db,
        case_note,
        case_note::Model {
            id: note_id,
            case_id,
            author_agency_id: social.id.clone(),
            author_operator: "op-1".into(),
            data_class: "SOCIAL".into(),
            body: "first meeting".into(),
            created_at: t0,
        },
        note_id
    );
    let consent_id = Uuid::now_v7();
    roundtrip!(
        db,
        consent,
        consent::Model {
            id: consent_id,
            subject_id: child.id,
            given_by: ConsentGiver::Parent,
            given_by_person_id: Some(mother.id),
            data_classes: json!(["HEALTH"]),
            recipient_agencies: json!([]),
            recipient_kinds: json!(["HOSPITAL"]),
            purposes: json!(["HEALTHCARE"]),
            valid_from: t0,
            valid_until: None,
            withdrawn_at: None,
            evidence_ref: Some("prot. 42".into()),
            recorded_by_agency_id: social.id.clone(),
            recorded_by_operator: "op-1".into(),
            created_at: t0,
            propagated_at: None,
        },
        consent_id
    );
    let grant_id = Uuid::now_v7();
    roundtrip!(
        db,
        break_glass_grant,
        break_glass_grant::Model {
            id: grant_id,
            case_id,
            agency_id: social.id.clone(),
            operator: "op-3".into(),
            role: "CASE_MANAGER".into(),
            justification: "night emergency".into(),
            granted_at: t0,
            expires_at: t1,
            review: BreakGlassReview::Pending,
            reviewed_by: None,
            review_note: None,
            reviewed_at: None,
            created_at: t0,
        },
        grant_id
    );
    roundtrip!(
        db,
        access_log_entry,
        access_log_entry::Model {
            seq: 1,
            at: t1,
            operator: "op-1".into(),
            agency_id: social.id.clone(),
            role: "CASE_MANAGER".into(),
            purpose: "CASE_MANAGEMENT".into(),
            operation: "query caseFile".into(),
            query_hash: "qh".into(),
            records: json!([case_id.to_string()]).to_string(),
            disclosed_classes: " IDENTITY ".into(),
            withheld_classes: " HEALTH ".into(),
            policy_version: "v1".into(),
            prev_hash: String::new(),
            hash: "h1".into(),
        },
        1_i64
    );

    // Relations ----------------------------------------------------------
    let mut subjects = case
        .find_related(person::Entity)
        .all(db)
        .await
        .map_err(db_err("case -> persons"))?;
    subjects.sort_by_key(|p| p.id);
    let mut expected = vec![mother.clone(), child.clone()];
    expected.sort_by_key(|p| p.id);
    if subjects != expected {
        return Err(format!("case -> persons: {subjects:?}"));
    }
    let lead = case
        .find_related(agency::Entity)
        .one(db)
        .await
        .map_err(db_err("case -> lead agency"))?;
    if lead.as_ref() != Some(&social) {
        return Err(format!("case -> lead agency: {lead:?}"));
    }
    let led = social
        .find_related(case_file::Entity)
        .all(db)
        .await
        .map_err(db_err("agency -> lead cases"))?;
    if led != vec![case.clone()] {
        return Err(format!("agency -> lead cases: {led:?}"));
    }
    let guests = placement::Entity::find_by_id(placement_id)
        .find_with_related(person::Entity)
        .all(db)
        .await
        .map_err(db_err("placement -> guests"))?;
    if guests.len() != 1 || guests[0].1.len() != 2 {
        return Err(format!("placement -> guests: {guests:?}"));
    }
    let consents = child
        .find_related(consent::Entity)
        .all(db)
        .await
        .map_err(db_err("person -> consents"))?;
    if consents.len() != 1 {
        return Err(format!("person -> consents (as subject): {consents:?}"));
    }
    let placements = facility::Entity::find_by_id(facility_id)
        .find_with_related(placement::Entity)
        .all(db)
        .await
        .map_err(db_err("facility -> placements"))?;
    if placements.len() != 1 || placements[0].1.len() != 1 {
        return Err(format!("facility -> placements: {placements:?}"));
    }
    Ok(())
}

#[tokio::test]
async fn every_entity_roundtrips_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rete.sqlite");
    let mut opts = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    opts.max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.foreign_keys(true));
    let db = Database::connect(opts).await.expect("connect sqlite");
    db.execute_raw(Statement::from_string(
        DbBackend::Sqlite,
        "PRAGMA foreign_keys = ON",
    ))
    .await
    .expect("enable foreign keys");
    let result = roundtrip_every_table(&db).await;
    db.close().await.expect("close");
    result.expect("sqlite round trip");
}

#[tokio::test]
async fn every_entity_roundtrips_on_postgres() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        return;
    };
    if !url.starts_with("postgres") {
        return;
    }
    let name = format!("rete_ent_{}", Uuid::new_v4().simple());
    let admin = Database::connect(quiet(&url)).await.expect("connect admin");
    admin
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(r#"CREATE DATABASE "{name}""#),
        ))
        .await
        .expect("create database");
    let result = async {
        let db = Database::connect(quiet(&with_database(&url, &name)))
            .await
            .map_err(db_err("connect test database"))?;
        let result = roundtrip_every_table(&db).await;
        db.close().await.map_err(db_err("close"))?;
        result
    }
    .await;
    admin
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#),
        ))
        .await
        .expect("drop database");
    admin.close().await.expect("close admin");
    result.expect("postgres round trip");
}

fn quiet(url: &str) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(2).sqlx_logging(false);
    opts
}

/// `url` with its database name replaced by `name` (query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}
