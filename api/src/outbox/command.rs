//! `rete outbox`: what the hub owes its partners, and a second chance for
//! dead messages. Prints metadata only (kind, receiver, status, attempts,
//! errors); payloads are never stored, so never printed.

use clap::Subcommand;
use entities::outbox_message;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::status;
use crate::config::Config;
use crate::db;

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// Messages, newest first: kind, receiver, status, attempts, last error.
    List {
        /// PENDING, DELIVERED, DROPPED or DEAD.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Queue messages again: DEAD or DROPPED ones named by --id (a placement
    /// request dropped for want of a consent that has since been given, say),
    /// or every DEAD one with --all-dead. They are built and sent anew, under
    /// the policy in force then.
    Retry {
        #[arg(long = "id")]
        ids: Vec<Uuid>,
        #[arg(long)]
        all_dead: bool,
    },
}

pub async fn run(command: OutboxCommand, config: &Config) -> Result<(), String> {
    let db = db::connect(&config.database_url, 2)
        .await
        .map_err(|e| format!("cannot open the database: {}", db::describe_db_error(&e)))?;
    db::migrate(&db)
        .await
        .map_err(|e| format!("cannot migrate the database: {}", db::describe_db_error(&e)))?;
    let out = match command {
        OutboxCommand::List { status, limit } => list(&db, status, limit).await?,
        OutboxCommand::Retry { ids, all_dead } => retry(&db, ids, all_dead).await?,
    };
    print!("{out}");
    Ok(())
}

async fn list(
    db: &DatabaseConnection,
    status_filter: Option<String>,
    limit: u64,
) -> Result<String, String> {
    let mut q = outbox_message::Entity::find();
    if let Some(s) = status_filter {
        let s = s.to_uppercase();
        if ![
            status::PENDING,
            status::DELIVERED,
            status::DROPPED,
            status::DEAD,
        ]
        .contains(&s.as_str())
        {
            return Err(format!(
                "--status: `{s}` is not one of PENDING, DELIVERED, DROPPED, DEAD"
            ));
        }
        q = q.filter(outbox_message::Column::Status.eq(s));
    }
    let rows = q
        .order_by_desc(outbox_message::Column::CreatedAt)
        .order_by_desc(outbox_message::Column::Id)
        .limit(limit)
        .all(db)
        .await
        .map_err(|e| db::describe_db_error(&e))?;
    let mut out = String::new();
    for m in &rows {
        out.push_str(&format!(
            "{} {} -> {} via {}: {} after {} attempt(s)",
            m.id, m.kind, m.receiver_agency_id, m.instance, m.status, m.attempts
        ));
        if let Some(r) = &m.status_reason {
            out.push_str(&format!("; {r}"));
        }
        if let Some(e) = &m.last_error {
            out.push_str(&format!("; last error: {e}"));
        }
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("no messages\n");
    }
    Ok(out)
}

async fn retry(db: &DatabaseConnection, ids: Vec<Uuid>, all_dead: bool) -> Result<String, String> {
    if ids.is_empty() && !all_dead {
        return Err("name the messages with --id, or take every dead one with --all-dead".into());
    }
    let mut q = outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::Status, Expr::value(status::PENDING))
        .col_expr(outbox_message::Column::Attempts, Expr::value(0))
        .col_expr(
            outbox_message::Column::NextAttemptAt,
            Expr::value(chrono::Utc::now()),
        )
        .col_expr(
            outbox_message::Column::UpdatedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(outbox_message::Column::Status.eq(status::DEAD));
    if !ids.is_empty() {
        q = q.filter(outbox_message::Column::Id.is_in(ids.clone()));
    }
    let done = q.exec(db).await.map_err(|e| db::describe_db_error(&e))?;
    if !ids.is_empty() && done.rows_affected as usize != ids.len() {
        return Err(format!(
            "queued {} of {} message(s) again: the others are neither DEAD nor DROPPED (see `rete outbox list`)",
            done.rows_affected,
            ids.len()
        ));
    }
    Ok(format!("queued {} message(s) again\n", done.rows_affected))
}
