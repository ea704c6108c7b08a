//! Keras' learning-rate callbacks: [`LearningRateScheduler`] and [`ReduceLROnPlateau`].

use super::{check_monitor, improves, monitored, Callback, Control, EpochLogs};
use crate::error::{Error, Result};
use crate::model::Model;

/// Sets the learning rate before each epoch from a function of the (0-based) epoch and
/// the current rate, like Keras' `LearningRateScheduler(schedule)`:
///
/// ```no_run
/// # use dlkit::prelude::*;
/// # fn demo(model: &mut Model, x: &Tensor, y: &Tensor) -> dlkit::Result<()> {
/// // Keep the rate for 5 epochs, then shrink it by 10 % an epoch.
/// let schedule = LearningRateScheduler::new(|epoch, lr| if epoch < 5 { lr } else { lr * 0.9 });
/// model.fit(x, y, FitOptions::new().epochs(20).callback(schedule))?;
/// # Ok(()) }
/// ```
///
/// Or before each batch, with [`per_batch`](Self::per_batch). A schedule that returns
/// zero, a negative number, NaN or infinity stops `fit` with an error naming the epoch
/// (and batch) and the value.
pub struct LearningRateScheduler {
    schedule: Schedule,
    /// The epoch being trained, for a per-batch schedule.
    epoch: usize,
    verbose: u8,
}

enum Schedule {
    PerEpoch(Box<dyn FnMut(usize, f64) -> f64>),
    PerBatch(Box<dyn FnMut(usize, usize, f64) -> f64>),
}

impl LearningRateScheduler {
    /// A scheduler calling `schedule(epoch, lr)` before each epoch.
    pub fn new(schedule: impl FnMut(usize, f64) -> f64 + 'static) -> Self {
        LearningRateScheduler {
            schedule: Schedule::PerEpoch(Box::new(schedule)),
            epoch: 0,
            verbose: 0,
        }
    }

    /// A scheduler calling `schedule(epoch, batch, lr)` before each batch (both 0-based;
    /// `batch` counts within the epoch), e.g. a linear warm-up over the first 100 steps
    /// of epochs of 50 batches:
    ///
    /// ```no_run
    /// # use dlkit::prelude::*;
    /// let warm_up = LearningRateScheduler::per_batch(|epoch, batch, lr| {
    ///     let step = epoch * 50 + batch;
    ///     if step < 100 { 1e-3 * (step + 1) as f64 / 100.0 } else { lr }
    /// });
    /// ```
    pub fn per_batch(schedule: impl FnMut(usize, usize, f64) -> f64 + 'static) -> Self {
        LearningRateScheduler {
            schedule: Schedule::PerBatch(Box::new(schedule)),
            epoch: 0,
            verbose: 0,
        }
    }

    /// 1: print the rate each epoch starts with.
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = level;
        self
    }

    /// Sets `lr`, or says which step of the schedule gave an unusable rate.
    fn apply(&self, lr: f64, batch: Option<usize>, model: &mut Model) -> Result<()> {
        if !(lr.is_finite() && lr > 0.0) {
            let place = match batch {
                Some(b) => format!("epoch {}, batch {}", self.epoch + 1, b + 1),
                None => format!("epoch {}", self.epoch + 1),
            };
            return Err(Error::InvalidArgument(format!(
                "LearningRateScheduler: the schedule gave {lr} for {place}; a learning rate \
                 must be a positive number"
            )));
        }
        model.set_learning_rate(lr)?;
        if self.verbose > 0 && batch.unwrap_or(0) == 0 {
            println!(
                "Epoch {}: LearningRateScheduler setting learning rate to {lr}.",
                self.epoch + 1
            );
        }
        Ok(())
    }
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, epoch: usize, model: &mut Model) -> Result<()> {
        self.epoch = epoch;
        if let Schedule::PerEpoch(schedule) = &mut self.schedule {
            let lr = schedule(epoch, model.learning_rate()?);
            self.apply(lr, None, model)?;
        }
        Ok(())
    }

    fn on_train_batch_begin(&mut self, batch: usize, model: &mut Model) -> Result<()> {
        if let Schedule::PerBatch(schedule) = &mut self.schedule {
            let lr = schedule(self.epoch, batch, model.learning_rate()?);
            self.apply(lr, Some(batch), model)?;
        }
        Ok(())
    }
}

