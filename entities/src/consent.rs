//! `consent`: A consent given for a subject to disclose data classes to recipients for purposes.
//! The JSON columns hold arrays of strings: data-class, agency-id, agency-kind and
//! purpose values.

use crate::enums::ConsentGiver;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub subject_id: Uuid,
    pub given_by: ConsentGiver,
    pub given_by_person_id: Option<Uuid>,
    pub data_classes: Json,
    pub recipient_agencies: Json,
    pub recipient_kinds: Json,
    pub purposes: Json,
    pub valid_from: DateTimeUtc,
    pub valid_until: Option<DateTimeUtc>,
    pub withdrawn_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub evidence_ref: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub recorded_by_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub recorded_by_operator: String,
    pub created_at: DateTimeUtc,
    /// When the withdrawal or expiry of this consent was propagated to the
    /// partners (queued messages dropped, forget notices queued).
    pub propagated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::person::Entity",
        from = "Column::SubjectId",
        to = "super::person::Column::Id",
        on_delete = "Restrict"
    )]
    Subject,
    #[sea_orm(
        belongs_to = "super::person::Entity",
        from = "Column::GivenByPersonId",
        to = "super::person::Column::Id",
        on_delete = "Restrict"
    )]
    GivenByPerson,
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::RecordedByAgencyId",
        to = "super::agency::Column::Id",
        on_delete = "Restrict"
    )]
    RecordedByAgency,
}

impl Related<super::person::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Subject.def()
    }
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RecordedByAgency.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
