//! Schema tests of the migrations, on SQLite (a temporary file, foreign keys
//! on) and — when `DATABASE_URL` starts with `postgres` — on a fresh
//! PostgreSQL database created for each test and dropped afterwards.
//!
//! Test bodies return `Result` rather than panicking, so the PostgreSQL
//! database is dropped even when a check fails.

use migration::{Migrator, MigratorTrait, SchemaManager};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};
use sea_orm::{DbBackend, SqlErr};

const TABLES: [&str; 24] = [
    "agency",
    "person",
    "case_file",
    "case_subject",
    "case_team_member",
    "referral",
    "referral_reason",
    "referral_subject",
    "facility",
    "court_order",
    "court_order_mandate",
    "placement",
    "placement_guest",
    "verification",
    "health_event",
    "intervention",
    "case_note",
    "consent",
    "break_glass_grant",
    "access_log_entry",
    "case_protection",
    "access_log_touch",
    "access_log_checkpoint",
    "access_log_verification",
];

type TestResult = Result<(), String>;

fn fail<T>(msg: impl Into<String>) -> Result<T, String> {
    Err(msg.into())
}

fn db_err(context: &str) -> impl FnOnce(DbErr) -> String + '_ {
    move |e| format!("{context}: {e}")
}

/// Runs `body` on a migrated-from-scratch SQLite file database and, when
/// `DATABASE_URL` points at PostgreSQL, on a fresh PostgreSQL database.
async fn on_every_backend<F>(body: F)
where
    F: AsyncFn(&DatabaseConnection) -> TestResult,
{
    // SQLite: a temporary file, one pooled connection, foreign keys on.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rete.sqlite");
    let mut opts = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.foreign_keys(true));
    let db = Database::connect(opts).await.expect("connect sqlite");
    db.execute_raw(Statement::from_string(
        DbBackend::Sqlite,
        "PRAGMA foreign_keys = ON",
    ))
    .await
    .expect("enable foreign keys");
    let result = body(&db).await;
    db.close().await.expect("close sqlite");
    if let Err(e) = result {
        panic!("sqlite: {e}");
    }

    // PostgreSQL, if configured.
    let Ok(url) = std::env::var("DATABASE_URL") else {
        return;
    };
    if !url.starts_with("postgres") {
        return;
    }
    let name = format!("rete_mig_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(quiet(&url))
        .await
        .expect("connect postgres (DATABASE_URL)");
    admin
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(r#"CREATE DATABASE "{name}""#),
        ))
        .await
        .expect("create test database");
    let result = async {
        let db = Database::connect(quiet(&with_database(&url, &name)))
            .await
            .map_err(db_err("connect test database"))?;
        let result = body(&db).await;
        db.close().await.map_err(db_err("close test database"))?;
        result
    }
    .await;
    admin
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#),
        ))
        .await
        .expect("drop test database");
    admin.close().await.expect("close postgres admin");
    if let Err(e) = result {
        panic!("postgres: {e}");
    }
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

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map(|_| ())
}

async fn must_succeed(db: &DatabaseConnection, sql: &str) -> TestResult {
    exec(db, sql)
        .await
        .map_err(|e| format!("expected success of `{sql}`, got: {e}"))
}

/// Expects `sql` to fail; returns the error for closer inspection.
async fn must_fail(db: &DatabaseConnection, sql: &str) -> Result<DbErr, String> {
    match exec(db, sql).await {
        Ok(()) => fail(format!("expected `{sql}` to be rejected, it was accepted")),
        Err(e) => Ok(e),
    }
}

/// Expects `sql` to be rejected by the CHECK constraint `name`.
async fn must_violate_check(db: &DatabaseConnection, sql: &str, name: &str) -> TestResult {
    let e = must_fail(db, sql).await?;
    if e.to_string().contains(name) {
        Ok(())
    } else {
        fail(format!(
            "expected `{sql}` to violate CHECK {name}, got: {e}"
        ))
    }
}

async fn migrate(db: &DatabaseConnection) -> TestResult {
    Migrator::up(db, None).await.map_err(db_err("migrate up"))
}

async fn count_tables(db: &DatabaseConnection) -> Result<usize, String> {
    let manager = SchemaManager::new(db);
    let mut n = 0;
    for table in TABLES {
        if manager
            .has_table(table)
            .await
            .map_err(db_err("has_table"))?
        {
            n += 1;
        }
    }
    Ok(n)
}

