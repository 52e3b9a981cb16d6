//! Facilities, placements and their periodic reviews (verifiche).

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use entities::{facility, placement, placement_event, verification};
use policy::DataClass;

use super::{Agency, Case, CourtOrder, Person, agency};
use crate::graphql::enums;
use crate::graphql::guard::{Record, RequestContext, dataClass, reveal};

/// A mother-child community, shelter or social housing unit. Its name, kind and
/// free places are network information; its location is SECRET_LOCATION.
#[derive(Clone)]
pub struct Facility(pub facility::Model);

#[Object]
impl Facility {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> enums::FacilityKind {
        self.0.kind.into()
    }
    /// The agency that runs it.
    async fn operator(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        agency(ctx, &self.0.operator_agency_id).await
    }
    /// Whether its address is secret (shelters for violence victims).
    async fn secret(&self) -> bool {
        self.0.secret
    }
    /// Places in all.
    async fn capacity(&self) -> i32 {
        self.0.capacity
    }
    /// Places free today (capacity minus guests in active placements).
    async fn places_free(&self, ctx: &Context<'_>) -> Result<i32> {
        let rc = ctx.data::<RequestContext>()?;
        let taken = rc.loaders.occupancy.load_one(self.0.id).await?.unwrap_or(0);
        Ok((i64::from(self.0.capacity) - taken).max(0) as i32)
    }
    #[graphql(directive = dataClass::apply(enums::DataClass::SecretLocation))]
    async fn city(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        reveal(
            ctx,
            Record::Facility(self.0.id),
            DataClass::SecretLocation,
            || self.0.city.clone(),
        )
        .await
    }
    #[graphql(directive = dataClass::apply(enums::DataClass::SecretLocation))]
    async fn address(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        reveal(
            ctx,
            Record::Facility(self.0.id),
            DataClass::SecretLocation,
            || Some(self.0.address.clone()),
        )
        .await
    }
}

/// Where (some of) a case's subjects live, and under which authority.
#[derive(Clone)]
pub struct Placement(pub placement::Model);

impl Placement {
    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        class: DataClass,
        f: impl FnOnce(&placement::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Case(self.0.case_id), class, || f(&self.0)).await
    }
}

#[Object]
impl Placement {
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

    /// The facility: knowing it locates the guests, so it is SECRET_LOCATION.
    #[graphql(directive = dataClass::apply(enums::DataClass::SecretLocation))]
    async fn facility(&self, ctx: &Context<'_>) -> Result<Option<Facility>> {
        let id = self
            .show(ctx, DataClass::SecretLocation, |m| m.facility_id)
            .await?;
        let rc = ctx.data::<RequestContext>()?;
        Ok(rc.loaders.facility.load_one(id).await?.map(Facility))
    }

    /// The persons placed.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn guests(&self, ctx: &Context<'_>) -> Result<Option<Vec<Person>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let guests = rc.loaders.guests_of_placement.load_one(self.0.id).await?;
        let ids: Vec<_> = guests
            .unwrap_or_default()
            .iter()
            .map(|g| g.person_id)
            .collect();
        let persons = rc.loaders.person.load_many(ids.iter().copied()).await?;
        Ok(Some(
            ids.iter()
                .filter_map(|id| persons.get(id).cloned().map(Person))
                .collect(),
        ))
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn start_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.start_on))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn planned_end_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| m.planned_end_on)
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn end_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| m.end_on)
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn end_reason(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Social, |m| m.end_reason.clone())
            .await
    }

    /// An emergency placement (e.g. art. 403 c.c.), to be ratified by the court.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn emergency(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.emergency))
            .await
    }

    /// The court order that authorises it, if any.
    #[graphql(directive = dataClass::apply(enums::DataClass::Judicial))]
    async fn authorising_order(&self, ctx: &Context<'_>) -> Result<Option<CourtOrder>> {
        match self
            .show(ctx, DataClass::Judicial, |m| m.authorising_order_id)
            .await?
        {
            Some(id) => {
                let rc = ctx.data::<RequestContext>()?;
                Ok(rc.loaders.court_order.load_one(id).await?.map(CourtOrder))
            }
            None => Ok(None),
        }
    }

    /// Reviews, by due date.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn verifications(&self, ctx: &Context<'_>) -> Result<Option<Vec<Verification>>> {
        self.show(ctx, DataClass::Administrative, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc
            .loaders
            .verifications_of_placement
            .load_one(self.0.id)
            .await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .map(|v| Verification::new(v, self.0.case_id))
                .collect(),
        ))
    }

    /// What the facility's community reported (arrival, presence, absence,
    /// departure, incidents, reviews), oldest first. Notes on guests' lives:
    /// SOCIAL.
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn events(&self, ctx: &Context<'_>) -> Result<Option<Vec<PlacementEvent>>> {
        self.show(ctx, DataClass::Social, |_| ()).await?;
        let rc = ctx.data::<RequestContext>()?;
        let rows = rc.loaders.events_of_placement.load_one(self.0.id).await?;
        Ok(Some(
            rows.unwrap_or_default()
                .into_iter()
                .filter_map(|e| PlacementEvent::new(e, self.0.case_id))
                .collect(),
        ))
    }
}

