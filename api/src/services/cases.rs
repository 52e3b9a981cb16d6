//! Case steering: team membership, notes, status transitions, court orders.

use entities::enums::CaseStatus;
use entities::{case_file, case_note, case_team_member, court_order, court_order_mandate};
use policy::{AgencyKind, DataClass, Relationship, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{Actor, agency_of, conflict_on_duplicate, now, opt_text, text, uuid};
use crate::error::{ApiError, ApiResult};
use crate::graphql::inputs::{
    AddCaseNoteInput, AddTeamMemberInput, ChangeCaseStatusInput, EndTeamMembershipInput,
    RecordCourtOrderInput,
};

const STEERING: [Role; 1] = [Role::CaseManager];

pub async fn add_team_member(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: AddTeamMemberInput,
) -> ApiResult<case_team_member::Model> {
    let case_id = uuid("caseId", &input.case_id)?;
    let operator = text("operator", &input.operator, 1, 200)?;
    let (case, links) = actor.case(db, case_id).await?;
    actor.require_lead(&links, &STEERING, "change the team")?;
    if case.status == CaseStatus::Closed {
        return Err(ApiError::Conflict(format!("case {case_id} is closed")));
    }
    let agency = agency_of(db, "agencyId", input.agency_id.as_str(), &[]).await?;
    let from_on = input.from_on.unwrap_or(actor.today);
    let txn = db.begin().await?;
    let active = case_team_member::Entity::find()
        .filter(case_team_member::Column::CaseId.eq(case_id))
        .filter(case_team_member::Column::AgencyId.eq(agency.id.as_str()))
        .filter(case_team_member::Column::Operator.eq(operator.as_str()))
        .filter(
            Condition::any()
                .add(case_team_member::Column::UntilOn.is_null())
                .add(case_team_member::Column::UntilOn.gte(from_on)),
        )
        .count(&txn)
        .await?;
    if active > 0 {
        return Err(ApiError::Conflict(format!(
            "operator `{operator}` of `{}` is already on the team of case {case_id}",
            agency.id
        )));
    }
    let role: policy::Role = input.role.into();
    let m = case_team_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case_id),
        agency_id: Set(agency.id),
        operator: Set(operator),
        role: Set(role.as_str().to_string()),
        from_on: Set(from_on),
        until_on: Set(None),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(m)
}

pub async fn end_team_membership(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: EndTeamMembershipInput,
) -> ApiResult<case_team_member::Model> {
    let id = uuid("membershipId", &input.membership_id)?;
    let m = case_team_member::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("team membership {id}")))?;
    let (_, links) = actor
        .case(db, m.case_id)
        .await
        .map_err(|_| ApiError::not_found(format!("team membership {id}")))?;
    actor.require_lead(&links, &STEERING, "change the team")?;
    let until = input.until_on.unwrap_or(actor.today);
    if until < m.from_on {
        return Err(ApiError::bad_input(
            "untilOn",
            format!("is before the membership started ({})", m.from_on),
        ));
    }
    let updated = case_team_member::Entity::update_many()
        .col_expr(case_team_member::Column::UntilOn, Expr::value(until))
        .filter(case_team_member::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(case_team_member::Column::UntilOn.is_null())
                .add(case_team_member::Column::UntilOn.gt(until)),
        )
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::Conflict(format!(
            "team membership {id} has already ended"
        )));
    }
    case_team_member::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("team membership {id}")))
}

pub async fn add_note(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: AddCaseNoteInput,
) -> ApiResult<case_note::Model> {
    let case_id = uuid("caseId", &input.case_id)?;
    let body = text("body", &input.body, 1, 10_000)?;
    let class: DataClass = input
        .data_class
        .map(Into::into)
        .unwrap_or(DataClass::Social);
    if class == DataClass::Administrative {
        return Err(ApiError::bad_input(
            "dataClass",
            "a note is never ADMINISTRATIVE data",
        ));
    }
    let (_, links) = actor.case(db, case_id).await?;
    if !(links.contains(&Relationship::Lead) || links.contains(&Relationship::TeamMember)) {
        return Err(ApiError::Forbidden(
            "only the case team may add notes".into(),
        ));
    }
    insert_note(db, actor, case_id, class, body).await
}

