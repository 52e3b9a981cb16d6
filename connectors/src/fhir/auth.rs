//! How the FHIR connector authenticates: nothing, a static bearer token, or
//! SMART Backend Services (OAuth2 `client_credentials` with a JWT client
//! assertion signed by our private key, `private_key_jwt`).
//!
//! Tokens, keys and assertions are secrets: they are never logged, never put
//! in an error message, and never sent anywhere but the configured token URL
//! and FHIR base URL.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::config::{ConfigError, FhirAuth, SecretSource, invalid};
use crate::connector::FetchError;

use crate::http::{classify_send_error, read_capped, retry_after};

/// Lifetime of a client assertion (SMART asks for at most five minutes).
const ASSERTION_SECONDS: i64 = 240;
/// A cached token is renewed this long before it expires.
const RENEW_MARGIN: Duration = Duration::from_secs(30);
/// `expires_in` assumed when a token response has none.
const DEFAULT_EXPIRES_IN: u64 = 300;

pub(crate) enum Auth {
    None,
    /// A static token; "refreshing" it reads its source again, so a rotated
    /// token file is picked up without a restart.
    Bearer {
        source: SecretSource,
        key: String,
        token: Mutex<String>,
    },
    Smart(Box<Smart>),
}

pub(crate) struct Smart {
    token_url: String,
    client_id: String,
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    scope: String,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    token: String,
    renew_at: Instant,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
}

impl Auth {
    /// Reads the secrets the config names; `prefix` is the instance's config
    /// key (`connectors.NAME`), used in errors.
    pub(crate) fn from_config(auth: &FhirAuth, prefix: &str) -> Result<Auth, ConfigError> {
        Ok(match auth {
            FhirAuth::None => Auth::None,
            FhirAuth::Bearer { token } => {
                let key = format!("{prefix}.auth.token");
                let value = token.read(&key)?;
                Auth::Bearer {
                    source: token.clone(),
                    key,
                    token: Mutex::new(value),
                }
            }
            FhirAuth::SmartBackend {
                token_url,
                client_id,
                private_key,
                key_id,
                alg,
                scope,
            } => {
                let key_name = format!("{prefix}.auth.private_key");
                let pem = private_key.read(&key_name)?;
                let alg = match alg.as_str() {
                    "RS384" => Algorithm::RS384,
                    "RS256" => Algorithm::RS256,
                    "ES384" => Algorithm::ES384,
                    "ES256" => Algorithm::ES256,
                    other => {
                        return Err(invalid(
                            format!("{prefix}.auth.alg"),
                            format!("`{other}` is not supported (RS384, ES384, RS256, ES256)"),
                        ));
                    }
                };
                let key = match alg {
                    Algorithm::RS384 | Algorithm::RS256 => {
                        EncodingKey::from_rsa_pem(pem.as_bytes())
                    }
                    _ => EncodingKey::from_ec_pem(pem.as_bytes()),
                }
                .map_err(|_| {
                    invalid(
                        &key_name,
                        format!("is not a PEM private key for {alg:?} (PKCS#8 for EC keys)"),
                    )
                })?;
                if client_id.trim().is_empty() {
                    return Err(invalid(
                        format!("{prefix}.auth.client_id"),
                        "must not be empty",
                    ));
                }
                let smart = Smart {
                    token_url: token_url.clone(),
                    client_id: client_id.clone(),
                    kid: key_id.clone(),
                    alg,
                    key,
                    scope: scope.clone(),
                    cached: Mutex::new(None),
                };
                // Sign once now, so a key of the wrong kind fails at start.
                smart.assertion().map_err(|_| {
                    invalid(&key_name, format!("cannot sign {alg:?} with this key"))
                })?;
                Auth::Smart(Box::new(smart))
            }
        })
    }

    /// The `Authorization` header value, if any; `renew` forces a fresh token
    /// (after a 401 or 403).
    pub(crate) async fn header(
        &self,
        http: &reqwest::Client,
        renew: bool,
    ) -> Result<Option<String>, FetchError> {
        match self {
            Auth::None => Ok(None),
            Auth::Bearer { source, key, token } => {
                let mut t = token.lock().await;
                if renew {
                    *t = source
                        .read(key)
                        .map_err(|e| FetchError::Permanent(e.to_string()))?;
                }
                Ok(Some(format!("Bearer {t}")))
            }
            Auth::Smart(s) => Ok(Some(format!("Bearer {}", s.token(http, renew).await?))),
        }
    }

    /// Whether a 401/403 can be answered by fetching a token again.
    pub(crate) fn can_renew(&self) -> bool {
        !matches!(self, Auth::None)
    }
}

impl Smart {
    fn assertion(&self) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: &self.token_url,
            exp: now + ASSERTION_SECONDS,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }

    async fn token(&self, http: &reqwest::Client, renew: bool) -> Result<String, FetchError> {
        let mut cached = self.cached.lock().await;
        if !renew
            && let Some(c) = cached.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        *cached = None;
        let assertion = self
            .assertion()
            .map_err(|_| FetchError::Permanent("cannot sign the client assertion".into()))?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &assertion)
            .append_pair("scope", &self.scope)
            .finish();
        let response = http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| classify_send_error(&e, "token endpoint"))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let bytes = read_capped(response, 1 << 20, "token endpoint").await?;
        let parsed: Option<TokenResponse> = serde_json::from_slice(&bytes).ok();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(FetchError::Transient {
                reason: format!("token endpoint answered {status}"),
                retry_after: wait,
            });
        }
        if !status.is_success() {
            let code = parsed
                .and_then(|p| p.error)
                .filter(|e| e.len() <= 64 && e.chars().all(|c| c.is_ascii_graphic()))
                .unwrap_or_else(|| "no OAuth error code".into());
            return Err(FetchError::Permanent(format!(
                "token endpoint refused the client ({status}, {code})"
            )));
        }
        let Some(t) = parsed else {
            return Err(FetchError::transient(
                "token endpoint sent a body that is not JSON",
            ));
        };
        let Some(token) = t.access_token.filter(|t| !t.is_empty()) else {
            return Err(FetchError::Permanent(
                "token endpoint sent no access_token".into(),
            ));
        };
        if let Some(tt) = &t.token_type
            && !tt.eq_ignore_ascii_case("bearer")
        {
            return Err(FetchError::Permanent(format!(
                "token endpoint sent a token of type {tt}, not bearer"
            )));
        }
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(DEFAULT_EXPIRES_IN));
        let margin = RENEW_MARGIN.min(lifetime / 2);
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + lifetime - margin,
        });
        Ok(token)
    }
}
