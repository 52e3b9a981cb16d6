//! Pure mapping of one FHIR R4 resource (the JSON text of a [`RawItem`]) to
//! Rete's inbound records, with the `fhir-sdk` model types (feature `r4b`).
//!
//! What this module owns: which FHIR elements become which Rete fields, which
//! code systems are read, and the precise reason a bad resource is rejected.
//! It must never do I/O, read a clock, panic on any input, or copy free text
//! beyond what a field needs (narratives, notes and uncoded reasons stay at
//! the hospital). `docs/connectors-fhir.md` holds the tables.
//!
//! A resource is parsed into the type of its own `resourceType` only (never the
//! whole `Resource` enum), so one bad resource costs only itself, and a type
//! this connector does not map is skipped before anything is parsed.

use std::collections::BTreeSet;

use chrono::{DateTime as ChronoDateTime, NaiveDate, Utc};
use entities::enums::{ConsentGiver, HealthEventKind, ReferralReason, Sex, SubjectRole, Urgency};
use fhir_sdk::r4b::codes::{
    AddressUse, AdministrativeGender, ConditionVerificationStatus, ConsentProvisionType,
    ConsentState, ContactPointSystem, ContactPointUse, EncounterStatus, NameUse,
};
use fhir_sdk::r4b::resources::{Condition, Consent, Encounter, Organization, Patient, Resource};
use fhir_sdk::r4b::resources::{ConditionOnset, ConsentSource};
use fhir_sdk::r4b::types::{
    Address, CodeableConcept, Coding, ContactPoint, HumanName, Identifier, Meta, Reference,
};
use fhir_sdk::{Date, DateTime, Instant};
use policy::{ACT_REASON_SYSTEM, AgencyKind, DataClass, Purpose};
use serde::Deserialize;

use crate::connector::{Mapped, RawItem};
use crate::fiscal_code::FiscalCode;
use crate::model::{ConsentIn, ExternalKey, HealthEventIn, Inbound, PersonIn, Record, ReferralIn};

/// Identifier systems read as the Italian codice fiscale: HL7 Italia's
/// NamingSystem URI, the same with https, and the OID of the Ministry of
/// Economy and Finance (`2.16.840.1.113883.2.9.4.3.2`) as a URN.
pub const FISCAL_CODE_SYSTEMS: &[&str] = &[
    "http://hl7.it/sid/codiceFiscale",
    "https://hl7.it/sid/codiceFiscale",
    "urn:oid:2.16.840.1.113883.2.9.4.3.2",
];

/// Rete's code system for data classes in `Consent.provision.class` and
/// `Consent.provision.securityLabel`; its codes are the data class names
/// (`HEALTH`, `SOCIAL`, ...).
pub const DATA_CLASS_SYSTEM: &str = "https://specs.rete.example/fhir/CodeSystem/data-class";
/// Rete's identifier system for agencies (value: the agency id, e.g. `polo-nord`),
/// on a consent actor's `Organization` (logical reference or contained).
pub const AGENCY_SYSTEM: &str = "https://specs.rete.example/fhir/sid/agency";
/// Rete's code system for agency kinds (`SOCIAL_SERVICE`, ...), on a contained
/// `Organization.type` of a consent actor that names no single agency.
pub const AGENCY_KIND_SYSTEM: &str = "https://specs.rete.example/fhir/CodeSystem/agency-kind";

const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const PARTICIPATION_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const ROLE_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
const CONSENT_SCOPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const BIRTH_PLACE_URL: &str = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace";
const CITIZENSHIP_URL: &str = "http://hl7.org/fhir/StructureDefinition/patient-citizenship";
const SNOMED: &str = "http://snomed.info/sct";
const ICD10_SYSTEMS: &[&str] = &[
    "http://hl7.org/fhir/sid/icd-10",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://terminology.hl7.org/CodeSystem/icd10",
];
const ICD9CM_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-9-cm";

/// The longest summary a health event gets from its codes.
const SUMMARY_MAX: usize = 200;

/// A coded encounter reason that raises a referral, checked at construction.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    pub system: String,
    pub code: String,
    pub reason: ReferralReason,
    pub urgency: Urgency,
    pub subject_role: SubjectRole,
}

/// What mapping needs besides the item: the instance's key system (its
/// normalised base URL) and its signals.
#[derive(Clone, Debug)]
pub struct MapContext {
    pub system: String,
    pub signals: Vec<Signal>,
}

impl MapContext {
    /// A context for `base_url` (normalised; a URL that does not parse is kept
    /// as written, trimmed of a trailing slash).
    pub fn new(base_url: &str, signals: Vec<Signal>) -> MapContext {
        MapContext {
            system: normalise_base(base_url)
                .unwrap_or_else(|| base_url.trim_end_matches('/').to_string()),
            signals,
        }
    }
}

/// `scheme://host[:port]/path` with scheme and host in lower case, the
/// default port dropped, no trailing slash, query or fragment: the key system
/// of a FHIR server, the same whether written `HTTPS://Fhir.Example:443/r4/`
/// or `https://fhir.example/r4`.
pub fn normalise_base(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?;
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!(
        "{}://{}{}{}",
        u.scheme(),
        host,
        port,
        u.path().trim_end_matches('/')
    ))
}

