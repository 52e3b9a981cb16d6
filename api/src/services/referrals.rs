//! Referrals: submission by any agency of the network, triage by the social
//! service they are addressed to (ACCEPT opens a case, REDIRECT forwards a copy,
//! DISMISS closes it).

use std::collections::BTreeMap;

use entities::enums::{CaseStatus, RiskLevel, SubjectRole, TriageOutcome};
use entities::{
    case_file, case_subject, case_team_member, person, referral, referral_reason, referral_subject,
};
use policy::{AgencyKind, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use uuid::Uuid;

use super::{Actor, agency_of, now, opt_text, text, uuid};
use crate::error::{ApiError, ApiResult};
use crate::graphql::enums::TriageDecision;
use crate::graphql::guard::{Record, RequestContext};
use crate::graphql::inputs::{NewPersonInput, SubmitReferralInput, TriageReferralInput};

const SOCIAL_SERVICES: [AgencyKind; 2] = [AgencyKind::SocialService, AgencyKind::SocialDistrict];

/// Record a referral. An existing person may be named only if the caller can
/// reach them (otherwise they are "not found").
pub async fn submit(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: SubmitReferralInput,
    rc: &RequestContext,
) -> ApiResult<referral::Model> {
    if matches!(actor.role(), Role::Analyst | Role::PrivacyOfficer) {
        return Err(ApiError::Forbidden(format!(
            "role {} may not submit referrals",
            actor.role()
        )));
    }
    let addressed = agency_of(
        db,
        "addressedTo",
        input.addressed_to.as_str(),
        &SOCIAL_SERVICES,
    )
    .await?;
    if input.reasons.is_empty() {
        return Err(ApiError::bad_input("reasons", "give at least one reason"));
    }
    let description = opt_text("description", input.description.as_deref(), 4000)?;
    if input.subjects.is_empty() || input.subjects.len() > 10 {
        return Err(ApiError::bad_input("subjects", "give 1 to 10 subjects"));
    }
    // Validate every subject before writing anything.
    enum Subject {
        Existing(Uuid),
        New(Box<person::ActiveModel>, Option<String>),
    }
    let mut subjects = Vec::new();
    for (i, s) in input.subjects.iter().enumerate() {
        let field = format!("subjects[{i}]");
        let subject = match (&s.person_id, &s.new_person) {
            (Some(id), None) => {
                let id = uuid(&format!("{field}.personId"), id)?;
                let reachable = rc
                    .reachable(Record::Person(id))
                    .await
                    .map_err(|e| ApiError::internal(e.message))?;
                if !reachable {
                    return Err(ApiError::bad_input(
                        format!("{field}.personId"),
                        format!("no person {id} that you can reach"),
                    ));
                }
                Subject::Existing(id)
            }
            (None, Some(p)) => {
                let (model, fiscal) = new_person(&format!("{field}.newPerson"), p)?;
                Subject::New(Box::new(model), fiscal)
            }
            _ => {
                return Err(ApiError::bad_input(
                    field,
                    "give exactly one of `personId` and `newPerson`",
                ));
            }
        };
        subjects.push((s.role, subject));
    }

    let txn = db.begin().await?;
    let now = now();
    let id = Uuid::now_v7();
    referral::ActiveModel {
        id: Set(id),
        reporter_agency_id: Set(actor.agency().to_string()),
        reporter_kind: Set(actor.kind().as_str().to_string()),
        reporter_operator: Set(actor.operator().to_string()),
        addressed_to_id: Set(addressed.id.clone()),
        channel: Set(input.channel.into()),
        urgency: Set(input.urgency.into()),
        description: Set(description),
        received_at: Set(now),
        triage_outcome: Set(None),
        triage_reason: Set(None),
        triaged_at: Set(None),
        triaged_by: Set(None),
        redirected_to_id: Set(None),
        case_id: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let mut reasons: Vec<_> = input
        .reasons
        .iter()
        .map(|r| entities::enums::ReferralReason::from(*r))
        .collect();
    reasons.sort_by_key(|r| format!("{r:?}"));
    reasons.dedup();
    for reason in reasons {
        referral_reason::ActiveModel {
            referral_id: Set(id),
            reason: Set(reason),
        }
        .insert(&txn)
        .await?;
    }
    let mut linked: BTreeMap<Uuid, SubjectRole> = BTreeMap::new();
    for (role, subject) in subjects {
        let person_id = match subject {
            Subject::Existing(pid) => pid,
            Subject::New(model, fiscal) => {
                // A person already known by fiscal code is the same person.
                let known = match &fiscal {
                    Some(code) => person::Entity::find()
                        .filter(person::Column::FiscalCode.eq(code.as_str()))
                        .one(&txn)
                        .await?
                        .map(|p| p.id),
                    None => None,
                };
                match known {
                    Some(pid) => pid,
                    None => model.insert(&txn).await?.id,
                }
            }
        };
        linked.entry(person_id).or_insert(role.into());
    }
    for (person_id, role) in linked {
        referral_subject::ActiveModel {
            referral_id: Set(id),
            person_id: Set(person_id),
            role: Set(role),
        }
        .insert(&txn)
        .await?;
    }
    let saved = referral::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::internal("referral vanished inside its own transaction"))?;
    txn.commit().await?;
    tracing::info!(referral = %id, reporter = %actor.agency(), "referral submitted");
    Ok(saved)
}

fn new_person(field: &str, p: &NewPersonInput) -> ApiResult<(person::ActiveModel, Option<String>)> {
    let given = text(&format!("{field}.givenName"), &p.given_name, 1, 100)?;
    let family = text(&format!("{field}.familyName"), &p.family_name, 1, 100)?;
    let fiscal = match p
        .fiscal_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(code) => {
            let code = code.to_uppercase();
            if code.len() != 16 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(ApiError::bad_input(
                    format!("{field}.fiscalCode"),
                    "a codice fiscale has 16 letters and digits",
                ));
            }
            Some(code)
        }
        None => None,
    };
    if let Some(b) = p.birth_on
        && b > chrono::Utc::now().date_naive()
    {
        return Err(ApiError::bad_input(
            format!("{field}.birthOn"),
            "is in the future",
        ));
    }
    if p.languages.len() > 20 {
        return Err(ApiError::bad_input(
            format!("{field}.languages"),
            "at most 20 languages",
        ));
    }
    let mut languages = Vec::new();
    for (i, l) in p.languages.iter().enumerate() {
        languages.push(serde_json::Value::String(text(
            &format!("{field}.languages[{i}]"),
            l,
            2,
            35,
        )?));
    }
    let email = opt_text(&format!("{field}.email"), p.email.as_deref(), 254)?;
    if let Some(e) = &email
        && !e.contains('@')
    {
        return Err(ApiError::bad_input(
            format!("{field}.email"),
            "is not an e-mail address",
        ));
    }
    let now = now();
    let model = person::ActiveModel {
        id: Set(Uuid::now_v7()),
        given_name: Set(given),
        family_name: Set(family),
        birth_on: Set(p.birth_on),
        sex: Set(p.sex.into()),
        fiscal_code: Set(fiscal.clone()),
        birth_place: Set(opt_text(
            &format!("{field}.birthPlace"),
            p.birth_place.as_deref(),
            100,
        )?),
        citizenship: Set(opt_text(
            &format!("{field}.citizenship"),
            p.citizenship.as_deref(),
            100,
        )?),
        phone: Set(opt_text(&format!("{field}.phone"), p.phone.as_deref(), 40)?),
        email: Set(email),
        address: Set(opt_text(
            &format!("{field}.address"),
            p.address.as_deref(),
            300,
        )?),
        municipality: Set(opt_text(
            &format!("{field}.municipality"),
            p.municipality.as_deref(),
            100,
        )?),
        languages: Set(serde_json::Value::Array(languages)),
        mediator_needed: Set(p.mediator_needed),
        migration_status: Set(p.migration_status.into()),
        permit_expires_on: Set(None),
        ethnic_origin: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok((model, fiscal))
}

