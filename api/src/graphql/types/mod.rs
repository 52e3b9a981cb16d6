//! GraphQL object types. Each wraps a sea-orm model (models never derive GraphQL
//! types) and exposes fields one by one: a new column is invisible until a field
//! is written for it here, with its data class.

pub mod case;
pub mod consent;
pub mod court;
pub mod outbound;
pub mod person;
pub mod placement;
pub mod referral;

use async_graphql::{Context, ID, Object, Result};
use chrono::NaiveDate;

use super::enums;
use crate::auth::Caller;
use crate::http::AgencyDirectory;

pub use case::{Case, CaseNote, CaseSubject, Intervention, TeamMember};
pub use consent::{BreakGlassGrant, Consent};
pub use court::{CourtOrder, Mandate};
pub use outbound::{CourtReport, OutboundMessage};
pub use person::{HealthEvent, Person};
pub use placement::{Facility, Placement, PlacementEvent, Verification};
pub use referral::{Referral, ReferralSubject};

/// An agency of the network. The directory of agencies is public within the
/// network: it holds no personal data.
#[derive(Clone)]
pub struct Agency(pub entities::agency::Model);

#[Object]
impl Agency {
    /// Stable slug, e.g. `polo-nord`.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> Result<enums::AgencyKind> {
        Ok(self.0.kind.parse::<policy::AgencyKind>()?.into())
    }
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
}

/// Look an agency up in the directory; unknown ids resolve to `null`.
pub(crate) async fn agency(ctx: &Context<'_>, id: &str) -> Result<Option<Agency>> {
    let dir = ctx.data::<AgencyDirectory>()?;
    Ok(dir.get(id).await?.map(Agency))
}

/// The caller, as the hub understood the token.
pub struct Me;

#[Object]
impl Me {
    /// The operator (`sub`).
    async fn operator(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(ctx.data::<Caller>()?.requester.operator.clone())
    }
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = ctx.data::<Caller>()?.requester.agency.clone();
        agency(ctx, &id).await
    }
    async fn role(&self, ctx: &Context<'_>) -> Result<enums::Role> {
        Ok(ctx.data::<Caller>()?.requester.role.into())
    }
    async fn purpose(&self, ctx: &Context<'_>) -> Result<enums::Purpose> {
        Ok(ctx.data::<Caller>()?.requester.purpose.into())
    }
    /// The token's `jti`.
    async fn token_id(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(ctx.data::<Caller>()?.token_id.clone())
    }
    /// The version of the agreement deciding this request's fields.
    async fn policy_version(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(ctx
            .data::<super::guard::RequestContext>()?
            .policy
            .version
            .clone())
    }
    /// The hub's idea of today (dates such as "due" are computed against it).
    async fn today(&self, ctx: &Context<'_>) -> Result<NaiveDate> {
        Ok(ctx.data::<super::guard::RequestContext>()?.today)
    }
}

/// Parse an `ID` argument as a UUID, naming the argument when it is not one.
pub(crate) fn uuid_arg(
    field: &str,
    id: &ID,
) -> std::result::Result<uuid::Uuid, crate::error::ApiError> {
    uuid::Uuid::parse_str(id.as_str()).map_err(|_| {
        crate::error::ApiError::bad_input(field, format!("`{}` is not a valid id", id.as_str()))
    })
}
