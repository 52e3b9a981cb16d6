//! `placement_event.kind` may also be `VERIFICATION`: a community's
//! `verification.done` webhook is an event of the placement like the others
//! (shown in its timeline, keyed in `external_ref` as a `PLACEMENT_EVENT`)
//! and also completes the placement's review.
//!
//! PostgreSQL replaces the CHECK; SQLite cannot alter one, so the table is
//! rebuilt with the same columns, keys, rows and indexes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

const KINDS_BEFORE: &str = "'ARRIVAL', 'PRESENCE', 'ABSENCE', 'DEPARTURE', 'INCIDENT'";
const KINDS_AFTER: &str =
    "'ARRIVAL', 'PRESENCE', 'ABSENCE', 'DEPARTURE', 'INCIDENT', 'VERIFICATION'";

async fn placement_event_kinds(manager: &SchemaManager<'_>, kinds: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Postgres => {
            db.execute_unprepared(&format!(
                "ALTER TABLE placement_event DROP CONSTRAINT ck_placement_event_kind; \
                 ALTER TABLE placement_event ADD CONSTRAINT ck_placement_event_kind \
                 CHECK (kind IN ({kinds}))"
            ))
            .await?;
        }
        _ => {
            db.execute_unprepared(&format!(
                "CREATE TABLE placement_event_new ( \
                   id uuid_text NOT NULL PRIMARY KEY, \
                   placement_id uuid_text NOT NULL, \
                   kind text NOT NULL, \
                   occurred_at timestamp_with_timezone_text NOT NULL, \
                   note text NULL, \
                   reported_by_agency_id text NOT NULL, \
                   instance text NOT NULL, \
                   source_event_id text NOT NULL, \
                   created_at timestamp_with_timezone_text NOT NULL, \
                   CONSTRAINT fk_placement_event_placement FOREIGN KEY (placement_id) \
                     REFERENCES placement (id), \
                   CONSTRAINT fk_placement_event_agency FOREIGN KEY (reported_by_agency_id) \
                     REFERENCES agency (id), \
                   CONSTRAINT ck_placement_event_kind CHECK (kind IN ({kinds})) ); \
                 INSERT INTO placement_event_new SELECT id, placement_id, kind, occurred_at, note, \
                   reported_by_agency_id, instance, source_event_id, created_at FROM placement_event; \
                 DROP TABLE placement_event; \
                 ALTER TABLE placement_event_new RENAME TO placement_event; \
                 CREATE UNIQUE INDEX uq_placement_event_source ON placement_event (instance, source_event_id); \
                 CREATE INDEX idx_placement_event_placement ON placement_event (placement_id, occurred_at);"
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
        placement_event_kinds(manager, KINDS_AFTER).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The earlier schema has no place for them; their reviews stay.
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM placement_event WHERE kind = 'VERIFICATION'")
            .await?;
        placement_event_kinds(manager, KINDS_BEFORE).await
    }
}