/// Triage a referral waiting in the caller's queue.
pub async fn triage(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    input: TriageReferralInput,
) -> ApiResult<referral::Model> {
    let id = uuid("referralId", &input.referral_id)?;
    let reason = text("reason", &input.reason, 1, 2000)?;
    let r = referral::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|r| r.addressed_to_id == actor.agency() || r.reporter_agency_id == actor.agency())
        .ok_or_else(|| ApiError::not_found(format!("referral {id}")))?;
    if r.addressed_to_id != actor.agency() {
        return Err(ApiError::Forbidden(
            "only the social service the referral is addressed to may triage it".into(),
        ));
    }
    actor.require_role(
        &[Role::IntakeOperator, Role::CaseManager],
        "triage referrals",
    )?;
    if r.triage_outcome.is_some() {
        return Err(ApiError::Conflict(format!(
            "referral {id} was already triaged"
        )));
    }
    match input.decision {
        TriageDecision::Accept => {
            if input.redirect_to.is_some() {
                return Err(ApiError::bad_input("redirectTo", "only for REDIRECT"));
            }
        }
        TriageDecision::Redirect => {
            if input.case_manager.is_some() || input.risk_level.is_some() {
                return Err(ApiError::bad_input(
                    "caseManager",
                    "caseManager and riskLevel are only for ACCEPT",
                ));
            }
        }
        TriageDecision::Dismiss => {
            if input.redirect_to.is_some()
                || input.case_manager.is_some()
                || input.risk_level.is_some()
            {
                return Err(ApiError::bad_input(
                    "decision",
                    "DISMISS takes only a reason",
                ));
            }
        }
    }

    let txn = db.begin().await?;
    let now = now();
    let (outcome, case_id, redirected_to) = match input.decision {
        TriageDecision::Accept => {
            let manager = match &input.case_manager {
                Some(m) => text("caseManager", m, 1, 200)?,
                None => actor.operator().to_string(),
            };
            let risk: RiskLevel = input
                .risk_level
                .map(Into::into)
                .unwrap_or(RiskLevel::Medium);
            let case_id = open_case(&txn, actor, &r, &manager, risk).await?;
            (TriageOutcome::Accepted, Some(case_id), None)
        }
        TriageDecision::Redirect => {
            let target = input.redirect_to.as_ref().ok_or_else(|| {
                ApiError::bad_input("redirectTo", "REDIRECT needs the agency to send it to")
            })?;
            let target = agency_of(&txn, "redirectTo", target.as_str(), &SOCIAL_SERVICES).await?;
            if target.id == actor.agency() {
                return Err(ApiError::bad_input(
                    "redirectTo",
                    "cannot redirect to your own agency",
                ));
            }
            forward_copy(&txn, &r, &target.id).await?;
            (TriageOutcome::Redirected, None, Some(target.id))
        }
        TriageDecision::Dismiss => (TriageOutcome::Dismissed, None, None),
    };
    // Compare-and-set: two triagers at once cannot both win.
    let updated = referral::Entity::update_many()
        .col_expr(referral::Column::TriageOutcome, Expr::value(outcome))
        .col_expr(referral::Column::TriageReason, Expr::value(reason))
        .col_expr(referral::Column::TriagedAt, Expr::value(now))
        .col_expr(
            referral::Column::TriagedBy,
            Expr::value(actor.operator().to_string()),
        )
        .col_expr(referral::Column::RedirectedToId, Expr::value(redirected_to))
        .col_expr(referral::Column::CaseId, Expr::value(case_id))
        .filter(referral::Column::Id.eq(id))
        .filter(referral::Column::TriageOutcome.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::Conflict(format!(
            "referral {id} was already triaged"
        )));
    }
    let saved = referral::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::internal("referral vanished inside its own transaction"))?;
    txn.commit().await?;
    tracing::info!(referral = %id, outcome = ?outcome, "referral triaged");
    Ok(saved)
}

