//! Pulling pages from a FHIR R4 REST server with reqwest: one search per
//! configured resource type, in order, each
//! `GET {base}/{Type}?_lastUpdated=gt{cursor}&_sort=_lastUpdated&_count=N`,
//! then its Bundle `next` links.
//!
//! What it owns: the wire (URLs, headers, auth), the run's position across
//! resource types (the `next` token the engine hands back), the cursor it
//! reports, and the classification of every failure as transient (worth
//! retrying) or permanent. It never follows a link to another origin, never
//! follows redirects (a bearer token must not travel), and never logs a
//! token or a payload.
//!
//! ## The cursor across resource types
//!
//! Types are pulled one after the other, so one timestamp must be safe for
//! all of them: the next run asks for `_lastUpdated > cursor` for every type.
//! The highest `meta.lastUpdated` seen is not safe: a Patient updated while
//! the run pulled Encounters would fall below it and be missed. So the run's
//! cursor is the earliest of the per-type search times, each the server's
//! own clock when that type's first page was made (the Bundle's
//! `meta.lastUpdated`, else the HTTP `Date` header; without either, the
//! highest `meta.lastUpdated` of that type's resources), less
//! [`CURSOR_MARGIN`] for writes still committing then. Anything changed
//! after that moment is pulled again by the next run, which the engine's
//! idempotency makes harmless. It is reported as `high_water` on the run's
//! last page only, as a UTC instant with milliseconds (fixed width, so the
//! engine's "greatest" is also the latest).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FhirConfig, invalid};
use crate::connector::{FetchError, Page};

use super::auth::Auth;
use super::bundle::{BundleError, read_bundle};

/// The largest page body read; a larger one is refused (lower `page_size`).
const MAX_PAGE_BYTES: usize = 64 << 20;

/// How far before a search time the next run starts again: a server stamps
/// `meta.lastUpdated` when a write begins, so a write still committing when
/// the search ran shows up later with an earlier stamp. The next run pulls
/// those seconds again; the engine finds the replays unchanged.
pub const CURSOR_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

pub(crate) struct Transport {
    http: reqwest::Client,
    /// The base URL as configured, without a trailing slash.
    base: String,
    /// Its origin (scheme, host, port): the only one links are followed to.
    origin: url::Origin,
    resources: Vec<String>,
    page_size: u32,
    auth: Auth,
}

/// Where a run is: the engine stores it as `next` and hands it back.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Position {
    /// The resource type being pulled.
    #[serde(rename = "type")]
    rtype: String,
    /// The page to get; `None` for the type's first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// The run's starting cursor (the `_lastUpdated` lower bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    /// The run's cursor so far: the earliest search time of the types done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    water: Option<DateTime<Utc>>,
    /// This type's search time, from its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    searched: Option<DateTime<Utc>>,
    /// The highest `meta.lastUpdated` of this type's resources so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seen_max: Option<DateTime<Utc>>,
    /// Items the upstream announced for the types already done.
    #[serde(default)]
    done_total: u64,
    /// What the upstream announced for this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    type_total: Option<u64>,
}

