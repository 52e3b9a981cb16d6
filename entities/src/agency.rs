//! `agency`: An agency taking part in the network; `id` is a stable slug such as `polo-nord`.
//! `kind` holds an agency-kind value (the policy crate owns that enum).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub city: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        has_many = "super::case_file::Entity",
        via_rel = "Relation::LeadAgency"
    )]
    LeadCases,
    #[sea_orm(has_many = "super::facility::Entity")]
    Facilities,
    #[sea_orm(has_many = "super::case_team_member::Entity")]
    TeamMemberships,
    #[sea_orm(has_many = "super::court_order::Entity", via_rel = "Relation::Court")]
    CourtOrders,
    #[sea_orm(
        has_many = "super::referral::Entity",
        via_rel = "Relation::AddressedTo"
    )]
    AddressedReferrals,
}

impl Related<super::case_file::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LeadCases.def()
    }
}

impl Related<super::facility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Facilities.def()
    }
}

impl Related<super::case_team_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TeamMemberships.def()
    }
}

impl Related<super::court_order::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CourtOrders.def()
    }
}

impl Related<super::referral::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AddressedReferrals.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
