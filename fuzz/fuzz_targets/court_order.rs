//! JWS header and claims the fuzzer writes as JSON, signed, through the court
//! connector's mapping (`court::map_item`: `CourtKeys::verify`, then
//! `court::read_order`).
//!
//! Input: a mode digit, the header JSON on the first line, the claims JSON in
//! the rest. Mode 0 signs with the court's key (so the order is read), 1 with
//! another key under the court's `kid` (a forgery), 2 sends no signature.
//! No panic; only mode 0 ever gives a record, and that record is the order
//! the claims hold: the court's system, `order.id` as its key, `iss` the
//! court. A reason never quotes a summary, a text, a description or a docket
//! number: the order is signed and mapped again with each between markers,
//! and the reason must hold no marker.
#![no_main]

use std::sync::LazyLock;

use connectors::court::RESOURCE_TYPE;
use connectors::{Inbound, Mapped, RawItem};
use libfuzzer_sys::fuzz_target;
use rete_api::auth::keys::SigningKey;
use rete_fuzz::{COURT, Court, MARK, fields, jws, marked_value, mode};
use serde_json::Value;

static STATE: LazyLock<(Court, SigningKey)> = LazyLock::new(|| {
    let court = Court::new();
    let forger = SigningKey::generate_es256(&court.key.kid).expect("another ES256 key");
    (court, forger)
});

fuzz_target!(|data: &[u8]| {
    let (court, forger) = &*STATE;
    let (mode, rest) = mode(data, 3);
    let [header, claims] = fields::<2>(rest);
    let signer = match mode {
        0 => Some(&court.key),
        1 => Some(forger),
        _ => None,
    };
    let item = RawItem {
        resource_type: RESOURCE_TYPE.into(),
        external_id: None,
        position: Some(1),
        payload: jws(signer, header, claims),
    };
    let records = match connectors::court::map_item(&court.ctx, &item) {
        Mapped::Records(records) => records,
        Mapped::Rejected(why) => {
            assert!(!why.is_empty());
            if mode == 0 {
                never_quoted(court, header, claims);
            }
            return;
        }
        Mapped::Skipped(why) => panic!("a court-order item was skipped: {why}"),
    };
    assert_eq!(mode, 0, "an order not signed by the court's key was taken");
    let claims: Value = serde_json::from_slice(claims).expect("verified claims are JSON");
    assert_eq!(claims.get("iss").and_then(Value::as_str), Some(COURT));
    let [record] = records.as_slice() else {
        panic!("one order, {} records", records.len());
    };
    assert_eq!(record.key.system, court.ctx.system);
    let id = claims
        .pointer("/order/id")
        .and_then(Value::as_str)
        .map(str::trim);
    assert_eq!(Some(record.key.id.as_str()), id);
    assert!(matches!(record.body, Inbound::CourtOrder(_)));
});

/// The fields of an order whose text a reason never quotes, as JSON pointers
/// below the claims (the first mandates' descriptions included).
const PRIVATE: [&str; 6] = [
    "/order/summary",
    "/order/text",
    "/order/docket_number",
    "/order/mandates/0/description",
    "/order/mandates/1/description",
    "/order/mandates/2/description",
];

/// Signs and maps the order again with each private field between markers.
fn never_quoted(court: &Court, header: &[u8], claims: &[u8]) {
    let Ok(parsed) = serde_json::from_slice::<Value>(claims) else {
        return;
    };
    // A marker the fuzzer wrote itself (in the claims, or in the header,
    // whose `kid` a reason may name) would be taken for a quoted field.
    if String::from_utf8_lossy(claims).contains(MARK)
        || String::from_utf8_lossy(header).contains(MARK)
    {
        return;
    }
    for pointer in PRIVATE {
        let mut marked = parsed.clone();
        let Some(Value::String(text)) = marked.pointer_mut(pointer) else {
            continue;
        };
        *text = marked_value(text);
        let item = RawItem {
            resource_type: RESOURCE_TYPE.into(),
            external_id: None,
            position: Some(1),
            payload: jws(Some(&court.key), header, marked.to_string().as_bytes()),
        };
        if let Mapped::Rejected(why) = connectors::court::map_item(&court.ctx, &item) {
            assert!(!why.contains(MARK), "the reason quotes {pointer}: {why}");
        }
    }
}
