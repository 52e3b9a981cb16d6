//! Consents and break-glass grants: the legal bases that people (the family, an
//! operator in an emergency) create. The policy crate decides with them; this
//! module only records them, validated.
//!
//! Consent for a minor comes from a holder of parental responsibility: a subject
//! with role MOTHER, FATHER or GUARDIAN in a case the child is a subject of, unless
//! a court order on that case limits parental responsibility (then only a
//! GUARDIAN may give it).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, Utc};
use entities::enums::{BreakGlassReview, ConsentGiver, CourtOrderKind, SubjectRole};
use entities::{break_glass_grant, case_file, case_subject, consent, court_order, person};
use policy::{AgencyKind, DataClass, Purpose, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{Actor, now, opt_text, text, uuid};
use crate::error::{ApiError, ApiResult};
use crate::graphql::enums;
use crate::graphql::inputs::{
    RecordConsentInput, RequestBreakGlassInput, ReviewBreakGlassInput, WithdrawConsentInput,
};

/// Age of majority.
const ADULT_YEARS: i32 = 18;

fn is_minor(p: &person::Model, today: chrono::NaiveDate) -> bool {
    p.birth_on.is_some_and(|b| {
        let adult_on = b.with_year(b.year() + ADULT_YEARS).unwrap_or(b);
        adult_on > today
    })
}

fn json_words<T: ToString>(items: impl IntoIterator<Item = T>) -> serde_json::Value {
    let set: BTreeSet<String> = items.into_iter().map(|i| i.to_string()).collect();
    serde_json::Value::Array(set.into_iter().map(serde_json::Value::String).collect())
}

pub async fn record(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: RecordConsentInput,
) -> ApiResult<consent::Model> {
    let subject_id = uuid("subjectId", &input.subject_id)?;
    if input.data_classes.is_empty() {
        return Err(ApiError::bad_input(
            "dataClasses",
            "name at least one data class",
        ));
    }
    if input.purposes.is_empty() {
        return Err(ApiError::bad_input("purposes", "name at least one purpose"));
    }
    if input.recipient_agencies.is_empty() && input.recipient_kinds.is_empty() {
        return Err(ApiError::bad_input(
            "recipientAgencies",
            "name at least one recipient agency or agency kind",
        ));
    }
    let valid_from = input.valid_from.unwrap_or_else(now);
    if let Some(until) = input.valid_until
        && until <= valid_from
    {
        return Err(ApiError::bad_input("validUntil", "must be after validFrom"));
    }
    let evidence = opt_text("evidenceRef", input.evidence_ref.as_deref(), 500)?;
    let mut recipients = Vec::new();
    for (i, a) in input.recipient_agencies.iter().enumerate() {
        let agency =
            super::agency_of(db, &format!("recipientAgencies[{i}]"), a.as_str(), &[]).await?;
        recipients.push(agency.id);
    }

    // The recorder works on a case of the subject.
    let subject = person::Entity::find_by_id(subject_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("person {subject_id}")))?;
    let (cases, working) = actor.cases_of(db, subject_id).await?;
    if working.is_empty() {
        return Err(ApiError::not_found(format!("person {subject_id}")));
    }
    actor.require_role(
        &[
            Role::CaseManager,
            Role::SocialWorker,
            Role::HealthProfessional,
            Role::Psychologist,
        ],
        "record consents",
    )?;

    let giver: ConsentGiver = input.given_by.into();
    let given_by_person = match (giver, &input.given_by_person_id) {
        (ConsentGiver::Subject, None) => None,
        (ConsentGiver::Subject, Some(_)) => {
            return Err(ApiError::bad_input(
                "givenByPersonId",
                "not for consent given by the subject",
            ));
        }
        (_, None) => {
            return Err(ApiError::bad_input(
                "givenByPersonId",
                "name the parent or guardian",
            ));
        }
        (_, Some(id)) => Some(uuid("givenByPersonId", id)?),
    };
    if is_minor(&subject, actor.today) {
        let Some(holder) = given_by_person else {
            return Err(ApiError::bad_input(
                "givenBy",
                "the subject is a minor: consent comes from a parent or guardian",
            ));
        };
        check_parental_responsibility(db, &cases, holder, giver).await?;
    }

    let t = now();
    let m = consent::ActiveModel {
        id: Set(Uuid::now_v7()),
        subject_id: Set(subject_id),
        given_by: Set(giver),
        given_by_person_id: Set(given_by_person),
        data_classes: Set(json_words(
            input.data_classes.iter().map(|c| DataClass::from(*c)),
        )),
        recipient_agencies: Set(json_words(recipients)),
        recipient_kinds: Set(json_words(
            input.recipient_kinds.iter().map(|k| AgencyKind::from(*k)),
        )),
        purposes: Set(json_words(input.purposes.iter().map(|p| Purpose::from(*p)))),
        valid_from: Set(valid_from),
        valid_until: Set(input.valid_until),
        withdrawn_at: Set(None),
        evidence_ref: Set(evidence),
        recorded_by_agency_id: Set(actor.agency().to_string()),
        recorded_by_operator: Set(actor.operator().to_string()),
        created_at: Set(t),
        propagated_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(m)
}

/// `holder` must hold parental responsibility for a child of `cases`.
async fn check_parental_responsibility(
    db: &DatabaseConnection,
    cases: &[Uuid],
    holder: Uuid,
    giver: ConsentGiver,
) -> ApiResult<()> {
    let roles: Vec<case_subject::Model> = case_subject::Entity::find()
        .filter(case_subject::Column::CaseId.is_in(cases.iter().copied()))
        .filter(case_subject::Column::PersonId.eq(holder))
        .all(db)
        .await?;
    let parent = roles
        .iter()
        .any(|r| matches!(r.role, SubjectRole::Mother | SubjectRole::Father));
    let guardian = roles.iter().any(|r| r.role == SubjectRole::Guardian);
    let ok = match giver {
        ConsentGiver::Parent => parent,
        ConsentGiver::Guardian => guardian,
        ConsentGiver::Subject => false,
    };
    if !ok {
        return Err(ApiError::bad_input(
            "givenByPersonId",
            "is not a parent or guardian of the subject in a shared case",
        ));
    }
    if giver == ConsentGiver::Parent {
        let limited = court_order::Entity::find()
            .filter(court_order::Column::CaseId.is_in(roles.iter().map(|r| r.case_id)))
            .filter(court_order::Column::Kind.eq(CourtOrderKind::ParentalResponsibilityLimitation))
            .one(db)
            .await?;
        if limited.is_some() {
            return Err(ApiError::Conflict(
                "a court order on the case limits parental responsibility: consent must come from the guardian".into(),
            ));
        }
    }
    Ok(())
}

pub async fn withdraw(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: WithdrawConsentInput,
) -> ApiResult<consent::Model> {
    let id = uuid("consentId", &input.consent_id)?;
    let c = consent::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("consent {id}")))?;
    let (_, working) = actor.cases_of(db, c.subject_id).await?;
    if working.is_empty() && c.recorded_by_agency_id != actor.agency() {
        return Err(ApiError::not_found(format!("consent {id}")));
    }
    let at: DateTime<Utc> = now();
    let updated = consent::Entity::update_many()
        .col_expr(consent::Column::WithdrawnAt, Expr::value(at))
        .filter(consent::Column::Id.eq(id))
        .filter(consent::Column::WithdrawnAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::Conflict(format!(
            "consent {id} was already withdrawn"
        )));
    }
    tracing::info!(consent = %id, "consent withdrawn");
    consent::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("consent {id}")))
}

