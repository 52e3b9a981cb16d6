//! sea-orm entities of Rete's canonical schema (see `docs/data-model.md`).
//!
//! This crate owns exactly one thing: the Rust mirror of the tables the
//! `migration` crate creates — one module per table (`Entity`, `Model`,
//! `ActiveModel`, `Column`, `Relation`) plus the stored enumerations in
//! [`enums`].
//!
//! It must never:
//! - contain business logic, access policy or validation beyond what the
//!   column types express (that lives in the `policy` and `api` crates);
//! - carry GraphQL or other API types or derives;
//! - be used to create or alter the schema: the hand-written migrations are
//!   the single source of truth for DDL, and these entities follow them.
//!
//! Agency kind, role, purpose and data class are plain `String` columns here;
//! their enums belong to the policy crate and the database CHECKs restrict
//! their values.
//!
//! Storage notes: ids are `Uuid` (except `agency.id`, a slug), `*_on` columns
//! are `Date` (`chrono::NaiveDate`), `*_at` columns (and consent validity
//! bounds) are `DateTimeUtc`, JSON columns are `serde_json::Value` arrays of
//! strings.

pub mod enums;

pub mod access_log_checkpoint;
pub mod access_log_entry;
pub mod access_log_touch;
pub mod access_log_verification;
pub mod agency;
pub mod break_glass_grant;
pub mod case_file;
pub mod case_note;
pub mod case_protection;
pub mod case_subject;
pub mod case_team_member;
pub mod consent;
pub mod court_order;
pub mod court_order_mandate;
pub mod court_report;
pub mod external_ref;
pub mod facility;
pub mod health_event;
pub mod intervention;
pub mod outbox_message;
pub mod person;
pub mod placement;
pub mod placement_event;
pub mod placement_guest;
pub mod referral;
pub mod referral_reason;
pub mod referral_subject;
pub mod sync_cursor;
pub mod sync_dead_letter;
pub mod sync_lease;
pub mod sync_run;
pub mod verification;
pub mod webhook_nonce;
