//! Root queries. Each finds the records the caller can reach (a record the caller
//! has no link to is "not found", whether or not it exists); what is disclosed of
//! them is then decided field by field in the types.

use std::collections::BTreeSet;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use base64::Engine;
use chrono::NaiveDate;
use entities::enums as db;
use entities::{case_file, case_subject, facility, person, placement, referral, verification};
use policy::{DataClass, Relationship};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::enums;
use super::guard::{Record, RequestContext};
use super::loaders::scope;
use super::types::{
    Agency, Case, CourtOrder, CourtReport, Facility, Mandate, Me, Person, Placement, Referral,
    Verification, uuid_arg,
};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::AgencyDirectory;

pub struct Query;

/// Filters of `cases`. Filtering by a field is allowed only over the cases where
/// the caller may see that field (a filter must not be an oracle).
#[derive(InputObject, Default)]
pub struct CaseFilter {
    pub status: Option<Vec<enums::CaseStatus>>,
    pub lead_agency: Option<ID>,
    /// Restricted to cases whose SOCIAL data the caller may see.
    pub risk_level: Option<Vec<enums::RiskLevel>>,
    /// Case-insensitive match on a subject's given name, family name or fiscal
    /// code (2 to 100 characters). Restricted to cases whose subjects' IDENTITY
    /// the caller may see.
    pub subject_search: Option<String>,
}

#[derive(SimpleObject)]
pub struct CaseConnectionFields {
    /// Cases matching the filter that the caller can reach.
    pub total_count: u64,
}

const CURSOR_PREFIX: &str = "case:";

/// True for a matched subject who is not, in this case, the person another
/// subject is protected from.
const PROTECTED_FROM_MATCH: &str = r#"NOT EXISTS (SELECT 1 FROM "case_protection" pr JOIN "case_subject" cs2 ON cs2."person_id" = pr."protected_person_id" WHERE pr."from_person_id" = "case_subject"."person_id" AND cs2."case_id" = "case_subject"."case_id" AND pr."ended_at" IS NULL)"#;

/// An opaque Relay cursor: `prefix` and the position, base64url.
pub(crate) fn encode_cursor(prefix: &str, position: impl std::fmt::Display) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{prefix}{position}"))
}

