//! A bearer token as raw bytes through the hub's JWT check
//! (`rete_api::auth::Verifier::verify`, what every `/graphql` request and
//! upload goes through), trusting one ES256 issuer whose key is generated when
//! the target starts. No panic, and nothing the fuzzer makes up is ever
//! accepted: it cannot sign with a key it never sees.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rete_api::auth::Verifier;
use rete_api::auth::keys::SigningKey;
use rete_api::config::AuthConfig;

const ISSUER: &str = "rete-fuzz";

struct Hub {
    runtime: tokio::runtime::Runtime,
    verifier: Verifier,
}

static HUB: LazyLock<Hub> = LazyLock::new(|| {
    let key = SigningKey::generate_es256("fuzz-es256").expect("an ES256 key");
    let mut verifier = Verifier::from_config(&AuthConfig::default()).expect("the default config");
    verifier.add_static_issuer(ISSUER, key.verifying_keys().expect("the public key"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    Hub { runtime, verifier }
});

fuzz_target!(|data: &[u8]| {
    let hub = &*HUB;
    // The Authorization header reaches the verifier as text (`to_str`).
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(claims) = hub.runtime.block_on(hub.verifier.verify(token)) {
        panic!("a made-up token was accepted: {claims:?}");
    }
});