async fn insert_note<C: ConnectionTrait>(
    db: &C,
    actor: &Actor<'_>,
    case_id: Uuid,
    class: DataClass,
    body: String,
) -> ApiResult<case_note::Model> {
    Ok(case_note::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case_id),
        author_agency_id: Set(actor.agency().to_string()),
        author_operator: Set(actor.operator().to_string()),
        data_class: Set(class.as_str().to_string()),
        body: Set(body),
        created_at: Set(now()),
    }
    .insert(db)
    .await?)
}

/// The allowed moves of a case's status.
pub fn transition_allowed(from: CaseStatus, to: CaseStatus) -> bool {
    use CaseStatus::*;
    matches!(
        (from, to),
        (Intake, Assessment)
            | (Intake, Closed)
            | (Assessment, Active)
            | (Assessment, Closed)
            | (Active, Suspended)
            | (Active, Closed)
            | (Suspended, Active)
            | (Suspended, Closed)
            | (Closed, Assessment)
    )
}

pub async fn change_status(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: ChangeCaseStatusInput,
) -> ApiResult<case_file::Model> {
    let case_id = uuid("caseId", &input.case_id)?;
    let reason = text("reason", &input.reason, 1, 2000)?;
    let to: CaseStatus = input.status.into();
    let (case, links) = actor.case(db, case_id).await?;
    actor.require_lead(&links, &STEERING, "change the case status")?;
    if !transition_allowed(case.status, to) {
        return Err(ApiError::Conflict(format!(
            "case {case_id} cannot move from {:?} to {:?}",
            case.status, to
        )));
    }
    let txn = db.begin().await?;
    let closed_on = (to == CaseStatus::Closed).then_some(actor.today);
    let updated = case_file::Entity::update_many()
        .col_expr(case_file::Column::Status, Expr::value(to))
        .col_expr(case_file::Column::ClosedOn, Expr::value(closed_on))
        .col_expr(case_file::Column::UpdatedAt, Expr::value(now()))
        .filter(case_file::Column::Id.eq(case_id))
        .filter(case_file::Column::Status.eq(case.status))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::Conflict(format!(
            "case {case_id} changed status meanwhile; read it again"
        )));
    }
    insert_note(
        &txn,
        actor,
        case_id,
        DataClass::Social,
        format!("Status {:?} → {:?}: {reason}", case.status, to),
    )
    .await?;
    let saved = case_file::Entity::find_by_id(case_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {case_id}")))?;
    txn.commit().await?;
    Ok(saved)
}

