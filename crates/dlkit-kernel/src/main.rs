//! `dlkit-kernel`: the `rust` Jupyter kernel of this repository.
//!
//! ```text
//! dlkit-kernel --repo REPO EVCXR_JUPYTER CONNECTION_FILE     (written into kernel.json)
//! ```
//!
//! It takes a private build slot for evcxr (`slot`), prepares evcxr's
//! settings there, and becomes evcxr_jupyter, leaving a small child behind that
//! routes Jupyter's interrupt to the one process that runs the cells (`interrupt`).
//! Settings (environment): `DLKIT_EVCXR_DIR` (default `REPO/.evcxr`),
//! `DLKIT_EVCXR_SLOTS` (how many slots may exist, default 8).

mod files;
mod interrupt;
mod slot;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Every line this kernel writes starts with this, on stderr (Jupyter's log).
fn log(message: &str) {
    eprintln!("[dlkit rust-kernel] {message}");
}

struct Args {
    repo: PathBuf,
    evcxr_jupyter: PathBuf,
    connection_file: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let usage = "usage: dlkit-kernel --repo REPO EVCXR_JUPYTER CONNECTION_FILE";
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, repo, evcxr, connection] if flag == "--repo" => Ok(Args {
            repo: PathBuf::from(repo),
            evcxr_jupyter: PathBuf::from(evcxr),
            connection_file: PathBuf::from(connection),
        }),
        _ => Err(usage.to_string()),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let Err(message) = run(&args);
    log(&message);
    ExitCode::from(1)
}

/// Prepares the slot and becomes evcxr_jupyter; returns only on failure.
fn run(args: &Args) -> Result<std::convert::Infallible, String> {
    let root = std::env::var_os("DLKIT_EVCXR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| args.repo.join(".evcxr"));
    let max_slots = match std::env::var("DLKIT_EVCXR_SLOTS") {
        Ok(text) => text
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(format!("DLKIT_EVCXR_SLOTS={text} is not a positive number"))?,
        Err(_) => 8,
    };
    files::create_dir(&root)?;
    add_cargo_to_path();
    // The dependency profile (optimised, no debug assertions) lives in an
    // ancestor of every slot, because evcxr owns the slot's own .cargo/config.toml.
    files::create_dir(&root.join(".cargo"))?;
    files::install_if_changed(
        &args.repo.join("scripts/lib/evcxr-cargo-config.toml"),
        &root.join(".cargo/config.toml"),
    )?;

    let slot = slot::take(&root, max_slots)?;
    slot.prepare(&root, &args.repo)?;

    // A user's own evcxr.toml / init.evcxr / prelude.rs must not change this
    // kernel. Our init.evcxr runs one `?` at start: evcxr turns its `?` support
    // on only when a cell first fails to compile for want of it, and shows that
    // cell's value as plain text (a learner's first `?` cell showed
    // `DigitGrid { .. }`, not the figure). It costs about 1 s of start.
    let config = root.join("config");
    files::create_dir(&config)?;
    files::install_if_changed(
        &args.repo.join("scripts/lib/init.evcxr"),
        &config.join("init.evcxr"),
    )?;
    log(&format!("{} ({})", slot.name(), slot.dir().display()));

    let env = [
        ("EVCXR_TMPDIR", slot.dir().as_os_str()),
        ("EVCXR_CONFIG_DIR", config.as_os_str()),
    ];
    Err(interrupt::exec_evcxr(
        &args.evcxr_jupyter,
        &args.connection_file,
        &env,
        slot.lock_fd(),
    ))
}

/// evcxr runs cargo and rustc from PATH; a Jupyter started from a desktop or
/// by Binder may not have rustup's bin directory on it.
fn add_cargo_to_path() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join("cargo").is_file()) {
        return;
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(home) = cargo_home {
        let dirs = std::iter::once(home.join("bin")).chain(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(dirs) {
            std::env::set_var("PATH", joined);
        }
    }
}
