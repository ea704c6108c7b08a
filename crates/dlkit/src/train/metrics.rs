//! Metrics reported during training and by `evaluate`: each is a named
//! object that knows its Keras name and how to score a batch, so the logs,
//! History, callbacks, progress bar and plots take any of them by name,
//! your own ([`Metric::custom`]) as dlkit's.

use super::metric_fn::{custom_direction, Better, CustomMetric};
use crate::error::Result;
use crate::ops;
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of samples whose most probable class is the target class.
    Accuracy,
    /// Mean absolute difference between output and target, Keras' `"mae"`.
    MeanAbsoluteError,
    /// A metric of your own, made with [`Metric::custom`]. Written to a file
    /// by name; a file cannot give the function back.
    #[serde(skip_deserializing)]
    Custom(CustomMetric),
}

impl Metric {
    /// The key of this metric in logs and histories, as Keras writes it:
    /// `"accuracy"`, `"mae"` (and `"val_accuracy"`, `"val_mae"` on validation data).
    pub fn name(&self) -> &str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::MeanAbsoluteError => "mae",
            Metric::Custom(c) => c.name(),
        }
    }

    /// Whether larger is better (for `EarlyStopping`'s and
    /// `ModelCheckpoint`'s automatic mode).
    pub fn maximised(&self) -> bool {
        match self {
            Metric::Accuracy => true,
            Metric::MeanAbsoluteError => false,
            Metric::Custom(c) => c.better() == Better::Higher,
        }
    }

    /// Whether the metric compares classes (it needs class targets).
    pub(crate) fn needs_classes(&self) -> bool {
        match self {
            Metric::Accuracy => true,
            Metric::MeanAbsoluteError | Metric::Custom(_) => false,
        }
    }

    /// The metric summed over the batch's samples (the caller divides by
    /// the number of samples seen). `output` holds logits when `from_logits`.
    pub(crate) fn batch_sum(
        &self,
        output: &Tensor,
        targets: &Tensor,
        classes: Option<&[u32]>,
        from_logits: bool,
    ) -> Result<f64> {
        let probabilities = || -> candle_core::Result<Tensor> {
            if from_logits {
                ops::softmax(output)
            } else {
                Ok(output.clone())
            }
        };
        match self {
            Metric::Accuracy => {
                let correct = match classes {
                    Some(classes) => count_correct(output, classes)?,
                    // A custom loss leaves the targets as they are: labels
                    // or one-hot rows, as Keras' accuracy takes either.
                    None => count_correct(output, &classes_of(targets, output)?)?,
                };
                Ok(correct as f64)
            }
            Metric::Custom(c) => c.batch_sum(&probabilities()?, targets),
            Metric::MeanAbsoluteError => {
                let output = probabilities()?;
                let targets = dense_targets(targets, &output)?;
                let per_sample = output.elem_count() / output.dim(0)?.max(1);
                let sum = (output - targets)?.abs()?.sum_all()?;
                Ok(sum.to_dtype(DType::F64)?.to_scalar::<f64>()? / per_sample.max(1) as f64)
            }
        }
    }
}

impl std::str::FromStr for Metric {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match canonical_name(s) {
            "accuracy" => Ok(Metric::Accuracy),
            "mae" => Ok(Metric::MeanAbsoluteError),
            other => Err(crate::Error::InvalidArgument(format!(
                "unknown metric {other:?}; dlkit has accuracy and mae"
            ))),
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The one table of other spellings of a log key: Keras 1's `acc`, the long
/// name of `mae`, each also with `val_`.
pub(crate) fn canonical_name(name: &str) -> &str {
    match name {
        "acc" => "accuracy",
        "val_acc" => "val_accuracy",
        "mean_absolute_error" => "mae",
        "val_mean_absolute_error" => "val_mae",
        other => other,
    }
}

/// Whether larger is better for a log key: a metric's own answer (a custom
/// metric's as compiled), losses (and anything unknown) are minimised —
/// Keras' `mode="auto"`.
pub(crate) fn maximised(key: &str) -> bool {
    let key = canonical_name(key);
    let bare = key.strip_prefix("val_").unwrap_or(key);
    match bare.parse::<Metric>() {
        Ok(m) => m.maximised(),
        Err(_) => custom_direction(bare) == Some(Better::Higher),
    }
}

/// The class of each sample from targets that are labels `(N,)` or one-hot
/// rows shaped like `output`.
fn classes_of(targets: &Tensor, output: &Tensor) -> Result<Vec<u32>> {
    let labels = match targets.rank() {
        1 => targets.to_dtype(DType::U32)?,
        2 if targets.dims() == output.dims() => targets.argmax(1)?,
        _ => {
            return Err(crate::Error::Shape(format!(
                "accuracy needs class labels (N,) or one-hot rows shaped like the output                  {:?}, got targets of shape {:?}",
                output.dims(),
                targets.dims()
            )))
        }
    };
    Ok(labels.to_vec1::<u32>()?)
}

/// Targets as a tensor shaped like `output`: one-hot or regression targets
/// as they are, class labels `(N,)` one-hot encoded.
fn dense_targets(targets: &Tensor, output: &Tensor) -> candle_core::Result<Tensor> {
    let targets = targets.to_dtype(output.dtype())?;
    if targets.dims() == output.dims() {
        return Ok(targets);
    }
    let classes = output.dim(candle_core::D::Minus1)?;
    let labels = targets.to_dtype(DType::U32)?;
    let eye = Tensor::eye(classes, output.dtype(), output.device())?;
    eye.index_select(&labels, 0)
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
