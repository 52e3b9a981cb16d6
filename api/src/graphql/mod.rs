//! The GraphQL schema: queries, mutations, types, and the decision point every
//! personal field goes through (`guard`).

pub mod audit;
pub mod chain_state;
pub mod enums;
pub mod federation;
pub mod guard;
pub mod inputs;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod sync;
pub mod types;

use async_graphql::{EmptySubscription, SDLExportOptions, Schema, SchemaBuilder};

use crate::config::Limits;

pub type RSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

fn builder(limits: &Limits) -> SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    let mut b = Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .register_output_type::<types::Agency>()
        .enable_federation()
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(64)
        .limit_directives(20);
    if !limits.introspection_enabled() {
        // A hub that hides its schema does not spell it out in its errors
        // either: "Did you mean \"cases\"?" would answer what `__schema` may not.
        b = b.disable_introspection().disable_suggestions();
    }
    b
}

/// The schema; per-request data (caller, loaders) is added to each request.
pub fn build_schema(
    limits: &Limits,
    directory: crate::http::AgencyDirectory,
    verifications: chain_state::Verifications,
) -> RSchema {
    builder(limits).data(directory).data(verifications).finish()
}

/// How the SDL is written: as a Federation v2 subgraph, exactly what
/// `_service { sdl }` answers a gateway.
pub fn sdl_options() -> SDLExportOptions {
    SDLExportOptions::new().federation().compose_directive()
}

/// The SDL, as `rete schema` prints it and `schema.graphql` holds it: the
/// subgraph SDL a gateway composes (`@link` to federation v2, `@key` on the
/// entities).
pub fn sdl() -> String {
    builder(&Limits::default())
        .finish()
        .sdl_with_options(sdl_options())
}
