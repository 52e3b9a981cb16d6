//! `sync_dead_letter`: an inbound item the engine could not take, kept verbatim
//! with the reason, until a retry takes it (`resolved_at`, `resolution`). One
//! row per (instance, payload hash): the same bad item arriving again bumps
//! `attempts` instead of adding a row.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_dead_letter")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub instance: String,
    pub run_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub resource_type: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub external_id: Option<String>,
    pub position: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    #[sea_orm(column_type = "Text")]
    pub payload_hash: String,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub last_attempt_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub resolution: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
