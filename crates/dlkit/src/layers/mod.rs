//! Keras-style layers: each is a small configuration struct with builder
//! methods (`Dense::new(128).activation(Relu)`), which knows its output shape
//! before any weight exists and creates its weights when a model builds it.
//!
//! Shapes here are *per sample* (no batch dimension), as in Keras'
//! `input_shape=(1, 28, 28)`; they print as `(None, 1, 28, 28)`.
//!
//! ```
//! use dlkit::layers::{Activation::Relu, Dense, Layer};
//! let dense = Layer::from(Dense::new(128).activation(Relu));
//! assert_eq!(dense.output_shape(&[vec![784]]).unwrap(), vec![128]);
//! assert!(dense.output_shape(&[vec![32, 26, 26]]).unwrap_err().contains("Flatten"));
//! ```

mod activation;
mod conv2d;
mod dense;
mod dropout;
mod flatten;
mod format;
mod initializers;
mod input;
mod lstm;
mod merge;
mod pooling;

pub use activation::Activation;
pub use conv2d::Conv2D;
pub use dense::Dense;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use format::{format_shape, DataFormat, IntoShape, Padding};
pub use initializers::Initializer;
pub use input::InputLayer;
pub use lstm::LSTM;
pub use merge::{Add, Concatenate};
pub use pooling::MaxPooling2D;

use crate::rng::Rng;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Any layer's configuration, as stored in a model and in its saved JSON.
///
/// Every layer struct converts into it, so `model.add(Dense::new(10))` and
/// `model.add(Activation::Softmax)` both work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class_name", content = "config")]
pub enum Layer {
    InputLayer(InputLayer),
    Dense(Dense),
    Conv2D(Conv2D),
    MaxPooling2D(MaxPooling2D),
    Dropout(Dropout),
    Flatten(Flatten),
    Activation(Activation),
    LSTM(LSTM),
    Concatenate(Concatenate),
    Add(Add),
}

/// A weight a layer needs: its name within the layer, shape and initial values' law.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightSpec {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub init: Initializer,
}

impl WeightSpec {
    /// A `kernel` of `kernel_shape`, then (with `bias`) a `bias` of `units`
    /// values: the weights of Dense and Conv2D, in Keras' order.
    pub(crate) fn kernel_and_bias(
        kernel_shape: Vec<usize>,
        kernel_init: Initializer,
        bias: Option<(usize, Initializer)>,
    ) -> Vec<WeightSpec> {
        let kernel = WeightSpec {
            name: "kernel",
            shape: kernel_shape,
            init: kernel_init,
        };
        let bias = bias.map(|(units, init)| WeightSpec {
            name: "bias",
            shape: vec![units],
            init,
        });
        std::iter::once(kernel).chain(bias).collect()
    }
}

/// What a forward pass needs besides the inputs and weights.
pub struct ForwardCtx<'a> {
    /// Dropout is active only when training.
    pub training: bool,
    /// Where dropout draws its masks' seeds from (the model's own generator).
    pub rng: &'a mut Rng,
    /// Leave out the final softmax of this layer: the loss then works on logits,
    /// which is both faster and numerically stable.
    pub skip_softmax: bool,
}

/// The behaviour every layer type implements; [`Layer`] dispatches to it.
pub(crate) trait LayerKind {
    /// Keras' class name, e.g. `"Conv2D"`.
    fn class_name(&self) -> &'static str;
    /// The stem of automatic layer names, e.g. `"conv2d"` → `conv2d`, `conv2d_1`, ...
    fn name_stem(&self) -> &'static str;
    /// Output shape per sample, or why these inputs do not fit (the caller adds
    /// the layer's name and position to the message).
    fn output_shape(&self, inputs: &[Vec<usize>]) -> std::result::Result<Vec<usize>, String>;
    /// The weights to create for these input shapes, in a fixed order.
    fn weight_specs(&self, _inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        Vec::new()
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor>;
}

macro_rules! dispatch {
    ($self:ident, $l:ident => $e:expr) => {
        match $self {
            Layer::InputLayer($l) => $e,
            Layer::Dense($l) => $e,
            Layer::Conv2D($l) => $e,
            Layer::MaxPooling2D($l) => $e,
            Layer::Dropout($l) => $e,
            Layer::Flatten($l) => $e,
            Layer::Activation($l) => $e,
            Layer::LSTM($l) => $e,
            Layer::Concatenate($l) => $e,
            Layer::Add($l) => $e,
        }
    };
}

impl Layer {
    pub fn class_name(&self) -> &'static str {
        dispatch!(self, l => l.class_name())
    }

