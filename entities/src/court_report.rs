//! `court_report`: a report a case manager submitted to the juvenile court on
//! a case (optionally answering an order and one of its mandates). Its
//! delivery is the `outbox_message` of kind COURT_REPORT with this record id.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "court_report")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub order_id: Option<Uuid>,
    pub mandate_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub court_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub author_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub author_operator: String,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub submitted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
