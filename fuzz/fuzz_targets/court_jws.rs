//! An item of the court's feed as raw text: the court connector's mapping
//! (`court::map_item`, what `Connector::map` of a `court` instance calls),
//! which verifies the compact JWS against the court's key
//! (`CourtKeys::verify`) before it reads the order (`court::read_order`).
//!
//! No panic, and nothing the fuzzer makes up becomes a court order: it
//! cannot sign with the court's key, generated when the target starts.
#![no_main]

use std::sync::LazyLock;

use connectors::court::RESOURCE_TYPE;
use connectors::{Mapped, RawItem};
use libfuzzer_sys::fuzz_target;
use rete_fuzz::Court;

static COURT: LazyLock<Court> = LazyLock::new(Court::new);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // the feed is JSON: its items are text
    };
    let item = RawItem {
        resource_type: RESOURCE_TYPE.into(),
        external_id: None,
        position: Some(1),
        payload: text.to_string(),
    };
    match connectors::court::map_item(&COURT.ctx, &item) {
        Mapped::Records(r) => panic!("a made-up JWS became a court order: {r:?}"),
        Mapped::Rejected(why) => assert!(!why.is_empty()),
        Mapped::Skipped(why) => panic!("a court-order item was skipped: {why}"),
    }
});
