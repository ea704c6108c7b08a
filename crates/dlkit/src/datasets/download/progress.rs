//! Watching a transfer: progress lines for the person waiting, and the minimum speed
//! below which a mirror is given up.

use std::time::{Duration, Instant};

use super::units::{format_duration, format_size, format_size_in, rate};
use super::PROGRESS_INTERVAL;

/// Fails a transfer that falls below a minimum speed over a window of time.
pub(super) struct SpeedCheck {
    min_speed: u64,
    window: Duration,
    since: Instant,
    bytes_then: u64,
}

impl SpeedCheck {
    pub(super) fn new(min_speed: u64, window: Duration, start: Instant) -> Self {
        SpeedCheck {
            min_speed,
            window,
            since: start,
            bytes_then: 0,
        }
    }

    /// After each read: the reason to give up, once a whole window has passed
    /// with fewer bytes than the minimum speed asks for.
    pub(super) fn check(&mut self, received: u64, now: Instant) -> Option<String> {
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
pub(super) struct Progress {
    prefix: String,
    total: Option<u64>,
    reported: u64,
    last_line: Duration,
}

const UNKNOWN_SIZE_STEP: u64 = 5_000_000;

impl Progress {
    pub(super) fn new(file: String, mirror: &str, total: Option<u64>) -> Self {
        Progress {
            prefix: format!("Downloading {file} from {mirror}"),
            total,
            reported: 0,
            last_line: Duration::ZERO,
        }
    }

    /// The line to show, if any, after `received` bytes in `elapsed`.
    pub(super) fn update(&mut self, received: u64, elapsed: Duration) -> Option<String> {
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
    pub(super) fn finish(&mut self, received: u64) -> Option<String> {
        match self.total {
            Some(total) if total > 0 && self.reported >= 100 => None,
            _ => Some(format!("{}: done ({})", self.prefix, format_size(received))),
        }
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
}
