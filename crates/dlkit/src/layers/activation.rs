//! Activation functions, usable both as a layer option
//! (`Dense::new(10).activation(Softmax)`) and as a layer of their own
//! (`model.add(Activation::Softmax)`, Keras' `Activation('softmax')`).

use super::{first, single_input, ForwardCtx, LayerKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// The identity, Keras' default for Dense and Conv2D.
    #[default]
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    /// Softmax over the last axis.
    Softmax,
}

impl Activation {
    /// Applies the function to a tensor (with autograd support).
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Linear => Ok(x.clone()),
            Activation::Relu => x.relu(),
            Activation::Sigmoid => candle_nn::ops::sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Softmax => crate::ops::softmax(x),
        }
    }

    /// Keras' spelling: `"relu"`, `"softmax"`, ...
    pub fn keras_name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }

    /// The activation to apply when the loss takes over the final softmax.
    pub(crate) fn unless_skipped(self, ctx: &ForwardCtx) -> Activation {
        if ctx.skip_softmax && self == Activation::Softmax {
            Activation::Linear
        } else {
            self
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        Ok(match s {
            "linear" | "None" | "" => Activation::Linear,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            other => {
                return Err(crate::Error::InvalidArgument(format!(
                "unknown activation {other:?}; dlkit has linear, relu, sigmoid, tanh and softmax"
            )))
            }
        })
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.keras_name())
    }
}

impl LayerKind for Activation {
    fn class_name(&self) -> &'static str {
        "Activation"
    }
    fn name_stem(&self) -> &'static str {
        "activation"
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        Ok(single_input("Activation", inputs)?.to_vec())
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        _weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        self.unless_skipped(ctx).apply(first("Activation", inputs)?)
    }
}

impl From<Activation> for super::Layer {
    fn from(a: Activation) -> Self {
        super::Layer::Activation(a)
    }
}