/// An event of a placement, as the facility's community reported it through
/// its webhook.
pub struct PlacementEvent {
    model: placement_event::Model,
    kind: enums::PlacementEventKind,
    case_id: uuid::Uuid,
}

impl PlacementEvent {
    /// `None` for a kind this version does not know.
    pub fn new(model: placement_event::Model, case_id: uuid::Uuid) -> Option<Self> {
        let kind = enums::PlacementEventKind::from_stored(&model.kind)?;
        Some(PlacementEvent {
            model,
            kind,
            case_id,
        })
    }

    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        f: impl FnOnce(&placement_event::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Case(self.case_id), DataClass::Social, || {
            f(&self.model)
        })
        .await
    }
}

#[Object]
impl PlacementEvent {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn kind(&self, ctx: &Context<'_>) -> Result<Option<enums::PlacementEventKind>> {
        let kind = self.kind;
        self.show(ctx, |_| Some(kind)).await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn occurred_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        self.show(ctx, |m| Some(m.occurred_at)).await
    }

    /// The community's words.
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn note(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, |m| m.note.clone()).await
    }

    /// The agency that reported it (the facility's operator), by id.
    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn reported_by(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        self.show(ctx, |m| Some(ID(m.reported_by_agency_id.clone())))
            .await
    }
}

/// A periodic review of a placement.
pub struct Verification {
    pub model: verification::Model,
    pub case_id: uuid::Uuid,
}

impl Verification {
    pub fn new(model: verification::Model, case_id: uuid::Uuid) -> Self {
        Verification { model, case_id }
    }

    async fn show<T>(
        &self,
        ctx: &Context<'_>,
        class: DataClass,
        f: impl FnOnce(&verification::Model) -> T,
    ) -> Result<T> {
        reveal(ctx, Record::Case(self.case_id), class, || f(&self.model)).await
    }
}

#[Object]
impl Verification {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn placement(&self, ctx: &Context<'_>) -> Result<Option<Placement>> {
        let id = self
            .show(ctx, DataClass::Administrative, |m| m.placement_id)
            .await?;
        let rc = ctx.data::<RequestContext>()?;
        Ok(rc.loaders.placement.load_one(id).await?.map(Placement))
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn due_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| Some(m.due_on))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn done_on(&self, ctx: &Context<'_>) -> Result<Option<NaiveDate>> {
        self.show(ctx, DataClass::Administrative, |m| m.done_on)
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn outcome(&self, ctx: &Context<'_>) -> Result<Option<enums::VerificationOutcome>> {
        self.show(ctx, DataClass::Social, |m| m.outcome.map(Into::into))
            .await
    }

    #[graphql(directive = dataClass::apply(enums::DataClass::Social))]
    async fn notes(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Social, |m| m.notes.clone()).await
    }

    /// The operator who recorded it.
    #[graphql(directive = dataClass::apply(enums::DataClass::Administrative))]
    async fn recorded_by(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.show(ctx, DataClass::Administrative, |m| m.recorded_by.clone())
            .await
    }
}
