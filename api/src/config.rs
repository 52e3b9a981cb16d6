//! Typed, strict configuration.
//!
//! Read from an optional TOML file (`--config` / `RETE_CONFIG`), then overridden by
//! flags and environment variables for the few keys an operator changes most
//! (listen address, database URL). Unknown keys are errors; `validate()` names the
//! bad key. Defaults are written once, here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://rete.db?mode=rwc";
/// The audience every token must carry unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "rete";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://FILE?mode=rwc` or `postgres://...`.
    pub database_url: String,
    /// Maximum pooled database connections per process.
    pub database_max_connections: u32,
    /// The network agreement (TOML); without one the built-in interim agreement
    /// applies (the case team sees its cases, linked agencies their
    /// administrative data).
    pub policy_file: Option<PathBuf>,
    pub auth: AuthConfig,
    pub limits: Limits,
    /// Trust the demo key and seed the demo network (never in production).
    pub demo: DemoConfig,
    pub audit: AuditConfig,
    /// Connector instances by name (`[connectors.hospital]`, kind and
    /// settings; see docs/connectors.md).
    pub connectors: std::collections::BTreeMap<String, connectors::config::InstanceConfig>,
    /// The privacy officers' console (`/console/`).
    pub console: ConsoleConfig,
    /// Outbound sync: the outbox workers (docs/outbound.md).
    pub outbox: OutboxConfig,
}

/// The outbox workers of `rete serve` (docs/outbound.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Run a worker in this process (every process may; they share the work).
    pub enabled: bool,
    /// How often an idle worker looks for due messages, in milliseconds.
    pub poll_ms: u64,
    /// Messages claimed at once.
    pub batch: u64,
    /// How long a claim lasts: a worker killed mid-send loses its messages to
    /// another worker after this long.
    pub lease_seconds: u64,
    /// Attempts before a message is DEAD (retried by hand with `rete outbox retry`).
    pub max_attempts: i32,
    /// First retry delay; it doubles each attempt (with jitter) up to `backoff_max_ms`.
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    /// Per-request timeout towards a partner.
    pub timeout_ms: u64,
    /// How often the worker looks for consents withdrawn or expired since its
    /// last look (whatever withdrew them: a mutation, a connector), in seconds.
    pub sweep_seconds: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            enabled: true,
            poll_ms: 1_000,
            batch: 32,
            lease_seconds: 60,
            max_attempts: 12,
            backoff_ms: 1_000,
            backoff_max_ms: 15 * 60 * 1_000,
            timeout_ms: 10_000,
            sweep_seconds: 60,
        }
    }
}

/// The privacy officers' console.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// OpenID Connect sign-in (authorization code with PKCE); without it
    /// officers sign in by pasting a token.
    pub oidc: Option<ConsoleOidcConfig>,
}

/// The console's OpenID Connect client: a public client (no secret) of an
/// issuer that is also one of `auth.issuers`, whose access tokens are what the
/// console sends to `/graphql`. Everything here is public: it is served to the
/// browser at `/console/config.json`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleOidcConfig {
    /// The issuer, exactly as its discovery document and its tokens' `iss`
    /// name it; `/.well-known/openid-configuration` is read from below it.
    pub issuer: String,
    /// The console's client id at the issuer (registered with the redirect
    /// URI `https://HUB/console/`, PKCE S256, no client secret).
    pub client_id: String,
    /// Scopes asked for; must include `openid`.
    #[serde(default = "default_console_scopes")]
    pub scopes: Vec<String>,
    /// A resource indicator (RFC 8707) sent with the authorization and token
    /// requests, for issuers that choose the access token's audience by it.
    #[serde(default)]
    pub resource: Option<String>,
    /// On sign-out, also end the session at the issuer (RP-initiated logout)
    /// when it has an `end_session_endpoint`.
    #[serde(default = "default_true")]
    pub end_session: bool,
}

fn default_console_scopes() -> Vec<String> {
    vec!["openid".to_string()]
}

fn default_true() -> bool {
    true
}

