//! The connector engine's state for integrators (role INTEGRATOR): each
//! instance of their agency with its last run, cursor, open dead letters,
//! lease and circuit (`syncStatus`), its runs (`syncRuns`) and its dead
//! letters (`syncDeadLetters`).
//!
//! A dead letter is shown by place, upstream id and reason, never by its raw
//! payload: the payload is personal data (a patient, a pregnancy) and an
//! integrator debugging a mapping does not need it to see which record failed
//! and why. `rete sync dead-letters NAME --payload` shows it to an operator who
//! has the database anyway.

use std::sync::Arc;

use async_graphql::{Context, ID, Result, SimpleObject};
use chrono::{DateTime, Utc};
use connectors::Engine;
use connectors::engine::InstanceStatus;
use entities::{sync_dead_letter, sync_run};
use policy::Role;

use crate::auth::Caller;
use crate::error::ApiError;

/// The engine, when this hub process has connector instances configured
/// (added to every request's data).
#[derive(Clone)]
pub struct SyncEngine(pub Option<Arc<Engine>>);

/// The caller (an integrator) and the engine.
fn integrator<'a>(ctx: &'a Context<'_>) -> Result<(&'a Caller, Option<&'a Arc<Engine>>)> {
    let caller = ctx.data::<Caller>()?;
    if caller.requester.role != Role::Integrator {
        return Err(ApiError::Forbidden(
            "the connectors' state is for integrators (role INTEGRATOR)".into(),
        )
        .into());
    }
    Ok((caller, ctx.data::<SyncEngine>()?.0.as_ref()))
}

/// An instance of the caller's agency, or NOT_FOUND (also for other
/// agencies' instances: their names are not the caller's business).
fn own_instance<'a>(
    caller: &Caller,
    engine: Option<&'a Arc<Engine>>,
    name: &str,
) -> Result<&'a Arc<Engine>> {
    let not_found = || ApiError::not_found(format!("connector instance `{name}`"));
    let engine = engine.ok_or_else(not_found)?;
    let instance = engine.instance(name).map_err(|_| not_found())?;
    if instance.config.agency != caller.requester.agency {
        return Err(not_found().into());
    }
    Ok(engine)
}

/// A connector instance's state.
#[derive(SimpleObject)]
pub struct SyncInstance {
    pub name: String,
    /// `fhir`, `consultorio`.
    pub kind: String,
    pub agency_id: String,
    /// `15m`, or null when it is synced only by hand.
    pub schedule: Option<String>,
    /// Where the next sync starts (for FHIR, `_lastUpdated` per resource type).
    pub cursor: Option<String>,
    pub last_run: Option<SyncRun>,
    pub open_dead_letters: i64,
    /// The process syncing it now, if one is.
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// Set while the upstream's circuit is open: seconds until a trial fetch.
    pub circuit_open_for_seconds: Option<i64>,
    /// Failed fetches in a row (this process).
    pub consecutive_failures: i32,
}

impl From<InstanceStatus> for SyncInstance {
    fn from(s: InstanceStatus) -> Self {
        SyncInstance {
            name: s.name,
            kind: s.kind.to_string(),
            agency_id: s.agency,
            schedule: s.schedule,
            cursor: s.cursor,
            last_run: s.last_run.map(SyncRun::from),
            open_dead_letters: i64::try_from(s.open_dead_letters).unwrap_or(i64::MAX),
            lease_holder: s.lease.as_ref().map(|l| l.holder.clone()),
            lease_until: s.lease.map(|l| l.expires_at),
            circuit_open_for_seconds: s
                .circuit_open_for
                .map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
            consecutive_failures: i32::try_from(s.consecutive_failures).unwrap_or(i32::MAX),
        }
    }
}

/// One run of an instance. `fetched`, `skipped` and `rejected` count items;
/// `created`, `updated` and `unchanged` count the records they mapped to.
#[derive(SimpleObject)]
pub struct SyncRun {
    pub id: ID,
    /// SCHEDULE, MANUAL, IMPORT, UPLOAD or RETRY.
    pub trigger: String,
    /// RUNNING, SUCCEEDED, FAILED or INTERRUPTED.
    pub status: String,
    /// The file imported, for imports.
    pub source: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub fetched: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub rejected: i64,
    pub error: Option<String>,
}

impl From<sync_run::Model> for SyncRun {
    fn from(r: sync_run::Model) -> Self {
        SyncRun {
            id: ID(r.id.to_string()),
            trigger: r.trigger,
            status: r.status,
            source: r.source,
            started_at: r.started_at,
            finished_at: r.finished_at,
            fetched: r.fetched,
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
            skipped: r.skipped,
            rejected: r.rejected,
            error: r.error,
        }
    }
}

/// An item the engine could not take (its payload stays in the hub).
#[derive(SimpleObject)]
pub struct SyncDeadLetter {
    pub id: ID,
    pub run_id: ID,
    /// `Patient`, `Encounter`, `consultorio-row`...
    pub resource_type: String,
    /// The upstream's id of the item.
    pub external_id: Option<String>,
    /// Row (CSV) or entry (Bundle) number.
    pub position: Option<i64>,
    pub reason: String,
    pub attempts: i32,
    pub first_seen_at: DateTime<Utc>,
    pub last_attempt_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

impl From<sync_dead_letter::Model> for SyncDeadLetter {
    fn from(d: sync_dead_letter::Model) -> Self {
        SyncDeadLetter {
            id: ID(d.id.to_string()),
            run_id: ID(d.run_id.to_string()),
            resource_type: d.resource_type,
            external_id: d.external_id,
            position: d.position,
            reason: d.reason,
            attempts: d.attempts,
            first_seen_at: d.created_at,
            last_attempt_at: d.last_attempt_at,
            resolved_at: d.resolved_at,
            resolution: d.resolution,
        }
    }
}

fn engine_error(e: connectors::EngineError) -> async_graphql::Error {
    ApiError::Internal(e.to_string()).into()
}

pub async fn sync_status(ctx: &Context<'_>) -> Result<Vec<SyncInstance>> {
    let (caller, engine) = integrator(ctx)?;
    let Some(engine) = engine else {
        return Ok(Vec::new());
    };
    Ok(engine
        .status()
        .await
        .map_err(engine_error)?
        .into_iter()
        .filter(|s| s.agency == caller.requester.agency)
        .map(SyncInstance::from)
        .collect())
}

pub async fn sync_runs(ctx: &Context<'_>, instance: String, first: i32) -> Result<Vec<SyncRun>> {
    let (caller, engine) = integrator(ctx)?;
    let engine = own_instance(caller, engine, &instance)?;
    let limit = u64::try_from(first.clamp(1, 200)).unwrap_or(20);
    Ok(engine
        .runs(&instance, limit)
        .await
        .map_err(engine_error)?
        .into_iter()
        .map(SyncRun::from)
        .collect())
}

pub async fn sync_dead_letters(
    ctx: &Context<'_>,
    instance: String,
    include_resolved: bool,
    first: i32,
) -> Result<Vec<SyncDeadLetter>> {
    let (caller, engine) = integrator(ctx)?;
    let engine = own_instance(caller, engine, &instance)?;
    let limit = u64::try_from(first.clamp(1, 500)).unwrap_or(100);
    Ok(engine
        .dead_letters(&instance, include_resolved, limit)
        .await
        .map_err(engine_error)?
        .into_iter()
        .map(SyncDeadLetter::from)
        .collect())
}
