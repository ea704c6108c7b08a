//! Writing files so that readers never see half of one.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// What every temporary file beside `path` starts with: `.{name}.partial-`.
/// The writer's process id follows (see [`partial_writer`]).
fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.partial-")
}

/// How old a save's temporary file must be to count as abandoned even when
/// its process id is in use (ids are reused): no save takes near this long.
const ABANDONED_SAVE_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// Whether a temporary file is abandoned by its writer: the process `pid` in
/// its name is gone, or it was last written more than `max_age` ago. A live
/// process's fresh file is never abandoned; without a pid or a time, only
/// what is known decides.
pub(crate) fn abandoned(pid: Option<u32>, modified: Option<SystemTime>, max_age: Duration) -> bool {
    let old = modified
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > max_age);
    old || pid.is_some_and(|pid| !process_alive(pid))
}

/// Whether a process with this id exists (when that cannot be told, it is
/// assumed to, and only a file's age decides).
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 sends nothing; it only asks whether `pid` exists.
        let result = unsafe { libc::kill(pid, 0) };
        result == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// The writer's process id of a temporary file named by [`temporary_sibling`]
/// (`.{name}.partial-{pid}-{n}`), or `None` for any other name.
fn partial_writer(file_name: &str) -> Option<u32> {
    let (_, tail) = file_name.strip_prefix('.')?.rsplit_once(".partial-")?;
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Removes the temporary files in `dir` that saves killed mid-write left
/// behind (their process is gone, or they are very old); a live writer's are
/// left alone. Best effort: a save does not fail over another's leftovers.
pub(crate) fn remove_abandoned_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(partial_writer) else {
            continue;
        };
        let modified = entry.metadata().and_then(|m| m.modified()).ok();
        if abandoned(Some(pid), modified, ABANDONED_SAVE_AGE) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A temporary path beside `path` (same directory, so the rename is atomic),
/// `.{name}.partial-{pid}-{n}`: unique per call, so two threads saving one
/// path at once never write into the same temporary file.
pub(crate) fn temporary_sibling(path: &Path) -> PathBuf {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(
        "{}{}-{n}",
        temporary_prefix(path),
        std::process::id()
    ))
}

/// The nearest of `dir` and its parents that exists and is not a directory:
/// what makes creating `dir` fail with a bare "File exists".
pub(crate) fn file_in_the_way(dir: &Path) -> Option<&Path> {
    dir.ancestors()
        .filter(|d| !d.as_os_str().is_empty())
        .find(|d| std::fs::metadata(d).is_ok_and(|meta| !meta.is_dir()))
}

/// An error for writing `target` when a file stands where `dir` or one of
/// its parents should be a directory, said plainly: the bare error is "File
/// exists" or "Not a directory". Callbacks check their paths with it before
/// training, rather than after an epoch's work.
pub(crate) fn check_no_file_in_the_way(dir: &Path, target: &Path) -> Result<()> {
    match file_in_the_way(dir) {
        Some(file) => Err(Error::io(
            target,
            std::io::Error::other(format!("{} is a file, not a directory", file.display())),
        )),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename: the file
/// is either the old one or the complete new one, never a truncated mix.
/// Missing parent directories are created.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.file_name().is_none() {
        return Err(Error::InvalidArgument(format!(
            "{}: not a file path",
            path.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            check_no_file_in_the_way(dir, path)
                .err()
                .unwrap_or_else(|| Error::io(dir, e))
        })?;
    }
    if path.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::other("it is a directory; give a file path inside it"),
        ));
    }
    remove_abandoned_partials(match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    });
    let tmp = temporary_sibling(path);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written.and_then(|_| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_unique_per_call_and_share_the_prefix() {
        let path = Path::new("dir/model.json");
        let (a, b) = (temporary_sibling(path), temporary_sibling(path));
        assert_ne!(a, b);
        for t in [a, b] {
            assert_eq!(t.parent(), path.parent());
            let name = t.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with(&temporary_prefix(path)), "{name}");
        }
    }

    #[test]
    fn partial_writers_are_read_from_temporary_names_only() {
        let tmp = temporary_sibling(Path::new("m-01.safetensors"));
        let name = tmp.file_name().unwrap().to_str().unwrap();
        assert_eq!(partial_writer(name), Some(std::process::id()));
        assert_eq!(partial_writer(".a.b.partial-12-3"), Some(12));
        for other in [
            "m.safetensors",
            "a.partial-1-2",
            ".a.partial-x-2",
            ".a.partial-1-",
        ] {
            assert_eq!(partial_writer(other), None, "{other}");
        }
    }

    #[test]
    fn writes_create_parent_directories_and_leave_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("dlkit-fs-{}", std::process::id()));
        let path = dir.join("a/b/out.txt");
        write_atomic(&path, b"hello").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
