//! Activation functions, usable both as a layer option
//! (`Dense::new(10).activation(Softmax)`) and as a layer of their own
//! (`model.add(Activation::Softmax)`, Keras' `Activation('softmax')`).

use super::{common_builders, first, single_input, ForwardCtx, LayerCommon, LayerKind, Layout};
use crate::ops::FusedActivation;
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

    /// The part a fused kernel (dense, conv) applies itself, and what is left
    /// to apply after it: the one place that maps activations onto kernels.
    pub(crate) fn split_fused(self) -> (FusedActivation, Activation) {
        match self {
            Activation::Relu => (FusedActivation::Relu, Activation::Linear),
            Activation::Linear => (FusedActivation::Linear, Activation::Linear),
            other => (FusedActivation::Linear, other),
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

/// The `Activation` layer: an activation function on its own, Keras'
/// `Activation('softmax')`. Built from [`Activation`] (`model.add(Softmax)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "SavedActivationLayer")]
pub struct ActivationLayer {
    pub activation: Activation,
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(ActivationLayer);

impl From<Activation> for ActivationLayer {
    fn from(activation: Activation) -> Self {
        ActivationLayer {
            activation,
            common: LayerCommon::default(),
        }
    }
}

impl From<Activation> for super::Layer {
    fn from(activation: Activation) -> Self {
        super::Layer::Activation(activation.into())
    }
}

/// Saved models before named Activation layers stored the bare name (`"softmax"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum SavedActivationLayer {
    Bare(Activation),
    Full {
        activation: Activation,
        #[serde(flatten)]
        common: LayerCommon,
    },
}

impl From<SavedActivationLayer> for ActivationLayer {
    fn from(saved: SavedActivationLayer) -> Self {
        match saved {
            SavedActivationLayer::Bare(activation) => activation.into(),
            SavedActivationLayer::Full { activation, common } => {
                ActivationLayer { activation, common }
            }
        }
    }
}

impl LayerKind for ActivationLayer {
    fn name_stem(&self) -> &'static str {
        "activation"
    }
    fn activation(&self) -> Option<Activation> {
        Some(self.activation)
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Preserves
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        Ok(single_input("Activation", inputs)?.to_vec())
    }
    fn weight_specs(&self, _inputs: &[Vec<usize>]) -> Vec<super::WeightSpec> {
        Vec::new()
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        _weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        ctx.activation.apply(first("Activation", inputs)?)
    }
}
