//! Schema migrations of Rete, for SQLite and PostgreSQL alike.
//!
//! Migrations are hand-written with sea-query builders and are frozen history:
//! they never depend on the `entities` crate (whose types follow the schema,
//! not the other way round). A change to the schema is a new migration file,
//! never an edit of an applied one.
//!
//! On SQLite, foreign keys are only enforced when the connection enables them
//! (`PRAGMA foreign_keys = ON`, sqlx's default); the migrations themselves
//! work either way.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_core_schema;
mod m20261128_000002_case_protection;
mod m20261128_000003_access_log;
mod m20261128_000004_access_log_verification;
mod m20261128_000005_sync;
mod m20261128_000006_outbound;
mod m20261128_000007_placement_event_verification;
mod m20261128_000008_access_log_lz4;

/// Every migration of Rete, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_core_schema::Migration),
            Box::new(m20261128_000002_case_protection::Migration),
            Box::new(m20261128_000003_access_log::Migration),
            Box::new(m20261128_000004_access_log_verification::Migration),
            Box::new(m20261128_000005_sync::Migration),
            Box::new(m20261128_000006_outbound::Migration),
            Box::new(m20261128_000007_placement_event_verification::Migration),
            Box::new(m20261128_000008_access_log_lz4::Migration),
        ]
    }
}
