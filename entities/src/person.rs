//! `person`: A person: a child, a mother or any other subject of a case.

use crate::enums::{MigrationStatus, Sex};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "person")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub given_name: String,
    #[sea_orm(column_type = "Text")]
    pub family_name: String,
    pub birth_on: Option<Date>,
    pub sex: Sex,
    #[sea_orm(unique, column_type = "Text")]
    pub fiscal_code: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub birth_place: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub citizenship: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub phone: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub email: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub address: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub municipality: Option<String>,
    pub languages: Json,
    pub mediator_needed: bool,
    pub migration_status: MigrationStatus,
    pub permit_expires_on: Option<Date>,
    #[sea_orm(column_type = "Text")]
    pub ethnic_origin: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::case_subject::Entity")]
    CaseSubjects,
    #[sea_orm(has_many = "super::referral_subject::Entity")]
    ReferralSubjects,
    #[sea_orm(has_many = "super::placement_guest::Entity")]
    PlacementGuests,
    #[sea_orm(has_many = "super::health_event::Entity")]
    HealthEvents,
    #[sea_orm(has_many = "super::intervention::Entity", via_rel = "Relation::Person")]
    Interventions,
    #[sea_orm(has_many = "super::consent::Entity", via_rel = "Relation::Subject")]
    Consents,
}

impl Related<super::case_subject::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaseSubjects.def()
    }
}

impl Related<super::referral_subject::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReferralSubjects.def()
    }
}

impl Related<super::placement_guest::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PlacementGuests.def()
    }
}

impl Related<super::health_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HealthEvents.def()
    }
}

impl Related<super::intervention::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Interventions.def()
    }
}

impl Related<super::consent::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Consents.def()
    }
}

impl Related<super::case_file::Entity> for Entity {
    fn to() -> RelationDef {
        super::case_subject::Relation::CaseFile.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::case_subject::Relation::Person.def().rev())
    }
}

impl Related<super::referral::Entity> for Entity {
    fn to() -> RelationDef {
        super::referral_subject::Relation::Referral.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::referral_subject::Relation::Person.def().rev())
    }
}

impl Related<super::placement::Entity> for Entity {
    fn to() -> RelationDef {
        super::placement_guest::Relation::Placement.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::placement_guest::Relation::Person.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