    pub(crate) fn name_stem(&self) -> &'static str {
        dispatch!(self, l => l.name_stem())
    }

    /// Output shape per sample for the given per-sample input shapes.
    pub fn output_shape(&self, inputs: &[Vec<usize>]) -> std::result::Result<Vec<usize>, String> {
        dispatch!(self, l => l.output_shape(inputs))
    }

    pub(crate) fn weight_specs(&self, inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        dispatch!(self, l => l.weight_specs(inputs))
    }

    pub(crate) fn forward(
        &self,
        inputs: &[Tensor],
        weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        dispatch!(self, l => l.forward(inputs, weights, ctx))
    }

    /// The name the user gave this layer, if any.
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Layer::Dense(l) => l.name.as_deref(),
            Layer::Conv2D(l) => l.name.as_deref(),
            Layer::LSTM(l) => l.name.as_deref(),
            _ => None,
        }
    }

    /// The per-sample input shape declared on this layer (`input_shape`/`input_dim`).
    pub fn declared_input_shape(&self) -> Option<Vec<usize>> {
        match self {
            Layer::InputLayer(l) => Some(l.shape.clone()),
            Layer::Dense(l) => l.input_shape.clone(),
            Layer::Conv2D(l) => l.input_shape.clone(),
            Layer::LSTM(l) => l.input_shape.clone(),
            Layer::Flatten(l) => l.input_shape.clone(),
            _ => None,
        }
    }

    /// The activation applied at this layer's output, if it has one.
    pub fn activation(&self) -> Option<Activation> {
        match self {
            Layer::Dense(l) => Some(l.activation),
            Layer::Conv2D(l) => Some(l.activation),
            Layer::LSTM(l) => Some(l.activation),
            Layer::Activation(a) => Some(*a),
            _ => None,
        }
    }

    /// Spatial layers get their data format from the layer before them (or
    /// from their input shape for the first one); this fills it in and says
    /// which format the output has. `None` = the output has no spatial layout.
    pub(crate) fn resolve_format(
        &mut self,
        incoming: Option<DataFormat>,
        input: &[usize],
    ) -> std::result::Result<Option<DataFormat>, String> {
        match self {
            Layer::Conv2D(l) => {
                let f = format::resolve(l.data_format, incoming, input)?;
                l.data_format = Some(f);
                Ok(Some(f))
            }
            Layer::MaxPooling2D(l) => {
                let f = format::resolve(l.data_format, incoming, input)?;
                l.data_format = Some(f);
                Ok(Some(f))
            }
            Layer::Dropout(_) | Layer::Activation(_) | Layer::Concatenate(_) | Layer::Add(_) => {
                Ok(incoming)
            }
            _ => Ok(None),
        }
    }
}

/// Checks that a layer that takes one input got one, and returns its shape.
pub(crate) fn single_input<'a>(
    class: &str,
    inputs: &'a [Vec<usize>],
) -> std::result::Result<&'a [usize], String> {
    match inputs {
        [one] => Ok(one),
        _ => Err(format!(
            "{class} takes exactly one input, but {} were given",
            inputs.len()
        )),
    }
}

/// The first tensor of a forward call, for layers that take exactly one.
pub(crate) fn first<'a>(class: &str, inputs: &'a [Tensor]) -> candle_core::Result<&'a Tensor> {
    inputs
        .first()
        .ok_or_else(|| candle_core::Error::Msg(format!("{class}: no input tensor")))
}
