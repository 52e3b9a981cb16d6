//! Connector instances as the hub's config file declares them
//! (`[connectors.NAME]` tables; `docs/connectors.md` shows a full example).
//!
//! Typed and strict like the rest of the config: unknown keys are errors and
//! [`InstanceConfig::validate`] names the bad key. Secrets (tokens, private
//! keys) are never written in the file itself: a [`SecretSource`] says which
//! environment variable or file holds them, and is read when the connector is
//! built, with an error that names the source (never the value).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid config key `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// One connector instance. (No `deny_unknown_fields` here: serde cannot
/// combine it with `flatten`. Every key this struct does not know goes to the
/// kind's struct, which denies unknown keys, so a typo is still an error.)
#[derive(Clone, Debug, Deserialize)]
pub struct InstanceConfig {
    /// The Rete agency this instance speaks for (source of health events,
    /// reporter of referrals, recorder of consents).
    pub agency: String,
    /// How often `rete serve` syncs it: `30s`, `15m`, `1h`; none = only by hand.
    #[serde(default)]
    pub schedule: Option<String>,
    /// The social service that triages the referrals this instance raises.
    #[serde(default)]
    pub refer_to: Option<String>,
    /// Attempts per fetch before the run fails (with exponential backoff and jitter).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// How long a run holds its lease without renewing it: a killed process
    /// loses the instance after this long.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    #[serde(flatten)]
    pub kind: KindConfig,
}

fn default_attempts() -> u32 {
    5
}

fn default_lease_seconds() -> u64 {
    30
}

/// The kind-specific part, chosen by `kind = "..."`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum KindConfig {
    /// A hospital's HL7 FHIR R4 REST server.
    Fhir(Box<FhirConfig>),
    /// A consultorio's CSV exports (files or the upload endpoint).
    Consultorio(ConsultorioConfig),
    /// A juvenile court's system: signed orders and report requests.
    Court(CourtConfig),
    /// A reception community or cooperative: signed webhooks in
    /// (`docs/connectors-third-sector.md`), signed messages out.
    #[serde(rename = "third-sector")]
    ThirdSector(ThirdSectorConfig),
}

