//! The hospital connector: HL7 FHIR R4 over REST (kind `fhir`).
//!
//! - [`map`]: one FHIR resource to Rete records, pure (Patient, Encounter,
//!   Condition, Consent; other types are skipped, bad ones rejected).
//! - [`bundle`]: a Bundle file or search page to raw items, resolving
//!   `urn:uuid:` references within the Bundle.
//! - `transport`: paging through searches by `_lastUpdated` with reqwest,
//!   and how failures are classified; `auth`: bearer or SMART Backend
//!   Services.
//! - [`peer`] (feature `test-peer`): a FHIR server for tests, on 127.0.0.1.
//!
//! Keys use the instance's normalised base URL as their system, so a Bundle
//! file exported by a hospital and a REST sync of the same hospital land on
//! the same records. `docs/connectors-fhir.md` holds the tables and rules.

mod auth;
pub mod bundle;
pub mod map;
#[cfg(feature = "test-peer")]
pub mod peer;
mod transport;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::config::{ConfigError, FhirConfig, InstanceConfig, invalid};
use crate::connector::{Connector, FetchError, Mapped, Page, RawItem};

pub use bundle::{BundleError, bundle_items};
pub use map::{MapContext, Signal, map_item, normalise_base};

/// A hospital's FHIR R4 server as a [`Connector`].
pub struct FhirConnector {
    ctx: MapContext,
    transport: transport::Transport,
}

impl FhirConnector {
    /// Builds the connector of instance `name`: checks the instance, reads its
    /// secrets (token or private key) and checks that every signal names a
    /// real referral reason, urgency and subject role.
    pub fn new(
        name: &str,
        instance: &InstanceConfig,
        cfg: &FhirConfig,
    ) -> Result<FhirConnector, ConfigError> {
        instance.validate(name)?;
        let prefix = format!("connectors.{name}");
        let mut signals = Vec::with_capacity(cfg.signals.len());
        for (i, s) in cfg.signals.iter().enumerate() {
            let key = |k: &str| format!("{prefix}.signals[{i}].{k}");
            let system = s.system.trim().trim_end_matches('/').to_string();
            if system.is_empty() {
                return Err(invalid(key("system"), "must not be empty"));
            }
            let code = s.code.trim().to_string();
            if code.is_empty() {
                return Err(invalid(key("code"), "must not be empty"));
            }
            signals.push(Signal {
                system,
                code,
                reason: word(&s.reason, &key("reason"))?,
                urgency: word(&s.urgency, &key("urgency"))?,
                subject_role: word(&s.subject_role, &key("subject_role"))?,
            });
        }
        let auth = auth::Auth::from_config(&cfg.auth, &prefix)?;
        let transport = transport::Transport::new(&prefix, cfg, auth)?;
        Ok(FhirConnector {
            ctx: MapContext::new(transport.base(), signals),
            transport,
        })
    }

    /// The system of this instance's keys (its normalised base URL).
    pub fn system(&self) -> &str {
        &self.ctx.system
    }

    /// What the mapping uses (for a Bundle file import through this instance).
    pub fn map_context(&self) -> &MapContext {
        &self.ctx
    }
}

/// One of the data model's enum words (`DOMESTIC_VIOLENCE`, `HIGH`...).
fn word<T: DeserializeOwned>(value: &str, key: &str) -> Result<T, ConfigError> {
    serde_json::from_value(serde_json::Value::String(value.to_string()))
        .map_err(|_| invalid(key, format!("`{value}` is not a known value")))
}

impl Connector for FhirConnector {
    fn kind(&self) -> &'static str {
        "fhir"
    }

    fn upstream(&self) -> String {
        self.ctx.system.clone()
    }

    fn fetch<'a>(
        &'a self,
        cursor: Option<&'a str>,
        next: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, FetchError>> {
        Box::pin(self.transport.fetch(cursor, next))
    }

    fn map(&self, item: &RawItem) -> Mapped {
        map_item(&self.ctx, item)
    }
}
