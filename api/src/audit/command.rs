//! `rete audit ...`: the access log from the command line, for privacy
//! officers and auditors. Results go to stdout; problems to stderr with exit
//! status 1 (`verify` exits 1 when the chain is broken, naming the entry).

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::store::{self, Bundle, ExportFilter};
use super::{HubKeys, PublicKey, chain, signing, trail};
use crate::config::Config;
use crate::db;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the chain and name the first entry that was edited, inserted,
    /// deleted or reordered. With --head, also check that the chain still
    /// holds a head signed earlier. With --bundle, check an exported bundle
    /// offline (no database) with the hub's public key.
    Verify {
        /// A head signed by `rete audit head --sign` (the JWS, or a file holding it).
        #[arg(long)]
        head: Option<String>,
        /// An export bundle to check offline.
        #[arg(long, requires = "public_key")]
        bundle: Option<PathBuf>,
        /// The hub's public key (JWK, from `rete audit public-key`); default:
        /// the configured signing key's public half.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// Print the head: the last entry's seq and hash, and how many entries are
    /// stored. With --sign, a JWS over them with the hub's key instead.
    Head {
        #[arg(long)]
        sign: bool,
    },
    /// Print the hub's public key (JWK) that checks its signed statements.
    PublicKey,
    /// Write the log (filtered) as JSON Lines or CSV, or a signed bundle of a
    /// range of the chain (--bundle) that `verify --bundle` checks offline.
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Write a bundle to this file instead (a seq or time range only).
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Output file (default stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// First entry (seq).
        #[arg(long)]
        from: Option<i64>,
        /// Last entry (seq).
        #[arg(long)]
        to: Option<i64>,
        /// Entries at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Entries before this time (RFC 3339).
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        /// Entries by operators of this agency.
        #[arg(long)]
        agency: Option<String>,
        /// Entries that touched this person.
        #[arg(long)]
        subject: Option<uuid::Uuid>,
        /// Entries that touched this case.
        #[arg(long)]
        case: Option<uuid::Uuid>,
    },
    /// Remove entries older than the retention period (`audit.retention_days`)
    /// or --before, leaving a signed checkpoint so the rest still verifies.
    Prune {
        #[arg(long)]
        before: Option<DateTime<Utc>>,
    },
    /// Prove (or disprove) that a value is the one disclosed at a response path
    /// of an entry: compares its keyed digest with the one the entry holds.
    Prove {
        #[arg(long)]
        seq: i64,
        /// The response path, e.g. `case.subjects.0.person.familyName`.
        #[arg(long)]
        path: String,
        /// The value as JSON, e.g. '"Rossi"'.
        #[arg(long)]
        value: String,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Jsonl,
    Csv,
}

async fn connect(config: &Config) -> Result<DatabaseConnection, String> {
    db::connect(&config.database_url, 2)
        .await
        .map_err(|e| db::describe_db_error(&e))
}

fn keys(config: &Config) -> Result<HubKeys, String> {
    HubKeys::load_or_create(&config.audit.secret_file, &config.audit.signing_key_file)
}

pub async fn run(command: AuditCommand, config: &Config) -> Result<(), String> {
    match command {
        AuditCommand::Verify {
            head,
            bundle: Some(file),
            public_key,
        } => {
            if head.is_some() {
                return Err("--head checks the database's chain; not with --bundle".into());
            }
            let key = match public_key {
                Some(p) => PublicKey::from_file(&p)?,
                None => keys(config)?.public()?,
            };
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let b: Bundle = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a bundle: {e}", file.display()))?;
            match store::verify_bundle(&b, &key) {
                Ok(c) => {
                    println!(
                        "bundle OK: entries {}..={} verified against the hub's signature (head then {} {})",
                        c.first_seq, c.last_seq, c.head_seq, c.head_hash
                    );
                    Ok(())
                }
                Err(p) => Err(format!("bundle BROKEN at entry {}: {}", p.seq, p.what)),
            }
        }
        AuditCommand::Verify {
            head,
            bundle: None,
            public_key,
        } => {
            let db = connect(config).await?;
            let key = match public_key {
                Some(p) => PublicKey::from_file(&p)?,
                None => keys(config)?.public()?,
            };
            let report = chain::verify(&db, &key).await?;
            let by = format!(
                "rete audit verify ({})",
                std::env::var("USER").unwrap_or_else(|_| "command line".into())
            );
            chain::record_verification(&db, &by, None, &report)
                .await
                .map_err(|e| db::describe_db_error(&e))?;
            if let Some(p) = &report.problem {
                return Err(format!("chain BROKEN at entry {}: {}", p.seq, p.what));
            }
            if let Some(h) = head {
                let jws = match std::fs::read_to_string(&h) {
                    Ok(t) => t.trim().to_string(),
                    Err(_) => h.trim().to_string(),
                };
                let claims = signing::verify_head(&jws, &key)?;
                let entry = entities::access_log_entry::Entity::find_by_id(claims.seq)
                    .one(&db)
                    .await
                    .map_err(|e| db::describe_db_error(&e))?;
                let cp = chain::latest_checkpoint(&db)
                    .await
                    .map_err(|e| db::describe_db_error(&e))?;
                let holds = match entry {
                    Some(e) => e.hash == claims.hash,
                    // Pruned since: the checkpoint covers it only if it is the cut itself.
                    None => cp.is_some_and(|c| {
                        c.seq > claims.seq || (c.seq == claims.seq && c.hash == claims.hash)
                    }),
                };
                if !holds {
                    return Err(format!(
                        "chain BROKEN: the signed head (entry {} with hash {}) is no longer in the log: entries at or before it were removed or rewritten",
                        claims.seq, claims.hash
                    ));
                }
            }
            println!(
                "chain OK: {} entries verified{}; head {} {}",
                report.entries,
                report
                    .from_checkpoint
                    .map(|s| format!(" from the retention checkpoint at entry {s}"))
                    .unwrap_or_default(),
                report.head.seq,
                report.head.hash
            );
            Ok(())
        }
        AuditCommand::Head { sign } => {
            let db = connect(config).await?;
            let head = chain::head(&db)
                .await
                .map_err(|e| db::describe_db_error(&e))?;
            if sign {
                let k = keys(config)?;
                println!(
                    "{}",
                    signing::sign(&k, &signing::head_claims(head.seq, &head.hash))?
                );
            } else {
                println!(
                    "{}",
                    serde_json::to_string(&head).map_err(|e| e.to_string())?
                );
            }
            Ok(())
        }
        AuditCommand::PublicKey => {
            let k = keys(config)?.public()?;
            println!(
                "{}",
                serde_json::to_string_pretty(&k.0).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        AuditCommand::Export {
            format,
            bundle,
            output,
            from,
            to,
            since,
            until,
            agency,
            subject,
            case,
        } => {
            let db = connect(config).await?;
            let filter = ExportFilter {
                from_seq: from,
                to_seq: to,
                since,
                until,
                agency,
                subject,
                case,
            };
            if let Some(file) = bundle {
                let b = store::bundle(&db, &keys(config)?, &filter).await?;
                let text = serde_json::to_string_pretty(&b).map_err(|e| e.to_string())?;
                std::fs::write(&file, text)
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                eprintln!(
                    "bundle of {} entries written to {}",
                    b.entries.len(),
                    file.display()
                );
                return Ok(());
            }
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .map_err(|e| format!("cannot create {}: {e}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n = match format {
                Format::Jsonl => store::export_jsonl(&db, &filter, &mut out).await?,
                Format::Csv => store::export_csv(&db, &filter, &mut out).await?,
            };
            out.flush().map_err(|e| e.to_string())?;
            eprintln!("{n} entries exported");
            Ok(())
        }
        AuditCommand::Prune { before } => {
            let before = match (before, config.audit.retention_days) {
                (Some(b), _) => b,
                (None, Some(days)) => Utc::now() - chrono::Duration::days(i64::from(days)),
                (None, None) => {
                    return Err(
                        "no retention period: set audit.retention_days in the config or give --before"
                            .into(),
                    );
                }
            };
            let db = connect(config).await?;
            match store::prune(&db, &keys(config)?, before).await? {
                Some(cp) => println!(
                    "pruned entries up to {} (before {}); checkpoint hash {}",
                    cp.seq,
                    before.to_rfc3339(),
                    cp.hash
                ),
                None => println!("nothing to prune before {}", before.to_rfc3339()),
            }
            Ok(())
        }
        AuditCommand::Prove { seq, path, value } => {
            let value: serde_json::Value =
                serde_json::from_str(&value).map_err(|e| format!("--value is not JSON: {e}"))?;
            let db = connect(config).await?;
            let entry = entities::access_log_entry::Entity::find_by_id(seq)
                .one(&db)
                .await
                .map_err(|e| db::describe_db_error(&e))?
                .ok_or_else(|| format!("no entry {seq}"))?;
            let records: Vec<trail::LoggedRecord> = serde_json::from_str(&entry.records)
                .map_err(|_| format!("entry {seq} holds records the hub cannot read"))?;
            let (record, held) = records
                .iter()
                .flat_map(|r| r.digests.iter().map(move |d| (r, d)))
                .find(|(_, d)| d.path == path)
                .ok_or_else(|| format!("entry {seq} disclosed nothing at `{path}`"))?;
            let k = keys(config)?;
            if held.matches(&k.digest, &record.kind, record.id, &value) {
                println!("MATCH: entry {seq} disclosed exactly this value at `{path}`");
                Ok(())
            } else {
                Err(format!(
                    "NO MATCH: entry {seq} disclosed another value at `{path}`"
                ))
            }
        }
    }
}
