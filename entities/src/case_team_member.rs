//! `case_team_member`: An operator of an agency working on a case, in a role, for a period.
//! `role` holds a role value (the policy crate owns that enum).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_team_member")]
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
    pub from_on: Date,
    pub until_on: Option<Date>,
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
