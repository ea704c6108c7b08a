//! Sizes, speeds and durations as a person reads them in a progress line or an error.

use std::time::Duration;

/// Bytes a second over `elapsed` (0 when no time has passed).
pub(super) fn rate(bytes: u64, elapsed: Duration) -> u64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        // Float to int casts saturate; a rate is never negative.
        (bytes as f64 / seconds) as u64
    } else {
        0
    }
}

/// `90 s`, `30 min`.
pub(crate) fn format_duration(d: Duration) -> String {
    let seconds = d.as_secs_f64();
    if seconds >= 120.0 {
        format!("{:.0} min", seconds / 60.0)
    } else if seconds >= 10.0 || seconds.fract() == 0.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds:.1} s")
    }
}

/// `9.9 MB`, `28.9 kB`, `512 B` (decimal units, as download sizes are usually given).
pub(super) fn format_size(bytes: u64) -> String {
    let unit = unit_for(bytes);
    format!("{} {}", format_number(bytes, unit), unit)
}

/// `bytes` without its unit, in the unit that suits `scale`, so "2.5 / 9.9 MB" shares one.
pub(super) fn format_size_in(bytes: u64, scale: u64) -> String {
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
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(1800)), "30 min");
        assert_eq!(format_duration(Duration::from_secs(60)), "60 s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(format_duration(Duration::from_secs(2)), "2 s");
    }
}