/// Formats a cursor: a UTC instant with milliseconds, truncated (never later
/// than the instant, so nothing at the boundary is skipped).
pub fn format_cursor(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Transport {
    pub(crate) fn new(
        prefix: &str,
        cfg: &FhirConfig,
        auth: Auth,
    ) -> Result<Transport, ConfigError> {
        let base = cfg.base_url.trim().trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base)
            .map_err(|e| invalid(format!("{prefix}.base_url"), format!("is not a URL: {e}")))?;
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid(
                format!("{prefix}.base_url"),
                "must not have a query or fragment",
            ));
        }
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
        if cfg.resources.is_empty() {
            return Err(invalid(
                format!("{prefix}.resources"),
                "must name at least one resource type",
            ));
        }
        for (i, r) in cfg.resources.iter().enumerate() {
            if cfg.resources[..i].contains(r) {
                return Err(invalid(
                    format!("{prefix}.resources[{i}]"),
                    format!("`{r}` is named twice"),
                ));
            }
        }
        Ok(Transport {
            http,
            origin: parsed.origin(),
            base,
            resources: cfg.resources.clone(),
            page_size: cfg.page_size,
            auth,
        })
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Fetches one page (see [`crate::Connector::fetch`]).
    pub(crate) async fn fetch(
        &self,
        cursor: Option<&str>,
        next: Option<&str>,
    ) -> Result<Page, FetchError> {
        let mut pos = match next {
            None => {
                if let Some(c) = cursor {
                    DateTime::parse_from_rfc3339(c).map_err(|_| {
                        FetchError::Permanent(format!("the stored cursor `{c}` is not an instant"))
                    })?;
                }
                Position {
                    rtype: self.resources.first().cloned().unwrap_or_default(),
                    url: None,
                    since: cursor.map(str::to_string),
                    water: None,
                    searched: None,
                    seen_max: None,
                    done_total: 0,
                    type_total: None,
                }
            }
            Some(token) => serde_json::from_str::<Position>(token)
                .ok()
                .filter(|p| self.resources.contains(&p.rtype))
                .ok_or_else(|| {
                    FetchError::Permanent("the next token is not one this connector wrote".into())
                })?,
        };
        let first_page = pos.url.is_none();
        let url = match &pos.url {
            None => self.search_url(&pos.rtype, pos.since.as_deref())?,
            Some(u) => self.same_origin(u)?,
        };

        let (body, date) = self.get(&url, &pos.rtype).await?;
        let bundle = read_bundle(&body).map_err(|e| match e {
            BundleError::NotJson(m) => FetchError::transient(format!(
                "{} page: invalid or truncated JSON ({m})",
                pos.rtype
            )),
            other => FetchError::Permanent(format!("{} page: {other}", pos.rtype)),
        })?;

        if first_page {
            pos.searched = bundle.bundle_last_updated.or(date);
            pos.type_total = bundle.total;
        }
        pos.seen_max = pos.seen_max.max(bundle.max_last_updated);
        let total = pos.type_total.map(|t| pos.done_total + t);

        let mut page = Page {
            items: bundle.items,
            next: None,
            high_water: None,
            total,
        };
        if let Some(link) = bundle.next {
            // Checked here too, so a bad link fails on the page that has it.
            let next_url = self.same_origin(&self.absolute(&url, &link)?)?;
            pos.url = Some(next_url.to_string());
            page.next = Some(self.token(&pos)?);
            return Ok(page);
        }
        // This type is done: its search time (or what it saw) bounds the cursor.
        if let Some(t) = pos.searched.or(pos.seen_max) {
            let t = t - CURSOR_MARGIN;
            pos.water = Some(pos.water.map_or(t, |w| w.min(t)));
        }
        pos.done_total += pos.type_total.unwrap_or(0);
        let index = self
            .resources
            .iter()
            .position(|r| r == &pos.rtype)
            .unwrap_or(usize::MAX);
        match self.resources.get(index.saturating_add(1)) {
            Some(next_type) => {
                pos.rtype = next_type.clone();
                pos.url = None;
                pos.searched = None;
                pos.seen_max = None;
                pos.type_total = None;
                page.next = Some(self.token(&pos)?);
            }
            None => page.high_water = pos.water.map(format_cursor),
        }
        Ok(page)
    }

    fn token(&self, pos: &Position) -> Result<String, FetchError> {
        serde_json::to_string(pos)
            .map_err(|e| FetchError::Permanent(format!("cannot write the next token: {e}")))
    }

    fn search_url(&self, rtype: &str, since: Option<&str>) -> Result<url::Url, FetchError> {
        let mut u = url::Url::parse(&format!("{}/{rtype}", self.base))
            .map_err(|e| FetchError::Permanent(format!("bad search URL: {e}")))?;
        {
            let mut q = u.query_pairs_mut();
            if let Some(s) = since {
                q.append_pair("_lastUpdated", &format!("gt{s}"));
            }
            q.append_pair("_sort", "_lastUpdated");
            q.append_pair("_count", &self.page_size.to_string());
        }
        Ok(u)
    }

    /// A link as an absolute URL (FHIR links are absolute; a relative one is
    /// read against the page it came from).
    fn absolute(&self, page: &url::Url, link: &str) -> Result<String, FetchError> {
        page.join(link)
            .map(|u| u.to_string())
            .map_err(|_| FetchError::Permanent("the next link is not a URL".into()))
    }

    fn same_origin(&self, link: &str) -> Result<url::Url, FetchError> {
        let u = url::Url::parse(link)
            .map_err(|_| FetchError::Permanent("the next link is not a URL".into()))?;
        if u.origin() != self.origin {
            return Err(FetchError::Permanent(format!(
                "the next link points at another origin ({}), which is never followed",
                u.origin().ascii_serialization()
            )));
        }
        Ok(u)
    }

    /// GETs a page with auth; a 401/403 gets one fresh token and one retry.
    async fn get(
        &self,
        url: &url::Url,
        rtype: &str,
    ) -> Result<(String, Option<DateTime<Utc>>), FetchError> {
        let what = format!("{rtype} search");
        let mut renewed = false;
        loop {
            let mut req = self.http.get(url.clone()).header(
                reqwest::header::ACCEPT,
                "application/fhir+json, application/json",
            );
            if let Some(h) = self.auth.header(&self.http, renewed).await? {
                req = req.header(reqwest::header::AUTHORIZATION, h);
            }
            let response = req
                .send()
                .await
                .map_err(|e| classify_send_error(&e, &what))?;
            let status = response.status();
            tracing::debug!(resource = rtype, status = status.as_u16(), "fhir page");
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                if !renewed && self.auth.can_renew() {
                    renewed = true;
                    continue;
                }
                return Err(FetchError::Permanent(format!(
                    "{what}: the server answered {status}{}",
                    if renewed { " with a fresh token" } else { "" }
                )));
            }
            if status == StatusCode::TOO_MANY_REQUESTS
                || status.is_server_error()
                || status == StatusCode::REQUEST_TIMEOUT
            {
                return Err(FetchError::Transient {
                    reason: format!("{what}: the server answered {status}"),
                    retry_after: retry_after(response.headers()),
                });
            }
            if status.is_redirection() {
                return Err(FetchError::Permanent(format!(
                    "{what}: the server redirects ({status}); configure the final base URL"
                )));
            }
            if !status.is_success() {
                return Err(FetchError::Permanent(format!(
                    "{what}: the server answered {status}"
                )));
            }
            let date = response
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                .map(|d| d.with_timezone(&Utc));
            let bytes = read_capped(response, MAX_PAGE_BYTES, &what).await?;
            let text = String::from_utf8(bytes)
                .map_err(|_| FetchError::transient(format!("{what}: the body is not UTF-8")))?;
            return Ok((text, date));
        }
    }
}

