//! HTTP plumbing the pulling connectors share (FHIR, court): reading a
//! capped body, and classifying what went wrong as transient or permanent.
//! It owns no connection and never logs a URL, a header or a body.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use crate::connector::FetchError;

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

/// What an answer's status means: 2xx is fine; 408, 429 and 5xx are
/// transient (with the server's `Retry-After`); a redirect or another status
/// is permanent. `peer` names the other side in messages ("the court").
pub(crate) fn check_status(
    status: reqwest::StatusCode,
    headers: &HeaderMap,
    what: &str,
    peer: &str,
) -> Result<(), FetchError> {
    use reqwest::StatusCode;
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
    {
        return Err(FetchError::Transient {
            reason: format!("{what}: {peer} answered {status}"),
            retry_after: retry_after(headers),
        });
    }
    if status.is_redirection() {
        return Err(FetchError::Permanent(format!(
            "{what}: {peer} redirects ({status}); configure the final base URL"
        )));
    }
    if !status.is_success() {
        return Err(FetchError::Permanent(format!(
            "{what}: {peer} answered {status}"
        )));
    }
    Ok(())
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
}