/// The position in a cursor made by [`encode_cursor`] with `prefix`; anything
/// else is BAD_USER_INPUT on `after`, naming the list (`field`) it is not from.
pub(crate) fn decode_cursor<T: std::str::FromStr>(
    cursor: &str,
    prefix: &str,
    field: &str,
) -> Result<T, ApiError> {
    let bad = || ApiError::bad_input("after", format!("not a cursor returned by `{field}`"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix(prefix)
        .and_then(|p| p.parse().ok())
        .ok_or_else(bad)
}

/// Validate a page size against the configured maximum.
pub(crate) fn page_size(
    field: &str,
    first: Option<i32>,
    default: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match first {
        None => Ok(std::cmp::min(default, max)),
        Some(n) if n >= 1 && (n as u64) <= max => Ok(n as u64),
        Some(n) => Err(ApiError::bad_input(
            field,
            format!("must be between 1 and {max}, got {n}"),
        )),
    }
}

fn ctx_parts<'a>(ctx: &'a Context<'_>) -> Result<(&'a Caller, &'a RequestContext)> {
    Ok((ctx.data::<Caller>()?, ctx.data::<RequestContext>()?))
}

/// The links through which the caller may see `class`.
fn links_for(caller: &Caller, rc: &RequestContext, class: DataClass) -> BTreeSet<Relationship> {
    policy::links_granting(&rc.policy, &caller.requester, class)
}

#[Object]
impl Query {
    /// The connector instances of your agency (integrators, role
    /// INTEGRATOR): last run and its counts, cursor, open dead letters,
    /// who is syncing, circuit.
    async fn sync_status(&self, ctx: &Context<'_>) -> Result<Vec<super::sync::SyncInstance>> {
        super::sync::sync_status(ctx).await
    }

    /// An instance's runs, newest first (integrators of its agency).
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        instance: String,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Vec<super::sync::SyncRun>> {
        super::sync::sync_runs(ctx, instance, first).await
    }

    /// An instance's dead letters, oldest first: place, upstream id and
    /// reason (the payload stays in the hub). Open ones unless `includeResolved`.
    async fn sync_dead_letters(
        &self,
        ctx: &Context<'_>,
        instance: String,
        #[graphql(default = false)] include_resolved: bool,
        #[graphql(default = 100)] first: i32,
    ) -> Result<Vec<super::sync::SyncDeadLetter>> {
        super::sync::sync_dead_letters(ctx, instance, include_resolved, first).await
    }

    /// The access log, newest first (privacy officers, purpose AUDIT): the
    /// entries of your agency's operators and those that touched cases your
    /// agency is linked to, or their subjects.
    async fn access_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<super::audit::AccessLogFilter>,
        #[graphql(desc = "Page size, 1 to the configured maximum (default 50).")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, super::audit::AccessLogEntry, super::audit::AccessLogPage>> {
        super::audit::access_log(ctx, filter, first, after).await
    }

    /// Break-glass grants waiting for review, oldest first (privacy officers,
    /// purpose AUDIT): grants on your agency's cases or by its operators.
    async fn break_glass_review_queue(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<super::audit::BreakGlassReviewItem>> {
        super::audit::break_glass_queue(ctx, first).await
    }

    /// Who saw which classes of a person's data, when, for what purpose and
    /// on which basis (GDPR art. 15), network-wide (privacy officers, purpose
    /// AUDIT, of an agency linked to the person).
    async fn subject_access_report(
        &self,
        ctx: &Context<'_>,
        person_id: ID,
    ) -> Result<super::audit::SubjectAccessReport> {
        super::audit::subject_access_report(ctx, person_id).await
    }

    /// Federation: a `Case` representation from a gateway (see `federation`).
    #[graphql(entity)]
    async fn find_case_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<super::federation::Entity<Case>>> {
        super::federation::case(ctx, id).await
    }

    /// Federation: a `Person` representation from a gateway.
    #[graphql(entity)]
    async fn find_person_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<super::federation::Entity<Person>>> {
        super::federation::person(ctx, id).await
    }

    /// Federation: an `Agency` representation from a gateway.
    #[graphql(entity)]
    async fn find_agency_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<super::federation::Entity<Agency>>> {
        super::federation::agency_by_id(ctx, id).await
    }

    /// Federation: a `Facility` representation from a gateway.
    #[graphql(entity)]
    async fn find_facility_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<super::federation::Entity<Facility>>> {
        super::federation::facility(ctx, id).await
    }

    /// The access log's chain: its head, and the last verification run by
    /// this hub process (privacy officers, purpose AUDIT).
    async fn access_log_status(
        &self,
        ctx: &Context<'_>,
    ) -> Result<super::chain_state::AccessLogStatus> {
        super::chain_state::status(ctx).await
    }

    /// Disclosures per period, recipient agency and data class, counted over
    /// the access-log entries a privacy officer may see (purpose AUDIT), for
    /// the console's chart.
    async fn disclosure_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At or after.")] from: chrono::DateTime<chrono::Utc>,
        #[graphql(desc = "Before.")] until: chrono::DateTime<chrono::Utc>,
        #[graphql(default_with = "super::audit::StatsBucket::Day")]
        bucket: super::audit::StatsBucket,
    ) -> Result<super::audit::DisclosureStats> {
        super::audit::disclosure_stats(ctx, from, until, bucket).await
    }

    /// The caller, as the hub understood the token.
    async fn me(&self) -> Me {
        Me
    }

    /// The agencies of the network.
    async fn agencies(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        let dir = ctx.data::<AgencyDirectory>()?;
        Ok(dir.all().await?.into_iter().map(Agency).collect())
    }

    /// One case. NOT_FOUND when it does not exist or the caller has no link to it.
    async fn case(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Case>> {
        let id = uuid_arg("id", &id)?;
        let rc = ctx.data::<RequestContext>()?;
        if !rc.reachable(Record::Case(id)).await? {
            return Err(ApiError::not_found(format!("case {id}")).into());
        }
        Ok(rc.loaders.case.load_one(id).await?.map(Case))
    }

    /// The cases the caller can reach, oldest first, as a Relay connection.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 1000) as usize * child_complexity")]
    async fn cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        #[graphql(desc = "Page size, 1 to the configured maximum (default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, Case, CaseConnectionFields>> {
        let (caller, rc) = ctx_parts(ctx)?;
        let first = page_size("first", first, 20, rc.max_page_size)?;
        let after = after
            .as_deref()
            .map(|c| decode_cursor::<Uuid>(c, CURSOR_PREFIX, "cases"))
            .transpose()?;
        let agency = caller.requester.agency.as_str();
        let filter = filter.unwrap_or_default();

        let mut cond = Condition::all().add(scope::cases(agency, rc.today, &scope::any_link()));
        if let Some(statuses) = &filter.status {
            let v: Vec<db::CaseStatus> = statuses.iter().map(|s| (*s).into()).collect();
            cond = cond.add(case_file::Column::Status.is_in(v));
        }
        if let Some(lead) = &filter.lead_agency {
            cond = cond.add(case_file::Column::LeadAgencyId.eq(lead.as_str()));
        }
        if let Some(levels) = &filter.risk_level {
            let v: Vec<db::RiskLevel> = levels.iter().map(|s| (*s).into()).collect();
            cond = cond
                .add(case_file::Column::RiskLevel.is_in(v))
                .add(scope::cases(
                    agency,
                    rc.today,
                    &links_for(caller, rc, DataClass::Social),
                ));
        }
        if let Some(term) = &filter.subject_search {
            let term = term.trim();
            if !(2..=100).contains(&term.chars().count()) {
                return Err(ApiError::bad_input(
                    "filter.subjectSearch",
                    "must be 2 to 100 characters",
                )
                .into());
            }
            let pattern = format!("%{}%", escape_like(&term.to_lowercase()));
            let like = |col: person::Column| {
                Expr::expr(Func::lower(Expr::col((person::Entity, col))))
                    .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
            };
            let matching = case_subject::Entity::find()
                .select_only()
                .column(case_subject::Column::CaseId)
                .inner_join(person::Entity)
                .filter(
                    Condition::any()
                        .add(like(person::Column::GivenName))
                        .add(like(person::Column::FamilyName))
                        .add(like(person::Column::FiscalCode)),
                )
                // A search on a person never finds, through them, the subjects
                // protected from them.
                .filter(Expr::cust(PROTECTED_FROM_MATCH))
                .into_query();
            cond = cond
                .add(case_file::Column::Id.in_subquery(matching))
                .add(scope::cases(
                    agency,
                    rc.today,
                    &links_for(caller, rc, DataClass::Identity),
                ));
        }

        let total_count = case_file::Entity::find()
            .filter(cond.clone())
            .count(&rc.db)
            .await
            .map_err(ApiError::from)?;
        let mut page = case_file::Entity::find().filter(cond);
        if let Some(after) = after {
            page = page.filter(case_file::Column::Id.gt(after));
        }
        let mut rows = page
            .order_by_asc(case_file::Column::Id)
            .limit(first + 1)
            .all(&rc.db)
            .await
            .map_err(ApiError::from)?;
        let has_next = rows.len() as u64 > first;
        rows.truncate(first as usize);
        let mut conn = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            CaseConnectionFields { total_count },
        );
        for m in rows {
            // Prime the loader so nested resolvers do not read the row again.
            rc.loaders.case.feed_one(m.id, m.clone()).await;
            conn.edges
                .push(Edge::new(encode_cursor(CURSOR_PREFIX, m.id), Case(m)));
        }
        Ok(conn)
    }

    /// One placement. NOT_FOUND when the caller has no link to its case.
    async fn placement(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Placement>> {
        let id = uuid_arg("id", &id)?;
        let rc = ctx.data::<RequestContext>()?;
        let row = placement::Entity::find_by_id(id)
            .one(&rc.db)
            .await
            .map_err(ApiError::from)?;
        match row {
            Some(p) if rc.reachable(Record::Case(p.case_id)).await? => Ok(Some(Placement(p))),
            _ => Err(ApiError::not_found(format!("placement {id}")).into()),
        }
    }

    /// One report to the juvenile court. NOT_FOUND when the caller has no
    /// link to its case.
    async fn court_report(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CourtReport>> {
        let id = uuid_arg("id", &id)?;
        let rc = ctx.data::<RequestContext>()?;
        let row = entities::court_report::Entity::find_by_id(id)
            .one(&rc.db)
            .await
            .map_err(ApiError::from)?;
        match row {
            Some(r) if rc.reachable(Record::Case(r.case_id)).await? => Ok(Some(CourtReport(r))),
            _ => Err(ApiError::not_found(format!("court report {id}")).into()),
        }
    }

    /// One person. NOT_FOUND when the caller has no link to them.
    async fn person(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Person>> {
        let id = uuid_arg("id", &id)?;
        let rc = ctx.data::<RequestContext>()?;
        if !rc.reachable(Record::Person(id)).await? {
            return Err(ApiError::not_found(format!("person {id}")).into());
        }
        Ok(rc.loaders.person.load_one(id).await?.map(Person))
    }

    /// One referral. NOT_FOUND when the caller has no link to it.
    async fn referral(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Referral>> {
        let id = uuid_arg("id", &id)?;
        let rc = ctx.data::<RequestContext>()?;
        if !rc.reachable(Record::Referral(id)).await? {
            return Err(ApiError::not_found(format!("referral {id}")).into());
        }
        let row = referral::Entity::find_by_id(id)
            .one(&rc.db)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(Referral))
    }

    /// Referrals waiting for triage by the caller's agency, most urgent first,
    /// then oldest first. For intake operators and case managers of social
    /// services.
    #[graphql(complexity = "first.unwrap_or(50).clamp(1, 1000) as usize * child_complexity")]
    async fn referral_queue(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Referral>> {
        let (caller, rc) = ctx_parts(ctx)?;
        let r = &caller.requester;
        if !matches!(
            r.agency_kind,
            policy::AgencyKind::SocialService | policy::AgencyKind::SocialDistrict
        ) || !matches!(
            r.role,
            policy::Role::IntakeOperator | policy::Role::CaseManager
        ) {
            return Err(ApiError::Forbidden(
                "the referral queue is for intake operators and case managers of social services"
                    .into(),
            )
            .into());
        }
        let first = page_size("first", first, 50, rc.max_page_size)?;
        let urgency_rank = Expr::case(referral::Column::Urgency.eq(db::Urgency::Immediate), 0)
            .case(referral::Column::Urgency.eq(db::Urgency::High), 1)
            .case(referral::Column::Urgency.eq(db::Urgency::Medium), 2)
            .finally(3);
        let rows = referral::Entity::find()
            .filter(referral::Column::TriageOutcome.is_null())
            .filter(referral::Column::AddressedToId.eq(r.agency.as_str()))
            .order_by(Into::<Expr>::into(urgency_rank), sea_orm::Order::Asc)
            .order_by_asc(referral::Column::ReceivedAt)
            .order_by_asc(referral::Column::Id)
            .limit(first)
            .all(&rc.db)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Referral).collect())
    }

    /// Facilities of the network, with their free places.
    async fn facilities(
        &self,
        ctx: &Context<'_>,
        kind: Option<enums::FacilityKind>,
    ) -> Result<Vec<Facility>> {
        let rc = ctx.data::<RequestContext>()?;
        let mut q = facility::Entity::find();
        if let Some(kind) = kind {
            q = q.filter(facility::Column::Kind.eq(db::FacilityKind::from(kind)));
        }
        let rows = q
            .order_by_asc(facility::Column::Name)
            .all(&rc.db)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Facility).collect())
    }

    /// Placements of the cases the caller can reach. Filtering by facility is
    /// limited to cases whose SECRET_LOCATION the caller may see, or to the
    /// caller's own facilities.
    #[graphql(complexity = "first.unwrap_or(100).clamp(1, 1000) as usize * child_complexity")]
    async fn placements(
        &self,
        ctx: &Context<'_>,
        active: Option<bool>,
        facility: Option<ID>,
        first: Option<i32>,
    ) -> Result<Vec<Placement>> {
        let (caller, rc) = ctx_parts(ctx)?;
        let first = page_size("first", first, 100, rc.max_page_size)?;
        let agency = caller.requester.agency.as_str();
        let mut links = scope::any_link();
        let mut q = placement::Entity::find();
        if let Some(fid) = &facility {
            let fid = uuid_arg("facility", fid)?;
            let operated = facility::Entity::find_by_id(fid)
                .one(&rc.db)
                .await
                .map_err(ApiError::from)?
                .is_some_and(|f| f.operator_agency_id == agency);
            if !operated {
                links = links_for(caller, rc, DataClass::SecretLocation);
            }
            q = q.filter(placement::Column::FacilityId.eq(fid));
        }
        match active {
            Some(true) => q = q.filter(placement::Column::EndOn.is_null()),
            Some(false) => q = q.filter(placement::Column::EndOn.is_not_null()),
            None => {}
        }
        let visible = case_file::Entity::find()
            .select_only()
            .column(case_file::Column::Id)
            .filter(scope::cases(agency, rc.today, &links))
            .into_query();
        let rows = q
            .filter(placement::Column::CaseId.in_subquery(visible))
            .order_by_asc(placement::Column::Id)
            .limit(first)
            .all(&rc.db)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Placement).collect())
    }

    /// Reviews of placements not yet done and due on or before `before`, on the
    /// cases the caller can reach, earliest first.
    #[graphql(complexity = "first.unwrap_or(100).clamp(1, 1000) as usize * child_complexity")]
    async fn verifications_due(
        &self,
        ctx: &Context<'_>,
        before: NaiveDate,
        first: Option<i32>,
    ) -> Result<Vec<Verification>> {
        let (caller, rc) = ctx_parts(ctx)?;
        let first = page_size("first", first, 100, rc.max_page_size)?;
        let visible = reachable_cases(caller, rc);
        let rows = verification::Entity::find()
            .find_also_related(placement::Entity)
            .filter(verification::Column::DoneOn.is_null())
            .filter(verification::Column::DueOn.lte(before))
            .filter(placement::Column::CaseId.in_subquery(visible))
            .order_by_asc(verification::Column::DueOn)
            .order_by_asc(verification::Column::Id)
            .limit(first)
            .all(&rc.db)
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .filter_map(|(v, p)| p.map(|p| Verification::new(v, p.case_id)))
            .collect())
    }

    /// What the juvenile court asked of the caller's agency and is not done
    /// yet (reports due, mandates of its orders), due on or before `before`
    /// (or undated), on the cases the caller can reach, earliest first and
    /// undated last.
    #[graphql(complexity = "first.unwrap_or(100).clamp(1, 1000) as usize * child_complexity")]
    async fn mandates_due(
        &self,
        ctx: &Context<'_>,
        before: NaiveDate,
        first: Option<i32>,
    ) -> Result<Vec<Mandate>> {
        use entities::{court_order, court_order_mandate};
        let (caller, rc) = ctx_parts(ctx)?;
        let first = page_size("first", first, 100, rc.max_page_size)?;
        let visible = reachable_cases(caller, rc);
        let rows = court_order_mandate::Entity::find()
            .find_also_related(court_order::Entity)
            .filter(court_order_mandate::Column::AgencyId.eq(&caller.requester.agency))
            .filter(court_order_mandate::Column::FulfilledOn.is_null())
            .filter(
                sea_orm::Condition::any()
                    .add(court_order_mandate::Column::DueOn.lte(before))
                    .add(court_order_mandate::Column::DueOn.is_null()),
            )
            .filter(court_order::Column::CaseId.in_subquery(visible))
            .order_by_with_nulls(
                court_order_mandate::Column::DueOn,
                sea_orm::Order::Asc,
                sea_orm::sea_query::NullOrdering::Last,
            )
            .order_by_asc(court_order_mandate::Column::Id)
            .limit(first)
            .all(&rc.db)
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .filter_map(|(m, o)| {
                o.map(|o| Mandate {
                    model: m,
                    case_id: o.case_id,
                })
            })
            .collect())
    }

    /// Why `agency` (as `role`, for `purpose`) could or could not see `dataClass`
    /// of a case now: the decision, the rule and legal basis that allowed it, or
    /// each reason why nothing applied. For privacy officers (purpose AUDIT).
    async fn explain_access(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        data_class: enums::DataClass,
        agency: ID,
        role: enums::Role,
        purpose: enums::Purpose,
    ) -> Result<AccessExplanation> {
        let (caller, rc) = ctx_parts(ctx)?;
        if caller.requester.role != policy::Role::PrivacyOfficer
            || caller.requester.purpose != policy::Purpose::Audit
        {
            return Err(ApiError::Forbidden(
                "explainAccess is for privacy officers with purpose AUDIT".into(),
            )
            .into());
        }
        let id = uuid_arg("caseId", &case_id)?;
        super::guard::touched(
            ctx,
            Record::Case(id),
            crate::audit::trail::Access::AuditRead,
        );
        let dir = ctx.data::<AgencyDirectory>()?;
        let a = dir.get(agency.as_str()).await?.ok_or_else(|| {
            ApiError::bad_input("agency", format!("no agency `{}`", agency.as_str()))
        })?;
        let subject = Caller {
            requester: policy::Requester {
                agency: a.id.clone(),
                agency_kind: a.kind.parse::<policy::AgencyKind>()?,
                operator: format!("{}-operator", a.id),
                role: role.into(),
                purpose: purpose.into(),
            },
            token_id: String::new(),
            issuer: caller.issuer.clone(),
        };
        let view = rc.as_requester(&subject);
        let facts = view.facts(Record::Case(id)).await?;
        let e = policy::explain(&rc.policy, &subject.requester, &facts, data_class.into());
        let (disclosed, rule, basis, reason) = match &e.decision {
            policy::Decision::Disclose { rule, basis, .. } => {
                (true, Some(rule.clone()), Some(basis.to_string()), None)
            }
            policy::Decision::Withhold { reason, .. } => {
                (false, None, None, Some(reason.to_string()))
            }
        };
        Ok(AccessExplanation {
            disclosed,
            rule,
            basis,
            reason,
            policy_version: rc.policy.version.clone(),
            text: e.to_string(),
            details: async_graphql::Json(serde_json::to_value(&e).unwrap_or_default()),
        })
    }

    /// The court orders of a case, oldest first.
    async fn court_orders(&self, ctx: &Context<'_>, case_id: ID) -> Result<Vec<CourtOrder>> {
        let id = uuid_arg("caseId", &case_id)?;
        let rc = ctx.data::<RequestContext>()?;
        if !rc.reachable(Record::Case(id)).await? {
            return Err(ApiError::not_found(format!("case {id}")).into());
        }
        super::guard::reveal(ctx, Record::Case(id), DataClass::Judicial, || ()).await?;
        let rows = rc.loaders.orders_of_case.load_one(id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(CourtOrder)
            .collect())
    }
}

