//! `access_log_verification`: every walk of the access log's chain (from the
//! console or `rete audit verify`), so that the last verification is the
//! same on every hub process and survives a restart.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum AccessLogVerification {
    Table,
    Id,
    VerifiedAt,
    VerifiedBy,
    AgencyId,
    Intact,
    EntriesChecked,
    HeadSeq,
    HeadHash,
    HeadStored,
    FromCheckpoint,
    BrokenSeq,
    Problem,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AccessLogVerification as V;
        manager
            .create_table(
                Table::create()
                    .table(V::Table)
                    .col(ColumnDef::new(V::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(V::VerifiedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(V::VerifiedBy).text().not_null())
                    .col(ColumnDef::new(V::AgencyId).text().null())
                    .col(ColumnDef::new(V::Intact).boolean().not_null())
                    .col(ColumnDef::new(V::EntriesChecked).big_integer().not_null())
                    .col(ColumnDef::new(V::HeadSeq).big_integer().not_null())
                    .col(ColumnDef::new(V::HeadHash).text().not_null())
                    .col(ColumnDef::new(V::HeadStored).big_integer().not_null())
                    .col(ColumnDef::new(V::FromCheckpoint).big_integer().null())
                    .col(ColumnDef::new(V::BrokenSeq).big_integer().null())
                    .col(ColumnDef::new(V::Problem).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_log_verification_verified_at")
                    .table(V::Table)
                    .col(V::VerifiedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessLogVerification::Table).to_owned())
            .await
    }
}
