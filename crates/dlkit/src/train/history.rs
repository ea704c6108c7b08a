//! What `fit` returns: one value per epoch for each quantity, as plain data.

use super::EpochLogs;
use serde::{Deserialize, Serialize};

/// The per-epoch record of a training run, like Keras' `History.history`.
///
/// Vectors are indexed by epoch (0 = first epoch). Validation entries are empty
/// when `fit` had no validation data; `accuracy` is empty when the model was
/// compiled without the accuracy metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub loss: Vec<f64>,
    pub accuracy: Vec<f64>,
    pub val_loss: Vec<f64>,
    pub val_accuracy: Vec<f64>,
    /// Wall-clock seconds each epoch took (training and validation).
    pub epoch_seconds: Vec<f64>,
    /// Why training ended before the requested number of epochs, if it did.
    pub stopped_early: Option<String>,
}

impl History {
    /// Number of completed epochs.
    pub fn epochs(&self) -> usize {
        self.loss.len()
    }

    /// Looks a series up by its Keras name (`"loss"`, `"val_accuracy"`, ...).
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        let series = match name {
            "loss" => &self.loss,
            "accuracy" | "acc" => &self.accuracy,
            "val_loss" => &self.val_loss,
            "val_accuracy" | "val_acc" => &self.val_accuracy,
            "epoch_seconds" => &self.epoch_seconds,
            _ => return None,
        };
        Some(series.as_slice())
    }

    /// Appends one finished epoch (what `fit` does after each epoch, and what
    /// [`BackupAndRestore`](super::BackupAndRestore) mirrors to keep its copy).
    pub(crate) fn push(&mut self, logs: &EpochLogs) {
        self.loss.push(logs.loss);
        if let Some(a) = logs.accuracy {
            self.accuracy.push(a);
        }
        if let Some(v) = logs.val_loss {
            self.val_loss.push(v);
        }
        if let Some(v) = logs.val_accuracy {
            self.val_accuracy.push(v);
        }
        self.epoch_seconds.push(logs.seconds);
    }
}
