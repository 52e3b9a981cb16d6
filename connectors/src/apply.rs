//! Applying mapped records to the hub's tables, idempotently.
//!
//! One page at a time, inside the caller's transaction: every key of the page
//! is looked up in `external_ref` with one query per system and resource
//! type (the whole key, so the lookup uses its index), every fiscal code
//! in `person` with one query, then each item is decided in memory (new,
//! changed, unchanged, or rejected with a reason) and the writes go out as
//! multi-row inserts (on PostgreSQL, one `jsonb` parameter per table: see
//! `postgres_rows`), so a page of hundreds of resources costs a handful of
//! statements. An item is all or nothing: if one of its records cannot be
//! placed (its subject is unknown, a consent names a class that does not
//! exist) none of them is written and the item goes to the dead letters.
//!
//! Rules (docs/connectors.md):
//! - a record whose key is known and whose upstream version (or, without one,
//!   content hash) is the same is unchanged: nothing is written;
//! - a person is matched by key, then by another key of the same person
//!   (`identifiers`), then by fiscal code; never by name. Linking a new key to a
//!   known person fills only the fields the person lacks; a new version of an
//!   already linked record overwrites the fields it carries;
//! - a referral that has been triaged is never changed by a sync;
//! - a consent's lists must hold the policy's values, and its recipients must be
//!   agencies of the network;
//! - a court order lands on the case whose `reference` it names, issued by the
//!   instance's agency (which must be a juvenile court), with its mandates to
//!   agencies of the network; a docket number is the court's once. A changed
//!   order is updated with its mandates: a mandate that remains (same agency,
//!   same description) keeps its row and its `fulfilled_on`, a new one is
//!   added, one the court dropped is deleted unless a report already answers
//!   it. The first court to order on a case becomes its court of record, as
//!   when an order is recorded by hand.
//! - a placement event needs its placement to be in a facility the instance's
//!   agency runs (a placement elsewhere, or none, is one and the same
//!   rejection, so a community cannot probe for placements it does not
//!   host). An event is never changed: the same id with other content is
//!   rejected. A departure ends a placement that has not ended (on the
//!   event's day); a verification completes the placement's earliest open
//!   review, or records a new one when none is open.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entities::enums::{MigrationStatus, ReferralChannel, VerificationOutcome};
use entities::{
    case_file, consent, court_order, court_order_mandate, court_report, external_ref, facility,
    health_event, person, placement, placement_event, referral, referral_reason, referral_subject,
    verification,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, Iterable, QueryFilter,
    QueryOrder, QuerySelect, Statement, Value,
};
use serde_json::json;
use uuid::Uuid;

use crate::model::{
    ConsentIn, CourtOrderIn, EntityKind, ExternalKey, HealthEventIn, Inbound, PersonIn,
    PlacementEventIn, PlacementEventKind, Record, ReferralIn,
};

/// `agency.kind` of a juvenile court: the only kind whose instances import orders.
const JUVENILE_COURT: &str = "JUVENILE_COURT";

/// How far in the future an event may say it happened (clocks differ a little).
const EVENT_CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Who the records come from: the instance's name, agency and referral target.
#[derive(Clone, Debug)]
pub struct Source {
    pub instance: String,
    pub agency_id: String,
    pub agency_kind: String,
    pub refer_to: Option<String>,
    /// The network's agency ids (consent recipients must be among them).
    pub agencies: HashSet<String>,
}

impl Source {
    fn operator(&self) -> String {
        format!("connector:{}", self.instance)
    }
}

/// What happened to one record.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// What happened to one item: its records' changes, or why it was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemOutcome {
    Applied(Vec<Change>),
    Rejected(String),
}

#[derive(Clone, Debug)]
struct Known {
    version: Option<String>,
    hash: String,
    entity: String,
    local_id: Uuid,
}

/// The writes of a page, gathered before any is sent.
#[derive(Default)]
struct Writes {
    persons: Vec<person::ActiveModel>,
    person_updates: Vec<(Uuid, PersonIn, bool)>,
    health: Vec<health_event::ActiveModel>,
    health_updates: Vec<(Uuid, HealthEventIn, Uuid)>,
    referrals: Vec<referral::ActiveModel>,
    referral_reasons: Vec<referral_reason::ActiveModel>,
    referral_subjects: Vec<referral_subject::ActiveModel>,
    referral_updates: Vec<(Uuid, ReferralIn)>,
    consents: Vec<consent::ActiveModel>,
    consent_updates: Vec<(Uuid, ConsentIn, Uuid)>,
    orders: Vec<court_order::ActiveModel>,
    mandates: Vec<court_order_mandate::ActiveModel>,
    /// (order id, the order, its case id).
    order_updates: Vec<(Uuid, CourtOrderIn, Uuid)>,
    /// Cases an imported order is on: the court becomes their court of
    /// record where they have none.
    ordered_cases: Vec<Uuid>,
    placement_events: Vec<placement_event::ActiveModel>,
    placement_ends: Vec<PlacementEnd>,
    verifications: Vec<verification::ActiveModel>,
    verifications_done: Vec<VerificationDone>,
    refs: BTreeMap<ExternalKey, external_ref::ActiveModel>,
}

/// A departure that ends a placement.
struct PlacementEnd {
    placement_id: Uuid,
    facility_id: Uuid,
    end_on: NaiveDate,
    reason: String,
}

/// An open review that a verification event completes.
struct VerificationDone {
    id: Uuid,
    done_on: NaiveDate,
    outcome: VerificationOutcome,
    notes: Option<String>,
    recorded_by: String,
}

/// What a placement event needs to know of its placement.
#[derive(Clone, Debug)]
struct PlacementFacts {
    facility_id: Uuid,
    operator_agency_id: String,
    start_on: NaiveDate,
    end_on: Option<NaiveDate>,
}

/// The state of one page's decisions: what the database knew, plus what this
/// page has decided so far.
struct Page<'a> {
    source: &'a Source,
    now: DateTime<Utc>,
    known: HashMap<ExternalKey, Known>,
    by_fiscal_code: HashMap<String, Uuid>,
    /// Persons whose fiscal code this page sets, to catch two ids claiming one code.
    fiscal_code_of: HashMap<Uuid, Option<String>>,
    triaged: HashSet<Uuid>,
    /// Case references of the page's court orders → case ids.
    cases: HashMap<String, Uuid>,
    /// Docket numbers of the instance's court → order ids (in the database
    /// or claimed earlier in this page).
    dockets: HashMap<String, Uuid>,
    /// The placements the page's events name (absent: no such placement).
    placements: HashMap<Uuid, PlacementFacts>,
    /// Open reviews of those placements, earliest due first.
    open_reviews: HashMap<Uuid, VecDeque<Uuid>>,
    writes: Writes,
    /// How to take back what the current item changed in the maps above.
    undo: Vec<Undo>,
}

/// One change to a page's maps, with the value it replaced.
enum Undo {
    Known(ExternalKey, Option<Known>),
    FiscalCode(String, Option<Uuid>),
    FiscalCodeOf(Uuid, Option<Option<String>>),
    Docket(String, Option<Uuid>),
    Ref(ExternalKey, Option<external_ref::ActiveModel>),
    /// A departure ended the placement (it had no end).
    Ended(Uuid),
    /// A verification took the placement's earliest open review.
    ReviewTaken(Uuid, Uuid),
}