/// The access log.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The hub secret (hex, at least 32 bytes) that keys the digests of
    /// disclosed values. Created on first use; every process of a hub must
    /// share it.
    pub secret_file: PathBuf,
    /// The hub's ES256 key (PKCS#8 PEM) that signs heads, checkpoints and
    /// bundles. Created on first use; shared by every process.
    pub signing_key_file: PathBuf,
    /// `rete audit prune` removes entries older than this many days (none:
    /// entries are kept until pruned by hand with `--before`).
    pub retention_days: Option<u32>,
    /// At most this many entries go into one group commit.
    pub max_batch: usize,
    /// Under load (entries handed over faster than one per this long), a
    /// group commit waits up to this many microseconds after its first entry
    /// for more: fewer, larger commits for a few milliseconds of latency. A
    /// lone request never waits. 0: never wait.
    pub linger_us: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The `aud` every token must name.
    pub audience: String,
    /// Clock skew tolerated on `exp` / `nbf`, in seconds.
    pub leeway_seconds: u64,
    /// Trusted token issuers.
    pub issuers: Vec<IssuerConfig>,
    /// How long fetched JWKS keys are trusted before a refresh, in seconds.
    pub jwks_cache_seconds: u64,
    /// Timeout of one JWKS fetch, in milliseconds.
    pub jwks_timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Expected `iss` claim.
    pub issuer: String,
    /// JWKS endpoint of the issuer (keys are fetched, cached, refreshed on an
    /// unknown `kid`).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Public keys given as PEM files.
    #[serde(default)]
    pub keys: Vec<PemKeyConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PemKeyConfig {
    pub kid: String,
    /// `RS256` or `ES256`.
    pub alg: String,
    /// Path of a PEM public key (SPKI, `BEGIN PUBLIC KEY`).
    pub file: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_batch: usize,
    pub max_body_bytes: usize,
    /// Largest export file `POST /connectors/NAME/upload` takes.
    pub max_upload_bytes: usize,
    pub request_timeout_ms: u64,
    pub max_page_size: u64,
    /// Schema introspection (`__schema`, `__type`). Unset: on with `--demo`
    /// and in tests, off for `rete serve` without `--demo`, which refuses to
    /// start with it set to `true` unless `introspection_in_production` is.
    pub introspection: Option<bool>,
    /// The acknowledgement that a production hub (`rete serve` without
    /// `--demo`) shows its schema: without it `introspection = true` is refused.
    pub introspection_in_production: bool,
    /// Token buckets per agency, per operator and per peer address for failed
    /// authentications (see [`crate::rate`]).
    pub rate: RateLimits,
}

impl Limits {
    /// Whether introspection is on (unset means on: the demo and tests; `rete
    /// serve` without `--demo` resolves it to off first).
    pub fn introspection_enabled(&self) -> bool {
        self.introspection.unwrap_or(true)
    }
}

