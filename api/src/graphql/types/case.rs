//! Case and what hangs off it: subjects, team, notes, interventions.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use entities::{case_file, case_note, case_subject, case_team_member, intervention};
use policy::DataClass;

use super::{Agency, CourtOrder, Person, Placement, agency};
use crate::graphql::enums;
use crate::graphql::guard::{Record, RequestContext, dataClass, reveal};

/// A case followed by the network: one family's file.
#[derive(Clone)]
pub struct Case(pub case_file::Model);

impl Case {
    fn record(&self) -> Record {
        Record::Case(self.0.id)
    }

    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        class: DataClass,
        f: impl FnOnce(&case_file::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, self.record(), class, || f(&self.0)).await
    }
}

#[Object]
impl Case {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Human-readable reference, unique in the network (e.g. `RETE-2026-7F3A9C21`).
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn reference(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Administrative, |m| {
            Some(m.reference.clone())
        })
        .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn status(&self, ctx: &Context<'_>) -> Result<Option<enums::CaseStatus>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.status.into()))
            .await
    }

    /// The social service that leads the case.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn lead_agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| m.lead_agency_id.clone())
            .await?;
        agency(ctx, &id).await
    }

    /// The case manager (operator id of the assistente sociale).
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn case_manager(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Administrative, |m| {
            Some(m.case_manager.clone())
        })
        .await
    }

    /// The social service's assessment of risk.
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn risk_level(&self, ctx: &Context<'_>) -> Result<Option<enums::RiskLevel>> {
        self.show(ctx, DataClass::Social, |m| Some(m.risk_level.into()))
            .await
    }

    /// The case summary (social assessment).
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn summary(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Social, |m| m.summary.clone())
            .await
    }

    /// The juvenile court following the case, if any.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn court_of_record(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        match self
            .show(ctx, DataClass::Administrative, |m| {
                m.court_of_record_id.clone()
            })
            .await?
        {
            Some(id) => agency(ctx, &id).await,
            None => Ok(None),
        }
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn opened_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.opened_on))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn closed_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| m.closed_on)
            .await
    }

    /// The persons the case is about, with their role in it.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn subjects(&self, ctx: &Context<'_>) -> Result<Option<Vec<CaseSubject>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.subjects_of_case.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(CaseSubject)
                .collect(),
        ))
    }

    /// The multi-agency team (équipe), past and present members.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Vec<TeamMember>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.team_of_case.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(TeamMember)
                .collect(),
        ))
    }

    /// Placements of the case's subjects, newest last.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn placements(&self, ctx: &Context<'_>) -> Result<Option<Vec<Placement>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.placements_of_case.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(Placement)
                .collect(),
        ))
    }

    /// Orders of the juvenile court on this case.
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn court_orders(&self, ctx: &Context<'_>) -> Result<Option<Vec<CourtOrder>>> {
        self.show(ctx, DataClass::Judicial, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.orders_of_case.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(CourtOrder)
                .collect(),
        ))
    }

    /// Reports to the juvenile court on this case, newest first, with their delivery.
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn court_reports(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<super::outbound::CourtReport>>> {
        self.show(ctx, DataClass::Judicial, |_| ()).await?;
        super::outbound::reports_of_case(ctx, self.0.id)
            .await
            .map(Some)
    }

    /// What the hub sent, or owes, to partners' systems about this case
    /// (placement requests and updates, reports to the court), oldest first.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn outbound(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<super::outbound::OutboundMessage>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        super::outbound::of_case(ctx, self.0.id).await.map(Some)
    }

    /// Notes of the team. Each note's body is decided by the note's own class.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn notes(&self, ctx: &Context<'_>) -> Result<Option<Vec<CaseNote>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.notes_of_case.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default().into_iter().map(CaseNote).collect(),
        ))
    }

    /// Services delivered to the family (mediation, psychological support...).
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn interventions(&self, ctx: &Context<'_>) -> Result<Option<Vec<Intervention>>> {
        self.show(ctx, DataClass::Social, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.interventions_of_case.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(Intervention)
                .collect(),
        ))
    }

    /// How the caller's agency is linked to this case (not personal data).
    async fn my_relationships(&self, ctx: &Context<'_>) -> Result<Vec<enums::Relationship>> {
        let rc = ctx.data::<RequestContext>()?;
        let facts = rc.facts(self.record()).await?;
        Ok(facts.relationships.into_iter().map(Into::into).collect())
    }
}

