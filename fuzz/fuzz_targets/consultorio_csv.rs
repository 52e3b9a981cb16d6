//! A consultorio's CSV export as it is uploaded or imported:
//! `connectors::read_file` of a `consultorio` instance (i.e.
//! `consultorio::parse_export`), then the instance's mapping of every row
//! (`Connector::map`).
//!
//! No panic. An export that reads gives rows in file order, each on a line
//! after the header and within the file, as a JSON object of contract columns
//! only (a column outside the contract never gets through), named by its
//! `record_id`; every record mapped carries a key of the instance's system.
#![no_main]

use std::sync::{Arc, LazyLock};

use connectors::config::InstanceConfig;
use connectors::consultorio::COLUMNS;
use connectors::{Connector, Mapped};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const CONFIG: &str = "kind = \"consultorio\"\nagency = \"consultorio-centro\"\n";

static INSTANCE: LazyLock<(InstanceConfig, Arc<dyn Connector>)> = LazyLock::new(|| {
    let config: InstanceConfig = toml::from_str(CONFIG).expect("a consultorio instance");
    let connector = connectors::build("centro", &config).expect("the connector builds");
    (config, connector)
});

/// Line breaks as the export contract counts them: `\n`, `\r\n` or a lone `\r`.
fn lines(data: &[u8]) -> u64 {
    let mut n = 1;
    for (i, b) in data.iter().enumerate() {
        if *b == b'\n' || (*b == b'\r' && data.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let (config, connector) = &*INSTANCE;
    let Ok(items) = connectors::read_file(config, data) else {
        return;
    };
    let last_line = lines(data);
    let mut previous = 1;
    for item in &items {
        let line = item.position.expect("a row has its line");
        assert!(line > previous, "rows come after the header, in file order");
        assert!(
            line <= last_line,
            "row on line {line} of a {last_line}-line file"
        );
        previous = line;
        let row: serde_json::Map<String, Value> =
            serde_json::from_str(&item.payload).expect("a row is a JSON object");
        for (column, value) in &row {
            assert!(
                COLUMNS.contains(&column.as_str()) || column == "_problem",
                "column `{column}` is outside the contract"
            );
            assert!(value.is_string());
        }
        let record_id = row.get("record_id").and_then(Value::as_str).unwrap_or("");
        assert_eq!(item.external_id.as_deref().unwrap_or(""), record_id);
        match connector.map(item) {
            Mapped::Records(records) => {
                assert!(!records.is_empty());
                for r in records {
                    assert_eq!(r.key.system, "consultorio:centro");
                }
            }
            Mapped::Rejected(why) => assert!(!why.is_empty()),
            Mapped::Skipped(why) => panic!("a row is never skipped: {why}"),
        }
    }
});
