//! The consultorio connector: a consultorio familiare's CSV export
//! (pregnancies, births, family counselling contacts), read against the column
//! contract of `docs/connectors-consultorio.md`.
//!
//! Two pure steps, no I/O, no clock:
//! - [`parse_export`] turns the file's bytes into one [`RawItem`] per data row
//!   (the row as a JSON object of column to value), or says what is wrong with
//!   the file as a whole (not UTF-8, no header, a required column missing or
//!   named twice). It is the function the hardening issue fuzzes.
//! - [`ConsultorioConnector::map`] checks one row and maps it to records, or
//!   rejects it with a reason that names the column and the problem (the
//!   row's number is the item's `position`, kept with the dead letter).
//!
//! Consultori send files, they serve no API: [`Connector::fetch`] always
//! answers [`FetchError::Permanent`]. The engine takes the items through the
//! same bookkeeping as any other connector (dead letters, counts, idempotency).
//!
//! Reasons never quote a personal value (a name, a codice fiscale, a birth
//! date, a phone number, a language): only the values of the columns that hold
//! codes or event dates (`event`, `event_date`, `expected_due_date`,
//! `gestational_week`, `counselling_kind`, `child_sex`), which identify nobody.
//! Columns outside the contract (a consultorio's free-text notes...) are
//! dropped by the parser: they reach neither the hub nor the dead-letter table.

use chrono::NaiveDate;
use entities::enums::{HealthEventKind, Sex};
use futures::future::BoxFuture;
use serde_json::{Map, Value};

use crate::config::{ConfigError, ConsultorioConfig, InstanceConfig, invalid};
use crate::connector::{Connector, FetchError, Mapped, Page, RawItem};
use crate::fiscal_code::FiscalCode;
use crate::model::{ExternalKey, HealthEventIn, Inbound, PersonIn, Record};

/// `RawItem::resource_type` of a row of an export.
pub const RESOURCE_TYPE: &str = "consultorio-row";

/// The columns every export's header must have.
pub const REQUIRED_COLUMNS: [&str; 6] = [
    "record_id",
    "event",
    "event_date",
    "mother_codice_fiscale",
    "mother_given_name",
    "mother_family_name",
];

/// Every column of the contract, in the order the documentation lists them.
/// Other columns are ignored.
pub const COLUMNS: [&str; 19] = [
    "record_id",
    "event",
    "event_date",
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
    "child_sex",
    "gestational_week",
    "expected_due_date",
    "counselling_kind",
];

/// The key of a row's payload that says the row did not fit the header; the
/// row is rejected by [`ConsultorioConnector::map`]. Not a column name (those
/// never start with `_`).
const ROW_PROBLEM: &str = "_problem";

/// Resource types of the external keys (see the documentation's mapping).
pub const MOTHER: &str = "mother";
pub const CHILD: &str = "child";
pub const MOTHER_EVENT: &str = "mother-event";
pub const CHILD_EVENT: &str = "child-event";

/// What is wrong with a file as a whole: nothing of it is imported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "the file is not UTF-8 text (line {line} holds a byte that is not): export it as \"CSV UTF-8\""
    )]
    NotUtf8 { line: u64 },
    #[error("the header lacks the required column(s) {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("the header names the column `{0}` twice")]
    DuplicateColumn(String),
    #[error("line {line}: {message}")]
    Unreadable { line: u64, message: String },
}

