//! What Rete's fuzz targets (`fuzz/fuzz_targets/`) share: how an input's
//! bytes are cut into the fields of a structured target, base64url, and the
//! policy file writer the policy target round-trips through.
//!
//! Structured inputs are plain text so that seeds are files a person can read
//! and edit: a mode digit, then fields one per line, the last field taking the
//! rest (`0{"alg":"ES256"}\n{"iss":"…"}`). A target never reads a file per
//! input; keys are generated once, when the target starts, and never written.
//!
//! This crate never ships: nothing in the hub depends on it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use connectors::court::CourtKeys;
use jsonwebtoken::Algorithm;
use policy::Policy;
use rete_api::auth::keys::SigningKey;
use toml::{Table, Value};

/// The first byte as a mode in `0..modes` (ASCII digits map to themselves
/// for `modes` ≤ 10, as `'0'` is 48), and the rest of the input.
pub fn mode(data: &[u8], modes: u8) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (first % modes, rest),
        None => (0, data),
    }
}

/// `N` fields cut at the first `N - 1` line feeds; the last field keeps the
/// rest (line feeds included), missing fields are empty.
pub fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for slot in out.iter_mut().take(N - 1) {
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                *slot = &rest[..i];
                rest = &rest[i + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out[N - 1] = rest;
    out
}

/// What the privacy checks put around a personal value: no input holds it
/// (checks skip one that does), so a reason or message holding it quotes
/// that value.
pub const MARK: &str = "⁂";

/// A value between markers (`⁂⁂⁂value⁂⁂⁂`): a message quoting all of it, or
/// its first or last 40 characters, holds a marker.
pub fn marked_value(value: &str) -> String {
    format!("{MARK}{MARK}{MARK}{value}{MARK}{MARK}{MARK}")
}

/// Unpadded base64url, as JWS parts are written.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS of these header and claims bytes (each base64url-encoded
/// as it is, JSON or not), signed by `key` with ES256 whatever the header
/// says, or with an empty signature when `key` is `None`.
pub fn jws(key: Option<&SigningKey>, header: &[u8], claims: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = match key {
        Some(key) => jsonwebtoken::crypto::sign(input.as_bytes(), &key.encoding, Algorithm::ES256)
            .expect("ES256 signs any bytes"),
        None => String::new(),
    };
    format!("{input}.{signature}")
}

/// The 1-based number of lines of a text as the policy reader counts them
/// (a problem may sit on the line after a final line feed).
pub fn line_count(text: &str) -> usize {
    text.bytes().filter(|b| *b == b'\n').count() + 1
}

/// A policy file (docs/policy.md) that says what `policy` says: every table
/// and every optional list that is set, and the defaults written out
/// (`bases`, `break_glass_opens_secret_location`). Reading it back must give
/// the same canonical form, hence the same version hash.
pub fn policy_file(policy: &Policy) -> String {
    fn words<T: std::fmt::Display>(set: impl IntoIterator<Item = T>) -> Value {
        Value::Array(
            set.into_iter()
                .map(|w| Value::String(w.to_string()))
                .collect(),
        )
    }
    fn table(pairs: Vec<(&str, Value)>) -> Value {
        Value::Table(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    let text = |s: &str| Value::String(s.to_string());

    let mut file = Table::new();
    file.insert(
        "agreement".into(),
        table(vec![
            ("name", text(&policy.agreement.name)),
            ("version", text(&policy.agreement.version)),
        ]),
    );
    let agencies = policy
        .agencies
        .iter()
        .map(|a| {
            table(vec![
                ("id", text(&a.id)),
                ("name", text(&a.name)),
                ("kind", text(a.kind.as_str())),
            ])
        })
        .collect();
    file.insert("agency".into(), Value::Array(agencies));
    let duties = policy
        .duties
        .iter()
        .map(|d| {
            let mut t = vec![
                ("id", text(&d.id)),
                ("description", text(&d.description)),
                ("agency_kinds", words(&d.agency_kinds)),
                ("purposes", words(&d.purposes)),
                ("classes", words(&d.classes)),
                ("relationships", words(&d.relationships)),
            ];
            if let Some(roles) = &d.roles {
                t.push(("roles", words(roles)));
            }
            table(t)
        })
        .collect();
    file.insert("duty".into(), Value::Array(duties));
    let rules = policy
        .rules
        .iter()
        .map(|r| {
            let mut t = vec![
                ("id", text(&r.id)),
                ("description", text(&r.description)),
                ("purposes", words(&r.purposes)),
                ("classes", words(&r.classes)),
                ("relationships", words(&r.relationships)),
                ("bases", words(&r.bases)),
                (
                    "break_glass_opens_secret_location",
                    Value::Boolean(r.break_glass_opens_secret_location),
                ),
            ];
            if let Some(kinds) = &r.agency_kinds {
                t.push(("agency_kinds", words(kinds)));
            }
            if let Some(agencies) = &r.agencies {
                t.push(("agencies", words(agencies)));
            }
            if let Some(roles) = &r.roles {
                t.push(("roles", words(roles)));
            }
            table(t)
        })
        .collect();
    file.insert("rule".into(), Value::Array(rules));
    toml::to_string(&file).expect("a table of strings, arrays and booleans is TOML")
}

/// The court of the court targets: a key pair generated when the target
/// starts (with the hub's own ES256 key generator; nothing trusts it outside
/// the target), and the mapping context of an instance reading court
/// [`COURT`], whose keys are read from the public JWK as a `court_key_file`
/// would be (`CourtKeys::parse`).
pub struct Court {
    pub key: SigningKey,
    pub ctx: connectors::court::MapContext,
}

/// The court's agency id.
pub const COURT: &str = "tm-torino";

impl Court {
    pub fn new() -> Court {
        let key = SigningKey::generate_es256("tm-2026").expect("an ES256 key");
        let public_jwk =
            serde_json::to_string(&key.public_jwk().expect("its public JWK")).expect("JSON");
        let keys = CourtKeys::parse(&public_jwk, &["ES256".to_string()], "court_key_file")
            .expect("the court's public JWK reads");
        let ctx = connectors::court::MapContext {
            agency: COURT.to_string(),
            system: connectors::court::system_of(COURT),
            keys,
        };
        Court { key, ctx }
    }
}

impl Default for Court {
    fn default() -> Court {
        Court::new()
    }
}
