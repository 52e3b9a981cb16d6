//! The one door between a personal field and the client.
//!
//! Every resolver of a personal field calls [`reveal`] with the record the field
//! belongs to and the field's data class. `reveal` gathers the caller's links to
//! the record (through the request's loaders), asks `policy::decide` once per
//! (record, class) for the whole request, and either returns the value or a
//! `FIELD_WITHHELD` error (the field resolves to `null`). Resolvers never decide
//! on their own.
//!
//! The `@dataClass` directive shows each field's class in the SDL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::{Context, ErrorExtensions, TypeDirective};
use chrono::NaiveDate;
use policy::{BasisKind, DataClass, Decision, Facts, Policy};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::enums;
use super::loaders::{Batches, Loaders};
use crate::audit::trail::{Access, Trail};
use crate::auth::Caller;
use crate::error::ApiError;

/// Shows the protection class of a field of personal data. The hub discloses the
/// field only when the network agreement grants that class to the caller for the
/// record; otherwise the field is `null` with a `FIELD_WITHHELD` error.
#[TypeDirective(
    location = "FieldDefinition",
    composable = "https://specs.rete.example/dataClass/v1.0"
)]
#[allow(non_snake_case)]
pub fn dataClass(class: enums::DataClass) {}

/// Built with the `bench-no-enforcement` feature (benchmark builds only): every
/// record is reachable and every field disclosed without asking the policy, to
/// measure what enforcement costs. Never in a build that serves real data; the
/// binary refuses to serve unless told it is a benchmark (see `main.rs`).
pub const NO_ENFORCEMENT: bool = cfg!(feature = "bench-no-enforcement");

/// A record whose fields are decided together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Record {
    Case(Uuid),
    Person(Uuid),
    Referral(Uuid),
    Facility(Uuid),
}

/// Per-request state beside the [`Caller`].
pub struct RequestContext {
    pub db: DatabaseConnection,
    pub policy: Arc<Policy>,
    pub loaders: Loaders,
    pub today: NaiveDate,
    /// The request's time (unix seconds): consents and grants are judged at it.
    pub now: i64,
    pub max_page_size: u64,
    requester: policy::Requester,
    batches: Arc<Batches>,
    wants_consents: bool,
    wants_case_bases: bool,
    decisions: Mutex<HashMap<(Record, DataClass), Decision>>,
    /// What the operation touched and disclosed, for the access log.
    trail: Arc<Trail>,
    /// The caller's links per record, shared by every field and class of the
    /// record: one load per record, even while the first load is in flight.
    facts: Mutex<HashMap<Record, Arc<tokio::sync::OnceCell<Facts>>>>,
    /// The representations of a gateway's `_entities` request.
    pub(crate) entities: super::federation::EntityBatch,
}

impl RequestContext {
    pub fn new(
        db: DatabaseConnection,
        policy: Arc<Policy>,
        caller: &Caller,
        today: NaiveDate,
        max_page_size: u64,
        batches: &Arc<Batches>,
    ) -> RequestContext {
        let now = chrono::Utc::now();
        let loaders = Loaders::new(&db, batches, &caller.requester, today, now);
        // Gather a kind of legal basis only when some rule can rest on it.
        let uses = |k: BasisKind| policy.rules.iter().any(|r| r.bases.contains(&k));
        let wants_consents = uses(BasisKind::Consent);
        let wants_case_bases = uses(BasisKind::CourtOrder) || uses(BasisKind::BreakGlass);
        RequestContext {
            db,
            policy,
            loaders,
            today,
            now: now.timestamp(),
            requester: caller.requester.clone(),
            batches: batches.clone(),
            wants_consents,
            wants_case_bases,
            max_page_size,
            decisions: Mutex::new(HashMap::new()),
            trail: Arc::new(Trail::default()),
            facts: Mutex::new(HashMap::new()),
            entities: Default::default(),
        }
    }

    /// The operation's trail (the HTTP layer keeps a handle to log it once
    /// the operation has run).
    pub fn trail(&self) -> Arc<Trail> {
        self.trail.clone()
    }

