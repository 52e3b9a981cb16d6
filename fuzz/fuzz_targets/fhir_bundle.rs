//! A FHIR Bundle file as a hospital uploads or exports it: `connectors::read_file`
//! of a `fhir` instance (what `POST /connectors/NAME/upload` and
//! `rete sync import` call, i.e. `fhir::bundle_items`), then the instance's
//! mapping of every item (`Connector::map`, i.e. `fhir::map_item`), with a
//! referral signal configured so encounters can raise referrals.
//!
//! No panic. A Bundle that reads gives one item per entry that is not an
//! object or has a `resource`, in entry order, each payload JSON; every record
//! mapped carries a key of a known system and a content hash.
#![no_main]

use std::sync::{Arc, LazyLock};

use connectors::config::InstanceConfig;
use connectors::{Connector, Mapped};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const CONFIG: &str = r#"
kind = "fhir"
agency = "ospedale-regina"
base_url = "https://fhir.ospedale.example/r4"
refer_to = "polo-nord"

[[signals]]
system = "http://snomed.info/sct"
code = "248062006"
reason = "DOMESTIC_VIOLENCE"
urgency = "HIGH"
subject_role = "MOTHER"
"#;

static INSTANCE: LazyLock<(InstanceConfig, Arc<dyn Connector>)> = LazyLock::new(|| {
    let config: InstanceConfig = toml::from_str(CONFIG).expect("a fhir instance");
    let connector = connectors::build("ospedale", &config).expect("the connector builds");
    (config, connector)
});

fuzz_target!(|data: &[u8]| {
    let (config, connector) = &*INSTANCE;
    let Ok(items) = connectors::read_file(config, data) else {
        return;
    };
    let bundle: Value = serde_json::from_slice(data).expect("a Bundle that reads is JSON");
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let expected = entries
        .iter()
        .filter(|e| e.as_object().is_none_or(|o| o.contains_key("resource")))
        .count();
    assert_eq!(items.len(), expected, "one item per entry with a resource");
    let mut last = None;
    for item in &items {
        let position = item
            .position
            .expect("a Bundle item has its entry's position");
        assert!(position < entries.len() as u64);
        assert!(
            last < Some(position),
            "items come in entry order, once each"
        );
        last = Some(position);
        assert!(serde_json::from_str::<Value>(&item.payload).is_ok());
        if let Mapped::Records(records) = connector.map(item) {
            for r in records {
                assert!(!r.key.system.is_empty() && !r.key.id.is_empty());
                assert_eq!(r.content_hash().len(), 64);
            }
        }
    }
});
