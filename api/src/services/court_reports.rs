//! Reports to the juvenile court (relazioni), and their delivery.
//!
//! A case manager of the agency leading the case writes a report, optionally
//! answering an order of the court and one of its mandates to the agency. The
//! report and its outbox message are written in one transaction; the outbox
//! sends it to the court, signed with the hub's key, under the policy in
//! force at the send (docs/outbound.md). A mandate answered is fulfilled.

use entities::{case_subject, court_order, court_order_mandate, court_report};
use policy::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{Actor, now, text, uuid};
use crate::error::{ApiError, ApiResult};
use crate::graphql::inputs::SubmitCourtReportInput;
use crate::outbox::{self, Kind, NewMessage, Routes};

const REPORTING: [Role; 2] = [Role::CaseManager, Role::SocialWorker];

pub async fn submit(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor<'_>,
    routes: &Routes,
    input: SubmitCourtReportInput,
) -> ApiResult<court_report::Model> {
    let case_id = uuid("caseId", &input.case_id)?;
    let title = text("title", &input.title, 3, 300)?;
    let body = text("body", &input.body, 1, 100_000)?;
    let (_, links) = actor.case(db, case_id).await?;
    actor.require_lead(&links, &REPORTING, "report to the court")?;
    let order = match &input.order_id {
        Some(o) => {
            let oid = uuid("orderId", o)?;
            Some(
                court_order::Entity::find_by_id(oid)
                    .one(db)
                    .await?
                    .filter(|o| o.case_id == case_id)
                    .ok_or_else(|| {
                        ApiError::bad_input("orderId", "is not an order of this case")
                    })?,
            )
        }
        // The court that has the case: the one of its latest order.
        None => {
            court_order::Entity::find()
                .filter(court_order::Column::CaseId.eq(case_id))
                .order_by_desc(court_order::Column::IssuedOn)
                .one(db)
                .await?
        }
    };
    let Some(order) = order else {
        return Err(ApiError::bad_input(
            "caseId",
            "no court has this case (it has no court order): a report goes to the court that has the case",
        ));
    };
    let mandate = match &input.mandate_id {
        Some(m) => {
            if input.order_id.is_none() {
                return Err(ApiError::bad_input(
                    "mandateId",
                    "name the order (`orderId`) whose mandate the report answers",
                ));
            }
            let mid = uuid("mandateId", m)?;
            let mandate = court_order_mandate::Entity::find_by_id(mid)
                .one(db)
                .await?
                .filter(|m| m.order_id == order.id)
                .ok_or_else(|| {
                    ApiError::bad_input("mandateId", "is not a mandate of this order")
                })?;
            if mandate.agency_id != actor.agency() {
                return Err(ApiError::bad_input(
                    "mandateId",
                    format!("mandates agency `{}`, not yours", mandate.agency_id),
                ));
            }
            Some(mandate)
        }
        None => None,
    };
    let Some(route) = routes.to_agency(&order.court_id) else {
        return Err(ApiError::Conflict(format!(
            "no connector instance delivers to the court `{}`; configure a `kind = \"court\"` instance for it (the report was not recorded)",
            order.court_id
        )));
    };
    let subjects: Vec<Uuid> = case_subject::Entity::find()
        .filter(case_subject::Column::CaseId.eq(case_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.person_id)
        .collect();

    let txn = db.begin().await?;
    let id = Uuid::now_v7();
    let saved = court_report::ActiveModel {
        id: Set(id),
        case_id: Set(case_id),
        order_id: Set(input.order_id.as_ref().map(|_| order.id)),
        mandate_id: Set(mandate.as_ref().map(|m| m.id)),
        court_agency_id: Set(order.court_id.clone()),
        author_agency_id: Set(actor.agency().to_string()),
        author_operator: Set(actor.operator().to_string()),
        title: Set(title),
        body: Set(body),
        submitted_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    if let Some(m) = &mandate {
        court_order_mandate::Entity::update_many()
            .col_expr(
                court_order_mandate::Column::FulfilledOn,
                Expr::value(actor.today),
            )
            .filter(court_order_mandate::Column::Id.eq(m.id))
            .filter(court_order_mandate::Column::FulfilledOn.is_null())
            .exec(&txn)
            .await?;
    }
    outbox::enqueue(
        &txn,
        NewMessage {
            instance: route.instance.clone(),
            receiver: order.court_id.clone(),
            kind: Kind::CourtReport,
            record_type: outbox::record::COURT_REPORT,
            record_id: id,
            case_id: Some(case_id),
            subjects,
            body: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}
