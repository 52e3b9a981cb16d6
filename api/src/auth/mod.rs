//! Authentication: a bearer JWT in, a verified [`Caller`] (who and why) out.
//!
//! Accepted: RS256 and ES256 only, signed by a configured issuer's key (PEM files or
//! a JWKS URL, fetched with reqwest, cached, refreshed when a token names an unknown
//! `kid`). Required claims: `iss`, `aud`, `exp`, `iat`, `jti`, `sub`
//! (operator), `agency`, `role`, `purpose`; `nbf` is checked when present (an
//! OpenID provider's JWT access tokens, RFC 9068, need not carry it). This
//! module never trusts a claim before the signature is checked, except `iss` to
//! choose whose keys to check with.
//!
//! It must never log a token or a claim's value beyond operator and agency ids.

mod jwks;
pub mod keys;

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use policy::{AgencyKind, Purpose, Requester, Role};
use serde::{Deserialize, Serialize};

use crate::config::{AuthConfig, IssuerConfig};
pub use jwks::JwksCache;

/// The verified caller of one request. Put in the GraphQL context; resolvers
/// read it with `ctx.data::<Caller>()?`.
#[derive(Clone, Debug)]
pub struct Caller {
    pub requester: Requester,
    /// The token's `jti`, for the access log.
    pub token_id: String,
    pub issuer: String,
}

/// The claims Rete's tokens carry (used to mint them; checked on the way in).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub agency: String,
    pub role: String,
    pub purpose: String,
}

/// The token's claims once verified and understood; the agency's kind is looked
/// up by the caller of [`Verifier::verify`].
#[derive(Clone, Debug)]
pub struct VerifiedClaims {
    pub issuer: String,
    pub operator: String,
    pub agency: String,
    pub role: Role,
    pub purpose: Purpose,
    pub token_id: String,
}

impl VerifiedClaims {
    pub fn into_caller(self, agency_kind: AgencyKind) -> Caller {
        Caller {
            requester: Requester {
                agency: self.agency,
                agency_kind,
                operator: self.operator,
                role: self.role,
                purpose: self.purpose,
            },
            token_id: self.token_id,
            issuer: self.issuer,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is refused: the message says why, for the client.
    #[error("{0}")]
    Rejected(String),
    /// The token could not be checked now (the issuer's keys are unreachable).
    #[error("{0}")]
    KeysUnavailable(String),
}

fn rejected(msg: impl Into<String>) -> AuthError {
    AuthError::Rejected(msg.into())
}

/// A public key a token may be checked with.
#[derive(Clone)]
pub struct VerifyingKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

struct Issuer {
    name: String,
    keys: HashMap<String, VerifyingKey>,
    jwks: Option<JwksCache>,
}

/// Checks tokens against the configured issuers.
pub struct Verifier {
    audience: String,
    leeway: u64,
    issuers: Vec<Issuer>,
}

const ACCEPTED: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

impl Verifier {
    /// Build from configuration; PEM files are read now, JWKS on first use.
    pub fn from_config(cfg: &AuthConfig) -> Result<Verifier, String> {
        let mut issuers = Vec::new();
        for (i, iss) in cfg.issuers.iter().enumerate() {
            issuers.push(Issuer::from_config(i, iss, cfg)?);
        }
        Ok(Verifier {
            audience: cfg.audience.clone(),
            leeway: cfg.leeway_seconds,
            issuers,
        })
    }

    /// Trust one more issuer with fixed keys (the demo key, tests).
    pub fn add_static_issuer(&mut self, issuer: &str, keys: HashMap<String, VerifyingKey>) {
        self.issuers.push(Issuer {
            name: issuer.to_string(),
            keys,
            jwks: None,
        });
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedClaims, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| header_error(token, e.kind()))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(rejected(format!(
                "token algorithm {:?} is not accepted (RS256 or ES256 only)",
                header.alg
            )));
        }
        // Read `iss` unverified only to choose whose keys verify the signature.
        let unverified = jsonwebtoken::dangerous::insecure_decode::<IssOnly>(token)
            .map_err(|e| rejected(format!("malformed token: {}", describe(e.kind()))))?;
        let iss = unverified
            .claims
            .iss
            .ok_or_else(|| rejected("token is missing claim `iss`"))?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.name == iss)
            .ok_or_else(|| rejected(format!("token issuer `{iss}` is not trusted")))?;
        let key = issuer.key_for(header.kid.as_deref(), header.alg).await?;
        if key.alg != header.alg {
            return Err(rejected(format!(
                "token algorithm {:?} does not match the key's {:?}",
                header.alg, key.alg
            )));
        }
        let mut v = Validation::new(key.alg);
        v.set_issuer(&[issuer.name.as_str()]);
        v.set_audience(&[self.audience.as_str()]);
        // `iat` is required by `IncomingClaims`; `nbf`, when present, is checked.
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_exp = true;
        v.validate_nbf = true;
        v.leeway = self.leeway;
        let data = jsonwebtoken::decode::<IncomingClaims>(token, &key.key, &v)
            .map_err(|e| rejected(format!("token rejected: {}", describe(e.kind()))))?;
        let c = data.claims;
        let role: Role = c
            .role
            .parse()
            .map_err(|e: policy::ParseError| rejected(format!("token claim `role`: {e}")))?;
        let purpose: Purpose = c
            .purpose
            .parse()
            .map_err(|e: policy::ParseError| rejected(format!("token claim `purpose`: {e}")))?;
        if c.sub.trim().is_empty() || c.agency.trim().is_empty() || c.jti.trim().is_empty() {
            return Err(rejected(
                "token claims `sub`, `agency` and `jti` must not be empty",
            ));
        }
        Ok(VerifiedClaims {
            issuer: c.iss,
            operator: c.sub,
            agency: c.agency,
            role,
            purpose,
            token_id: c.jti,
        })
    }
}

