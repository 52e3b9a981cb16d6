//! `access_log_verification`: one walk of the access log's chain, by whom
//! (an operator through the console, or `rete audit verify`) and its result.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_log_verification")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub verified_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub verified_by: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub agency_id: Option<String>,
    pub intact: bool,
    pub entries_checked: i64,
    pub head_seq: i64,
    #[sea_orm(column_type = "Text")]
    pub head_hash: String,
    pub head_stored: i64,
    pub from_checkpoint: Option<i64>,
    pub broken_seq: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub problem: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
