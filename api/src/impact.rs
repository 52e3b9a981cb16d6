//! What a new agreement would change in practice: per agency and data class,
//! how many cases and subjects it would gain or lose access to
//! (`rete policy diff OLD NEW --against-db`).
//!
//! Computed with the hub's own decision path, never with a shortcut: for every
//! agency and every case (and every person who is a subject of a case), the
//! facts are gathered by [`RequestContext::facts`] exactly as for a request, once
//! under each agreement (an agreement that rests on consents makes the hub read
//! them, one that does not leaves them out), and `policy::decide` runs for every
//! (role, purpose) that either agreement gives that agency's kind. A record
//! counts as accessible for a class when any of those requests would disclose
//! it.
//!
//! Break-glass grants are held by one operator for a few hours; they are not
//! standing access, so the requests are made by an operator that holds none.
//!
//! Read only: it must never write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use policy::{AgencyKind, DataClass, Facts, Policy, Purpose, Requester, Role};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Caller;
use crate::graphql::guard::{Record, RequestContext};
use crate::graphql::loaders::Batches;

/// The operator the what-if requests are made as (holds no break-glass grant).
pub const OPERATOR: &str = "rete-policy-diff";

/// Records whose facts are gathered in one batch run.
const CHUNK: usize = 200;

/// One agency and data class: what it can reach under each agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassImpact {
    pub agency: String,
    pub agency_kind: String,
    pub class: DataClass,
    pub cases_before: usize,
    pub cases_after: usize,
    pub cases_gained: usize,
    pub cases_lost: usize,
    pub subjects_before: usize,
    pub subjects_after: usize,
    pub subjects_gained: usize,
    pub subjects_lost: usize,
}

impl ClassImpact {
    pub fn changed(&self) -> bool {
        self.cases_gained + self.cases_lost + self.subjects_gained + self.subjects_lost > 0
    }
}

/// The whole what-if: every agency and class where something changes, and how
/// much the database holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Impact {
    pub cases: usize,
    pub subjects: usize,
    pub agencies: usize,
    /// Only the (agency, class) pairs where something changes, by agency then class.
    pub changes: Vec<ClassImpact>,
}

/// The (role, purpose) pairs that some rule of either agreement gives to this
/// agency: the requests whose answers can differ.
pub fn requests_for(
    agreements: &[&Policy],
    agency: &str,
    kind: AgencyKind,
) -> BTreeSet<(Role, Purpose)> {
    let mut out = BTreeSet::new();
    for rule in agreements.iter().flat_map(|p| p.rules.iter()) {
        if !rule.covers_agency(agency, kind) {
            continue;
        }
        let roles: Vec<Role> = match &rule.roles {
            Some(r) => r.iter().copied().collect(),
            None => Role::ALL.to_vec(),
        };
        for role in roles.into_iter().filter(|r| r.exists_at(kind)) {
            for purpose in &rule.purposes {
                out.insert((role, *purpose));
            }
        }
    }
    out
}

/// Compare what every agency of the database could see under `old` and `new`.
pub async fn impact(
    db: &DatabaseConnection,
    old: &Policy,
    new: &Policy,
    today: chrono::NaiveDate,
) -> Result<Impact, String> {
    let err = |e: sea_orm::DbErr| crate::db::describe_db_error(&e);
    let agencies = entities::agency::Entity::find()
        .order_by_asc(entities::agency::Column::Id)
        .all(db)
        .await
        .map_err(err)?;
    let cases: Vec<Uuid> = entities::case_file::Entity::find()
        .select_only()
        .column(entities::case_file::Column::Id)
        .order_by_asc(entities::case_file::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .map_err(err)?;
    let subjects: BTreeSet<Uuid> = entities::case_subject::Entity::find()
        .select_only()
        .column(entities::case_subject::Column::PersonId)
        .into_tuple::<Uuid>()
        .all(db)
        .await
        .map_err(err)?
        .into_iter()
        .collect();
    let subjects: Vec<Uuid> = subjects.into_iter().collect();
    let old = Arc::new(old.clone());
    let new = Arc::new(new.clone());

    let mut changes = Vec::new();
    for agency in &agencies {
        let kind: AgencyKind = agency
            .kind
            .parse()
            .map_err(|e: policy::ParseError| format!("agency `{}`: {e}", agency.id))?;
        let requests = requests_for(&[&old, &new], &agency.id, kind);
        if requests.is_empty() {
            continue;
        }
        let mut cases_by = [Reach::default(), Reach::default()];
        let mut subjects_by = [Reach::default(), Reach::default()];
        for (i, agreement) in [&old, &new].into_iter().enumerate() {
            let caller = Caller {
                requester: Requester {
                    agency: agency.id.clone(),
                    agency_kind: kind,
                    operator: OPERATOR.into(),
                    // Facts do not depend on role and purpose; the decisions below do.
                    role: Role::CaseManager,
                    purpose: Purpose::CaseManagement,
                },
                token_id: String::new(),
                issuer: "rete policy diff".into(),
            };
            let facts = gather(db, agreement, &caller, today, &cases, Record::Case).await?;
            cases_by[i] = reach(agreement, &caller.requester, &requests, &facts);
            let facts = gather(db, agreement, &caller, today, &subjects, Record::Person).await?;
            subjects_by[i] = reach(agreement, &caller.requester, &requests, &facts);
        }
        for class in DataClass::ALL {
            let count = |r: &[Reach; 2]| {
                let empty = BTreeSet::new();
                let before = r[0].get(class).unwrap_or(&empty);
                let after = r[1].get(class).unwrap_or(&empty);
                (
                    before.len(),
                    after.len(),
                    after.difference(before).count(),
                    before.difference(after).count(),
                )
            };
            let (cb, ca, cg, cl) = count(&cases_by);
            let (sb, sa, sg, sl) = count(&subjects_by);
            let row = ClassImpact {
                agency: agency.id.clone(),
                agency_kind: agency.kind.clone(),
                class: *class,
                cases_before: cb,
                cases_after: ca,
                cases_gained: cg,
                cases_lost: cl,
                subjects_before: sb,
                subjects_after: sa,
                subjects_gained: sg,
                subjects_lost: sl,
            };
            if row.changed() {
                changes.push(row);
            }
        }
    }
    Ok(Impact {
        cases: cases.len(),
        subjects: subjects.len(),
        agencies: agencies.len(),
        changes,
    })
}

/// The impact as text for the people who sign the agreement: one block per
/// agency, one line per data class that changes.
pub fn render(impact: &Impact) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nIn the database ({} cases, {} subjects, {} agencies), under NEW instead of OLD:",
        impact.cases, impact.subjects, impact.agencies
    );
    if impact.changes.is_empty() {
        let _ = writeln!(
            out,
            "  no agency would gain or lose access to any case or subject."
        );
        return out;
    }
    let mut agency = "";
    for c in &impact.changes {
        if c.agency != agency {
            agency = &c.agency;
            let _ = writeln!(out, "\n{} ({})", c.agency, c.agency_kind);
        }
        let _ = writeln!(
            out,
            "  {:<16} cases {:>5} -> {:<5} {:<22} subjects {:>5} -> {:<5} {}",
            c.class.to_string(),
            c.cases_before,
            c.cases_after,
            moved(c.cases_gained, c.cases_lost),
            c.subjects_before,
            c.subjects_after,
            moved(c.subjects_gained, c.subjects_lost),
        );
    }
    out
}