/// Reads an export: UTF-8 with or without a byte-order mark, `;` or `,`
/// between fields (whichever the header line holds more of), the first line
/// the header. Column names are matched without regard to case or surrounding
/// spaces; values are trimmed. Gives one item per data row, in file order,
/// with `position` = the line the row starts on; rows whose fields are all
/// empty (spreadsheets export them) are not data rows.
pub fn parse_export(bytes: &[u8]) -> Result<Vec<RawItem>, ExportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| ExportError::NotUtf8 {
        line: line_of(bytes, e.valid_up_to()),
    })?;
    if text.trim().is_empty() {
        return Err(ExportError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(unreadable(&e)),
        None => return Err(ExportError::Empty),
    };
    // The header's columns: Some(contract column) or None (ignored).
    let mut columns: Vec<Option<&'static str>> = Vec::with_capacity(header.len());
    let mut seen: Vec<String> = Vec::new();
    for name in header.iter() {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            columns.push(None);
            continue;
        }
        if seen.contains(&name) {
            return Err(ExportError::DuplicateColumn(name));
        }
        columns.push(COLUMNS.iter().copied().find(|c| *c == name));
        seen.push(name);
    }
    let missing: Vec<String> = REQUIRED_COLUMNS
        .iter()
        .filter(|c| !columns.contains(&Some(**c)))
        .map(|c| c.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ExportError::MissingColumns(missing));
    }
    let mut items = Vec::new();
    // The csv crate's own line numbers miss the line breaks inside quoted
    // values (and CRLF): count them from the byte offsets instead.
    let (mut counted_to, mut line) = (0usize, 1u64);
    for record in records {
        let record = record.map_err(|e| unreadable(&e))?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        // After a CRLF the record's position is that of its `\n`.
        let start = record.position().map_or(counted_to, |p| p.byte() as usize);
        let start = start
            + text.as_bytes().get(start..).map_or(0, |rest| {
                rest.iter()
                    .take_while(|b| **b == b'\r' || **b == b'\n')
                    .count()
            });
        line += text.as_bytes().get(counted_to..start).map_or(0, newlines);
        counted_to = start.max(counted_to);
        let mut row = Map::new();
        for (column, value) in columns.iter().zip(record.iter()) {
            if let Some(column) = column {
                row.insert(column.to_string(), Value::String(value.trim().to_string()));
            }
        }
        if record.len() != columns.len() {
            row.insert(
                ROW_PROBLEM.to_string(),
                Value::String(format!(
                    "the row has {} fields where the header has {} (a `;` or `,` inside a value that is not quoted?)",
                    record.len(),
                    columns.len()
                )),
            );
        }
        let external_id = row
            .get("record_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        items.push(RawItem {
            resource_type: RESOURCE_TYPE.to_string(),
            external_id,
            position: Some(line),
            payload: Value::Object(row).to_string(),
        });
    }
    Ok(items)
}

/// `;` when the header line holds more of them than `,` (Italian spreadsheet
/// exports), else `,`.
fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let count = |c: char| first.chars().filter(|&x| x == c).count();
    if count(';') > count(',') { b';' } else { b',' }
}

/// The 1-based line of a byte offset.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    newlines(&bytes[..offset.min(bytes.len())]) + 1
}

/// Line breaks: `\n`, `\r\n`, or a lone `\r` (old spreadsheets on a Mac).
fn newlines(bytes: &[u8]) -> u64 {
    let lone_cr = bytes
        .windows(2)
        .filter(|w| w[0] == b'\r' && w[1] != b'\n')
        .count()
        + usize::from(bytes.last() == Some(&b'\r'));
    (bytes.iter().filter(|&&b| b == b'\n').count() + lone_cr) as u64
}

fn unreadable(e: &csv::Error) -> ExportError {
    ExportError::Unreadable {
        line: e.position().map_or(0, |p| p.line()),
        message: match e.kind() {
            csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
            _ => "the CSV cannot be read".to_string(),
        },
    }
}

/// A consultorio's exports, mapped to persons and health events.
#[derive(Clone, Debug)]
pub struct ConsultorioConnector {
    system: String,
}

impl ConsultorioConnector {
    /// `name` is the instance's name in the config file; the external keys'
    /// system is `cfg.system`, by default `consultorio:NAME`. The instance's
    /// common settings (checked by the engine's config) change nothing in
    /// how a row maps: the agency comes in through the engine.
    pub fn new(
        name: &str,
        _instance: &InstanceConfig,
        cfg: &ConsultorioConfig,
    ) -> Result<ConsultorioConnector, ConfigError> {
        let system = match &cfg.system {
            Some(s) => s.trim().to_string(),
            None => format!("consultorio:{name}"),
        };
        if system.is_empty() || system.len() > 200 || system.chars().any(char::is_whitespace) {
            return Err(invalid(
                format!("connectors.{name}.system"),
                "must be 1 to 200 characters without spaces",
            ));
        }
        Ok(ConsultorioConnector { system })
    }

    /// The `system` of every key this instance's records carry.
    pub fn system(&self) -> &str {
        &self.system
    }

