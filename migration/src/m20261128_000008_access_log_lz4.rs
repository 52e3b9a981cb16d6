//! `access_log_entry.records` compressed with LZ4 on PostgreSQL.
//!
//! An entry's `records` (about 3 kB for a case with its subjects) is over
//! PostgreSQL's TOAST threshold, so every append compresses it; with the
//! default pglz that was 8 % of the appender's CPU in PostgreSQL
//! (bench/README.md). LZ4 compresses several times faster. Rows written before
//! stay as they are (PostgreSQL reads either), and the text, so the hashes,
//! do not change. A server built without LZ4 keeps pglz. SQLite has nothing
//! to change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn records_compression(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "DO $$ BEGIN \
               ALTER TABLE access_log_entry ALTER COLUMN records SET COMPRESSION {method}; \
             EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN \
               RAISE NOTICE 'access_log_entry.records keeps the default compression: %', SQLERRM; \
             END $$"
        ))
        .await
        .map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        records_compression(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        records_compression(manager, "pglz").await
    }
}
