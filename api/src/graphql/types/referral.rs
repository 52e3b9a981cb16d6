//! Referrals (segnalazioni) and their triage.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entities::{referral, referral_subject};
use policy::DataClass;

use super::{Agency, Case, Person, agency};
use crate::graphql::enums;
use crate::graphql::guard::{Record, RequestContext, dataClass, reveal};

/// A report that a woman or a child is in difficulty, waiting for (or after)
/// triage by the social service it is addressed to.
#[derive(Clone)]
pub struct Referral(pub referral::Model);

impl Referral {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        class: DataClass,
        f: impl FnOnce(&referral::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Referral(self.0.id), class, || f(&self.0)).await
    }
}

#[Object]
impl Referral {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The agency that made the report.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn reporter(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| {
                m.reporter_agency_id.clone()
            })
            .await?;
        agency(ctx, &id).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn reporter_kind(&self, ctx: &Context<'_>) -> Result<Option<enums::AgencyKind>> {
        let kind = self
            .show(ctx, DataClass::Administrative, |m| m.reporter_kind.clone())
            .await?;
        Ok(Some(kind.parse::<policy::AgencyKind>()?.into()))
    }

    /// The operator who made the report.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn reporter_operator(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Administrative, |m| {
            Some(m.reporter_operator.clone())
        })
        .await
    }

    /// The social service that triages it.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn addressed_to(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| {
                m.addressed_to_id.clone()
            })
            .await?;
        agency(ctx, &id).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn channel(&self, ctx: &Context<'_>) -> Result<Option<enums::ReferralChannel>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.channel.into()))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn urgency(&self, ctx: &Context<'_>) -> Result<Option<enums::Urgency>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.urgency.into()))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn received_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.received_at))
            .await
    }

    /// Why the report was made.
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn reasons(&self, ctx: &Context<'_>) -> Result<Option<Vec<enums::ReferralReason>>> {
        self.show(ctx, DataClass::Social, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.reasons_of_referral.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(|r| r.reason.into())
                .collect(),
        ))
    }

    /// What the reporter saw.
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn description(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Social, |m| m.description.clone())
            .await
    }

    /// The persons the report is about.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn subjects(&self, ctx: &Context<'_>) -> Result<Option<Vec<ReferralSubject>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.subjects_of_referral.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(ReferralSubject)
                .collect(),
        ))
    }

    /// `null` while untriaged.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn triage_outcome(&self, ctx: &Context<'_>) -> Result<Option<enums::TriageOutcome>> {
        self.show(ctx, DataClass::Administrative, |m| {
            m.triage_outcome.map(Into::into)
        })
        .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn triage_reason(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Social, |m| m.triage_reason.clone())
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn triaged_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, DataClass::Administrative, |m| m.triaged_at)
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn triaged_by(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Administrative, |m| m.triaged_by.clone())
            .await
    }

    /// Where a REDIRECTED referral was sent.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn redirected_to(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        match self
            .show(ctx, DataClass::Administrative, |m| {
                m.redirected_to_id.clone()
            })
            .await?
        {
            Some(id) => agency(ctx, &id).await,
            None => Ok(None),
        }
    }

    /// The case an ACCEPTED referral opened, when the caller can reach it.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn case(&self, ctx: &Context<'_>) -> Result<Option<Case>> {
        let Some(id) = self
            .show(ctx, DataClass::Administrative, |m| m.case_id)
            .await?
        else {
            return Ok(None);
        };
        let rc = ctx.data::<RequestContext>()?;
        if !rc.reachable(Record::Case(id)).await? {
            return Ok(None);
        }
        Ok(rc.loaders.case.load_one(id).await?.map(Case))
    }
}

/// A person named in a referral.
pub struct ReferralSubject(pub referral_subject::Model);

#[Object]
impl ReferralSubject {
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn role(&self, ctx: &Context<'_>) -> Result<Option<enums::SubjectRole>> {
        reveal(
            ctx,
            Record::Referral(self.0.referral_id),
            DataClass::Administrative,
            || Some(self.0.role.into()),
        )
        .await
    }

    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        let rc = ctx.data::<RequestContext>()?;
        Ok(rc
            .loaders
            .person
            .load_one(self.0.person_id)
            .await?
            .map(Person))
    }
}
