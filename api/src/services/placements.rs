//! Placements in facilities and their periodic reviews.
//!
//! Capacity holds under concurrency on both databases: a placement first bumps
//! its facility's row (`updated_at`), which takes the row lock on PostgreSQL and
//! the write lock on SQLite, so placements into one facility are serialised; the
//! count of guests is then read inside the same transaction.
//!
//! When a connector instance delivers to the facility's operator, a placement
//! queues a PLACEMENT_REQUEST to it, and its end or a review a
//! PLACEMENT_UPDATE, in the same transaction (docs/outbound.md).

use std::collections::BTreeSet;

use entities::enums::CaseStatus;
use entities::{case_subject, court_order, facility, placement, placement_guest, verification};
use policy::{Relationship, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{Actor, now, opt_text, text, uuid};
use crate::error::{ApiError, ApiResult};
use crate::graphql::inputs::{EndPlacementInput, RecordPlacementInput, RecordVerificationInput};
use crate::graphql::loaders::occupancy;
use crate::outbox::{self, Kind, Routes};

const PLACING: [Role; 2] = [Role::CaseManager, Role::SocialWorker];

pub async fn record(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    routes: &Routes,
    input: RecordPlacementInput,
) -> ApiResult<placement::Model> {
    let case_id = uuid("caseId", &input.case_id)?;
    let facility_id = uuid("facilityId", &input.facility_id)?;
    let (case, links) = actor.case(db, case_id).await?;
    actor.require_lead(&links, &PLACING, "place persons")?;
    if case.status == CaseStatus::Closed {
        return Err(ApiError::Conflict(format!("case {case_id} is closed")));
    }
    if input.person_ids.is_empty() {
        return Err(ApiError::bad_input(
            "personIds",
            "place at least one person",
        ));
    }
    let mut persons = BTreeSet::new();
    for (i, p) in input.person_ids.iter().enumerate() {
        if !persons.insert(uuid(&format!("personIds[{i}]"), p)?) {
            return Err(ApiError::bad_input(
                format!("personIds[{i}]"),
                "is listed twice",
            ));
        }
    }
    let subjects: BTreeSet<Uuid> = case_subject::Entity::find()
        .filter(case_subject::Column::CaseId.eq(case_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.person_id)
        .collect();
    if let Some((i, _)) = input
        .person_ids
        .iter()
        .enumerate()
        .find(|(_, p)| uuid("personIds", p).is_ok_and(|id| !subjects.contains(&id)))
    {
        return Err(ApiError::bad_input(
            format!("personIds[{i}]"),
            "is not a subject of this case",
        ));
    }
    let start_on = input.start_on.unwrap_or(actor.today);
    if let Some(end) = input.planned_end_on
        && end < start_on
    {
        return Err(ApiError::bad_input("plannedEndOn", "is before startOn"));
    }
    if let Some(first) = input.first_verification_on
        && first < start_on
    {
        return Err(ApiError::bad_input(
            "firstVerificationOn",
            "is before startOn",
        ));
    }
    let order_id = match &input.authorising_order_id {
        Some(o) => {
            let oid = uuid("authorisingOrderId", o)?;
            court_order::Entity::find_by_id(oid)
                .one(db)
                .await?
                .filter(|o| o.case_id == case_id)
                .ok_or_else(|| {
                    ApiError::bad_input("authorisingOrderId", "is not an order of this case")
                })?;
            Some(oid)
        }
        None => None,
    };

    let txn = db.begin().await?;
    let now = now();
    // Serialise placements into this facility (see the module doc).
    let locked = facility::Entity::update_many()
        .col_expr(facility::Column::UpdatedAt, Expr::value(now))
        .filter(facility::Column::Id.eq(facility_id))
        .exec(&txn)
        .await?;
    if locked.rows_affected != 1 {
        return Err(ApiError::bad_input(
            "facilityId",
            format!("no facility {facility_id}"),
        ));
    }
    let fac = facility::Entity::find_by_id(facility_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::bad_input("facilityId", format!("no facility {facility_id}")))?;
    let taken = occupancy(&txn, &[facility_id])
        .await?
        .get(&facility_id)
        .copied()
        .unwrap_or(0);
    let free = i64::from(fac.capacity) - taken;
    if (persons.len() as i64) > free {
        return Err(ApiError::Conflict(format!(
            "facility `{}` has {} place(s) free, {} requested",
            fac.name,
            free.max(0),
            persons.len()
        )));
    }
    let already = placement_guest::Entity::find()
        .inner_join(placement::Entity)
        .filter(placement_guest::Column::PersonId.is_in(persons.iter().copied()))
        .filter(placement::Column::EndOn.is_null())
        .count(&txn)
        .await?;
    if already > 0 {
        return Err(ApiError::Conflict(
            "a person to place is already in an active placement; end it first".into(),
        ));
    }
    let id = Uuid::now_v7();
    let saved = placement::ActiveModel {
        id: Set(id),
        case_id: Set(case_id),
        facility_id: Set(facility_id),
        start_on: Set(start_on),
        planned_end_on: Set(input.planned_end_on),
        end_on: Set(None),
        end_reason: Set(None),
        emergency: Set(input.emergency),
        authorising_order_id: Set(order_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    for person_id in persons {
        placement_guest::ActiveModel {
            placement_id: Set(id),
            person_id: Set(person_id),
        }
        .insert(&txn)
        .await?;
    }
    if let Some(due) = input.first_verification_on {
        insert_open_verification(&txn, id, due).await?;
    }
    outbox::placement_changed(&txn, routes, &saved, Kind::PlacementRequest).await?;
    txn.commit().await?;
    Ok(saved)
}

async fn insert_open_verification<C: sea_orm::ConnectionTrait>(
    db: &C,
    placement_id: Uuid,
    due_on: chrono::NaiveDate,
) -> ApiResult<verification::Model> {
    Ok(verification::ActiveModel {
        id: Set(Uuid::now_v7()),
        placement_id: Set(placement_id),
        due_on: Set(due_on),
        done_on: Set(None),
        outcome: Set(None),
        notes: Set(None),
        recorded_by: Set(None),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

pub async fn end(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    routes: &Routes,
    input: EndPlacementInput,
) -> ApiResult<placement::Model> {
    let id = uuid("placementId", &input.placement_id)?;
    let reason = text("reason", &input.reason, 1, 2000)?;
    let p = placement::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("placement {id}")))?;
    let (_, links) = actor
        .case(db, p.case_id)
        .await
        .map_err(|_| ApiError::not_found(format!("placement {id}")))?;
    actor.require_lead(&links, &PLACING, "end placements")?;
    let end_on = input.end_on.unwrap_or(actor.today);
    if end_on < p.start_on {
        return Err(ApiError::bad_input(
            "endOn",
            format!("is before the placement started ({})", p.start_on),
        ));
    }
    let txn = db.begin().await?;
    let now = now();
    facility::Entity::update_many()
        .col_expr(facility::Column::UpdatedAt, Expr::value(now))
        .filter(facility::Column::Id.eq(p.facility_id))
        .exec(&txn)
        .await?;
    let updated = placement::Entity::update_many()
        .col_expr(placement::Column::EndOn, Expr::value(end_on))
        .col_expr(placement::Column::EndReason, Expr::value(reason))
        .col_expr(placement::Column::UpdatedAt, Expr::value(now))
        .filter(placement::Column::Id.eq(id))
        .filter(placement::Column::EndOn.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::Conflict(format!(
            "placement {id} has already ended"
        )));
    }
    let saved = placement::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("placement {id}")))?;
    outbox::placement_changed(&txn, routes, &saved, Kind::PlacementUpdate).await?;
    txn.commit().await?;
    Ok(saved)
}

/// Record a review: completes the earliest open one (or records a new one done
/// today) and schedules the next.
pub async fn record_verification(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    routes: &Routes,
    input: RecordVerificationInput,
) -> ApiResult<(verification::Model, Uuid)> {
    let id = uuid("placementId", &input.placement_id)?;
    let notes = opt_text("notes", input.notes.as_deref(), 10_000)?;
    let p = placement::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("placement {id}")))?;
    let (_, links) = actor
        .case(db, p.case_id)
        .await
        .map_err(|_| ApiError::not_found(format!("placement {id}")))?;
    if ![
        Relationship::Lead,
        Relationship::TeamMember,
        Relationship::FacilityOperator,
    ]
    .iter()
    .any(|r| links.contains(r))
    {
        return Err(ApiError::Forbidden(
            "only the case team or the facility's operator may record reviews".into(),
        ));
    }
    let done_on = input.done_on.unwrap_or(actor.today);
    if done_on > actor.today {
        return Err(ApiError::bad_input("doneOn", "is in the future"));
    }
    if done_on < p.start_on {
        return Err(ApiError::bad_input(
            "doneOn",
            "is before the placement started",
        ));
    }
    if let Some(next) = input.next_due_on
        && next <= done_on
    {
        return Err(ApiError::bad_input("nextDueOn", "must be after doneOn"));
    }
    let txn = db.begin().await?;
    let open = verification::Entity::find()
        .filter(verification::Column::PlacementId.eq(id))
        .filter(verification::Column::DoneOn.is_null())
        .order_by_asc(verification::Column::DueOn)
        .one(&txn)
        .await?;
    let outcome: entities::enums::VerificationOutcome = input.outcome.into();
    let done = match open {
        Some(v) => {
            let mut am: verification::ActiveModel = v.into();
            am.done_on = Set(Some(done_on));
            am.outcome = Set(Some(outcome));
            am.notes = Set(notes);
            am.recorded_by = Set(Some(actor.operator().to_string()));
            am.update(&txn).await?
        }
        None => {
            verification::ActiveModel {
                id: Set(Uuid::now_v7()),
                placement_id: Set(id),
                due_on: Set(done_on),
                done_on: Set(Some(done_on)),
                outcome: Set(Some(outcome)),
                notes: Set(notes),
                recorded_by: Set(Some(actor.operator().to_string())),
                created_at: Set(now()),
            }
            .insert(&txn)
            .await?
        }
    };
    if let Some(next) = input.next_due_on {
        insert_open_verification(&txn, id, next).await?;
    }
    // The facility's own reviews need not be echoed back to it.
    if !links.contains(&Relationship::FacilityOperator) || links.contains(&Relationship::Lead) {
        outbox::placement_changed(&txn, routes, &p, Kind::PlacementUpdate).await?;
    }
    txn.commit().await?;
    Ok((done, p.case_id))
}
