//! The network agreement: its model, its file format (TOML), its validation and
//! its version hash.
//!
//! The file is the protocollo d'intesa the agencies sign, so it is read by
//! people first: every table says in words what it grants, and every mistake is
//! an error naming the file, the line and the problem. Nothing here is lenient:
//! an unknown word, an unknown key, a duplicate id or a grant that can never
//! apply refuses the whole file (a typo must never become a silent deny-all or
//! allow-all). The format is documented in docs/policy.md.
//!
//! This module never decides anything; [`crate::decide`] does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::vocabulary::{
    AgencyKind, BasisKind, DataClass, ParseError, Purpose, Relationship, Role,
};

/// The agreement's own label, as its signatories name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Agreement {
    pub name: String,
    /// A human label ("2026-1"); the loaded policy's [`Policy::version`] is the
    /// hash that identifies it in the access log.
    pub version: String,
}

/// An agency that signs the agreement. Declaring the signatories lets rules name
/// agencies by id without a typo going unnoticed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Signatory {
    pub id: String,
    pub name: String,
    pub kind: AgencyKind,
}

/// A legal duty the agreement recognises (for example child protection by the
/// social service that leads or works on a case). A duty is a legal basis for the
/// requests it matches; it grants nothing by itself: a rule must also grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Duty {
    pub id: String,
    pub description: String,
    pub agency_kinds: BTreeSet<AgencyKind>,
    /// `None`: any role.
    pub roles: Option<BTreeSet<Role>>,
    pub purposes: BTreeSet<Purpose>,
    pub classes: BTreeSet<DataClass>,
    /// The requester must hold one of these; [`Relationship::Any`]: any link.
    pub relationships: BTreeSet<Relationship>,
}

/// One grant of the agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: String,
    pub description: String,
    /// With `agencies`, who the rule is for: an agency of one of these kinds or
    /// one of these agencies. Both `None`: any agency.
    pub agency_kinds: Option<BTreeSet<AgencyKind>>,
    pub agencies: Option<BTreeSet<String>>,
    /// `None`: any role.
    pub roles: Option<BTreeSet<Role>>,
    pub purposes: BTreeSet<Purpose>,
    pub classes: BTreeSet<DataClass>,
    /// The requester must hold at least one of these; [`Relationship::Any`] means
    /// any link at all (or an active break-glass grant), but not none.
    pub relationships: BTreeSet<Relationship>,
    /// The legal bases that can make the grant lawful (all four by default).
    pub bases: BTreeSet<BasisKind>,
    /// Break-glass never opens SECRET_LOCATION unless this is `true`.
    pub break_glass_opens_secret_location: bool,
}

impl Rule {
    /// Is the rule for this agency?
    pub fn covers_agency(&self, agency: &str, kind: AgencyKind) -> bool {
        if self.agency_kinds.is_none() && self.agencies.is_none() {
            return true;
        }
        self.agency_kinds
            .as_ref()
            .is_some_and(|k| k.contains(&kind))
            || self.agencies.as_ref().is_some_and(|a| a.contains(agency))
    }
}

/// A loaded agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// SHA-256 (hex) of the canonical encoding of everything below: logged with
    /// each decision. Stable across whitespace, comments and key order; changes
    /// when anything the signatories signed changes. Computed by
    /// [`Policy::new`] and [`Policy::from_toml`]; editing the fields afterwards
    /// leaves it stale.
    pub version: String,
    pub agreement: Agreement,
    pub agencies: Vec<Signatory>,
    pub duties: Vec<Duty>,
    pub rules: Vec<Rule>,
}

const INTERIM: &str = include_str!("interim.toml");

impl Policy {
    /// An agreement built in code, with its version hash. Not validated: files
    /// go through [`Policy::from_toml`], which is.
    pub fn new(
        agreement: Agreement,
        agencies: Vec<Signatory>,
        duties: Vec<Duty>,
        rules: Vec<Rule>,
    ) -> Policy {
        let mut policy = Policy {
            version: String::new(),
            agreement,
            agencies,
            duties,
            rules,
        };
        policy.version = hex::encode(Sha256::digest(policy.canonical().as_bytes()));
        policy
    }

    /// The hub's built-in agreement until the network's policy file is loaded
    /// (`src/interim.toml`): the case team (its lead agency and team members)
    /// sees everything of the case for the purposes of working on it; agencies
    /// otherwise linked to the case (referrer, court of record, facility
    /// operator) see its administrative data only. Nobody else sees anything.
    pub fn interim() -> Policy {
        // A constant file, loaded by a unit test: it cannot fail at run time.
        Policy::from_toml("policy/src/interim.toml", INTERIM)
            .expect("the built-in interim agreement is valid")
    }

