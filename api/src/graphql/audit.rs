//! The privacy officer's side of the hub: the access log, the break-glass
//! review queue and the data subject's access report (GDPR art. 15).
//!
//! Only operators with role PRIVACY_OFFICER and purpose AUDIT get here; every
//! other caller gets FORBIDDEN. A privacy officer sees the entries of their
//! own agency's operators and the entries that touched the cases (and those
//! cases' subjects) their agency is linked to; of an entry by another agency
//! they see only the records in that scope. Their own reads are logged.
//!
//! The log holds ids, classes, rules and bases, never personal values, so
//! these types carry no `@dataClass`: nothing here is a value of a family's
//! record.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entities::enums::BreakGlassReview;
use entities::{
    access_log_entry, access_log_touch, break_glass_grant, case_file, case_protection,
    case_subject, case_team_member, court_order, facility, placement, referral,
};
use policy::{Purpose, Role};
use sea_orm::sea_query::{Expr, ExprTrait, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::enums;
use super::guard::{self, Record, RequestContext};
use super::loaders::scope;
use super::query::{decode_cursor, encode_cursor};
use super::types::uuid_arg;
use crate::audit::trail::{Access, LoggedRecord};
use crate::auth::Caller;
use crate::error::ApiError;

/// GDPR art. 23 basis shown when a report leaves entries out.
pub const RESTRICTION_BASIS: &str = "GDPR art. 23(1)(i) and Italian Privacy Code art. 2-undecies: protection of the data subject or the rights and freedoms of others (a subject of a case is protected from the requester)";

/// The caller, if a privacy officer with purpose AUDIT; FORBIDDEN otherwise.
pub fn privacy_officer<'a>(
    ctx: &'a Context<'_>,
    what: &str,
) -> Result<(&'a Caller, &'a RequestContext)> {
    let caller = ctx.data::<Caller>()?;
    let rc = ctx.data::<RequestContext>()?;
    if caller.requester.role != Role::PrivacyOfficer || caller.requester.purpose != Purpose::Audit {
        return Err(ApiError::Forbidden(format!(
            "{what} is for privacy officers (role PRIVACY_OFFICER) with purpose AUDIT"
        ))
        .into());
    }
    Ok((caller, rc))
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AccessDecision {
    Disclosed,
    Withheld,
}

/// Filters of `accessLog`; all optional, combined with AND.
#[derive(InputObject, Default)]
pub struct AccessLogFilter {
    /// Entries that touched this person.
    pub subject_id: Option<ID>,
    /// Entries that touched this case.
    pub case_id: Option<ID>,
    /// Entries by operators of this agency.
    pub agency_id: Option<ID>,
    pub operator: Option<String>,
    pub purpose: Option<enums::Purpose>,
    /// Entries that decided this class (with `decision`: decided that way).
    pub data_class: Option<enums::DataClass>,
    pub decision: Option<AccessDecision>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct LoggedDisclosure {
    pub data_class: enums::DataClass,
    /// The agreement's rule that allowed it.
    pub rule: String,
    /// The legal basis, `KIND:id` (e.g. `CONSENT:…`, `RELATIONSHIP:LEAD`).
    pub basis: String,
}

#[derive(SimpleObject)]
pub struct LoggedWithholding {
    pub data_class: enums::DataClass,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct AccessLogRecord {
    /// CASE, PERSON, REFERRAL or FACILITY.
    pub kind: String,
    pub id: ID,
    /// The persons the record is about.
    pub subject_ids: Vec<ID>,
    /// WRITE (a mutation) or AUDIT_READ (a privacy officer's read), beside
    /// the field decisions.
    pub access: Vec<String>,
    pub disclosed: Vec<LoggedDisclosure>,
    pub withheld: Vec<LoggedWithholding>,
    /// Values that left, as keyed digests (`rete audit prove` checks one).
    pub digest_count: i32,
}

/// One entry of the access log.
#[derive(SimpleObject)]
pub struct AccessLogEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub operator: String,
    pub agency_id: ID,
    pub role: String,
    pub purpose: String,
    /// `query CaseById`, `mutation (anonymous)`.
    pub operation: String,
    /// SHA-256 of the query text.
    pub query_hash: String,
    /// The records in the caller's scope (all of them for their own agency's
    /// entries).
    pub records: Vec<AccessLogRecord>,
    /// Records of the entry outside the caller's scope, not shown.
    pub records_not_shown: i32,
    pub policy_version: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(SimpleObject)]
pub struct AccessLogPage {
    pub total_count: u64,
}

/// A break-glass grant waiting for review.
#[derive(SimpleObject)]
pub struct BreakGlassReviewItem {
    pub grant_id: ID,
    pub case_id: ID,
    pub agency_id: ID,
    pub operator: String,
    pub role: String,
    pub justification: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Access-log entries of that operator on that case while the grant ran.
    pub entries_under_grant: u64,
}

/// Who saw which classes of one person's data, when, why and on which basis.
#[derive(SimpleObject)]
pub struct SubjectAccessReport {
    pub person_id: ID,
    pub generated_at: DateTime<Utc>,
    pub disclosures: Vec<SubjectDisclosure>,
    /// Entries left out of this report, and why (GDPR art. 23).
    pub restricted: Option<RestrictedEntries>,
}

#[derive(SimpleObject)]
pub struct SubjectDisclosure {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The recipient agency.
    pub agency_id: ID,
    pub role: String,
    pub purpose: String,
    /// Classes of this person's data that left the hub.
    pub data_classes: Vec<enums::DataClass>,
    /// The legal bases they left on.
    pub bases: Vec<String>,
    /// The entry wrote a record about the person.
    pub wrote: bool,
}

#[derive(SimpleObject)]
pub struct RestrictedEntries {
    pub count: i32,
    pub basis: String,
}

/// The caller agency's scope: the cases it is linked to and their subjects.
struct Scope {
    agency: String,
    cases: BTreeSet<Uuid>,
    persons: BTreeSet<Uuid>,
}

fn scope_cases(agency: &str, today: chrono::NaiveDate) -> SelectStatement {
    case_file::Entity::find()
        .select_only()
        .column(case_file::Column::Id)
        .filter(scope::cases(agency, today, &scope::any_link()))
        .into_query()
}

async fn load_scope(caller: &Caller, rc: &RequestContext) -> Result<Scope> {
    let agency = caller.requester.agency.clone();
    let cases: Vec<Uuid> = case_file::Entity::find()
        .select_only()
        .column(case_file::Column::Id)
        .filter(scope::cases(&agency, rc.today, &scope::any_link()))
        .into_tuple()
        .all(&rc.db)
        .await
        .map_err(ApiError::from)?;
    let persons: Vec<Uuid> = case_subject::Entity::find()
        .select_only()
        .column(case_subject::Column::PersonId)
        .filter(case_subject::Column::CaseId.in_subquery(scope_cases(&agency, rc.today)))
        .into_tuple()
        .all(&rc.db)
        .await
        .map_err(ApiError::from)?;
    Ok(Scope {
        agency,
        cases: cases.into_iter().collect(),
        persons: persons.into_iter().collect(),
    })
}

fn touched_by(kind: &str, ids: SelectStatement) -> SelectStatement {
    access_log_touch::Entity::find()
        .select_only()
        .column(access_log_touch::Column::Seq)
        .filter(access_log_touch::Column::Kind.eq(kind))
        .filter(access_log_touch::Column::Id.in_subquery(ids))
        .into_query()
}

fn touched_any(kind: &str, ids: BTreeSet<Uuid>) -> SelectStatement {
    access_log_touch::Entity::find()
        .select_only()
        .column(access_log_touch::Column::Seq)
        .filter(access_log_touch::Column::Kind.eq(kind))
        .filter(access_log_touch::Column::Id.is_in(ids))
        .into_query()
}

fn touched_id(kind: &str, id: Uuid) -> SelectStatement {
    touched_any(kind, BTreeSet::from([id]))
}

fn in_scope(scope: &Scope, r: &LoggedRecord) -> bool {
    match r.kind.as_str() {
        "CASE" => scope.cases.contains(&r.id),
        "PERSON" => scope.persons.contains(&r.id),
        _ => {
            r.cases.iter().any(|c| scope.cases.contains(c))
                || r.subjects.iter().any(|p| scope.persons.contains(p))
        }
    }
}

fn class_like(col: access_log_entry::Column, class: &str) -> Expr {
    Expr::col(col).like(format!("% {class} %"))
}

/// The entries a privacy officer may see: their agency's operators', and
/// those that touched a case of the agency's scope or one of its subjects.
/// Protection (GDPR art. 23): another agency's entries that touched a
/// protected subject, or the case that protects them, stay hidden from a
/// privacy officer whose agency has no link to that case, and so do the
/// protective agencies' entries about the person the subject is protected
/// from. Otherwise the officer of the service that follows that person would
/// learn which agencies follow the protected subject.
async fn protection_condition(scope: &Scope, rc: &RequestContext) -> Result<Condition> {
    use access_log_entry::Column as C;
    let outside = case_protection::Entity::find()
        .filter(
            case_protection::Column::CaseId.not_in_subquery(scope_cases(&scope.agency, rc.today)),
        )
        .all(&rc.db)
        .await
        .map_err(ApiError::from)?;
    if outside.is_empty() {
        return Ok(Condition::all());
    }
    let cases: BTreeSet<Uuid> = outside.iter().map(|p| p.case_id).collect();
    let protected: BTreeSet<Uuid> = outside.iter().map(|p| p.protected_person_id).collect();
    let from: BTreeSet<Uuid> = outside.iter().map(|p| p.from_person_id).collect();
    let mut protective = agencies_of_cases(rc, &cases).await?;
    protective.remove(&scope.agency);
    Ok(Condition::any()
        .add(C::AgencyId.eq(scope.agency.clone()))
        .add(
            Condition::all()
                .add(
                    Condition::any()
                        .add(C::AgencyId.is_not_in(protective))
                        .add(C::Seq.not_in_subquery(touched_any("PERSON", from))),
                )
                .add(C::Seq.not_in_subquery(touched_any("CASE", cases)))
                .add(C::Seq.not_in_subquery(touched_any("PERSON", protected))),
        ))
}

fn in_scope_condition(scope: &Scope, rc: &RequestContext) -> Condition {
    use access_log_entry::Column as C;
    Condition::any()
        .add(C::AgencyId.eq(scope.agency.clone()))
        .add(C::Seq.in_subquery(touched_by("CASE", scope_cases(&scope.agency, rc.today))))
        .add(
            C::Seq.in_subquery(touched_by(
                "PERSON",
                case_subject::Entity::find()
                    .select_only()
                    .column(case_subject::Column::PersonId)
                    .filter(
                        case_subject::Column::CaseId
                            .in_subquery(scope_cases(&scope.agency, rc.today)),
                    )
                    .into_query(),
            )),
        )
}

const CURSOR_PREFIX: &str = "log:";

fn parse_records(m: &access_log_entry::Model) -> Result<Vec<LoggedRecord>> {
    serde_json::from_str(&m.records).map_err(|_| {
        ApiError::Internal(format!("access-log entry {} cannot be read", m.seq)).into()
    })
}

fn show_record(r: &LoggedRecord) -> AccessLogRecord {
    AccessLogRecord {
        kind: r.kind.clone(),
        id: ID(r.id.to_string()),
        subject_ids: r.subjects.iter().map(|p| ID(p.to_string())).collect(),
        access: r
            .access
            .iter()
            .map(|a| match a {
                Access::Write => "WRITE".to_string(),
                Access::AuditRead => "AUDIT_READ".to_string(),
                Access::ForgetNotice => "FORGET_NOTICE".to_string(),
            })
            .collect(),
        disclosed: r
            .disclosed
            .iter()
            .map(|d| LoggedDisclosure {
                data_class: d.class.into(),
                rule: d.rule.clone(),
                basis: d.basis.clone(),
            })
            .collect(),
        withheld: r
            .withheld
            .iter()
            .map(|w| LoggedWithholding {
                data_class: w.class.into(),
                reason: w.reason.clone(),
            })
            .collect(),
        digest_count: r.digests.len() as i32,
    }
}

/// `accessLog`: newest first.
pub async fn access_log(
    ctx: &Context<'_>,
    filter: Option<AccessLogFilter>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, AccessLogEntry, AccessLogPage>> {
    let (caller, rc) = privacy_officer(ctx, "accessLog")?;
    let first = super::query::page_size("first", first, 50, rc.max_page_size)?;
    let after = after
        .as_deref()
        .map(|c| decode_cursor::<i64>(c, CURSOR_PREFIX, "accessLog"))
        .transpose()?;
    let filter = filter.unwrap_or_default();
    let scope = load_scope(caller, rc).await?;
    use access_log_entry::Column as C;

    let mut cond = Condition::all()
        .add(in_scope_condition(&scope, rc))
        .add(protection_condition(&scope, rc).await?);
    if let Some(id) = &filter.subject_id {
        let id = uuid_arg("filter.subjectId", id)?;
        guard::touched(ctx, Record::Person(id), Access::AuditRead);
        cond = cond.add(C::Seq.in_subquery(touched_id("PERSON", id)));
    }
    if let Some(id) = &filter.case_id {
        let id = uuid_arg("filter.caseId", id)?;
        guard::touched(ctx, Record::Case(id), Access::AuditRead);
        cond = cond.add(C::Seq.in_subquery(touched_id("CASE", id)));
    }
    if let Some(a) = &filter.agency_id {
        cond = cond.add(C::AgencyId.eq(a.as_str()));
    }
    if let Some(o) = &filter.operator {
        cond = cond.add(C::Operator.eq(o.as_str()));
    }
    if let Some(p) = filter.purpose {
        cond = cond.add(C::Purpose.eq(policy::Purpose::from(p).as_str()));
    }
    match (filter.data_class, filter.decision) {
        (Some(c), Some(AccessDecision::Disclosed)) => {
            cond = cond.add(class_like(
                C::DisclosedClasses,
                policy::DataClass::from(c).as_str(),
            ));
        }
        (Some(c), Some(AccessDecision::Withheld)) => {
            cond = cond.add(class_like(
                C::WithheldClasses,
                policy::DataClass::from(c).as_str(),
            ));
        }
        (Some(c), None) => {
            let c = policy::DataClass::from(c);
            cond = cond.add(
                Condition::any()
                    .add(class_like(C::DisclosedClasses, c.as_str()))
                    .add(class_like(C::WithheldClasses, c.as_str())),
            );
        }
        (None, Some(AccessDecision::Disclosed)) => {
            cond = cond.add(C::DisclosedClasses.ne(" "));
        }
        (None, Some(AccessDecision::Withheld)) => {
            cond = cond.add(C::WithheldClasses.ne(" "));
        }
        (None, None) => {}
    }
    if let Some(t) = filter.from {
        cond = cond.add(C::At.gte(t));
    }
    if let Some(t) = filter.until {
        cond = cond.add(C::At.lt(t));
    }
    // Privacy officers' reads are logged, even when they name no record.
    rc.trail().force();

    use sea_orm::PaginatorTrait;
    let total_count = access_log_entry::Entity::find()
        .filter(cond.clone())
        .count(&rc.db)
        .await
        .map_err(ApiError::from)?;
    let mut q = access_log_entry::Entity::find().filter(cond);
    if let Some(a) = after {
        q = q.filter(C::Seq.lt(a));
    }
    let mut rows = q
        .order_by_desc(C::Seq)
        .limit(first + 1)
        .all(&rc.db)
        .await
        .map_err(ApiError::from)?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    let mut conn = Connection::with_additional_fields(
        after.is_some(),
        has_next,
        AccessLogPage { total_count },
    );
    for m in rows {
        let records = parse_records(&m)?;
        let own = m.agency_id == scope.agency;
        let (shown, hidden): (Vec<_>, Vec<_>) =
            records.iter().partition(|r| own || in_scope(&scope, r));
        conn.edges.push(Edge::new(
            encode_cursor(CURSOR_PREFIX, m.seq),
            AccessLogEntry {
                seq: m.seq,
                at: m.at,
                operator: m.operator,
                agency_id: ID(m.agency_id),
                role: m.role,
                purpose: m.purpose,
                operation: m.operation,
                query_hash: m.query_hash,
                records: shown.into_iter().map(show_record).collect(),
                records_not_shown: hidden.len() as i32,
                policy_version: m.policy_version,
                prev_hash: m.prev_hash,
                hash: m.hash,
            },
        ));
    }
    Ok(conn)
}

/// `breakGlassReviewQueue`: pending grants on the caller agency's cases or by
/// its operators, oldest first.
pub async fn break_glass_queue(
    ctx: &Context<'_>,
    first: Option<i32>,
) -> Result<Vec<BreakGlassReviewItem>> {
    let (caller, rc) = privacy_officer(ctx, "breakGlassReviewQueue")?;
    let first = super::query::page_size("first", first, 50, rc.max_page_size)?;
    let agency = caller.requester.agency.as_str();
    use break_glass_grant::Column as G;
    let grants = break_glass_grant::Entity::find()
        .filter(G::Review.eq(BreakGlassReview::Pending))
        .filter(
            Condition::any()
                .add(G::AgencyId.eq(agency))
                .add(G::CaseId.in_subquery(scope_cases(agency, rc.today))),
        )
        .order_by_asc(G::GrantedAt)
        .order_by_asc(G::Id)
        .limit(first)
        .all(&rc.db)
        .await
        .map_err(ApiError::from)?;
    rc.trail().force();
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        guard::touched(ctx, Record::Case(g.case_id), Access::AuditRead);
        use sea_orm::PaginatorTrait;
        let entries_under_grant = access_log_entry::Entity::find()
            .filter(access_log_entry::Column::Operator.eq(g.operator.clone()))
            .filter(access_log_entry::Column::AgencyId.eq(g.agency_id.clone()))
            .filter(access_log_entry::Column::At.gte(g.granted_at))
            .filter(access_log_entry::Column::At.lte(g.expires_at))
            .filter(access_log_entry::Column::Seq.in_subquery(touched_id("CASE", g.case_id)))
            .count(&rc.db)
            .await
            .map_err(ApiError::from)?;
        out.push(BreakGlassReviewItem {
            grant_id: ID(g.id.to_string()),
            case_id: ID(g.case_id.to_string()),
            agency_id: ID(g.agency_id),
            operator: g.operator,
            role: g.role,
            justification: g.justification,
            granted_at: g.granted_at,
            expires_at: g.expires_at,
            entries_under_grant,
        });
    }
    Ok(out)
}

/// The agencies linked to any of `cases`: lead, team, referrer, facility
/// operator, court.
async fn agencies_of_cases(
    rc: &RequestContext,
    cases: &BTreeSet<Uuid>,
) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    if cases.is_empty() {
        return Ok(out);
    }
    let ids: Vec<Uuid> = cases.iter().copied().collect();
    let db = &rc.db;
    let e = |e: sea_orm::DbErr| -> async_graphql::Error { ApiError::from(e).into() };
    let lead: Vec<String> = case_file::Entity::find()
        .select_only()
        .column(case_file::Column::LeadAgencyId)
        .filter(case_file::Column::Id.is_in(ids.clone()))
        .into_tuple()
        .all(db)
        .await
        .map_err(e)?;
    let team: Vec<String> = case_team_member::Entity::find()
        .select_only()
        .column(case_team_member::Column::AgencyId)
        .filter(case_team_member::Column::CaseId.is_in(ids.clone()))
        .into_tuple()
        .all(db)
        .await
        .map_err(e)?;
    let referrers: Vec<String> = referral::Entity::find()
        .select_only()
        .column(referral::Column::ReporterAgencyId)
        .filter(referral::Column::CaseId.is_in(ids.clone()))
        .into_tuple()
        .all(db)
        .await
        .map_err(e)?;
    let operators: Vec<String> = placement::Entity::find()
        .select_only()
        .column(facility::Column::OperatorAgencyId)
        .inner_join(facility::Entity)
        .filter(placement::Column::CaseId.is_in(ids.clone()))
        .into_tuple()
        .all(db)
        .await
        .map_err(e)?;
    let courts: Vec<String> = court_order::Entity::find()
        .select_only()
        .column(court_order::Column::CourtId)
        .filter(court_order::Column::CaseId.is_in(ids))
        .into_tuple()
        .all(db)
        .await
        .map_err(e)?;
    out.extend(lead);
    out.extend(team);
    out.extend(referrers);
    out.extend(operators);
    out.extend(courts);
    Ok(out)
}

/// `subjectAccessReport`: every entry that disclosed a class of the person's
/// data (or wrote a record about them), network-wide, oldest first. When
/// someone is protected from this person, the entries by the agencies that
/// follow the protected subjects, and every entry that touched them or their
/// case, are left out and counted under an art. 23 restriction.
pub async fn subject_access_report(
    ctx: &Context<'_>,
    person_id: ID,
) -> Result<SubjectAccessReport> {
    let (caller, rc) = privacy_officer(ctx, "subjectAccessReport")?;
    let person = uuid_arg("personId", &person_id)?;
    let scope = load_scope(caller, rc).await?;
    if !scope.persons.contains(&person) {
        return Err(ApiError::not_found(format!("person {person}")).into());
    }
    guard::touched(ctx, Record::Person(person), Access::AuditRead);

    let protections = case_protection::Entity::find()
        .filter(case_protection::Column::FromPersonId.eq(person))
        .all(&rc.db)
        .await
        .map_err(ApiError::from)?;
    let protected: BTreeSet<Uuid> = protections.iter().map(|p| p.protected_person_id).collect();
    let protective_cases: BTreeSet<Uuid> = protections.iter().map(|p| p.case_id).collect();
    let protective_agencies = agencies_of_cases(rc, &protective_cases).await?;

    let mut disclosures = Vec::new();
    let mut restricted = 0;
    let mut after = 0i64;
    loop {
        let page = access_log_entry::Entity::find()
            .filter(access_log_entry::Column::Seq.in_subquery(touched_id("PERSON", person)))
            .filter(access_log_entry::Column::Seq.gt(after))
            .order_by_asc(access_log_entry::Column::Seq)
            .limit(500)
            .all(&rc.db)
            .await
            .map_err(ApiError::from)?;
        let Some(last) = page.last().map(|m| m.seq) else {
            break;
        };
        after = last;
        for m in page {
            let records = parse_records(&m)?;
            let touches_protected = records.iter().any(|r| {
                protected.contains(&r.id)
                    || protective_cases.contains(&r.id)
                    || r.subjects.iter().any(|s| protected.contains(s))
                    || r.cases.iter().any(|c| protective_cases.contains(c))
            });
            if touches_protected || protective_agencies.contains(&m.agency_id) {
                restricted += 1;
                continue;
            }
            let about: Vec<&LoggedRecord> = records
                .iter()
                .filter(|r| r.id == person || r.subjects.contains(&person))
                .collect();
            let mut classes = BTreeSet::new();
            let mut bases = BTreeSet::new();
            let mut wrote = false;
            for r in &about {
                for d in &r.disclosed {
                    classes.insert(d.class);
                    bases.insert(d.basis.clone());
                }
                wrote |= r.access.contains(&Access::Write);
            }
            if classes.is_empty() && !wrote {
                continue;
            }
            disclosures.push(SubjectDisclosure {
                seq: m.seq,
                at: m.at,
                agency_id: ID(m.agency_id),
                role: m.role,
                purpose: m.purpose,
                data_classes: classes.into_iter().map(Into::into).collect(),
                bases: bases.into_iter().collect(),
                wrote,
            });
        }
    }
    Ok(SubjectAccessReport {
        person_id: ID(person.to_string()),
        generated_at: Utc::now(),
        disclosures,
        restricted: (restricted > 0).then(|| RestrictedEntries {
            count: restricted,
            basis: RESTRICTION_BASIS.into(),
        }),
    })
}

/// The width of one period of `disclosureStats`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum StatsBucket {
    Day,
    /// Weeks start on Monday (UTC).
    Week,
    /// Calendar months (UTC).
    Month,
}