/// Open a case from an accepted referral: the triaging agency leads it, the
/// case manager joins its team, the referral's subjects become its subjects.
async fn open_case<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor<'_>,
    r: &referral::Model,
    manager: &str,
    risk: RiskLevel,
) -> ApiResult<Uuid> {
    let now = now();
    let case_id = Uuid::now_v7();
    case_file::ActiveModel {
        id: Set(case_id),
        reference: Set(new_reference(actor.today)),
        status: Set(CaseStatus::Intake),
        lead_agency_id: Set(actor.agency().to_string()),
        case_manager: Set(manager.to_string()),
        risk_level: Set(risk),
        summary: Set(None),
        court_of_record_id: Set(None),
        opened_on: Set(actor.today),
        closed_on: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    let subjects = referral_subject::Entity::find()
        .filter(referral_subject::Column::ReferralId.eq(r.id))
        .all(txn)
        .await?;
    for s in subjects {
        case_subject::ActiveModel {
            case_id: Set(case_id),
            person_id: Set(s.person_id),
            role: Set(s.role),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    case_team_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case_id),
        agency_id: Set(actor.agency().to_string()),
        operator: Set(manager.to_string()),
        role: Set(Role::CaseManager.as_str().to_string()),
        from_on: Set(actor.today),
        until_on: Set(None),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(case_id)
}

/// A redirected referral reaches its new social service as a fresh, untriaged
/// copy (same reporter, reasons, subjects and reception time).
async fn forward_copy<C: ConnectionTrait>(
    txn: &C,
    r: &referral::Model,
    target: &str,
) -> ApiResult<()> {
    let copy_id = Uuid::now_v7();
    referral::ActiveModel {
        id: Set(copy_id),
        reporter_agency_id: Set(r.reporter_agency_id.clone()),
        reporter_kind: Set(r.reporter_kind.clone()),
        reporter_operator: Set(r.reporter_operator.clone()),
        addressed_to_id: Set(target.to_string()),
        channel: Set(r.channel),
        urgency: Set(r.urgency),
        description: Set(r.description.clone()),
        received_at: Set(r.received_at),
        triage_outcome: Set(None),
        triage_reason: Set(None),
        triaged_at: Set(None),
        triaged_by: Set(None),
        redirected_to_id: Set(None),
        case_id: Set(None),
        created_at: Set(now()),
    }
    .insert(txn)
    .await?;
    for reason in referral_reason::Entity::find()
        .filter(referral_reason::Column::ReferralId.eq(r.id))
        .all(txn)
        .await?
    {
        referral_reason::ActiveModel {
            referral_id: Set(copy_id),
            reason: Set(reason.reason),
        }
        .insert(txn)
        .await?;
    }
    for s in referral_subject::Entity::find()
        .filter(referral_subject::Column::ReferralId.eq(r.id))
        .all(txn)
        .await?
    {
        referral_subject::ActiveModel {
            referral_id: Set(copy_id),
            person_id: Set(s.person_id),
            role: Set(s.role),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// A fresh case reference: `RETE-<year>-<8 random hex>`, unique by constraint.
pub fn new_reference(today: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let r = Uuid::new_v4().simple().to_string().to_uppercase();
    format!("RETE-{}-{}", today.year(), &r[..8])
}
