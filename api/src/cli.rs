//! The `rete` command line: a stable contract that scripts rely on.
//!
//! `serve`, `migrate`, `schema`, `token`, `policy`, `audit`, `sync`. Configuration comes from an optional
//! TOML file (`--config` / `RETE_CONFIG`), then flags and environment variables
//! (`--listen` / `RETE_LISTEN`, `--database-url` / `DATABASE_URL`). Errors go to
//! stderr with exit status 1; only `schema` and `token` write to stdout.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use sea_orm::EntityTrait;
use tokio::net::TcpListener;

use crate::auth::Verifier;
use crate::auth::keys::{self, DEMO_ISSUER};
use crate::config::Config;
use crate::{AppState, app, db, demo};

#[derive(Parser, Debug)]
#[command(
    name = "rete",
    version,
    about = "Rete: consent-aware GraphQL hub for child and mother protection agencies"
)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "RETE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: `sqlite://FILE?mode=rwc` (default `sqlite://rete.db?mode=rwc`) or `postgres://...`.
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the hub (migrates the database first).
    Serve {
        /// Seed the demo network and trust the demo key (never in production).
        #[arg(long)]
        demo: bool,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "RETE_LISTEN")]
        listen: Option<String>,
        /// The network agreement (e.g. policies/network.toml); the hub refuses
        /// to start on an invalid one.
        #[arg(long, env = "RETE_POLICY")]
        policy: Option<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL SDL (what `schema.graphql` holds).
    Schema,
    /// Check or compare network agreements (policy files).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The access log: verify the chain, print or sign its head, export,
    /// prune, prove a disclosed value.
    Audit {
        #[command(subcommand)]
        command: crate::audit::command::AuditCommand,
    },
    /// Connectors: run a sync, see their status and dead letters, retry,
    /// import a FHIR Bundle or a consultorio export.
    Sync {
        #[command(subcommand)]
        command: crate::sync::SyncCommand,
    },
    /// Outbound sync: what the hub sent or owes its partners; retry dead messages.
    Outbox {
        #[command(subcommand)]
        command: crate::outbox::command::OutboxCommand,
    },
    /// Print a token signed with the demo key (trusted by `serve --demo` only).
    Token {
        /// Agency id, e.g. `polo-nord`.
        #[arg(long)]
        agency: String,
        /// Role, e.g. CASE_MANAGER.
        #[arg(long)]
        role: String,
        /// Purpose, e.g. CASE_MANAGEMENT.
        #[arg(long)]
        purpose: String,
        /// Lifetime: 90s, 15m, 1h, 2d.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// Operator id (`sub`); default `<agency>-operator`.
        #[arg(long)]
        operator: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Validate an agreement file; print its version hash, or every problem
    /// with its line.
    Check { file: PathBuf },
    /// List every grant the NEW agreement adds or removes compared to OLD;
    /// with `--against-db`, also how many cases and subjects each agency would
    /// gain or lose access to, by data class.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Also decide, for every case and subject in the database
        /// (`--database-url` / `DATABASE_URL` / config), what each agency can
        /// see under OLD and under NEW, and count the differences.
        #[arg(long)]
        against_db: bool,
        /// Print one JSON document (grants, and the database impact if asked)
        /// instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Explain, against the database, why an agency could or could not see a
    /// data class of a case now: the rule and legal basis, or why each rule
    /// did not apply.
    Explain {
        /// The agreement (default: the built-in interim agreement).
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long)]
        case: String,
        #[arg(long)]
        agency: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        purpose: String,
        /// Data class, e.g. HEALTH.
        #[arg(long)]
        class: String,
        /// Operator id (`sub`), for break-glass grants; default `<agency>-operator`.
        #[arg(long)]
        operator: Option<String>,
    },
}

fn load_policy(file: &std::path::Path) -> Result<policy::Policy, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    policy::Policy::from_toml(&file.display().to_string(), &text).map_err(|e| e.to_string())
}

