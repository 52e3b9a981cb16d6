//! The Rete hub: configuration, CLI, the axum router and the GraphQL schema.
//!
//! Data leaves the hub only through this crate, and every personal field it serves
//! passes through `graphql::guard`, which asks the `policy` crate. Writers live in
//! `services`; resolvers never write.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod demo;
pub mod error;
pub mod graphql;
pub mod http;
pub mod impact;
pub mod outbox;
pub mod rate;
pub mod services;
pub mod sync;
pub mod upload;
pub mod webhook;

pub use config::Config;
pub use http::{AppState, app};
