//! Person and their health events.

use async_graphql::{Context, ID, Object, Result};
use chrono::NaiveDate;
use entities::{health_event, person};
use policy::DataClass;

use super::{Agency, Case, agency};
use crate::graphql::enums;
use crate::graphql::guard::{Record, RequestContext, dataClass, reveal};

/// A person known to the network: a child, a mother, a parent, a guardian.
#[derive(Clone)]
pub struct Person(pub person::Model);

impl Person {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        class: DataClass,
        f: impl FnOnce(&person::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Person(self.0.id), class, || f(&self.0)).await
    }
}

#[Object]
impl Person {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Identity))]
    async fn given_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Identity, |m| Some(m.given_name.clone()))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Identity))]
    async fn family_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Identity, |m| Some(m.family_name.clone()))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Identity))]
    async fn birth_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Identity, |m| m.birth_on).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Identity))]
    async fn sex(&self, ctx: &Context<'_>) -> Result<Option<enums::Sex>> {
        self.show(ctx, DataClass::Identity, |m| Some(m.sex.into()))
            .await
    }

    /// Codice fiscale.
    #[graphql(directive = dataClass::apply(enums::DataClass::Identity))]
    async fn fiscal_code(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Identity, |m| m.fiscal_code.clone())
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Identity))]
    async fn birth_place(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Identity, |m| m.birth_place.clone())
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Migration))]
    async fn citizenship(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Migration, |m| m.citizenship.clone())
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Contact))]
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Contact, |m| m.phone.clone())
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Contact))]
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Contact, |m| m.email.clone())
            .await
    }

    /// Home address (never a shelter's: that is a facility's secret location).
    #[graphql(directive = dataClass::apply(enums::DataClass::Contact))]
    async fn address(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Contact, |m| m.address.clone())
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Contact))]
    async fn municipality(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Contact, |m| m.municipality.clone())
            .await
    }

    /// Languages spoken (ISO 639-1 codes).
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn languages(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        self.show(ctx, DataClass::Social, |m| {
            Some(
                m.languages
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .await
    }

    /// Whether a linguistic-cultural mediator is needed.
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn mediator_needed(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        self.show(ctx, DataClass::Social, |m| Some(m.mediator_needed))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Migration))]
    async fn migration_status(&self, ctx: &Context<'_>) -> Result<Option<enums::MigrationStatus>> {
        self.show(ctx, DataClass::Migration, |m| {
            Some(m.migration_status.into())
        })
        .await
    }

    /// Expiry of the residence permit.
    #[graphql(directive = dataClass::apply(enums::DataClass::Migration))]
    async fn permit_expires_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Migration, |m| m.permit_expires_on)
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::EthnicOrigin))]
    async fn ethnic_origin(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::EthnicOrigin, |m| m.ethnic_origin.clone())
            .await
    }

    /// Health events reported by hospitals and consultori.
    #[graphql(directive = dataClass::apply(enums::DataClass::Health))]
    async fn health_events(&self, ctx: &Context<'_>) -> Result<Option<Vec<HealthEvent>>> {
        self.show(ctx, DataClass::Health, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.health_of_person.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(HealthEvent)
                .collect(),
        ))
    }

    /// Consents about this person (in force, expired and withdrawn).
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn consents(&self, ctx: &Context<'_>) -> Result<Option<Vec<super::Consent>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.consents_of_person.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(super::Consent)
                .collect(),
        ))
    }

    /// The cases this person is a subject of that the caller can reach.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn cases(&self, ctx: &Context<'_>) -> Result<Option<Vec<Case>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let links = rc.loaders.cases_of_person.load_one(self.0.id).await?;
        let ids: Vec<_> = links
            .unwrap_or_default()
            .iter()
            .map(|s| s.case_id)
            .collect();
        let reach = rc.loaders.case_links.load_many(ids.iter().copied()).await?;
        let cases = rc
            .loaders
            .case
            .load_many(
                ids.iter()
                    .copied()
                    .filter(|id| reach.get(id).is_some_and(|l| !l.is_empty())),
            )
            .await?;
        let mut out: Vec<Case> = cases.into_values().map(Case).collect();
        out.sort_by_key(|c| c.0.id);
        Ok(Some(out))
    }
}

/// A health event (ER visit, pregnancy, birth, injury report...).
pub struct HealthEvent(pub health_event::Model);

impl HealthEvent {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        f: impl FnOnce(&health_event::Model) -> T,
    ) -> Result<T> {
        reveal(
            ctx,
            Record::Person(self.0.person_id),
            DataClass::Health,
            || f(&self.0),
        )
        .await
    }
}

#[Object]
impl HealthEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Health))]
    async fn kind(&self, ctx: &Context<'_>) -> Result<Option<enums::HealthEventKind>> {
        self.show(ctx, |m| Some(m.kind.into())).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Health))]
    async fn occurred_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, |m| Some(m.occurred_on)).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Health))]
    async fn summary(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, |m| Some(m.summary.clone())).await
    }

    /// The hospital or consultorio that reported it.
    #[graphql(directive = dataClass::apply(enums::DataClass::Health))]
    async fn source(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self.show(ctx, |m| m.source_agency_id.clone()).await?;
        agency(ctx, &id).await
    }
}
