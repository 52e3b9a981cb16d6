//! A consultorio's CSV export as it is uploaded or imported:
//! `connectors::read_file` of a `consultorio` instance (i.e.
//! `consultorio::parse_export`), then the instance's mapping of every row
//! (`Connector::map`).
//!
//! No panic. An export that reads gives rows in file order, each on a line
//! after the header and within the file, as a JSON object of contract columns
//! only (a column outside the contract never gets through), named by its
//! `record_id`; every record mapped carries a key of the instance's system.
//! A rejected row's reason never quotes a personal value: each personal
//! column of the row is mapped again with its value between markers, and the
//! reason must not hold a marker.
#![no_main]

use std::sync::{Arc, LazyLock};

use connectors::config::InstanceConfig;
use connectors::consultorio::COLUMNS;
use connectors::{Connector, Mapped, RawItem};
use libfuzzer_sys::fuzz_target;
use rete_fuzz::{MARK, marked_value};
use serde_json::{Map, Value};

/// The columns whose values a reason never quotes (a name, a codice fiscale,
/// a birth date, a phone number, a place, a citizenship, a language): all but
/// the codes and event dates of docs/connectors-consultorio.md.
const PERSONAL: [&str; 12] = [
    "mother_codice_fiscale",
    "mother_given_name",
    "mother_family_name",
    "mother_birth_date",
    "mother_phone",
    "mother_municipality",
    "mother_citizenship",
    "mother_languages",
    "child_codice_fiscale",
    "child_given_name",
    "child_family_name",
    "child_birth_date",
];

/// Rows per input whose reasons are checked for personal values (each costs
/// one mapping per personal column).
const CHECKED_ROWS: usize = 4;

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
    for (n, item) in items.iter().enumerate() {
        let line = item.position.expect("a row has its line");
        assert!(line > previous, "rows come after the header, in file order");
        assert!(
            line <= last_line,
            "row on line {line} of a {last_line}-line file"
        );
        previous = line;
        let row: Map<String, Value> =
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
            Mapped::Rejected(why) => {
                assert!(!why.is_empty());
                if n < CHECKED_ROWS {
                    never_quoted(connector.as_ref(), item, &row);
                }
            }
            Mapped::Skipped(why) => panic!("a row is never skipped: {why}"),
        }
    }
});

/// Maps the row again with each personal value between markers: a reason
/// holding a marker quotes that value.
fn never_quoted(connector: &dyn Connector, item: &RawItem, row: &Map<String, Value>) {
    if item.payload.contains(MARK) {
        return;
    }
    for column in PERSONAL {
        let Some(Value::String(value)) = row.get(column) else {
            continue;
        };
        let mut marked = row.clone();
        marked.insert(column.into(), Value::String(marked_value(value)));
        let again = RawItem {
            payload: Value::Object(marked).to_string(),
            ..item.clone()
        };
        if let Mapped::Rejected(why) = connector.map(&again) {
            assert!(!why.contains(MARK), "the reason quotes {column}: {why}");
        }
    }
}
