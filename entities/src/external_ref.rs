//! `external_ref`: which of our records an upstream record became. The key is
//! (system, resource type, external id); `version` and `content_hash` tell the
//! sync engine whether a replayed record changed. `entity` is PERSON,
//! HEALTH_EVENT, REFERRAL, CONSENT, COURT_ORDER or PLACEMENT_EVENT (database
//! CHECK); `local_id` is that table's id (no foreign key: the entity varies).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_ref")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub system: String,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub resource_type: String,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub external_id: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub version: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub content_hash: String,
    #[sea_orm(column_type = "Text")]
    pub entity: String,
    pub local_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub instance: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