/// Reads a body up to `max` bytes; a body cut short is transient, one too
/// large permanent.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
    what: &str,
) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > max {
                    return Err(FetchError::Permanent(format!(
                        "{what}: the body is larger than {} MiB; lower page_size",
                        max >> 20
                    )));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(classify_send_error(&e, what)),
        }
    }
}

/// A reqwest failure as a fetch error: all of them are transient (timeouts,
/// refused or reset connections, a body cut short). The URL is left out of
/// the message: next links may carry the server's session keys.
pub(crate) fn classify_send_error(e: &reqwest::Error, what: &str) -> FetchError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the body was cut short"
    } else {
        "the request failed"
    };
    FetchError::transient(format!("{what}: {kind}"))
}

/// `Retry-After` as delta-seconds or an HTTP date (a date in the past is 0).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let later = (Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        h.insert(reqwest::header::RETRY_AFTER, later.parse().expect("header"));
        let got = retry_after(&h).expect("a date");
        assert!(
            got > Duration::from_secs(100) && got <= Duration::from_secs(120),
            "{got:?}"
        );
        h.insert(
            reqwest::header::RETRY_AFTER,
            "soon".parse().expect("header"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn cursors_have_a_fixed_width() {
        let a = DateTime::parse_from_rfc3339("2026-01-01T10:00:05Z")
            .expect("t")
            .with_timezone(&Utc);
        let b = DateTime::parse_from_rfc3339("2026-01-01T10:00:05.5+00:00")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(format_cursor(a), "2026-01-01T10:00:05.000Z");
        assert_eq!(format_cursor(b), "2026-01-01T10:00:05.500Z");
        assert!(format_cursor(a) < format_cursor(b));
    }
}