// Fixture rows -------------------------------------------------------------

const CASE_ID: &str = "01900000-0000-7000-8000-000000000001";
const PERSON_ID: &str = "01900000-0000-7000-8000-000000000002";
const MISSING_ID: &str = "01900000-0000-7000-8000-0000000000ff";
const PLACEMENT_ID: &str = "01900000-0000-7000-8000-000000000003";
const FACILITY_ID: &str = "01900000-0000-7000-8000-000000000004";

const TS: &str = "2026-11-28T10:00:00Z";

async fn seed(db: &DatabaseConnection) -> TestResult {
    must_succeed(
        db,
        &format!(
            "INSERT INTO agency (id, name, kind, city, created_at) VALUES \
             ('polo-nord', 'Polo Nord', 'SOCIAL_SERVICE', 'Milano', '{TS}'), \
             ('tm-milano', 'Tribunale per i Minorenni', 'JUVENILE_COURT', NULL, '{TS}')"
        ),
    )
    .await?;
    must_succeed(
        db,
        &format!(
            "INSERT INTO case_file (id, reference, status, lead_agency_id, case_manager, \
             risk_level, summary, court_of_record_id, opened_on, closed_on, created_at, updated_at) \
             VALUES ('{CASE_ID}', 'PN-2026-0001', 'INTAKE', 'polo-nord', 'op-1', 'HIGH', NULL, \
             'tm-milano', '2026-11-01', NULL, '{TS}', '{TS}')"
        ),
    )
    .await?;
    must_succeed(db, &person_sql(PERSON_ID, "RSSMRA80A01F205X", "FEMALE")).await
}

fn person_sql(id: &str, fiscal_code: &str, sex: &str) -> String {
    format!(
        "INSERT INTO person (id, given_name, family_name, birth_on, sex, fiscal_code, languages, \
         mediator_needed, migration_status, created_at, updated_at) VALUES ('{id}', 'Maria', \
         'Rossi', '1980-01-01', '{sex}', '{fiscal_code}', '[\"it\"]', FALSE, 'ITALIAN_CITIZEN', \
         '{TS}', '{TS}')"
    )
}

fn case_sql(id: &str, reference: &str, status: &str) -> String {
    format!(
        "INSERT INTO case_file (id, reference, status, lead_agency_id, case_manager, risk_level, \
         opened_on, created_at, updated_at) VALUES ('{id}', '{reference}', '{status}', \
         'polo-nord', 'op-1', 'LOW', '2026-11-02', '{TS}', '{TS}')"
    )
}

// Tests --------------------------------------------------------------------

#[tokio::test]
async fn up_down_up() {
    on_every_backend(async |db| {
        migrate(db).await?;
        let n = count_tables(db).await?;
        if n != TABLES.len() {
            return fail(format!("after up: {n} of {} tables exist", TABLES.len()));
        }
        // Idempotent: nothing pending.
        migrate(db).await?;

        Migrator::down(db, None)
            .await
            .map_err(db_err("migrate down"))?;
        let n = count_tables(db).await?;
        if n != 0 {
            return fail(format!("after down: {n} tables still exist"));
        }

        migrate(db).await?;
        let n = count_tables(db).await?;
        if n != TABLES.len() {
            return fail(format!("after second up: {n} of {} tables", TABLES.len()));
        }
        // The schema is usable after the round trip.
        seed(db).await
    })
    .await;
}

