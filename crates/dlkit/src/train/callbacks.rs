//! Callbacks run at the events of training (its begin and end, each epoch's,
//! each batch's): [`EarlyStopping`], [`TerminateOnNaN`], [`ModelCheckpoint`],
//! [`BackupAndRestore`], [`LearningRateScheduler`], [`ReduceLROnPlateau`], or
//! your own type implementing [`Callback`].

mod backup;
mod checkpoint;
mod learning_rate;

pub use backup::BackupAndRestore;
pub use checkpoint::ModelCheckpoint;
pub use learning_rate::{LearningRateScheduler, ReduceLROnPlateau};

use super::evaluate::Totals;
use super::History;
use crate::error::Result;
use crate::model::Model;
use candle_core::Tensor;

/// The metrics of one finished epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochLogs {
    /// 0-based epoch number.
    pub epoch: usize,
    /// `(key, value)` in `fit`'s order: `loss`, each compiled metric, then the
    /// same with `val_` when `fit` has validation data — Keras' `logs`.
    pub metrics: Vec<(String, f64)>,
    /// Wall-clock seconds the epoch took (training and validation).
    pub seconds: f64,
}

impl EpochLogs {
    /// A metric by its Keras name (`"val_loss"`, `"accuracy"`, `"mae"`, ...).
    pub fn get(&self, name: &str) -> Option<f64> {
        let name = super::metrics::canonical_name(name);
        self.metrics
            .iter()
            .find(|(key, _)| key == name)
            .map(|&(_, value)| value)
    }

    /// The mean training loss over the epoch's batches.
    pub fn loss(&self) -> f64 {
        self.get("loss").unwrap_or(f64::NAN)
    }

    /// The names of the metrics this epoch reports, for error messages.
    fn reported(&self) -> Vec<&str> {
        self.metrics.iter().map(|(key, _)| key.as_str()).collect()
    }
}

/// What one training batch left, as [`Callback::on_train_batch_end`] sees it
/// (Keras' batch `logs`). Nothing in it costs anything the step did not compute.
pub struct BatchLogs<'a> {
    /// 0-based epoch number.
    pub epoch: usize,
    /// 0-based batch number within the epoch.
    pub batch: usize,
    /// How many batches each epoch has.
    pub batches: usize,
    /// This batch's mean loss. When it is NaN or infinite the step made no
    /// update, and `fit` then ends (see [`TerminateOnNaN`]).
    pub loss: f64,
    running: &'a Totals<'a>,
}

impl<'a> BatchLogs<'a> {
    pub(crate) fn new(
        epoch: usize,
        batch: usize,
        batches: usize,
        loss: f64,
        running: &'a Totals<'a>,
    ) -> Self {
        BatchLogs {
            epoch,
            batch,
            batches,
            loss,
            running,
        }
    }

    /// The epoch's running mean of `"loss"` or of a compiled metric
    /// (`"accuracy"`, `"mae"`, ...) over its batches so far, as the progress
    /// line shows it; `None` for a metric the model was not compiled with.
    /// A batch whose loss was not finite is not in it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.running.mean(super::metrics::canonical_name(name))
    }

    /// Every running mean, `(key, value)`: `loss`, then each compiled metric.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        self.running.pairs("")
    }
}

impl std::fmt::Debug for BatchLogs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchLogs")
            .field("epoch", &self.epoch)
            .field("batch", &self.batch)
            .field("batches", &self.batches)
            .field("loss", &self.loss)
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// Whether a monitored metric is better when larger (accuracies) or smaller
/// (losses, errors), as Keras' `mode="auto"` decides: the one rule behind
/// [`EarlyStopping`] and [`ModelCheckpoint`].
pub(crate) use super::metrics::maximised;

/// Whether `value` of `monitor` beats `best` by more than `min_delta`. The
/// first value always does; NaN never does (it compares as neither better nor
/// worse, and must not become the best).
pub(crate) fn improves(monitor: &str, value: f64, best: Option<f64>, min_delta: f64) -> bool {
    match best {
        _ if value.is_nan() => false,
        None => true,
        Some(best) if maximised(monitor) => value > best + min_delta,
        Some(best) => value < best - min_delta,
    }
}

