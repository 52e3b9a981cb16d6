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
use policy::{DataClass, Decision, Facts, Policy};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::enums;
use super::loaders::{Batches, Loaders};
use crate::auth::Caller;
use crate::error::ApiError;

/// Shows the protection class of a field of personal data. The hub discloses the
/// field only when the network agreement grants that class to the caller for the
/// record; otherwise the field is `null` with a `FIELD_WITHHELD` error.
#[TypeDirective(location = "FieldDefinition")]
#[allow(non_snake_case)]
pub fn dataClass(class: enums::DataClass) {}

/// A record whose fields are decided together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    decisions: Mutex<HashMap<(Record, DataClass), Decision>>,
    /// The caller's links per record, shared by every field and class of the
    /// record: one load per record, even while the first load is in flight.
    facts: Mutex<HashMap<Record, Arc<tokio::sync::OnceCell<Facts>>>>,
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
        let loaders = Loaders::new(&db, batches, &caller.requester.agency, today);
        RequestContext {
            db,
            policy,
            loaders,
            today,
            now: chrono::Utc::now().timestamp(),
            max_page_size,
            decisions: Mutex::new(HashMap::new()),
            facts: Mutex::new(HashMap::new()),
        }
    }

    /// Every decision taken so far in this request (for the access log).
    pub fn decisions(&self) -> Vec<(Record, Decision)> {
        self.decisions
            .lock()
            .map(|d| d.iter().map(|((r, _), d)| (*r, d.clone())).collect())
            .unwrap_or_default()
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
        let links = match record {
            Record::Case(id) => l.case_links.load_one(id).await?,
            Record::Person(id) => l.person_links.load_one(id).await?,
            Record::Referral(id) => l.referral_links.load_one(id).await?,
            Record::Facility(id) => l.facility_links.load_one(id).await?,
        };
        Ok(Facts {
            relationships: links.unwrap_or_default(),
            at: self.now,
            ..Facts::default()
        })
    }

    /// Can the caller reach the record at all (any link)? Records that fail this
    /// are reported as not found, so their existence does not leak.
    pub async fn reachable(&self, record: Record) -> async_graphql::Result<bool> {
        Ok(!self.facts(record).await?.relationships.is_empty())
    }
}

/// The policy's decision for (caller, record, class), taken once per request.
pub async fn decide(
    ctx: &Context<'_>,
    record: Record,
    class: DataClass,
) -> async_graphql::Result<Decision> {
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
        Decision::Disclose { .. } => Ok(value()),
        Decision::Withhold { class, reason } => Err(ApiError::Withheld { class, reason }.extend()),
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