#[tokio::test]
async fn bad_enum_values_are_rejected() {
    on_every_backend(async |db| {
        migrate(db).await?;
        seed(db).await?;
        must_violate_check(
            db,
            &format!(
                "INSERT INTO agency (id, name, kind, created_at) \
                 VALUES ('da-mario', 'Da Mario', 'PIZZERIA', '{TS}')"
            ),
            "ck_agency_kind",
        )
        .await?;
        must_violate_check(
            db,
            &case_sql(
                "01900000-0000-7000-8000-000000000010",
                "PN-2026-0002",
                "OPEN",
            ),
            "ck_case_file_status",
        )
        .await?;
        must_succeed(
            db,
            &case_sql(
                "01900000-0000-7000-8000-000000000010",
                "PN-2026-0002",
                "ACTIVE",
            ),
        )
        .await?;
        must_violate_check(
            db,
            &person_sql("01900000-0000-7000-8000-000000000011", "X1", "F"),
            "ck_person_sex",
        )
        .await?;
        must_violate_check(
            db,
            &format!(
                "INSERT INTO case_note (id, case_id, author_agency_id, author_operator, \
                 data_class, body, created_at) VALUES ('01900000-0000-7000-8000-000000000012', \
                 '{CASE_ID}', 'polo-nord', 'op-1', 'GOSSIP', 'x', '{TS}')"
            ),
            "ck_case_note_data_class",
        )
        .await?;
        // A nullable enum column accepts NULL but not a bad value.
        let referral = |outcome: &str| {
            format!(
                "INSERT INTO referral (id, reporter_agency_id, reporter_kind, reporter_operator, \
                 addressed_to_id, channel, urgency, received_at, triage_outcome, triage_reason, \
                 triaged_at, triaged_by, created_at) VALUES \
                 ('01900000-0000-7000-8000-000000000013', 'polo-nord', 'HOSPITAL', 'op-9', \
                 'polo-nord', 'PEC', 'HIGH', '{TS}', {outcome}, {reason}, {at}, {by}, '{TS}')",
                reason = if outcome == "NULL" { "NULL" } else { "'why'" },
                at = if outcome == "NULL" {
                    "NULL".to_owned()
                } else {
                    format!("'{TS}'")
                },
                by = if outcome == "NULL" { "NULL" } else { "'op-1'" },
            )
        };
        must_violate_check(db, &referral("'MAYBE'"), "ck_referral_triage_outcome").await?;
        must_succeed(db, &referral("NULL")).await
    })
    .await;
}

