//! JWT header and claims the fuzzer writes as JSON, base64url-encoded and
//! signed, through the hub's JWT check (`rete_api::auth::Verifier::verify`).
//!
//! Input: a mode digit, the header JSON on the first line, the claims JSON in
//! the rest. Mode 0 signs with the trusted issuer's key (so the claims checks
//! are reached), 1 with another key under the same `kid` (a forgery), 2 sends
//! no signature. No panic; only mode 0 may ever be accepted, and an accepted
//! token says what its claims say, with vocabulary words for role and purpose.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rete_api::auth::Verifier;
use rete_api::auth::keys::SigningKey;
use rete_api::config::AuthConfig;
use rete_fuzz::{fields, jws, mode};
use serde_json::Value;

const ISSUER: &str = "rete-fuzz";
const KID: &str = "fuzz-es256";

struct Hub {
    runtime: tokio::runtime::Runtime,
    verifier: Verifier,
    key: SigningKey,
    forger: SigningKey,
}

static HUB: LazyLock<Hub> = LazyLock::new(|| {
    let key = SigningKey::generate_es256(KID).expect("an ES256 key");
    let forger = SigningKey::generate_es256(KID).expect("another ES256 key");
    let mut verifier = Verifier::from_config(&AuthConfig::default()).expect("the default config");
    verifier.add_static_issuer(ISSUER, key.verifying_keys().expect("the public key"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    Hub {
        runtime,
        verifier,
        key,
        forger,
    }
});

fuzz_target!(|data: &[u8]| {
    let hub = &*HUB;
    let (mode, rest) = mode(data, 3);
    let [header, claims] = fields::<2>(rest);
    let signer = match mode {
        0 => Some(&hub.key),
        1 => Some(&hub.forger),
        _ => None,
    };
    let token = jws(signer, header, claims);
    let Ok(verified) = hub.runtime.block_on(hub.verifier.verify(&token)) else {
        return;
    };
    assert_eq!(
        mode, 0,
        "a token not signed by the issuer's key was accepted"
    );
    let claims: Value = serde_json::from_slice(claims).expect("accepted claims are JSON");
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    assert_eq!(verified.issuer, ISSUER);
    assert_eq!(claim("iss"), ISSUER);
    assert_eq!(verified.operator, claim("sub"));
    assert_eq!(verified.agency, claim("agency"));
    assert_eq!(verified.token_id, claim("jti"));
    assert_eq!(verified.role.as_str(), claim("role"));
    assert_eq!(verified.purpose.as_str(), claim("purpose"));
    assert!(!verified.operator.trim().is_empty() && !verified.agency.trim().is_empty());
});