/// The resource types this connector maps.
pub const MAPPED_TYPES: &[&str] = &["Patient", "Encounter", "Condition", "Consent"];

#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "resourceType")]
    resource_type: Option<serde_json::Value>,
}

/// Maps one raw item. Never panics; a bad resource is `Rejected` with a reason
/// that names the element at fault.
pub fn map_item(ctx: &MapContext, item: &RawItem) -> Mapped {
    let peek: Peek = match serde_json::from_str(&item.payload) {
        Ok(p) => p,
        Err(e) => {
            return Mapped::Rejected(
                match serde_json::from_str::<serde::de::IgnoredAny>(&item.payload) {
                    Ok(_) => "not a FHIR resource: the JSON is not an object".into(),
                    Err(_) => format!("not valid JSON: {e}"),
                },
            );
        }
    };
    let rtype = match peek.resource_type {
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Mapped::Rejected("resourceType is not a string".into()),
        None => return Mapped::Rejected("not a FHIR resource: it has no resourceType".into()),
    };
    let result =
        match rtype.as_str() {
            "Patient" => {
                parse::<Patient>(&item.payload, "Patient").and_then(|p| patient(ctx, item, &p))
            }
            "Encounter" => parse::<Encounter>(&item.payload, "Encounter")
                .and_then(|e| encounter(ctx, item, &e)),
            "Condition" => parse::<Condition>(&item.payload, "Condition")
                .and_then(|c| condition(ctx, item, &c)),
            "Consent" => {
                parse::<Consent>(&item.payload, "Consent").and_then(|c| consent(ctx, item, &c))
            }
            other => return Mapped::Skipped(format!("{other} is not mapped")),
        };
    match result {
        Ok(m) => m,
        Err(reason) => Mapped::Rejected(format!("{rtype}: {reason}")),
    }
}

fn parse<'a, T: Deserialize<'a>>(text: &'a str, what: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("not a valid R4 {what}: {e}"))
}

/// Either the whole outcome already decided (skip) or an error reason.
type MapResult = Result<Mapped, String>;

// ---------------------------------------------------------------- keys ----

/// The record's own key: the resource id, else the id the Bundle reader gave
/// the item (a `urn:uuid:` fullUrl), else `system|value` of its first
/// identifier.
fn own_key(
    ctx: &MapContext,
    item: &RawItem,
    rtype: &str,
    id: Option<&String>,
    identifiers: &[Option<Identifier>],
) -> Result<ExternalKey, String> {
    let id = id
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| item.external_id.clone().filter(|s| !s.trim().is_empty()))
        .or_else(|| {
            identifiers.iter().flatten().find_map(|i| {
                Some(format!(
                    "{}|{}",
                    nonempty(i.system.as_deref())?,
                    nonempty(i.value.as_deref())?
                ))
            })
        })
        .ok_or("has no id, no fullUrl and no identifier: it cannot be keyed")?;
    Ok(ExternalKey::new(ctx.system.clone(), rtype, id))
}

fn version(meta: Option<&Meta>) -> Option<String> {
    meta.and_then(|m| nonempty(m.version_id.as_deref()).map(str::to_string))
}

/// The key a reference points at. Relative (`Patient/1`, with or without
/// `/_history/v`) and absolute URLs (the system is their base, normalised) are
/// read; a logical reference by identifier becomes the identifier's key (as in
/// [`PersonIn::identifiers`]). `urn:uuid:` references are resolved by the
/// Bundle reader; one that reaches here was not in its Bundle.
pub fn reference_key(
    ctx: &MapContext,
    r: &Reference,
    expected: &str,
    field: &str,
) -> Result<ExternalKey, String> {
    let Some(text) = nonempty(r.reference.as_deref()) else {
        if let Some(i) = &r.identifier
            && let (Some(system), Some(value)) =
                (nonempty(i.system.as_deref()), nonempty(i.value.as_deref()))
        {
            return Ok(ExternalKey::new(
                system.trim_end_matches('/'),
                expected,
                value,
            ));
        }
        return Err(format!("{field} has no reference"));
    };
    if text.starts_with('#') {
        return Err(format!(
            "{field} `{text}` points at a contained resource, which has no key of its own"
        ));
    }
    if text.starts_with("urn:") {
        return Err(format!(
            "{field} `{text}` was not resolved: it must be the fullUrl of an entry of the same Bundle"
        ));
    }
    let (system, path) = if text.contains("://") {
        let u = url::Url::parse(text).map_err(|e| format!("{field} `{text}` is not a URL: {e}"))?;
        let segments: Vec<&str> = u.path().trim_end_matches('/').split('/').collect();
        let cut = type_position(&segments)
            .ok_or_else(|| format!("{field} `{text}` does not end in Type/id"))?;
        let base = format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            segments[..cut].join("/")
        );
        let base = normalise_base(&base).unwrap_or(base);
        (base, segments[cut..].join("/"))
    } else {
        (ctx.system.clone(), text.to_string())
    };
    let parts: Vec<&str> = path.split('/').collect();
    let (rtype, id) = match parts.as_slice() {
        [t, id] | [t, id, "_history", _] => (*t, *id),
        _ => return Err(format!("{field} `{text}` is not Type/id")),
    };
    if rtype != expected {
        return Err(format!("{field} `{text}` is a {rtype}, not a {expected}"));
    }
    if !valid_id(id) {
        return Err(format!("{field} `{text}` has an invalid id"));
    }
    Ok(ExternalKey::new(system, rtype, id))
}

