//! Rete's access decisions, as a pure function.
//!
//! This crate owns the vocabulary of the network agreement (agency kinds, roles,
//! purposes, data classes, relationships to a case, legal bases), the agreement
//! itself ([`Policy`], read from the TOML file the agencies sign and validated
//! by [`Policy::from_toml`]), and the one decision point, [`decide`]:
//! `(policy, requester, facts, data class) -> Decision`. Both the API and the
//! connectors call it, so a field is disclosed by the same rule whichever way it
//! leaves the hub. Around it: [`explain`] (why), [`diff`] (what a new agreement
//! would change) and [`links_granting`] (which links may search a class).
//!
//! It must never do I/O: no database, no HTTP, no clock, no async. Everything a
//! decision depends on arrives as an argument, the time included, so decisions
//! can be tested for all inputs and explained after the fact.
//!
//! Deny by default: a class that no rule grants, or that a rule grants but no
//! legal basis supports, is withheld.

mod agreement;
mod decision;
mod diff;
mod explain;
mod vocabulary;

pub use agreement::{Agreement, Duty, Policy, PolicyError, Problem, Rule, Signatory};
pub use decision::{
    BreakGlassFact, ConsentFact, Decision, DenyReason, Facts, LegalBasis, MandateFact, Requester,
    decide, links_granting,
};
pub use diff::{Change, Grant, GrantChange, Recipient, diff, grants};
pub use explain::{BasisFailure, BasisTrace, Explanation, Miss, RuleTrace, explain, timestamp};
pub use vocabulary::{
    ACT_REASON_SYSTEM, AgencyKind, BasisKind, DataClass, ParseError, Purpose, PurposeOfUse,
    Relationship, Role,
};
