//! `facility`: A facility (mother-child community, shelter, social housing) run by an agency.
//! `updated_at` is also bumped by every placement change, which serialises
//! concurrent placements into one facility.

use crate::enums::FacilityKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "facility")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub operator_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    pub kind: FacilityKind,
    pub capacity: i32,
    #[sea_orm(column_type = "Text")]
    pub address: String,
    #[sea_orm(column_type = "Text")]
    pub city: Option<String>,
    pub secret: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::OperatorAgencyId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    OperatorAgency,
    #[sea_orm(has_many = "super::placement::Entity")]
    Placements,
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OperatorAgency.def()
    }
}

impl Related<super::placement::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Placements.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
