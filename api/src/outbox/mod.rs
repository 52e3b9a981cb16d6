//! Outbound sync (docs/outbound.md): the messages the hub owes partner
//! agencies' own systems, and the workers that deliver them.
//!
//! - this module: what a message is, which connector instance delivers to
//!   which agency ([`Routes`]), and [`enqueue`], called by the services in
//!   the transaction of the change that causes the message;
//! - [`payload`]: the message's data, built at send time by running its
//!   GraphQL document *as the receiver* (role INTEGRATOR, purpose SYNC), so
//!   the same resolvers, policy and access log decide what leaves;
//! - [`transport`]: the wire (JWS to the court, HMAC-signed JSON to the third
//!   sector), and what counts as an acknowledgement;
//! - [`worker`]: claims due messages (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL), logs, sends, retries with backoff, gives up to DEAD;
//! - [`propagate`]: a withdrawn or expired consent drops the queued messages
//!   that needed it and tells every partner that received data under it to
//!   forget it.
//!
//! It must never store the personal data it sends (only ids, and a forget
//! notice's subject and classes), never send a payload it has not logged, and
//! never decide on a field itself: the GraphQL guard does.

pub mod command;
pub mod payload;
pub mod propagate;
pub mod transport;
pub mod worker;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entities::{facility, outbox_message, placement, placement_guest};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

pub use transport::Transport;
pub use worker::{Outbox, Tick};

/// What a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    PlacementRequest,
    PlacementUpdate,
    CourtReport,
    Forget,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PlacementRequest => "PLACEMENT_REQUEST",
            Kind::PlacementUpdate => "PLACEMENT_UPDATE",
            Kind::CourtReport => "COURT_REPORT",
            Kind::Forget => "FORGET",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::PlacementRequest,
            Kind::PlacementUpdate,
            Kind::CourtReport,
            Kind::Forget,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a message is in its life.
pub mod status {
    pub const PENDING: &str = "PENDING";
    pub const DELIVERED: &str = "DELIVERED";
    pub const DROPPED: &str = "DROPPED";
    pub const DEAD: &str = "DEAD";
}

/// The record a message is about (`outbox_message.record_type`).
pub mod record {
    pub const PLACEMENT: &str = "PLACEMENT";
    pub const COURT_REPORT: &str = "COURT_REPORT";
    pub const CONSENT: &str = "CONSENT";
}

/// One partner the hub delivers to: the connector instance and its wire.
#[derive(Clone, Debug)]
pub struct Route {
    pub instance: String,
    pub transport: Transport,
    /// The instance's own per-request timeout (`timeout_ms`), if it has one;
    /// a send waits the shorter of it and `outbox.timeout_ms`.
    pub timeout_ms: Option<u64>,
}

/// Which instance delivers to which agency: the config's court and
/// third-sector instances (one per receiving agency).
#[derive(Clone, Debug, Default)]
pub struct Routes {
    by_agency: BTreeMap<String, Route>,
    by_instance: BTreeMap<String, Route>,
}

impl Routes {
    pub fn new(routes: impl IntoIterator<Item = (String, Route)>) -> Routes {
        let mut r = Routes::default();
        for (agency, route) in routes {
            r.by_instance.insert(route.instance.clone(), route.clone());
            r.by_agency.insert(agency, route);
        }
        r
    }

    /// The routes of the config's connector instances that receive messages;
    /// reads their secrets (the error names the key, never the value).
    pub fn from_config(
        instances: &BTreeMap<String, connectors::config::InstanceConfig>,
    ) -> Result<Routes, connectors::config::ConfigError> {
        let mut routes = Vec::new();
        for (name, instance) in instances {
            if let Some(route) = Transport::route(name, instance)? {
                routes.push((instance.agency.clone(), route));
            }
        }
        Ok(Routes::new(routes))
    }

    /// The route that delivers to `agency`, if any.
    pub fn to_agency(&self, agency: &str) -> Option<&Route> {
        self.by_agency.get(agency)
    }

    pub fn instance(&self, name: &str) -> Option<&Route> {
        self.by_instance.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.by_agency.is_empty()
    }
}

