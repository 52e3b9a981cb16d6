//! The privacy officers' console: a few static files embedded in the binary
//! and served under `/console`. The page talks only to `/graphql` with the
//! officer's token, so it sees exactly what the API lets a PRIVACY_OFFICER
//! with purpose AUDIT see, and its reads are logged like any other.
//!
//! When `[console.oidc]` is configured, the page also signs officers in with
//! OpenID Connect (authorization code with PKCE, as a public client): it reads
//! the public settings at `/console/config.json`, and may then call the
//! issuer's discovery and token endpoints, so the issuer's origin is added to
//! `connect-src`. The access token it gets is checked by `/graphql` like any
//! other (the issuer must be one of `auth.issuers`).
//!
//! This module serves files, those settings and headers, nothing else: it never
//! reads a token, the database or the log, and holds nothing secret (the
//! console is a public client). Every response carries a strict
//! Content-Security-Policy (scripts and styles from this origin only, requests
//! to this origin and the configured issuer only, no inline script or style,
//! no framing), `no-store` and `no-referrer`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;

use crate::config::ConsoleConfig;

/// The Content-Security-Policy of every console response without OpenID
/// Connect; with it, the issuer's origin joins `connect-src`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the console's responses depend on, fixed at start from the config.
#[derive(Clone)]
pub struct Site {
    csp: HeaderValue,
    /// The body of `/console/config.json`.
    settings: String,
}

impl Site {
    pub fn new(config: &ConsoleConfig) -> Site {
        let Some(oidc) = &config.oidc else {
            return Site {
                csp: HeaderValue::from_static(CSP),
                settings: json!({ "oidc": null }).to_string(),
            };
        };
        // The discovery document and the token endpoint are fetched by the page.
        // A validated config has an http(s) issuer; anything else adds nothing.
        let origin = reqwest::Url::parse(&oidc.issuer)
            .ok()
            .map(|u| u.origin())
            .filter(|o| o.is_tuple())
            .map(|o| o.ascii_serialization());
        let csp = match origin {
            Some(o) => CSP.replace("connect-src 'self'", &format!("connect-src 'self' {o}")),
            None => CSP.to_string(),
        };
        Site {
            csp: HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(CSP)),
            settings: json!({
                "oidc": {
                    "issuer": oidc.issuer,
                    "clientId": oidc.client_id,
                    "scopes": oidc.scopes,
                    "resource": oidc.resource,
                    "endSession": oidc.end_session,
                }
            })
            .to_string(),
        }
    }
}

const INDEX: &str = include_str!("../console/index.html");
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../console/console.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../console/favicon.svg"),
    ),
];

/// `/console`, its assets and settings; merged into [`crate::http::app`].
pub fn routes<S: Clone + Send + Sync + 'static>(site: Arc<Site>) -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(|site: State<Arc<Site>>| async move {
                page(&site, "text/html; charset=utf-8", INDEX)
            }),
        )
        .route("/console/config.json", get(settings))
        .route("/console/{file}", get(asset))
        .with_state(site)
}

/// The console's public settings: whether and how to offer OpenID Connect.
async fn settings(State(site): State<Arc<Site>>) -> Response {
    let mut r = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        site.settings.clone(),
    )
        .into_response();
    secure(&site, &mut r);
    r
}

async fn asset(State(site): State<Arc<Site>>, Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, media, body)) => page(&site, media, body),
        None => {
            let mut r = (StatusCode::NOT_FOUND, "not found").into_response();
            secure(&site, &mut r);
            r
        }
    }
}

fn page(site: &Site, media: &'static str, body: &'static str) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(media))],
        body,
    )
        .into_response();
    secure(site, &mut r);
    r
}

fn secure(site: &Site, r: &mut Response) {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, site.csp.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}
