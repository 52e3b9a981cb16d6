//! The hub's errors and their GraphQL codes.
//!
//! Which variant to use where:
//! - `BadInput`: the client sent something we refuse as it is (name the field);
//! - `NotFound`: no such record *for this caller* (also used when the record exists
//!   but the caller has no link to it, so existence does not leak);
//! - `Conflict`: the request is valid but clashes with current state (capacity,
//!   duplicates, invalid status transition, already triaged);
//! - `Unauthenticated`: no valid token; `Forbidden`: a valid caller may not do this;
//! - `Withheld`: a field exists but the policy does not disclose it;
//! - `Unavailable`: the database cannot be reached (connection refused or lost,
//!   no pooled connection within the acquire timeout, the server shutting
//!   down): nothing was done that the answer confirms, and the same request
//!   may be sent again shortly. Logged under an id like `Internal`;
//! - `Internal`: anything else. Its message carries only an id; the detail goes to
//!   the log, never to the client, and never holds personal values.

use async_graphql::ErrorExtensions;
use policy::{DataClass, DenyReason};

///
/// `ApiError` deliberately does not implement `Display`: async-graphql converts any
/// `Display` type into an error *without* extensions, so a `?` would silently drop
/// the code. Without `Display`, the only conversion is ours, which sets it.
#[derive(Debug)]
pub enum ApiError {
    BadInput {
        field: String,
        message: String,
    },
    NotFound {
        what: String,
    },
    Conflict(String),
    Unauthenticated(String),
    Forbidden(String),
    Withheld {
        class: DataClass,
        reason: DenyReason,
    },
    Unavailable(String),
    Internal(String),
}

impl ApiError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound { what: what.into() }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::BadInput { field, message } => format!("invalid `{field}`: {message}"),
            ApiError::NotFound { what } => format!("{what} not found"),
            ApiError::Conflict(m) | ApiError::Unauthenticated(m) | ApiError::Forbidden(m) => {
                m.clone()
            }
            ApiError::Withheld { class, reason } => format!("field withheld ({class}): {reason}"),
            ApiError::Unavailable(id) => format!(
                "the database is unreachable; retry shortly (id {id}; the detail is in the hub's log under this id)"
            ),
            ApiError::Internal(id) => {
                format!("internal error (id {id}); the detail is in the hub's log under this id")
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadInput { .. } => "BAD_USER_INPUT",
            ApiError::NotFound { .. } => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Withheld { .. } => "FIELD_WITHHELD",
            ApiError::Unavailable(_) => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// Log an internal failure under a fresh id and return the error to show.
    /// `detail` must not contain personal values: pass error kinds, not data.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(error_id = %id, %detail, "internal error");
        ApiError::Internal(id)
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        let detail = crate::db::describe_db_error(&err);
        if crate::db::is_unavailable(&err) {
            let id = uuid::Uuid::new_v4().simple().to_string();
            tracing::error!(error_id = %id, %detail, "database unavailable");
            return ApiError::Unavailable(id);
        }
        ApiError::internal(detail)
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code());
            match self {
                ApiError::BadInput { field, .. } => e.set("field", field.as_str()),
                ApiError::Withheld { class, reason } => {
                    e.set("dataClass", class.as_str());
                    e.set("reason", reason.to_string());
                }
                _ => {}
            }
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        err.extend()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
