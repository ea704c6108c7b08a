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

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http_get::{self, BodyRead, NoCurl};
use super::idx::GZIP_MAGIC;
use super::load::{find_file, parse_bytes};
use super::{DatasetFile, DatasetSpec};
use crate::{Error, Result};

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

/// A `.part` file older than this is left over whoever wrote it: no request
/// runs longer than [`DEFAULT_DEADLINE`].
const STALE_PART_AGE: Duration = Duration::from_secs(2 * 60 * 60);

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
            self.fetch_with(dataset, file, dir, report)?;
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
        self.fetch_with(dataset, file, dir, report)
    }

    fn fetch_with(
        &self,
        dataset: &DatasetSpec,
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
            match self.fetch_from(mirror, dataset, file, dir, report)? {
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

    /// One attempt at one mirror. The outer `Result` is a local failure that no
    /// other mirror can fix (the directory cannot be written); the inner `Err` is
    /// this mirror's failure, described for the person reading the error.
    fn fetch_from(
        &self,
        mirror: &str,
        dataset: &DatasetSpec,
        file: &DatasetFile,
        dir: &Path,
        report: &mut dyn FnMut(&str),
    ) -> Result<std::result::Result<PathBuf, String>> {
        let url = file_url(mirror, file);
        let started = Instant::now();
        let user_agent = format!("dlkit/{}", env!("CARGO_PKG_VERSION"));
        let first_wait = self.timeout.min(self.deadline);
        let mut response = match http_get::get(&url, &user_agent, first_wait) {
            Ok(response) => response,
            Err(Ok(reason)) if started.elapsed() >= self.deadline => {
                return Ok(Err(format!(
                    "no response within the deadline of {} ({reason})",
                    format_duration(self.deadline)
                )))
            }
            Err(Ok(reason)) => return Ok(Err(reason)),
            Err(Err(NoCurl(why))) => {
                return Err(Error::Download(format!(
                    "{}: cannot download {}: {why}. Or put the four {} files into {} yourself.",
                    dataset.title,
                    file.gz_name(),
                    dataset.title,
                    dir.display()
                )))
            }
        };
        if response.status != 200 {
            return Ok(Err(format!("HTTP {} {}", response.status, response.reason)
                .trim_end()
                .to_string()));
        }
        let total = response.content_length;
        if let Some(total) = total.filter(|&t| t > MAX_FILE_BYTES) {
            return Ok(Err(format!(
                "announces {}, far more than any file of an MNIST-style dataset",
                format_size(total)
            )));
        }

        let mut partial = PartialFile::create(dir, file)?;
        let mut progress = Progress::new(file.gz_name(), mirror, total);
        let mut received: u64 = 0;
        let mut speed = SpeedCheck::new(self.min_speed, self.speed_window, started);
        let of_total = |received: u64| {
            format!(
                "{}{}",
                format_size(received),
                total
                    .map(|t| format!(" of {}", format_size(t)))
                    .unwrap_or_default()
            )
        };
        let past_deadline = |received: u64| {
            format!(
                "did not finish within the deadline of {}: received {} (about {}/s)",
                format_duration(self.deadline),
                of_total(received),
                format_size(rate(received, started.elapsed()))
            )
        };
        loop {
            let Some(left) = http_get::time_left(started, self.deadline) else {
                return Ok(Err(past_deadline(received)));
            };
            let chunk = match response.read(self.timeout.min(left)) {
                BodyRead::Data(chunk) => chunk,
                BodyRead::End => break,
                BodyRead::Silent if started.elapsed() >= self.deadline => {
                    return Ok(Err(past_deadline(received)))
                }
                BodyRead::Silent => {
                    return Ok(Err(format!(
                        "no data for {} after {}",
                        format_duration(self.timeout),
                        of_total(received)
                    )))
                }
                BodyRead::Failed(why) => {
                    return Ok(Err(format!(
                        "transfer interrupted after {}: {why}",
                        of_total(received)
                    )))
                }
            };
            let n = chunk.len();
            // A read returns at most the buffer's 64 kB: the sum cannot overflow
            // before MAX_FILE_BYTES below stops it.
            received += n as u64;
            if let Some(slow) = speed.check(received, Instant::now()) {
                return Ok(Err(format!("{slow}, after {}", of_total(received))));
            }
            if received > MAX_FILE_BYTES {
                return Ok(Err(format!(
                    "served more than {} without ending, far more than any file of an MNIST-style dataset",
                    format_size(MAX_FILE_BYTES)
                )));
            }
            partial.write_all(&chunk)?;
            if let Some(line) = progress.update(received, started.elapsed()) {
                report(&line);
            }
        }
        if let Some(total) = total {
            // curl reports a short body as an error already; this guards any other path to EOF.
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
}

fn file_url(mirror: &str, file: &DatasetFile) -> String {
    let separator = if mirror.ends_with('/') { "" } else { "/" };
    format!("{mirror}{separator}{}", file.gz_name())
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

/// Removes the `.part` files of `dataset` in `dir` that no download is
/// writing any more: their process is gone, or they are older than
/// [`STALE_PART_AGE`]. Another live process's fresh download is left alone.
fn remove_stale_parts(dir: &Path, dataset: &DatasetSpec) -> Result<()> {
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

/// Bytes a second over `elapsed` (0 when no time has passed).
fn rate(bytes: u64, elapsed: Duration) -> u64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        // Float to int casts saturate; a rate is never negative.
        (bytes as f64 / seconds) as u64
    } else {
        0
    }
}

/// `90 s`, `30 min`.
pub(super) fn format_duration(d: Duration) -> String {
    let seconds = d.as_secs_f64();
    if seconds >= 120.0 {
        format!("{:.0} min", seconds / 60.0)
    } else if seconds >= 10.0 || seconds.fract() == 0.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds:.1} s")
    }
}

/// Fails a transfer that falls below a minimum speed over a window of time.
struct SpeedCheck {
    min_speed: u64,
    window: Duration,
    since: Instant,
    bytes_then: u64,
}

impl SpeedCheck {
    fn new(min_speed: u64, window: Duration, start: Instant) -> Self {
        SpeedCheck {
            min_speed,
            window,
            since: start,
            bytes_then: 0,
        }
    }

    /// After each read: the reason to give up, once a whole window has passed
    /// with fewer bytes than the minimum speed asks for.
    fn check(&mut self, received: u64, now: Instant) -> Option<String> {
        let elapsed = now.saturating_duration_since(self.since);
        if self.min_speed == 0 || elapsed < self.window {
            return None;
        }
        let got = received.saturating_sub(self.bytes_then);
        if rate(got, elapsed) < self.min_speed {
            return Some(format!(
                "too slow: {} in the last {} ({}/s), below the minimum of {}/s",
                format_size(got),
                format_duration(elapsed),
                format_size(rate(got, elapsed)),
                format_size(self.min_speed)
            ));
        }
        self.since = now;
        self.bytes_then = received;
        None
    }
}

/// Turns byte counts into a line at each quarter of the file (or every 5 MB
/// when the size is unknown), and one every [`PROGRESS_INTERVAL`] in between.
struct Progress {
    prefix: String,
    total: Option<u64>,
    reported: u64,
    last_line: Duration,
}

const UNKNOWN_SIZE_STEP: u64 = 5_000_000;

impl Progress {
    fn new(file: String, mirror: &str, total: Option<u64>) -> Self {
        Progress {
            prefix: format!("Downloading {file} from {mirror}"),
            total,
            reported: 0,
            last_line: Duration::ZERO,
        }
    }

    /// The line to show, if any, after `received` bytes in `elapsed`.
    fn update(&mut self, received: u64, elapsed: Duration) -> Option<String> {
        let line = self.milestone(received).or_else(|| {
            (elapsed.saturating_sub(self.last_line) >= PROGRESS_INTERVAL).then(|| {
                let speed = format_size(rate(received, elapsed));
                match self.total {
                    Some(total) if total > 0 => format!(
                        "{}: {}% ({} / {}, {speed}/s)",
                        self.prefix,
                        received.min(total) * 100 / total,
                        format_size_in(received, total),
                        format_size(total)
                    ),
                    _ => format!(
                        "{}: {} so far ({speed}/s)",
                        self.prefix,
                        format_size(received)
                    ),
                }
            })
        });
        if line.is_some() {
            self.last_line = elapsed;
        }
        line
    }

    /// The line at each quarter (or each 5 MB of unknown size), if one was crossed.
    fn milestone(&mut self, received: u64) -> Option<String> {
        match self.total {
            Some(total) if total > 0 => {
                // received.min(total) ≤ MAX_FILE_BYTES: times 4 cannot overflow.
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
            .filter_map(|i| p.update(9_912_422 * i / 100, Duration::ZERO))
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
            p.update(28_881, Duration::ZERO).as_deref(),
            Some("Downloading l.gz from http://m/: 100% (28.9 / 28.9 kB)")
        );
    }

    #[test]
    fn unknown_size_reports_every_five_megabytes() {
        let mut p = Progress::new("f.gz".into(), "m", None);
        assert_eq!(p.update(4_000_000, Duration::ZERO), None);
        assert_eq!(
            p.update(5_100_000, Duration::ZERO).as_deref(),
            Some("Downloading f.gz from m: 5.1 MB so far")
        );
        assert_eq!(p.update(6_000_000, Duration::ZERO), None);
        assert_eq!(
            p.finish(7_000_000).as_deref(),
            Some("Downloading f.gz from m: done (7.0 MB)")
        );
    }

    #[test]
    fn slow_transfers_report_every_interval() {
        let secs = Duration::from_secs;
        let mut p = Progress::new("f.gz".into(), "m", Some(9_900_000));
        assert_eq!(p.update(10, secs(5)), None);
        assert_eq!(
            p.update(20, secs(10)).as_deref(),
            Some("Downloading f.gz from m: 0% (0.0 / 9.9 MB, 2 B/s)")
        );
        assert_eq!(p.update(30, secs(15)), None);
        assert_eq!(
            p.update(1_500_000, secs(21)).as_deref(),
            Some("Downloading f.gz from m: 15% (1.5 / 9.9 MB, 71.4 kB/s)")
        );
        // A quarter is reported when crossed, and restarts the interval.
        assert!(p
            .update(2_500_000, secs(22))
            .unwrap()
            .ends_with(": 25% (2.5 / 9.9 MB)"));
        assert_eq!(p.update(2_600_000, secs(31)), None);
        let mut unknown = Progress::new("f.gz".into(), "m", None);
        assert_eq!(
            unknown.update(1_000, secs(10)).as_deref(),
            Some("Downloading f.gz from m: 1.0 kB so far (100 B/s)")
        );
    }

    #[test]
    fn speed_below_the_minimum_over_a_window_fails() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut check = SpeedCheck::new(1_000, Duration::from_secs(60), start);
        assert_eq!(check.check(10, at(30)), None, "not a whole window yet");
        assert_eq!(check.check(100_000, at(60)), None, "fast enough");
        let slow = check.check(100_060, at(120)).unwrap();
        assert_eq!(
            slow,
            "too slow: 60 B in the last 60 s (1 B/s), below the minimum of 1.0 kB/s"
        );
        let mut any = SpeedCheck::new(0, Duration::from_secs(1), start);
        assert_eq!(any.check(0, at(100)), None);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(1800)), "30 min");
        assert_eq!(format_duration(Duration::from_secs(60)), "60 s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(format_duration(Duration::from_secs(2)), "2 s");
    }

    #[test]
    fn urls_join_with_one_slash() {
        let file = DatasetFile::labels("a", "");
        assert_eq!(file_url("http://h/x/", &file), "http://h/x/a.gz");
        assert_eq!(file_url("http://h/x", &file), "http://h/x/a.gz");
    }
}
