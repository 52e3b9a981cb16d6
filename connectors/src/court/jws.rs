//! The court's public keys and the verification of the compact JWS each
//! order comes in.
//!
//! What it owns: reading the key file (a PEM `PUBLIC KEY`, a JWK, or a JWK
//! Set while the court rotates keys), matching each key to the algorithms the
//! instance accepts, and deciding whether one JWS is the court's: a known
//! algorithm of the configured list (never `none`, never an HMAC), the right
//! key (`kid`), a signature that verifies, `iss` = the court's agency id,
//! `iat` present. It gives back the verified claims or a reason.
//!
//! What it must never do: trust a key the JWS carries itself (`jwk`, `jku`,
//! `x5u`, `x5c` headers are ignored: the key is the configured one), accept
//! a header parameter marked critical that it does not understand, or put a
//! claim's value in a reason (reasons end up in dead letters and reports;
//! only codes such as `alg`, `kid` and `iss` are named).

use std::path::Path;

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde_json::{Map, Value};

use crate::config::{ConfigError, invalid};

/// Seconds of clock skew allowed on `exp` and `nbf`, when an order has them.
const LEEWAY_SECONDS: u64 = 60;

/// One key of the court, with the algorithms it may verify.
struct CourtKey {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

/// The court's public keys, as the instance's `court_key_file` holds them.
pub struct CourtKeys {
    keys: Vec<CourtKey>,
}

impl std::fmt::Debug for CourtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self
            .keys
            .iter()
            .map(|k| k.kid.as_deref().unwrap_or("(no kid)"))
            .collect();
        f.debug_struct("CourtKeys").field("kids", &kids).finish()
    }
}

/// The algorithm of a configured name (`ES256`...); the config's validation
/// has already limited the names to [`crate::config::COURT_ALGORITHMS`].
fn algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "ES256" => Some(Algorithm::ES256),
        "ES384" => Some(Algorithm::ES384),
        "RS256" => Some(Algorithm::RS256),
        "PS256" => Some(Algorithm::PS256),
        _ => None,
    }
}

fn name(alg: Algorithm) -> String {
    format!("{alg:?}")
}

/// Which algorithms a key of this shape can verify.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Shape {
    P256,
    P384,
    Rsa,
}

impl Shape {
    fn fits(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (Shape::P256, Algorithm::ES256)
                | (Shape::P384, Algorithm::ES384)
                | (Shape::Rsa, Algorithm::RS256 | Algorithm::PS256)
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Shape::P256 => "an EC P-256 key (ES256)",
            Shape::P384 => "an EC P-384 key (ES384)",
            Shape::Rsa => "an RSA key (RS256, PS256)",
        }
    }
}

