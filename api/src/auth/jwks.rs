//! A cached JWKS: fetched on first use, refreshed when stale or when a token names
//! a `kid` we do not know (at most once per `MIN_REFRESH`, so a flood of made-up
//! kids cannot turn the hub into a traffic generator against the issuer).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use super::{AuthError, VerifyingKey};

const MIN_REFRESH: Duration = Duration::from_secs(10);

pub struct JwksCache {
    url: String,
    ttl: Duration,
    client: reqwest::Client,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, VerifyingKey>,
    fetched_at: Option<Instant>,
    /// The last fetch attempt, failed or not: the refresh limit counts both.
    tried_at: Option<Instant>,
    /// Why the last attempt failed, until one succeeds.
    failure: Option<String>,
}

impl JwksCache {
    pub fn new(url: String, ttl: Duration, timeout: Duration) -> JwksCache {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        JwksCache {
            url,
            ttl,
            client,
            state: Mutex::new(State::default()),
        }
    }

    /// The key with this kid, refreshing the set if it is stale or lacks the kid.
    pub async fn key(&self, kid: &str) -> Result<Option<VerifyingKey>, AuthError> {
        let mut state = self.state.lock().await;
        let stale = state.fetched_at.is_none_or(|t| t.elapsed() > self.ttl);
        let unknown = !state.keys.contains_key(kid);
        // A failed attempt counts too, or an issuer that is down would be called
        // again for every token.
        let may_refresh = state.tried_at.is_none_or(|t| t.elapsed() > MIN_REFRESH);
        if (stale || unknown) && may_refresh {
            state.tried_at = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    state.keys = keys;
                    state.fetched_at = Some(Instant::now());
                    state.failure = None;
                }
                Err(e) => {
                    state.failure = Some(e.to_string());
                    // Stale keys we already hold still serve while the issuer is down.
                    if state.keys.is_empty() || unknown {
                        return Err(e);
                    }
                    tracing::warn!(url = %self.url, error = %e, "JWKS refresh failed; using cached keys");
                }
            }
        } else if unknown && let Some(why) = &state.failure {
            // The issuer failed moments ago: say so again without calling it.
            return Err(AuthError::KeysUnavailable(why.clone()));
        }
        Ok(state.keys.get(kid).cloned())
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>, AuthError> {
        let unavailable = |e: String| {
            AuthError::KeysUnavailable(format!(
                "cannot fetch the issuer's signing keys from {}: {e}",
                self.url
            ))
        };
        let resp = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("HTTP {}", resp.status())));
        }
        let set: JwkSet = resp
            .json()
            .await
            .map_err(|e| unavailable(format!("not a JWKS ({})", e.without_url())))?;
        Ok(keys_of(&set))
    }
}

/// The RS256 / ES256 keys of a set that have a kid; others are skipped.
pub fn keys_of(set: &JwkSet) -> HashMap<String, VerifyingKey> {
    let mut out = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                if ec.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => continue,
        };
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            out.insert(kid, VerifyingKey { alg, key });
        }
    }
    out
}