fn moved(gained: usize, lost: usize) -> String {
    match (gained, lost) {
        (0, 0) => "(same)".into(),
        (g, 0) => format!("(gains {g})"),
        (0, l) => format!("(loses {l})"),
        (g, l) => format!("(gains {g}, loses {l})"),
    }
}

/// The records of each class that some request discloses.
type Reach = BTreeMap<DataClass, BTreeSet<Uuid>>;

fn reach(
    agreement: &Policy,
    base: &Requester,
    requests: &BTreeSet<(Role, Purpose)>,
    facts: &[(Uuid, Facts)],
) -> Reach {
    let mut out = Reach::new();
    for (id, f) in facts {
        for class in DataClass::ALL {
            let disclosed = requests.iter().any(|(role, purpose)| {
                let req = Requester {
                    role: *role,
                    purpose: *purpose,
                    ..base.clone()
                };
                policy::decide(agreement, &req, f, *class).is_disclosed()
            });
            if disclosed {
                out.entry(*class).or_default().insert(*id);
            }
        }
    }
    out
}

/// The facts of each record, as the hub gathers them for a request of `caller`
/// under `agreement`, in batches.
async fn gather(
    db: &DatabaseConnection,
    agreement: &Arc<Policy>,
    caller: &Caller,
    today: chrono::NaiveDate,
    ids: &[Uuid],
    record: fn(Uuid) -> Record,
) -> Result<Vec<(Uuid, Facts)>, String> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let batches = Batches::new();
        let rc = RequestContext::new(
            db.clone(),
            agreement.clone(),
            caller,
            today,
            crate::config::Limits::default().max_page_size,
            &batches,
        );
        let all = futures::future::join_all(chunk.iter().map(|id| rc.facts(record(*id))));
        for (id, facts) in chunk.iter().zip(batches.run(all).await) {
            out.push((*id, facts.map_err(|e| e.message)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement(text: &str) -> Policy {
        Policy::from_toml("t.toml", text).expect("valid")
    }

    #[test]
    fn requests_are_the_roles_and_purposes_either_agreement_gives_the_kind() {
        let a = agreement(
            "[agreement]\nname = \"a\"\nversion = \"1\"\n\
             [[rule]]\nid = \"court\"\ndescription = \"d\"\nagency_kinds = [\"JUVENILE_COURT\"]\n\
             roles = [\"JUDGE\"]\nrelationships = [\"COURT_OF_RECORD\"]\npurposes = [\"JUDICIAL\"]\n\
             classes = [\"JUDICIAL\"]\nbases = [\"COURT_ORDER\"]\n",
        );
        let b = agreement(
            "[agreement]\nname = \"b\"\nversion = \"1\"\n\
             [[rule]]\nid = \"all\"\ndescription = \"d\"\nrelationships = [\"ANY\"]\n\
             purposes = [\"CASE_MANAGEMENT\"]\nclasses = [\"ADMINISTRATIVE\"]\nbases = [\"COURT_ORDER\"]\n",
        );
        let court = requests_for(&[&a, &b], "tm", AgencyKind::JuvenileCourt);
        assert!(court.contains(&(Role::Judge, Purpose::Judicial)));
        assert!(court.contains(&(Role::Judge, Purpose::CaseManagement)));
        assert!(
            court
                .iter()
                .all(|(r, _)| r.exists_at(AgencyKind::JuvenileCourt)),
            "{court:?}"
        );
        let hospital = requests_for(&[&a], "h", AgencyKind::Hospital);
        assert!(hospital.is_empty(), "{hospital:?}");
    }
}