async fn policy_command(command: PolicyCommand, config: &Config) -> Result<(), String> {
    match command {
        PolicyCommand::Check { file } => {
            let p = load_policy(&file)?;
            println!(
                "{}: valid — {} rules, {} duties, version {}",
                file.display(),
                p.rules.len(),
                p.duties.len(),
                p.version
            );
            Ok(())
        }
        PolicyCommand::Diff {
            old,
            new,
            against_db,
            json,
        } => {
            let (a, b) = (load_policy(&old)?, load_policy(&new)?);
            let changes = policy::diff(&a, &b);
            let impact = if against_db {
                let db = db::connect(&config.database_url, 2)
                    .await
                    .map_err(|e| db::describe_db_error(&e))?;
                let today = chrono::Utc::now().date_naive();
                Some(crate::impact::impact(&db, &a, &b, today).await?)
            } else {
                None
            };
            if json {
                let doc = serde_json::json!({
                    "old": {"file": old.display().to_string(), "version": a.version},
                    "new": {"file": new.display().to_string(), "version": b.version},
                    "grants": changes,
                    "impact": impact,
                });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            for c in &changes {
                println!("{c}");
            }
            eprintln!("{} grant(s) added or removed", changes.len());
            if let Some(impact) = impact {
                print!("{}", crate::impact::render(&impact));
            }
            Ok(())
        }
        PolicyCommand::Explain {
            policy: file,
            case,
            agency,
            role,
            purpose,
            class,
            operator,
        } => {
            let agreement = match &file {
                Some(f) => load_policy(f)?,
                None => policy::Policy::interim(),
            };
            let case: uuid::Uuid = case
                .parse()
                .map_err(|_| format!("--case: `{case}` is not a case id"))?;
            let class: policy::DataClass = class
                .parse()
                .map_err(|e: policy::ParseError| e.to_string())?;
            let role: policy::Role = role
                .parse()
                .map_err(|e: policy::ParseError| e.to_string())?;
            let purpose: policy::Purpose = purpose
                .parse()
                .map_err(|e: policy::ParseError| e.to_string())?;
            let db = db::connect(&config.database_url, 2)
                .await
                .map_err(|e| db::describe_db_error(&e))?;
            let row = entities::agency::Entity::find_by_id(agency.clone())
                .one(&db)
                .await
                .map_err(|e| db::describe_db_error(&e))?
                .ok_or_else(|| format!("--agency: no agency `{agency}`"))?;
            let caller = crate::auth::Caller {
                requester: policy::Requester {
                    agency: row.id.clone(),
                    agency_kind: row
                        .kind
                        .parse()
                        .map_err(|e: policy::ParseError| e.to_string())?,
                    operator: operator.unwrap_or_else(|| format!("{agency}-operator")),
                    role,
                    purpose,
                },
                token_id: String::new(),
                issuer: "rete policy explain".into(),
            };
            let batches = crate::graphql::loaders::Batches::new();
            let rc = crate::graphql::guard::RequestContext::new(
                db,
                std::sync::Arc::new(agreement.clone()),
                &caller,
                chrono::Utc::now().date_naive(),
                config.limits.max_page_size,
                &batches,
            );
            let facts = batches
                .run(rc.facts(crate::graphql::guard::Record::Case(case)))
                .await
                .map_err(|e| e.message)?;
            print!(
                "{}",
                policy::explain(&agreement, &caller.requester, &facts, class)
            );
            Ok(())
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), String> {
    let mut config = match &cli.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(url) = &cli.database_url {
        config.database_url = url.clone();
    }
    match cli.command {
        Command::Policy { command } => policy_command(command, &config).await,
        Command::Audit { command } => crate::audit::command::run(command, &config).await,
        Command::Sync { command } => crate::sync::run(command, &config).await,
        Command::Outbox { command } => crate::outbox::command::run(command, &config).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Migrate => {
            let db = db::connect(&config.database_url, 2)
                .await
                .map_err(|e| db::describe_db_error(&e))?;
            db::migrate(&db)
                .await
                .map_err(|e| db::describe_db_error(&e))?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Token {
            agency,
            role,
            purpose,
            ttl,
            operator,
        } => {
            role.parse::<policy::Role>().map_err(|e| e.to_string())?;
            purpose
                .parse::<policy::Purpose>()
                .map_err(|e| e.to_string())?;
            let ttl = keys::parse_ttl(&ttl)?;
            let key = keys::load_demo_key(&config.demo.key_file)?;
            let operator = operator.unwrap_or_else(|| format!("{agency}-operator"));
            let claims = keys::SigningKey::claims(
                DEMO_ISSUER,
                &config.auth.audience,
                &operator,
                &agency,
                &role,
                &purpose,
                ttl,
            );
            println!("{}", key.sign(&claims)?);
            Ok(())
        }
        Command::Serve {
            demo,
            listen,
            policy,
        } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if policy.is_some() {
                config.policy_file = policy;
            }
            if !demo {
                // A production start: refuse the demo key and unasked
                // introspection; unset introspection means off.
                config.validate_production().map_err(|e| e.to_string())?;
                config.limits.introspection.get_or_insert(false);
            }
            config.demo.enabled |= demo;
            serve(config).await
        }
    }
}

/// Build the state of a hub process: connect, migrate, seed (demo), keys.
pub async fn prepare(config: &Config) -> Result<AppState, String> {
    config.validate().map_err(|e| e.to_string())?;
    let agreement = match &config.policy_file {
        Some(file) => load_policy(file)?,
        None => policy::Policy::interim(),
    };
    tracing::info!(version = %agreement.version, rules = agreement.rules.len(), "network agreement loaded");
    let db = db::connect(&config.database_url, config.database_max_connections)
        .await
        .map_err(|e| format!("cannot open the database: {}", db::describe_db_error(&e)))?;
    db::migrate(&db)
        .await
        .map_err(|e| format!("cannot migrate the database: {}", db::describe_db_error(&e)))?;
    let mut verifier = Verifier::from_config(&config.auth)?;
    if config.demo.enabled {
        let seeded = demo::seed(&db).await.map_err(|e| {
            format!(
                "cannot seed the demo network: {}",
                db::describe_db_error(&e)
            )
        })?;
        if seeded {
            tracing::info!("demo network seeded");
        }
        let key = keys::load_or_create_demo_key(&config.demo.key_file)?;
        verifier.add_static_issuer(DEMO_ISSUER, key.verifying_keys()?);
    }
    let keys = crate::audit::HubKeys::load_or_create(
        &config.audit.secret_file,
        &config.audit.signing_key_file,
    )?;
    let audit = crate::audit::AuditLog::start(
        &config.database_url,
        Arc::new(keys),
        config.audit.max_batch,
        std::time::Duration::from_micros(config.audit.linger_us),
    )
    .await?;
    let sync = crate::sync::start(config, db.clone())?;
    let routes =
        crate::outbox::Routes::from_config(&config.connectors).map_err(|e| e.to_string())?;
    Ok(AppState::new(
        db,
        verifier,
        agreement,
        config.limits.clone(),
        audit,
        &config.console,
    )
    .with_sync(sync)
    .with_outbound(Arc::new(routes)))
}

async fn serve(config: Config) -> Result<(), String> {
    let state = prepare(&config).await?;
    if config.outbox.enabled && !state.outbound().is_empty() {
        Arc::new(crate::outbox::Outbox::new(
            state.clone(),
            config.outbox.clone(),
        )?)
        .spawn();
        tracing::info!("outbox worker started");
    }
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, "rete listening");
    if config.demo.enabled {
        eprintln!("{}", demo::banner(&addr.to_string()));
    }
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!("rete stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
