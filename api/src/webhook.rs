//! `POST /connectors/{instance}/webhook`: a reception community or
//! cooperative reports an event of a placement it hosts, signed with the key
//! it shares with the hub (`docs/connectors-third-sector.md`).
//!
//! No bearer token: the HMAC signature is the authentication. The checks, in
//! order: a peer address blocked after failed authentications (429), the
//! instance (404 unless a third-sector instance of this name exists), the
//! body's size (413, `limits.max_body_bytes`), the signature and its
//! timestamp window (401, and the failure counts against the peer), the
//! rate limits of the instance's agency and of operator `webhook:NAME`
//! (429), then the nonce: it is recorded in `webhook_nonce`, whose primary
//! key turns a replay into a failed insert in every hub process at once
//! (409 `REPLAYED`). Only then does the body reach the engine
//! ([`connectors::Engine::ingest`]), as one raw item: an event that cannot be
//! recorded is a dead letter with its reason, and the answer says so (202,
//! `dead-lettered`); nothing is dropped silently.
//!
//! A recorded event is an access-log entry: operator `webhook:NAME` of the
//! instance's agency WROTE the placement's case (its guests as subjects),
//! purpose SYNC. No answer and no log line holds the body's values.
//!
//! Answers are JSON: `{"accepted": true, "event", "outcome", "reason"}` or
//! `{"error": {"code", "message"}}`.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use connectors::third_sector::ThirdSectorConnector;
use connectors::third_sector::signature::{
    NONCE_HEADER, SIGNATURE_HEADER, SignedHeaders, TIMESTAMP_HEADER,
};
use connectors::{EngineError, Inbound, Mapped, NoProgress, RunReport, RunStatus, Trigger};
use entities::{placement, placement_guest, webhook_nonce};
use policy::{Purpose, Role};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit::trail::{Access, LoggedRecord};
use crate::error::ApiError;
use crate::http::{AppState, Peer};
use crate::rate::Refused;

/// Every this many accepted nonces (per process), nonces older than twice
/// their instance's window are deleted: by then a request carrying one is
/// stale anyway (its timestamp was at most one window ahead of our clock).
const PRUNE_EVERY: u64 = 64;
/// How long a webhook waits for its instance while a sync run of another
/// process holds it, before answering 503.
const BUSY_WAIT: Duration = Duration::from_secs(5);
const BUSY_POLL: Duration = Duration::from_millis(100);

/// The webhooks' state in one hub process: one gate per instance, so that
/// this process's webhooks of an instance take its engine lease in turn
/// instead of bouncing off each other, and the prune counter.
#[derive(Default)]
pub struct Gates {
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    accepted: AtomicU64,
}

impl Gates {
    fn gate(&self, instance: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.entry(instance.to_string()).or_default().clone()
    }

    /// Whether this accepted nonce is the one that prunes.
    fn tick(&self) -> bool {
        self.accepted.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1
    }
}

/// A JSON error answer.
fn fail(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn rate_limited(refused: &Refused) -> Response {
    let mut resp = fail(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        &refused.message(),
    );
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(refused.retry_after_secs),
    );
    resp
}

/// A header's text; a value that is not text is kept as a NUL, which no
/// header check accepts (so it is "malformed", not "missing").
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\0"))
}

