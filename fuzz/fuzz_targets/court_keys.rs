//! The court's key file (`CourtKeys::parse`, what `CourtConnector::new` reads
//! from `court_key_file`: a PEM public key, a JWK or a JWK Set the court
//! hands over), with the accepted algorithms chosen by the mode digit (a set
//! of ES256, ES384, RS256, PS256). Keys that read then verify a real order
//! signed by another key, and that order's header and payload with the
//! signature cut off.
//!
//! No panic; a file holding a private key is refused; keys the fuzzer wrote
//! never verify an order signed with a key it never saw.
#![no_main]

use std::sync::LazyLock;

use connectors::court::CourtKeys;
use libfuzzer_sys::fuzz_target;
use rete_fuzz::{COURT, Court, jws, mode};

const ALGORITHMS: [&str; 4] = ["ES256", "ES384", "RS256", "PS256"];

static ORDERS: LazyLock<[String; 2]> = LazyLock::new(|| {
    let court = Court::new();
    let header = format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#, court.key.kid);
    let claims = format!(r#"{{"iss":"{COURT}","iat":1772000000,"order":{{"id":"TM-1"}}}}"#);
    let signed = jws(Some(&court.key), header.as_bytes(), claims.as_bytes());
    let unsigned = jws(None, header.as_bytes(), claims.as_bytes());
    [signed, unsigned]
});

fuzz_target!(|data: &[u8]| {
    let (bits, rest) = mode(data, 16);
    let Ok(text) = std::str::from_utf8(rest) else {
        return; // the file is read as text
    };
    let algorithms: Vec<String> = ALGORITHMS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, a)| a.to_string())
        .collect();
    let keys = match CourtKeys::parse(text, &algorithms, "connectors.tribunale.court_key_file") {
        Ok(keys) => keys,
        Err(e) => {
            assert!(e.key.starts_with("connectors.tribunale.court_key_file"));
            assert!(!e.message.is_empty());
            return;
        }
    };
    assert!(
        !text.contains("PRIVATE KEY"),
        "a private key file was taken"
    );
    assert!(!algorithms.is_empty());
    let _ = format!("{keys:?}");
    for order in ORDERS.iter() {
        if let Ok(claims) = keys.verify(order, COURT) {
            panic!("keys the fuzzer wrote verified an order of another key: {claims:?}");
        }
    }
});
