//! `placement_event`: what a reception community reported of a placement's
//! guests through its webhook: ARRIVAL, PRESENCE, ABSENCE, DEPARTURE,
//! INCIDENT. (instance, source_event_id) is unique: a webhook delivered twice
//! is recorded once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "placement_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub placement_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    pub occurred_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub reported_by_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub instance: String,
    #[sea_orm(column_type = "Text")]
    pub source_event_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