/// Where `Type` sits in the path segments of an absolute reference
/// (`.../Type/id` or `.../Type/id/_history/v`).
fn type_position(segments: &[&str]) -> Option<usize> {
    let n = segments.len();
    if n >= 4 && segments[n - 2] == "_history" {
        return Some(n - 4);
    }
    n.checked_sub(2)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

// ------------------------------------------------------------- Patient ----

fn patient(ctx: &MapContext, item: &RawItem, p: &Patient) -> MapResult {
    let key = own_key(ctx, item, "Patient", p.id.as_ref(), &p.identifier)?;
    let (given_name, family_name) = person_name(&p.name)?;

    let mut fiscal_code = None;
    let mut identifiers = Vec::new();
    for (i, ident) in p.identifier.iter().enumerate() {
        let Some(ident) = ident else { continue };
        let (Some(system), Some(value)) = (
            nonempty(ident.system.as_deref()),
            nonempty(ident.value.as_deref()),
        ) else {
            continue;
        };
        let system = system.trim_end_matches('/');
        if FISCAL_CODE_SYSTEMS.contains(&system) {
            let spaced: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            let code = FiscalCode::parse(&spaced).map_err(|e| {
                format!("identifier[{i}] has the codice fiscale system but is not one: it {e}")
            })?;
            if fiscal_code
                .as_ref()
                .is_some_and(|f: &FiscalCode| f != &code)
            {
                return Err(format!(
                    "identifier[{i}] is a second, different codice fiscale"
                ));
            }
            fiscal_code = Some(code);
        } else {
            let k = ExternalKey::new(system, "Patient", value);
            if !identifiers.contains(&k) {
                identifiers.push(k);
            }
        }
    }

    let sex = match p.gender {
        Some(AdministrativeGender::Female) => Sex::Female,
        Some(AdministrativeGender::Male) => Sex::Male,
        Some(AdministrativeGender::Other) => Sex::Other,
        Some(AdministrativeGender::Unknown) | None => Sex::Unknown,
    };
    let birth_on = match &p.birth_date {
        Some(Date::Date(d)) => to_naive(*d),
        // A year or a month is not a birth date: matching would take it for one.
        _ => None,
    };
    if let (Some(fc), Some(born)) = (&fiscal_code, birth_on)
        && !fc.is_born_on(born)
    {
        return Err("the codice fiscale does not encode birthDate (one of them is wrong)".into());
    }
    let (address, municipality) = home_address(&p.address);
    let person = PersonIn {
        given_name,
        family_name,
        birth_on,
        sex,
        fiscal_code: fiscal_code.map(FiscalCode::into_string),
        identifiers,
        birth_place: birth_place(p),
        citizenship: citizenship(p),
        phone: contact(&p.telecom, ContactPointSystem::Phone, 40),
        email: contact(&p.telecom, ContactPointSystem::Email, 254).filter(|e| e.contains('@')),
        address,
        municipality,
        languages: languages(p),
    };
    Ok(Mapped::Records(vec![Record {
        key,
        version: version(p.meta.as_ref()),
        body: Inbound::Person(person),
    }]))
}

/// Given and family name from the official name, else the usual one, else any
/// current name; a name with only `text` is split at its last space.
fn person_name(names: &[Option<HumanName>]) -> Result<(String, String), String> {
    let current: Vec<&HumanName> = names
        .iter()
        .flatten()
        .filter(|n| !matches!(n.r#use, Some(NameUse::Old) | Some(NameUse::Maiden)))
        .collect();
    if current.is_empty() {
        return Err("has no name (name.given and name.family, or name.text)".into());
    }
    let pick = current
        .iter()
        .find(|n| n.r#use == Some(NameUse::Official))
        .or_else(|| current.iter().find(|n| n.r#use == Some(NameUse::Usual)))
        .or_else(|| current.first())
        .copied();
    let mut reason = "has no name (name.given and name.family, or name.text)".to_string();
    // The picked name first, then the others, until one is usable.
    for n in pick.into_iter().chain(current.iter().copied()) {
        let given: Vec<&str> = n
            .given
            .iter()
            .flatten()
            .map(|g| g.trim())
            .filter(|g| !g.is_empty())
            .collect();
        let family = nonempty(n.family.as_deref());
        let (g, f) = match (given.is_empty(), family) {
            (false, Some(f)) => (given.join(" "), f.to_string()),
            _ => {
                match nonempty(n.text.as_deref()).and_then(|t| t.rsplit_once(char::is_whitespace)) {
                    Some((g, f)) if !g.trim().is_empty() && !f.trim().is_empty() => {
                        (g.trim().to_string(), f.trim().to_string())
                    }
                    _ => {
                        reason = if family.is_none() {
                            "name has no family name (name.family, or name.text with given and family)".into()
                        } else {
                            "name has no given name (name.given, or name.text with given and family)".into()
                        };
                        continue;
                    }
                }
            }
        };
        if g.chars().count() > 100 || f.chars().count() > 100 {
            return Err("name is longer than 100 characters".into());
        }
        return Ok((g, f));
    }
    Err(reason)
}

fn to_naive(d: fhir_sdk::time::Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year(), u8::from(d.month()).into(), d.day().into())
}

/// The first current contact point of a kind, lowest rank first.
fn contact(
    telecom: &[Option<ContactPoint>],
    kind: ContactPointSystem,
    max: usize,
) -> Option<String> {
    let mut points: Vec<&ContactPoint> = telecom
        .iter()
        .flatten()
        .filter(|c| c.system == Some(kind) && c.r#use != Some(ContactPointUse::Old))
        .filter(|c| c.period.as_ref().is_none_or(|p| p.end.is_none()))
        .collect();
    points.sort_by_key(|c| c.rank.map_or(u32::MAX, |r| r.get()));
    points.into_iter().find_map(|c| {
        nonempty(c.value.as_deref())
            .filter(|v| v.chars().count() <= max)
            .map(str::to_string)
    })
}

/// The home (else first current) address as one line, and its city.
fn home_address(addresses: &[Option<Address>]) -> (Option<String>, Option<String>) {
    let current: Vec<&Address> = addresses
        .iter()
        .flatten()
        .filter(|a| a.r#use != Some(AddressUse::Old))
        .filter(|a| a.period.as_ref().is_none_or(|p| p.end.is_none()))
        .collect();
    let Some(a) = current
        .iter()
        .find(|a| a.r#use == Some(AddressUse::Home))
        .or_else(|| current.first())
    else {
        return (None, None);
    };
    let city = nonempty(a.city.as_deref()).map(str::to_string);
    let mut parts: Vec<String> = a
        .line
        .iter()
        .flatten()
        .filter_map(|l| nonempty(Some(l)))
        .map(str::to_string)
        .collect();
    let place = [nonempty(a.postal_code.as_deref()), city.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !place.is_empty() {
        parts.push(place);
    }
    let line = if parts.is_empty() {
        nonempty(a.text.as_deref()).map(str::to_string)
    } else {
        Some(parts.join(", "))
    };
    (
        line.filter(|l| l.chars().count() <= 300),
        city.filter(|c| c.chars().count() <= 100),
    )
}

fn birth_place(p: &Patient) -> Option<String> {
    use fhir_sdk::r4b::types::ExtensionValue;
    p.extension
        .iter()
        .find(|e| e.url == BIRTH_PLACE_URL)
        .and_then(|e| match &e.value {
            Some(ExtensionValue::Address(a)) => nonempty(a.city.as_deref())
                .or(nonempty(a.text.as_deref()))
                .filter(|s| s.chars().count() <= 100)
                .map(str::to_string),
            _ => None,
        })
}

/// `patient-citizenship`'s `code` (ISO 3166 country) as written.
fn citizenship(p: &Patient) -> Option<String> {
    use fhir_sdk::r4b::types::ExtensionValue;
    p.extension
        .iter()
        .filter(|e| e.url == CITIZENSHIP_URL)
        .flat_map(|e| e.extension.iter())
        .find(|e| e.url == "code")
        .and_then(|e| match &e.value {
            Some(ExtensionValue::CodeableConcept(c)) => c
                .coding
                .iter()
                .flatten()
                .find_map(|c| nonempty(c.code.as_deref()))
                .or(nonempty(c.text.as_deref()))
                .filter(|s| s.chars().count() <= 100)
                .map(str::to_string),
            _ => None,
        })
}

/// ISO 639-1 codes of `communication.language` (the primary subtag of a
/// BCP 47 tag), preferred first; other codes are left out.
fn languages(p: &Patient) -> Vec<String> {
    let mut comms: Vec<_> = p.communication.iter().flatten().collect();
    comms.sort_by_key(|c| c.preferred != Some(true));
    let mut out: Vec<String> = Vec::new();
    for c in comms {
        for coding in c.language.coding.iter().flatten() {
            let Some(code) = nonempty(coding.code.as_deref()) else {
                continue;
            };
            let primary = code
                .split(['-', '_'])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if primary.len() == 2
                && primary.chars().all(|c| c.is_ascii_lowercase())
                && !out.contains(&primary)
            {
                out.push(primary);
            }
        }
    }
    out.truncate(20);
    out
}

// ----------------------------------------------------------- Encounter ----

fn encounter(ctx: &MapContext, item: &RawItem, e: &Encounter) -> MapResult {
    match e.status {
        EncounterStatus::Planned | EncounterStatus::Cancelled | EncounterStatus::EnteredInError => {
            return Ok(Mapped::Skipped(format!(
                "Encounter with status {} did not take place",
                e.status
            )));
        }
        _ => {}
    }
    let key = own_key(ctx, item, "Encounter", e.id.as_ref(), &e.identifier)?;
    let subject = reference_key(
        ctx,
        e.subject.as_ref().ok_or("has no subject")?,
        "Patient",
        "subject",
    )?;
    let started = e
        .period
        .as_ref()
        .and_then(|p| p.start.as_ref().or(p.end.as_ref()))
        .ok_or("has no date (period.start or period.end)")?;
    let occurred_on = date_of(started).ok_or("period.start is not a usable date")?;

    let kind = encounter_kind(&e.class, &e.r#type);
    let mut labels: Vec<String> = e.r#type.iter().flatten().filter_map(label).collect();
    let reasons: Vec<String> = e
        .reason_code
        .iter()
        .flatten()
        .flat_map(|c| c.coding.iter().flatten())
        .filter_map(|c| nonempty(c.display.as_deref()).or(nonempty(c.code.as_deref())))
        .map(str::to_string)
        .collect();
    if labels.is_empty() {
        labels.push(
            nonempty(e.class.display.as_deref())
                .or(nonempty(e.class.code.as_deref()))
                .unwrap_or("encounter")
                .to_string(),
        );
    }
    let mut summary = labels.join("; ");
    if !reasons.is_empty() {
        summary.push_str(" — reason: ");
        summary.push_str(&reasons.join("; "));
    }
    let version = version(e.meta.as_ref());
    let mut records = vec![Record {
        key: key.clone(),
        version: version.clone(),
        body: Inbound::HealthEvent(HealthEventIn {
            subject: subject.clone(),
            kind,
            occurred_on,
            summary: clip(&summary, SUMMARY_MAX),
        }),
    }];

    // Codings that may carry a signal: the reasons, and the codes of the
    // conditions the encounter names as reason or diagnosis when contained.
    let contained_codes = |r: &Reference| -> Vec<&Coding> {
        let Some(local) = r.reference.as_deref().and_then(|s| s.strip_prefix('#')) else {
            return Vec::new();
        };
        e.contained
            .iter()
            .filter_map(|c| match c {
                Resource::Condition(c) if c.id.as_deref() == Some(local) => c.code.as_ref(),
                _ => None,
            })
            .flat_map(|cc| cc.coding.iter().flatten())
            .collect()
    };
    let mut codings: Vec<&Coding> = e
        .reason_code
        .iter()
        .flatten()
        .flat_map(|c| c.coding.iter().flatten())
        .collect();
    for r in e.reason_reference.iter().flatten() {
        codings.extend(contained_codes(r));
    }
    for d in e.diagnosis.iter().flatten() {
        codings.extend(contained_codes(&d.condition));
    }
    let matched: Vec<(&Signal, &Coding)> = codings
        .iter()
        .flat_map(|c| {
            ctx.signals
                .iter()
                .filter(|s| signal_matches(s, c))
                .map(move |s| (s, *c))
        })
        .collect();
    if let Some((first, _)) = matched.first() {
        let mut reasons: Vec<ReferralReason> = Vec::new();
        let mut urgency = first.urgency;
        for (s, _) in &matched {
            if !reasons.contains(&s.reason) {
                reasons.push(s.reason);
            }
            if urgency_rank(s.urgency) > urgency_rank(urgency) {
                urgency = s.urgency;
            }
        }
        let signals: Vec<String> = matched
            .iter()
            .map(|(s, c)| match nonempty(c.display.as_deref()) {
                Some(d) => format!("{}|{} ({d})", s.system, s.code),
                None => format!("{}|{}", s.system, s.code),
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let description = clip(
            &format!(
                "Hospital encounter {} on {occurred_on}, coded signal: {}",
                kind_name(kind),
                signals.join(", ")
            ),
            500,
        );
        records.push(Record {
            key: ExternalKey::new(key.system, "Encounter#referral", key.id),
            version,
            body: Inbound::Referral(ReferralIn {
                subject,
                subject_role: first.subject_role,
                reasons,
                urgency,
                description: Some(description),
                received_at: instant_of(started).ok_or("period.start is not a usable date")?,
            }),
        });
    }
    Ok(Mapped::Records(records))
}

fn signal_matches(s: &Signal, c: &Coding) -> bool {
    c.system.as_deref().map(|x| x.trim().trim_end_matches('/')) == Some(s.system.as_str())
        && c.code.as_deref().map(str::trim) == Some(s.code.as_str())
}

fn urgency_rank(u: Urgency) -> u8 {
    match u {
        Urgency::Low => 0,
        Urgency::Medium => 1,
        Urgency::High => 2,
        Urgency::Immediate => 3,
    }
}

/// `Encounter.class` (v3-ActCode), else a v3-ActCode coding of `type`.
fn encounter_kind(class: &Coding, types: &[Option<CodeableConcept>]) -> HealthEventKind {
    let act = |c: &Coding| -> Option<HealthEventKind> {
        let system = c.system.as_deref().map(str::trim);
        if system.is_some_and(|s| s != ACT_CODE_SYSTEM) {
            return None;
        }
        match c.code.as_deref()?.trim() {
            "EMER" => Some(HealthEventKind::ErVisit),
            "IMP" | "ACUTE" | "NONAC" => Some(HealthEventKind::Hospitalisation),
            "AMB" => Some(HealthEventKind::OutpatientVisit),
            _ => None,
        }
    };
    act(class)
        .or_else(|| {
            types
                .iter()
                .flatten()
                .flat_map(|t| t.coding.iter().flatten())
                .filter(|c| c.system.is_some())
                .find_map(act)
        })
        .unwrap_or(HealthEventKind::Other)
}

fn kind_name(k: HealthEventKind) -> &'static str {
    match k {
        HealthEventKind::ErVisit => "ER_VISIT",
        HealthEventKind::Pregnancy => "PREGNANCY",
        HealthEventKind::Birth => "BIRTH",
        HealthEventKind::InjuryReport => "INJURY_REPORT",
        HealthEventKind::Hospitalisation => "HOSPITALISATION",
        HealthEventKind::OutpatientVisit => "OUTPATIENT_VISIT",
        HealthEventKind::Other => "OTHER",
    }
}

// ----------------------------------------------------------- Condition ----

fn condition(ctx: &MapContext, item: &RawItem, c: &Condition) -> MapResult {
    if let Some(v) = &c.verification_status {
        for coding in v.coding.iter().flatten() {
            if let Some(code) = coding.code.as_deref()
                && let Ok(status) = code.parse::<ConditionVerificationStatus>()
                && matches!(
                    status,
                    ConditionVerificationStatus::EnteredInError
                        | ConditionVerificationStatus::Refuted
                )
            {
                return Ok(Mapped::Skipped(format!(
                    "Condition verification status {code}"
                )));
            }
        }
    }
    let key = own_key(ctx, item, "Condition", c.id.as_ref(), &c.identifier)?;
    let subject = reference_key(ctx, &c.subject, "Patient", "subject")?;
    let code = c.code.as_ref().ok_or("has no code")?;
    let summary = label(code).ok_or("code has neither a coding display nor text")?;
    let when = match &c.onset {
        Some(ConditionOnset::DateTime(d)) => Some(d),
        Some(ConditionOnset::Period(p)) => p.start.as_ref(),
        _ => None,
    }
    .or(c.recorded_date.as_ref())
    .ok_or("has no date (onsetDateTime, onsetPeriod.start or recordedDate)")?;
    let occurred_on = date_of(when).ok_or("its date is not usable")?;
    Ok(Mapped::Records(vec![Record {
        key,
        version: version(c.meta.as_ref()),
        body: Inbound::HealthEvent(HealthEventIn {
            subject,
            kind: condition_kind(code),
            occurred_on,
            summary: clip(&summary, SUMMARY_MAX),
        }),
    }]))
}

/// INJURY_REPORT or PREGNANCY from ICD-10 / ICD-9-CM chapters and one SNOMED
/// concept; anything else is OTHER (SNOMED hierarchies need a terminology
/// server this pure mapping does not have).
fn condition_kind(code: &CodeableConcept) -> HealthEventKind {
    for c in code.coding.iter().flatten() {
        let (Some(system), Some(code)) =
            (nonempty(c.system.as_deref()), nonempty(c.code.as_deref()))
        else {
            continue;
        };
        let code = code.to_ascii_uppercase();
        if ICD10_SYSTEMS.contains(&system) {
            // S00-T79: injury and poisoning (T80 on are complications of care
            // and sequelae); X85-Y09: assault.
            let t_injury = code
                .strip_prefix('T')
                .and_then(|r| r.get(..2))
                .and_then(|d| d.parse::<u8>().ok())
                .is_some_and(|d| d < 80);
            if code.starts_with('S') || t_injury || ("X85".."Y10").contains(&code.as_str()) {
                return HealthEventKind::InjuryReport;
            }
            if code.starts_with('O') || ["Z33", "Z34", "Z3A"].iter().any(|p| code.starts_with(p)) {
                return HealthEventKind::Pregnancy;
            }
        } else if system == ICD9CM_SYSTEM {
            if code.starts_with('E') || code.starts_with("995.5") || code.starts_with("995.8") {
                return HealthEventKind::InjuryReport;
            }
            if code.starts_with("V22") || code.starts_with("V23") {
                return HealthEventKind::Pregnancy;
            }
            let head: Option<u32> = code.split('.').next().and_then(|h| h.parse().ok());
            match head {
                Some(800..=959) => return HealthEventKind::InjuryReport,
                Some(630..=679) => return HealthEventKind::Pregnancy,
                _ => {}
            }
        } else if system == SNOMED && code == "77386006" {
            return HealthEventKind::Pregnancy;
        }
    }
    HealthEventKind::Other
}

// ------------------------------------------------------------- Consent ----

fn consent(ctx: &MapContext, item: &RawItem, c: &Consent) -> MapResult {
    let privacy = c.scope.coding.iter().flatten().any(|s| {
        s.system.as_deref() == Some(CONSENT_SCOPE_SYSTEM)
            && s.code.as_deref() == Some("patient-privacy")
    });
    if !privacy {
        return Ok(Mapped::Skipped(
            "Consent scope is not patient-privacy: not a consent to share data".into(),
        ));
    }
    if matches!(c.status, ConsentState::Draft | ConsentState::Proposed) {
        return Ok(Mapped::Skipped(format!(
            "Consent with status {} is not in force",
            c.status
        )));
    }
    let key = own_key(ctx, item, "Consent", c.id.as_ref(), &c.identifier)?;
    let subject = reference_key(
        ctx,
        c.patient.as_ref().ok_or("has no patient")?,
        "Patient",
        "patient",
    )?;
    let provision = c
        .provision
        .as_ref()
        .ok_or("has no provision: it grants nothing")?;
    if provision.r#type == Some(ConsentProvisionType::Deny) {
        return Err(
            "provision.type is deny: Rete records consents that grant; a refusal is a withdrawn grant (status inactive)"
                .into(),
        );
    }
    if !provision.provision.is_empty() {
        return Err(
            "has nested provisions (exceptions), which are not mapped: it is not imported rather than imported broader than given"
                .into(),
        );
    }

    let mut data_classes = BTreeSet::new();
    let mut unknown = Vec::new();
    for coding in provision
        .class
        .iter()
        .chain(provision.security_label.iter())
        .flatten()
    {
        if coding.system.as_deref() != Some(DATA_CLASS_SYSTEM) {
            continue;
        }
        match coding
            .code
            .as_deref()
            .unwrap_or_default()
            .parse::<DataClass>()
        {
            Ok(dc) => {
                data_classes.insert(dc.as_str().to_string());
            }
            Err(_) => unknown.push(coding.code.clone().unwrap_or_default()),
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "provision.class has codes that are not Rete data classes: {}",
            unknown.join(", ")
        ));
    }
    if data_classes.is_empty() {
        return Err(format!(
            "provision.class and provision.securityLabel name no data class of {DATA_CLASS_SYSTEM}"
        ));
    }

    let mut purposes = BTreeSet::new();
    for coding in provision.purpose.iter().flatten() {
        if coding.system.as_deref() == Some(ACT_REASON_SYSTEM)
            && let Some(p) = coding
                .code
                .as_deref()
                .and_then(Purpose::from_purpose_of_use)
        {
            purposes.insert(p.as_str().to_string());
        }
    }
    if purposes.is_empty() {
        return Err(
            "provision.purpose names no purpose Rete knows (v3-ActReason CAREMGT, TREAT, HLEGAL, COC, BTG, HRESCH, HCOMPL, RECORDMGT)"
                .into(),
        );
    }

    let (recipient_agencies, recipient_kinds) = recipients(c)?;
    if recipient_agencies.is_empty() && recipient_kinds.is_empty() {
        return Err(format!(
            "provision.actor names no recipient (role IRCP or PRCP, an Organization with an identifier of {AGENCY_SYSTEM} or a contained Organization typed with {AGENCY_KIND_SYSTEM})"
        ));
    }

    let period = provision.period.as_ref();
    let valid_from = period
        .and_then(|p| p.start.as_ref())
        .or(c.date_time.as_ref())
        .and_then(instant_of)
        .ok_or("has no start (provision.period.start or dateTime)")?;
    let valid_until = match period.and_then(|p| p.end.as_ref()) {
        Some(end) => Some(instant_of(end).ok_or("provision.period.end is not a usable date")?),
        None => None,
    };
    if valid_until.is_some_and(|u| u < valid_from) {
        return Err("provision.period ends before it starts".into());
    }
    let withdrawn_at = match c.status {
        ConsentState::Active => None,
        // inactive, rejected, entered-in-error: no longer (or never) in force.
        _ => Some(
            c.meta
                .as_ref()
                .and_then(|m| m.last_updated.as_ref())
                .map(instant_utc)
                .or_else(|| c.date_time.as_ref().and_then(instant_of))
                .unwrap_or(valid_from),
        ),
    };
    let evidence_ref = match &c.source {
        Some(ConsentSource::Attachment(a)) => a.url.clone(),
        Some(ConsentSource::Reference(r)) => r.reference.clone(),
        None => None,
    }
    .and_then(|s| nonempty(Some(&s)).map(str::to_string))
    .or_else(|| Some(format!("{}/Consent/{}", key.system, key.id)));

    Ok(Mapped::Records(vec![Record {
        key,
        version: version(c.meta.as_ref()),
        body: Inbound::Consent(ConsentIn {
            subject,
            given_by: consent_giver(c)?,
            data_classes: data_classes.into_iter().collect(),
            recipient_agencies,
            recipient_kinds,
            purposes: purposes.into_iter().collect(),
            valid_from,
            valid_until,
            withdrawn_at,
            evidence_ref,
        }),
    }]))
}

/// Recipient agencies and kinds from `provision.actor` with an information
/// recipient role (v3-ParticipationType IRCP or PRCP).
fn recipients(c: &Consent) -> Result<(Vec<String>, Vec<String>), String> {
    let mut agencies = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let Some(provision) = &c.provision else {
        return Ok((Vec::new(), Vec::new()));
    };
    for actor in provision.actor.iter().flatten() {
        let recipient = actor.role.coding.iter().flatten().any(|r| {
            r.system.as_deref() == Some(PARTICIPATION_TYPE_SYSTEM)
                && matches!(r.code.as_deref(), Some("IRCP" | "PRCP"))
        });
        if !recipient {
            continue;
        }
        let r = &actor.reference;
        if let Some(i) = &r.identifier
            && i.system.as_deref() == Some(AGENCY_SYSTEM)
            && let Some(v) = nonempty(i.value.as_deref())
        {
            agencies.insert(v.to_string());
            continue;
        }
        let Some(local) = r.reference.as_deref().and_then(|s| s.strip_prefix('#')) else {
            continue;
        };
        let org: Option<&Organization> = c.contained.iter().find_map(|x| match x {
            Resource::Organization(o) if o.id.as_deref() == Some(local) => Some(o),
            _ => None,
        });
        let Some(org) = org else {
            return Err(format!(
                "provision.actor `#{local}` is not a contained Organization"
            ));
        };
        if let Some(v) = org.identifier.iter().flatten().find_map(|i| {
            (i.system.as_deref() == Some(AGENCY_SYSTEM))
                .then(|| nonempty(i.value.as_deref()))
                .flatten()
        }) {
            agencies.insert(v.to_string());
            continue;
        }
        for t in org
            .r#type
            .iter()
            .flatten()
            .flat_map(|t| t.coding.iter().flatten())
        {
            if t.system.as_deref() == Some(AGENCY_KIND_SYSTEM) {
                let code = t.code.as_deref().unwrap_or_default();
                let kind: AgencyKind = code.parse().map_err(|_| {
                    format!("contained Organization `#{local}` has an unknown agency kind `{code}`")
                })?;
                kinds.insert(kind.as_str().to_string());
            }
        }
    }
    Ok((agencies.into_iter().collect(), kinds.into_iter().collect()))
}

/// Who gave the consent: the patient (no performer, or the patient), or a
/// related person whose contained `RelatedPerson.relationship` (v3-RoleCode)
/// says parent or guardian. Organizations and practitioners as performers
/// recorded the consent; they do not change who gave it.
fn consent_giver(c: &Consent) -> Result<ConsentGiver, String> {
    for p in c.performer.iter().flatten() {
        let Some(text) = nonempty(p.reference.as_deref()) else {
            continue;
        };
        if let Some(local) = text.strip_prefix('#') {
            let related = c.contained.iter().find_map(|x| match x {
                Resource::RelatedPerson(r) if r.id.as_deref() == Some(local) => Some(r),
                _ => None,
            });
            if let Some(r) = related {
                for code in r
                    .relationship
                    .iter()
                    .flatten()
                    .flat_map(|x| x.coding.iter().flatten())
                    .filter(|x| x.system.as_deref() == Some(ROLE_CODE_SYSTEM))
                    .filter_map(|x| x.code.as_deref())
                {
                    match code {
                        "PRN" | "MTH" | "FTH" | "NPRN" | "NMTH" | "NFTH" | "ADOPTP" | "ADOPTM"
                        | "ADOPTF" => return Ok(ConsentGiver::Parent),
                        "GUARD" => return Ok(ConsentGiver::Guardian),
                        _ => {}
                    }
                }
                return Err(format!(
                    "performer `{text}` is a related person who is neither parent nor guardian (v3-RoleCode PRN, MTH, FTH, GUARD...)"
                ));
            }
            continue;
        }
        if text.contains("RelatedPerson/") {
            return Err(format!(
                "performer `{text}` is a related person whose relationship cannot be read: contain it with its relationship"
            ));
        }
    }
    Ok(ConsentGiver::Subject)
}

// ------------------------------------------------------------- helpers ----

/// A concept's words: its first coding's display, else its text.
fn label(c: &CodeableConcept) -> Option<String> {
    c.coding
        .iter()
        .flatten()
        .find_map(|c| nonempty(c.display.as_deref()))
        .or(nonempty(c.text.as_deref()))
        .map(str::to_string)
}

/// The calendar date a dateTime names, in its own offset (a partial date is
/// its first day).
fn date_of(d: &DateTime) -> Option<NaiveDate> {
    match d {
        DateTime::Date(date) => first_day(date),
        DateTime::DateTime(Instant(t)) => to_naive(t.date()),
    }
}

fn first_day(d: &Date) -> Option<NaiveDate> {
    match d {
        Date::Year(y) => NaiveDate::from_ymd_opt(*y, 1, 1),
        Date::YearMonth(y, m) => NaiveDate::from_ymd_opt(*y, u8::from(*m).into(), 1),
        Date::Date(d) => to_naive(*d),
    }
}

/// The instant a dateTime names (a date alone is its first moment, UTC).
fn instant_of(d: &DateTime) -> Option<ChronoDateTime<Utc>> {
    match d {
        DateTime::Date(date) => first_day(date)
            .and_then(|n| n.and_hms_opt(0, 0, 0))
            .map(|n| n.and_utc()),
        DateTime::DateTime(i) => Some(instant_utc(i)),
    }
}

fn instant_utc(i: &Instant) -> ChronoDateTime<Utc> {
    let nanos = i.0.unix_timestamp_nanos();
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000);
    i64::try_from(secs)
        .ok()
        .and_then(|s| ChronoDateTime::from_timestamp(s, u32::try_from(sub).unwrap_or(0)))
        .unwrap_or_default()
}

/// At most `max` characters, cut at a character boundary.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some(_) => {
            let cut = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..cut])
        }
        None => s.to_string(),
    }
}