/// Why a requester could, or could not, see a class of a case's data.
#[derive(SimpleObject)]
pub struct AccessExplanation {
    /// Whether the class would be disclosed.
    pub disclosed: bool,
    /// The rule that decided, when disclosed.
    pub rule: Option<String>,
    /// The legal basis (`KIND:id`), when disclosed.
    pub basis: Option<String>,
    /// Why not, when withheld.
    pub reason: Option<String>,
    /// The agreement's version hash.
    pub policy_version: String,
    /// Every rule of the agreement and why it applied or not, in words.
    pub text: String,
    /// The same, as data.
    pub details: async_graphql::Json<serde_json::Value>,
}

/// Escape `%`, `_` and `\` for a LIKE pattern with `\` as the escape character.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The ids of the cases the caller has any link to (a subquery).
fn reachable_cases(caller: &Caller, rc: &RequestContext) -> sea_orm::sea_query::SelectStatement {
    case_file::Entity::find()
        .select_only()
        .column(case_file::Column::Id)
        .filter(scope::cases(
            &caller.requester.agency,
            rc.today,
            &scope::any_link(),
        ))
        .into_query()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_named() {
        let id = Uuid::now_v7();
        assert_eq!(
            decode_cursor::<Uuid>(&encode_cursor(CURSOR_PREFIX, id), CURSOR_PREFIX, "cases").ok(),
            Some(id)
        );
        assert!(
            matches!(decode_cursor::<Uuid>("nope", CURSOR_PREFIX, "cases"), Err(ApiError::BadInput { field, .. }) if field == "after")
        );
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size("first", None, 20, 100).ok(), Some(20));
        assert!(page_size("first", Some(0), 20, 100).is_err());
        assert!(page_size("first", Some(101), 20, 100).is_err());
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("a%b_c\\"), "a\\%b\\_c\\\\");
    }
}