impl KindConfig {
    pub fn name(&self) -> &'static str {
        match self {
            KindConfig::Fhir(_) => "fhir",
            KindConfig::Consultorio(_) => "consultorio",
            KindConfig::Court(_) => "court",
            KindConfig::ThirdSector(_) => "third-sector",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FhirConfig {
    /// The FHIR server's base URL, e.g. `https://fhir.ospedale.example/r4`.
    pub base_url: String,
    #[serde(default)]
    pub auth: FhirAuth,
    /// `_count` per page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Per-request timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Resource types pulled, in this order.
    #[serde(default = "default_resources")]
    pub resources: Vec<String>,
    /// Encounter reason codes that raise a referral.
    #[serde(default)]
    pub signals: Vec<SignalConfig>,
}

fn default_page_size() -> u32 {
    200
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_resources() -> Vec<String> {
    ["Patient", "Encounter", "Condition", "Consent"]
        .map(String::from)
        .to_vec()
}

/// A coded encounter reason that signals a child-protection or violence
/// concern: such an encounter also becomes a referral in the triage queue.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalConfig {
    /// Code system URI, e.g. `http://snomed.info/sct`.
    pub system: String,
    pub code: String,
    /// Referral reason, e.g. `DOMESTIC_VIOLENCE`.
    pub reason: String,
    /// Urgency, e.g. `HIGH`.
    #[serde(default = "default_urgency")]
    pub urgency: String,
    /// The patient's role in the referral (`CHILD`, `MOTHER`...); `OTHER`
    /// leaves it to triage.
    #[serde(default = "default_subject_role")]
    pub subject_role: String,
}

fn default_urgency() -> String {
    "HIGH".to_string()
}

fn default_subject_role() -> String {
    "OTHER".to_string()
}

/// How the connector authenticates to the FHIR server.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FhirAuth {
    /// No authentication (a server on a private network).
    #[default]
    None,
    /// A static bearer token.
    Bearer { token: SecretSource },
    /// SMART Backend Services: OAuth2 client_credentials with a signed JWT
    /// client assertion (`private_key_jwt`).
    SmartBackend {
        token_url: String,
        client_id: String,
        /// PEM private key (RS384 or ES384, as SMART asks).
        private_key: SecretSource,
        /// `kid` of the key as registered at the server.
        key_id: String,
        #[serde(default = "default_alg")]
        alg: String,
        #[serde(default = "default_scope")]
        scope: String,
    },
}

fn default_alg() -> String {
    "RS384".to_string()
}

fn default_scope() -> String {
    "system/Patient.read system/Encounter.read system/Condition.read system/Consent.read"
        .to_string()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsultorioConfig {
    /// Names this consultorio's export in external keys (e.g. `consultorio-centro`);
    /// defaults to the instance name.
    #[serde(default)]
    pub system: Option<String>,
}

/// A juvenile court's order feed (`docs/connectors-court.md`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtConfig {
    /// The court system's base URL; orders are pulled from `{base_url}/orders`.
    pub base_url: String,
    /// The court's PUBLIC signing key: a PEM `PUBLIC KEY`, a JWK or a JWK Set
    /// (several keys with their `kid`, while the court rotates). Not a
    /// secret, so a plain path.
    pub court_key_file: PathBuf,
    /// The JWS algorithms accepted; anything else (and `none`) is refused.
    #[serde(default = "default_court_algorithms")]
    pub algorithms: Vec<String>,
    /// A bearer token the court's system asks for, if any.
    #[serde(default)]
    pub auth: Option<SecretSource>,
    /// `limit` per page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Per-request timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// A reception community's or cooperative's connection. The instance's
/// `agency` is the community's own agency: its webhooks may only speak of
/// placements in facilities that agency runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThirdSectorConfig {
    /// The HMAC-SHA256 key shared with the community (at least 32 bytes). It
    /// signs the community's webhooks and the hub's messages alike.
    pub secret: SecretSource,
    /// Where the hub's outbound messages go (`{endpoint}/messages`); none:
    /// the community only sends.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// How far a webhook's `X-Rete-Timestamp` may be from the hub's clock, in
    /// either direction.
    #[serde(default = "default_window_seconds")]
    pub window_seconds: u64,
    /// Per-request timeout of outbound messages.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_court_algorithms() -> Vec<String> {
    vec!["ES256".to_string()]
}

/// The JWS algorithms a court's key may sign with: asymmetric only (an HMAC
/// secret shared with the court would let the hub forge orders), and no
/// `none`.
pub const COURT_ALGORITHMS: [&str; 4] = ["ES256", "ES384", "RS256", "PS256"];

fn default_window_seconds() -> u64 {
    300
}

/// The longest signature window: nonces are kept for twice the window, and a
/// longer one would let a captured request be replayed once they are pruned.
pub const MAX_WINDOW_SECONDS: u64 = 900;

/// The shortest shared secret, in bytes (as long as the HMAC-SHA256 output).
pub const MIN_SECRET_BYTES: usize = 32;

/// Where a secret comes from: an environment variable or a file.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum SecretSource {
    Env { env: String },
    File { file: PathBuf },
}

impl SecretSource {
    /// Reads the secret; the error names where it looked, never the value.
    pub fn read(&self, key: &str) -> Result<String, ConfigError> {
        let value = match self {
            SecretSource::Env { env } => std::env::var(env)
                .map_err(|_| invalid(key, format!("environment variable {env} is not set")))?,
            SecretSource::File { file } => std::fs::read_to_string(file)
                .map_err(|e| invalid(key, format!("cannot read {}: {e}", file.display())))?,
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err(invalid(key, "the secret is empty"));
        }
        Ok(value)
    }
}