pub async fn webhook(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let Peer(peer) = Peer::of(request.extensions());
    if let Some(Err(refused)) = state.limiter().map(|l| l.blocked(peer)) {
        return rate_limited(&refused);
    }
    let Some((engine, instance, key)) = state.sync().and_then(|e| {
        let i = e.instance(&name).ok()?;
        let key = i.connector.shared_key()?.clone();
        Some((e.clone(), i, key))
    }) else {
        return fail(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no third-sector connector instance `{name}`"),
        );
    };
    let agency = instance.config.agency.clone();
    let connector = instance.connector.clone();
    let headers = request.headers().clone();
    let body = match Bytes::from_request(request, &state).await {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TOO_LARGE",
                &format!(
                    "the body exceeds the limit of {} bytes (limits.max_body_bytes)",
                    state.limits().max_body_bytes
                ),
            );
        }
        Err(rejection) => {
            return fail(
                rejection.status(),
                "BAD_REQUEST",
                &format!("cannot read the body: {}", rejection.body_text()),
            );
        }
    };
    let signed = SignedHeaders {
        timestamp: header_text(&headers, TIMESTAMP_HEADER),
        nonce: header_text(&headers, NONCE_HEADER),
        signature: header_text(&headers, SIGNATURE_HEADER),
    };
    if let Err(e) = key.verify(&signed, &body, Utc::now().timestamp()) {
        if let Some(l) = state.limiter() {
            l.failed_authentication(peer);
        }
        return fail(StatusCode::UNAUTHORIZED, e.code(), &e.to_string());
    }
    let operator = format!("webhook:{name}");
    if let Some(Err(refused)) = state.limiter().map(|l| l.admit_as(&agency, &operator, 1)) {
        return rate_limited(&refused);
    }
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the body is not UTF-8 text (send the event as JSON in UTF-8)",
        );
    };
    // `verify` accepted the nonce's shape, so it is there.
    let nonce = signed.nonce.unwrap_or_default().trim().to_string();
    match remember_nonce(&state, &name, &nonce).await {
        Ok(true) => {}
        Ok(false) => {
            return fail(
                StatusCode::CONFLICT,
                "REPLAYED",
                "this X-Rete-Nonce was already used: the request is a replay (a new delivery \
                 needs a new nonce and a new signature)",
            );
        }
        Err(e) => {
            let e = ApiError::internal(format!("webhook {name}: recording the nonce: {e}"));
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", &e.message());
        }
    }
    if state.webhooks().tick() {
        prune(&state).await;
    }

    let item = ThirdSectorConnector::item(text);
    let event_id = item.external_id.clone();
    let digest = hex::encode(Sha256::digest(&body));
    let source = format!(
        "webhook {}, sha256 {digest}",
        event_id.as_deref().unwrap_or("(no event id)")
    );
    let report = match ingest(&state, &engine, &name, &source, item.clone()).await {
        Ok(r) if r.status == RunStatus::Succeeded => r,
        failed => {
            // The delivery did not go in: the same request may come again.
            forget_nonce(&state, &name, &nonce).await;
            return match failed {
                Err(EngineError::Busy { .. }) => {
                    let mut resp = fail(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "BUSY",
                        &format!(
                            "instance `{name}` is held by another hub process right now; \
                             send the event again shortly"
                        ),
                    );
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(1u32));
                    resp
                }
                Err(e) => {
                    let e = ApiError::internal(format!("webhook {name}: {e}"));
                    fail(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", &e.message())
                }
                Ok(r) => {
                    let e = ApiError::internal(format!(
                        "webhook {name}: run {} stopped: {}",
                        r.run_id,
                        r.error.as_deref().unwrap_or("no reason given")
                    ));
                    fail(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", &e.message())
                }
            };
        }
    };
    let (outcome, reason) = outcome(&report);
    if outcome != "dead-lettered" {
        let placement = match connector.map(&item) {
            Mapped::Records(records) => records.iter().find_map(|r| match &r.body {
                Inbound::PlacementEvent(e) => Some(e.placement_id),
                _ => None,
            }),
            _ => None,
        };
        if let Err(e) = log_write(&state, &name, &agency, &operator, &digest, placement).await {
            tracing::error!(instance = %name, error = %e, "webhook taken but not logged: the access log cannot be written");
            return fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "ACCESS_LOG_UNAVAILABLE",
                "the event is recorded but the access log cannot be written, so no receipt \
                 is given; sending it again (with a new nonce) changes nothing",
            );
        }
    }
    json_response(
        StatusCode::ACCEPTED,
        &json!({
            "accepted": true,
            "event": event_id,
            "outcome": outcome,
            "reason": reason,
        }),
    )
}

/// `created`, `unchanged` or `dead-lettered` (with the reason).
fn outcome(report: &RunReport) -> (&'static str, Option<String>) {
    if let Some(r) = report.rejections.first() {
        ("dead-lettered", Some(r.reason.clone()))
    } else if report.created > 0 {
        ("created", None)
    } else {
        ("unchanged", None)
    }
}

