//! The one trait every connector implements: transport (fetch a page) and
//! mapping (a raw item to records). Scheduling, cursors, idempotency, retries,
//! the circuit breaker, dead letters and run history belong to the engine
//! ([`crate::engine`]); a connector never touches the database.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::model::Record;

/// One item as it came from the upstream, kept verbatim so that a rejected item
/// can be parked in the dead-letter table and retried later through the same
/// mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct RawItem {
    /// What the item is (`Patient`, `Encounter`, `consultorio-row`...).
    pub resource_type: String,
    /// The upstream's id of the item, when it has one.
    pub external_id: Option<String>,
    /// The item's row or position in a file (CSV line number, Bundle entry).
    pub position: Option<u64>,
    /// The item's bytes as received (JSON text, a CSV record re-encoded as JSON).
    pub payload: String,
}

/// One page of a fetch.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub items: Vec<RawItem>,
    /// Where the next page of this run is (a FHIR Bundle `next` link), if any.
    pub next: Option<String>,
    /// The whole cursor to store once every page of the run up to this one is
    /// in (e.g. the highest `meta.lastUpdated` seen per resource type; a
    /// connector carries what it needs from page to page in `next`). The
    /// engine keeps the last one given and stores it only when the run
    /// completes, so a run that is killed starts again from the old cursor and
    /// replays idempotently.
    pub high_water: Option<String>,
    /// How many items the upstream says the whole run has, when it says.
    pub total: Option<u64>,
}

/// What mapping one raw item gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Mapped {
    /// The records the item becomes (a FHIR Encounter may become a health event
    /// and a referral).
    Records(Vec<Record>),
    /// The item is of a kind this connector does not map (counted, not an error).
    Skipped(String),
    /// The item is bad: it goes to the dead-letter table with this reason.
    Rejected(String),
}

/// Why a fetch failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// Worth retrying (timeouts, 429, 5xx, a truncated body). `retry_after` is
    /// the upstream's own hint (HTTP `Retry-After`), which the engine honours.
    #[error("{reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying will not help (401 after a fresh token, 404, a bad config).
    #[error("{0}")]
    Permanent(String),
}

impl FetchError {
    pub fn transient(reason: impl Into<String>) -> FetchError {
        FetchError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// A connector: how to reach one kind of agency system and how to read what it
/// sends. Implementations are cheap to share (`Arc<dyn Connector>`).
pub trait Connector: Send + Sync {
    /// The connector kind (`fhir`, `consultorio`...), as in the config file.
    fn kind(&self) -> &'static str;

    /// The upstream's identity for the circuit breaker (its base URL).
    fn upstream(&self) -> String;

    /// Fetches one page: the first page of a run after `cursor` when `next` is
    /// `None`, else the page `next` points at. Connectors that only import
    /// files answer `FetchError::Permanent`.
    fn fetch<'a>(
        &'a self,
        cursor: Option<&'a str>,
        next: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, FetchError>>;

    /// Maps one raw item. Pure: no I/O, never panics on bad input.
    fn map(&self, item: &RawItem) -> Mapped;

    /// The HMAC key shared with the upstream, for connectors whose upstream
    /// pushes signed webhooks (third sector); the hub's webhook endpoint
    /// takes requests only for instances that have one.
    fn shared_key(&self) -> Option<&crate::third_sector::SharedKey> {
        None
    }
}
