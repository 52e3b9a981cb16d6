//! Apollo Federation v2: `Case`, `Person`, `Agency` and `Facility` are entities
//! keyed by `id`, so a gateway can join them with an agency's own subgraph.
//!
//! `_entities` does not pass through the root resolvers, so the entity
//! resolvers here do exactly what the root resolvers do, and nothing more:
//! - a case or person the caller has no link to is "not found", with the same
//!   error whether or not it exists (`RequestContext::reachable`);
//! - records load through the request's DataLoaders, so a batch of
//!   representations costs one statement per loader, not one per
//!   representation;
//! - every field of the entity is then decided by `guard::reveal` as on any
//!   other path, so withheld fields are `FIELD_WITHHELD` and the access log
//!   records what left, with the original caller (the gateway forwards the
//!   caller's token; the hub never trusts the gateway itself).
//!
//! Two gaps of async-graphql 7.2's `_entities` are closed here:
//! - it resolves the representations with `try_join_all`, so an error returned
//!   by one entity resolver would null the whole list (and, the list being
//!   non-null, the whole answer). A refused representation therefore resolves
//!   to `null`, and its `NOT_FOUND` error is added at its own path,
//!   `_entities.<index>`;
//! - it resolves each entity without its index in the path, so a field error
//!   would say `_entities.riskLevel` (a gateway could not tell which entity it
//!   belongs to) and the access log's digests would name a path that is not in
//!   the response. Each entity is returned as [`Entity`], which resolves the
//!   record at `_entities.<index>`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Any, Context, ContextSelectionSet, ErrorExtensions, ID, OutputType, PathSegment, Positioned,
    Result, ServerResult, Value,
};
use uuid::Uuid;

use super::guard::{Record, RequestContext};
use super::types::{Agency, Case, Facility, Person, agency};
use crate::error::ApiError;

/// The representations of the request's `_entities` field, indexed once, and
/// the positions already claimed by an entity resolver.
#[derive(Default)]
pub struct EntityBatch {
    index: OnceLock<Representations>,
    claimed: Mutex<HashMap<(String, String), usize>>,
}

#[derive(Default)]
struct Representations {
    count: usize,
    /// (`__typename`, `id`) -> positions in `representations`.
    positions: HashMap<(String, String), Vec<usize>>,
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl EntityBatch {
    fn representations(&self, ctx: &Context<'_>) -> &Representations {
        self.index.get_or_init(|| {
            let Ok((_, reps)) = ctx.param_value::<Vec<Any>>("representations", None) else {
                return Representations::default();
            };
            let mut positions: HashMap<(String, String), Vec<usize>> = HashMap::new();
            for (i, Any(rep)) in reps.iter().enumerate() {
                let Value::Object(fields) = rep else { continue };
                let typename = fields.get("__typename").and_then(key_text);
                let id = fields.get("id").and_then(key_text);
                if let (Some(t), Some(id)) = (typename, id) {
                    positions.entry((t, id)).or_default().push(i);
                }
            }
            Representations {
                count: reps.len(),
                positions,
            }
        })
    }

    /// The position of the representation an entity resolver was called for.
    /// async-graphql passes only the key, so calls for the same (type, id)
    /// take that key's positions in turn: their answers are the same record
    /// for the same caller, so which call gets which position does not matter.
    fn claim(&self, ctx: &Context<'_>, typename: &str, id: &ID) -> Option<usize> {
        let key = (typename.to_string(), id.to_string());
        let positions = self.representations(ctx).positions.get(&key)?;
        let mut claimed = self.claimed.lock().ok()?;
        let n = claimed.entry(key).or_default();
        let at = positions.get(*n).copied();
        *n += 1;
        at
    }
}

/// A record resolved for `_entities`, at its position in the answer. Its
/// GraphQL type is the record's own (`Case`, `Person`...).
pub struct Entity<T> {
    index: usize,
    record: T,
}

impl<T: OutputType> OutputType for Entity<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let at = ctx.with_index(self.index);
        self.record.resolve(&at, field).await
    }
}

/// Refuse a batch larger than a page: a representation costs what a row of a
/// page costs, and pages are bounded too.
fn check_batch(ctx: &Context<'_>, rc: &RequestContext) -> Result<()> {
    let count = rc.entities.representations(ctx).count;
    if count as u64 > rc.max_page_size {
        return Err(ApiError::bad_input(
            "representations",
            format!(
                "at most {} representations per request, got {count}",
                rc.max_page_size
            ),
        )
        .extend());
    }
    Ok(())
}

/// Report a refused representation at its position and resolve it to `null`.
/// The message is the root resolvers' NOT_FOUND: it says nothing about whether
/// the record exists.
fn refuse<T>(ctx: &Context<'_>, index: Option<usize>, typename: &str, id: &ID) -> Option<T> {
    let what = format!("{} {}", typename.to_lowercase(), id.as_str());
    let mut e = ctx.set_error_path(
        ApiError::not_found(what)
            .extend()
            .into_server_error(ctx.item.pos),
    );
    if let Some(i) = index {
        e.path.push(PathSegment::Index(i));
    }
    ctx.add_error(e);
    None
}

/// Resolve one representation: its position, then the record or a refusal.
async fn resolve<T, F>(
    ctx: &Context<'_>,
    typename: &str,
    id: ID,
    find: F,
) -> Result<Option<Entity<T>>>
where
    F: AsyncFnOnce(&RequestContext, &ID) -> Result<Option<T>>,
{
    let rc = ctx.data::<RequestContext>()?;
    check_batch(ctx, rc)?;
    let index = rc.entities.claim(ctx, typename, &id);
    Ok(match (index, find(rc, &id).await?) {
        (Some(index), Some(record)) => Some(Entity { index, record }),
        _ => refuse(ctx, index, typename, &id),
    })
}

fn parse(id: &ID) -> Option<Uuid> {
    Uuid::parse_str(id.as_str()).ok()
}

/// A case for the gateway: as `Query.case`, reachable or not found.
pub async fn case(ctx: &Context<'_>, id: ID) -> Result<Option<Entity<Case>>> {
    resolve(ctx, "Case", id, async |rc, id| {
        Ok(match parse(id) {
            Some(uuid) if rc.reachable(Record::Case(uuid)).await? => {
                rc.loaders.case.load_one(uuid).await?.map(Case)
            }
            _ => None,
        })
    })
    .await
}

/// A person for the gateway: as `Query.person`, reachable or not found.
pub async fn person(ctx: &Context<'_>, id: ID) -> Result<Option<Entity<Person>>> {
    resolve(ctx, "Person", id, async |rc, id| {
        Ok(match parse(id) {
            Some(uuid) if rc.reachable(Record::Person(uuid)).await? => {
                rc.loaders.person.load_one(uuid).await?.map(Person)
            }
            _ => None,
        })
    })
    .await
}

/// A facility for the gateway. The facility directory is network information
/// (as `Query.facilities`); its location is decided field by field.
pub async fn facility(ctx: &Context<'_>, id: ID) -> Result<Option<Entity<Facility>>> {
    resolve(ctx, "Facility", id, async |rc, id| {
        Ok(match parse(id) {
            Some(uuid) => rc.loaders.facility.load_one(uuid).await?.map(Facility),
            None => None,
        })
    })
    .await
}

/// An agency for the gateway: the directory of the network (as
/// `Query.agencies`).
pub async fn agency_by_id(ctx: &Context<'_>, id: ID) -> Result<Option<Entity<Agency>>> {
    resolve(ctx, "Agency", id, async |_, id| {
        agency(ctx, id.as_str()).await
    })
    .await
}
