//! Metrics reported during training: accuracy.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of samples whose most probable class is the target class.
    Accuracy,
}

/// How many rows of `output` (N, classes) have their largest value at `classes`.
pub(crate) fn count_correct(output: &Tensor, classes: &[u32]) -> candle_core::Result<usize> {
    let predicted = output.argmax(1)?.to_vec1::<u32>()?;
    Ok(predicted
        .iter()
        .zip(classes)
        .filter(|(p, c)| p == c)
        .count())
}
