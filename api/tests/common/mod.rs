//! Helpers shared by the tests that run the real `rete` binary.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `rete` in `dir`, with none of the caller's configuration in the environment.
pub fn rete(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rete"));
    c.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("RETE_CONFIG")
        .env_remove("RETE_LISTEN")
        .env("RETE_LOG", "info");
    c
}

/// A server process, killed and reaped when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Start `rete serve --demo` on a free port; returns the process, its address
/// and everything it logs.
pub fn serve_demo(dir: &std::path::Path) -> (Server, String, Log) {
    serve_demo_on(dir, None)
}

/// The same on a given database (`None`: SQLite `rete.db` in `dir`).
pub fn serve_demo_on(dir: &std::path::Path, database_url: Option<&str>) -> (Server, String, Log) {
    let mut cmd = rete(dir);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0"]);
    serve_until_listening(cmd)
}

/// Start a `rete serve` command and wait until it listens; returns the
/// process, its address and everything it writes (stderr and stdout).
pub fn serve_until_listening(mut cmd: Command) -> (Server, String, Log) {
    // Owned by `Server` at once, so every path (a panic included) reaps it.
    let mut server = Server(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = server.0.stderr.take().unwrap();
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx_out = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx_out.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let log: Log = Default::default();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            log.lock().unwrap().push(line.clone());
            if let Some(addr) = line.split("addr=").nth(1) {
                let addr = addr.split_whitespace().next().unwrap().to_string();
                // Keep reading its output so the server never blocks on a full pipe.
                let keep = log.clone();
                std::thread::spawn(move || {
                    for line in rx {
                        keep.lock().unwrap().push(line);
                    }
                });
                return (server, addr, log);
            }
        }
    }
    panic!("rete serve did not start: {:#?}", log.lock().unwrap());
}

/// A fresh PostgreSQL database on the server `DATABASE_URL` names, for tests
/// that run `rete` processes on PostgreSQL. Named `rete_two_*`, the prefix
/// `.ci/run` drops after an interrupted run.
pub struct FreshPostgres {
    /// The new database's URL.
    pub url: String,
    admin: String,
    name: String,
}

impl FreshPostgres {
    /// `None` when `DATABASE_URL` does not point at PostgreSQL.
    pub async fn create() -> Option<FreshPostgres> {
        use sea_orm::ConnectionTrait;
        let admin = std::env::var("DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))?;
        let name = format!("rete_two_{}", uuid::Uuid::new_v4().simple());
        let url = match admin.rsplit_once('/') {
            Some((root, _)) => format!("{root}/{name}"),
            None => panic!("DATABASE_URL has no database name"),
        };
        let conn = rete_api::db::connect(&admin, 1).await.unwrap();
        conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        Some(FreshPostgres { url, admin, name })
    }

    /// Drops the database, closing whatever is still connected to it.
    pub async fn drop(self) {
        use sea_orm::ConnectionTrait;
        let conn = rete_api::db::connect(&self.admin, 1).await.unwrap();
        conn.execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .await
        .unwrap();
    }
}
