//! `rete-bench`: requests per second of `case(id)` with its subjects through the
//! hub, beside the same rows read by a plain sqlx point query on the same
//! PostgreSQL database, in one run.
//!
//! Two phases, one after the other, with the same concurrency and duration:
//!
//! * `hub`: `POST /graphql` with the `case(id)` query below, random ids, over
//!   keep-alive HTTP/1.1 connections (one per worker); an answer counts when it
//!   is 200 with `data.case.subjects` and no `errors`.
//! * `sqlx`: the same rows by one point query (`case_file ⋈ case_subject ⋈
//!   person`), decoded into Rust values, on a pool as large as the concurrency.
//!
//! * with `--enforcement-on-url` and `--enforcement-off-url`: the same hub query
//!   against a hub enforcing the network agreement and one built with the
//!   `bench-no-enforcement` feature, in alternating rounds after the two phases
//!   above; `enforcement_ratio = on_rps / off_rps`.
//! * with `--audit-off-url` as well: a third hub, enforcing the same agreement
//!   but built with the `bench-no-audit` feature (no access-log entry), joins
//!   the alternating rounds; `audit_overhead = audit_off_rps / on_rps` is what
//!   the log costs (goal: at most 1.15). (The unenforced build still logs
//!   what it discloses, so `enforcement_ratio` compares two logging hubs.)
//! * with `--audit-only`: only the enforcing hub and the log-less one, in
//!   alternating rounds (no `hub`/`sqlx` phases, no statement count, no
//!   unenforced hub): the access log's cost in a third of the time.
//!
//! Alternating rounds run the hubs in order, then in the reverse order (ABBA),
//! so that a drift over the run does not always fall on the same hub.
//!
//! Each phase is preceded by a warm-up whose figures are discarded. Around each
//! measured phase the driver also reads the CPU milliseconds per request of the
//! hub (`--hub-pid`), of the PostgreSQL backends of the database and of the
//! driver itself (from `/proc`, Linux only; `-` elsewhere). After the phases it
//! counts the SQL statements one request costs on each side: committed
//! transactions of the database in `pg_stat_database` (every autocommit statement
//! is one) around a few sequential requests, after letting the backends report
//! their statistics; the sqlx side, one statement by construction, is the
//! control. The output is plain `key=value` lines on stdout (see
//! bench/README.md).
//!
//! Loopback only: the hub URL and the database host must be 127.0.0.1, ::1 or
//! localhost. The run is bounded in time and stops by itself; the exit status is
//! 1 if any request failed (the figures are printed first).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::Parser;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use serde_json::{Value, json};
use uuid::Uuid;

/// The hub's side: a case with its subjects and their identity.
const CASE_QUERY: &str = "query($id: ID!){ case(id:$id){ id reference status subjects { role person { id givenName familyName birthOn } } } }";

/// The same rows, read directly.
const CASE_SQL: &str = "SELECT c.id, c.reference, c.status, s.role, p.id, p.given_name, p.family_name, p.birth_on \
     FROM case_file c JOIN case_subject s ON s.case_id = c.id JOIN person p ON p.id = s.person_id \
     WHERE c.id = $1";

/// The target of the issue: hub throughput at least half of plain sqlx.
const TARGET_RATIO: f64 = 0.5;

type CaseRow = (
    Uuid,
    String,
    String,
    String,
    Uuid,
    String,
    String,
    Option<NaiveDate>,
);

