//! `fathom` — an OPeNDAP / Common Data Model data server.
//!
//! `fathom serve [DIR]` serves a folder of netCDF / HDF5 files over DAP2 and DAP4;
//! `fathom info FILE` prints a file as fathom sees it; `fathom index FILE_OR_DIR` writes DMR++
//! indexes.
//!
//! Settings come from, later winning: built-in defaults, the TOML file given by `--config` (or
//! `FATHOM_CONFIG`), `FATHOM_<KEY>` environment variables, then `--set key=value`, `--bind` and
//! `DIR` on the command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing::{error, info};

mod index;

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
        /// The folder to serve (default: the `root` setting, else the bundled sample files,
        /// generated on first use), or an `s3://bucket/prefix`, or an `http(s)://host/folder/`
        /// of plain files read by ranges.
        dir: Option<PathBuf>,
        /// Address and port to listen on (default: the `bind` setting, 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// A TOML settings file (see the README's Configuration section).
        #[arg(long, env = "FATHOM_CONFIG")]
        config: Option<PathBuf>,
        /// Sets one setting, e.g. `--set max_response_bytes=100000000`; repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Print the structure of a file (dimensions, types, variables, attributes), like `ncdump -h`.
    Info {
        /// The file to describe.
        file: PathBuf,
    },
    /// Write the DMR++ index of a netCDF / HDF5 file (`X.dmrpp` beside `X`), or of every such
    /// file under a folder; indexes that are current are skipped.
    Index {
        /// The file or folder to index.
        path: PathBuf,
        /// Where to write: the index file (for a file) or the folder to mirror into (for a folder).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Files indexed at once (default: the number of cores).
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// Rewrite indexes even when they are current.
        #[arg(long)]
        force: bool,
    },
    /// A reader process of `fathom serve`: runs the netCDF / HDF5 libraries for the server,
    /// answering its requests on stdin / stdout, so a file that crashes them costs the server
    /// one request. Not for use by hand.
    #[command(hide = true)]
    Worker,
}

fn main() -> ExitCode {
    // SAFETY: the first thing the process does, while it has one thread.
    unsafe { cdm::formats::prepare_environment() };
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            dir,
            bind,
            config,
            set,
        } => {
            let config = match settings(dir, bind, config.as_deref(), &set) {
                Ok(c) => c,
                Err(message) => {
                    // Logging is not set up yet: its settings are what failed.
                    #[allow(clippy::print_stderr)]
                    {
                        eprintln!("fathom: {message}");
                    }
                    return ExitCode::FAILURE;
                }
            };
            let _flush_logs_on_exit = init_logging(&config);
            finish(serve(config))
        }
        Command::Info { file } => {
            let _flush_logs_on_exit = init_logging(&handlers::Config::default());
            finish(info_command(&file))
        }
        Command::Index {
            path,
            out,
            jobs,
            force,
        } => {
            let _flush_logs_on_exit = init_logging(&handlers::Config::default());
            finish(index::run(&path, out.as_deref(), jobs, force))
        }
        Command::Worker => {
            // No logging: stdout is the protocol, and the server reports what goes wrong.
            match cdm::isolation::serve_worker(std::io::stdin().lock(), std::io::stdout().lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
    }
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// The settings in force: defaults, then the file, then `FATHOM_*`, then the command line.
fn settings(
    dir: Option<PathBuf>,
    bind: Option<SocketAddr>,
    file: Option<&Path>,
    set: &[String],
) -> Result<handlers::Config, String> {
    let mut config = match file {
        Some(f) => handlers::Config::from_file(f).map_err(|e| e.to_string())?,
        None => handlers::Config::default(),
    };
    config
        .apply_env(|k| std::env::var(k).ok())
        .map_err(|e| e.to_string())?;
    for assignment in set {
        config.apply_flag(assignment).map_err(|e| e.to_string())?;
    }
    if let Some(b) = bind {
        config.bind = b;
    }
    if dir.is_some() {
        config.root = dir;
    }
    Ok(config)
}

/// Logs go to stderr through a background writer, so a request never waits on a terminal or
/// a pipe. The writer buffers: it writes whatever lines are queued in one syscall and flushes
/// whenever the queue is empty, so lines still appear at once when the server is idle. The
/// returned guard flushes what is left when `main` returns.
fn init_logging(config: &handlers::Config) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stderr(),
    ));
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match config.log_format {
        handlers::config::LogFormat::Json => builder.json().flatten_event(true).init(),
        handlers::config::LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    guard
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

fn serve(config: handlers::Config) -> Result<(), String> {
    let bind = config.bind;
    let mut config = config;
    let object_root = config
        .root
        .as_ref()
        .and_then(|r| r.to_str())
        .filter(|r| {
            ["s3://", "http://", "https://"]
                .iter()
                .any(|s| r.starts_with(s))
        })
        .map(str::to_owned);
    if let Some(url) = &object_root {
        // A bucket prefix or an HTTP folder as the whole tree: an object mount at `/` over an
        // empty local root.
        config
            .mounts
            .push(handlers::config::Mount::object("/", url));
        let empty = std::env::temp_dir().join(format!("fathom-root-{}", std::process::id()));
        std::fs::create_dir_all(&empty)
            .map_err(|e| format!("cannot make {}: {e}", empty.display()))?;
        config.root = Some(empty);
    }
    let dir = match config.root.clone() {
        Some(d) => d,
        None => {
            let d = testdata::default_samples_dir();
            testdata::ensure_samples(&d)
                .map_err(|e| format!("cannot write the sample files to {}: {e}", d.display()))?;
            d
        }
    };
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find the fathom executable for reader processes: {e}"))?;
    let state = handlers::AppState::with_config(&dir, config)
        .map_err(|e| format!("cannot serve {}: {e}", dir.display()))?
        .with_reader_processes(cdm::isolation::WorkerCommand {
            program: exe,
            args: vec!["worker".into()],
        });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shown = object_root.unwrap_or_else(|| state.root().display().to_string());
        info!(root = %shown, "serving on http://{addr}/");
        #[allow(clippy::print_stdout)]
        {
            println!("fathom is serving {shown} at http://{addr}/");
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