    /// The same request's view for another requester (to explain what *they*
    /// would see): fresh loaders and caches, the same batch driver.
    pub fn as_requester(&self, caller: &Caller) -> RequestContext {
        RequestContext::new(
            self.db.clone(),
            self.policy.clone(),
            caller,
            self.today,
            self.max_page_size,
            &self.batches,
        )
    }

    /// The caller's links to a record (loaded once per request).
    pub async fn facts(&self, record: Record) -> async_graphql::Result<Facts> {
        let cell = match self.facts.lock() {
            Ok(mut m) => m.entry(record).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::OnceCell::new()),
        };
        cell.get_or_try_init(|| self.load_facts(record))
            .await
            .cloned()
    }

    async fn load_facts(&self, record: Record) -> async_graphql::Result<Facts> {
        let l = &self.loaders;
        // The record's links, and the cases and persons its legal bases hang on.
        let (links, cases, persons): (_, Vec<Uuid>, Vec<Uuid>) = match record {
            Record::Case(id) => {
                let subjects = l.subjects_of_case.load_one(id).await?.unwrap_or_default();
                let persons = subjects.iter().map(|s| s.person_id).collect();
                (l.case_links.load_one(id).await?, vec![id], persons)
            }
            Record::Person(id) => {
                let cases = l.cases_of_person.load_one(id).await?.unwrap_or_default();
                let cases = cases.iter().map(|s| s.case_id).collect();
                (l.person_links.load_one(id).await?, cases, vec![id])
            }
            Record::Referral(id) => {
                let subjects = l
                    .subjects_of_referral
                    .load_one(id)
                    .await?
                    .unwrap_or_default();
                let case = l.referral.load_one(id).await?.and_then(|r| r.case_id);
                let persons = subjects.iter().map(|s| s.person_id).collect();
                (
                    l.referral_links.load_one(id).await?,
                    case.into_iter().collect(),
                    persons,
                )
            }
            Record::Facility(id) => (l.facility_links.load_one(id).await?, vec![], vec![]),
        };
        match record {
            Record::Person(id) => self.trail.about(record, &[id], &cases),
            _ => self.trail.about(record, &persons, &cases),
        }
        let mut facts = Facts {
            relationships: links.unwrap_or_default(),
            at: self.now,
            ..Facts::default()
        };
        // Protection from a person: whom each of these persons is protected from
        // (for a person's own fields, and to discount consents).
        let needs_protections =
            matches!(record, Record::Person(_)) || (self.wants_consents && !persons.is_empty());
        let protections = if needs_protections {
            l.protections_of_person
                .load_many(persons.iter().copied())
                .await?
        } else {
            HashMap::new()
        };
        let protected_from: std::collections::BTreeSet<Uuid> = protections
            .values()
            .flatten()
            .filter(|p| p.ended_at.is_none())
            .map(|p| p.from_person_id)
            .collect();
        if let Record::Person(id) = record
            && !protected_from.is_empty()
            && !facts.relationships.is_empty()
        {
            facts.only_via_protected_from = self.only_via(id, &cases, &protections).await?;
        }
        if self.wants_consents && !persons.is_empty() {
            let consents = l.consents_of_person.load_many(persons).await?;
            facts.consents = consents
                .values()
                .flatten()
                .map(|c| {
                    let mut f = super::loaders::consent_fact(c);
                    f.given_by_protected_from = c
                        .given_by_person_id
                        .is_some_and(|g| protected_from.contains(&g));
                    f
                })
                .collect();
        }
        if self.wants_case_bases && !cases.is_empty() {
            for (mandates, grants) in l.case_bases.load_many(cases).await?.into_values() {
                facts.mandates.extend(mandates);
                facts.break_glass.extend(grants);
            }
        }
        Ok(facts)
    }

    /// Does every link of the caller to `person` run through the records of a
    /// person they are protected from? A link through a case counts as theirs
    /// when that person is a subject of the case and the case does not itself
    /// record the protection; links through referrals count as independent.
    async fn only_via(
        &self,
        person: Uuid,
        cases: &[Uuid],
        protections: &HashMap<Uuid, Vec<entities::case_protection::Model>>,
    ) -> async_graphql::Result<bool> {
        let l = &self.loaders;
        let mine: Vec<_> = protections
            .get(&person)
            .into_iter()
            .flatten()
            .filter(|p| p.ended_at.is_none())
            .collect();
        if mine.is_empty() {
            return Ok(false);
        }
        let links = l.case_links.load_many(cases.iter().copied()).await?;
        let subjects = l.subjects_of_case.load_many(cases.iter().copied()).await?;
        let referral_linked = {
            let person_links = l.person_links.load_one(person).await?.unwrap_or_default();
            let through_cases: std::collections::BTreeSet<_> =
                links.values().flatten().copied().collect();
            person_links.iter().any(|r| !through_cases.contains(r))
        };
        if referral_linked {
            return Ok(false);
        }
        let linked_cases = links.iter().filter(|(_, l)| !l.is_empty()).map(|(c, _)| *c);
        let mut any = false;
        for case in linked_cases {
            any = true;
            let in_case: std::collections::BTreeSet<Uuid> = subjects
                .get(&case)
                .into_iter()
                .flatten()
                .map(|s| s.person_id)
                .collect();
            let theirs = mine
                .iter()
                .any(|p| in_case.contains(&p.from_person_id) && p.case_id != case);
            if !theirs {
                return Ok(false);
            }
        }
        Ok(any)
    }

    /// Can the caller reach the record at all (any link)? Records that fail this
    /// are reported as not found, so their existence does not leak.
    pub async fn reachable(&self, record: Record) -> async_graphql::Result<bool> {
        if NO_ENFORCEMENT {
            return Ok(true);
        }
        Ok(self.facts(record).await?.is_linked(&self.requester))
    }
}

