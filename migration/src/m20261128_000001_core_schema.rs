//! The core schema of `docs/data-model.md`: every table, with its foreign keys,
//! unique keys, enum CHECKs, other CHECKs and lookup indexes.
//!
//! Frozen history: the value lists below are deliberately duplicated here (not
//! taken from `entities` or `policy`), so that this migration keeps meaning
//! what it meant when it was first applied.

use sea_orm_migration::prelude::*;

// ---------------------------------------------------------------------------
// Enumerations (SCREAMING_SNAKE_CASE values stored as TEXT, restricted by CHECK)
// ---------------------------------------------------------------------------

const AGENCY_KINDS: &[&str] = &[
    "SOCIAL_SERVICE",
    "SOCIAL_DISTRICT",
    "JUVENILE_COURT",
    "HOSPITAL",
    "CONSULTORIO",
    "ANTI_VIOLENCE_CENTRE",
    "RECEPTION_COMMUNITY",
    "COOPERATIVE",
    "ASSOCIATION",
    "LAW_ENFORCEMENT",
    "SCHOOL",
];
const ROLES: &[&str] = &[
    "CASE_MANAGER",
    "SOCIAL_WORKER",
    "PSYCHOLOGIST",
    "HEALTH_PROFESSIONAL",
    "EDUCATOR",
    "MEDIATOR",
    "JUDGE",
    "COURT_CLERK",
    "INTAKE_OPERATOR",
    "PRIVACY_OFFICER",
    "INTEGRATOR",
    "ANALYST",
];
const PURPOSES: &[&str] = &[
    "CASE_MANAGEMENT",
    "HEALTHCARE",
    "JUDICIAL",
    "PLACEMENT",
    "EMERGENCY",
    "STATISTICS",
    "AUDIT",
    "SYNC",
];
const DATA_CLASSES: &[&str] = &[
    "ADMINISTRATIVE",
    "IDENTITY",
    "CONTACT",
    "SECRET_LOCATION",
    "HEALTH",
    "JUDICIAL",
    "SOCIAL",
    "MIGRATION",
    "ETHNIC_ORIGIN",
    "VIOLENCE",
];
const CASE_STATUSES: &[&str] = &["INTAKE", "ASSESSMENT", "ACTIVE", "SUSPENDED", "CLOSED"];
const RISK_LEVELS: &[&str] = &["LOW", "MEDIUM", "HIGH", "CRITICAL"];
const SUBJECT_ROLES: &[&str] = &["CHILD", "MOTHER", "FATHER", "GUARDIAN", "OTHER"];
const SEXES: &[&str] = &["FEMALE", "MALE", "OTHER", "UNKNOWN"];
const MIGRATION_STATUSES: &[&str] = &[
    "ITALIAN_CITIZEN",
    "EU_CITIZEN",
    "RESIDENCE_PERMIT",
    "PERMIT_PENDING",
    "ASYLUM_SEEKER",
    "REFUGEE",
    "UNDOCUMENTED",
    "UNKNOWN",
];
const REFERRAL_CHANNELS: &[&str] = &[
    "PHONE",
    "EMAIL",
    "PEC",
    "IN_PERSON",
    "CALL_CENTER",
    "SYSTEM",
];
const REFERRAL_REASONS: &[&str] = &[
    "MALTREATMENT",
    "DOMESTIC_VIOLENCE",
    "PREGNANCY",
    "HOUSING_LOSS",
    "NEGLECT",
    "SEXUAL_ABUSE",
    "TRAFFICKING",
    "OTHER",
];
const URGENCIES: &[&str] = &["LOW", "MEDIUM", "HIGH", "IMMEDIATE"];
const TRIAGE_OUTCOMES: &[&str] = &["ACCEPTED", "REDIRECTED", "DISMISSED"];
const FACILITY_KINDS: &[&str] = &["MOTHER_CHILD_COMMUNITY", "SHELTER", "SOCIAL_HOUSING"];
const VERIFICATION_OUTCOMES: &[&str] = &["ON_TRACK", "CONCERNS", "CRITICAL"];
const COURT_ORDER_KINDS: &[&str] = &[
    "CUSTODY_TO_SOCIAL_SERVICE",
    "COMMUNITY_PLACEMENT",
    "PARENTAL_RESPONSIBILITY_LIMITATION",
    "EMERGENCY_REMOVAL_RATIFICATION",
    "REPORT_REQUEST",
    "OTHER",
];
const HEALTH_EVENT_KINDS: &[&str] = &[
    "ER_VISIT",
    "PREGNANCY",
    "BIRTH",
    "INJURY_REPORT",
    "HOSPITALISATION",
    "OUTPATIENT_VISIT",
    "OTHER",
];
const INTERVENTION_KINDS: &[&str] = &[
    "CULTURAL_MEDIATION",
    "PSYCHOLOGICAL_SUPPORT",
    "ETHNOCLINICAL",
    "DAY_SERVICE",
    "HOUSING",
    "EDUCATIONAL",
    "OTHER",
];
const CONSENT_GIVERS: &[&str] = &["SUBJECT", "PARENT", "GUARDIAN"];
const BREAK_GLASS_REVIEWS: &[&str] = &["PENDING", "APPROVED", "FLAGGED"];

