//! Progress lines a person can watch in a notebook.
//!
//! evcxr forwards standard output line by line and shows nothing that is
//! rewritten with `\r`, so progress is whole lines: at verbosity 1 an
//! `Epoch k/n` header, a line every few seconds inside long epochs, and a
//! closing line with the epoch's metrics; at verbosity 2 one line per epoch.

use super::BatchLogs;
use std::time::{Duration, Instant};

/// Time between two lines inside an epoch.
const INTERVAL: Duration = Duration::from_secs(10);
const BAR_WIDTH: usize = 20;

pub(crate) struct Progress {
    verbose: u8,
    epochs: usize,
    steps: usize,
    epoch_start: Instant,
    last_line: Instant,
}

impl Progress {
    pub fn new(verbose: u8, epochs: usize, steps: usize) -> Self {
        let now = Instant::now();
        Progress {
            verbose,
            epochs,
            steps,
            epoch_start: now,
            last_line: now,
        }
    }

    /// Says where a run restored from a backup goes on.
    pub fn resumed(&self, epochs_done: usize) {
        if self.verbose == 0 {
            return;
        }
        let next = if epochs_done < self.epochs {
            format!("continuing with epoch {}/{}", epochs_done + 1, self.epochs)
        } else {
            format!("nothing left of the {} epoch(s) to train", self.epochs)
        };
        println!("Resuming from a backup: {epochs_done} epoch(s) done, {next}");
    }

    pub fn start_epoch(&mut self, epoch: usize) {
        self.epoch_start = Instant::now();
        self.last_line = self.epoch_start;
        if self.verbose == 1 {
            println!("Epoch {}/{}", epoch + 1, self.epochs);
        }
    }

    /// Called after every batch; the metrics text is made only when a line
    /// is printed (every few seconds), not for every batch.
    pub fn batch_done(&mut self, logs: &BatchLogs) {
        let step = logs.batch + 1;
        if self.verbose != 1 || step == self.steps || self.last_line.elapsed() < INTERVAL {
            return;
        }
        let metrics = metrics_line(&logs.metrics());
        self.last_line = Instant::now();
        let secs = self.epoch_start.elapsed().as_secs_f64();
        println!(
            "{} {} {} - {metrics}",
            self.counter(step),
            bar(step, self.steps),
            seconds(secs)
        );
    }

    /// The epoch's closing line; returns the epoch's duration in seconds.
    pub fn end_epoch(&mut self, epoch: usize, pairs: &[(String, f64)]) -> f64 {
        let secs = self.epoch_start.elapsed().as_secs_f64();
        if self.verbose == 0 {
            return secs;
        }
        let metrics = metrics_line(pairs);
        let per_step = per_step(secs, self.steps);
        match self.verbose {
            1 => println!(
                "{} {} {} {per_step} - {metrics}",
                self.counter(self.steps),
                bar(self.steps, self.steps),
                seconds(secs)
            ),
            2 => println!(
                "Epoch {}/{} - {} - {per_step} - {metrics}",
                epoch + 1,
                self.epochs,
                seconds(secs)
            ),
            _ => {}
        }
        secs
    }

    /// Why a callback stopped training at an epoch's end.
    pub fn stopped(&self, reason: &str) {
        if self.verbose > 0 {
            println!("{reason}");
        }
    }

    fn counter(&self, step: usize) -> String {
        let width = self.steps.to_string().len();
        format!("{step:>width$}/{}", self.steps)
    }
}

fn bar(step: usize, steps: usize) -> String {
    let filled = (step * BAR_WIDTH) / steps.max(1);
    let mut s = "━".repeat(filled);
    if filled < BAR_WIDTH {
        s.push('╸');
        s.push_str(&" ".repeat(BAR_WIDTH - filled - 1));
    }
    s
}

fn seconds(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}s", secs.round() as u64)
    }
}

fn per_step(secs: f64, steps: usize) -> String {
    let ms = 1000.0 * secs / steps.max(1) as f64;
    if ms >= 1.0 {
        format!("{}ms/step", ms.round() as u64)
    } else {
        format!("{}us/step", (ms * 1000.0).round() as u64)
    }
}

/// `loss: 0.2345 - accuracy: 0.9312 - ...` from (name, value) pairs.
pub(crate) fn metrics_line(pairs: &[(String, f64)]) -> String {
    pairs
        .iter()
        .map(|(name, v)| format!("{name}: {v:.4}"))
        .collect::<Vec<_>>()
        .join(" - ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_and_units() {
        assert_eq!(bar(0, 10).chars().count(), BAR_WIDTH);
        assert_eq!(bar(10, 10), "━".repeat(BAR_WIDTH));
        assert_eq!(per_step(25.0, 1875), "13ms/step");
        assert_eq!(per_step(0.5, 1875), "267us/step");
        assert_eq!(seconds(3.21), "3.2s");
        assert_eq!(seconds(24.6), "25s");
        assert_eq!(
            metrics_line(&[("loss".into(), 0.23456), ("accuracy".into(), 0.9)]),
            "loss: 0.2346 - accuracy: 0.9000"
        );
    }
}
