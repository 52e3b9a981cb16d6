//! `access_log_entry`: one entry of the hash-chained access log per operation
//! that touched personal data. `seq` (1, 2, 3 ...) is assigned by the appender,
//! never by the database. `records` is canonical JSON kept as text (the bytes
//! hashed are the bytes stored); `disclosed_classes` / `withheld_classes` are
//! space-delimited (` IDENTITY SOCIAL `). `agency_id` is deliberately not a
//! foreign key: the log outlives agencies.

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
    #[sea_orm(column_type = "Text")]
    pub records: String,
    #[sea_orm(column_type = "Text")]
    pub disclosed_classes: String,
    #[sea_orm(column_type = "Text")]
    pub withheld_classes: String,
    #[sea_orm(column_type = "Text")]
    pub policy_version: String,
    #[sea_orm(column_type = "Text")]
    pub prev_hash: String,
    #[sea_orm(column_type = "Text")]
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
