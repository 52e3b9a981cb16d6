//! The hub's signed statements about its log, as compact JWS (ES256) with the
//! hub's key: a head (`rete audit head --sign`), a retention checkpoint, and
//! the range of an export bundle. An auditor checks them with the public key
//! alone.

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{HUB_ISSUER, HubKeys, PublicKey};

/// "At `iat`, the log's last entry was `seq` with hash `hash`."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadClaims {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub seq: i64,
    pub hash: String,
}

/// "Entries 1..=`seq` were pruned; the last of them had hash `hash`."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointClaims {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub seq: i64,
    pub hash: String,
    pub pruned: i64,
}

/// "Entries `first_seq..=last_seq` follow the entry with hash `anchor` and end
/// with hash `last_hash`; the head was then `head_seq` / `head_hash`."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleClaims {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub first_seq: i64,
    pub anchor: String,
    pub last_seq: i64,
    pub last_hash: String,
    pub head_seq: i64,
    pub head_hash: String,
}

pub const HEAD: &str = "access-log-head";
pub const CHECKPOINT: &str = "access-log-checkpoint";
pub const BUNDLE: &str = "access-log-bundle";

pub fn sign<T: Serialize>(keys: &HubKeys, claims: &T) -> Result<String, String> {
    let mut header = Header::new(keys.signer.alg);
    header.kid = Some(keys.signer.kid.clone());
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, claims, &keys.signer.encoding).map_err(|e| e.to_string())
}

fn verify<T: DeserializeOwned>(token: &str, key: &PublicKey, sub: &str) -> Result<T, String> {
    let decoding =
        DecodingKey::from_jwk(&key.0).map_err(|e| format!("unusable public key: {e}"))?;
    let mut v = Validation::new(Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_issuer(&[HUB_ISSUER]);
    v.sub = Some(sub.to_string());
    jsonwebtoken::decode::<T>(token, &decoding, &v)
        .map(|d| d.claims)
        .map_err(|e| format!("the signed {sub} statement does not verify with the hub's key: {e}"))
}

pub fn head_claims(seq: i64, hash: &str) -> HeadClaims {
    HeadClaims {
        iss: HUB_ISSUER.into(),
        sub: HEAD.into(),
        iat: chrono::Utc::now().timestamp(),
        seq,
        hash: hash.to_string(),
    }
}

pub fn verify_head(token: &str, key: &PublicKey) -> Result<HeadClaims, String> {
    verify(token, key, HEAD)
}

pub fn verify_checkpoint(token: &str, key: &PublicKey) -> Result<CheckpointClaims, String> {
    verify(token, key, CHECKPOINT)
}

pub fn verify_bundle(token: &str, key: &PublicKey) -> Result<BundleClaims, String> {
    verify(token, key, BUNDLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_verify_with_the_hubs_key_only() -> Result<(), String> {
        let keys = HubKeys::generate()?;
        let other = HubKeys::generate()?;
        let jws = sign(&keys, &head_claims(7, "abc"))?;
        let claims = verify_head(&jws, &keys.public()?)?;
        assert_eq!((claims.seq, claims.hash.as_str()), (7, "abc"));
        assert!(verify_head(&jws, &other.public()?).is_err());
        // A head is not a checkpoint.
        assert!(verify_checkpoint(&jws, &keys.public()?).is_err());
        // A changed payload breaks the signature.
        let parts: Vec<&str> = jws.split('.').collect();
        let forged = sign(&other, &head_claims(8, "abc"))?;
        let forged_payload = forged.split('.').nth(1).unwrap_or_default();
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(verify_head(&tampered, &keys.public()?).is_err());
        Ok(())
    }
}