#[tokio::test]
async fn foreign_key_violations_are_rejected() {
    on_every_backend(async |db| {
        migrate(db).await?;
        seed(db).await?;
        let e = must_fail(
            db,
            &format!(
                "INSERT INTO case_subject (case_id, person_id, role, created_at) \
                 VALUES ('{CASE_ID}', '{MISSING_ID}', 'CHILD', '{TS}')"
            ),
        )
        .await?;
        if !matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) {
            return fail(format!("expected a foreign-key violation, got: {e}"));
        }
        must_succeed(
            db,
            &format!(
                "INSERT INTO case_subject (case_id, person_id, role, created_at) \
                 VALUES ('{CASE_ID}', '{PERSON_ID}', 'MOTHER', '{TS}')"
            ),
        )
        .await?;
        // RESTRICT: a case with subjects' notes cannot vanish under them;
        // CASCADE: the pure link row goes with its person.
        must_succeed(
            db,
            &format!(
                "INSERT INTO case_note (id, case_id, author_agency_id, author_operator, \
                 data_class, body, created_at) VALUES ('01900000-0000-7000-8000-000000000020', \
                 '{CASE_ID}', 'polo-nord', 'op-1', 'SOCIAL', 'first meeting', '{TS}')"
            ),
        )
        .await?;
        // (SQLite reports a RESTRICT violation with extended code 1811, not
        // 787, so `sql_err()` does not classify it there: match the message.)
        let e = must_fail(db, &format!("DELETE FROM case_file WHERE id = '{CASE_ID}'")).await?;
        if !e.to_string().to_lowercase().contains("foreign key") {
            return fail(format!("expected ON DELETE RESTRICT, got: {e}"));
        }
        must_succeed(db, &format!("DELETE FROM person WHERE id = '{PERSON_ID}'")).await?;
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT role FROM case_subject",
            ))
            .await
            .map_err(db_err("select case_subject"))?;
        if !rows.is_empty() {
            return fail("case_subject row survived the deletion of its person");
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unique_keys_are_enforced() {
    on_every_backend(async |db| {
        migrate(db).await?;
        seed(db).await?;
        let e = must_fail(
            db,
            &case_sql(
                "01900000-0000-7000-8000-000000000030",
                "PN-2026-0001",
                "INTAKE",
            ),
        )
        .await?;
        if !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            return fail(format!(
                "expected a unique violation on reference, got: {e}"
            ));
        }
        // fiscal_code is unique but nullable: many NULLs are fine.
        let e = must_fail(
            db,
            &person_sql(
                "01900000-0000-7000-8000-000000000031",
                "RSSMRA80A01F205X",
                "MALE",
            ),
        )
        .await?;
        if !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            return fail(format!(
                "expected a unique violation on fiscal_code, got: {e}"
            ));
        }
        for id in ["32", "33"] {
            must_succeed(
                db,
                &format!(
                    "INSERT INTO person (id, given_name, family_name, sex, languages, \
                     mediator_needed, migration_status, created_at, updated_at) VALUES \
                     ('01900000-0000-7000-8000-0000000000{id}', 'Anna', 'Bianchi', 'UNKNOWN', \
                     '[]', TRUE, 'UNKNOWN', '{TS}', '{TS}')"
                ),
            )
            .await?;
        }
        // (court_id, docket_number) is unique.
        let order = |id: &str| {
            format!(
                "INSERT INTO court_order (id, case_id, court_id, docket_number, kind, issued_on, \
                 summary, created_at) VALUES ('01900000-0000-7000-8000-0000000000{id}', \
                 '{CASE_ID}', 'tm-milano', '123/2026', 'COMMUNITY_PLACEMENT', '2026-11-10', \
                 'placement', '{TS}')"
            )
        };
        must_succeed(db, &order("34")).await?;
        let e = must_fail(db, &order("35")).await?;
        if !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            return fail(format!("expected a unique violation on docket, got: {e}"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn other_checks_are_enforced() {
    on_every_backend(async |db| {
        migrate(db).await?;
        seed(db).await?;

        // case_team_member: until_on >= from_on.
        let member = |id: &str, until: &str| {
            format!(
                "INSERT INTO case_team_member (id, case_id, agency_id, operator, role, from_on, \
                 until_on, created_at) VALUES ('01900000-0000-7000-8000-0000000000{id}', \
                 '{CASE_ID}', 'polo-nord', 'op-2', 'SOCIAL_WORKER', '2026-11-10', {until}, '{TS}')"
            )
        };
        must_violate_check(
            db,
            &member("40", "'2026-11-09'"),
            "ck_case_team_member_period",
        )
        .await?;
        must_succeed(db, &member("41", "NULL")).await?;
        must_violate_check(
            db,
            &member("42", "NULL").replace("SOCIAL_WORKER", "CHEF"),
            "ck_case_team_member_role",
        )
        .await?;

        // referral: triage columns all null or all set.
        must_violate_check(
            db,
            &format!(
                "INSERT INTO referral (id, reporter_agency_id, reporter_kind, reporter_operator, \
                 addressed_to_id, channel, urgency, received_at, triage_outcome, created_at) \
                 VALUES ('01900000-0000-7000-8000-000000000043', 'polo-nord', 'SCHOOL', 'op-9', \
                 'polo-nord', 'EMAIL', 'LOW', '{TS}', 'ACCEPTED', '{TS}')"
            ),
            "ck_referral_triage",
        )
        .await?;

        // facility: capacity >= 0.
        let facility = |id: &str, capacity: i32| {
            format!(
                "INSERT INTO facility (id, operator_agency_id, name, kind, capacity, address, \
                 secret, created_at, updated_at) VALUES ('{id}', 'polo-nord', 'Casa Aurora', \
                 'SHELTER', {capacity}, 'via Segreta 1', TRUE, '{TS}', '{TS}')"
            )
        };
        must_violate_check(
            db,
            &facility("01900000-0000-7000-8000-000000000044", -1),
            "ck_facility_capacity",
        )
        .await?;
        must_succeed(db, &facility(FACILITY_ID, 6)).await?;

        // placement: end_on and planned_end_on not before start_on.
        let placement = |id: &str, planned: &str, end: &str| {
            format!(
                "INSERT INTO placement (id, case_id, facility_id, start_on, planned_end_on, \
                 end_on, emergency, created_at, updated_at) VALUES ('{id}', '{CASE_ID}', \
                 '{FACILITY_ID}', '2026-11-15', {planned}, {end}, FALSE, '{TS}', '{TS}')"
            )
        };
        must_violate_check(
            db,
            &placement(
                "01900000-0000-7000-8000-000000000045",
                "NULL",
                "'2026-11-14'",
            ),
            "ck_placement_end",
        )
        .await?;
        must_violate_check(
            db,
            &placement(
                "01900000-0000-7000-8000-000000000046",
                "'2026-01-01'",
                "NULL",
            ),
            "ck_placement_planned_end",
        )
        .await?;
        must_succeed(db, &placement(PLACEMENT_ID, "'2027-05-15'", "NULL")).await?;

        // verification: outcome null iff done_on null.
        let verification = |id: &str, done: &str, outcome: &str| {
            format!(
                "INSERT INTO verification (id, placement_id, due_on, done_on, outcome, \
                 created_at) VALUES ('01900000-0000-7000-8000-0000000000{id}', \
                 '{PLACEMENT_ID}', '2026-12-15', {done}, {outcome}, '{TS}')"
            )
        };
        must_violate_check(
            db,
            &verification("47", "'2026-12-14'", "NULL"),
            "ck_verification_done",
        )
        .await?;
        must_violate_check(
            db,
            &verification("48", "NULL", "'ON_TRACK'"),
            "ck_verification_done",
        )
        .await?;
        must_succeed(db, &verification("49", "NULL", "NULL")).await?;
        must_succeed(db, &verification("50", "'2026-12-14'", "'CONCERNS'")).await?;

        // break_glass_grant: justification must not be blank.
        let grant = |id: &str, justification: &str| {
            format!(
                "INSERT INTO break_glass_grant (id, case_id, agency_id, operator, role, \
                 justification, granted_at, expires_at, review, created_at) VALUES \
                 ('01900000-0000-7000-8000-0000000000{id}', '{CASE_ID}', 'polo-nord', 'op-3', \
                 'CASE_MANAGER', '{justification}', '{TS}', '{TS}', 'PENDING', '{TS}')"
            )
        };
        must_violate_check(
            db,
            &grant("51", "   "),
            "ck_break_glass_grant_justification",
        )
        .await?;
        must_succeed(db, &grant("52", "child at risk, night emergency")).await?;

        // access_log_entry: seq positive and unique. Role and purpose are
        // not checked: a word added to the vocabulary must never stop the
        // log (and with it every response). The chain, not the database,
        // guards the rest (`rete audit verify`).
        let entry = |seq: i64, hash: &str| {
            format!(
                "INSERT INTO access_log_entry (seq, at, operator, agency_id, role, purpose, \
                 operation, query_hash, records, disclosed_classes, withheld_classes, \
                 policy_version, prev_hash, hash) VALUES ({seq}, '{TS}', 'op-1', 'polo-nord', \
                 'CASE_MANAGER', 'AUDIT', 'query', 'qh', '[]', ' ', ' ', 'v1', '', '{hash}')"
            )
        };
        must_violate_check(db, &entry(0, "h0"), "ck_access_log_entry_seq").await?;
        must_succeed(db, &entry(1, "h1")).await?;
        let e = must_fail(db, &entry(1, "h2")).await?;
        if !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            return fail(format!("expected a unique violation on seq, got: {e}"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn placement_events_take_verifications_and_keep_their_keys() {
    on_every_backend(async |db| {
        migrate(db).await?;
        seed(db).await?;
        must_succeed(
            db,
            &format!(
                "INSERT INTO facility (id, operator_agency_id, name, kind, capacity, address, \
                 secret, created_at, updated_at) VALUES ('{FACILITY_ID}', 'polo-nord', 'Aurora', \
                 'MOTHER_CHILD_COMMUNITY', 6, 'via Aurora 1', FALSE, '{TS}', '{TS}')"
            ),
        )
        .await?;
        must_succeed(
            db,
            &format!(
                "INSERT INTO placement (id, case_id, facility_id, start_on, emergency, created_at, \
                 updated_at) VALUES ('{PLACEMENT_ID}', '{CASE_ID}', '{FACILITY_ID}', '2026-11-15', \
                 FALSE, '{TS}', '{TS}')"
            ),
        )
        .await?;
        let event = |id: &str, placement: &str, kind: &str, source: &str| {
            format!(
                "INSERT INTO placement_event (id, placement_id, kind, occurred_at, note, \
                 reported_by_agency_id, instance, source_event_id, created_at) VALUES \
                 ('01900000-0000-7000-8000-0000000000{id}', '{placement}', '{kind}', '{TS}', NULL, \
                 'polo-nord', 'aurora', '{source}', '{TS}')"
            )
        };
        must_succeed(db, &event("60", PLACEMENT_ID, "ARRIVAL", "evt-1")).await?;
        must_succeed(db, &event("61", PLACEMENT_ID, "VERIFICATION", "evt-2")).await?;
        must_violate_check(
            db,
            &event("62", PLACEMENT_ID, "PARTY", "evt-3"),
            "ck_placement_event_kind",
        )
        .await?;
        let e = must_fail(db, &event("63", PLACEMENT_ID, "PRESENCE", "evt-1")).await?;
        if !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            return fail(format!(
                "expected a unique violation on (instance, source_event_id), got: {e}"
            ));
        }
        let e = must_fail(db, &event("64", MISSING_ID, "PRESENCE", "evt-4")).await?;
        if !matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) {
            return fail(format!("expected a foreign key violation, got: {e}"));
        }

        // Down to before the seventh migration (and those after it): the
        // other events stay, VERIFICATION is refused again.
        let after_sixth = Migrator::migrations().len() as u32 - 6;
        Migrator::down(db, Some(after_sixth))
            .await
            .map_err(db_err("migrate down past the seventh migration"))?;
        must_violate_check(
            db,
            &event("65", PLACEMENT_ID, "VERIFICATION", "evt-5"),
            "ck_placement_event_kind",
        )
        .await?;
        let e = must_fail(db, &event("66", PLACEMENT_ID, "PRESENCE", "evt-1")).await?;
        if !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            return fail(format!("expected the arrival kept, got: {e}"));
        }
        migrate(db).await?;
        must_succeed(db, &event("67", PLACEMENT_ID, "VERIFICATION", "evt-6")).await
    })
    .await;
}

#[test]
fn database_name_is_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}

/// On PostgreSQL the access log's `records` is compressed with LZ4 when the
/// server has it (it is the appender's largest column); the text, and so
/// every hash, reads back unchanged. SQLite has nothing to check.
#[tokio::test]
async fn access_log_records_use_lz4_on_postgres() {
    on_every_backend(async |db| {
        migrate(db).await?;
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let one = |sql: &str| {
            let sql = sql.to_string();
            async move {
                db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
                    .await
                    .map_err(db_err("query"))?
                    .ok_or_else(|| "no row".to_string())
            }
        };
        // A server built without LZ4 keeps pglz (the migration says so in a
        // notice); Debian's and the official images have it.
        let has_lz4 = one("SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
            .await?
            .try_get_by_index::<i64>(0)
            .map_err(db_err("has lz4"))?
            > 0;
        let method = one(
            "SELECT attcompression::text FROM pg_attribute \
             WHERE attrelid = 'access_log_entry'::regclass AND attname = 'records'",
        )
        .await?
        .try_get_by_index::<String>(0)
        .map_err(db_err("attcompression"))?;
        let want = if has_lz4 { "l" } else { "" };
        if method != want {
            return fail(format!(
                "access_log_entry.records compression is {method:?}, want {want:?}"
            ));
        }
        // A compressible value over the TOAST threshold reads back as written.
        let records = format!("[{}]", vec!["{\"kind\":\"CASE\"}"; 400].join(","));
        let sql = format!(
            "INSERT INTO access_log_entry (seq, at, operator, agency_id, role, purpose, \
             operation, query_hash, records, disclosed_classes, withheld_classes, \
             policy_version, prev_hash, hash) VALUES (1, '{TS}', 'op', 'polo-nord', \
             'CASE_MANAGER', 'CASE_MANAGEMENT', 'query', 'q', '{records}', ' ', ' ', 'v', \
             'p', 'h')"
        );
        must_succeed(db, &sql).await?;
        let back = one("SELECT records, pg_column_compression(records)::text FROM access_log_entry WHERE seq = 1").await?;
        let text = back.try_get_by_index::<String>(0).map_err(db_err("records"))?;
        let how = back
            .try_get_by_index::<Option<String>>(1)
            .map_err(db_err("pg_column_compression"))?;
        if text != records {
            return fail("records did not read back as written");
        }
        if has_lz4 && how.as_deref() != Some("lz4") {
            return fail(format!("a stored record is compressed with {how:?}, not lz4"));
        }
        Ok(())
    })
    .await;
}