#[derive(Parser, Debug)]
#[command(
    name = "rete-bench",
    about = "case(id) through the Rete hub vs a plain sqlx point query, on PostgreSQL"
)]
struct Args {
    /// Base URL of a running hub, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long, env = "RETE_BENCH_HUB_URL")]
    hub_url: String,
    /// Bearer token for the hub (prefer the environment variable: argv is public).
    #[arg(long, env = "RETE_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// The hub's PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/rete_bench.
    #[arg(long, env = "RETE_BENCH_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The agency the token speaks for; the benchmark reads cases it leads.
    #[arg(long, default_value = "polo-nord")]
    agency: String,
    /// How many case ids to draw from.
    #[arg(long, default_value_t = 100)]
    cases: i64,
    /// Requests in flight (workers), and the size of the sqlx pool.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds before each phase (not measured).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Rounds of (hub phase, sqlx phase); more than one evens out the noise of a
    /// shared machine. The figures add up the rounds; each round is also printed.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// Process id of the hub, to report its CPU time per request (Linux).
    #[arg(long)]
    hub_pid: Option<u32>,
    /// The cost of enforcement: a hub serving the network agreement (loopback
    /// only). With `--enforcement-off-url`, the driver adds rounds of the same
    /// query against both and prints `enforcement_ratio = on_rps / off_rps`.
    #[arg(long)]
    enforcement_on_url: Option<String>,
    /// A hub built with the `bench-no-enforcement` feature (discloses without
    /// deciding), on the same database.
    #[arg(long, requires = "enforcement_on_url")]
    enforcement_off_url: Option<String>,
    #[arg(long)]
    enforcement_on_pid: Option<u32>,
    #[arg(long)]
    enforcement_off_pid: Option<u32>,
    /// A hub built with the `bench-no-audit` feature (enforces the same
    /// agreement, writes no access log), on the same database.
    #[arg(long, requires = "enforcement_on_url")]
    audit_off_url: Option<String>,
    #[arg(long)]
    audit_off_pid: Option<u32>,
    /// Measure only the access log's cost: `--enforcement-on-url` against
    /// `--audit-off-url`, nothing else.
    #[arg(long, requires = "audit_off_url")]
    audit_only: bool,
}

/// The access log's overhead the issue allows: logging on at most this much
/// slower than off.
const AUDIT_TARGET: f64 = 1.15;

/// What one phase hits.
enum Target {
    Hub {
        client: reqwest::Client,
        url: String,
        /// One JSON body per case id (same index as the ids).
        bodies: Vec<String>,
    },
    Sql {
        pool: PgPool,
    },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Hub { .. } => "hub",
            Target::Sql { .. } => "sqlx",
        }
    }

    /// One request for case number `i` of `ids`; the number of subjects read.
    async fn call(&self, ids: &[Uuid], i: usize) -> Result<usize, String> {
        match self {
            Target::Hub {
                client,
                url,
                bodies,
            } => {
                let resp = client
                    .post(url)
                    .body(bodies[i].clone())
                    .send()
                    .await
                    .map_err(|e| format!("http: {e}"))?;
                let status = resp.status();
                let bytes = resp.bytes().await.map_err(|e| format!("http body: {e}"))?;
                if status != reqwest::StatusCode::OK {
                    return Err(format!(
                        "status {status}: {}",
                        String::from_utf8_lossy(&bytes)
                    ));
                }
                let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("json: {e}"))?;
                if let Some(errors) = v.get("errors") {
                    return Err(format!("graphql errors: {errors}"));
                }
                let subjects = v
                    .pointer("/data/case/subjects")
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("no data.case.subjects in {v}"))?;
                if subjects.is_empty() {
                    return Err(format!("case {} has no subjects through the hub", ids[i]));
                }
                Ok(subjects.len())
            }
            Target::Sql { pool } => {
                let rows: Vec<CaseRow> = sea_orm::sqlx::query_as(CASE_SQL)
                    .bind(ids[i])
                    .fetch_all(pool)
                    .await
                    .map_err(|e| format!("sqlx: {e}"))?;
                if rows.is_empty() {
                    return Err(format!("case {} has no rows", ids[i]));
                }
                Ok(rows.len())
            }
        }
    }
}

/// A tiny per-worker generator (splitmix64): no dependency, no shared state.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// The figures of one phase.
struct Stats {
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    /// Latencies of the successful requests, sorted.
    latencies: Vec<Duration>,
}

impl Stats {
    /// Add another measured phase of the same side.
    fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
    }

    fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[idx].as_secs_f64() * 1000.0
    }
}

