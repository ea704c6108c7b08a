//! Metrics reported during training: accuracy.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of samples whose most probable class is the target class.
    Accuracy,
}

/// The class each target stands for: the label itself for integer targets,
/// the position of the largest value for one-hot rows.
pub(crate) fn target_classes(y: &Tensor) -> candle_core::Result<Vec<u32>> {
    if y.rank() == 1 {
        y.to_dtype(DType::F64)?
            .to_vec1::<f64>()
            .map(|v| v.into_iter().map(|c| c as u32).collect())
    } else {
        y.argmax(1)?.to_vec1::<u32>()
    }
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