/// How many entries disclosed one class to one agency in one period.
#[derive(SimpleObject)]
pub struct DisclosureCount {
    /// The period's first instant (UTC).
    pub period_start: DateTime<Utc>,
    /// The recipient agency.
    pub agency_id: ID,
    pub data_class: enums::DataClass,
    /// Entries that disclosed the class to the agency (counting only the
    /// records in the caller's scope of other agencies' entries).
    pub entries: u64,
}

/// `disclosureStats`: disclosures per agency and data class over time.
#[derive(SimpleObject)]
pub struct DisclosureStats {
    pub bucket: StatsBucket,
    /// Every period of the range, oldest first, with or without disclosures.
    pub periods: Vec<DateTime<Utc>>,
    /// Only the non-zero counts, by period, agency and class.
    pub counts: Vec<DisclosureCount>,
}

/// The most periods one `disclosureStats` answer holds.
pub const MAX_PERIODS: usize = 400;

/// The start of the period holding `t`.
pub fn period_start(t: DateTime<Utc>, bucket: StatsBucket) -> DateTime<Utc> {
    use chrono::{Datelike, NaiveDate};
    let d = t.date_naive();
    let day = match bucket {
        StatsBucket::Day => d,
        StatsBucket::Week => d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday())),
        StatsBucket::Month => NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d),
    };
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn next_period(t: DateTime<Utc>, bucket: StatsBucket) -> DateTime<Utc> {
    match bucket {
        StatsBucket::Day => t + chrono::Duration::days(1),
        StatsBucket::Week => t + chrono::Duration::days(7),
        StatsBucket::Month => t
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(t + chrono::Duration::days(31)),
    }
}

