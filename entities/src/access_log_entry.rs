//! `access_log_entry`: An entry of the hash-chained access log. `seq` (1, 2, 3 ...) is assigned by
//! the writer, not by the database. `role` and `purpose` hold role and purpose
//! values; `agency_id` is deliberately not a foreign key (the log outlives agencies).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_log_entry")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub operator: String,
    #[sea_orm(column_type = "Text")]
    pub agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub purpose: String,
    #[sea_orm(column_type = "Text")]
    pub operation: String,
    #[sea_orm(column_type = "Text")]
    pub query_hash: String,
    pub records: Json,
    pub disclosed: Json,
    pub withheld: Json,
    #[sea_orm(column_type = "Text")]
    pub policy_version: String,
    #[sea_orm(column_type = "Text")]
    pub prev_hash: String,
    #[sea_orm(unique, column_type = "Text")]
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
