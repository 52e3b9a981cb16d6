//! Outbound sync and the court and third-sector connectors:
//!
//! - `outbox_message`: every message the hub owes a partner (a placement
//!   request or update, a report to the court, a "forget" notice), written in
//!   the same transaction as the change that causes it and delivered by the
//!   outbox workers. It never holds the personal data sent: the payload is
//!   built at send time, under the policy in force then.
//! - `court_report`: the reports a case manager submits to the juvenile court.
//! - `webhook_nonce`: the nonces of signed webhooks seen recently (replays are
//!   refused, across every process of the hub).
//! - `placement_event`: what a reception community reports of its guests
//!   (arrivals, presence, absences, departures, incidents).
//! - `consent.propagated_at`: when a withdrawal or expiry of the consent was
//!   propagated to the partners (queued messages dropped, forget notices sent).
//! - `external_ref.entity` may now also be `COURT_ORDER` and `PLACEMENT_EVENT`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveIden)]
enum OutboxMessage {
    Table,
    Id,
    Instance,
    ReceiverAgencyId,
    Kind,
    RecordType,
    RecordId,
    CaseId,
    SubjectIds,
    Status,
    StatusReason,
    Attempts,
    NextAttemptAt,
    ClaimedBy,
    ClaimedUntil,
    LastError,
    Body,
    Classes,
    Bases,
    PayloadDigest,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum CourtReport {
    Table,
    Id,
    CaseId,
    OrderId,
    MandateId,
    CourtAgencyId,
    AuthorAgencyId,
    AuthorOperator,
    Title,
    Body,
    SubmittedAt,
}

#[derive(DeriveIden)]
enum WebhookNonce {
    Table,
    Instance,
    Nonce,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum PlacementEvent {
    Table,
    Id,
    PlacementId,
    Kind,
    OccurredAt,
    Note,
    ReportedByAgencyId,
    Instance,
    SourceEventId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Consent {
    Table,
    PropagatedAt,
}

#[derive(DeriveIden)]
enum Placement {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CaseFile {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CourtOrder {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CourtOrderMandate {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Agency {
    Table,
    Id,
}

/// `CONSTRAINT ck_<table>_<col> CHECK (col IN (...))`, as in the core schema.
fn enum_check(table: &str, col: impl IntoIden, values: &[&str]) -> Check {
    let col = col.into_iden();
    Check::named(
        format!("ck_{table}_{col}"),
        Expr::col(col).is_in(values.iter().copied()),
    )
}

fn at(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn at_null(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

const ENTITIES_BEFORE: &str = "'PERSON', 'HEALTH_EVENT', 'REFERRAL', 'CONSENT'";
const ENTITIES_AFTER: &str =
    "'PERSON', 'HEALTH_EVENT', 'REFERRAL', 'CONSENT', 'COURT_ORDER', 'PLACEMENT_EVENT'";

/// Replace the CHECK on `external_ref.entity`. PostgreSQL alters the
/// constraint; SQLite cannot, so the table is rebuilt with the same columns,
/// rows and index.
async fn external_ref_entities(manager: &SchemaManager<'_>, values: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Postgres => {
            db.execute_unprepared(&format!(
                "ALTER TABLE external_ref DROP CONSTRAINT ck_external_ref_entity; \
                 ALTER TABLE external_ref ADD CONSTRAINT ck_external_ref_entity \
                 CHECK (entity IN ({values}))"
            ))
            .await?;
        }
        _ => {
            db.execute_unprepared(&format!(
                "CREATE TABLE external_ref_new ( \
                   system TEXT NOT NULL, resource_type TEXT NOT NULL, external_id TEXT NOT NULL, \
                   version TEXT NULL, content_hash TEXT NOT NULL, entity TEXT NOT NULL, \
                   local_id uuid_text NOT NULL, instance TEXT NOT NULL, \
                   created_at timestamp_with_timezone_text NOT NULL, \
                   updated_at timestamp_with_timezone_text NOT NULL, \
                   PRIMARY KEY (system, resource_type, external_id), \
                   CONSTRAINT ck_external_ref_entity CHECK (entity IN ({values})) ); \
                 INSERT INTO external_ref_new SELECT system, resource_type, external_id, version, \
                   content_hash, entity, local_id, instance, created_at, updated_at FROM external_ref; \
                 DROP TABLE external_ref; \
                 ALTER TABLE external_ref_new RENAME TO external_ref; \
                 CREATE INDEX idx_external_ref_local ON external_ref (entity, local_id);"
            ))
            .await?;
        }
    }
    Ok(())
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OutboxMessage as O;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .col(ColumnDef::new(O::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(O::Instance).text().not_null())
                    .col(ColumnDef::new(O::ReceiverAgencyId).text().not_null())
                    .col(ColumnDef::new(O::Kind).text().not_null())
                    .col(ColumnDef::new(O::RecordType).text().not_null())
                    .col(ColumnDef::new(O::RecordId).uuid().not_null())
                    .col(ColumnDef::new(O::CaseId).uuid().null())
                    .col(ColumnDef::new(O::SubjectIds).json().not_null())
                    .col(ColumnDef::new(O::Status).text().not_null())
                    .col(ColumnDef::new(O::StatusReason).text().null())
                    .col(ColumnDef::new(O::Attempts).integer().not_null().default(0))
                    .col(at(O::NextAttemptAt))
                    .col(ColumnDef::new(O::ClaimedBy).text().null())
                    .col(at_null(O::ClaimedUntil))
                    .col(ColumnDef::new(O::LastError).text().null())
                    .col(ColumnDef::new(O::Body).json().null())
                    .col(ColumnDef::new(O::Classes).json().null())
                    .col(ColumnDef::new(O::Bases).json().null())
                    .col(ColumnDef::new(O::PayloadDigest).text().null())
                    .col(at(O::CreatedAt))
                    .col(at(O::UpdatedAt))
                    .col(at_null(O::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_message_receiver")
                            .from(O::Table, O::ReceiverAgencyId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .check(enum_check(
                        "outbox_message",
                        O::Kind,
                        &[
                            "PLACEMENT_REQUEST",
                            "PLACEMENT_UPDATE",
                            "COURT_REPORT",
                            "FORGET",
                        ],
                    ))
                    .check(enum_check(
                        "outbox_message",
                        O::RecordType,
                        &["PLACEMENT", "COURT_REPORT", "CONSENT"],
                    ))
                    .check(enum_check(
                        "outbox_message",
                        O::Status,
                        &["PENDING", "DELIVERED", "DROPPED", "DEAD"],
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_outbox_message_due",
                vec![O::Status.into_iden(), O::NextAttemptAt.into_iden()],
            ),
            ("idx_outbox_message_case", vec![O::CaseId.into_iden()]),
            (
                "idx_outbox_message_record",
                vec![O::RecordType.into_iden(), O::RecordId.into_iden()],
            ),
        ] {
            let mut index = Index::create().name(name).table(O::Table).to_owned();
            for c in cols {
                index.col(c);
            }
            manager.create_index(index).await?;
        }

        use CourtReport as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(ColumnDef::new(C::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(C::CaseId).uuid().not_null())
                    .col(ColumnDef::new(C::OrderId).uuid().null())
                    .col(ColumnDef::new(C::MandateId).uuid().null())
                    .col(ColumnDef::new(C::CourtAgencyId).text().not_null())
                    .col(ColumnDef::new(C::AuthorAgencyId).text().not_null())
                    .col(ColumnDef::new(C::AuthorOperator).text().not_null())
                    .col(ColumnDef::new(C::Title).text().not_null())
                    .col(ColumnDef::new(C::Body).text().not_null())
                    .col(at(C::SubmittedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_court_report_case")
                            .from(C::Table, C::CaseId)
                            .to(CaseFile::Table, CaseFile::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_court_report_order")
                            .from(C::Table, C::OrderId)
                            .to(CourtOrder::Table, CourtOrder::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_court_report_mandate")
                            .from(C::Table, C::MandateId)
                            .to(CourtOrderMandate::Table, CourtOrderMandate::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_court_report_court")
                            .from(C::Table, C::CourtAgencyId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_court_report_case")
                    .table(C::Table)
                    .col(C::CaseId)
                    .to_owned(),
            )
            .await?;

        use WebhookNonce as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(ColumnDef::new(N::Instance).text().not_null())
                    .col(ColumnDef::new(N::Nonce).text().not_null())
                    .col(at(N::ReceivedAt))
                    .primary_key(Index::create().col(N::Instance).col(N::Nonce))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_nonce_received")
                    .table(N::Table)
                    .col(N::ReceivedAt)
                    .to_owned(),
            )
            .await?;

        use PlacementEvent as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(ColumnDef::new(E::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(E::PlacementId).uuid().not_null())
                    .col(ColumnDef::new(E::Kind).text().not_null())
                    .col(at(E::OccurredAt))
                    .col(ColumnDef::new(E::Note).text().null())
                    .col(ColumnDef::new(E::ReportedByAgencyId).text().not_null())
                    .col(ColumnDef::new(E::Instance).text().not_null())
                    .col(ColumnDef::new(E::SourceEventId).text().not_null())
                    .col(at(E::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_placement_event_placement")
                            .from(E::Table, E::PlacementId)
                            .to(Placement::Table, Placement::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_placement_event_agency")
                            .from(E::Table, E::ReportedByAgencyId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .check(enum_check(
                        "placement_event",
                        E::Kind,
                        &["ARRIVAL", "PRESENCE", "ABSENCE", "DEPARTURE", "INCIDENT"],
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_placement_event_source")
                    .table(E::Table)
                    .col(E::Instance)
                    .col(E::SourceEventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_placement_event_placement")
                    .table(E::Table)
                    .col(E::PlacementId)
                    .col(E::OccurredAt)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Consent::Table)
                    .add_column(at_null(Consent::PropagatedAt))
                    .to_owned(),
            )
            .await?;

        external_ref_entities(manager, ENTITIES_AFTER).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "DELETE FROM external_ref WHERE entity IN ('COURT_ORDER', 'PLACEMENT_EVENT')",
            )
            .await?;
        external_ref_entities(manager, ENTITIES_BEFORE).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Consent::Table)
                    .drop_column(Consent::PropagatedAt)
                    .to_owned(),
            )
            .await?;
        for t in [
            PlacementEvent::Table.into_iden(),
            WebhookNonce::Table.into_iden(),
            CourtReport::Table.into_iden(),
            OutboxMessage::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
