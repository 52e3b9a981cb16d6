//! Orders of the juvenile court (decreti) and what they mandate.

use async_graphql::{Context, ID, Object, Result};
use chrono::NaiveDate;
use entities::{court_order, court_order_mandate};
use policy::DataClass;
use sea_orm::EntityTrait;

use super::{Agency, Case, agency};
use crate::graphql::enums;
use crate::graphql::guard::{Record, RequestContext, dataClass, reveal};

/// An order of the Tribunale per i minorenni on a case.
#[derive(Clone)]
pub struct CourtOrder(pub court_order::Model);

impl CourtOrder {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        class: DataClass,
        f: impl FnOnce(&court_order::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Case(self.0.case_id), class, || f(&self.0)).await
    }
}

#[Object]
impl CourtOrder {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn case(&self, ctx: &Context<'_>) -> Result<Option<Case>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| m.case_id)
            .await?;
        let rc = ctx.data::<RequestContext>()?;
        Ok(rc.loaders.case.load_one(id).await?.map(Case))
    }

    /// The court that issued it.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn court(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| m.court_id.clone())
            .await?;
        agency(ctx, &id).await
    }

    /// Numero di ruolo / docket number.
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn docket_number(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Judicial, |m| Some(m.docket_number.clone()))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn kind(&self, ctx: &Context<'_>) -> Result<Option<enums::CourtOrderKind>> {
        self.show(ctx, DataClass::Judicial, |m| Some(m.kind.into()))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn issued_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Judicial, |m| Some(m.issued_on))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn summary(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Judicial, |m| Some(m.summary.clone()))
            .await
    }

    /// The order's text.
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn text(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Judicial, |m| m.text.clone())
            .await
    }

    /// What the order asks of which agency, and by when.
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn mandates(&self, ctx: &Context<'_>) -> Result<Option<Vec<Mandate>>> {
        self.show(ctx, DataClass::Judicial, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.mandates_of_order.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(|m| Mandate {
                    model: m,
                    case_id: self.0.case_id,
                })
                .collect(),
        ))
    }
}

/// A mandate of an order: an agency must do something, often by a deadline
/// (e.g. a report to the court).
pub struct Mandate {
    pub model: court_order_mandate::Model,
    pub case_id: uuid::Uuid,
}

impl Mandate {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        f: impl FnOnce(&court_order_mandate::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Case(self.case_id), DataClass::Judicial, || {
            f(&self.model)
        })
        .await
    }
}

#[Object]
impl Mandate {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self.show(ctx, |m| m.agency_id.clone()).await?;
        agency(ctx, &id).await
    }

    /// The order that gives the mandate (and through it, the case).
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn order(&self, ctx: &Context<'_>) -> Result<Option<CourtOrder>> {
        let id = self.show(ctx, |m| m.order_id).await?;
        let rc = ctx.data::<RequestContext>()?;
        Ok(court_order::Entity::find_by_id(id)
            .one(&rc.db)
            .await
            .map_err(crate::error::ApiError::from)?
            .map(CourtOrder))
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn description(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, |m| Some(m.description.clone())).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn due_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, |m| m.due_on).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn fulfilled_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, |m| m.fulfilled_on).await
    }
}
