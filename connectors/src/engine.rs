//! The sync engine: everything a connector does not do.
//!
//! For a run of one instance it takes the instance's lease (one process at a
//! time, on one database), fetches pages through the connector with retries
//! (exponential backoff with jitter, honouring the upstream's `Retry-After`)
//! behind a per-upstream circuit breaker, maps every item, applies the records
//! idempotently ([`crate::apply`]) and parks every item it cannot take in the
//! dead-letter table with its raw payload and the reason. Each page is one
//! transaction that also renews the lease and the run's counts, so a process
//! killed mid-run leaves whole pages and nothing half-written; the cursor moves
//! only when a run completes, so the next run replays from the old cursor and
//! the replay changes nothing.
//!
//! File imports and uploads go through [`Engine::ingest`]: the same mapping,
//! the same bookkeeping, no fetch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use entities::{agency, sync_cursor, sync_dead_letter, sync_lease, sync_run};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::apply::{self, Change, ItemOutcome, Source};
use crate::breaker::{Breaker, Gate};
use crate::config::InstanceConfig;
use crate::connector::{Connector, FetchError, Mapped, Page, RawItem};

/// Items per transaction for imports and retries.
const INGEST_CHUNK: usize = 500;
/// Failed fetches in a row before an upstream's circuit opens.
const BREAKER_THRESHOLD: u32 = 10;

/// What started a run (the `sync_run.trigger` column).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
    Import,
    Upload,
    Retry,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "SCHEDULE",
            Trigger::Manual => "MANUAL",
            Trigger::Import => "IMPORT",
            Trigger::Upload => "UPLOAD",
            Trigger::Retry => "RETRY",
        }
    }
}

/// How a run ended (the `sync_run.status` column).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Succeeded => "SUCCEEDED",
            RunStatus::Failed => "FAILED",
            RunStatus::Interrupted => "INTERRUPTED",
        }
    }
}

/// Told how a run advances (a progress bar on a terminal, nothing elsewhere).
pub trait Progress: Send + Sync {
    /// The upstream said how many items the run has.
    fn total(&self, _items: u64) {}
    /// Items processed so far in this run.
    fn advance(&self, _items: u64) {}
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {}

/// One item the run could not take: where it was and why (never its values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub position: Option<u64>,
    pub resource_type: String,
    pub external_id: Option<String>,
    pub reason: String,
}

/// What a run did. `fetched`, `skipped` and `rejected` count items; `created`,
/// `updated` and `unchanged` count records (an item may map to several).
#[derive(Clone, Debug)]
pub struct RunReport {
    pub run_id: Uuid,
    pub instance: String,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub fetched: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub rejected: u64,
    pub rejections: Vec<Rejection>,
    pub cursor_before: Option<String>,
    pub cursor_after: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no connector instance named `{name}` (configured: {configured})")]
    UnknownInstance { name: String, configured: String },
    #[error("instance `{instance}` is being synced by {holder} (its lease runs until {until})")]
    Busy {
        instance: String,
        holder: String,
        until: DateTime<Utc>,
    },
    #[error(
        "upstream {upstream} failed {failures} times in a row: its circuit is open for {seconds}s more"
    )]
    CircuitOpen {
        upstream: String,
        failures: u32,
        seconds: u64,
    },
    #[error("fetch from {upstream} failed after {attempts} attempt(s): {reason}")]
    Fetch {
        upstream: String,
        attempts: u32,
        reason: String,
    },
    #[error("instance `{0}` lost its lease to another process; the run stopped")]
    LeaseLost(String),
    #[error("instance `{instance}`: agency `{agency}` is not in the network")]
    UnknownAgency { instance: String, agency: String },
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// A configured instance with its connector.
pub struct Instance {
    pub name: String,
    pub config: InstanceConfig,
    pub connector: Arc<dyn Connector>,
}

