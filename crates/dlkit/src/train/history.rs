//! What `fit` returns: one value per epoch for each quantity, as plain data.

use super::metrics::canonical_name;
use super::phases::EpochPhases;
use super::EpochLogs;
use serde::{Deserialize, Serialize};

/// The per-epoch record of a training run, like Keras' `History.history`:
/// one series per log key (`"loss"`, `"accuracy"`, `"val_loss"`, `"mae"`, ...),
/// in the order `fit` reports them.
///
/// Series are indexed by epoch (0 = first epoch). There are validation series
/// only when `fit` had validation data, and a metric's series only when the
/// model was compiled with it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// `(key, values per epoch)`, Keras' `history.history` in key order.
    pub metrics: Vec<(String, Vec<f64>)>,
    /// Wall-clock seconds each epoch took (training and validation).
    pub epoch_seconds: Vec<f64>,
    /// Why training ended before the requested number of epochs, if it did.
    pub stopped_early: Option<String>,
    /// Where each epoch's time went, for the epochs this call of `fit` ran
    /// (a run resumed from a backup has none for the epochs restored).
    #[serde(default)]
    pub phase_seconds: Vec<EpochPhases>,
}

impl History {
    /// A history from series given by key, e.g. to plot numbers recorded
    /// elsewhere: `History::from_metrics([("loss", vec![0.5, 0.3])])`.
    pub fn from_metrics<K: Into<String>>(series: impl IntoIterator<Item = (K, Vec<f64>)>) -> Self {
        History {
            metrics: series.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            ..Default::default()
        }
    }

    /// Number of completed epochs.
    pub fn epochs(&self) -> usize {
        self.metrics
            .iter()
            .map(|(_, v)| v.len())
            .chain([self.epoch_seconds.len()])
            .max()
            .unwrap_or(0)
    }

    /// A series by its Keras name (`"loss"`, `"val_accuracy"`, also `"acc"`,
    /// `"epoch_seconds"`), or `None` when training did not report it.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        if name == "epoch_seconds" {
            return Some(&self.epoch_seconds);
        }
        let name = canonical_name(name);
        self.metrics
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, values)| values.as_slice())
    }

    /// The keys of the series, in order: `["loss", "accuracy", "val_loss", ...]`.
    pub fn keys(&self) -> Vec<&str> {
        self.metrics.iter().map(|(key, _)| key.as_str()).collect()
    }

    /// The training loss per epoch.
    pub fn loss(&self) -> &[f64] {
        self.get("loss").unwrap_or_default()
    }

    /// The training accuracy per epoch (empty without the accuracy metric).
    pub fn accuracy(&self) -> &[f64] {
        self.get("accuracy").unwrap_or_default()
    }

    /// The validation loss per epoch (empty without validation data).
    pub fn val_loss(&self) -> &[f64] {
        self.get("val_loss").unwrap_or_default()
    }

    /// The validation accuracy per epoch (empty without validation data or accuracy).
    pub fn val_accuracy(&self) -> &[f64] {
        self.get("val_accuracy").unwrap_or_default()
    }

    /// Appends one finished epoch (what `fit` does after each epoch, and what
    /// [`BackupAndRestore`](super::BackupAndRestore) mirrors to keep its copy).
    pub(crate) fn push(&mut self, logs: &EpochLogs) {
        for (key, value) in &logs.metrics {
            match self.metrics.iter_mut().find(|(k, _)| k == key) {
                Some((_, values)) => values.push(*value),
                None => self.metrics.push((key.clone(), vec![*value])),
            }
        }
        self.epoch_seconds.push(logs.seconds);
    }
}
