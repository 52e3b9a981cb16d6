//! Reading the log out: retention pruning (with a signed checkpoint, so the
//! rest of the chain stays verifiable), export as JSON Lines or CSV, and the
//! offline-verifiable bundle.

use std::collections::BTreeSet;
use std::io::Write;

use chrono::{DateTime, Utc};
use entities::{access_log_checkpoint, access_log_entry, access_log_touch};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chain::{self, Walker};
use super::signing::{self, BundleClaims, CheckpointClaims};
use super::trail::LoggedRecord;
use super::{HUB_ISSUER, HubKeys, PublicKey};

fn db_err(e: DbErr) -> String {
    crate::db::describe_db_error(&e)
}

/// Prune every entry older than `before` (and the entries before them, so the
/// cut is a prefix of the chain). Writes a signed checkpoint with the last
/// pruned entry's seq and hash. Returns it, or `None` if nothing was old enough.
pub async fn prune(
    db: &DatabaseConnection,
    keys: &HubKeys,
    before: DateTime<Utc>,
) -> Result<Option<access_log_checkpoint::Model>, String> {
    let txn = db.begin().await.map_err(db_err)?;
    chain::lock(&txn).await.map_err(db_err)?;
    // The first entry young enough to keep; everything before it goes.
    let keep = access_log_entry::Entity::find()
        .filter(access_log_entry::Column::At.gte(before))
        .order_by_asc(access_log_entry::Column::Seq)
        .one(&txn)
        .await
        .map_err(db_err)?;
    let cut = match keep {
        Some(k) => access_log_entry::Entity::find()
            .filter(access_log_entry::Column::Seq.lt(k.seq))
            .order_by_desc(access_log_entry::Column::Seq)
            .one(&txn)
            .await
            .map_err(db_err)?,
        None => access_log_entry::Entity::find()
            .order_by_desc(access_log_entry::Column::Seq)
            .one(&txn)
            .await
            .map_err(db_err)?,
    };
    let Some(cut) = cut else {
        return Ok(None);
    };
    access_log_touch::Entity::delete_many()
        .filter(access_log_touch::Column::Seq.lte(cut.seq))
        .exec(&txn)
        .await
        .map_err(db_err)?;
    access_log_entry::Entity::delete_many()
        .filter(access_log_entry::Column::Seq.lte(cut.seq))
        .exec(&txn)
        .await
        .map_err(db_err)?;
    let claims = CheckpointClaims {
        iss: HUB_ISSUER.into(),
        sub: signing::CHECKPOINT.into(),
        iat: Utc::now().timestamp(),
        seq: cut.seq,
        hash: cut.hash.clone(),
        pruned: cut.seq,
    };
    let cp = access_log_checkpoint::Model {
        seq: cut.seq,
        hash: cut.hash,
        pruned: cut.seq,
        at: chain::Draft::now(),
        signature: signing::sign(keys, &claims)?,
    };
    cp.clone()
        .into_active_model()
        .insert(&txn)
        .await
        .map_err(db_err)?;
    txn.commit().await.map_err(db_err)?;
    Ok(Some(cp))
}

/// Which entries to export.
#[derive(Clone, Debug, Default)]
pub struct ExportFilter {
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub agency: Option<String>,
    pub subject: Option<Uuid>,
    pub case: Option<Uuid>,
}

impl ExportFilter {
    fn condition(&self) -> Condition {
        use access_log_entry::Column as C;
        let mut c = Condition::all();
        if let Some(s) = self.from_seq {
            c = c.add(C::Seq.gte(s));
        }
        if let Some(s) = self.to_seq {
            c = c.add(C::Seq.lte(s));
        }
        if let Some(t) = self.since {
            c = c.add(C::At.gte(t));
        }
        if let Some(t) = self.until {
            c = c.add(C::At.lt(t));
        }
        if let Some(a) = &self.agency {
            c = c.add(C::AgencyId.eq(a.clone()));
        }
        for (kind, id) in [("PERSON", self.subject), ("CASE", self.case)] {
            if let Some(id) = id {
                c = c.add(
                    C::Seq.in_subquery(
                        access_log_touch::Entity::find()
                            .select_only()
                            .column(access_log_touch::Column::Seq)
                            .filter(access_log_touch::Column::Kind.eq(kind))
                            .filter(access_log_touch::Column::Id.eq(id))
                            .into_query(),
                    ),
                );
            }
        }
        c
    }

