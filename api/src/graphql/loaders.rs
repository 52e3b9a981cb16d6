//! Per-request DataLoaders: every list of related rows is read in one statement per
//! level of the query, whatever the page size. Built per request (never global), so
//! nothing read for one caller is served to another.
//!
//! The relationship loaders answer "how is the caller's agency linked to this
//! record?"; `scope` turns the same links into SQL conditions for list queries,
//! so lists and single records agree on what a caller can reach.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use chrono::NaiveDate;
use entities::{
    break_glass_grant, case_file, case_note, case_protection, case_subject, case_team_member,
    consent, court_order, court_order_mandate, facility, health_event, intervention, person,
    placement, placement_event, placement_guest, referral, referral_reason, referral_subject,
    verification,
};
use futures::future::BoxFuture;
use policy::Relationship;
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::error::ApiError;

/// A failed batch load. Carries only the error id (already logged) and
/// whether the database was out of reach (`UNAVAILABLE`) or not (`INTERNAL`).
#[derive(Clone, Debug)]
pub struct LoadError {
    id: String,
    unavailable: bool,
}

impl From<DbErr> for LoadError {
    fn from(e: DbErr) -> Self {
        match ApiError::from(e) {
            ApiError::Unavailable(id) => LoadError {
                id,
                unavailable: true,
            },
            ApiError::Internal(id) => LoadError {
                id,
                unavailable: false,
            },
            other => LoadError {
                id: other.message(),
                unavailable: false,
            },
        }
    }
}

impl From<LoadError> for async_graphql::Error {
    fn from(e: LoadError) -> Self {
        let err = if e.unavailable {
            ApiError::Unavailable(e.id)
        } else {
            ApiError::Internal(e.id)
        };
        async_graphql::ErrorExtensions::extend(&err)
    }
}

/// Rows of `E` by their uuid primary key.
pub struct ById<E: EntityTrait> {
    db: DatabaseConnection,
    col: E::Column,
    key: fn(&E::Model) -> Uuid,
}

impl<E> Loader<Uuid> for ById<E>
where
    E: EntityTrait + Send + Sync,
    E::Model: Clone + Send + Sync,
    E::Column: Send + Sync,
{
    type Value = E::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, E::Model>, LoadError> {
        let rows = E::find()
            .filter(self.col.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|m| ((self.key)(&m), m)).collect())
    }
}

/// Rows of `E` grouped by a uuid foreign key, in a stable order.
pub struct GroupBy<E: EntityTrait> {
    db: DatabaseConnection,
    col: E::Column,
    order: E::Column,
    key: fn(&E::Model) -> Uuid,
}

impl<E> Loader<Uuid> for GroupBy<E>
where
    E: EntityTrait + Send + Sync,
    E::Model: Clone + Send + Sync,
    E::Column: Send + Sync,
{
    type Value = Vec<E::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<E::Model>>, LoadError> {
        let rows = E::find()
            .filter(self.col.is_in(keys.iter().copied()))
            .order_by_asc(self.order)
            .all(&self.db)
            .await?;
        let mut out: HashMap<Uuid, Vec<E::Model>> = HashMap::new();
        for m in rows {
            out.entry((self.key)(&m)).or_default().push(m);
        }
        Ok(out)
    }
}

/// A per-request loader with a cache, whose batches run in the request's task.
pub type Dl<T> = DataLoader<T, HashMapCache>;

fn loader<T>(inner: T, batches: &Arc<Batches>) -> Dl<T> {
    DataLoader::with_cache(inner, batches.spawner(), HashMapCache::default())
        .delay(std::time::Duration::ZERO)
}

fn by_id<E: EntityTrait>(
    db: &DatabaseConnection,
    batches: &Arc<Batches>,
    col: E::Column,
    key: fn(&E::Model) -> Uuid,
) -> Dl<ById<E>>
where
    ById<E>: Loader<Uuid>,
{
    loader(
        ById {
            db: db.clone(),
            col,
            key,
        },
        batches,
    )
}

fn group_by<E: EntityTrait>(
    db: &DatabaseConnection,
    batches: &Arc<Batches>,
    col: E::Column,
    order: E::Column,
    key: fn(&E::Model) -> Uuid,
) -> Dl<GroupBy<E>>
where
    GroupBy<E>: Loader<Uuid>,
{
    loader(
        GroupBy {
            db: db.clone(),
            col,
            order,
            key,
        },
        batches,
    )
}