/// Applies the mapped records of a page's items, in order. `items[i]` holds the
/// records item `i` mapped to. Returns one outcome per item.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    source: &Source,
    items: &[Vec<Record>],
) -> Result<Vec<ItemOutcome>, DbErr> {
    let now = Utc::now();
    let mut page = Page {
        source,
        now,
        known: load_known(db, items).await?,
        by_fiscal_code: load_fiscal_codes(db, items).await?,
        fiscal_code_of: HashMap::new(),
        triaged: HashSet::new(),
        cases: load_cases(db, items).await?,
        dockets: load_dockets(db, source, items).await?,
        placements: HashMap::new(),
        open_reviews: HashMap::new(),
        writes: Writes::default(),
        undo: Vec::new(),
    };
    page.triaged = load_triaged(db, &page.known).await?;
    (page.placements, page.open_reviews) = load_placements(db, items).await?;
    let mut outcomes = Vec::with_capacity(items.len());
    for records in items {
        // A rejected item leaves no trace: what it changed is taken back.
        let checkpoint = page.snapshot();
        let mut changes = Vec::with_capacity(records.len());
        let mut rejected = None;
        for record in records {
            match page.decide(record) {
                Ok(change) => changes.push(change),
                Err(reason) => {
                    rejected = Some(reason);
                    break;
                }
            }
        }
        match rejected {
            Some(reason) => {
                page.restore(checkpoint);
                outcomes.push(ItemOutcome::Rejected(reason));
            }
            None => outcomes.push(ItemOutcome::Applied(changes)),
        }
        page.undo.clear();
    }
    page.writes.flush(db, &source.agency_id, now).await?;
    Ok(outcomes)
}

/// Where an item started: the lengths of the pending writes (the maps are
/// taken back through the undo log, so a checkpoint costs O(1), not a copy
/// of the page's maps per item).
struct Snapshot {
    lens: [usize; 18],
}

