//! Root mutations: thin shells over `services`, which validate and write. What a
//! mutation returns is read back through the types, under the same policy.

use async_graphql::{Context, Object, Result};

use super::guard::{self, Record, RequestContext};
use super::inputs::*;
use super::types::{
    BreakGlassGrant, Case, CaseNote, Consent, CourtOrder, CourtReport, Placement, Referral,
    TeamMember, Verification,
};
use crate::audit::trail::Access;
use crate::auth::Caller;
use crate::services::{self, Actor};

pub struct Mutation;

/// The access log records what each mutation wrote.
fn wrote(ctx: &Context<'_>, record: Record) {
    guard::touched(ctx, record, Access::Write);
}

/// Which connector instance delivers to which agency (empty without any).
fn routes<'a>(ctx: &'a Context<'_>) -> Result<&'a crate::outbox::Routes> {
    Ok(ctx.data::<std::sync::Arc<crate::outbox::Routes>>()?)
}

fn actor<'a>(ctx: &'a Context<'_>) -> Result<(Actor<'a>, &'a RequestContext)> {
    let caller = ctx.data::<Caller>()?;
    let rc = ctx.data::<RequestContext>()?;
    Ok((
        Actor {
            caller,
            today: rc.today,
        },
        rc,
    ))
}

#[Object]
impl Mutation {
    /// Report a woman or child in difficulty to a social service.
    async fn submit_referral(
        &self,
        ctx: &Context<'_>,
        input: SubmitReferralInput,
    ) -> Result<Referral> {
        let (a, rc) = actor(ctx)?;
        let m = services::referrals::submit(&rc.db, &a, input, rc).await?;
        wrote(ctx, Record::Referral(m.id));
        if let Some(c) = m.case_id {
            wrote(ctx, Record::Case(c));
        }
        Ok(Referral(m))
    }

    /// Accept (opens a case), redirect or dismiss a referral in your queue.
    async fn triage_referral(
        &self,
        ctx: &Context<'_>,
        input: TriageReferralInput,
    ) -> Result<Referral> {
        let (a, rc) = actor(ctx)?;
        let m = services::referrals::triage(&rc.db, &a, input).await?;
        wrote(ctx, Record::Referral(m.id));
        if let Some(c) = m.case_id {
            wrote(ctx, Record::Case(c));
        }
        Ok(Referral(m))
    }

