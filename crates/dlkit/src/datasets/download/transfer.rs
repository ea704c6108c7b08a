//! One attempt at one mirror: the request, the body into a `.part` file (watched for the
//! deadline, the minimum speed and the size), and the check of what arrived before it is
//! renamed into place.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::partial::PartialFile;
use super::progress::{Progress, SpeedCheck};
use super::units::{format_duration, format_size, rate};
use super::{file_url, Downloader, Job};
use crate::datasets::http_get::{self, BodyRead, NoCurl, Response};
use crate::datasets::load::parse_bytes;
use crate::{Error, Result};

/// No file of an MNIST-style dataset comes near this (Fashion-MNIST's largest is 26 MB
/// gzipped, 47 MB not); a mirror sending more is serving something else.
const MAX_FILE_BYTES: u64 = 200_000_000;

/// This mirror's result: its failure (`Err`) is described for the person reading the error,
/// and the next mirror is tried.
type Attempt<T> = std::result::Result<T, String>;

/// One request's clock and announced size, which its failure messages tell of.
struct Transfer<'a> {
    downloader: &'a Downloader,
    started: Instant,
    total: Option<u64>,
}

impl Downloader {
    /// One attempt at one mirror. The outer `Result` is a local failure that no
    /// other mirror can fix (the directory cannot be written); the inner `Err` is
    /// this mirror's failure, described for the person reading the error.
    pub(super) fn fetch_from(
        &self,
        mirror: &str,
        job: &Job,
        report: &mut dyn FnMut(&str),
    ) -> Result<Attempt<PathBuf>> {
        let started = Instant::now();
        let mut response = match self.request(mirror, job, started)? {
            Ok(response) => response,
            Err(reason) => return Ok(Err(reason)),
        };
        let transfer = Transfer {
            downloader: self,
            started,
            total: response.content_length,
        };
        let mut partial = PartialFile::create(job.dir, job.file)?;
        let mut progress = Progress::new(job.file.gz_name(), mirror, transfer.total);
        let received = match transfer.receive(&mut response, &mut partial, &mut progress, report)? {
            Ok(received) => received,
            Err(reason) => return Ok(Err(reason)),
        };
        if let Some(line) = progress.finish(received) {
            report(&line);
        }
        partial.sync()?;
        check_and_persist(partial, job)
    }

    /// Sends the request and checks the response's status and announced size.
    fn request(&self, mirror: &str, job: &Job, started: Instant) -> Result<Attempt<Response>> {
        let url = file_url(mirror, job.file);
        let user_agent = format!("dlkit/{}", env!("CARGO_PKG_VERSION"));
        let first_wait = self.timeout.min(self.deadline);
        let response = match http_get::get(&url, &user_agent, first_wait) {
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
                    job.dataset.title,
                    job.file.gz_name(),
                    job.dataset.title,
                    job.dir.display()
                )))
            }
        };
        if response.status != 200 {
            return Ok(Err(format!("HTTP {} {}", response.status, response.reason)
                .trim_end()
                .to_string()));
        }
        if let Some(total) = response.content_length.filter(|&t| t > MAX_FILE_BYTES) {
            return Ok(Err(format!(
                "announces {}, far more than any file of an MNIST-style dataset",
                format_size(total)
            )));
        }
        Ok(Ok(response))
    }
}

impl Transfer<'_> {
    /// Reads the body into `partial`, reporting progress; returns the bytes received.
    fn receive(
        &self,
        response: &mut Response,
        partial: &mut PartialFile,
        progress: &mut Progress,
        report: &mut dyn FnMut(&str),
    ) -> Result<Attempt<u64>> {
        let d = self.downloader;
        let mut received: u64 = 0;
        let mut speed = SpeedCheck::new(d.min_speed, d.speed_window, self.started);
        loop {
            let Some(left) = http_get::time_left(self.started, d.deadline) else {
                return Ok(Err(self.past_deadline(received)));
            };
            let chunk = match response.read(d.timeout.min(left)) {
                BodyRead::Data(chunk) => chunk,
                BodyRead::End => break,
                BodyRead::Silent if self.started.elapsed() >= d.deadline => {
                    return Ok(Err(self.past_deadline(received)))
                }
                BodyRead::Silent => {
                    return Ok(Err(format!(
                        "no data for {} after {}",
                        format_duration(d.timeout),
                        self.of_total(received)
                    )))
                }
                BodyRead::Failed(why) => {
                    return Ok(Err(format!(
                        "transfer interrupted after {}: {why}",
                        self.of_total(received)
                    )))
                }
            };
            let n = chunk.len();
            // A read returns at most the buffer's 64 kB: the sum cannot overflow
            // before MAX_FILE_BYTES below stops it.
            received += n as u64;
            if let Some(slow) = speed.check(received, Instant::now()) {
                return Ok(Err(format!("{slow}, after {}", self.of_total(received))));
            }
            if received > MAX_FILE_BYTES {
                return Ok(Err(format!(
                    "served more than {} without ending, far more than any file of an MNIST-style dataset",
                    format_size(MAX_FILE_BYTES)
                )));
            }
            partial.write_all(&chunk)?;
            if let Some(line) = progress.update(received, self.started.elapsed()) {
                report(&line);
            }
        }
        if let Some(total) = self.total {
            // curl reports a short body as an error already; this guards any other path to EOF.
            if received != total {
                return Ok(Err(format!(
                    "transfer incomplete: received {} of the {} announced",
                    format_size(received),
                    format_size(total)
                )));
            }
        }
        Ok(Ok(received))
    }

    /// `1.2 MB of 9.9 MB`, or `1.2 MB` when the size was not announced.
    fn of_total(&self, received: u64) -> String {
        format!(
            "{}{}",
            format_size(received),
            self.total
                .map(|t| format!(" of {}", format_size(t)))
                .unwrap_or_default()
        )
    }

    fn past_deadline(&self, received: u64) -> String {
        format!(
            "did not finish within the deadline of {}: received {} (about {}/s)",
            format_duration(self.downloader.deadline),
            self.of_total(received),
            format_size(rate(received, self.started.elapsed()))
        )
    }
}

/// Checks the downloaded file on disk, exactly as a later load will read it, and renames
/// it into place (as `<name>.gz`, or `<name>` if it was served uncompressed).
fn check_and_persist(partial: PartialFile, job: &Job) -> Result<Attempt<PathBuf>> {
    let (dataset, file) = (job.dataset, job.file);
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
    Ok(Ok(partial.persist(&job.dir.join(final_name))?))
}