pub async fn record_court_order(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: RecordCourtOrderInput,
) -> ApiResult<court_order::Model> {
    let case_id = uuid("caseId", &input.case_id)?;
    let docket = text("docketNumber", &input.docket_number, 1, 100)?;
    let summary = text("summary", &input.summary, 1, 2000)?;
    let body = opt_text("text", input.text.as_deref(), 100_000)?;
    if input.issued_on > actor.today {
        return Err(ApiError::bad_input("issuedOn", "is in the future"));
    }
    let court_id = if actor.kind() == AgencyKind::JuvenileCourt {
        actor.require_role(&[Role::Judge, Role::CourtClerk], "record court orders")?;
        if let Some(c) = &input.court_id
            && c.as_str() != actor.agency()
        {
            return Err(ApiError::bad_input(
                "courtId",
                "a court records only its own orders",
            ));
        }
        // A court has jurisdiction over any case it is told of.
        case_file::Entity::find_by_id(case_id)
            .one(db)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("case {case_id}")))?;
        actor.agency().to_string()
    } else {
        let (_, links) = actor.case(db, case_id).await?;
        actor.require_lead(&links, &STEERING, "register a court order")?;
        let court = input.court_id.as_ref().ok_or_else(|| {
            ApiError::bad_input("courtId", "name the court that issued the order")
        })?;
        agency_of(db, "courtId", court.as_str(), &[AgencyKind::JuvenileCourt])
            .await?
            .id
    };
    let mut mandates = Vec::new();
    for (i, m) in input.mandates.iter().enumerate() {
        let agency = agency_of(
            db,
            &format!("mandates[{i}].agencyId"),
            m.agency_id.as_str(),
            &[],
        )
        .await?;
        let description = text(
            &format!("mandates[{i}].description"),
            &m.description,
            1,
            2000,
        )?;
        if let Some(d) = m.due_on
            && d < input.issued_on
        {
            return Err(ApiError::bad_input(
                format!("mandates[{i}].dueOn"),
                "is before the order was issued",
            ));
        }
        mandates.push((agency.id, description, m.due_on));
    }

    let txn = db.begin().await?;
    let id = Uuid::now_v7();
    let now = now();
    let order = court_order::ActiveModel {
        id: Set(id),
        case_id: Set(case_id),
        court_id: Set(court_id.clone()),
        docket_number: Set(docket.clone()),
        kind: Set(input.kind.into()),
        issued_on: Set(input.issued_on),
        summary: Set(summary),
        text: Set(body),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(conflict_on_duplicate(
        "this court already recorded an order with that docket number",
    ))?;
    for (agency_id, description, due_on) in mandates {
        court_order_mandate::ActiveModel {
            id: Set(Uuid::now_v7()),
            order_id: Set(id),
            agency_id: Set(agency_id),
            description: Set(description),
            due_on: Set(due_on),
            fulfilled_on: Set(None),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    // The first court to order on a case becomes its court of record.
    case_file::Entity::update_many()
        .col_expr(case_file::Column::CourtOfRecordId, Expr::value(court_id))
        .col_expr(case_file::Column::UpdatedAt, Expr::value(now))
        .filter(case_file::Column::Id.eq(case_id))
        .filter(case_file::Column::CourtOfRecordId.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(order)
}

pub async fn record_protection(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: crate::graphql::inputs::RecordProtectionInput,
) -> ApiResult<entities::case_protection::Model> {
    use entities::{case_protection, case_subject};
    let case_id = uuid("caseId", &input.case_id)?;
    let protected = uuid("protectedPersonId", &input.protected_person_id)?;
    let from = uuid("fromPersonId", &input.from_person_id)?;
    let reason = text("reason", &input.reason, 1, 2000)?;
    if protected == from {
        return Err(ApiError::bad_input(
            "fromPersonId",
            "a person is not protected from themselves",
        ));
    }
    let (_, links) = actor.case(db, case_id).await?;
    actor.require_lead(&links, &STEERING, "record protections")?;
    let subject_of = |person: Uuid| {
        case_subject::Entity::find()
            .filter(case_subject::Column::PersonId.eq(person))
            .all(db)
    };
    if !subject_of(protected)
        .await?
        .iter()
        .any(|s| s.case_id == case_id)
    {
        return Err(ApiError::bad_input(
            "protectedPersonId",
            "is not a subject of this case",
        ));
    }
    // The other person is known to the caller: a subject of a case it works on.
    let (_, working) = actor.cases_of(db, from).await?;
    if working.is_empty() {
        return Err(ApiError::bad_input(
            "fromPersonId",
            format!("no person {from} that you can reach"),
        ));
    }
    let order_id = match &input.order_id {
        Some(o) => {
            let oid = uuid("orderId", o)?;
            court_order::Entity::find_by_id(oid)
                .one(db)
                .await?
                .filter(|o| o.case_id == case_id)
                .ok_or_else(|| ApiError::bad_input("orderId", "is not an order of this case"))?;
            Some(oid)
        }
        None => None,
    };
    let m = case_protection::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case_id),
        protected_person_id: Set(protected),
        from_person_id: Set(from),
        reason: Set(reason),
        order_id: Set(order_id),
        recorded_by_agency_id: Set(actor.agency().to_string()),
        recorded_by_operator: Set(actor.operator().to_string()),
        created_at: Set(now()),
        ended_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(conflict_on_duplicate(
        "this protection is already recorded on the case",
    ))?;
    tracing::info!(protection = %m.id, case = %case_id, "protection recorded");
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn closed_cases_only_reopen_into_assessment() {
        for to in CaseStatus::iter() {
            assert_eq!(
                transition_allowed(CaseStatus::Closed, to),
                to == CaseStatus::Assessment
            );
        }
    }

    #[test]
    fn no_status_moves_to_itself_or_back_to_intake() {
        for s in CaseStatus::iter() {
            assert!(!transition_allowed(s, s));
            assert!(!transition_allowed(s, CaseStatus::Intake));
        }
    }
}
