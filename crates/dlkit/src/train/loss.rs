//! Losses: Keras' categorical and sparse categorical cross-entropy, the
//! mean squared error for regression, and your own ([`Loss::custom`]).
//!
//! When the model ends in a softmax, the loss is computed from the logits
//! (the softmax is left out of the forward pass), as Keras does: it is
//! cheaper and stays finite for confident predictions.

use super::loss_fn::CustomLoss;
use crate::error::{Error, Result};
use crate::ops;
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// One-hot (or probability) targets of shape `(N, classes)`.
    CategoricalCrossentropy,
    /// Integer class targets of shape `(N,)`.
    SparseCategoricalCrossentropy,
    /// Real-valued targets shaped like the model's output: regression.
    MeanSquaredError,
    /// A loss of your own, made with [`Loss::custom`]. Written to a file by
    /// name; a file cannot give the function back.
    #[serde(skip_deserializing)]
    Custom(CustomLoss),
}

/// Keras' `backend.epsilon()`, used to clip probabilities away from 0 and 1.
const EPSILON: f64 = 1e-7;

impl Loss {
    /// Keras' name for it, or a custom loss's own.
    pub fn keras_name(&self) -> &str {
        match self {
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::Custom(c) => c.name(),
        }
    }

    /// Whether the targets are classes (labels are then checked against the
    /// model's classes). A custom loss's targets are its own business.
    pub fn is_classification(&self) -> bool {
        match self {
            Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy => true,
            Loss::MeanSquaredError | Loss::Custom(_) => false,
        }
    }

    /// Whether the targets are real values, not classes: metrics that compare
    /// classes make no sense then. (A custom loss may have either.)
    pub(crate) fn is_regression(&self) -> bool {
        matches!(self, Loss::MeanSquaredError)
    }

    /// Whether the loss can take over a final softmax and work on logits.
    pub(crate) fn folds_softmax(&self) -> bool {
        self.is_classification()
    }

    /// Checks targets of shape `y` against the model's per-sample output shape,
    /// with advice for the usual mix-up between the two losses.
    pub(crate) fn check_targets(&self, what: &str, y: &[usize], output: &[usize]) -> Result<()> {
        let classes = output.last().copied().unwrap_or(0);
        let ok = match self {
            Loss::CategoricalCrossentropy => y.len() == 2 && y[1] == classes && output.len() == 1,
            Loss::SparseCategoricalCrossentropy => y.len() == 1 && output.len() == 1,
            Loss::MeanSquaredError => y.len() == output.len() + 1 && y[1..] == *output,
            // Whatever it takes: a shape it cannot use is its own error.
            Loss::Custom(_) => !y.is_empty(),
        };
        if ok {
            return Ok(());
        }
        let advice = match (self, y.len()) {
            (Loss::CategoricalCrossentropy, 1) => format!(
                "; one-hot encode them with to_categorical(&y, {classes}), or compile with \
                 Loss::SparseCategoricalCrossentropy"
            ),
            (Loss::SparseCategoricalCrossentropy, 2) => {
                "; these look one-hot: compile with Loss::CategoricalCrossentropy".into()
            }
            (Loss::MeanSquaredError, 1) if output == [1] => {
                "; reshape them to (N, 1) with y.reshape((n, 1))".into()
            }
            _ => String::new(),
        };
        Err(Error::Shape(format!(
            "{what} has shape {y:?}, but {} with a model output of {} needs {}{advice}",
            self.keras_name(),
            crate::layers::format_shape(output),
            match self {
                Loss::CategoricalCrossentropy => format!("targets of shape (N, {classes})"),
                Loss::SparseCategoricalCrossentropy => "integer targets of shape (N,)".into(),
                Loss::Custom(_) => "targets with a sample axis".into(),
                Loss::MeanSquaredError => format!(
                    "targets of shape (N, {})",
                    output
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        )))
    }

    /// Mean loss over the batch, a scalar. `from_logits` says the output is pre-softmax.
    pub(crate) fn compute(
        &self,
        output: &Tensor,
        targets: &Tensor,
        from_logits: bool,
    ) -> Result<Tensor> {
        let sparse = match self {
            Loss::MeanSquaredError => {
                let targets = targets.to_dtype(output.dtype())?;
                return Ok((output - targets)?.sqr()?.mean_all()?);
            }
            Loss::Custom(custom) => return custom.batch_mean(output, targets),
            Loss::CategoricalCrossentropy => false,
            Loss::SparseCategoricalCrossentropy => true,
        };
        if from_logits {
            return Ok(ops::softmax_cross_entropy(output, targets)?);
        }
        // Probabilities: renormalise and clip as Keras does, then -Σ y·log p.
        let p = output.broadcast_div(&output.sum_keepdim(D::Minus1)?)?;
        let log_p = p.clamp(EPSILON, 1.0 - EPSILON)?.log()?;
        let n = output.dim(0)? as f64;
        let picked = if sparse {
            log_p
                .gather(&targets.to_dtype(DType::U32)?.unsqueeze(1)?, 1)?
                .sum_all()?
        } else {
            (log_p * targets.to_dtype(output.dtype())?)?.sum_all()?
        };
        Ok(picked.affine(-1.0 / n, 0.0)?)
    }
}

impl std::str::FromStr for Loss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "categorical_crossentropy" => Ok(Loss::CategoricalCrossentropy),
            "sparse_categorical_crossentropy" => Ok(Loss::SparseCategoricalCrossentropy),
            "mean_squared_error" | "mse" => Ok(Loss::MeanSquaredError),
            other => Err(Error::InvalidArgument(format!(
                "unknown loss {other:?}; dlkit has categorical_crossentropy, \
                 sparse_categorical_crossentropy and mean_squared_error"
            ))),
        }
    }
}