impl CourtKeys {
    /// Reads the key file; errors name `key` (the config key) and say what is
    /// wrong with the file.
    pub fn read(path: &Path, algorithms: &[String], key: &str) -> Result<CourtKeys, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(key, format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text, algorithms, key)
    }

    /// Reads a key file's text (see [`CourtKeys::read`]).
    pub fn parse(text: &str, algorithms: &[String], key: &str) -> Result<CourtKeys, ConfigError> {
        let accepted: Vec<Algorithm> = algorithms.iter().filter_map(|a| algorithm(a)).collect();
        if accepted.is_empty() {
            return Err(invalid(key, "no accepted algorithm to verify with"));
        }
        let text = text.trim();
        if text.contains("PRIVATE KEY") {
            return Err(invalid(
                key,
                "the file holds a private key: give the court's PUBLIC key (the hub never signs as the court)",
            ));
        }
        let keys = if text.starts_with("-----BEGIN") {
            vec![pem_key(text, &accepted, key)?]
        } else if text.starts_with('{') {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| invalid(key, format!("is neither a PEM nor a JWK: {e}")))?;
            if value.get("keys").is_some() {
                let set: JwkSet = serde_json::from_value(value)
                    .map_err(|e| invalid(key, format!("is not a JWK Set: {e}")))?;
                if set.keys.is_empty() {
                    return Err(invalid(key, "the JWK Set has no key"));
                }
                if set.keys.len() > 1 && set.keys.iter().any(|k| k.common.key_id.is_none()) {
                    return Err(invalid(
                        key,
                        "a JWK Set of several keys must give each its `kid`",
                    ));
                }
                set.keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| jwk_key(k, &accepted, &format!("{key} (keys[{i}])")))
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                let jwk: Jwk = serde_json::from_value(value)
                    .map_err(|e| invalid(key, format!("is not a JWK: {e}")))?;
                vec![jwk_key(&jwk, &accepted, key)?]
            }
        } else {
            return Err(invalid(key, "is neither a PEM public key nor a JWK (JSON)"));
        };
        Ok(CourtKeys { keys })
    }

    /// Verifies a compact JWS of the court whose agency id is `issuer`; the
    /// verified claims, or why the JWS is not the court's.
    pub fn verify(&self, jws: &str, issuer: &str) -> Result<Map<String, Value>, String> {
        let jws = jws.trim();
        let parts: Vec<&str> = jws.split('.').collect();
        if parts.len() != 3 || parts[0].is_empty() || parts[1].is_empty() {
            return Err("not a compact JWS (three base64url parts separated by dots)".into());
        }
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .ok_or("the JWS header is not base64url JSON")?;
        let alg = match header.get("alg") {
            Some(Value::String(a)) => a.as_str(),
            _ => return Err("the JWS header names no alg".into()),
        };
        if alg.eq_ignore_ascii_case("none") || parts[2].is_empty() {
            return Err("unsigned: the JWS has alg none or no signature".into());
        }
        let accepted = self.accepted();
        let Some(alg) = algorithm(alg).filter(|a| accepted.contains(a)) else {
            return Err(format!(
                "alg {} is not accepted (accepted: {})",
                printable(alg),
                accepted
                    .iter()
                    .map(|a| name(*a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if let Some(crit) = header.get("crit") {
            // No extension is understood, so none may be critical (RFC 7515 §4.1.11).
            return Err(format!(
                "the JWS header marks parameters critical ({}) that the hub does not understand",
                printable(&crit.to_string())
            ));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err("the JWS header's kid is not a string".into()),
        };
        let key = self.key_for(kid)?;
        if !key.algorithms.contains(&alg) {
            return Err(format!(
                "alg {} does not fit the court's key{}",
                name(alg),
                key.kid
                    .as_deref()
                    .map(|k| format!(" {}", printable(k)))
                    .unwrap_or_default()
            ));
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["iss"]);
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<Value>(jws, &key.key, &validation)
            .map_err(|e| reason(e.kind(), parts[1], issuer))?
            .claims;
        let Value::Object(claims) = claims else {
            return Err("the JWS payload is not a JSON object".into());
        };
        match claims.get("iat") {
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
            Some(_) => return Err("the claim iat is not a number of seconds".into()),
            None => return Err("the claims have no iat".into()),
        }
        Ok(claims)
    }

    fn accepted(&self) -> Vec<Algorithm> {
        let mut all = Vec::new();
        for k in &self.keys {
            for a in &k.algorithms {
                if !all.contains(a) {
                    all.push(*a);
                }
            }
        }
        all
    }

    fn key_for(&self, kid: Option<&str>) -> Result<&CourtKey, String> {
        // A key with a kid answers only to that kid; a key without one (a PEM
        // file, a single JWK) answers to any.
        if let Some(k) = self
            .keys
            .iter()
            .find(|k| k.kid.is_some() && k.kid.as_deref() == kid)
        {
            return Ok(k);
        }
        if let Some(k) = self.keys.iter().find(|k| k.kid.is_none()) {
            return Ok(k);
        }
        Err(match kid {
            Some(kid) => format!("kid {} is not a key of the court", printable(kid)),
            None => "the JWS names no kid, and the court's key has one".into(),
        })
    }
}

/// A reason for a jsonwebtoken failure; `payload` is the JWS's second part.
fn reason(kind: &ErrorKind, payload: &str, issuer: &str) -> String {
    match kind {
        ErrorKind::InvalidSignature => "the signature does not verify with the court's key".into(),
        ErrorKind::InvalidIssuer => {
            // The signature held (issuers are checked after it), so the claims can be read.
            let claimed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|c| c.get("iss").and_then(Value::as_str).map(printable));
            format!(
                "iss {} is not {issuer}, the court this instance reads",
                claimed.unwrap_or_else(|| "(not a string)".into())
            )
        }
        ErrorKind::MissingRequiredClaim(c) => format!("the claims have no {c}"),
        ErrorKind::InvalidClaimFormat(c) => format!("the claim {c} is not well formed"),
        ErrorKind::ExpiredSignature => "the JWS has expired (exp)".into(),
        ErrorKind::ImmatureSignature => "the JWS is not valid yet (nbf)".into(),
        ErrorKind::Base64(_) => "a part of the JWS is not base64url".into(),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => "the JWS payload is not a JSON object".into(),
        ErrorKind::InvalidAlgorithm => "the JWS's alg does not fit the court's key".into(),
        ErrorKind::InvalidToken => "not a compact JWS".into(),
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            "the court's key cannot verify this JWS".into()
        }
        other => format!("the JWS does not verify ({other:?})"),
    }
}

/// A code taken from a JWS for a reason: at most 64 printable characters.
fn printable(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(64).collect();
    format!("`{clean}`")
}

fn pem_key(text: &str, accepted: &[Algorithm], key: &str) -> Result<CourtKey, ConfigError> {
    let (decoding, shape) = if let Ok(k) = DecodingKey::from_ec_pem(text.as_bytes()) {
        // The key is the uncompressed point: 65 bytes on P-256, 97 on P-384.
        let shape = match k.as_bytes().len() {
            65 => Shape::P256,
            97 => Shape::P384,
            _ => {
                return Err(invalid(
                    key,
                    "the EC key is on a curve the hub does not accept (P-256, P-384)",
                ));
            }
        };
        (k, shape)
    } else if let Ok(k) = DecodingKey::from_rsa_pem(text.as_bytes()) {
        (k, Shape::Rsa)
    } else {
        return Err(invalid(key, "the PEM is not an EC or RSA public key"));
    };
    fitting(None, decoding, shape, accepted, key)
}

fn jwk_key(jwk: &Jwk, accepted: &[Algorithm], key: &str) -> Result<CourtKey, ConfigError> {
    let shape = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Shape::P256,
            EllipticCurve::P384 => Shape::P384,
            _ => {
                return Err(invalid(
                    key,
                    "the EC key is on a curve the hub does not accept (P-256, P-384)",
                ));
            }
        },
        AlgorithmParameters::RSA(_) => Shape::Rsa,
        AlgorithmParameters::OctetKey(_) => {
            return Err(invalid(
                key,
                "the JWK is a shared secret (kty oct): the court must sign with a key pair",
            ));
        }
        AlgorithmParameters::OctetKeyPair(_) => {
            return Err(invalid(
                key,
                "the JWK is an OKP key (EdDSA), which the hub does not accept",
            ));
        }
    };
    let decoding = DecodingKey::from_jwk(jwk)
        .map_err(|e| invalid(key, format!("is not a usable JWK: {e}")))?;
    // A JWK that states its `alg` verifies only that one.
    let accepted: Vec<Algorithm> = match jwk.common.key_algorithm {
        None => accepted.to_vec(),
        Some(ka) => {
            let Some(alg) = key_algorithm(ka).filter(|a| accepted.contains(a)) else {
                return Err(invalid(
                    key,
                    format!("the JWK's alg {ka} is not among the accepted algorithms"),
                ));
            };
            vec![alg]
        }
    };
    fitting(jwk.common.key_id.clone(), decoding, shape, &accepted, key)
}

fn key_algorithm(ka: KeyAlgorithm) -> Option<Algorithm> {
    match ka {
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        _ => None,
    }
}

fn fitting(
    kid: Option<String>,
    key: DecodingKey,
    shape: Shape,
    accepted: &[Algorithm],
    config_key: &str,
) -> Result<CourtKey, ConfigError> {
    let algorithms: Vec<Algorithm> = accepted
        .iter()
        .copied()
        .filter(|a| shape.fits(*a))
        .collect();
    if algorithms.is_empty() {
        return Err(invalid(
            config_key,
            format!(
                "the court's key is {}, which none of the accepted algorithms ({}) uses",
                shape.describe(),
                accepted
                    .iter()
                    .map(|a| name(*a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(CourtKey {
        kid,
        key,
        algorithms,
    })
}