/// The value of `monitor` in this epoch, or an error naming it (`who` is the
/// callback that asked).
pub(crate) fn monitored(logs: &EpochLogs, monitor: &str, who: &str) -> Result<f64> {
    logs.get(monitor).ok_or_else(|| {
        crate::Error::InvalidArgument(format!(
            "{who} monitors {monitor:?}, which this training does not report \
             (it reports {}; val_* metrics need validation data, accuracy needs \
             Metric::Accuracy in compile)",
            logs.reported().join(", ")
        ))
    })
}

/// Checks before the first epoch that `monitor` names something training
/// can report: the loss or a compiled metric, with or without `val_` (whether
/// there is validation data is only known at the end of an epoch).
pub(crate) fn check_monitor(model: &Model, monitor: &str, who: &str) -> Result<()> {
    let metrics = &model.require_compiled()?.metrics;
    let key = super::metrics::canonical_name(monitor);
    let bare = key.strip_prefix("val_").unwrap_or(key);
    if bare == "loss" || metrics.iter().any(|m| m.name() == bare) {
        return Ok(());
    }
    let names: Vec<&str> = std::iter::once("loss")
        .chain(metrics.iter().map(|m| m.name()))
        .collect();
    Err(crate::Error::InvalidArgument(format!(
        "{who} monitors {monitor:?}, which this model does not report: it reports {} \
         (and val_{} with validation data); other metrics need compile(.., &[Metric::..])",
        names.join(", "),
        names.join(", val_")
    )))
}

/// Where a training run resumes, as a callback's
/// [`on_train_begin`](Callback::on_train_begin) returns it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resume {
    /// Epochs already done: `fit` continues with this (0-based) epoch.
    pub epochs_done: usize,
    /// The history of those epochs; `fit` appends the new ones to it.
    pub history: History,
}

/// Whether training goes on after a callback.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop, with the reason recorded in [`History::stopped_early`]: after this
    /// epoch from [`on_epoch_end`](Callback::on_epoch_end) (`fit` prints the
    /// reason unless `verbose` is 0), after this batch from
    /// [`on_train_batch_end`](Callback::on_train_batch_end) (the unfinished
    /// epoch is not recorded and gets no `on_epoch_end`; `fit` prints nothing,
    /// the callback says what it has to say).
    Stop(String),
}

/// Code that `fit` runs at fixed points of training, like a Keras callback:
/// `on_train_begin`, then for each epoch `on_epoch_begin`, for each batch
/// `on_train_batch_begin` and `on_train_batch_end`, then `on_epoch_end`, and
/// last `on_train_end`. Each method does nothing unless a callback defines it.
/// Callbacks run in the order they were given to [`FitOptions::callback`](super::FitOptions::callback).
pub trait Callback {
    /// Called once before the first epoch, after the data are checked, with
    /// the number of epochs `fit` was asked for. The callback may change the
    /// model here (its weights; [`BackupAndRestore`] also puts back the
    /// optimizer's state and the random generator) and return where training
    /// resumes: `fit` then starts at [`Resume::epochs_done`]
    /// with that history. At most one callback of a `fit` may resume.
    fn on_train_begin(&mut self, _model: &mut Model, _epochs: usize) -> Result<Option<Resume>> {
        Ok(None)
    }

    /// Called before each epoch (0-based `epoch`), with the model to change: what
    /// [`LearningRateScheduler`] uses to set the epoch's learning rate.
    fn on_epoch_begin(&mut self, _epoch: usize, _model: &mut Model) -> Result<()> {
        Ok(())
    }

    /// Called before each training batch (0-based `batch` within the epoch),
    /// with the model to change: a per-batch learning rate is set here
    /// ([`LearningRateScheduler::per_batch`]).
    fn on_train_batch_begin(&mut self, _batch: usize, _model: &mut Model) -> Result<()> {
        Ok(())
    }