/// How long a break-glass grant lasts.
pub const BREAK_GLASS_HOURS: i64 = 4;

pub async fn request_break_glass(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: RequestBreakGlassInput,
) -> ApiResult<break_glass_grant::Model> {
    if actor.caller.requester.purpose != Purpose::Emergency {
        return Err(ApiError::Forbidden(
            "break-glass is for tokens with purpose EMERGENCY".into(),
        ));
    }
    let case_id = uuid("caseId", &input.case_id)?;
    let justification = text("justification", &input.justification, 20, 2000)?;
    case_file::Entity::find_by_id(case_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {case_id}")))?;
    let t = now();
    let g = break_glass_grant::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case_id),
        agency_id: Set(actor.agency().to_string()),
        operator: Set(actor.operator().to_string()),
        role: Set(actor.role().as_str().to_string()),
        justification: Set(justification),
        granted_at: Set(t),
        expires_at: Set(t + Duration::hours(BREAK_GLASS_HOURS)),
        review: Set(BreakGlassReview::Pending),
        reviewed_by: Set(None),
        review_note: Set(None),
        reviewed_at: Set(None),
        created_at: Set(t),
    }
    .insert(db)
    .await?;
    tracing::warn!(grant = %g.id, case = %case_id, agency = %actor.agency(), "break-glass grant issued");
    Ok(g)
}

pub async fn review_break_glass(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: ReviewBreakGlassInput,
) -> ApiResult<break_glass_grant::Model> {
    if actor.role() != Role::PrivacyOfficer || actor.caller.requester.purpose != Purpose::Audit {
        return Err(ApiError::Forbidden(
            "only privacy officers, with purpose AUDIT, review break-glass grants".into(),
        ));
    }
    let id = uuid("grantId", &input.grant_id)?;
    let note = text("note", &input.note, 1, 2000)?;
    let review = match input.decision {
        enums::BreakGlassDecision::Approve => BreakGlassReview::Approved,
        enums::BreakGlassDecision::Flag => BreakGlassReview::Flagged,
    };
    let updated = break_glass_grant::Entity::update_many()
        .col_expr(break_glass_grant::Column::Review, Expr::value(review))
        .col_expr(
            break_glass_grant::Column::ReviewedBy,
            Expr::value(actor.operator().to_string()),
        )
        .col_expr(break_glass_grant::Column::ReviewNote, Expr::value(note))
        .col_expr(break_glass_grant::Column::ReviewedAt, Expr::value(now()))
        .filter(break_glass_grant::Column::Id.eq(id))
        .filter(break_glass_grant::Column::Review.eq(BreakGlassReview::Pending))
        .exec(db)
        .await?;
    let g = break_glass_grant::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("break-glass grant {id}")))?;
    if updated.rows_affected != 1 {
        return Err(ApiError::Conflict(format!(
            "break-glass grant {id} was already reviewed"
        )));
    }
    Ok(g)
}
