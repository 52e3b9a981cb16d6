//! The hash chain: the canonical encoding of an entry, the appender that
//! sequences entries (group commit; one linear chain across processes), and
//! the walk that verifies the chain.
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

use tokio::time::Instant;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, SubsecRound, Utc};
use entities::{access_log_checkpoint, access_log_entry, access_log_touch};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use sha2::{Digest as _, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use super::HubKeys;
use super::trail::{LoggedRecord, touches_of};

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const ENCODING: &str = "rete-access-log/1";
/// Rows per INSERT statement of a batch on SQLite (see `write_batch_locked`).
const ENTRIES_PER_INSERT: usize = 4;
const TOUCHES_PER_INSERT: usize = 64;
/// The advisory lock that serialises retention pruning across processes
/// (PostgreSQL); the appender does without it (see [`APPEND_SQL`]).
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
    canonical_hash(e.seq, &e.at, hashed_columns(e), &e.prev_hash)
}

/// The text columns the encoding holds between `at` and `prev_hash`, in its
/// order; also the order of the appender's INSERT (see [`APPEND_SQL`]).
fn hashed_columns(e: &access_log_entry::Model) -> [&str; 10] {
    [
        &e.operator,
        &e.agency_id,
        &e.role,
        &e.purpose,
        &e.operation,
        &e.query_hash,
        &e.records,
        &e.disclosed_classes,
        &e.withheld_classes,
        &e.policy_version,
    ]
}

/// The hash of the canonical encoding, streamed into the hasher: serde writes
/// a tuple as a JSON array, compact, with the same escaping as any other JSON
/// string, so this is `json!([ENCODING, seq, at, ...]).to_string()` without
/// building (and copying) the array first.
fn canonical_hash(seq: i64, at: &DateTime<Utc>, fields: [&str; 10], prev_hash: &str) -> String {
    let [
        operator,
        agency_id,
        role,
        purpose,
        operation,
        query_hash,
        records,
        disclosed,
        withheld,
        policy,
    ] = fields;
    let canonical = (
        ENCODING,
        seq,
        format_at(at),
        operator,
        agency_id,
        role,
        purpose,
        operation,
        query_hash,
        records,
        disclosed,
        withheld,
        policy,
        prev_hash,
    );
    let mut hasher = Sha256::new();
    // Strings and integers into a hasher: neither the serialisation nor the
    // writer can fail.
    let _ = serde_json::to_writer(&mut hasher, &canonical);
    hex::encode(hasher.finalize())
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
    entry: Encoded,
    done: oneshot::Sender<Result<i64, String>>,
    /// When the caller handed the entry over.
    sent: Instant,
}

/// The process's appender. `append` returns once the entry is committed.
///
/// Group commit: one task takes every entry waiting when it is free and
/// writes them in one commit; each caller waits for its own entry to be
/// durable. Under load a batch lingers for more entries (see [`Pace`]). On
/// PostgreSQL a batch is one statement that appends only if the head it
/// follows still is the head (see [`APPEND_SQL`]): the task keeps the
/// head it wrote last, and reads it again only when another process moved it,
/// so the chain stays linear across processes without a lock or a read per
/// batch. On SQLite (one writer at a time) a batch is a transaction that
/// reads the head first.
///
/// The task runs on a thread and a runtime of its own, with a small pool of
/// its own: the request tasks of the main runtime run their DataLoader batches
/// without yielding (see `graphql::loaders::Batches`), and an appender sharing
/// their worker threads waited behind them at every round trip, which under
/// load made every batch, and so every response, wait tens of milliseconds.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
    in_flight: Arc<InFlight>,
    pub keys: Arc<HubKeys>,
}

/// Operations under way that may hand an entry over. A batch lingers only
/// while there are some: once every one of them waits for its commit, no
/// entry can come (a closed loop of clients, all waiting), and lingering
/// would leave the machine idle.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    /// Woken when `count` falls to zero.
    none: Notify,
}

/// One operation counted in [`InFlight`] until it hands its entry over, or
/// ends without one (dropped).
pub struct Expecting(Arc<InFlight>);

