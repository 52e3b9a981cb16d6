//! `POST /connectors/{instance}/upload`: an agency's integrator sends an export
//! file (a consultorio's CSV) and gets the validation report back
//! (docs/connectors-consultorio.md).
//!
//! Who may upload: a bearer token verified as for `/graphql`, under the same
//! rate limits (a failing address is refused first, each upload costs its
//! operator and agency one request), whose agency is
//! the instance's agency, with role INTEGRATOR and purpose SYNC (the purpose
//! the access log then records). The order of the checks keeps anonymous
//! callers from learning which instances exist: token (401), instance (404),
//! agency, role and purpose (403), media type (415), body size (413), then the
//! file itself (400 with the problem, or 200 with the report).
//!
//! The file goes through the engine's [`connectors::Engine::ingest`] like a
//! `rete sync import`; then one access-log entry records a WRITE of every
//! person the accepted rows name. Answers are JSON; errors carry
//! `extensions.code` as GraphQL errors do. Neither an answer nor a log line
//! ever holds a row's values.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use connectors::{EngineError, Mapped, NoProgress, RawItem, RunReport, RunStatus, Trigger};
use entities::external_ref;
use policy::{Purpose, Role};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit::trail::{Access, LoggedRecord};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::{AppState, JSON, Peer, authenticate, error_response, rate_limited};

/// Keys looked up in one `external_ref` query.
const LOOKUP_CHUNK: usize = 500;

/// The answer to an upload.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UploadReport {
    pub instance: String,
    pub run_id: Uuid,
    pub status: String,
    pub rows: RowCounts,
    pub records: RecordCounts,
    pub rejections: Vec<RejectedRow>,
}

/// The file's data rows (all-empty rows are not rows).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RowCounts {
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// What the accepted rows became (a BIRTH row is four records).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RecordCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RejectedRow {
    /// The row's line in the file.
    pub row: Option<u64>,
    pub reason: String,
}

impl From<&RunReport> for UploadReport {
    fn from(r: &RunReport) -> UploadReport {
        UploadReport {
            instance: r.instance.clone(),
            run_id: r.run_id,
            status: r.status.as_str().to_string(),
            rows: RowCounts {
                read: r.fetched,
                accepted: r.fetched.saturating_sub(r.rejected + r.skipped),
                rejected: r.rejected,
            },
            records: RecordCounts {
                created: r.created,
                updated: r.updated,
                unchanged: r.unchanged,
            },
            rejections: r
                .rejections
                .iter()
                .map(|x| RejectedRow {
                    row: x.position,
                    reason: x.reason.clone(),
                })
                .collect(),
        }
    }
}

fn fail(status: StatusCode, code: &str, message: &str) -> Response {
    error_response(status, JSON, code, message)
}

