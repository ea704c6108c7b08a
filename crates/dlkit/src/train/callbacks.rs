//! Callbacks run at the end of each epoch: [`EarlyStopping`],
//! [`TerminateOnNaN`], or your own type implementing [`Callback`].

use crate::error::Result;
use crate::model::Model;
use candle_core::Tensor;

/// The metrics of one finished epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochLogs {
    /// 0-based epoch number.
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: Option<f64>,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
}

impl EpochLogs {
    /// A metric by its Keras name (`"val_loss"`, `"accuracy"`, ...).
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "loss" => Some(self.loss),
            "accuracy" => self.accuracy,
            "val_loss" => self.val_loss,
            "val_accuracy" => self.val_accuracy,
            _ => None,
        }
    }
}

/// Whether training goes on after a callback.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    Continue,
    /// Stop after this epoch, with the reason recorded in the history.
    Stop(String),
}

pub trait Callback {
    /// Called after each epoch (training and validation done).
    fn on_epoch_end(&mut self, logs: &EpochLogs, model: &Model) -> Result<Control>;

    /// Called once when training ends, however it ended.
    fn on_train_end(&mut self, _model: &Model) -> Result<()> {
        Ok(())
    }

    /// Whether a NaN or infinite loss should stop training quietly (`true`)
    /// instead of being returned as an error.
    fn stops_on_nan(&self) -> bool {
        false
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

    /// The metric to watch; names containing "acc" are maximised, others minimised.
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
        match self.best {
            None => true,
            Some(best) if self.monitor.contains("acc") => value > best + self.min_delta,
            Some(best) => value < best - self.min_delta,
        }
    }
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self::new()
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, logs: &EpochLogs, model: &Model) -> Result<Control> {
        let Some(value) = logs.get(&self.monitor) else {
            return Err(crate::Error::InvalidArgument(format!(
                "EarlyStopping monitors {:?}, which this training does not report \
                 (val_* metrics need validation data)",
                self.monitor
            )));
        };
        if self.improved(value) {
            self.best = Some(value);
            self.wait = 0;
            if self.restore_best_weights {
                let snapshot = model
                    .trainable_variables()
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
            for (var, value) in model.trainable_variables().iter().zip(best) {
                var.set(&value)?;
            }
        }
        Ok(())
    }
}

/// Ends training quietly when the loss becomes NaN or infinite (without it,
/// `fit` returns an error saying where it happened).
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminateOnNaN;

impl Callback for TerminateOnNaN {
    fn on_epoch_end(&mut self, _logs: &EpochLogs, _model: &Model) -> Result<Control> {
        Ok(Control::Continue)
    }
    fn stops_on_nan(&self) -> bool {
        true
    }
}
