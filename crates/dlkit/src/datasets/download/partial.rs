//! A download in progress as a hidden `.part` file next to its target, and the removal of
//! those that a killed process left behind.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::datasets::idx::GZIP_MAGIC;
use crate::datasets::{DatasetFile, DatasetSpec};
use crate::{Error, Result};

/// A `.part` file older than this is left over whoever wrote it: no request
/// runs longer than [`DEFAULT_DEADLINE`](super::DEFAULT_DEADLINE).
const STALE_PART_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// A download in progress: a hidden file in the target directory that is
/// removed unless it is renamed into place.
pub(super) struct PartialFile {
    path: PathBuf,
    file: Option<File>,
}

impl PartialFile {
    pub(super) fn create(dir: &Path, file: &DatasetFile) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Loads look for exact names only, so this name is never mistaken for the file.
        let path = dir.join(format!(
            ".{}.{}-{nanos}.part",
            file.gz_name(),
            std::process::id()
        ));
        let handle = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(PartialFile {
            path,
            file: Some(handle),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(bytes).map_err(|e| Error::io(&self.path, e)),
            None => Ok(()),
        }
    }

    pub(super) fn sync(&mut self) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    pub(super) fn starts_with_gzip_magic(&self) -> Result<bool> {
        let mut head = [0u8; 2];
        let mut f = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let n = f.read(&mut head).map_err(|e| Error::io(&self.path, e))?;
        Ok(n == 2 && head == GZIP_MAGIC)
    }

    pub(super) fn persist(mut self, target: &Path) -> Result<PathBuf> {
        self.sync()?;
        std::fs::rename(&self.path, target).map_err(|e| Error::io(target, e))?;
        // Renamed: nothing left for Drop to remove.
        self.path = PathBuf::new();
        Ok(target.to_path_buf())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        self.file.take();
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes the `.part` files of `dataset` in `dir` that no download is
/// writing any more: their process is gone, or they are older than
/// [`STALE_PART_AGE`]. Another live process's fresh download is left alone.
pub(super) fn remove_stale_parts(dir: &Path, dataset: &DatasetSpec) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let prefixes: Vec<String> = dataset
        .files()
        .iter()
        .map(|f| format!(".{}.", f.gz_name()))
        .collect();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = prefixes
            .iter()
            .find_map(|p| name.strip_prefix(p.as_str()))
            .and_then(|rest| rest.strip_suffix(".part"))
        else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let modified = entry.metadata().and_then(|m| m.modified()).ok();
        if crate::fs::abandoned(pid, modified, STALE_PART_AGE) {
            let path = entry.path();
            // Gone already (another process cleaning up) is as good as removed.
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
    }
    Ok(())
}
