//! The hash chain: the canonical encoding of an entry, the appender that
//! sequences entries (group commit, one writer at a time across processes),
//! and the walk that verifies the chain.
//!
//! Entry `n` holds `prev_hash` = hash of entry `n - 1` (64 zeros for the first
//! entry, or the hash of the last pruned entry after a retention cut) and
//! `hash` = SHA-256 of the canonical encoding: the JSON array
//! `["rete-access-log/1", seq, at, operator, agency_id, role, purpose,
//! operation, query_hash, records, disclosed_classes, withheld_classes,
//! policy_version, prev_hash]`, `at` in RFC 3339 with microseconds and `Z`,
//! serialised without whitespace. Every element is a string or an integer, so
//! the encoding is the same whichever program writes it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, SubsecRound, Utc};
use entities::{access_log_checkpoint, access_log_entry, access_log_touch};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::HubKeys;
use super::trail::{LoggedRecord, touches_of};

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const ENCODING: &str = "rete-access-log/1";
/// Rows per INSERT statement of a batch (see `write_batch`).
const ENTRIES_PER_INSERT: usize = 4;
const TOUCHES_PER_INSERT: usize = 64;
/// The advisory lock that serialises appenders of every process (PostgreSQL).
const APPEND_LOCK: i64 = 7_265_746_502;

/// An entry before the appender gives it a place in the chain.
#[derive(Clone, Debug)]
pub struct Draft {
    pub at: DateTime<Utc>,
    pub operator: String,
    pub agency_id: String,
    pub role: String,
    pub purpose: String,
    pub operation: String,
    pub query_hash: String,
    pub records: Vec<LoggedRecord>,
    pub policy_version: String,
}

impl Draft {
    /// `at` truncated to what every backend stores (microseconds).
    pub fn now() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    fn classes(&self, disclosed: bool) -> String {
        let mut set = BTreeSet::new();
        for r in &self.records {
            if disclosed {
                set.extend(r.disclosed.iter().map(|d| d.class.as_str()));
            } else {
                set.extend(r.withheld.iter().map(|w| w.class.as_str()));
            }
        }
        class_column(set)
    }
}

/// ` A B ` (a leading and trailing space, so `LIKE '% A %'` finds a class).
pub fn class_column<'a>(classes: impl IntoIterator<Item = &'a str>) -> String {
    let mut s = String::from(" ");
    for c in classes {
        s.push_str(c);
        s.push(' ');
    }
    s
}

pub fn format_at(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// SHA-256 (hex) of the entry's canonical encoding; `hash` itself is not part
/// of it.
pub fn entry_hash(e: &access_log_entry::Model) -> String {
    let canonical = serde_json::json!([
        ENCODING,
        e.seq,
        format_at(&e.at),
        e.operator,
        e.agency_id,
        e.role,
        e.purpose,
        e.operation,
        e.query_hash,
        e.records,
        e.disclosed_classes,
        e.withheld_classes,
        e.policy_version,
        e.prev_hash,
    ])
    .to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// SHA-256 (hex) of a query's text, as the entry keeps it.
pub fn query_hash(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

/// The log could not be written: the caller gets no data.
#[derive(Debug, thiserror::Error)]
#[error("the access log cannot be written: {0}")]
pub struct AppendError(pub String);

struct Job {
    draft: Draft,
    done: oneshot::Sender<Result<i64, String>>,
}

/// The process's appender. `append` returns once the entry is committed.
///
/// Group commit: one task takes every entry waiting when it is free and
/// writes them in one transaction (on PostgreSQL under an advisory lock that
/// every hub process takes, so the chain stays linear across processes);
/// each caller waits for its own entry to be durable.
///
/// The task runs on a thread and a runtime of its own, with a small pool of
/// its own: the request tasks of the main runtime run their DataLoader batches
/// without yielding (see `graphql::loaders::Batches`), and an appender sharing
/// their worker threads waited behind them at every round trip, which under
/// load made every batch, and so every response, wait tens of milliseconds.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
    pub keys: Arc<HubKeys>,
}

impl AuditLog {
    /// Start the appender on its own thread, connected to `database_url`.
    pub async fn start(
        database_url: &str,
        keys: Arc<HubKeys>,
        max_batch: usize,
    ) -> Result<AuditLog, String> {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel(max_batch * 8);
        let (ready, started) = oneshot::channel::<Result<(), String>>();
        let url = database_url.to_string();
        std::thread::Builder::new()
            .name("rete-access-log".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready.send(Err(format!("cannot start the appender: {e}")));
                        return;
                    }
                };
                rt.block_on(async move {
                    match crate::db::connect(&url, 2).await {
                        Ok(db) => {
                            let _ = ready.send(Ok(()));
                            run(db, rx, max_batch).await;
                        }
                        Err(e) => {
                            let _ = ready.send(Err(format!(
                                "the access log cannot reach the database: {}",
                                crate::db::describe_db_error(&e)
                            )));
                        }
                    }
                });
            })
            .map_err(|e| format!("cannot start the appender thread: {e}"))?;
        started
            .await
            .map_err(|_| "the appender thread stopped while starting".to_string())??;
        Ok(AuditLog { tx, keys })
    }

    pub async fn append(&self, draft: Draft) -> Result<i64, AppendError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job { draft, done })
            .await
            .map_err(|_| AppendError("the appender has stopped".into()))?;
        wait.await
            .map_err(|_| AppendError("the appender has stopped".into()))?
            .map_err(AppendError)
    }
}

