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
//! ## The cursor: one instant per resource type
//!
//! The cursor the engine stores is a JSON object with, for each resource
//! type, the highest `meta.lastUpdated` of that type seen so far, written as
//! the server wrote it: `{"Encounter":"2026-03-01T10:00:00.120Z",
//! "Patient":"2026-03-01T09:58:00Z"}`. Each type's next search asks for
//! `_lastUpdated=gt` its own instant, so a run pulls exactly what changed
//! (one instant for all types would be unsafe: a Patient written while a run
//! pulls Encounters would fall below the Encounters' high mark and be
//! missed). A type that had nothing yet has no entry and is pulled whole. A
//! bare instant (`2026-03-01T00:00:00Z`, typed by an operator) applies to
//! every type. The cursor is reported on every page, the types not reached
//! yet keeping their old instant; the engine stores the last one when the
//! run completes.
//!
//! Writes still committing while a search runs but stamped earlier than the
//! instants seen would be missed; a FHIR server that stamps `lastUpdated` at
//! commit has none.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FhirConfig, invalid};
use crate::connector::{FetchError, Page};
use crate::http::{check_status, classify_send_error, read_capped};

use super::auth::Auth;
use super::bundle::{BundleError, read_bundle};

/// The largest page body read; a larger one is refused (lower `page_size`).
const MAX_PAGE_BYTES: usize = 64 << 20;

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
    /// The cursor so far: per type, the highest `meta.lastUpdated` seen (the
    /// run's starting instant for the types not pulled yet).
    #[serde(default)]
    cursor: Cursor,
    /// Items the upstream announced for the types already done.
    #[serde(default)]
    done_total: u64,
    /// What the upstream announced for this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    type_total: Option<u64>,
}

/// Resource type → highest `meta.lastUpdated` seen, as the server wrote it.
type Cursor = BTreeMap<String, String>;

fn instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads a stored cursor: this connector's JSON object, or one bare instant
/// for every type.
fn read_cursor(stored: &str, types: &[String]) -> Result<Cursor, FetchError> {
    let bad = || {
        FetchError::Permanent(format!(
            "the stored cursor `{stored}` is not an instant nor a map of type to instant"
        ))
    };
    if stored.trim_start().starts_with('{') {
        let map: Cursor = serde_json::from_str(stored).map_err(|_| bad())?;
        if map.values().any(|v| instant(v).is_none()) {
            return Err(bad());
        }
        Ok(map)
    } else {
        instant(stored).ok_or_else(bad)?;
        Ok(types
            .iter()
            .map(|t| (t.clone(), stored.trim().to_string()))
            .collect())
    }
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
            None => Position {
                rtype: self.resources.first().cloned().unwrap_or_default(),
                url: None,
                cursor: match cursor {
                    Some(c) => read_cursor(c, &self.resources)?,
                    None => Cursor::new(),
                },
                done_total: 0,
                type_total: None,
            },
            Some(token) => serde_json::from_str::<Position>(token)
                .ok()
                .filter(|p| self.resources.contains(&p.rtype))
                .ok_or_else(|| {
                    FetchError::Permanent("the next token is not one this connector wrote".into())
                })?,
        };
        let first_page = pos.url.is_none();
        let url = match &pos.url {
            None => self.search_url(&pos.rtype, pos.cursor.get(&pos.rtype).map(String::as_str))?,
            Some(u) => self.same_origin(u)?,
        };

        let body = self.get(&url, &pos.rtype).await?;
        let bundle = read_bundle(&body).map_err(|e| match e {
            BundleError::NotJson(m) => FetchError::transient(format!(
                "{} page: invalid or truncated JSON ({m})",
                pos.rtype
            )),
            other => FetchError::Permanent(format!("{} page: {other}", pos.rtype)),
        })?;

        if first_page {
            pos.type_total = bundle.total;
        }
        if let Some((seen, text)) = bundle.max_last_updated {
            let known = pos.cursor.get(&pos.rtype).and_then(|c| instant(c));
            if known.is_none_or(|k| seen > k) {
                pos.cursor.insert(pos.rtype.clone(), text);
            }
        }
        let mut page = Page {
            items: bundle.items,
            next: None,
            high_water: None,
            total: pos.type_total.map(|t| pos.done_total + t),
        };
        if !pos.cursor.is_empty() {
            page.high_water = Some(
                serde_json::to_string(&pos.cursor)
                    .map_err(|e| FetchError::Permanent(format!("cannot write the cursor: {e}")))?,
            );
        }
        if let Some(link) = bundle.next {
            // Checked here too, so a bad link fails on the page that has it.
            let next_url = self.same_origin(&self.absolute(&url, &link)?)?;
            pos.url = Some(next_url.to_string());
            page.next = Some(self.token(&pos)?);
            return Ok(page);
        }
        pos.done_total += pos.type_total.unwrap_or(0);
        let index = self
            .resources
            .iter()
            .position(|r| r == &pos.rtype)
            .unwrap_or(usize::MAX);
        if let Some(next_type) = self.resources.get(index.saturating_add(1)) {
            pos.rtype = next_type.clone();
            pos.url = None;
            pos.type_total = None;
            page.next = Some(self.token(&pos)?);
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
    async fn get(&self, url: &url::Url, rtype: &str) -> Result<String, FetchError> {
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
            check_status(status, response.headers(), &what, "the server")?;
            let bytes = read_capped(response, MAX_PAGE_BYTES, &what).await?;
            let text = String::from_utf8(bytes)
                .map_err(|_| FetchError::transient(format!("{what}: the body is not UTF-8")))?;
            return Ok(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_cursor_is_a_map_or_one_instant_for_every_type() {
        let types = vec!["Patient".to_string(), "Encounter".to_string()];
        let c = read_cursor("2026-01-01T00:00:00Z", &types).expect("instant");
        assert_eq!(
            c.get("Encounter").map(String::as_str),
            Some("2026-01-01T00:00:00Z")
        );
        let c = read_cursor("{\"Patient\":\"2026-01-02T00:00:00.5+01:00\"}", &types).expect("map");
        assert_eq!(c.len(), 1);
        assert!(read_cursor("{\"Patient\":\"soon\"}", &types).is_err());
        assert!(read_cursor("yesterday", &types).is_err());
    }
}