impl Page<'_> {
    fn snapshot(&self) -> Snapshot {
        let w = &self.writes;
        Snapshot {
            lens: [
                w.persons.len(),
                w.person_updates.len(),
                w.health.len(),
                w.health_updates.len(),
                w.referrals.len(),
                w.referral_reasons.len(),
                w.referral_subjects.len(),
                w.referral_updates.len(),
                w.consents.len(),
                w.consent_updates.len(),
                w.orders.len(),
                w.mandates.len(),
                w.order_updates.len(),
                w.ordered_cases.len(),
                w.placement_events.len(),
                w.placement_ends.len(),
                w.verifications.len(),
                w.verifications_done.len(),
            ],
        }
    }

    fn restore(&mut self, s: Snapshot) {
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Known(k, Some(v)) => {
                    self.known.insert(k, v);
                }
                Undo::Known(k, None) => {
                    self.known.remove(&k);
                }
                Undo::FiscalCode(fc, Some(id)) => {
                    self.by_fiscal_code.insert(fc, id);
                }
                Undo::FiscalCode(fc, None) => {
                    self.by_fiscal_code.remove(&fc);
                }
                Undo::FiscalCodeOf(id, Some(v)) => {
                    self.fiscal_code_of.insert(id, v);
                }
                Undo::FiscalCodeOf(id, None) => {
                    self.fiscal_code_of.remove(&id);
                }
                Undo::Docket(d, Some(id)) => {
                    self.dockets.insert(d, id);
                }
                Undo::Docket(d, None) => {
                    self.dockets.remove(&d);
                }
                Undo::Ref(k, Some(v)) => {
                    self.writes.refs.insert(k, v);
                }
                Undo::Ref(k, None) => {
                    self.writes.refs.remove(&k);
                }
                Undo::Ended(placement) => {
                    if let Some(p) = self.placements.get_mut(&placement) {
                        p.end_on = None;
                    }
                }
                Undo::ReviewTaken(placement, review) => {
                    self.open_reviews
                        .entry(placement)
                        .or_default()
                        .push_front(review);
                }
            }
        }
        let w = &mut self.writes;
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r] = s.lens;
        w.persons.truncate(a);
        w.person_updates.truncate(b);
        w.health.truncate(c);
        w.health_updates.truncate(d);
        w.referrals.truncate(e);
        w.referral_reasons.truncate(f);
        w.referral_subjects.truncate(g);
        w.referral_updates.truncate(h);
        w.consents.truncate(i);
        w.consent_updates.truncate(j);
        w.orders.truncate(k);
        w.mandates.truncate(l);
        w.order_updates.truncate(m);
        w.ordered_cases.truncate(n);
        w.placement_events.truncate(o);
        w.placement_ends.truncate(p);
        w.verifications.truncate(q);
        w.verifications_done.truncate(r);
    }

    fn decide(&mut self, record: &Record) -> Result<Change, String> {
        let hash = record.content_hash();
        let entity = record.entity();
        if let Some(known) = self.known.get(&record.key) {
            if known.entity != entity.as_str() {
                return Err(format!(
                    "{} is already imported as a {}, not a {}",
                    record.key,
                    known.entity,
                    entity.as_str()
                ));
            }
            let same = match (&record.version, &known.version) {
                (Some(v), Some(k)) => v == k && hash == known.hash,
                _ => hash == known.hash,
            };
            if same {
                return Ok(Change::Unchanged);
            }
            let local_id = known.local_id;
            let changed = self.update(record, local_id)?;
            self.remember(record, &hash, local_id);
            return Ok(if changed {
                Change::Updated
            } else {
                Change::Unchanged
            });
        }
        let (local_id, change) = self.create(record)?;
        self.remember(record, &hash, local_id);
        Ok(change)
    }

    fn remember(&mut self, record: &Record, hash: &str, local_id: Uuid) {
        let entity = record.entity().as_str().to_string();
        let old = self.known.insert(
            record.key.clone(),
            Known {
                version: record.version.clone(),
                hash: hash.to_string(),
                entity: entity.clone(),
                local_id,
            },
        );
        self.undo.push(Undo::Known(record.key.clone(), old));
        let created_at = self
            .writes
            .refs
            .get(&record.key)
            .map(|r| r.created_at.clone());
        let old = self.writes.refs.insert(
            record.key.clone(),
            external_ref::ActiveModel {
                system: Set(record.key.system.clone()),
                resource_type: Set(record.key.resource_type.clone()),
                external_id: Set(record.key.id.clone()),
                version: Set(record.version.clone()),
                content_hash: Set(hash.to_string()),
                entity: Set(entity),
                local_id: Set(local_id),
                instance: Set(self.source.instance.clone()),
                created_at: created_at.unwrap_or(Set(self.now)),
                updated_at: Set(self.now),
            },
        );
        self.undo.push(Undo::Ref(record.key.clone(), old));
    }

    fn subject(&self, key: &ExternalKey) -> Result<Uuid, String> {
        match self.known.get(key) {
            Some(k) if k.entity == EntityKind::Person.as_str() => Ok(k.local_id),
            Some(k) => Err(format!("subject {key} is a {}, not a person", k.entity)),
            None => Err(format!(
                "subject {key} is not known to Rete (its person has not been imported yet)"
            )),
        }
    }

    /// A person's id by another key of the same person, or by fiscal code.
    fn match_person(&self, p: &PersonIn) -> Option<Uuid> {
        p.identifiers
            .iter()
            .find_map(|k| {
                self.known
                    .get(k)
                    .filter(|k| k.entity == EntityKind::Person.as_str())
                    .map(|k| k.local_id)
            })
            .or_else(|| {
                p.fiscal_code
                    .as_ref()
                    .and_then(|fc| self.by_fiscal_code.get(fc).copied())
            })
    }

    fn claim_fiscal_code(&mut self, id: Uuid, fc: &Option<String>) -> Result<(), String> {
        if let Some(fc) = fc {
            if let Some(other) = self.by_fiscal_code.get(fc)
                && *other != id
            {
                return Err(format!(
                    "fiscal code {} belongs to another person in Rete; the records are not merged",
                    mask(fc)
                ));
            }
            let old = self.by_fiscal_code.insert(fc.clone(), id);
            self.undo.push(Undo::FiscalCode(fc.clone(), old));
        }
        let old = self.fiscal_code_of.insert(id, fc.clone());
        self.undo.push(Undo::FiscalCodeOf(id, old));
        Ok(())
    }

    fn create(&mut self, record: &Record) -> Result<(Uuid, Change), String> {
        let now = self.now;
        match &record.body {
            Inbound::Person(p) => {
                if let Some(id) = self.match_person(p) {
                    // A new key of a person we know: fill what they lack.
                    self.claim_fiscal_code(id, &p.fiscal_code)?;
                    self.writes.person_updates.push((id, p.clone(), true));
                    return Ok((id, Change::Updated));
                }
                let id = Uuid::now_v7();
                self.claim_fiscal_code(id, &p.fiscal_code)?;
                self.writes.persons.push(person::ActiveModel {
                    id: Set(id),
                    given_name: Set(p.given_name.clone()),
                    family_name: Set(p.family_name.clone()),
                    birth_on: Set(p.birth_on),
                    sex: Set(p.sex),
                    fiscal_code: Set(p.fiscal_code.clone()),
                    birth_place: Set(p.birth_place.clone()),
                    citizenship: Set(p.citizenship.clone()),
                    phone: Set(p.phone.clone()),
                    email: Set(p.email.clone()),
                    address: Set(p.address.clone()),
                    municipality: Set(p.municipality.clone()),
                    languages: Set(json!(p.languages)),
                    mediator_needed: Set(false),
                    migration_status: Set(MigrationStatus::Unknown),
                    permit_expires_on: Set(None),
                    ethnic_origin: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
                Ok((id, Change::Created))
            }
            Inbound::HealthEvent(h) => {
                let person_id = self.subject(&h.subject)?;
                let id = Uuid::now_v7();
                self.writes.health.push(health_event::ActiveModel {
                    id: Set(id),
                    person_id: Set(person_id),
                    case_id: Set(None),
                    source_agency_id: Set(self.source.agency_id.clone()),
                    kind: Set(h.kind),
                    occurred_on: Set(h.occurred_on),
                    summary: Set(h.summary.clone()),
                    created_at: Set(now),
                });
                Ok((id, Change::Created))
            }
            Inbound::Referral(r) => {
                let person_id = self.subject(&r.subject)?;
                let Some(refer_to) = self.source.refer_to.clone() else {
                    return Err(format!(
                        "instance {} has no `refer_to`: a referral has nobody to go to",
                        self.source.instance
                    ));
                };
                if r.reasons.is_empty() {
                    return Err("a referral needs at least one reason".to_string());
                }
                let id = Uuid::now_v7();
                self.writes.referrals.push(referral::ActiveModel {
                    id: Set(id),
                    reporter_agency_id: Set(self.source.agency_id.clone()),
                    reporter_kind: Set(self.source.agency_kind.clone()),
                    reporter_operator: Set(self.source.operator()),
                    addressed_to_id: Set(refer_to),
                    channel: Set(ReferralChannel::System),
                    urgency: Set(r.urgency),
                    description: Set(r.description.clone()),
                    received_at: Set(r.received_at),
                    triage_outcome: Set(None),
                    triage_reason: Set(None),
                    triaged_at: Set(None),
                    triaged_by: Set(None),
                    redirected_to_id: Set(None),
                    case_id: Set(None),
                    created_at: Set(now),
                });
                self.push_reasons(id, r);
                self.writes
                    .referral_subjects
                    .push(referral_subject::ActiveModel {
                        referral_id: Set(id),
                        person_id: Set(person_id),
                        role: Set(r.subject_role),
                    });
                Ok((id, Change::Created))
            }
            Inbound::Consent(c) => {
                let subject_id = self.subject(&c.subject)?;
                self.check_consent(c)?;
                let id = Uuid::now_v7();
                self.writes.consents.push(consent::ActiveModel {
                    id: Set(id),
                    subject_id: Set(subject_id),
                    given_by: Set(c.given_by),
                    given_by_person_id: Set(None),
                    data_classes: Set(json!(c.data_classes)),
                    recipient_agencies: Set(json!(c.recipient_agencies)),
                    recipient_kinds: Set(json!(c.recipient_kinds)),
                    purposes: Set(json!(c.purposes)),
                    valid_from: Set(c.valid_from),
                    valid_until: Set(c.valid_until),
                    withdrawn_at: Set(c.withdrawn_at),
                    evidence_ref: Set(c.evidence_ref.clone()),
                    recorded_by_agency_id: Set(self.source.agency_id.clone()),
                    recorded_by_operator: Set(self.source.operator()),
                    created_at: Set(now),
                    propagated_at: Set(None),
                });
                Ok((id, Change::Created))
            }
            Inbound::CourtOrder(o) => {
                let case_id = self.check_court_order(o)?;
                let id = Uuid::now_v7();
                self.claim_docket(id, &o.docket_number)?;
                self.writes.orders.push(court_order::ActiveModel {
                    id: Set(id),
                    case_id: Set(case_id),
                    court_id: Set(self.source.agency_id.clone()),
                    docket_number: Set(o.docket_number.clone()),
                    kind: Set(o.kind),
                    issued_on: Set(o.issued_on),
                    summary: Set(o.summary.clone()),
                    text: Set(o.text.clone()),
                    created_at: Set(now),
                });
                for m in &o.mandates {
                    self.writes.mandates.push(court_order_mandate::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        order_id: Set(id),
                        agency_id: Set(m.agency.clone()),
                        description: Set(m.description.clone()),
                        due_on: Set(m.due_on),
                        fulfilled_on: Set(None),
                        created_at: Set(now),
                    });
                }
                self.writes.ordered_cases.push(case_id);
                Ok((id, Change::Created))
            }
            Inbound::PlacementEvent(e) => {
                let id = self.placement_event(&record.key, e)?;
                Ok((id, Change::Created))
            }
        }
    }

    /// Checks a new placement event against its placement and queues its
    /// writes: the event, and the end of the placement or the review it
    /// records. Returns the event's id.
    fn placement_event(&mut self, key: &ExternalKey, e: &PlacementEventIn) -> Result<Uuid, String> {
        let agency = &self.source.agency_id;
        let Some(p) = self
            .placements
            .get(&e.placement_id)
            .filter(|p| &p.operator_agency_id == agency)
            .cloned()
        else {
            return Err(format!(
                "placement_id {} is not a placement in a facility that {agency} runs",
                e.placement_id
            ));
        };
        if e.occurred_at > self.now + EVENT_CLOCK_SLACK {
            return Err(format!(
                "occurred_at {} is in the future",
                e.occurred_at.to_rfc3339()
            ));
        }
        match e.kind {
            PlacementEventKind::Departure if p.end_on.is_none() => {
                if e.occurred_on < p.start_on {
                    return Err(format!(
                        "occurred_at: a departure on {} is before the placement started ({})",
                        e.occurred_on, p.start_on
                    ));
                }
                self.writes.placement_ends.push(PlacementEnd {
                    placement_id: e.placement_id,
                    facility_id: p.facility_id,
                    end_on: e.occurred_on,
                    reason: e.end_reason.clone().unwrap_or_default(),
                });
                if let Some(p) = self.placements.get_mut(&e.placement_id) {
                    p.end_on = Some(e.occurred_on);
                }
                self.undo.push(Undo::Ended(e.placement_id));
            }
            PlacementEventKind::Verification => {
                if e.occurred_on < p.start_on {
                    return Err(format!(
                        "occurred_at: a verification on {} is before the placement started ({})",
                        e.occurred_on, p.start_on
                    ));
                }
                let Some(outcome) = e.outcome else {
                    return Err("outcome is missing (a verification.done needs it)".to_string());
                };
                let open = self
                    .open_reviews
                    .get_mut(&e.placement_id)
                    .and_then(VecDeque::pop_front);
                match open {
                    Some(review) => {
                        self.undo.push(Undo::ReviewTaken(e.placement_id, review));
                        self.writes.verifications_done.push(VerificationDone {
                            id: review,
                            done_on: e.occurred_on,
                            outcome,
                            notes: e.note.clone(),
                            recorded_by: self.source.operator(),
                        });
                    }
                    None => self.writes.verifications.push(verification::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        placement_id: Set(e.placement_id),
                        due_on: Set(e.occurred_on),
                        done_on: Set(Some(e.occurred_on)),
                        outcome: Set(Some(outcome)),
                        notes: Set(e.note.clone()),
                        recorded_by: Set(Some(self.source.operator())),
                        created_at: Set(self.now),
                    }),
                }
            }
            // A departure from a placement that has ended already (the
            // social service ended it first): the event is kept, the end stays.
            _ => {}
        }
        let id = Uuid::now_v7();
        self.writes
            .placement_events
            .push(placement_event::ActiveModel {
                id: Set(id),
                placement_id: Set(e.placement_id),
                kind: Set(e.kind.as_str().to_string()),
                occurred_at: Set(e.occurred_at),
                note: Set(e.note.clone()),
                reported_by_agency_id: Set(agency.clone()),
                instance: Set(self.source.instance.clone()),
                source_event_id: Set(key.id.clone()),
                created_at: Set(self.now),
            });
        Ok(id)
    }

    fn push_reasons(&mut self, id: Uuid, r: &ReferralIn) {
        let mut seen = HashSet::new();
        for reason in &r.reasons {
            if seen.insert(*reason) {
                self.writes
                    .referral_reasons
                    .push(referral_reason::ActiveModel {
                        referral_id: Set(id),
                        reason: Set(*reason),
                    });
            }
        }
    }

    /// A changed record whose key we know. Returns whether anything is written.
    fn update(&mut self, record: &Record, id: Uuid) -> Result<bool, String> {
        match &record.body {
            Inbound::Person(p) => {
                self.claim_fiscal_code(id, &p.fiscal_code)?;
                self.writes.person_updates.push((id, p.clone(), false));
            }
            Inbound::HealthEvent(h) => {
                let person_id = self.subject(&h.subject)?;
                self.writes.health_updates.push((id, h.clone(), person_id));
            }
            Inbound::Referral(r) => {
                self.subject(&r.subject)?;
                if self.triaged.contains(&id) {
                    // Triage is the social service's: the upstream no longer changes it.
                    return Ok(false);
                }
                self.writes.referral_updates.push((id, r.clone()));
            }
            Inbound::Consent(c) => {
                let subject_id = self.subject(&c.subject)?;
                self.check_consent(c)?;
                self.writes
                    .consent_updates
                    .push((id, c.clone(), subject_id));
            }
            Inbound::CourtOrder(o) => {
                let case_id = self.check_court_order(o)?;
                self.claim_docket(id, &o.docket_number)?;
                self.writes.order_updates.push((id, o.clone(), case_id));
                self.writes.ordered_cases.push(case_id);
            }
            Inbound::PlacementEvent(_) => {
                return Err(format!(
                    "event {} is already recorded with other content; an event is never \
                     changed (send a correction as a new event)",
                    record.key.id
                ));
            }
        }
        Ok(true)
    }

    /// Checks what mapping could not (it has no database): the instance is a
    /// court's, the case exists, the mandated agencies are of the network,
    /// the order is not dated in the future. Gives the case's id.
    fn check_court_order(&self, o: &CourtOrderIn) -> Result<Uuid, String> {
        if self.source.agency_kind != JUVENILE_COURT {
            return Err(format!(
                "instance {} speaks for {}, a {}: only a juvenile court issues orders",
                self.source.instance, self.source.agency_id, self.source.agency_kind
            ));
        }
        let case_id = *self
            .cases
            .get(&o.case_reference)
            .ok_or_else(|| format!("no case with reference {}", o.case_reference))?;
        // Italy is ahead of UTC: an order of today there may be dated tomorrow here.
        if o.issued_on > self.now.date_naive() + chrono::Days::new(1) {
            return Err(format!("order.issued_on: {} is in the future", o.issued_on));
        }
        for (i, m) in o.mandates.iter().enumerate() {
            if !self.source.agencies.contains(&m.agency) {
                return Err(format!(
                    "order.mandates[{i}].agency: `{}` is not an agency of the network",
                    m.agency
                ));
            }
        }
        Ok(case_id)
    }

    /// A docket number is one order's, per court. One freed by an update in
    /// this page stays taken until the page is written (the inserts go out
    /// before the updates), so another order may take it on a later page.
    fn claim_docket(&mut self, id: Uuid, docket: &str) -> Result<(), String> {
        match self.dockets.get(docket) {
            Some(other) if *other != id => Err(
                "order.docket_number: another order of this court in Rete has this docket number"
                    .to_string(),
            ),
            Some(_) => Ok(()),
            None => {
                let old = self.dockets.insert(docket.to_string(), id);
                self.undo.push(Undo::Docket(docket.to_string(), old));
                Ok(())
            }
        }
    }

    fn check_consent(&self, c: &ConsentIn) -> Result<(), String> {
        for v in &c.data_classes {
            policy::DataClass::from_str(v).map_err(|e| format!("consent: {e}"))?;
        }
        for v in &c.purposes {
            policy::Purpose::from_str(v).map_err(|e| format!("consent: {e}"))?;
        }
        for v in &c.recipient_kinds {
            policy::AgencyKind::from_str(v).map_err(|e| format!("consent: {e}"))?;
        }
        for v in &c.recipient_agencies {
            if !self.source.agencies.contains(v) {
                return Err(format!(
                    "consent: recipient agency `{v}` is not an agency of the network"
                ));
            }
        }
        if c.data_classes.is_empty() {
            return Err("consent: names no data class".to_string());
        }
        if c.valid_until.is_some_and(|u| u < c.valid_from) {
            return Err("consent: valid_until is before valid_from".to_string());
        }
        Ok(())
    }
}