impl Issuer {
    fn from_config(i: usize, iss: &IssuerConfig, cfg: &AuthConfig) -> Result<Issuer, String> {
        let mut keys = HashMap::new();
        for (j, k) in iss.keys.iter().enumerate() {
            let at = format!("auth.issuers[{i}].keys[{j}].file");
            let pem = std::fs::read(&k.file)
                .map_err(|e| format!("{at}: cannot read key file {}: {e}", k.file.display()))?;
            if !pem.starts_with(b"-----BEGIN PUBLIC KEY-----")
                && !String::from_utf8_lossy(&pem).contains("-----BEGIN PUBLIC KEY-----")
            {
                return Err(format!(
                    "{at}: key file {} is not a PEM public key (expected `-----BEGIN PUBLIC KEY-----`, SPKI)",
                    k.file.display()
                ));
            }
            let (alg, key) = match k.alg.as_str() {
                "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_pem(&pem)),
                "ES256" => (Algorithm::ES256, DecodingKey::from_ec_pem(&pem)),
                other => return Err(format!("key {}: algorithm {other} is not allowed", k.kid)),
            };
            let key = key.map_err(|e| {
                format!(
                    "{at}: key file {} is not a usable {} public key: {e}",
                    k.file.display(),
                    k.alg
                )
            })?;
            keys.insert(k.kid.clone(), VerifyingKey { alg, key });
        }
        let jwks = iss.jwks_url.as_ref().map(|url| {
            JwksCache::new(
                url.clone(),
                Duration::from_secs(cfg.jwks_cache_seconds),
                Duration::from_millis(cfg.jwks_timeout_ms),
            )
        });
        Ok(Issuer {
            name: iss.issuer.clone(),
            keys,
            jwks,
        })
    }

    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<VerifyingKey, AuthError> {
        match kid {
            Some(kid) => {
                if let Some(k) = self.keys.get(kid) {
                    return Ok(k.clone());
                }
                match &self.jwks {
                    Some(jwks) => jwks.key(kid).await?.ok_or_else(|| {
                        rejected(format!(
                            "token key id `{kid}` is not among the issuer's keys"
                        ))
                    }),
                    None => Err(rejected(format!(
                        "token key id `{kid}` is not among the issuer's keys"
                    ))),
                }
            }
            None => {
                // Without a kid, accept only when exactly one fixed key fits.
                let mut fitting = self.keys.values().filter(|k| k.alg == alg);
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => Ok(k.clone()),
                    _ => Err(rejected(
                        "token has no `kid` header and the issuer has several keys",
                    )),
                }
            }
        }
    }
}

/// Claims as they arrive, before the vocabulary is checked (`aud`, `exp`, `nbf`
/// are checked by jsonwebtoken from the raw claims).
#[derive(Deserialize)]
struct IncomingClaims {
    iss: String,
    sub: String,
    #[allow(dead_code)]
    iat: i64,
    jti: String,
    agency: String,
    role: String,
    purpose: String,
}

#[derive(Deserialize)]
struct IssOnly {
    iss: Option<String>,
}

/// Why the header could not be read. jsonwebtoken cannot parse a header whose
/// `alg` it does not know (`none`, ...): name that algorithm rather than call it
/// bad claims and list HMAC algorithms as expected.
fn header_error(token: &str, kind: &ErrorKind) -> AuthError {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let alg = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .and_then(|h| h.get("alg").and_then(|a| a.as_str()).map(str::to_string));
    match (kind, alg) {
        (ErrorKind::Json(_), Some(alg)) if alg.parse::<Algorithm>().is_err() => rejected(format!(
            "token algorithm `{alg}` is not accepted (RS256 or ES256 only)"
        )),
        (ErrorKind::Json(e), _) => rejected(format!("malformed token: bad header ({e})")),
        (other, _) => rejected(format!("malformed token: {}", describe(other))),
    }
}

/// Why a token failed, in words a client can act on.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidToken => "not a JWT".into(),
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "algorithm not accepted".into()
        }
        ErrorKind::ExpiredSignature => "expired (`exp` is in the past)".into(),
        ErrorKind::ImmatureSignature => "not yet valid (`nbf` is in the future)".into(),
        ErrorKind::InvalidIssuer => "wrong issuer (`iss`)".into(),
        ErrorKind::InvalidAudience => "wrong audience (`aud`)".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("missing claim `{c}`"),
        ErrorKind::Json(e) => format!("bad claims ({e})"),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) => "not a JWT (bad encoding)".into(),
        other => format!("{other:?}"),
    }
}