/// A person's place in a case.
pub struct CaseSubject(pub case_subject::Model);

#[Object]
impl CaseSubject {
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn role(&self, ctx: &Context<'_>) -> Result<Option<enums::SubjectRole>> {
        reveal(
            ctx,
            Record::Case(self.0.case_id),
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

/// A member of a case's multi-agency team.
pub struct TeamMember(pub case_team_member::Model);

impl TeamMember {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        f: impl FnOnce(&case_team_member::Model) -> T,
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
impl TeamMember {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self.show(ctx, |m| m.agency_id.clone()).await?;
        agency(ctx, &id).await
    }

    /// The operator's id at their agency.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn operator(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, |m| Some(m.operator.clone())).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn role(&self, ctx: &Context<'_>) -> Result<Option<enums::Role>> {
        let role = self.show(ctx, |m| m.role.clone()).await?;
        Ok(Some(role.parse::<policy::Role>()?.into()))
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    #[allow(clippy::wrong_self_convention)] // a GraphQL field named after its column
    async fn from_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, |m| Some(m.from_on)).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn until_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, |m| m.until_on).await
    }

    /// Whether the membership is in force today.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn active(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        let today = ctx.data::<RequestContext>()?.today;
        self.show(ctx, |m| {
            Some(m.from_on <= today && m.until_on.is_none_or(|u| u >= today))
        })
        .await
    }
}

/// A note in a case file.
pub struct CaseNote(pub case_note::Model);

impl CaseNote {
    fn class(&self) -> Result<DataClass> {
        Ok(self.0.data_class.parse::<DataClass>()?)
    }
}

#[Object]
impl CaseNote {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The class the note's body was recorded under (SOCIAL unless the author
    /// chose HEALTH, VIOLENCE, ...). Not personal in itself.
    async fn data_class(&self) -> Result<enums::DataClass> {
        Ok(self.class()?.into())
    }

    /// The note's text, disclosed by the note's own data class (`dataClass`); the
    /// directive shows the default.
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn body(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        reveal(ctx, Record::Case(self.0.case_id), self.class()?, || {
            Some(self.0.body.clone())
        })
        .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn author_agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = reveal(
            ctx,
            Record::Case(self.0.case_id),
            DataClass::Administrative,
            || self.0.author_agency_id.clone(),
        )
        .await?;
        agency(ctx, &id).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn author_operator(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        reveal(
            ctx,
            Record::Case(self.0.case_id),
            DataClass::Administrative,
            || Some(self.0.author_operator.clone()),
        )
        .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn created_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        reveal(
            ctx,
            Record::Case(self.0.case_id),
            DataClass::Administrative,
            || Some(self.0.created_at),
        )
        .await
    }
}

/// A service delivered to the family.
pub struct Intervention(pub intervention::Model);

impl Intervention {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        class: DataClass,
        f: impl FnOnce(&intervention::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Case(self.0.case_id), class, || f(&self.0)).await
    }
}

#[Object]
impl Intervention {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn kind(&self, ctx: &Context<'_>) -> Result<Option<enums::InterventionKind>> {
        self.show(ctx, DataClass::Social, |m| Some(m.kind.into()))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn provider(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| {
                m.provider_agency_id.clone()
            })
            .await?;
        agency(ctx, &id).await
    }

    /// The subject it is for, when it is for one person.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        match self
            .show(ctx, DataClass::Administrative, |m| m.person_id)
            .await?
        {
            Some(id) => {
                let rc = ctx.data::<RequestContext>()?;
                Ok(rc.loaders.person.load_one(id).await?.map(Person))
            }
            None => Ok(None),
        }
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn start_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.start_on))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn end_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| m.end_on)
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn notes(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Social, |m| m.notes.clone()).await
    }
}