    fn key(&self, resource_type: &str, record_id: &str) -> ExternalKey {
        ExternalKey::new(self.system.clone(), resource_type, record_id)
    }
}

impl Connector for ConsultorioConnector {
    fn kind(&self) -> &'static str {
        "consultorio"
    }

    fn upstream(&self) -> String {
        self.system.clone()
    }

    fn fetch<'a>(
        &'a self,
        _cursor: Option<&'a str>,
        _next: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, FetchError>> {
        Box::pin(async {
            Err(FetchError::Permanent(
                "a consultorio has no API to pull from: import its CSV exports \
                 (`rete sync import consultorio FILE`, or POST /connectors/NAME/upload)"
                    .to_string(),
            ))
        })
    }

    /// A rejection's reason names the column and the problem, every problem
    /// of the row; the row's number is the item's `position` (the engine
    /// keeps it with the dead letter and shows `row N` before the reason).
    fn map(&self, item: &RawItem) -> Mapped {
        let row = match serde_json::from_str::<Value>(&item.payload) {
            Ok(Value::Object(row)) if item.resource_type == RESOURCE_TYPE => row,
            _ => {
                return Mapped::Rejected(
                    "the item is not a row of a consultorio export".to_string(),
                );
            }
        };
        match self.map_row(&Row::new(&row)) {
            Ok(records) => Mapped::Records(records),
            Err(problems) => Mapped::Rejected(problems.join("; ")),
        }
    }
}

/// The events a row can record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Pregnancy,
    Birth,
    Counselling,
}

/// The kinds of family counselling, with the words the summary uses.
const COUNSELLING_KINDS: [(&str, &str); 8] = [
    ("FAMILY", "consulenza familiare"),
    ("COUPLE", "consulenza di coppia"),
    ("PARENTING", "sostegno alla genitorialità"),
    ("PSYCHOLOGICAL", "sostegno psicologico"),
    ("FAMILY_MEDIATION", "mediazione familiare"),
    ("BIRTH_PREPARATION", "accompagnamento alla nascita"),
    ("POSTNATAL", "sostegno dopo il parto"),
    ("OTHER", "altro"),
];

/// Longest accepted value of a name or a municipality (as the GraphQL inputs).
const MAX_TEXT: usize = 100;

/// One row being checked: its values and every problem found so far.
struct Row<'a> {
    values: &'a Map<String, Value>,
    problems: std::cell::RefCell<Vec<String>>,
}