    /// Does the filter keep the chain contiguous (a seq or time range only)?
    pub fn is_range(&self) -> bool {
        self.agency.is_none() && self.subject.is_none() && self.case.is_none()
    }
}

/// An entry as exported: every stored column, `records` both as the exact
/// hashed text and parsed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedEntry {
    pub seq: i64,
    pub at: String,
    pub operator: String,
    pub agency_id: String,
    pub role: String,
    pub purpose: String,
    pub operation: String,
    pub query_hash: String,
    /// The canonical text that was hashed.
    pub records: String,
    pub disclosed_classes: String,
    pub withheld_classes: String,
    pub policy_version: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<access_log_entry::Model> for ExportedEntry {
    fn from(m: access_log_entry::Model) -> Self {
        ExportedEntry {
            seq: m.seq,
            at: chain::format_at(&m.at),
            operator: m.operator,
            agency_id: m.agency_id,
            role: m.role,
            purpose: m.purpose,
            operation: m.operation,
            query_hash: m.query_hash,
            records: m.records,
            disclosed_classes: m.disclosed_classes,
            withheld_classes: m.withheld_classes,
            policy_version: m.policy_version,
            prev_hash: m.prev_hash,
            hash: m.hash,
        }
    }
}

impl ExportedEntry {
    fn model(&self) -> Result<access_log_entry::Model, String> {
        let at = DateTime::parse_from_rfc3339(&self.at)
            .map_err(|e| format!("entry {}: bad time `{}`: {e}", self.seq, self.at))?
            .with_timezone(&Utc);
        Ok(access_log_entry::Model {
            seq: self.seq,
            at,
            operator: self.operator.clone(),
            agency_id: self.agency_id.clone(),
            role: self.role.clone(),
            purpose: self.purpose.clone(),
            operation: self.operation.clone(),
            query_hash: self.query_hash.clone(),
            records: self.records.clone(),
            disclosed_classes: self.disclosed_classes.clone(),
            withheld_classes: self.withheld_classes.clone(),
            policy_version: self.policy_version.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        })
    }
}

/// Visit the filtered entries in order, a page at a time.
pub async fn for_each_entry(
    db: &DatabaseConnection,
    filter: &ExportFilter,
    mut f: impl FnMut(access_log_entry::Model) -> Result<(), String>,
) -> Result<(), String> {
    let mut after = 0i64;
    loop {
        let page = access_log_entry::Entity::find()
            .filter(filter.condition())
            .filter(access_log_entry::Column::Seq.gt(after))
            .order_by_asc(access_log_entry::Column::Seq)
            .limit(1000)
            .all(db)
            .await
            .map_err(db_err)?;
        let Some(last) = page.last().map(|m| m.seq) else {
            return Ok(());
        };
        for m in page {
            f(m)?;
        }
        after = last;
    }
}

/// Export as JSON Lines: one entry per line, `records` parsed beside the
/// hashed text so tools need not parse twice.
pub async fn export_jsonl(
    db: &DatabaseConnection,
    filter: &ExportFilter,
    out: &mut impl Write,
) -> Result<u64, String> {
    let mut n = 0;
    for_each_entry(db, filter, |m| {
        let parsed: serde_json::Value =
            serde_json::from_str(&m.records).unwrap_or(serde_json::Value::Null);
        let mut v = serde_json::to_value(ExportedEntry::from(m)).map_err(|e| e.to_string())?;
        if let Some(o) = v.as_object_mut() {
            o.insert("recordsParsed".into(), parsed);
        }
        writeln!(out, "{v}").map_err(|e| e.to_string())?;
        n += 1;
        Ok(())
    })
    .await?;
    Ok(n)
}

