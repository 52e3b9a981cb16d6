//! The connector engine's bookkeeping: which upstream record is which of ours
//! (`external_ref`), where each instance's next sync starts (`sync_cursor`),
//! who is syncing an instance now (`sync_lease`), what each run did
//! (`sync_run`) and what it could not take (`sync_dead_letter`).

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum ExternalRef {
    Table,
    System,
    ResourceType,
    ExternalId,
    Version,
    ContentHash,
    Entity,
    LocalId,
    Instance,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SyncCursor {
    Table,
    Instance,
    Cursor,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SyncLease {
    Table,
    Instance,
    Holder,
    AcquiredAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SyncRun {
    Table,
    Id,
    Instance,
    Kind,
    Trigger,
    Source,
    Holder,
    Status,
    StartedAt,
    FinishedAt,
    Fetched,
    Created,
    Updated,
    Unchanged,
    Skipped,
    Rejected,
    CursorBefore,
    CursorAfter,
    Error,
}

#[derive(DeriveIden)]
enum SyncDeadLetter {
    Table,
    Id,
    Instance,
    RunId,
    ResourceType,
    ExternalId,
    Position,
    Payload,
    PayloadHash,
    Reason,
    Attempts,
    CreatedAt,
    LastAttemptAt,
    ResolvedAt,
    Resolution,
}

/// `CONSTRAINT ck_<table>_<col> CHECK (col IN (...))`, as in the core schema.
fn enum_check(table: &str, col: impl IntoIden, values: &[&str]) -> Check {
    let col = col.into_iden();
    Check::named(
        format!("ck_{table}_{col}"),
        Expr::col(col).is_in(values.iter().copied()),
    )
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ExternalRef as X;
        manager
            .create_table(
                Table::create()
                    .table(X::Table)
                    .col(ColumnDef::new(X::System).text().not_null())
                    .col(ColumnDef::new(X::ResourceType).text().not_null())
                    .col(ColumnDef::new(X::ExternalId).text().not_null())
                    .col(ColumnDef::new(X::Version).text().null())
                    .col(ColumnDef::new(X::ContentHash).text().not_null())
                    .col(ColumnDef::new(X::Entity).text().not_null())
                    .col(ColumnDef::new(X::LocalId).uuid().not_null())
                    .col(ColumnDef::new(X::Instance).text().not_null())
                    .col(
                        ColumnDef::new(X::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(X::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(X::System)
                            .col(X::ResourceType)
                            .col(X::ExternalId),
                    )
                    .check(enum_check(
                        "external_ref",
                        X::Entity,
                        &["PERSON", "HEALTH_EVENT", "REFERRAL", "CONSENT"],
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_external_ref_local")
                    .table(X::Table)
                    .col(X::Entity)
                    .col(X::LocalId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncCursor::Table)
                    .col(
                        ColumnDef::new(SyncCursor::Instance)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SyncCursor::Cursor).text().not_null())
                    .col(
                        ColumnDef::new(SyncCursor::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SyncLease::Table)
                    .col(
                        ColumnDef::new(SyncLease::Instance)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SyncLease::Holder).text().not_null())
                    .col(
                        ColumnDef::new(SyncLease::AcquiredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SyncLease::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        use SyncRun as R;
        let count = |c: R| {
            ColumnDef::new(c)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(ColumnDef::new(R::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(R::Instance).text().not_null())
                    .col(ColumnDef::new(R::Kind).text().not_null())
                    .col(ColumnDef::new(R::Trigger).text().not_null())
                    .col(ColumnDef::new(R::Source).text().null())
                    .col(ColumnDef::new(R::Holder).text().not_null())
                    .col(ColumnDef::new(R::Status).text().not_null())
                    .col(
                        ColumnDef::new(R::StartedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(R::FinishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(count(R::Fetched))
                    .col(count(R::Created))
                    .col(count(R::Updated))
                    .col(count(R::Unchanged))
                    .col(count(R::Skipped))
                    .col(count(R::Rejected))
                    .col(ColumnDef::new(R::CursorBefore).text().null())
                    .col(ColumnDef::new(R::CursorAfter).text().null())
                    .col(ColumnDef::new(R::Error).text().null())
                    .check(enum_check(
                        "sync_run",
                        R::Trigger,
                        &["SCHEDULE", "MANUAL", "IMPORT", "UPLOAD", "RETRY"],
                    ))
                    .check(enum_check(
                        "sync_run",
                        R::Status,
                        &["RUNNING", "SUCCEEDED", "FAILED", "INTERRUPTED"],
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sync_run_instance_started")
                    .table(R::Table)
                    .col(R::Instance)
                    .col(R::StartedAt)
                    .to_owned(),
            )
            .await?;

        use SyncDeadLetter as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(D::Instance).text().not_null())
                    .col(ColumnDef::new(D::RunId).uuid().not_null())
                    .col(ColumnDef::new(D::ResourceType).text().not_null())
                    .col(ColumnDef::new(D::ExternalId).text().null())
                    .col(ColumnDef::new(D::Position).big_integer().null())
                    .col(ColumnDef::new(D::Payload).text().not_null())
                    .col(ColumnDef::new(D::PayloadHash).text().not_null())
                    .col(ColumnDef::new(D::Reason).text().not_null())
                    .col(ColumnDef::new(D::Attempts).integer().not_null())
                    .col(
                        ColumnDef::new(D::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(D::LastAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(D::ResolvedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(D::Resolution).text().null())
                    .check(Check::named(
                        "ck_sync_dead_letter_attempts",
                        Expr::col(D::Attempts).gte(1),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_sync_dead_letter_payload")
                    .table(D::Table)
                    .col(D::Instance)
                    .col(D::PayloadHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sync_dead_letter_open")
                    .table(D::Table)
                    .col(D::Instance)
                    .col(D::ResolvedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SyncDeadLetter::Table.into_iden(),
            SyncRun::Table.into_iden(),
            SyncLease::Table.into_iden(),
            SyncCursor::Table.into_iden(),
            ExternalRef::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