/// Run `concurrency` workers against `target` for `duration`: each sends one
/// request at a time (closed loop) until the deadline.
async fn phase(
    target: Arc<Target>,
    ids: Arc<Vec<Uuid>>,
    concurrency: usize,
    duration: Duration,
    seed: u64,
) -> Stats {
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let target = target.clone();
        let ids = ids.clone();
        workers.push(tokio::spawn(async move {
            let mut rng = Rng(seed ^ (w as u64).wrapping_mul(0xA076_1D64_78BD_642F));
            let mut latencies = Vec::with_capacity(4096);
            let mut errors = 0usize;
            let mut first_error = None;
            while Instant::now() < deadline {
                let i = rng.below(ids.len());
                let t = Instant::now();
                match target.call(&ids, i).await {
                    Ok(_) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut stats = Stats {
        ok: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for w in workers {
        match w.await {
            Ok((lat, errors, first_error)) => {
                stats.latencies.extend(lat);
                stats.errors += errors;
                if stats.first_error.is_none() {
                    stats.first_error = first_error;
                }
            }
            Err(e) => {
                stats.errors += 1;
                stats
                    .first_error
                    .get_or_insert(format!("worker panicked: {e}"));
            }
        }
    }
    stats.elapsed = start.elapsed();
    stats.ok = stats.latencies.len();
    stats.latencies.sort_unstable();
    stats
}

/// Counters read around a measured phase, to attribute its cost.
#[derive(Clone, Copy, Default)]
struct Counters {
    /// Committed transactions in the benchmark database (`pg_stat_database`):
    /// each autocommit statement is one, so this counts SQL statements.
    xacts: Option<i64>,
    /// CPU ticks (utime + stime) of the hub, of this driver, and of the
    /// PostgreSQL backends serving the benchmark database.
    hub_ticks: Option<u64>,
    bench_ticks: Option<u64>,
    pg_ticks: Option<u64>,
}

/// `utime + stime` of a process, in clock ticks, from `/proc/<pid>/stat`.
fn proc_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of the PostgreSQL backends connected to `database` (their command
/// line reads `postgres: USER DATABASE HOST(PORT) STATE`).
fn pg_backend_ticks(database: &str) -> Option<u64> {
    let needle = format!(" {database} ");
    let mut total = 0;
    let mut seen = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.starts_with("postgres:") && cmd.contains(&needle) {
            total += proc_ticks(pid).unwrap_or(0);
            seen = true;
        }
    }
    seen.then_some(total)
}

async fn counters(pool: &PgPool, database: &str, hub_pid: Option<u32>) -> Counters {
    let xacts = sea_orm::sqlx::query_scalar::<_, i64>(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .ok();
    Counters {
        xacts,
        hub_ticks: hub_pid.and_then(|p| proc_ticks(&p.to_string())),
        bench_ticks: proc_ticks("self"),
        pg_ticks: pg_backend_ticks(database),
    }
}

/// What measured phases cost in all: requests and CPU ticks.
#[derive(Clone, Copy, Default)]
struct Cost {
    requests: usize,
    hub_ticks: Option<u64>,
    bench_ticks: Option<u64>,
    pg_ticks: Option<u64>,
}

impl Cost {
    fn between(a: Counters, b: Counters, requests: usize) -> Cost {
        let d = |x: Option<u64>, y: Option<u64>| Some(y?.saturating_sub(x?));
        Cost {
            requests,
            hub_ticks: d(a.hub_ticks, b.hub_ticks),
            bench_ticks: d(a.bench_ticks, b.bench_ticks),
            pg_ticks: d(a.pg_ticks, b.pg_ticks),
        }
    }

    fn merge(&mut self, o: Cost) {
        fn add<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
            Some(a? + b?)
        }
        self.requests += o.requests;
        self.hub_ticks = add(self.hub_ticks, o.hub_ticks);
        self.bench_ticks = add(self.bench_ticks, o.bench_ticks);
        self.pg_ticks = add(self.pg_ticks, o.pg_ticks);
    }

    /// CPU milliseconds per request (USER_HZ is 100 on Linux).
    fn ms_per_req(&self, ticks: Option<u64>) -> Option<f64> {
        ticks.map(|t| t as f64 * 10.0 / self.requests.max(1) as f64)
    }
}

/// How long an idle PostgreSQL backend may keep its statistics before reporting
/// them (PGSTAT_IDLE_INTERVAL is 10 s): wait this long before reading
/// `pg_stat_database`.
const STATS_SETTLE: Duration = Duration::from_secs(11);

/// Sequential requests per side when counting statements.
const COUNT_REQUESTS: usize = 50;

/// SQL statements per request of each target: committed transactions of the
/// database around `COUNT_REQUESTS` sequential requests, nothing else running.
async fn statements_per_request(
    targets: &[&Target],
    ids: &[Uuid],
    probe: &PgPool,
    database: &str,
) -> Result<Vec<f64>, String> {
    let xacts = async || {
        tokio::time::sleep(STATS_SETTLE).await;
        counters(probe, database, None)
            .await
            .xacts
            .ok_or_else(|| "cannot read pg_stat_database".to_string())
    };
    eprintln!(
        "rete-bench: counting SQL statements per request ({} s)",
        (targets.len() + 1) * STATS_SETTLE.as_secs() as usize
    );
    let mut out = Vec::new();
    let mut before = xacts().await?;
    for target in targets {
        for i in 0..COUNT_REQUESTS {
            target
                .call(ids, i % ids.len())
                .await
                .map_err(|e| format!("{}: {e}", target.name()))?;
        }
        let after = xacts().await?;
        // Minus the transaction of the previous `counters` query itself.
        out.push((after - before - 1) as f64 / COUNT_REQUESTS as f64);
        before = after;
    }
    Ok(out)
}

/// Warm up, then measure.
#[allow(clippy::too_many_arguments)]
async fn warm_and_measure(
    target: Arc<Target>,
    name: &str,
    hub_pid: Option<u32>,
    ids: &Arc<Vec<Uuid>>,
    args: &Args,
    seed: u64,
    probe: &PgPool,
    database: &str,
) -> (Stats, Cost) {
    if args.warmup > 0.0 {
        eprintln!("rete-bench: {name}: warm-up {:.1} s", args.warmup);
        let w = phase(
            target.clone(),
            ids.clone(),
            args.concurrency,
            Duration::from_secs_f64(args.warmup),
            seed,
        )
        .await;
        if let Some(e) = &w.first_error {
            eprintln!(
                "rete-bench: {name}: warm-up had {} errors, first: {e}",
                w.errors
            );
        }
    }
    let before = counters(probe, database, hub_pid).await;
    eprintln!(
        "rete-bench: {name}: measuring {:.1} s at concurrency {}",
        args.duration, args.concurrency
    );
    let stats = phase(
        target,
        ids.clone(),
        args.concurrency,
        Duration::from_secs_f64(args.duration),
        seed.rotate_left(17),
    )
    .await;
    let after = counters(probe, database, hub_pid).await;
    let cost = Cost::between(before, after, stats.ok + stats.errors);
    (stats, cost)
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn print_cost(name: &str, c: &Cost) {
    let f = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |x| format!("{x:.digits$}"));
    println!(
        "{name}_hub_cpu_ms_per_req={} {name}_pg_cpu_ms_per_req={} {name}_bench_cpu_ms_per_req={}",
        f(c.ms_per_req(c.hub_ticks), 3),
        f(c.ms_per_req(c.pg_ticks), 3),
        f(c.ms_per_req(c.bench_ticks), 3)
    );
}

fn print_stats(name: &str, s: &Stats) {
    println!(
        "{name}_rps={:.1} {name}_p50_ms={:.2} {name}_p99_ms={:.2} {name}_ok={} {name}_errors={} {name}_seconds={:.2}",
        s.rps(),
        s.percentile_ms(50.0),
        s.percentile_ms(99.0),
        s.ok,
        s.errors,
        s.elapsed.as_secs_f64()
    );
    if let Some(e) = &s.first_error {
        let short: String = e.chars().take(400).collect();
        println!("{name}_first_error={short}");
    }
}

/// The access log's figures: the log-less hub's, the CPU of a request with and
/// without the log, and `audit_overhead = off_rps / on_rps`. False if the
/// log-less hub failed a request.
fn print_audit(on: &Stats, on_cost: &Cost, off: &Stats, off_cost: &Cost) -> bool {
    print_stats("audit_off", off);
    print_cost("audit_off", off_cost);
    let total = |c: &Cost| {
        Some(c.ms_per_req(c.hub_ticks)? + c.ms_per_req(c.pg_ticks)? + c.ms_per_req(c.bench_ticks)?)
    };
    if let (Some(a), Some(b)) = (total(on_cost), total(off_cost)) {
        println!(
            "audit_on_total_cpu_ms_per_req={a:.3} audit_off_total_cpu_ms_per_req={b:.3} audit_cpu_overhead={:.3}",
            if b > 0.0 { a / b } else { f64::NAN }
        );
    }
    let overhead = if on.rps() > 0.0 {
        off.rps() / on.rps()
    } else {
        f64::NAN
    };
    println!(
        "audit_on_rps={:.1} audit_off_rps={:.1} audit_overhead={overhead:.3} audit_target={AUDIT_TARGET} meets_audit_target={}",
        on.rps(),
        off.rps(),
        overhead <= AUDIT_TARGET
    );
    off.errors == 0 && off.ok > 0
}

async fn run(args: Args) -> Result<bool, String> {
    if args.concurrency == 0 || args.cases <= 0 || !(1..=10).contains(&args.rounds) {
        return Err("--concurrency and --cases must be at least 1, --rounds 1 to 10".into());
    }
    if !(args.duration > 0.0 && args.duration <= 600.0 && args.warmup >= 0.0 && args.warmup <= 60.0)
    {
        return Err("--duration must be in (0, 600] s and --warmup in [0, 60] s".into());
    }
    if args.enforcement_on_url.is_some() && args.enforcement_off_url.is_none() && !args.audit_only {
        return Err("--enforcement-on-url needs --enforcement-off-url (or --audit-only)".into());
    }

    // Loopback only, for both sides.
    let hub = reqwest::Url::parse(&args.hub_url).map_err(|e| format!("--hub-url: {e}"))?;
    if !hub.host_str().is_some_and(is_loopback_host) {
        return Err(format!(
            "--hub-url must be on loopback (127.0.0.1), got {}",
            hub.host_str().unwrap_or("-")
        ));
    }
    let pg = PgConnectOptions::from_str(&args.database_url)
        .map_err(|e| format!("--database-url: {e}"))?;
    if !is_loopback_host(pg.get_host()) {
        return Err(format!(
            "--database-url must be on loopback (127.0.0.1), got {}",
            pg.get_host()
        ));
    }

    let database = pg.get_database().unwrap_or("postgres").to_string();
    let pool = PgPoolOptions::new()
        .max_connections(args.concurrency as u32)
        .min_connections(args.concurrency as u32)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(pg)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;

    let ids: Vec<Uuid> = sea_orm::sqlx::query_scalar(
        "SELECT id FROM case_file WHERE lead_agency_id = $1 ORDER BY reference LIMIT $2",
    )
    .bind(&args.agency)
    .bind(args.cases)
    .fetch_all(&pool)
    .await
    .map_err(|e| format!("cannot read case ids: {e}"))?;
    if ids.is_empty() {
        return Err(format!(
            "no case is led by `{}`: is the demo network seeded?",
            args.agency
        ));
    }
    let ids = Arc::new(ids);

    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/graphql-response+json"),
    );
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", args.token.trim()))
        .map_err(|_| "the token is not a valid header value".to_string())?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let url = hub.join("/graphql").map_err(|e| e.to_string())?.to_string();
    let bodies = ids
        .iter()
        .map(|id| json!({"query": CASE_QUERY, "variables": {"id": id.to_string()}}).to_string())
        .collect();
    let hub_target = Arc::new(Target::Hub {
        client: client.clone(),
        url,
        bodies,
    });
    let sql_target = Arc::new(Target::Sql { pool: pool.clone() });

    // The two sides must read the same rows: compare them on every case once.
    let mut subjects = 0usize;
    for i in 0..ids.len() {
        let via_hub = hub_target
            .call(&ids, i)
            .await
            .map_err(|e| format!("hub check failed: {e}"))?;
        let via_sql = sql_target
            .call(&ids, i)
            .await
            .map_err(|e| format!("sqlx check failed: {e}"))?;
        if via_hub != via_sql {
            return Err(format!(
                "case {}: the hub returned {via_hub} subjects, sqlx {via_sql} rows",
                ids[i]
            ));
        }
        subjects += via_sql;
    }

    println!(
        "cases={} subjects_per_case={:.2} concurrency={} duration_s={} warmup_s={} rounds={} agency={}",
        ids.len(),
        subjects as f64 / ids.len() as f64,
        args.concurrency,
        args.duration,
        args.warmup,
        args.rounds,
        args.agency
    );

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5EED);
    // A separate connection reads the counters, outside the measured pool.
    let probe = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(PgConnectOptions::from_str(&args.database_url).map_err(|e| e.to_string())?)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    if args.audit_only {
        let on = args.enforcement_on_url.as_ref();
        let off = args.audit_off_url.as_ref();
        let mut results = enforcement_cost(
            &args,
            [on, None, off],
            &client,
            &hub_target,
            &ids,
            seed,
            &probe,
            &database,
        )
        .await?;
        pool.close().await;
        probe.close().await;
        let (a, a_cost) = results.remove(1);
        let (on, on_cost) = results.remove(0);
        print_stats("enforcement_on", &on);
        print_cost("enforcement_on", &on_cost);
        let audit_ok = print_audit(&on, &on_cost, &a, &a_cost);
        return Ok(audit_ok && on.errors == 0 && on.ok > 0);
    }
    let mut hub: Option<(Stats, Cost)> = None;
    let mut sql: Option<(Stats, Cost)> = None;
    for round in 1..=args.rounds {
        let seed = seed.wrapping_add(u64::from(round).wrapping_mul(0x9E37_79B9));
        let (h, hc) = warm_and_measure(
            hub_target.clone(),
            "hub",
            args.hub_pid,
            &ids,
            &args,
            seed,
            &probe,
            &database,
        )
        .await;
        let (q, qc) = warm_and_measure(
            sql_target.clone(),
            "sqlx",
            args.hub_pid,
            &ids,
            &args,
            seed,
            &probe,
            &database,
        )
        .await;
        if args.rounds > 1 {
            println!(
                "round={round} hub_rps={:.1} sqlx_rps={:.1} ratio={:.3}",
                h.rps(),
                q.rps(),
                h.rps() / q.rps()
            );
        }
        for ((stats, cost), acc) in [((h, hc), &mut hub), ((q, qc), &mut sql)] {
            match acc {
                Some((s, c)) => {
                    s.merge(stats);
                    c.merge(cost);
                }
                None => *acc = Some((stats, cost)),
            }
        }
    }
    let (Some((hub_stats, hub_cost)), Some((sql_stats, sql_cost))) = (hub, sql) else {
        return Err("no round ran".into());
    };
    // Counted last, when every pooled connection has prepared every statement
    // (a first use prepares, and a prepare is one more transaction).
    let counted =
        statements_per_request(&[&hub_target, &sql_target], &ids, &probe, &database).await?;
    println!(
        "hub_sql_statements_per_req={:.2} sqlx_sql_statements_per_req={:.2}",
        counted[0], counted[1]
    );
    let enforcement = match (&args.enforcement_on_url, &args.enforcement_off_url) {
        (Some(on), Some(off)) => Some(
            enforcement_cost(
                &args,
                [Some(on), Some(off), args.audit_off_url.as_ref()],
                &client,
                &hub_target,
                &ids,
                seed,
                &probe,
                &database,
            )
            .await?,
        ),
        _ => None,
    };
    pool.close().await;
    probe.close().await;

    print_stats("hub", &hub_stats);
    print_cost("hub", &hub_cost);
    print_stats("sqlx", &sql_stats);
    print_cost("sqlx", &sql_cost);
    // CPU milliseconds of one request, all processes on the machine that serve it
    // (hub + PostgreSQL backends + driver): on a CPU-bound machine their inverse
    // ratio predicts the throughput ratio, and it is steadier than rps when other
    // work shares the machine.
    // Needs --hub-pid (the hub is idle, near 0, in the sqlx phase).
    let total = |c: &Cost| {
        Some(c.ms_per_req(c.hub_ticks)? + c.ms_per_req(c.pg_ticks)? + c.ms_per_req(c.bench_ticks)?)
    };
    if let (Some(h), Some(q)) = (total(&hub_cost), total(&sql_cost)) {
        println!(
            "hub_total_cpu_ms_per_req={h:.3} sqlx_total_cpu_ms_per_req={q:.3} cpu_ratio={:.3}",
            if h > 0.0 { q / h } else { f64::NAN }
        );
    }
    let ratio = if sql_stats.rps() > 0.0 {
        hub_stats.rps() / sql_stats.rps()
    } else {
        f64::NAN
    };
    println!(
        "hub_rps={:.1} sqlx_rps={:.1} ratio={:.3} target={TARGET_RATIO} meets_target={}",
        hub_stats.rps(),
        sql_stats.rps(),
        ratio,
        ratio >= TARGET_RATIO
    );
    let enforcement_ok = match enforcement {
        Some(mut results) => {
            let audit_off = (results.len() == 3).then(|| results.remove(2));
            let (off, off_cost) = results.remove(1);
            let (on, on_cost) = results.remove(0);
            let audit_ok = match audit_off {
                Some((a, a_cost)) => print_audit(&on, &on_cost, &a, &a_cost),
                None => true,
            };
            print_stats("enforcement_on", &on);
            print_cost("enforcement_on", &on_cost);
            print_stats("enforcement_off", &off);
            print_cost("enforcement_off", &off_cost);
            let hub_cpu = |c: &Cost| c.ms_per_req(c.hub_ticks);
            if let (Some(a), Some(b)) = (hub_cpu(&on_cost), hub_cpu(&off_cost)) {
                println!(
                    "enforcement_on_hub_cpu_ms_per_req={a:.3} enforcement_off_hub_cpu_ms_per_req={b:.3} enforcement_cpu_ratio={:.3}",
                    if a > 0.0 { b / a } else { f64::NAN }
                );
            }
            println!(
                "enforcement_on_rps={:.1} enforcement_off_rps={:.1} enforcement_ratio={:.3}",
                on.rps(),
                off.rps(),
                if off.rps() > 0.0 {
                    on.rps() / off.rps()
                } else {
                    f64::NAN
                }
            );
            audit_ok && on.errors == 0 && off.errors == 0 && on.ok > 0 && off.ok > 0
        }
        None => true,
    };
    Ok(hub_stats.errors == 0
        && sql_stats.errors == 0
        && hub_stats.ok > 0
        && sql_stats.ok > 0
        && enforcement_ok)
}

/// The same `case(id)` query against a hub that enforces the network agreement,
/// one built without enforcement and (if given) one enforcing it without the
/// access log, in alternating rounds: each one's figures and cost, in that
/// order.
#[allow(clippy::too_many_arguments)]
async fn enforcement_cost(
    args: &Args,
    urls: [Option<&String>; 3],
    client: &reqwest::Client,
    reference: &Target,
    ids: &Arc<Vec<Uuid>>,
    seed: u64,
    probe: &PgPool,
    database: &str,
) -> Result<Vec<(Stats, Cost)>, String> {
    let Target::Hub { bodies, .. } = reference else {
        return Err("no hub target".into());
    };
    let flags = [
        "--enforcement-on-url",
        "--enforcement-off-url",
        "--audit-off-url",
    ];
    let names = ["enforcement_on", "enforcement_off", "audit_off"];
    let all_pids = [
        args.enforcement_on_pid,
        args.enforcement_off_pid,
        args.audit_off_pid,
    ];
    let mut targets = Vec::new();
    let mut pids = Vec::new();
    let mut used = Vec::new();
    for k in 0..3 {
        let Some(url) = urls[k] else { continue };
        let u = reqwest::Url::parse(url).map_err(|e| format!("{}: {e}", flags[k]))?;
        if !u.host_str().is_some_and(is_loopback_host) {
            return Err(format!("{} must be on loopback (127.0.0.1)", flags[k]));
        }
        targets.push(Arc::new(Target::Hub {
            client: client.clone(),
            url: u.join("/graphql").map_err(|e| e.to_string())?.to_string(),
            bodies: bodies.clone(),
        }));
        pids.push(all_pids[k]);
        used.push(names[k]);
    }
    // Each answers every case with its subjects, as the reference hub does.
    for i in 0..ids.len() {
        let want = reference.call(ids, i).await?;
        for (t, name) in targets.iter().zip(&used) {
            let got = t
                .call(ids, i)
                .await
                .map_err(|e| format!("{name} check failed: {e}"))?;
            if got != want {
                return Err(format!(
                    "case {}: {name} returned {got} subjects, the hub {want}",
                    ids[i]
                ));
            }
        }
    }
    let mut acc: Vec<Option<(Stats, Cost)>> = (0..targets.len()).map(|_| None).collect();
    for round in 1..=args.rounds {
        let seed = seed.wrapping_add(u64::from(round).wrapping_mul(0x51_7CC1_B727));
        let mut rps = vec![0.0; targets.len()];
        // ABBA: every other round runs the hubs in the reverse order, so a
        // drift over the run (a growing log, a checkpoint, a neighbour) does
        // not always fall on the same hub.
        let order: Vec<usize> = if round % 2 == 1 {
            (0..targets.len()).collect()
        } else {
            (0..targets.len()).rev().collect()
        };
        for k in order {
            let (stats, cost) = warm_and_measure(
                targets[k].clone(),
                used[k],
                pids[k],
                ids,
                args,
                seed,
                probe,
                database,
            )
            .await;
            rps[k] = stats.rps();
            match &mut acc[k] {
                Some((s, c)) => {
                    s.merge(stats);
                    c.merge(cost);
                }
                None => acc[k] = Some((stats, cost)),
            }
        }
        if args.rounds > 1 {
            let line: Vec<String> = used
                .iter()
                .zip(&rps)
                .map(|(n, r)| format!("{n}_rps={r:.1}"))
                .collect();
            println!("round={round} {}", line.join(" "));
        }
    }
    acc.into_iter()
        .map(|a| a.ok_or_else(|| "no enforcement round ran".to_string()))
        .collect()
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rete-bench: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // A hard bound on the whole run: both phases, their warm-ups, the checks.
    let per_phase = args.duration.clamp(0.0, 600.0) + args.warmup.clamp(0.0, 60.0);
    let counting = if args.audit_only {
        0.0
    } else {
        3.0 * STATS_SETTLE.as_secs_f64()
    };
    let phases = match (&args.enforcement_on_url, &args.audit_off_url) {
        _ if args.audit_only => 2.0,
        (Some(_), Some(_)) => 5.0,
        (Some(_), None) => 4.0,
        _ => 2.0,
    };
    let bound = Duration::from_secs_f64(
        phases * f64::from(args.rounds.clamp(1, 10)) * per_phase + counting + 120.0,
    );
    let outcome = runtime.block_on(async { tokio::time::timeout(bound, run(args)).await });
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
        Ok(Ok(true)) => std::process::ExitCode::SUCCESS,
        Ok(Ok(false)) => {
            eprintln!("rete-bench: some requests failed (see *_errors and *_first_error above)");
            std::process::ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("rete-bench: {e}");
            std::process::ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("rete-bench: gave up after {} s", bound.as_secs());
            std::process::ExitCode::FAILURE
        }
    }
}
