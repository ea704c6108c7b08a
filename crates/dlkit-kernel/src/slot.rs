//! Build slots: evcxr compiles every cell inside one crate directory
//! (`EVCXR_TMPDIR`) and rewrites its `src/lib.rs` and `Cargo.toml`, so two
//! kernels in one directory would overwrite each other's code. A slot is
//! `ROOT/slot-N`; a kernel holds an flock on `ROOT/slot-N.lock` for its whole
//! life (the descriptor is inherited by evcxr_jupyter and every compiler it
//! starts), so the first slot whose lock is free is free. Its `target/`
//! survives the session: the next kernel in that slot finds dlkit and candle
//! already compiled.
//!
//! A slot used for the first time is seeded with a copy of the most recently
//! used other slot's `target/` (a copy, never hardlinks: cargo and rustc
//! rewrite files in place), taken while holding cargo's own build-directory
//! locks of that slot, so that it never catches a half-written artifact.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{files, log};

pub struct Slot {
    dir: PathBuf,
    name: String,
    /// Held until this process and everything it started have exited.
    lock: File,
}

/// The first slot whose lock is free, locked.
pub fn take(root: &Path, max_slots: usize) -> Result<Slot, String> {
    for n in 1..=max_slots {
        let name = format!("slot-{n}");
        let path = root.join(format!("{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Slot {
                dir: root.join(&name),
                name,
                lock,
            });
        }
    }
    Err(format!(
        "all {max_slots} slots in {} are in use by other kernels; close a notebook or raise \
         DLKIT_EVCXR_SLOTS",
        root.display()
    ))
}

impl Slot {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lock's descriptor, which evcxr_jupyter must inherit.
    pub fn lock_fd(&self) -> RawFd {
        self.lock.as_raw_fd()
    }

    /// Seeds the slot if it has no build directory, removes what earlier
    /// sessions left that nothing uses, and pins the workspace's dependency versions.
    pub fn prepare(&self, root: &Path, repo: &Path) -> Result<(), String> {
        files::create_dir(&self.dir)?;
        if !self.dir.join("target").is_dir() {
            self.seed(root)?;
        }
        remove_compiled_cells(&self.dir.join("target"));
        // Resolve the same dependency versions as the workspace (cargo test).
        let lock_file = repo.join("Cargo.lock");
        if lock_file.is_file() {
            let bytes = std::fs::read(&lock_file)
                .map_err(|e| format!("cannot read {}: {e}", lock_file.display()))?;
            files::write_atomically(&self.dir.join("Cargo.lock"), &bytes)?;
        }
        Ok(())
    }

    fn seed(&self, root: &Path) -> Result<(), String> {
        // A copy cut short by a killed start is left under another pid's name;
        // only the holder of this slot's lock seeds it, so those copies are dead.
        let prefix = format!(".seed-{}.", self.name);
        for entry in read_dir(root) {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let Some(source) = self.warmest_other_slot(root) else {
            log(&format!(
                "{} starts cold: the first cell compiles dlkit and candle (minutes)",
                self.name
            ));
            return Ok(());
        };
        let source_name = source.file_name().unwrap_or_default().to_string_lossy();
        log(&format!("seeding {} from {source_name}", self.name));
        let seed = root.join(format!("{prefix}{}", std::process::id()));
        files::create_dir(&seed)?;
        let copied = with_cargo_locks(&source.join("target"), || {
            Command::new("cp")
                .arg("-a")
                .arg(source.join("target"))
                .arg(seed.join("target"))
                .status()
                .is_ok_and(|s| s.success())
        });
        if !(copied && std::fs::rename(seed.join("target"), self.dir.join("target")).is_ok()) {
            log(&format!(
                "could not copy {}/target; this slot starts cold",
                source.display()
            ));
        }
        let _ = std::fs::remove_dir_all(&seed);
        Ok(())
    }

    /// The other slot whose `target/` changed last: the warmest.
    fn warmest_other_slot(&self, root: &Path) -> Option<PathBuf> {
        read_dir(root)
            .filter(|e| e.file_name().to_string_lossy().starts_with("slot-"))
            .map(|e| e.path())
            .filter(|p| *p != self.dir)
            .filter_map(|p| {
                let modified = std::fs::metadata(p.join("target")).ok()?.modified().ok()?;
                Some((modified, p))
            })
            .max_by_key(|(modified, _)| *modified)
            .map(|(_, p)| p)
    }
}

/// Runs `copy` while holding every cargo build-directory lock under `target`
/// (cargo flocks target/debug/.cargo-lock, then target/<triple>/debug/.cargo-lock;
/// taking them in the same order cannot deadlock with a build in that slot).
fn with_cargo_locks(target: &Path, copy: impl FnOnce() -> bool) -> bool {
    let mut found = Vec::new();
    let level1: Vec<PathBuf> = read_dir(target).map(|e| e.path()).collect();
    let level2: Vec<PathBuf> = level1
        .iter()
        .flat_map(|p| read_dir(p).map(|e| e.path()))
        .collect();
    for dir in std::iter::once(target.to_path_buf())
        .chain(level1)
        .chain(level2)
    {
        let lock = dir.join(".cargo-lock");
        if lock.is_file() {
            found.push(lock);
        }
    }
    found.sort_by_key(|p| p.components().count());
    let mut held = Vec::new();
    for path in found {
        if let Ok(file) = File::open(&path) {
            // SAFETY: flock on a descriptor owned by `file`, kept in `held`.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            held.push(file);
        }
    }
    copy()
}

/// Compiled cells of earlier sessions (evcxr names them libcode_N.so and never
/// deletes them); nothing else uses them once their kernel is gone.
fn remove_compiled_cells(target: &Path) {
    for profile_parent in read_dir(target) {
        let debug = profile_parent.path().join("debug");
        for dir in [debug.clone(), debug.join("deps")] {
            for entry in read_dir(&dir) {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with("libcode_") && name.ends_with(".so") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// The entries of `dir`, none if it cannot be read.
fn read_dir(dir: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    std::fs::read_dir(dir).into_iter().flatten().flatten()
}
