//! The layer contract: what every layer type declares, and what it is given
//! when it runs. The model and its execution plan talk to layers only through
//! this trait, so they know no layer by name.

use super::{Activation, DataFormat, Initializer, Layer};
use crate::rng::Rng;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

/// What every layer has besides its own settings: an optional name, and an
/// optional declared input shape (for the first layer of a `Sequential`).
///
/// Stored flattened into each layer's configuration, so saved models keep
/// Keras' shape: `{"units": 10, "name": "output", ...}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerCommon {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

/// A weight a layer needs: its name within the layer, shape, initial values'
/// law, and whether the optimizer trains it (BatchNormalization's moving
/// statistics are weights it does not).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightSpec {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub init: Initializer,
    pub trainable: bool,
}

impl WeightSpec {
    /// A trainable weight.
    pub(crate) fn trainable(name: &'static str, shape: Vec<usize>, init: Initializer) -> Self {
        WeightSpec {
            name,
            shape,
            init,
            trainable: true,
        }
    }

    /// A `kernel` of `kernel_shape`, then (with `bias`) a `bias` of `units`
    /// values: the weights of Dense and Conv2D, in Keras' order.
    pub(crate) fn kernel_and_bias(
        kernel_shape: Vec<usize>,
        kernel_init: Initializer,
        bias: Option<(usize, Initializer)>,
    ) -> Vec<WeightSpec> {
        let kernel = WeightSpec::trainable("kernel", kernel_shape, kernel_init);
        let bias = bias.map(|(units, init)| WeightSpec::trainable("bias", vec![units], init));
        std::iter::once(kernel).chain(bias).collect()
    }
}

/// How a layer relates to the image layout (channels first or last) of its input.
pub(crate) enum Layout<'a> {
    /// Works on images in a format of its own setting, filled in from the
    /// layer before (or the input shape) when the user left it unset.
    Spatial(&'a mut Option<DataFormat>),
    /// Passes its input's layout on, and remembers it (e.g. to find the channel axis).
    Follows(&'a mut Option<DataFormat>),
    /// Passes its input's layout on unchanged (element-wise layers, merges).
    Preserves,
    /// Its output has no image layout (Flatten, Dense, LSTM, the input).
    Ends,
}

/// What a forward pass needs besides the inputs and weights.
pub struct ForwardCtx<'a> {
    /// Dropout is active, and BatchNormalization uses and updates batch
    /// statistics, only when training.
    pub training: bool,
    /// Where dropout draws its masks' seeds from (the model's own generator).
    pub rng: &'a mut Rng,
    /// The activation to apply at this layer's output. The execution plan
    /// decides it: the layer's own, or linear where the loss takes over a
    /// final softmax (it then works on logits: faster and numerically stable).
    pub activation: Activation,
    /// This layer's weights as variables, for layers that update state of
    /// their own while training (BatchNormalization's moving statistics).
    pub variables: &'a [(String, Var)],
}

/// The contract every layer type implements; [`Layer`] dispatches to it.
///
/// Adding a layer = one file implementing this trait, plus one line in
/// `register_layers!` (layers/mod.rs). The questions every layer answers have
/// no default (its name, layout, output shape and forward pass); a layer
/// without weights or an activation of its own, like Keras' base `Layer`,
/// leaves those two methods out.
pub(crate) trait LayerKind: HasCommon {
    /// The stem of automatic layer names, e.g. `"conv2d"` → `conv2d`, `conv2d_1`, ...
    fn name_stem(&self) -> &'static str;
    /// The activation applied at this layer's output, if it has one (the plan
    /// folds a final softmax into the loss through this).
    fn activation(&self) -> Option<Activation> {
        None
    }
    fn layout(&mut self) -> Layout<'_>;
    /// Output shape per sample, or why these inputs do not fit (the caller adds
    /// the layer's name and position to the message).
    fn output_shape(&self, inputs: &[Vec<usize>]) -> std::result::Result<Vec<usize>, String>;
    /// The weights to create for these input shapes, in a fixed order:
    /// trainable ones first, as Keras lists them.
    fn weight_specs(&self, _inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        Vec::new()
    }
    /// `weights` are this layer's weights in `weight_specs` order; trainable
    /// ones carry the autograd graph while training.
    fn forward(
        &self,
        inputs: &[Tensor],
        weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor>;

    /// The per-sample input shape declared on this layer (`input_shape`/`input_dim`).
    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        self.common().input_shape.clone()
    }

    /// Whether this layer can run together with `next`, its only reader, as
    /// one op (declared by the layer that can fuse; the plan asks every pair).
    fn fuses_with(&self, _next: &Layer) -> bool {
        false
    }

    /// This layer followed by `next` in one op, for pairs where
    /// [`fuses_with`](Self::fuses_with) said yes: the same values and gradients.
    fn forward_fused(
        &self,
        _next: &Layer,
        _inputs: &[Tensor],
        _weights: &[Tensor],
        _ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        candle_core::bail!("internal: this layer declares no fused forward")
    }
}

/// The fields every layer shares, found in one place; `common_builders!`
/// implements it for a layer struct with a `common` field.
pub(crate) trait HasCommon {
    fn common(&self) -> &LayerCommon;
}

/// The builder methods every layer shares, `.name("...")` and
/// `.input_shape(...)`, and its [`HasCommon`].
macro_rules! common_builders {
    ($ty:ty) => {
        impl $crate::layers::HasCommon for $ty {
            fn common(&self) -> &$crate::layers::LayerCommon {
                &self.common
            }
        }

        impl $ty {
            /// Names the layer (shown by `summary()`, used by `get_layer`).
            pub fn name(mut self, name: impl Into<String>) -> Self {
                self.common.name = Some(name.into());
                self
            }

            /// Keras' `input_shape=...`: declares the per-sample input shape,
            /// for the first layer of a `Sequential`.
            pub fn input_shape(mut self, shape: impl $crate::layers::IntoShape) -> Self {
                self.common.input_shape = Some(shape.into_shape());
                self
            }
        }
    };
}
pub(crate) use common_builders;

/// A layer's `axis` argument counted as Keras counts it — over the whole
/// batch, so `0` is the batch axis, `1` the first axis of a sample and
/// negative values count from the end (`-1` is the last) — resolved to an axis
/// of one sample of rank `sample_rank`, or why it does not fit. The batch axis
/// is refused: a layer works on each sample, joining or normalising across
/// samples is not its job.
pub(crate) fn keras_axis(axis: isize, sample_rank: usize) -> std::result::Result<usize, String> {
    let rank = sample_rank as isize + 1; // with the batch axis
    let resolved = if axis < 0 { rank + axis } else { axis };
    if resolved < 0 || resolved >= rank {
        return Err(format!(
            "axis {axis} is out of range for inputs of shape (batch, …) with {sample_rank} axes per \
             sample (valid axes: 1..={} or -{sample_rank}..=-1, counted as in Keras with the batch axis as 0)",
            rank - 1
        ));
    }
    if resolved == 0 {
        return Err(format!(
            "axis {axis} is the batch axis; axes count as in Keras, so the first axis of a sample \
             is 1 and the last is -1"
        ));
    }
    Ok(resolved as usize - 1)
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
