//! `referral`: A referral (segnalazione) addressed to the social service that triages it.
//! `reporter_kind` holds an agency-kind value. The triage columns are all null or
//! outcome, reason, at and by are all set (database CHECK).

use crate::enums::{ReferralChannel, TriageOutcome, Urgency};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "referral")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub reporter_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub reporter_kind: String,
    #[sea_orm(column_type = "Text")]
    pub reporter_operator: String,
    #[sea_orm(column_type = "Text")]
    pub addressed_to_id: String,
    pub channel: ReferralChannel,
    pub urgency: Urgency,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub received_at: DateTimeUtc,
    pub triage_outcome: Option<TriageOutcome>,
    #[sea_orm(column_type = "Text")]
    pub triage_reason: Option<String>,
    pub triaged_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub triaged_by: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub redirected_to_id: Option<String>,
    pub case_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::ReporterAgencyId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    ReporterAgency,
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::AddressedToId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    AddressedTo,
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::RedirectedToId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    RedirectedTo,
    #[sea_orm(
        belongs_to = "super::case_file::Entity",
        from = "Column::CaseId",
        to = "super::case_file::Column::Id",
        on_delete = "Restrict"
    )]
    CaseFile,
    #[sea_orm(has_many = "super::referral_reason::Entity")]
    Reasons,
    #[sea_orm(has_many = "super::referral_subject::Entity")]
    Subjects,
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AddressedTo.def()
    }
}

impl Related<super::case_file::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaseFile.def()
    }
}

impl Related<super::referral_reason::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Reasons.def()
    }
}

impl Related<super::referral_subject::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Subjects.def()
    }
}

impl Related<super::person::Entity> for Entity {
    fn to() -> RelationDef {
        super::referral_subject::Relation::Person.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::referral_subject::Relation::Referral.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