// ---------------------------------------------------------------------------
// Column and constraint helpers
// ---------------------------------------------------------------------------

fn uuid_pk(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

fn uuid(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().to_owned()
}

fn uuid_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().null().to_owned()
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}

fn date(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).date().not_null().to_owned()
}

fn date_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).date().null().to_owned()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn timestamp_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn json(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).json().not_null().to_owned()
}

fn boolean(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).boolean().not_null().to_owned()
}

/// `CONSTRAINT ck_<table>_<col> CHECK (col IN (...))`. A NULL passes the
/// check, so the same constraint serves nullable enum columns.
fn enum_check(table: &str, col: impl IntoIden, values: &[&str]) -> Check {
    let col = col.into_iden();
    Check::named(
        format!("ck_{table}_{col}"),
        Expr::col(col).is_in(values.iter().copied()),
    )
}

/// A named foreign key `fk_<table>_<col>`.
fn fk(
    table: &str,
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    let from_col = from_col.into_iden();
    ForeignKey::create()
        .name(format!("fk_{table}_{from_col}"))
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(on_delete)
        .to_owned()
}

/// A lookup index `idx_<table>_<col>`.
fn index(table: &str, on: impl IntoIden, col: impl IntoIden) -> IndexCreateStatement {
    let col = col.into_iden();
    Index::create()
        .name(format!("idx_{table}_{col}"))
        .table(on)
        .col(col)
        .to_owned()
}

const RESTRICT: ForeignKeyAction = ForeignKeyAction::Restrict;
const CASCADE: ForeignKeyAction = ForeignKeyAction::Cascade;

// ---------------------------------------------------------------------------
// The migration
// ---------------------------------------------------------------------------

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// All or nothing, on SQLite too (its DDL is transactional).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Reverse dependency order; dropping a table drops its indexes.
        for table in TABLES_IN_ORDER.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Table names in dependency (creation) order.
const TABLES_IN_ORDER: &[&str] = &[
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
];

