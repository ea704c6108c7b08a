//! Losses: Keras' categorical and sparse categorical cross-entropy.
//!
//! When the model ends in a softmax, the loss is computed from the logits
//! (the softmax is left out of the forward pass), as Keras does: it is
//! cheaper and stays finite for confident predictions.

use crate::error::{Error, Result};
use crate::ops;
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// One-hot (or probability) targets of shape `(N, classes)`.
    CategoricalCrossentropy,
    /// Integer class targets of shape `(N,)`.
    SparseCategoricalCrossentropy,
}

/// Keras' `backend.epsilon()`, used to clip probabilities away from 0 and 1.
const EPSILON: f64 = 1e-7;

impl Loss {
    pub fn keras_name(self) -> &'static str {
        match self {
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
        }
    }

    /// Checks targets of shape `y` against the model's per-sample output shape,
    /// with advice for the usual mix-up between the two losses.
    pub(crate) fn check_targets(self, what: &str, y: &[usize], output: &[usize]) -> Result<()> {
        let classes = output.last().copied().unwrap_or(0);
        let ok = match self {
            Loss::CategoricalCrossentropy => y.len() == 2 && y[1] == classes && output.len() == 1,
            Loss::SparseCategoricalCrossentropy => y.len() == 1 && output.len() == 1,
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
            _ => String::new(),
        };
        Err(Error::Shape(format!(
            "{what} has shape {y:?}, but {} with a model output of {} needs {}{advice}",
            self.keras_name(),
            crate::layers::format_shape(output),
            match self {
                Loss::CategoricalCrossentropy => format!("targets of shape (N, {classes})"),
                Loss::SparseCategoricalCrossentropy => "integer targets of shape (N,)".into(),
            }
        )))
    }

    /// Mean loss over the batch. `from_logits` says the output is pre-softmax.
    pub(crate) fn compute(
        self,
        output: &Tensor,
        targets: &Tensor,
        from_logits: bool,
    ) -> candle_core::Result<Tensor> {
        if from_logits {
            return ops::softmax_cross_entropy(output, targets);
        }
        // Probabilities: renormalise and clip as Keras does, then -Σ y·log p.
        let p = output.broadcast_div(&output.sum_keepdim(D::Minus1)?)?;
        let log_p = p.clamp(EPSILON, 1.0 - EPSILON)?.log()?;
        let n = output.dim(0)? as f64;
        let picked = match self {
            Loss::CategoricalCrossentropy => {
                (log_p * targets.to_dtype(output.dtype())?)?.sum_all()?
            }
            Loss::SparseCategoricalCrossentropy => log_p
                .gather(&targets.to_dtype(DType::U32)?.unsqueeze(1)?, 1)?
                .sum_all()?,
        };
        picked.affine(-1.0 / n, 0.0)
    }
}

impl std::str::FromStr for Loss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "categorical_crossentropy" => Ok(Loss::CategoricalCrossentropy),
            "sparse_categorical_crossentropy" => Ok(Loss::SparseCategoricalCrossentropy),
            other => Err(Error::InvalidArgument(format!(
                "unknown loss {other:?}; dlkit has categorical_crossentropy and \
                 sparse_categorical_crossentropy"
            ))),
        }
    }
}
