//! Writing files so that readers never see half of one.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What every temporary file beside `path` starts with: `.{name}.partial-`.
/// Clean-ups match on it to find the leftovers of writes a crash cut short.
pub(crate) fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.partial-")
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
        .find_map(|d| match std::fs::metadata(d) {
            Ok(meta) => (!meta.is_dir()).then_some(d),
            Err(_) => None,
        })
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
        std::fs::create_dir_all(dir).map_err(|e| match file_in_the_way(dir) {
            Some(file) => Error::InvalidArgument(format!(
                "cannot write {}: {} is a file, not a directory",
                path.display(),
                file.display()
            )),
            None => Error::io(dir, e),
        })?;
    }
    if path.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "cannot write {}: it is a directory; give a file path inside it",
            path.display()
        )));
    }
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
