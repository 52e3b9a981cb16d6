//! `placement_guest`: A person hosted by a placement.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "placement_guest")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub placement_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::placement::Entity",
        from = "Column::PlacementId",
        to = "super::placement::Column::Id",
        on_delete = "Cascade"
    )]
    Placement,
    #[sea_orm(
        belongs_to = "super::person::Entity",
        from = "Column::PersonId",
        to = "super::person::Column::Id",
        on_delete = "Cascade"
    )]
    Person,
}

impl Related<super::placement::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Placement.def()
    }
}

impl Related<super::person::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Person.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
