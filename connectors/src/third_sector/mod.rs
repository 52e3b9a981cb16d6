//! The third-sector connector (kind `third-sector`): reception communities and
//! cooperatives push signed webhooks about their guests to the hub
//! (`docs/connectors-third-sector.md`).
//!
//! - [`signature`]: the HMAC signature of both directions (the hub's
//!   `POST /connectors/NAME/webhook` checks it; the outbox signs with it).
//! - [`event`]: a webhook body to a placement event record, pure.
//! - [`peer`] (feature `test-peer`): a community's server for tests.
//!
//! This module never receives HTTP itself (the `api` crate's webhook
//! endpoint does, and records nonces) and never writes the database (the
//! engine applies the records). A community serves nothing to pull:
//! [`Connector::fetch`] answers a permanent error.

pub mod event;
#[cfg(feature = "test-peer")]
pub mod peer;
pub mod signature;

use std::time::Duration;

use futures::future::BoxFuture;

use crate::config::{ConfigError, InstanceConfig, MIN_SECRET_BYTES, ThirdSectorConfig, invalid};
use crate::connector::{Connector, FetchError, Mapped, Page, RawItem};
use signature::{SignatureError, SignedHeaders};

/// The HMAC key an instance shares with its community, and how far a
/// request's clock may be from ours. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SharedKey {
    secret: Vec<u8>,
    window_seconds: u64,
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKey")
            .field("secret", &"<redacted>")
            .field("window_seconds", &self.window_seconds)
            .finish()
    }
}

impl SharedKey {
    /// A key of at least [`MIN_SECRET_BYTES`] bytes.
    pub fn new(secret: Vec<u8>, window_seconds: u64) -> Option<SharedKey> {
        (secret.len() >= MIN_SECRET_BYTES).then_some(SharedKey {
            secret,
            window_seconds,
        })
    }

    /// The signature window, either way.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_seconds)
    }

    /// Checks a request the community signed ([`signature::verify`]) at
    /// Unix time `now`.
    pub fn verify(
        &self,
        headers: &SignedHeaders<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        signature::verify(&self.secret, headers, body, now, self.window_seconds)
    }

    /// Signs a message to the community ([`signature::sign`]).
    pub fn sign(&self, timestamp: i64, nonce: &str, body: &[u8]) -> String {
        signature::sign(&self.secret, timestamp, nonce, body)
    }
}

/// A reception community's or cooperative's instance.
#[derive(Debug)]
pub struct ThirdSectorConnector {
    name: String,
    system: String,
    key: SharedKey,
    endpoint: Option<String>,
    timeout: Duration,
}

impl ThirdSectorConnector {
    /// Builds instance `name`: reads its shared secret, which must be at
    /// least [`MIN_SECRET_BYTES`] bytes. Keys' system is `third-sector:NAME`.
    pub fn new(
        name: &str,
        _instance: &InstanceConfig,
        cfg: &ThirdSectorConfig,
    ) -> Result<ThirdSectorConnector, ConfigError> {
        let key_name = format!("connectors.{name}.secret");
        let secret = cfg.secret.read(&key_name)?;
        let key = SharedKey::new(secret.into_bytes(), cfg.window_seconds).ok_or_else(|| {
            invalid(
                &key_name,
                format!(
                    "the shared secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
                ),
            )
        })?;
        Ok(ThirdSectorConnector {
            name: name.to_string(),
            system: format!("third-sector:{name}"),
            key,
            endpoint: cfg
                .endpoint
                .as_ref()
                .map(|e| e.trim_end_matches('/').to_string()),
            timeout: Duration::from_millis(cfg.timeout_ms),
        })
    }

    /// The `system` of every key this instance's records carry.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// Where the hub's messages to the community go (`{endpoint}/messages`).
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The per-request timeout of messages to the community.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A webhook body as the engine takes it: one raw item, named by its
    /// event id when the body has a usable one.
    pub fn item(payload: String) -> RawItem {
        RawItem {
            resource_type: event::RESOURCE_TYPE.to_string(),
            external_id: event::event_id(&payload),
            position: None,
            payload,
        }
    }
}

impl Connector for ThirdSectorConnector {
    fn kind(&self) -> &'static str {
        "third-sector"
    }

    fn upstream(&self) -> String {
        self.system.clone()
    }

    fn fetch<'a>(
        &'a self,
        _cursor: Option<&'a str>,
        _next: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, FetchError>> {
        Box::pin(async move {
            Err(FetchError::Permanent(format!(
                "a third-sector instance is push-only: the community sends signed webhooks \
                 to POST /connectors/{}/webhook, there is nothing to pull",
                self.name
            )))
        })
    }

    fn map(&self, item: &RawItem) -> Mapped {
        if item.resource_type != event::RESOURCE_TYPE {
            return Mapped::Rejected("the item is not a third-sector webhook body".to_string());
        }
        match event::map_event(&self.system, &item.payload) {
            Ok(record) => Mapped::Records(vec![record]),
            Err(reason) => Mapped::Rejected(reason),
        }
    }

    fn shared_key(&self) -> Option<&SharedKey> {
        Some(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KindConfig, SecretSource};

    /// An instance whose secret is in a file holding `secret`.
    fn instance(dir: &tempfile::TempDir, secret: &str) -> (InstanceConfig, ThirdSectorConfig) {
        let file = dir.path().join("secret");
        std::fs::write(&file, secret).expect("write");
        let c: InstanceConfig = toml::from_str(&format!(
            "kind = \"third-sector\"\nagency = \"comunita-aurora\"\nsecret = {{ file = {:?} }}\n",
            file.display().to_string()
        ))
        .expect("parses");
        let KindConfig::ThirdSector(t) = c.kind.clone() else {
            panic!("third-sector expected")
        };
        assert!(matches!(t.secret, SecretSource::File { .. }));
        (c, t)
    }

    #[test]
    fn a_short_secret_is_refused_by_its_key() {
        let dir = tempfile::tempdir().expect("dir");
        let (c, t) = instance(&dir, "too short\n");
        let err = ThirdSectorConnector::new("aurora", &c, &t).expect_err("refused");
        assert_eq!(err.key, "connectors.aurora.secret");
        assert!(err.message.contains("at least 32 bytes"));
        assert!(!err.message.contains("too short"));
    }

    #[tokio::test]
    async fn a_community_has_nothing_to_pull() {
        let dir = tempfile::tempdir().expect("dir");
        let (c, t) = instance(&dir, &"x".repeat(64));
        let conn = ThirdSectorConnector::new("aurora", &c, &t).expect("built");
        let err = conn.fetch(None, None).await.expect_err("push-only");
        assert!(matches!(err, FetchError::Permanent(m) if m.contains("push-only")));
        assert!(
            !format!("{conn:?}").contains("xxxx"),
            "the secret never shows"
        );
        assert_eq!(conn.system(), "third-sector:aurora");
        assert_eq!(t.window_seconds, 300);
    }
}
