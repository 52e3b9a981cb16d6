//! The `rete` binary.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc (bench/README.md, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Printed at every start of a build with the `bench-no-enforcement` feature.
const NO_ENFORCEMENT_BANNER: &str = "\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  WARNING: THIS rete IS A BENCHMARK BUILD (feature bench-no-enforcement).   !!
!!  IT DOES NOT ENFORCE THE NETWORK AGREEMENT: EVERY FIELD OF EVERY RECORD    !!
!!  IS DISCLOSED TO EVERY CALLER. NEVER RUN IT ON REAL DATA.                  !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!";

/// Printed at every start of a build with the `bench-no-audit` feature.
const NO_AUDIT_BANNER: &str = "\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  WARNING: THIS rete IS A BENCHMARK BUILD (feature bench-no-audit).         !!
!!  IT WRITES NO ACCESS LOG: NOBODY WILL KNOW WHO SAW WHAT.                   !!
!!  NEVER RUN IT ON REAL DATA.                                                !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = EnvFilter::try_from_env("RETE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("RETE_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    let cli = rete_api::cli::Cli::parse();
    if rete_api::graphql::guard::NO_ENFORCEMENT {
        eprintln!("{NO_ENFORCEMENT_BANNER}");
        tracing::warn!("built with bench-no-enforcement: the policy is NOT enforced");
        if std::env::var("RETE_BENCH_NO_ENFORCEMENT").as_deref() != Ok("benchmark-only") {
            eprintln!(
                "error: this build does not enforce the policy; it runs only for a benchmark \
                 (RETE_BENCH_NO_ENFORCEMENT=benchmark-only)"
            );
            return std::process::ExitCode::FAILURE;
        }
    }
    if rete_api::audit::NO_AUDIT {
        eprintln!("{NO_AUDIT_BANNER}");
        tracing::warn!("built with bench-no-audit: the access log is NOT written");
        if std::env::var("RETE_BENCH_NO_AUDIT").as_deref() != Ok("benchmark-only") {
            eprintln!(
                "error: this build writes no access log; it runs only for a benchmark \
                 (RETE_BENCH_NO_AUDIT=benchmark-only)"
            );
            return std::process::ExitCode::FAILURE;
        }
    }
    match rete_api::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
