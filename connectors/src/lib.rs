//! Rete's connectors: one [`Connector`] trait (map and transport only) and one
//! sync engine that owns scheduling, cursors, idempotency, retries, the circuit
//! breaker, dead letters and run history (`docs/connectors.md`).
//!
//! This crate writes inbound records into the hub's tables through the
//! `entities` crate; it never serves data. Data that leaves the hub goes through
//! the `api` crate's services, so that the policy and the access log apply.

pub mod apply;
mod breaker;
pub mod config;
pub mod connector;
pub mod consultorio;
pub mod court;
pub mod engine;
pub mod fhir;
pub mod fiscal_code;
mod http;
pub mod model;
pub mod third_sector;

pub use connector::{Connector, FetchError, Mapped, Page, RawItem};
pub use engine::{
    Engine, EngineError, Instance, NoProgress, Progress, RunReport, RunStatus, Trigger,
};
pub use model::{EntityKind, ExternalKey, Inbound, Record};

use std::sync::Arc;

use config::{ConfigError, InstanceConfig, KindConfig};

/// Builds the connector of a configured instance (reads its secrets).
pub fn build(name: &str, config: &InstanceConfig) -> Result<Arc<dyn Connector>, ConfigError> {
    match &config.kind {
        KindConfig::Consultorio(c) => Ok(Arc::new(consultorio::ConsultorioConnector::new(
            name, config, c,
        )?)),
        KindConfig::Fhir(fhir) => Ok(Arc::new(fhir::FhirConnector::new(name, config, fhir)?)),
        KindConfig::Court(c) => Ok(Arc::new(court::CourtConnector::new(name, config, c)?)),
        KindConfig::ThirdSector(t) => Ok(Arc::new(third_sector::ThirdSectorConnector::new(
            name, config, t,
        )?)),
    }
}

/// Builds the engine for every configured instance.
pub fn instances(
    configs: &std::collections::BTreeMap<String, InstanceConfig>,
) -> Result<Vec<Instance>, ConfigError> {
    configs
        .iter()
        .map(|(name, config)| {
            Ok(Instance {
                name: name.clone(),
                config: config.clone(),
                connector: build(name, config)?,
            })
        })
        .collect()
}

/// Reads a file of an instance's kind (a FHIR Bundle, a consultorio CSV
/// export) into raw items; the error names what is wrong with the file.
pub fn read_file(config: &InstanceConfig, bytes: &[u8]) -> Result<Vec<RawItem>, String> {
    match &config.kind {
        KindConfig::Consultorio(_) => consultorio::parse_export(bytes).map_err(|e| e.to_string()),
        KindConfig::Fhir(_) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| format!("the file is not UTF-8 text: {e}"))?;
            fhir::bundle_items(text).map_err(|e| e.to_string())
        }
        KindConfig::Court(_) => Err(
            "a court instance takes no files: its orders are pulled from the court's feed (rete sync run)"
                .to_string(),
        ),
        KindConfig::ThirdSector(_) => Err(
            "a third-sector instance takes no files: its community sends each event as a signed \
             webhook (POST /connectors/NAME/webhook)"
                .to_string(),
        ),
    }
}