impl InstanceConfig {
    /// Checks every value; `name` is the instance's name in the file.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let key = |k: &str| format!("connectors.{name}.{k}");
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            || name.is_empty()
        {
            return Err(invalid(
                format!("connectors.{name}"),
                "instance names are lower-case letters, digits, '-' and '_'",
            ));
        }
        if self.agency.trim().is_empty() {
            return Err(invalid(key("agency"), "must not be empty"));
        }
        if let Some(s) = &self.schedule {
            parse_interval(s).map_err(|m| invalid(key("schedule"), m))?;
        }
        if self.max_attempts == 0 || self.max_attempts > 20 {
            return Err(invalid(key("max_attempts"), "must be between 1 and 20"));
        }
        if self.lease_seconds < 2 {
            return Err(invalid(key("lease_seconds"), "must be at least 2"));
        }
        match &self.kind {
            KindConfig::Fhir(f) => {
                if !(f.base_url.starts_with("http://") || f.base_url.starts_with("https://")) {
                    return Err(invalid(key("base_url"), "must be an http(s) URL"));
                }
                if f.page_size == 0 || f.page_size > 1000 {
                    return Err(invalid(key("page_size"), "must be between 1 and 1000"));
                }
                if f.timeout_ms == 0 {
                    return Err(invalid(key("timeout_ms"), "must be at least 1"));
                }
                for (i, r) in f.resources.iter().enumerate() {
                    if !matches!(
                        r.as_str(),
                        "Patient" | "Encounter" | "Condition" | "Consent"
                    ) {
                        return Err(invalid(
                            key(&format!("resources[{i}]")),
                            format!("`{r}` is not pulled (Patient, Encounter, Condition, Consent)"),
                        ));
                    }
                }
                if !f.signals.is_empty() && self.refer_to.is_none() {
                    return Err(invalid(
                        key("refer_to"),
                        "signals raise referrals: say which social service triages them",
                    ));
                }
                if let FhirAuth::SmartBackend { alg, token_url, .. } = &f.auth {
                    if !matches!(alg.as_str(), "RS384" | "ES384" | "RS256" | "ES256") {
                        return Err(invalid(
                            key("auth.alg"),
                            format!("`{alg}` is not supported (RS384, ES384, RS256, ES256)"),
                        ));
                    }
                    if !(token_url.starts_with("http://") || token_url.starts_with("https://")) {
                        return Err(invalid(key("auth.token_url"), "must be an http(s) URL"));
                    }
                }
            }
            KindConfig::Consultorio(_) => {}
            KindConfig::Court(c) => {
                if !(c.base_url.starts_with("http://") || c.base_url.starts_with("https://")) {
                    return Err(invalid(key("base_url"), "must be an http(s) URL"));
                }
                if c.court_key_file.as_os_str().is_empty() {
                    return Err(invalid(
                        key("court_key_file"),
                        "must name the file of the court's public key",
                    ));
                }
                if c.algorithms.is_empty() {
                    return Err(invalid(key("algorithms"), "must name at least one"));
                }
                for (i, a) in c.algorithms.iter().enumerate() {
                    if !COURT_ALGORITHMS.contains(&a.as_str()) {
                        return Err(invalid(
                            key(&format!("algorithms[{i}]")),
                            format!("`{a}` is not accepted ({})", COURT_ALGORITHMS.join(", ")),
                        ));
                    }
                    if c.algorithms[..i].contains(a) {
                        return Err(invalid(
                            key(&format!("algorithms[{i}]")),
                            format!("`{a}` is named twice"),
                        ));
                    }
                }
                if c.page_size == 0 || c.page_size > 1000 {
                    return Err(invalid(key("page_size"), "must be between 1 and 1000"));
                }
                if c.timeout_ms == 0 {
                    return Err(invalid(key("timeout_ms"), "must be at least 1"));
                }
            }
            KindConfig::ThirdSector(t) => {
                if let Some(endpoint) = &t.endpoint
                    && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
                {
                    return Err(invalid(key("endpoint"), "must be an http(s) URL"));
                }
                if t.window_seconds == 0 || t.window_seconds > MAX_WINDOW_SECONDS {
                    return Err(invalid(
                        key("window_seconds"),
                        format!("must be between 1 and {MAX_WINDOW_SECONDS}"),
                    ));
                }
                if t.timeout_ms == 0 {
                    return Err(invalid(key("timeout_ms"), "must be at least 1"));
                }
            }
        }
        Ok(())
    }

    pub fn interval(&self) -> Option<Duration> {
        self.schedule
            .as_deref()
            .and_then(|s| parse_interval(s).ok())
    }
}