/// Every `CREATE TABLE`, in dependency order (the same as [`TABLES_IN_ORDER`]).
fn tables() -> Vec<TableCreateStatement> {
    vec![
        // agency ------------------------------------------------------------
        Table::create()
            .table(Agency::Table)
            .col(ColumnDef::new(Agency::Id).text().not_null().primary_key())
            .col(text(Agency::Name))
            .col(text(Agency::Kind))
            .col(text_null(Agency::City))
            .col(timestamp(Agency::CreatedAt))
            .check(enum_check("agency", Agency::Kind, AGENCY_KINDS))
            .to_owned(),
        // person ------------------------------------------------------------
        Table::create()
            .table(Person::Table)
            .col(uuid_pk(Person::Id))
            .col(text(Person::GivenName))
            .col(text(Person::FamilyName))
            .col(date_null(Person::BirthOn))
            .col(text(Person::Sex))
            .col(text_null(Person::FiscalCode).unique_key())
            .col(text_null(Person::BirthPlace))
            .col(text_null(Person::Citizenship))
            .col(text_null(Person::Phone))
            .col(text_null(Person::Email))
            .col(text_null(Person::Address))
            .col(text_null(Person::Municipality))
            .col(json(Person::Languages))
            .col(boolean(Person::MediatorNeeded))
            .col(text(Person::MigrationStatus))
            .col(date_null(Person::PermitExpiresOn))
            .col(text_null(Person::EthnicOrigin))
            .col(timestamp(Person::CreatedAt))
            .col(timestamp(Person::UpdatedAt))
            .check(enum_check("person", Person::Sex, SEXES))
            .check(enum_check(
                "person",
                Person::MigrationStatus,
                MIGRATION_STATUSES,
            ))
            .to_owned(),
        // case_file ---------------------------------------------------------
        Table::create()
            .table(CaseFile::Table)
            .col(uuid_pk(CaseFile::Id))
            .col(text(CaseFile::Reference).unique_key())
            .col(text(CaseFile::Status))
            .col(text(CaseFile::LeadAgencyId))
            .col(text(CaseFile::CaseManager))
            .col(text(CaseFile::RiskLevel))
            .col(text_null(CaseFile::Summary))
            .col(text_null(CaseFile::CourtOfRecordId))
            .col(date(CaseFile::OpenedOn))
            .col(date_null(CaseFile::ClosedOn))
            .col(timestamp(CaseFile::CreatedAt))
            .col(timestamp(CaseFile::UpdatedAt))
            .check(enum_check("case_file", CaseFile::Status, CASE_STATUSES))
            .check(enum_check("case_file", CaseFile::RiskLevel, RISK_LEVELS))
            .foreign_key(&mut fk(
                "case_file",
                CaseFile::Table,
                CaseFile::LeadAgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "case_file",
                CaseFile::Table,
                CaseFile::CourtOfRecordId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // case_subject ------------------------------------------------------
        Table::create()
            .table(CaseSubject::Table)
            .col(uuid(CaseSubject::CaseId))
            .col(uuid(CaseSubject::PersonId))
            .col(text(CaseSubject::Role))
            .col(timestamp(CaseSubject::CreatedAt))
            .primary_key(
                Index::create()
                    .col(CaseSubject::CaseId)
                    .col(CaseSubject::PersonId),
            )
            .check(enum_check("case_subject", CaseSubject::Role, SUBJECT_ROLES))
            .foreign_key(&mut fk(
                "case_subject",
                CaseSubject::Table,
                CaseSubject::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                CASCADE,
            ))
            .foreign_key(&mut fk(
                "case_subject",
                CaseSubject::Table,
                CaseSubject::PersonId,
                Person::Table,
                Person::Id,
                CASCADE,
            ))
            .to_owned(),
        // case_team_member --------------------------------------------------
        Table::create()
            .table(CaseTeamMember::Table)
            .col(uuid_pk(CaseTeamMember::Id))
            .col(uuid(CaseTeamMember::CaseId))
            .col(text(CaseTeamMember::AgencyId))
            .col(text(CaseTeamMember::Operator))
            .col(text(CaseTeamMember::Role))
            .col(date(CaseTeamMember::FromOn))
            .col(date_null(CaseTeamMember::UntilOn))
            .col(timestamp(CaseTeamMember::CreatedAt))
            .check(enum_check("case_team_member", CaseTeamMember::Role, ROLES))
            .check((
                "ck_case_team_member_period",
                Expr::col(CaseTeamMember::UntilOn).gte(Expr::col(CaseTeamMember::FromOn)),
            ))
            .foreign_key(&mut fk(
                "case_team_member",
                CaseTeamMember::Table,
                CaseTeamMember::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "case_team_member",
                CaseTeamMember::Table,
                CaseTeamMember::AgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // referral ----------------------------------------------------------
        Table::create()
            .table(Referral::Table)
            .col(uuid_pk(Referral::Id))
            .col(text(Referral::ReporterAgencyId))
            .col(text(Referral::ReporterKind))
            .col(text(Referral::ReporterOperator))
            .col(text(Referral::AddressedToId))
            .col(text(Referral::Channel))
            .col(text(Referral::Urgency))
            .col(text_null(Referral::Description))
            .col(timestamp(Referral::ReceivedAt))
            .col(text_null(Referral::TriageOutcome))
            .col(text_null(Referral::TriageReason))
            .col(timestamp_null(Referral::TriagedAt))
            .col(text_null(Referral::TriagedBy))
            .col(text_null(Referral::RedirectedToId))
            .col(uuid_null(Referral::CaseId))
            .col(timestamp(Referral::CreatedAt))
            .check(enum_check("referral", Referral::ReporterKind, AGENCY_KINDS))
            .check(enum_check("referral", Referral::Channel, REFERRAL_CHANNELS))
            .check(enum_check("referral", Referral::Urgency, URGENCIES))
            .check(enum_check(
                "referral",
                Referral::TriageOutcome,
                TRIAGE_OUTCOMES,
            ))
            .check((
                "ck_referral_triage",
                Expr::col(Referral::TriageOutcome)
                    .is_null()
                    .and(Expr::col(Referral::TriageReason).is_null())
                    .and(Expr::col(Referral::TriagedAt).is_null())
                    .and(Expr::col(Referral::TriagedBy).is_null())
                    .or(Expr::col(Referral::TriageOutcome)
                        .is_not_null()
                        .and(Expr::col(Referral::TriageReason).is_not_null())
                        .and(Expr::col(Referral::TriagedAt).is_not_null())
                        .and(Expr::col(Referral::TriagedBy).is_not_null())),
            ))
            .foreign_key(&mut fk(
                "referral",
                Referral::Table,
                Referral::ReporterAgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "referral",
                Referral::Table,
                Referral::AddressedToId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "referral",
                Referral::Table,
                Referral::RedirectedToId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "referral",
                Referral::Table,
                Referral::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                RESTRICT,
            ))
            .to_owned(),
        // referral_reason ---------------------------------------------------
        Table::create()
            .table(ReferralReason::Table)
            .col(uuid(ReferralReason::ReferralId))
            .col(text(ReferralReason::Reason))
            .primary_key(
                Index::create()
                    .col(ReferralReason::ReferralId)
                    .col(ReferralReason::Reason),
            )
            .check(enum_check(
                "referral_reason",
                ReferralReason::Reason,
                REFERRAL_REASONS,
            ))
            .foreign_key(&mut fk(
                "referral_reason",
                ReferralReason::Table,
                ReferralReason::ReferralId,
                Referral::Table,
                Referral::Id,
                CASCADE,
            ))
            .to_owned(),
        // referral_subject --------------------------------------------------
        Table::create()
            .table(ReferralSubject::Table)
            .col(uuid(ReferralSubject::ReferralId))
            .col(uuid(ReferralSubject::PersonId))
            .col(text(ReferralSubject::Role))
            .primary_key(
                Index::create()
                    .col(ReferralSubject::ReferralId)
                    .col(ReferralSubject::PersonId),
            )
            .check(enum_check(
                "referral_subject",
                ReferralSubject::Role,
                SUBJECT_ROLES,
            ))
            .foreign_key(&mut fk(
                "referral_subject",
                ReferralSubject::Table,
                ReferralSubject::ReferralId,
                Referral::Table,
                Referral::Id,
                CASCADE,
            ))
            .foreign_key(&mut fk(
                "referral_subject",
                ReferralSubject::Table,
                ReferralSubject::PersonId,
                Person::Table,
                Person::Id,
                CASCADE,
            ))
            .to_owned(),
        // facility ----------------------------------------------------------
        Table::create()
            .table(Facility::Table)
            .col(uuid_pk(Facility::Id))
            .col(text(Facility::OperatorAgencyId))
            .col(text(Facility::Name))
            .col(text(Facility::Kind))
            .col(ColumnDef::new(Facility::Capacity).integer().not_null())
            .col(text(Facility::Address))
            .col(text_null(Facility::City))
            .col(boolean(Facility::Secret))
            .col(timestamp(Facility::CreatedAt))
            .col(timestamp(Facility::UpdatedAt))
            .check(enum_check("facility", Facility::Kind, FACILITY_KINDS))
            .check(("ck_facility_capacity", Expr::col(Facility::Capacity).gte(0)))
            .foreign_key(&mut fk(
                "facility",
                Facility::Table,
                Facility::OperatorAgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // court_order -------------------------------------------------------
        Table::create()
            .table(CourtOrder::Table)
            .col(uuid_pk(CourtOrder::Id))
            .col(uuid(CourtOrder::CaseId))
            .col(text(CourtOrder::CourtId))
            .col(text(CourtOrder::DocketNumber))
            .col(text(CourtOrder::Kind))
            .col(date(CourtOrder::IssuedOn))
            .col(text(CourtOrder::Summary))
            .col(text_null(CourtOrder::Text))
            .col(timestamp(CourtOrder::CreatedAt))
            .check(enum_check(
                "court_order",
                CourtOrder::Kind,
                COURT_ORDER_KINDS,
            ))
            .foreign_key(&mut fk(
                "court_order",
                CourtOrder::Table,
                CourtOrder::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "court_order",
                CourtOrder::Table,
                CourtOrder::CourtId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // court_order_mandate -----------------------------------------------
        Table::create()
            .table(CourtOrderMandate::Table)
            .col(uuid_pk(CourtOrderMandate::Id))
            .col(uuid(CourtOrderMandate::OrderId))
            .col(text(CourtOrderMandate::AgencyId))
            .col(text(CourtOrderMandate::Description))
            .col(date_null(CourtOrderMandate::DueOn))
            .col(date_null(CourtOrderMandate::FulfilledOn))
            .col(timestamp(CourtOrderMandate::CreatedAt))
            .foreign_key(&mut fk(
                "court_order_mandate",
                CourtOrderMandate::Table,
                CourtOrderMandate::OrderId,
                CourtOrder::Table,
                CourtOrder::Id,
                CASCADE,
            ))
            .foreign_key(&mut fk(
                "court_order_mandate",
                CourtOrderMandate::Table,
                CourtOrderMandate::AgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // placement ---------------------------------------------------------
        Table::create()
            .table(Placement::Table)
            .col(uuid_pk(Placement::Id))
            .col(uuid(Placement::CaseId))
            .col(uuid(Placement::FacilityId))
            .col(date(Placement::StartOn))
            .col(date_null(Placement::PlannedEndOn))
            .col(date_null(Placement::EndOn))
            .col(text_null(Placement::EndReason))
            .col(boolean(Placement::Emergency))
            .col(uuid_null(Placement::AuthorisingOrderId))
            .col(timestamp(Placement::CreatedAt))
            .col(timestamp(Placement::UpdatedAt))
            .check((
                "ck_placement_end",
                Expr::col(Placement::EndOn).gte(Expr::col(Placement::StartOn)),
            ))
            .check((
                "ck_placement_planned_end",
                Expr::col(Placement::PlannedEndOn).gte(Expr::col(Placement::StartOn)),
            ))
            .foreign_key(&mut fk(
                "placement",
                Placement::Table,
                Placement::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "placement",
                Placement::Table,
                Placement::FacilityId,
                Facility::Table,
                Facility::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "placement",
                Placement::Table,
                Placement::AuthorisingOrderId,
                CourtOrder::Table,
                CourtOrder::Id,
                RESTRICT,
            ))
            .to_owned(),
        // placement_guest ---------------------------------------------------
        Table::create()
            .table(PlacementGuest::Table)
            .col(uuid(PlacementGuest::PlacementId))
            .col(uuid(PlacementGuest::PersonId))
            .primary_key(
                Index::create()
                    .col(PlacementGuest::PlacementId)
                    .col(PlacementGuest::PersonId),
            )
            .foreign_key(&mut fk(
                "placement_guest",
                PlacementGuest::Table,
                PlacementGuest::PlacementId,
                Placement::Table,
                Placement::Id,
                CASCADE,
            ))
            .foreign_key(&mut fk(
                "placement_guest",
                PlacementGuest::Table,
                PlacementGuest::PersonId,
                Person::Table,
                Person::Id,
                CASCADE,
            ))
            .to_owned(),
        // verification ------------------------------------------------------
        Table::create()
            .table(Verification::Table)
            .col(uuid_pk(Verification::Id))
            .col(uuid(Verification::PlacementId))
            .col(date(Verification::DueOn))
            .col(date_null(Verification::DoneOn))
            .col(text_null(Verification::Outcome))
            .col(text_null(Verification::Notes))
            .col(text_null(Verification::RecordedBy))
            .col(timestamp(Verification::CreatedAt))
            .check(enum_check(
                "verification",
                Verification::Outcome,
                VERIFICATION_OUTCOMES,
            ))
            .check((
                "ck_verification_done",
                Expr::col(Verification::Outcome)
                    .is_null()
                    .and(Expr::col(Verification::DoneOn).is_null())
                    .or(Expr::col(Verification::Outcome)
                        .is_not_null()
                        .and(Expr::col(Verification::DoneOn).is_not_null())),
            ))
            .foreign_key(&mut fk(
                "verification",
                Verification::Table,
                Verification::PlacementId,
                Placement::Table,
                Placement::Id,
                RESTRICT,
            ))
            .to_owned(),
        // health_event ------------------------------------------------------
        Table::create()
            .table(HealthEvent::Table)
            .col(uuid_pk(HealthEvent::Id))
            .col(uuid(HealthEvent::PersonId))
            .col(uuid_null(HealthEvent::CaseId))
            .col(text(HealthEvent::SourceAgencyId))
            .col(text(HealthEvent::Kind))
            .col(date(HealthEvent::OccurredOn))
            .col(text(HealthEvent::Summary))
            .col(timestamp(HealthEvent::CreatedAt))
            .check(enum_check(
                "health_event",
                HealthEvent::Kind,
                HEALTH_EVENT_KINDS,
            ))
            .foreign_key(&mut fk(
                "health_event",
                HealthEvent::Table,
                HealthEvent::PersonId,
                Person::Table,
                Person::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "health_event",
                HealthEvent::Table,
                HealthEvent::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "health_event",
                HealthEvent::Table,
                HealthEvent::SourceAgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // intervention ------------------------------------------------------
        Table::create()
            .table(Intervention::Table)
            .col(uuid_pk(Intervention::Id))
            .col(uuid(Intervention::CaseId))
            .col(uuid_null(Intervention::PersonId))
            .col(text(Intervention::Kind))
            .col(text(Intervention::ProviderAgencyId))
            .col(date(Intervention::StartOn))
            .col(date_null(Intervention::EndOn))
            .col(text_null(Intervention::Notes))
            .col(timestamp(Intervention::CreatedAt))
            .check(enum_check(
                "intervention",
                Intervention::Kind,
                INTERVENTION_KINDS,
            ))
            .foreign_key(&mut fk(
                "intervention",
                Intervention::Table,
                Intervention::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "intervention",
                Intervention::Table,
                Intervention::PersonId,
                Person::Table,
                Person::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "intervention",
                Intervention::Table,
                Intervention::ProviderAgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // case_note ---------------------------------------------------------
        Table::create()
            .table(CaseNote::Table)
            .col(uuid_pk(CaseNote::Id))
            .col(uuid(CaseNote::CaseId))
            .col(text(CaseNote::AuthorAgencyId))
            .col(text(CaseNote::AuthorOperator))
            .col(text(CaseNote::DataClass))
            .col(text(CaseNote::Body))
            .col(timestamp(CaseNote::CreatedAt))
            .check(enum_check("case_note", CaseNote::DataClass, DATA_CLASSES))
            .foreign_key(&mut fk(
                "case_note",
                CaseNote::Table,
                CaseNote::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "case_note",
                CaseNote::Table,
                CaseNote::AuthorAgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // consent -----------------------------------------------------------
        Table::create()
            .table(Consent::Table)
            .col(uuid_pk(Consent::Id))
            .col(uuid(Consent::SubjectId))
            .col(text(Consent::GivenBy))
            .col(uuid_null(Consent::GivenByPersonId))
            .col(json(Consent::DataClasses))
            .col(json(Consent::RecipientAgencies))
            .col(json(Consent::RecipientKinds))
            .col(json(Consent::Purposes))
            .col(timestamp(Consent::ValidFrom))
            .col(timestamp_null(Consent::ValidUntil))
            .col(timestamp_null(Consent::WithdrawnAt))
            .col(text_null(Consent::EvidenceRef))
            .col(text(Consent::RecordedByAgencyId))
            .col(text(Consent::RecordedByOperator))
            .col(timestamp(Consent::CreatedAt))
            .check(enum_check("consent", Consent::GivenBy, CONSENT_GIVERS))
            .foreign_key(&mut fk(
                "consent",
                Consent::Table,
                Consent::SubjectId,
                Person::Table,
                Person::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "consent",
                Consent::Table,
                Consent::GivenByPersonId,
                Person::Table,
                Person::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "consent",
                Consent::Table,
                Consent::RecordedByAgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // break_glass_grant -------------------------------------------------
        Table::create()
            .table(BreakGlassGrant::Table)
            .col(uuid_pk(BreakGlassGrant::Id))
            .col(uuid(BreakGlassGrant::CaseId))
            .col(text(BreakGlassGrant::AgencyId))
            .col(text(BreakGlassGrant::Operator))
            .col(text(BreakGlassGrant::Role))
            .col(text(BreakGlassGrant::Justification))
            .col(timestamp(BreakGlassGrant::GrantedAt))
            .col(timestamp(BreakGlassGrant::ExpiresAt))
            .col(text(BreakGlassGrant::Review))
            .col(text_null(BreakGlassGrant::ReviewedBy))
            .col(text_null(BreakGlassGrant::ReviewNote))
            .col(timestamp_null(BreakGlassGrant::ReviewedAt))
            .col(timestamp(BreakGlassGrant::CreatedAt))
            .check(enum_check(
                "break_glass_grant",
                BreakGlassGrant::Role,
                ROLES,
            ))
            .check(enum_check(
                "break_glass_grant",
                BreakGlassGrant::Review,
                BREAK_GLASS_REVIEWS,
            ))
            .check((
                "ck_break_glass_grant_justification",
                Expr::cust(r#"length(trim("justification")) > 0"#),
            ))
            .foreign_key(&mut fk(
                "break_glass_grant",
                BreakGlassGrant::Table,
                BreakGlassGrant::CaseId,
                CaseFile::Table,
                CaseFile::Id,
                RESTRICT,
            ))
            .foreign_key(&mut fk(
                "break_glass_grant",
                BreakGlassGrant::Table,
                BreakGlassGrant::AgencyId,
                Agency::Table,
                Agency::Id,
                RESTRICT,
            ))
            .to_owned(),
        // access_log_entry --------------------------------------------------
        // `agency_id` is deliberately not a foreign key: the log is
        // append-only evidence and must not constrain or be constrained by
        // the agency registry.
        Table::create()
            .table(AccessLogEntry::Table)
            .col(
                ColumnDef::new(AccessLogEntry::Seq)
                    .big_integer()
                    .not_null()
                    .primary_key(),
            )
            .col(timestamp(AccessLogEntry::At))
            .col(text(AccessLogEntry::Operator))
            .col(text(AccessLogEntry::AgencyId))
            .col(text(AccessLogEntry::Role))
            .col(text(AccessLogEntry::Purpose))
            .col(text(AccessLogEntry::Operation))
            .col(text(AccessLogEntry::QueryHash))
            .col(json(AccessLogEntry::Records))
            .col(json(AccessLogEntry::Disclosed))
            .col(json(AccessLogEntry::Withheld))
            .col(text(AccessLogEntry::PolicyVersion))
            .col(text(AccessLogEntry::PrevHash))
            .col(text(AccessLogEntry::Hash).unique_key())
            .check(enum_check("access_log_entry", AccessLogEntry::Role, ROLES))
            .check(enum_check(
                "access_log_entry",
                AccessLogEntry::Purpose,
                PURPOSES,
            ))
            .check((
                "ck_access_log_entry_seq",
                Expr::col(AccessLogEntry::Seq).gt(0),
            ))
            .to_owned(),
    ]
}

/// Lookup indexes (foreign-key columns and the few filter columns), plus the
/// composite unique key of `court_order`.
fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("case_file", CaseFile::Table, CaseFile::LeadAgencyId),
        index("case_file", CaseFile::Table, CaseFile::CourtOfRecordId),
        index("case_subject", CaseSubject::Table, CaseSubject::PersonId),
        index(
            "case_team_member",
            CaseTeamMember::Table,
            CaseTeamMember::CaseId,
        ),
        index(
            "case_team_member",
            CaseTeamMember::Table,
            CaseTeamMember::AgencyId,
        ),
        index("referral", Referral::Table, Referral::ReporterAgencyId),
        index("referral", Referral::Table, Referral::AddressedToId),
        index("referral", Referral::Table, Referral::RedirectedToId),
        index("referral", Referral::Table, Referral::CaseId),
        index("referral", Referral::Table, Referral::TriageOutcome),
        index(
            "referral_subject",
            ReferralSubject::Table,
            ReferralSubject::PersonId,
        ),
        index("facility", Facility::Table, Facility::OperatorAgencyId),
        Index::create()
            .name("uq_court_order_court_id_docket_number")
            .table(CourtOrder::Table)
            .col(CourtOrder::CourtId)
            .col(CourtOrder::DocketNumber)
            .unique()
            .to_owned(),
        index("court_order", CourtOrder::Table, CourtOrder::CaseId),
        index(
            "court_order_mandate",
            CourtOrderMandate::Table,
            CourtOrderMandate::OrderId,
        ),
        index(
            "court_order_mandate",
            CourtOrderMandate::Table,
            CourtOrderMandate::AgencyId,
        ),
        index("placement", Placement::Table, Placement::CaseId),
        index("placement", Placement::Table, Placement::FacilityId),
        index("placement", Placement::Table, Placement::AuthorisingOrderId),
        index(
            "placement_guest",
            PlacementGuest::Table,
            PlacementGuest::PersonId,
        ),
        index(
            "verification",
            Verification::Table,
            Verification::PlacementId,
        ),
        index("health_event", HealthEvent::Table, HealthEvent::PersonId),
        index("health_event", HealthEvent::Table, HealthEvent::CaseId),
        index(
            "health_event",
            HealthEvent::Table,
            HealthEvent::SourceAgencyId,
        ),
        index("intervention", Intervention::Table, Intervention::CaseId),
        index("intervention", Intervention::Table, Intervention::PersonId),
        index(
            "intervention",
            Intervention::Table,
            Intervention::ProviderAgencyId,
        ),
        index("case_note", CaseNote::Table, CaseNote::CaseId),
        index("case_note", CaseNote::Table, CaseNote::AuthorAgencyId),
        index("consent", Consent::Table, Consent::SubjectId),
        index("consent", Consent::Table, Consent::GivenByPersonId),
        index("consent", Consent::Table, Consent::RecordedByAgencyId),
        index(
            "break_glass_grant",
            BreakGlassGrant::Table,
            BreakGlassGrant::CaseId,
        ),
        index(
            "break_glass_grant",
            BreakGlassGrant::Table,
            BreakGlassGrant::AgencyId,
        ),
        index(
            "access_log_entry",
            AccessLogEntry::Table,
            AccessLogEntry::At,
        ),
        index(
            "access_log_entry",
            AccessLogEntry::Table,
            AccessLogEntry::AgencyId,
        ),
    ]
}

// ---------------------------------------------------------------------------
// Identifiers (frozen with this migration)
// ---------------------------------------------------------------------------

#[derive(DeriveIden)]
enum Agency {
    Table,
    Id,
    Name,
    Kind,
    City,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Person {
    Table,
    Id,
    GivenName,
    FamilyName,
    BirthOn,
    Sex,
    FiscalCode,
    BirthPlace,
    Citizenship,
    Phone,
    Email,
    Address,
    Municipality,
    Languages,
    MediatorNeeded,
    MigrationStatus,
    PermitExpiresOn,
    EthnicOrigin,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CaseFile {
    Table,
    Id,
    Reference,
    Status,
    LeadAgencyId,
    CaseManager,
    RiskLevel,
    Summary,
    CourtOfRecordId,
    OpenedOn,
    ClosedOn,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CaseSubject {
    Table,
    CaseId,
    PersonId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CaseTeamMember {
    Table,
    Id,
    CaseId,
    AgencyId,
    Operator,
    Role,
    FromOn,
    UntilOn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Referral {
    Table,
    Id,
    ReporterAgencyId,
    ReporterKind,
    ReporterOperator,
    AddressedToId,
    Channel,
    Urgency,
    Description,
    ReceivedAt,
    TriageOutcome,
    TriageReason,
    TriagedAt,
    TriagedBy,
    RedirectedToId,
    CaseId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ReferralReason {
    Table,
    ReferralId,
    Reason,
}

#[derive(DeriveIden)]
enum ReferralSubject {
    Table,
    ReferralId,
    PersonId,
    Role,
}

#[derive(DeriveIden)]
enum Facility {
    Table,
    Id,
    OperatorAgencyId,
    Name,
    Kind,
    Capacity,
    Address,
    City,
    Secret,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CourtOrder {
    Table,
    Id,
    CaseId,
    CourtId,
    DocketNumber,
    Kind,
    IssuedOn,
    Summary,
    Text,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CourtOrderMandate {
    Table,
    Id,
    OrderId,
    AgencyId,
    Description,
    DueOn,
    FulfilledOn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Placement {
    Table,
    Id,
    CaseId,
    FacilityId,
    StartOn,
    PlannedEndOn,
    EndOn,
    EndReason,
    Emergency,
    AuthorisingOrderId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PlacementGuest {
    Table,
    PlacementId,
    PersonId,
}

#[derive(DeriveIden)]
enum Verification {
    Table,
    Id,
    PlacementId,
    DueOn,
    DoneOn,
    Outcome,
    Notes,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HealthEvent {
    Table,
    Id,
    PersonId,
    CaseId,
    SourceAgencyId,
    Kind,
    OccurredOn,
    Summary,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Intervention {
    Table,
    Id,
    CaseId,
    PersonId,
    Kind,
    ProviderAgencyId,
    StartOn,
    EndOn,
    Notes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CaseNote {
    Table,
    Id,
    CaseId,
    AuthorAgencyId,
    AuthorOperator,
    DataClass,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Consent {
    Table,
    Id,
    SubjectId,
    GivenBy,
    GivenByPersonId,
    DataClasses,
    RecipientAgencies,
    RecipientKinds,
    Purposes,
    ValidFrom,
    ValidUntil,
    WithdrawnAt,
    EvidenceRef,
    RecordedByAgencyId,
    RecordedByOperator,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BreakGlassGrant {
    Table,
    Id,
    CaseId,
    AgencyId,
    Operator,
    Role,
    Justification,
    GrantedAt,
    ExpiresAt,
    Review,
    ReviewedBy,
    ReviewNote,
    ReviewedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AccessLogEntry {
    Table,
    Seq,
    At,
    Operator,
    AgencyId,
    Role,
    Purpose,
    Operation,
    QueryHash,
    Records,
    Disclosed,
    Withheld,
    PolicyVersion,
    PrevHash,
    Hash,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The creation order and the name list used by `down` agree.
    #[test]
    fn tables_are_listed_in_creation_order() {
        let created: Vec<String> = tables()
            .iter()
            .map(|t| t.to_string(SqliteQueryBuilder))
            .collect();
        assert_eq!(created.len(), TABLES_IN_ORDER.len());
        for (sql, name) in created.iter().zip(TABLES_IN_ORDER) {
            assert!(
                sql.starts_with(&format!(r#"CREATE TABLE "{name}" ("#)),
                "{name}: {sql}"
            );
        }
    }
}
