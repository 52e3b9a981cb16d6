//! Database connection and migration, for SQLite (default) and PostgreSQL.
//!
//! SQLite runs in WAL mode with foreign keys on and a busy timeout, so concurrent
//! writers wait instead of failing. Errors are described by kind, constraint and
//! SQLSTATE only: database messages can echo the values of a failed row, and those
//! must never reach a log.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr};

/// Connect to `url` (`sqlite://FILE?mode=rwc` or `postgres://...`).
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    connect_as(url, max_connections, "rete").await
}

/// [`connect`], naming the pool's connections on PostgreSQL
/// (`pg_stat_activity.application_name`), e.g. the access log's appender,
/// unless the URL (or `PGAPPNAME`) names them.
pub async fn connect_as(
    url: &str,
    max_connections: u32,
    application_name: &str,
) -> Result<DatabaseConnection, DbErr> {
    let application_name = application_name.to_string();
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // A dead connection fails its statement, which the caller sees as an
        // internal error and retries; pinging every connection taken from the
        // pool would add a round trip to every statement.
        .test_before_acquire(false)
        .map_sqlx_postgres_opts(move |o| match o.get_application_name() {
            Some(_) => o,
            None => o.application_name(&application_name),
        })
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
    Database::connect(opts).await
}

/// Bring the schema up to date. Safe to run from several processes at once: on
/// PostgreSQL the whole migration runs in one transaction holding an advisory
/// lock (DDL is transactional there), so a second process waits, then finds
/// nothing to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    txn.execute_raw(Statement::from_string(
        DatabaseBackend::Postgres,
        "SELECT pg_advisory_xact_lock(7265746501)",
    ))
    .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// A description of a database error that is safe to log: no values.
pub fn describe_db_error(err: &DbErr) -> String {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => match e.as_database_error() {
            Some(db) => format!(
                "database error: sqlstate={} constraint={} kind={:?}",
                db.code().as_deref().unwrap_or("-"),
                db.constraint().unwrap_or("-"),
                db.kind()
            ),
            None => format!("database driver error: {}", sqlx_kind(e)),
        },
        DbErr::ConnectionAcquire(e) => format!("database connection acquire failed: {e}"),
        DbErr::RecordNotFound(_) => "record not found".to_string(),
        DbErr::RecordNotInserted => "record not inserted".to_string(),
        DbErr::RecordNotUpdated => "record not updated".to_string(),
        DbErr::Type(_) | DbErr::Json(_) => "value conversion failed".to_string(),
        DbErr::Migration(m) => format!("migration failed: {m}"),
        other => format!("database error: {}", variant_name(other)),
    }
}

fn sqlx_kind(e: &sea_orm::sqlx::Error) -> &'static str {
    use sea_orm::sqlx::Error as E;
    match e {
        E::Configuration(_) => "configuration",
        E::Io(_) => "io",
        E::Tls(_) => "tls",
        E::Protocol(_) => "protocol",
        E::RowNotFound => "row not found",
        E::PoolTimedOut => "pool timed out",
        E::PoolClosed => "pool closed",
        E::WorkerCrashed => "worker crashed",
        E::ColumnDecode { .. } | E::Decode(_) => "decode",
        _ => "other",
    }
}

fn variant_name(err: &DbErr) -> String {
    let debug = format!("{err:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("unknown")
        .to_string()
}

/// Is the database out of reach, rather than refusing this statement? A lost
/// or refused connection, no pooled connection in time, or PostgreSQL's
/// classes 08 (connection exception) and 57 (operator intervention: shutting
/// down, starting up). The request may be sent again once it is back.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as E;
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx.as_database_error() {
        Some(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        None => matches!(
            sqlx.as_ref(),
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed
        ),
    }
}

/// Is this a unique-key violation (a duplicate)?
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::sqlx::Error as SqlxError;
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::is_unavailable;

    fn sqlx(e: SqlxError) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn a_database_out_of_reach_is_unavailable_not_internal() {
        assert!(is_unavailable(&DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout
        )));
        assert!(is_unavailable(&sqlx(SqlxError::PoolTimedOut)));
        assert!(is_unavailable(&sqlx(SqlxError::PoolClosed)));
        assert!(is_unavailable(&sqlx(SqlxError::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        )))));
    }

    #[test]
    fn a_refused_statement_or_a_missing_row_is_not_unavailable() {
        assert!(!is_unavailable(&sqlx(SqlxError::RowNotFound)));
        assert!(!is_unavailable(&DbErr::RecordNotFound("case".into())));
        assert!(!is_unavailable(&DbErr::Custom("x".into())));
    }
}
