//! `placement`: A placement of the guests of a case in a facility.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "placement")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub facility_id: Uuid,
    pub start_on: Date,
    pub planned_end_on: Option<Date>,
    pub end_on: Option<Date>,
    #[sea_orm(column_type = "Text")]
    pub end_reason: Option<String>,
    pub emergency: bool,
    pub authorising_order_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
        belongs_to = "super::facility::Entity",
        from = "Column::FacilityId",
        to = "super::facility::Column::Id",
        on_delete = "Restrict"
    )]
    Facility,
    #[sea_orm(
        belongs_to = "super::court_order::Entity",
        from = "Column::AuthorisingOrderId",
        to = "super::court_order::Column::Id",
        on_delete = "Restrict"
    )]
    AuthorisingOrder,
    #[sea_orm(has_many = "super::placement_guest::Entity")]
    Guests,
    #[sea_orm(has_many = "super::verification::Entity")]
    Verifications,
}

impl Related<super::case_file::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaseFile.def()
    }
}

impl Related<super::facility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Facility.def()
    }
}

impl Related<super::court_order::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuthorisingOrder.def()
    }
}

impl Related<super::placement_guest::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Guests.def()
    }
}

impl Related<super::verification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Verifications.def()
    }
}

impl Related<super::person::Entity> for Entity {
    fn to() -> RelationDef {
        super::placement_guest::Relation::Person.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::placement_guest::Relation::Placement.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
