//! `access_log_checkpoint`: where retention pruning cut the access log. `seq`
//! and `hash` are those of the last pruned entry, `pruned` how many entries the
//! cut removed in all; `signature` is the hub's JWS over them, so the chain
//! stays verifiable from the checkpoint on.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_log_checkpoint")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    #[sea_orm(column_type = "Text")]
    pub hash: String,
    pub pruned: i64,
    pub at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub signature: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
