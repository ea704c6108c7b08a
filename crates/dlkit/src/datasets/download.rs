//! Downloads a dataset's files from a list of mirrors into a directory, safely.
//!
//! Each file is fetched over HTTP(S) into a temporary file in the target
//! directory, checked (decompressed, parsed, SHA-256 compared) and only then
//! renamed into place, so an interrupted or wrong download never leaves a
//! file that a later load would trust. When a mirror fails (unreachable, an
//! HTTP error, a transfer cut short, content that fails its checksum) the next
//! one is tried; the error, if all fail, lists what each mirror did.
//!
//! Progress is reported as whole lines (no `\r`), because evcxr forwards a
//! notebook's stdout line by line:
//!
//! ```text
//! Downloading train-images-idx3-ubyte.gz from https://ossci-datasets.s3.amazonaws.com/mnist/: 25% (2.5 / 9.9 MB)
//! ```

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::idx::GZIP_MAGIC;
use super::load::{find_file, parse_bytes};
use super::{Dataset, DatasetFile};
use crate::{Error, Result};

/// How long to wait for a connection, for the response, and for each read of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// No file of an MNIST-style dataset comes near this (Fashion-MNIST's largest is 26 MB
/// gzipped, 47 MB not); a mirror sending more is serving something else.
const MAX_FILE_BYTES: u64 = 200_000_000;

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
        }
    }

    /// A downloader using the dataset's built-in public mirrors.
    pub fn for_dataset(dataset: &Dataset) -> Self {
        Downloader::new(dataset.mirrors.iter().copied())
    }

    /// Sets the connect, response and per-read timeout (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
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
        dataset: &Dataset,
        dir: &Path,
        report: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let missing: Vec<&DatasetFile> = dataset
            .files()
            .into_iter()
            .filter(|file| find_file(dir, file).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let agent = self.agent();
        for file in missing {
            self.fetch_with(&agent, dataset, file, dir, report)?;
        }
        Ok(())
    }

    /// Downloads one file of `dataset` into `dir`, whether or not it is already there,
    /// and returns its path (`<name>.gz`, or `<name>` if a mirror served it uncompressed).
    pub fn fetch(
        &self,
        dataset: &Dataset,
        file: &DatasetFile,
        dir: &Path,
        report: &mut dyn FnMut(&str),
    ) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        self.fetch_with(&self.agent(), dataset, file, dir, report)
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            // Statuses are reported per mirror below, with their reason.
            .http_status_as_error(false)
            // Ask for the bytes as stored: the loader recognises gzip by content anyway.
            .accept_encoding("")
            .user_agent(format!("dlkit/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(self.timeout))
            .timeout_recv_response(Some(self.timeout))
            .timeout_per_read(Some(self.timeout))
            .build()
            .into()
    }

    fn fetch_with(
        &self,
        agent: &ureq::Agent,
        dataset: &Dataset,
        file: &DatasetFile,
        dir: &Path,
        report: &mut dyn FnMut(&str),
    ) -> Result<PathBuf> {
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
            match fetch_from(agent, &url, mirror, dataset, file, dir, report)? {
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

fn file_url(mirror: &str, file: &DatasetFile) -> String {
    let separator = if mirror.ends_with('/') { "" } else { "/" };
    format!("{mirror}{separator}{}", file.gz_name())
}

/// One attempt at one mirror. The outer `Result` is a local failure that no
/// other mirror can fix (the directory cannot be written); the inner `Err` is
/// this mirror's failure, described for the person reading the error.
fn fetch_from(
    agent: &ureq::Agent,
    url: &str,
    mirror: &str,
    dataset: &Dataset,
    file: &DatasetFile,
    dir: &Path,
    report: &mut dyn FnMut(&str),
) -> Result<std::result::Result<PathBuf, String>> {
    let response = match agent.get(url).call() {
        Ok(response) => response,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let status = response.status();
    if status != ureq::http::StatusCode::OK {
        return Ok(Err(format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string()));
    }
    let total = response.body().content_length();
    if let Some(total) = total.filter(|&t| t > MAX_FILE_BYTES) {
        return Ok(Err(format!(
            "announces {}, far more than any file of an MNIST-style dataset",
            format_size(total)
        )));
    }
    let mut body = response.into_body().into_reader();

    let mut partial = PartialFile::create(dir, file)?;
    let mut progress = Progress::new(file.gz_name(), mirror, total);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut received: u64 = 0;
    loop {
        let n = match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Ok(Err(format!(
                    "transfer interrupted after {}{}: {e}",
                    format_size(received),
                    total
                        .map(|t| format!(" of {}", format_size(t)))
                        .unwrap_or_default()
                )))
            }
        };
        received += n as u64;
        if received > MAX_FILE_BYTES {
            return Ok(Err(format!(
                "served more than {} without ending, far more than any file of an MNIST-style dataset",
                format_size(MAX_FILE_BYTES)
            )));
        }
        partial.write_all(&buffer[..n])?;
        if let Some(line) = progress.update(received) {
            report(&line);
        }
    }
    if let Some(total) = total {
        // ureq reports a short body as an error already; this guards any other path to EOF.
        if received != total {
            return Ok(Err(format!(
                "transfer incomplete: received {} of the {} announced",
                format_size(received),
                format_size(total)
            )));
        }
    }
    if let Some(line) = progress.finish(received) {
        report(&line);
    }
    partial.sync()?;

    // Check what is on disk, exactly as a later load will read it.
    let on_disk = std::fs::read(partial.path()).map_err(|e| Error::io(partial.path(), e))?;
    let parsed = match parse_bytes(
        on_disk,
        partial.path(),
        file,
        Path::new("the content served"),
    ) {
        Ok(parsed) => parsed,
        Err(Error::Dataset(msg)) => return Ok(Err(msg)),
        Err(other) => return Err(other),
    };
    if parsed.sha256 != file.sha256 {
        return Ok(Err(format!(
            "checksum mismatch: the decompressed content has SHA-256 {}, the {} file {} has SHA-256 {} \
             (the mirror serves a different or damaged file)",
            parsed.sha256, dataset.title, file.name, file.sha256
        )));
    }
    drop(parsed);
    let final_name = if partial.starts_with_gzip_magic()? {
        file.gz_name()
    } else {
        file.name.to_string()
    };
    Ok(Ok(partial.persist(&dir.join(final_name))?))
}

/// A download in progress: a hidden file in the target directory that is
/// removed unless it is renamed into place.
struct PartialFile {
    path: PathBuf,
    file: Option<File>,
}

impl PartialFile {
    fn create(dir: &Path, file: &DatasetFile) -> Result<Self> {
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

    fn path(&self) -> &Path {
        &self.path
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(bytes).map_err(|e| Error::io(&self.path, e)),
            None => Ok(()),
        }
    }

    fn sync(&mut self) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    fn starts_with_gzip_magic(&self) -> Result<bool> {
        let mut head = [0u8; 2];
        let mut f = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let n = f.read(&mut head).map_err(|e| Error::io(&self.path, e))?;
        Ok(n == 2 && head == GZIP_MAGIC)
    }

    fn persist(mut self, target: &Path) -> Result<PathBuf> {
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

/// Turns byte counts into a line at each quarter of the file (or every 5 MB
/// when the size is unknown).
struct Progress {
    prefix: String,
    total: Option<u64>,
    reported: u64,
}

const UNKNOWN_SIZE_STEP: u64 = 5_000_000;

impl Progress {
    fn new(file: String, mirror: &str, total: Option<u64>) -> Self {
        Progress {
            prefix: format!("Downloading {file} from {mirror}"),
            total,
            reported: 0,
        }
    }

    fn update(&mut self, received: u64) -> Option<String> {
        match self.total {
            Some(total) if total > 0 => {
                let quarter = (received.min(total) * 4 / total) * 25;
                if quarter > self.reported {
                    self.reported = quarter;
                    Some(format!(
                        "{}: {quarter}% ({} / {})",
                        self.prefix,
                        format_size_in(received, total),
                        format_size(total)
                    ))
                } else {
                    None
                }
            }
            _ => {
                let step = received / UNKNOWN_SIZE_STEP;
                if step > self.reported {
                    self.reported = step;
                    Some(format!("{}: {} so far", self.prefix, format_size(received)))
                } else {
                    None
                }
            }
        }
    }

    /// The closing line, unless the last update already said 100%.
    fn finish(&mut self, received: u64) -> Option<String> {
        match self.total {
            Some(total) if total > 0 && self.reported >= 100 => None,
            _ => Some(format!("{}: done ({})", self.prefix, format_size(received))),
        }
    }
}

/// `9.9 MB`, `28.9 kB`, `512 B` (decimal units, as download sizes are usually given).
fn format_size(bytes: u64) -> String {
    let unit = unit_for(bytes);
    format!("{} {}", format_number(bytes, unit), unit)
}

/// `bytes` without its unit, in the unit that suits `scale`, so "2.5 / 9.9 MB" shares one.
fn format_size_in(bytes: u64, scale: u64) -> String {
    format_number(bytes, unit_for(scale))
}

fn unit_for(bytes: u64) -> &'static str {
    match bytes {
        1_000_000.. => "MB",
        1_000.. => "kB",
        _ => "B",
    }
}

fn format_number(bytes: u64, unit: &str) -> String {
    match unit {
        "MB" => format!("{:.1}", bytes as f64 / 1e6),
        "kB" => format!("{:.1}", bytes as f64 / 1e3),
        _ => bytes.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reports_each_quarter_once() {
        let mut p = Progress::new("f.gz".into(), "http://m/", Some(9_912_422));
        let lines: Vec<String> = (1..=100u64)
            .filter_map(|i| p.update(9_912_422 * i / 100))
            .collect();
        assert_eq!(
            lines,
            [
                "Downloading f.gz from http://m/: 25% (2.6 / 9.9 MB)",
                "Downloading f.gz from http://m/: 50% (5.0 / 9.9 MB)",
                "Downloading f.gz from http://m/: 75% (7.5 / 9.9 MB)",
                "Downloading f.gz from http://m/: 100% (9.9 / 9.9 MB)",
            ]
        );
        assert_eq!(p.finish(9_912_422), None);
    }

    #[test]
    fn small_file_gets_one_line() {
        let mut p = Progress::new("l.gz".into(), "http://m/", Some(28_881));
        assert_eq!(
            p.update(28_881).as_deref(),
            Some("Downloading l.gz from http://m/: 100% (28.9 / 28.9 kB)")
        );
    }

    #[test]
    fn unknown_size_reports_every_five_megabytes() {
        let mut p = Progress::new("f.gz".into(), "m", None);
        assert_eq!(p.update(4_000_000), None);
        assert_eq!(
            p.update(5_100_000).as_deref(),
            Some("Downloading f.gz from m: 5.1 MB so far")
        );
        assert_eq!(p.update(6_000_000), None);
        assert_eq!(
            p.finish(7_000_000).as_deref(),
            Some("Downloading f.gz from m: done (7.0 MB)")
        );
    }

    #[test]
    fn urls_join_with_one_slash() {
        let file = DatasetFile::labels("a", "");
        assert_eq!(file_url("http://h/x/", &file), "http://h/x/a.gz");
        assert_eq!(file_url("http://h/x", &file), "http://h/x/a.gz");
    }
}
