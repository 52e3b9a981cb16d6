//! The outbox worker: one per `rete serve` process (any number of processes on
//! one database share the work).
//!
//! A tick (1) propagates consents withdrawn or expired since the last sweep
//! ([`super::propagate`]), then (2) claims a batch of due messages, each for
//! `lease_seconds` (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers
//! never claim the same message; SQLite has one writer at a time), counting
//! the attempt at the claim, and (3) delivers each: build the payload under
//! the policy now, write the access-log entry, send, record the outcome.
//!
//! A worker killed between claim and outcome loses nothing: the lease lapses
//! and the message is claimed again and sent with the same idempotency key.
//!
//! Every attempt is logged before it is sent (`outbox KIND id attempt N`):
//! the hub cannot know beforehand whether a failing attempt reached the
//! receiver, so the log may name an attempt that never arrived, never miss
//! one that did. The message's row says which attempt was acknowledged.
//! Outcomes are written only while the claim is still this worker's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::outbox_message;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::payload::{self, Built};
use super::transport::SendError;
use super::{Kind, status};
use crate::audit::trail::{Access, LoggedRecord};
use crate::config::OutboxConfig;
use crate::error::ApiError;
use crate::http::AppState;

/// What one tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Consents whose withdrawal or expiry was propagated.
    pub propagated: usize,
    pub claimed: usize,
    pub delivered: usize,
    /// Failed, to be tried again later.
    pub retrying: usize,
    pub dead: usize,
    pub dropped: usize,
}

/// The outbox of one process.
pub struct Outbox {
    state: AppState,
    cfg: OutboxConfig,
    holder: String,
    client: reqwest::Client,
}

