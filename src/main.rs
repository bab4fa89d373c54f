//! `fathom` — an OPeNDAP / Common Data Model data server.
//!
//! `fathom serve [DIR]` serves a folder of netCDF / HDF5 files over DAP2 and DAP4;
//! `fathom info FILE` prints a file as fathom sees it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing::{error, info};

#[derive(Debug, Parser)]
#[command(
    name = "fathom",
    version,
    about = "An OPeNDAP / Common Data Model data server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a folder of datasets over DAP2 and DAP4.
    Serve {
        /// The folder to serve (default: the bundled sample files, generated on first use).
        dir: Option<PathBuf>,
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "FATHOM_BIND")]
        bind: SocketAddr,
    },
    /// Print the structure of a file (dimensions, types, variables, attributes), like `ncdump -h`.
    Info {
        /// The file to describe.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FATHOM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { dir, bind } => serve(dir, bind),
        Command::Info { file } => info_command(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn info_command(file: &std::path::Path) -> Result<(), String> {
    let source = cdm::catalog::open(file, None).map_err(|e| format!("{}: {e}", file.display()))?;
    let text = cdm::cdl::header(source.dataset());
    #[allow(clippy::print_stdout)]
    {
        print!("{text}");
    }
    Ok(())
}

fn serve(dir: Option<PathBuf>, bind: SocketAddr) -> Result<(), String> {
    let dir = match dir {
        Some(d) => d,
        None => {
            let d = testdata::default_samples_dir();
            testdata::ensure_samples(&d)
                .map_err(|e| format!("cannot write the sample files to {}: {e}", d.display()))?;
            d
        }
    };
    let state = handlers::AppState::new(&dir)
        .map_err(|e| format!("cannot serve {}: {e}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        info!(root = %state.root().display(), "serving on http://{addr}/");
        #[allow(clippy::print_stdout)]
        {
            println!(
                "fathom is serving {} at http://{addr}/",
                state.root().display()
            );
        }
        handlers::run(listener, Arc::new(state), shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
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
        () = ctrl_c => {},
        () = term => {},
    }
    info!("shutdown requested");
}