/// Rate limits (`[limits.rate]`), token buckets kept in each process: a bucket
/// holds `*_burst` requests and refills at `*_per_minute`. Each operation of a
/// batch costs one request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub enabled: bool,
    /// Requests per minute of all the operators of one agency together.
    pub agency_per_minute: u32,
    pub agency_burst: u32,
    /// Requests per minute of one operator (the token's `sub` within its agency).
    pub operator_per_minute: u32,
    pub operator_burst: u32,
    /// Failed authentications per minute from one peer address; past them the
    /// address gets 429 without its token being checked until the bucket refills.
    pub failed_auth_per_minute: u32,
    pub failed_auth_burst: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            agency_per_minute: 6_000,
            agency_burst: 1_000,
            operator_per_minute: 1_200,
            operator_burst: 300,
            failed_auth_per_minute: 120,
            failed_auth_burst: 60,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    pub enabled: bool,
    /// Where the demo signing key lives (created on first `serve --demo`).
    pub key_file: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.to_string(),
            database_url: DEFAULT_DATABASE_URL.to_string(),
            database_max_connections: 16,
            policy_file: None,
            auth: AuthConfig::default(),
            limits: Limits::default(),
            demo: DemoConfig::default(),
            audit: AuditConfig::default(),
            connectors: Default::default(),
            console: ConsoleConfig::default(),
            outbox: OutboxConfig::default(),
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            secret_file: PathBuf::from("rete-audit-secret"),
            signing_key_file: PathBuf::from("rete-hub-key.pem"),
            retention_days: None,
            max_batch: 256,
            linger_us: 5_000,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            audience: DEFAULT_AUDIENCE.to_string(),
            leeway_seconds: 30,
            issuers: Vec::new(),
            jwks_cache_seconds: 300,
            jwks_timeout_ms: 3000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 10,
            max_complexity: 10_000,
            max_aliases: 30,
            max_root_fields: 10,
            max_batch: 10,
            max_body_bytes: 256 * 1024,
            max_upload_bytes: 16 * 1024 * 1024,
            request_timeout_ms: 15_000,
            max_page_size: 100,
            introspection: None,
            introspection_in_production: false,
            rate: RateLimits::default(),
        }
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            enabled: false,
            key_file: PathBuf::from("rete-demo-key.pem"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

impl Config {
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Check every value; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen.parse::<SocketAddr>().map_err(|e| {
            invalid(
                "listen",
                format!("`{}` is not an address: {e}", self.listen),
            )
        })?;
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"))
        {
            return Err(invalid(
                "database_url",
                "must start with `sqlite:` or `postgres://`",
            ));
        }
        if self.database_max_connections == 0 {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        if self.auth.audience.trim().is_empty() {
            return Err(invalid("auth.audience", "must not be empty"));
        }
        if self.auth.issuers.is_empty() && !self.demo.enabled {
            return Err(invalid(
                "auth.issuers",
                "no token issuer is configured: add one, or run with --demo",
            ));
        }
        for (i, iss) in self.auth.issuers.iter().enumerate() {
            let key = format!("auth.issuers[{i}]");
            if iss.issuer.trim().is_empty() {
                return Err(invalid(&format!("{key}.issuer"), "must not be empty"));
            }
            if iss.jwks_url.is_none() && iss.keys.is_empty() {
                return Err(invalid(&key, "needs `jwks_url` or at least one of `keys`"));
            }
            if let Some(url) = &iss.jwks_url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(invalid(
                    &format!("{key}.jwks_url"),
                    "must be an http(s) URL",
                ));
            }
            for (j, k) in iss.keys.iter().enumerate() {
                if !matches!(k.alg.as_str(), "RS256" | "ES256") {
                    return Err(invalid(
                        &format!("{key}.keys[{j}].alg"),
                        format!("`{}` is not allowed (RS256 or ES256)", k.alg),
                    ));
                }
            }
        }
        let l = &self.limits;
        for (name, value) in [
            ("limits.max_depth", l.max_depth),
            ("limits.max_complexity", l.max_complexity),
            ("limits.max_aliases", l.max_aliases),
            ("limits.max_root_fields", l.max_root_fields),
            ("limits.max_batch", l.max_batch),
            ("limits.max_body_bytes", l.max_body_bytes),
            ("limits.max_upload_bytes", l.max_upload_bytes),
        ] {
            if value == 0 {
                return Err(invalid(name, "must be at least 1"));
            }
        }
        if l.request_timeout_ms == 0 {
            return Err(invalid("limits.request_timeout_ms", "must be at least 1"));
        }
        if l.max_page_size == 0 {
            return Err(invalid("limits.max_page_size", "must be at least 1"));
        }
        let r = &l.rate;
        if r.enabled {
            for (name, value) in [
                ("limits.rate.agency_per_minute", r.agency_per_minute),
                ("limits.rate.agency_burst", r.agency_burst),
                ("limits.rate.operator_per_minute", r.operator_per_minute),
                ("limits.rate.operator_burst", r.operator_burst),
                (
                    "limits.rate.failed_auth_per_minute",
                    r.failed_auth_per_minute,
                ),
                ("limits.rate.failed_auth_burst", r.failed_auth_burst),
            ] {
                if value == 0 {
                    return Err(invalid(
                        name,
                        "must be at least 1 (turn the limits off with `limits.rate.enabled = false`)",
                    ));
                }
            }
        }
        if self.audit.max_batch == 0 || self.audit.max_batch > 10_000 {
            return Err(invalid("audit.max_batch", "must be between 1 and 10000"));
        }
        if self.audit.linger_us > 100_000 {
            return Err(invalid(
                "audit.linger_us",
                "must be at most 100000 (a tenth of a second)",
            ));
        }
        if self.audit.retention_days == Some(0) {
            return Err(invalid("audit.retention_days", "must be at least 1 day"));
        }
        for (name, instance) in &self.connectors {
            instance
                .validate(name)
                .map_err(|e| invalid(&e.key, e.message))?;
        }
        if let Some(oidc) = &self.console.oidc {
            self.validate_console_oidc(oidc)?;
        }
        let o = &self.outbox;
        for (name, value, min, max) in [
            ("outbox.poll_ms", o.poll_ms, 10, 600_000),
            ("outbox.batch", o.batch, 1, 1_000),
            ("outbox.lease_seconds", o.lease_seconds, 2, 3_600),
            ("outbox.backoff_ms", o.backoff_ms, 1, 3_600_000),
            ("outbox.backoff_max_ms", o.backoff_max_ms, 1, 86_400_000),
            ("outbox.timeout_ms", o.timeout_ms, 1, 600_000),
            ("outbox.sweep_seconds", o.sweep_seconds, 1, 86_400),
        ] {
            if !(min..=max).contains(&value) {
                return Err(invalid(name, format!("must be between {min} and {max}")));
            }
        }
        if o.backoff_max_ms < o.backoff_ms {
            return Err(invalid(
                "outbox.backoff_max_ms",
                "must be at least `outbox.backoff_ms`",
            ));
        }
        if !(1..=100).contains(&o.max_attempts) {
            return Err(invalid("outbox.max_attempts", "must be between 1 and 100"));
        }
        if o.lease_seconds * 1_000 <= o.timeout_ms {
            return Err(invalid(
                "outbox.lease_seconds",
                "must be longer than `outbox.timeout_ms`, or a slow send loses its claim while it runs",
            ));
        }
        Ok(())
    }

    /// The checks of a production start (`rete serve` without `--demo`), on
    /// top of [`Config::validate`]: the demo key is never trusted, and the
    /// schema is shown only when asked twice. The error names the key.
    pub fn validate_production(&self) -> Result<(), ConfigError> {
        use crate::auth::keys::{DEMO_ISSUER, is_demo_key_file};
        if self.demo.enabled {
            return Err(invalid(
                "demo.enabled",
                "the demo network and its key are for `rete serve --demo` only; remove it from a production config",
            ));
        }
        for (i, iss) in self.auth.issuers.iter().enumerate() {
            if iss.issuer == DEMO_ISSUER {
                return Err(invalid(
                    &format!("auth.issuers[{i}].issuer"),
                    format!("`{DEMO_ISSUER}` is the demo issuer; a production hub never trusts it"),
                ));
            }
            for (j, k) in iss.keys.iter().enumerate() {
                if is_demo_key_file(&k.file, &self.demo.key_file) {
                    return Err(invalid(
                        &format!("auth.issuers[{i}].keys[{j}].file"),
                        format!(
                            "{} is the demo key (`demo.key_file`, minted by `rete token`); a production hub never trusts it",
                            k.file.display()
                        ),
                    ));
                }
            }
        }
        if self.limits.introspection == Some(true) && !self.limits.introspection_in_production {
            return Err(invalid(
                "limits.introspection",
                "introspection shows the whole schema to every token holder; set `limits.introspection_in_production = true` to keep it on without `--demo`, or remove the key (off by default)",
            ));
        }
        Ok(())
    }

    fn validate_console_oidc(&self, oidc: &ConsoleOidcConfig) -> Result<(), ConfigError> {
        let issuer = web_url(&oidc.issuer).map_err(|m| invalid("console.oidc.issuer", m))?;
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(invalid(
                "console.oidc.issuer",
                "must have no query or fragment (OpenID Connect Discovery)",
            ));
        }
        if !self.auth.issuers.iter().any(|i| i.issuer == oidc.issuer) {
            return Err(invalid(
                "console.oidc.issuer",
                format!(
                    "`{}` is not one of `auth.issuers`: the hub would refuse its tokens (add it with its `jwks_url`)",
                    oidc.issuer
                ),
            ));
        }
        if oidc.client_id.trim().is_empty() {
            return Err(invalid("console.oidc.client_id", "must not be empty"));
        }
        if oidc.client_id == self.auth.audience {
            return Err(invalid(
                "console.oidc.client_id",
                "must differ from `auth.audience`: the console's ID tokens would pass as access tokens",
            ));
        }
        if !oidc.scopes.iter().any(|s| s == "openid") {
            return Err(invalid("console.oidc.scopes", "must include `openid`"));
        }
        // RFC 6749, 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        if let Some(bad) = oidc.scopes.iter().find(|s| {
            s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        }) {
            return Err(invalid(
                "console.oidc.scopes",
                format!("`{bad}` is not a scope (no spaces, quotes or backslashes)"),
            ));
        }
        if let Some(resource) = &oidc.resource {
            let ok = reqwest::Url::parse(resource).is_ok_and(|u| u.fragment().is_none());
            if !ok {
                return Err(invalid(
                    "console.oidc.resource",
                    "must be an absolute URI without a fragment (RFC 8707)",
                ));
            }
        }
        Ok(())
    }
}