    /// Add an operator of an agency to a case's team (lead agency's case managers).
    async fn add_team_member(
        &self,
        ctx: &Context<'_>,
        input: AddTeamMemberInput,
    ) -> Result<TeamMember> {
        let (a, rc) = actor(ctx)?;
        let m = services::cases::add_team_member(&rc.db, &a, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(TeamMember(m))
    }

    /// End a team membership.
    async fn end_team_membership(
        &self,
        ctx: &Context<'_>,
        input: EndTeamMembershipInput,
    ) -> Result<TeamMember> {
        let (a, rc) = actor(ctx)?;
        let m = services::cases::end_team_membership(&rc.db, &a, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(TeamMember(m))
    }

    /// Place subjects of a case in a facility; never beyond its capacity.
    async fn record_placement(
        &self,
        ctx: &Context<'_>,
        input: RecordPlacementInput,
    ) -> Result<Placement> {
        let (a, rc) = actor(ctx)?;
        let m = services::placements::record(&rc.db, &a, routes(ctx)?, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(Placement(m))
    }

    /// End a placement.
    async fn end_placement(
        &self,
        ctx: &Context<'_>,
        input: EndPlacementInput,
    ) -> Result<Placement> {
        let (a, rc) = actor(ctx)?;
        let m = services::placements::end(&rc.db, &a, routes(ctx)?, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(Placement(m))
    }

    /// Record a review of a placement and schedule the next.
    async fn record_verification(
        &self,
        ctx: &Context<'_>,
        input: RecordVerificationInput,
    ) -> Result<Verification> {
        let (a, rc) = actor(ctx)?;
        let (v, case_id) =
            services::placements::record_verification(&rc.db, &a, routes(ctx)?, input).await?;
        wrote(ctx, Record::Case(case_id));
        Ok(Verification::new(v, case_id))
    }

    /// Submit a report to the juvenile court on a case (case managers and
    /// social workers of the lead agency). The hub sends it to the court,
    /// signed with its key; `delivery` shows whether it arrived.
    async fn submit_court_report(
        &self,
        ctx: &Context<'_>,
        input: SubmitCourtReportInput,
    ) -> Result<CourtReport> {
        let (a, rc) = actor(ctx)?;
        let m = services::court_reports::submit(&rc.db, &a, routes(ctx)?, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(CourtReport(m))
    }

    /// Record an order of the juvenile court on a case.
    async fn record_court_order(
        &self,
        ctx: &Context<'_>,
        input: RecordCourtOrderInput,
    ) -> Result<CourtOrder> {
        let (a, rc) = actor(ctx)?;
        let m = services::cases::record_court_order(&rc.db, &a, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(CourtOrder(m))
    }

    /// Add a note to a case (case team).
    async fn add_case_note(&self, ctx: &Context<'_>, input: AddCaseNoteInput) -> Result<CaseNote> {
        let (a, rc) = actor(ctx)?;
        let m = services::cases::add_note(&rc.db, &a, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(CaseNote(m))
    }

    /// Move a case to another status (only allowed transitions; see CaseStatus).
    async fn change_case_status(
        &self,
        ctx: &Context<'_>,
        input: ChangeCaseStatusInput,
    ) -> Result<Case> {
        let (a, rc) = actor(ctx)?;
        let m = services::cases::change_status(&rc.db, &a, input).await?;
        wrote(ctx, Record::Case(m.id));
        Ok(Case(m))
    }

    /// Record a consent given by the subject, a parent or a guardian (case team).
    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        input: RecordConsentInput,
    ) -> Result<Consent> {
        let (a, rc) = actor(ctx)?;
        let m = services::consents::record(&rc.db, &a, input).await?;
        wrote(ctx, Record::Person(m.subject_id));
        Ok(Consent(m))
    }

    /// Withdraw a consent: it stops counting from the next request on.
    async fn withdraw_consent(
        &self,
        ctx: &Context<'_>,
        input: WithdrawConsentInput,
    ) -> Result<Consent> {
        let (a, rc) = actor(ctx)?;
        let m = services::consents::withdraw(&rc.db, &a, input).await?;
        wrote(ctx, Record::Person(m.subject_id));
        Ok(Consent(m))
    }

    /// Open a case in an emergency (token purpose EMERGENCY): a grant of a few
    /// hours, reviewed afterwards. Never opens a SECRET_LOCATION unless the
    /// agreement says so.
    async fn request_break_glass(
        &self,
        ctx: &Context<'_>,
        input: RequestBreakGlassInput,
    ) -> Result<BreakGlassGrant> {
        let (a, rc) = actor(ctx)?;
        let m = services::consents::request_break_glass(&rc.db, &a, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(BreakGlassGrant(m))
    }

    /// Approve or flag a break-glass grant (privacy officers, purpose AUDIT).
    async fn review_break_glass(
        &self,
        ctx: &Context<'_>,
        input: ReviewBreakGlassInput,
    ) -> Result<BreakGlassGrant> {
        let (a, rc) = actor(ctx)?;
        let m = services::consents::review_break_glass(&rc.db, &a, input).await?;
        wrote(ctx, Record::Case(m.case_id));
        Ok(BreakGlassGrant(m))
    }

    /// Walk the access log's chain now, as `rete audit verify` does, and keep
    /// the result as this hub process's last verification (privacy officers,
    /// purpose AUDIT). Names the first broken entry, if any.
    async fn verify_access_log(
        &self,
        ctx: &Context<'_>,
    ) -> Result<super::chain_state::ChainVerification> {
        super::chain_state::verify(ctx).await
    }

    /// Record that a subject of a case must be protected from another person
    /// (lead agency's case managers). Returns the case.
    async fn record_protection(
        &self,
        ctx: &Context<'_>,
        input: RecordProtectionInput,
    ) -> Result<Case> {
        let (a, rc) = actor(ctx)?;
        let p = services::cases::record_protection(&rc.db, &a, input).await?;
        wrote(ctx, Record::Case(p.case_id));
        let case = rc.loaders.case.load_one(p.case_id).await?;
        case.map(Case)
            .ok_or_else(|| crate::error::ApiError::not_found("case").into())
    }
}