/// A message to write with the change that causes it.
pub struct NewMessage {
    pub instance: String,
    pub receiver: String,
    pub kind: Kind,
    pub record_type: &'static str,
    pub record_id: Uuid,
    pub case_id: Option<Uuid>,
    pub subjects: Vec<Uuid>,
    /// Only for notices that carry no personal data of the record.
    pub body: Option<Value>,
}

/// Write a message, due now. Call it inside the change's transaction.
pub async fn enqueue(c: &impl ConnectionTrait, m: NewMessage) -> Result<Uuid, sea_orm::DbErr> {
    enqueue_at(c, m, Utc::now()).await
}

pub(crate) async fn enqueue_at(
    c: &impl ConnectionTrait,
    m: NewMessage,
    now: DateTime<Utc>,
) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::now_v7();
    let subjects: Vec<String> = m.subjects.iter().map(Uuid::to_string).collect();
    outbox_message::ActiveModel {
        id: Set(id),
        instance: Set(m.instance),
        receiver_agency_id: Set(m.receiver),
        kind: Set(m.kind.as_str().to_string()),
        record_type: Set(m.record_type.to_string()),
        record_id: Set(m.record_id),
        case_id: Set(m.case_id),
        subject_ids: Set(json!(subjects)),
        status: Set(status::PENDING.to_string()),
        status_reason: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_by: Set(None),
        claimed_until: Set(None),
        last_error: Set(None),
        body: Set(m.body),
        classes: Set(None),
        bases: Set(None),
        payload_digest: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        delivered_at: Set(None),
    }
    .insert(c)
    .await?;
    tracing::info!(message = %id, kind = m.kind.as_str(), "outbox: queued");
    Ok(id)
}

/// Queue a placement request or update for the facility's operator, when a
/// connector instance delivers to it. An update already queued and not yet
/// sent covers a later one (payloads are built at send time), so updates
/// coalesce. Returns the message's id, if one is (or was already) queued.
pub async fn placement_changed(
    c: &impl ConnectionTrait,
    routes: &Routes,
    p: &placement::Model,
    kind: Kind,
) -> Result<Option<Uuid>, sea_orm::DbErr> {
    let Some(fac) = facility::Entity::find_by_id(p.facility_id).one(c).await? else {
        return Ok(None);
    };
    let Some(route) = routes.to_agency(&fac.operator_agency_id) else {
        return Ok(None);
    };
    if kind == Kind::PlacementUpdate
        && let Some(queued) = outbox_message::Entity::find()
            .filter(outbox_message::Column::RecordType.eq(record::PLACEMENT))
            .filter(outbox_message::Column::RecordId.eq(p.id))
            .filter(outbox_message::Column::ReceiverAgencyId.eq(&fac.operator_agency_id))
            .filter(outbox_message::Column::Status.eq(status::PENDING))
            .filter(outbox_message::Column::Attempts.eq(0))
            .one(c)
            .await?
    {
        // Never claimed yet: this write locks the row until the change
        // commits (a worker's SKIP LOCKED claim passes it by meanwhile), so
        // its payload, built after the claim, includes the change. Claimed
        // in between (no row updated): queue a new message.
        let held = outbox_message::Entity::update_many()
            .col_expr(outbox_message::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(outbox_message::Column::Id.eq(queued.id))
            .filter(outbox_message::Column::Attempts.eq(0))
            .filter(outbox_message::Column::Status.eq(status::PENDING))
            .exec(c)
            .await?;
        if held.rows_affected == 1 {
            return Ok(Some(queued.id));
        }
    }
    let guests: Vec<Uuid> = placement_guest::Entity::find()
        .filter(placement_guest::Column::PlacementId.eq(p.id))
        .all(c)
        .await?
        .into_iter()
        .map(|g| g.person_id)
        .collect();
    enqueue(
        c,
        NewMessage {
            instance: route.instance.clone(),
            receiver: fac.operator_agency_id.clone(),
            kind,
            record_type: record::PLACEMENT,
            record_id: p.id,
            case_id: Some(p.case_id),
            subjects: guests,
            body: None,
        },
    )
    .await
    .map(Some)
}

/// The subjects a message is about (its `subject_ids`).
pub fn subjects(m: &outbox_message::Model) -> Vec<Uuid> {
    m.subject_ids
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
        .collect()
}
