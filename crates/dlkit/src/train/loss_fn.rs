//! [`LossFn`]: a loss as a function of the model's output and the targets,
//! and [`CustomLoss`], one written in a notebook and given to `compile`
//! through [`Loss::custom`], as Keras takes any `loss(y_true, y_pred)`.
//!
//! dlkit's own losses are implementations too (`Loss::CategoricalCrossentropy.loss(..)`),
//! so a custom loss can build on one:
//!
//! ```
//! # use dlkit::prelude::*;
//! use dlkit::train::LossFn;
//! // Cross-entropy against targets smoothed towards the uniform distribution.
//! let smoothed = Loss::custom("smoothed_crossentropy", |y_pred, y_true| {
//!     let classes = y_true.dim(1)? as f64;
//!     let soft = y_true.affine(0.9, 0.1 / classes)?;
//!     Loss::CategoricalCrossentropy.loss(y_pred, &soft)
//! });
//! # Ok::<(), dlkit::Error>(())
//! ```

use super::Loss;
use crate::error::{Error, Result};
use candle_core::{Tensor, D};
use std::sync::Arc;

/// A loss: the batch's mean loss (a scalar), or one loss per sample `(N,)`
/// that dlkit averages. `y_pred` is the model's output (probabilities after
/// a final softmax), `y_true` the targets as `fit` was given them. Note the
/// order: the prediction first, as candle-nn's losses take them (Keras
/// writes `loss(y_true, y_pred)`).
pub trait LossFn: Send + Sync {
    fn loss(&self, y_pred: &Tensor, y_true: &Tensor) -> candle_core::Result<Tensor>;
}

impl<F> LossFn for F
where
    F: Fn(&Tensor, &Tensor) -> candle_core::Result<Tensor> + Send + Sync,
{
    fn loss(&self, y_pred: &Tensor, y_true: &Tensor) -> candle_core::Result<Tensor> {
        self(y_pred, y_true)
    }
}

/// dlkit's losses, on probabilities (a softmax output), as a [`LossFn`].
impl LossFn for Loss {
    fn loss(&self, y_pred: &Tensor, y_true: &Tensor) -> candle_core::Result<Tensor> {
        self.compute(y_pred, y_true, false).map_err(|e| match e {
            Error::Candle(e) => e,
            other => candle_core::Error::Msg(other.to_string()),
        })
    }
}

/// A [`LossFn`] under its name (the name `fit` errors and saved files use).
#[derive(Clone)]
pub struct CustomLoss {
    name: String,
    function: Arc<dyn LossFn>,
}

impl Loss {
    /// A loss of your own, from a function `(y_pred, y_true) -> loss` over
    /// candle tensors (see [`LossFn`]). The model's output reaches it as the
    /// model computes it (no softmax is folded in), the targets unchecked
    /// beyond their number of samples.
    pub fn custom(
        name: impl Into<String>,
        function: impl Fn(&Tensor, &Tensor) -> candle_core::Result<Tensor> + Send + Sync + 'static,
    ) -> Loss {
        Loss::from_loss_fn(name, function)
    }

    /// [`Loss::custom`] for a type that implements [`LossFn`].
    pub fn from_loss_fn(name: impl Into<String>, function: impl LossFn + 'static) -> Loss {
        Loss::Custom(CustomLoss {
            name: name.into(),
            function: Arc::new(function),
        })
    }
}

impl CustomLoss {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mean loss of the batch as a scalar; a failure, or a result that
    /// is neither a scalar nor one value per sample, is an error naming the loss.
    pub(crate) fn batch_mean(&self, y_pred: &Tensor, y_true: &Tensor) -> Result<Tensor> {
        let value = self
            .function
            .loss(y_pred, y_true)
            .map_err(|e| Error::Training(format!("custom loss {:?} failed: {e}", self.name)))?;
        let samples = y_pred.dim(0)?;
        match value.dims() {
            [] => Ok(value),
            dims if dims.iter().product::<usize>() == 1 => Ok(value.reshape(())?),
            [n] if *n == samples => Ok(value.mean(D::Minus1)?),
            dims => Err(Error::Shape(format!(
                "custom loss {:?} returned a tensor of shape {dims:?}; it must return the \
                 batch's mean loss (a scalar, e.g. with .mean_all()) or one loss per sample, \
                 shape ({samples},)",
                self.name
            ))),
        }
    }
}

impl std::fmt::Debug for CustomLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomLoss({:?})", self.name)
    }
}

/// The same loss: the same function object (a clone of it) under the same name.
impl PartialEq for CustomLoss {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.function, &other.function)
    }
}

impl Eq for CustomLoss {}

/// Written by name: a file cannot hold the function's code.
impl serde::Serialize for CustomLoss {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}