/// The periods from the one holding `from` to the one holding the last
/// instant before `until`.
pub fn periods(
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    bucket: StatsBucket,
) -> Result<Vec<DateTime<Utc>>, ApiError> {
    if until <= from {
        return Err(ApiError::bad_input("until", "must be after `from`"));
    }
    let mut out = Vec::new();
    let mut p = period_start(from, bucket);
    while p < until {
        if out.len() == MAX_PERIODS {
            return Err(ApiError::bad_input(
                "until",
                format!("the range holds more than {MAX_PERIODS} periods; choose a wider bucket"),
            ));
        }
        out.push(p);
        p = next_period(p, bucket);
    }
    Ok(out)
}

/// `disclosureStats`: the entries in the caller's scope between `from` and
/// `until`, counted per period, recipient agency and disclosed class.
pub async fn disclosure_stats(
    ctx: &Context<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    bucket: StatsBucket,
) -> Result<DisclosureStats> {
    let (caller, rc) = privacy_officer(ctx, "disclosureStats")?;
    let periods = periods(from, until, bucket)?;
    let scope = load_scope(caller, rc).await?;
    rc.trail().force();
    use access_log_entry::Column as C;
    let cond = Condition::all()
        .add(in_scope_condition(&scope, rc))
        .add(protection_condition(&scope, rc).await?)
        .add(C::At.gte(from))
        .add(C::At.lt(until))
        .add(C::DisclosedClasses.ne(" "));
    let mut counts: BTreeMap<(DateTime<Utc>, String, policy::DataClass), u64> = BTreeMap::new();
    let mut after = 0i64;
    loop {
        let page = access_log_entry::Entity::find()
            .filter(cond.clone())
            .filter(C::Seq.gt(after))
            .order_by_asc(C::Seq)
            .limit(1000)
            .all(&rc.db)
            .await
            .map_err(ApiError::from)?;
        let Some(last) = page.last().map(|m| m.seq) else {
            break;
        };
        after = last;
        for m in page {
            let classes: BTreeSet<policy::DataClass> = if m.agency_id == scope.agency {
                m.disclosed_classes
                    .split_whitespace()
                    .filter_map(|c| c.parse().ok())
                    .collect()
            } else {
                parse_records(&m)?
                    .iter()
                    .filter(|r| in_scope(&scope, r))
                    .flat_map(|r| r.disclosed.iter().map(|d| d.class))
                    .collect()
            };
            let p = period_start(m.at, bucket);
            for c in classes {
                *counts.entry((p, m.agency_id.clone(), c)).or_default() += 1;
            }
        }
    }
    Ok(DisclosureStats {
        bucket,
        periods,
        counts: counts
            .into_iter()
            .map(|((p, a, c), n)| DisclosureCount {
                period_start: p,
                agency_id: ID(a),
                data_class: c.into(),
                entries: n,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn periods_start_on_days_mondays_and_first_of_month() {
        let x = t("2026-03-05T17:30:00Z"); // a Thursday
        assert_eq!(period_start(x, StatsBucket::Day), t("2026-03-05T00:00:00Z"));
        assert_eq!(
            period_start(x, StatsBucket::Week),
            t("2026-03-02T00:00:00Z")
        );
        assert_eq!(
            period_start(x, StatsBucket::Month),
            t("2026-03-01T00:00:00Z")
        );
    }

    #[test]
    fn a_range_lists_every_period_and_refuses_too_many() {
        let p = periods(
            t("2026-01-30T10:00:00Z"),
            t("2026-03-01T00:00:00Z"),
            StatsBucket::Month,
        );
        assert_eq!(
            p.ok(),
            Some(vec![t("2026-01-01T00:00:00Z"), t("2026-02-01T00:00:00Z")])
        );
        assert!(
            periods(
                t("2020-01-01T00:00:00Z"),
                t("2026-01-01T00:00:00Z"),
                StatsBucket::Day
            )
            .is_err()
        );
        assert!(
            periods(
                t("2026-01-01T00:00:00Z"),
                t("2026-01-01T00:00:00Z"),
                StatsBucket::Day
            )
            .is_err()
        );
    }
}