/// Multiplies the learning rate by `factor` when a monitored metric has not improved for
/// `patience` epochs, like Keras' `ReduceLROnPlateau` (same defaults: `val_loss`, factor
/// 0.1, patience 10, `min_delta` 1e-4, cooldown 0, `min_lr` 0). The new rate applies from
/// the next epoch on.
#[derive(Clone, Debug)]
pub struct ReduceLROnPlateau {
    monitor: String,
    factor: f64,
    patience: usize,
    min_delta: f64,
    cooldown: usize,
    min_lr: f64,
    verbose: u8,
    best: Option<f64>,
    wait: usize,
    cooldown_left: usize,
    /// The reduced rate decided at an epoch's end, set before the next epoch.
    pending: Option<f64>,
}

impl ReduceLROnPlateau {
    /// Keras' defaults.
    pub fn new() -> Self {
        ReduceLROnPlateau {
            monitor: "val_loss".into(),
            factor: 0.1,
            patience: 10,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            verbose: 0,
            best: None,
            wait: 0,
            cooldown_left: 0,
            pending: None,
        }
    }

    /// The metric to watch; accuracies are maximised, losses and errors minimised.
    pub fn monitor(mut self, metric: impl Into<String>) -> Self {
        self.monitor = metric.into();
        self
    }

    /// What the rate is multiplied by; must be in (0, 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before the rate is reduced.
    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, delta: f64) -> Self {
        self.min_delta = delta;
        self
    }

    /// Epochs to wait after a reduction before counting again.
    pub fn cooldown(mut self, epochs: usize) -> Self {
        self.cooldown = epochs;
        self
    }

    /// The rate is never reduced below this.
    pub fn min_lr(mut self, lr: f64) -> Self {
        self.min_lr = lr;
        self
    }

    /// 1: print each reduction.
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = level;
        self
    }
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        ReduceLROnPlateau::new()
    }
}

impl Callback for ReduceLROnPlateau {
    fn on_train_begin(
        &mut self,
        model: &mut Model,
        _epochs: usize,
    ) -> Result<Option<super::Resume>> {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(Error::InvalidArgument(format!(
                "ReduceLROnPlateau factor is {}; it must be between 0 and 1 (0.1 divides the \
                 rate by ten)",
                self.factor
            )));
        }
        let usable = |v: f64| v.is_finite() && v >= 0.0;
        if !usable(self.min_delta) || !usable(self.min_lr) {
            return Err(Error::InvalidArgument(format!(
                "ReduceLROnPlateau min_delta ({}) and min_lr ({}) must be finite and not negative",
                self.min_delta, self.min_lr
            )));
        }
        check_monitor(model, &self.monitor, "ReduceLROnPlateau")?;
        self.best = None;
        self.wait = 0;
        self.cooldown_left = 0;
        self.pending = None;
        Ok(None)
    }

    fn on_epoch_begin(&mut self, _epoch: usize, model: &mut Model) -> Result<()> {
        if let Some(lr) = self.pending.take() {
            model.set_learning_rate(lr)?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, model: &Model) -> Result<Control> {
        let value = monitored(logs, &self.monitor, "ReduceLROnPlateau")?;
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if improves(&self.monitor, value, self.best, self.min_delta) {
            self.best = Some(value);
            self.wait = 0;
        } else if self.cooldown_left == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                let lr = model.learning_rate()?;
                if lr > self.min_lr {
                    let reduced = (lr * self.factor).max(self.min_lr);
                    self.pending = Some(reduced);
                    if self.verbose > 0 {
                        println!(
                            "Epoch {}: ReduceLROnPlateau reducing learning rate to {reduced}.",
                            logs.epoch + 1
                        );
                    }
                    self.cooldown_left = self.cooldown;
                    self.wait = 0;
                }
            }
        }
        Ok(Control::Continue)
    }
}
