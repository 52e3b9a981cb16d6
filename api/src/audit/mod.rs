//! The tamper-evident access log (DESIGN.md section 4).
//!
//! - [`trail`]: what one operation touched and how the policy decided, gathered
//!   by the guard while the operation runs;
//! - [`chain`]: the canonical encoding, the group-commit appender and the walk
//!   that verifies the chain;
//! - [`signing`]: the hub's signed statements (head, retention checkpoint,
//!   export bundle), JWS with the hub's ES256 key;
//! - [`store`]: retention pruning and export (JSON Lines, CSV, bundle).
//!
//! Two hub secrets, both files created on first use (mode 0600) and shared by
//! every process of one hub: the HMAC key that digests disclosed values, and
//! the signing key. Neither is ever written to the log.

pub mod chain;
pub mod command;
pub mod signing;
pub mod store;
pub mod trail;

use std::path::Path;

use aws_lc_rs::hmac;
use jsonwebtoken::jwk::Jwk;

pub use chain::{AppendError, AuditLog, Draft, Expecting};

use crate::auth::keys::{self, SigningKey};

/// Set only by the `bench-no-audit` feature (benchmarks of the log's cost): the
/// hub then writes no entry. The binary refuses to serve unless told it is a
/// benchmark (see `main.rs`).
pub const NO_AUDIT: bool = cfg!(feature = "bench-no-audit");

/// Who an entry is of: the requester's agency, operator, role and purpose.
#[derive(Clone, Copy, Debug)]
pub struct Author<'a> {
    pub agency: &'a str,
    pub operator: &'a str,
    pub role: policy::Role,
    pub purpose: policy::Purpose,
}

impl<'a> From<&'a crate::auth::Caller> for Author<'a> {
    fn from(c: &'a crate::auth::Caller) -> Author<'a> {
        Author {
            agency: &c.requester.agency,
            operator: &c.requester.operator,
            role: c.requester.role,
            purpose: c.requester.purpose,
        }
    }
}

/// The `kid` of the hub's signing key.
pub const HUB_KID: &str = "rete-hub-es256";
/// The `iss` of the hub's signed statements.
pub const HUB_ISSUER: &str = "rete-hub";

/// The hub's audit secrets.
pub struct HubKeys {
    /// HMAC-SHA-256 key of the digests of disclosed values.
    pub digest: hmac::Key,
    pub signer: SigningKey,
}

/// The hub's public key, all an auditor needs to check signed statements.
#[derive(Clone)]
pub struct PublicKey(pub Jwk);

impl HubKeys {
    /// Fresh keys (tests, and hubs that keep none on disk).
    pub fn generate() -> Result<HubKeys, String> {
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret).map_err(|_| "no randomness".to_string())?;
        Ok(HubKeys {
            digest: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            signer: SigningKey::generate_es256(HUB_KID)?,
        })
    }

    /// Read the secrets, creating missing files.
    pub fn load_or_create(secret_file: &Path, signing_key_file: &Path) -> Result<HubKeys, String> {
        let secret = if secret_file.exists() {
            let text = std::fs::read_to_string(secret_file)
                .map_err(|e| format!("cannot read {}: {e}", secret_file.display()))?;
            let bytes = hex::decode(text.trim())
                .map_err(|_| format!("{} must hold the secret as hex", secret_file.display()))?;
            if bytes.len() < 32 {
                return Err(format!(
                    "{} holds {} bytes; the secret needs at least 32",
                    secret_file.display(),
                    bytes.len()
                ));
            }
            bytes
        } else {
            let mut secret = [0u8; 32];
            aws_lc_rs::rand::fill(&mut secret).map_err(|_| "no randomness".to_string())?;
            keys::write_private(secret_file, &format!("{}\n", hex::encode(secret)))?;
            tracing::warn!(file = %secret_file.display(), "created a new access-log digest secret");
            secret.to_vec()
        };
        Ok(HubKeys {
            digest: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            signer: keys::load_or_create_key(signing_key_file, HUB_KID)?,
        })
    }

    pub fn public(&self) -> Result<PublicKey, String> {
        Ok(PublicKey(self.signer.public_jwk()?))
    }
}

impl PublicKey {
    /// Read a public key written by `rete audit public-key` (a JWK).
    pub fn from_file(path: &Path) -> Result<PublicKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map(PublicKey)
            .map_err(|e| format!("{} is not a JWK: {e}", path.display()))
    }
}
