//! Pulling the court's feed with reqwest:
//! `GET {base_url}/orders?after={cursor}&limit={page_size}`, answered by
//! `{"items":[{"id","seq","jws"}],"next":"<cursor>"|null}`.
//!
//! What it owns: the wire (URL, bearer header), the cursor (the highest
//! `seq` seen, which the engine stores when a run completes) and the
//! classification of failures (timeouts, refused connections, 408, 429 and
//! 5xx are transient; 401, 403, 404, other 4xx and a feed that goes
//! backwards are permanent). It never follows redirects (the bearer token
//! must not travel), never reads a JWS (that is [`super::jws`]'s job) and
//! never logs a token or a payload.

use std::time::Duration;

use serde_json::Value;

use crate::config::{ConfigError, CourtConfig, invalid};
use crate::connector::{FetchError, Page, RawItem};
use crate::http::{check_status, classify_send_error, read_capped};

use super::RESOURCE_TYPE;

/// The largest page body read; a larger one is refused (lower `page_size`).
const MAX_PAGE_BYTES: usize = 64 << 20;

pub(crate) struct Transport {
    http: reqwest::Client,
    /// `{base_url}/orders`.
    orders: url::Url,
    page_size: u32,
    token: Option<String>,
}

impl Transport {
    pub(crate) fn new(
        prefix: &str,
        cfg: &CourtConfig,
        token: Option<String>,
    ) -> Result<Transport, ConfigError> {
        let base = cfg.base_url.trim().trim_end_matches('/');
        let parsed = url::Url::parse(base)
            .map_err(|e| invalid(format!("{prefix}.base_url"), format!("is not a URL: {e}")))?;
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid(
                format!("{prefix}.base_url"),
                "must not have a query or fragment",
            ));
        }
        let orders = url::Url::parse(&format!("{base}/orders"))
            .map_err(|e| invalid(format!("{prefix}.base_url"), format!("is not a URL: {e}")))?;
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rete-connectors/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                invalid(
                    format!("{prefix}.base_url"),
                    format!("cannot build an HTTP client: {e}"),
                )
            })?;
        Ok(Transport {
            http,
            orders,
            page_size: cfg.page_size,
            token,
        })
    }

    /// The feed's URL (the circuit breaker's upstream).
    pub(crate) fn orders_url(&self) -> &str {
        self.orders.as_str()
    }

    /// Fetches one page (see [`crate::Connector::fetch`]): after the court's
    /// `next` cursor, or after the stored one on a run's first page.
    pub(crate) async fn fetch(
        &self,
        cursor: Option<&str>,
        next: Option<&str>,
    ) -> Result<Page, FetchError> {
        let after = match (next, cursor) {
            (Some(n), _) => Some(n.to_string()),
            (None, Some(c)) => {
                let c = c.trim();
                c.parse::<u64>().map_err(|_| {
                    FetchError::Permanent(format!(
                        "the stored cursor `{c}` is not a seq of the court's feed"
                    ))
                })?;
                Some(c.to_string())
            }
            (None, None) => None,
        };
        let mut url = self.orders.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(a) = &after {
                q.append_pair("after", a);
            }
            q.append_pair("limit", &self.page_size.to_string());
        }
        let body = self.get(url).await?;
        let feed = read_feed(&body)?;
        let after_seq = after.as_deref().and_then(|a| a.parse::<u64>().ok());
        if let (Some(a), Some(first)) = (after_seq, feed.items.first().and_then(|i| i.position))
            && first <= a
        {
            return Err(FetchError::Permanent(format!(
                "orders page: the court answered seq {first} after {a}: its feed went backwards"
            )));
        }
        if let Some(n) = &feed.next
            && (Some(n) == after.as_ref()
                || matches!((after_seq, n.parse::<u64>()), (Some(a), Ok(n)) if n <= a))
        {
            return Err(FetchError::Permanent(
                "orders page: the court's next cursor does not advance".into(),
            ));
        }
        let high_water = feed
            .items
            .iter()
            .filter_map(|i| i.position)
            .max()
            .map(|s| s.to_string());
        Ok(Page {
            items: feed.items,
            next: feed.next,
            high_water,
            total: None,
        })
    }

    async fn get(&self, url: url::Url) -> Result<Vec<u8>, FetchError> {
        let what = "orders page";
        let mut req = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let response = req
            .send()
            .await
            .map_err(|e| classify_send_error(&e, what))?;
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "court orders page");
        check_status(status, response.headers(), what, "the court")?;
        read_capped(response, MAX_PAGE_BYTES, what).await
    }
}

/// A page of the feed, read.
struct Feed {
    items: Vec<RawItem>,
    next: Option<String>,
}

/// Reads a page of the feed. An item without a usable `jws` still becomes
/// an item (its mapping rejects it, so it lands in the dead letters); an
/// item without a `seq` makes the page unusable, since the cursor could not
/// move past it. A body that is not JSON at all (cut short, an HTML error
/// page) is transient; JSON that is not a page of the feed is permanent.
fn read_feed(body: &[u8]) -> Result<Feed, FetchError> {
    let bad = |m: String| FetchError::Permanent(format!("orders page: {m}"));
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| FetchError::transient("orders page: invalid or truncated JSON"))?;
    let Value::Object(page) = value else {
        return Err(bad("not a JSON object".into()));
    };
    let items = match page.get("items") {
        Some(Value::Array(a)) => a,
        _ => return Err(bad("`items` is missing or not a list".into())),
    };
    let mut out = Vec::with_capacity(items.len());
    let mut last: Option<u64> = None;
    for (i, item) in items.iter().enumerate() {
        let seq = item
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("items[{i}].seq is not a whole number")))?;
        if last.is_some_and(|l| seq <= l) {
            return Err(bad(format!(
                "items[{i}].seq is not above the previous item's"
            )));
        }
        last = Some(seq);
        out.push(RawItem {
            resource_type: RESOURCE_TYPE.to_string(),
            external_id: item
                .get("id")
                .and_then(Value::as_str)
                .map(|s| s.chars().take(200).collect()),
            position: Some(seq),
            payload: item
                .get("jws")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        });
    }
    let next = match page.get("next") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(bad("`next` is not a cursor".into())),
    };
    Ok(Feed { items: out, next })
}
