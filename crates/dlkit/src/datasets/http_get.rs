//! One HTTP(S) GET through the system's `curl` program, read as a stream.
//!
//! Why a program and not an HTTP crate: a Rust HTTPS client brings its TLS
//! stack (rustls, ring, webpki roots: 16 crates) into the crate graph that a
//! notebook kernel's rust-analyzer loads and holds in memory for the whole
//! session, to download four files once. `curl` is on every system the
//! notebooks run on (Debian, Ubuntu, Binder's images, macOS), verifies
//! certificates against the system's store and honours the usual proxy
//! variables. What `curl` is asked for is narrow: no `~/.curlrc` (`-q`), only
//! http and https (redirects included), no content encoding, the response
//! head written before the body so the status and length are known first.
//!
//! Deadlines are kept here, not by `curl`: every read waits at most the
//! per-read timeout, and the caller stops the transfer when its own deadline
//! or speed check says so (dropping the [`Response`] kills `curl`).

use std::io::Read;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::download::format_duration;

/// The most response heads followed through redirects (and 1xx interim heads).
const MAX_HEADS: usize = 12;
/// A response head larger than this is not from a file server.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Why a GET could not run at all on this machine (not a server's failure).
#[derive(Debug)]
pub(crate) struct NoCurl(pub String);

/// A response whose head has arrived; its body is read with [`Response::read`].
pub(crate) struct Response {
    pub status: u16,
    /// The reason phrase of the status line, or the standard one (HTTP/2 sends none).
    pub reason: String,
    pub content_length: Option<u64>,
    child: Child,
    stderr: Option<ChildStderr>,
    chunks: Receiver<std::io::Result<Vec<u8>>>,
    /// Body bytes that arrived with the head.
    pending: Vec<u8>,
}

/// What one [`Response::read`] gave.
pub(crate) enum BodyRead {
    Data(Vec<u8>),
    /// The body is complete, as far as the transfer could tell.
    End,
    /// Nothing arrived within the timeout.
    Silent,
    /// The transfer broke off; `curl`'s own words.
    Failed(String),
}

/// Starts `curl` on `url` and waits for the final response head, each wait at most
/// `timeout` (connecting, then the head). `Err(Ok(reason))` is this server's failure,
/// said for a person; `Err(Err(NoCurl))` means `curl` cannot be run here.
pub(crate) fn get(
    url: &str,
    user_agent: &str,
    timeout: Duration,
) -> Result<Response, Result<String, NoCurl>> {
    let mut child = Command::new("curl")
        .arg("-q") // first argument: ignore ~/.curlrc
        .args([
            "--silent",
            "--show-error",
            "--location",
            "--max-redirs",
            "10",
        ])
        // unbuffered: bytes reach the speed and stall checks as they arrive, not in 16 kB lumps
        .arg("--no-buffer")
        .args(["--proto", "=http,https", "--proto-redir", "=http,https"])
        .args(["--user-agent", user_agent])
        .args(["--connect-timeout", &seconds_arg(timeout)])
        .args(["--dump-header", "-", "--output", "-"])
        .arg("--")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Err(NoCurl(if e.kind() == std::io::ErrorKind::NotFound {
                "downloading needs the `curl` program, which is not installed \
                 (on Debian or Ubuntu: apt-get install curl)"
                    .to_string()
            } else {
                format!("could not run `curl` to download: {e}")
            }))
        })?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let stderr = child.stderr.take();
    // A thread reads the pipe so that every wait here can have a timeout; a bounded
    // channel keeps it at most a few chunks ahead of the writer to disk.
    let (send, chunks) = mpsc::sync_channel(4);
    std::thread::spawn(move || {
        let mut stdout = stdout;
        loop {
            let mut buffer = vec![0u8; 64 * 1024];
            match stdout.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    buffer.truncate(n);
                    if send.send(Ok(buffer)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = send.send(Err(e));
                    break;
                }
            }
        }
    });
    let mut response = Response {
        status: 0,
        reason: String::new(),
        content_length: None,
        child,
        stderr,
        chunks,
        pending: Vec::new(),
    };
    match response.read_head(timeout) {
        Ok(()) => Ok(response),
        Err(reason) => Err(Ok(reason)),
    }
}

