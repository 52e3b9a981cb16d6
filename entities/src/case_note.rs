//! `case_note`: A note on a case; `data_class` holds a data-class value (the policy crate owns that enum).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_note")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub author_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub author_operator: String,
    #[sea_orm(column_type = "Text")]
    pub data_class: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
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
        from = "Column::AuthorAgencyId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    AuthorAgency,
}

impl Related<super::case_file::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaseFile.def()
    }
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuthorAgency.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