impl<'a> Row<'a> {
    fn new(values: &'a Map<String, Value>) -> Row<'a> {
        Row {
            values,
            problems: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn problem(&self, p: String) {
        self.problems.borrow_mut().push(p);
    }

    /// The column's value, `None` when absent or empty.
    fn get(&self, column: &str) -> Option<&'a str> {
        self.values
            .get(column)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn required(&self, column: &str, why: &str) -> Option<&'a str> {
        let v = self.get(column);
        if v.is_none() {
            self.problem(format!("{column} is empty{why}"));
        }
        v
    }

    /// A name or municipality: at most [`MAX_TEXT`] characters.
    fn text(&self, column: &str, required: Option<&str>) -> Option<String> {
        let v = match required {
            Some(why) => self.required(column, why),
            None => self.get(column),
        }?;
        if v.chars().count() > MAX_TEXT {
            self.problem(format!("{column} is longer than {MAX_TEXT} characters"));
            return None;
        }
        if v.chars().any(char::is_control) {
            self.problem(format!("{column} holds a control character"));
            return None;
        }
        Some(v.to_string())
    }

    /// A date; the value is quoted in the reason only for event dates.
    fn date(&self, column: &str, required: Option<&str>) -> Option<NaiveDate> {
        let v = match required {
            Some(why) => self.required(column, why),
            None => self.get(column),
        }?;
        match parse_date(v) {
            Ok(d) => Some(d),
            Err(why) => {
                if quotable(column) {
                    self.problem(format!("{column} `{}` {why}", shorten(v)));
                } else {
                    self.problem(format!("{column} {why}"));
                }
                None
            }
        }
    }

    fn fiscal_code(&self, column: &str) -> Option<FiscalCode> {
        let v = self.get(column)?;
        match FiscalCode::parse(v) {
            Ok(fc) => Some(fc),
            Err(e) => {
                self.problem(format!("{column} is not a codice fiscale: it {e}"));
                None
            }
        }
    }
}

impl ConsultorioConnector {
    fn map_row(&self, row: &Row<'_>) -> Result<Vec<Record>, Vec<String>> {
        if let Some(p) = row.get(ROW_PROBLEM) {
            return Err(vec![p.to_string()]);
        }
        let record_id = row.required("record_id", "").and_then(|id| {
            let ok = id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._:/-".contains(c));
            if !ok {
                row.problem("record_id must be 1 to 64 letters, digits or `._:/-`".to_string());
            }
            ok.then_some(id)
        });
        let event = row
            .required("event", "")
            .and_then(|e| match e.to_ascii_uppercase().as_str() {
                "PREGNANCY" => Some(Event::Pregnancy),
                "BIRTH" => Some(Event::Birth),
                "COUNSELLING" => Some(Event::Counselling),
                _ => {
                    row.problem(format!(
                        "event `{}` is not PREGNANCY, BIRTH or COUNSELLING",
                        shorten(e)
                    ));
                    None
                }
            });
        let event_date = row.date("event_date", Some(""));
        let mother = self.mother(row, event_date);
        let detail = event.and_then(|e| match e {
            Event::Pregnancy => pregnancy(row, event_date).map(Detail::Pregnancy),
            Event::Birth => self
                .birth(row, event_date)
                .map(|b| Detail::Birth(Box::new(b))),
            Event::Counselling => counselling(row).map(Detail::Counselling),
        });
        let problems = row.problems.take();
        let (Some(record_id), Some(event_date), Some(mother), Some(detail), true) =
            (record_id, event_date, mother, detail, problems.is_empty())
        else {
            return Err(problems);
        };
        let mother_key = self.key(MOTHER, record_id);
        let mut records = vec![Record {
            key: mother_key.clone(),
            version: None,
            body: Inbound::Person(mother),
        }];
        let event = |subject: &ExternalKey, resource_type: &str, kind, on, summary| Record {
            key: self.key(resource_type, record_id),
            version: None,
            body: Inbound::HealthEvent(HealthEventIn {
                subject: subject.clone(),
                kind,
                occurred_on: on,
                summary,
            }),
        };
        match detail {
            Detail::Pregnancy(summary) => records.push(event(
                &mother_key,
                MOTHER_EVENT,
                HealthEventKind::Pregnancy,
                event_date,
                summary,
            )),
            Detail::Birth(birth) => {
                let week = birth
                    .week
                    .map(|w| format!(", alla settimana {w}"))
                    .unwrap_or_default();
                let child_key = self.key(CHILD, record_id);
                records.push(Record {
                    key: child_key.clone(),
                    version: None,
                    body: Inbound::Person(birth.child),
                });
                records.push(event(
                    &mother_key,
                    MOTHER_EVENT,
                    HealthEventKind::Birth,
                    event_date,
                    format!("Parto{week} (dall'export del consultorio)."),
                ));
                records.push(event(
                    &child_key,
                    CHILD_EVENT,
                    HealthEventKind::Birth,
                    event_date,
                    format!("Nascita{week} (dall'export del consultorio)."),
                ));
            }
            Detail::Counselling(words) => records.push(event(
                &mother_key,
                MOTHER_EVENT,
                HealthEventKind::OutpatientVisit,
                event_date,
                format!("Colloquio di consulenza familiare al consultorio: {words}."),
            )),
        }
        Ok(records)
    }

    fn mother(&self, row: &Row<'_>, event_date: Option<NaiveDate>) -> Option<PersonIn> {
        let given = row.text("mother_given_name", Some(""));
        let family = row.text("mother_family_name", Some(""));
        let fc = row.fiscal_code("mother_codice_fiscale");
        let birth = row.date("mother_birth_date", None);
        if let (Some(fc), Some(b)) = (&fc, birth)
            && !fc.is_born_on(b)
        {
            row.problem(
                "mother_codice_fiscale does not encode mother_birth_date (one of them is wrong)"
                    .to_string(),
            );
        }
        if let (Some(b), Some(e)) = (birth, event_date)
            && b >= e
        {
            row.problem("mother_birth_date is not before event_date".to_string());
        }
        let phone = phone(row, "mother_phone");
        let municipality = row.text("mother_municipality", None);
        let citizenship = row.get("mother_citizenship").and_then(|c| {
            let ok = c.len() == 2 && c.chars().all(|x| x.is_ascii_alphabetic());
            if !ok {
                row.problem(
                    "mother_citizenship is not an ISO 3166-1 country code (two letters, e.g. IT)"
                        .to_string(),
                );
            }
            ok.then(|| c.to_ascii_uppercase())
        });
        let languages = languages(row, "mother_languages");
        Some(PersonIn {
            given_name: given?,
            family_name: family?,
            birth_on: birth,
            // The code's sex when there is one: the hub never stores a person
            // whose sex contradicts their own codice fiscale.
            sex: fc.as_ref().map_or(Sex::Female, FiscalCode::sex),
            fiscal_code: fc.map(FiscalCode::into_string),
            identifiers: Vec::new(),
            birth_place: None,
            citizenship,
            phone,
            email: None,
            address: None,
            municipality,
            languages,
        })
    }

    fn birth(&self, row: &Row<'_>, event_date: Option<NaiveDate>) -> Option<Birth> {
        const WHY: &str = " (a BIRTH row needs the child's data)";
        let given = row.text("child_given_name", Some(WHY));
        let family = row.text("child_family_name", Some(WHY));
        let sex =
            row.required("child_sex", WHY)
                .and_then(|s| match s.to_ascii_uppercase().as_str() {
                    "F" | "FEMALE" => Some(Sex::Female),
                    "M" | "MALE" => Some(Sex::Male),
                    _ => {
                        row.problem(format!("child_sex `{}` is not F or M", shorten(s)));
                        None
                    }
                });
        let birth = row.date("child_birth_date", None);
        if let (Some(b), Some(e)) = (birth, event_date)
            && b != e
        {
            row.problem("child_birth_date differs from event_date (the day of birth)".to_string());
        }
        // The event date is the day of birth; a child_birth_date that says
        // otherwise is a problem of its own, not one more of the code's.
        let born = event_date.or(birth);
        let fc = row.fiscal_code("child_codice_fiscale");
        if let Some(fc) = &fc {
            if let Some(b) = born
                && !fc.is_born_on(b)
            {
                row.problem(
                    "child_codice_fiscale does not encode the day of birth (one of them is wrong)"
                        .to_string(),
                );
            }
            if let Some(s) = sex
                && fc.sex() != s
            {
                row.problem("child_codice_fiscale does not encode child_sex".to_string());
            }
        }
        let week = week(row);
        Some(Birth {
            child: PersonIn {
                given_name: given?,
                family_name: family?,
                birth_on: born,
                sex: sex?,
                fiscal_code: fc.map(FiscalCode::into_string),
                identifiers: Vec::new(),
                birth_place: None,
                citizenship: None,
                phone: None,
                email: None,
                address: None,
                municipality: None,
                languages: Vec::new(),
            },
            week,
        })
    }
}

enum Detail {
    /// The summary.
    Pregnancy(String),
    Birth(Box<Birth>),
    /// The kind of counselling, in words.
    Counselling(&'static str),
}

struct Birth {
    child: PersonIn,
    week: Option<u8>,
}

fn pregnancy(row: &Row<'_>, event_date: Option<NaiveDate>) -> Option<String> {
    let week = week(row);
    let due = row.date("expected_due_date", None);
    if row.get("gestational_week").is_none() && row.get("expected_due_date").is_none() {
        row.problem(
            "gestational_week and expected_due_date are both empty (a PREGNANCY row needs one)"
                .to_string(),
        );
        return None;
    }
    if let (Some(d), Some(e)) = (due, event_date)
        && (d < e || (d - e).num_days() > 45 * 7)
    {
        row.problem("expected_due_date is not within 45 weeks after event_date".to_string());
    }
    let mut parts = Vec::new();
    if let Some(w) = week {
        parts.push(format!("settimana {w}"));
    }
    if let Some(d) = due {
        parts.push(format!("parto previsto il {d}"));
    }
    Some(format!(
        "Gravidanza seguita al consultorio ({}).",
        parts.join("; ")
    ))
}

fn counselling(row: &Row<'_>) -> Option<&'static str> {
    let kind = row.required("counselling_kind", " (a COUNSELLING row needs it)")?;
    let upper = kind.to_ascii_uppercase();
    let found = COUNSELLING_KINDS
        .iter()
        .find(|(code, _)| *code == upper)
        .map(|(_, words)| *words);
    if found.is_none() {
        let codes: Vec<&str> = COUNSELLING_KINDS.iter().map(|(c, _)| *c).collect();
        row.problem(format!(
            "counselling_kind `{}` is not one of {}",
            shorten(kind),
            codes.join(", ")
        ));
    }
    found
}

/// `gestational_week`: a whole number of weeks, 1 to 45.
fn week(row: &Row<'_>) -> Option<u8> {
    let v = row.get("gestational_week")?;
    match v.parse::<u8>() {
        Ok(w) if (1..=45).contains(&w) => Some(w),
        _ => {
            row.problem(format!(
                "gestational_week `{}` is not a whole number of weeks from 1 to 45",
                shorten(v)
            ));
            None
        }
    }
}

/// A phone number: digits, spaces and `+-./()`, 6 to 20 digits.
fn phone(row: &Row<'_>, column: &str) -> Option<String> {
    let v = row.get(column)?;
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let ok = v.len() <= 30
        && (6..=20).contains(&digits)
        && v.chars()
            .all(|c| c.is_ascii_digit() || " +-./()".contains(c));
    if !ok {
        row.problem(format!(
            "{column} is not a phone number (6 to 20 digits, with spaces and +-./() only)"
        ));
    }
    ok.then(|| v.to_string())
}

/// ISO 639-1 codes separated by `|`, `,`, `;`, `/` or spaces, lower-cased,
/// each kept once.
fn languages(row: &Row<'_>, column: &str) -> Vec<String> {
    let Some(v) = row.get(column) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for code in v.split(|c: char| "|,;/".contains(c) || c.is_whitespace()) {
        if code.is_empty() {
            continue;
        }
        if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            row.problem(format!(
                "{column} holds a value that is not an ISO 639-1 code (two letters, e.g. ar)"
            ));
            return Vec::new();
        }
        let code = code.to_ascii_lowercase();
        if !out.contains(&code) {
            out.push(code);
        }
    }
    if out.len() > 20 {
        row.problem(format!("{column} lists more than 20 languages"));
        return Vec::new();
    }
    out
}

/// `YYYY-MM-DD` or `DD/MM/YYYY` (day and month may have one digit), years
/// 1900 to 2100. The error says why, for the reason.
pub fn parse_date(v: &str) -> Result<NaiveDate, &'static str> {
    let number = |s: &str, max_len: usize| -> Option<u32> {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let parts: Vec<&str> = if v.contains('-') {
        v.split('-').collect()
    } else {
        v.split('/').collect::<Vec<_>>().into_iter().rev().collect()
    };
    let [y, m, d] = parts.as_slice() else {
        return Err("is not a date (YYYY-MM-DD or DD/MM/YYYY)");
    };
    let (Some(year), Some(month), Some(day)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return Err("is not a date (YYYY-MM-DD or DD/MM/YYYY)");
    };
    if y.len() != 4 {
        return Err("is not a date (YYYY-MM-DD or DD/MM/YYYY, with a four-digit year)");
    }
    if !(1900..=2100).contains(&year) {
        return Err("is not between 1900 and 2100");
    }
    NaiveDate::from_ymd_opt(year as i32, month, day).ok_or("is not a date")
}

/// The date columns whose values a reason may quote: the dates of events,
/// not of persons. (Code columns quote their values where they are checked.)
fn quotable(column: &str) -> bool {
    matches!(column, "event_date" | "expected_due_date")
}

/// A value as a reason quotes it: at most 40 characters, no backticks or
/// line breaks.
fn shorten(v: &str) -> String {
    let mut s: String = v
        .chars()
        .filter(|c| *c != '`' && !c.is_control())
        .take(40)
        .collect();
    if v.chars().count() > 40 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests;