/// `30s`, `15m`, `1h`, `1d` (at least 5 seconds).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not an interval like 30s, 15m, 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{s}` is not an interval like 30s, 15m, 1h")),
    };
    if secs < 5 {
        return Err("must be at least 5s".to_string());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<InstanceConfig, String> {
        toml::from_str::<InstanceConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_fhir_instance_reads_with_defaults() {
        let c = parse(
            "kind = \"fhir\"\nagency = \"ospedale-regina\"\nbase_url = \"http://127.0.0.1:1/r4\"\nschedule = \"15m\"\n",
        )
        .expect("valid");
        assert!(c.validate("hospital").is_ok());
        assert_eq!(c.interval(), Some(Duration::from_secs(900)));
        let KindConfig::Fhir(f) = c.kind else {
            panic!("fhir expected")
        };
        let f = *f;
        assert_eq!(f.page_size, 200);
        assert!(matches!(f.auth, FhirAuth::None));
    }

    #[test]
    fn a_court_instance_reads_with_defaults_and_refuses_symmetric_algorithms() {
        let c = parse(
            "kind = \"court\"\nagency = \"tm-torino\"\nbase_url = \"https://tribunale.example/api\"\ncourt_key_file = \"/etc/rete/tm.jwk\"\n",
        )
        .expect("valid");
        assert!(c.validate("tribunale").is_ok());
        let KindConfig::Court(court) = &c.kind else {
            panic!("court expected")
        };
        assert_eq!(court.algorithms, ["ES256"]);
        assert_eq!((court.page_size, court.timeout_ms), (200, 10_000));
        assert!(court.auth.is_none());

        let c = parse(
            "kind = \"court\"\nagency = \"tm\"\nbase_url = \"https://t\"\ncourt_key_file = \"k\"\nalgorithms = [\"ES256\", \"HS256\"]\n",
        )
        .expect("parses");
        let err = c.validate("tribunale").err();
        assert_eq!(
            err.as_ref().map(|e| e.key.as_str()),
            Some("connectors.tribunale.algorithms[1]")
        );
        assert!(err.is_some_and(|e| e.message.contains("not accepted")));
    }

    #[test]
    fn a_typo_is_named() {
        let err = parse("kind = \"consultorio\"\nagency = \"c\"\nshedule = \"1m\"\n").err();
        assert!(
            err.is_some_and(|e| e.contains("shedule")),
            "unknown key named"
        );
    }

    #[test]
    fn a_bad_schedule_names_its_key() {
        let c = parse("kind = \"consultorio\"\nagency = \"c\"\nschedule = \"often\"\n")
            .expect("parses");
        let err = c.validate("cons").err().map(|e| e.key);
        assert_eq!(err.as_deref(), Some("connectors.cons.schedule"));
    }

    #[test]
    fn signals_need_a_social_service_to_refer_to() {
        let c = parse(
            "kind = \"fhir\"\nagency = \"h\"\nbase_url = \"http://x\"\n[[signals]]\nsystem = \"http://snomed.info/sct\"\ncode = \"1\"\nreason = \"DOMESTIC_VIOLENCE\"\n",
        )
        .expect("parses");
        assert_eq!(
            c.validate("h").err().map(|e| e.key).as_deref(),
            Some("connectors.h.refer_to")
        );
    }

    #[test]
    fn a_third_sector_instance_reads_with_defaults_and_checks_its_window() {
        let c = parse(
            "kind = \"third-sector\"\nagency = \"comunita-aurora\"\nsecret = { env = \"AURORA_SECRET\" }\nendpoint = \"https://aurora.example/rete\"\n",
        )
        .expect("valid");
        assert!(c.validate("aurora").is_ok());
        assert_eq!(c.kind.name(), "third-sector");
        let KindConfig::ThirdSector(t) = &c.kind else {
            panic!("third-sector expected")
        };
        assert_eq!((t.window_seconds, t.timeout_ms), (300, 10_000));

        let wide = parse(
            "kind = \"third-sector\"\nagency = \"a\"\nsecret = { env = \"S\" }\nwindow_seconds = 901\n",
        )
        .expect("parses");
        assert_eq!(
            wide.validate("aurora").err().map(|e| e.key).as_deref(),
            Some("connectors.aurora.window_seconds")
        );
        let ftp = parse(
            "kind = \"third-sector\"\nagency = \"a\"\nsecret = { env = \"S\" }\nendpoint = \"ftp://x\"\n",
        )
        .expect("parses");
        assert_eq!(
            ftp.validate("aurora").err().map(|e| e.key).as_deref(),
            Some("connectors.aurora.endpoint")
        );
        let typo = parse(
            "kind = \"third-sector\"\nagency = \"a\"\nsecret = { env = \"S\" }\nwindow = 60\n",
        );
        assert!(
            typo.is_err_and(|e| e.contains("window")),
            "unknown key named"
        );
        let no_secret = parse("kind = \"third-sector\"\nagency = \"a\"\n");
        assert!(no_secret.is_err_and(|e| e.contains("secret")));
    }

    #[test]
    fn a_secret_names_its_missing_source_not_a_value() {
        let s = SecretSource::Env {
            env: "RETE_TEST_SURELY_UNSET_VAR".into(),
        };
        let err = s.read("connectors.h.auth.token").err().map(|e| e.message);
        assert_eq!(
            err.as_deref(),
            Some("environment variable RETE_TEST_SURELY_UNSET_VAR is not set")
        );
    }
}
