//! `break_glass_grant`: An emergency (break-glass) access grant on a case, reviewed afterwards.
//! `role` holds a role value; `justification` must not be empty (database CHECK).

use crate::enums::BreakGlassReview;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "break_glass_grant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub operator: String,
    #[sea_orm(column_type = "Text")]
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub justification: String,
    pub granted_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub review: BreakGlassReview,
    #[sea_orm(column_type = "Text")]
    pub reviewed_by: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub review_note: Option<String>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::case_file::Entity",
        from = "Column::CaseId",
        to = "super::case_file::Column::Id",
        on_delete = "Restrict"
    )]
    CaseFile,
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::AgencyId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    Agency,
}

impl Related<super::case_file::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaseFile.def()
    }
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agency.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