impl Response {
    /// Reads response heads until the final one (redirects and 1xx are followed by curl).
    fn read_head(&mut self, timeout: Duration) -> Result<(), String> {
        let mut buffer: Vec<u8> = Vec::new();
        for _ in 0..MAX_HEADS {
            let end = loop {
                if let Some(end) = find(&buffer, b"\r\n\r\n") {
                    break end;
                }
                if buffer.len() > MAX_HEAD_BYTES {
                    return Err("the response head is too large for a file server".into());
                }
                match self.chunks.recv_timeout(timeout) {
                    Ok(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                    Ok(Err(e)) => return Err(format!("reading the response failed: {e}")),
                    Err(RecvTimeoutError::Timeout) => {
                        return Err(format!("no response within {}", format_duration(timeout)))
                    }
                    Err(RecvTimeoutError::Disconnected) => return Err(self.failure()),
                }
            };
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.drain(..end + 4);
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or("");
            let mut parts = status_line.splitn(3, ' ');
            let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
                return Err(format!("not an HTTP response: {status_line:?}"));
            };
            let Ok(status) = code.parse::<u16>() else {
                return Err(format!("not an HTTP response: {status_line:?}"));
            };
            if !version.starts_with("HTTP/") {
                return Err(format!("not an HTTP response: {status_line:?}"));
            }
            let mut location = false;
            let mut content_length = None;
            for line in lines {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                if name.eq_ignore_ascii_case("location") {
                    location = true;
                } else if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.parse::<u64>().ok();
                }
            }
            // Interim heads, and redirects that curl follows, come before the final one.
            if (100..200).contains(&status) || ((300..400).contains(&status) && location) {
                continue;
            }
            self.status = status;
            self.reason = match parts.next().map(str::trim).filter(|r| !r.is_empty()) {
                Some(reason) => reason.to_string(),
                None => standard_reason(status).to_string(),
            };
            self.content_length = content_length;
            self.pending = buffer;
            return Ok(());
        }
        Err(format!(
            "more than {MAX_HEADS} responses in a row (a redirect loop?)"
        ))
    }

    /// The next piece of the body, waiting at most `timeout`.
    pub fn read(&mut self, timeout: Duration) -> BodyRead {
        if !self.pending.is_empty() {
            return BodyRead::Data(std::mem::take(&mut self.pending));
        }
        match self.chunks.recv_timeout(timeout) {
            Ok(Ok(chunk)) => BodyRead::Data(chunk),
            Ok(Err(e)) => BodyRead::Failed(e.to_string()),
            Err(RecvTimeoutError::Timeout) => BodyRead::Silent,
            Err(RecvTimeoutError::Disconnected) => match self.exit_message() {
                None => BodyRead::End,
                Some(message) => BodyRead::Failed(message),
            },
        }
    }

    /// `curl`'s account of a transfer that ended before a complete response head.
    fn failure(&mut self) -> String {
        match self.exit_message() {
            Some(message) => message,
            None => "the server closed the connection without a response".into(),
        }
    }

    /// Waits for `curl` to exit; `None` when it succeeded, else what it said.
    fn exit_message(&mut self) -> Option<String> {
        let mut said = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            let _ = stderr.read_to_string(&mut said);
        }
        let status = self.child.wait().ok()?;
        if status.success() {
            return None;
        }
        let said = said.lines().last().unwrap_or("").trim();
        // "curl: (7) Failed to connect to ..." -> the message, named by what it means.
        let (code, message) = match said.strip_prefix("curl: (") {
            Some(rest) => match rest.split_once(") ") {
                Some((code, message)) => (code.parse::<i32>().ok(), message.to_string()),
                None => (None, said.to_string()),
            },
            None => (status.code(), said.to_string()),
        };
        let what = match code {
            Some(6) => "could not resolve the host name",
            Some(7) => "could not connect",
            Some(18) => "the transfer was cut short",
            Some(28) => "timed out",
            Some(35) | Some(60) => "the secure connection failed",
            Some(47) => "too many redirects",
            Some(52) => "the server sent nothing",
            Some(56) => "the connection broke",
            _ => "curl failed",
        };
        Some(if message.is_empty() {
            format!("{what} (curl exit status {})", status.code().unwrap_or(-1))
        } else {
            format!("{what}: {message}")
        })
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        // A transfer given up (deadline, stall, bad status) must not go on in the background.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `curl` takes fractional seconds; at least a millisecond.
fn seconds_arg(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64().max(0.001))
}

/// The standard reason phrase of the statuses a file server is likely to send.
fn standard_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Time left before `deadline` from `started`, or `None` when it has passed.
pub(crate) fn time_left(started: Instant, deadline: Duration) -> Option<Duration> {
    deadline
        .checked_sub(started.elapsed())
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_durations_read_naturally() {
        assert_eq!(standard_reason(404), "Not Found");
        assert_eq!(standard_reason(299), "");
        assert_eq!(seconds_arg(Duration::ZERO), "0.001");
        assert_eq!(seconds_arg(Duration::from_millis(1500)), "1.500");
    }

    #[test]
    fn find_locates_the_end_of_a_head() {
        assert_eq!(find(b"HTTP/1.1 200 OK\r\n\r\nbody", b"\r\n\r\n"), Some(15));
        assert_eq!(find(b"HTTP/1.1 200 OK\r\n", b"\r\n\r\n"), None);
    }
}