/// The policy's decision for (caller, record, class), taken once per request.
pub async fn decide(
    ctx: &Context<'_>,
    record: Record,
    class: DataClass,
) -> async_graphql::Result<Decision> {
    if NO_ENFORCEMENT {
        return Ok(Decision::Disclose {
            class,
            rule: "bench-no-enforcement".into(),
            basis: policy::LegalBasis::new(BasisKind::Duty, "bench-no-enforcement"),
        });
    }
    let rc = ctx.data::<RequestContext>()?;
    if let Some(d) = rc
        .decisions
        .lock()
        .ok()
        .and_then(|m| m.get(&(record, class)).cloned())
    {
        return Ok(d);
    }
    let caller = ctx.data::<Caller>()?;
    let facts = rc.facts(record).await?;
    let decision = policy::decide(&rc.policy, &caller.requester, &facts, class);
    if let Ok(mut m) = rc.decisions.lock() {
        m.insert((record, class), decision.clone());
    }
    rc.trail.decided(record, &decision);
    Ok(decision)
}

/// The value of a personal field if the policy discloses it, else `FIELD_WITHHELD`.
pub async fn reveal<T>(
    ctx: &Context<'_>,
    record: Record,
    class: DataClass,
    value: impl FnOnce() -> T,
) -> async_graphql::Result<T> {
    match decide(ctx, record, class).await? {
        Decision::Disclose { .. } => {
            if let Some(path) = ctx.path_node {
                ctx.data::<RequestContext>()?
                    .trail
                    .disclosed_at(record, path.to_string_vec());
            }
            Ok(value())
        }
        Decision::Withhold { class, reason } => Err(ApiError::Withheld { class, reason }.extend()),
    }
}

/// Note in the access log that the operation wrote the record (mutations) or
/// read the log about it (privacy officers).
pub fn touched(ctx: &Context<'_>, record: Record, access: Access) {
    if let Ok(rc) = ctx.data::<RequestContext>() {
        rc.trail.access(record, access);
    }
}

/// Is the class disclosed (for fields that filter rather than fail, e.g. lists
/// of related records the caller may or may not reach)?
pub async fn disclosed(
    ctx: &Context<'_>,
    record: Record,
    class: DataClass,
) -> async_graphql::Result<bool> {
    Ok(decide(ctx, record, class).await?.is_disclosed())
}