/// Under concurrent load (the last batch held more than one entry), wait this
/// long for more entries before writing: fewer, larger commits. A lone
/// request never waits.
const LINGER: Duration = Duration::from_micros(500);

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut last_batch = 0;
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) if last_batch > 1 => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(j)) => jobs.push(j),
                        _ => break,
                    }
                }
                Err(_) => break,
            }
        }
        last_batch = jobs.len();
        let drafts: Vec<&Draft> = jobs.iter().map(|j| &j.draft).collect();
        let started = std::time::Instant::now();
        let written = (|| write_batch(&db, &drafts))
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(5))
                    .with_max_delay(Duration::from_millis(500))
                    .with_max_times(6)
                    .with_jitter(),
            )
            .notify(|e, d| tracing::warn!(error = %crate::db::describe_db_error(e), retry_in = ?d, "access log append failed; retrying"))
            .await;
        tracing::debug!(
            entries = jobs.len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "access log batch"
        );
        match written {
            Ok(seqs) => {
                for (job, seq) in jobs.into_iter().zip(seqs) {
                    let _ = job.done.send(Ok(seq));
                }
            }
            Err(e) => {
                let m = crate::db::describe_db_error(&e);
                tracing::error!(error = %m, entries = jobs.len(), "access log append failed");
                for job in jobs {
                    let _ = job.done.send(Err(m.clone()));
                }
            }
        }
    }
}

/// The chain's head inside a transaction: the last entry, else the last
/// checkpoint, else the genesis.
async fn head_in(c: &impl ConnectionTrait) -> Result<(i64, String), DbErr> {
    if let Some(e) = access_log_entry::Entity::find()
        .order_by_desc(access_log_entry::Column::Seq)
        .one(c)
        .await?
    {
        return Ok((e.seq, e.hash));
    }
    Ok(match latest_checkpoint(c).await? {
        Some(cp) => (cp.seq, cp.hash),
        None => (0, GENESIS.to_string()),
    })
}

pub async fn latest_checkpoint(
    c: &impl ConnectionTrait,
) -> Result<Option<access_log_checkpoint::Model>, DbErr> {
    access_log_checkpoint::Entity::find()
        .order_by_desc(access_log_checkpoint::Column::Seq)
        .one(c)
        .await
}

/// Take the appenders' lock (PostgreSQL; SQLite has one writer at a time).
pub async fn lock(c: &impl ConnectionTrait) -> Result<(), DbErr> {
    if c.get_database_backend() == DatabaseBackend::Postgres {
        c.execute_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            format!("SELECT pg_advisory_xact_lock({APPEND_LOCK})"),
        ))
        .await?;
    }
    Ok(())
}

