//! `sync_run`: one run of a connector instance (a scheduled or manual sync, a
//! file import, an upload, a dead-letter retry) with its counts. `trigger` is
//! SCHEDULE, MANUAL, IMPORT, UPLOAD or RETRY; `status` is RUNNING, SUCCEEDED,
//! FAILED or INTERRUPTED (database CHECKs). A run left RUNNING by a killed
//! process is marked INTERRUPTED by the next run of its instance.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_run")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub instance: String,
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub trigger: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub source: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub holder: String,
    #[sea_orm(column_type = "Text")]
    pub status: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub fetched: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub rejected: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub cursor_before: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub cursor_after: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
