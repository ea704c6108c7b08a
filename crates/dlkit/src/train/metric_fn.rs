//! [`MetricFn`]: a metric as a function of the model's output and the
//! targets, and [`CustomMetric`], one written in a notebook and given to
//! `compile` through [`Metric::custom`], as Keras takes any `metric(y_true, y_pred)`.
//!
//! ```
//! # use dlkit::prelude::*;
//! use dlkit::train::Better;
//! // Share of samples whose true class gets at least half the probability.
//! let confident = Metric::custom("confident", Better::Higher, |y_pred, y_true| {
//!     let p_true = (y_pred * y_true)?.sum(1)?;
//!     p_true.ge(0.5)?.to_dtype(DType::F32)
//! });
//! # Ok::<(), dlkit::Error>(())
//! ```

use super::Metric;
use crate::error::{Error, Result};
use candle_core::{DType, Tensor};
use std::sync::{Arc, Mutex};

/// A metric: one value per sample `(N,)`, or the batch's mean (a scalar);
/// dlkit averages either over the epoch, weighting batches by their size.
/// `y_pred` is the model's output (probabilities after a final softmax),
/// `y_true` the targets as `fit` was given them (with dlkit's sparse
/// cross-entropy, labels given as floats arrive as `u32`); the prediction
/// first, as in [`LossFn`](super::LossFn).
pub trait MetricFn: Send + Sync {
    fn metric(&self, y_pred: &Tensor, y_true: &Tensor) -> candle_core::Result<Tensor>;
}

impl<F> MetricFn for F
where
    F: Fn(&Tensor, &Tensor) -> candle_core::Result<Tensor> + Send + Sync,
{
    fn metric(&self, y_pred: &Tensor, y_true: &Tensor) -> candle_core::Result<Tensor> {
        self(y_pred, y_true)
    }
}

/// Whether larger or smaller values of a metric are better: what
/// `EarlyStopping`, `ModelCheckpoint` and `ReduceLROnPlateau` watch for, and
/// where `plot::history` puts its legend. (Keras guesses it from the name;
/// dlkit asks.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// A [`MetricFn`] under its name (its key in logs and History: `name`, `val_name`).
#[derive(Clone)]
pub struct CustomMetric {
    name: String,
    better: Better,
    function: Arc<dyn MetricFn>,
}

impl Metric {
    /// A metric of your own, from a function `(y_pred, y_true) -> values`
    /// over candle tensors (see [`MetricFn`]); `better` says which way is up.
    pub fn custom(
        name: impl Into<String>,
        better: Better,
        function: impl Fn(&Tensor, &Tensor) -> candle_core::Result<Tensor> + Send + Sync + 'static,
    ) -> Metric {
        Metric::from_metric_fn(name, better, function)
    }

    /// [`Metric::custom`] for a type that implements [`MetricFn`].
    pub fn from_metric_fn(
        name: impl Into<String>,
        better: Better,
        function: impl MetricFn + 'static,
    ) -> Metric {
        Metric::Custom(CustomMetric {
            name: name.into(),
            better,
            function: Arc::new(function),
        })
    }
}

impl CustomMetric {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn better(&self) -> Better {
        self.better
    }

    /// The metric summed over the batch's samples; a failure, or a result
    /// that is neither a scalar nor one value per sample, is an error naming it.
    pub(crate) fn batch_sum(&self, y_pred: &Tensor, y_true: &Tensor) -> Result<f64> {
        let values = self
            .function
            .metric(y_pred, y_true)
            .map_err(|e| Error::Training(format!("custom metric {:?} failed: {e}", self.name)))?;
        let samples = y_pred.dim(0)?;
        let sum = match values.dims() {
            dims if dims.iter().product::<usize>() == 1 => values
                .flatten_all()?
                .sum_all()?
                .affine(samples as f64, 0.0)?,
            [n] if *n == samples => values.sum_all()?,
            dims => {
                return Err(Error::Shape(format!(
                    "custom metric {:?} returned a tensor of shape {dims:?}; it must return \
                     one value per sample, shape ({samples},), or the batch's mean (a scalar)",
                    self.name
                )))
            }
        };
        Ok(sum.to_dtype(DType::F64)?.to_scalar::<f64>()?)
    }
}

/// The directions of the custom metrics compiled so far, by name. The rule
/// "is this log key maximised?" is asked where only the key is at hand
/// (callbacks comparing epochs, `plot::history` placing its legend), so a
/// custom metric's answer is kept by name when a model is compiled with it.
static CUSTOM_DIRECTIONS: Mutex<Vec<(String, Better)>> = Mutex::new(Vec::new());

/// Records the direction of `metric` for [`custom_direction`]; the latest
/// compile wins for a name.
pub(crate) fn remember_direction(metric: &CustomMetric) {
    let mut directions = CUSTOM_DIRECTIONS.lock().unwrap_or_else(|e| e.into_inner());
    directions.retain(|(name, _)| *name != metric.name);
    directions.push((metric.name.clone(), metric.better));
}

/// The direction of the custom metric compiled under `name`, if any.
pub(crate) fn custom_direction(name: &str) -> Option<Better> {
    let directions = CUSTOM_DIRECTIONS.lock().unwrap_or_else(|e| e.into_inner());
    directions
        .iter()
        .find(|(n, _)| n == name)
        .map(|&(_, better)| better)
}

impl std::fmt::Debug for CustomMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomMetric({:?}, {:?})", self.name, self.better)
    }
}

/// The same metric: the same function object (a clone of it), name and direction.
impl PartialEq for CustomMetric {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.better == other.better
            && Arc::ptr_eq(&self.function, &other.function)
    }
}

impl Eq for CustomMetric {}

/// Written by name and direction: a file cannot hold the function's code.
impl serde::Serialize for CustomMetric {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("CustomMetric", 2)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("better", &self.better)?;
        s.end()
    }
}
