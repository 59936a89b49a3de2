//! `guildhall`: one binary for the server and the operator's commands.

use clap::Parser;

/// mimalloc over glibc's malloc: serving a SCIM page or an event page
/// allocates and frees tens of thousands of small JSON nodes, and glibc
/// spent a quarter of that time in malloc and free (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = guildhall::cli::Cli::parse();
    match guildhall::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