/// An instance's state for `rete sync status` and the integrators' GraphQL.
#[derive(Clone, Debug)]
pub struct InstanceStatus {
    pub name: String,
    pub kind: &'static str,
    pub agency: String,
    pub schedule: Option<String>,
    pub cursor: Option<String>,
    pub last_run: Option<sync_run::Model>,
    pub open_dead_letters: u64,
    pub lease: Option<sync_lease::Model>,
    /// Open circuit: seconds until the next trial fetch.
    pub circuit_open_for: Option<u64>,
    pub consecutive_failures: u32,
}

pub struct Engine {
    db: DatabaseConnection,
    instances: BTreeMap<String, Instance>,
    /// This process's identity in leases and runs.
    holder: String,
    breakers: Mutex<HashMap<String, Breaker>>,
    /// First retry delay (doubles, with jitter, up to `retry_max`).
    retry_min: Duration,
    retry_max: Duration,
}

struct Run<'a> {
    instance: &'a Instance,
    report: RunReport,
    source: Source,
}

impl Engine {
    pub fn new(db: DatabaseConnection, instances: Vec<Instance>) -> Engine {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        Engine {
            db,
            instances: instances.into_iter().map(|i| (i.name.clone(), i)).collect(),
            holder: format!("{host}:{}:{}", std::process::id(), Uuid::new_v4().simple()),
            breakers: Mutex::new(HashMap::new()),
            retry_min: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
        }
    }

