//! Reports to the court and the hub's outbound messages, as the case sees
//! them: what was sent to whom, and whether it arrived. A message's metadata
//! (kind, receiver, status, attempts, times) is ADMINISTRATIVE; a report's
//! title and text are JUDICIAL. Payloads are never kept, so never shown.

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entities::{court_report, outbox_message};
use policy::DataClass;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{Agency, Case, CourtOrder, agency};
use crate::error::ApiError;
use crate::graphql::enums;
use crate::graphql::guard::{Record, RequestContext, dataClass, reveal};

/// Where an outbound message is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Queued, or waiting for its next attempt.
    Pending,
    /// Acknowledged by the receiver.
    Delivered,
    /// Never to be sent: the receiver may no longer have its data (see `statusReason`).
    Dropped,
    /// Given up after the configured attempts, or refused by the receiver (see `lastError`).
    Dead,
}

/// What an outbound message is for.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum OutboundKind {
    PlacementRequest,
    PlacementUpdate,
    CourtReport,
    Forget,
}

/// A message the hub sent, or owes, to a partner agency's system.
#[derive(Clone)]
pub struct OutboundMessage(pub outbox_message::Model);

#[Object]
impl OutboundMessage {
    /// Also the idempotency key the receiver saw.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> Result<OutboundKind> {
        Ok(match self.0.kind.as_str() {
            "PLACEMENT_REQUEST" => OutboundKind::PlacementRequest,
            "PLACEMENT_UPDATE" => OutboundKind::PlacementUpdate,
            "COURT_REPORT" => OutboundKind::CourtReport,
            "FORGET" => OutboundKind::Forget,
            other => return Err(ApiError::internal(format!("outbox kind {other}")).into()),
        })
    }
    async fn receiver(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        agency(ctx, &self.0.receiver_agency_id).await
    }
    async fn status(&self) -> Result<DeliveryStatus> {
        Ok(match self.0.status.as_str() {
            "PENDING" => DeliveryStatus::Pending,
            "DELIVERED" => DeliveryStatus::Delivered,
            "DROPPED" => DeliveryStatus::Dropped,
            "DEAD" => DeliveryStatus::Dead,
            other => return Err(ApiError::internal(format!("outbox status {other}")).into()),
        })
    }
    /// Why it was dropped, or the receiver's receipt.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// The last failure (status of the receiver, timeout, refusal).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// The classes the delivered payload carried.
    async fn classes(&self) -> Vec<String> {
        self.0
            .classes
            .as_ref()
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(String::from))
            .collect()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == "PENDING").then_some(self.0.next_attempt_at)
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}

/// The outbound messages about a case, oldest first: all of them for the
/// agencies that lead the case or sit on its team, otherwise only those sent
/// to the caller's own agency (that a report went to the court is not every
/// linked party's business).
pub async fn of_case(ctx: &Context<'_>, case_id: uuid::Uuid) -> Result<Vec<OutboundMessage>> {
    use policy::Relationship;
    let rc = ctx.data::<RequestContext>()?;
    let caller = ctx.data::<crate::auth::Caller>()?;
    let links = rc.facts(Record::Case(case_id)).await?.relationships;
    let mut q = outbox_message::Entity::find().filter(outbox_message::Column::CaseId.eq(case_id));
    if !links.contains(&Relationship::Lead) && !links.contains(&Relationship::TeamMember) {
        q = q.filter(outbox_message::Column::ReceiverAgencyId.eq(&caller.requester.agency));
    }
    let rows = q
        .order_by_asc(outbox_message::Column::CreatedAt)
        .order_by_asc(outbox_message::Column::Id)
        .all(&rc.db)
        .await
        .map_err(ApiError::from)?;
    Ok(rows.into_iter().map(OutboundMessage).collect())
}

/// A report to the juvenile court on a case.
#[derive(Clone)]
pub struct CourtReport(pub court_report::Model);

impl CourtReport {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        class: DataClass,
        f: impl FnOnce(&court_report::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Case(self.0.case_id), class, || f(&self.0)).await
    }
}

#[Object]
impl CourtReport {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn case(&self, ctx: &Context<'_>) -> Result<Option<Case>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| m.case_id)
            .await?;
        let rc = ctx.data::<RequestContext>()?;
        Ok(rc.loaders.case.load_one(id).await?.map(Case))
    }

    /// The court it goes to.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn court(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| {
                m.court_agency_id.clone()
            })
            .await?;
        agency(ctx, &id).await
    }

    /// The agency that wrote it.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| {
                m.author_agency_id.clone()
            })
            .await?;
        agency(ctx, &id).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn submitted_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.submitted_at))
            .await
    }

    /// The order it answers.
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn order(&self, ctx: &Context<'_>) -> Result<Option<CourtOrder>> {
        let Some(id) = self.show(ctx, DataClass::Judicial, |m| m.order_id).await? else {
            return Ok(None);
        };
        let rc = ctx.data::<RequestContext>()?;
        Ok(entities::court_order::Entity::find_by_id(id)
            .one(&rc.db)
            .await
            .map_err(ApiError::from)?
            .map(CourtOrder))
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn title(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Judicial, |m| Some(m.title.clone()))
            .await
    }

    /// The report's text.
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn body(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Judicial, |m| Some(m.body.clone()))
            .await
    }

    /// Its delivery to the court.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn delivery(&self, ctx: &Context<'_>) -> Result<Option<OutboundMessage>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        Ok(outbox_message::Entity::find()
            .filter(outbox_message::Column::RecordType.eq(crate::outbox::record::COURT_REPORT))
            .filter(outbox_message::Column::RecordId.eq(self.0.id))
            .one(&rc.db)
            .await
            .map_err(ApiError::from)?
            .map(OutboundMessage))
    }
}

/// The reports on a case, newest first.
pub async fn reports_of_case(ctx: &Context<'_>, case_id: uuid::Uuid) -> Result<Vec<CourtReport>> {
    let rc = ctx.data::<RequestContext>()?;
    let rows = court_report::Entity::find()
        .filter(court_report::Column::CaseId.eq(case_id))
        .order_by_desc(court_report::Column::SubmittedAt)
        .all(&rc.db)
        .await
        .map_err(ApiError::from)?;
    Ok(rows.into_iter().map(CourtReport).collect())
}
