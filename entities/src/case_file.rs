//! `case_file`: A case (`case` is an SQL keyword, hence `case_file`).
//! `case_manager` is an operator id.

use crate::enums::{CaseStatus, RiskLevel};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_file")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique, column_type = "Text")]
    pub reference: String,
    pub status: CaseStatus,
    #[sea_orm(column_type = "Text")]
    pub lead_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub case_manager: String,
    pub risk_level: RiskLevel,
    #[sea_orm(column_type = "Text")]
    pub summary: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub court_of_record_id: Option<String>,
    pub opened_on: Date,
    pub closed_on: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::LeadAgencyId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    LeadAgency,
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::CourtOfRecordId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    CourtOfRecord,
    #[sea_orm(has_many = "super::case_subject::Entity")]
    CaseSubjects,
    #[sea_orm(has_many = "super::case_team_member::Entity")]
    TeamMembers,
    #[sea_orm(has_many = "super::referral::Entity")]
    Referrals,
    #[sea_orm(has_many = "super::court_order::Entity")]
    CourtOrders,
    #[sea_orm(has_many = "super::placement::Entity")]
    Placements,
    #[sea_orm(has_many = "super::health_event::Entity")]
    HealthEvents,
    #[sea_orm(has_many = "super::intervention::Entity")]
    Interventions,
    #[sea_orm(has_many = "super::case_note::Entity")]
    Notes,
    #[sea_orm(has_many = "super::break_glass_grant::Entity")]
    BreakGlassGrants,
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LeadAgency.def()
    }
}

impl Related<super::case_subject::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaseSubjects.def()
    }
}

impl Related<super::case_team_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TeamMembers.def()
    }
}

impl Related<super::referral::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Referrals.def()
    }
}

impl Related<super::court_order::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CourtOrders.def()
    }
}

impl Related<super::placement::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Placements.def()
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

impl Related<super::case_note::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notes.def()
    }
}

impl Related<super::break_glass_grant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::BreakGlassGrants.def()
    }
}

impl Related<super::person::Entity> for Entity {
    fn to() -> RelationDef {
        super::case_subject::Relation::Person.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::case_subject::Relation::CaseFile.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
