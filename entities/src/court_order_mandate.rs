//! `court_order_mandate`: A task a court order mandates to an agency.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "court_order_mandate")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub due_on: Option<Date>,
    pub fulfilled_on: Option<Date>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::court_order::Entity",
        from = "Column::OrderId",
        to = "super::court_order::Column::Id",
        on_delete = "Cascade"
    )]
    CourtOrder,
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::AgencyId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    Agency,
}

impl Related<super::court_order::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CourtOrder.def()
    }
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agency.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