/// An https URL, or http on a loopback host (a test or a local issuer).
pub fn web_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "`{text}` must use https (http only on 127.0.0.1, [::1] or localhost)"
        )),
        _ => Err(format!("`{text}` must be an https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let err = toml::from_str::<Config>("listne = \"127.0.0.1:1\"").err();
        assert!(err.is_some_and(|e| e.to_string().contains("listne")));
    }

    #[test]
    fn a_bad_limit_is_named() {
        let mut c = Config::default();
        c.demo.enabled = true;
        c.limits.max_depth = 0;
        let err = c.validate().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid config key `limits.max_depth`: must be at least 1")
        );
    }

    #[test]
    fn without_an_issuer_only_the_demo_may_start() {
        let c = Config::default();
        assert!(c.validate().is_err());
        let mut demo = Config::default();
        demo.demo.enabled = true;
        assert!(demo.validate().is_ok());
    }

    const IDP: &str = "https://idp.example.it/realms/rete";

    fn with_console(extra: &str) -> Result<Config, String> {
        let text = format!(
            "[[auth.issuers]]\nissuer = \"{IDP}\"\njwks_url = \"{IDP}/certs\"\n\n[console.oidc]\nissuer = \"{IDP}\"\nclient_id = \"rete-console\"\n{extra}"
        );
        toml::from_str::<Config>(&text).map_err(|e| e.to_string())
    }

    fn console_error(c: &Config) -> Option<String> {
        c.validate().err().map(|e| e.to_string())
    }

    #[test]
    fn a_console_oidc_client_of_a_trusted_issuer_is_valid_with_default_scopes() {
        let c = with_console("").expect("parses");
        assert!(c.validate().is_ok());
        let oidc = c.console.oidc.expect("oidc");
        assert_eq!(oidc.scopes, ["openid"]);
        assert!(oidc.end_session);
        assert_eq!(oidc.resource, None);
    }

    #[test]
    fn an_unknown_key_of_console_oidc_is_named() {
        let err = with_console("client_secret = \"x\"").err();
        assert!(err.is_some_and(|e| e.contains("client_secret")));
    }

    #[test]
    fn a_console_issuer_that_auth_does_not_trust_is_refused() {
        let mut c = with_console("").expect("parses");
        c.auth.issuers[0].issuer = "https://other.example.it".into();
        let err = console_error(&c).expect("refused");
        assert!(
            err.starts_with("invalid config key `console.oidc.issuer`: `https://idp.example.it/realms/rete` is not one of `auth.issuers`"),
            "{err}"
        );
    }

    #[test]
    fn a_console_issuer_over_plain_http_is_refused_except_on_loopback() {
        let mut c = with_console("").expect("parses");
        for (issuer, ok) in [
            ("http://idp.example.it", false),
            ("http://127.0.0.1:9000", true),
            ("http://localhost:9000/realms/rete", true),
            ("http://[::1]:9000", true),
            ("ftp://idp.example.it", false),
            ("https://idp.example.it?tenant=1", false),
            ("not a url", false),
        ] {
            c.auth.issuers[0].issuer = issuer.into();
            c.console.oidc.as_mut().expect("oidc").issuer = issuer.into();
            let err = console_error(&c);
            assert_eq!(err.is_none(), ok, "{issuer}: {err:?}");
            if let Some(e) = err {
                assert!(e.contains("`console.oidc.issuer`"), "{e}");
            }
        }
    }

    #[test]
    fn console_scopes_must_include_openid_and_be_scope_tokens() {
        let c = with_console("scopes = [\"profile\"]").expect("parses");
        assert_eq!(
            console_error(&c).as_deref(),
            Some("invalid config key `console.oidc.scopes`: must include `openid`")
        );
        let c = with_console("scopes = [\"openid\", \"a b\"]").expect("parses");
        assert!(console_error(&c).is_some_and(|e| e.contains("`a b` is not a scope")));
    }

    #[test]
    fn the_console_client_id_may_not_be_the_token_audience() {
        let c = with_console("").map(|mut c| {
            c.console.oidc.as_mut().expect("oidc").client_id = DEFAULT_AUDIENCE.into();
            c
        });
        let err = console_error(&c.expect("parses")).expect("refused");
        assert!(
            err.starts_with(
                "invalid config key `console.oidc.client_id`: must differ from `auth.audience`"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_console_resource_must_be_an_absolute_uri() {
        let c = with_console("resource = \"rete\"").expect("parses");
        assert!(console_error(&c).is_some_and(|e| e.contains("`console.oidc.resource`")));
        let c = with_console("resource = \"https://rete.example.it/graphql\"").expect("parses");
        assert!(c.validate().is_ok());
    }
}
