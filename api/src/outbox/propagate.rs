//! What a withdrawn or expired consent means for data already on its way, or
//! already out (docs/outbound.md, "Withdrawal and expiry").
//!
//! For each consent withdrawn or expired and not yet propagated:
//! 1. every queued message about its subject is built again as its receiver
//!    would get it now; one that is no longer worth sending is DROPPED with
//!    the consent named in the reason (nothing leaves, so nothing is logged
//!    in the access log; the drop is the message's own record);
//! 2. every partner that received data resting on the consent (the `bases`
//!    of delivered messages) gets one FORGET notice naming the subject, the
//!    classes and the messages, retried until acknowledged;
//! 3. the consent is marked propagated, in the transaction of step 2, and
//!    only if no other process did it first.
//!
//! The sweep finds withdrawals made anywhere (GraphQL, a connector's import)
//! and consents that simply ran out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use entities::{consent, outbox_message};
use sea_orm::sea_query::{Alias, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::payload::{self, Built};
use super::{Kind, NewMessage, record, status};
use crate::error::ApiError;
use crate::http::AppState;

/// Consents handled per sweep (the rest wait for the next one).
const SWEEP_BATCH: u64 = 100;

/// Propagate the consents withdrawn or expired by `now` and not yet
/// propagated. Returns how many were.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let due = consent::Entity::find()
        .filter(consent::Column::PropagatedAt.is_null())
        .filter(
            Condition::any()
                .add(consent::Column::WithdrawnAt.lte(now))
                .add(consent::Column::ValidUntil.lte(now)),
        )
        .order_by_asc(consent::Column::Id)
        .limit(SWEEP_BATCH)
        .all(state.db())
        .await?;
    let mut done = 0;
    for c in due {
        if propagate(state, &c, now).await? {
            done += 1;
        }
    }
    Ok(done)
}

/// Propagate one consent's end. `false` when another process did it first.
pub async fn propagate(
    state: &AppState,
    c: &consent::Model,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let reason = if c.withdrawn_at.is_some_and(|w| w <= now) {
        "WITHDRAWN"
    } else {
        "EXPIRED"
    };
    let why = format!(
        "consent {} {}",
        c.id,
        if reason == "WITHDRAWN" {
            "withdrawn"
        } else {
            "expired"
        }
    );
    // 1. Queued messages about the subject, as their receivers would get them now.
    let subject = c.subject_id.to_string();
    let queued = outbox_message::Entity::find()
        .filter(outbox_message::Column::Status.eq(status::PENDING))
        .filter(outbox_message::Column::Kind.ne(Kind::Forget.as_str()))
        .filter(text_contains(outbox_message::Column::SubjectIds, &subject))
        .all(state.db())
        .await?;
    let mut drops = Vec::new();
    for m in queued {
        match payload::build(state, &m).await {
            Ok(Built::Drop(r)) => drops.push((m.id, format!("{why}: {r}"))),
            Ok(Built::Send { .. }) => {}
            // Decided again at its send; one broken message must not hold
            // up the forget notices.
            Err(e) => {
                tracing::error!(message = %m.id, error = %e.message(), "outbox: cannot re-check a queued message");
            }
        }
    }
    // 2. Partners that received data resting on the consent.
    let basis = format!("CONSENT:{}", c.id);
    let delivered = outbox_message::Entity::find()
        .filter(outbox_message::Column::Status.eq(status::DELIVERED))
        .filter(text_contains(outbox_message::Column::Bases, &basis))
        .order_by_asc(outbox_message::Column::DeliveredAt)
        .all(state.db())
        .await?;
    let mut by_receiver: BTreeMap<(String, String), (BTreeSet<String>, Vec<Uuid>)> =
        BTreeMap::new();
    for m in &delivered {
        let classes: BTreeSet<String> = m
            .bases
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|b| b.get("basis").and_then(Value::as_str) == Some(basis.as_str()))
            .filter_map(|b| b.get("class").and_then(Value::as_str).map(String::from))
            .collect();
        if classes.is_empty() {
            continue;
        }
        let entry = by_receiver
            .entry((m.receiver_agency_id.clone(), m.instance.clone()))
            .or_default();
        entry.0.extend(classes);
        entry.1.push(m.id);
    }

    let txn = state.db().begin().await?;
    let claimed = consent::Entity::update_many()
        .col_expr(consent::Column::PropagatedAt, Expr::value(now))
        .filter(consent::Column::Id.eq(c.id))
        .filter(consent::Column::PropagatedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(false);
    }
    for (id, r) in &drops {
        outbox_message::Entity::update_many()
            .col_expr(outbox_message::Column::Status, Expr::value(status::DROPPED))
            .col_expr(
                outbox_message::Column::StatusReason,
                Expr::value(r.as_str()),
            )
            .col_expr(outbox_message::Column::UpdatedAt, Expr::value(now))
            .filter(outbox_message::Column::Id.eq(*id))
            .filter(outbox_message::Column::Status.eq(status::PENDING))
            // A message a worker holds right now is decided at its send.
            .filter(
                Condition::any()
                    .add(outbox_message::Column::ClaimedUntil.is_null())
                    .add(outbox_message::Column::ClaimedUntil.lt(now)),
            )
            .exec(&txn)
            .await?;
        tracing::info!(message = %id, reason = %r, "outbox: dropped, its consent ended");
    }
    let routes = state.outbound();
    for ((receiver, instance), (classes, messages)) in by_receiver {
        // The partner's current route, else the one that delivered the data.
        let instance = routes
            .to_agency(&receiver)
            .map(|r| r.instance.clone())
            .unwrap_or(instance);
        super::enqueue_at(
            &txn,
            NewMessage {
                instance,
                receiver,
                kind: Kind::Forget,
                record_type: record::CONSENT,
                record_id: c.id,
                case_id: None,
                subjects: vec![c.subject_id],
                body: Some(json!({
                    "subject": {"id": c.subject_id},
                    "classes": classes,
                    "consent": c.id,
                    "reason": reason,
                    "messages": messages,
                })),
            },
            now,
        )
        .await?;
    }
    txn.commit().await?;
    tracing::info!(consent = %c.id, reason, dropped = drops.len(), "outbox: consent end propagated");
    Ok(true)
}

/// `CAST(col AS TEXT) LIKE '%needle%'` (the JSON columns, on both backends;
/// the needles are uuids and `KIND:uuid`, with no LIKE wildcards).
fn text_contains(col: impl sea_orm::ColumnTrait, needle: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::col(col)
        .cast_as(Alias::new("TEXT"))
        .like(format!("%{needle}%"))
}
