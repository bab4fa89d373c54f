//! `fathom index`: writes the DMR++ of a netCDF / HDF5 file, or of every such file under a
//! folder, beside each file (`X.dmrpp`) or where `-o` says.
//!
//! Files are indexed in parallel; an index whose recorded size and modification time match its
//! file is current and skipped, so an interrupted run resumes where it stopped. Each index is
//! written to a hidden temporary file and renamed into place, so an interruption never leaves
//! a half-written `X.dmrpp`. On a terminal, a progress bar shows files done / total, bytes,
//! rate and time left.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cdm::formats::dmrpp::{self, write};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What one file's indexing came to.
enum Outcome {
    Written { left_out: Vec<(String, String)> },
    Current,
}

/// Folders deeper than this are not walked (a symlink loop ends here).
const MAX_DEPTH: usize = 64;

/// Runs `fathom index`.
pub(crate) fn run(
    target: &Path,
    out: Option<&Path>,
    jobs: Option<usize>,
    force: bool,
) -> Result<(), String> {
    let meta = std::fs::metadata(target).map_err(|e| format!("{}: {e}", target.display()))?;
    let pairs: Vec<(PathBuf, PathBuf)> = if meta.is_dir() {
        let mut files = Vec::new();
        walk(target, 0, &mut files);
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let dest = match out {
                    Some(o) => {
                        let rel = f.strip_prefix(target).unwrap_or(&f);
                        sidecar_name(&o.join(rel))
                    }
                    None => sidecar_name(&f),
                };
                (f, dest)
            })
            .collect()
    } else {
        let dest = out.map_or_else(|| sidecar_name(target), Path::to_path_buf);
        vec![(target.to_path_buf(), dest)]
    };
    let total_bytes: u64 = pairs
        .iter()
        .filter_map(|(f, _)| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);

    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} files  {bytes}/{total_bytes}  {binary_bytes_per_sec}  ETA {eta}  {wide_bar}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let n = pairs.len();
    bar.set_message(format!("0/{n}"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let results = runtime.block_on(async {
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        futures::stream::iter(pairs)
            .map(|(file, dest)| {
                let bar = bar.clone();
                let done = Arc::clone(&done);
                async move {
                    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                    let r = index_one(&file, &dest, force).await;
                    let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    bar.inc(size);
                    bar.set_message(format!("{k}/{n}"));
                    (file, dest, r)
                }
            })
            .buffer_unordered(jobs)
            .collect::<Vec<_>>()
            .await
    });
    bar.finish_and_clear();

    let (mut written, mut current, mut failed) = (0, 0, 0);
    #[allow(clippy::print_stderr, clippy::print_stdout)]
    for (file, dest, r) in results {
        match r {
            Ok(Outcome::Written { left_out }) => {
                written += 1;
                println!("{}", dest.display());
                for (var, why) in left_out {
                    eprintln!(
                        "{}: {var} has no location in the index: {why}",
                        file.display()
                    );
                }
            }
            Ok(Outcome::Current) => current += 1,
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e}", file.display());
            }
        }
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("fathom index: {written} written, {current} already current, {failed} failed");
    }
    if failed > 0 {
        Err(format!("{failed} of {n} files could not be indexed"))
    } else {
        Ok(())
    }
}

/// `X.dmrpp` for `X`.
fn sidecar_name(p: &Path) -> PathBuf {
    let mut name = p.file_name().unwrap_or_default().to_os_string();
    name.push(".dmrpp");
    p.with_file_name(name)
}

/// The netCDF / HDF5 files under `dir`, hidden entries and DMR++ files left out.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with('.') || dmrpp::is_dmrpp(&p) {
            continue;
        }
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, depth + 1, out),
            Ok(_) if matches!(cdm::catalog::sniff(&p), Ok(Some(_))) => out.push(p),
            _ => {}
        }
    }
}

/// `to` relative to the folder `from` (both absolute), with `..` where needed.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let a: Vec<Component<'_>> = from.components().collect();
    let b: Vec<Component<'_>> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

async fn index_one(file: &Path, dest: &Path, force: bool) -> Result<Outcome, String> {
    let (size, mtime) = dmrpp::file_version(file).map_err(|e| e.to_string())?;
    if !force
        && let Ok(existing) = std::fs::read(dest)
        && write::recorded_version(&existing) == Some((size, mtime))
    {
        return Ok(Outcome::Current);
    }
    let path = file.to_path_buf();
    let source = tokio::task::spawn_blocking(move || cdm::catalog::open(&path, None))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let ds = source.dataset();
    let dmr = dap4::dmr::render(ds, &dap4::Constraint::all(ds)).map_err(|e| e.to_string())?;
    let (vars, mut left_out) = write::describe(source.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    let dest_dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dest_dir).map_err(|e| format!("{}: {e}", dest_dir.display()))?;
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let href = relative(&abs(dest_dir), &abs(file));
    let href = href.to_string_lossy();
    let object = write::DataObject {
        href: &href,
        size,
        mtime,
    };
    let (xml, more) = write::weave(&dmr, &vars, &object).map_err(|e| e.to_string())?;
    left_out.extend(more);
    let tmp = dest_dir.join(format!(
        ".{}.tmp-{}",
        dest.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, format!("{xml}\n")).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", dest.display())
    })?;
    Ok(Outcome::Written { left_out })
}
