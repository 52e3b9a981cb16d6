//! Use-cases that write. The only writers of the database: each validates its
//! input (naming the bad field), checks that the caller may act, and writes all
//! or nothing in one transaction. Reads of what they wrote go back through the
//! GraphQL types, so the policy decides what the caller sees of the result.
//!
//! Who may write (until the policy issue moves write rules into the agreement):
//! the lead agency's case managers steer a case (team, status, placements);
//! team members add notes; team members and the facility operator record
//! reviews; courts record their orders.

pub mod cases;
pub mod consents;
pub mod court_reports;
pub mod placements;
pub mod referrals;

use async_graphql::ID;
use chrono::NaiveDate;
use entities::{agency, case_file};
use policy::{AgencyKind, Relationship, Role};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::graphql::loaders::{Links, case_links};

/// Who acts, and on which day.
pub struct Actor<'a> {
    pub caller: &'a Caller,
    pub today: NaiveDate,
}

impl Actor<'_> {
    pub fn agency(&self) -> &str {
        &self.caller.requester.agency
    }
    pub fn operator(&self) -> &str {
        &self.caller.requester.operator
    }
    pub fn role(&self) -> Role {
        self.caller.requester.role
    }
    pub fn kind(&self) -> AgencyKind {
        self.caller.requester.agency_kind
    }

    /// The case, if the caller has any link to it; NOT_FOUND otherwise.
    pub async fn case<C: ConnectionTrait>(
        &self,
        db: &C,
        id: Uuid,
    ) -> ApiResult<(case_file::Model, Links)> {
        let links = case_links(db, self.agency(), self.today, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        let case = case_file::Entity::find_by_id(id).one(db).await?;
        match case {
            Some(c) if !links.is_empty() => Ok((c, links)),
            _ => Err(ApiError::not_found(format!("case {id}"))),
        }
    }

    /// The cases `person` is a subject of, and those of them the caller works
    /// on (lead agency or team member).
    pub async fn cases_of<C: ConnectionTrait>(
        &self,
        db: &C,
        person: Uuid,
    ) -> ApiResult<(Vec<Uuid>, Vec<Uuid>)> {
        use entities::case_subject;
        use sea_orm::{ColumnTrait, QueryFilter};
        let cases: Vec<Uuid> = case_subject::Entity::find()
            .filter(case_subject::Column::PersonId.eq(person))
            .all(db)
            .await?
            .into_iter()
            .map(|s| s.case_id)
            .collect();
        let links = case_links(db, self.agency(), self.today, &cases).await?;
        let working = links
            .iter()
            .filter(|(_, l)| {
                l.contains(&Relationship::Lead) || l.contains(&Relationship::TeamMember)
            })
            .map(|(c, _)| *c)
            .collect();
        Ok((cases, working))
    }

    /// Require that the caller's agency leads the case and the caller has one of
    /// `roles`.
    pub fn require_lead(&self, links: &Links, roles: &[Role], action: &str) -> ApiResult<()> {
        if !links.contains(&Relationship::Lead) {
            return Err(ApiError::Forbidden(format!(
                "only the agency leading the case may {action}"
            )));
        }
        self.require_role(roles, action)
    }

    pub fn require_role(&self, roles: &[Role], action: &str) -> ApiResult<()> {
        if roles.contains(&self.role()) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "role {} may not {action} (allowed: {})",
            self.role(),
            names.join(", ")
        )))
    }
}

/// Parse an id argument.
pub fn uuid(field: &str, id: &ID) -> ApiResult<Uuid> {
    Uuid::parse_str(id.as_str())
        .map_err(|_| ApiError::bad_input(field, format!("`{}` is not a valid id", id.as_str())))
}

/// Trimmed text of `min..=max` characters.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> ApiResult<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min {
        return Err(ApiError::bad_input(
            field,
            if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if n > max {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {max} characters, got {n}"),
        ));
    }
    Ok(v.to_string())
}

/// Optional text: empty becomes `None`.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => text(field, v, 1, max).map(Some),
        None => Ok(None),
    }
}

/// An agency that exists, optionally of one of `kinds`.
pub async fn agency_of<C: ConnectionTrait>(
    db: &C,
    field: &str,
    id: &str,
    kinds: &[AgencyKind],
) -> ApiResult<agency::Model> {
    let a = agency::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::bad_input(field, format!("no agency `{id}`")))?;
    if !kinds.is_empty() && !kinds.iter().any(|k| k.as_str() == a.kind) {
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        return Err(ApiError::bad_input(
            field,
            format!(
                "agency `{id}` is a {}, expected {}",
                a.kind,
                names.join(" or ")
            ),
        ));
    }
    Ok(a)
}

/// Map a unique-key violation to CONFLICT with `message`; anything else stays
/// internal.
pub fn conflict_on_duplicate(message: &str) -> impl FnOnce(sea_orm::DbErr) -> ApiError + '_ {
    move |e| {
        if crate::db::is_unique_violation(&e) {
            ApiError::Conflict(message.to_string())
        } else {
            ApiError::from(e)
        }
    }
}

pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