/// The SQL forms of the caller's links to cases. Each yields the ids of the cases
/// where the link holds; the loaders and the list filters share them.
pub mod scope {
    use super::*;
    use sea_orm::sea_query::SelectStatement;

    /// Cases where the agency is an active team member on `today`.
    pub fn team(agency: &str, today: NaiveDate) -> SelectStatement {
        case_team_member::Entity::find()
            .select_only()
            .column(case_team_member::Column::CaseId)
            .filter(case_team_member::Column::AgencyId.eq(agency))
            .filter(case_team_member::Column::FromOn.lte(today))
            .filter(
                Condition::any()
                    .add(case_team_member::Column::UntilOn.is_null())
                    .add(case_team_member::Column::UntilOn.gte(today)),
            )
            .into_query()
    }

    /// Cases opened from a referral the agency made.
    pub fn referrer(agency: &str) -> SelectStatement {
        referral::Entity::find()
            .select_only()
            .column(referral::Column::CaseId)
            .filter(referral::Column::ReporterAgencyId.eq(agency))
            .filter(referral::Column::CaseId.is_not_null())
            .into_query()
    }

    /// Cases with a placement in a facility the agency operates that has not
    /// ended before `today` (the last day of a placement is still one of it:
    /// the facility hears of the end, and hosts the guests until then).
    pub fn facility_operator(agency: &str, today: NaiveDate) -> SelectStatement {
        placement::Entity::find()
            .select_only()
            .column(placement::Column::CaseId)
            .inner_join(facility::Entity)
            .filter(facility::Column::OperatorAgencyId.eq(agency))
            .filter(
                Condition::any()
                    .add(placement::Column::EndOn.is_null())
                    .add(placement::Column::EndOn.gte(today)),
            )
            .into_query()
    }

    /// Cases on which the agency (a court) issued an order.
    pub fn court(agency: &str) -> SelectStatement {
        court_order::Entity::find()
            .select_only()
            .column(court_order::Column::CaseId)
            .filter(court_order::Column::CourtId.eq(agency))
            .into_query()
    }

    /// A condition on `case_file` rows: the agency holds one of `links` to the case
    /// (`Relationship::Any` meaning any link at all).
    pub fn cases(agency: &str, today: NaiveDate, links: &BTreeSet<Relationship>) -> Condition {
        let any = links.contains(&Relationship::Any);
        let has = |r: Relationship| any || links.contains(&r);
        let mut cond = Condition::any();
        if has(Relationship::Lead) {
            cond = cond.add(case_file::Column::LeadAgencyId.eq(agency));
        }
        if has(Relationship::TeamMember) {
            cond = cond.add(case_file::Column::Id.in_subquery(team(agency, today)));
        }
        if has(Relationship::Referrer) {
            cond = cond.add(case_file::Column::Id.in_subquery(referrer(agency)));
        }
        if has(Relationship::FacilityOperator) {
            cond = cond.add(case_file::Column::Id.in_subquery(facility_operator(agency, today)));
        }
        if has(Relationship::CourtOfRecord) {
            cond = cond
                .add(case_file::Column::CourtOfRecordId.eq(agency))
                .add(case_file::Column::Id.in_subquery(court(agency)));
        }
        if cond.is_empty() {
            // No link requested: match nothing.
            cond = cond.add(case_file::Column::Id.is_null());
        }
        cond
    }

    /// Every link, for "can the caller reach this case at all".
    pub fn any_link() -> BTreeSet<Relationship> {
        BTreeSet::from([Relationship::Any])
    }
}

pub type Links = BTreeSet<Relationship>;

fn add(out: &mut HashMap<Uuid, Links>, id: Uuid, r: Relationship) {
    out.entry(id).or_default().insert(r);
}

/// The caller's agency's links to cases.
pub struct CaseLinks {
    db: DatabaseConnection,
    agency: String,
    today: NaiveDate,
}

impl Loader<Uuid> for CaseLinks {
    type Value = Links;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Links>, LoadError> {
        Ok(case_links(&self.db, &self.agency, self.today, keys).await?)
    }
}

/// The agency's links to each of the cases `keys` (every key is in the answer).
/// A case's id, lead, court of record, and whether the agency is on its team,
/// referred it, operates a facility where it is placed, or issued an order on it.
type CaseLinkRow = (Uuid, String, Option<String>, bool, bool, bool, bool);

