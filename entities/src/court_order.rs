//! `court_order`: An order (decreto) of a juvenile court about a case; unique per (court, docket number).

use crate::enums::CourtOrderKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "court_order")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub court_id: String,
    #[sea_orm(column_type = "Text")]
    pub docket_number: String,
    pub kind: CourtOrderKind,
    pub issued_on: Date,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    #[sea_orm(column_type = "Text")]
    pub text: Option<String>,
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
        from = "Column::CourtId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    Court,
    #[sea_orm(has_many = "super::court_order_mandate::Entity")]
    Mandates,
    #[sea_orm(
        has_many = "super::placement::Entity",
        via_rel = "Relation::AuthorisingOrder"
    )]
    Placements,
}

impl Related<super::case_file::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaseFile.def()
    }
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Court.def()
    }
}

impl Related<super::court_order_mandate::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Mandates.def()
    }
}

impl Related<super::placement::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Placements.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