impl Drop for Expecting {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none.notify_waiters();
        }
    }
}

impl AuditLog {
    /// Start the appender on its own thread, connected to `database_url`.
    pub async fn start(
        database_url: &str,
        keys: Arc<HubKeys>,
        max_batch: usize,
        linger: Duration,
    ) -> Result<AuditLog, String> {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel(max_batch * 8);
        let (ready, started) = oneshot::channel::<Result<(), String>>();
        let url = database_url.to_string();
        let in_flight = Arc::new(InFlight::default());
        let counted = in_flight.clone();
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
                    match crate::db::connect_as(&url, 2, "rete-access-log").await {
                        Ok(db) => {
                            let _ = ready.send(Ok(()));
                            run(db, rx, max_batch, linger, &counted).await;
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
        Ok(AuditLog {
            tx,
            in_flight,
            keys,
        })
    }

    /// Count an operation that may log an entry, until the guard is handed
    /// to [`Self::append`] or dropped.
    pub fn expect_entry(&self) -> Expecting {
        self.in_flight.count.fetch_add(1, Ordering::AcqRel);
        Expecting(self.in_flight.clone())
    }

    /// Append `draft`; returns its seq, and the records it logged, once it is
    /// committed. `expecting`, the operation's guard if it was counted, is
    /// released once the entry is handed over.
    ///
    /// The entry is encoded here, on the caller's task, so that the appender
    /// (one thread for the whole process) only chains and writes, and the
    /// records' many small allocations stay with the caller.
    pub async fn append(
        &self,
        draft: Draft,
        expecting: Option<Expecting>,
    ) -> Result<(i64, Vec<LoggedRecord>), AppendError> {
        let (entry, records) = match Encoded::new(draft) {
            Ok(e) => e,
            Err(e) => {
                drop(expecting);
                return Err(AppendError(e.to_string()));
            }
        };
        let (done, wait) = oneshot::channel();
        let sent = self
            .tx
            .send(Job {
                entry,
                done,
                sent: Instant::now(),
            })
            .await;
        drop(expecting);
        sent.map_err(|_| AppendError("the appender has stopped".into()))?;
        let seq = wait
            .await
            .map_err(|_| AppendError("the appender has stopped".into()))?
            .map_err(AppendError)?;
        Ok((seq, records))
    }
}

/// How fast entries arrive: a moving average of the gap between two
/// hand-overs. Every batch costs PostgreSQL a fixed share (its statement and
/// its commit, about 0.28 ms of CPU against 0.04 ms per entry, measured in
/// bench/README.md), so under load a batch waits up to the linger
/// (`audit.linger_us`) for the entries that will come meanwhile; at a pace
/// slower than that it would wait for nothing, and a lone request never waits.
#[derive(Debug)]
struct Pace {
    last: Option<Instant>,
    /// Average gap, in microseconds.
    gap_us: f64,
}

impl Pace {
    fn new() -> Pace {
        Pace {
            last: None,
            gap_us: f64::MAX,
        }
    }

    fn arrived(&mut self, at: Instant) {
        if let Some(last) = self.last {
            let gap = at.saturating_duration_since(last).as_micros() as f64;
            // A gap of a second or more means idle: start afresh from it.
            self.gap_us = if self.gap_us == f64::MAX || gap >= 1e6 {
                gap
            } else {
                0.875 * self.gap_us + 0.125 * gap
            };
        }
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
    }

    /// How long the batch started by an entry handed over at `first` may
    /// wait for more.
    fn deadline(&self, first: Instant, linger: Duration) -> Option<Instant> {
        (self.gap_us < linger.as_micros() as f64).then(|| first + linger)
    }
}

/// Tries of one batch against a head that another process moved in the
/// meantime, before the batch counts as failed (then it is retried with
/// backoff like any failure). Every such try means another appender wrote.
const HEAD_MOVED_TRIES: usize = 32;

/// Where this appender left the chain: the seq and hash of the last entry it
/// wrote.
type Tip = (i64, String);

async fn run(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    linger: Duration,
    in_flight: &InFlight,
) {
    let mut pace = Pace::new();
    // The next batch follows the tip without reading the head; its insert
    // checks, in the same statement, that the tip still is the head.
    let mut tip: Option<Tip> = None;
    while let Some(first) = rx.recv().await {
        pace.arrived(first.sent);
        let mut deadline = pace.deadline(first.sent, linger);
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => {
                    pace.arrived(job.sent);
                    jobs.push(job);
                }
                // Sleep through the linger rather than wake for each entry
                // (a wake-up of this thread per entry cost more than the
                // entry's share of the batch), then take what came; stop
                // early when no operation under way is left to hand one over.
                Err(_) => match deadline.take() {
                    Some(d) if d > Instant::now() => {
                        let none = in_flight.none.notified();
                        tokio::pin!(none);
                        none.as_mut().enable();
                        if in_flight.count.load(Ordering::Acquire) > 0 {
                            tokio::select! {
                                _ = tokio::time::sleep_until(d) => {}
                                _ = none => {}
                            }
                        }
                    }
                    _ => break,
                },
            }
        }
        let started = std::time::Instant::now();
        let (rows, dones): (Vec<Encoded>, Vec<_>) =
            jobs.into_iter().map(|j| (j.entry, j.done)).unzip();
        let from = tip.take();
        let written = (|| write_batch(&db, &rows, from.clone()))
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
            entries = rows.len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "access log batch"
        );
        match written {
            Ok((seqs, last)) => {
                tip = Some(last);
                for (done, seq) in dones.into_iter().zip(seqs) {
                    let _ = done.send(Ok(seq));
                }
            }
            Err(e) => {
                let m = crate::db::describe_db_error(&e);
                tracing::error!(error = %m, entries = rows.len(), "access log append failed");
                for done in dones {
                    let _ = done.send(Err(m.clone()));
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
/// Pruning holds it; the PostgreSQL appender does not need it (see
/// [`APPEND_SQL`]).
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

/// An entry's columns that do not depend on its place in the chain, and its
/// index rows: encoded once, on the caller's task, however many tries the
/// batch takes.
struct Encoded {
    /// `seq`, `prev_hash` and `hash` are left empty until the entry is
    /// chained ([`Encoded::model`]).
    entry: access_log_entry::Model,
    touches: Vec<(&'static str, Uuid)>,
}

impl Encoded {
    /// The entry, and the draft's records given back.
    fn new(d: Draft) -> Result<(Encoded, Vec<LoggedRecord>), DbErr> {
        let records = serde_json::to_string(&d.records)
            .map_err(|e| DbErr::Custom(format!("cannot encode an entry: {e}")))?;
        let touches = d
            .records
            .iter()
            .flat_map(touches_of)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let disclosed_classes = d.classes(true);
        let withheld_classes = d.classes(false);
        let entry = access_log_entry::Model {
            seq: 0,
            at: d.at,
            operator: d.operator,
            agency_id: d.agency_id,
            role: d.role,
            purpose: d.purpose,
            operation: d.operation,
            query_hash: d.query_hash,
            records,
            disclosed_classes,
            withheld_classes,
            policy_version: d.policy_version,
            prev_hash: String::new(),
            hash: String::new(),
        };
        Ok((Encoded { entry, touches }, d.records))
    }

    fn hash(&self, seq: i64, prev_hash: &str) -> String {
        canonical_hash(seq, &self.entry.at, hashed_columns(&self.entry), prev_hash)
    }

    fn model(&self, seq: i64, prev_hash: String, hash: String) -> access_log_entry::Model {
        access_log_entry::Model {
            seq,
            prev_hash,
            hash,
            ..self.entry.clone()
        }
    }
}

/// Each entry's seq, `prev_hash` and hash, following `head`.
fn chain(rows: &[Encoded], head: &Tip) -> Vec<(i64, String, String)> {
    let (mut seq, mut prev) = head.clone();
    rows.iter()
        .map(|r| {
            seq += 1;
            let hash = r.hash(seq, &prev);
            (seq, std::mem::replace(&mut prev, hash.clone()), hash)
        })
        .collect()
}

/// Write a batch after `tip` (or after the head read from the database);
/// returns the entries' seqs and the new tip.
async fn write_batch(
    db: &DatabaseConnection,
    rows: &[Encoded],
    tip: Option<Tip>,
) -> Result<(Vec<i64>, Tip), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return write_batch_locked(db, rows).await;
    }
    let mut tip = tip;
    for _ in 0..HEAD_MOVED_TRIES {
        let head = match tip.take() {
            Some(t) => t,
            None => head_in(db).await?,
        };
        let links = chain(rows, &head);
        match insert_pg(db, rows, &links, &head).await {
            Ok(true) => {
                let seqs = links.iter().map(|l| l.0).collect();
                let last = links.last().map_or(head, |l| (l.0, l.2.clone()));
                return Ok((seqs, last));
            }
            // Another process appended since `head`: read the head again.
            Ok(false) => {}
            Err(e) if crate::db::is_unique_violation(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Err(DbErr::Custom(
        "the chain's head kept moving under other appenders".into(),
    ))
}

/// One statement appends entries and their index rows, only if `$1`/`$2` is
/// the head of the chain as the statement sees it (the last entry, else the
/// last checkpoint, else the genesis `$3`). With `seq` the primary key, that
/// keeps the chain linear across processes without a lock: of two appenders
/// that saw the same head, the second waits for the first and fails on the
/// duplicate seq; one that saw an old head inserts nothing. Either way it
/// reads the head and chains its batch again.
const APPEND_SQL: &str = "\
WITH last AS (SELECT seq, hash FROM access_log_entry ORDER BY seq DESC LIMIT 1), \
cut AS (SELECT seq, hash FROM access_log_checkpoint ORDER BY seq DESC LIMIT 1), \
head AS (SELECT seq, hash FROM last \
  UNION ALL SELECT seq, hash FROM cut WHERE NOT EXISTS (SELECT 1 FROM last) \
  UNION ALL SELECT 0, $3::text WHERE NOT EXISTS (SELECT 1 FROM last) AND NOT EXISTS (SELECT 1 FROM cut)), \
follows AS (SELECT 1 FROM head WHERE seq = $1 AND hash = $2), \
entries AS (INSERT INTO access_log_entry (seq, at, operator, agency_id, role, purpose, operation, \
  query_hash, records, disclosed_classes, withheld_classes, policy_version, prev_hash, hash) \
  SELECT * FROM unnest($4::int8[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], \
  $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[]) \
  WHERE EXISTS (SELECT 1 FROM follows) RETURNING seq), \
touches AS (INSERT INTO access_log_touch (seq, kind, id) \
  SELECT * FROM unnest($18::int8[], $19::text[], $20::uuid[]) WHERE EXISTS (SELECT 1 FROM follows)) \
SELECT count(*) FROM entries";

/// Append `rows` (chained by `links`) after `head`, in one statement whatever
/// the batch's size. False if `head` is not the head any more.
///
/// One statement of tens of KiB used to stall about 40 ms on the socket
/// (bench/README.md): sqlx 0.9.0 leaves Nagle's algorithm on, and the second
/// TLS record of a message waited for the server's delayed ACK. The vendored
/// sqlx-core (vendor/sqlx-core/README-RETE.md) sets `TCP_NODELAY` again, so a
/// batch no longer has to be cut into statements inside a transaction.
async fn insert_pg(
    db: &DatabaseConnection,
    rows: &[Encoded],
    links: &[(i64, String, String)],
    head: &Tip,
) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(append_statement(rows, links, head.clone()))
        .await?;
    Ok(row.map(|r| r.try_get_by_index::<i64>(0)).transpose()? > Some(0))
}

fn append_statement(rows: &[Encoded], links: &[(i64, String, String)], after: Tip) -> Statement {
    let mut touch_seq = Vec::new();
    let mut touch_kind = Vec::new();
    let mut touch_id = Vec::new();
    for (r, l) in rows.iter().zip(links) {
        for (kind, id) in &r.touches {
            touch_seq.push(l.0);
            touch_kind.push(kind.to_string());
            touch_id.push(*id);
        }
    }
    let mut values: Vec<sea_orm::Value> = vec![
        after.0.into(),
        after.1.into(),
        GENESIS.into(),
        links.iter().map(|l| l.0).collect::<Vec<i64>>().into(),
        rows.iter().map(|r| r.entry.at).collect::<Vec<_>>().into(),
    ];
    // $6 to $15: the hashed columns, in the encoding's order.
    values.extend((0..10).map(|i| {
        rows.iter()
            .map(|r| hashed_columns(&r.entry)[i].to_owned())
            .collect::<Vec<String>>()
            .into()
    }));
    values.extend([
        links.iter().map(|l| l.1.clone()).collect::<Vec<_>>().into(),
        links.iter().map(|l| l.2.clone()).collect::<Vec<_>>().into(),
        touch_seq.into(),
        touch_kind.into(),
        touch_id.into(),
    ]);
    Statement::from_sql_and_values(DatabaseBackend::Postgres, APPEND_SQL, values)
}

/// SQLite (one writer at a time): read the head and insert in one transaction.
async fn write_batch_locked(
    db: &DatabaseConnection,
    rows: &[Encoded],
) -> Result<(Vec<i64>, Tip), DbErr> {
    let txn = db.begin().await?;
    lock(&txn).await?;
    let head = head_in(&txn).await?;
    let links = chain(rows, &head);
    let mut entries = Vec::with_capacity(rows.len());
    let mut touches = Vec::new();
    for (r, (seq, prev, hash)) in rows.iter().zip(&links) {
        entries.push(r.model(*seq, prev.clone(), hash.clone()));
        touches.extend(r.touches.iter().map(|(kind, id)| access_log_touch::Model {
            seq: *seq,
            kind: kind.to_string(),
            id: *id,
        }));
    }
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
    let seqs = links.iter().map(|l| l.0).collect();
    let last = links.last().map_or(head, |l| (l.0, l.2.clone()));
    Ok((seqs, last))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A lone entry, or entries slower than one per linger, never wait; a
    /// steady stream faster than that does, bounded from the first entry's
    /// hand-over.
    #[test]
    fn a_batch_waits_only_when_entries_come_faster_than_the_linger() {
        let linger = Duration::from_millis(2);
        let t0 = Instant::now();
        let mut pace = Pace::new();
        pace.arrived(t0);
        assert_eq!(pace.deadline(t0, linger), None, "the first entry ever");
        // One entry every 10 ms: no wait.
        let mut t = t0;
        for _ in 0..20 {
            t += Duration::from_millis(10);
            pace.arrived(t);
            assert_eq!(pace.deadline(t, linger), None);
        }
        // One every 0.5 ms: after a few, batches wait, up to 2 ms from the
        // first entry's hand-over.
        for _ in 0..40 {
            t += Duration::from_micros(500);
            pace.arrived(t);
        }
        assert_eq!(pace.deadline(t, linger), Some(t + linger));
        // Idle for a second: the next entry goes alone again.
        t += Duration::from_secs(2);
        pace.arrived(t);
        assert_eq!(pace.deadline(t, linger), None);
        // Hand-overs seen out of order do not move the pace backwards.
        pace.arrived(t - Duration::from_millis(1));
        assert_eq!(pace.last, Some(t));
    }

    /// The streamed encoding is byte for byte the documented JSON array.
    #[test]
    fn entry_hash_is_sha256_of_the_documented_json_array() {
        let e = access_log_entry::Model {
            seq: 42,
            at: DateTime::parse_from_rfc3339("2026-11-28T10:11:12.345678Z")
                .expect("a time")
                .with_timezone(&Utc),
            operator: "op \"quoted\" \\ è ✓".into(),
            agency_id: "polo-nord".into(),
            role: "CASE_MANAGER".into(),
            purpose: "CASE_MANAGEMENT".into(),
            operation: "query CaseById".into(),
            query_hash: query_hash("{ case }"),
            records: r#"[{"kind":"CASE","id":"x","digests":[]}]"#.into(),
            disclosed_classes: " ADMINISTRATIVE IDENTITY ".into(),
            withheld_classes: " ".into(),
            policy_version: "v1\n".into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
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
        assert_eq!(
            entry_hash(&e),
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
    }
}