    /// Reads and validates an agreement. `file` names the file in messages only.
    pub fn from_toml(file: &str, text: &str) -> Result<Policy, PolicyError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            let message = match table_context(text, at) {
                Some(ctx) => format!("{ctx}: {}", e.message()),
                None => e.message().to_string(),
            };
            PolicyError::new(file, vec![Problem::new(line_of(text, at), message)])
        })?;
        let mut v = Validator {
            text,
            problems: Vec::new(),
        };
        let policy = v.policy(raw);
        if v.problems.is_empty() {
            Ok(policy)
        } else {
            v.problems.sort();
            v.problems.dedup();
            Err(PolicyError::new(file, v.problems))
        }
    }

    /// The signatory with this id, if declared.
    pub fn signatory(&self, id: &str) -> Option<&Signatory> {
        self.agencies.iter().find(|a| a.id == id)
    }

    /// The encoding the version hash is computed over: JSON with a fixed key
    /// order, sets sorted, defaults written out, signatories sorted by id. Rules
    /// and duties keep their order, since a decision names the first that holds.
    pub fn canonical(&self) -> String {
        use serde_json::{Value, json};
        fn words<T: fmt::Display>(set: &BTreeSet<T>) -> Value {
            Value::Array(set.iter().map(|w| Value::String(w.to_string())).collect())
        }
        fn opt<T: fmt::Display>(set: &Option<BTreeSet<T>>) -> Value {
            set.as_ref().map_or(Value::Null, words)
        }
        let mut agencies: Vec<&Signatory> = self.agencies.iter().collect();
        agencies.sort_by(|a, b| a.id.cmp(&b.id));
        let doc = json!({
            "format": "rete-agreement/1",
            "agreement": { "name": self.agreement.name, "version": self.agreement.version },
            "agencies": agencies.iter().map(|a| json!({
                "id": a.id, "name": a.name, "kind": a.kind.as_str(),
            })).collect::<Vec<_>>(),
            "duties": self.duties.iter().map(|d| json!({
                "id": d.id,
                "description": d.description,
                "agency_kinds": words(&d.agency_kinds),
                "roles": opt(&d.roles),
                "purposes": words(&d.purposes),
                "classes": words(&d.classes),
                "relationships": words(&d.relationships),
            })).collect::<Vec<_>>(),
            "rules": self.rules.iter().map(|r| json!({
                "id": r.id,
                "description": r.description,
                "agency_kinds": opt(&r.agency_kinds),
                "agencies": opt(&r.agencies),
                "roles": opt(&r.roles),
                "purposes": words(&r.purposes),
                "classes": words(&r.classes),
                "relationships": words(&r.relationships),
                "bases": words(&r.bases),
                "break_glass_opens_secret_location": r.break_glass_opens_secret_location,
            })).collect::<Vec<_>>(),
        });
        doc.to_string()
    }
}

/// Why a policy file was refused: every problem found, each with its line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct PolicyError {
    pub file: String,
    /// Never empty; sorted by line.
    pub problems: Vec<Problem>,
}

/// One problem of a policy file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl Problem {
    fn new(line: usize, message: String) -> Problem {
        Problem { line, message }
    }
}

impl PolicyError {
    fn new(file: &str, problems: Vec<Problem>) -> PolicyError {
        PolicyError {
            file: file.to_string(),
            problems,
        }
    }

