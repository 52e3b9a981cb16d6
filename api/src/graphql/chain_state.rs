//! The access log's chain as the privacy officer sees it: its head and the
//! last verification (`accessLogStatus`), and a walk of the whole chain on
//! demand (`verifyAccessLog`).
//!
//! The walk is [`crate::audit::chain::verify`], the same code as `rete audit
//! verify`, with the hub's public key (to check a retention checkpoint). Every
//! walk is kept in `access_log_verification` (so is every `rete audit
//! verify`), so the last verification is the same on every hub process and
//! survives restarts. One walk runs at a time per process; a second request
//! waits for it and walks again.
//!
//! Nothing here is a value of a family's record: seqs, hashes, counts.

use std::sync::Arc;

use async_graphql::{Context, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::audit::privacy_officer;
use crate::audit::{HubKeys, chain};
use crate::error::ApiError;

/// The hub's public key, and one walk at a time, in the schema's data.
#[derive(Clone)]
pub struct Verifications {
    keys: Arc<HubKeys>,
    walking: Arc<Mutex<()>>,
}

impl Verifications {
    pub fn new(keys: Arc<HubKeys>) -> Verifications {
        Verifications {
            keys,
            walking: Arc::new(Mutex::new(())),
        }
    }
}

/// The chain's newest entry.
#[derive(SimpleObject, Clone)]
pub struct ChainHead {
    /// The newest entry's seq (0 for an empty log).
    pub seq: i64,
    /// Its hash: SHA-256 (hex) of its canonical encoding.
    pub hash: String,
    /// Entries stored (older ones may have been pruned behind a checkpoint).
    pub stored: i64,
}

impl From<chain::Head> for ChainHead {
    fn from(h: chain::Head) -> Self {
        ChainHead {
            seq: h.seq,
            hash: h.hash,
            stored: h.stored,
        }
    }
}

/// The first thing wrong with the chain.
#[derive(SimpleObject, Clone)]
pub struct BrokenEntry {
    /// The entry named (for a forged checkpoint, the checkpoint's seq).
    pub seq: i64,
    /// What is wrong, in words (`entry 2 was edited …`).
    pub problem: String,
}

/// One walk of the chain.
#[derive(SimpleObject, Clone)]
pub struct ChainVerification {
    pub verified_at: DateTime<Utc>,
    /// The privacy officer who asked (or `rete audit verify (user)`), and
    /// their agency (`null` for the command line).
    pub verified_by: String,
    pub agency_id: Option<String>,
    /// Whether every entry, link and index row held.
    pub intact: bool,
    /// Entries walked before the end or the first problem.
    pub entries_checked: i64,
    /// The head when the walk ended.
    pub head: ChainHead,
    /// The retention checkpoint the walk started from, if entries were pruned.
    pub from_checkpoint: Option<i64>,
    /// The first broken entry, when not intact.
    pub first_broken: Option<BrokenEntry>,
}

impl From<entities::access_log_verification::Model> for ChainVerification {
    fn from(m: entities::access_log_verification::Model) -> Self {
        ChainVerification {
            verified_at: m.verified_at,
            verified_by: m.verified_by,
            agency_id: m.agency_id,
            intact: m.intact,
            entries_checked: m.entries_checked,
            head: ChainHead {
                seq: m.head_seq,
                hash: m.head_hash,
                stored: m.head_stored,
            },
            from_checkpoint: m.from_checkpoint,
            first_broken: match (m.broken_seq, m.problem) {
                (Some(seq), Some(problem)) => Some(BrokenEntry { seq, problem }),
                _ => None,
            },
        }
    }
}

/// `accessLogStatus`.
#[derive(SimpleObject)]
pub struct AccessLogStatus {
    pub head: ChainHead,
    /// The last verification, by any officer, hub process or `rete audit
    /// verify` (`null`: none yet).
    pub last_verification: Option<ChainVerification>,
}

pub async fn status(ctx: &Context<'_>) -> Result<AccessLogStatus> {
    let (_, rc) = privacy_officer(ctx, "accessLogStatus")?;
    rc.trail().force();
    let head = chain::head(&rc.db).await.map_err(ApiError::from)?;
    let last = chain::last_verification(&rc.db)
        .await
        .map_err(ApiError::from)?;
    Ok(AccessLogStatus {
        head: head.into(),
        last_verification: last.map(ChainVerification::from),
    })
}

pub async fn verify(ctx: &Context<'_>) -> Result<ChainVerification> {
    let (caller, rc) = privacy_officer(ctx, "verifyAccessLog")?;
    let v = ctx.data::<Verifications>()?;
    rc.trail().force();
    let _walk = v.walking.lock().await;
    let key = v.keys.public().map_err(ApiError::Internal)?;
    let report = chain::verify(&rc.db, &key).await.map_err(|e| {
        tracing::error!(error = %e, "access log verification could not run");
        ApiError::Internal(format!("the access log could not be verified: {e}"))
    })?;
    let kept = chain::record_verification(
        &rc.db,
        &caller.requester.operator,
        Some(&caller.requester.agency),
        &report,
    )
    .await
    .map_err(ApiError::from)?;
    let result = ChainVerification::from(kept);
    if let Some(b) = &result.first_broken {
        tracing::warn!(seq = b.seq, "access log verification found a broken entry");
    }
    Ok(result)
}
