//! Consents and break-glass grants, as the API shows them.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entities::{break_glass_grant, consent};
use policy::DataClass;

use super::{Agency, Person, agency};
use crate::graphql::enums;
use crate::graphql::guard::{Record, RequestContext, dataClass, reveal};

fn words<T: std::str::FromStr>(v: &serde_json::Value) -> Vec<T> {
    v.as_array()
        .map(|a| a.iter().filter_map(|w| w.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// A consent to share a person's data with some recipients for some purposes.
pub struct Consent(pub consent::Model);

impl Consent {
    async fn show<T>(&self, ctx: &Context<'_>, f: impl FnOnce(&consent::Model) -> T) -> Result<T> {
        reveal(
            ctx,
            Record::Person(self.0.subject_id),
            DataClass::Administrative,
            || f(&self.0),
        )
        .await
    }
}

#[Object]
impl Consent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        let id = self.show(ctx, |m| m.subject_id).await?;
        Ok(ctx
            .data::<RequestContext>()?
            .loaders
            .person
            .load_one(id)
            .await?
            .map(Person))
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn given_by(&self, ctx: &Context<'_>) -> Result<Option<enums::ConsentGiver>> {
        self.show(ctx, |m| Some(m.given_by.into())).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn data_classes(&self, ctx: &Context<'_>) -> Result<Option<Vec<enums::DataClass>>> {
        self.show(ctx, |m| {
            Some(
                words::<DataClass>(&m.data_classes)
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            )
        })
        .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn recipient_agencies(&self, ctx: &Context<'_>) -> Result<Option<Vec<Agency>>> {
        let ids: Vec<String> = self.show(ctx, |m| words(&m.recipient_agencies)).await?;
        let mut out = Vec::new();
        for id in ids {
            out.extend(agency(ctx, &id).await?);
        }
        Ok(Some(out))
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn recipient_kinds(&self, ctx: &Context<'_>) -> Result<Option<Vec<enums::AgencyKind>>> {
        self.show(ctx, |m| {
            Some(
                words::<policy::AgencyKind>(&m.recipient_kinds)
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            )
        })
        .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn purposes(&self, ctx: &Context<'_>) -> Result<Option<Vec<enums::Purpose>>> {
        self.show(ctx, |m| {
            Some(
                words::<policy::Purpose>(&m.purposes)
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            )
        })
        .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn valid_from(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, |m| Some(m.valid_from)).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn valid_until(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, |m| m.valid_until).await
    }

    /// Set once withdrawn: the consent stops counting on the next request.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn withdrawn_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, |m| m.withdrawn_at).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn evidence_ref(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, |m| m.evidence_ref.clone()).await
    }
}

/// A short-lived emergency access to one case, reviewed afterwards.
pub struct BreakGlassGrant(pub break_glass_grant::Model);

impl BreakGlassGrant {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        f: impl FnOnce(&break_glass_grant::Model) -> T,
    ) -> Result<T> {
        reveal(
            ctx,
            Record::Case(self.0.case_id),
            DataClass::Administrative,
            || f(&self.0),
        )
        .await
    }
}

#[Object]
impl BreakGlassGrant {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The case the grant opens (its id).
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn case_id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        self.show(ctx, |m| Some(ID(m.case_id.to_string()))).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self.show(ctx, |m| m.agency_id.clone()).await?;
        agency(ctx, &id).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn operator(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, |m| Some(m.operator.clone())).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn justification(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, |m| Some(m.justification.clone())).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn granted_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, |m| Some(m.granted_at)).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn expires_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, |m| Some(m.expires_at)).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn review(&self, ctx: &Context<'_>) -> Result<Option<enums::BreakGlassReview>> {
        self.show(ctx, |m| Some(m.review.into())).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn review_note(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, |m| m.review_note.clone()).await
    }
}