/// Records the nonce; `false` when it is already there (a replay).
async fn remember_nonce(state: &AppState, instance: &str, nonce: &str) -> Result<bool, String> {
    let inserted = webhook_nonce::Entity::insert(webhook_nonce::ActiveModel {
        instance: Set(instance.to_string()),
        nonce: Set(nonce.to_string()),
        received_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            webhook_nonce::Column::Instance,
            webhook_nonce::Column::Nonce,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(state.db())
    .await
    .map_err(|e| crate::db::describe_db_error(&e))?;
    Ok(inserted == 1)
}

async fn forget_nonce(state: &AppState, instance: &str, nonce: &str) {
    let deleted = webhook_nonce::Entity::delete_many()
        .filter(webhook_nonce::Column::Instance.eq(instance))
        .filter(webhook_nonce::Column::Nonce.eq(nonce))
        .exec(state.db())
        .await;
    if let Err(e) = deleted {
        tracing::warn!(%instance, "cannot take back the nonce of a failed webhook: {}", crate::db::describe_db_error(&e));
    }
}

/// Deletes the nonces of every third-sector instance older than twice its
/// window. A failure is logged, never the request's failure.
async fn prune(state: &AppState) {
    let Some(engine) = state.sync() else { return };
    let now = Utc::now();
    for name in engine.instance_names() {
        let Some(key) = engine
            .instance(name)
            .ok()
            .and_then(|i| i.connector.shared_key())
        else {
            continue;
        };
        let keep =
            chrono::Duration::from_std(key.window() * 2).unwrap_or(chrono::Duration::seconds(1800));
        let pruned = webhook_nonce::Entity::delete_many()
            .filter(webhook_nonce::Column::Instance.eq(name))
            .filter(webhook_nonce::Column::ReceivedAt.lt(now - keep))
            .exec(state.db())
            .await;
        match pruned {
            Ok(r) => {
                tracing::debug!(instance = %name, pruned = r.rows_affected, "webhook nonces pruned")
            }
            Err(e) => {
                tracing::warn!(instance = %name, "cannot prune webhook nonces: {}", crate::db::describe_db_error(&e))
            }
        }
    }
}

/// The item through the engine. This process's webhooks of the instance
/// take turns; a run of another process holding the instance is waited for
/// a little ([`BUSY_WAIT`]).
async fn ingest(
    state: &AppState,
    engine: &connectors::Engine,
    name: &str,
    source: &str,
    item: connectors::RawItem,
) -> Result<RunReport, EngineError> {
    let gate = state.webhooks().gate(name);
    let _turn = gate.lock().await;
    let started = Instant::now();
    loop {
        match engine
            .ingest(
                name,
                Trigger::Upload,
                source,
                vec![item.clone()],
                &NoProgress,
            )
            .await
        {
            Err(EngineError::Busy { .. }) if started.elapsed() < BUSY_WAIT => {
                tokio::time::sleep(BUSY_POLL).await;
            }
            other => return other,
        }
    }
}

/// One access-log entry for a recorded (or already recorded) event: the
/// community's operator `webhook:NAME` WROTE the placement's case.
async fn log_write(
    state: &AppState,
    name: &str,
    agency: &str,
    operator: &str,
    digest: &str,
    placement: Option<Uuid>,
) -> Result<(), String> {
    if crate::audit::NO_AUDIT {
        return Ok(());
    }
    let Some(placement) = placement else {
        return Ok(());
    };
    let (case_id, guests) = case_and_guests(state, placement)
        .await
        .map_err(|e| crate::db::describe_db_error(&e))?;
    let Some(case_id) = case_id else {
        return Ok(());
    };
    let who = crate::audit::Author {
        agency,
        operator,
        role: Role::Integrator,
        purpose: Purpose::Sync,
    };
    let record =
        LoggedRecord::accessed("CASE", case_id, guests.into_iter().collect(), Access::Write);
    state
        .append_entry(
            who,
            format!("webhook third-sector {name}"),
            digest.to_string(),
            vec![record],
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn case_and_guests(
    state: &AppState,
    placement_id: Uuid,
) -> Result<(Option<Uuid>, BTreeSet<Uuid>), DbErr> {
    let case_id: Option<Uuid> = placement::Entity::find_by_id(placement_id)
        .select_only()
        .column(placement::Column::CaseId)
        .into_tuple()
        .one(state.db())
        .await?;
    let guests: Vec<Uuid> = placement_guest::Entity::find()
        .select_only()
        .column(placement_guest::Column::PersonId)
        .filter(placement_guest::Column::PlacementId.eq(placement_id))
        .into_tuple()
        .all(state.db())
        .await?;
    Ok((case_id, guests.into_iter().collect()))
}