/// The first and last two characters of a fiscal code: enough to find it, not
/// enough to be it (reasons end up in dead letters and reports).
fn mask(fc: &str) -> String {
    let chars: Vec<char> = fc.chars().collect();
    if chars.len() < 6 {
        return "***".to_string();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}")
}

/// SQLite allows 32766 bound values per statement and PostgreSQL 65535; the
/// widest row (person) has 19 columns.
const ROWS_PER_INSERT: usize = 500;
const KEYS_PER_QUERY: usize = 900;

/// Bytes of parameters per statement. A message to PostgreSQL larger than
/// one TLS record (16 KiB) stalls about 40 ms: sqlx 0.9.0 leaves Nagle's
/// algorithm on (transact-rs/sqlx#4335, fixed after 0.9.0) and rustls writes
/// each record with a write of its own, so the second record waits for the
/// server's delayed ACK. A 50,000-resource import sent a few hundred such
/// messages and spent 8 of its 12 s waiting (bench/README.md). Statements are
/// cut to stay under one record. The workspace's sqlx-core now sets
/// `TCP_NODELAY` again (vendor/sqlx-core/README-RETE.md), so larger statements
/// would no longer stall and the access log's appender dropped its cut; this
/// budget stays until `bench/sync.sh` shows a larger one is faster.
const STATEMENT_BYTES: usize = 12 * 1024;