    /// Shorter retry delays (tests of faulty upstreams).
    pub fn with_retry_delays(mut self, min: Duration, max: Duration) -> Engine {
        self.retry_min = min;
        self.retry_max = max;
        self
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn instance_names(&self) -> impl Iterator<Item = &str> {
        self.instances.keys().map(String::as_str)
    }

    pub fn instance(&self, name: &str) -> Result<&Instance, EngineError> {
        self.instances
            .get(name)
            .ok_or_else(|| EngineError::UnknownInstance {
                name: name.to_string(),
                configured: if self.instances.is_empty() {
                    "none".to_string()
                } else {
                    self.instances
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })
    }

    /// Syncs an instance from its upstream, from its stored cursor.
    pub async fn run(
        &self,
        name: &str,
        trigger: Trigger,
        progress: &dyn Progress,
    ) -> Result<RunReport, EngineError> {
        let instance = self.instance(name)?;
        if let Gate::Open(left) = self.gate(instance) {
            return Err(EngineError::CircuitOpen {
                upstream: instance.connector.upstream(),
                failures: self.failures(instance),
                seconds: std::cmp::max(left.as_secs(), 1),
            });
        }
        let cursor = sync_cursor::Entity::find_by_id(name.to_string())
            .one(&self.db)
            .await?
            .map(|c| c.cursor);
        let mut run = self.start(instance, trigger, None, cursor.clone()).await?;
        let heartbeat = self.heartbeat(instance);
        let result = self.pull(&mut run, cursor.as_deref(), progress).await;
        heartbeat.abort();
        self.finish(run, result).await
    }

    async fn pull(
        &self,
        run: &mut Run<'_>,
        cursor: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        let mut next: Option<String> = None;
        let mut told_total = false;
        loop {
            let page = self.fetch(run.instance, cursor, next.as_deref()).await?;
            if let (false, Some(total)) = (told_total, page.total) {
                progress.total(total);
                told_total = true;
            }
            let Page {
                items,
                next: following,
                high_water,
                ..
            } = page;
            if high_water.is_some() {
                run.report.cursor_after = high_water;
            }
            self.process(run, items).await?;
            progress.advance(run.report.fetched);
            match following {
                Some(n) => next = Some(n),
                None => return Ok(()),
            }
        }
    }

    /// Takes a batch of items that did not come from `fetch` (a file, an
    /// upload) through the same mapping and bookkeeping. The cursor stays.
    pub async fn ingest(
        &self,
        name: &str,
        trigger: Trigger,
        source: &str,
        items: Vec<RawItem>,
        progress: &dyn Progress,
    ) -> Result<RunReport, EngineError> {
        let instance = self.instance(name)?;
        let mut run = self
            .start(instance, trigger, Some(source.to_string()), None)
            .await?;
        progress.total(items.len() as u64);
        let heartbeat = self.heartbeat(instance);
        let result = async {
            let mut items = items;
            while !items.is_empty() {
                let rest = items.split_off(items.len().min(INGEST_CHUNK));
                self.process(&mut run, items).await?;
                progress.advance(run.report.fetched);
                items = rest;
            }
            Ok(())
        }
        .await;
        heartbeat.abort();
        self.finish(run, result).await
    }

    /// Takes the instance's open dead letters (or those with these ids) through
    /// the mapping again; those that go in are marked resolved.
    pub async fn retry_dead_letters(
        &self,
        name: &str,
        ids: &[Uuid],
        progress: &dyn Progress,
    ) -> Result<RunReport, EngineError> {
        self.instance(name)?;
        let mut query = sync_dead_letter::Entity::find()
            .filter(sync_dead_letter::Column::Instance.eq(name))
            .filter(sync_dead_letter::Column::ResolvedAt.is_null())
            .order_by_asc(sync_dead_letter::Column::CreatedAt);
        if !ids.is_empty() {
            query = query.filter(sync_dead_letter::Column::Id.is_in(ids.iter().copied()));
        }
        let items = query
            .all(&self.db)
            .await?
            .into_iter()
            .map(|d| RawItem {
                resource_type: d.resource_type,
                external_id: d.external_id,
                position: d.position.and_then(|p| u64::try_from(p).ok()),
                payload: d.payload,
            })
            .collect();
        self.ingest(name, Trigger::Retry, "dead letters", items, progress)
            .await
    }

    fn gate(&self, instance: &Instance) -> Gate {
        let breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        breakers
            .get(&instance.connector.upstream())
            .map_or(Gate::Closed, |b| b.gate(Instant::now()))
    }

    fn failures(&self, instance: &Instance) -> u32 {
        let breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        breakers
            .get(&instance.connector.upstream())
            .map_or(0, Breaker::failures)
    }

    fn breaker<T>(&self, instance: &Instance, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let b = breakers
            .entry(instance.connector.upstream())
            .or_insert_with(|| {
                Breaker::new(
                    BREAKER_THRESHOLD,
                    Duration::from_secs(30),
                    Duration::from_secs(600),
                )
            });
        f(b)
    }

    /// One page, with retries: transient failures wait (backoff with jitter, or
    /// the upstream's `Retry-After` when longer, capped at five minutes) and try
    /// again up to the instance's `max_attempts`.
    async fn fetch(
        &self,
        instance: &Instance,
        cursor: Option<&str>,
        next: Option<&str>,
    ) -> Result<Page, EngineError> {
        let upstream = instance.connector.upstream();
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.retry_min)
            .with_max_delay(self.retry_max)
            .with_jitter()
            .with_max_times(instance.config.max_attempts.saturating_sub(1) as usize)
            .build();
        let mut attempts = 0;
        loop {
            if let Gate::Open(left) = self.gate(instance) {
                return Err(EngineError::CircuitOpen {
                    upstream,
                    failures: self.failures(instance),
                    seconds: std::cmp::max(left.as_secs(), 1),
                });
            }
            attempts += 1;
            match instance.connector.fetch(cursor, next).await {
                Ok(page) => {
                    self.breaker(instance, Breaker::success);
                    return Ok(page);
                }
                Err(FetchError::Permanent(reason)) => {
                    return Err(EngineError::Fetch {
                        upstream,
                        attempts,
                        reason,
                    });
                }
                Err(FetchError::Transient {
                    reason,
                    retry_after,
                }) => {
                    self.breaker(instance, |b| b.failure(Instant::now()));
                    let Some(delay) = delays.next() else {
                        return Err(EngineError::Fetch {
                            upstream,
                            attempts,
                            reason,
                        });
                    };
                    let wait =
                        retry_after.map_or(delay, |r| r.min(Duration::from_secs(300)).max(delay));
                    tracing::warn!(
                        instance = %instance.name, attempts, wait_ms = wait.as_millis() as u64,
                        "fetch failed, retrying: {reason}"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Takes the lease, closes runs a killed process left open, and records the
    /// new run.
    async fn start<'a>(
        &self,
        instance: &'a Instance,
        trigger: Trigger,
        source_label: Option<String>,
        cursor: Option<String>,
    ) -> Result<Run<'a>, EngineError> {
        let now = Utc::now();
        let name = instance.name.clone();
        let expires = now + lease_length(instance);
        let taken = sync_lease::Entity::insert(sync_lease::ActiveModel {
            instance: Set(name.clone()),
            holder: Set(self.holder.clone()),
            acquired_at: Set(now),
            expires_at: Set(expires),
        })
        .on_conflict(
            OnConflict::column(sync_lease::Column::Instance)
                .update_columns([
                    sync_lease::Column::Holder,
                    sync_lease::Column::AcquiredAt,
                    sync_lease::Column::ExpiresAt,
                ])
                .action_and_where(
                    Expr::col((sync_lease::Entity, sync_lease::Column::ExpiresAt)).lt(now),
                )
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        if taken == 0 {
            let lease = sync_lease::Entity::find_by_id(name.clone())
                .one(&self.db)
                .await?;
            return Err(EngineError::Busy {
                instance: name,
                holder: lease
                    .as_ref()
                    .map_or_else(String::new, |l| l.holder.clone()),
                until: lease.map_or(now, |l| l.expires_at),
            });
        }
        let source = match self.source(instance).await {
            Ok(s) => s,
            Err(e) => {
                self.release(instance).await;
                return Err(e);
            }
        };
        sync_run::Entity::update_many()
            .col_expr(
                sync_run::Column::Status,
                Expr::value(RunStatus::Interrupted.as_str()),
            )
            .col_expr(sync_run::Column::FinishedAt, Expr::value(now))
            .col_expr(
                sync_run::Column::Error,
                Expr::value("the process running it stopped before the end (its lease expired)"),
            )
            .filter(sync_run::Column::Instance.eq(&name))
            .filter(sync_run::Column::Status.eq(RunStatus::Running.as_str()))
            .exec(&self.db)
            .await?;
        let run_id = Uuid::now_v7();
        sync_run::Entity::insert(sync_run::ActiveModel {
            id: Set(run_id),
            instance: Set(name.clone()),
            kind: Set(instance.connector.kind().to_string()),
            trigger: Set(trigger.as_str().to_string()),
            source: Set(source_label),
            holder: Set(self.holder.clone()),
            status: Set(RunStatus::Running.as_str().to_string()),
            started_at: Set(now),
            finished_at: Set(None),
            fetched: Set(0),
            created: Set(0),
            updated: Set(0),
            unchanged: Set(0),
            skipped: Set(0),
            rejected: Set(0),
            cursor_before: Set(cursor.clone()),
            cursor_after: Set(None),
            error: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(Run {
            instance,
            source,
            report: RunReport {
                run_id,
                instance: name,
                trigger,
                status: RunStatus::Running,
                fetched: 0,
                created: 0,
                updated: 0,
                unchanged: 0,
                skipped: 0,
                rejected: 0,
                rejections: Vec::new(),
                cursor_before: cursor,
                cursor_after: None,
                error: None,
            },
        })
    }

    async fn source(&self, instance: &Instance) -> Result<Source, EngineError> {
        let agencies = agency::Entity::find().all(&self.db).await?;
        let kind = agencies
            .iter()
            .find(|a| a.id == instance.config.agency)
            .map(|a| a.kind.clone())
            .ok_or_else(|| EngineError::UnknownAgency {
                instance: instance.name.clone(),
                agency: instance.config.agency.clone(),
            })?;
        if let Some(to) = &instance.config.refer_to
            && !agencies.iter().any(|a| &a.id == to)
        {
            return Err(EngineError::UnknownAgency {
                instance: instance.name.clone(),
                agency: to.clone(),
            });
        }
        Ok(Source {
            instance: instance.name.clone(),
            agency_id: instance.config.agency.clone(),
            agency_kind: kind,
            refer_to: instance.config.refer_to.clone(),
            agencies: agencies.into_iter().map(|a| a.id).collect(),
        })
    }

    /// Renews the lease while a run waits on its upstream (pages renew it too).
    fn heartbeat(&self, instance: &Instance) -> tokio::task::AbortHandle {
        let db = self.db.clone();
        let name = instance.name.clone();
        let holder = self.holder.clone();
        let length = lease_length(instance);
        let every = (length / 3).to_std().unwrap_or(Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = renew(&db, &name, &holder, length).await {
                    tracing::warn!(instance = %name, "cannot renew the sync lease: {e}");
                }
            }
        })
        .abort_handle()
    }

    /// Maps a page's items and writes what they give, with the dead letters,
    /// the run's counts and the lease, in one transaction.
    async fn process(&self, run: &mut Run<'_>, items: Vec<RawItem>) -> Result<(), EngineError> {
        let connector = &run.instance.connector;
        let mut records = Vec::new();
        let mut mapped_items = Vec::new();
        // (index in the page, item, reason): reported in the page's order.
        let mut dead: Vec<(usize, RawItem, String)> = Vec::new();
        let mut skipped = 0u64;
        let fetched = items.len() as u64;
        for (index, item) in items.into_iter().enumerate() {
            // A mapping must never panic; if one does, the item is parked, not the run.
            let mapped = std::panic::catch_unwind(AssertUnwindSafe(|| connector.map(&item)))
                .unwrap_or_else(|_| Mapped::Rejected("the mapping failed on this item".into()));
            match mapped {
                Mapped::Records(r) if r.is_empty() => skipped += 1,
                Mapped::Records(r) => {
                    records.push(r);
                    mapped_items.push((index, item));
                }
                Mapped::Skipped(_) => skipped += 1,
                Mapped::Rejected(reason) => dead.push((index, item, reason)),
            }
        }
        let txn = self.db.begin().await?;
        if renew(
            &txn,
            &run.instance.name,
            &self.holder,
            lease_length(run.instance),
        )
        .await?
            == 0
        {
            return Err(EngineError::LeaseLost(run.instance.name.clone()));
        }
        let outcomes = apply::apply(&txn, &run.source, &records).await?;
        let (mut created, mut updated, mut unchanged) = (0u64, 0u64, 0u64);
        let mut accepted = Vec::new();
        for ((index, item), outcome) in mapped_items.into_iter().zip(outcomes) {
            match outcome {
                ItemOutcome::Applied(changes) => {
                    for c in changes {
                        match c {
                            Change::Created => created += 1,
                            Change::Updated => updated += 1,
                            Change::Unchanged => unchanged += 1,
                        }
                    }
                    accepted.push(item);
                }
                ItemOutcome::Rejected(reason) => dead.push((index, item, reason)),
            }
        }
        dead.sort_by_key(|(index, _, _)| *index);
        let dead: Vec<(RawItem, String)> = dead.into_iter().map(|(_, i, r)| (i, r)).collect();
        let now = Utc::now();
        resolve_dead_letters(&txn, &run.instance.name, run.report.run_id, &accepted, now).await?;
        park(&txn, &run.instance.name, run.report.run_id, &dead, now).await?;
        let r = &mut run.report;
        r.fetched += fetched;
        r.created += created;
        r.updated += updated;
        r.unchanged += unchanged;
        r.skipped += skipped;
        r.rejected += dead.len() as u64;
        r.rejections
            .extend(dead.into_iter().map(|(item, reason)| Rejection {
                position: item.position,
                resource_type: item.resource_type,
                external_id: item.external_id,
                reason,
            }));
        write_counts(&txn, r).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Records how the run ended, stores the cursor of a completed run, and
    /// gives the lease back.
    async fn finish(
        &self,
        mut run: Run<'_>,
        result: Result<(), EngineError>,
    ) -> Result<RunReport, EngineError> {
        let now = Utc::now();
        match &result {
            Ok(()) => run.report.status = RunStatus::Succeeded,
            Err(e) => {
                run.report.status = RunStatus::Failed;
                run.report.error = Some(e.to_string());
            }
        }
        if let Err(EngineError::LeaseLost(_)) = &result {
            // Another process owns the instance now: leave its lease and runs alone.
            let _ = sync_run::Entity::update(sync_run::ActiveModel {
                id: Set(run.report.run_id),
                status: Set(RunStatus::Failed.as_str().to_string()),
                finished_at: Set(Some(now)),
                error: Set(run.report.error.clone()),
                ..Default::default()
            })
            .exec(&self.db)
            .await;
            return Ok(run.report);
        }
        let txn = self.db.begin().await?;
        if result.is_ok()
            && let Some(cursor) = &run.report.cursor_after
        {
            sync_cursor::Entity::insert(sync_cursor::ActiveModel {
                instance: Set(run.instance.name.clone()),
                cursor: Set(cursor.clone()),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(sync_cursor::Column::Instance)
                    .update_columns([sync_cursor::Column::Cursor, sync_cursor::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        } else {
            run.report.cursor_after = None;
        }
        write_counts(&txn, &run.report).await?;
        sync_run::Entity::update(sync_run::ActiveModel {
            id: Set(run.report.run_id),
            status: Set(run.report.status.as_str().to_string()),
            finished_at: Set(Some(now)),
            cursor_after: Set(run.report.cursor_after.clone()),
            error: Set(run.report.error.clone()),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        self.release(run.instance).await;
        Ok(run.report)
    }

    async fn release(&self, instance: &Instance) {
        let released = sync_lease::Entity::delete_many()
            .filter(sync_lease::Column::Instance.eq(&instance.name))
            .filter(sync_lease::Column::Holder.eq(&self.holder))
            .exec(&self.db)
            .await;
        if let Err(e) = released {
            tracing::warn!(instance = %instance.name, "cannot release the sync lease (it expires by itself): {e}");
        }
    }

    /// Every instance's state.
    pub async fn status(&self) -> Result<Vec<InstanceStatus>, EngineError> {
        let mut out = Vec::new();
        for (name, instance) in &self.instances {
            let cursor = sync_cursor::Entity::find_by_id(name.clone())
                .one(&self.db)
                .await?
                .map(|c| c.cursor);
            let last_run = sync_run::Entity::find()
                .filter(sync_run::Column::Instance.eq(name))
                .order_by_desc(sync_run::Column::StartedAt)
                .one(&self.db)
                .await?;
            let open_dead_letters = sync_dead_letter::Entity::find()
                .filter(sync_dead_letter::Column::Instance.eq(name))
                .filter(sync_dead_letter::Column::ResolvedAt.is_null())
                .select_only()
                .column_as(Expr::col(sync_dead_letter::Column::Id).count(), "n")
                .into_tuple::<i64>()
                .one(&self.db)
                .await?
                .unwrap_or(0);
            let lease = sync_lease::Entity::find_by_id(name.clone())
                .one(&self.db)
                .await?
                .filter(|l| l.expires_at > Utc::now());
            let circuit_open_for = match self.gate(instance) {
                Gate::Open(d) => Some(std::cmp::max(d.as_secs(), 1)),
                Gate::Closed => None,
            };
            out.push(InstanceStatus {
                name: name.clone(),
                kind: instance.connector.kind(),
                agency: instance.config.agency.clone(),
                schedule: instance.config.schedule.clone(),
                cursor,
                last_run,
                open_dead_letters: u64::try_from(open_dead_letters).unwrap_or(0),
                lease,
                circuit_open_for,
                consecutive_failures: self.failures(instance),
            });
        }
        Ok(out)
    }

    /// An instance's runs, newest first.
    pub async fn runs(&self, name: &str, limit: u64) -> Result<Vec<sync_run::Model>, EngineError> {
        self.instance(name)?;
        Ok(sync_run::Entity::find()
            .filter(sync_run::Column::Instance.eq(name))
            .order_by_desc(sync_run::Column::StartedAt)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// An instance's dead letters, oldest first; open ones only unless `all`.
    pub async fn dead_letters(
        &self,
        name: &str,
        all: bool,
        limit: u64,
    ) -> Result<Vec<sync_dead_letter::Model>, EngineError> {
        self.instance(name)?;
        let mut q = sync_dead_letter::Entity::find()
            .filter(sync_dead_letter::Column::Instance.eq(name))
            .order_by_asc(sync_dead_letter::Column::CreatedAt)
            .limit(limit);
        if !all {
            q = q.filter(sync_dead_letter::Column::ResolvedAt.is_null());
        }
        Ok(q.all(&self.db).await?)
    }

    /// Runs every scheduled instance at its interval (with ±10% jitter, so
    /// processes started together do not knock together) until the tasks are
    /// aborted. A run that finds its instance busy in another process is
    /// simply skipped: that process is doing the work.
    pub fn spawn_scheduler(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (name, instance) in &self.instances {
            let Some(every) = instance.config.interval() else {
                continue;
            };
            let engine = Arc::clone(self);
            let name = name.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let jitter = every.mul_f64(rand_fraction() * 0.2 - 0.1);
                    tokio::time::sleep(every.saturating_add(jitter)).await;
                    match engine.run(&name, Trigger::Schedule, &NoProgress).await {
                        Ok(r) => tracing::info!(
                            instance = %name, status = r.status.as_str(), fetched = r.fetched,
                            created = r.created, updated = r.updated, rejected = r.rejected,
                            "scheduled sync"
                        ),
                        Err(EngineError::Busy { holder, .. }) => {
                            tracing::debug!(instance = %name, %holder, "scheduled sync skipped: another process holds the instance");
                        }
                        Err(e) => tracing::warn!(instance = %name, "scheduled sync failed: {e}"),
                    }
                }
            }));
        }
        tasks
    }
}

/// A fraction in [0, 1) from the clock's nanoseconds: enough to spread
/// schedules, no cryptographic use.
fn rand_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

fn lease_length(instance: &Instance) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(instance.config.lease_seconds).unwrap_or(30))
}

/// Extends the lease if this holder still has it; 0 rows means it is lost.
async fn renew<C: ConnectionTrait>(
    db: &C,
    instance: &str,
    holder: &str,
    length: chrono::Duration,
) -> Result<u64, DbErr> {
    Ok(sync_lease::Entity::update_many()
        .col_expr(
            sync_lease::Column::ExpiresAt,
            Expr::value(Utc::now() + length),
        )
        .filter(sync_lease::Column::Instance.eq(instance))
        .filter(sync_lease::Column::Holder.eq(holder))
        .exec(db)
        .await?
        .rows_affected)
}

fn payload_hash(item: &RawItem) -> String {
    let mut h = Sha256::new();
    h.update(item.resource_type.as_bytes());
    h.update([0]);
    h.update(item.payload.as_bytes());
    hex::encode(h.finalize())
}

/// Parks rejected items: one row per distinct payload; the same payload again
/// counts another attempt and reopens a resolved row.
async fn park<C: ConnectionTrait>(
    db: &C,
    instance: &str,
    run_id: Uuid,
    dead: &[(RawItem, String)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut seen = HashSet::new();
    for (item, reason) in dead {
        let hash = payload_hash(item);
        if !seen.insert(hash.clone()) {
            continue;
        }
        sync_dead_letter::Entity::insert(sync_dead_letter::ActiveModel {
            id: Set(Uuid::now_v7()),
            instance: Set(instance.to_string()),
            run_id: Set(run_id),
            resource_type: Set(item.resource_type.clone()),
            external_id: Set(item.external_id.clone()),
            position: Set(item.position.and_then(|p| i64::try_from(p).ok())),
            payload: Set(item.payload.clone()),
            payload_hash: Set(hash),
            reason: Set(reason.clone()),
            attempts: Set(1),
            created_at: Set(now),
            last_attempt_at: Set(now),
            resolved_at: Set(None),
            resolution: Set(None),
        })
        .on_conflict(
            OnConflict::columns([
                sync_dead_letter::Column::Instance,
                sync_dead_letter::Column::PayloadHash,
            ])
            .value(
                sync_dead_letter::Column::Attempts,
                Expr::col((sync_dead_letter::Entity, sync_dead_letter::Column::Attempts)).add(1),
            )
            .update_columns([
                sync_dead_letter::Column::RunId,
                sync_dead_letter::Column::Position,
                sync_dead_letter::Column::Reason,
                sync_dead_letter::Column::LastAttemptAt,
                sync_dead_letter::Column::ResolvedAt,
                sync_dead_letter::Column::Resolution,
            ])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Open dead letters of items that have now gone in (the same payload, or a
/// later version of the same upstream record) are resolved.
async fn resolve_dead_letters<C: ConnectionTrait>(
    db: &C,
    instance: &str,
    run_id: Uuid,
    accepted: &[RawItem],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if accepted.is_empty() {
        return Ok(());
    }
    // Most pages of most runs have nothing to resolve: one probe instead of
    // statements naming every accepted item (this page's own dead letters,
    // written earlier in the same transaction, are seen by it).
    let open = sync_dead_letter::Entity::find()
        .select_only()
        .column(sync_dead_letter::Column::Id)
        .filter(sync_dead_letter::Column::Instance.eq(instance))
        .filter(sync_dead_letter::Column::ResolvedAt.is_null())
        .limit(1)
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    if open.is_none() {
        return Ok(());
    }
    let hashes: Vec<String> = accepted.iter().map(payload_hash).collect();
    let resolution = format!("accepted by run {run_id}");
    for chunk in crate::apply::runs(&hashes, |h| h.len() + crate::apply::BIND_OVERHEAD) {
        sync_dead_letter::Entity::update_many()
            .col_expr(sync_dead_letter::Column::ResolvedAt, Expr::value(now))
            .col_expr(
                sync_dead_letter::Column::Resolution,
                Expr::value(resolution.clone()),
            )
            .filter(sync_dead_letter::Column::Instance.eq(instance))
            .filter(sync_dead_letter::Column::ResolvedAt.is_null())
            .filter(sync_dead_letter::Column::PayloadHash.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for item in accepted {
        if let Some(id) = &item.external_id {
            by_type.entry(&item.resource_type).or_default().push(id);
        }
    }
    let superseded = format!("superseded by a later version accepted by run {run_id}");
    for (resource_type, ids) in by_type {
        for chunk in crate::apply::runs(&ids, crate::apply::str_size) {
            sync_dead_letter::Entity::update_many()
                .col_expr(sync_dead_letter::Column::ResolvedAt, Expr::value(now))
                .col_expr(
                    sync_dead_letter::Column::Resolution,
                    Expr::value(superseded.clone()),
                )
                .filter(sync_dead_letter::Column::Instance.eq(instance))
                .filter(sync_dead_letter::Column::ResolvedAt.is_null())
                .filter(sync_dead_letter::Column::ResourceType.eq(resource_type))
                .filter(sync_dead_letter::Column::ExternalId.is_in(chunk.iter().copied()))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

async fn write_counts<C: ConnectionTrait>(db: &C, r: &RunReport) -> Result<(), DbErr> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sync_run::Entity::update(sync_run::ActiveModel {
        id: Set(r.run_id),
        fetched: Set(n(r.fetched)),
        created: Set(n(r.created)),
        updated: Set(n(r.updated)),
        unchanged: Set(n(r.unchanged)),
        skipped: Set(n(r.skipped)),
        rejected: Set(n(r.rejected)),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}
