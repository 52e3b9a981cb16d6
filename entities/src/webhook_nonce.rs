//! `webhook_nonce`: a nonce of a signed webhook accepted recently. The primary
//! key (instance, nonce) makes a replay fail to insert, in every process of
//! the hub at once; rows older than the signature window are pruned.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_nonce")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub instance: String,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub nonce: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
