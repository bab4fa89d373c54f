//! `testdata` command: writes the sample set or the benchmark files into a folder and prints
//! the paths written.
//!
//! ```text
//! cargo run -p testdata -- samples DIR
//! cargo run --release -p testdata -- bench DIR
//! cargo run --release -p testdata -- corrupt DIR
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use testdata::{Error, write_bench_files, write_corrupt_files, write_samples};

/// How to call the tool, shown on misuse.
const USAGE: &str = "usage: testdata samples DIR | testdata bench DIR | testdata corrupt DIR";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match run(&arguments) {
        Ok(paths) => {
            let mut stdout = std::io::stdout().lock();
            for path in paths {
                // A closed pipe (e.g. `| head`) is not worth a panic.
                if writeln!(stdout, "{}", path.display()).is_err() {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("testdata: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the arguments and writes the requested set.
fn run(arguments: &[String]) -> Result<Vec<PathBuf>, Error> {
    match arguments {
        [command, dir] if command == "samples" => write_samples(Path::new(dir)),
        [command, dir] if command == "bench" => write_bench_files(Path::new(dir)),
        [command, dir] if command == "corrupt" => write_corrupt_files(Path::new(dir)),
        _ => Err(Error::Usage(USAGE.to_owned())),
    }
}