/// Export as CSV: one row per entry, the touched cases and persons as
/// space-separated ids.
pub async fn export_csv(
    db: &DatabaseConnection,
    filter: &ExportFilter,
    out: &mut impl Write,
) -> Result<u64, String> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "seq",
        "at",
        "operator",
        "agency_id",
        "role",
        "purpose",
        "operation",
        "query_hash",
        "disclosed_classes",
        "withheld_classes",
        "cases",
        "persons",
        "policy_version",
        "prev_hash",
        "hash",
    ])
    .map_err(|e| e.to_string())?;
    let mut n = 0;
    for_each_entry(db, filter, |m| {
        let records: Vec<LoggedRecord> = serde_json::from_str(&m.records).unwrap_or_default();
        let touches: BTreeSet<_> = records.iter().flat_map(super::trail::touches_of).collect();
        let ids = |kind: &str| {
            touches
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, id)| id.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        w.write_record([
            m.seq.to_string(),
            chain::format_at(&m.at),
            m.operator.clone(),
            m.agency_id.clone(),
            m.role.clone(),
            m.purpose.clone(),
            m.operation.clone(),
            m.query_hash.clone(),
            m.disclosed_classes.trim().to_string(),
            m.withheld_classes.trim().to_string(),
            ids("CASE"),
            ids("PERSON"),
            m.policy_version.clone(),
            m.prev_hash.clone(),
            m.hash.clone(),
        ])
        .map_err(|e| e.to_string())?;
        n += 1;
        Ok(())
    })
    .await?;
    w.flush().map_err(|e| e.to_string())?;
    Ok(n)
}

/// A range of the chain with the hub's signed statement about it: checkable
/// with the hub's public key alone, no database.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    /// JWS over [`BundleClaims`].
    pub statement: String,
    pub entries: Vec<ExportedEntry>,
}

pub const BUNDLE_FORMAT: &str = "rete-access-log-bundle/1";

/// Bundle the contiguous range the filter selects (a seq or time range).
pub async fn bundle(
    db: &DatabaseConnection,
    keys: &HubKeys,
    filter: &ExportFilter,
) -> Result<Bundle, String> {
    if !filter.is_range() {
        return Err(
            "a bundle is a contiguous range of the chain: filter it by --from/--to or --since/--until only".into(),
        );
    }
    let mut entries = Vec::new();
    for_each_entry(db, filter, |m| {
        entries.push(ExportedEntry::from(m));
        Ok(())
    })
    .await?;
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err("no entries in that range".into());
    };
    // A time filter could skip an entry whose clock ran behind its neighbours:
    // keep the range contiguous.
    if let Some(w) = entries.windows(2).find(|w| w[1].seq != w[0].seq + 1) {
        return Err(format!(
            "entries {} to {} are not contiguous in that time range; export by --from/--to",
            w[0].seq, w[1].seq
        ));
    }
    let head = chain::head(db).await.map_err(db_err)?;
    let claims = BundleClaims {
        iss: HUB_ISSUER.into(),
        sub: signing::BUNDLE.into(),
        iat: Utc::now().timestamp(),
        first_seq: first.seq,
        anchor: first.prev_hash.clone(),
        last_seq: last.seq,
        last_hash: last.hash.clone(),
        head_seq: head.seq,
        head_hash: head.hash,
    };
    Ok(Bundle {
        format: BUNDLE_FORMAT.into(),
        statement: signing::sign(keys, &claims)?,
        entries,
    })
}

/// Check a bundle with the hub's public key only: the statement's signature,
/// then every entry's link and hash from the signed anchor to the signed end.
pub fn verify_bundle(bundle: &Bundle, key: &PublicKey) -> Result<BundleClaims, chain::Problem> {
    let fail = |seq: i64, what: String| chain::Problem { seq, what };
    if bundle.format != BUNDLE_FORMAT {
        return Err(fail(
            0,
            format!("unknown bundle format `{}`", bundle.format),
        ));
    }
    let claims = signing::verify_bundle(&bundle.statement, key).map_err(|e| fail(0, e))?;
    let mut walker = Walker::new(claims.first_seq - 1, &claims.anchor);
    for e in &bundle.entries {
        let m = e.model().map_err(|w| fail(e.seq, w))?;
        walker.step(&m)?;
    }
    let (seq, hash) = walker.last();
    if seq != claims.last_seq || hash != claims.last_hash {
        return Err(fail(
            seq + 1,
            format!(
                "the bundle ends at entry {seq}, but the hub signed a range ending at entry {} (entries were removed from the end)",
                claims.last_seq
            ),
        ));
    }
    Ok(claims)
}