    /// Called after each training batch (its update done) with the batch's
    /// loss and the epoch's running metrics; may stop training.
    fn on_train_batch_end(&mut self, _logs: &BatchLogs, _model: &Model) -> Result<Control> {
        Ok(Control::Continue)
    }

    /// Called after each epoch (training and validation done); may stop training.
    fn on_epoch_end(&mut self, _logs: &EpochLogs, _model: &Model) -> Result<Control> {
        Ok(Control::Continue)
    }

    /// Called once when training ends, however it ended.
    fn on_train_end(&mut self, _model: &Model) -> Result<()> {
        Ok(())
    }
}

/// Stops training when a monitored metric has stopped improving.
#[derive(Clone, Debug)]
pub struct EarlyStopping {
    monitor: String,
    min_delta: f64,
    patience: usize,
    restore_best_weights: bool,
    best: Option<f64>,
    best_weights: Option<Vec<Tensor>>,
    wait: usize,
}

impl EarlyStopping {
    /// Watches `val_loss` with patience 0, like Keras' defaults.
    pub fn new() -> Self {
        EarlyStopping {
            monitor: "val_loss".into(),
            min_delta: 0.0,
            patience: 0,
            restore_best_weights: false,
            best: None,
            best_weights: None,
            wait: 0,
        }
    }

    /// The metric to watch; accuracies are maximised, losses and errors minimised.
    pub fn monitor(mut self, metric: impl Into<String>) -> Self {
        self.monitor = metric.into();
        self
    }

    /// Epochs without improvement to wait before stopping.
    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, delta: f64) -> Self {
        self.min_delta = delta.abs();
        self
    }

    /// Put the weights of the best epoch back when training ends.
    pub fn restore_best_weights(mut self, yes: bool) -> Self {
        self.restore_best_weights = yes;
        self
    }

    fn improved(&self, value: f64) -> bool {
        improves(&self.monitor, value, self.best, self.min_delta)
    }
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self::new()
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, model: &mut Model, _epochs: usize) -> Result<Option<Resume>> {
        if !self.min_delta.is_finite() {
            return Err(crate::Error::InvalidArgument(format!(
                "EarlyStopping min_delta is {}; it must be a finite number",
                self.min_delta
            )));
        }
        check_monitor(model, &self.monitor, "EarlyStopping")?;
        Ok(None)
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, model: &Model) -> Result<Control> {
        let value = monitored(logs, &self.monitor, "EarlyStopping")?;
        if self.improved(value) {
            self.best = Some(value);
            self.wait = 0;
            if self.restore_best_weights {
                // Every weight, moving statistics included, as Keras restores them.
                let snapshot = model
                    .variables()
                    .iter()
                    .map(|v| v.as_tensor().copy())
                    .collect::<candle_core::Result<Vec<_>>>()?;
                self.best_weights = Some(snapshot);
            }
            return Ok(Control::Continue);
        }
        self.wait += 1;
        if self.wait > self.patience {
            return Ok(Control::Stop(format!(
                "early stopping: {} did not improve for {} epoch(s) (best {:.4})",
                self.monitor,
                self.wait,
                self.best.unwrap_or(value)
            )));
        }
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, model: &Model) -> Result<()> {
        if let Some(best) = self.best_weights.take() {
            for (var, value) in model.variables().iter().zip(best) {
                var.set(&value)?;
            }
        }
        Ok(())
    }
}

/// Ends training without an error when a batch's loss is NaN or infinite
/// (without it, `fit` returns an error saying where it happened). Either way
/// `fit` puts the weights and the optimizer back to where they were at the
/// start of the epoch in which it happened.
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminateOnNaN;

impl Callback for TerminateOnNaN {
    fn on_train_batch_end(&mut self, logs: &BatchLogs, _model: &Model) -> Result<Control> {
        if logs.loss.is_finite() {
            return Ok(Control::Continue);
        }
        let place = super::diverged::where_the_loss_diverged(logs);
        let restored = super::diverged::weights_restored(logs);
        println!("{place}: stopping (TerminateOnNaN); {restored}");
        Ok(Control::Stop(format!(
            "{place}; training stopped (TerminateOnNaN) and {restored}"
        )))
    }
}
