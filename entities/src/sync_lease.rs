//! `sync_lease`: which process syncs a connector instance now, until when. A
//! process renews its lease with every page it writes; one that is killed stops
//! renewing and loses the instance when `expires_at` passes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_lease")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub instance: String,
    #[sea_orm(column_type = "Text")]
    pub holder: String,
    pub acquired_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
