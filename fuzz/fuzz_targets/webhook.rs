//! A community's webhook as `POST /connectors/NAME/webhook` takes it
//! (api/src/webhook.rs), in the same order: the signature headers and the
//! body through the instance's `SharedKey::verify` (i.e.
//! `third_sector::signature::verify`), then the body as UTF-8 text,
//! `ThirdSectorConnector::item` (`event::event_id`) and the instance's
//! mapping (`Connector::map`, i.e. `event::map_event`).
//!
//! Input: a mode digit, then `X-Rete-Timestamp`, `X-Rete-Nonce` and
//! `X-Rete-Signature` one per line, then the body. Mode 0 replaces the
//! signature with the right HMAC of what was sent (so the body reaches the
//! mapping), 1 sends the fuzzer's signature, 2 the same but an empty line is
//! a missing header. A header value that is not visible ASCII reaches the
//! check as the hub's handler passes it (a NUL).
//!
//! No panic; a signature the fuzzer made up is never accepted, the right one
//! is never called bad; an event that maps is one record keyed by its id; a
//! reason never quotes `note` or `end_reason` (mapped again with each between
//! markers, the reason holds no marker).
#![no_main]

use std::sync::{Arc, LazyLock};

use aws_lc_rs::hmac;
use connectors::config::InstanceConfig;
use connectors::third_sector::ThirdSectorConnector;
use connectors::third_sector::signature::{SignatureError, SignedHeaders};
use connectors::{Connector, Mapped};
use libfuzzer_sys::fuzz_target;
use rete_fuzz::{MARK, fields, marked_value, mode};
use serde_json::Value;

/// Test secret of this target only, generated for it: no hub trusts it.
const SECRET: &str = "fuzz-target-secret-0123456789abcdef0123456789";
/// The receiver's clock: fixed, so a run is reproducible (Unix seconds,
/// 2026-10-27).
const NOW: i64 = 1_793_000_000;

struct Instance {
    connector: Arc<dyn Connector>,
    _dir: tempfile::TempDir,
}

static INSTANCE: LazyLock<Instance> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("secret");
    std::fs::write(&file, SECRET).expect("the secret file");
    let config: InstanceConfig = toml::from_str(&format!(
        "kind = \"third-sector\"\nagency = \"comunita-aurora\"\nsecret = {{ file = {:?} }}\n",
        file.display().to_string()
    ))
    .expect("a third-sector instance");
    let connector = connectors::build("aurora", &config).expect("the connector builds");
    Instance {
        connector,
        _dir: dir,
    }
});

/// A header's value as the handler hands it on (`to_str`, or a NUL).
fn header(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) => s,
        _ => "\0",
    }
}

fuzz_target!(|data: &[u8]| {
    let instance = &*INSTANCE;
    let key = instance.connector.shared_key().expect("a third-sector key");
    let (mode, rest) = mode(data, 3);
    let [timestamp, nonce, signature, body] = fields::<4>(rest);
    let (timestamp, nonce) = (header(timestamp), header(nonce));
    let right = {
        let k = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
        let signed = [timestamp.trim().as_bytes(), nonce.trim().as_bytes(), body].join(&b'.');
        format!("v1={}", hex::encode(hmac::sign(&k, &signed).as_ref()))
    };
    let signature: &str = if mode == 0 { &right } else { header(signature) };
    let given = |v: &str| -> bool { mode != 2 || !v.is_empty() };
    let headers = SignedHeaders {
        timestamp: given(timestamp).then_some(timestamp),
        nonce: given(nonce).then_some(nonce),
        signature: given(signature).then_some(signature),
    };
    match key.verify(&headers, body, NOW) {
        Ok(()) => assert_eq!(mode, 0, "a signature the fuzzer made up was accepted"),
        Err(SignatureError::BadSignature) if mode == 0 => {
            panic!("the right signature was called bad")
        }
        Err(_) => return,
    }
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return; // answered 400: the body is not UTF-8
    };
    let item = ThirdSectorConnector::item(text);
    match instance.connector.map(&item) {
        Mapped::Records(records) => {
            assert_eq!(records.len(), 1, "one event, one record");
            assert_eq!(Some(&records[0].key.id), item.external_id.as_ref());
            assert_eq!(records[0].key.system, "third-sector:aurora");
        }
        Mapped::Rejected(why) => {
            assert!(!why.is_empty());
            never_quoted(instance.connector.as_ref(), &item.payload);
        }
        Mapped::Skipped(why) => panic!("a webhook body is never skipped: {why}"),
    }
});

/// Maps the body again with `note`, then `end_reason`, between markers.
fn never_quoted(connector: &dyn Connector, payload: &str) {
    let Ok(Value::Object(body)) = serde_json::from_str::<Value>(payload) else {
        return;
    };
    if payload.contains(MARK) {
        return;
    }
    for field in ["note", "end_reason"] {
        let Some(Value::String(text)) = body.get(field) else {
            continue;
        };
        let mut marked = body.clone();
        marked.insert(field.into(), Value::String(marked_value(text)));
        let item = ThirdSectorConnector::item(Value::Object(marked).to_string());
        if let Mapped::Rejected(why) = connector.map(&item) {
            assert!(!why.contains(MARK), "the reason quotes {field}: {why}");
        }
    }
}