pub async fn case_links<C: sea_orm::ConnectionTrait>(
    db: &C,
    agency: &str,
    today: NaiveDate,
    keys: &[Uuid],
) -> Result<HashMap<Uuid, Links>, DbErr> {
    // One statement: each link is a column (`id IN (<the agency's cases>)`).
    let member =
        |q| ExprTrait::in_subquery(Expr::col((case_file::Entity, case_file::Column::Id)), q);
    let rows: Vec<CaseLinkRow> = case_file::Entity::find()
        .select_only()
        .columns([
            case_file::Column::Id,
            case_file::Column::LeadAgencyId,
            case_file::Column::CourtOfRecordId,
        ])
        .expr_as(member(scope::team(agency, today)), "team")
        .expr_as(member(scope::referrer(agency)), "referrer")
        .expr_as(member(scope::facility_operator(agency, today)), "operator")
        .expr_as(member(scope::court(agency)), "court")
        .filter(case_file::Column::Id.is_in(keys.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Links> = keys.iter().map(|k| (*k, Links::new())).collect();
    for (id, lead, court_of_record, team, referrer, operator, court) in rows {
        let links = out.entry(id).or_default();
        let holds = [
            (lead == agency, Relationship::Lead),
            (
                court_of_record.as_deref() == Some(agency) || court,
                Relationship::CourtOfRecord,
            ),
            (team, Relationship::TeamMember),
            (referrer, Relationship::Referrer),
            (operator, Relationship::FacilityOperator),
        ];
        links.extend(holds.into_iter().filter(|(h, _)| *h).map(|(_, r)| r));
    }
    Ok(out)
}

/// The caller's links to persons: through every case the person is a subject of,
/// and through referrals about them that the agency made or must triage.
pub struct PersonLinks {
    db: DatabaseConnection,
    agency: String,
    cases: Arc<Dl<CaseLinks>>,
    /// The same loader as `Loaders::cases_of_person`, so a person's cases are
    /// read once per request.
    cases_of_person: Arc<Dl<GroupBy<case_subject::Entity>>>,
}

impl Loader<Uuid> for PersonLinks {
    type Value = Links;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Links>, LoadError> {
        let mut out: HashMap<Uuid, Links> = keys.iter().map(|k| (*k, Links::new())).collect();
        let pairs: Vec<(Uuid, Uuid)> = self
            .cases_of_person
            .load_many(keys.iter().copied())
            .await?
            .into_values()
            .flatten()
            .map(|s| (s.person_id, s.case_id))
            .collect();
        let case_links = self.cases.load_many(pairs.iter().map(|(_, c)| *c)).await?;
        for (person, case) in &pairs {
            if let Some(links) = case_links.get(case) {
                out.entry(*person)
                    .or_default()
                    .extend(links.iter().copied());
            }
        }
        let a = self.agency.as_str();
        let refs: Vec<(Uuid, String, String, Option<String>)> = referral_subject::Entity::find()
            .select_only()
            .column(referral_subject::Column::PersonId)
            .column(referral::Column::ReporterAgencyId)
            .column(referral::Column::AddressedToId)
            .column(referral::Column::RedirectedToId)
            .inner_join(referral::Entity)
            .filter(referral_subject::Column::PersonId.is_in(keys.iter().copied()))
            .filter(
                Condition::any()
                    .add(referral::Column::ReporterAgencyId.eq(a))
                    .add(referral::Column::AddressedToId.eq(a))
                    .add(referral::Column::RedirectedToId.eq(a)),
            )
            .into_tuple()
            .all(&self.db)
            .await?;
        for (person, reporter, addressed, redirected) in refs {
            for r in referral_links(a, &reporter, &addressed, redirected.as_deref()) {
                add(&mut out, person, r);
            }
        }
        Ok(out)
    }
}

/// The links a referral itself gives: the reporter is its REFERRER; the social
/// service it is addressed (or redirected) to leads its triage.
pub fn referral_links(
    agency: &str,
    reporter: &str,
    addressed_to: &str,
    redirected_to: Option<&str>,
) -> Vec<Relationship> {
    let mut v = Vec::new();
    if reporter == agency {
        v.push(Relationship::Referrer);
    }
    if addressed_to == agency || redirected_to == Some(agency) {
        v.push(Relationship::Lead);
    }
    v
}

/// The caller's links to facilities: the operator, and the case teams of guests
/// placed there now.
pub struct FacilityLinks {
    db: DatabaseConnection,
    agency: String,
    cases: Arc<Dl<CaseLinks>>,
}

impl Loader<Uuid> for FacilityLinks {
    type Value = Links;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Links>, LoadError> {
        let mut out: HashMap<Uuid, Links> = keys.iter().map(|k| (*k, Links::new())).collect();
        let operated: Vec<Uuid> = facility::Entity::find()
            .select_only()
            .column(facility::Column::Id)
            .filter(facility::Column::Id.is_in(keys.iter().copied()))
            .filter(facility::Column::OperatorAgencyId.eq(self.agency.as_str()))
            .into_tuple()
            .all(&self.db)
            .await?;
        for id in operated {
            add(&mut out, id, Relationship::FacilityOperator);
        }
        let placed: Vec<(Uuid, Uuid)> = placement::Entity::find()
            .select_only()
            .columns([placement::Column::FacilityId, placement::Column::CaseId])
            .filter(placement::Column::FacilityId.is_in(keys.iter().copied()))
            .filter(placement::Column::EndOn.is_null())
            .into_tuple()
            .all(&self.db)
            .await?;
        let case_links = self.cases.load_many(placed.iter().map(|(_, c)| *c)).await?;
        for (fac, case) in placed {
            for r in case_links.get(&case).into_iter().flatten() {
                if matches!(r, Relationship::Lead | Relationship::TeamMember) {
                    add(&mut out, fac, *r);
                }
            }
        }
        Ok(out)
    }
}

/// The caller's links to referrals: its own links to the referral, plus those to
/// the case it opened.
pub struct ReferralLinks {
    db: DatabaseConnection,
    agency: String,
    cases: Arc<Dl<CaseLinks>>,
}

impl Loader<Uuid> for ReferralLinks {
    type Value = Links;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Links>, LoadError> {
        let mut out: HashMap<Uuid, Links> = keys.iter().map(|k| (*k, Links::new())).collect();
        let rows = referral::Entity::find()
            .filter(referral::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        let case_links = self
            .cases
            .load_many(rows.iter().filter_map(|r| r.case_id))
            .await?;
        for r in rows {
            let a = self.agency.as_str();
            for rel in referral_links(
                a,
                &r.reporter_agency_id,
                &r.addressed_to_id,
                r.redirected_to_id.as_deref(),
            ) {
                add(&mut out, r.id, rel);
            }
            if let Some(links) = r.case_id.and_then(|c| case_links.get(&c)) {
                out.entry(r.id).or_default().extend(links.iter().copied());
            }
        }
        Ok(out)
    }
}

/// Guests currently placed in each facility (active placements).
pub struct Occupancy {
    db: DatabaseConnection,
}

impl Loader<Uuid> for Occupancy {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, i64>, LoadError> {
        Ok(occupancy(&self.db, keys).await?)
    }
}

/// Guests in active placements, per facility (facilities with none are absent).
pub async fn occupancy<C: sea_orm::ConnectionTrait>(
    db: &C,
    facilities: &[Uuid],
) -> Result<HashMap<Uuid, i64>, DbErr> {
    let rows: Vec<(Uuid, i64)> = placement_guest::Entity::find()
        .select_only()
        .column(placement::Column::FacilityId)
        .column_as(placement_guest::Column::PersonId.count(), "guests")
        .inner_join(placement::Entity)
        .filter(placement::Column::FacilityId.is_in(facilities.iter().copied()))
        .filter(placement::Column::EndOn.is_null())
        .group_by(placement::Column::FacilityId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The caller's legal bases on cases beside consent: court-order mandates naming
/// its agency, and its own active break-glass grants.
pub struct CaseBases {
    db: DatabaseConnection,
    agency: String,
    operator: String,
    now: chrono::DateTime<chrono::Utc>,
}

/// Mandates and grants of one case.
pub type Bases = (Vec<policy::MandateFact>, Vec<policy::BreakGlassFact>);

impl Loader<Uuid> for CaseBases {
    type Value = Bases;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Bases>, LoadError> {
        let mut out: HashMap<Uuid, Bases> = keys.iter().map(|k| (*k, Bases::default())).collect();
        let mandates: Vec<(Uuid, Uuid)> = court_order_mandate::Entity::find()
            .select_only()
            .column(court_order::Column::CaseId)
            .column(court_order_mandate::Column::OrderId)
            .inner_join(court_order::Entity)
            .filter(court_order::Column::CaseId.is_in(keys.iter().copied()))
            .filter(court_order_mandate::Column::AgencyId.eq(self.agency.as_str()))
            .into_tuple()
            .all(&self.db)
            .await?;
        for (case, order) in mandates {
            out.entry(case).or_default().0.push(policy::MandateFact {
                order_id: order.to_string(),
                agency: self.agency.clone(),
            });
        }
        let grants = break_glass_grant::Entity::find()
            .filter(break_glass_grant::Column::CaseId.is_in(keys.iter().copied()))
            .filter(break_glass_grant::Column::AgencyId.eq(self.agency.as_str()))
            .filter(break_glass_grant::Column::Operator.eq(self.operator.as_str()))
            .filter(break_glass_grant::Column::ExpiresAt.gt(self.now))
            .all(&self.db)
            .await?;
        for g in grants {
            out.entry(g.case_id)
                .or_default()
                .1
                .push(policy::BreakGlassFact {
                    id: g.id.to_string(),
                    agency: g.agency_id,
                    operator: g.operator,
                    expires_at: g.expires_at.timestamp(),
                });
        }
        Ok(out)
    }
}

/// A stored consent as the policy reads it. Words the policy does not know
/// (impossible through the API, which validates them) are left out, which only
/// narrows the consent.
pub fn consent_fact(c: &entities::consent::Model) -> policy::ConsentFact {
    fn words<T: std::str::FromStr + Ord>(v: &serde_json::Value) -> BTreeSet<T> {
        v.as_array()
            .map(|a| a.iter().filter_map(|w| w.as_str()?.parse().ok()).collect())
            .unwrap_or_default()
    }
    policy::ConsentFact {
        id: c.id.to_string(),
        classes: words(&c.data_classes),
        recipient_agencies: words(&c.recipient_agencies),
        recipient_kinds: words(&c.recipient_kinds),
        purposes: words(&c.purposes),
        valid_from: c.valid_from.timestamp(),
        valid_until: c.valid_until.map(|t| t.timestamp()),
        withdrawn_at: c.withdrawn_at.map(|t| t.timestamp()),
        given_by_protected_from: false,
    }
}

/// All loaders of one request.
pub struct Loaders {
    pub case: Dl<ById<case_file::Entity>>,
    pub person: Dl<ById<person::Entity>>,
    pub facility: Dl<ById<facility::Entity>>,
    pub placement: Dl<ById<placement::Entity>>,
    pub court_order: Dl<ById<court_order::Entity>>,
    pub subjects_of_case: Dl<GroupBy<case_subject::Entity>>,
    pub cases_of_person: Arc<Dl<GroupBy<case_subject::Entity>>>,
    pub team_of_case: Dl<GroupBy<case_team_member::Entity>>,
    pub placements_of_case: Dl<GroupBy<placement::Entity>>,
    pub orders_of_case: Dl<GroupBy<court_order::Entity>>,
    pub notes_of_case: Dl<GroupBy<case_note::Entity>>,
    pub interventions_of_case: Dl<GroupBy<intervention::Entity>>,
    pub health_of_person: Dl<GroupBy<health_event::Entity>>,
    pub mandates_of_order: Dl<GroupBy<court_order_mandate::Entity>>,
    pub guests_of_placement: Dl<GroupBy<placement_guest::Entity>>,
    pub verifications_of_placement: Dl<GroupBy<verification::Entity>>,
    pub events_of_placement: Dl<GroupBy<placement_event::Entity>>,
    pub reasons_of_referral: Dl<GroupBy<referral_reason::Entity>>,
    pub subjects_of_referral: Dl<GroupBy<referral_subject::Entity>>,
    pub occupancy: Dl<Occupancy>,
    pub referral: Dl<ById<referral::Entity>>,
    pub consents_of_person: Dl<GroupBy<consent::Entity>>,
    pub protections_of_person: Dl<GroupBy<case_protection::Entity>>,
    pub case_bases: Dl<CaseBases>,
    pub case_links: Arc<Dl<CaseLinks>>,
    pub person_links: Dl<PersonLinks>,
    pub facility_links: Dl<FacilityLinks>,
    pub referral_links: Dl<ReferralLinks>,
}

impl Loaders {
    pub fn new(
        db: &DatabaseConnection,
        batches: &Arc<Batches>,
        requester: &policy::Requester,
        today: NaiveDate,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Loaders {
        let agency = requester.agency.as_str();
        use entities::*;
        let cases_of_person = Arc::new(group_by::<case_subject::Entity>(
            db,
            batches,
            case_subject::Column::PersonId,
            case_subject::Column::CreatedAt,
            |m| m.person_id,
        ));
        let case_links = Arc::new(loader(
            CaseLinks {
                db: db.clone(),
                agency: agency.to_string(),
                today,
            },
            batches,
        ));
        Loaders {
            case: by_id::<case_file::Entity>(db, batches, case_file::Column::Id, |m| m.id),
            person: by_id::<person::Entity>(db, batches, person::Column::Id, |m| m.id),
            facility: by_id::<facility::Entity>(db, batches, facility::Column::Id, |m| m.id),
            placement: by_id::<placement::Entity>(db, batches, placement::Column::Id, |m| m.id),
            court_order: by_id::<court_order::Entity>(db, batches, court_order::Column::Id, |m| {
                m.id
            }),
            subjects_of_case: group_by::<case_subject::Entity>(
                db,
                batches,
                case_subject::Column::CaseId,
                case_subject::Column::CreatedAt,
                |m| m.case_id,
            ),
            cases_of_person: cases_of_person.clone(),
            team_of_case: group_by::<case_team_member::Entity>(
                db,
                batches,
                case_team_member::Column::CaseId,
                case_team_member::Column::Id,
                |m| m.case_id,
            ),
            placements_of_case: group_by::<placement::Entity>(
                db,
                batches,
                placement::Column::CaseId,
                placement::Column::Id,
                |m| m.case_id,
            ),
            orders_of_case: group_by::<court_order::Entity>(
                db,
                batches,
                court_order::Column::CaseId,
                court_order::Column::Id,
                |m| m.case_id,
            ),
            notes_of_case: group_by::<case_note::Entity>(
                db,
                batches,
                case_note::Column::CaseId,
                case_note::Column::Id,
                |m| m.case_id,
            ),
            interventions_of_case: group_by::<intervention::Entity>(
                db,
                batches,
                intervention::Column::CaseId,
                intervention::Column::Id,
                |m| m.case_id,
            ),
            health_of_person: group_by::<health_event::Entity>(
                db,
                batches,
                health_event::Column::PersonId,
                health_event::Column::Id,
                |m| m.person_id,
            ),
            mandates_of_order: group_by::<court_order_mandate::Entity>(
                db,
                batches,
                court_order_mandate::Column::OrderId,
                court_order_mandate::Column::Id,
                |m| m.order_id,
            ),
            guests_of_placement: group_by::<placement_guest::Entity>(
                db,
                batches,
                placement_guest::Column::PlacementId,
                placement_guest::Column::PersonId,
                |m| m.placement_id,
            ),
            verifications_of_placement: group_by::<verification::Entity>(
                db,
                batches,
                verification::Column::PlacementId,
                verification::Column::DueOn,
                |m| m.placement_id,
            ),
            events_of_placement: group_by::<placement_event::Entity>(
                db,
                batches,
                placement_event::Column::PlacementId,
                placement_event::Column::OccurredAt,
                |m| m.placement_id,
            ),
            reasons_of_referral: group_by::<referral_reason::Entity>(
                db,
                batches,
                referral_reason::Column::ReferralId,
                referral_reason::Column::Reason,
                |m| m.referral_id,
            ),
            subjects_of_referral: group_by::<referral_subject::Entity>(
                db,
                batches,
                referral_subject::Column::ReferralId,
                referral_subject::Column::PersonId,
                |m| m.referral_id,
            ),
            occupancy: loader(Occupancy { db: db.clone() }, batches),
            referral: by_id::<referral::Entity>(db, batches, referral::Column::Id, |m| m.id),
            consents_of_person: group_by::<consent::Entity>(
                db,
                batches,
                consent::Column::SubjectId,
                consent::Column::CreatedAt,
                |m| m.subject_id,
            ),
            protections_of_person: group_by::<case_protection::Entity>(
                db,
                batches,
                case_protection::Column::ProtectedPersonId,
                case_protection::Column::CreatedAt,
                |m| m.protected_person_id,
            ),
            case_bases: loader(
                CaseBases {
                    db: db.clone(),
                    agency: agency.to_string(),
                    operator: requester.operator.clone(),
                    now,
                },
                batches,
            ),
            person_links: loader(
                PersonLinks {
                    db: db.clone(),
                    agency: agency.to_string(),
                    cases: case_links.clone(),
                    cases_of_person: cases_of_person.clone(),
                },
                batches,
            ),
            facility_links: loader(
                FacilityLinks {
                    db: db.clone(),
                    agency: agency.to_string(),
                    cases: case_links.clone(),
                },
                batches,
            ),
            referral_links: loader(
                ReferralLinks {
                    db: db.clone(),
                    agency: agency.to_string(),
                    cases: case_links.clone(),
                },
                batches,
            ),
            case_links,
        }
    }
}

/// Runs the batches of one request's loaders inside the request's own task.
///
/// A loader's batch starts only after the request's resolvers have been polled
/// as far as they can go, so every sibling in a list has asked for its key by
/// then: one statement per loader and level, whatever the page size and however
/// slowly the resolvers run (a timer-based delay cannot promise that).
#[derive(Default)]
pub struct Batches {
    queue: std::sync::Mutex<Vec<BoxFuture<'static, ()>>>,
    waker: futures::task::AtomicWaker,
}

impl Batches {
    pub fn new() -> Arc<Batches> {
        Arc::new(Batches::default())
    }

    fn spawner(self: &Arc<Self>) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let me = self.clone();
        move |fut| {
            if let Ok(mut q) = me.queue.lock() {
                q.push(fut);
            }
            me.waker.wake();
        }
    }

    /// Run `work` (a GraphQL execution) together with the batches it starts.
    pub async fn run<F: std::future::Future + Send>(self: Arc<Self>, work: F) -> F::Output {
        Run {
            // Tokio's cooperative budget would make the resolvers stop after
            // 128 steps and defer their wake-up past the batches; the request
            // is bounded by the query limits and the request timeout instead.
            work: Box::pin(tokio::task::unconstrained(work)),
            batches: self,
            running: futures::stream::FuturesUnordered::new(),
            flag: Arc::new(Flag::default()),
        }
        .await
    }
}

/// Remembers whether the work woke itself (it yielded to be polled again).
#[derive(Default)]
struct Flag {
    woken: std::sync::atomic::AtomicBool,
    outer: futures::task::AtomicWaker,
}

impl futures::task::ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self
            .woken
            .store(true, std::sync::atomic::Ordering::SeqCst);
        arc_self.outer.wake();
    }
}

struct Run<F: std::future::Future> {
    work: std::pin::Pin<Box<tokio::task::Unconstrained<F>>>,
    batches: Arc<Batches>,
    running: futures::stream::FuturesUnordered<BoxFuture<'static, ()>>,
    flag: Arc<Flag>,
}

impl<F: std::future::Future> std::future::Future for Run<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        use futures::StreamExt;
        use std::sync::atomic::Ordering;
        use std::task::Poll;
        let this = &mut *self;
        this.flag.outer.register(cx.waker());
        this.batches.waker.register(cx.waker());
        let waker = futures::task::waker(this.flag.clone());
        let mut wcx = std::task::Context::from_waker(&waker);
        loop {
            // 1. Let the resolvers run until they wait on something other than
            //    themselves (async-graphql's joins yield every few dozen items).
            loop {
                this.flag.woken.store(false, Ordering::SeqCst);
                if let Poll::Ready(out) = this.work.as_mut().poll(&mut wcx) {
                    return Poll::Ready(out);
                }
                if !this.flag.woken.load(Ordering::SeqCst) {
                    break;
                }
            }
            // 2. Every key is now asked for: run the batches.
            let queued: Vec<_> = match this.batches.queue.lock() {
                Ok(mut q) => q.drain(..).collect(),
                Err(_) => Vec::new(),
            };
            let had_new = !queued.is_empty();
            this.running.extend(queued);
            let mut progressed = false;
            while let Poll::Ready(Some(())) = this.running.poll_next_unpin(cx) {
                progressed = true;
            }
            if !(had_new || progressed || this.flag.woken.load(Ordering::SeqCst)) {
                return Poll::Pending;
            }
        }
    }
}
