//! Downloads a dataset's files from a list of mirrors into a directory, safely.
//!
//! Each file is fetched over HTTP(S) (by the system's `curl`, see `http_get`) into a temporary file in the target
//! directory, checked (decompressed, parsed, SHA-256 compared) and only then
//! renamed into place, so an interrupted or wrong download never leaves a
//! file that a later load would trust. When a mirror fails (unreachable, an
//! HTTP error, a transfer cut short, content that fails its checksum) the next
//! one is tried; the error, if all fail, lists what each mirror did.
//!
//! Progress is reported as whole lines (no `\r`), because evcxr forwards a
//! notebook's stdout line by line: one at each quarter of the file, and one
//! every [`PROGRESS_INTERVAL`] in between when the transfer is slow:
//!
//! ```text
//! Downloading train-images-idx3-ubyte.gz from https://ossci-datasets.s3.amazonaws.com/mnist/: 25% (2.5 / 9.9 MB)
//! Downloading train-images-idx3-ubyte.gz from https://ossci-datasets.s3.amazonaws.com/mnist/: 31% (3.1 / 9.9 MB, 61.2 kB/s)
//! ```
//!
//! A mirror cannot hold a download forever: each request has an overall
//! deadline ([`DEFAULT_DEADLINE`]) and must keep up a minimum speed
//! ([`DEFAULT_MIN_SPEED`] bytes a second, averaged over [`DEFAULT_SPEED_WINDOW`]),
//! so one that drips a byte a second fails after a minute and the next is tried.
//!
//! A process killed mid-transfer (a notebook kernel restarted) leaves its
//! hidden `.part` file behind; the next download into that directory removes
//! such files when the process that wrote them is gone or they are older than
//! any download may take.
//!
//! The parts: [`transfer`] (one attempt at one mirror: request, body, check), [`partial`]
//! (the `.part` file and the removal of abandoned ones), [`progress`] (progress lines and
//! the minimum speed), [`units`] (sizes and durations as people read them).

mod partial;
mod progress;
mod transfer;
mod units;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::load::find_file;
use super::{DatasetFile, DatasetSpec};
use crate::{Error, Result};
use partial::remove_stale_parts;

pub(super) use units::format_duration;

/// How long to wait for a connection, for the response, and for each read of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest one file's request may take, from connecting to the last byte.
/// Fashion-MNIST's largest file (26 MB) needs 15 kB/s to make it; a slower
/// connection is better served by copying the files over by hand.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The slowest transfer accepted, in bytes a second, averaged over
/// [`DEFAULT_SPEED_WINDOW`]: below it a mirror is stalling, not serving.
pub const DEFAULT_MIN_SPEED: u64 = 1_000;

/// The stretch of time over which [`DEFAULT_MIN_SPEED`] is measured.
pub const DEFAULT_SPEED_WINDOW: Duration = Duration::from_secs(60);

/// A slow transfer reports its progress at least this often.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// Fetches dataset files from an ordered list of mirrors (base URLs).
///
/// ```no_run
/// use dlkit::datasets::{mnist::MNIST, Downloader};
///
/// let downloader = Downloader::new(["https://ossci-datasets.s3.amazonaws.com/mnist/"]);
/// downloader.fetch_missing(&MNIST, "data/mnist".as_ref(), &mut |line| println!("{line}"))?;
/// # Ok::<(), dlkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Downloader {
    mirrors: Vec<String>,
    timeout: Duration,
    deadline: Duration,
    min_speed: u64,
    speed_window: Duration,
}

impl Downloader {
    /// A downloader trying `mirrors` in order; a file's URL is the mirror followed by `<file>.gz`.
    pub fn new<I, S>(mirrors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Downloader {
            mirrors: mirrors.into_iter().map(Into::into).collect(),
            timeout: DEFAULT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            min_speed: DEFAULT_MIN_SPEED,
            speed_window: DEFAULT_SPEED_WINDOW,
        }
    }

