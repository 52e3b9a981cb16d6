//! `outbox_message`: a message the hub owes a partner agency, written in the
//! same transaction as the change that causes it and delivered by the outbox
//! workers (claimed with a lease, retried with backoff, identified to the
//! receiver by `id` as its idempotency key).
//!
//! It never holds the personal data it will carry: the payload is built at
//! send time under the policy then in force. `body` holds only what is not
//! personal data of the record (a forget notice's subject id and classes).
//! `classes` and `bases` record, once delivered, which data classes the
//! payload carried and the legal basis of each (`CLASS=KIND:id`): a
//! withdrawal finds the partners to tell to forget through them.
//!
//! kind: PLACEMENT_REQUEST, PLACEMENT_UPDATE, COURT_REPORT, FORGET.
//! record_type: PLACEMENT, COURT_REPORT, CONSENT.
//! status: PENDING, DELIVERED, DROPPED (never to be sent; `status_reason`
//! says why), DEAD (gave up after the configured attempts; `last_error`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_message")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub instance: String,
    #[sea_orm(column_type = "Text")]
    pub receiver_agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub record_type: String,
    pub record_id: Uuid,
    pub case_id: Option<Uuid>,
    pub subject_ids: Json,
    #[sea_orm(column_type = "Text")]
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub status_reason: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub body: Option<Json>,
    pub classes: Option<Json>,
    pub bases: Option<Json>,
    #[sea_orm(column_type = "Text", nullable)]
    pub payload_digest: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