    /// One line per problem: `file:line: problem`.
    pub fn render(&self) -> String {
        self.problems
            .iter()
            .map(|p| format!("{}:{}: {}", self.file, p.line, p.message))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

// ---------------------------------------------------------------------------
// The file as written.

type Word = Spanned<String>;
type Words = Spanned<Vec<Word>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    agreement: Spanned<RawAgreement>,
    #[serde(default)]
    agency: Vec<RawAgency>,
    #[serde(default)]
    duty: Vec<RawDuty>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgreement {
    name: Spanned<String>,
    version: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgency {
    id: Word,
    name: Spanned<String>,
    kind: Word,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDuty {
    id: Word,
    description: Spanned<String>,
    agency_kinds: Words,
    roles: Option<Words>,
    purposes: Words,
    classes: Words,
    relationships: Words,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Word,
    description: Spanned<String>,
    agency_kinds: Option<Words>,
    agencies: Option<Words>,
    roles: Option<Words>,
    purposes: Words,
    classes: Words,
    relationships: Words,
    bases: Option<Words>,
    break_glass_opens_secret_location: Option<Spanned<bool>>,
}

// ---------------------------------------------------------------------------
// Validation.

struct Validator<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

fn list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Validator<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        line_of(self.text, s.span().start)
    }

    fn problem<T>(&mut self, at: &Spanned<T>, message: String) {
        let line = self.line(at);
        self.problems.push(Problem::new(line, message));
    }

    fn policy(&mut self, raw: RawFile) -> Policy {
        let agreement = Agreement {
            name: self.text_field("[agreement]", "name", &raw.agreement.get_ref().name),
            version: self.text_field("[agreement]", "version", &raw.agreement.get_ref().version),
        };

        let mut agencies = Vec::new();
        let mut seen = BTreeMap::new();
        for a in &raw.agency {
            let owner = format!("agency \"{}\"", a.id.get_ref());
            self.id(&owner, "agency", &a.id, &mut seen);
            let name = self.text_field(&owner, "name", &a.name);
            if let Some(kind) = self.word::<AgencyKind>(&owner, &a.kind) {
                agencies.push(Signatory {
                    id: a.id.get_ref().clone(),
                    name,
                    kind,
                });
            }
        }
        let declared: BTreeMap<String, AgencyKind> =
            agencies.iter().map(|a| (a.id.clone(), a.kind)).collect();

        let mut duties = Vec::new();
        let mut seen = BTreeMap::new();
        for d in &raw.duty {
            let owner = format!("duty \"{}\"", d.id.get_ref());
            self.id(&owner, "duty", &d.id, &mut seen);
            if let Some(duty) = self.duty(&owner, d) {
                duties.push(duty);
            }
        }

        let mut rules = Vec::new();
        let mut seen = BTreeMap::new();
        for r in &raw.rule {
            let owner = format!("rule \"{}\"", r.id.get_ref());
            self.id(&owner, "rule", &r.id, &mut seen);
            if let Some(rule) = self.rule(&owner, r, &declared, &duties) {
                rules.push(rule);
            }
        }
        Policy::new(agreement, agencies, duties, rules)
    }

    fn id(&mut self, owner: &str, what: &str, id: &Word, seen: &mut BTreeMap<String, usize>) {
        let line = self.line(id);
        if !valid_id(id.get_ref()) {
            self.problem(
                id,
                format!(
                    "{owner}: an id is letters, digits, '-', '_' or '.', starting with a letter or digit"
                ),
            );
        }
        if let Some(first) = seen.get(id.get_ref()) {
            self.problem(
                id,
                format!(
                    "duplicate {what} id \"{}\" (first used on line {first})",
                    id.get_ref()
                ),
            );
        } else {
            seen.insert(id.get_ref().clone(), line);
        }
    }

    fn text_field(&mut self, owner: &str, field: &str, value: &Spanned<String>) -> String {
        if value.get_ref().trim().is_empty() {
            self.problem(value, format!("{owner}: {field} is empty"));
        }
        value.get_ref().clone()
    }

    fn word<T: FromStr<Err = ParseError>>(&mut self, owner: &str, w: &Word) -> Option<T> {
        match w.get_ref().parse::<T>() {
            Ok(t) => Some(t),
            Err(e) => {
                self.problem(
                    w,
                    format!(
                        "{owner}: unknown {} \"{}\" (expected one of {})",
                        e.what, e.value, e.expected
                    ),
                );
                None
            }
        }
    }

    /// A list of words, each known and listed once; an empty list can never match.
    fn words<T: FromStr<Err = ParseError> + Ord + Copy + fmt::Display>(
        &mut self,
        owner: &str,
        field: &str,
        ws: &Words,
    ) -> Option<BTreeSet<T>> {
        if ws.get_ref().is_empty() {
            self.problem(
                ws,
                format!("{owner}: {field} is empty, so it can never apply"),
            );
            return None;
        }
        let mut set = BTreeSet::new();
        let mut ok = true;
        for w in ws.get_ref() {
            match self.word::<T>(owner, w) {
                Some(t) if !set.insert(t) => {
                    self.problem(w, format!("{owner}: {field} lists {t} twice"));
                }
                Some(_) => {}
                None => ok = false,
            }
        }
        ok.then_some(set)
    }

    fn relationships(&mut self, owner: &str, ws: &Words) -> Option<BTreeSet<Relationship>> {
        let set = self.words::<Relationship>(owner, "relationships", ws)?;
        if set.contains(&Relationship::Any) && set.len() > 1 {
            self.problem(
                ws,
                format!("{owner}: ANY already means any relationship; list ANY alone"),
            );
        }
        Some(set)
    }

    /// Roles and relationships that no agency the table is for can hold.
    fn compatible(
        &mut self,
        owner: &str,
        kinds: &BTreeSet<AgencyKind>,
        roles: Option<(&Words, &BTreeSet<Role>)>,
        relationships: (&Words, &BTreeSet<Relationship>),
    ) {
        if let Some((at, roles)) = roles {
            for role in roles {
                if !kinds.iter().any(|k| role.exists_at(*k)) {
                    self.problem(
                        at,
                        format!(
                            "{owner}: role {role} cannot exist at any of its agency kinds ({}); {role} exists only at {}",
                            list(kinds),
                            list(role.agency_kinds())
                        ),
                    );
                }
            }
        }
        let (at, rels) = relationships;
        for rel in rels {
            if !kinds.iter().any(|k| rel.agency_kinds().contains(k)) {
                self.problem(
                    at,
                    format!(
                        "{owner}: relationship {rel} is held only by {}, not by any of its agency kinds ({})",
                        list(rel.agency_kinds()),
                        list(kinds)
                    ),
                );
            }
        }
    }

    fn statistics(
        &mut self,
        owner: &str,
        at: &Words,
        purposes: &BTreeSet<Purpose>,
        classes: &BTreeSet<DataClass>,
    ) {
        let forbidden: Vec<_> = classes
            .iter()
            .filter(|c| DataClass::NEVER_FOR_STATISTICS.contains(c))
            .collect();
        if purposes.contains(&Purpose::Statistics) && !forbidden.is_empty() {
            self.problem(
                at,
                format!(
                    "{owner}: the purpose STATISTICS never sees {}; grant those classes in a rule without STATISTICS",
                    list(forbidden)
                ),
            );
        }
    }

    fn duty(&mut self, owner: &str, d: &RawDuty) -> Option<Duty> {
        let description = self.text_field(owner, "description", &d.description);
        let kinds = self.words::<AgencyKind>(owner, "agency_kinds", &d.agency_kinds);
        let roles = d
            .roles
            .as_ref()
            .map(|ws| self.words::<Role>(owner, "roles", ws));
        let purposes = self.words::<Purpose>(owner, "purposes", &d.purposes);
        let classes = self.words::<DataClass>(owner, "classes", &d.classes);
        let relationships = self.relationships(owner, &d.relationships);
        let (kinds, purposes, classes, relationships) =
            (kinds?, purposes?, classes?, relationships?);
        let roles = given(roles)?;
        self.compatible(
            owner,
            &kinds,
            d.roles.as_ref().zip(roles.as_ref()),
            (&d.relationships, &relationships),
        );
        self.statistics(owner, &d.classes, &purposes, &classes);
        Some(Duty {
            id: d.id.get_ref().clone(),
            description,
            agency_kinds: kinds,
            roles,
            purposes,
            classes,
            relationships,
        })
    }

    fn rule(
        &mut self,
        owner: &str,
        r: &RawRule,
        declared: &BTreeMap<String, AgencyKind>,
        duties: &[Duty],
    ) -> Option<Rule> {
        let description = self.text_field(owner, "description", &r.description);
        let kinds = r
            .agency_kinds
            .as_ref()
            .map(|ws| self.words::<AgencyKind>(owner, "agency_kinds", ws));
        let agencies = r
            .agencies
            .as_ref()
            .map(|ws| self.agencies(owner, ws, declared));
        let roles = r
            .roles
            .as_ref()
            .map(|ws| self.words::<Role>(owner, "roles", ws));
        let purposes = self.words::<Purpose>(owner, "purposes", &r.purposes);
        let classes = self.words::<DataClass>(owner, "classes", &r.classes);
        let relationships = self.relationships(owner, &r.relationships);
        let bases = match &r.bases {
            Some(ws) => self.words::<BasisKind>(owner, "bases", ws),
            None => Some(BasisKind::ALL.iter().copied().collect()),
        };
        let opens = r
            .break_glass_opens_secret_location
            .as_ref()
            .is_some_and(|b| *b.get_ref());

        let (kinds, agencies, roles) = (given(kinds)?, given(agencies)?, given(roles)?);
        let (purposes, classes, relationships, bases) =
            (purposes?, classes?, relationships?, bases?);

        // The kinds of agency the rule can be for.
        let reach: BTreeSet<AgencyKind> = if kinds.is_none() && agencies.is_none() {
            AgencyKind::ALL.iter().copied().collect()
        } else {
            let by_id = agencies
                .iter()
                .flatten()
                .filter_map(|a| declared.get(a).copied());
            kinds.iter().flatten().copied().chain(by_id).collect()
        };
        self.compatible(
            owner,
            &reach,
            r.roles.as_ref().zip(roles.as_ref()),
            (&r.relationships, &relationships),
        );
        self.statistics(owner, &r.classes, &purposes, &classes);
        self.break_glass(owner, r, &purposes, &classes, &bases, opens);

        let rule = Rule {
            id: r.id.get_ref().clone(),
            description,
            agency_kinds: kinds,
            agencies,
            roles,
            purposes,
            classes,
            relationships,
            bases,
            break_glass_opens_secret_location: opens,
        };
        if rule.bases.iter().eq([BasisKind::Duty].iter())
            && !duties.iter().any(|d| duty_can_serve(d, &rule, &reach))
        {
            self.problem(
                &r.id,
                format!(
                    "{owner}: its only basis is DUTY, but no duty of the agreement covers any of its agency kinds, roles, purposes and classes together"
                ),
            );
        }
        Some(rule)
    }

    fn agencies(
        &mut self,
        owner: &str,
        ws: &Words,
        declared: &BTreeMap<String, AgencyKind>,
    ) -> Option<BTreeSet<String>> {
        if ws.get_ref().is_empty() {
            self.problem(
                ws,
                format!("{owner}: agencies is empty, so it can never apply"),
            );
            return None;
        }
        let mut set = BTreeSet::new();
        for w in ws.get_ref() {
            let id = w.get_ref();
            if !declared.contains_key(id) {
                let known = if declared.is_empty() {
                    "the agreement declares no [[agency]]".to_string()
                } else {
                    format!("declared: {}", list(declared.keys()))
                };
                self.problem(w, format!("{owner}: unknown agency \"{id}\" ({known})"));
            } else if !set.insert(id.clone()) {
                self.problem(w, format!("{owner}: agencies lists {id} twice"));
            }
        }
        Some(set)
    }

    fn break_glass(
        &mut self,
        owner: &str,
        r: &RawRule,
        purposes: &BTreeSet<Purpose>,
        classes: &BTreeSet<DataClass>,
        bases: &BTreeSet<BasisKind>,
        opens: bool,
    ) {
        let only_break_glass = bases.iter().eq([BasisKind::BreakGlass].iter());
        if only_break_glass {
            let at = r.bases.as_ref().unwrap_or(&r.purposes);
            let others: Vec<_> = purposes
                .iter()
                .filter(|p| **p != Purpose::Emergency)
                .collect();
            if !purposes.contains(&Purpose::Emergency) {
                self.problem(
                    at,
                    format!(
                        "{owner}: its only basis is BREAK_GLASS, which holds only for purpose EMERGENCY, and EMERGENCY is not among its purposes"
                    ),
                );
            } else if !others.is_empty() {
                self.problem(
                    &r.purposes,
                    format!(
                        "{owner}: its only basis is BREAK_GLASS, which holds only for purpose EMERGENCY, so purposes {} can never apply",
                        list(others)
                    ),
                );
            }
            if classes.iter().eq([DataClass::SecretLocation].iter()) && !opens {
                self.problem(
                    &r.classes,
                    format!(
                        "{owner}: its only basis is BREAK_GLASS, which never opens SECRET_LOCATION unless break_glass_opens_secret_location = true"
                    ),
                );
            }
        }
        if let Some(flag) = &r.break_glass_opens_secret_location
            && *flag.get_ref()
        {
            if !bases.contains(&BasisKind::BreakGlass) {
                self.problem(
                    flag,
                    format!(
                        "{owner}: break_glass_opens_secret_location = true has no effect: BREAK_GLASS is not among its bases"
                    ),
                );
            }
            if !classes.contains(&DataClass::SecretLocation) {
                self.problem(
                    flag,
                    format!(
                        "{owner}: break_glass_opens_secret_location = true has no effect: SECRET_LOCATION is not among its classes"
                    ),
                );
            }
        }
    }
}

/// An optional list after validation: `None` when it was written but invalid
/// (the caller gives up on the table), else whether it was written.
fn given<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    match field {
        Some(None) => None,
        Some(Some(v)) => Some(Some(v)),
        None => Some(None),
    }
}

/// Could `duty` ever be the basis of a request that `rule` matches? (Their
/// relationships need not overlap: a requester can hold several at once.)
fn duty_can_serve(duty: &Duty, rule: &Rule, reach: &BTreeSet<AgencyKind>) -> bool {
    let kinds: Vec<AgencyKind> = reach
        .iter()
        .filter(|k| duty.agency_kinds.contains(k))
        .copied()
        .collect();
    let role_ok = |role: Role| {
        duty.roles.as_ref().is_none_or(|r| r.contains(&role))
            && rule.roles.as_ref().is_none_or(|r| r.contains(&role))
            && kinds.iter().any(|k| role.exists_at(*k))
    };
    !kinds.is_empty()
        && Role::ALL.iter().any(|r| role_ok(*r))
        && rule.purposes.iter().any(|p| duty.purposes.contains(p))
        && rule.classes.iter().any(|c| duty.classes.contains(c))
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Which table an offset falls in, for messages from the TOML reader:
/// `rule "x"` (or `rule #3` before its id is known), `[agreement]`.
fn table_context(text: &str, offset: usize) -> Option<String> {
    // Up to the end of the offending line: a missing key is reported at the
    // table's own header.
    let start = offset.min(text.len());
    let end = text
        .get(start..)
        .and_then(|rest| rest.find('\n'))
        .map_or(text.len(), |i| start + i);
    let before = text.get(..end)?;
    let mut header = None;
    let mut header_end = 0;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut pos = 0;
    for line in before.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.split('#').next().unwrap_or(t).trim().to_string();
            *counts.entry(name.clone()).or_default() += 1;
            header = Some(name);
            header_end = pos + line.len();
        }
        pos += line.len();
    }
    let header = header?;
    let well_formed = if header.starts_with("[[") {
        header.ends_with("]]")
    } else {
        header.ends_with(']')
    };
    if !well_formed {
        return None; // a malformed header: the reader's message says it all
    }
    let Some(table) = header
        .strip_prefix("[[")
        .and_then(|h| h.strip_suffix("]]"))
        .map(str::trim)
    else {
        return Some(header);
    };
    // The id of this [[table]], if written.
    let body = text.get(header_end..).unwrap_or("");
    let id = body
        .lines()
        .take_while(|l| !l.trim_start().starts_with('['))
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == "id").then(|| value.trim().trim_matches(['"', '\'']).to_string())
        });
    Some(match id {
        Some(id) => format!("{table} \"{id}\""),
        None => format!("{table} #{}", counts.get(&header).copied().unwrap_or(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "[agreement]\nname = \"Test agreement\"\nversion = \"1\"\n";

    /// An agreement with one duty and the given rule body (after `[[rule]]`).
    fn with_rule(rule: &str) -> String {
        format!(
            "{HEAD}\n[[agency]]\nid = \"polo-nord\"\nname = \"Polo Nord\"\nkind = \"SOCIAL_SERVICE\"\n\n\
             [[duty]]\nid = \"protection\"\ndescription = \"d\"\nagency_kinds = [\"SOCIAL_SERVICE\"]\n\
             purposes = [\"CASE_MANAGEMENT\"]\nclasses = [\"SOCIAL\"]\nrelationships = [\"LEAD\"]\n\n\
             [[rule]]\n{rule}"
        )
    }

    const GOOD_RULE: &str = "id = \"r\"\ndescription = \"d\"\npurposes = [\"CASE_MANAGEMENT\"]\n\
                             classes = [\"SOCIAL\"]\nrelationships = [\"LEAD\"]\n";

    /// The problems of a file, as `file:line: message` lines.
    fn problems(text: &str) -> Vec<String> {
        match Policy::from_toml("policies/network.toml", text) {
            Ok(_) => Vec::new(),
            Err(e) => e.render().lines().map(str::to_string).collect(),
        }
    }

    /// The 1-based line of the last line of `text` containing `needle` (the
    /// rule comes after the duty).
    fn line(text: &str, needle: &str) -> usize {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .last()
            .map_or(0, |(i, _)| i + 1)
    }

    fn first_line(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .map_or(0, |i| i + 1)
    }

    fn assert_problem(text: &str, needle: &str, expected: &str) {
        let got = problems(text);
        let want = format!("policies/network.toml:{}: {expected}", line(text, needle));
        assert!(
            got.contains(&want),
            "expected\n  {want}\ngot\n  {}",
            got.join("\n  ")
        );
    }

    #[test]
    fn a_good_rule_loads() {
        let p = Policy::from_toml("t.toml", &with_rule(GOOD_RULE)).unwrap();
        assert_eq!(p.rules.len(), 1);
        assert_eq!(p.rules[0].bases.len(), 4, "all four bases by default");
        assert!(!p.rules[0].break_glass_opens_secret_location);
        assert_eq!(p.agreement.version, "1");
        assert_eq!(p.version.len(), 64);
    }

    #[test]
    fn the_interim_agreement_loads() {
        let p = Policy::interim();
        assert_eq!(p.rules.len(), 2);
        assert_eq!(p.duties.len(), 2);
    }

    #[test]
    fn an_unknown_data_class_names_line_rule_and_the_expected_words() {
        let text = with_rule(&GOOD_RULE.replace("[\"SOCIAL\"]", "[\"SOCIAL\", \"HEALTHY\"]"));
        assert_problem(
            &text,
            "HEALTHY",
            "rule \"r\": unknown data class \"HEALTHY\" (expected one of ADMINISTRATIVE, IDENTITY, CONTACT, SECRET_LOCATION, HEALTH, JUDICIAL, SOCIAL, MIGRATION, ETHNIC_ORIGIN, VIOLENCE)",
        );
    }

    #[test]
    fn unknown_roles_purposes_kinds_relationships_and_bases_are_errors() {
        let cases = [
            ("roles = [\"CHEF\"]\n", "CHEF", "unknown role \"CHEF\""),
            (
                "agency_kinds = [\"BAKERY\"]\n",
                "BAKERY",
                "unknown agency kind \"BAKERY\"",
            ),
            (
                "bases = [\"HUNCH\"]\n",
                "HUNCH",
                "unknown legal basis \"HUNCH\"",
            ),
        ];
        for (extra, needle, message) in cases {
            let text = with_rule(&format!("{GOOD_RULE}{extra}"));
            let got = problems(&text);
            let prefix = format!(
                "policies/network.toml:{}: rule \"r\": {message}",
                line(&text, needle)
            );
            assert!(
                got.iter().any(|p| p.starts_with(&prefix)),
                "{prefix}\n{got:?}"
            );
        }
        let text = with_rule(&GOOD_RULE.replace("CASE_MANAGEMENT", "GOSSIP"));
        assert!(problems(&text)[0].contains("rule \"r\": unknown purpose \"GOSSIP\""));
        let text = with_rule(&GOOD_RULE.replace("\"LEAD\"", "\"COUSIN\""));
        assert!(problems(&text)[0].contains("rule \"r\": unknown relationship \"COUSIN\""));
    }

    #[test]
    fn an_unknown_key_is_an_error_on_its_line() {
        let text = with_rule(&format!("{GOOD_RULE}purpose = [\"CASE_MANAGEMENT\"]\n"));
        let got = problems(&text);
        let want = format!(
            "policies/network.toml:{}: rule \"r\": unknown field `purpose`",
            line(&text, "purpose = ")
        );
        assert!(got[0].starts_with(&want), "{want}\n{got:?}");
        let text = format!("{HEAD}signed_by = \"me\"\n");
        assert!(
            problems(&text)[0]
                .starts_with("policies/network.toml:4: [agreement]: unknown field `signed_by`")
        );
    }

    #[test]
    fn a_missing_key_names_its_table() {
        let text = with_rule(&GOOD_RULE.replace("classes = [\"SOCIAL\"]\n", ""));
        let got = problems(&text);
        assert_eq!(
            got,
            vec![format!(
                "policies/network.toml:{}: rule \"r\": missing field `classes`",
                line(&text, "[[rule]]")
            )]
        );
        assert_eq!(
            problems("")[0],
            "policies/network.toml:1: missing field `agreement`"
        );
    }

    #[test]
    fn duplicate_rule_and_duty_ids_are_errors() {
        let text = format!("{}\n[[rule]]\n{GOOD_RULE}", with_rule(GOOD_RULE));
        let second = text
            .lines()
            .enumerate()
            .filter(|(_, l)| *l == "id = \"r\"")
            .nth(1);
        let got = problems(&text);
        assert_eq!(
            got,
            vec![format!(
                "policies/network.toml:{}: duplicate rule id \"r\" (first used on line {})",
                second.map_or(0, |(i, _)| i + 1),
                first_line(&text, "id = \"r\"")
            )]
        );
        let duty = "\n[[duty]]\nid = \"protection\"\ndescription = \"d\"\nagency_kinds = [\"SOCIAL_SERVICE\"]\n\
                    purposes = [\"CASE_MANAGEMENT\"]\nclasses = [\"SOCIAL\"]\nrelationships = [\"LEAD\"]\n";
        let text = format!("{}{duty}", with_rule(GOOD_RULE));
        assert!(problems(&text)[0].contains("duplicate duty id \"protection\""));
    }

    #[test]
    fn empty_lists_can_never_apply() {
        for field in ["purposes", "classes", "relationships"] {
            let text = with_rule(&format!(
                "id = \"r\"\ndescription = \"d\"\n{}",
                GOOD_RULE
                    .lines()
                    .skip(2)
                    .map(|l| if l.starts_with(field) {
                        format!("{field} = []\n")
                    } else {
                        format!("{l}\n")
                    })
                    .collect::<String>()
            ));
            assert_problem(
                &text,
                &format!("{field} = []"),
                &format!("rule \"r\": {field} is empty, so it can never apply"),
            );
        }
        let text = with_rule(&format!("{GOOD_RULE}bases = []\n"));
        assert_problem(
            &text,
            "bases = []",
            "rule \"r\": bases is empty, so it can never apply",
        );
        let text = with_rule(&format!("{GOOD_RULE}roles = []\n"));
        assert_problem(
            &text,
            "roles = []",
            "rule \"r\": roles is empty, so it can never apply",
        );
    }

    #[test]
    fn break_glass_alone_needs_the_purpose_emergency() {
        let text = with_rule(&format!("{GOOD_RULE}bases = [\"BREAK_GLASS\"]\n"));
        assert_problem(
            &text,
            "bases = ",
            "rule \"r\": its only basis is BREAK_GLASS, which holds only for purpose EMERGENCY, and EMERGENCY is not among its purposes",
        );
        let text = with_rule(&format!(
            "{}bases = [\"BREAK_GLASS\"]\n",
            GOOD_RULE.replace(
                "[\"CASE_MANAGEMENT\"]",
                "[\"CASE_MANAGEMENT\", \"EMERGENCY\"]"
            )
        ));
        assert_problem(
            &text,
            "purposes = ",
            "rule \"r\": its only basis is BREAK_GLASS, which holds only for purpose EMERGENCY, so purposes CASE_MANAGEMENT can never apply",
        );
    }

    #[test]
    fn break_glass_alone_cannot_open_only_a_secret_location() {
        let rule = GOOD_RULE
            .replace("[\"CASE_MANAGEMENT\"]", "[\"EMERGENCY\"]")
            .replace("[\"SOCIAL\"]", "[\"SECRET_LOCATION\"]");
        let text = with_rule(&format!("{rule}bases = [\"BREAK_GLASS\"]\n"));
        assert_problem(
            &text,
            "classes = ",
            "rule \"r\": its only basis is BREAK_GLASS, which never opens SECRET_LOCATION unless break_glass_opens_secret_location = true",
        );
        let text = with_rule(&format!(
            "{rule}bases = [\"BREAK_GLASS\"]\nbreak_glass_opens_secret_location = true\n"
        ));
        assert_eq!(problems(&text), Vec::<String>::new());
    }

    #[test]
    fn opening_secret_locations_must_have_an_effect() {
        let text = with_rule(&format!(
            "{GOOD_RULE}bases = [\"DUTY\"]\nbreak_glass_opens_secret_location = true\n"
        ));
        let got = problems(&text);
        let l = line(&text, "break_glass_opens");
        assert!(got.contains(&format!("policies/network.toml:{l}: rule \"r\": break_glass_opens_secret_location = true has no effect: BREAK_GLASS is not among its bases")));
        assert!(got.contains(&format!("policies/network.toml:{l}: rule \"r\": break_glass_opens_secret_location = true has no effect: SECRET_LOCATION is not among its classes")));
    }

    #[test]
    fn a_role_that_cannot_exist_at_the_rules_agencies_is_an_error() {
        let text = with_rule(&format!(
            "{GOOD_RULE}agency_kinds = [\"SOCIAL_SERVICE\", \"HOSPITAL\"]\nroles = [\"CASE_MANAGER\", \"JUDGE\"]\n"
        ));
        assert_eq!(
            problems(&text),
            vec![format!(
                "policies/network.toml:{}: rule \"r\": role JUDGE cannot exist at any of its agency kinds (SOCIAL_SERVICE, HOSPITAL); JUDGE exists only at JUVENILE_COURT",
                line(&text, "roles = ")
            )]
        );
        // Agencies named by id count with their declared kind.
        let text = with_rule(&format!(
            "{GOOD_RULE}agencies = [\"polo-nord\"]\nroles = [\"COURT_CLERK\"]\n"
        ));
        assert!(
            problems(&text)[0].contains(
                "role COURT_CLERK cannot exist at any of its agency kinds (SOCIAL_SERVICE)"
            )
        );
    }

    #[test]
    fn only_the_juvenile_court_can_be_court_of_record() {
        let text = with_rule(&format!(
            "{}agency_kinds = [\"HOSPITAL\"]\n",
            GOOD_RULE.replace("[\"LEAD\"]", "[\"COURT_OF_RECORD\"]")
        ));
        assert_problem(
            &text,
            "relationships = ",
            "rule \"r\": relationship COURT_OF_RECORD is held only by JUVENILE_COURT, not by any of its agency kinds (HOSPITAL)",
        );
    }

    #[test]
    fn statistics_never_sees_identity_contact_or_secret_location() {
        let text = with_rule(
            &GOOD_RULE
                .replace(
                    "[\"CASE_MANAGEMENT\"]",
                    "[\"CASE_MANAGEMENT\", \"STATISTICS\"]",
                )
                .replace("[\"SOCIAL\"]", "[\"SOCIAL\", \"IDENTITY\", \"CONTACT\"]"),
        );
        assert_problem(
            &text,
            "classes = [\"SOCIAL\", \"IDENTITY\"",
            "rule \"r\": the purpose STATISTICS never sees IDENTITY, CONTACT; grant those classes in a rule without STATISTICS",
        );
        // Duties too.
        let text = with_rule(GOOD_RULE).replace(
            "purposes = [\"CASE_MANAGEMENT\"]\nclasses = [\"SOCIAL\"]\nrelationships = [\"LEAD\"]\n\n[[rule]]",
            "purposes = [\"STATISTICS\"]\nclasses = [\"SECRET_LOCATION\"]\nrelationships = [\"LEAD\"]\n\n[[rule]]",
        );
        assert!(problems(&text).iter().any(|p| {
            p.contains("duty \"protection\": the purpose STATISTICS never sees SECRET_LOCATION")
        }));
    }

    #[test]
    fn an_agency_named_by_a_rule_must_be_a_signatory() {
        let text = with_rule(&format!("{GOOD_RULE}agencies = [\"polo-nrod\"]\n"));
        assert_problem(
            &text,
            "polo-nrod",
            "rule \"r\": unknown agency \"polo-nrod\" (declared: polo-nord)",
        );
    }

    #[test]
    fn a_rule_resting_only_on_a_duty_needs_a_duty_that_can_serve_it() {
        let text = with_rule(&format!(
            "{}bases = [\"DUTY\"]\n",
            GOOD_RULE.replace("[\"SOCIAL\"]", "[\"HEALTH\"]")
        ));
        assert_problem(
            &text,
            "id = \"r\"",
            "rule \"r\": its only basis is DUTY, but no duty of the agreement covers any of its agency kinds, roles, purposes and classes together",
        );
        let text = with_rule(&format!("{GOOD_RULE}bases = [\"DUTY\"]\n"));
        assert_eq!(problems(&text), Vec::<String>::new());
    }

    #[test]
    fn any_is_listed_alone_and_words_once() {
        let text = with_rule(&GOOD_RULE.replace("[\"LEAD\"]", "[\"LEAD\", \"ANY\"]"));
        assert_problem(
            &text,
            "relationships = ",
            "rule \"r\": ANY already means any relationship; list ANY alone",
        );
        let text = with_rule(&GOOD_RULE.replace("[\"SOCIAL\"]", "[\"SOCIAL\", \"SOCIAL\"]"));
        assert_problem(
            &text,
            "classes = ",
            "rule \"r\": classes lists SOCIAL twice",
        );
    }

    #[test]
    fn every_problem_is_reported_in_line_order() {
        let text = with_rule(
            &GOOD_RULE
                .replace("[\"SOCIAL\"]", "[\"HEALTHY\"]")
                .replace("[\"CASE_MANAGEMENT\"]", "[\"GOSSIP\"]"),
        );
        let got = problems(&text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].contains("GOSSIP") && got[1].contains("HEALTHY"));
        let err = Policy::from_toml("policies/network.toml", &text).unwrap_err();
        assert_eq!(err.problems[0].line, line(&text, "GOSSIP"));
        assert_eq!(err.to_string(), got.join("\n"));
    }

    #[test]
    fn the_version_hash_ignores_layout_comments_and_order_of_keys_and_words() {
        let a = with_rule(GOOD_RULE);
        let b = format!(
            "# the same agreement, written differently\n{}",
            with_rule(
                "relationships=['LEAD']   # comment\nclasses = [ \"SOCIAL\" ]\n\n\
                 description = \"d\"\nid = \"r\"\npurposes = [\"CASE_MANAGEMENT\"]\n\
                 bases = [\"BREAK_GLASS\", \"CONSENT\", \"DUTY\", \"COURT_ORDER\"]\n"
            )
        );
        let pa = Policy::from_toml("a", &a).unwrap();
        let pb = Policy::from_toml("b", &b).unwrap();
        assert_eq!(pa.version, pb.version);
        assert_eq!(pa.version, Policy::from_toml("a", &a).unwrap().version);
    }

    #[test]
    fn the_version_hash_changes_when_a_grant_changes() {
        let base = Policy::from_toml("a", &with_rule(GOOD_RULE))
            .unwrap()
            .version;
        let changes = [
            GOOD_RULE.replace("[\"SOCIAL\"]", "[\"SOCIAL\", \"HEALTH\"]"),
            GOOD_RULE.replace("[\"LEAD\"]", "[\"TEAM_MEMBER\"]"),
            format!("{GOOD_RULE}bases = [\"CONSENT\"]\n"),
            format!("{GOOD_RULE}roles = [\"CASE_MANAGER\"]\n"),
            GOOD_RULE.replace("id = \"r\"", "id = \"r2\""),
        ];
        for changed in changes {
            let v = Policy::from_toml("a", &with_rule(&changed))
                .unwrap()
                .version;
            assert_ne!(v, base, "{changed}");
        }
    }

    #[test]
    fn table_context_finds_the_rule_id() {
        let text = with_rule(GOOD_RULE);
        let at = text
            .find("classes = [\"SOCIAL\"]\nrelationships = [\"LEAD\"]\n")
            .unwrap_or(0);
        let last = text.rfind("classes").unwrap_or(0);
        assert_ne!(at, last);
        assert_eq!(table_context(&text, last).as_deref(), Some("rule \"r\""));
        assert_eq!(table_context(&text, 3).as_deref(), Some("[agreement]"));
    }
}
