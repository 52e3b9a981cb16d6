//! The GraphQL schema: queries, mutations, types, and the decision point every
//! personal field goes through (`guard`).

pub mod audit;
pub mod chain_state;
pub mod enums;
pub mod guard;
pub mod inputs;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod types;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};

use crate::config::Limits;

pub type RSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

fn builder(limits: &Limits) -> SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    let mut b = Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .register_output_type::<types::Agency>()
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(64)
        .limit_directives(20);
    if !limits.introspection {
        b = b.disable_introspection();
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

/// The SDL, as `rete schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    builder(&Limits::default()).finish().sdl()
}