async fn write_batch(db: &DatabaseConnection, drafts: &[&Draft]) -> Result<Vec<i64>, DbErr> {
    let txn = db.begin().await?;
    lock(&txn).await?;
    let (mut seq, mut prev) = head_in(&txn).await?;
    let mut entries = Vec::with_capacity(drafts.len());
    let mut touches = Vec::new();
    for d in drafts {
        seq += 1;
        let records = serde_json::to_string(&d.records)
            .map_err(|e| DbErr::Custom(format!("cannot encode an entry: {e}")))?;
        let mut m = access_log_entry::Model {
            seq,
            at: d.at,
            operator: d.operator.clone(),
            agency_id: d.agency_id.clone(),
            role: d.role.clone(),
            purpose: d.purpose.clone(),
            operation: d.operation.clone(),
            query_hash: d.query_hash.clone(),
            records,
            disclosed_classes: d.classes(true),
            withheld_classes: d.classes(false),
            policy_version: d.policy_version.clone(),
            prev_hash: prev,
            hash: String::new(),
        };
        m.hash = entry_hash(&m);
        prev = m.hash.clone();
        let t: BTreeSet<_> = d.records.iter().flat_map(touches_of).collect();
        touches.extend(t.into_iter().map(|(kind, id)| access_log_touch::Model {
            seq,
            kind: kind.to_string(),
            id,
        }));
        entries.push(m);
    }
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    // Small statements: one carrying a whole batch (tens of kilobytes) stalled
    // about 40 ms on the socket under load, where several small ones take a
    // fraction of a millisecond each (measured on PostgreSQL over loopback).
    for chunk in entries.chunks(ENTRIES_PER_INSERT) {
        access_log_entry::Entity::insert_many(chunk.iter().cloned().map(|m| m.into_active_model()))
            .exec(&txn)
            .await?;
    }
    for chunk in touches.chunks(TOUCHES_PER_INSERT) {
        access_log_touch::Entity::insert_many(chunk.iter().cloned().map(|m| m.into_active_model()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(seqs)
}

/// The current head: the last entry's seq and hash (or the last checkpoint's,
/// or the genesis), and how many entries the database holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
    /// Entries stored (`seq` minus the entries pruned).
    pub stored: i64,
}

pub async fn head(db: &DatabaseConnection) -> Result<Head, DbErr> {
    let (seq, hash) = head_in(db).await?;
    let pruned = latest_checkpoint(db).await?.map_or(0, |c| c.seq);
    Ok(Head {
        seq,
        hash,
        stored: seq - pruned,
    })
}

/// The first thing wrong with the chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub seq: i64,
    pub what: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct VerifyReport {
    /// Entries walked.
    pub entries: i64,
    pub head: Head,
    /// The checkpoint the walk started from (after a retention cut).
    pub from_checkpoint: Option<i64>,
    pub problem: Option<Problem>,
}

/// Walk entries in order, checking each link and hash. `anchor` is the
/// (seq, hash) the first entry follows.
pub struct Walker {
    expect_seq: i64,
    prev: String,
    pub walked: i64,
}

impl Walker {
    pub fn new(anchor_seq: i64, anchor_hash: &str) -> Walker {
        Walker {
            expect_seq: anchor_seq + 1,
            prev: anchor_hash.to_string(),
            walked: 0,
        }
    }

    /// Check the next entry; the problem names the entry and what is wrong.
    pub fn step(&mut self, e: &access_log_entry::Model) -> Result<(), Problem> {
        let fail = |what: String| Err(Problem { seq: e.seq, what });
        if e.seq != self.expect_seq {
            return fail(format!(
                "entry {} is missing (deleted): the next stored entry is {}",
                self.expect_seq, e.seq
            ));
        }
        if e.prev_hash != self.prev {
            return fail(format!(
                "entry {} does not follow entry {} (an entry was inserted, deleted or reordered here)",
                e.seq,
                e.seq - 1
            ));
        }
        if entry_hash(e) != e.hash {
            return fail(format!(
                "entry {} was edited (its hash does not match its contents)",
                e.seq
            ));
        }
        self.prev = e.hash.clone();
        self.expect_seq += 1;
        self.walked += 1;
        Ok(())
    }

    pub fn last(&self) -> (i64, &str) {
        (self.expect_seq - 1, &self.prev)
    }
}

/// Verify the whole chain stored in the database: each entry's link and hash,
/// the index rows against the hashed records, and the checkpoint's signature.
pub async fn verify(
    db: &DatabaseConnection,
    keys: &super::PublicKey,
) -> Result<VerifyReport, String> {
    let e = |e: DbErr| crate::db::describe_db_error(&e);
    let checkpoint = latest_checkpoint(db).await.map_err(e)?;
    let (mut walker, from_checkpoint) = match &checkpoint {
        Some(cp) => {
            let claims = super::signing::verify_checkpoint(&cp.signature, keys)?;
            if claims.seq != cp.seq || claims.hash != cp.hash || claims.pruned != cp.pruned {
                return Ok(VerifyReport {
                    entries: 0,
                    head: head(db).await.map_err(e)?,
                    from_checkpoint: Some(cp.seq),
                    problem: Some(Problem {
                        seq: cp.seq,
                        what: "the retention checkpoint does not match its signature".into(),
                    }),
                });
            }
            (Walker::new(cp.seq, &cp.hash), Some(cp.seq))
        }
        None => (Walker::new(0, GENESIS), None),
    };
    let mut after = from_checkpoint.unwrap_or(0);
    let mut problem = None;
    'pages: loop {
        let page = access_log_entry::Entity::find()
            .filter(access_log_entry::Column::Seq.gt(after))
            .order_by_asc(access_log_entry::Column::Seq)
            .limit(1000)
            .all(db)
            .await
            .map_err(e)?;
        let Some(last) = page.last().map(|m| m.seq) else {
            break;
        };
        let touches = access_log_touch::Entity::find()
            .filter(access_log_touch::Column::Seq.gt(after))
            .filter(access_log_touch::Column::Seq.lte(last))
            .all(db)
            .await
            .map_err(e)?;
        let mut stored: std::collections::BTreeMap<i64, BTreeSet<(String, Uuid)>> =
            Default::default();
        for t in touches {
            stored.entry(t.seq).or_default().insert((t.kind, t.id));
        }
        for m in &page {
            if let Err(p) = walker.step(m) {
                problem = Some(p);
                break 'pages;
            }
            let records: Vec<LoggedRecord> = match serde_json::from_str(&m.records) {
                Ok(r) => r,
                Err(_) => {
                    problem = Some(Problem {
                        seq: m.seq,
                        what: format!("entry {} holds records the hub cannot read", m.seq),
                    });
                    break 'pages;
                }
            };
            let expected: BTreeSet<(String, Uuid)> = records
                .iter()
                .flat_map(touches_of)
                .map(|(k, id)| (k.to_string(), id))
                .collect();
            if stored.remove(&m.seq).unwrap_or_default() != expected {
                problem = Some(Problem {
                    seq: m.seq,
                    what: format!(
                        "the index rows of entry {} (access_log_touch) were changed",
                        m.seq
                    ),
                });
                break 'pages;
            }
        }
        if let Some((&seq, _)) = stored.iter().next() {
            problem = Some(Problem {
                seq,
                what: format!(
                    "index rows (access_log_touch) name entry {seq}, which is not in the chain"
                ),
            });
            break;
        }
        after = last;
    }
    Ok(VerifyReport {
        entries: walker.walked,
        head: head(db).await.map_err(e)?,
        from_checkpoint,
        problem,
    })
}

/// Keep the result of a walk (`access_log_verification`), so the last one is
/// the same on every process and survives restarts.
pub async fn record_verification(
    db: &DatabaseConnection,
    verified_by: &str,
    agency_id: Option<&str>,
    report: &VerifyReport,
) -> Result<entities::access_log_verification::Model, DbErr> {
    let m = entities::access_log_verification::Model {
        id: Uuid::now_v7(),
        verified_at: Draft::now(),
        verified_by: verified_by.to_string(),
        agency_id: agency_id.map(str::to_string),
        intact: report.problem.is_none(),
        entries_checked: report.entries,
        head_seq: report.head.seq,
        head_hash: report.head.hash.clone(),
        head_stored: report.head.stored,
        from_checkpoint: report.from_checkpoint,
        broken_seq: report.problem.as_ref().map(|p| p.seq),
        problem: report.problem.as_ref().map(|p| p.what.clone()),
    };
    entities::access_log_verification::Entity::insert(m.clone().into_active_model())
        .exec(db)
        .await?;
    Ok(m)
}

/// The last walk of the chain, by anyone.
pub async fn last_verification(
    db: &DatabaseConnection,
) -> Result<Option<entities::access_log_verification::Model>, DbErr> {
    entities::access_log_verification::Entity::find()
        .order_by_desc(entities::access_log_verification::Column::VerifiedAt)
        .order_by_desc(entities::access_log_verification::Column::Id)
        .one(db)
        .await
}