impl Outbox {
    pub fn new(state: AppState, cfg: OutboxConfig) -> Result<Outbox, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("rete-outbox/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the outbox's HTTP client: {e}"))?;
        Ok(Outbox {
            state,
            cfg,
            holder: format!("{}:{}", hostname(), Uuid::now_v7()),
            client,
        })
    }

    /// One sweep and one batch.
    pub async fn run_once(&self) -> Result<Tick, ApiError> {
        self.tick(true).await
    }

    async fn tick(&self, sweep: bool) -> Result<Tick, ApiError> {
        let mut tick = Tick::default();
        if sweep {
            tick.propagated = super::propagate::sweep(&self.state, Utc::now()).await?;
        }
        let claimed = self.claim(Utc::now()).await?;
        tick.claimed = claimed.len();
        for m in claimed {
            match self.deliver(&m).await {
                Ok(Outcome::Delivered) => tick.delivered += 1,
                Ok(Outcome::Retrying) => tick.retrying += 1,
                Ok(Outcome::Dead) => tick.dead += 1,
                Ok(Outcome::Dropped) => tick.dropped += 1,
                Err(e) => {
                    // A failure inside the hub (the database, a broken
                    // row) counts as an attempt like any other, so a message
                    // that always fails ends DEAD instead of looping.
                    tracing::error!(message = %m.id, error = %e.message(), "outbox: delivery failed inside the hub");
                    let reason = format!("failed inside the hub: {}", e.message());
                    match self.failed(&m, SendError::Transient(reason)).await {
                        Ok(Outcome::Dead) => tick.dead += 1,
                        Ok(_) => tick.retrying += 1,
                        Err(e) => {
                            tracing::error!(message = %m.id, error = %e.message(), "outbox: cannot record the failure; the claim lapses");
                        }
                    }
                }
            }
        }
        Ok(tick)
    }

    /// Run until the process ends: a tick, then wait for the poll interval
    /// (none while batches come back full); the consent sweep every
    /// `sweep_seconds`.
    pub fn spawn(self: std::sync::Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let poll = Duration::from_millis(self.cfg.poll_ms);
            let every = Duration::from_secs(self.cfg.sweep_seconds);
            let mut swept: Option<std::time::Instant> = None;
            loop {
                let sweep = swept.is_none_or(|t| t.elapsed() >= every);
                if sweep {
                    swept = Some(std::time::Instant::now());
                }
                let full = match self.tick(sweep).await {
                    Ok(t) => t.claimed as u64 >= self.cfg.batch,
                    Err(e) => {
                        tracing::error!(error = %e.message(), "outbox: tick failed");
                        false
                    }
                };
                if !full {
                    tokio::time::sleep(poll).await;
                }
            }
        })
    }

    /// Claim up to `batch` due messages for `lease_seconds`.
    async fn claim(&self, now: DateTime<Utc>) -> Result<Vec<outbox_message::Model>, ApiError> {
        let db = self.state.db();
        let until = now + chrono::Duration::seconds(self.cfg.lease_seconds as i64);
        let backend = db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "UPDATE outbox_message SET claimed_by = $1, claimed_until = $2, \
                 attempts = attempts + 1, updated_at = $3 \
                 WHERE id IN (SELECT id FROM outbox_message \
                   WHERE status = 'PENDING' AND next_attempt_at <= $3 \
                   AND (claimed_until IS NULL OR claimed_until < $3) \
                   ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING *"
            }
            _ => {
                "UPDATE outbox_message SET claimed_by = ?, claimed_until = ?, \
                 attempts = attempts + 1, updated_at = ? \
                 WHERE id IN (SELECT id FROM outbox_message \
                   WHERE status = 'PENDING' AND next_attempt_at <= ? \
                   AND (claimed_until IS NULL OR claimed_until < ?) \
                   ORDER BY next_attempt_at, id LIMIT ?) \
                 RETURNING *"
            }
        };
        let values: Vec<sea_orm::Value> = match backend {
            DbBackend::Postgres => vec![
                self.holder.clone().into(),
                until.into(),
                now.into(),
                (self.cfg.batch as i64).into(),
            ],
            _ => vec![
                self.holder.clone().into(),
                until.into(),
                now.into(),
                now.into(),
                now.into(),
                (self.cfg.batch as i64).into(),
            ],
        };
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        let mut out = rows
            .iter()
            .map(|r| outbox_message::Model::from_query_result(r, ""))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|m| (m.next_attempt_at, m.id));
        Ok(out)
    }

    async fn deliver(&self, m: &outbox_message::Model) -> Result<Outcome, ApiError> {
        let Some(kind) = Kind::parse(&m.kind) else {
            return self
                .dead(m, &format!("unknown message kind {}", m.kind))
                .await;
        };
        let Some(route) = self.state.outbound().instance(&m.instance).cloned() else {
            return self
                .failed(
                    m,
                    SendError::Transient(format!(
                        "no connector instance `{}` in this hub's config",
                        m.instance
                    )),
                )
                .await;
        };
        let caller = payload::receiver(&self.state, m).await?;
        let (data, withheld, records) = match kind {
            Kind::Forget => {
                let body = m.body.clone().unwrap_or(Value::Null);
                let records: Vec<LoggedRecord> = super::subjects(m)
                    .into_iter()
                    .map(|p| LoggedRecord::accessed("PERSON", p, vec![], Access::ForgetNotice))
                    .collect();
                let records = self
                    .state
                    .append_entry(
                        (&caller).into(),
                        format!("outbox FORGET {} attempt {}", m.id, m.attempts),
                        crate::audit::chain::query_hash("FORGET"),
                        records,
                    )
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                (body, Vec::new(), records)
            }
            _ => match payload::build(&self.state, m).await? {
                Built::Drop(reason) => return self.drop_message(m, &reason).await,
                Built::Send {
                    data,
                    withheld,
                    trail,
                    operation,
                    query_hash,
                } => {
                    // The access log, before anything leaves.
                    let records = self
                        .state
                        .log_operation(&caller, operation, query_hash, &trail, &data, None)
                        .await
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    (data, withheld, records)
                }
            },
        };
        let envelope = json!({
            "id": m.id,
            "kind": kind.as_str(),
            "sender": crate::audit::HUB_ISSUER,
            "receiver": m.receiver_agency_id,
            "created_at": m.created_at,
            "sent_at": Utc::now(),
            "data": data,
            "withheld": withheld,
        });
        let timeout = Duration::from_millis(
            route
                .timeout_ms
                .map_or(self.cfg.timeout_ms, |t| t.min(self.cfg.timeout_ms)),
        );
        match route
            .transport
            .send(
                &self.client,
                self.state.hub_keys(),
                m.id,
                &envelope,
                timeout,
            )
            .await
        {
            Ok(ack) => {
                let (classes, bases) = disclosed(&records);
                let digest =
                    crate::audit::trail::digest(self.state.digest_key(), &envelope["data"]);
                let done = self
                    .release(m, status::DELIVERED)
                    .col_expr(
                        outbox_message::Column::StatusReason,
                        Expr::value(ack.receipt.map(|r| format!("receipt {r}"))),
                    )
                    .col_expr(outbox_message::Column::DeliveredAt, Expr::value(Utc::now()))
                    .col_expr(outbox_message::Column::Classes, Expr::value(classes))
                    .col_expr(outbox_message::Column::Bases, Expr::value(bases))
                    .col_expr(outbox_message::Column::PayloadDigest, Expr::value(digest))
                    .col_expr(
                        outbox_message::Column::LastError,
                        Expr::value(None::<String>),
                    )
                    .exec(self.state.db())
                    .await?;
                if done.rows_affected == 0 {
                    // Another worker took the message over after our lease
                    // lapsed; it sends the same idempotency key.
                    tracing::warn!(message = %m.id, "outbox: delivered after the claim lapsed");
                }
                tracing::info!(message = %m.id, kind = kind.as_str(), receiver = %m.receiver_agency_id, status = ack.status, "outbox: delivered");
                Ok(Outcome::Delivered)
            }
            Err(e) => self.failed(m, e).await,
        }
    }

    async fn failed(&self, m: &outbox_message::Model, e: SendError) -> Result<Outcome, ApiError> {
        match e {
            SendError::Permanent(reason) => self.dead(m, &reason).await,
            SendError::Transient(reason) if m.attempts >= self.cfg.max_attempts => {
                self.dead(
                    m,
                    &format!("gave up after {} attempts: {reason}", m.attempts),
                )
                .await
            }
            SendError::Transient(reason) => {
                let next = Utc::now() + backoff(&self.cfg, m.attempts);
                self.finish(m, status::PENDING, None, Some(&reason), Some(next))
                    .await?;
                tracing::warn!(message = %m.id, attempt = m.attempts, error = %reason, "outbox: will retry");
                Ok(Outcome::Retrying)
            }
        }
    }

    async fn dead(&self, m: &outbox_message::Model, reason: &str) -> Result<Outcome, ApiError> {
        self.finish(m, status::DEAD, None, Some(reason), None)
            .await?;
        tracing::error!(message = %m.id, error = %reason, "outbox: message is dead");
        Ok(Outcome::Dead)
    }

    async fn drop_message(
        &self,
        m: &outbox_message::Model,
        reason: &str,
    ) -> Result<Outcome, ApiError> {
        self.finish(m, status::DROPPED, Some(reason), None, None)
            .await?;
        tracing::info!(message = %m.id, reason = %reason, "outbox: dropped at send time");
        Ok(Outcome::Dropped)
    }

    async fn finish(
        &self,
        m: &outbox_message::Model,
        to: &str,
        reason: Option<&str>,
        error: Option<&str>,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), ApiError> {
        let mut q = self.release(m, to);
        if let Some(r) = reason {
            q = q.col_expr(outbox_message::Column::StatusReason, Expr::value(r));
        }
        if let Some(e) = error {
            q = q.col_expr(outbox_message::Column::LastError, Expr::value(e));
        }
        if let Some(n) = next {
            q = q.col_expr(outbox_message::Column::NextAttemptAt, Expr::value(n));
        }
        q.exec(self.state.db()).await?;
        Ok(())
    }

    /// The update that gives up this worker's claim on `m` with status `to`;
    /// it changes nothing when the claim is no longer this worker's.
    fn release(
        &self,
        m: &outbox_message::Model,
        to: &str,
    ) -> sea_orm::UpdateMany<outbox_message::Entity> {
        outbox_message::Entity::update_many()
            .col_expr(outbox_message::Column::Status, Expr::value(to))
            .col_expr(
                outbox_message::Column::ClaimedBy,
                Expr::value(None::<String>),
            )
            .col_expr(
                outbox_message::Column::ClaimedUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(outbox_message::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(outbox_message::Column::Id.eq(m.id))
            .filter(outbox_message::Column::ClaimedBy.eq(&self.holder))
    }
}

enum Outcome {
    Delivered,
    Retrying,
    Dead,
    Dropped,
}

/// Exponential backoff with jitter: `backoff_ms * 2^(attempt-1)`, capped at
/// `backoff_max_ms`, then a random 50–100 % of it (so partners coming back
/// are not hit by every message at once).
pub fn backoff(cfg: &OutboxConfig, attempt: i32) -> chrono::Duration {
    let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let full = cfg
        .backoff_ms
        .saturating_mul(1u64 << exp)
        .min(cfg.backoff_max_ms);
    let mut b = [0u8; 2];
    let r = match aws_lc_rs::rand::fill(&mut b) {
        Ok(()) => u64::from(u16::from_le_bytes(b)),
        Err(_) => 0,
    };
    let ms = full / 2 + (full / 2) * r / u64::from(u16::MAX);
    chrono::Duration::milliseconds(ms as i64)
}

/// The classes a delivery carried and the basis of each, per record
/// (`{"record": "PERSON:<id>", "class": "IDENTITY", "basis": "CONSENT:<id>"}`):
/// what a withdrawal looks up to find whom to tell to forget.
fn disclosed(records: &[LoggedRecord]) -> (Value, Value) {
    let mut classes = std::collections::BTreeSet::new();
    let mut bases = Vec::new();
    for r in records {
        for d in &r.disclosed {
            classes.insert(d.class.as_str());
            bases.push(json!({
                "record": format!("{}:{}", r.kind, r.id),
                "class": d.class.as_str(),
                "basis": d.basis,
            }));
        }
    }
    (json!(classes), Value::Array(bases))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "rete".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let cfg = OutboxConfig {
            backoff_ms: 1_000,
            backoff_max_ms: 10_000,
            ..OutboxConfig::default()
        };
        for (attempt, full) in [(1, 1_000), (2, 2_000), (3, 4_000), (4, 8_000), (9, 10_000)] {
            let b = backoff(&cfg, attempt).num_milliseconds();
            assert!(
                (full / 2..=full).contains(&b),
                "attempt {attempt}: {b} ms not within {}..={full}",
                full / 2
            );
        }
    }
}
