//! The access log, in its final shape (the first migration's placeholder table
//! was never written to and is replaced):
//!
//! - `access_log_entry`: one row per operation that touched personal data,
//!   hash-chained: `hash` is SHA-256 over the canonical encoding of the row
//!   (with `prev_hash`, the hash of the entry before). `records` holds the
//!   canonical JSON of the records touched and each decision, as text, so that
//!   the bytes hashed are the bytes stored on every backend. The class columns
//!   are space-delimited (` IDENTITY SOCIAL `) for filtering.
//! - `access_log_touch`: which cases and persons each entry touched (an index
//!   for the privacy officer's filters; `rete audit verify` checks it against
//!   the hashed `records`, so it needs no foreign key, and neither needs
//!   `hash` a unique index: each index is paid on every request).
//! - `access_log_checkpoint`: where pruning cut the chain, signed by the hub.
//!
//! No foreign keys to agencies, cases or persons: the log is evidence and
//! outlives the records it names.

use sea_orm_migration::prelude::*;

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
    DisclosedClasses,
    WithheldClasses,
    PolicyVersion,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AccessLogTouch {
    Table,
    Seq,
    Kind,
    Id,
}

#[derive(DeriveIden)]
enum AccessLogCheckpoint {
    Table,
    Seq,
    Hash,
    Pruned,
    At,
    Signature,
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AccessLogEntry as E;
        manager
            .drop_table(Table::drop().table(E::Table).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(
                        ColumnDef::new(E::Seq)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(E::At).timestamp_with_time_zone().not_null())
                    .col(text(E::Operator))
                    .col(text(E::AgencyId))
                    .col(text(E::Role))
                    .col(text(E::Purpose))
                    .col(text(E::Operation))
                    .col(text(E::QueryHash))
                    .col(text(E::Records))
                    .col(text(E::DisclosedClasses))
                    .col(text(E::WithheldClasses))
                    .col(text(E::PolicyVersion))
                    .col(text(E::PrevHash))
                    .col(text(E::Hash))
                    .check(Check::named(
                        "ck_access_log_entry_seq",
                        Expr::col(E::Seq).gt(0),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_access_log_entry_at", E::At),
            ("idx_access_log_entry_agency_id", E::AgencyId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(E::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        use AccessLogTouch as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(ColumnDef::new(T::Seq).big_integer().not_null())
                    .col(text(T::Kind))
                    .col(ColumnDef::new(T::Id).uuid().not_null())
                    .primary_key(Index::create().col(T::Seq).col(T::Kind).col(T::Id))
                    .check(Check::named(
                        "ck_access_log_touch_kind",
                        Expr::col(T::Kind).is_in(["CASE", "PERSON"]),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_log_touch_id")
                    .table(T::Table)
                    .col(T::Id)
                    .col(T::Kind)
                    .to_owned(),
            )
            .await?;
        use AccessLogCheckpoint as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(
                        ColumnDef::new(C::Seq)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(text(C::Hash))
                    .col(ColumnDef::new(C::Pruned).big_integer().not_null())
                    .col(ColumnDef::new(C::At).timestamp_with_time_zone().not_null())
                    .col(text(C::Signature))
                    .to_owned(),
            )
            .await
    }

    /// Leaves `access_log_entry` (in its new shape) for the first migration's
    /// `down` to drop.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["access_log_checkpoint", "access_log_touch"] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
