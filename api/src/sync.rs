//! `rete sync`: the connector engine from the command line, and the engine a
//! hub process runs on its schedule.
//!
//! Every command works on the instances of the config file's `[connectors]`
//! (docs/connectors.md). Reports name rows, resource ids and reasons, never
//! personal values; `dead-letters --payload` prints the raw payloads, which
//! hold personal data, for an operator who has the database anyway.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use connectors::engine::{Progress, RunReport, RunStatus, Trigger};
use connectors::{Engine, NoProgress};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::config::Config;
use crate::db;

#[derive(Subcommand, Debug)]
pub enum SyncCommand {
    /// Sync an instance from its upstream now (from its stored cursor).
    Run { name: String },
    /// Every instance: last run and its counts, cursor, open dead letters,
    /// who holds it now, circuit.
    Status,
    /// An instance's runs, newest first.
    Runs {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// An instance's dead letters: what could not go in, and why.
    DeadLetters {
        name: String,
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
        /// Print each raw payload (personal data).
        #[arg(long)]
        payload: bool,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Take an instance's open dead letters (or those named by --id) through
    /// the mapping again; those that go in are resolved.
    Retry {
        name: String,
        #[arg(long = "id")]
        ids: Vec<Uuid>,
    },
    /// Import a file through an instance's mapping and bookkeeping.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// A FHIR R4 Bundle (transaction, batch, collection or searchset) as JSON.
    Fhir {
        file: PathBuf,
        /// The `fhir` instance whose mapping applies (default: the only one).
        #[arg(long)]
        instance: Option<String>,
    },
    /// A consultorio's CSV export (docs/connectors-consultorio.md).
    Consultorio {
        file: PathBuf,
        /// The `consultorio` instance (default: the only one).
        #[arg(long)]
        instance: Option<String>,
    },
}

/// The engine over the configured instances (reads their secrets).
pub fn engine(config: &Config, db: DatabaseConnection) -> Result<Engine, String> {
    let instances = connectors::instances(&config.connectors).map_err(|e| e.to_string())?;
    Ok(Engine::new(db, instances))
}

/// A progress bar on a terminal.
struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn total(&self, items: u64) {
        self.0.set_length(items);
        self.0.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {wide_bar} {pos}/{len} items ({per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    }

    fn advance(&self, items: u64) {
        self.0.set_position(items);
    }
}

fn progress() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} items ({per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Box::new(Bar(bar))
    } else {
        Box::new(NoProgress)
    }
}

pub async fn run(command: SyncCommand, config: &Config) -> Result<(), String> {
    for (name, instance) in &config.connectors {
        instance.validate(name).map_err(|e| e.to_string())?;
    }
    let db = db::connect(&config.database_url, 4)
        .await
        .map_err(|e| db::describe_db_error(&e))?;
    db::migrate(&db)
        .await
        .map_err(|e| db::describe_db_error(&e))?;
    let engine = engine(config, db)?;
    match command {
        SyncCommand::Run { name } => {
            let bar = progress();
            let report = engine
                .run(&name, Trigger::Manual, bar.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            drop(bar);
            finish(&report)
        }
        SyncCommand::Status => {
            let status = engine.status().await.map_err(|e| e.to_string())?;
            if status.is_empty() {
                println!(
                    "no connector instances are configured ([connectors.NAME] in the config file)"
                );
            }
            for s in status {
                println!(
                    "{} ({} for {}, schedule {})",
                    s.name,
                    s.kind,
                    s.agency,
                    s.schedule.as_deref().unwrap_or("manual")
                );
                println!("  cursor: {}", s.cursor.as_deref().unwrap_or("none yet"));
                match &s.last_run {
                    Some(r) => println!(
                        "  last run: {} {} at {} — fetched {}, created {}, updated {}, unchanged {}, skipped {}, rejected {}{}",
                        r.trigger,
                        r.status,
                        r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        r.fetched,
                        r.created,
                        r.updated,
                        r.unchanged,
                        r.skipped,
                        r.rejected,
                        r.error
                            .as_ref()
                            .map(|e| format!(" — {e}"))
                            .unwrap_or_default()
                    ),
                    None => println!("  last run: never"),
                }
                println!("  open dead letters: {}", s.open_dead_letters);
                if let Some(l) = &s.lease {
                    println!(
                        "  being synced by {} (lease until {})",
                        l.holder,
                        l.expires_at.format("%H:%M:%S UTC")
                    );
                }
                if let Some(secs) = s.circuit_open_for {
                    println!(
                        "  circuit open for {secs}s more after {} failures",
                        s.consecutive_failures
                    );
                }
            }
            Ok(())
        }
        SyncCommand::Runs { name, limit } => {
            for r in engine.runs(&name, limit).await.map_err(|e| e.to_string())? {
                println!(
                    "{} {} {} {} fetched={} created={} updated={} unchanged={} skipped={} rejected={}{}{}",
                    r.id,
                    r.started_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    r.trigger,
                    r.status,
                    r.fetched,
                    r.created,
                    r.updated,
                    r.unchanged,
                    r.skipped,
                    r.rejected,
                    r.source.map(|s| format!(" source={s}")).unwrap_or_default(),
                    r.error.map(|e| format!(" error={e}")).unwrap_or_default(),
                );
            }
            Ok(())
        }
        SyncCommand::DeadLetters {
            name,
            all,
            payload,
            limit,
        } => {
            let letters = engine
                .dead_letters(&name, all, limit)
                .await
                .map_err(|e| e.to_string())?;
            if letters.is_empty() {
                eprintln!(
                    "no {}dead letters for {name}",
                    if all { "" } else { "open " }
                );
            }
            for d in letters {
                let at = match (d.position, &d.external_id) {
                    (Some(p), Some(id)) => format!("{} {id} (position {p})", d.resource_type),
                    (Some(p), None) => format!("{} at position {p}", d.resource_type),
                    (None, Some(id)) => format!("{} {id}", d.resource_type),
                    (None, None) => d.resource_type.clone(),
                };
                println!(
                    "{} {at}: {} (attempts {}, last {}){}",
                    d.id,
                    d.reason,
                    d.attempts,
                    d.last_attempt_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    d.resolution
                        .map(|r| format!(" — resolved: {r}"))
                        .unwrap_or_default()
                );
                if payload {
                    println!("  {}", d.payload);
                }
            }
            Ok(())
        }
        SyncCommand::Retry { name, ids } => {
            let bar = progress();
            let report = engine
                .retry_dead_letters(&name, &ids, bar.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            drop(bar);
            finish(&report)
        }
        SyncCommand::Import { what } => {
            let (kind, file, instance) = match what {
                ImportCommand::Fhir { file, instance } => ("fhir", file, instance),
                ImportCommand::Consultorio { file, instance } => ("consultorio", file, instance),
            };
            let name = pick_instance(config, kind, instance)?;
            let bytes =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let items = connectors::read_file(&config.connectors[&name], &bytes)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let bar = progress();
            let report = engine
                .ingest(
                    &name,
                    Trigger::Import,
                    &file.display().to_string(),
                    items,
                    bar.as_ref(),
                )
                .await
                .map_err(|e| e.to_string())?;
            drop(bar);
            finish(&report)
        }
    }
}

/// The instance named, which must be of this kind, or the only one of it.
fn pick_instance(config: &Config, kind: &str, name: Option<String>) -> Result<String, String> {
    let of_kind: Vec<&String> = config
        .connectors
        .iter()
        .filter(|(_, c)| c.kind.name() == kind)
        .map(|(n, _)| n)
        .collect();
    match name {
        Some(n) => match config.connectors.get(&n) {
            Some(c) if c.kind.name() == kind => Ok(n),
            Some(c) => Err(format!(
                "--instance {n} is a `{}` instance, not `{kind}`",
                c.kind.name()
            )),
            None => Err(format!("--instance: no connector instance named `{n}`")),
        },
        None => match of_kind.as_slice() {
            [only] => Ok((*only).clone()),
            [] => Err(format!(
                "no `{kind}` instance is configured: add [connectors.NAME] with kind = \"{kind}\" to the config file"
            )),
            many => Err(format!(
                "several `{kind}` instances are configured ({}): say which with --instance",
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
    }
}

/// Prints a run's report; a failed run is an error (exit status 1).
fn finish(report: &RunReport) -> Result<(), String> {
    print!("{}", render(report));
    match report.status {
        RunStatus::Succeeded => Ok(()),
        _ => Err(format!(
            "run {} of {} {}: {}",
            report.run_id,
            report.instance,
            report.status.as_str().to_lowercase(),
            report.error.as_deref().unwrap_or("no reason given")
        )),
    }
}

/// The validation report of a run, as printed and as the upload endpoint's
/// summary: counts, then each rejected item's place and reason (never values).
pub fn render(r: &RunReport) -> String {
    let mut out = format!(
        "{} run {} of {}: fetched {}, created {}, updated {}, unchanged {}, skipped {}, rejected {}\n",
        r.status.as_str(),
        r.run_id,
        r.instance,
        r.fetched,
        r.created,
        r.updated,
        r.unchanged,
        r.skipped,
        r.rejected
    );
    const SHOWN: usize = 50;
    for x in r.rejections.iter().take(SHOWN) {
        let place = match (x.position, &x.external_id) {
            (Some(p), _) if x.resource_type.contains("row") => format!("row {p}"),
            (Some(p), Some(id)) => format!("{} {id} (entry {p})", x.resource_type),
            (Some(p), None) => format!("{} (entry {p})", x.resource_type),
            (None, Some(id)) => format!("{} {id}", x.resource_type),
            (None, None) => x.resource_type.clone(),
        };
        out.push_str(&format!("  rejected {place}: {}\n", x.reason));
    }
    if r.rejections.len() > SHOWN {
        out.push_str(&format!(
            "  … and {} more: rete sync dead-letters {}\n",
            r.rejections.len() - SHOWN,
            r.instance
        ));
    }
    out
}

/// The engine of a serving hub, with its scheduler running.
pub fn start(config: &Config, db: DatabaseConnection) -> Result<Option<Arc<Engine>>, String> {
    if config.connectors.is_empty() {
        return Ok(None);
    }
    let engine = Arc::new(engine(config, db)?);
    let scheduled = engine.spawn_scheduler();
    tracing::info!(
        instances = config.connectors.len(),
        scheduled = scheduled.len(),
        "connector engine started"
    );
    Ok(Some(engine))
}