/// What a bound key costs in a message beside its bytes: its length word and
/// its placeholder in the statement text.
pub(crate) const BIND_OVERHEAD: usize = 10;

/// `items` cut into runs of at most `KEYS_PER_QUERY` items whose sizes add up
/// to at most `STATEMENT_BYTES` (a run holds at least one item).
pub(crate) fn runs<T>(items: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, item) in items.iter().enumerate() {
        let n = size(item);
        if i > start && (bytes + n > STATEMENT_BYTES || i - start == KEYS_PER_QUERY) {
            out.push(&items[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += n;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

pub(crate) fn str_size(s: &&str) -> usize {
    s.len() + BIND_OVERHEAD
}

fn uuid_size(_: &Uuid) -> usize {
    16 + BIND_OVERHEAD
}

/// `load_known` on PostgreSQL: one probe of `external_ref`'s key per id.
/// An `IN` list is planned from the table's statistics, and during a first
/// big import the table has none yet (autovacuum has not analysed it): the
/// planner then takes the ids as a filter over every row of the system and
/// resource type, 100 ms and more per page at 50,000 rows. A `LATERAL` probe
/// with `LIMIT 1` cannot be turned into that plan; the ids travel as one
/// `jsonb` array, so the statement text is the same for every page.
const POSTGRES_KNOWN: &str = "SELECT r.* FROM jsonb_array_elements_text($3) AS k(id) \
    CROSS JOIN LATERAL (SELECT * FROM \"external_ref\" \
    WHERE \"system\" = $1 AND \"resource_type\" = $2 AND \"external_id\" = k.id LIMIT 1) AS r";

async fn load_known<C: ConnectionTrait>(
    db: &C,
    items: &[Vec<Record>],
) -> Result<HashMap<ExternalKey, Known>, DbErr> {
    // Grouped by system *and* resource type: the key's index is (system,
    // resource_type, external_id), so a lookup that names only the system
    // reads every row the system has (PostgreSQL has no skip scan) and a page
    // costs O(rows imported so far).
    let mut by_type: BTreeMap<(&str, &str), HashSet<&str>> = BTreeMap::new();
    for r in items.iter().flatten() {
        let mut keys: Vec<&ExternalKey> = vec![&r.key];
        if let Some(s) = r.subject() {
            keys.push(s);
        }
        if let Inbound::Person(p) = &r.body {
            keys.extend(p.identifiers.iter());
        }
        for k in keys {
            by_type
                .entry((&k.system, &k.resource_type))
                .or_default()
                .insert(&k.id);
        }
    }
    let mut known = HashMap::new();
    for ((system, resource_type), ids) in by_type {
        let ids: Vec<&str> = ids.into_iter().collect();
        for chunk in runs(&ids, str_size) {
            let rows = if db.get_database_backend() == DbBackend::Postgres {
                let ids = serde_json::Value::from(chunk.to_vec());
                external_ref::Entity::find()
                    .from_raw_sql(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        POSTGRES_KNOWN,
                        [
                            system.into(),
                            resource_type.into(),
                            Value::Json(Some(Box::new(ids))),
                        ],
                    ))
                    .all(db)
                    .await?
            } else {
                external_ref::Entity::find()
                    .filter(external_ref::Column::System.eq(system))
                    .filter(external_ref::Column::ResourceType.eq(resource_type))
                    .filter(external_ref::Column::ExternalId.is_in(chunk.iter().copied()))
                    .all(db)
                    .await?
            };
            for row in rows {
                known.insert(
                    ExternalKey::new(row.system, row.resource_type, row.external_id),
                    Known {
                        version: row.version,
                        hash: row.content_hash,
                        entity: row.entity,
                        local_id: row.local_id,
                    },
                );
            }
        }
    }
    Ok(known)
}

fn court_orders(items: &[Vec<Record>]) -> impl Iterator<Item = &CourtOrderIn> {
    items.iter().flatten().filter_map(|r| match &r.body {
        Inbound::CourtOrder(o) => Some(o),
        _ => None,
    })
}

async fn load_cases<C: ConnectionTrait>(
    db: &C,
    items: &[Vec<Record>],
) -> Result<HashMap<String, Uuid>, DbErr> {
    let refs: Vec<&str> = court_orders(items)
        .map(|o| o.case_reference.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut map = HashMap::new();
    for chunk in runs(&refs, str_size) {
        let rows: Vec<(Uuid, String)> = case_file::Entity::find()
            .select_only()
            .column(case_file::Column::Id)
            .column(case_file::Column::Reference)
            .filter(case_file::Column::Reference.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        map.extend(rows.into_iter().map(|(id, r)| (r, id)));
    }
    Ok(map)
}

async fn load_dockets<C: ConnectionTrait>(
    db: &C,
    source: &Source,
    items: &[Vec<Record>],
) -> Result<HashMap<String, Uuid>, DbErr> {
    let dockets: Vec<&str> = court_orders(items)
        .map(|o| o.docket_number.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut map = HashMap::new();
    for chunk in runs(&dockets, str_size) {
        let rows: Vec<(Uuid, String)> = court_order::Entity::find()
            .select_only()
            .column(court_order::Column::Id)
            .column(court_order::Column::DocketNumber)
            .filter(court_order::Column::CourtId.eq(source.agency_id.as_str()))
            .filter(court_order::Column::DocketNumber.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        map.extend(rows.into_iter().map(|(id, d)| (d, id)));
    }
    Ok(map)
}

async fn load_fiscal_codes<C: ConnectionTrait>(
    db: &C,
    items: &[Vec<Record>],
) -> Result<HashMap<String, Uuid>, DbErr> {
    let codes: Vec<&str> = items
        .iter()
        .flatten()
        .filter_map(|r| match &r.body {
            Inbound::Person(p) => p.fiscal_code.as_deref(),
            _ => None,
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut map = HashMap::new();
    for chunk in runs(&codes, str_size) {
        let rows: Vec<(Uuid, Option<String>)> = person::Entity::find()
            .select_only()
            .column(person::Column::Id)
            .column(person::Column::FiscalCode)
            .filter(person::Column::FiscalCode.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (id, fc) in rows {
            if let Some(fc) = fc {
                map.insert(fc, id);
            }
        }
    }
    Ok(map)
}

/// The placements the page's events name, with their facility's operator,
/// and the open reviews of those that verification events name.
async fn load_placements<C: ConnectionTrait>(
    db: &C,
    items: &[Vec<Record>],
) -> Result<(HashMap<Uuid, PlacementFacts>, HashMap<Uuid, VecDeque<Uuid>>), DbErr> {
    let mut ids = HashSet::new();
    let mut reviewed = HashSet::new();
    for r in items.iter().flatten() {
        if let Inbound::PlacementEvent(e) = &r.body {
            ids.insert(e.placement_id);
            if e.kind == PlacementEventKind::Verification {
                reviewed.insert(e.placement_id);
            }
        }
    }
    let mut placements = HashMap::new();
    let ids: Vec<Uuid> = ids.into_iter().collect();
    for chunk in runs(&ids, uuid_size) {
        let rows: Vec<(Uuid, Uuid, NaiveDate, Option<NaiveDate>, String)> =
            placement::Entity::find()
                .select_only()
                .column(placement::Column::Id)
                .column(placement::Column::FacilityId)
                .column(placement::Column::StartOn)
                .column(placement::Column::EndOn)
                .column(facility::Column::OperatorAgencyId)
                .inner_join(facility::Entity)
                .filter(placement::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(db)
                .await?;
        for (id, facility_id, start_on, end_on, operator_agency_id) in rows {
            placements.insert(
                id,
                PlacementFacts {
                    facility_id,
                    operator_agency_id,
                    start_on,
                    end_on,
                },
            );
        }
    }
    let mut open: HashMap<Uuid, VecDeque<Uuid>> = HashMap::new();
    let reviewed: Vec<Uuid> = reviewed.into_iter().collect();
    for chunk in runs(&reviewed, uuid_size) {
        let rows: Vec<(Uuid, Uuid)> = verification::Entity::find()
            .select_only()
            .column(verification::Column::PlacementId)
            .column(verification::Column::Id)
            .filter(verification::Column::PlacementId.is_in(chunk.iter().copied()))
            .filter(verification::Column::DoneOn.is_null())
            .order_by_asc(verification::Column::DueOn)
            .order_by_asc(verification::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        for (placement_id, id) in rows {
            open.entry(placement_id).or_default().push_back(id);
        }
    }
    Ok((placements, open))
}

async fn load_triaged<C: ConnectionTrait>(
    db: &C,
    known: &HashMap<ExternalKey, Known>,
) -> Result<HashSet<Uuid>, DbErr> {
    let ids: Vec<Uuid> = known
        .values()
        .filter(|k| k.entity == EntityKind::Referral.as_str())
        .map(|k| k.local_id)
        .collect();
    let mut triaged = HashSet::new();
    for chunk in runs(&ids, uuid_size) {
        let rows: Vec<Uuid> = referral::Entity::find()
            .select_only()
            .column(referral::Column::Id)
            .filter(referral::Column::Id.is_in(chunk.iter().copied()))
            .filter(referral::Column::TriageOutcome.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        triaged.extend(rows);
    }
    Ok(triaged)
}

impl Writes {
    /// Sends the page's writes; `court_id` is the instance's agency (the
    /// court of the orders it imports).
    async fn flush<C: ConnectionTrait>(
        self,
        db: &C,
        court_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        insert_all::<person::Entity, _>(db, self.persons).await?;
        for (id, p, fill_only) in self.person_updates {
            update_person(db, id, &p, fill_only, now).await?;
        }
        insert_all::<health_event::Entity, _>(db, self.health).await?;
        for (id, h, person_id) in self.health_updates {
            health_event::Entity::update(health_event::ActiveModel {
                id: Set(id),
                person_id: Set(person_id),
                kind: Set(h.kind),
                occurred_on: Set(h.occurred_on),
                summary: Set(h.summary),
                ..Default::default()
            })
            .exec(db)
            .await?;
        }
        insert_all::<referral::Entity, _>(db, self.referrals).await?;
        insert_all::<referral_subject::Entity, _>(db, self.referral_subjects).await?;
        for (id, r) in &self.referral_updates {
            referral::Entity::update(referral::ActiveModel {
                id: Set(*id),
                urgency: Set(r.urgency),
                description: Set(r.description.clone()),
                ..Default::default()
            })
            .exec(db)
            .await?;
            referral_reason::Entity::delete_many()
                .filter(referral_reason::Column::ReferralId.eq(*id))
                .exec(db)
                .await?;
        }
        let mut reasons = self.referral_reasons;
        for (id, r) in &self.referral_updates {
            let mut seen = HashSet::new();
            for reason in &r.reasons {
                if seen.insert(*reason) {
                    reasons.push(referral_reason::ActiveModel {
                        referral_id: Set(*id),
                        reason: Set(*reason),
                    });
                }
            }
        }
        insert_all::<referral_reason::Entity, _>(db, reasons).await?;
        insert_all::<consent::Entity, _>(db, self.consents).await?;
        for (id, c, subject_id) in self.consent_updates {
            consent::Entity::update(consent::ActiveModel {
                id: Set(id),
                subject_id: Set(subject_id),
                given_by: Set(c.given_by),
                data_classes: Set(json!(c.data_classes)),
                recipient_agencies: Set(json!(c.recipient_agencies)),
                recipient_kinds: Set(json!(c.recipient_kinds)),
                purposes: Set(json!(c.purposes)),
                valid_from: Set(c.valid_from),
                valid_until: Set(c.valid_until),
                withdrawn_at: Set(c.withdrawn_at),
                evidence_ref: Set(c.evidence_ref),
                ..Default::default()
            })
            .exec(db)
            .await?;
        }
        insert_all::<court_order::Entity, _>(db, self.orders).await?;
        insert_all::<court_order_mandate::Entity, _>(db, self.mandates).await?;
        for (id, o, case_id) in &self.order_updates {
            update_order(db, *id, o, *case_id, now).await?;
        }
        if !self.ordered_cases.is_empty() {
            let cases: Vec<Uuid> = self
                .ordered_cases
                .into_iter()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            for chunk in runs(&cases, uuid_size) {
                case_file::Entity::update_many()
                    .col_expr(
                        case_file::Column::CourtOfRecordId,
                        Expr::value(court_id.to_string()),
                    )
                    .col_expr(case_file::Column::UpdatedAt, Expr::value(now))
                    .filter(case_file::Column::Id.is_in(chunk.iter().copied()))
                    .filter(case_file::Column::CourtOfRecordId.is_null())
                    .exec(db)
                    .await?;
            }
        }
        insert_all::<placement_event::Entity, _>(db, self.placement_events).await?;
        for end in self.placement_ends {
            // As `endPlacement` does: the facility's row first, which
            // serialises changes of its occupancy.
            facility::Entity::update_many()
                .col_expr(facility::Column::UpdatedAt, Expr::value(now))
                .filter(facility::Column::Id.eq(end.facility_id))
                .exec(db)
                .await?;
            placement::Entity::update_many()
                .col_expr(placement::Column::EndOn, Expr::value(end.end_on))
                .col_expr(placement::Column::EndReason, Expr::value(end.reason))
                .col_expr(placement::Column::UpdatedAt, Expr::value(now))
                .filter(placement::Column::Id.eq(end.placement_id))
                .filter(placement::Column::EndOn.is_null())
                .exec(db)
                .await?;
        }
        insert_all::<verification::Entity, _>(db, self.verifications).await?;
        for done in self.verifications_done {
            verification::Entity::update(verification::ActiveModel {
                id: Set(done.id),
                done_on: Set(Some(done.done_on)),
                outcome: Set(Some(done.outcome)),
                notes: Set(done.notes),
                recorded_by: Set(Some(done.recorded_by)),
                ..Default::default()
            })
            .exec(db)
            .await?;
        }
        let refs: Vec<external_ref::ActiveModel> = self.refs.into_values().collect();
        if let Some(rows) = postgres_rows::<external_ref::Entity, _>(db, &refs) {
            return insert_json(db, rows, Some(UPSERT_EXTERNAL_REF)).await;
        }
        for chunk in refs.chunks(ROWS_PER_INSERT) {
            external_ref::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        external_ref::Column::System,
                        external_ref::Column::ResourceType,
                        external_ref::Column::ExternalId,
                    ])
                    .update_columns([
                        external_ref::Column::Version,
                        external_ref::Column::ContentHash,
                        external_ref::Column::LocalId,
                        external_ref::Column::Instance,
                        external_ref::Column::UpdatedAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }
}

async fn insert_all<E, C>(db: &C, rows: Vec<E::ActiveModel>) -> Result<(), DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
    E::ActiveModel: Clone,
{
    if let Some(rows) = postgres_rows::<E, _>(db, &rows) {
        return insert_json(db, rows, None).await;
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        E::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// What `external_ref`'s upsert does on a known key: the same columns as the
/// SQLite path's `OnConflict` (never `created_at`, `entity` or the key).
const UPSERT_EXTERNAL_REF: &str = " ON CONFLICT (\"system\", \"resource_type\", \"external_id\") \
    DO UPDATE SET \"version\" = EXCLUDED.\"version\", \"content_hash\" = EXCLUDED.\"content_hash\", \
    \"local_id\" = EXCLUDED.\"local_id\", \"instance\" = EXCLUDED.\"instance\", \
    \"updated_at\" = EXCLUDED.\"updated_at\"";

/// A table's rows for PostgreSQL's `jsonb_populate_recordset`: the columns
/// the rows set and one JSON object per row.
struct JsonRows {
    table: &'static str,
    columns: Vec<&'static str>,
    /// One JSON object per row, serialised.
    rows: Vec<String>,
}

/// On PostgreSQL, the rows as JSON, when every row sets the same columns and
/// every value has a JSON form that PostgreSQL reads back as the same value;
/// `None` otherwise (SQLite, or a row the generic insert must take).
///
/// Why: a multi-row `VALUES` insert binds rows × columns parameters (9,500
/// for 500 persons); every batch size is a new statement for PostgreSQL to
/// parse and plan, and binding that many values costs milliseconds. One
/// `jsonb` parameter gives each table one statement text, which sqlx
/// prepares once per connection.
fn postgres_rows<E, C>(db: &C, rows: &[E::ActiveModel]) -> Option<JsonRows>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    if db.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    let first = rows.first()?;
    let columns: Vec<E::Column> = E::Column::iter()
        .filter(|c| !first.is_not_set(*c))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut object = serde_json::Map::with_capacity(columns.len());
        for c in E::Column::iter() {
            let value = row.get(c).into_value();
            let wanted = columns.iter().any(|w| w.as_str() == c.as_str());
            match (value, wanted) {
                (None, false) => {}
                (Some(v), true) => {
                    object.insert(c.as_str().to_string(), json_of(v)?);
                }
                // Rows that set different columns: `VALUES` gives the
                // missing ones their defaults, a record set would give NULL.
                _ => return None,
            }
        }
        out.push(serde_json::Value::Object(object).to_string());
    }
    Some(JsonRows {
        table: E::default().table_name(),
        columns: columns.iter().map(|c| c.as_str()).collect(),
        rows: out,
    })
}

/// A value as `jsonb_populate_recordset` reads it back: text in the column
/// type's input format. Timestamps keep microseconds, truncated as sqlx's
/// binary encoding truncates them; a JSON `null` in a JSON column would come
/// back as SQL NULL, and years outside 1–9999 as something else, so those
/// (and any type not listed) take the generic insert.
fn json_of(value: Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    let in_range = |year: i32| (1..=9999).contains(&year);
    Some(match value {
        Value::Bool(b) => b.map_or(J::Null, J::Bool),
        Value::SmallInt(i) => i.map_or(J::Null, J::from),
        Value::Int(i) => i.map_or(J::Null, J::from),
        Value::BigInt(i) => i.map_or(J::Null, J::from),
        Value::String(s) => s.map_or(J::Null, J::String),
        Value::Uuid(u) => u.map_or(J::Null, |u| J::String(u.to_string())),
        Value::ChronoDate(None) | Value::ChronoDateTimeUtc(None) | Value::Json(None) => J::Null,
        Value::ChronoDate(Some(d)) if in_range(d.year()) => {
            J::String(d.format("%Y-%m-%d").to_string())
        }
        Value::ChronoDateTimeUtc(Some(t)) if in_range(t.year()) => {
            J::String(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        }
        Value::Json(Some(j)) if !j.is_null() => *j,
        _ => return None,
    })
}

/// `INSERT INTO t (cols) SELECT cols FROM jsonb_populate_recordset(NULL::t, $1)`
/// (the table's own row type gives each column its type), in statements of
/// at most `STATEMENT_BYTES`. The array goes as text cast to `jsonb`, so each
/// row is serialised once.
async fn insert_json<C: ConnectionTrait>(
    db: &C,
    rows: JsonRows,
    on_conflict: Option<&str>,
) -> Result<(), DbErr> {
    let columns = rows
        .columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let table = rows.table;
    let sql = format!(
        "INSERT INTO \"{table}\" ({columns}) SELECT {columns} \
         FROM jsonb_populate_recordset(NULL::\"{table}\", $1::jsonb){}",
        on_conflict.unwrap_or("")
    );
    for run in runs(&rows.rows, |r| r.len() + 1) {
        let mut array = String::with_capacity(run.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
        array.push('[');
        for (i, row) in run.iter().enumerate() {
            if i > 0 {
                array.push(',');
            }
            array.push_str(row);
        }
        array.push(']');
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql.as_str(),
            [Value::String(Some(array))],
        ))
        .await?;
    }
    Ok(())
}

async fn update_person<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    p: &PersonIn,
    fill_only: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let Some(current) = person::Entity::find_by_id(id).one(db).await? else {
        return Err(DbErr::RecordNotFound(format!("person {id}")));
    };
    // With `fill_only`, a value only goes where the person has none.
    fn pick<T: Clone>(current: &Option<T>, new: &Option<T>, fill_only: bool) -> Option<T> {
        match (current, new, fill_only) {
            (Some(c), _, true) => Some(c.clone()),
            (_, Some(n), _) => Some(n.clone()),
            (c, None, _) => c.clone(),
        }
    }
    let text = |current: &String, new: &String| {
        if new.trim().is_empty() || (fill_only && !current.trim().is_empty()) {
            current.clone()
        } else {
            new.clone()
        }
    };
    let languages = if fill_only && current.languages.as_array().is_some_and(|a| !a.is_empty())
        || p.languages.is_empty()
    {
        current.languages.clone()
    } else {
        json!(p.languages)
    };
    let keep_sex = (fill_only && current.sex != entities::enums::Sex::Unknown)
        || p.sex == entities::enums::Sex::Unknown;
    let sex = if keep_sex { current.sex } else { p.sex };
    person::Entity::update(person::ActiveModel {
        id: Set(id),
        given_name: Set(text(&current.given_name, &p.given_name)),
        family_name: Set(text(&current.family_name, &p.family_name)),
        birth_on: Set(pick(&current.birth_on, &p.birth_on, fill_only)),
        sex: Set(sex),
        fiscal_code: Set(pick(&current.fiscal_code, &p.fiscal_code, fill_only)),
        birth_place: Set(pick(&current.birth_place, &p.birth_place, fill_only)),
        citizenship: Set(pick(&current.citizenship, &p.citizenship, fill_only)),
        phone: Set(pick(&current.phone, &p.phone, fill_only)),
        email: Set(pick(&current.email, &p.email, fill_only)),
        address: Set(pick(&current.address, &p.address, fill_only)),
        municipality: Set(pick(&current.municipality, &p.municipality, fill_only)),
        languages: Set(languages),
        updated_at: Set(now),
        mediator_needed: NotSet,
        migration_status: NotSet,
        permit_expires_on: NotSet,
        ethnic_origin: NotSet,
        created_at: NotSet,
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Writes a changed order and brings its mandates in line with the court's:
/// a mandate that remains (same agency and description) keeps its row, its
/// id and its `fulfilled_on` (its due date follows the court); a new one is
/// added; one the court dropped is deleted, unless a report answers it (the
/// report keeps what it answered).
async fn update_order<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    o: &CourtOrderIn,
    case_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    court_order::Entity::update(court_order::ActiveModel {
        id: Set(id),
        case_id: Set(case_id),
        docket_number: Set(o.docket_number.clone()),
        kind: Set(o.kind),
        issued_on: Set(o.issued_on),
        summary: Set(o.summary.clone()),
        text: Set(o.text.clone()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    let mut current: Vec<Option<court_order_mandate::Model>> = court_order_mandate::Entity::find()
        .filter(court_order_mandate::Column::OrderId.eq(id))
        .order_by_asc(court_order_mandate::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Some)
        .collect();
    let mut added = Vec::new();
    for m in &o.mandates {
        let same = current.iter_mut().find(|c| {
            c.as_ref()
                .is_some_and(|c| c.agency_id == m.agency && c.description == m.description)
        });
        match same.and_then(Option::take) {
            Some(kept) => {
                if kept.due_on != m.due_on {
                    court_order_mandate::Entity::update(court_order_mandate::ActiveModel {
                        id: Set(kept.id),
                        due_on: Set(m.due_on),
                        ..Default::default()
                    })
                    .exec(db)
                    .await?;
                }
            }
            None => added.push(court_order_mandate::ActiveModel {
                id: Set(Uuid::now_v7()),
                order_id: Set(id),
                agency_id: Set(m.agency.clone()),
                description: Set(m.description.clone()),
                due_on: Set(m.due_on),
                fulfilled_on: Set(None),
                created_at: Set(now),
            }),
        }
    }
    let dropped: Vec<Uuid> = current.into_iter().flatten().map(|m| m.id).collect();
    if !dropped.is_empty() {
        let answered: HashSet<Uuid> = court_report::Entity::find()
            .select_only()
            .column(court_report::Column::MandateId)
            .filter(court_report::Column::MandateId.is_in(dropped.iter().copied()))
            .into_tuple::<Option<Uuid>>()
            .all(db)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let gone: Vec<Uuid> = dropped
            .into_iter()
            .filter(|m| !answered.contains(m))
            .collect();
        if !gone.is_empty() {
            court_order_mandate::Entity::delete_many()
                .filter(court_order_mandate::Column::Id.is_in(gone))
                .exec(db)
                .await?;
        }
    }
    insert_all::<court_order_mandate::Entity, _>(db, added).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    proptest! {
        /// Every item goes out once, in order; a run stays under the byte
        /// budget (one TLS record) unless a single item is larger by itself,
        /// and never binds more than `KEYS_PER_QUERY` keys.
        #[test]
        fn runs_keep_every_item_in_order_within_the_statement_budget(
            sizes in proptest::collection::vec(0usize..20_000, 0..3_000)
        ) {
            let cut = runs(&sizes, |n| *n);
            let joined: Vec<usize> = cut.iter().flat_map(|r| r.iter().copied()).collect();
            prop_assert_eq!(&joined, &sizes);
            for run in &cut {
                prop_assert!(!run.is_empty());
                prop_assert!(run.len() <= KEYS_PER_QUERY);
                prop_assert!(run.len() == 1 || run.iter().sum::<usize>() <= STATEMENT_BYTES);
            }
        }
    }

    #[test]
    fn timestamps_go_to_postgresql_with_microseconds_truncated_as_sqlx_sends_them() {
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 17, 40, 17).unwrap()
            + chrono::TimeDelta::nanoseconds(746_763_999);
        assert_eq!(
            json_of(Value::ChronoDateTimeUtc(Some(t))),
            Some(json!("2026-11-28T17:40:17.746763Z"))
        );
    }

    #[test]
    fn dates_uuids_text_and_nulls_keep_their_postgresql_input_form() {
        let d = NaiveDate::from_ymd_opt(998, 3, 1).unwrap();
        assert_eq!(
            json_of(Value::ChronoDate(Some(d))),
            Some(json!("0998-03-01"))
        );
        let id = Uuid::nil();
        assert_eq!(
            json_of(Value::Uuid(Some(id))),
            Some(json!("00000000-0000-0000-0000-000000000000"))
        );
        assert_eq!(json_of(Value::String(None)), Some(serde_json::Value::Null));
        assert_eq!(
            json_of(Value::ChronoDate(None)),
            Some(serde_json::Value::Null)
        );
        assert_eq!(
            json_of(Value::Json(Some(Box::new(json!(["it", "ar"]))))),
            Some(json!(["it", "ar"]))
        );
    }

    #[test]
    fn values_without_an_exact_json_form_take_the_generic_insert() {
        // A JSON null in a JSON column would be read back as SQL NULL.
        assert_eq!(
            json_of(Value::Json(Some(Box::new(serde_json::Value::Null)))),
            None
        );
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert_eq!(json_of(Value::ChronoDate(Some(far))), None);
        assert_eq!(json_of(Value::Double(Some(0.5))), None);
    }
}
