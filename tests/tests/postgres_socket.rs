//! The hub's PostgreSQL connections have Nagle's algorithm off.
//!
//! sqlx 0.9.0 stopped setting `TCP_NODELAY` (transact-rs/sqlx#4335); the
//! workspace patches sqlx-core to set it again (vendor/sqlx-core). Without it
//! a statement larger than one TLS record waits for the server's delayed ACK
//! (about 40 ms), which the access log's appender and the sync engine would
//! pay on every large batch. This test reads the option off the process's own
//! sockets, so it keeps checking when the patch is dropped for a released
//! sqlx.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use rete_tests::postgres_url;
use rustix::net::sockopt;
use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

/// Each TCP socket of this process connected to `port`, by its fd number,
/// with its `TCP_NODELAY` (the fd is duplicated with `pidfd_getfd`, which
/// needs no unsafe code).
fn tcp_sockets_to(port: u16) -> Vec<(i32, bool)> {
    let pidfd = pidfd_open(getpid(), PidfdFlags::empty()).expect("pidfd_open of this process");
    let mut found = Vec::new();
    let fds: BTreeSet<i32> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        let is_socket = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|l| l.to_string_lossy().starts_with("socket:"))
            .unwrap_or(false);
        if !is_socket {
            continue;
        }
        // The fd may have been closed by another test's task meanwhile.
        let Ok(dup) = pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let Ok(Some(peer)) = rustix::net::getpeername(&dup) else {
            continue;
        };
        let Ok(peer) = SocketAddr::try_from(peer) else {
            continue;
        };
        if peer.port() != port
            || sockopt::socket_type(&dup).ok() != Some(rustix::net::SocketType::STREAM)
        {
            continue;
        }
        let nodelay = sockopt::tcp_nodelay(&dup).expect("getsockopt TCP_NODELAY");
        found.push((fd, nodelay));
    }
    found
}

#[tokio::test]
async fn postgres_connections_disable_nagle() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: DATABASE_URL does not point at PostgreSQL");
        return;
    };
    let parsed = reqwest::Url::parse(&url).expect("DATABASE_URL is a URL");
    if parsed
        .host_str()
        .is_none_or(|h| h.starts_with('/') || h.is_empty())
    {
        eprintln!("skipped: DATABASE_URL uses a Unix socket, which has no Nagle");
        return;
    }
    let port = parsed.port().unwrap_or(5432);
    let db = rete_api::db::connect(&url, 2)
        .await
        .expect("connect to PostgreSQL");
    db.execute_raw(Statement::from_string(
        DatabaseBackend::Postgres,
        "SELECT 1",
    ))
    .await
    .expect("a query");
    // A control: a bare socket to the same port, Nagle left on, must be
    // found and read as such, or the check below would prove nothing.
    let host = parsed
        .host_str()
        .unwrap_or("127.0.0.1")
        .trim_matches(['[', ']']);
    let bare = std::net::TcpStream::connect((host, port)).expect("a bare TCP connection");
    let bare_fd = std::os::fd::AsRawFd::as_raw_fd(&bare);
    let sockets = tcp_sockets_to(port);
    assert_eq!(
        sockets.iter().find(|(fd, _)| *fd == bare_fd),
        Some(&(bare_fd, false)),
        "the control socket (Nagle on) was not read as such: {sockets:?}"
    );
    let pool: Vec<_> = sockets
        .into_iter()
        .filter(|(fd, _)| *fd != bare_fd)
        .collect();
    assert!(
        !pool.is_empty(),
        "found no TCP connection of the pool to port {port}"
    );
    for (fd, nodelay) in pool {
        assert!(
            nodelay,
            "fd {fd}, a connection to PostgreSQL, has Nagle's algorithm on (TCP_NODELAY unset)"
        );
    }
}