pub async fn upload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let Peer(peer) = Peer::of(request.extensions());
    if let Some(Err(refused)) = state.limiter().map(|l| l.blocked(peer)) {
        return rate_limited(JSON, &refused);
    }
    let caller = match authenticate(&state, request.headers()).await {
        Ok(c) => c,
        Err((status, message)) => {
            if status == StatusCode::UNAUTHORIZED
                && let Some(l) = state.limiter()
            {
                l.failed_authentication(peer);
            }
            let mut resp = fail(status, "UNAUTHENTICATED", &message);
            if status == StatusCode::UNAUTHORIZED {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            return resp;
        }
    };
    if let Some(Err(refused)) = state.limiter().map(|l| l.admit(&caller, 1)) {
        return rate_limited(JSON, &refused);
    }
    let Some((engine, instance)) = state
        .sync()
        .and_then(|e| e.instance(&name).ok().map(|i| (e, i)))
    else {
        return fail(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no connector instance `{name}`"),
        );
    };
    if let Some(refusal) = refusal(&caller, &name, &instance.config.agency) {
        return fail(StatusCode::FORBIDDEN, "FORBIDDEN", &refusal);
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Err(m) = check_media_type(&content_type) {
        return fail(StatusCode::UNSUPPORTED_MEDIA_TYPE, "BAD_USER_INPUT", &m);
    }
    let body = match Bytes::from_request(request, &state).await {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BAD_USER_INPUT",
                &format!(
                    "the file exceeds the limit of {} bytes (limits.max_upload_bytes)",
                    state.limits().max_upload_bytes
                ),
            );
        }
        Err(rejection) => {
            return fail(
                rejection.status(),
                "BAD_USER_INPUT",
                &format!("cannot read the body: {}", rejection.body_text()),
            );
        }
    };
    let items = match connectors::read_file(&instance.config, &body) {
        Ok(items) => items,
        Err(m) => return fail(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &m),
    };
    let digest = hex::encode(Sha256::digest(&body));
    let source = format!("upload of {} bytes, sha256 {digest}", body.len());
    let report = match engine
        .ingest(&name, Trigger::Upload, &source, items.clone(), &NoProgress)
        .await
    {
        Ok(r) => r,
        Err(EngineError::Busy { .. }) => {
            return fail(
                StatusCode::CONFLICT,
                "CONFLICT",
                &format!(
                    "instance `{name}` is being synced or imported right now; upload again when it is done"
                ),
            );
        }
        Err(e) => {
            let e = ApiError::internal(format!("upload to {name}: {e}"));
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", &e.message());
        }
    };
    // The access log, as for a mutation: no entry, no answer (the rows are in).
    let connector = instance.connector.as_ref();
    if let Err(e) = log_writes(&state, &caller, connector, &digest, &items, &report).await {
        tracing::error!(instance = %name, error = %e, "upload taken but not logged: the access log cannot be written");
        return fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "ACCESS_LOG_UNAVAILABLE",
            "the access log cannot be written, so no report is returned; try again later",
        );
    }
    if report.status != RunStatus::Succeeded {
        let e = ApiError::internal(format!(
            "upload to {name}: run {} stopped part way: {}",
            report.run_id,
            report.error.as_deref().unwrap_or("no reason given")
        ));
        return fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &format!(
                "{}; the rows taken so far stay, and uploading the file again takes the rest",
                e.message()
            ),
        );
    }
    let mut resp = (
        StatusCode::OK,
        serde_json::to_string(&UploadReport::from(&report)).unwrap_or_default(),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Why this caller may not upload to the instance, if they may not: only the
/// instance agency's integrators, for purpose SYNC.
fn refusal(caller: &Caller, name: &str, agency: &str) -> Option<String> {
    let r = &caller.requester;
    if r.agency != agency {
        Some(format!(
            "instance `{name}` imports for agency `{agency}`; your token speaks for `{}`",
            r.agency
        ))
    } else if r.role != Role::Integrator {
        Some(format!(
            "uploading needs role INTEGRATOR; your token has {}",
            r.role.as_str()
        ))
    } else if r.purpose != Purpose::Sync {
        Some(format!(
            "uploading needs purpose SYNC; your token has {}",
            r.purpose.as_str()
        ))
    } else {
        None
    }
}

/// `text/csv`, with no charset or UTF-8's.
fn check_media_type(content_type: &str) -> Result<(), String> {
    let mut parts = content_type.split(';').map(str::trim);
    if parts.next() != Some("text/csv") {
        return Err("send the export with `Content-Type: text/csv`".to_string());
    }
    for p in parts {
        if let Some(charset) = p.strip_prefix("charset=") {
            let charset = charset.trim_matches('"');
            if charset != "utf-8" && charset != "utf8" {
                return Err(format!(
                    "the export must be UTF-8, not {charset}: export it as \"CSV UTF-8\""
                ));
            }
        }
    }
    Ok(())
}

/// One access-log entry: the caller WROTE every person the accepted items
/// name (the persons they are, and the subjects of their other records),
/// operation `upload KIND NAME`, the file's SHA-256 as the query hash.
async fn log_writes(
    state: &AppState,
    caller: &Caller,
    connector: &dyn connectors::Connector,
    digest: &str,
    items: &[RawItem],
    report: &RunReport,
) -> Result<(), String> {
    if crate::audit::NO_AUDIT {
        return Ok(());
    }
    let persons = persons_named(state, connector, items, report)
        .await
        .map_err(|e| crate::db::describe_db_error(&e))?;
    if persons.is_empty() {
        return Ok(());
    }
    let records = persons
        .into_iter()
        .map(|id| LoggedRecord::accessed("PERSON", id, Vec::new(), Access::Write))
        .collect();
    state
        .append_entry(
            caller.into(),
            format!("upload {} {}", connector.kind(), report.instance),
            digest.to_string(),
            records,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Our ids of the persons the accepted items' records are or are about. The
/// items are mapped again (mappings are pure and cheap) to find their keys.
async fn persons_named(
    state: &AppState,
    connector: &dyn connectors::Connector,
    items: &[RawItem],
    report: &RunReport,
) -> Result<BTreeSet<Uuid>, DbErr> {
    let rejected: HashSet<Option<u64>> = report.rejections.iter().map(|r| r.position).collect();
    // (system, resource type) -> external ids.
    let mut keys: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for item in items.iter().filter(|i| !rejected.contains(&i.position)) {
        if let Mapped::Records(records) = connector.map(item) {
            for r in &records {
                let key = r.subject().unwrap_or(&r.key);
                keys.entry((key.system.clone(), key.resource_type.clone()))
                    .or_default()
                    .insert(key.id.clone());
            }
        }
    }
    let mut persons = BTreeSet::new();
    for ((system, resource_type), ids) in keys {
        let ids: Vec<String> = ids.into_iter().collect();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let rows = external_ref::Entity::find()
                .filter(external_ref::Column::System.eq(system.as_str()))
                .filter(external_ref::Column::ResourceType.eq(resource_type.as_str()))
                .filter(external_ref::Column::ExternalId.is_in(chunk.iter().cloned()))
                .filter(external_ref::Column::Entity.eq("PERSON"))
                .all(state.db())
                .await?;
            persons.extend(rows.into_iter().map(|r| r.local_id));
        }
    }
    Ok(persons)
}

#[cfg(test)]
mod tests {
    use super::check_media_type;

    #[test]
    fn only_utf8_csv_is_taken() {
        assert!(check_media_type("text/csv").is_ok());
        assert!(check_media_type("text/csv; charset=utf-8").is_ok());
        assert!(check_media_type("text/csv;charset=\"utf-8\"").is_ok());
        assert!(check_media_type("text/csv; charset=windows-1252").is_err());
        assert!(check_media_type("application/json").is_err());
        assert!(check_media_type("").is_err());
    }
}