    /// A downloader using the dataset's built-in public mirrors.
    pub fn for_dataset(dataset: &DatasetSpec) -> Self {
        Downloader::new(dataset.mirrors.iter().copied())
    }

    /// Sets the connect, response and per-read timeout (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the longest one file's request may take (default [`DEFAULT_DEADLINE`]).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets the slowest transfer accepted: at least `bytes_per_second`, averaged
    /// over each `window` (default [`DEFAULT_MIN_SPEED`] over
    /// [`DEFAULT_SPEED_WINDOW`]); 0 accepts any speed.
    pub fn min_speed(mut self, bytes_per_second: u64, window: Duration) -> Self {
        self.min_speed = bytes_per_second;
        self.speed_window = window;
        self
    }

    /// The mirrors, in the order they are tried.
    pub fn mirrors(&self) -> &[String] {
        &self.mirrors
    }

    /// Downloads those of the dataset's files that `dir` lacks (creating `dir` if needed).
    ///
    /// Files already present are left alone, not even checked: loading checks them.
    /// `report` receives the progress lines.
    pub fn fetch_missing(
        &self,
        dataset: &DatasetSpec,
        dir: &Path,
        report: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let mut missing: Vec<&DatasetFile> = Vec::new();
        for file in dataset.files() {
            if find_file(dir, file)?.is_none() {
                missing.push(file);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        remove_stale_parts(dir, dataset)?;
        for file in missing {
            self.fetch_with(&Job { dataset, file, dir }, report)?;
        }
        Ok(())
    }

    /// Downloads one file of `dataset` into `dir`, whether or not it is already there,
    /// and returns its path (`<name>.gz`, or `<name>` if a mirror served it uncompressed).
    pub fn fetch(
        &self,
        dataset: &DatasetSpec,
        file: &DatasetFile,
        dir: &Path,
        report: &mut dyn FnMut(&str),
    ) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        remove_stale_parts(dir, dataset)?;
        self.fetch_with(&Job { dataset, file, dir }, report)
    }

    /// Tries the mirrors in order until one serves the file; the error lists what each did.
    fn fetch_with(&self, job: &Job, report: &mut dyn FnMut(&str)) -> Result<PathBuf> {
        let Job { dataset, file, dir } = *job;
        if self.mirrors.is_empty() {
            return Err(Error::Download(format!(
                "{}: cannot download {}: no mirror given.",
                dataset.title,
                file.gz_name()
            )));
        }
        let mut failures = Vec::new();
        for mirror in &self.mirrors {
            let url = file_url(mirror, file);
            match self.fetch_from(mirror, job, report)? {
                Ok(path) => return Ok(path),
                Err(reason) => {
                    report(&format!(
                        "Downloading {} from {mirror} failed: {reason}",
                        file.gz_name()
                    ));
                    failures.push(format!("  {url}: {reason}"));
                }
            }
        }
        Err(Error::Download(format!(
            "{}: could not download {} from any mirror:\n{}\nCheck the internet connection, or \
             put the four {} files ({}) into {} yourself, or point DLKIT_DATASETS at a directory \
             holding {}/.",
            dataset.title,
            file.gz_name(),
            failures.join("\n"),
            dataset.title,
            dataset
                .files()
                .iter()
                .map(|f| f.gz_name())
                .collect::<Vec<_>>()
                .join(", "),
            dir.display(),
            dataset.name
        )))
    }
}

/// One file to download: which, of which dataset, into which directory.
#[derive(Clone, Copy)]
struct Job<'a> {
    dataset: &'a DatasetSpec,
    file: &'a DatasetFile,
    dir: &'a Path,
}

fn file_url(mirror: &str, file: &DatasetFile) -> String {
    let separator = if mirror.ends_with('/') { "" } else { "/" };
    format!("{mirror}{separator}{}", file.gz_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_with_one_slash() {
        let file = DatasetFile::labels("a", "");
        assert_eq!(file_url("http://h/x/", &file), "http://h/x/a.gz");
        assert_eq!(file_url("http://h/x", &file), "http://h/x/a.gz");
    }
}
