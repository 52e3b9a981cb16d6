//! The wire towards partners (docs/outbound.md, "Transports").
//!
//! - court: `POST {base}/messages`, `application/jose`, a compact JWS (ES256)
//!   of the envelope signed with the hub's key;
//! - third sector: `POST {endpoint}/messages`, JSON, HMAC-SHA256 over
//!   `{timestamp}.{nonce}.{body}` with the instance's shared secret.
//!
//! Both carry `Idempotency-Key: <message id>`. 200, 201, 202 and 409 (already
//! received) acknowledge; 408, 429, 5xx, timeouts and connection failures are
//! worth retrying; any other status is the receiver refusing the message. It
//! must never put a response body into an error verbatim beyond a short,
//! printable excerpt (a partner's error page is not ours to log whole).

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::audit::HubKeys;

/// How a message reaches one partner.
#[derive(Clone)]
pub enum Transport {
    /// The juvenile court: JWS with the hub's key.
    Court { url: String, audience: String },
    /// A community or cooperative: HMAC-signed JSON.
    ThirdSector { url: String, secret: Vec<u8> },
}

impl std::fmt::Debug for Transport {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Court { url, audience } => f
                .debug_struct("Court")
                .field("url", url)
                .field("audience", audience)
                .finish(),
            Transport::ThirdSector { url, .. } => f
                .debug_struct("ThirdSector")
                .field("url", url)
                .finish_non_exhaustive(),
        }
    }
}

/// What the receiver answered.
#[derive(Debug, PartialEq, Eq)]
pub struct Ack {
    pub status: u16,
    /// The receiver's receipt, when it gave one.
    pub receipt: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later.
    #[error("{0}")]
    Transient(String),
    /// The receiver refused the message; retrying will not help.
    #[error("{0}")]
    Permanent(String),
}

impl Transport {
    /// The route of a connector instance that receives messages (`None`
    /// for kinds that only pull or take uploads, and for a community with
    /// no endpoint): its wire and its own timeout.
    pub fn route(
        name: &str,
        instance: &connectors::config::InstanceConfig,
    ) -> Result<Option<super::Route>, connectors::config::ConfigError> {
        use connectors::config::KindConfig;
        let (transport, timeout_ms) = match &instance.kind {
            KindConfig::Court(c) => (
                Transport::Court {
                    url: c.base_url.clone(),
                    audience: instance.agency.clone(),
                },
                c.timeout_ms,
            ),
            KindConfig::ThirdSector(t) => match &t.endpoint {
                Some(url) => (
                    Transport::ThirdSector {
                        url: url.clone(),
                        secret: t
                            .secret
                            .read(&format!("connectors.{name}.secret"))?
                            .into_bytes(),
                    },
                    t.timeout_ms,
                ),
                None => return Ok(None),
            },
            KindConfig::Fhir(_) | KindConfig::Consultorio(_) => return Ok(None),
        };
        Ok(Some(super::Route {
            instance: name.to_string(),
            transport,
            timeout_ms: Some(timeout_ms),
        }))
    }

    fn url(&self) -> String {
        let base = match self {
            Transport::Court { url, .. } | Transport::ThirdSector { url, .. } => url,
        };
        format!("{}/messages", base.trim_end_matches('/'))
    }

    /// Send one envelope; `id` is its idempotency key.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        keys: &HubKeys,
        id: Uuid,
        envelope: &Value,
        timeout: Duration,
    ) -> Result<Ack, SendError> {
        let request = client
            .post(self.url())
            .timeout(timeout)
            .header("Idempotency-Key", id.to_string());
        let request = match self {
            Transport::Court { audience, .. } => {
                let now = chrono::Utc::now().timestamp();
                let mut claims = envelope.clone();
                if let Value::Object(o) = &mut claims {
                    o.insert("iss".into(), crate::audit::HUB_ISSUER.into());
                    o.insert("aud".into(), audience.clone().into());
                    o.insert("iat".into(), now.into());
                    o.insert("jti".into(), id.to_string().into());
                }
                let jws = crate::audit::signing::sign(keys, &claims)
                    .map_err(|e| SendError::Permanent(format!("cannot sign the message: {e}")))?;
                request
                    .header(reqwest::header::CONTENT_TYPE, "application/jose")
                    .body(jws)
            }
            Transport::ThirdSector { secret, .. } => {
                let body = serde_json::to_vec(envelope)
                    .map_err(|e| SendError::Permanent(format!("cannot encode the message: {e}")))?;
                let ts = chrono::Utc::now().timestamp();
                let nonce = nonce();
                let signature =
                    connectors::third_sector::signature::sign(secret, ts, &nonce, &body);
                request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("X-Rete-Timestamp", ts.to_string())
                    .header("X-Rete-Nonce", nonce)
                    .header("X-Rete-Signature", signature)
                    .body(body)
            }
        };
        let response = request.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            SendError::Transient(format!("{} {what}", self.url()))
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        classify(status, &text)
    }
}

#[derive(Deserialize)]
struct Receipt {
    receipt: Option<String>,
}

/// The outcome of a receiver's answer.
pub fn classify(status: StatusCode, body: &str) -> Result<Ack, SendError> {
    let code = status.as_u16();
    match code {
        200 | 201 | 202 | 409 => Ok(Ack {
            status: code,
            receipt: serde_json::from_str::<Receipt>(body)
                .ok()
                .and_then(|r| r.receipt)
                .map(|r| excerpt(&r)),
        }),
        408 | 425 | 429 | 500..=599 => Err(SendError::Transient(format!(
            "the receiver answered {code}: {}",
            excerpt(body)
        ))),
        _ => Err(SendError::Permanent(format!(
            "the receiver refused the message ({code}): {}",
            excerpt(body)
        ))),
    }
}

/// At most 200 printable characters of a partner's answer.
fn excerpt(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
}

/// 128 random bits, hex.
fn nonce() -> String {
    let mut b = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // No randomness: a v4 uuid draws from the OS generator too.
        return Uuid::new_v4().simple().to_string();
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_retries_and_refusals_are_told_apart() {
        assert_eq!(
            classify(StatusCode::CREATED, r#"{"receipt":"R-1"}"#),
            Ok(Ack {
                status: 201,
                receipt: Some("R-1".into())
            })
        );
        assert!(classify(StatusCode::CONFLICT, "").is_ok());
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, "down"),
            Err(SendError::Transient(_))
        ));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, ""),
            Err(SendError::Transient(_))
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, "bad signature"),
            Err(SendError::Permanent(m)) if m.contains("401") && m.contains("bad signature")
        ));
    }

    #[test]
    fn a_partners_answer_is_cut_short_and_printable() {
        let long = format!("a\u{7}b{}", "x".repeat(1000));
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), 200);
        assert!(e.starts_with("abx"));
    }
}
