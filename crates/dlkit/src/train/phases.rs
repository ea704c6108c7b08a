//! Where an epoch's time goes ([`EpochPhases`]), measured by the training step
//! (`step.rs`) as it runs: the benchmark reads them from the [`History`](super::History).

use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Seconds one epoch spent in each phase of training, summed over its steps.
/// They add up to the epoch's time less the progress line and the callbacks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochPhases {
    /// Gathering each batch's samples into one tensor (shuffled rows copied together).
    pub batches: f64,
    /// The forward pass and the loss, up to reading the loss value.
    pub forward: f64,
    /// Backpropagation: `loss.backward()`.
    pub backward: f64,
    /// The optimizer's update of every trainable weight.
    pub optimizer: f64,
    /// The running loss and metrics of the progress line.
    pub metrics: f64,
    /// The validation pass after the last step, when `fit` has validation data.
    pub validation: f64,
}

impl EpochPhases {
    /// The phases' sum.
    pub fn total(&self) -> f64 {
        self.batches
            + self.forward
            + self.backward
            + self.optimizer
            + self.metrics
            + self.validation
    }
}

/// One of the [`EpochPhases`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    Batches,
    Forward,
    Backward,
    Optimizer,
    Metrics,
    Validation,
}

/// Adds the seconds between laps to the phase each lap ends. Candle's CPU ops
/// return when done, so each lap is that phase's work; on a GPU it is the
/// host's wait.
pub(crate) struct PhaseTimer {
    last: Instant,
    phases: EpochPhases,
}

impl PhaseTimer {
    pub fn new() -> Self {
        PhaseTimer {
            last: Instant::now(),
            phases: EpochPhases::default(),
        }
    }

    /// Starts timing from now: what ran since the last lap (callbacks, the
    /// progress line) is no phase of training.
    pub fn restart(&mut self) {
        self.last = Instant::now();
    }

    /// Adds the seconds since the last lap (or restart) to `phase`.
    pub fn lap(&mut self, phase: Phase) {
        let now = Instant::now();
        let seconds = (now - self.last).as_secs_f64();
        self.last = now;
        let slot = match phase {
            Phase::Batches => &mut self.phases.batches,
            Phase::Forward => &mut self.phases.forward,
            Phase::Backward => &mut self.phases.backward,
            Phase::Optimizer => &mut self.phases.optimizer,
            Phase::Metrics => &mut self.phases.metrics,
            Phase::Validation => &mut self.phases.validation,
        };
        *slot += seconds;
    }

    /// The epoch's phases so far, starting the next epoch's from zero.
    pub fn take(&mut self) -> EpochPhases {
        std::mem::take(&mut self.phases)
    }
}
