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
pub mod engine;
pub mod model;

pub use connector::{Connector, FetchError, Mapped, Page, RawItem};
pub use engine::{
    Engine, EngineError, Instance, NoProgress, Progress, RunReport, RunStatus, Trigger,
};
pub use model::{EntityKind, ExternalKey, Inbound, Record};
