//! `guildhall`: one binary for the server and the operator's commands.

use clap::Parser;

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
